"""tierlift.yaml as typed models: the schema and every default, declared once.

Invariants:
- every key and its default is declared here (CONFIGURATION.md documents them;
  `tests/service/test_config_reference.py` asks these models, through the
  loader, which keys they accept);
- unknown keys are refused (`extra="forbid"`); a helpdesk or a channel is one
  model per `kind` (a discriminated union), so a Jira key on a Zendesk helpdesk
  is an unknown key too;
- the values and their messages are `config_values.py`'s; secrets are written
  as `SecretStr` and a refused one is never echoed (`hide_input_in_errors`);
- checks that need the machine run in validators from the `Sources` context:
  secrets, policy packs, the state directory.
"""

from __future__ import annotations

import difflib
import os
import re
import string
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Any, ClassVar, Literal, Union
from urllib.parse import unquote, urlsplit

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainValidator,
    PrivateAttr,
    ValidationError,
    ValidationInfo,
    ValidatorFunctionWrapHandler,
    field_validator,
    model_validator,
)

from tierlift.connectors.base import Secret
from tierlift.engine.model import STATUSES
from tierlift.engine.policy import Policy
from tierlift.engine.policy_file import Found, with_more
from tierlift.engine.yamlsrc import InvalidFile
from tierlift.service.daemon.config_values import (
    ENV_REF,
    Bool,
    ChannelUrl,
    Duration,
    FieldRef,
    FilePath,
    FirstSync,
    Instant,
    Invalid,
    Name,
    PositiveInt,
    Scalar,
    SecretRef,
    Sources,
    Text,
    TriageModelRef,
    Url,
    WholeNumber,
    duration,
    http_url,
    mapping_of,
    quote_userinfo,
    resolve_secret,
    sources_of,
    text,
    url_password,
)
from tierlift.service.daemon.policies import UnknownPolicy
from tierlift.service.ops import redact

# A wave of escalations (an outage, a stuck queue) should not answer hundreds of
# customers in one minute; 25 a cycle is 50 a minute at the default 30 s poll.
MAX_PUBLIC_REPLIES = 25
PAGERDUTY_EVENTS = "https://events.pagerduty.com/v2/enqueue"
# A webhook secret shorter than this is refused (`openssl rand -hex 32` makes 64 characters).
MIN_SIGNING_KEY = 16


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
    # Keys whose secret goes in an HTTP Basic auth header, which carries Latin-1 only.
    in_header: ClassVar[tuple[str, ...]] = ()
    # Keys whose secret is a signing key chosen by people: at least MIN_SIGNING_KEY characters.
    signing_keys: ClassVar[tuple[str, ...]] = ()
    _resolved: dict[str, Secret] = PrivateAttr(default_factory=dict)

    @model_validator(mode="after")
    def _resolve(self, info: ValidationInfo) -> _Secrets:
        src = sources_of(info)
        for key, required in self.secrets:
            secret = resolve_secret(self, key, src, required=required, unread=not src.read_secrets)
            if secret is not None:
                if key in self.in_header:
                    _ascii_token(self, key, secret)
                if key in self.signing_keys and src.read_secrets:
                    _long_enough(self, key, secret)
                self._resolved[key] = secret
        return self

    def resolved(self, key: str) -> Secret | None:
        return self._resolved.get(key)


def _ascii_token(model: BaseModel, key: str, secret: Secret) -> None:
    """A helpdesk's API token holds ASCII only: Zendesk's and Atlassian's tokens are made of
    letters, digits and a few marks, so any other character was pasted in by mistake. The
    Basic auth header it goes in crashed every command on it with an error that named the
    character and its place (QA: `'latin-1' codec can't encode character '\\u2603' in
    position 10`); sent as UTF-8 it would be refused by the helpdesk at every request. Neither
    the value nor any character of it is shown, only where it came from."""
    if secret.reveal().isascii():
        return
    blame = f"{key}_file" if getattr(model, f"{key}_file", None) is not None else key
    redact.forget(secret.reveal())
    raise Invalid(f"the {key} read from {_origin(secret.source)} has a character that is not ASCII; helpdesk"
                  " API tokens are ASCII letters, digits and marks: copy the token again", (blame,))


def _long_enough(model: BaseModel, key: str, secret: Secret) -> None:
    """A webhook's signing key is all that tells a helpdesk's call from anyone's: a one-letter
    secret (or a space) was taken, and the daemon acted on webhooks signed with it (QA).
    Neither the value nor its length is shown, only where it came from. Whitespace does not
    count, inside the value either ("a" and "b" with 14 spaces between were taken: QA)."""
    if sum(not c.isspace() for c in secret.reveal()) >= MIN_SIGNING_KEY:
        return
    blame = f"{key}_file" if getattr(model, f"{key}_file", None) is not None else key
    redact.forget(secret.reveal())
    raise Invalid(f"the {key} read from {_origin(secret.source)} is shorter than {MIN_SIGNING_KEY} characters,"
                  " too short to resist guessing: make one with `openssl rand -hex 32`", (blame,))


def _origin(source: str) -> str:
    kind, _, name = source.partition(":")
    return {"env": f"environment variable {name}", "file": f"file {name}"}.get(kind, source)


@dataclass(frozen=True)
class PolicyRef:
    ref: str  # as written: a pack name or a path
    policy: Policy | None  # None: not loaded (load_policies=False)


def _policy(value: Any, info: ValidationInfo) -> PolicyRef:
    ref = text(value, info)
    src = sources_of(info)
    if src.load_policy is None:
        return PolicyRef(ref, None)
    try:
        policy = src.load_policy(ref, base=src.base)
    except UnknownPolicy as exc:  # a misspelt name: here, at the config's own line
        raise Invalid(exc.message) from None
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

    fields: Annotated[dict[str, FieldRef],
                      mapping_of("expected a mapping of field names to ids")] = Field(default_factory=dict)
    start_time: Instant | None = None
    timeout: Duration = timedelta(seconds=30)
    max_retry_wait: Duration = timedelta(seconds=60)
    retry_attempts: PositiveInt = 5
    rate_limit_per_minute: PositiveInt | None = None
    first_sync: FirstSync = "quiet"
    max_public_replies_per_cycle: WholeNumber = MAX_PUBLIC_REPLIES  # 0: no cap
    # Which text model the policy's triage conditions read with (docs/triage.md): `accepted`
    # (the accepted refit, else the shipped model), `shipped`, `latest` or a model id of a
    # refit (`HELPDESK/latest` for another helpdesk's): a dry-run shadow tries a refit first.
    triage_model: TriageModelRef = "accepted"
    public_replies: Any = None  # accepted for compatibility; replies are the policy's


class ZendeskOptions(HelpdeskOptions):
    kind: Literal["zendesk"] = "zendesk"
    page_size: PositiveInt = 1000
    severity_field: Any = None  # accepted; `fields: {severity: ID}` is what maps it
    # Tickets whose audits are kept for follow-ups (0: none, the default). Opt-in: the CI
    # support floor once missed a failed-attempts escalation on Zendesk with it on (a
    # follow-up's words not seen); a cause was found and fixed (followups.py dates a read
    # by the answer before it), off until the full floors have run with it on.
    audit_cache: WholeNumber = 0


def _status(value: Any) -> str:
    """A tierlift status for `status_map`: a misspelt `pendng` was taken, and the parked issues
    it meant to pause ran their clocks and were escalated (QA, a Jira admin)."""
    if isinstance(value, str) and value.strip().lower() in STATUSES:
        return value.strip().lower()
    hint = difflib.get_close_matches(str(value).lower(), STATUSES, n=1)
    raise Invalid(f"expected one of {', '.join(STATUSES)}, got {value!r}" + (f" (did you mean {hint[0]}?)" if hint else ""))


Status = Annotated[str, PlainValidator(_status)]


class JiraOptions(HelpdeskOptions):
    kind: Literal["jira"] = "jira"
    page_size: PositiveInt = 100
    project: Scalar | None = None
    jql: Text | None = None
    team_field: Scalar | None = None
    servicedesk: Bool = True
    note_in_edit: Bool = False
    overlap: Duration = timedelta(minutes=2)
    status_map: Annotated[dict[str, Status], mapping_of("expected a mapping of Jira statuses to tierlift statuses")] \
        = Field(default_factory=dict)


def _subdomain(value: Any) -> str:
    # `subdomain: https://acme.zendesk.com` became https://https://acme.zendesk.com.zendesk.com.
    if not isinstance(value, str) or not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9-]*", value):
        raise Invalid("expected the bare subdomain, such as acme for https://acme.zendesk.com (a whole address goes"
                      " in 'url')")
    return value


def _sign_in_email(value: Any, info: ValidationInfo) -> str:
    # It goes in the Basic auth header with the token, which carries Latin-1 only: an address
    # with another character crashed every command with a codec error (as a token did, QA).
    address = text(value, info)
    if not address.isascii():
        raise Invalid("the sign-in email has a character that is not ASCII; the helpdesks sign in with the"
                      " account's plain address (an internationalised one by its ASCII form)")
    return address


class _Helpdesk(_Secrets):
    """Who a helpdesk is and how tierlift signs in: the keys every kind has."""

    shape: ClassVar[str] = "expected a helpdesk mapping with name, kind, url, email, token"
    secrets: ClassVar[tuple[tuple[str, bool], ...]] = (("token", True), ("webhook_secret", False))
    in_header: ClassVar[tuple[str, ...]] = ("token",)
    signing_keys: ClassVar[tuple[str, ...]] = ("webhook_secret",)
    name: Name
    url: Url | None = None
    subdomain: Annotated[str, PlainValidator(_subdomain)] | None = None
    email: Annotated[str, PlainValidator(_sign_in_email)]
    token: SecretRef | None = None
    token_file: FilePath | None = None
    # The secret the helpdesk signs its webhooks with (docs/webhooks.md); none: webhooks off.
    webhook_secret: SecretRef | None = None
    webhook_secret_file: FilePath | None = None
    policy: Annotated[PolicyRef, PlainValidator(_policy)]
    dry_run: Bool | None = None  # None: the top level's
    teams: Annotated[dict[str, TeamSpec], mapping_of("expected a mapping of policy team names to {group: NAME} /"
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

    @model_validator(mode="wrap")
    @classmethod
    def _every_problem(cls, data: Any, handler: ValidatorFunctionWrapHandler) -> Any:
        """What the checks of the entry as a whole say (a missing token, a Jira entry's
        scope) also when a key of it is wrong: they run only on a valid entry, so fixing
        one problem showed the next (QA: "every problem printed" was not true)."""
        try:
            return handler(data)
        except ValidationError as exc:
            said = " ".join(str(e.get("msg", "")) for e in exc.errors(include_url=False))
            own = [(at, message) for at, message in cls.missing(data) if message not in said]
            if not own or not isinstance(data, Mapping):
                raise
            raise with_more(exc, own) from None

    @classmethod
    def missing(cls, data: Any) -> Found:
        """The keys the entry as a whole needs and does not have (read from the file as written)."""
        if not isinstance(data, Mapping):
            return []
        found: Found = []
        if data.get("token") is None and data.get("token_file") is None:
            found.append(((), "missing 'token' (as ${ENV_VAR}) or 'token_file' (a path)"))
        return found

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
        # A Zendesk account is at its root: an address pasted from the browser
        # (https://acme.zendesk.com/agent/dashboard) was taken, the API reached through its
        # origin, and every ticket link in pages and reports pointed under the path (QA).
        path = urlsplit(self.url).path if self.url else ""
        if path.strip("/"):
            raise Invalid(f"a Zendesk account's address has no path (this one has {path!r}): write"
                          f" {urlsplit(self.url or '')._replace(path='', query='', fragment='').geturl()}", ("url",))
        return self


_NO_SCOPE = "a Jira helpdesk needs 'project' (a key such as SUP) or 'jql' (its scope)"


class JiraHelpdesk(_Helpdesk, JiraOptions):
    @model_validator(mode="after")
    def _has_address_and_scope(self) -> JiraHelpdesk:
        if self.url is None:
            raise Invalid(_NO_URL, ("url",))
        if self.project is None and self.jql is None:
            raise Invalid(_NO_SCOPE)
        return self

    @classmethod
    def missing(cls, data: Any) -> Found:
        found = super().missing(data)
        if isinstance(data, Mapping) and data.get("project") is None and data.get("jql") is None:
            found.append(((), _NO_SCOPE))
        return found


def _a_mapping(message: str) -> BeforeValidator:
    def check(value: Any) -> Any:
        if not isinstance(value, Mapping):
            raise Invalid(message)
        return value
    return BeforeValidator(check)


Helpdesk = Annotated[Union[ZendeskHelpdesk, JiraHelpdesk], Field(discriminator="kind"),  # noqa: UP007
                     _a_mapping(_Helpdesk.shape)]


# A channel template's placeholders (service/ops/notify.py fills them); any other name
# would fail at send time, so it is refused at load, where `check --offline` sees it.
TEMPLATE_PLACEHOLDERS = ("subject", "body", "ticket_url", "tier_change", "summary")


TEMPLATE_KEYS = ("subject", "body")


def _template(value: Any) -> dict[str, str]:
    # Refused here what would fail or misrender at send time, when the page is lost:
    # `{body:d}` (ValueError), `{body!x}`, `{body.__class__}`, an unknown key (`colour`).
    if not isinstance(value, Mapping) or "body" not in value:
        raise Invalid("expected {subject: ..., body: ...}")
    out = {str(k): str(v) for k, v in value.items()}
    for key, body in out.items():
        if key not in TEMPLATE_KEYS:
            raise Invalid(f"unknown key '{key}' (expected subject and body)", (key,))
        try:
            fields = [(f, spec, conv) for _, f, spec, conv in string.Formatter().parse(body) if f is not None]
        except ValueError as exc:
            raise Invalid(f"{exc} (a literal brace is written {{{{ or }}}})", (key,)) from None
        for name, spec, conv in fields:
            if name not in TEMPLATE_PLACEHOLDERS:
                raise Invalid(_unknown_placeholder(name), (key,))
            if spec or conv:
                raise Invalid(f"{{{name}}} takes no format or conversion (write {{{name}}} alone)", (key,))
    return out


def _unknown_placeholder(name: str) -> str:
    bare = re.split(r"[.\[]", name, maxsplit=1)[0]
    if bare in TEMPLATE_PLACEHOLDERS:
        return f"{{{name}}}: a placeholder is used whole (write {{{bare}}})"
    hint = difflib.get_close_matches(name, TEMPLATE_PLACEHOLDERS, n=1)
    more = f"did you mean {{{hint[0]}}}?" if hint else "expected one of " + ", ".join(
        f"{{{p}}}" for p in TEMPLATE_PLACEHOLDERS)
    return f"unknown placeholder {{{name}}} ({more})"


class _Channel(_Secrets):
    shape: ClassVar[str] = "expected {kind: slack|pagerduty|webhook|log, ...}"
    template: Annotated[dict[str, str], PlainValidator(_template)] | None = None
    # False: the message carries none of the ticket's words (docs/privacy.md).
    customer_words: Bool = True

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
    url: ChannelUrl = PAGERDUTY_EVENTS


class WebhookChannel(_Channel):
    kind: Literal["webhook"]
    secrets: ClassVar[tuple[tuple[str, bool], ...]] = (("secret", True),)
    url: ChannelUrl
    secret: SecretRef | None = None
    secret_file: FilePath | None = None


class LogChannel(_Channel):
    kind: Literal["log"]


Channel = Annotated[Union[SlackChannel, PagerDutyChannel, WebhookChannel, LogChannel],  # noqa: UP007
                    Field(discriminator="kind"), _a_mapping(_Channel.shape)]


# --- the rest of the file --------------------------------------------------------------------------
def _database_url(value: Any) -> str:
    """state.url as written: `${VAR}` (resolved later) or a URL without its password."""
    if isinstance(value, str) and ENV_REF.match(value):
        return value
    # user:pw@ or ?password=: printed by every message naming the database, and the URL is
    # no secret, so the password goes in a key of its own.
    if isinstance(value, str) and url_password(value) is not None:
        raise Invalid("no password in the URL (user:PASSWORD@ or ?password=): give state.password as ${VAR}"
                      " or state.password_file")
    if not isinstance(value, str) or not value.startswith(("postgresql://", "postgres://")):
        raise Invalid("expected postgresql://USER@HOST:PORT/DATABASE")
    return value


def _pool_size(value: Any) -> int:
    # pydantic's int read "10" and true as numbers; every other whole-number key refuses them.
    if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= 1000:
        raise Invalid("expected a whole number from 1 to 1000")
    return value


def _lease_ttl(value: Any) -> timedelta:
    ttl = duration(value)
    if ttl < timedelta(seconds=2):
        raise Invalid("expected at least 2s")
    return ttl


def _resolve_url(written: str, src: Sources) -> str:
    m = ENV_REF.match(written)
    if not m:
        return written
    # The whole URL from the environment (a Kubernetes Secret): it may carry the password.
    url = src.env.get(m.group(1)) or ""
    if not url:
        raise Invalid(f"environment variable {m.group(1)} is not set or empty", ("url",))
    password = url_password(url)
    redact.register(password)  # user:pw@ or ?password=, wherever the URL is printed
    redact.register(unquote(password or ""))  # as libpq reads it, %-encoding undone
    redact.register(url)
    if not url.startswith(("postgresql://", "postgres://")):
        raise Invalid("expected postgresql://USER@HOST:PORT/DATABASE", ("url",))
    quoted = quote_userinfo(url)  # an unencoded '@' in the password, as libpq needs it
    redact.register(url_password(quoted))
    redact.register(quoted)
    return quoted


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
    # PostgreSQL: the connections one replica's helpdesks share (docs/performance.md).
    pool_size: Annotated[int, PlainValidator(_pool_size)] = 10
    _file: Path | None = PrivateAttr(default=None)
    _database: str | None = PrivateAttr(default=None)

    @classmethod
    def shorthand(cls, data: Any) -> Any:
        return {"path": data} if isinstance(data, str) else data

    @model_validator(mode="after")
    def _locate(self, info: ValidationInfo) -> StateSection:
        src = sources_of(info)
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


class WebhooksSection(Section):
    """Where helpdesk webhooks are served: a port of their own (`listen`), else `http.listen`'s."""

    shape: ClassVar[str] = "expected {listen: 0.0.0.0:9465, public_url: https://tierlift.example.com}"
    listen: Annotated[str, PlainValidator(_listen)] | None = None
    # What the helpdesk calls (`tierlift webhooks setup` and `check`).
    public_url: Annotated[str, PlainValidator(
        lambda v: http_url(v, "the address the helpdesk calls, such as https://tierlift.example.com"))] | None = None


class ClockSection(Section):
    """For rehearsals only: follow the sandbox helpdesk's settable clock, or stand at one
    instant (a kept demo's folder: its tools read the time the sandbox stopped at)."""

    shape: ClassVar[str] = ("expected {follow: http://127.0.0.1:PORT} (the sandbox helpdesk's clock)"
                            " or {at: 2026-11-02T19:00:00Z} (a fixed instant)")
    # Checked as an address here: `follow: notaurl` passed `check`, then `plan` and `run` failed.
    follow: Annotated[str, PlainValidator(
        lambda v: http_url(v, "the sandbox helpdesk's address, such as http://127.0.0.1:8765"))] | None = None
    at: Instant | None = None

    @classmethod
    def shorthand(cls, data: Any) -> Any:
        if not isinstance(data, Mapping) or sum(1 for k in ("follow", "at") if data.get(k) is not None) != 1 \
                or ("follow" in data and not isinstance(data["follow"], str)):
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
    channels: Annotated[dict[str, Channel], mapping_of("expected a mapping of channel names to {kind, ...}")] \
        = Field(default_factory=dict)
    log: LogSection = Field(default_factory=LogSection)
    http: HttpSection | None = None
    webhooks: WebhooksSection | None = None
    journal_retention: Duration = timedelta(days=90)
    clock: ClockSection | None = None

    @model_validator(mode="after")
    def _polls_a_real_helpdesk_gently(self) -> ConfigFile:
        """`poll_interval: 0.001s` ran about 40 cycles a second against the helpdesk (and was
        logged as `0s`): under a second is for a sandbox whose clock tierlift follows."""
        if self.poll_interval < timedelta(seconds=1) and self.clock is None:
            raise Invalid(f"expected at least 1s, got {self.poll_interval.total_seconds():g}s (a faster poll is for"
                          " a sandbox, with clock: {follow: URL})", ("poll_interval",))
        return self
