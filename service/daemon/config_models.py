"""tierlift.yaml as typed models: the schema, every default, and the checks that need the machine.

Invariants:
- every key and its default is declared once, here (CONFIGURATION.md documents
  them; `tests/service/test_config_reference.py` asks these models, through the
  loader, which keys they accept);
- unknown keys are refused (`extra="forbid"`); a helpdesk or a channel is one
  model per `kind` (a discriminated union), so a Jira key on a Zendesk helpdesk
  is an unknown key too;
- a validator that refuses a value raises `Invalid` with a message in the file's
  own words and, where the key to blame is below the one validated, its key path
  (`at`); `config.py` turns pydantic's locations into `FILE:LINE: key.path`;
- a secret is written as `${VAR}` or `KEY_file: PATH`, never inline; the value
  written is a `SecretStr` and a refused one is never echoed
  (`hide_input_in_errors`); resolved secrets are `Secret`s registered with
  `redact`;
- what needs the machine (environment, files, policy packs) comes from the
  `Sources` passed as the validation context, never from `os.environ`.
"""

from __future__ import annotations

import difflib
import os
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated, Any, ClassVar, Literal, Union

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainValidator,
    PrivateAttr,
    SecretStr,
    ValidationInfo,
    field_validator,
    model_validator,
)

from tierlift.connectors.base import FieldSource, Secret
from tierlift.engine.durations import DurationError, parse_duration
from tierlift.engine.policy import Policy
from tierlift.engine.yamlsrc import InvalidFile, Problem
from tierlift.engine.yamlsrc import Path as KeyPath
from tierlift.service.ops import redact

_ENV = re.compile(r"^\$\{([A-Za-z_][A-Za-z0-9_]*)\}$")
_URL_PASSWORD = re.compile(r"://[^:/@]*:([^@/]+)@")

# A wave of escalations (an outage, a stuck queue) should not answer hundreds of
# customers in one minute; 25 a cycle is 50 a minute at the default 30 s poll.
MAX_PUBLIC_REPLIES = 25
PAGERDUTY_EVENTS = "https://events.pagerduty.com/v2/enqueue"


class Invalid(ValueError):
    """A refused value: messages (each at a key path below the value's own) and,
    for a policy, the problems of the policy file at its own lines."""

    def __init__(self, message: str, at: KeyPath = (), *, more: Sequence[tuple[KeyPath, str]] = (),
                 foreign: Sequence[Problem] = ()):
        super().__init__(message)
        self.found: list[tuple[KeyPath, str]] = [(at, message), *more]
        self.foreign = list(foreign)

    @classmethod
    def of(cls, found: Sequence[tuple[KeyPath, str]]) -> Invalid:
        (at, message), *more = found
        return cls(message, at, more=more)


@dataclass(frozen=True)
class Sources:
    """What validation may read of the machine: the validation context."""

    env: Mapping[str, str]
    base: Path  # the configuration file's directory: relative paths start here
    load_policy: Callable[..., Policy] | None = None  # None: policies are not loaded (`status`)
    channels: frozenset[str] | None = None  # the channel names written, for the policies' references

    def path(self, raw: str) -> Path:
        """`raw` with $VARS of `env` expanded, relative to the configuration's directory."""
        expanded = re.sub(r"\$\{(\w+)\}|\$(\w+)", lambda m: self.env.get(m[1] or m[2], m[0]), raw)
        p = Path(expanded)
        return p if p.is_absolute() else self.base / p


def _sources(info: ValidationInfo) -> Sources:
    if not isinstance(info.context, Sources):
        raise TypeError("validate tierlift.yaml with context=Sources(...)")
    return info.context


# --- values ----------------------------------------------------------------------------------------
def _text(value: Any, info: ValidationInfo) -> str:
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


def _boolean(value: Any) -> bool:
    if not isinstance(value, bool):
        raise Invalid(f"expected true or false, got {value!r}")
    return value


def _duration(value: Any) -> timedelta:
    if isinstance(value, timedelta):
        return value
    try:
        return parse_duration(value)
    except DurationError as exc:
        raise Invalid(str(exc)) from None


def _positive(value: Any) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise Invalid("expected a positive whole number")
    return value


def _cap(value: Any) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise Invalid("expected a whole number (0: no cap)")
    return value


def _instant(value: Any) -> datetime:
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    try:
        dt = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        raise Invalid(f"expected an ISO 8601 instant such as 2026-01-01T00:00:00Z, got {value!r}") from None
    return dt if dt.tzinfo else dt.replace(tzinfo=UTC)


def _first_sync(value: Any) -> str:
    if value not in ("quiet", "full"):
        raise Invalid("expected quiet (the backlog at go-live is escalated without customer replies or pages) or full")
    return str(value)


def _secret_ref(value: Any, info: ValidationInfo) -> SecretStr:
    if not (isinstance(value, str) and _ENV.match(value)):
        # Never echo the value: it may be a real credential pasted inline.
        raise Invalid(f"secrets must come from the environment ('${{VAR}}') or a file ('{info.field_name}_file: PATH'),"
                      " not inline")
    return SecretStr(value)


def _file_path(value: Any) -> str:
    if not isinstance(value, str) or not value:
        raise Invalid("expected a file path")
    return value


def _url(value: Any) -> str:
    if not isinstance(value, str) or not re.match(r"^https?://[^\s/]+", value):
        raise Invalid("expected an address such as https://acme.zendesk.com (or 'subdomain' for Zendesk)")
    return value.rstrip("/")


def _name(value: Any, info: ValidationInfo) -> str:
    name = _text(value, info)
    if not re.fullmatch(r"[A-Za-z0-9_.\-]+", name):
        raise Invalid("expected letters, digits, '.', '_' or '-' (it names metrics and state)")
    return name


def _field_source(value: Any) -> str | int:
    try:  # id, ticket.NAME, organization.NAME or user.NAME; `check` proves the names exist
        FieldSource.parse(value)
    except ValueError as exc:
        raise Invalid(str(exc)) from None
    return value  # type: ignore[no-any-return]  # parse refused everything but str and int


def _mapping(message: str) -> BeforeValidator:
    """A mapping with its keys as strings (YAML may read a team `123` as a number)."""
    def check(value: Any) -> Any:
        if not isinstance(value, Mapping):
            raise Invalid(message)
        return {str(k): v for k, v in value.items()}
    return BeforeValidator(check)


Text = Annotated[str, PlainValidator(_text)]
Scalar = Annotated[str, PlainValidator(_scalar)]
Bool = Annotated[bool, PlainValidator(_boolean)]
Duration = Annotated[timedelta, PlainValidator(_duration)]
PositiveInt = Annotated[int, PlainValidator(_positive)]
SecretRef = Annotated[SecretStr, PlainValidator(_secret_ref)]
FilePath = Annotated[str, PlainValidator(_file_path)]


# --- secrets ---------------------------------------------------------------------------------------
def _read_secret(raw: str, src: Sources) -> Secret:
    p = src.path(raw)
    # systemd LoadCredential= puts credentials in $CREDENTIALS_DIRECTORY.
    if not p.exists() and "CREDENTIALS_DIRECTORY" in src.env and not Path(raw).is_absolute():
        p = Path(src.env["CREDENTIALS_DIRECTORY"]) / raw
    try:
        value = p.read_text(encoding="utf-8").strip()
    except OSError as exc:
        raise Invalid(f"cannot read secret file {p}: {exc.strerror or exc.__class__.__name__}") from None
    if not value:
        raise Invalid(f"secret file {p} is empty")
    redact.register(value)
    return Secret(value, f"file:{p}")


def _env_secret(ref: SecretStr, src: Sources) -> Secret:
    var = ref.get_secret_value()[2:-1]  # ${VAR}: checked by _secret_ref
    value = src.env.get(var)
    if not value:
        raise Invalid(f"environment variable {var} is not set or empty")
    redact.register(value)
    return Secret(value, f"env:{var}")


def resolve_secret(model: BaseModel, key: str, src: Sources, *, required: bool) -> Secret | None:
    """`key: ${VAR}` or `key_file: PATH` of `model`, read; Invalid names the key to blame."""
    file_key = f"{key}_file"
    ref, raw = getattr(model, key), getattr(model, file_key)
    if ref is not None and raw is not None:
        raise Invalid(f"give '{key}' or '{file_key}', not both", (file_key,))
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


# --- sections --------------------------------------------------------------------------------------
class Section(BaseModel):
    """A mapping of the file: unknown keys refused, a key written as null takes its default."""

    # defer_build: the schema is built once, for the whole file, when the daemon
    # validates it, not for every intermediate class at import (start-up time).
    model_config = ConfigDict(extra="forbid", hide_input_in_errors=True, defer_build=True)
    shape: ClassVar[str] = "expected a mapping"

    @model_validator(mode="before")
    @classmethod
    def _a_mapping(cls, data: Any) -> Any:
        data = cls.shorthand(data)
        if not isinstance(data, Mapping):
            raise Invalid(cls.shape)
        fields = cls.model_fields
        return {k: v for k, v in data.items() if v is not None or (k in fields and fields[k].is_required())}

    @classmethod
    def shorthand(cls, data: Any) -> Any:
        """The section as a mapping, where the file may write it shorter."""
        return data


class _Secrets(Section):
    """A section with secrets: resolved once its own keys are valid."""

    secrets: ClassVar[tuple[tuple[str, bool], ...]] = ()  # (key, required)
    _resolved: dict[str, Secret] = PrivateAttr(default_factory=dict)

    @model_validator(mode="after")
    def _resolve(self, info: ValidationInfo) -> _Secrets:
        src = _sources(info)
        for key, required in self.secrets:
            secret = resolve_secret(self, key, src, required=required)
            if secret is not None:
                self._resolved[key] = secret
        return self

    def resolved(self, key: str) -> Secret | None:
        return self._resolved.get(key)


@dataclass(frozen=True)
class PolicyRef:
    ref: str  # as written: a pack name or a path
    policy: Policy | None  # None: not loaded (load_policies=False)


def _policy(value: Any, info: ValidationInfo) -> PolicyRef:
    ref = _text(value, info)
    src = _sources(info)
    if src.load_policy is None:
        return PolicyRef(ref, None)
    try:
        policy = src.load_policy(ref, base=src.base)
    except InvalidFile as exc:
        # Keep the policy file's own locations, and say which helpdesk uses it.
        raise Invalid(f"policy '{ref}' is invalid (problems listed above)", foreign=exc.problems) from None
    if src.channels is not None:
        missing = [((), f"policy '{ref}' notifies channel '{ch}', which 'channels' does not define")
                   for ch in policy.channels if ch not in src.channels]
        if missing:
            raise Invalid.of(missing)
    return PolicyRef(ref, policy)


class TeamSpec(Section):
    """Where a policy team lives in the helpdesk (`TEAM: NAME` is short for `{group: NAME}`)."""

    shape: ClassVar[str] = "expected {group: NAME}, {group_id: ID} or {assignee: ID}"
    group: Scalar | None = None
    group_id: Scalar | None = None
    assignee: Scalar | None = None

    @classmethod
    def shorthand(cls, data: Any) -> Any:
        if isinstance(data, str):
            return {"group": data}
        if not data:
            raise Invalid(cls.shape)
        return data


class HelpdeskOptions(Section):
    """A helpdesk's settings beyond who it is; every one has its default here."""

    fields: Annotated[dict[str, Annotated[str | int, PlainValidator(_field_source)]],
                      _mapping("expected a mapping of field names to ids")] = Field(default_factory=dict)
    start_time: Annotated[datetime, PlainValidator(_instant)] | None = None
    timeout: Duration = timedelta(seconds=30)
    max_retry_wait: Duration = timedelta(seconds=60)
    retry_attempts: PositiveInt = 5
    rate_limit_per_minute: PositiveInt | None = None
    first_sync: Annotated[Literal["quiet", "full"], PlainValidator(_first_sync)] = "quiet"
    max_public_replies_per_cycle: Annotated[int, PlainValidator(_cap)] = MAX_PUBLIC_REPLIES  # 0: no cap
    public_replies: Any = None  # accepted for compatibility; replies are the policy's


class ZendeskOptions(HelpdeskOptions):
    kind: Literal["zendesk"] = "zendesk"
    page_size: PositiveInt = 1000
    severity_field: Any = None  # accepted; `fields: {severity: ID}` is what maps it


class JiraOptions(HelpdeskOptions):
    kind: Literal["jira"] = "jira"
    page_size: PositiveInt = 100
    project: Scalar | None = None
    jql: Text | None = None
    team_field: Scalar | None = None
    servicedesk: Bool = True
    note_in_edit: Bool = False
    overlap: Duration = timedelta(minutes=2)
    status_map: Annotated[dict[str, Text], _mapping("expected a mapping of Jira statuses to tierlift statuses")] \
        = Field(default_factory=dict)


class _Helpdesk(_Secrets):
    """Who a helpdesk is and how tierlift signs in: the keys every kind has."""

    shape: ClassVar[str] = "expected a helpdesk mapping with name, kind, url, email, token"
    secrets: ClassVar[tuple[tuple[str, bool], ...]] = (("token", True),)
    name: Annotated[str, PlainValidator(_name)]
    url: Annotated[str, PlainValidator(_url)] | None = None
    subdomain: Text | None = None
    email: Text
    token: SecretRef | None = None
    token_file: FilePath | None = None
    policy: Annotated[PolicyRef, PlainValidator(_policy)]
    dry_run: Bool | None = None  # None: the top level's
    teams: Annotated[dict[str, TeamSpec], _mapping("expected a mapping of policy team names to {group: NAME} /"
                                                   " {group_id: ID} / {assignee: ID}")] = Field(default_factory=dict)

    @field_validator("teams")
    @classmethod
    def _known_teams(cls, teams: dict[str, TeamSpec], info: ValidationInfo) -> dict[str, TeamSpec]:
        # A misspelt team used to be ignored while the real one fell back to a group
        # of its own name, so `check` passed and escalations went to the wrong group.
        ref = info.data.get("policy")
        if not isinstance(ref, PolicyRef) or ref.policy is None:
            return teams
        known = sorted(ref.policy.teams)
        unknown = [((team,), _not_in_policy(team, known, ref.policy.name)) for team in teams if team not in known]
        if unknown:
            raise Invalid.of(unknown)
        return teams

    def address(self) -> str:
        """`url`, or a Zendesk `subdomain`'s; checked by the kinds' validators."""
        return self.url or f"https://{self.subdomain}.zendesk.com"


def _not_in_policy(team: str, known: list[str], policy: str) -> str:
    hint = difflib.get_close_matches(team, known, n=1)
    more = f"did you mean {hint[0]}?" if hint else f"the policy's teams are: {', '.join(known)}"
    return f"team '{team}' is not in policy '{policy}' ({more})"


_NO_URL = "expected an address such as https://acme.zendesk.com (or 'subdomain' for Zendesk)"


class ZendeskHelpdesk(_Helpdesk, ZendeskOptions):
    @model_validator(mode="after")
    def _has_address(self) -> ZendeskHelpdesk:
        if self.url is None and self.subdomain is None:
            raise Invalid(_NO_URL, ("url",))
        return self


class JiraHelpdesk(_Helpdesk, JiraOptions):
    @model_validator(mode="after")
    def _has_address_and_scope(self) -> JiraHelpdesk:
        if self.url is None:
            raise Invalid(_NO_URL, ("url",))
        if self.project is None and self.jql is None:
            raise Invalid("a Jira helpdesk needs 'project' (a key such as SUP) or 'jql' (its scope)")
        return self


def _a_mapping(message: str) -> BeforeValidator:
    def check(value: Any) -> Any:
        if not isinstance(value, Mapping):
            raise Invalid(message)
        return value
    return BeforeValidator(check)


Helpdesk = Annotated[Union[ZendeskHelpdesk, JiraHelpdesk], Field(discriminator="kind"),  # noqa: UP007
                     _a_mapping(_Helpdesk.shape)]


def _template(value: Any) -> dict[str, str]:
    if not isinstance(value, Mapping) or "body" not in value:
        raise Invalid("expected {subject: ..., body: ...}")
    return {str(k): str(v) for k, v in value.items()}


class _Channel(_Secrets):
    shape: ClassVar[str] = "expected {kind: slack|pagerduty|webhook|log, ...}"
    template: Annotated[dict[str, str], PlainValidator(_template)] | None = None

    @property
    def key(self) -> Secret | None:
        """The channel's credential: Slack webhook URL, PagerDuty routing key, webhook HMAC key."""
        return next(iter(self._resolved.values()), None)


class SlackChannel(_Channel):
    kind: Literal["slack"]
    secrets: ClassVar[tuple[tuple[str, bool], ...]] = (("webhook_url", True),)
    webhook_url: SecretRef | None = None
    webhook_url_file: FilePath | None = None


class PagerDutyChannel(_Channel):
    kind: Literal["pagerduty"]
    secrets: ClassVar[tuple[tuple[str, bool], ...]] = (("routing_key", True),)
    routing_key: SecretRef | None = None
    routing_key_file: FilePath | None = None
    url: Text = PAGERDUTY_EVENTS


class WebhookChannel(_Channel):
    kind: Literal["webhook"]
    secrets: ClassVar[tuple[tuple[str, bool], ...]] = (("secret", True),)
    url: Text
    secret: SecretRef | None = None
    secret_file: FilePath | None = None


class LogChannel(_Channel):
    kind: Literal["log"]


Channel = Annotated[Union[SlackChannel, PagerDutyChannel, WebhookChannel, LogChannel],  # noqa: UP007
                    Field(discriminator="kind"), _a_mapping(_Channel.shape)]


# --- the rest of the file --------------------------------------------------------------------------
def _database_url(value: Any) -> str:
    """state.url as written: `${VAR}` (resolved later) or a URL without its password."""
    if isinstance(value, str) and _ENV.match(value):
        return value
    if isinstance(value, str) and _URL_PASSWORD.search(value):
        raise Invalid("no password in the URL: give state.password as ${VAR} or state.password_file")
    if not isinstance(value, str) or not value.startswith(("postgresql://", "postgres://")):
        raise Invalid("expected postgresql://USER@HOST:PORT/DATABASE")
    return value


def _lease_ttl(value: Any) -> timedelta:
    ttl = _duration(value)
    if ttl < timedelta(seconds=2):
        raise Invalid("expected at least 2s")
    return ttl


def _resolve_url(written: str, src: Sources) -> str:
    m = _ENV.match(written)
    if not m:
        return written
    # The whole URL from the environment (a Kubernetes Secret): it may carry the password.
    url = src.env.get(m.group(1)) or ""
    if not url:
        raise Invalid(f"environment variable {m.group(1)} is not set or empty", ("url",))
    pw = _URL_PASSWORD.search(url)
    if pw:
        redact.register(pw.group(1))
    redact.register(url)
    if not url.startswith(("postgresql://", "postgres://")):
        raise Invalid("expected postgresql://USER@HOST:PORT/DATABASE", ("url",))
    return url


def _state_file(raw: str, src: Sources) -> Path:
    path = src.path(raw)
    parent = path.parent
    if not parent.is_dir():
        raise Invalid(f"directory {parent} does not exist", ("path",))
    if not os.access(parent, os.W_OK):
        raise Invalid(f"directory {parent} is not writable", ("path",))
    if path.exists() and (path.is_dir() or not os.access(path, os.R_OK | os.W_OK)):
        raise Invalid(f"{path} is not a readable and writable file", ("path",))
    return path


class StateSection(_Secrets):
    """The SQLite file (`path`) or the PostgreSQL database of replicas (`url`)."""

    shape: ClassVar[str] = "expected {path: /var/lib/tierlift/state.sqlite3} or {url: postgresql://USER@HOST/DB}"
    path: FilePath | None = None
    url: Annotated[str, PlainValidator(_database_url)] | None = None
    password: SecretRef | None = None
    password_file: FilePath | None = None
    lease_ttl: Annotated[timedelta, PlainValidator(_lease_ttl)] = timedelta(seconds=15)
    _file: Path | None = PrivateAttr(default=None)
    _database: str | None = PrivateAttr(default=None)

    @classmethod
    def shorthand(cls, data: Any) -> Any:
        return {"path": data} if isinstance(data, str) else data

    @model_validator(mode="after")
    def _locate(self, info: ValidationInfo) -> StateSection:
        src = _sources(info)
        if self.url is None:
            if self.password is not None or self.password_file is not None:
                raise Invalid("a password goes with state.url (PostgreSQL), not a SQLite path")
            self._file = _state_file(self.path, src) if self.path is not None else None
            return self
        if self.path is not None:
            raise Invalid("give 'path' (SQLite) or 'url' (PostgreSQL), not both", ("path",))
        self._database = _resolve_url(self.url, src)
        password = resolve_secret(self, "password", src, required=False)
        if password is not None:
            self._resolved["password"] = password
        return self

    def file(self, src: Sources) -> Path:
        """The SQLite file: written, else in systemd's $STATE_DIRECTORY, else here."""
        return self._file or Path(src.env.get("STATE_DIRECTORY", ".")) / "tierlift-state.sqlite3"

    @property
    def database(self) -> str | None:
        return self._database


def _log_format(value: Any) -> str:
    if value not in ("text", "json"):
        raise Invalid(f"expected text or json, got {value!r}")
    return str(value)


def _log_level(value: Any) -> str:
    level = str(value).upper()
    if level not in ("DEBUG", "INFO", "WARNING", "ERROR"):
        raise Invalid(f"expected debug, info, warning or error, got {value!r}")
    return level


class LogSection(Section):
    shape: ClassVar[str] = "expected {format: text|json, level: info}"
    format: Annotated[str, PlainValidator(_log_format)] = "text"
    level: Annotated[str, PlainValidator(_log_level)] = "INFO"


def _listen(value: Any) -> str:
    if not isinstance(value, str) or not re.fullmatch(r"[\w.\-:\[\]]*:\d{1,5}", value):
        raise Invalid(f"expected HOST:PORT such as 127.0.0.1:9464, got {value!r}")
    from tierlift.service.ops.health import listen_address

    try:
        listen_address(value)  # the same parse the server binds with: what passes here starts
    except ValueError as exc:
        raise Invalid(f"expected HOST:PORT such as 127.0.0.1:9464 or [::1]:9464: {exc}") from None
    return value


class HttpSection(Section):
    shape: ClassVar[str] = "expected {listen: 127.0.0.1:9464}"
    listen: Annotated[str, PlainValidator(_listen)] = Field(default=None, validate_default=True)


class ClockSection(Section):
    """For rehearsals only: follow the sandbox helpdesk's settable clock."""

    shape: ClassVar[str] = "expected {follow: http://127.0.0.1:PORT} (the sandbox helpdesk's clock)"
    follow: str

    @classmethod
    def shorthand(cls, data: Any) -> Any:
        if not isinstance(data, Mapping) or not isinstance(data.get("follow"), str):
            raise Invalid(cls.shape)
        return data


def _helpdesk_list(value: Any) -> Any:
    if not isinstance(value, list) or not value:
        raise Invalid("expected a non-empty list of helpdesks")
    return value


class ConfigFile(Section):
    """The whole file."""

    shape: ClassVar[str] = "expected a mapping with 'helpdesks', 'state', ..."
    helpdesks: Annotated[list[Helpdesk], BeforeValidator(_helpdesk_list)] = Field(default_factory=list,
                                                                                  validate_default=True)
    state: StateSection | None = None
    poll_interval: Duration = timedelta(seconds=30)
    dry_run: Bool = False
    channels: Annotated[dict[str, Channel], _mapping("expected a mapping of channel names to {kind, ...}")] \
        = Field(default_factory=dict)
    log: LogSection = Field(default_factory=LogSection)
    http: HttpSection | None = None
    journal_retention: Duration = timedelta(days=90)
    clock: ClockSection | None = None
