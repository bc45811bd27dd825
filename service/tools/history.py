"""`tierlift history --config FILE TICKET`: one ticket's story, from the state and the helpdesk.

What tierlift decided (rule, note, customer reply, notifications, refusals,
quarantine) comes from the state's journal; what happened to the ticket comes
from the helpdesk's own record: the note markers (every move tierlift made,
even one whose journal row was compacted or whose state was lost) and the
changes with their authors (a person who moved the ticket). Where the state
lacks the ticket, the helpdesk alone tells the moves; with `--offline`, or when
the helpdesk does not answer, the state's last snapshot stands in for it.

The current clocks are the engine's: the ticket evaluated at the daemon's own
clock (`tool_now`: the sandbox's under `clock: {follow: URL}`).

Invariants: read only (no helpdesk write, no state write); every text shown
passes through `redact`.
"""

from __future__ import annotations

import io
import json
import re
import sys
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, TextIO

from tierlift.engine.calendar import BusinessCalendar
from tierlift.engine.durations import (
    format_business,
    format_business_span,
)
from tierlift.engine.evaluate import Evaluator, entry_rule, ledger_of, severity_of, tier_clocks
from tierlift.engine.marker import parse_markers
from tierlift.engine.model import Change, Ticket
from tierlift.engine.policy import Policy, Rule
from tierlift.engine.serialize import ticket_from_dict
from tierlift.engine.sla import ClockReading, crossing_time
from tierlift.engine.triage import Classifier
from tierlift.service.daemon.config import HelpdeskConfig, load_config
from tierlift.service.daemon.state import Intent, Store, open_store, state_exists
from tierlift.service.daemon.store.base import Unsent
from tierlift.service.daemon.triage import (
    UnknownTriageModel,
    chosen_classifier,
    chosen_model,
    classifier_for,
    uses_triage,
)
from tierlift.service.daemon.writes import GIVEN_UP
from tierlift.service.ops.notify import Escalation, bare_channels, without_words
from tierlift.service.ops.redact import redact
from tierlift.service.tools.clock import tool_now


@dataclass
class Event:
    at: datetime
    kind: str  # escalate / route / de-escalate / refused / reminder / review / moved-by-person / quarantined ...
    summary: str
    source: str  # "state", "helpdesk" or "state+helpdesk"
    by: str = "tierlift"
    status: str = ""
    note: str | None = None
    reply: str | None = None
    notifications: list[dict[str, Any]] = field(default_factory=list)
    escalation_id: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {"at": self.at.isoformat(), "kind": self.kind, "summary": self.summary, "source": self.source,
                "by": self.by, "status": self.status, "note": self.note, "reply": self.reply,
                "notifications": self.notifications, "escalation_id": self.escalation_id}


@dataclass
class Story:
    helpdesk: str
    kind: str
    policy: str
    ticket_id: str
    now: datetime
    ticket: Ticket | None = None
    sources: dict[str, str] = field(default_factory=dict)
    events: list[Event] = field(default_factory=list)
    clocks: list[dict[str, Any]] = field(default_factory=list)
    decision: dict[str, Any] | None = None
    quarantine: list[dict[str, Any]] = field(default_factory=list)
    tier: int | None = None

    def to_dict(self) -> dict[str, Any]:
        t = self.ticket
        return {"helpdesk": self.helpdesk, "kind": self.kind, "policy": self.policy, "ticket": self.ticket_id,
                "now": self.now.isoformat(), "sources": self.sources,
                "status": t.status if t else None, "subject": t.subject if t else None,
                "tier": self.tier, "team": (t.team or t.group) if t else None,
                "events": [e.to_dict() for e in self.events], "clocks": self.clocks,
                "decision_now": self.decision, "quarantine": self.quarantine}


PLANNED = "(dry run)"  # what a plan's status says in the story


# --- reading --------------------------------------------------------------------------


def _from_state(story: Story, store: Store, name: str, bare: frozenset[str] = frozenset()) -> Ticket | None:
    """Journal events and quarantine; the index snapshot, if the ticket is indexed."""
    pending = {(n.escalation_id, n.channel): n for n in store.unsent_notifications(name)}
    for i in store.decisions(name):
        if i.ticket_id == story.ticket_id:
            story.events.append(_intent_event(i, pending, bare))
    for q in store.quarantined(name):
        if q.ticket_id == story.ticket_id:
            story.quarantine.append({"error": redact(q.error), "since": q.first_at.isoformat(),
                                     "attempts": q.attempts, "next_retry": q.next_retry.isoformat()})
            story.events.append(Event(q.first_at, "quarantined", f"quarantined: {redact(q.error)}", "state",
                                      status=f"{q.attempts} attempt(s), next retry {q.next_retry:%Y-%m-%d %H:%M} UTC"))
    entry = store.get(name, [story.ticket_id]).get(story.ticket_id)
    story.sources["state"] = f"{sum(e.source == 'state' for e in story.events)} journal entries" + (
        ", indexed" if entry else ", not in the index")
    if entry is None:
        return None
    try:
        return ticket_from_dict(json.loads(entry.snapshot))
    except (ValueError, KeyError, TypeError):
        return None


def _intent_event(i: Intent, pending: dict[tuple[str, str], Unsent], bare: frozenset[str] = frozenset()) -> Event:
    note, reply, notes = _told(i, pending, bare)
    moved = i.tier_before != i.tier_after
    move = f"L{i.tier_before} -> L{i.tier_after}" if moved else f"L{i.tier_after}"
    team = f" to {i.team}" if i.team and i.team != "-" and moved else ""
    # A plan's detail repeats what "(dry run)" says ("...held back dry-run": QA, a new adopter).
    detail = re.sub(r"\s*\bdry-run$", "", i.detail or "") if i.planned else i.detail
    status = i.status + (f" {PLANNED}" if i.planned else "") + (f": {redact(detail)}" if detail else "")
    return Event(i.created_at or datetime.min, i.kind, f"{move} {i.kind}{team}, rule {i.rule}", "state",
                 status=status, note=note, reply=reply, notifications=notes, escalation_id=i.escalation_id)


def _told(i: Intent, pending: dict[tuple[str, str], Unsent],
          bare: frozenset[str] = frozenset()) -> tuple[str | None, str | None, list[dict[str, Any]]]:
    """The decision's internal note, customer reply and notifications, as the journal kept them;
    a notification to a channel in `bare` (customer_words: false) as it was sent, without the
    ticket's words (QA: history showed the name and card number a page never carried)."""
    try:
        decision = json.loads(i.decision)
    except ValueError:
        decision = {}
    note = reply = None
    notes: list[dict[str, Any]] = []
    for a in decision.get("actions") or []:
        if a.get("type") == "internal_note":
            note = redact(str(a.get("body") or ""))
        elif a.get("type") == "public_reply":
            reply = redact(str(a.get("body") or ""))
        elif a.get("type") == "notify":
            ch = str(a.get("channel"))
            subject = str(a.get("subject") or "")
            if ch in bare:
                subject = without_words(subject, Escalation(i.helpdesk, i.ticket_id, "", i.tier_before, i.tier_after,
                                                            i.rule, "", ""))[0]
            notes.append({"channel": ch, "subject": redact(subject), "status": _notification_status(i, ch, pending)})
    return note, reply, notes


def _notification_status(i: Intent, channel: str, pending: dict[tuple[str, str], Unsent]) -> str:
    """Whether the journal says the notification went out: an unsent row is still being
    retried, or was given up (writes.Notifications.retry)."""
    if i.planned:
        return "not sent (dry run)"
    n = pending.get((i.escalation_id, channel))
    if n is not None and n.detail.startswith(GIVEN_UP):
        return f"not sent: {redact(n.detail)}"
    if n is not None:
        last = f", last: {redact(n.detail)}" if n.detail else ""
        return f"not sent yet ({n.attempts} failed attempt(s){last}; still retried)"
    return "sent" if i.status == "done" else "not sent"


def _from_helpdesk(story: Story, hd: HelpdeskConfig) -> Ticket | None:
    """The ticket with its comments and changes, read from the helpdesk (no write)."""
    from tierlift.service.daemon.connect import make_connector

    connector = make_connector(hd, None)
    try:
        connector.open()
        found = connector.fetch([story.ticket_id]).get(story.ticket_id)
        if found is None:
            # A ticket the daemon quarantined is one the helpdesk returns and the connector
            # cannot read: "not found" sent the operator looking for a deletion.
            story.sources["helpdesk"] = ("returned, but not readable: quarantined (below)" if story.quarantine else
                                         "not found (deleted, or outside the helpdesk's scope)")
            return None
        ticket = connector.with_comments(found)
    except Exception as exc:  # the story is still told from the state
        story.sources["helpdesk"] = f"not read: {exc.__class__.__name__}: {redact(str(exc))}"
        return None
    finally:
        connector.close()
    story.sources["helpdesk"] = f"{len(ticket.comments or ())} comments" + (
        f", {len(ticket.history)} changes" if ticket.history is not None else "")
    return ticket


def _helpdesk_events(story: Story, ticket: Ticket, policy: Policy) -> None:
    """Moves the helpdesk records: tierlift's note markers, and changes people made."""
    journaled = {e.escalation_id: e for e in story.events if e.escalation_id}
    # Every note tierlift writes carries a marker (refusals and reminders too): the
    # journal entry whose marker is on the ticket has landed.
    for m in parse_markers(c.body for c in ticket.comments or () if not c.public):
        if m.escalation_id in journaled:
            journaled[m.escalation_id].source = "state+helpdesk"
    _ledger_events(story, ticket, journaled)
    _people_changes(story, ticket, policy)


def _ledger_events(story: Story, ticket: Ticket, journaled: dict[str, Event]) -> None:
    """Tier moves from the ticket's ledger that the journal does not already tell.

    A person's move that tierlift recorded is one event, the person's, at the move's own
    instant: the journal's entry is tierlift's note about it, not a move of tierlift's."""
    for m in ledger_of(ticket):
        seen = journaled.get(m.escalation_id)
        if seen is not None and not m.human:
            seen.source = "state+helpdesk"  # the note is on the ticket: the move landed
            continue
        by = redact(m.actor or "a person") if m.human else "tierlift"
        summary = f"L{m.from_tier} -> L{m.to_tier}" + ("" if m.rule == "human-move" else f", rule {m.rule}")
        moved = Event(m.at, "moved-by-person" if m.human else "move", summary, "helpdesk", by=by,
                      escalation_id=m.escalation_id)
        if seen is not None:  # recorded by tierlift: its note goes with the person's move
            moved = replace(seen, at=m.at, kind="moved-by-person", summary=summary, by=by, source="state+helpdesk",
                            status=f"recorded by tierlift at {seen.at:%Y-%m-%d %H:%M} UTC, {seen.status}")
            story.events.remove(seen)
        story.events.append(moved)


def _people_changes(story: Story, ticket: Ticket, policy: Policy) -> None:
    """Tier tags and team changes a person made (automations' changes are tierlift's or a
    trigger's). A change that is part of a move the ledger tells (the same minute) is told
    with that move: "L1 -> L2 (team support-generalists -> support-specialists)"."""
    tier_tags = {policy.tier_tag(level): level for level in policy.tiers}
    moves = [e for e in story.events if e.kind == "moved-by-person" and e.escalation_id]
    for c in ticket.history or ():
        summary = None if c.automated else _person_change(c, tier_tags)
        if not summary:
            continue
        move = next((e for e in moves if abs((e.at - c.at).total_seconds()) < 60), None)
        if move is None:
            story.events.append(Event(c.at, "moved-by-person", summary, "helpdesk", by=redact(c.author or "a person")))
        elif c.field == "team":
            move.summary += f" ({summary})"


def _person_change(c: Change, tier_tags: dict[str, int]) -> str | None:
    """What a change did to the ticket's tier or team, None when it touched neither."""
    if c.field == "tags":
        levels = ", ".join(f"L{tier_tags[t]}" for t in c.added if t in tier_tags)
        return f"tier tag set to {levels}" if levels else None
    if c.field == "team" and c.after != c.before:
        return f"team {c.before or '-'} -> {c.after or '-'}"
    return None


# --- the clocks now -------------------------------------------------------------------


def _clocks(story: Story, ticket: Ticket, policy: Policy, classifier: Classifier | None = None) -> None:
    """The engine's view at `story.now`: the tier's SLA clocks, the next threshold, what it would do."""
    now = story.now
    story.decision = _decision_now(ticket, policy, now, classifier)
    if story.decision["kind"] == "unknown-tier":
        return  # left alone: no clock of this policy runs for it (QA: L1's, with a threshold never acted on)
    level, _start, readings = tier_clocks(ticket, policy, now)
    story.tier = level
    tier = policy.tiers.get(level) or policy.tiers[1]
    # The calendar the engine reads these clocks by: an on-call tier's own for a severity
    # it pages for, or for the rule that moved the ticket there (three-tier: P0/P1 and the
    # incidents read from the words at L3 run 24x7). The tier's business calendar was
    # used: a P0's 30 on-call minutes read "business minutes", its next threshold later.
    cal = policy.calendar_for(tier, severity_of(ticket, policy), entry_rule(ledger_of(ticket), level))
    rules = sorted((r for r in tier.rules if r.kind == "sla"), key=lambda r: r.sla_pct)
    for r in readings:
        # Stopped past its target is late, not met (QA: "53 minutes of 30 minutes used
        # (176.7%), met" beside a report that counted the same clock as breached).
        state = ("met late" if r.left.total_seconds() < 0 else "met") if r.stopped \
            else "paused" if r.paused else "running"
        over = not r.stopped and r.left.total_seconds() < 0
        story.clocks.append({"metric": r.metric, "tier": level, "since": r.start.isoformat(),
                             "elapsed": _span(r.elapsed, cal), "target": _target(r.target, cal),
                             "percent": round(r.share, 1), "state": state,
                             "breached": f"{_span(-r.left, cal)} ago" if over else None,
                             "next_threshold": _next_threshold(rules, r, cal, now)})


def _span(delta: timedelta, cal: BusinessCalendar) -> str:
    """A span as the calendar counts it: business time (a day is its open day), plain time
    on a calendar open round the clock (an on-call tier's 24x7)."""
    return format_business_span(delta, cal.day_hours)


def _target(delta: timedelta, cal: BusinessCalendar) -> str:
    return format_business(delta, cal.day_hours)


def _classifier(hd: HelpdeskConfig, store: Store | None, story: Story) -> Classifier | None:
    """The classifier the daemon reads this entry with: its `triage_model` setting, then the
    refit accepted for it. History read with the shipped model whatever was accepted, and said
    "due now: triage-review" for tickets the daemon (and `plan`) left alone."""
    if store is None or not uses_triage(hd.policy):  # no state: nothing was learnt or accepted
        return classifier_for(hd.policy)
    try:
        chosen = chosen_model(store, hd.name, hd.options.triage_model)
    except UnknownTriageModel as exc:  # the daemon runs no cycle of this entry; the story is still told
        story.sources["triage"] = f"{exc}; decided with the shipped model"
        return classifier_for(hd.policy)
    if chosen is not None:
        story.sources["triage"] = f"refit {chosen[1]}"
    return classifier_for(hd.policy, chosen_classifier(store, hd.name, hd.options.triage_model))


def _decision_now(ticket: Ticket, policy: Policy, now: datetime,
                  classifier: Classifier | None = None) -> dict[str, Any]:
    """What the engine would do now with `classifier` (None: the shipped one, if the policy
    reads any); a ticket read without comments is evaluated as having none."""
    ev = Evaluator(policy, classifier=classifier or classifier_for(policy))
    d = ev.evaluate(ticket, now)
    if d.needs_comments and ticket.comments is None:
        d = ev.evaluate(replace(ticket, comments=()), now)
    # Still needing them with none: the decision turns on the ticket's history (audits,
    # changelog), which a snapshot read offline does not carry. Not "nothing due".
    undecided = (redact(d.reasons[-1]) if d.reasons else "its history is needed") if d.needs_comments else None
    return {"kind": d.kind, "tier_before": d.tier_before, "tier_after": d.tier_after, "rule": d.rule,
            "actions": [a.type for a in d.actions], "reasons": [redact(r) for r in d.reasons],
            "wake_up": d.wake_up.isoformat() if d.wake_up else None, "undecided": undecided}


def _next_threshold(rules: list[Rule], r: ClockReading, cal: BusinessCalendar,
                    now: datetime) -> dict[str, Any] | None:
    """The first SLA rule this clock has yet to cross, and when; none for a met (stopped) clock."""
    if r.stopped:
        return None
    for rule in rules:
        if rule.sla_metric in ("any", r.metric) and r.share < rule.sla_pct:
            at = crossing_time(cal, r, rule.sla_pct, now)
            return {"percent": rule.sla_pct, "rule": rule.name, "at": at.isoformat() if at else None}
    return None


# --- the command ----------------------------------------------------------------------


def tell(hd: HelpdeskConfig, ticket_id: str, now: datetime, store: Store | None, *,
         offline: bool = False, bare: frozenset[str] = frozenset()) -> Story | None:
    """One helpdesk's story of the ticket; None when neither the state nor the helpdesk knows it."""
    story = Story(hd.name, hd.kind, hd.policy.name, ticket_id, now)
    snapshot = _from_state(story, store, hd.name, bare) if store is not None else None
    live = None if offline else _from_helpdesk(story, hd)
    ticket = live or snapshot
    if ticket is None and not story.events:
        return None
    if live is not None:
        _helpdesk_events(story, live, hd.policy)
    elif snapshot is not None:
        story.sources.setdefault("helpdesk", "not read (--offline)" if offline else "not read")
        story.sources["ticket"] = "the state's last snapshot"
    story.ticket = ticket
    story.events.sort(key=lambda e: (e.at, e.kind))
    if ticket is not None:
        # The tier's clocks run from the move into it: the journal's ledger says when, as the
        # daemon's evaluation reads it (a snapshot or an offline read carries no note markers).
        if store is not None and not ticket.ledger:
            ticket = replace(ticket, ledger=tuple(store.ledger_moves(hd.name, ticket.id)))
        _clocks(story, ticket, hd.policy, _classifier(hd, store, story))
    return story


def _knowing(selected: list[HelpdeskConfig], store: Store | None, ticket_id: str,
             named: str | None, asked: dict[str, str] | None = None) -> list[HelpdeskConfig]:
    """Without --helpdesk, the helpdesks whose state knows the ticket (its index or journal);
    all of them when none does. QA (fleet): asking each of 20 helpdesks for it waited minutes
    on one that hung, for a ticket only another knew."""
    if named is not None or store is None or len(selected) < 2:
        return selected
    ids = asked or {}
    knowing = [hd for hd in selected if store.get(hd.name, [ids.get(hd.name, ticket_id)])
               or store.ledger_moves(hd.name, ids.get(hd.name, ticket_id))]
    return knowing or selected


def _stories(selected: list[HelpdeskConfig], store: Store | None, ticket_id: str, helpdesk: str | None,
             now: datetime, *, offline: bool, bare: frozenset[str]) -> list[Story]:
    # A Jira key as people type it: Jira takes "sup-28" for SUP-28, so does this (QA).
    asked = {hd.name: ticket_id.upper() if hd.kind == "jira" else ticket_id for hd in selected}
    return [s for hd in _knowing(selected, store, ticket_id, helpdesk, asked)
            if (s := tell(hd, asked[hd.name], now, store, offline=offline, bare=bare)) is not None]


def history(config_path: Path, ticket_id: str, *, as_json: bool = False, helpdesk: str | None = None,
            offline: bool = False, out: TextIO = sys.stdout) -> int:
    cfg = load_config(config_path, read_secrets=not offline)  # --offline: the state only
    selected = [h for h in cfg.helpdesks if helpdesk in (None, h.name)]
    if not selected:
        print(f"{config_path}: no helpdesk named {helpdesk!r}", file=sys.stderr)
        return 2
    now = tool_now(cfg)
    bare = bare_channels(cfg)
    store = open_store(cfg, migrate=False) if state_exists(cfg) else None
    try:
        stories = _stories(selected, store, ticket_id, helpdesk, now, offline=offline, bare=bare)
    finally:
        if store is not None:
            store.close()
    if not stories:
        # --offline asks no helpdesk: it said "unknown ... to sandbox-zendesk" (QA).
        where = "the state" if offline else f"the state and to {', '.join(h.name for h in selected)}"
        print(f"ticket {ticket_id}: unknown to {where}", file=sys.stderr)
        return 1
    if as_json:
        out.write(json.dumps([s.to_dict() for s in stories], indent=2, ensure_ascii=False) + "\n")
    else:
        for s in stories:
            render(s, out)
    return 0


def render(s: Story, out: TextIO) -> None:
    """The story as text, its control characters shown escaped: a note or reply quoting a
    customer's "\x1b[31m" coloured (or rewrote) the reader's terminal."""
    buf = io.StringIO()
    _render(s, buf)
    out.write(_CONTROLS.sub(lambda m: m.group().encode("unicode_escape").decode("ascii"), buf.getvalue()))


_CONTROLS = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029]")


def _head(s: Story) -> str:
    t = s.ticket
    head = f"ticket {s.ticket_id} on {s.helpdesk} ({s.kind}, policy {s.policy})"
    if t is not None:
        # A ticket at a tier the policy lacks printed "LNone" (QA, a new adopter).
        level = f"L{s.tier}" if s.tier is not None else "at a tier this policy does not have"
        head += f": {redact(t.subject)[:60]!r}, {t.status}, {level}, team {t.team or t.group or '-'}"
    return head


def _render(s: Story, out: TextIO) -> None:
    out.write(_head(s) + "\n")
    out.write("read from: " + "; ".join(f"{k}: {v}" for k, v in s.sources.items()) + "\n\n")
    if not s.events:
        out.write("no tier move, refusal or note recorded\n")
    for e in s.events:
        _render_event(e, out)
    out.write(f"\nclocks at {s.now:%Y-%m-%d %H:%M} UTC:\n")
    if any(PLANNED in e.status for e in s.events):
        # QA: a rehearsal's imagined L3 -> L4 above, and "L1 first response ... due now: escalate
        # L1 -> L3" here, read as one story.
        out.write("  (as the helpdesk has the ticket: the dry run's plans above moved nothing)\n")
    for c in s.clocks:
        breached = f", breached {c['breached']}" if c["breached"] else ""
        out.write(f"  L{c['tier']} {c['metric'].replace('_', ' ')}: {c['elapsed']} of {c['target']} used"
                  f" ({_percent(c['percent'])}), {c['state']}{breached}{_then(c['next_threshold'])}\n")
    if not s.clocks:
        out.write("  none running\n" if (s.decision or {}).get("kind") != "unknown-tier"
                  else "  none: the ticket is at a tier this policy does not have\n")
    d = s.decision
    if d is not None:
        wake = f"; next wake-up {d['wake_up'][:16].replace('T', ' ')} UTC" if d["wake_up"] else ""
        out.write(f"{_due_line(d)}{wake}\n")
    out.write(f"quarantine: {s.quarantine[0]['error'] if s.quarantine else 'no'}\n\n")


def _due_line(d: dict[str, Any]) -> str:
    if d.get("undecided"):
        return f"due now: undecided without the ticket's history ({d['undecided']})"
    if d["kind"] == "unknown-tier" and d["reasons"]:
        return f"nothing due now: {d['reasons'][-1]}"
    return f"due now: {d['kind']} L{d['tier_before']} -> L{d['tier_after']} ({d['rule']})" \
        if d["actions"] else "nothing due now"


def _render_event(e: Event, out: TextIO) -> None:
    by = f" by {e.by}" if e.by != "tierlift" else ""
    out.write(f"{e.at:%Y-%m-%d %H:%M} UTC  {e.summary}{by}  [{e.source}{', ' + e.status if e.status else ''}]\n")
    if e.note:
        out.write("    note:\n" + "".join(f"      | {line}\n" for line in e.note.splitlines()))
    if e.reply:
        out.write("    customer reply:\n" + "".join(f"      > {line}\n" for line in e.reply.splitlines()))
    for n in e.notifications:
        out.write(f"    notify {n['channel']}: {n['subject']} ({n['status']})\n")


def _percent(value: float) -> str:
    """A clock's share as people read it: "77.5%", and from 1000% on in whole figures with
    thousands separators ("1,169,660%": "%g" printed a clock months past its target as "1.16966e+06%")."""
    return f"{value:g}%" if value < 1000 else f"{value:,.0f}%"


def _then(nxt: dict[str, Any] | None) -> str:
    """A clock's next threshold: when it is crossed, or "when it runs again" for a paused clock."""
    if not nxt:
        return ""
    if nxt["at"]:
        return f"; next {nxt['percent']:g}% ({nxt['rule']}) at {nxt['at'][:16].replace('T', ' ')} UTC"
    return f"; next {nxt['percent']:g}% ({nxt['rule']}) when it runs again"
