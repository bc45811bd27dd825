"""SLA clocks: business time used against a tier's targets, with pauses excluded.

Two kinds of clock (seed 000, "SLA-Based" triggers and pitfall 4):
- the tier clock, which starts when the ticket entered its current tier and
  drives "SLA at N% elapsed" escalations;
- the ticket clock, which starts at the ticket's ORIGINAL creation time and is
  never reset by a close/reopen; it is what compliance reports measure.

Paused time (statuses such as pending or on-hold) is excluded, in business
time, interval by interval. Each calendar call costs the same for any span.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from tierlift.engine.calendar import BusinessCalendar
from tierlift.engine.model import CLOSED_STATUSES, StatusChange, Ticket

ZERO = timedelta(0)


@dataclass(frozen=True, slots=True)
class ClockReading:
    metric: str  # "first_response" | "resolution"
    start: datetime
    target: timedelta
    elapsed: timedelta
    stopped: bool  # met (replied / solved): the clock no longer runs
    paused: bool  # the ticket is in a pause status now

    @property
    def share(self) -> float:
        return self.elapsed / self.target * 100 if self.target else 0.0

    @property
    def left(self) -> timedelta:
        return self.target - self.elapsed

    @property
    def breached(self) -> bool:
        return self.elapsed >= self.target


def paused_intervals(ticket: Ticket, pause_statuses: frozenset[str], now: datetime) -> list[tuple[datetime, datetime]]:
    """Intervals spent in a pause status, from the status history (oldest first)."""
    out: list[tuple[datetime, datetime]] = []
    history = sorted(ticket.status_history + _changed_statuses(ticket), key=lambda s: s.at)
    for i, change in enumerate(history):
        if change.status in pause_statuses:
            end = history[i + 1].at if i + 1 < len(history) else now
            if end > change.at:
                out.append((change.at, min(end, now)))
    if not history and ticket.status in pause_statuses:
        # No history: the best evidence of when the pause began is the last update.
        out.append((ticket.updated_at, now))
    elif history and history[-1].status != ticket.status and ticket.status in pause_statuses:
        out.append((max(history[-1].at, ticket.updated_at), now))
    return out


def _changed_statuses(ticket: Ticket) -> tuple[StatusChange, ...]:
    """Status changes of the loaded history (Zendesk audits, Jira changelog): a helpdesk's
    own status history may keep only the last change (Zendesk's metric set), which loses
    a pause that has ended."""
    return tuple(StatusChange(c.at, c.after) for c in ticket.history or () if c.field == "status" and c.after)


def pauses_known(ticket: Ticket) -> bool:
    """Whether every pause of the ticket is known: its history is loaded, its status never
    changed since creation, or its status history records more than one change (a full
    record, as Jira's changelog gives). Zendesk's export carries only the last status
    change (the metric set's status_updated_at): a pause that ended before tierlift
    looked (a restart, a stopped timer, a first sync onto a backlog) is only in the audits."""
    if ticket.history is not None:
        return True
    return sum(1 for s in ticket.status_history if s.at > ticket.created_at) != 1


def business_elapsed(cal: BusinessCalendar, start: datetime, end: datetime,
                     pauses: list[tuple[datetime, datetime]]) -> timedelta:
    if end <= start:
        return ZERO
    total = cal.elapsed(start, end)
    for p_start, p_end in pauses:
        s, e = max(p_start, start), min(p_end, end)
        if e > s:
            total -= cal.elapsed(s, e)
    return max(total, ZERO)


def agent_replies(ticket: Ticket, teams: frozenset[str] | None = None) -> list[datetime] | None:
    """Public comments by a person on the support side (None: comments not loaded).

    tierlift's own comments, triggers and automations never count (Zendesk's
    first reply time excludes bot and automated actions; JSM counts an
    agent's "Comment: For Customers"). `teams` (a pack's `first_response_by:
    tier_team`): only replies by those teams' people, and by people whose team
    the helpdesk does not say (an answered customer is not escalated on a guess).
    """
    if ticket.comments is None:
        return None
    return [c.created_at for c in ticket.comments if c.public and c.by_agent and not c.automated
            and (teams is None or c.team is None or c.team in teams)]


@dataclass(frozen=True, slots=True)
class FirstResponse:
    """The current tier's first-response clock: when it starts and the reply that stopped it.

    `known` is False when comments are not loaded and the ticket-wide
    `first_reply_at` cannot tell (the tier was entered after creation: that
    reply may be L1's, made before the escalation). A due threshold then
    asks for the comments instead of deciding.
    """

    start: datetime
    reply: datetime | None
    known: bool = True


def first_response(ticket: Ticket, start: datetime, ticket_wide: bool, answered_counts: bool = False,
                   teams: frozenset[str] | None = None) -> FirstResponse:
    """The first public reply by a person made at or after `start`.

    ticket_wide: the tier was entered at creation, so the helpdesk's own
    first reply time is this tier's. answered_counts (after a
    de-escalation): the customer's state when the ticket came down decides.
    Answered then (no customer comment after the last reply), the tier owes
    no first response: a later follow-up asks for a next reply, which no
    first-response target measures -- as on a ticket that never moved, where
    "any news?" after a reply starts no clock either. Still waiting then, the
    tier owes a first response from `start`. Either way a reply made since
    the tier got the ticket is its first response, and later comments do not
    restart the clock. `teams`: only the tier's own people's replies count (the
    helpdesk's ticket-wide first reply time cannot say whose it was).
    """
    replies = agent_replies(ticket, teams)
    if replies is None:
        if ticket_wide and teams is None:
            r = ticket.first_reply_at
            return FirstResponse(start, r if r is not None and r >= start else None)
        return FirstResponse(start, None, known=False)
    answered = _answered_at(ticket, replies, start) if answered_counts else None
    if answered is not None:
        return FirstResponse(start, answered)
    after = [r for r in replies if r >= start]
    return FirstResponse(start, min(after) if after else None)


def _answered_at(ticket: Ticket, replies: list[datetime], start: datetime) -> datetime | None:
    """The last reply before `start` when the customer had not written since (answered), else None."""
    before = [r for r in replies if r <= start]
    if not before:
        return None
    last = max(before)
    wrote = [c for c in ticket.comments or () if c.public and not c.by_agent and not c.automated]
    return None if any(last < c.created_at <= start for c in wrote) else last


def read_clocks(ticket: Ticket, cal: BusinessCalendar, start: datetime, fr: FirstResponse,
                first_target: timedelta | None, resolution_target: timedelta | None,
                pause_statuses: frozenset[str], now: datetime) -> list[ClockReading]:
    pauses = paused_intervals(ticket, pause_statuses | CLOSED_STATUSES, now)
    paused = ticket.status in pause_statuses
    readings = []
    if first_target:
        end = fr.reply if fr.reply is not None else now
        readings.append(ClockReading("first_response", fr.start, first_target,
                                     business_elapsed(cal, fr.start, min(end, now), pauses),
                                     fr.reply is not None, paused))
    if resolution_target:
        solved = ticket.status in CLOSED_STATUSES
        end = ticket.solved_at if solved and ticket.solved_at else now
        readings.append(ClockReading("resolution", start, resolution_target,
                                     business_elapsed(cal, start, min(end, now), pauses),
                                     solved, paused))
    return readings


def crossing_time(cal: BusinessCalendar, reading: ClockReading, share_pct: float,
                  now: datetime) -> datetime | None:
    """When a running clock reaches `share_pct` of its target (None if paused or stopped)."""
    if reading.stopped or reading.paused:
        return None
    needed = reading.target * (share_pct / 100) - reading.elapsed
    if needed <= ZERO:
        return now
    return cal.add(now, needed)


class ClockPlan:
    """When a clock reaches each share of its target, computed once per ticket version.

    For a running clock every pause lies in the past, so the instant a share
    is reached does not depend on `now`: a wake-up of an unchanged ticket is
    then a comparison, not calendar arithmetic. Crossings are computed lazily:
    the clock with the shorter target crosses first, so the longer one's
    instant is only needed once the shorter one has stopped.
    """

    __slots__ = ("metric", "target", "stopped", "paused", "_cal", "_start", "_paused_time", "_cache")

    def __init__(self, metric: str, target: timedelta, stopped: bool, paused: bool, cal: BusinessCalendar,
                 start: datetime, paused_time: timedelta):
        self.metric, self.target, self.stopped, self.paused = metric, target, stopped, paused
        self._cal, self._start, self._paused_time = cal, start, paused_time
        self._cache: dict[float, datetime] = {}

    @property
    def day_hours(self) -> float:
        """The calendar's business day in hours, for printing this clock's target."""
        return self._cal.day_hours

    @property
    def running(self) -> bool:
        return not self.stopped and not self.paused

    def crossing(self, pct: float) -> datetime | None:
        if not self.running:
            return None
        at = self._cache.get(pct)
        if at is None:
            at = self._cal.add(self._start, self.target * (pct / 100) + self._paused_time)
            self._cache[pct] = at
        return at

    @property
    def crossings(self) -> tuple[tuple[float, datetime], ...]:
        return tuple(sorted(self._cache.items()))


def plan_clocks(ticket: Ticket, cal: BusinessCalendar, start: datetime, fr: FirstResponse,
                first_target: timedelta | None, resolution_target: timedelta | None,
                pause_statuses: frozenset[str], now: datetime) -> list[ClockPlan]:
    """The tier's clocks, shortest target first. The first-response clock starts at `fr.start`."""
    paused = ticket.status in pause_statuses
    # Time spent solved before a reopening is nobody's working time either (the oracle's reading).
    intervals = [] if paused else paused_intervals(ticket, pause_statuses | CLOSED_STATUSES, now)

    def paused_since(begin: datetime) -> timedelta:
        return sum((cal.elapsed(max(a, begin), b) for a, b in intervals if b > begin), ZERO)

    plans = []
    if first_target:
        plans.append(ClockPlan("first_response", first_target, fr.reply is not None, paused, cal, fr.start,
                               paused_since(fr.start)))
    if resolution_target:
        plans.append(ClockPlan("resolution", resolution_target, ticket.status in CLOSED_STATUSES, paused, cal,
                               start, paused_since(start)))
    plans.sort(key=lambda c: c.target)
    return plans
