"""Jira issue JSON (as /rest/api/{2,3}/search/jql returns it) -> engine Ticket.

Labels are the tags. Status maps by its category (new / indeterminate /
done), with "waiting for customer"-like names as pending; the changelog
gives the status history, so pauses are exact. The customer's plan, ARR and
health score live in custom fields (configurable; FIELD_DEFAULTS are the
sandbox's). Descriptions and comments may be plain text (v2) or Atlassian
Document Format (v3); both are read as text.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from types import MappingProxyType
from typing import Any

from tierlift.connectors.base import checked_text
from tierlift.connectors.errors import TicketError
from tierlift.engine.model import Comment, Organization, StatusChange, Ticket

FIELD_DEFAULTS = {"plan": "customfield_10050", "arr": "customfield_10051", "health_score": "customfield_10052",
                  "organization": "customfield_10053", "refund_amount": "customfield_10054",
                  "primary_contact": "customfield_10055"}
PAUSE_NAMES = ("waiting for customer", "pending", "on hold", "waiting for support")
PRIORITIES = {"highest": "urgent", "high": "high", "medium": "normal", "low": "low", "lowest": "low"}


def jira_time(value: Any, key: str, name: str, required: bool = True) -> datetime | None:
    if value in (None, ""):
        if required:
            raise TicketError(f"issue {key}: {name} is missing", ticket_id=key)
        return None
    if not isinstance(value, str):
        raise TicketError(f"issue {key}: {name} is not a date", ticket_id=key)
    for fmt in ("%Y-%m-%dT%H:%M:%S.%f%z", "%Y-%m-%dT%H:%M:%S%z"):
        try:
            return datetime.strptime(value, fmt).astimezone(UTC)
        except ValueError:
            continue
    try:
        dt = datetime.fromisoformat(value.replace("Z", "+00:00"))
        return (dt if dt.tzinfo else dt.replace(tzinfo=UTC)).astimezone(UTC)
    except ValueError:
        raise TicketError(f"issue {key}: {name} is not a date: {value[:40]!r}", ticket_id=key) from None


def text_of(value: Any) -> str:
    """Plain text from a string or an ADF document."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    out: list[str] = []

    def walk(node: Any) -> None:
        if isinstance(node, Mapping):
            if node.get("type") == "text" and isinstance(node.get("text"), str):
                out.append(node["text"])
            for child in node.get("content") or []:
                walk(child)
        elif isinstance(node, list):
            for child in node:
                walk(child)

    walk(value)
    return "\n".join(out)


def _status(f: Mapping[str, Any], key: str, status_map: Mapping[str, str]) -> str:
    st = f.get("status")
    if not isinstance(st, Mapping) or not st.get("name"):
        raise TicketError(f"issue {key}: status is missing", ticket_id=key)
    name = str(st["name"])
    if name in status_map:
        return status_map[name]
    if name.lower() in PAUSE_NAMES:
        return "pending"
    cat = (st.get("statusCategory") or {}).get("key")
    mapped = {"new": "new", "indeterminate": "open", "done": "solved"}.get(cat)
    if mapped is None:
        raise TicketError(f"issue {key}: unknown status {name!r} (category {cat!r})", ticket_id=key)
    return mapped


def _num(v: Any) -> float | None:
    if isinstance(v, bool) or v is None:
        return None
    if isinstance(v, int | float):
        return float(v)
    try:
        return float(str(v).replace("$", "").replace(",", ""))
    except ValueError:
        return None


def ticket_from_jira(raw: Mapping[str, Any], fields_map: Mapping[str, str] | None = None,
                     status_map: Mapping[str, str] | None = None) -> Ticket:
    if not isinstance(raw, Mapping):
        raise TicketError("an issue in the page is not an object", ticket_id="?")
    key = raw.get("key")
    if not isinstance(key, str) or not key:
        raise TicketError(f"issue {str(key)[:40]!r}: key is missing", ticket_id=str(key)[:40])
    f = raw.get("fields")
    if not isinstance(f, Mapping):
        raise TicketError(f"issue {key}: fields are missing", ticket_id=key)
    fm = {**FIELD_DEFAULTS, **(fields_map or {})}
    status = _status(f, key, status_map or {})
    created = jira_time(f.get("created"), key, "created")
    updated = jira_time(f.get("updated"), key, "updated")
    assert created and updated
    labels = f.get("labels") or []
    if not isinstance(labels, list) or not all(isinstance(x, str) for x in labels):
        raise TicketError(f"issue {key}: labels is not a list of strings", ticket_id=key)
    prio = (f.get("priority") or {}).get("name") if isinstance(f.get("priority"), Mapping) else None
    plan = f.get(fm["plan"])
    if isinstance(plan, Mapping):
        plan = plan.get("value")
    org_name = f.get(fm["organization"])
    org = None
    if org_name or plan:
        org = Organization(str(org_name or "unknown"), str(org_name or ""), str(plan).lower() if plan else None,
                           _num(f.get(fm["arr"])), _num(f.get(fm["health_score"])),
                           str(f.get(fm["primary_contact"])) if f.get(fm["primary_contact"]) else None)
    history = [StatusChange(created, "new")]
    for h in ((raw.get("changelog") or {}).get("histories") or []) if isinstance(raw.get("changelog"), Mapping) else []:
        for item in h.get("items") or []:
            if item.get("field") == "status" and item.get("toString"):
                at = jira_time(h.get("created"), key, "changelog created", required=False)
                name = str(item["toString"]).lower()
                st = "pending" if name in PAUSE_NAMES else "solved" if name in ("resolved", "closed", "done") else "open"
                if at and at > created:
                    history.append(StatusChange(at, st))
    comment_block = f.get("comment")
    comments = None
    first_reply = None
    if isinstance(comment_block, Mapping):
        reporter = ((f.get("reporter") or {}) if isinstance(f.get("reporter"), Mapping) else {}).get("accountId")
        comments = tuple(comment_from_jira(c, key, reporter) for c in comment_block.get("comments") or [])
        replies = [c.created_at for c in comments if c.public and c.by_agent]
        first_reply = min(replies) if replies else None
    solved_at = jira_time(f.get("resolutiondate"), key, "resolutiondate", required=False)
    reporter = f.get("reporter") if isinstance(f.get("reporter"), Mapping) else {}
    return Ticket(
        id=key, subject=checked_text(text_of(f.get("summary")), key, "summary"),
        description=checked_text(text_of(f.get("description")), key, "description"), status=status,
        created_at=created, updated_at=updated, version=str(f.get("updated")),
        priority=PRIORITIES.get(str(prio).lower()) if prio else None,
        tags=frozenset(x.lower() for x in labels),
        group=None, assignee=((f.get("assignee") or {}) if isinstance(f.get("assignee"), Mapping) else {}).get("accountId"),
        requester=(reporter or {}).get("emailAddress"), organization=org,
        custom_fields=MappingProxyType({"refund_amount": f.get(fm["refund_amount"])}),
        fields=MappingProxyType({"jira_id": raw.get("id")}), comments=comments, first_reply_at=first_reply,
        status_history=tuple(sorted(history, key=lambda s: s.at)), solved_at=solved_at if status == "solved" else None,
    )


def comment_from_jira(raw: Mapping[str, Any], key: str, reporter: Any = None) -> Comment:
    author = raw.get("author") if isinstance(raw.get("author"), Mapping) else {}
    public = raw.get("jsdPublic", True)
    for prop in raw.get("properties") or []:
        if isinstance(prop, Mapping) and prop.get("key") == "sd.public.comment" and (prop.get("value") or {}).get("internal"):
            public = False
    return Comment(author=(author or {}).get("accountId"), body=text_of(raw.get("body")), public=bool(public),
                   created_at=jira_time(raw.get("created"), key, "comment created") or datetime.now(UTC),
                   by_agent=(author or {}).get("accountId") != reporter)
