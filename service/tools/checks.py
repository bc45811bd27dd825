"""`tierlift check --config`: everything offline first, then (unless --offline)
prove each helpdesk answers with its credentials and every policy team maps.

Exit 2 is what the file or the helpdesk's account makes wrong (README: bad configuration);
a webhook or trigger set up at the helpdesk that differs from what tierlift expects is a
difference, exit 1, as `tierlift webhooks check` says it (docs/webhooks.md): a CI gate read
webhook drift as a broken configuration (QA)."""

from __future__ import annotations

import difflib
import io
import re
import sys
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TextIO
from urllib.parse import urlsplit

from tierlift.connectors.base import CUSTOMER_FIELDS, NullObserver
from tierlift.connectors.errors import AuthError, NotTheHelpdesk, RetriableError, TierliftError
from tierlift.connectors.jira.mapping import FIELD_DEFAULTS
from tierlift.service.daemon.config import Config, HelpdeskConfig, load_config
from tierlift.service.daemon.config_models import HelpdeskOptions
from tierlift.service.ops.redact import mask_url_password, redact

EXIT_OK, EXIT_DIFFERS, EXIT_BAD = 0, 1, 2


def check_config(path: Path, *, offline: bool, out: TextIO) -> int:
    cfg = load_config(path)  # raises InvalidFile: printed as FILE:LINE: key by the CLI
    _describe(cfg, path, out)
    named = _field_names_ok(cfg, path, out)
    if offline:
        out.write("offline: helpdesks not contacted\n")
        return EXIT_OK if _triage_models_ok(cfg, path, out, offline=True) and named else EXIT_BAD
    failed = not _state_ok(cfg, path, out) or not named
    failed = not _clock_ok(cfg, out) or failed
    failed = not _triage_models_ok(cfg, path, out, offline=False) or failed
    differs = False  # a webhook set up at a helpdesk differs from what tierlift expects
    for bad, drift in _helpdesks_ok(cfg, path, out):
        failed, differs = failed or bad, differs or drift
    return EXIT_BAD if failed else EXIT_DIFFERS if differs else EXIT_OK


CHECKS_AT_ONCE = 8  # helpdesks asked at once: a slow or silent one no longer holds up the rest


def _helpdesks_ok(cfg: Config, path: Path, out: TextIO) -> Iterator[tuple[bool, bool]]:
    """Each helpdesk asked, several at once, its lines written in the file's order as soon as it
    and those before it are done. One after the other, a config of forty client helpdesks with
    three not answering took their three timeouts and retries before the rest were asked (issue
    25, QA of a multi-tenant operator)."""
    if len(cfg.helpdesks) == 1:
        yield _helpdesk_ok(cfg, path, cfg.helpdesks[0], out)
        return

    with ThreadPoolExecutor(max_workers=min(CHECKS_AT_ONCE, len(cfg.helpdesks)), thread_name_prefix="check") as pool:
        futures = [pool.submit(_asked, cfg, path, hd) for hd in cfg.helpdesks]
        for future in futures:
            said, result = future.result()
            out.write(said)
            out.flush()
            yield result


def _asked(cfg: Config, path: Path, hd: HelpdeskConfig) -> tuple[str, tuple[bool, bool]]:
    """One helpdesk's check, its lines kept for their turn."""
    said = io.StringIO()
    result = _helpdesk_ok(cfg, path, hd, said)
    return said.getvalue(), result


# `fields:` names a connector reads itself, whatever the policy: the customer's organization.
CONNECTOR_FIELDS = (*CUSTOMER_FIELDS, "organization")


def _field_names_ok(cfg: Config, path: Path, out: TextIO) -> bool:
    """Each `fields:` name against the custom fields its policy reads. A name no condition
    reads, close to one the policy reads and `fields:` leaves unmapped, is a typo: the
    conditions on that field never see a value (QA: `refund_amont` passed check, and the
    refund rule never fired from the field). Another name nothing reads, or a field the
    policy reads and nothing maps, is said, not failed."""
    ok = True
    for hd in cfg.helpdesks:
        mapped = dict(getattr(hd.options, "fields", None) or {})
        read = hd.policy.custom_fields_read
        # Jira reads its default custom field ids for the customer's fields and refunds.
        unmapped = sorted(read - mapped.keys() - (FIELD_DEFAULTS.keys() if hd.kind == "jira" else set()))
        for name in mapped:
            if name in read or name in CONNECTOR_FIELDS:
                continue
            where = f"{path}:{hd.lines.get(f'fields.{name}', hd.lines.get('fields', hd.lines['name']))}"
            near = difflib.get_close_matches(name, unmapped, n=1)
            if near:
                ok = False
                out.write(f"{where}: helpdesks[{hd.index}].fields.{name}: the policy reads no field '{name}'"
                          f" (did you mean '{near[0]}'? it reads {', '.join(sorted(read))})\n")
            else:
                out.write(f"  {hd.name}: fields.{name} is read by no condition of the policy"
                          f" ({_reads(read)}; the connector reads {', '.join(CONNECTOR_FIELDS)})\n")
        for name in unmapped:
            if not any(difflib.get_close_matches(name, [m], n=1) for m in mapped):
                out.write(f"  {hd.name}: the policy reads the custom field '{name}', which `fields:` does not map:"
                          " its conditions on it never hold\n")
    return ok


def _reads(read: frozenset[str]) -> str:
    return f"it reads {', '.join(sorted(read))}" if read else "it reads no custom field"


class _SaysRetries:
    """What `make_connector` asks of the metrics: an observer per helpdesk. Check's says each
    retry on stderr as it starts: a helpdesk that accepts and never answers left check silent
    for two and a half minutes (5 tries of 30 s) before "did not answer" (QA, a new adopter)."""

    def observer(self, name: str) -> _RetrySaid:
        return _RetrySaid(name)


class _RetrySaid(NullObserver):
    """Counts nothing (the null observer's), says each retry."""

    def __init__(self, name: str) -> None:
        self.name = name

    def retry_started(self, seconds: float, why: str) -> None:
        print(f"  {self.name}: no answer yet ({redact(why)}); trying again in {seconds:.0f} s", file=sys.stderr,
              flush=True)


def _clock_ok(cfg: Config, out: TextIO) -> bool:
    """`clock: {follow: URL}` answers: a sandbox not started (or another port) passed check,
    then plan and run ended in a raw connection error (QA, a new adopter)."""
    from tierlift.engine.yamlsrc import InvalidFile
    from tierlift.service.daemon.clock import make_clock

    if not cfg.extra.get("clock"):
        return True
    try:
        make_clock(cfg)
    except InvalidFile as exc:
        out.write("".join(f"{p}\n" for p in exc.problems))
        return False
    return True


def _helpdesk_ok(cfg: Config, path: Path, hd: HelpdeskConfig, out: TextIO) -> tuple[bool, bool]:
    """One helpdesk asked: (something is wrong, a webhook set up there differs)."""
    from tierlift.service.daemon.connect import make_connector

    try:
        connector = make_connector(hd, _SaysRetries())  # type: ignore[arg-type]  # an observer's maker
        connector.open()
        problems = connector.check_teams(hd.policy.teams)
        caveats = list(connector.team_caveats)
        field_problems = connector.check_fields()
        # Jira: a customer's account, a project the site does not have ((key, why) pairs).
        account = list(getattr(connector, "check_account", list)())
        site_notes = list(connector.site_notes)
        connector.close()
    except AuthError as exc:
        key = "token_file" if "token_file" in hd.lines else "token"
        out.write(f"{path}:{hd.lines.get(key, hd.lines['name'])}: helpdesks[{hd.index}].{key}: the helpdesk refused"
                  f" these credentials ({redact(str(exc))})\n")
        return True, False
    except (RetriableError, TierliftError, OSError) as exc:
        key = "url" if "url" in hd.lines else "subdomain"
        # QA: a server that answered 404 (not the helpdesk) was said "did not answer".
        said = redact(str(exc)) if isinstance(exc, NotTheHelpdesk) else f"the helpdesk did not answer ({redact(str(exc))})"
        out.write(f"{path}:{hd.lines.get(key, hd.lines['name'])}: helpdesks[{hd.index}].{key}: {said}\n")
        return True, False
    failed = not _fields_ok(path, hd, field_problems, out)
    if not _account_ok(path, hd, account, out):
        return True, False  # the credentials or the scope are wrong: nothing more to say of this helpdesk
    failed = not _teams_ok(path, hd, problems, caveats, out) or failed
    failed = not _site_ok(hd, site_notes, out) or failed
    return failed, not _webhooks_ok(cfg, hd, out)


def _describe(cfg: Config, path: Path, out: TextIO) -> None:
    """What the file holds, as read: its helpdesks, state and poll interval."""
    out.write(f"{path}: valid ({len(cfg.helpdesks)} helpdesk{'s' if len(cfg.helpdesks) != 1 else ''},"
              f" state {_state(cfg)}, poll every {int(cfg.poll_interval.total_seconds())}s)\n")
    for hd in cfg.helpdesks:
        mode = "dry-run" if hd.dry_run else "live"
        out.write(f"  {hd.name}: {hd.kind} at {hd.url}, policy {hd.policy.name}, {mode}, token from {hd.token.source}\n")
        out.write(f"    {_go_live(hd.options)}\n")
        twin = next((o.name for o in cfg.helpdesks[:hd.index] if not hd.dry_run and not o.dry_run and o.webhook_secret
                     and hd.webhook_secret and hd.webhook_secret.reveal()
                     and o.webhook_secret.reveal() == hd.webhook_secret.reveal()), None)
        if twin is not None:  # QA (an integrator): the signature does not cover the address
            out.write(f"    webhook secret: the same as {twin}'s: a delivery signed for one is taken by the other"
                      " (a read, never a write); give each its own\n")
        if hd.kind == "jira" and hd.policy.first_response_by == "tier_team":
            # QA (a support lead): the pack's setting was silently without effect on Jira.
            out.write("    first_response_by: tier_team has no effect here: Jira does not say a comment"
                      " author's team, so any agent's public reply counts\n")


def _state(cfg: Config) -> str:
    """The state really used: the SQLite file, or the PostgreSQL database without credentials
    (`state_path` is the SQLite default even when state.url is set)."""
    if not cfg.state_url:
        return str(cfg.state_path)
    parts = urlsplit(mask_url_password(cfg.state_url))  # a '/' in a password no longer ends the host
    host = parts.netloc.rpartition("@")[2]  # user:password@ left out, whatever it holds
    return redact(f"PostgreSQL {parts.scheme}://{host}{parts.path}")


def _state_ok(cfg: Config, path: Path, out: TextIO) -> bool:
    """PostgreSQL: the state database answers and takes writes, as the daemon needs before it
    reads any helpdesk. Unchecked, `check` said "credentials accepted" (exit 0) for a database
    on a closed port, and the daemon then waited for it for ever (QA)."""
    if not cfg.state_url:
        return True  # the SQLite file: its directory was checked when the file was read
    from tierlift.service.daemon.state import state_check
    from tierlift.service.daemon.store.base import StateError

    probe = state_check(cfg)
    try:
        probe()
    except StateError as exc:
        where = f"{path}:{cfg.extra.get('state_line')}" if cfg.extra.get("state_line") else str(path)
        out.write(f"{where}: state.url: the state database cannot be used ({redact(str(exc))})\n")
        return False
    finally:
        getattr(probe, "close", lambda: None)()
    out.write(f"  state: {_state(cfg)} answers and takes writes\n")
    return True


def _triage_models_ok(cfg: Config, path: Path, out: TextIO, *, offline: bool) -> bool:
    """Each entry's `triage_model` names a refit the state holds, as the daemon needs before
    any cycle of that entry (QA: `check` passed one never learnt, and the daemon then failed
    every cycle of it). Offline, a PostgreSQL state is not contacted."""
    from tierlift.service.daemon.state import open_store, state_exists
    from tierlift.service.daemon.store.base import StateError
    from tierlift.service.daemon.triage import UnknownTriageModel, chosen_model, uses_triage

    named = [hd for hd in cfg.helpdesks if hd.options.triage_model not in ("accepted", "shipped")
             and uses_triage(hd.policy)]
    if not named or (offline and cfg.state_url):
        return True
    try:
        store = open_store(cfg, migrate=False) if state_exists(cfg) else None
    except StateError:
        return True  # the state's own problem is the daemon's (and _state_ok's) to tell
    ok = True
    try:
        for hd in named:
            try:
                if store is None:
                    raise UnknownTriageModel(f"triage_model {hd.options.triage_model!r}: no refit learnt yet (no"
                                             f" state at {cfg.state_path}; `tierlift triage learn` makes one)")
                chosen_model(store, hd.name, hd.options.triage_model)
            except UnknownTriageModel as exc:
                out.write(f"{path}:{_line(path, hd, 'triage_model')}: helpdesks[{hd.index}].triage_model: {exc}\n")
                ok = False
    finally:
        if store is not None:
            store.close()
    return ok


def _teams_ok(path: Path, hd: HelpdeskConfig, problems: list[str], caveats: list[str], out: TextIO) -> bool:
    """Each team's problem at its FILE:LINE, or that all map; then what could not be proven."""
    for p in problems:
        out.write(f"{_team_where(path, hd, p)}: {redact(p)}\n")
    if not problems and caveats:
        out.write(f"  {hd.name}: credentials accepted; the {len(hd.policy.teams)} policy teams are not proven:\n")
    elif not problems:
        out.write(f"  {hd.name}: credentials accepted; all {len(hd.policy.teams)} policy teams map to the helpdesk\n")
    for c in caveats:
        out.write(f"    {redact(c)}\n")
    return not problems


def _site_ok(hd: HelpdeskConfig, notes: list[str], out: TextIO) -> bool:
    """How the site is read (a Jira account's time zone); False when a note is a problem."""
    for note in notes:
        out.write(f"  {hd.name}: {redact(note)}\n")
    return not any(note.startswith("problem:") for note in notes)


def _webhooks_ok(cfg: Config, hd: HelpdeskConfig, out: TextIO) -> bool:
    """With a webhook secret and webhooks.public_url: the helpdesk's webhook (and trigger) call it.
    False (exit 1, as `webhooks check`) when one is missing or differs, or could not be looked up."""
    if hd.webhook_secret is None or not cfg.webhooks_public_url:
        return True
    from tierlift.service.tools.webhooks import check

    try:
        outcome = check(hd, cfg.webhooks_public_url)
    except Exception as exc:  # the helpdesk refused the look-up: say so, do not crash the check
        out.write(f"  {hd.name}: webhooks not verified ({redact(str(exc))})\n")
        return False
    for line in outcome.lines:
        out.write(f"  {hd.name}: {line}\n")
    if not outcome.ok:
        out.write(f"  {hd.name}: run `tierlift webhooks setup --config {cfg.source}` to create or repair them\n")
    return outcome.ok


def _fields_ok(path: Path, hd: HelpdeskConfig, problems: list[str], out: TextIO) -> bool:
    """Each `fields:` entry the helpdesk does not have, at the `fields` key's FILE:LINE."""
    for fp in problems:
        out.write(f"{path}:{hd.lines.get('fields', hd.lines['name'])}: helpdesks[{hd.index}].fields: {redact(fp)}\n")
    return not problems


def _account_ok(path: Path, hd: HelpdeskConfig, problems: list[tuple[str, str]], out: TextIO) -> bool:
    """Each (key, why) the connector refuses about its account or scope, at the key's FILE:LINE."""
    for key, problem in problems:
        out.write(f"{path}:{_line(path, hd, key)}: helpdesks[{hd.index}].{key}: {redact(problem)}\n")
    return not problems


def _line(path: Path, hd: HelpdeskConfig, key: str) -> int:
    """The line of the helpdesk's `key` in the file (its entry's line when it is not written)."""
    if key in hd.lines:
        return hd.lines[key]
    from tierlift.engine.yamlsrc import load

    try:
        _, positions = load(path.read_text(encoding="utf-8"), str(path))
    except (OSError, ValueError):
        return hd.lines["name"]
    return positions.lines.get(("helpdesks", hd.index, key), hd.lines["name"])


def _team_where(path: Path, hd: Any, problem: str) -> str:
    """FILE:LINE: key.path of the team a problem names: its own entry under `teams:` when it
    has one, else the `teams:` key, else the helpdesk's `policy:` (the team comes from it)."""
    if problem.startswith("team field") and "team_field" in hd.lines:
        return f"{path}:{hd.lines['team_field']}: helpdesks[{hd.index}].team_field"
    m = re.match(r"team '([^']+)'", problem)
    team = m[1] if m else None
    if team and f"teams.{team}" in hd.lines:
        return f"{path}:{hd.lines[f'teams.{team}']}: helpdesks[{hd.index}].teams.{team}"
    line = hd.lines.get("teams", hd.lines.get("policy", hd.lines["name"]))
    return f"{path}:{line}: helpdesks[{hd.index}].teams"


def _go_live(options: HelpdeskOptions) -> str:
    """What the first sync and a wave of escalations do to customers (issue 14.11)."""
    if options.first_sync == "quiet":
        first = ("first sync quiet: tickets already past a threshold get the note, tags and group, no customer"
                 " reply and no page (first_sync: full sends them)")
    else:
        first = "first sync full: tickets already past a threshold get customer replies and pages"
    cap = options.max_public_replies_per_cycle
    return first + (f"; at most {cap} customer replies a cycle, the rest next cycle" if cap else "; no reply cap")
