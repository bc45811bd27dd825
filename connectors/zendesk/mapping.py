"""Zendesk JSON -> engine Ticket, pure functions over the shapes the API returns.

Shapes: the ticket object of the Support API (see ../shared/reference/
zendesk-recordings), with optional sideloads `organizations`, `users`,
`metric_sets` (TicketMetricObject). Bad data never raises anything but
TicketError, naming the ticket and the field, so one bad ticket is
quarantined while the rest of its page flows on.

The export carries no status history: the history is built from what the
metric set says (created, then the current status since status_updated_at).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from types import MappingProxyType
from typing import Any, Literal, overload

from tierlift.connectors.base import CUSTOMER_FIELDS, checked_text, id_problem, is_id
from tierlift.connectors.errors import TicketError
from tierlift.engine.model import Change, Comment, Organization, StatusChange, Ticket

# (group id, assignee id) as strings -> the policy team they map to (None: no team).
TeamOf = Callable[[str | None, str | None], str | None]

CLOCK_SKEW = timedelta(minutes=5)
STATUSES = {"new": "new", "open": "open", "pending": "pending", "hold": "hold", "solved": "solved", "closed": "closed"}


@overload
def parse_time(value: Any, ticket_id: str, name: str, required: Literal[True] = True) -> datetime: ...
@overload
def parse_time(value: Any, ticket_id: str, name: str, required: bool) -> datetime | None: ...
def parse_time(value: Any, ticket_id: str, name: str, required: bool = True) -> datetime | None:
    """An API time in UTC; a missing one is a TicketError when `required` (never "now":
    the mapping reads no clock), else None."""
    if value in (None, ""):
        if required:
            raise TicketError(f"ticket {ticket_id}: {name} is missing", ticket_id=ticket_id)
        return None
    if not isinstance(value, str):
        raise TicketError(f"ticket {ticket_id}: {name} is not a date ({type(value).__name__})", ticket_id=ticket_id)
    try:
        dt = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        # Without the value: the quarantine, its log line and `status` carry no ticket text
        # (docs/privacy.md), and a field a proxy or an app filled with words quoted them (QA).
        raise TicketError(f"ticket {ticket_id}: {name} is not an ISO 8601 date ({len(value)} characters)",
                          ticket_id=ticket_id) from None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return dt.astimezone(UTC)


def _text(value: Any, ticket_id: str, name: str) -> str:
    return checked_text(value, ticket_id, name)


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value.replace("$", "").replace(",", "").strip())
        except ValueError:
            return None
    return None


def organization(raw: Mapping[str, Any] | None) -> Organization | None:
    if not isinstance(raw, Mapping) or raw.get("id") is None:
        return None
    fields = _object(raw.get("organization_fields"))
    plan = fields.get("plan")
    return Organization(
        id=str(raw["id"]),
        name=str(raw.get("name") or ""),
        plan=str(plan).lower() if plan else None,
        arr=_number(fields.get("arr")),
        health_score=_number(fields.get("health_score")),
        primary_contact=str(fields["primary_contact"]) if fields.get("primary_contact") else None,
        attributes=MappingProxyType({k: v for k, v in fields.items()
                                     if k not in ("plan", "arr", "health_score", "primary_contact")}
                                    | {"tags": list(raw.get("tags") or [])}),
    )


def _customer(org: Organization | None, raw_org: Any, requester: Mapping[str, Any],
              sources: Mapping[str, tuple[str, str]], custom: dict[str, Any]) -> Organization | None:
    """Note and condition fields configured to come from an organization field or the
    requester's user field (`sources`: name -> (kind, field key)). The Organization's
    own attributes take them; every other name lands in custom_fields."""
    values_of = {"organization": _object(raw_org).get("organization_fields"),
                 "user": _object(requester).get("user_fields")}
    found: dict[str, Any] = {}
    for name, (kind, key) in sources.items():
        values = values_of.get(kind)
        if isinstance(values, Mapping):
            (found if name in CUSTOMER_FIELDS else custom)[name] = values.get(key)
    return _with_customer_fields(org, found) if found else org


def _with_customer_fields(org: Organization | None, found: Mapping[str, Any]) -> Organization:
    """The organization with the customer fields found elsewhere in place of its own."""
    base = org or Organization(id="", name="")
    plan = found.get("plan", base.plan)
    contact = found.get("primary_contact", base.primary_contact)
    return Organization(base.id, base.name, str(plan).lower() if plan else None,
                        _number(found["arr"]) if "arr" in found else base.arr,
                        _number(found["health_score"]) if "health_score" in found else base.health_score,
                        str(contact) if contact else None, base.attributes)


def _checked_id(raw: Any) -> str:
    """The ticket's id as text, or TicketError: not an object, an id that is no id
    (issue 14 item 7), or nothing but an id."""
    if not isinstance(raw, Mapping):
        raise TicketError("a ticket in the page is not an object", ticket_id="?")
    rid = raw.get("id")
    problem = id_problem(rid)
    if problem:
        raise TicketError(f"ticket {str(rid)[:40]!r}: {problem}", ticket_id=str(rid)[:40])
    tid = str(rid)
    if all(v in (None, "", [], {}) for k, v in raw.items() if k not in ("id", "url", "generated_timestamp")):
        # Not "unknown status 'None'": the helpdesk sent an id and nothing else.
        raise TicketError(f"ticket {tid}: every field is missing (the helpdesk sent only its id)", ticket_id=tid)
    return tid


def _from_metrics(metric_set: Any, created: datetime, status: str,
                  tid: str) -> tuple[datetime | None, list[StatusChange], int, datetime | None]:
    """First reply, status history, reopens and solved time from the metric set."""
    history = [StatusChange(created, "new")]
    if not isinstance(metric_set, Mapping):
        if status != "new":
            history.append(StatusChange(created, status))
        return None, history, 0, None
    first_reply = _first_reply(metric_set.get("reply_time_in_minutes"), created, tid)
    changed = parse_time(metric_set.get("status_updated_at"), tid, "metric_set.status_updated_at", required=False)
    # At creation too: a ticket created straight into pending has status_updated_at ==
    # created_at, and dropping it lost the pause until its next update.
    if changed and changed >= created and status != "new":
        history.append(StatusChange(changed, status))
    reopens = metric_set.get("reopens") or 0
    if isinstance(reopens, bool) or not isinstance(reopens, int) or reopens < 0:
        raise TicketError(f"ticket {tid}: metric_set.reopens is not a count: {str(reopens)[:40]!r}", ticket_id=tid)
    solved_at = parse_time(metric_set.get("solved_at"), tid, "metric_set.solved_at", required=False)
    return first_reply, history, reopens, solved_at


def _status(raw: Mapping[str, Any], tid: str) -> tuple[str, bool]:
    """The engine's status, and whether the ticket was deleted (read as closed)."""
    status_raw = raw.get("status")
    if status_raw == "deleted":
        return "closed", True
    if status_raw not in STATUSES:
        raise TicketError(f"ticket {tid}: unknown status {str(status_raw)[:40]!r}", ticket_id=tid)
    return STATUSES[status_raw], False


def _created_updated(raw: Mapping[str, Any], tid: str) -> tuple[datetime, datetime]:
    created = parse_time(raw.get("created_at"), tid, "created_at")
    updated = parse_time(raw.get("updated_at"), tid, "updated_at")
    if updated < created:
        # Real accounts show tickets created in bulk with updated_at a second
        # before created_at (zendesk-recordings/TicketsIncrementalTest, ticket
        # 498): clock skew, not corruption. Only a larger gap is bad data.
        if created - updated > CLOCK_SKEW:
            raise TicketError(f"ticket {tid}: updated_at is before created_at", ticket_id=tid)
        updated = created
    return created, updated


def _tags(raw: Mapping[str, Any], tid: str) -> frozenset[str]:
    tags = raw.get("tags") or []
    if not isinstance(tags, list) or not all(isinstance(t, str) for t in tags):
        raise TicketError(f"ticket {tid}: tags is not a list of strings", ticket_id=tid)
    return frozenset(t.lower() for t in tags)


def _priority(raw: Mapping[str, Any], tid: str) -> str | None:
    priority = raw.get("priority")
    if priority not in (None, "low", "normal", "high", "urgent"):
        raise TicketError(f"ticket {tid}: unknown priority {str(priority)[:20]!r}", ticket_id=tid)
    return None if priority is None else str(priority)


def _custom_fields(raw: Mapping[str, Any], field_names: Mapping[int, str] | None) -> dict[str, Any]:
    """Custom field values under their configured names (the id as text when unnamed)."""
    custom: dict[str, Any] = {}
    for cf in raw.get("custom_fields") or []:
        if isinstance(cf, Mapping) and "id" in cf:
            name = (field_names or {}).get(cf["id"]) or str(cf["id"])
            custom[name] = cf.get("value")
    return custom


def _requester_and_org(raw: Mapping[str, Any], organizations: Mapping[Any, Mapping[str, Any]] | None,
                       users: Mapping[Any, Mapping[str, Any]] | None, sources: Mapping[str, tuple[str, str]] | None,
                       custom: dict[str, Any]) -> tuple[Mapping[str, Any], Organization | None]:
    """The requester's sideloaded user and the customer's organization.

    Sideloads are looked up by valid ids only: a `true` would find the record of id 1."""
    raw_org = (organizations or {}).get(raw["organization_id"]) if is_id(raw.get("organization_id")) else None
    org = organization(raw_org) if is_id(raw.get("organization_id")) else None
    requester = ((users or {}).get(raw["requester_id"]) or {}) if is_id(raw.get("requester_id")) else {}
    if sources:
        org = _customer(org, raw_org, requester, sources, custom)
    return requester, org


def ticket_from_zendesk(raw: Mapping[str, Any], *, organizations: Mapping[Any, Mapping[str, Any]] | None = None,
                        metric_set: Mapping[str, Any] | None = None, users: Mapping[Any, Mapping[str, Any]] | None = None,
                        field_names: Mapping[int, str] | None = None, comments: list[Mapping[str, Any]] | None = None,
                        team_of: TeamOf | None = None, me: str | None = None,
                        sources: Mapping[str, tuple[str, str]] | None = None) -> Ticket:
    """Map one ticket as the API returns it. Raises TicketError on data it cannot use."""
    tid = _checked_id(raw)
    status, deleted = _status(raw, tid)
    created, updated = _created_updated(raw, tid)
    tags, priority = _tags(raw, tid), _priority(raw, tid)
    custom = _custom_fields(raw, field_names)
    requester, org = _requester_and_org(raw, organizations, users, sources, custom)
    first_reply, history, reopens, solved_at = _from_metrics(metric_set, created, status, tid)
    if status in ("solved", "closed") and solved_at is None:
        solved_at = updated
    mapped_comments = None
    if comments is not None:
        mapped_comments = tuple(comment_from_zendesk(c, raw.get("requester_id"), users, tid, me) for c in comments)
        first_reply = first_reply or _first_public_reply(mapped_comments)
    group = _id_text(raw.get("group_id"))
    assignee = _id_text(raw.get("assignee_id"))
    return Ticket(
        id=tid,
        subject=_text(raw.get("subject"), tid, "subject"),
        description=_text(raw.get("description"), tid, "description"),
        status=status,
        created_at=created,
        updated_at=updated,
        version=str(raw.get("updated_at")),
        priority=priority,
        tags=tags,
        group=group,
        assignee=assignee,
        team=team_of(group, assignee) if team_of else None,
        requester=_object(requester).get("email"),
        organization=org,
        custom_fields=MappingProxyType(custom),
        fields=MappingProxyType({"type": raw.get("type"), "channel": _object(raw.get("via")).get("channel"),
                                 "deleted": deleted,
                                 "requester_id": raw.get("requester_id"),
                                 # When the customer last wrote (the metric set's requester
                                 # update): the cycle reads the comments once when it moves.
                                 "customer_wrote_at": _customer_wrote_at(metric_set),
                                 # When anyone last commented: a phone, chat or mail bridge posts
                                 # the customer's words through the agent API with the customer as
                                 # author, and only this moves then (the update is the agent's).
                                 "commented_at": _commented_at(metric_set)}),
        comments=mapped_comments,
        first_reply_at=first_reply,
        status_history=tuple(history),
        reopens=reopens,
        solved_at=solved_at,
    )


def _customer_wrote_at(metric_set: Any) -> str | None:
    value = metric_set.get("requester_updated_at") if isinstance(metric_set, Mapping) else None
    return value if isinstance(value, str) else None


def _commented_at(metric_set: Any) -> str | None:
    value = metric_set.get("latest_comment_added_at") if isinstance(metric_set, Mapping) else None
    return value if isinstance(value, str) else None


def _first_public_reply(comments: Sequence[Comment]) -> datetime | None:
    """When an agent first answered the customer in public (tierlift's and automations' own replies aside)."""
    replies = [c.created_at for c in comments if c.public and c.by_agent and not c.automated]
    return min(replies) if replies else None


def _first_reply(reply: Any, created: datetime, tid: str) -> datetime | None:
    """The first reply from the metric set's minutes. Garbage here used to raise
    ValueError or AttributeError, which stopped the whole page, not the ticket."""
    if reply is None:
        return None
    minutes = reply.get("calendar") if isinstance(reply, Mapping) else reply
    if minutes is None:
        return None
    if isinstance(minutes, bool) or not isinstance(minutes, int | float) or not 0 <= minutes < 10**8:
        raise TicketError(f"ticket {tid}: metric_set.reply_time_in_minutes is not a number of minutes:"
                          f" {str(reply)[:40]!r}", ticket_id=tid)
    return created + timedelta(minutes=minutes)


def comment_from_zendesk(raw: Mapping[str, Any], requester_id: Any, users: Mapping[Any, Mapping[str, Any]] | None,
                         tid: str, me: str | None = None, *, automated: bool = False,
                         at: datetime | None = None) -> Comment:
    author = raw.get("author_id")
    mine = me is not None and str(author) == me
    return Comment(
        author=_id_text(author),
        body=_text(raw.get("body") or raw.get("plain_body") or "", tid, "comment body"),
        public=bool(raw.get("public", True)),
        created_at=_comment_time(raw, tid, at),
        by_agent=mine or _by_agent(author, users),  # the requester too, by role (an agent may be one)
        automated=automated or mine,
    )


def _by_agent(author: Any, users: Mapping[Any, Mapping[str, Any]] | None) -> bool:
    """An agent's or admin's comment, by the author's role (sideloaded, or looked up before
    mapping: ZendeskConnector.with_comments). Without a role it is no agent's: "anyone but
    the requester" made a CC'd end-user's reply stop the first-reply clock."""
    role = ((users or {}).get(author) or {}).get("role") if is_id(author) else None
    return role in ("agent", "admin")


def _comment_time(raw: Mapping[str, Any], tid: str, at: datetime | None) -> datetime:
    """An audit's Comment event has no time of its own: the audit's (`at`) is used."""
    if raw.get("created_at") is None and at is not None:
        return at
    return parse_time(raw.get("created_at"), tid, "comment created_at")


# An audit made by a trigger or an automation: via.channel "rule" with source.rel
# "trigger" / "automation" (Support API, "Via object"). Its comments and changes are
# the helpdesk's own, never a person's reply or move.
RULES = frozenset({"trigger", "automation"})


def _by_rule(audit: Mapping[str, Any]) -> bool:
    via = _object(audit.get("via"))
    source = _object(via.get("source"))
    return via.get("channel") == "rule" or str(source.get("rel")) in RULES


def _object(value: Any) -> Mapping[str, Any]:
    """A nested object of the payload (via, source...), {} when it is none."""
    return value if isinstance(value, Mapping) else {}


def _tag_list(value: Any) -> set[str]:
    if isinstance(value, str):  # some audits carry tags as one space-separated string
        return {t.lower() for t in value.split()}
    return {str(t).lower() for t in value or [] if isinstance(t, str)}


def history_from_audits(audits: Sequence[Mapping[str, Any]], *, tid: str, requester_id: Any,
                        users: Mapping[Any, Mapping[str, Any]] | None, me: str | None,
                        team_of: TeamOf) -> tuple[tuple[Comment, ...], tuple[Change, ...]]:
    """Comments and changes (team, tags, status), with who made them, from a ticket's audits.

    Shapes: GET /api/v2/tickets/{id}/audits (../shared/reference/zendesk-recordings/
    TestTicketAudits.*): each audit has created_at, author_id, via and events of type
    Comment (author_id, body, public), Create and Change (field_name, value,
    previous_value). A team change is a change of the team that group and assignee
    map to together, so a reassignment inside one team is no move.
    """
    comments: list[Comment] = []
    changes: list[Change] = []
    owner: dict[str, str | None] = {}  # group_id / assignee_id as the audits so far left them
    for audit in _in_order(audits):
        at, author, by_rule, automated = _made(audit, tid, me)
        events = [e for e in audit.get("events") or [] if isinstance(e, Mapping)]
        comments += (comment_from_zendesk(e, requester_id, users, tid, me, automated=by_rule, at=at)
                     for e in events if e.get("type") == "Comment")
        changes += (c for e in events if (c := _field_change(e, at, author, automated)) is not None)
        move = _team_move(events, owner, team_of)
        if move is not None:
            changes.append(Change(at, author, "team", move[0], move[1], automated=automated))
    return tuple(comments), tuple(changes)


def _made(audit: Mapping[str, Any], tid: str, me: str | None) -> tuple[datetime, str | None, bool, bool]:
    """When and by whom an audit was made, whether by a rule, and whether its changes are automated.

    A change is tierlift's when its audit is; a comment when the comment's own
    author is (an audit made by one account may carry a comment written as the
    requester: recorded ticket 1), so comments take only `by_rule`."""
    at = parse_time(audit.get("created_at"), tid, "audit created_at")
    author = _id_text(audit.get("author_id"))
    by_rule = _by_rule(audit)
    return at, author, by_rule, by_rule or (me is not None and author == me)


def authors_of(audits: Sequence[Mapping[str, Any]]) -> set[str]:
    """The ids of everyone who made an audit or wrote one of its comments (an audit made
    by one account may carry a comment written as another: recorded ticket 1)."""
    out = {_sid(a.get("author_id")) for a in audits if isinstance(a, Mapping)}
    out |= {_sid(e.get("author_id")) for a in audits if isinstance(a, Mapping)
            for e in a.get("events") or [] if isinstance(e, Mapping) and e.get("type") == "Comment"}
    return {a for a in out if a is not None}


def _in_order(audits: Sequence[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """The audits oldest first (ties by id), whatever order the pages came in."""
    return sorted((a for a in audits if isinstance(a, Mapping)), key=lambda a: (str(a.get("created_at")),
                                                                                str(a.get("id"))))


def _field_change(event: Mapping[str, Any], at: datetime, author: str | None, automated: bool) -> Change | None:
    """A tags, status or subject Change event as the engine's Change (None for any other event).
    A Create event's status is one too when the ticket did not start as new or open (in
    both the clock runs, as the status history's start assumes): a ticket created
    straight into pending or on hold is paused from its creation."""
    name = event.get("field_name")
    if event.get("type") == "Create" and name == "status":
        created_as = STATUSES.get(str(event.get("value")))
        return None if created_as in (None, "new", "open") else Change(at, author, "status", None, created_as,
                                                                       automated=automated)
    if event.get("type") != "Change":
        return None
    if name == "tags":
        new, old = _tag_list(event.get("value")), _tag_list(event.get("previous_value"))
        if new == old:
            return None
        return Change(at, author, "tags", added=tuple(sorted(new - old)), removed=tuple(sorted(old - new)),
                      automated=automated)
    if name == "status":
        return Change(at, author, "status", STATUSES.get(str(event.get("previous_value"))),
                      STATUSES.get(str(event.get("value"))), automated=automated)
    if name == "subject":  # what the customer wrote is the first one's previous value (engine.history)
        return Change(at, author, "subject", _plain_value(event.get("previous_value")), _plain_value(event.get("value")),
                      automated=automated)
    return None


def _plain_value(value: Any) -> str | None:
    return None if value is None else str(value)


OWNER_FIELDS = ("group_id", "assignee_id")


def _team_move(events: Sequence[Mapping[str, Any]], owner: dict[str, str | None],
               team_of: TeamOf) -> tuple[str | None, str | None] | None:
    """(team before, team after) when one audit's events move the ticket to another team.

    `owner` carries group and assignee from audit to audit; where earlier audits did
    not say them, this audit's previous values do. A reassignment inside one team
    (another agent, the same group) is no move, and a Create sets the owner without
    moving it."""
    for e in events:
        if e.get("type") == "Change" and e.get("field_name") in OWNER_FIELDS:
            owner.setdefault(e["field_name"], _sid(e.get("previous_value")))
    before = team_of(owner.get("group_id"), owner.get("assignee_id"))
    moved = False
    for e in events:
        if e.get("type") in ("Create", "Change") and e.get("field_name") in OWNER_FIELDS:
            owner[e["field_name"]] = _sid(e.get("value"))
            moved = moved or e.get("type") == "Change"
    after = team_of(owner.get("group_id"), owner.get("assignee_id"))
    return (before, after) if moved and after != before else None


def _id_text(value: Any) -> str | None:
    return None if value is None else str(value)


def _sid(value: Any) -> str | None:
    return None if value in (None, "") else str(value)


def ticket_with_audits(ticket: Ticket, comments: tuple[Comment, ...], history: tuple[Change, ...]) -> Ticket:
    """The ticket as its audits tell it: every comment with its author (which replace the
    metric set's reply time, since that counts tierlift's own public reply as an agent's,
    issue 13), every change, and every status change."""
    replies = [c.created_at for c in comments if c.public and c.by_agent and not c.automated]
    return replace(ticket, comments=comments, history=history, first_reply_at=min(replies) if replies else None,
                   status_history=status_history(ticket, history))


def status_history(ticket: Ticket, history: Sequence[Change]) -> tuple[StatusChange, ...]:
    """Every status change the audits record (the export's metric set knows only the last
    one, so a hold that ended looked like time the clock ran); the export's when the
    audits carry none."""
    changes = [StatusChange(c.at, c.after) for c in history if c.field == "status" and isinstance(c.after, str)]
    if not changes:
        return tuple(ticket.status_history)
    return (StatusChange(ticket.created_at, "new"), *sorted(changes, key=lambda s: s.at))
