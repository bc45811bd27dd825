"""The values of tierlift.yaml: each checked with the message the file's author reads.

Invariants:
- a validator that refuses a value raises `Invalid` with a message in the file's
  own words and, where the key to blame is below the one validated, its key path
  (`at`); `config.py` turns pydantic's locations into `FILE:LINE: key.path`;
- a secret is written as `${VAR}` or `KEY_file: PATH`, never inline, and the
  value written is never echoed; a resolved secret is a `Secret` registered with
  `redact`;
- what needs the machine (environment, files, policy packs) comes from the
  `Sources` passed as the validation context, never from `os.environ`.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import parse_qsl, urlsplit

from pydantic import (
    BaseModel,
    BeforeValidator,
    PlainValidator,
    SecretStr,
    ValidationInfo,
)

from tierlift.connectors.base import FieldSource, Secret
from tierlift.engine.durations import parse_instant
from tierlift.engine.filemodel import Invalid, boolean, duration
from tierlift.engine.policy import Policy
from tierlift.service.ops import redact

ENV_REF = re.compile(r"^\$\{([A-Za-z_][A-Za-z0-9_]*)\}$")
# user:PASSWORD@: to the last '@', as ops/redact.py masks it (an unencoded '@' in a password).
URL_PASSWORD = re.compile(r"://[^\s:/@?#]*:(.*)@")


@dataclass(frozen=True)
class Sources:
    """What validation may read of the machine: the validation context."""

    env: Mapping[str, str]
    base: Path  # the configuration file's directory: relative paths start here
    load_policy: Callable[..., Policy] | None = None  # None: policies are not loaded (`status`)
    channels: frozenset[str] | None = None  # the channel names written, for the policies' references
    # False for the commands that read only the state (status, report): the helpdesks' and
    # channels' secrets are not read, so they run where the daemon's environment is not set.
    read_secrets: bool = True

    def path(self, raw: str) -> Path:
        """`raw` with $VARS of `env` expanded, relative to the configuration's directory."""
        expanded = re.sub(r"\$\{(\w+)\}|\$(\w+)", lambda m: self.env.get(m[1] or m[2], m[0]), raw)
        p = Path(expanded)
        return p if p.is_absolute() else self.base / p


def sources_of(info: ValidationInfo) -> Sources:
    if not isinstance(info.context, Sources):
        raise TypeError("validate tierlift.yaml with context=Sources(...)")
    return info.context


# --- values ----------------------------------------------------------------------------------------
def text(value: Any, info: ValidationInfo) -> str:
    if value is None:
        raise Invalid(f"missing required key '{info.field_name}'")
    if not isinstance(value, str) or not value.strip():
        raise Invalid(f"expected a non-empty string, got {type(value).__name__}")
    return value


def _scalar(value: Any) -> str:
    """An id or a name: YAML may read `360001` as a number; it is kept as written."""
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise Invalid("expected an id or a name")
    return str(value)


def _positive(value: Any) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise Invalid("expected a positive whole number")
    return value


def _cap(value: Any) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise Invalid("expected a whole number (0: no cap)")
    return value


def _instant(value: Any) -> datetime:
    try:
        return parse_instant(value)
    except ValueError as exc:
        raise Invalid(str(exc)) from None


def _first_sync(value: Any) -> str:
    if value not in ("quiet", "full"):
        raise Invalid("expected quiet (the backlog at go-live is escalated without customer replies or pages) or full")
    return str(value)


TRIAGE_MODEL = re.compile(r"^(accepted|shipped|([A-Za-z0-9._-]+/)?latest|[A-Za-z0-9._-]+-\d{8}-[0-9a-f]+)$")


def _triage_model(value: Any) -> str:
    if not (isinstance(value, str) and TRIAGE_MODEL.match(value)):
        raise Invalid("expected accepted, shipped, latest, HELPDESK/latest or a learnt model's id"
                      " (`tierlift triage eval` lists them)")
    return value


def _secret_ref(value: Any, info: ValidationInfo) -> SecretStr:
    if not (isinstance(value, str) and ENV_REF.match(value)):
        # Never echo the value: it may be a real credential pasted inline.
        raise Invalid(f"secrets must come from the environment ('${{VAR}}') or a file ('{info.field_name}_file: PATH'),"
                      " not inline")
    return SecretStr(value)


def _file_path(value: Any) -> str:
    if not isinstance(value, str) or not value:
        raise Invalid("expected a file path")
    return value


def url_password(url: str) -> str | None:
    """The password a URL carries, in its user part (`user:pw@`, to the last '@') or its query
    (`?password=`, any case, `sslpassword=` too: libpq reads both), else None."""
    m = URL_PASSWORD.search(url)
    if m and m.group(1):
        return m.group(1)
    query = url.partition("?")[2].partition("#")[0]
    return next((v or k for k, v in parse_qsl(query, keep_blank_values=True) if k.lower().endswith("password")), None)


def quote_userinfo(url: str) -> str:
    """`scheme://user:pa@ss@host` as `scheme://user:pa%40ss@host`: the user part runs to the
    last '@' before the host (as URLs are read, and as tierlift masks it), where libpq stops at
    the first and took the password's tail for part of the host name, which its errors then
    printed (QA: `failed to resolve host 'pw1@127.0.0.1'`). A host never holds an '@', so only
    a URL libpq could not have used changes."""
    scheme, sep, rest = url.partition("://")
    end = min((i for i in (rest.find(c) for c in "/?#") if i >= 0), default=len(rest))
    userinfo, at, host = rest[:end].rpartition("@")
    if not sep or "@" not in userinfo:
        return url
    return f"{scheme}://{userinfo.replace('@', '%40')}{at}{host}{rest[end:]}"


def http_url(value: Any, expected: str) -> str:
    """An http(s) address as the file writes it; never echoed, since a refused one may carry a
    credential (`https://bot:TOKEN@host`, `?api_token=...`): it would end in every ticket link."""
    if not isinstance(value, str) or not re.match(r"^https?://[^\s/]+", value, re.IGNORECASE):
        raise Invalid(f"expected {expected}")
    try:
        parts = urlsplit(value)
        parts.port  # noqa: B018  # a port out of range raises here, not at the first request
    except ValueError:
        raise Invalid(f"expected {expected} (a host, and a port from 1 to 65535)") from None
    if "@" in parts.netloc:
        raise Invalid("no user or password in the URL: credentials go in their own keys, as ${VAR} or KEY_file")
    if parts.query or parts.fragment or "?" in value or "#" in value:
        raise Invalid(f"expected {expected}, without '?' or '#' (credentials go in their own keys)")
    if re.search(r"\s", value):
        raise Invalid(f"expected {expected}, without spaces")
    return value.rstrip("/")


def _url(value: Any) -> str:
    return http_url(value, "an address such as https://acme.zendesk.com (or 'subdomain' for Zendesk)")


def _name(value: Any, info: ValidationInfo) -> str:
    name = text(value, info)
    if not re.fullmatch(r"[A-Za-z0-9_.\-]+", name):
        raise Invalid("expected letters, digits, '.', '_' or '-' (it names metrics and state)")
    return name


def _field_source(value: Any) -> str | int:
    try:  # id, ticket.NAME, organization.NAME or user.NAME; `check` proves the names exist
        FieldSource.parse(value)
    except ValueError as exc:
        raise Invalid(str(exc)) from None
    return value  # type: ignore[no-any-return]  # parse refused everything but str and int


def mapping_of(message: str) -> BeforeValidator:
    """A mapping with its keys as strings (YAML may read a team `123` as a number)."""
    def check(value: Any) -> Any:
        if not isinstance(value, Mapping):
            raise Invalid(message)
        return {str(k): v for k, v in value.items()}
    return BeforeValidator(check)


Text = Annotated[str, PlainValidator(text)]

# Query parameters that carry a credential in a receiver's URL (Teams, Google Chat, ingest APIs).
_CREDENTIAL_PARAM = re.compile(r"(?:^|[?&])(?:[\w.]*[_-])?(?:token|key|apikey|secret|password|passwd|sig|signature"
                               r"|auth|code)=", re.IGNORECASE)


def channel_url(value: Any, info: ValidationInfo) -> str:
    """A channel's address as the file writes it: one that carries a credential (user:pass@, a
    ?token= or ?key=) is given as ${VAR}, never inline, as every other URL's credential is (QA,
    a privacy auditor: the helpdesk url and state.url refused them, a channel url took them)."""
    value = text(value, info)
    ref = ENV_REF.match(value)
    if ref:  # read here, as a secret: the URL itself may be the credential (its path or query)
        src = sources_of(info)
        if not src.read_secrets:
            return value
        found = src.env.get(ref.group(1))
        if not found or not found.strip():
            raise Invalid(f"environment variable {ref.group(1)} is not set or empty")
        redact.register(found)
        if not re.match(r"^https?://[^\s/]+", found, re.IGNORECASE):
            raise Invalid(f"environment variable {ref.group(1)} holds no http(s) address")
        return found
    parts = urlsplit(value)
    if "@" in parts.netloc or _CREDENTIAL_PARAM.search("?" + parts.query if parts.query else ""):
        raise Invalid("a URL that carries a credential (user:password@, ?token=, ?key=, ?sig=...) is given as"
                      " url: ${VAR}, not written in the file")
    return value


ChannelUrl = Annotated[str, PlainValidator(channel_url)]
Scalar = Annotated[str, PlainValidator(_scalar)]
Bool = Annotated[bool, PlainValidator(boolean)]
Duration = Annotated[timedelta, PlainValidator(duration)]
PositiveInt = Annotated[int, PlainValidator(_positive)]
SecretRef = Annotated[SecretStr, PlainValidator(_secret_ref)]
FilePath = Annotated[str, PlainValidator(_file_path)]
Instant = Annotated[datetime, PlainValidator(_instant)]
WholeNumber = Annotated[int, PlainValidator(_cap)]  # 0 and up
FirstSync = Annotated[Literal["quiet", "full"], PlainValidator(_first_sync)]
TriageModelRef = Annotated[str, PlainValidator(_triage_model)]
Name = Annotated[str, PlainValidator(_name)]
Url = Annotated[str, PlainValidator(_url)]
FieldRef = Annotated[str | int, PlainValidator(_field_source)]


# --- secrets ---------------------------------------------------------------------------------------
def _read_secret(raw: str, src: Sources) -> Secret:
    p = src.path(raw)
    # systemd LoadCredential= puts credentials in $CREDENTIALS_DIRECTORY.
    if not p.exists() and "CREDENTIALS_DIRECTORY" in src.env and not Path(raw).is_absolute():
        p = Path(src.env["CREDENTIALS_DIRECTORY"]) / raw
    try:
        value = p.read_text(encoding="utf-8").strip()
    except OSError as exc:
        # Not echoed: what was written may be the secret itself, put where the path goes
        # (`token_file: abc123`, a Slack URL); the key and line say which file.
        raise Invalid(f"cannot read the secret file written here: {exc.strerror or exc.__class__.__name__}") from None
    if not value:
        raise Invalid(f"secret file {p} is empty")
    if "\n" in value:  # taken whole, the newline went into every request and each was refused (QA)
        raise Invalid(f"secret file {p} holds {len(value.splitlines())} lines: a secret file holds the secret"
                      " alone, on one line")
    redact.register(value)
    return Secret(value, f"file:{p}")


def _env_secret(ref: SecretStr, src: Sources) -> Secret:
    var = ref.get_secret_value()[2:-1]  # ${VAR}: checked by _secret_ref
    value = src.env.get(var)
    if not value:
        raise Invalid(f"environment variable {var} is not set or empty")
    if not value.strip():  # as empty as an empty one (a file's secret is read stripped)
        raise Invalid(f"environment variable {var} holds only whitespace: as good as empty")
    redact.register(value)
    return Secret(value, f"env:{var}")


def resolve_secret(model: BaseModel, key: str, src: Sources, *, required: bool, unread: bool = False) -> Secret | None:
    """`key: ${VAR}` or `key_file: PATH` of `model`, read; Invalid names the key to blame.
    `unread`: the reference is checked but not followed; an empty Secret says where it is."""
    file_key = f"{key}_file"
    ref, raw = getattr(model, key), getattr(model, file_key)
    if ref is not None and raw is not None:
        raise Invalid(f"give '{key}' or '{file_key}', not both", (file_key,))
    if unread and (ref is not None or raw is not None):
        where = f"file:{raw}" if raw is not None else f"env:{ref.get_secret_value()[2:-1]}"
        return Secret("", f"{where} (not read by this command)")
    try:
        if raw is not None:
            return _read_secret(raw, src)
        if ref is not None:
            return _env_secret(ref, src)
    except Invalid as exc:
        raise Invalid(str(exc), (file_key if raw is not None else key,)) from None
    if required:
        raise Invalid(f"missing '{key}' (as ${{ENV_VAR}}) or '{file_key}' (a path)")
    return None


