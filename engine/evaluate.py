"""evaluate(ticket, policy, now) -> Decision: the whole escalation logic, pure.

Precedence, first match wins (each step's reasons are kept):
1. closed tickets: only the post-escalation review flag of top-tier tickets;
2. frozen tickets (ping-pong tag present): nothing moves;
3. customer-tier routing of a ticket that has no tier yet;
4. policy-wide rules and severity overrides that route UP to a fixed tier;
5. de-escalation rules (the only way down, after a minimum stay);
6. manual triggers (the agent's tag), refused without context;
7. the current tier's condition criteria, then its SLA criteria;
8. periodic update obligations (a reminder, then an escalation).

The receiving tier owns the ticket (seed 000, "Don't allow ping-pong"):
an override below the current tier does nothing, and a ticket that moved
`max_moves` times within the window is frozen and flagged instead of moved.

Idempotence: once a decision's actions are applied (see `apply_decision`),
evaluating again yields no actions. Results that depend only on the ticket's
content are cached per ticket version (`Evaluator`).
"""

from __future__ import annotations

import math
from collections import OrderedDict
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from tierlift.engine import notes
from tierlift.engine.conditions import Condition, TicketView
from tierlift.engine.durations import format_business, format_span
from tierlift.engine.marker import escalation_id, format_marker, parse_markers
from tierlift.engine.model import (
    Action,
    AddTags,
    Comment,
    Decision,
    Flag,
    InternalNote,
    Notify,
    PublicReply,
    Reassign,
    RemoveTags,
    SetPriority,
    Ticket,
    TierMove,
)
from tierlift.engine.policy import Policy, Rule, Tier
from tierlift.engine.sla import plan_clocks, read_clocks, reply_times

REMINDER_PREFIX = "[tierlift reminder="


@dataclass
class _Move:
    to: int
    rule: str
    reason: str
    kind: str = "escalate"
    team: str | None = None
    notify: tuple[str, ...] = ()
    remove: tuple[str, ...] = ()
    severity_rule: bool = False


class Evaluator:
    """A policy plus a per-version cache of content-only condition results."""

    def __init__(self, policy: Policy, cache_size: int = 200_000):
        self.policy = policy
        self._cache: OrderedDict[tuple[str, str], dict[int, bool]] = OrderedDict()
        self._cache_size = cache_size

    def evaluate(self, ticket: Ticket, now: datetime) -> Decision:
        return _evaluate(self, ticket, now, follow=True)

    # -- cached condition results ----------------------------------------------
    def _facts(self, ticket: Ticket) -> dict[int, bool]:
        key = (ticket.id, ticket.version or ticket.updated_at.isoformat())
        facts = self._cache.get(key)
        if facts is None:
            facts = {}
            self._cache[key] = facts
            if len(self._cache) > self._cache_size:
                self._cache.popitem(last=False)
        return facts

    def holds(self, cond: Condition, view: TicketView, facts: dict[int, bool], now: datetime) -> bool:
        if not cond.static:
            return cond.test(view, now)
        k = id(cond)
        if k not in facts:
            facts[k] = cond.test(view, now)
        return facts[k]


def evaluate(ticket: Ticket, policy: Policy, now: datetime) -> Decision:
    """One-off evaluation (no cache). The service keeps an Evaluator per policy."""
    return Evaluator(policy, cache_size=4).evaluate(ticket, now)


def current_tier(ticket: Ticket, policy: Policy) -> int | None:
    """The highest tier tag on the ticket, or None when it carries none."""
    levels = [lv for lv in policy.tiers if policy.tier_tag(lv) in ticket.tags]
    return max(levels) if levels else None


def severity_of(ticket: Ticket, policy: Policy, ev: Evaluator | None = None) -> str | None:
    view = TicketView(ticket)
    for sev, cond in policy.severity_map:
        if cond.test(view, ticket.updated_at):
            return sev
    return None


def ledger_of(ticket: Ticket) -> tuple[TierMove, ...]:
    moves = {m.escalation_id or f"{m.at}{m.to_tier}": m for m in ticket.ledger}
    if ticket.comments:
        for m in parse_markers(c.body for c in ticket.comments if not c.public):
            if m.from_tier != m.to_tier:
                moves.setdefault(m.escalation_id, m)
    return tuple(sorted(moves.values(), key=lambda m: m.at))


def _ceil_second(t: datetime) -> datetime:
    """Wake-ups are exact to the second (never early): rounding to the minute
    could act up to 59 s after a threshold, more than a 30 s poll interval."""
    if t.microsecond == 0:
        return t
    return t.replace(microsecond=0) + timedelta(seconds=1)


def _evaluate(ev: Evaluator, ticket: Ticket, now: datetime, follow: bool) -> Decision:
    p = ev.policy
    tagged = current_tier(ticket, p)
    tier_before = tagged or 1
    facts = ev._facts(ticket)
    # A quiet ticket (nothing fired last time) stays quiet until its earliest
    # time-based event: a wake-up before then is a dictionary look-up.
    quiet_key = ("quiet", tagged, ticket.ledger[-1] if ticket.ledger else None, ticket.comments is None)
    quiet = facts.get(quiet_key)  # type: ignore[call-overload]
    if quiet is not None and (quiet[0] is None or now < quiet[0]):
        return Decision(ticket.id, tier_before, tier_before, (), quiet[1], quiet[0], kind=quiet[2])
    severity = None
    view = TicketView(ticket, None)
    for sev, cond in p.severity_map:
        if ev.holds(cond, view, facts, now):
            severity = sev
            break
    view.severity = severity
    reasons: list[str] = []
    wakes: list[datetime] = []

    def none(kind: str = "none", needs_comments: bool = False) -> Decision:
        wake = _ceil_second(min(wakes)) if wakes else None
        if not needs_comments:
            facts[quiet_key] = (wake, tuple(reasons), kind)  # type: ignore[index]
        return Decision(ticket.id, tier_before, tier_before, (), tuple(reasons), wake, kind=kind,
                        needs_comments=needs_comments)

    # 1. closed tickets
    if ticket.is_closed:
        review = p.review
        if review and tier_before >= review.level and review.tag not in ticket.tags and ticket.status == "solved":
            due = (ticket.solved_at or now) + review.within
            body = (f"Post-escalation review due by {due.strftime('%Y-%m-%d %H:%M UTC')}: this ticket was handled "
                    f"at L{tier_before}. Record the root cause and what would have let a lower tier resolve it.")
            reasons.append(f"solved at L{tier_before}: post-escalation review due by {due:%Y-%m-%d %H:%M} UTC")
            return _marked(ticket, tier_before, "review", "review", (Flag(review.tag, "post-escalation review due"),),
                           body, reasons, now)
        return none()

    # 2. frozen
    if p.ping_pong.tag in ticket.tags:
        reasons.append(f"frozen by the ping-pong guard (tag {p.ping_pong.tag}): no automatic moves")
        return none("frozen")

    ledger = ledger_of(ticket)
    tier = p.tiers.get(tier_before) or p.tiers[1]
    tier_start = _tier_start(ticket, ledger, tier_before)
    cal = p.calendar_for(tier)
    plan = ticket.organization.plan if ticket.organization else None
    first_target = tier.first_response.for_ticket(plan, severity)
    resolution_target = tier.resolution.for_ticket(plan, severity)
    plan_key = ("clocks", tier_before, tier_start)
    clock_plans = facts.get(plan_key)  # type: ignore[call-overload]
    if clock_plans is None:
        clock_plans = plan_clocks(ticket, cal, tier_start, first_target, resolution_target, p.pause_statuses, now)
        facts[plan_key] = clock_plans  # type: ignore[index]
    move: _Move | None = None

    # 3. customer-tier routing
    if tagged is None:
        for route in p.routing:
            if route.start_tier > 1 and ev.holds(route.when, view, facts, now):
                move = _Move(route.start_tier, route.name, f"starts at L{route.start_tier}: {route.when.describe}", "route")
                break

    # 4. policy-wide rules and severity overrides (up only)
    if move is None:
        best: Rule | None = None
        for rule in p.rules:
            if rule.to is not None and rule.to > tier_before and rule.when and ev.holds(rule.when, view, facts, now):
                if best is None or rule.to > best.to:  # type: ignore[operator]
                    best = rule
            elif rule.to is not None and rule.to <= tier_before and rule.when and ev.holds(rule.when, view, facts, now):
                reasons.append(f"{rule.name}: already at L{tier_before} (the receiving tier owns the ticket)")
        if best is not None:
            move = _Move(best.to, best.name, best.text if best.kind == "severity" else f"{best.text}",  # type: ignore[arg-type]
                         team=best.team, notify=best.notify, severity_rule=best.kind == "severity")

    # 5. de-escalation
    if move is None:
        for rule in p.de_escalations:
            target = rule.to if rule.to is not None else tier_before - 1
            if target < 1 or target >= tier_before or not ev.holds(rule.when, view, facts, now):
                continue
            stay_until = tier_start + rule.min_stay
            if now < stay_until:
                reasons.append(f"{rule.name}: waits for the minimum stay at L{tier_before} (until {stay_until:%Y-%m-%d %H:%M} UTC)")
                wakes.append(stay_until)
                continue
            move = _Move(target, rule.name, f"de-escalation: {rule.when.describe}", "de-escalate", remove=rule.remove_tags)
            break

    # 6. manual trigger
    if move is None and tier_before < p.top_tier:
        for rule in tier.rules:
            if rule.kind != "manual" or rule.tag not in ticket.tags:
                continue
            if ticket.comments is None and rule.requires_context:
                reasons.append("manual escalation requested: comments needed to check its context")
                return none(needs_comments=True)
            missing = _missing_context(ticket, p.required_context) if rule.requires_context else []
            if missing:
                reasons.append(f"manual escalation refused: missing {', '.join(missing)}")
                if p.incomplete_tag in ticket.tags:
                    return none("refused")
                body = notes.refusal_note(ticket, missing, p.incomplete_tag, rule.tag or p.manual_tag)
                return _marked(ticket, tier_before, rule.name, "refused", (AddTags((p.incomplete_tag,)),),
                               body, reasons, now)
            remove = tuple(t for t in (rule.tag, p.incomplete_tag) if t in ticket.tags)
            move = _Move(tier_before + 1, "manual", f"manual escalation ({rule.text})", remove=remove)
            break

    # 7. condition and SLA criteria of the current tier
    if move is None and tier_before < p.top_tier:
        for rule in tier.rules:
            if rule.kind == "condition" and rule.when:
                if ev.holds(rule.when, view, facts, now):
                    to = rule.to if rule.to and rule.to > tier_before else tier_before + 1
                    move = _Move(to, rule.name, rule.text, team=rule.team, notify=rule.notify)
                    break
                if rule.when.next_change:
                    nxt = rule.when.next_change(view, now)
                    if nxt:
                        wakes.append(nxt)
        if move is None:
            move = _sla_move(tier, tier_before, clock_plans, now, wakes)

    # 8. update obligations
    if move is None:
        upd = _updates(ev, ticket, view, facts, ledger, tier_before, now, reasons, wakes)
        if isinstance(upd, Decision):
            return upd
        if upd == "needs_comments":
            return none(needs_comments=True)
        move = upd

    if move is None:
        for c in clock_plans:
            nxt = min((at for _pct, at in c.crossings if at > now), default=None)
            state = ("met" if c.stopped else "paused" if c.paused else
                     f"next threshold at {nxt:%Y-%m-%d %H:%M} UTC" if nxt else "running")
            reasons.append(f"L{tier_before} {c.metric.replace('_', ' ')} ({format_business(c.target, c.day_hours)}): {state}")
        return none()

    # The ping-pong guard: too many moves in the window freezes the ticket.
    recent = [m for m in ledger if m.at > now - p.ping_pong.window]
    if len(recent) >= p.ping_pong.max_moves:
        reasons.append(f"would move L{tier_before} -> L{move.to} ({move.rule}), but it moved {len(recent)} times "
                       f"within {format_span(p.ping_pong.window)}: frozen")
        body = notes.frozen_note(ticket, len(recent), format_span(p.ping_pong.window), p.ping_pong.tag)
        return _marked(ticket, tier_before, move.rule, "frozen", (Flag(p.ping_pong.tag, "ping-pong guard"),),
                       body, reasons, now)

    clocks = read_clocks(ticket, cal, tier_start, first_target, resolution_target, p.pause_statuses, now)
    decision = _build_move(ev, ticket, view, facts, move, tier_before, severity, clocks, now, reasons)
    if follow:
        after = _evaluate(ev, apply_decision(ticket, decision, now), now, follow=False)
        wake = now if after.has_actions else after.wake_up
        decision = replace(decision, wake_up=wake)
    return decision


def _marked(ticket: Ticket, tier: int, rule: str, kind: str, actions: tuple, body: str,
            reasons: list[str], now: datetime) -> Decision:
    """A decision that writes a note but moves nothing; its note carries a marker too,
    so a restarted daemon can tell whether it landed."""
    esc_id = escalation_id(ticket.id, ticket.version or ticket.updated_at.isoformat(), tier, tier, kind + ":" + rule)
    note = f"{body}\n\n{format_marker(esc_id, tier, tier, kind + ':' + rule, now)}"
    return Decision(ticket.id, tier, tier, actions + (InternalNote(note),), tuple(reasons), None,
                    rule=rule, escalation_id=esc_id, kind=kind)


def _tier_start(ticket: Ticket, ledger: tuple[TierMove, ...], tier: int) -> datetime:
    if ledger and ledger[-1].to_tier == tier:
        return max(ledger[-1].at, ticket.created_at)
    since = ticket.fields.get("tier_since") if ticket.fields else None
    if isinstance(since, datetime):
        return since
    return ticket.created_at


def _sla_move(tier: Tier, level: int, plans, now: datetime, wakes: list[datetime]) -> _Move | None:
    for rule in tier.rules:
        if rule.kind != "sla":
            continue
        for c in plans:  # shortest target first: it crosses first
            if rule.sla_metric not in ("any", c.metric) or not c.running:
                continue
            at = c.crossing(rule.sla_pct)
            if now >= at:
                return _Move(level + 1, rule.name,
                             f"{rule.text}: L{level} {c.metric.replace('_', ' ')} clock reached {rule.sla_pct:g}% "
                             f"of {format_business(c.target, c.day_hours)} at {at:%Y-%m-%d %H:%M} UTC")
            wakes.append(at)
            break  # a longer target crosses later still
    return None


def _missing_context(ticket: Ticket, required: tuple[str, ...]) -> list[str]:
    found = notes.extract_context(ticket)
    return [name for name in required if not found.get(name)]


def _updates(ev, ticket, view, facts, ledger, tier_before, now, reasons, wakes):
    p = ev.policy
    for ob in p.updates:
        if not ev.holds(ob.when, view, facts, now):
            continue
        if ticket.comments is None:
            return "needs_comments"
        anchor = max(reply_times(ticket) + [ticket.created_at])
        missed = math.floor((now - anchor) / ob.every)
        if missed >= ob.escalate_after and tier_before < p.top_tier:
            rule = f"update-missed-{ob.name}"
            if not any(m.rule == rule and m.at > anchor for m in ledger):
                return _Move(tier_before + 1, rule,
                             f"{ob.name}: no public update for {format_span(now - anchor)} (every {format_span(ob.every)} required)")
        if missed >= 1:
            reminded = any(c.body.startswith(REMINDER_PREFIX) or REMINDER_PREFIX in c.body
                           for c in ticket.comments if not c.public and c.created_at > anchor)
            if not reminded:
                rid = escalation_id(ticket.id, anchor.isoformat(), tier_before, tier_before, ob.name)
                body = (f"Reminder: this ticket needs a public update every {format_span(ob.every)} ({ob.name}); "
                        f"the last one was {format_span(now - anchor)} ago. A further miss escalates it.\n"
                        f"{REMINDER_PREFIX}{rid} rule={ob.name} at={now:%Y-%m-%dT%H:%M:%SZ}]\n"
                        f"{format_marker(rid, tier_before, tier_before, 'reminder:' + ob.name, now)}")
                reasons.append(f"{ob.name}: public update overdue")
                return Decision(ticket.id, tier_before, tier_before, (InternalNote(body),), tuple(reasons),
                                _ceil_second(anchor + ob.every * ob.escalate_after), rule=ob.name,
                                escalation_id=rid, kind="reminder")
        wakes.append(anchor + ob.every * (missed + 1))
    return None


def team_for(tier: Tier, view: TicketView, ev: Evaluator, facts, now) -> str:
    for choice in tier.teams:
        if choice.when is None or ev.holds(choice.when, view, facts, now):
            return choice.team
    return tier.default_team


def _build_move(ev: Evaluator, ticket: Ticket, view: TicketView, facts, move: _Move, tier_before: int,
                severity: str | None, clocks, now: datetime, reasons: list[str]) -> Decision:
    p = ev.policy
    target = p.tiers[move.to]
    team = move.team or team_for(target, view, ev, facts, now)
    esc_id = escalation_id(ticket.id, ticket.version or ticket.updated_at.isoformat(), tier_before, move.to, move.rule)
    marker = format_marker(esc_id, tier_before, move.to, move.rule, now)
    reasons.append(f"L{tier_before} -> L{move.to} ({move.rule}): {move.reason}")
    note = notes.escalation_note(notes.NoteInput(
        ticket=ticket, policy_name=p.name, tier_from=tier_before, tier_to=move.to, tier_name=target.name,
        team=team, rule=move.rule, reason=move.reason, now=now, clocks=tuple(clocks), next_step=target.next_step,
        context=notes.extract_context(ticket), marker=marker,
        day_hours=p.calendar_for(p.tiers.get(tier_before) or p.tiers[1]).day_hours))
    old_tags = tuple(sorted(t for t in p.tier_tags if t in ticket.tags and t != p.tier_tag(move.to)))
    remove = tuple(sorted(set(old_tags) | {t for t in move.remove if t in ticket.tags}))
    actions: list[Action] = [Reassign(team), AddTags((p.tier_tag(move.to),))]
    if remove:
        actions.append(RemoveTags(remove))
    if move.severity_rule and severity in ("P0", "P1") and ticket.priority != "urgent":
        actions.append(SetPriority("urgent"))
    actions.append(InternalNote(note))
    moving_up = move.to > tier_before
    cal = p.calendar_for(target)
    plan = ticket.organization.plan if ticket.organization else None
    if moving_up and p.customer_notification is not None:
        first = target.first_response.for_ticket(plan, severity)
        due = cal.add(now, first) if first else None
        due_text = notes.local_time(due, cal.timezone) if due else "as soon as possible"
        body = notes.fill(p.customer_notification.body, notes.template_values(
            ticket, tier_name=target.name, tier_to=move.to, expected_response=due_text))
        actions.append(PublicReply(body))
    for channel in move.notify:
        tpl = p.templates.get(move.rule) or p.templates.get(channel)
        values = notes.template_values(ticket, tier_from=tier_before, tier_to=move.to, tier_name=target.name,
                                       team=team, rule=move.rule, reason=move.reason, severity=severity or "",
                                       escalation_id=esc_id, timestamp=now.strftime("%Y-%m-%d %H:%M UTC"))
        if tpl:
            subject, body = notes.fill(tpl.subject, values), notes.fill(tpl.body, values)
        else:
            subject = f"[L{move.to}] Ticket {ticket.id} escalated: {ticket.subject}"[:200]
            body = f"Ticket {ticket.id} moved L{tier_before} -> L{move.to} ({team}) by rule {move.rule}: {move.reason}"
        actions.append(Notify(channel, subject, body))
    return Decision(ticket.id, tier_before, move.to, tuple(actions), tuple(reasons), None,
                    rule=move.rule, escalation_id=esc_id, kind=move.kind)


def apply_decision(ticket: Ticket, decision: Decision, at: datetime) -> Ticket:
    """The ticket as it reads after a decision's actions landed (for simulation and tests)."""
    tags = set(ticket.tags)
    group = ticket.group
    priority = ticket.priority
    comments = list(ticket.comments) if ticket.comments is not None else None
    for a in decision.actions:
        if isinstance(a, AddTags):
            tags |= set(a.tags)
        elif isinstance(a, RemoveTags):
            tags -= set(a.tags)
        elif isinstance(a, Flag):
            tags.add(a.flag)
        elif isinstance(a, Reassign):
            group = a.team
        elif isinstance(a, SetPriority):
            priority = a.priority
        elif isinstance(a, InternalNote | PublicReply) and comments is not None:
            comments.append(Comment("tierlift", a.body, isinstance(a, PublicReply), at))
    ledger = ticket.ledger
    if decision.tier_after != decision.tier_before:
        ledger = ledger + (TierMove(at, decision.tier_before, decision.tier_after, decision.rule or "",
                                    decision.escalation_id or ""),)
    return replace(ticket, tags=frozenset(tags), group=group, priority=priority,
                   comments=tuple(comments) if comments is not None else None, ledger=ledger,
                   updated_at=max(at, ticket.updated_at), version=f"{ticket.version}+{decision.escalation_id or 'x'}")
