"""The helpdesk's own record of each ticket, flavour-neutral, for the oracle.

Built only from the sandbox's store: Zendesk audits (every change and comment
with its author and `via`), Jira changelog histories and comments (with their
authors), the organisation fields, and the people registry (who is tierlift,
who is an agent of which team, who is a customer, what is an automation).
Nothing here reads tierlift's state or calls the engine; it is the oracle's one
way into tierlift's package (the sandbox's store and the floor's catalogue).

Invariants: events of one ticket are in the order the helpdesk recorded
them (time, then record order); `who` is "bot" (tierlift's account), "rule"
(trigger / automation), "agent" or "customer"; a "team" event's before/after
are policy team names as the helpdesk shows them (Zendesk group names, the
Jira team field's value).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

# The floor's intent for what customers write after their first message, which the oracle
# judges by and no pack's phrase list may decide: a request for a manager, a failed attempt
# reported again. The catalogue is the floor's (the simulated people), not tierlift's.
from tierlift.sandbox.floor_catalog import FAILED_AGAIN, MANAGER_ASKS

__all__ = ["FAILED_AGAIN", "MANAGER_ASKS", "Ev", "Record", "jira_records", "zendesk_records"]

JIRA_PAUSED = {"Waiting for customer": "pending"}


def _t(text: str) -> datetime:
    if text.endswith("Z"):
        return datetime.fromisoformat(text.replace("Z", "+00:00"))
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%f%z").astimezone(UTC)


@dataclass
class Ev:
    at: datetime
    who: str  # bot | rule | agent | customer
    kind: str  # comment | team | tags | status
    name: str = ""  # the person's name (agents) or email
    email: str = ""
    public: bool = False
    body: str = ""
    before: Any = None
    after: Any = None
    added: frozenset[str] = frozenset()
    removed: frozenset[str] = frozenset()


@dataclass
class Record:
    key: Any
    created: datetime
    plan: str | None
    arr: float | None
    health: float | None
    intent: dict[str, Any]
    events: list[Ev] = field(default_factory=list)


def _who(person: Any, bot: Any, rule: bool) -> str:
    if rule:
        return "rule"
    if person is None:
        return "agent"
    if person is bot:
        return "bot"
    return "agent" if person.is_agent else "customer"


def zendesk_records(store: Any, intents: dict[Any, dict[str, Any]]) -> list[Record]:
    out = []
    with store.lock:
        for tid in sorted(intents):
            t = store.tickets.live.get(tid)
            if t is None:
                continue
            org = store.orgs.get(t.get("organization_id")) or {}
            of = org.get("organization_fields") or {}
            rec = Record(tid, _t(t["created_at"]), of.get("plan"), of.get("arr"), of.get("health_score"), intents[tid])
            for audit in store.audits.live.get(tid, []):
                rec.events += _zendesk_events(store, audit)
            out.append(rec)
    return out


def _zendesk_events(store: Any, audit: dict[str, Any]) -> list[Ev]:
    at = _t(audit["created_at"])
    rule = audit.get("via", {}).get("channel") == "rule" or audit["author_id"] == -1
    out = []
    for e in audit["events"]:
        person = store.people.get(e.get("author_id", audit["author_id"]))
        who = _who(person, store.people.bot, rule)
        name, email = (person.name, person.email) if person is not None else ("", "")
        if e["type"] == "Comment":
            out.append(Ev(at, who, "comment", name, email, public=e["public"], body=e["body"]))
            continue
        field_name, value, before = e.get("field_name"), e.get("value"), e.get("previous_value")
        if field_name == "group_id":
            out.append(Ev(at, who, "team", name, email, before=_group(store, before), after=_group(store, value)))
        elif field_name == "tags":
            b, a = set(before or []) if e["type"] == "Change" else set(), set(value or [])
            out.append(Ev(at, who, "tags", name, email, added=frozenset(a - b), removed=frozenset(b - a)))
        elif field_name == "status":
            out.append(Ev(at, who, "status", name, email, before=before, after=value))
    return out


def _group(store: Any, gid: Any) -> str | None:
    g = store.groups.get(gid if isinstance(gid, int) else int(gid) if str(gid or "").isdigit() else None)
    return g["name"] if g else None


def jira_records(store: Any, intents: dict[Any, dict[str, Any]], team_field: str) -> list[Record]:
    from tierlift.sandbox.jira import CUSTOM

    team_name = CUSTOM.get(team_field, team_field)
    out = []
    with store.lock:
        for key in sorted(intents, key=lambda k: int(str(k).split("-")[1])):
            issue = store.issues.live.get(key)
            if issue is None:
                continue
            f = issue["fields"]
            plan = (f.get("customfield_10050") or {}).get("value")
            rec = Record(key, _t(f["created"]), plan.lower() if plan else None, f.get("customfield_10051"),
                         f.get("customfield_10052"), intents[key])
            rec.events = sorted(_jira_comments(store, f) + _jira_history(store, issue, team_field, team_name),
                                key=lambda e: e.at)
            out.append(rec)
    return out


def _jira_person(store: Any, author: dict[str, Any]) -> tuple[str, str, str]:
    if author.get("accountType") == "app":
        return "rule", author.get("displayName", ""), ""
    person = store.people.by_account.get(author.get("accountId"))
    if author.get("accountId") == "acc-tierlift-bot":
        return "bot", "tierlift", ""
    if person is None:
        return "agent", author.get("displayName", ""), ""
    return ("agent" if person.is_agent else "customer"), person.name, person.email


def _jira_comments(store: Any, f: dict[str, Any]) -> list[Ev]:
    out = []
    for c in f["comment"]["comments"]:
        who, name, email = _jira_person(store, c["author"])
        out.append(Ev(_t(c["created"]), who, "comment", name, email, public=bool(c.get("jsdPublic")), body=c["body"]))
    return out


def _jira_history(store: Any, issue: dict[str, Any], team_field: str, team_name: str) -> list[Ev]:
    out = []
    for h in issue["changelog"]["histories"]:
        if "author" not in h:
            continue  # the seeded creation entry
        who, name, email = _jira_person(store, h["author"])
        at = _t(h["created"])
        for item in h["items"]:
            if item.get("fieldId") == team_field or item.get("field") == team_name:
                out.append(Ev(at, who, "team", name, email, before=item.get("fromString"), after=item.get("toString")))
            elif item.get("field") == "labels":
                b = set((item.get("fromString") or "").split())
                a = set((item.get("toString") or "").split())
                out.append(Ev(at, who, "tags", name, email, added=frozenset(a - b), removed=frozenset(b - a)))
            elif item.get("field") == "status":
                out.append(Ev(at, who, "status", name, email, before=_jira_status(item.get("fromString")),
                              after=_jira_status(item.get("toString"))))
    return out


def _jira_status(name: str | None) -> str:
    if name in JIRA_PAUSED:
        return JIRA_PAUSED[name]
    return "solved" if name in ("Resolved", "Done", "Closed") else "new" if name == "To Do" else "open"
