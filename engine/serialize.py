"""Tickets to and from plain JSON-able dicts.

The service keeps each open ticket's last snapshot in its index so that a
wake-up (a ticket whose SLA threshold passes while nothing changes) costs no
API request: the snapshot is evaluated again at the new `now`.
"""

from __future__ import annotations

from datetime import datetime
from types import MappingProxyType
from typing import Any

from tierlift.engine.model import Change, Comment, Organization, StatusChange, Ticket, TierMove


def _t(dt: datetime | None) -> str | None:
    return dt.isoformat() if dt else None


def _p(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text) if text else None


def _at(text: str) -> datetime:
    """A time the snapshot always has (creation, a comment's, a change's)."""
    return datetime.fromisoformat(text)


def _jsonable(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, dict | MappingProxyType):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [_jsonable(v) for v in value]
    return value


def _change_to_dict(c: Change) -> dict[str, Any]:
    return {"at": _t(c.at), "author": c.author, "field": c.field, "before": c.before, "after": c.after,
            "added": list(c.added), "removed": list(c.removed), "automated": c.automated}


def _change_from_dict(d: dict[str, Any]) -> Change:
    return Change(_at(d["at"]), d.get("author"), d["field"], d.get("before"), d.get("after"),
                  tuple(d.get("added") or ()), tuple(d.get("removed") or ()), bool(d.get("automated", False)))


def _move_from_list(m: list[Any]) -> TierMove:
    """A ledger row; older snapshots have 5 fields (no actor, not human)."""
    at, frm, to, rule, eid = m[:5]
    actor = m[5] if len(m) > 5 else None
    human = bool(m[6]) if len(m) > 6 else False
    return TierMove(_at(at), frm, to, rule, eid, actor, human)


def ticket_to_dict(t: Ticket, *, with_comments: bool = True) -> dict[str, Any]:
    org = t.organization
    return {
        "id": t.id,
        "subject": t.subject,
        "description": t.description,
        "status": t.status,
        "created_at": _t(t.created_at),
        "updated_at": _t(t.updated_at),
        "version": t.version,
        "priority": t.priority,
        "tags": sorted(t.tags),
        "group": t.group,
        "assignee": t.assignee,
        "team": t.team,
        "requester": t.requester,
        "organization": None if org is None else {
            "id": org.id, "name": org.name, "plan": org.plan, "arr": org.arr,
            "health_score": org.health_score, "primary_contact": org.primary_contact,
            "attributes": _jsonable(org.attributes),
        },
        "custom_fields": _jsonable(t.custom_fields),
        "fields": {k: v for k, v in _jsonable(t.fields).items() if k != "tier_since"},
        "tier_since": _t(t.fields.get("tier_since")) if isinstance(t.fields.get("tier_since"), datetime) else None,
        "comments": None if t.comments is None or not with_comments else [
            {"author": c.author, "body": c.body, "public": c.public, "created_at": _t(c.created_at),
             "by_agent": c.by_agent, "automated": c.automated, **({"team": c.team} if c.team else {})}
            for c in t.comments
        ],
        "history": None if t.history is None or not with_comments else [_change_to_dict(c) for c in t.history],
        "first_reply_at": _t(t.first_reply_at),
        "status_history": [[_t(s.at), s.status] for s in t.status_history],
        "ledger": [[_t(m.at), m.from_tier, m.to_tier, m.rule, m.escalation_id, m.actor, m.human] for m in t.ledger],
        "reopens": t.reopens,
        "solved_at": _t(t.solved_at),
    }


def _tags(value: Any) -> frozenset[str]:
    """A ticket's tags: a list of texts ("abc" once read as the tags a, b and c)."""
    if value is None:
        return frozenset()
    if not isinstance(value, list | tuple) or not all(isinstance(t, str) for t in value):
        raise ValueError(f"tags: expected a list of texts, got {type(value).__name__}")
    return frozenset(value)


def ticket_from_dict(d: dict[str, Any]) -> Ticket:
    return Ticket(
        id=str(d["id"]),
        subject=d.get("subject") or "",
        description=d.get("description") or "",
        status=d["status"],
        created_at=_at(d["created_at"]),
        updated_at=_at(d["updated_at"]),
        version=d.get("version") or "",
        priority=d.get("priority"),
        tags=_tags(d.get("tags")),
        group=d.get("group"),
        assignee=d.get("assignee"),
        team=d.get("team"),
        requester=d.get("requester"),
        organization=_org_from_dict(d.get("organization")),
        custom_fields=MappingProxyType(dict(d.get("custom_fields") or {})),
        fields=_fields_from_dict(d),
        comments=None if d.get("comments") is None else tuple(_comment_from_dict(c) for c in d["comments"]),
        history=None if d.get("history") is None else tuple(_change_from_dict(c) for c in d["history"]),
        first_reply_at=_p(d.get("first_reply_at")),
        status_history=tuple(StatusChange(_at(at), st) for at, st in d.get("status_history") or ()),
        ledger=tuple(_move_from_list(m) for m in d.get("ledger") or ()),
        reopens=int(d.get("reopens") or 0),
        solved_at=_p(d.get("solved_at")),
    )


def _org_from_dict(org: dict[str, Any] | None) -> Organization | None:
    if not org:
        return None
    return Organization(
        id=str(org["id"]), name=org.get("name") or "", plan=org.get("plan"), arr=org.get("arr"),
        health_score=org.get("health_score"), primary_contact=org.get("primary_contact"),
        attributes=MappingProxyType(dict(org.get("attributes") or {})))


def _fields_from_dict(d: dict[str, Any]) -> MappingProxyType[str, Any]:
    """The ticket's fields; `tier_since` is stored apart as an ISO time and read back as a datetime."""
    fields = dict(d.get("fields") or {})
    if d.get("tier_since"):
        fields["tier_since"] = _p(d["tier_since"])
    return MappingProxyType(fields)


def _comment_from_dict(c: dict[str, Any]) -> Comment:
    return Comment(c.get("author"), c["body"], bool(c["public"]), _at(c["created_at"]), bool(c.get("by_agent", True)),
                   bool(c.get("automated", False)), c.get("team") if isinstance(c.get("team"), str) else None)
