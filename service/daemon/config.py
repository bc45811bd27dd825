"""tierlift.yaml: the helpdesks, their policies and credentials, state, channels.

Validated in full at start-up; every problem is reported as
`FILE:LINE: key.path: what was expected`, and nothing starts with a bad file.
Secrets come from the environment (`${ZENDESK_TOKEN}`) or a file
(`token_file: /run/credentials/tierlift/zendesk`), never inline: an inline
credential is refused, because config files end up in repositories and
tickets. Resolved secrets are `Secret` objects (redacted in every repr) and
are registered with `redact` so no log line or error can carry them.
"""

from __future__ import annotations

import difflib
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from tierlift.connectors.base import FieldSource, Secret, TeamTarget
from tierlift.engine.durations import DurationError, parse_duration
from tierlift.engine.policy import Policy
from tierlift.engine.yamlsrc import InvalidFile, Positions, Problem, load
from tierlift.engine.yamlsrc import Path as KeyPath
from tierlift.service.ops import redact

KINDS = ("zendesk", "jira")
_ENV = re.compile(r"^\$\{([A-Za-z_][A-Za-z0-9_]*)\}$")


@dataclass
class ChannelConfig:
    name: str
    kind: str  # slack | pagerduty | webhook | log
    url: str | None = None
    secret: Secret | None = None  # PagerDuty routing key, webhook HMAC key, Slack webhook URL
    template: Mapping[str, str] | None = None


@dataclass
class HelpdeskConfig:
    name: str
    kind: str
    url: str
    email: str
    token: Secret
    policy_ref: str
    policy: Policy
    dry_run: bool
    teams: dict[str, TeamTarget]
    options: dict[str, Any] = field(default_factory=dict)  # kind-specific settings
    index: int = 0  # position in the file's helpdesks list, for messages
    lines: dict[str, int] = field(default_factory=dict)  # key -> line in the file

    def __repr__(self) -> str:
        return (f"HelpdeskConfig(name={self.name!r}, kind={self.kind!r}, url={self.url!r}, email={self.email!r},"
                f" token={self.token!r}, policy={self.policy_ref!r}, dry_run={self.dry_run})")


@dataclass
class Config:
    source: Path
    helpdesks: list[HelpdeskConfig]
    state_path: Path
    poll_interval: timedelta
    dry_run: bool
    channels: dict[str, ChannelConfig]
    log_format: str = "text"
    log_level: str = "INFO"
    http_listen: str | None = None  # "127.0.0.1:9464"; None = off
    journal_retention: timedelta = timedelta(days=90)
    shutdown_grace: timedelta = timedelta(seconds=8)
    extra: dict[str, Any] = field(default_factory=dict)
    # state: {url: postgresql://...}: the shared database of replicas (None: the SQLite file).
    state_url: str | None = None
    state_password: Secret | None = None
    lease_ttl: timedelta = timedelta(seconds=15)


_TOP = {"helpdesks", "state", "poll_interval", "dry_run", "channels", "log", "http", "journal_retention", "clock"}
_HD_COMMON = {"name", "kind", "url", "subdomain", "email", "token", "token_file", "policy", "dry_run", "teams",
              "fields", "start_time", "page_size", "timeout", "max_retry_wait", "retry_attempts",
              "rate_limit_per_minute", "public_replies", "first_sync", "max_public_replies_per_cycle"}
_HD_KIND = {
    "zendesk": {"severity_field"},
    "jira": {"project", "jql", "team_field", "servicedesk", "note_in_edit", "overlap", "status_map"},
}
_CHANNEL_KINDS = {"slack": {"webhook_url", "webhook_url_file"}, "pagerduty": {"routing_key", "routing_key_file", "url"},
                  "webhook": {"url", "secret", "secret_file"}, "log": set()}


class _Checker:
    def __init__(self, pos: Positions, env: Mapping[str, str], base: Path):
        self.pos = pos
        self.env = env
        self.base = base
        self.problems: list[Problem] = []

    def add(self, path: KeyPath, msg: str) -> None:
        self.problems.append(self.pos.problem(path, msg))

    def keys(self, data: Mapping, allowed: set[str], path: KeyPath) -> None:
        for key in data:
            if key not in allowed:
                hint = difflib.get_close_matches(str(key), sorted(allowed), n=1)
                more = f" (did you mean '{hint[0]}'?)" if hint else f" (expected one of: {', '.join(sorted(allowed))})"
                self.add(path + (key,), f"unknown key '{key}'{more}")

    def string(self, data: Mapping, key: str, path: KeyPath, required: bool = True) -> str | None:
        value = data.get(key)
        if value is None:
            if required:
                self.add(path + (key,) if key in data else path, f"missing required key '{key}'")
            return None
        if not isinstance(value, str) or not value.strip():
            self.add(path + (key,), f"expected a non-empty string, got {type(value).__name__}")
            return None
        return value

    def duration(self, value: Any, path: KeyPath, default: timedelta) -> timedelta:
        if value is None:
            return default
        try:
            return parse_duration(value)
        except DurationError as exc:
            self.add(path, str(exc))
            return default

    def boolean(self, value: Any, path: KeyPath, default: bool) -> bool:
        if value is None:
            return default
        if not isinstance(value, bool):
            self.add(path, f"expected true or false, got {value!r}")
            return default
        return value

    def secret(self, data: Mapping, key: str, path: KeyPath, required: bool = True) -> Secret | None:
        file_key = f"{key}_file"
        if key in data and file_key in data:
            self.add(path + (file_key,), f"give '{key}' or '{file_key}', not both")
            return None
        if file_key in data:
            raw = data[file_key]
            if not isinstance(raw, str):
                self.add(path + (file_key,), "expected a file path")
                return None
            p = Path(os.path.expandvars(raw))
            if not p.is_absolute():
                p = self.base / p
            # systemd LoadCredential= puts credentials in $CREDENTIALS_DIRECTORY.
            if not p.exists() and "CREDENTIALS_DIRECTORY" in self.env and not Path(raw).is_absolute():
                p = Path(self.env["CREDENTIALS_DIRECTORY"]) / raw
            try:
                value = p.read_text(encoding="utf-8").strip()
            except OSError as exc:
                self.add(path + (file_key,), f"cannot read secret file {p}: {exc.strerror or exc.__class__.__name__}")
                return None
            if not value:
                self.add(path + (file_key,), f"secret file {p} is empty")
                return None
            redact.register(value)
            return Secret(value, f"file:{p}")
        if key not in data:
            if required:
                self.add(path, f"missing '{key}' (as ${{ENV_VAR}}) or '{file_key}' (a path)")
            return None
        raw = data[key]
        m = _ENV.match(raw) if isinstance(raw, str) else None
        if not m:
            # Never echo the value: it may be a real credential pasted inline.
            self.add(path + (key,), f"secrets must come from the environment ('${{VAR}}') or a file ('{file_key}: PATH'),"
                                    " not inline")
            return None
        var = m.group(1)
        value = self.env.get(var)
        if not value:
            self.add(path + (key,), f"environment variable {var} is not set or empty")
            return None
        redact.register(value)
        return Secret(value, f"env:{var}")


def load_config(path: Path, env: Mapping[str, str] | None = None, *, load_policies: bool = True) -> Config:
    """Read and validate tierlift.yaml. Raises InvalidFile listing every problem."""
    from tierlift.service.daemon.policies import load_policy

    env = os.environ if env is None else env
    source = str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InvalidFile([Problem(source, None, "", "configuration file not found")]) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise InvalidFile([Problem(source, None, "", f"cannot read configuration file: {exc.__class__.__name__}")]) from None
    data, pos = load(text, source)
    c = _Checker(pos, env, path.resolve().parent)
    if not isinstance(data, Mapping):
        c.add((), "expected a mapping with 'helpdesks', 'state', ...")
        raise InvalidFile(c.problems)
    c.keys(data, _TOP, ())
    global_dry = c.boolean(data.get("dry_run"), ("dry_run",), False)
    poll = c.duration(data.get("poll_interval"), ("poll_interval",), timedelta(seconds=30))
    retention = c.duration(data.get("journal_retention"), ("journal_retention",), timedelta(days=90))

    state_path = _state(data.get("state"), c)
    state_db = _state_db(data.get("state"), c)
    log_format, log_level = _log(data.get("log"), c)
    http_listen = _http(data.get("http"), c)
    channels = _channels(data.get("channels"), c)

    helpdesks: list[HelpdeskConfig] = []
    raw = data.get("helpdesks")
    if not isinstance(raw, list) or not raw:
        c.add(("helpdesks",), "expected a non-empty list of helpdesks")
        raw = []
    seen: dict[str, int] = {}
    for i, hd in enumerate(raw):
        p: KeyPath = ("helpdesks", i)
        if not isinstance(hd, Mapping):
            c.add(p, "expected a helpdesk mapping with name, kind, url, email, token")
            continue
        name = c.string(hd, "name", p)
        if name is not None:
            if not re.fullmatch(r"[A-Za-z0-9_.\-]+", name):
                c.add(p + ("name",), "expected letters, digits, '.', '_' or '-' (it names metrics and state)")
            if name in seen:
                c.add(p + ("name",), f"duplicate helpdesk name '{name}' (also at helpdesks[{seen[name]}])")
            seen[name] = i
        kind = hd.get("kind")
        if kind not in KINDS:
            c.add(p + ("kind",), f"expected one of {', '.join(KINDS)}, got {kind!r}")
            c.keys(hd, _HD_COMMON | set().union(*_HD_KIND.values()), p)
            continue
        c.keys(hd, _HD_COMMON | _HD_KIND[kind], p)
        url = hd.get("url")
        if kind == "zendesk" and url is None and isinstance(hd.get("subdomain"), str):
            url = f"https://{hd['subdomain']}.zendesk.com"
        if not isinstance(url, str) or not re.match(r"^https?://[^\s/]+", url or ""):
            c.add(p + ("url",), "expected an address such as https://acme.zendesk.com (or 'subdomain' for Zendesk)")
            url = None
        email = c.string(hd, "email", p)
        token = c.secret(hd, "token", p)
        policy_ref = c.string(hd, "policy", p)
        policy = None
        if policy_ref and load_policies:
            try:
                policy = load_policy(policy_ref, base=path.resolve().parent)
            except InvalidFile as exc:
                for prob in exc.problems:
                    # Keep the policy file's own location, and say which helpdesk uses it.
                    c.problems.append(prob)
                c.add(p + ("policy",), f"policy '{policy_ref}' is invalid (problems listed above)")
        teams = _teams(hd.get("teams"), c, p + ("teams",))
        if policy is not None:
            _known_teams(teams, policy, c, p + ("teams",))
        if policy is not None and kind == "jira" and not teams and "team_field" not in hd:
            pass  # Jira maps teams by user display name by default
        dry = c.boolean(hd.get("dry_run"), p + ("dry_run",), global_dry) or global_dry
        options = {k: v for k, v in hd.items() if k not in {"name", "kind", "url", "subdomain", "email", "token",
                                                         "token_file", "policy", "dry_run", "teams"}}
        for key in ("page_size", "retry_attempts", "rate_limit_per_minute"):
            if key in options and (not isinstance(options[key], int) or isinstance(options[key], bool) or options[key] < 1):
                c.add(p + (key,), "expected a positive whole number")
        for key in ("timeout", "max_retry_wait", "overlap"):
            if key in options:
                options[key] = c.duration(options[key], p + (key,), timedelta(seconds=30))
        if "start_time" in options:
            options["start_time"] = _instant(options["start_time"], c, p + ("start_time",))
        if options.get("first_sync", "quiet") not in ("quiet", "full"):
            c.add(p + ("first_sync",), "expected quiet (the backlog at go-live is escalated without customer"
                                       " replies or pages) or full")
        cap = options.get("max_public_replies_per_cycle")
        if cap is not None and (not isinstance(cap, int) or isinstance(cap, bool) or cap < 0):
            c.add(p + ("max_public_replies_per_cycle",), "expected a whole number (0: no cap)")
        if "note_in_edit" in options and not isinstance(options["note_in_edit"], bool):
            c.add(p + ("note_in_edit",), "expected true or false")
        if "fields" in options and not isinstance(options["fields"], Mapping):
            c.add(p + ("fields",), "expected a mapping of field names to ids")
        for fname, fvalue in (options.get("fields") or {}).items() if isinstance(options.get("fields"), Mapping) else ():
            try:  # id, ticket.NAME, organization.NAME or user.NAME; `check` proves the names exist
                FieldSource.parse(fvalue)
            except ValueError as exc:
                c.add(p + ("fields", str(fname)), str(exc))
        if kind == "jira" and "project" not in hd and "jql" not in hd:
            c.add(p, "a Jira helpdesk needs 'project' (a key such as SUP) or 'jql' (its scope)")
        if policy is not None and channels is not None:
            for ch in policy.channels:
                if ch not in channels:
                    c.add(p + ("policy",), f"policy '{policy_ref}' notifies channel '{ch}', which 'channels' does not define")
        if name and url and email and token and policy_ref and (policy or not load_policies):
            # Only keys written in this helpdesk's entry: `line()` would fall back to
            # the entry's own line and make every key look present.
            lines = {k: ln for k in ("token", "token_file", "url", "subdomain", "teams", "policy", "fields")
                     if (ln := pos.lines.get(p + (k,))) is not None}
            lines["name"] = pos.line(p) or 0
            helpdesks.append(HelpdeskConfig(name, kind, url.rstrip("/"), email, token, policy_ref, policy,  # type: ignore[arg-type]
                                            dry, teams, options, i, lines))
    extra: dict[str, Any] = {"state_line": pos.line(("state", "path")) or pos.line(("state",))}
    clock = data.get("clock")
    if clock is not None:
        # For rehearsals only: follow the sandbox helpdesk's settable clock.
        if not isinstance(clock, Mapping) or not isinstance(clock.get("follow"), str):
            c.add(("clock",), "expected {follow: http://127.0.0.1:PORT} (the sandbox helpdesk's clock)")
        else:
            c.keys(clock, {"follow"}, ("clock",))
            extra["clock"] = clock["follow"]
    if c.problems:
        raise InvalidFile(c.problems)
    return Config(path, helpdesks, state_path, poll, global_dry, channels or {}, log_format, log_level,
                  http_listen, retention, extra=extra, **state_db)


def _state(raw: Any, c: _Checker) -> Path:
    default = Path(os.environ.get("STATE_DIRECTORY", ".")) / "tierlift-state.sqlite3"
    if raw is None:
        return default
    if isinstance(raw, str):
        raw = {"path": raw}
    if not isinstance(raw, Mapping):
        c.add(("state",), "expected {path: /var/lib/tierlift/state.sqlite3} or {url: postgresql://USER@HOST/DB}")
        return default
    c.keys(raw, {"path", "url", "password", "password_file", "lease_ttl"}, ("state",))
    if "url" in raw:
        if "path" in raw:
            c.add(("state", "path"), "give 'path' (SQLite) or 'url' (PostgreSQL), not both")
        return default
    p = raw.get("path")
    if not isinstance(p, str) or not p:
        c.add(("state", "path"), "expected a file path")
        return default
    path = Path(os.path.expandvars(p))
    if not path.is_absolute():
        path = c.base / path
    parent = path.parent
    if not parent.is_dir():
        c.add(("state", "path"), f"directory {parent} does not exist")
    elif not os.access(parent, os.W_OK):
        c.add(("state", "path"), f"directory {parent} is not writable")
    elif path.exists() and (path.is_dir() or not os.access(path, os.R_OK | os.W_OK)):
        c.add(("state", "path"), f"{path} is not a readable and writable file")
    return path


def _state_db(raw: Any, c: _Checker) -> dict[str, Any]:
    """state.url (PostgreSQL, shared by replicas), its password and the lease TTL."""
    if not isinstance(raw, Mapping):
        return {}
    out: dict[str, Any] = {"lease_ttl": c.duration(raw.get("lease_ttl"), ("state", "lease_ttl"), timedelta(seconds=15))}
    if out["lease_ttl"] < timedelta(seconds=2):
        c.add(("state", "lease_ttl"), "expected at least 2s")
    if "url" not in raw:
        if "password" in raw or "password_file" in raw:
            c.add(("state",), "a password goes with state.url (PostgreSQL), not a SQLite path")
        return out
    url = raw["url"]
    m = _ENV.match(url) if isinstance(url, str) else None
    if m:  # the whole URL from the environment (a Kubernetes Secret): it may carry the password
        url = c.env.get(m.group(1)) or ""
        if not url:
            c.add(("state", "url"), f"environment variable {m.group(1)} is not set or empty")
            return out
        pw = _URL_PASSWORD.search(url)
        if pw:
            redact.register(pw.group(1))
        redact.register(url)
    elif isinstance(url, str) and _URL_PASSWORD.search(url):
        c.add(("state", "url"), "no password in the URL: give state.password as ${VAR} or state.password_file")
        return out
    if not isinstance(url, str) or not url.startswith(("postgresql://", "postgres://")):
        c.add(("state", "url"), "expected postgresql://USER@HOST:PORT/DATABASE")
        return out
    out["state_url"] = url
    if "password" in raw or "password_file" in raw:
        out["state_password"] = c.secret(raw, "password", ("state",), required=False)
    return out


_URL_PASSWORD = re.compile(r"://[^:/@]*:([^@/]+)@")


def _log(raw: Any, c: _Checker) -> tuple[str, str]:
    if raw is None:
        return "text", "INFO"
    if not isinstance(raw, Mapping):
        c.add(("log",), "expected {format: text|json, level: info}")
        return "text", "INFO"
    c.keys(raw, {"format", "level"}, ("log",))
    fmt = raw.get("format", "text")
    if fmt not in ("text", "json"):
        c.add(("log", "format"), f"expected text or json, got {fmt!r}")
        fmt = "text"
    level = str(raw.get("level", "info")).upper()
    if level not in ("DEBUG", "INFO", "WARNING", "ERROR"):
        c.add(("log", "level"), f"expected debug, info, warning or error, got {raw.get('level')!r}")
        level = "INFO"
    return fmt, level


def _http(raw: Any, c: _Checker) -> str | None:
    if raw is None:
        return None
    if not isinstance(raw, Mapping):
        c.add(("http",), "expected {listen: 127.0.0.1:9464}")
        return None
    c.keys(raw, {"listen"}, ("http",))
    listen = raw.get("listen")
    if not isinstance(listen, str) or not re.fullmatch(r"[\w.\-:\[\]]*:\d{1,5}", listen):
        c.add(("http", "listen"), f"expected HOST:PORT such as 127.0.0.1:9464, got {listen!r}")
        return None
    from tierlift.service.ops.health import listen_address

    try:
        listen_address(listen)  # the same parse the server binds with: what passes here starts
    except ValueError as exc:
        c.add(("http", "listen"), f"expected HOST:PORT such as 127.0.0.1:9464 or [::1]:9464: {exc}")
        return None
    return listen


def _channels(raw: Any, c: _Checker) -> dict[str, ChannelConfig] | None:
    if raw is None:
        return {}
    if not isinstance(raw, Mapping):
        c.add(("channels",), "expected a mapping of channel names to {kind, ...}")
        return None
    out: dict[str, ChannelConfig] = {}
    for name, spec in raw.items():
        p: KeyPath = ("channels", name)
        if not isinstance(spec, Mapping):
            c.add(p, "expected {kind: slack|pagerduty|webhook|log, ...}")
            continue
        kind = spec.get("kind")
        if not isinstance(kind, str) or kind not in _CHANNEL_KINDS:  # a mapping here raised TypeError
            c.add(p + ("kind",), f"expected one of {', '.join(_CHANNEL_KINDS)}, got {kind!r}")
            continue
        c.keys(spec, {"kind", "template"} | _CHANNEL_KINDS[kind], p)
        url, secret = None, None
        if kind == "slack":
            secret = c.secret(spec, "webhook_url", p)
        elif kind == "pagerduty":
            secret = c.secret(spec, "routing_key", p)
            url = spec.get("url", "https://events.pagerduty.com/v2/enqueue")
        elif kind == "webhook":
            url = c.string(spec, "url", p)
            secret = c.secret(spec, "secret", p)
        template = spec.get("template")
        if template is not None and (not isinstance(template, Mapping) or "body" not in template):
            c.add(p + ("template",), "expected {subject: ..., body: ...}")
            template = None
        out[str(name)] = ChannelConfig(str(name), kind, url, secret, template)
    return out


def _teams(raw: Any, c: _Checker, p: KeyPath) -> dict[str, TeamTarget]:
    if raw is None:
        return {}
    if not isinstance(raw, Mapping):
        c.add(p, "expected a mapping of policy team names to {group: NAME} / {group_id: ID} / {assignee: ID}")
        return {}
    out = {}
    for team, spec in raw.items():
        tp = p + (team,)
        if isinstance(spec, str):
            out[str(team)] = TeamTarget(group_name=spec)
            continue
        if not isinstance(spec, Mapping) or not spec:
            c.add(tp, "expected {group: NAME}, {group_id: ID} or {assignee: ID}")
            continue
        c.keys(spec, {"group", "group_id", "assignee"}, tp)
        gid = spec.get("group_id")
        out[str(team)] = TeamTarget(group=str(gid) if gid is not None else None, group_name=spec.get("group"),
                                    assignee=str(spec["assignee"]) if spec.get("assignee") is not None else None)
    return out


def _known_teams(teams: Mapping[str, TeamTarget], policy: Policy, c: _Checker, p: KeyPath) -> None:
    # A misspelt team used to be ignored while the real one fell back to a group
    # of its own name, so `check` passed and escalations went to the wrong group.
    known = sorted(policy.teams)
    for team in teams:
        if team not in known:
            hint = difflib.get_close_matches(team, known, n=1)
            more = f"did you mean {hint[0]}?" if hint else f"the policy's teams are: {', '.join(known)}"
            c.add(p + (team,), f"team '{team}' is not in policy '{policy.name}' ({more})")


def _instant(value: Any, c: _Checker, p: KeyPath) -> datetime | None:
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    try:
        dt = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
        return dt if dt.tzinfo else dt.replace(tzinfo=UTC)
    except ValueError:
        c.add(p, f"expected an ISO 8601 instant such as 2026-01-01T00:00:00Z, got {value!r}")
        return None
