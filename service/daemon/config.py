"""tierlift.yaml: the helpdesks, their policies and credentials, state, channels.

Validated in full at start-up; every problem is reported as `FILE:LINE:
key.path: what was expected`, and nothing starts with a bad file. The schema
and every default are the typed models of `config_models.py` (pydantic; the
values and their messages in `config_values.py`); this module reads the file,
turns each validation error's location into its line through
`engine/yamlsrc.py` (the mapper of `engine/filemodel.py`, shared with the
policy packs), and builds the objects the daemon runs with. Secrets come
from the environment (`${ZENDESK_TOKEN}`) or a file (`token_file:
/run/credentials/tierlift/zendesk`), never inline: an inline credential is
refused, because config files end up in repositories and tickets. Resolved
secrets are `Secret` objects (redacted in every repr) and are registered with
`redact` so no log line or error can carry them. The environment is the `env`
passed in (the process's own only when none is).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from tierlift.connectors.base import Secret, TeamTarget
from tierlift.engine.filemodel import problems_of
from tierlift.engine.policy import Policy
from tierlift.engine.yamlsrc import InvalidFile, Positions, Problem, load
from tierlift.engine.yamlsrc import Path as KeyPath
from tierlift.service.daemon.config_models import (
    ConfigFile,
    HelpdeskOptions,
    JiraHelpdesk,
    JiraOptions,
    StateSection,
    TeamSpec,
    ZendeskHelpdesk,
    ZendeskOptions,
    _Channel,
)
from tierlift.service.daemon.config_values import Sources
from tierlift.service.daemon.sourcefile import read_source

KINDS = ("zendesk", "jira")


@dataclass
class ChannelConfig:
    name: str
    kind: str  # slack | pagerduty | webhook | log
    url: str | None = None
    secret: Secret | None = None  # PagerDuty routing key, webhook HMAC key, Slack webhook URL
    template: Mapping[str, str] | None = None
    customer_words: bool = True  # False: no words of the ticket in the message (notify.without_words)


def default_options(kind: str) -> HelpdeskOptions:
    """A helpdesk's settings when its entry sets none: the models' defaults."""
    if kind == "zendesk":
        return ZendeskOptions()
    if kind == "jira":
        return JiraOptions()
    raise ValueError(f"expected one of {', '.join(KINDS)}, got {kind!r}")


@dataclass(init=False)
class HelpdeskConfig:
    name: str
    kind: str
    url: str
    email: str
    token: Secret
    policy_ref: str
    policy: Policy  # not loaded (None) only under load_config(load_policies=False)
    dry_run: bool
    teams: dict[str, TeamTarget]
    options: HelpdeskOptions  # the kind's typed settings: page size, timeouts, go-live, Jira scope...
    index: int  # position in the file's helpdesks list, for messages
    lines: dict[str, int]  # key -> line in the file
    webhook_secret: Secret | None = None  # what the helpdesk signs webhooks with; None: webhooks off

    def __init__(self, name: str, kind: str, url: str, email: str, token: Secret, policy_ref: str, policy: Policy,
                 dry_run: bool, teams: dict[str, TeamTarget], options: HelpdeskOptions | None = None, index: int = 0,
                 lines: dict[str, int] | None = None):
        self.name, self.kind, self.url, self.email, self.token = name, kind, url, email, token
        self.policy_ref, self.policy, self.dry_run, self.teams = policy_ref, policy, dry_run, teams
        self.options = options if options is not None else default_options(kind)
        self.index = index
        self.lines = lines if lines is not None else {}

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
    log_format: str
    log_level: str
    http_listen: str | None  # "127.0.0.1:9464"; None = off
    journal_retention: timedelta
    # state: {url: postgresql://...}: the shared database of replicas (None: the SQLite file).
    state_url: str | None
    state_password: Secret | None
    lease_ttl: timedelta
    extra: dict[str, Any] = field(default_factory=dict)
    state_pool_size: int = 10  # PostgreSQL: connections the replica's helpdesks share
    shutdown_grace: timedelta = timedelta(seconds=8)  # not a key of the file
    webhooks_listen: str | None = None  # a port for webhooks apart from the probes; None: http.listen's
    webhooks_public_url: str | None = None


def load_config(path: Path, env: Mapping[str, str] | None = None, *, load_policies: bool = True,
                overrides: Mapping[str, object] | None = None, read_secrets: bool = True) -> Config:
    """Read and validate tierlift.yaml. Raises InvalidFile listing every problem.

    `overrides`: top-level keys the command line sets over the file's (`run --dry-run`
    is `dry_run: true`, which makes every helpdesk entry dry). `read_secrets=False`: the
    helpdesks' and channels' secrets are checked as written but not read (their Secrets are
    empty), for the commands that read only the state; the state's password is read."""
    from tierlift.service.daemon.policies import load_policy

    env = os.environ if env is None else env  # the only read of the process's environment
    data, pos = _read(path)
    channels = data.get("channels") if isinstance(data, Mapping) else None
    # No `channels:` at all defines none: a policy that pages is refused at start, as with a
    # section that lacks one (QA: `check` passed, and every page then failed at run time).
    defined = {} if isinstance(data, Mapping) and channels is None else channels
    src = Sources(env, path.resolve().parent, load_policy if load_policies else None,
                  frozenset(str(k) for k in defined) if isinstance(defined, Mapping) else None, read_secrets)
    problems = _duplicate_names(data, pos)
    try:
        model = ConfigFile.model_validate(data, context=src)
    except ValidationError as exc:
        raise InvalidFile(problems_of(exc, pos, ConfigFile) + problems) from None
    if problems:
        raise InvalidFile(problems)
    cfg = _config(model.model_copy(update=dict(overrides)) if overrides else model, path, src, pos)
    twins = _twin_writers(cfg.helpdesks, pos) + _shared_secrets(cfg.helpdesks, pos)
    if twins:
        raise InvalidFile(twins)
    return cfg


def _twin_writers(helpdesks: list[HelpdeskConfig], pos: Positions) -> list[Problem]:
    """Two live entries on one helpdesk (the same address, and for Jira the same scope)
    keep a state each, and each writes every escalation: the customer got two notices, the
    ticket two notes. One of them is meant as a shadow (`dry_run: true`)."""
    first: dict[tuple[str, str, str, str], HelpdeskConfig] = {}
    out: list[Problem] = []
    for hd in helpdesks:
        if hd.dry_run:
            continue
        scope = (str(getattr(hd.options, "project", "") or ""), str(getattr(hd.options, "jql", "") or ""))
        key = (hd.kind, hd.url.rstrip("/").lower(), *scope)
        if key in first:
            at = next((k for k in ("url", "subdomain") if k in hd.lines), "name")
            out.append(pos.problem(("helpdesks", hd.index, at),
                                   f"helpdesk '{hd.name}' is the same helpdesk as '{first[key].name}', and both are"
                                   " live: each would write every escalation (two notes, two customer notices);"
                                   " make one of them a shadow with dry_run: true"))
        else:
            first[key] = hd
    return out


def _shared_secrets(helpdesks: list[HelpdeskConfig], pos: Positions) -> list[Problem]:
    """A webhook secret that is the helpdesk's API token (QA, an integrator: it was taken): the
    token would sign every delivery, and anyone who may sign could call the API. The value is
    never shown. (One secret for several helpdesks is said by `check`, not refused.)"""
    out: list[Problem] = []
    for hd in helpdesks:
        # Unread (a command that reads the state only): both are empty, which proves nothing.
        if hd.webhook_secret is not None and hd.webhook_secret.reveal() and hd.webhook_secret.reveal() == hd.token.reveal():
            at = "webhook_secret_file" if "webhook_secret_file" in hd.lines else "webhook_secret"
            out.append(pos.problem(("helpdesks", hd.index, at), "the webhook secret is the helpdesk's API token: give"
                                   " webhooks a secret of their own (`openssl rand -hex 32`)"))
    return out


def _read(path: Path) -> tuple[Any, Positions]:
    return load(read_source(path, "configuration file", such_as="tierlift.yaml"), str(path))


def _duplicate_names(data: Any, pos: Positions) -> list[Problem]:
    helpdesks = data.get("helpdesks") if isinstance(data, Mapping) else None
    seen: dict[str, int] = {}
    out: list[Problem] = []
    for i, hd in enumerate(helpdesks if isinstance(helpdesks, list) else ()):
        name = hd.get("name") if isinstance(hd, Mapping) else None
        if not isinstance(name, str):
            continue
        if name in seen:
            out.append(pos.problem(("helpdesks", i, "name"),
                                   f"duplicate helpdesk name '{name}' (also at helpdesks[{seen[name]}])"))
        seen[name] = i
    return out


# --- from the models to what the daemon runs with ---------------------------------------------------
def _config(model: ConfigFile, path: Path, src: Sources, pos: Positions) -> Config:
    state = model.state or StateSection.model_construct()
    # The line of the key in use (an ancestor's when it is not written).
    extra: dict[str, Any] = {"state_line": pos.line(("state", "url" if state.database else "path")),
                             "http.listen_line": pos.line(("http", "listen")),
                             "webhooks.listen_line": pos.line(("webhooks", "listen"))}
    if model.clock is not None and model.clock.follow:
        extra["clock"] = model.clock.follow
        extra["clock_line"] = pos.line(("clock", "follow"))
    elif model.clock is not None:
        extra["clock_at"] = model.clock.at
    return Config(
        source=path,
        helpdesks=[_helpdesk(hd, i, model.dry_run, pos) for i, hd in enumerate(model.helpdesks)],
        state_path=state.file(src), poll_interval=model.poll_interval, dry_run=model.dry_run,
        channels={name: _channel(name, ch) for name, ch in model.channels.items()},
        log_format=model.log.format, log_level=model.log.level,
        http_listen=model.http.listen if model.http is not None else None,
        journal_retention=model.journal_retention, state_url=state.database,
        state_password=state.resolved("password"), lease_ttl=state.lease_ttl, extra=extra,
        webhooks_listen=model.webhooks.listen if model.webhooks is not None else None,
        webhooks_public_url=model.webhooks.public_url if model.webhooks is not None else None,
        state_pool_size=state.pool_size)


def _helpdesk(hd: ZendeskHelpdesk | JiraHelpdesk, i: int, global_dry: bool, pos: Positions) -> HelpdeskConfig:
    p: KeyPath = ("helpdesks", i)
    # Only keys written in this helpdesk's entry: `line()` would fall back to
    # the entry's own line and make every key look present.
    lines = {k: ln for k in ("token", "token_file", "url", "subdomain", "teams", "team_field", "policy", "fields")
             if (ln := pos.lines.get(p + (k,))) is not None}
    lines["name"] = pos.line(p) or 0
    for team in hd.teams:  # `check` names the line of the one team that does not map
        if (ln := pos.lines.get(p + ("teams", team))) is not None:
            lines[f"teams.{team}"] = ln
    for name in hd.fields or {}:  # ... and of a field name the policy does not read
        if (ln := pos.lines.get(p + ("fields", name))) is not None:
            lines[f"fields.{name}"] = ln
    options_type = ZendeskOptions if isinstance(hd, ZendeskHelpdesk) else JiraOptions
    options = options_type.model_construct(**{k: getattr(hd, k) for k in options_type.model_fields})
    token = hd.resolved("token")
    assert token is not None  # required: validation refused the entry without one
    out = HelpdeskConfig(hd.name, hd.kind, hd.address(), hd.email, token, hd.policy.ref,
                         hd.policy.policy,  # type: ignore[arg-type]  # None only when policies are not loaded
                         bool(hd.dry_run) or global_dry, {team: _team(spec) for team, spec in hd.teams.items()},
                         options, i, lines)
    out.webhook_secret = hd.resolved("webhook_secret")
    return out


def _team(spec: TeamSpec) -> TeamTarget:
    return TeamTarget(group=spec.group_id, group_name=spec.group, assignee=spec.assignee)


def _channel(name: str, ch: _Channel) -> ChannelConfig:
    return ChannelConfig(name, ch.kind, getattr(ch, "url", None), ch.key, ch.template,  # type: ignore[attr-defined]
                         ch.customer_words)
