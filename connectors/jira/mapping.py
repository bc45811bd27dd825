"""Jira issue JSON (as /rest/api/{2,3}/search/jql returns it) -> engine Ticket.

Labels are the tags. Status maps by its category (new / indeterminate /
done), with "waiting for customer"-like names as pending; the changelog
gives the status history, so pauses are exact. The customer's plan, ARR and
health score live in custom fields (configurable; FIELD_DEFAULTS are the
sandbox's). Descriptions and comments may be plain text (v2) or Atlassian
Document Format (v3); both are read as text.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from contextlib import suppress
from datetime import UTC, datetime
from types import MappingProxyType
from typing import Any, Literal, overload

from tierlift.connectors.base import MAX_ID, checked_text
from tierlift.connectors.errors import TicketError
from tierlift.engine.model import Change, Comment, Organization, StatusChange, Ticket

# (team field value, assignee accountId, assignee display name) -> the policy team (None: none).
TeamOf = Callable[[str | None, str | None, str | None], str | None]
KEY = re.compile(r"[A-Z][A-Z0-9_]{0,254}-([1-9][0-9]{0,18})")

FIELD_DEFAULTS = {"plan": "customfield_10050", "arr": "customfield_10051", "health_score": "customfield_10052",
                  "organization": "customfield_10053", "refund_amount": "customfield_10054",
                  "primary_contact": "customfield_10055"}
# Not "waiting for support": in JSM that is the customer waiting for the agents, whose clock runs.
PAUSE_NAMES = ("waiting for customer", "pending", "on hold")
# Workflows name the customer's turn many ways ("Awaiting customer reply", "Waiting on
# reporter", "Pending customer response"): waiting words and the customer's side, in
# that order. "Waiting for support" and "Waiting for vendor" name neither, and run.
PAUSE_PATTERN = re.compile(r"\b(?:a?waiting|pending|on hold)\b.*\b(?:customer|reporter|requester|client|user)s?\b")
PRIORITIES = {"highest": "urgent", "high": "high", "medium": "normal", "low": "low", "lowest": "low"}


@overload
def jira_time(value: Any, key: str, name: str, required: Literal[True] = True) -> datetime: ...
@overload
def jira_time(value: Any, key: str, name: str, required: bool) -> datetime | None: ...
def jira_time(value: Any, key: str, name: str, required: bool = True) -> datetime | None:
    """An API time in UTC; a missing one is a TicketError when `required` (never "now":
    the mapping reads no clock), else None."""
    if value in (None, ""):
        if required:
            raise TicketError(f"issue {key}: {name} is missing", ticket_id=key)
        return None
    if not isinstance(value, str):
        raise TicketError(f"issue {key}: {name} is not a date", ticket_id=key)
    try:
        # fromisoformat reads Jira's "2026-11-02T13:00:00.000+0000" ~40x faster than
        # strptime (whose lock and regex made a third of mapping a page, issue 25).
        dt = datetime.fromisoformat(value)
        return (dt if dt.tzinfo else dt.replace(tzinfo=UTC)).astimezone(UTC)
    except ValueError:
        # Without the value (no ticket text in the quarantine: docs/privacy.md).
        raise TicketError(f"issue {key}: {name} is not a date ({len(value)} characters)", ticket_id=key) from None


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
    cat = (st.get("statusCategory") or {}).get("key")
    # The category before the names: a done status named "Pending" is solved.
    if _pauses(name) and cat != "done":
        return "pending"
    mapped = {"new": "new", "indeterminate": "open", "done": "solved"}.get(str(cat))
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


def _checked_key(raw: Mapping[str, Any]) -> str:
    """The issue key, refusing what is no key: a boolean, a negative or absurd number
    (issue 14 item 7), and a numeric `id` beside it that is no id."""
    key = raw.get("key")
    if not isinstance(key, str) or not key:
        what = "is a boolean" if isinstance(key, bool) else "is missing" if key in (None, "") else "is not text"
        raise TicketError(f"issue {str(key)[:40]!r}: key {what}", ticket_id=str(key)[:40])
    m = KEY.fullmatch(key)
    if m is None or int(m[1]) > MAX_ID:
        raise TicketError(f"issue {key[:40]!r}: key is not PROJECT-NUMBER with a number from 1 to 2^63 - 1",
                          ticket_id=key[:40])
    _check_id(raw.get("id"), key)
    return key


def _check_id(rid: Any, key: str) -> None:
    """The numeric `id` beside the key, when there is one, must be an id (not a boolean)."""
    if rid is not None and (isinstance(rid, bool) or not str(rid).isdigit() or not 1 <= int(str(rid)) <= MAX_ID):
        raise TicketError(f"issue {key}: id {str(rid)[:40]!r} is not a positive number", ticket_id=key)


def _checked_fields(raw: Any) -> tuple[str, Mapping[str, Any]]:
    """The issue's key and fields, or TicketError: not an object, no fields, or nothing but a key."""
    if not isinstance(raw, Mapping):
        raise TicketError("an issue in the page is not an object", ticket_id="?")
    key = _checked_key(raw)
    f = raw.get("fields")
    if not isinstance(f, Mapping):
        raise TicketError(f"issue {key}: fields are missing", ticket_id=key)
    if all(v in (None, "", [], {}) for v in f.values()):
        raise TicketError(f"issue {key}: every field is missing (the helpdesk sent only its key)", ticket_id=key)
    return key, f


def _labels(f: Mapping[str, Any], key: str) -> frozenset[str]:
    labels = f.get("labels") or []
    if not isinstance(labels, list) or not all(isinstance(x, str) for x in labels):
        raise TicketError(f"issue {key}: labels is not a list of strings", ticket_id=key)
    return frozenset(x.lower() for x in labels)


def _object(v: Any) -> Mapping[str, Any]:
    """A nested object of the payload (reporter, assignee, priority...), {} when it is none."""
    return v if isinstance(v, Mapping) else {}


def _organization(f: Mapping[str, Any], fm: Mapping[str, str]) -> Organization | None:
    """The customer from the configured organization fields (None when every one is empty).
    Each counts on its own: an issue with its ARR and no organization name or plan is still
    worth its ARR (QA, a Jira admin: teamflow's high-value and churn rules never saw it)."""
    plan = f.get(fm["plan"])
    if isinstance(plan, Mapping):
        plan = plan.get("value")
    org_name = f.get(fm["organization"])
    contact = f.get(fm["primary_contact"])
    arr, health = _num(f.get(fm["arr"])), _num(f.get(fm["health_score"]))
    if not (org_name or plan or contact) and arr is None and health is None:
        return None
    return Organization(str(org_name or "unknown"), str(org_name or ""), str(plan).lower() if plan else None,
                        arr, health, str(contact) if contact else None)


def _status_history(raw: Mapping[str, Any], key: str, created: datetime,
                    names: Mapping[str, str]) -> tuple[StatusChange, ...]:
    """Created as new, then every status the changelog moved it to, oldest first, each
    mapped as the current status is (`names`: status_names)."""
    history = [StatusChange(created, "new")]
    for h in _object(raw.get("changelog")).get("histories") or []:
        for item in h.get("items") or []:
            if item.get("field") == "status" and item.get("toString"):
                at = jira_time(h.get("created"), key, "changelog created", required=False)
                st = _status_name(item["toString"], names)
                if at and at > created and st is not None:
                    history.append(StatusChange(at, st))
    return tuple(sorted(history, key=lambda s: s.at))


def status_names(f: Mapping[str, Any], status_map: Mapping[str, str] | None) -> Mapping[str, str]:
    """The configured status_map, plus the issue's current status under what its category
    maps it to. A changelog item names a status but not its category: the history read
    every configured status as "open", and a done status named "Completed" as open
    while the issue read solved."""
    names = dict(status_map or {})
    st = _object(f.get("status"))
    if st.get("name") and str(st["name"]) not in names:
        with suppress(TicketError):  # an unknown status is reported by ticket_from_jira, by key
            names[str(st["name"])] = _status(f, "?", names)
    return names


def _custom_fields(f: Mapping[str, Any], fm: Mapping[str, str]) -> Mapping[str, Any]:
    return MappingProxyType({"refund_amount": f.get(fm["refund_amount"]),
                             **{n: f.get(i) for n, i in fm.items() if n not in FIELD_DEFAULTS and i}})


def _priority(f: Mapping[str, Any]) -> str | None:
    prio = _object(f.get("priority")).get("name")
    return PRIORITIES.get(str(prio).lower()) if prio else None


def _team(f: Mapping[str, Any], team_field: str | None, team_of: TeamOf | None) -> str | None:
    """The policy team the team field, else the assignee, maps to."""
    if team_of is None:
        return None
    assignee = _object(f.get("assignee"))
    return team_of(_value(f.get(team_field)) if team_field else None, assignee.get("accountId"),
                   assignee.get("displayName"))


def ticket_from_jira(raw: Mapping[str, Any], fields_map: Mapping[str, str] | None = None,
                     status_map: Mapping[str, str] | None = None, *, team_of: TeamOf | None = None,
                     me: str | None = None, team_field: str | None = None) -> Ticket:
    """Map one issue as the API returns it. Raises TicketError on data it cannot use."""
    key, f = _checked_fields(raw)
    fm = {**FIELD_DEFAULTS, **(fields_map or {})}
    status = _status(f, key, status_map or {})
    names = status_names(f, status_map)
    created = jira_time(f.get("created"), key, "created")
    updated = jira_time(f.get("updated"), key, "updated")
    comments, changes, first_reply = _loaded(raw, f, key, me=me, team_of=team_of, team_field=team_field,
                                             status_map=names)
    solved_at = jira_time(f.get("resolutiondate"), key, "resolutiondate", required=False)
    assignee = _object(f.get("assignee"))
    return Ticket(
        id=key, subject=checked_text(text_of(f.get("summary")), key, "summary"),
        description=checked_text(text_of(f.get("description")), key, "description"), status=status,
        created_at=created, updated_at=updated, version=str(f.get("updated")),
        priority=_priority(f),
        tags=_labels(f, key),
        group=_value(f.get(team_field)) if team_field else None,  # a select list's option by its value
        assignee=assignee.get("accountId"), team=_team(f, team_field, team_of),
        requester=_object(f.get("reporter")).get("emailAddress"), organization=_organization(f, fm),
        custom_fields=_custom_fields(f, fm),
        # The labels as written too: the tags are lower-cased, a label is removed by its own name.
        fields=MappingProxyType({"jira_id": raw.get("id"), "labels": tuple(f.get("labels") or ())}),
        comments=comments, history=changes,
        first_reply_at=first_reply,
        status_history=_status_history(raw, key, created, names), solved_at=solved_at if status == "solved" else None,
    )


def _loaded(raw: Mapping[str, Any], f: Mapping[str, Any], key: str, *, me: str | None, team_of: TeamOf | None,
            team_field: str | None, status_map: Mapping[str, str]) -> tuple[Any, Any, datetime | None]:
    """Comments, changes and the first reply, when the payload carries all of them
    (None, None, None when it carries none, or cut them short: with_comments reads the issue)."""
    block = f.get("comment")
    if not isinstance(block, Mapping):
        return None, None, None
    raw_comments = [c for c in block.get("comments") or [] if isinstance(c, Mapping)]
    reporter = customer_reporter(f.get("reporter"), raw_comments)
    comments = tuple(comment_from_jira(c, key, reporter, me) for c in raw_comments)
    first_reply = _first_reply(comments)
    changes = changes_from_jira(raw, key, me=me, team_of=team_of, team_field=team_field, status_map=status_map)
    total = block.get("total")
    if changes is None or isinstance(total, int) and total > len(comments):
        return None, None, first_reply
    return comments, changes, first_reply


def _first_reply(comments: Sequence[Comment]) -> datetime | None:
    """When an agent first answered the customer in public (tierlift's and automations' own replies aside)."""
    replies = [c.created_at for c in comments if c.public and c.by_agent and not c.automated]
    return min(replies) if replies else None


def comment_from_jira(raw: Mapping[str, Any], key: str, reporter: Any = None, me: str | None = None) -> Comment:
    author = raw.get("author") if isinstance(raw.get("author"), Mapping) else {}
    # Internal: JSM's jsdPublic false on the platform API, or the sd.public.comment
    # property that the servicedesk API and tierlift's own notes set.
    public = raw.get("jsdPublic", True)
    for prop in raw.get("properties") or []:
        if isinstance(prop, Mapping) and prop.get("key") == "sd.public.comment" and (prop.get("value") or {}).get("internal"):
            public = False
    account = (author or {}).get("accountId")
    return Comment(author=account, body=text_of(raw.get("body")), public=bool(public),
                   created_at=jira_time(raw.get("created"), key, "comment created"),
                   by_agent=_by_agent(_object(author), reporter), automated=_automated(author, me))


def _by_agent(author: Mapping[str, Any], reporter: Any) -> bool:
    """A comment from the support side. Every author carries accountType (User.accountType):
    `customer` is a JSM customer (the reporter or a request participant), `app` an
    automation (support side, and automated); otherwise (an `atlassian` account, or no
    type) anyone but the reporter: on an internal helpdesk the customers are atlassian
    accounts too."""
    kind = author.get("accountType")
    if kind == "customer":
        return False
    return kind == "app" or author.get("accountId") != reporter


def customer_reporter(reporter: Any, comments: Sequence[Any]) -> Any:
    """The reporter's accountId when the reporter is the customer, for the reporter rule
    of _by_agent. An atlassian account who reported an issue that JSM customers comment on
    raised it for them: an agent, whose replies are an agent's (None: no reporter rule)."""
    who = _object(reporter)
    customers = any(_object(_object(c).get("author")).get("accountType") == "customer" for c in comments)
    return None if who.get("accountType") == "atlassian" and customers else who.get("accountId")


def _automated(author: Any, me: str | None) -> bool:
    """tierlift's own account, or an app (Automation for Jira acts as accountType "app")."""
    if not isinstance(author, Mapping):
        return False
    return (me is not None and author.get("accountId") == me) or author.get("accountType") == "app"


def _value(v: Any) -> str | None:
    """A field's value as text: option fields are {"value": ...}, team fields {"name"|"id"}."""
    if isinstance(v, Mapping):
        v = v.get("value") or v.get("name") or v.get("id")
    return None if v in (None, "") else str(v)


def changes_from_jira(raw: Mapping[str, Any], key: str, *, me: str | None, team_of: TeamOf | None,
                      team_field: str | None, status_map: Mapping[str, str]) -> tuple[Change, ...] | None:
    """Team, label and status changes with their authors from `expand=changelog`
    (histories[].author, items[].field / fieldId / from / fromString / to / toString).
    None when the changelog is absent or cut short (total beyond what came)."""
    histories = _whole_changelog(raw.get("changelog"))
    if histories is None:
        return None
    out: list[Change] = []
    for h in sorted(histories, key=lambda h: str(h.get("created"))):
        at = jira_time(h.get("created"), key, "changelog created")
        author = _object(h.get("author"))
        who, auto = _person(author), _automated(author, me)
        items = [i for i in h.get("items") or [] if isinstance(i, Mapping)]
        out += (Change(at, who, automated=auto, **fields) for item in items
                if (fields := _item_fields(item, team_of, team_field, status_map)) is not None)
    return tuple(out)


def _person(author: Mapping[str, Any]) -> str | None:
    """Who made a change, as a person reads it in a note or report: the display name, with
    the e-mail address where the site shows it, else the account id."""
    name, email, account = author.get("displayName"), author.get("emailAddress"), author.get("accountId")
    if isinstance(name, str) and name:
        return f"{name} <{email}>" if isinstance(email, str) and email else name
    return account if isinstance(account, str) else None


def _whole_changelog(log: Any) -> list[Mapping[str, Any]] | None:
    """The changelog's histories, None when it is absent or cut short (total beyond what came)."""
    if not isinstance(log, Mapping):
        return None
    histories = [h for h in log.get("histories") or [] if isinstance(h, Mapping)]
    total = log.get("total")
    if isinstance(total, int) and total > len(histories):
        return None
    return histories


def _item_fields(item: Mapping[str, Any], team_of: TeamOf | None, team_field: str | None,
                 status_map: Mapping[str, str]) -> dict[str, Any] | None:
    """The Change a changelog item makes (field, before/after or added/removed), None
    when it is no label, status, summary or team change tierlift follows."""
    name = item.get("fieldId") or item.get("field")
    if name == "labels":
        return _label_change(item)
    if name == "status" and item.get("toString"):
        return {"field": "status", "before": _status_name(item.get("fromString"), status_map),
                "after": _status_name(item.get("toString"), status_map)}
    if name == "summary":  # an agent's rename: the customer's own words are the first one's before
        return {"field": "subject", "before": _sid(item.get("fromString")), "after": _sid(item.get("toString"))}
    if team_of is not None and (name == "assignee" or (team_field and name == team_field)):
        before, after = _teams_of_item(item, name == "assignee", team_of)
        return {"field": "team", "before": before, "after": after} if before != after else None
    return None


def _label_change(item: Mapping[str, Any]) -> dict[str, Any]:
    """Labels added and removed (fromString / toString are space-separated lists)."""
    old, new = set(str(item.get("fromString") or "").split()), set(str(item.get("toString") or "").split())
    return {"field": "tags", "added": tuple(sorted(x.lower() for x in new - old)),
            "removed": tuple(sorted(x.lower() for x in old - new))}


def _teams_of_item(item: Mapping[str, Any], assignee: bool, team_of: TeamOf) -> tuple[str | None, str | None]:
    """The teams before and after an assignee or team-field change (an assignee change
    carries account ids in from/to and display names in fromString/toString)."""
    if assignee:
        return (team_of(None, _sid(item.get("from")), _sid(item.get("fromString"))),
                team_of(None, _sid(item.get("to")), _sid(item.get("toString"))))
    return team_of(_sid(item.get("fromString")), None, None), team_of(_sid(item.get("toString")), None, None)


def _sid(v: Any) -> str | None:
    return None if v in (None, "") else str(v)


def _status_name(name: Any, status_map: Mapping[str, str]) -> str | None:
    if not name:
        return None
    name = str(name)
    if name in status_map:
        return status_map[name]
    low = name.lower()
    return "pending" if _pauses(name) else "solved" if low in ("resolved", "closed", "done") else "open"


def _pauses(name: str) -> bool:
    """A status whose name says the customer has the turn (the SLA clock pauses)."""
    low = name.lower()
    return low in PAUSE_NAMES or PAUSE_PATTERN.search(low) is not None
