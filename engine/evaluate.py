"""evaluate(ticket, policy, now) -> Decision: the whole escalation logic, pure.

Precedence, first match wins (each step's reasons are kept):
1. closed tickets: only the post-escalation review flag of top-tier tickets;
2. human moves: the ticket's team works at another tier than its tier tag
   says, so a person moved it; tierlift fixes the tags and records the move;
3. frozen tickets (ping-pong tag present): only severity rules move them;
4. customer-tier routing of a ticket that has no tier yet;
5. policy-wide rules and severity overrides that route UP to a fixed tier;
6. de-escalation rules (the only way down, after a minimum stay), to the
   tier the customer's own routing calls for;
7. manual triggers (the agent's tag), refused without context;
8. the current tier's condition criteria, then its SLA criteria;
9. periodic update obligations (a reminder, then an escalation).

The receiving tier owns the ticket (seed 000, "Don't allow ping-pong"):
an override below the current tier does nothing, and a ticket that tierlift
moved `max_moves` times within the window is frozen and flagged instead of
moved (severity passes). A person's move is never reverted: after it, and
after any move down, only facts newer than the move (later customer
comments, tags a person added later) let a content rule move the ticket up
again, and rules about who the customer is (enterprise) stay quiet after a
person's move.

A tier's first response is the first public comment by a person on the
support side made after the ticket entered the tier; tierlift's own and
automated comments never count. Without comments loaded, only an L1 ticket
that never moved can trust the helpdesk's ticket-wide first reply time:
anything else asks for the comments when a threshold is due (one read per
due threshold, never per idle cycle).

Idempotence: once a decision's actions are applied (see `apply_decision`),
evaluating again yields no actions. Results that depend only on the ticket's
content are cached per ticket version (`Evaluator`).
"""

from __future__ import annotations

import math
from collections import OrderedDict
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import NamedTuple

from tierlift.engine import history, notes
from tierlift.engine.calendar import BusinessCalendar
from tierlift.engine.conditions import Condition, TicketView
from tierlift.engine.confirm import confirmed_since_reply
from tierlift.engine.durations import format_business, format_span
from tierlift.engine.marker import escalation_id, format_marker, parse_markers
from tierlift.engine.model import (
    CLOSED_STATUSES,
    Action,
    AddTags,
    Change,
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
from tierlift.engine.policy import (
    CLOCK_RULE_PREFIXES,
    DeEscalation,
    Policy,
    Rule,
    Tier,
    UpdateObligation,
)
from tierlift.engine.sla import (
    ClockPlan,
    ClockReading,
    FirstResponse,
    agent_replies,
    first_response,
    paused_intervals,
    pauses_known,
    plan_clocks,
    read_clocks,
)
from tierlift.engine.triage import Classifier, TriageRead, TriageSpec, Verdict, largest_amount_usd

REMINDER_PREFIX = "[tierlift reminder="
# tierlift writes a move moments after deciding it (the ledger dates the decision): a change
# within this of the tier's start is that write, not a person.
OWN_WRITE_SLACK = timedelta(minutes=2)


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
    severe: bool = False  # a severity rule: passes the ping-pong guard
    actor: str | None = None  # the agent who asked for it (manual tag)
    read: TriageRead | None = None  # what the model read, when a triage condition fired it
    next_step: str | None = None  # the rule's suggested next step (else the receiving tier's)


# What a quiet evaluation depends on besides the ticket's version: the tier tag, the
# last ledger move, whether comments and history were loaded, the team.
_QuietKey = tuple[int | None, TierMove | None, bool, bool, str | None]
# The clocks depend on the tier, when it was entered, its first response and whether the
# history (which may show pauses the status history lacks) was loaded.
_ClockKey = tuple[int, datetime, FirstResponse, bool]


class _QuietAnswer(NamedTuple):
    wake_up: datetime | None
    reasons: tuple[str, ...]
    kind: str


@dataclass(slots=True)
class _Facts:
    """What one ticket version showed, reused until the ticket changes: content-only
    condition results (by the condition's id), clock plans, and quiet answers that
    hold until their wake-up."""

    conditions: dict[int, bool] = field(default_factory=dict)
    clocks: dict[_ClockKey, list[ClockPlan]] = field(default_factory=dict)
    quiet: dict[_QuietKey, _QuietAnswer] = field(default_factory=dict)
    # The triage review's candidate by (tier, comments not loaded), where content decides it.
    review: dict[tuple[int, bool], tuple[TriageSpec, Rule] | None] = field(default_factory=dict)


class Evaluator:
    """A policy plus a per-version cache of what each ticket version showed."""

    def __init__(self, policy: Policy, cache_size: int = 200_000, classifier: Classifier | None = None):
        self.policy = policy
        self.classifier = classifier  # reads a ticket's words for `triage` conditions (engine/triage.py)
        self._cache: OrderedDict[tuple[str, str, bool], _Facts] = OrderedDict()
        self._cache_size = cache_size
        self._reads: dict[int, frozenset[str]] = {}  # what each cached condition reads (by its id)

    def evaluate(self, ticket: Ticket, now: datetime) -> Decision:
        return _evaluate(self, ticket, now, follow=True)

    def forget(self) -> None:
        """Drop what the ticket versions showed (the cache): decided again if asked."""
        self._cache.clear()

    def _facts(self, ticket: Ticket) -> _Facts:
        # A version read with its comments is another text than the same version without
        # them (a text condition reads the follow-ups): decided first without them, the
        # answers kept for the version hid the follow-up when the comments came.
        key = (ticket.id, ticket.version or ticket.updated_at.isoformat(), ticket.comments is None)
        facts = self._cache.get(key)
        if facts is None:
            facts = _Facts()
            self._cache[key] = facts
            if len(self._cache) > self._cache_size:
                self._cache.popitem(last=False)
        return facts

    def holds(self, cond: Condition, view: TicketView, facts: _Facts, now: datetime) -> bool:
        if not cond.static:
            return cond.test(view, now)
        known = facts.conditions
        k = id(cond)
        if k not in known:
            known[k] = cond.test(view, now)
            self._reads[k] = cond.reads
        return known[k]

    def carry(self, before: Ticket, after: Ticket) -> None:
        """The content answers of `before` that hold for `after` too: those of the conditions
        that read nothing the two differ in (a move changes tags, team, priority and notes,
        not the words or the organization)."""
        changed = _changed_parts(before, after)
        if any(not changed.isdisjoint(cond.reads) for _sev, cond in self.policy.severity_map):
            changed.add("severity")
        known = self._facts(after).conditions
        reads = self._reads
        for k, answer in self._facts(before).conditions.items():
            if changed.isdisjoint(reads[k]):
                known.setdefault(k, answer)


def _changed_parts(before: Ticket, after: Ticket) -> set[str]:
    """The parts of a ticket (Condition.reads) in which `after` may differ from `before`."""
    changed = {"*"} | {"tag:" + t for t in before.tags ^ after.tags}
    changed |= {"field:" + name for name in _FIELDS if getattr(before, name) != getattr(after, name)}
    if before.fields != after.fields:
        changed.add("fields")
    if before.organization != after.organization:
        changed.add("org")
    if before.custom_fields != after.custom_fields:
        changed.add("custom")
    if not _same_words(before, after):
        changed.add("text")
    return changed


_FIELDS = ("priority", "status", "group", "assignee", "requester", "subject", "reopens")


def _same_words(before: Ticket, after: Ticket) -> bool:
    """The same text for conditions and the classifier: subject, description, and the
    comments that are not automated (tierlift's notes are), present or not alike."""
    if before.comments is after.comments:
        return before.subject == after.subject and before.description == after.description
    if before.comments is None or after.comments is None or bool(before.comments) != bool(after.comments):
        return False
    return (before.subject == after.subject and before.description == after.description
            and [c for c in before.comments if not c.automated] == [c for c in after.comments if not c.automated])


def evaluate(ticket: Ticket, policy: Policy, now: datetime) -> Decision:
    """One-off evaluation (no cache). The service keeps an Evaluator per policy."""
    return Evaluator(policy, cache_size=4).evaluate(ticket, now)


def current_tier(ticket: Ticket, policy: Policy) -> int | None:
    """The highest tier tag on the ticket, or None when it carries none."""
    levels = [lv for lv in policy.tiers if policy.tier_tag(lv) in ticket.tags]
    return max(levels) if levels else None


def severity_of(ticket: Ticket, policy: Policy) -> str | None:
    return _severity(policy, TicketView(ticket), ticket.updated_at)


def ledger_of(ticket: Ticket) -> tuple[TierMove, ...]:
    """tierlift's ledger from the state, completed by the markers of its notes (a lost
    state file or a second daemon rebuilds it from the helpdesk)."""
    # A state written before TierMove.human existed still knows a human move by its rule.
    moves = {m.escalation_id or f"{m.at}{m.to_tier}": replace(m, human=True) if m.rule == "human-move" else m
             for m in ticket.ledger}
    if ticket.comments:
        for m in parse_markers(c.body for c in ticket.comments if not c.public):
            if m.from_tier == m.to_tier:
                continue
            known = moves.setdefault(m.escalation_id, m)
            if known.human and m.human and known.at != m.at:
                # A person's move is dated as the helpdesk recorded it (the marker's at=),
                # not when tierlift wrote its note: a reply made with the move counts.
                moves[m.escalation_id] = replace(known, at=m.at)
    return tuple(sorted(moves.values(), key=lambda m: m.at))


def _ceil_second(t: datetime) -> datetime:
    """Wake-ups are exact to the second (never early): rounding to the minute
    could act up to 59 s after a threshold, more than a 30 s poll interval."""
    if t.microsecond == 0:
        return t
    return t.replace(microsecond=0) + timedelta(seconds=1)


class _NeedComments(Exception):  # noqa: N818 - a signal, not an error
    """A step cannot decide without the comments and history (not loaded)."""


@dataclass
class _Ctx:
    """One evaluation: the ticket, what the steps learned, and what they will say."""

    ev: Evaluator
    ticket: Ticket
    now: datetime
    facts: _Facts
    view: TicketView
    severity: str | None
    tagged: int | None
    quiet_key: _QuietKey
    reasons: list[str] = field(default_factory=list)
    wakes: list[datetime] = field(default_factory=list)
    ledger: tuple[TierMove, ...] = ()
    # Set by _prepare, before any step reads them (no default: reading one earlier fails loudly).
    tier: Tier = field(init=False)
    tier_start: datetime = field(init=False)
    first: FirstResponse = field(init=False)
    start_known: bool = True
    since_down: datetime | None = None  # the last move down or by a person: older content no longer moves it up
    human_down: bool = False  # a person moved it: rules about who the customer is stay quiet too
    clock_plans: list[ClockPlan] = field(default_factory=list)
    entry_rule: str | None = None  # the rule of tierlift's move into the tier (on-call hours may follow it)
    _fresh: TicketView | None = None
    # The re-evaluation after a move (_follow) asks only whether the moved ticket would be
    # acted on again, and when it is due: no reasons, notes or explanations are written.
    probe: bool = False

    @property
    def p(self) -> Policy:
        return self.ev.policy

    @property
    def tier_before(self) -> int:
        return self.tagged or 1

    def holds(self, cond: Condition) -> bool:
        return self.ev.holds(cond, self.view, self.facts, self.now)

    def holds_content(self, cond: Condition) -> bool:
        """A content condition. After a move down only facts newer than the move count
        (a rule that escalated the ticket before does not bring it straight back), and a
        triage reading after a person's dismissal reads only the words written since."""
        if not self.holds(cond):
            return False
        if "pauses" in cond.reads and not pauses_known(self.ticket):
            raise _NeedComments("a rule counts the time the ticket waited: its history tells every pause")
        view = self.content_view(cond)
        return view is self.view or cond.test(view, self.now)

    def content_view(self, cond: Condition | None) -> TicketView:
        """What a content condition reads: the whole ticket, or the facts newer than the last
        move down and, for a triage reading, than a person's dismissal of a review. The
        dismissal answered the words it was asked about; read together with a follow-up they
        escalated anyway (floor: a near miss dismissed at 16:00, then "Escalate please. We've
        lost two days on this already." read with the dismissed bulk-delete question as data
        loss 0.80, L2 -> L3 and on to L4)."""
        since = self.since_down
        if cond is not None and cond.triage and self.p.triage.dismissed_tag in self.ticket.tags:
            if self.ticket.history is None or self.ticket.comments is None:
                raise _NeedComments("a triage reading after a dismissal: the history says when it was dismissed")
            dismissed = history.tag_added_at(self.ticket, self.p.triage.dismissed_tag)
            since = max(since or dismissed, dismissed) if dismissed is not None else since
        if since is None:
            return self.view
        if since == self.since_down and self._fresh is not None:
            return self._fresh
        if self.ticket.comments is None:
            raise _NeedComments("a rule holds on text older than the last move down: "
                                "comments needed to see whether new facts arrived")
        view = self.view_since(since)
        if since == self.since_down:
            self._fresh = view
        return view

    def view_since(self, since: datetime) -> TicketView:
        """The ticket as only what arrived after `since` describes it, with its severity."""
        fresh, classifier = history.fresh_ticket(self.ticket, since), self.ev.classifier
        return TicketView(fresh, _severity(self.p, TicketView(fresh, None, classifier), self.now), classifier)

    def wake_view(self) -> TicketView:
        """The view time-based conditions take their next change from: after a move down
        they count from the move (as holds_content does), not from the creation."""
        if self.since_down is None or self.since_down <= self.ticket.created_at:
            return self.view
        return TicketView(replace(self.ticket, created_at=self.since_down), self.severity, self.ev.classifier)

    def none(self, kind: str = "none", needs_comments: bool = False) -> Decision:
        wake = _ceil_second(min(self.wakes)) if self.wakes else None
        if not needs_comments and not self.probe:  # a probe's reasons are incomplete
            self.facts.quiet[self.quiet_key] = _QuietAnswer(wake, tuple(self.reasons), kind)
        return Decision(self.ticket.id, self.tier_before, self.tier_before, (), tuple(self.reasons), wake,
                        kind=kind, needs_comments=needs_comments)


def _severity(p: Policy, view: TicketView, now: datetime) -> str | None:
    for sev, cond in p.severity_map:
        if cond.test(view, now):
            return sev
    return None


def _evaluate(ev: Evaluator, ticket: Ticket, now: datetime, follow: bool) -> Decision:
    tagged = current_tier(ticket, ev.policy)
    facts = ev._facts(ticket)
    # A quiet ticket (nothing fired last time) stays quiet until its earliest
    # time-based event: a wake-up before then is a dictionary look-up.
    quiet_key = (tagged, ticket.ledger[-1] if ticket.ledger else None, ticket.comments is None,
                 ticket.history is None, ticket.team)
    quiet = facts.quiet.get(quiet_key)
    if quiet is not None and (quiet.wake_up is None or now < quiet.wake_up):
        return Decision(ticket.id, tagged or 1, tagged or 1, (), quiet.reasons, quiet.wake_up, kind=quiet.kind)
    view = TicketView(ticket, None, ev.classifier)
    view.severity = next((sev for sev, cond in ev.policy.severity_map if ev.holds(cond, view, facts, now)), None)
    ctx = _Ctx(ev, ticket, now, facts, view, view.severity, tagged, quiet_key, probe=not follow)
    if ticket.is_closed:
        return _closed(ctx)
    return _decide(ctx, follow)


def _decide(ctx: _Ctx, follow: bool) -> Decision:
    """The steps of an open ticket, in precedence order (see the module docstring)."""
    result: _Move | Decision | None
    left = _unknown_tier(ctx)
    if left is not None:
        return left
    try:
        result = _retag(ctx) or _human_move(ctx)
        if result is None:
            if _confirmed(ctx):
                return ctx.none("confirmed")
            _prepare(ctx)
            result = _choose_move(ctx)
            _renamed_known(ctx, result)
    except _NeedComments as exc:
        ctx.reasons.append(str(exc))
        return ctx.none(needs_comments=True)
    except _Quiet as quiet:
        return ctx.none(quiet.kind)
    if isinstance(result, Decision):
        return _follow(ctx, result) if follow and result.kind == "human-move" else result
    if result is None:
        if not ctx.probe:
            _describe_clocks(ctx)
        return _triage_review(ctx) or ctx.none()
    return _apply_move(ctx, result, follow)


def _confirmed(ctx: _Ctx) -> bool:
    """The customer's words since a person's last reply confirm the problem is gone ("Thanks,
    it works now!", often the reply that reopened a solved ticket): no clock, duty or rule
    moves the ticket or answers the customer; it waits for the agents to solve it (engine.confirm).
    A person's own tag since (an `escalate`, a severity) is still theirs to act on."""
    ticket = ctx.ticket
    said = confirmed_since_reply(ticket)
    if said is None or any(c.field == "tags" and not c.automated and c.at > said.created_at for c in ticket.history or ()):
        return False
    ctx.reasons.append(f"the customer confirmed it works in their reply of {said.created_at:%Y-%m-%d %H:%M} UTC:"
                       " nothing moves it or answers them; it waits for the agents to solve it")
    return True


def _renamed_known(ctx: _Ctx, result: _Move | Decision | None) -> None:
    """A move up that answers the customer quotes the subject as they wrote it: the history
    tells whether a person renamed the ticket since (one read, on a move that writes a reply)."""
    text = _reply_text(ctx, result) if isinstance(result, _Move) else None
    if (isinstance(result, _Move) and result.to > ctx.tier_before and text is not None and not ctx.probe
            and ctx.ticket.history is None and ctx.ticket.comments is None
            and ctx.ticket.updated_at > ctx.ticket.created_at):
        # (Loaded together; a connector that loads comments without a history is not asked forever.)
        if "{subject" in text:
            raise _NeedComments("the customer's reply quotes the subject as they wrote it: the history tells"
                                " whether a person renamed the ticket")
        last = ctx.ledger[-1] if ctx.ledger else None
        if last is not None and not last.human and last.to_tier == ctx.tier_before > last.from_tier:
            raise _NeedComments("the customer may hold a promise from tierlift's last move: the comments tell"
                                " whether it was kept")


def _unknown_tier(ctx: _Ctx) -> Decision | None:
    """A tier tag of a level the policy does not have (a tier taken out of the policy while
    tickets sat in it, or a tag added by hand), on a ticket no tier's team holds: the ticket
    is left alone and the reason says why, until a person moves it to a tier's team or
    takes the tag off. Read as L1, such a ticket was escalated again from L1: moved down to
    L2's team, a second page for the same incident, a second reply to the customer (QA: a
    four-tier policy made three while tickets sat at L4)."""
    p, ticket = ctx.p, ctx.ticket
    prefix = p.tag_prefix
    stray = sorted(t for t in ticket.tags if t.startswith(prefix) and t[len(prefix):].isdigit()
                   and int(t[len(prefix):]) not in p.tiers)
    if not stray or p.tier_of_team(ticket.team) is not None:
        return None
    levels = ", ".join(f"L{lv}" for lv in sorted(p.tiers))
    ctx.reasons.append(f"tier tag {', '.join(stray)} names a tier this policy does not have ({levels}):"
                       f" left alone until a person moves it to a tier's team or takes the tag off")
    return ctx.none("unknown-tier")


def _triage_review(ctx: _Ctx) -> Decision | None:
    """Nothing moves the ticket, but a rule that would move it up on a sure reading has a
    triage score in its review band: ask a person once per category (tag, note, triage
    channel). A dismissal answers the words it was asked about: only the customer's words
    written since may ask again."""
    read = _review_reading(ctx) if ctx.ev.classifier is not None else None
    if read is None:
        return None
    view: TicketView | None
    verdict: Verdict | None
    view, verdict, dismissed, text = read
    found = _review_candidate(ctx, view, verdict)
    # Asked already, and not answered: not again, unless the customer wrote since, words that
    # read in a band themselves. Words written since a dismissal ask again, in the same
    # category too (the review tag of the words dismissed stays on the ticket).
    if found is not None and ctx.p.triage.review_tag_prefix + found[0].category in ctx.ticket.tags and not dismissed:
        view, verdict, found = _words_since_asked(ctx)
        text = "words since the last review"
    if found is None or view is None or verdict is None:
        return None
    if ctx.probe:
        return _would_act(ctx)
    return _ask(ctx, found, TriageRead(text, verdict), dismissed, _also_in_band(ctx, view, verdict, found[0]))


def _review_reading(ctx: _Ctx) -> tuple[TicketView, Verdict, bool, str] | None:
    """The words a review reads, their reading, whether they follow a dismissal, and what
    they are called; None: nothing to read (after a move down only newer words count)."""
    view = ctx.view if ctx.since_down is None else ctx._fresh
    dismissed = view is not None and ctx.p.triage.dismissed_tag in ctx.ticket.tags
    if dismissed:
        view = _words_since_dismissal(ctx)
    verdict = view.verdict() if view is not None else None
    if view is None or verdict is None:
        return None
    text = "words since the dismissal" if dismissed else "whole ticket" if view is ctx.view \
        else "words since the last move down"
    return view, verdict, dismissed, text


def _words_since_asked(ctx: _Ctx) -> tuple[TicketView | None, Verdict | None, tuple[TriageSpec, Rule] | None]:
    """What the customer wrote after the last review was asked, when it reads in a review band
    itself: a person is asked about it too, before answering the first question (QA: "someone
    logged into my account and changed the payment details", written while a review of a
    missing reset email was open, asked nobody, and the dismissal of that review then
    silenced it)."""
    ticket = ctx.ticket
    if ticket.comments is None:
        return None, None, None
    asked = max((m.at for m in parse_markers(c.body for c in ticket.comments if c.automated)
                 if m.rule.startswith("triage-review:")), default=None)
    if asked is None:
        return None, None, None
    view = ctx.view_since(max(asked, ctx.since_down or asked))
    verdict = view.verdict() if view.ticket.comments else None
    return (view, verdict, _review_candidate(ctx, view, verdict)) if verdict is not None else (None, None, None)


def _also_in_band(ctx: _Ctx, view: TicketView, verdict: Verdict, asked: TriageSpec) -> list[tuple[str, float]]:
    """Other categories whose reading is in a rule's review band too (QA: churn 0.57 was asked
    about, and manager 0.38, inside its band as well, was not mentioned)."""
    found: dict[str, float] = {}
    for rule in _rules_up(ctx):
        for spec in rule.when.triage if rule.when else ():
            if spec.category not in (asked.category, *found) and spec.in_review_band(verdict) \
                    and _fires_if_sure(ctx, rule, spec, view):
                found[spec.category] = spec.asks(verdict)
    return sorted(found.items(), key=lambda kv: -kv[1])


def _ask(ctx: _Ctx, found: tuple[TriageSpec, Rule], read: TriageRead, dismissed: bool,
         also: list[tuple[str, float]] | None = None) -> Decision:
    """The review: the category's tag, a note of what was read, the triage channel's message;
    asking about words written since a dismissal takes the dismissal off."""
    (spec, rule), ticket, settings, verdict = found, ctx.ticket, ctx.p.triage, read.verdict
    tag = settings.review_tag_prefix + spec.category
    ctx.reasons.append(f"{rule.name}: triage review ({verdict.explain(spec.category)})")
    body = notes.triage_review_note(ticket, rule.name, rule.text, verdict, spec, tag,
                                    settings.confirm_tag_prefix + spec.category, settings.dismissed_tag,
                                    [(c, s, settings.confirm_tag_prefix + c) for c, s in also or ()])
    alerts = tuple(Notify(ch, f"[triage] Ticket {ticket.id} may be {spec.category}: {notes.plain(ticket.subject)}"[:200],
                          f"{notes.plain(verdict.explain(spec.category))}\nOn the ticket, confirm with the tag"
                          f" {settings.confirm_tag_prefix + spec.category} or dismiss with {settings.dismissed_tag}.")
                   for ch in settings.notify)
    # Asking about newer words takes the old dismissal off: it answered the words before, and
    # the agent answers this question by adding the tag again.
    lifted = (RemoveTags((settings.dismissed_tag,)),) if dismissed else ()
    asked = _marked(ticket, ctx.tier_before, rule.name, "triage-review", (AddTags((tag,)), *lifted, *alerts), body,
                    ctx.reasons, ctx.now)
    # Asking moves nothing: the ticket's clocks keep their next threshold.
    return replace(asked, wake_up=_ceil_second(min(ctx.wakes)) if ctx.wakes else None, read=read)


def _words_since_dismissal(ctx: _Ctx) -> TicketView | None:
    """The ticket as the customer's words after its last dismissal (and after its last move
    down) describe it; None: nothing new, or when it was dismissed is not known (its
    history is not loaded, and a read is not spent on a question already answered)."""
    ticket, tag = ctx.ticket, ctx.p.triage.dismissed_tag
    last = history.tag_added_at(ticket, tag)
    if last is None or ticket.comments is None:
        return None
    # Words already asked about since the dismissal are not asked about twice, should the
    # dismissal tag still be on the ticket (the removal not landed, or put back by a person).
    asked = max((m.at for m in parse_markers(c.body for c in ticket.comments if c.automated)
                 if m.rule.startswith("triage-review:")), default=last)
    view = ctx.view_since(max(last, ctx.since_down or last, asked))
    return view if view.ticket.comments else None


def _review_candidate(ctx: _Ctx, view: TicketView, verdict: Verdict) -> tuple[TriageSpec, Rule] | None:
    """The rule up whose triage reading is in its review band with the highest score (kept
    with the ticket version when only its content decides)."""
    rules = _rules_up(ctx)
    key = (ctx.tier_before, ctx.ticket.comments is None)
    kept = ctx.facts.review if view is ctx.view and _static(ctx.p, rules) else None
    if kept is not None and key in kept:
        return kept[key]
    best: tuple[float, TriageSpec, Rule] | None = None
    for rule in rules:
        for spec in rule.when.triage if rule.when else ():
            score, unread = spec.asks(verdict), amount_unread(spec, spec.score(verdict), view)
            if ((spec.in_review_band(verdict) or unread) and (best is None or score > best[0])
                    and _fires_if_sure(ctx, rule, spec, view, any_amount=unread)):
                best = (score, spec, rule)
    found = (best[1], best[2]) if best else None
    if kept is not None:
        kept[key] = found
    return found


def _static(p: Policy, rules: list[Rule]) -> bool:
    """The rules' conditions, and the severity they may read, depend on content alone."""
    return (all(r.when is None or r.when.static for r in rules)
            and all(cond.static for _sev, cond in p.severity_map))


class _Sure:
    """The classifier as it would read if it were sure of one category: a rule that fires on
    such a reading (its other parts, amounts included, hold) is worth asking a person about."""

    def __init__(self, verdict: Verdict, category: str):
        self.name = "sure"
        self._verdict = replace(verdict, scores={**verdict.scores, category: 1.0})

    def classify(self, text: str) -> Verdict:
        return self._verdict


def _fires_if_sure(ctx: _Ctx, rule: Rule, spec: TriageSpec, view: TicketView, any_amount: bool = False) -> bool:
    verdict = view.verdict()
    if rule.when is None or verdict is None:
        return False
    sure = TicketView(view.ticket, view.severity, _Sure(verdict, spec.category), any_amount=any_amount)
    return rule.when.test(sure, ctx.now)


def amount_unread(spec: TriageSpec, score: float, view: TicketView) -> bool:
    """A reading sure of a category that needs an amount (a refund over $1,000) in a text whose
    amount tierlift cannot read ("the 4,800 we paid", "zwölftausend Euro"): a person is asked
    (QA, triage lead: refund 1.00 and nothing, neither moved nor asked)."""
    return (spec.amount_over is not None and score >= spec.escalate
            and largest_amount_usd(view.customer_text) is None)


def _rules_up(ctx: _Ctx) -> list[Rule]:
    """The rules that could still move the ticket up from where it stands."""
    up = [r for r in ctx.p.rules if r.to is not None and r.to > ctx.tier_before and not r.by_customer]
    if ctx.tier_before < ctx.p.top_tier:
        up += [r for r in ctx.tier.rules if r.kind == "condition"]
    return up


def _reason(ctx: _Ctx, rule: Rule) -> str:
    """A rule's text, and what the classifier read when a triage condition of it fired."""
    if ctx.probe:
        return rule.text
    # After a move down the rule held on the facts newer than the move (holds_content): the
    # reason quotes those, not the description a person already answered by moving it down.
    read = triage_explanation(_read_view(ctx, rule.when), rule.when)
    return f"{rule.text} ({read})" if read else rule.text


def _triage_read(ctx: _Ctx, rule: Rule) -> TriageRead | None:
    """The reading a rule with a triage condition was decided on, and which text it read."""
    if ctx.probe or rule.when is None or not rule.when.triage:
        return None
    view = _read_view(ctx, rule.when)
    verdict = view.verdict()
    text = "whole ticket" if view is ctx.view else "words since the last move down" if view is ctx._fresh \
        else "words since the dismissal"
    return TriageRead(text, verdict) if verdict is not None else None


def _read_view(ctx: _Ctx, when: Condition | None) -> TicketView:
    """The view a fired rule's reading is explained from: the one its condition read
    (holds_content loaded what that needs; a rule fired another way reads the whole ticket)."""
    try:
        return ctx.content_view(when)
    except _NeedComments:
        return ctx.view


def triage_explanation(view: TicketView, when: Condition | None) -> str:
    """What the classifier read, for a rule whose triage condition fired (empty otherwise)."""
    verdict = view.verdict()
    if verdict is None or when is None:
        return ""
    # What the model read for the rule (the gates that silence its patterns are not reasons).
    fired = [s for s in when.triage if not s.other and s.category != "none" and s.score(verdict) >= s.escalate]
    return "; ".join(f"triage: {verdict.explain(s.category)}" for s in fired)


def _closed(ctx: _Ctx) -> Decision:
    """Closed tickets: only the post-escalation review flag of top-tier tickets."""
    p, ticket, tier_before, now = ctx.p, ctx.ticket, ctx.tier_before, ctx.now
    review = p.review
    if review and tier_before >= review.level and review.tag not in ticket.tags and ticket.status == "solved" \
            and not _review_is_history(ticket, review.within, now):
        if ticket.comments is None:  # its note, if written, is there: one read, on a solved ticket that changed
            ctx.reasons.append("post-escalation review: whether it was flagged already is in the notes")
            return ctx.none(needs_comments=True)
        if _review_flagged(ticket):
            ctx.reasons.append(f"post-escalation review flagged already; the tag {review.tag} was taken off: done")
            return ctx.none()
        due = (ticket.solved_at or now) + review.within
        body = (f"Post-escalation review due by {due.strftime('%Y-%m-%d %H:%M UTC')}: this ticket was handled "
                f"at L{tier_before}. Record the root cause and what would have let a lower tier resolve it.")
        ctx.reasons.append(f"solved at L{tier_before}: post-escalation review due by {due:%Y-%m-%d %H:%M} UTC")
        return _marked(ticket, tier_before, "review", "review", (Flag(review.tag, "post-escalation review due"),),
                       body, ctx.reasons, now)
    return ctx.none()


def _review_flagged(ticket: Ticket) -> bool:
    """The review of this solve was flagged already (its note's marker): a person who takes the
    tag off has done the review (QA: tierlift wrote the note again and put the tag back, and
    the report counted the ticket overdue twice)."""
    since = ticket.solved_at or ticket.created_at
    return any(m.rule == "review:review" and m.at >= since
               for m in parse_markers(c.body for c in ticket.comments or () if not c.public))


def _review_is_history(ticket: Ticket, within: timedelta, now: datetime) -> bool:
    """A review that fell due more than one review window ago is history, not a to-do: a
    first sync flagged every top-tier ticket solved months before (QA: 103 notes "review due
    by 2026-08-17" on tickets solved in August). A review that fell due while tierlift was
    stopped a few days is still flagged."""
    return ticket.solved_at is not None and ticket.solved_at + 2 * within < now


def _retag(ctx: _Ctx) -> Decision | None:
    """Someone changed tierlift's tier tags while the ticket stayed with the team tierlift moved
    it to: the ticket is still at that tier, and the tags are put back (a note says so). No
    move, no customer reply, no page, and the tier's clocks run on from the move.

    The tags were read as the tier: an agent removing tier_l2 got the ticket escalated
    L1 -> L2 again (a second note and customer email, L2's clock restarted); removing tier_l3
    moved it down to L2; a tier_l3 added by hand at L2 stopped its escalation for good (QA)."""
    p, ticket = ctx.p, ctx.ticket
    placed = _placed(ctx)
    if placed is None:
        return None
    team_tier, ledger = placed
    if ctx.probe:
        return _would_act(ctx)
    tag = p.tier_tag(team_tier)
    others = tuple(sorted(t for t in p.tier_tags if t in ticket.tags and t != tag))
    actions: tuple[Action, ...] = (AddTags((tag,)), *((RemoveTags(others),) if others else ()))
    ctx.reasons.append(f"tier tags {', '.join(others) or 'none'} on a ticket at L{team_tier} (team {ticket.team},"
                       f" where it was moved at {ledger[-1].at:%Y-%m-%d %H:%M} UTC): {tag} put back")
    body = notes.retag_note(ticket, team_tier, ticket.team or ticket.assignee or "its assignee", tag, others)
    return _marked(ticket, team_tier, "tier-tags", "retag", actions, body, ctx.reasons, ctx.now)


def _placed(ctx: _Ctx) -> tuple[int, tuple[TierMove, ...]] | None:
    """The tier the ticket's last move put it at, with the ledger, where its tier tags say
    otherwise while it stays with that tier's team, or with a team no tier has (a Jira
    agent's "Assign to me" where the team is the assignee: an L2 agent who took the issue
    and tidied away tier_l2 got it escalated L1 -> L2 again, a second customer email, the
    assignment undone; QA, a Jira admin). None: the tags say where it is."""
    ticket = ctx.ticket
    team_tier = ctx.p.tier_of_team(ticket.team)
    if team_tier is not None and ctx.tagged == team_tier:  # the tags agree (most tickets): the ledger is not read
        return None
    ledger = ledger_of(ticket) if team_tier is not None or ticket.ledger or ticket.comments else ()
    if not ledger or team_tier not in (None, ledger[-1].to_tier):
        return None
    if team_tier is None and (ctx.tagged or 1) == ledger[-1].to_tier:
        return None
    return ledger[-1].to_tier, ledger


def _human_move(ctx: _Ctx) -> Decision | None:
    """A person moved the ticket to another tier's team: the ticket is at that tier now.

    tierlift fixes the tier tags and records the move (an internal note whose
    marker says human and who), and never undoes it (only facts newer than the move and
    the new tier's own clocks move it again); no reassignment, no customer reply, no page.
    The L<n> clocks start at the move.
    """
    p, ticket = ctx.p, ctx.ticket
    team_tier = p.tier_of_team(ticket.team)
    if team_tier is None or team_tier == ctx.tier_before:
        return None
    if ticket.comments is None and ticket.history is None:
        # Loaded together; a connector that loads comments without a history
        # leaves the tier tags in charge rather than asking forever.
        raise _NeedComments(f"team {ticket.team} works at L{team_tier} but the tier tag says L{ctx.tier_before}: "
                            "the history tells who moved it and when")
    change = history.last_human_team_change(ticket, ticket.team)
    if change is None:
        ctx.reasons.append(f"team {ticket.team} works at L{team_tier}, but no person moved it there: the tier tags rule")
        return None
    frm, to = ctx.tier_before, team_tier
    esc_id = escalation_id(ticket.id, change.at.isoformat(), frm, to, "human-move")
    marker = format_marker(esc_id, frm, to, "human-move", change.at, actor=change.author, human=True)
    body = f"{notes.human_move_note(ticket, frm, to, ticket.team or '', change.author, change.at)}\n\n{marker}"
    actions: list[Action] = [AddTags((p.tier_tag(to),))]
    old = tuple(sorted({*(t for t in p.tier_tags if t in ticket.tags and t != p.tier_tag(to)),
                        *(_asked_before(ctx, change.at) if to > frm else ())}))
    if old:
        actions.append(RemoveTags(old))
    actions.append(InternalNote(body))
    ctx.reasons.append(f"L{frm} -> L{to}: moved by {change.author or 'a person'} to team {ticket.team} "
                       f"at {change.at:%Y-%m-%d %H:%M} UTC (human move, never reverted)")
    return Decision(ticket.id, frm, to, tuple(actions), tuple(ctx.reasons), None, rule="human-move",
                    escalation_id=esc_id, kind="human-move", actor=change.author)


def _asked_before(ctx: _Ctx, moved_at: datetime) -> tuple[str, ...]:
    """The manual triggers (and the incomplete flag) a person's move up answers, as an
    escalation by tierlift consumes them: those added no later than the move. QA (a Jira
    admin): an agent who tagged `escalate` and handed the issue to L2 herself left the tag on;
    the L2 agent's own `escalate` for L3 then recorded nothing in Jira (already there), and
    the request was lost without a word. A tag added after the move asks for the next tier."""
    p, ticket = ctx.p, ctx.ticket
    wanted = _trigger_tags(p, p.tiers.get(ctx.tier_before) or p.tiers[1])
    return tuple(t for t in dict.fromkeys(wanted) if t in ticket.tags
                 and ((at := history.tag_added_at(ticket, t)) is None or at <= moved_at))


def _prepare(ctx: _Ctx) -> None:
    """The ledger, the tier start and the tier's clocks."""
    p, ticket, tier_before = ctx.p, ctx.ticket, ctx.tier_before
    ctx.ledger = ledger_of(ticket)
    ctx.tier = p.tiers.get(tier_before) or p.tiers[1]
    ctx.tier_start, ctx.start_known = _tier_start(ticket, ctx.ledger, tier_before, p)
    ctx.entry_rule = entry_rule(ctx.ledger, tier_before)
    # A move down, or any move a person made, settles the facts known before it.
    settled = [m for m in ctx.ledger if m.to_tier < m.from_tier or m.human]
    ctx.since_down = max(m.at for m in settled) if settled else None
    ctx.human_down = any(m.human for m in settled)
    last = ctx.ledger[-1] if ctx.ledger else None
    de_escalated = last is not None and last.to_tier < last.from_tier and not last.human
    ctx.first = first_response(ticket, ctx.tier_start, ticket_wide=_never_moved(ticket, ctx.ledger, tier_before),
                               answered_counts=de_escalated, teams=p.responders(ctx.tier))
    first_target, resolution_target = _targets(ctx, ctx.tier, ctx.entry_rule)
    key = (tier_before, ctx.tier_start, ctx.first, ticket.history is None)
    plans = ctx.facts.clocks.get(key)
    if plans is None:
        plans = plan_clocks(ticket, p.calendar_for(ctx.tier, ctx.severity, ctx.entry_rule), ctx.tier_start, ctx.first, first_target,
                            resolution_target, p.pause_statuses, ctx.now)
        ctx.facts.clocks[key] = plans
    ctx.clock_plans = plans


def _choose_move(ctx: _Ctx) -> _Move | Decision | None:
    """The steps in precedence order; severity comes before the ping-pong freeze."""
    p = ctx.p
    if p.ping_pong.tag in ctx.ticket.tags:
        move = _policy_move(ctx, severe_only=True)
        if move is None:
            ctx.reasons.append(f"frozen by the ping-pong guard (tag {p.ping_pong.tag}): no automatic moves")
            raise _Quiet("frozen")
        return move
    route = _routing_move(ctx)
    if route is not None:
        # A rule that takes the new ticket past its starting tier moves it there at once: as
        # two moves in one cycle, the customer got two notices in one second, the first void.
        above = _policy_move(ctx)
        return above if above is not None and above.to > route.to else route
    for step in (_policy_move, _reroute_within, _severity_at_tier, _de_escalation_move, _manual_move, _tier_move,
                 _update_step):
        result = step(ctx)
        if result is not None:
            return _duty_over_clock(ctx, result) if isinstance(result, _Move) and step is _tier_move else result
    return None


def _duty_over_clock(ctx: _Ctx, move: _Move) -> _Move:
    """An SLA move of an incident whose missed updates move it too: the duty's move, which
    pages as the incident's rules do. QA (on call): with the daemon away two hours, an
    unanswered outage reached the CTO by the SLA rule and paged nobody (away one hour, the
    duty moved it and paged)."""
    duty = _update_step(ctx)
    return duty if isinstance(duty, _Move) and duty.to >= move.to else move


def _routing_move(ctx: _Ctx) -> _Move | None:
    """Customer-tier routing of a ticket that has no tier yet."""
    if ctx.tagged is not None:
        return None
    for route in ctx.p.routing:
        if route.start_tier > 1 and ctx.holds(route.when):
            return _Move(route.start_tier, route.name, f"starts at L{route.start_tier}: {route.when.describe}", "route")
    return None


def _rule_holds(ctx: _Ctx, rule: Rule) -> bool:
    if rule.when is None:
        return False
    if rule.by_customer:
        # The plan does not change, so no new fact could ever lift a person's
        # decision to move an enterprise ticket down: it stands.
        return not ctx.human_down and ctx.holds(rule.when)
    return ctx.holds_content(rule.when)


def _policy_move(ctx: _Ctx, severe_only: bool = False) -> _Move | None:
    """Policy-wide rules and severity overrides: up only, to the highest tier that applies."""
    tier_before = ctx.tier_before
    best: Rule | None = None
    best_to = tier_before
    for rule in ctx.p.rules:
        if rule.to is None or (severe_only and not rule.severe) or not _rule_holds(ctx, rule):
            continue
        if rule.to > tier_before:
            if best is None or rule.to > best_to:
                best, best_to = rule, rule.to
        else:
            ctx.reasons.append(f"{rule.name}: already at L{tier_before} (the receiving tier owns the ticket)")
    if best is None:
        return None
    return _Move(best_to, best.name, _reason(ctx, best), team=best.team, notify=best.notify,
                 severity_rule=best.kind == "severity", severe=best.severe, actor=_confirmed_by(ctx, best),
                 read=_triage_read(ctx, best), next_step=best.next_step)


def _reroute_within(ctx: _Ctx) -> Decision | None:
    """An incident (a severe rule) on a ticket already at or above its tier, with a team that
    is not the one the incident goes to there: the ticket moves to that team within its tier,
    once, with the incident's note and pages (QA, triage lead, 4 of 4: a security review
    confirmed on a ticket the customer's request for a manager had taken to L3's Support
    Manager stayed there, no security page, "already at L3"). Once per incident and ticket: a
    person who moves it on afterwards decides."""
    tier_before, ticket = ctx.tier_before, ctx.ticket
    if ctx.probe or ticket.team not in {c.team for c in ctx.tier.teams}:
        return None  # a team of another tier is a person's move; none known, nothing to move from
    for rule, team in _incident_teams(ctx):
        if ticket.comments is None:  # tierlift's earlier re-route is in its notes
            raise _NeedComments(f"{rule.name}: the incident belongs to team {team} at L{tier_before}")
        kind = "reroute"
        if any(m.rule == f"{kind}:{rule.name}" for m in parse_markers(c.body for c in ticket.comments if not c.public)):
            continue
        actor = _confirmed_by(ctx, rule)
        reason = _reason(ctx, rule)
        ctx.reasons.append(f"L{tier_before}: {rule.name} holds; the ticket goes from team {ticket.team} to {team}")
        move = _Move(tier_before, rule.name, reason, team=team, notify=rule.notify, actor=actor)
        body = notes.reroute_note(ticket, tier_before, ctx.tier.name, ticket.team, team, reason, actor)
        esc_id = escalation_id(ticket.id, ticket.version or ticket.updated_at.isoformat(), tier_before, tier_before,
                               f"{kind}:{rule.name}")  # the note's, as _marked makes it: one page per re-route
        actions = (Reassign(team), *_notifications(ctx, move, ctx.tier, team, esc_id))
        return _marked(ticket, tier_before, rule.name, kind, actions, body, ctx.reasons, ctx.now)
    return None


def _severity_at_tier(ctx: _Ctx) -> Decision | None:
    """A severity override (P0, P1) that holds on a ticket already at or above its tier, and
    was never acted on for this ticket: its priority and its pages, once, with a note; no
    move. A P0 tagged on an incident the outage rule had taken to L3 sent no PagerDuty page
    and left the priority at normal (QA, on call): the override's page is what tells the
    engineer on call that it is a P0. Not again when the override moved the ticket there
    (its move's note carries its name) or paged it here before."""
    tier_before, ticket = ctx.tier_before, ctx.ticket
    if ctx.probe:
        return None
    for rule in _severities_unpaged(ctx):
        reason = _reason(ctx, rule)
        ctx.reasons.append(f"L{tier_before}: {rule.name} holds on a ticket already here; its pages go out, no move")
        move = _Move(tier_before, rule.name, reason, team=ticket.team, notify=rule.notify, severity_rule=True)
        esc_id = escalation_id(ticket.id, ticket.version or ticket.updated_at.isoformat(), tier_before, tier_before,
                               f"severity:{rule.name}")  # the note's, as _marked makes it
        urgent = ctx.severity in ("P0", "P1") and ticket.priority != "urgent"
        actions = (*((SetPriority("urgent"),) if urgent else ()),
                   *_notifications(ctx, move, ctx.tier, ticket.team or "", esc_id))
        body = notes.severity_note(ticket, tier_before, ctx.tier.name, ctx.severity or "", rule.notify, urgent)
        return _marked(ticket, tier_before, rule.name, "severity", actions, body, ctx.reasons, ctx.now)
    return None


def _severities_unpaged(ctx: _Ctx) -> Iterator[Rule]:
    """The overrides of _severities_here that did not move the ticket here (the ledger: a
    plan's move too, as a dry run writes no note) and did not page it here (its notes)."""
    ticket = ctx.ticket
    for rule in _severities_here(ctx):
        assert rule.to is not None  # _severities_here yields only overrides with a tier
        since = _arrived(ctx, rule.to)
        if rule.name in {m.rule for m in ledger_of(ticket) if since is None or m.at > since}:
            continue
        if ticket.comments is None:  # whether it was paged is in tierlift's notes
            raise _NeedComments(f"{rule.name}: whether this severity was paged at L{ctx.tier_before} is in the notes")
        if f"severity:{rule.name}" not in {m.rule for m in parse_markers(c.body for c in ticket.comments
                                                                          if not c.public)
                                           if since is None or m.at > since}:
            yield rule


def _pages_a_severity(ctx: _Ctx, rule: Rule) -> bool:
    """A severity override (three-tier's `severity_overrides`), or a severe rule that reads
    the ticket's severity on a P0 or P1 (teamflow's P0 is its `service-outage` rule, `{severity:
    P0}`): QA (on call) saw a teamflow P0 an agent handed to the Engineering Manager page nobody."""
    return rule.kind == "severity" or (rule.severe and ctx.severity in ("P0", "P1") and rule.when is not None
                                       and "severity" in rule.when.reads)


def _arrived(ctx: _Ctx, tier: int) -> datetime | None:
    """When the ticket last arrived at `tier` anew (None: it never left it): a page before it
    last went below the tier, or was last reopened, counts no more. Back at the tier, or
    reopened there ("down again" on a solved P0), it is a new incident (QA, on call: a P0
    reopened at L3 paged nobody, night after night)."""
    return max((at for at in (_fell_below(ctx.ledger, tier), _last_reopen(ctx.ticket)) if at is not None),
               default=None)


def _fell_below(ledger: Sequence[TierMove], tier: int) -> datetime | None:
    """When the ticket last moved from `tier` or above to below it (None: never): back at the
    tier, it is a new arrival there."""
    falls = [m.at for m in ledger if m.from_tier >= tier > m.to_tier]
    return max(falls) if falls else None


def _severities_here(ctx: _Ctx) -> Iterator[Rule]:
    """The severity overrides that page and hold on a ticket at or above their tier.

    A person's move up settles nothing here: a P0 an agent hands to engineering on call
    with its tag, in the same update or tagged a minute first, is why they moved it, and
    its page had not gone out (QA, a support lead: Zendesk paged nobody on a Friday night;
    only a tag added after the move paged). Once anything moved the ticket down, only
    facts newer than the last settling move count, as for every content rule, until it is
    back at the override's tier from below it: a P0 fixed and taken down, then back at L3
    for its recurrence with its tag still on, is a P0 at L3 again (QA, on call: PagerDuty
    was never told of a Sunday-night recurrence)."""
    moved_down = any(m.to_tier < m.from_tier for m in ctx.ledger)
    for rule in ctx.p.rules:
        if _pages_a_severity(ctx, rule) and rule.to is not None and rule.to <= ctx.tier_before and rule.notify \
                and rule.when is not None and (ctx.holds(rule.when) if not moved_down or _fell_below(ctx.ledger, rule.to)
                                               else _rule_holds(ctx, rule)):
            yield rule


def _incident_teams(ctx: _Ctx) -> Iterator[tuple[Rule, str]]:
    """The severe rules that hold for a ticket at or above their tier, each with the team the
    incident goes to there (the rule's own at its tier, else the tier's team for it), where
    that is not the ticket's team."""
    tier_before = ctx.tier_before
    for rule in ctx.p.rules:
        if not rule.severe or rule.to is None or rule.to > tier_before or not _rule_holds(ctx, rule):
            continue
        team = rule.team if rule.to == tier_before and rule.team else team_for(ctx.tier, ctx.view, ctx.ev,
                                                                                ctx.facts, ctx.now)
        if team != ctx.ticket.team:
            yield rule, team


def _customer_floor(ctx: _Ctx) -> int:
    """The tier the ticket's own routing calls for (teamflow: enterprise -> L2)."""
    floor = 1
    for route in ctx.p.routing:
        if ctx.holds(route.when):
            floor = max(floor, route.start_tier)
    for rule in ctx.p.rules:
        if rule.by_customer and rule.to is not None and rule.when is not None and ctx.holds(rule.when):
            floor = max(floor, rule.to)
    return floor


def _de_escalation_move(ctx: _Ctx) -> _Move | Decision | None:
    """De-escalation rules (the only way down), after a minimum stay, to the customer's own tier.
    Like a content rule, a rule holds on facts newer than the last move down or by a person: a
    fix tagged before a person moved the ticket was settled by that move (the person placed it
    knowing of the fix)."""
    tier_before, now = ctx.tier_before, ctx.now
    for rule in ctx.p.de_escalations:
        target = rule.to if rule.to is not None else tier_before - 1
        target = max(target, _customer_floor(ctx))
        if target < 1 or target >= tier_before or not ctx.holds_content(rule.when):
            continue
        stay_until = ctx.tier_start + rule.min_stay
        if now < stay_until:
            ctx.reasons.append(f"{rule.name}: waits for the minimum stay at L{tier_before} "
                               f"(until {stay_until:%Y-%m-%d %H:%M} UTC)")
            ctx.wakes.append(stay_until)
            continue
        if not ctx.start_known:
            raise _NeedComments(f"{rule.name}: when the ticket entered L{tier_before} decides the minimum stay")
        if ctx.ticket.comments is None:
            # The move's note states the SLA and the context: without the comments it said
            # "first_response: ... breached (running)" and "steps_taken: none recorded" on a
            # ticket L3 had answered and worked (Zendesk wake-ups read no comments).
            raise _NeedComments(f"{rule.name}: the de-escalation note states the tier's replies and context")
        return _fix_not_held(ctx, rule) or _Move(target, rule.name, f"de-escalation: {rule.when.describe}",
                                                 "de-escalate", remove=rule.remove_tags)
    return None


def _fix_not_held(ctx: _Ctx, rule: DeEscalation) -> Decision | None:
    """A de-escalation tag added before the ticket was last reopened is spent: the fix did not
    hold (found by the support floor: `fix_deployed` and solved at 04:07, the customer's "it
    broke again" reopened it at 09:40, and the old tag sent the L4 ticket to L1). The tag is
    removed with a note saying so; the tier keeps the ticket until someone tags a new fix."""
    ticket = ctx.ticket
    spent, since, reopened = _spent_tags(ctx, rule)
    if not spent or since is None:
        return None
    why = (f"was reopened at {since:%Y-%m-%d %H:%M} UTC, so that fix did not hold" if since == reopened else
           f"entered L{ctx.tier_before} at {since:%Y-%m-%d %H:%M} UTC, and what moved it there came after that fix")
    ctx.reasons.append(f"{rule.name}: {', '.join(spent)} was added before the ticket {why.split(',')[0]}")
    body = (f"tierlift did not de-escalate ticket {ticket.id}: {', '.join(spent)} was added before the ticket "
            f"{why}. The tag is removed and L{ctx.tier_before} keeps the ticket; add it again when a new fix is"
            f" deployed.")
    return _marked(ticket, ctx.tier_before, rule.name, "fix-not-held", (RemoveTags(tuple(spent)),), body,
                   ctx.reasons, ctx.now)


def _spent_tags(ctx: _Ctx, rule: DeEscalation) -> tuple[list[str], datetime | None, datetime | None]:
    """The rule's tags added before the ticket was last reopened, or before it entered its
    tier (what moved it there came after that fix: found by the support floor, seed 13,
    ticket 60: fix_deployed at L2, then the customer's "escalate this to someone senior" took
    it to L3, and the old tag brought it back down an hour later); with that moment and the
    reopening."""
    ticket = ctx.ticket
    reopened = _last_reopen(ticket)
    entered = ctx.tier_start if ctx.start_known else None
    since = max((d for d in (reopened, entered) if d is not None), default=None)
    if since is None or rule.when is None:
        return [], since, reopened
    tags = sorted(r[4:] for r in rule.when.reads if r.startswith("tag:") and r[4:] in ticket.tags)
    return [t for t in tags if (at := history.tag_added_at(ticket, t)) is not None and at < since
            and (since == reopened or not _entry_answered(ctx, at))], since, reopened


def _entry_answered(ctx: _Ctx, fixed_at: datetime) -> bool:
    """tierlift's own move into the tier answered only words the fix had already answered: its
    rule does not hold on what arrived after the fix. QA (a support-ops lead, going live after a
    dry run, Jira teamflow): an outage fixed at 13:10 and left open for monitoring was first seen
    at the 21:10 go-live, moved L1 -> L3 for its old words, then owed 15-minute updates from the
    move and paged the CTO 32 minutes later. A person's move, a clock's or a request's, or a rule
    that holds on what the customer wrote since the fix, came after it: the fix is spent."""
    move = next((m for m in reversed(ctx.ledger) if m.to_tier == ctx.tier_before), None)
    if move is None or move.human or move.at < fixed_at:
        return False
    rule = next((r for r in ctx.p.rules if r.name == move.rule and r.when is not None), None)
    if rule is None or rule.when is None:
        return False
    if ctx.ticket.comments is None:
        raise _NeedComments(f"{move.rule}: whether what moved the ticket came after its fix")
    return not rule.when.test(ctx.view_since(fixed_at), ctx.now)


def _last_reopen(ticket: Ticket) -> datetime | None:
    """When the ticket last left solved or closed for another status (None: never)."""
    before, reopened = "new", None
    for change in sorted(ticket.status_history, key=lambda s: s.at):
        if before in CLOSED_STATUSES and change.status not in CLOSED_STATUSES:
            reopened = change.at
        before = change.status
    return reopened


def _manual_move(ctx: _Ctx) -> _Move | Decision | None:
    """Manual triggers (the agent's tag), refused without context; the agent is named."""
    p, ticket, tier_before = ctx.p, ctx.ticket, ctx.tier_before
    if tier_before >= p.top_tier:
        return _top_tier_request(ctx)
    for rule in ctx.tier.rules:
        if rule.kind != "manual" or rule.tag not in ticket.tags:
            continue
        if ticket.comments is None:  # loaded together with the history
            raise _NeedComments("manual escalation requested: comments and history name the agent "
                                "and hold the context")
        change = history.tag_added_by(ticket, rule.tag or p.manual_tag)
        if _superseded(ctx, change):
            continue
        spent = _request_spent(ctx, rule, change)
        if spent is not None:
            return spent
        missing = _missing_context(ticket, p.required_context) if rule.requires_context else []
        if missing:
            answer = _refusal(ctx, rule, missing)
            if answer is None:
                continue
            return answer
        remove = tuple(t for t in (rule.tag, p.incomplete_tag) if t in ticket.tags)
        actor = change.author if change else None
        return _Move(tier_before + 1, "manual", f"manual escalation ({rule.text})", remove=remove, actor=actor)
    return None


def _request_spent(ctx: _Ctx, rule: Rule, change: Change | None) -> Decision | None:
    """A manual tag added before the ticket was solved and reopened: solving it answered the
    request (found by the support floor, seed 13: `escalate` with its context, then pending and
    solved; the customer's "here are the details you asked for" reopened it eight hours later,
    and the old tag escalated it to L2). The tag is removed with a note saying so."""
    reopened = _last_reopen(ctx.ticket)
    if change is None or reopened is None or change.at >= reopened:
        return None
    tag = rule.tag or ctx.p.manual_tag
    ctx.reasons.append(f"{rule.name}: {tag} was added before the ticket was solved and reopened")
    body = (f"tierlift did not escalate ticket {ctx.ticket.id}: '{tag}' was added at {change.at:%Y-%m-%d %H:%M} UTC, "
            f"before the ticket was solved and then reopened at {reopened:%Y-%m-%d %H:%M} UTC, so that request was "
            f"answered. The tag is removed; add it again to escalate the reopened ticket.")
    remove = tuple(t for t in (tag, ctx.p.incomplete_tag) if t in ctx.ticket.tags)
    return _marked(ctx.ticket, ctx.tier_before, rule.name, "refused", (RemoveTags(remove),), body,
                   ctx.reasons, ctx.now)


def _refusal(ctx: _Ctx, rule: Rule, missing: list[str]) -> _Move | Decision | None:
    """A manual request without its context: refused once in a note (None: said already)."""
    p, ticket = ctx.p, ctx.ticket
    # A criterion of the tier that moves the ticket now answers the request: no refusal
    # first (QA: "needs context" and then "Escalated L1 -> L2" in the same second).
    said = len(ctx.reasons)
    other = _tier_move(ctx)
    if other is not None:
        return other
    del ctx.reasons[said:]
    ctx.reasons.append(f"manual escalation refused: missing {', '.join(missing)}")
    if p.incomplete_tag in ticket.tags:
        # Refused and said so once: the tag waits for context, but it silences
        # nothing else -- the customer's own request and the SLA still move it.
        return None
    body = notes.refusal_note(ticket, missing, p.incomplete_tag, rule.tag or p.manual_tag)
    return _marked(ticket, ctx.tier_before, rule.name, "refused", (AddTags((p.incomplete_tag,)),),
                   body, ctx.reasons, ctx.now)


def _top_tier_request(ctx: _Ctx) -> Decision | None:
    """An agent's manual tag at the top tier asks for a tier there is not: said once in an
    internal note, and the tag removed (QA: `escalate` at L3 stayed on the ticket, and nobody
    was told it did nothing)."""
    p, ticket = ctx.p, ctx.ticket
    asked = {r.tag or p.manual_tag for t in p.tiers.values() for r in t.rules if r.kind == "manual"}
    tags = tuple(sorted(t for t in asked | {p.manual_tag} if t in ticket.tags))
    if not tags:
        return None
    ctx.reasons.append(f"manual escalation tag at L{ctx.tier_before}, the top tier: nothing above it")
    body = notes.top_tier_note(ticket, ctx.tier_before, ctx.tier.name, tags)
    return _marked(ticket, ctx.tier_before, "manual", "refused", (RemoveTags(tags),), body, ctx.reasons, ctx.now)


def _confirmed_by(ctx: _Ctx, rule: Rule) -> str | None:
    """The person whose triage confirmation (`triage_confirm_<category>`) is what made `rule`
    fire: the move is theirs, and the note's escalated_by names them (seed 000), as a manual
    escalation's does. It said "tierlift (rule ...)" for an agent's own decision. None when
    the rule holds without the confirmation, or for a probe."""
    when, prefix = rule.when, ctx.p.triage.confirm_tag_prefix
    if when is None or ctx.probe:
        return None
    confirms = frozenset(t for t in ctx.ticket.tags if t.startswith(prefix) and ("tag:" + t in when.reads
                                                                              or "*" in when.reads))
    if not confirms:
        return None
    without = TicketView(replace(ctx.ticket, tags=ctx.ticket.tags - confirms), ctx.view.severity, ctx.ev.classifier)
    if when.test(without, ctx.now):
        return None
    if ctx.ticket.history is None:
        raise _NeedComments(f"{rule.name}: a triage confirmation, and the history names who confirmed")
    changes = [c for t in confirms if (c := history.tag_added_by(ctx.ticket, t)) is not None]
    return max(changes, key=lambda c: c.at).author if changes else None


def _superseded(ctx: _Ctx, change: Change | None) -> bool:
    """A manual tag applied at a tier the ticket has since left asked for one tier up from
    there, a move already made: context written later does not renew it."""
    if change is None or not ctx.start_known or change.at >= ctx.tier_start:
        return False
    ctx.reasons.append("manual escalation tag applied before the ticket entered this tier: done")
    return True


class _Quiet(Exception):  # noqa: N818 - a signal, not an error
    def __init__(self, kind: str):
        super().__init__(kind)
        self.kind = kind


def _tier_move(ctx: _Ctx) -> _Move | None:
    """The current tier's condition criteria, then its SLA criteria."""
    tier_before = ctx.tier_before
    if tier_before >= ctx.p.top_tier:
        return None
    for rule in ctx.tier.rules:
        if rule.kind != "condition" or not rule.when:
            continue
        if ctx.holds_content(rule.when):
            to = rule.to if rule.to and rule.to > tier_before else tier_before + 1
            return _Move(to, rule.name, _reason(ctx, rule), team=rule.team, notify=rule.notify,
                         actor=_confirmed_by(ctx, rule), read=_triage_read(ctx, rule), next_step=rule.next_step)
        if rule.when.next_change:
            nxt = rule.when.next_change(ctx.wake_view(), ctx.now)
            if nxt:
                ctx.wakes.append(nxt)
    return _sla_move(ctx)


def _sla_move(ctx: _Ctx) -> _Move | None:
    """"SLA at N% elapsed without resolution path": nobody of this tier replied publicly
    since it entered it and N% of the first-response target elapsed, or the ticket is
    not solved when N% of the tier's resolution target elapsed (both from the tier start,
    business time, pauses excluded). A criterion naming one target, or a pack's
    `sla_clocks`, watches that clock only."""
    level, now = ctx.tier_before, ctx.now
    for rule in ctx.tier.rules:
        if rule.kind != "sla":
            continue
        metrics = ("first_response", "resolution") if rule.sla_metric == "any" else (rule.sla_metric,)
        for c in ctx.clock_plans:
            metric = c.metric
            if metric not in metrics or not c.running:
                continue
            at = c.crossing(rule.sla_pct)
            if at is None:  # a running clock always crosses; this keeps the type honest
                continue
            if now < at:
                ctx.wakes.append(at)
                continue
            known = ctx.start_known and (metric == "resolution" or ctx.first.known)
            if not known:
                raise _NeedComments(f"L{level} {metric.replace('_', ' ')} threshold due: comments and history "
                                    f"tell whether L{level} replied since it got the ticket")
            if _touched_since(ctx.ticket, ctx.tier_start):
                raise _NeedComments(f"L{level} {metric.replace('_', ' ')} threshold due: the ticket changed since "
                                    f"L{level} got it, and the history tells whether a person moved it away and back")
            if not pauses_known(ctx.ticket):
                raise _NeedComments(f"L{level} {metric.replace('_', ' ')} threshold due: the status changed since "
                                    "creation, and the history tells which pauses ended before")
            return _Move(level + 1, rule.name,
                         f"{rule.text}: L{level} {c.metric.replace('_', ' ')} clock reached {rule.sla_pct:g}% "
                         f"of {format_business(c.target, c.day_hours)} at {at:%Y-%m-%d %H:%M} UTC")
    return None


def _describe_clocks(ctx: _Ctx) -> None:
    for c in ctx.clock_plans:
        nxt = min((at for _pct, at in c.crossings if at > ctx.now), default=None)
        state = ("met" if c.stopped else "paused" if c.paused else
                 f"next threshold at {nxt:%Y-%m-%d %H:%M} UTC" if nxt else "running")
        ctx.reasons.append(f"L{ctx.tier_before} {c.metric.replace('_', ' ')} ({format_business(c.target, c.day_hours)}): {state}")


def _apply_move(ctx: _Ctx, move: _Move, follow: bool) -> Decision:
    """The ping-pong guard (tierlift's own moves only; severity passes), then the move."""
    p, ticket, now = ctx.p, ctx.ticket, ctx.now
    recent = [m for m in ctx.ledger if not m.human and m.at > now - p.ping_pong.window]
    if len(recent) >= p.ping_pong.max_moves and not move.severe:
        lifted = _freeze_lifted_at(ctx)
        recent = [m for m in recent if lifted is None or m.at > lifted]
    if len(recent) >= p.ping_pong.max_moves and not move.severe:
        ctx.reasons.append(f"would move L{ctx.tier_before} -> L{move.to} ({move.rule}), but it moved {len(recent)} "
                           f"times within {format_span(p.ping_pong.window)}: frozen")
        body = notes.frozen_note(ticket, len(recent), format_span(p.ping_pong.window), p.ping_pong.tag)
        return _marked(ticket, ctx.tier_before, move.rule, "frozen", (Flag(p.ping_pong.tag, "ping-pong guard"),),
                       body, ctx.reasons, now)
    if ctx.probe:
        return _would_act(ctx)
    decision = _build_move(ctx, move)
    return _follow(ctx, decision) if follow else decision


def _freeze_lifted_at(ctx: _Ctx) -> datetime | None:
    """When the ticket was last frozen, if a person has lifted that freeze since (its note is
    there, its tag is not: the note asks them to remove the tag to let escalation resume).
    The moves before it were judged by a person and no longer count."""
    if ctx.ticket.comments is None:
        raise _NeedComments("the ping-pong guard: the notes tell whether a person lifted an earlier freeze")
    freezes = [m.at for m in parse_markers(c.body for c in ctx.ticket.comments if not c.public)
               if m.rule.startswith("frozen:")]
    return max(freezes, default=None)


# What a probe (see _Ctx.probe) returns where an evaluation would write something.
_WOULD_ACT = (Flag("", "the ticket would be acted on again"),)


def _would_act(ctx: _Ctx) -> Decision:
    return Decision(ctx.ticket.id, ctx.tier_before, ctx.tier_before, _WOULD_ACT, (), None)


def _follow(ctx: _Ctx, decision: Decision) -> Decision:
    """The wake-up of a move: when the ticket, as it reads once the move landed, is due next."""
    moved = apply_decision(ctx.ticket, decision, ctx.now)
    ctx.ev.carry(ctx.ticket, moved)
    after = _evaluate(ctx.ev, moved, ctx.now, follow=False)
    return replace(decision, wake_up=ctx.now if after.has_actions or after.needs_comments else after.wake_up)


def _marked(ticket: Ticket, tier: int, rule: str, kind: str, actions: tuple[Action, ...], body: str,
            reasons: list[str], now: datetime) -> Decision:
    """A decision that writes a note but moves nothing; its note carries a marker too,
    so a restarted daemon can tell whether it landed."""
    esc_id = escalation_id(ticket.id, ticket.version or ticket.updated_at.isoformat(), tier, tier, kind + ":" + rule)
    note = f"{body}\n\n{format_marker(esc_id, tier, tier, kind + ':' + rule, now)}"
    return Decision(ticket.id, tier, tier, actions + (InternalNote(note),), tuple(reasons), None,
                    rule=rule, escalation_id=esc_id, kind=kind)


def tier_clocks(ticket: Ticket, policy: Policy, now: datetime) -> tuple[int, datetime, list[ClockReading]]:
    """The current tier, when it was entered, and its SLA clocks, read as the evaluation reads them."""
    level = current_tier(ticket, policy) or 1
    tier = policy.tiers.get(level) or policy.tiers[1]
    ledger = ledger_of(ticket)
    start, _known = _tier_start(ticket, ledger, level, policy)
    last = ledger[-1] if ledger else None
    de_escalated = last is not None and last.to_tier < last.from_tier and not last.human
    fr = first_response(ticket, start, ticket_wide=_never_moved(ticket, ledger, level), answered_counts=de_escalated,
                        teams=policy.responders(tier))
    plan = ticket.organization.plan if ticket.organization else None
    severity, rule = severity_of(ticket, policy), entry_rule(ledger, level)
    first_target, resolution_target = policy.targets_for(tier, plan, severity, rule)
    readings = read_clocks(ticket, policy.calendar_for(tier, severity, rule), start, fr, first_target, resolution_target,
                           policy.pause_statuses, now)
    return level, start, readings


def _tier_start(ticket: Ticket, ledger: tuple[TierMove, ...], tier: int, p: Policy) -> tuple[datetime, bool]:
    """When the ticket entered its current tier, and whether that is known.

    Not known: the tag says a tier above L1 (or the ticket moved) but no
    ledger entry leads there and the history is not loaded -- a lost state
    file, a second daemon. Measuring from creation would escalate at once,
    so a due threshold asks for the comments and history instead.
    """
    if ledger and ledger[-1].to_tier == tier:
        return _back_in_tier(ticket, p, tier, max(ledger[-1].at, ticket.created_at)), True
    since = ticket.fields.get("tier_since") if ticket.fields else None
    if isinstance(since, datetime):
        return since, True
    if _never_moved(ticket, ledger, tier):
        return _back_in_tier(ticket, p, tier, ticket.created_at), True
    if ticket.history is not None:
        added = history.tag_added_at(ticket, p.tier_tag(tier))
        return (added or ticket.created_at), True
    return ticket.created_at, ticket.comments is not None


def _back_in_tier(ticket: Ticket, p: Policy, tier: int, start: datetime) -> datetime:
    """`start`, or the last time since then that a person moved the ticket back into this
    tier from another tier's team: a round trip made between two of tierlift's reads leaves
    the tags as they were, but the helpdesk's history has it and the tier's clocks start
    again at the return (found by the support floor: L1 -> L2 -> L1 by a person on Monday,
    escalated on Wednesday by a clock counted from Friday)."""
    returns = [c.at for c in ticket.history or () if c.field == "team" and not c.automated and c.at > start
               and p.tier_of_team(c.after) == tier and p.tier_of_team(c.before) not in (None, tier)]
    return max(returns, default=start)


def _touched_since(ticket: Ticket, start: datetime) -> bool:
    """The ticket changed after its tier's clocks started (beyond tierlift's own write of
    the move, which lands within moments of it), and the history that would show a
    person's round trip is not loaded."""
    return ticket.history is None and ticket.updated_at > start + OWN_WRITE_SLACK


def _never_moved(ticket: Ticket, ledger: tuple[TierMove, ...], tier: int) -> bool:
    """An L1 ticket with no move in its ledger, and that ledger to be trusted: the state followed
    the ticket, or its notes' markers were read (a de-escalated ticket carries only its L1 tag)."""
    return tier == 1 and not ledger and (ticket.ledger_known or ticket.comments is not None)


def _missing_context(ticket: Ticket, required: tuple[str, ...]) -> list[str]:
    found = notes.extract_context(ticket)
    return [name for name in required if not found.get(name)]


def _update_step(ctx: _Ctx) -> _Move | Decision | None:
    """Periodic update obligations: a reminder after one miss, then an escalation. None while
    the ticket is paused or solved (nobody owes the customer an update while waiting on them),
    nor once its fix is deployed (a de-escalation that holds and waits only for its minimum
    stay): a fixed outage left open for monitoring climbed L3 -> L4 with a page 30 minutes
    after the fix, its one-hour stay not yet over (QA, a support lead, 2026-12-07)."""
    if not ctx.p.updates or ctx.ticket.status in ctx.p.pause_statuses | CLOSED_STATUSES or _fix_waiting(ctx):
        return None
    for ob in ctx.p.updates:
        if _incident_open(ctx, ob) or ctx.holds_content(ob.when):
            result = _update_due(ctx, ob)
            if result is not None:
                return result
    return None


def _paused_after(ctx: _Ctx, since: datetime) -> timedelta:
    """Wall-clock time the ticket spent paused or solved after `since` (the ticket is not now)."""
    intervals = paused_intervals(ctx.ticket, ctx.p.pause_statuses | CLOSED_STATUSES, ctx.now)
    return sum((min(b, ctx.now) - max(a, since) for a, b in intervals if b > since), timedelta(0))


def _fix_waiting(ctx: _Ctx) -> bool:
    """A de-escalation rule holds on a fix that still stands (not spent by a reopening or a
    later move into the tier), and only its minimum stay keeps the ticket here."""
    for rule in ctx.p.de_escalations:
        target = max(rule.to if rule.to is not None else ctx.tier_before - 1, _customer_floor(ctx))
        if 1 <= target < ctx.tier_before and ctx.holds_content(rule.when) and not _spent_tags(ctx, rule)[0]:
            return True
    return False


def _incident_open(ctx: _Ctx, ob: UpdateObligation) -> bool:
    """A rule the duty follows (or the duty itself) moved the ticket, and no move down or
    person's move settled it since: the incident owes its updates whatever the customer's
    later words read (found by the floor: a data incident's follow-ups, "here are the details
    you asked for", lowered the whole ticket's reading, and its second missed update moved
    nothing)."""
    own = (*ob.rules, f"{CLOCK_RULE_PREFIXES[1]}{ob.name}")
    return any(m.rule in own and (ctx.since_down is None or m.at > ctx.since_down) for m in ctx.ledger)


def _update_due(ctx: _Ctx, ob: UpdateObligation) -> _Move | Decision | None:
    """One obligation that applies: missed updates since the last public reply, or since
    the ticket entered its tier (a tier owes updates from when it got the ticket: an old
    outage first seen on a backlog does not owe them from its creation). One move per
    silence (since the last public reply, or creation)."""
    p, ticket, now, tier_before = ctx.p, ctx.ticket, ctx.now, ctx.tier_before
    replies = agent_replies(ticket)
    if replies is None:
        raise _NeedComments(f"{ob.name}: comments tell when the last public update was")
    silence = max(replies + [ticket.created_at])
    anchor = max(silence, ctx.tier_start) if ctx.start_known else silence
    # Time paused or solved since is nobody's silence: the duty counts from where it resumed.
    anchor += _paused_after(ctx, anchor)
    missed = math.floor((now - anchor) / ob.every)
    escalates = bool(ob.escalate_after) and tier_before < p.top_tier
    if escalates and missed >= ob.escalate_after:
        move = _update_move(ctx, ob, silence, anchor)
        if move is not None:
            return move
    return _remind_or_wait(ctx, ob, (anchor, missed), escalates and missed < ob.escalate_after,
                           max(replies, default=None))


def _remind_or_wait(ctx: _Ctx, ob: UpdateObligation, silent: tuple[datetime, int], escalates: bool,
                    spoke: datetime | None) -> Decision | None:
    """While the silence lasts the duty goes on where no move follows (the top tier: "status
    updates every 15 minutes"), reminded after 1, 2, 4, 8 ... missed periods: a note every
    period made 96 a day on an incident nobody closed (the full floor: 43,000 reminders in
    five days, and the daemon fell behind). After a stop, one for where the silence is.
    `silent`: (since when, missed periods); `escalates`: a later miss moves the ticket."""
    anchor, missed = silent
    step = 1 << (missed.bit_length() - 1) if missed >= 1 else 0
    nxt = min(2 * step or 1, ob.escalate_after) if escalates else 2 * step or 1
    due = anchor + ob.every * step - min(OWN_WRITE_SLACK, ob.every / 4)
    if step and not any(REMINDER_PREFIX in c.body for c in ctx.ticket.comments or ()
                        if not c.public and c.created_at >= due):
        return _reminder(ctx, ob, step, escalates, (anchor, anchor + ob.every * nxt), spoke)
    ctx.wakes.append(anchor + ob.every * nxt)
    return None


def _update_move(ctx: _Ctx, ob: UpdateObligation, silence: datetime, anchor: datetime) -> _Move | None:
    """One tier up for missed updates, once per silence; it tells the channels of the incident's
    rules (an outage that nobody updated reaches the executives: engineering is paged again)."""
    rule = f"{CLOCK_RULE_PREFIXES[1]}{ob.name}"
    if any(m.rule == rule and m.at > silence for m in ctx.ledger):
        return None
    channels = dict.fromkeys(ch for r in ctx.p.rules if r.name in ob.rules for ch in r.notify)
    return _Move(ctx.tier_before + 1, rule, f"{ob.name}: no public update for {format_span(ctx.now - anchor)} "
                                            f"(every {format_span(ob.every)} required)", notify=tuple(channels))


def _reminder(ctx: _Ctx, ob: UpdateObligation, step: int, escalates: bool, span: tuple[datetime, datetime],
              spoke: datetime | None) -> Decision:
    """The reminder after `step` missed periods since `span`'s start, waking at its end;
    `spoke`: a person's last public reply (none: the silence is the tier's own)."""
    ticket, now, tier, name, every = ctx.ticket, ctx.now, ctx.tier_before, ob.name, ob.every
    anchor, wake = span
    # the first reminder of a silence keeps the id it always had (one journaled before an upgrade)
    rid = escalation_id(ticket.id, anchor.isoformat() + (f"#{step}" if step > 1 else ""), tier, tier, name)
    last = (f"the last one was {format_span(now - spoke)} ago" if spoke is not None and spoke >= anchor else
            f"none since it reached L{tier} {format_span(now - anchor)} ago" if anchor > ticket.created_at else
            f"none since it was opened {format_span(now - anchor)} ago")
    body = (f"Reminder: this ticket needs a public update every {format_span(every)} ({name}); {last}."
            f"{' A further miss escalates it.' if escalates else ''}\n"
            f"{REMINDER_PREFIX}{rid} rule={name} at={now:%Y-%m-%dT%H:%M:%SZ}]\n"
            f"{format_marker(rid, tier, tier, 'reminder:' + name, now)}")
    ctx.reasons.append(f"{name}: public update overdue")
    said = f"Reminder: ticket {ticket.id} at L{tier} needs a public update every {format_span(every)}; {last}."
    pages = tuple(Notify(ch, f"[update due] Ticket {ticket.id}: {notes.plain(ticket.subject)}"[:200],
                         f"{said}{' A further miss escalates it.' if escalates else ''}") for ch in ob.remind)
    return Decision(ticket.id, tier, tier, (InternalNote(body), *pages), tuple(ctx.reasons),
                    _ceil_second(wake), rule=name, escalation_id=rid,
                    kind="reminder")


def team_for(tier: Tier, view: TicketView, ev: Evaluator, facts: _Facts, now: datetime) -> str:
    for choice in tier.teams:
        if choice.when is None or ev.holds(choice.when, view, facts, now):
            return choice.team
    return tier.default_team


def _targets(ctx: _Ctx, tier: Tier, rule: str | None) -> tuple[timedelta | None, timedelta | None]:
    """The tier's targets for this ticket; `rule`: the rule of the move into it."""
    plan = ctx.ticket.organization.plan if ctx.ticket.organization else None
    return ctx.p.targets_for(tier, plan, ctx.severity, rule)


def entry_rule(ledger: tuple[TierMove, ...], tier: int) -> str | None:
    """The rule of tierlift's move into the ticket's current tier (None: a person's move, or
    the ticket never moved), which an `on_call` entry's `rules` may name."""
    last = ledger[-1] if ledger else None
    return last.rule if last is not None and last.to_tier == tier and not last.human else None


def promised_due(ctx: _Ctx, tier: Tier, cal: BusinessCalendar, rule: str | None,
                 start: datetime | None = None) -> datetime | None:
    """When the customer is promised the next response: the earliest of the category times
    that apply (seed 003 "Response Time SLAs") and the level's first-response target, on
    `cal`, the level's calendar. A category with an update duty is an incident whose updates
    are owed around the clock (the duty counts wall-clock time), so its first response is
    too: an outage on a Saturday was promised "Monday 09:15" by a business-hours team, then
    escalated on Saturday for the updates it was missing. A category never promises slower
    than the receiving level's own target (a "standard escalation" of 4 hours does not
    stretch Level 3's 2 hours).

    Counted from the minute of the decision, as the promise is shown to the minute (found by
    the support floor, seed 13: escalated at 15:00:12 with two business hours to go, the
    customer was promised "Wednesday 09:00" for the twelve seconds past the 17:00 close)."""
    start = (start or ctx.now).replace(second=0, microsecond=0)
    dues = [start + k.first_response if k.updates_every else cal.add(start, k.first_response)
            for k in ctx.p.categories if k.first_response and ctx.holds(k.when)]
    level = _targets(ctx, tier, rule)[0]
    if level is not None:
        dues.append(cal.add(start, level))
    return min(dues) if dues else None


def _build_move(ctx: _Ctx, move: _Move) -> Decision:
    p, ticket, now, tier_before = ctx.p, ctx.ticket, ctx.now, ctx.tier_before
    target = p.tiers[move.to]
    team = move.team or team_for(target, ctx.view, ctx.ev, ctx.facts, now)
    esc_id = escalation_id(ticket.id, ticket.version or ticket.updated_at.isoformat(), tier_before, move.to, move.rule)
    marker = format_marker(esc_id, tier_before, move.to, move.rule, now, actor=move.actor)
    ctx.reasons.append(f"L{tier_before} -> L{move.to} ({move.rule}): {move.reason}")
    actions: list[Action] = [Reassign(team), *_tier_tags(ctx, move)]
    if move.severity_rule and ctx.severity in ("P0", "P1") and ticket.priority != "urgent":
        actions.append(SetPriority("urgent"))
    actions.append(InternalNote(_escalation_note(ctx, move, target, team, marker)))
    template, reply = p.customer_notification, _reply_text(ctx, move)
    if move.to > tier_before and template is not None and reply is not None and not _told_by_person(ctx, move):
        actions.append(_customer_reply(ctx, target, move, reply, template.tier_names))
    actions += _notifications(ctx, move, target, team, esc_id)
    return Decision(ticket.id, tier_before, move.to, tuple(actions), tuple(ctx.reasons), None,
                    rule=move.rule, escalation_id=esc_id, kind=move.kind, actor=move.actor, read=move.read)


def _reply_text(ctx: _Ctx, move: _Move) -> str | None:
    """The customer reply's text for a move up: a new ticket routed to its tier by who the
    customer is (a `routing:` entry, or a `by_customer` rule moving a ticket that has no tier
    yet) has nothing escalated from their view (an enterprise customer's "how do I add
    seats?" was answered "We have escalated ...": QA, a CX lead), so it gets the pack's
    `routed` text, or none."""
    template = ctx.p.customer_notification
    if template is None:
        return None
    routed = move.kind == "route" or (ctx.tagged is None and not ctx.ledger and any(
        r.by_customer and r.name == move.rule for r in ctx.p.rules))
    if routed:
        return template.routed
    # Back up into a tier it was at before (its fix did not hold): the pack's `returned` text.
    # The first email again word for word told the customer nothing had happened (QA, a CX lead).
    back = template.returned is not None and any(m.to_tier >= move.to for m in ctx.ledger)
    return template.returned if back else template.body


def _told_by_person(ctx: _Ctx, move: _Move) -> bool:
    """The agent who asked for the move (a manual tag, a triage confirmation) answered the
    customer in the same update or since: tierlift's own "We have escalated ..." 90 seconds
    later named another team and another time than the agent's (QA, a CX lead), where a
    person's own hand-off up with a reply gets none. The move, note and pages are as ever."""
    if move.actor is None or not ctx.ticket.history or ctx.ticket.comments is None:
        return False
    asked = max((c.at for c in ctx.ticket.history if c.field == "tags" and c.author == move.actor
                 and not c.automated), default=None)
    return asked is not None and any(at >= asked - SAME_UPDATE for at in agent_replies(ctx.ticket) or ())


SAME_UPDATE = timedelta(minutes=1)  # a reply written with the request, a minute before it at most


def _requests_answered(ctx: _Ctx, move: _Move) -> tuple[str, ...]:
    """An escalation, whichever rule made it, answers an agent's request for one from the tier
    it leaves: the trigger tags are consumed and the incomplete flag cleared. QA: after an SLA
    escalation of a ticket whose `escalate` had been refused for missing context, both tags
    stayed; at L2 the stale flag said context was missing for a move already made, and an L2
    agent could not ask for L3 with a tag already on the ticket (no new add in the history)."""
    if move.to <= ctx.tier_before or move.kind == "route":
        return ()
    return _trigger_tags(ctx.p, ctx.tier)


def _trigger_tags(p: Policy, tier: Tier) -> tuple[str, ...]:
    """An agent's requests for one tier up from `tier`: the pack's trigger tag, the tier's own
    `{manual: {tag: ...}}`, and the incomplete flag a refusal left."""
    return (p.manual_tag, p.incomplete_tag, *(r.tag for r in tier.rules if r.kind == "manual" and r.tag))


def _tier_tags(ctx: _Ctx, move: _Move) -> list[Action]:
    """The target tier's tag on; the other tier tags, and the tags the move clears, off."""
    p, ticket = ctx.p, ctx.ticket
    old_tags = tuple(sorted(t for t in p.tier_tags if t in ticket.tags and t != p.tier_tag(move.to)))
    cleared = {*move.remove, *_requests_answered(ctx, move)}
    remove = tuple(sorted(set(old_tags) | {t for t in cleared if t in ticket.tags}))
    actions: list[Action] = [AddTags((p.tier_tag(move.to),))]
    if remove:
        actions.append(RemoveTags(remove))
    return actions


def _escalation_note(ctx: _Ctx, move: _Move, target: Tier, team: str, marker: str) -> str:
    """The note for the receiving tier, with the clocks of the tier the ticket leaves."""
    p, ticket, tier_before = ctx.p, ctx.ticket, ctx.tier_before
    first_target, resolution_target = _targets(ctx, ctx.tier, ctx.entry_rule)
    clocks = read_clocks(ticket, p.calendar_for(ctx.tier, ctx.severity, ctx.entry_rule), ctx.tier_start, ctx.first,
                         first_target, resolution_target, p.pause_statuses, ctx.now)
    due = None
    if move.to > tier_before:  # QA (on call): at 02:00 the note said "4 business hours left" (L1's clock)
        when = customer_due(ctx, target, move.rule)
        due = notes.local_time(when, p.calendar_for(target).timezone) if when else None
    return notes.escalation_note(notes.NoteInput(
        ticket=ticket, policy_name=p.name, tier_from=tier_before, tier_to=move.to, tier_name=target.name,
        team=team, rule=move.rule, reason=move.reason, now=ctx.now, clocks=tuple(clocks), next_step=move.next_step or target.next_step,
        context=notes.extract_context(ticket), marker=marker, escalated_by=move.actor,
        day_hours=p.calendar_for(p.tiers.get(tier_before) or p.tiers[1], ctx.severity, ctx.entry_rule).day_hours,
        response_due=due))


def _customer_reply(ctx: _Ctx, target: Tier, move: _Move, text: str,
                    tier_names: Mapping[int, str]) -> PublicReply:
    due = customer_due(ctx, target, move.rule)
    shown = ctx.p.calendar_for(target).timezone  # in the time zone the customer is answered in
    due_text = notes.local_time(due, shown) if due else "as soon as possible"
    # The subject as the customer wrote it, not as a person renamed it for colleagues.
    subject = notes.plain(history.customer_subject(ctx.ticket)) or notes.untitled(ctx.ticket)
    body = notes.fill(text, notes.template_values(
        ctx.ticket, subject=subject, tier_name=tier_names.get(target.level, target.name), tier_to=move.to,
        expected_response=due_text))
    return PublicReply(body)


def customer_due(ctx: _Ctx, target: Tier, rule: str | None) -> datetime | None:
    """The time a move up to `target` promises: the receiving tier's (on its own hours, for
    the severity or the rule that moves it), never later than a promise the customer already
    holds and that still runs (QA, a CX lead: "... by 05:06", then at 04:36 "... to our
    Executive team ... by 05:36", each escalation pushing the promise later)."""
    due = promised_due(ctx, target, ctx.p.calendar_for(target, ctx.severity, rule), rule)
    held = _running_promise(ctx)
    return held if held is not None and (due is None or held < due) else due


def _promising_move(ctx: _Ctx) -> TierMove | None:
    """tierlift's move up into the current tier, when a reply of its own follows it."""
    last = ctx.ledger[-1] if ctx.ledger else None
    comments = ctx.ticket.comments
    if last is None or last.human or not last.to_tier == ctx.tier_before > last.from_tier or comments is None:
        return None
    replied = any(c.public and c.automated and c.created_at >= last.at - SAME_UPDATE for c in comments)
    return last if replied else None


def _running_promise(ctx: _Ctx) -> datetime | None:
    """The promise tierlift's move into the current tier gave the customer, while no person
    has answered since and it has not passed; None where no reply of tierlift's follows that
    move (no promise was made) or the comments are not loaded."""
    last = _promising_move(ctx)
    if last is None or (tier := ctx.p.tiers.get(last.to_tier)) is None:
        return None
    if any(at >= last.at for at in agent_replies(ctx.ticket) or ()):
        return None  # answered: that promise was kept
    due = promised_due(ctx, tier, ctx.p.calendar_for(tier, ctx.severity, last.rule), last.rule, start=last.at)
    return due if due is not None and due > ctx.now else None


def _notifications(ctx: _Ctx, move: _Move, target: Tier, team: str, esc_id: str) -> list[Action]:
    p, ticket, tier_before = ctx.p, ctx.ticket, ctx.tier_before
    out: list[Action] = []
    reason = notes.plain(move.reason)  # it may quote the customer's sentence (a triage reading)
    for channel in move.notify:
        tpl = p.templates.get(move.rule) or p.templates.get(channel)
        values = notes.template_values(ticket, tier_from=tier_before, tier_to=move.to, tier_name=target.name,
                                       team=team, rule=move.rule, reason=reason, severity=ctx.severity or "",
                                       escalation_id=esc_id, timestamp=ctx.now.strftime("%Y-%m-%d %H:%M UTC"))
        if tpl:
            subject, body = notes.fill(tpl.subject, values), notes.fill(tpl.body, values)
        else:
            subject = f"[L{move.to}] Ticket {ticket.id} escalated: {notes.plain(ticket.subject)}"[:200]
            body = f"Ticket {ticket.id} moved L{tier_before} -> L{move.to} ({team}) by rule {move.rule}: {reason}"
        out.append(Notify(channel, subject, body))
    return out


def apply_decision(ticket: Ticket, decision: Decision, at: datetime) -> Ticket:
    """The ticket as it reads after a decision's actions landed (for simulation and tests)."""
    tags = set(ticket.tags)
    group, team, priority = ticket.group, ticket.team, ticket.priority
    comments = list(ticket.comments) if ticket.comments is not None else None
    for a in decision.actions:
        if isinstance(a, AddTags):
            tags |= set(a.tags)
        elif isinstance(a, RemoveTags):
            tags -= set(a.tags)
        elif isinstance(a, Flag):
            tags.add(a.flag)
        elif isinstance(a, Reassign):
            group = team = a.team
        elif isinstance(a, SetPriority):
            priority = a.priority
        elif isinstance(a, InternalNote | PublicReply) and comments is not None:
            comments.append(Comment("tierlift", a.body, isinstance(a, PublicReply), at, automated=True))
    ledger = ticket.ledger
    if decision.tier_after != decision.tier_before:
        ledger = ledger + (ledger_entry(decision, at),)
    return replace(ticket, tags=frozenset(tags), group=group, team=team, priority=priority,
                   comments=tuple(comments) if comments is not None else None, ledger=ledger,
                   updated_at=max(at, ticket.updated_at), version=f"{ticket.version}+{decision.escalation_id or 'x'}")


def ledger_entry(decision: Decision, at: datetime) -> TierMove:
    """The ledger's record of an applied move. A human move is dated at the move itself
    (its marker's at=), so the tier's clocks run from when the person moved it."""
    if decision.kind == "human-move":
        for a in decision.actions:
            if isinstance(a, InternalNote):
                moves = parse_markers([a.body])
                if moves:
                    return moves[0]
    return TierMove(at, decision.tier_before, decision.tier_after, decision.rule or "",
                    decision.escalation_id or "", decision.actor, decision.kind == "human-move")

