"""Ticket exports for `tierlift simulate`: written by `tierlift export`, or a helpdesk's own.

Three shapes are read, detected by their keys:
- tierlift's own (`{"tierlift_export": 1, "tickets": [...]}`), written by `tierlift export`
  from the helpdesk through the daemon's own connector: each ticket as the daemon evaluates
  it, with its comments, its history (Zendesk audits, the Jira changelog), its organisation
  and requester, the tier moves the state journaled, and tierlift's own account (`me`). It
  is exactly what `simulate` reads, so simulate decides as the daemon does;
- a Zendesk incremental export (`{"tickets": [...]}` with sideloads): no comments, no audits;
- a Jira search result (`{"issues": [...]}`): comments when `fields=comment` was asked, the
  changelog only with `expand=changelog`.
What a helpdesk's own export lacks is said once (`Export.gaps`), never silently decided.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path
from typing import Any, TextIO

from tierlift.connectors.errors import TicketError
from tierlift.connectors.jira.mapping import comment_from_jira, ticket_from_jira
from tierlift.connectors.zendesk.mapping import ticket_from_zendesk
from tierlift.engine.model import Ticket
from tierlift.engine.serialize import ticket_from_dict, ticket_to_dict
from tierlift.engine.yamlsrc import InvalidFile, Problem
from tierlift.service.daemon.sourcefile import read_source

FORMAT_KEY = "tierlift_export"


@dataclass
class Export:
    tickets: list[Ticket]
    poison: list[tuple[str, str]] = field(default_factory=list)  # (id, reason) of items not read
    kind: str = ""  # zendesk | jira | tierlift
    me: str | None = None  # tierlift's own account, as the export or --me / --config named it
    no_comments: list[str] = field(default_factory=list)  # tickets carried without their comments
    no_history: list[str] = field(default_factory=list)  # tickets with comments but no audits/changelog


def read_export(path: Path, *, me: str | None = None, email: str | None = None) -> Export:
    """Tickets from an export file. `me` (an account id) or `email` (tierlift's login, looked
    up among the export's users and comment authors) names tierlift's own account, whose
    comments are never a tier's first response."""
    data = _load_json(path)
    if isinstance(data, dict) and data.get(FORMAT_KEY) and isinstance(data.get("tickets"), list):
        return _tierlift(data)
    if isinstance(data, dict) and isinstance(data.get("tickets"), list):
        return _zendesk_tickets(data, me or _zendesk_me(data, email))
    if isinstance(data, dict) and isinstance(data.get("issues"), list):
        return _jira_issues(data["issues"], me or _jira_me(data["issues"], email))
    raise InvalidFile([Problem(str(path), 1, "", 'expected an export written by `tierlift export`, a Zendesk export'
                                                  ' {"tickets": [...]} or a Jira search result {"issues": [...]}')])


def write_export(tickets: list[Ticket], out: TextIO, *, helpdesk: str, kind: str, me: str | None,
                 exported_at: datetime) -> None:
    out.write(json.dumps({FORMAT_KEY: 1, "helpdesk": helpdesk, "kind": kind, "me": me,
                          "exported_at": exported_at.isoformat(),
                          "tickets": [ticket_to_dict(t) for t in tickets]}, ensure_ascii=False, indent=1))
    out.write("\n")


def _load_json(path: Path) -> Any:
    try:
        return json.loads(read_source(path, "export", missing="file not found"))
    except json.JSONDecodeError as exc:
        raise InvalidFile([Problem(str(path), exc.lineno, "", f"invalid JSON: {exc.msg}")]) from None


def _tierlift(data: dict[str, Any]) -> Export:
    out = Export([], kind="tierlift", me=data.get("me"))
    for raw in data["tickets"]:
        try:
            out.tickets.append(ticket_from_dict(raw))
        except (KeyError, TypeError, ValueError, AttributeError) as exc:  # a comments: "abc" once escaped
            out.poison.append((str(raw.get("id") if isinstance(raw, dict) else "?"), f"unreadable: {exc!r}"))
    out.no_comments = [t.id for t in out.tickets if t.comments is None]
    return out


def _records(value: Any) -> list[dict[str, Any]]:
    """A side-load's records (`"users": 5` once stopped simulate with a TypeError)."""
    return [x for x in value if isinstance(x, dict)] if isinstance(value, list) else []


def _zendesk_me(data: dict[str, Any], email: str | None) -> str | None:
    if not email:
        return None
    found = [u.get("id") for u in _records(data.get("users"))
             if str(u.get("email") or "").lower() == email.lower()]
    return str(found[0]) if found and found[0] is not None else None


def _zendesk_tickets(data: dict[str, Any], me: str | None) -> Export:
    """A Zendesk export: tickets with their side-loaded organizations, metric sets and users."""
    orgs = {o.get("id"): o for o in _records(data.get("organizations"))}
    metrics = {m.get("ticket_id"): m for m in _records(data.get("metric_sets"))}
    users = {u.get("id"): u for u in _records(data.get("users"))}
    out = Export([], kind="zendesk", me=me)
    for raw in data["tickets"]:
        rid = raw.get("id") if isinstance(raw, dict) else None
        try:
            out.tickets.append(ticket_from_zendesk(raw, organizations=orgs, metric_set=metrics.get(rid), users=users,
                                                   me=me))
        except TicketError as exc:
            out.poison.append((str(rid), str(exc)))
    out.no_comments = [t.id for t in out.tickets if t.comments is None]
    return out


def _authors(issue: Any) -> list[dict[str, Any]]:
    f = issue.get("fields") if isinstance(issue, dict) else None
    block = f.get("comment") if isinstance(f, dict) else None
    comments = block.get("comments") if isinstance(block, dict) else None
    return [c["author"] for c in comments or () if isinstance(c, dict) and isinstance(c.get("author"), dict)]


def _jira_me(issues: list[Any], email: str | None) -> str | None:
    if not email:
        return None
    for author in (a for issue in issues for a in _authors(issue)):
        if str(author.get("emailAddress") or "").lower() == email.lower() and author.get("accountId"):
            return str(author["accountId"])
    return None


def _jira_issues(issues: list[Any], me: str | None) -> Export:
    """A Jira search result's issues. Without `expand=changelog` the connector's mapping
    leaves the comments out too (the daemon then reads the issue); here they are kept,
    with no history, and the tickets are listed in `no_history`."""
    out = Export([], kind="jira", me=me)
    for raw in issues:
        key = raw.get("key") if isinstance(raw, dict) else None
        try:
            ticket = ticket_from_jira(raw, me=me)
            if ticket.comments is None:
                ticket = _with_export_comments(ticket, raw, me)
        except TicketError as exc:
            out.poison.append((str(key), str(exc)))
            continue
        out.tickets.append(ticket)
        if ticket.comments is None:
            out.no_comments.append(ticket.id)
        elif ticket.history is None:
            out.no_history.append(ticket.id)
    return out


def _with_export_comments(ticket: Ticket, raw: dict[str, Any], me: str | None) -> Ticket:
    f = raw.get("fields") or {}
    block = f.get("comment")
    if not isinstance(block, dict) or not isinstance(block.get("comments"), list):
        return ticket
    if isinstance(block.get("total"), int) and block["total"] > len(block["comments"]):
        return ticket  # cut short: a partial thread would read as no reply
    reporter = (f.get("reporter") or {}).get("accountId") if isinstance(f.get("reporter"), dict) else None
    comments = tuple(comment_from_jira(c, ticket.id, reporter, me) for c in block["comments"])
    replies = [c.created_at for c in comments if c.public and c.by_agent and not c.automated]
    first = ticket.first_reply_at or (min(replies) if replies else None)
    return replace(ticket, comments=comments, history=None, first_reply_at=first)


def export_command(config_path: Path, *, helpdesk: str | None, ids: list[str], since: str | None,
                   out: TextIO) -> int:
    """`tierlift export`: the helpdesk's tickets as the daemon evaluates them (comments,
    history and the state's ledger loaded), in the file `simulate` reads."""
    import sys

    from tierlift.service.daemon.config import load_config
    from tierlift.service.daemon.connect import make_connector
    from tierlift.service.tools.clock import tool_now

    cfg = load_config(config_path)
    hd = _chosen(cfg, config_path, helpdesk)
    now = tool_now(cfg)
    start = _since(since, now)
    connector = make_connector(hd, None)
    connector.open()
    try:
        tickets, late = _tickets(connector, ids, start, [] if ids else _state_ids(cfg, hd.name))
        tickets = [connector.with_comments(t) for t in tickets]
        me = getattr(getattr(connector, "directory", None), "me", None)
    finally:
        connector.close()
    tickets = _with_state_ledger(cfg, hd.name, tickets)
    write_export(tickets, out, helpdesk=hd.name, kind=hd.kind, me=me, exported_at=now)
    told = f" ({late} changed in the last minute, which the helpdesk's export withholds, read one by one)" if late else ""
    print(f"exported {len(tickets)} ticket(s) of {hd.name} with their comments and history{told}", file=sys.stderr)
    missing = [i for i in dict.fromkeys(ids) if i not in {t.id for t in tickets}]
    if missing:  # `--ids abc,,-1` exported nothing and said nothing of it (exit 0)
        print(f"not found on {hd.name}: {', '.join(missing)}", file=sys.stderr)
    return 1 if ids and not tickets else 0


def _chosen(cfg: Any, config_path: Path, helpdesk: str | None) -> Any:
    """The entry named, or without --helpdesk the first live one (a shadow beside it reads
    the same tickets)."""
    chosen = [h for h in cfg.helpdesks if h.name == helpdesk] if helpdesk else \
        [h for h in cfg.helpdesks if not h.dry_run][:1] or cfg.helpdesks[:1]
    if not chosen:
        names = ", ".join(h.name for h in cfg.helpdesks)
        raise InvalidFile([Problem(str(config_path), None, "", f"--helpdesk: no helpdesk named {helpdesk!r} ({names})")])
    return chosen[0]


def _since(since: str | None, now: datetime) -> datetime | None:
    from tierlift.service.tools.report import parse_since

    try:
        return parse_since(since, now) if since else None
    except ValueError:
        raise InvalidFile([Problem("--since", None, "", f"expected a duration such as 7d or an ISO date, got {since!r}")]) from None


def _tickets(connector: Any, ids: list[str], start: datetime | None, known: list[str]) -> tuple[list[Ticket], int]:
    """The tickets to export, and how many of them the helpdesk's change stream left out.

    Zendesk's incremental export never returns the last minute's changes: right after a
    cycle, the tickets tierlift just wrote to were missing from the file, silently. The
    tickets the state knows (`known`) that the stream did not return are read by id."""
    if ids:
        found = connector.fetch(ids)
        return [found[i] for i in ids if i in found], 0
    out: dict[str, Ticket] = {}
    for page in connector.changes(None):
        for t in page.tickets:
            out[t.id] = t
    withheld = connector.fetch([i for i in known if i not in out])
    out.update(withheld)
    kept = [t for t in out.values() if start is None or t.updated_at >= start or t.created_at >= start]
    return kept, sum(1 for t in kept if t.id in withheld)


def _state_ids(cfg: Any, name: str) -> list[str]:
    """The tickets the daemon's state knows on helpdesk `name` (none without a state)."""
    from tierlift.service.daemon.state import open_store, state_exists

    if not state_exists(cfg):
        return []
    store = open_store(cfg, migrate=False)
    try:
        return [e.ticket_id for e in store.entries(name)]
    finally:
        store.close()


def _with_state_ledger(cfg: Any, name: str, tickets: list[Ticket]) -> list[Ticket]:
    """The tier moves the daemon's state journaled, as the daemon merges them before it decides."""
    from tierlift.service.daemon.state import open_store, state_exists

    if not state_exists(cfg):
        return tickets
    store = open_store(cfg, migrate=False)
    try:
        out = []
        for t in tickets:
            stored = store.ledger_moves(name, t.id)
            known = {m.escalation_id for m in stored}
            ledger = sorted([*stored, *(m for m in t.ledger if m.escalation_id not in known)], key=lambda m: m.at)
            out.append(replace(t, ledger=tuple(ledger)))
        return out
    finally:
        store.close()
