"""Reading an exported ticket file for `tierlift simulate`: Zendesk or Jira, detected."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tierlift.connectors.errors import TicketError
from tierlift.connectors.jira.mapping import ticket_from_jira
from tierlift.connectors.zendesk.mapping import ticket_from_zendesk
from tierlift.engine.model import Ticket
from tierlift.engine.yamlsrc import InvalidFile, Problem

Loaded = tuple[list[Ticket], list[tuple[str, str]]]


def read_export(path: Path) -> Loaded:
    """Tickets and (id, reason) for items that could not be read."""
    data = _load_json(path)
    if isinstance(data, dict) and isinstance(data.get("tickets"), list):
        return _zendesk_tickets(data)
    if isinstance(data, dict) and isinstance(data.get("issues"), list):
        return _jira_issues(data["issues"])
    raise InvalidFile([Problem(str(path), 1, "", 'expected a Zendesk export {"tickets": [...]} or a Jira search '
                                                  'result {"issues": [...]}')])


def _load_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InvalidFile([Problem(str(path), None, "", "file not found")]) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise InvalidFile([Problem(str(path), None, "", f"cannot read: {exc.__class__.__name__}")]) from None
    except json.JSONDecodeError as exc:
        raise InvalidFile([Problem(str(path), exc.lineno, "", f"invalid JSON: {exc.msg}")]) from None


def _zendesk_tickets(data: dict[str, Any]) -> Loaded:
    """A Zendesk export: tickets with their side-loaded organizations, metric sets and users."""
    orgs = {o.get("id"): o for o in data.get("organizations") or [] if isinstance(o, dict)}
    metrics = {m.get("ticket_id"): m for m in data.get("metric_sets") or [] if isinstance(m, dict)}
    users = {u.get("id"): u for u in data.get("users") or [] if isinstance(u, dict)}
    tickets: list[Ticket] = []
    poison: list[tuple[str, str]] = []
    for raw in data["tickets"]:
        rid = raw.get("id") if isinstance(raw, dict) else None
        try:
            tickets.append(ticket_from_zendesk(raw, organizations=orgs, metric_set=metrics.get(rid), users=users))
        except TicketError as exc:
            poison.append((str(rid), str(exc)))
    return tickets, poison


def _jira_issues(issues: list[Any]) -> Loaded:
    """A Jira search result's issues."""
    tickets: list[Ticket] = []
    poison: list[tuple[str, str]] = []
    for raw in issues:
        key = raw.get("key") if isinstance(raw, dict) else None
        try:
            tickets.append(ticket_from_jira(raw))
        except TicketError as exc:
            poison.append((str(key), str(exc)))
    return tickets, poison
