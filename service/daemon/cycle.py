"""One helpdesk's tick, and the way one ticket goes through it, from the read to the journal.

A tick (`HelpdeskCycle.run`), page by page of the changes since the cursor:

1. **read** (`_read`): ticket 42 arrives in a page of `connector.changes(cursor)`.
   Its last index entry is looked up; a follow-up the customer wrote since is read
   (`evaluation.with_follow_up`, one comments read); the tier moves the journal
   holds are merged into it (`evaluation.with_ledger`). A ticket the helpdesk could
   not give us, or whose data cannot be read, is quarantined, never the tick's end.
2. **plan** (`_plan`): the engine decides (`evaluation.decide`, the Evaluator: no
   I/O, no clock but `now`). Nothing to do: 42's index entry carries the decision's
   wake-up, the instant it must be looked at again. Something to do (or comments the
   engine must read first): 42 joins the page's work.
3. **apply** (`_apply`): the work, most urgent first (severity, priority, time past
   the threshold), while the cycle has time (the poll interval: a binding request
   budget spends it). For 42 (`_apply_ticket`, `_cascade`): the decision is taken
   again with its comments when the engine asks (`decide_reading_comments`), reduced
   by a quiet first sync and held by the reply cap (golive.py), then given to the
   applier chosen for this helpdesk (dryrun.py). Live (`writes.JournaledWrites.act`):
   the intent is journaled under its escalation id, the helpdesk is written once
   (conflict-safe), the intent is marked done in the same transaction as 42's
   post-write index entry, and its notifications are sent. Dry run
   (`dryrun.Planner.act`): the decision is journaled as planned in the state's
   private copy; the helpdesk is not written. 42 is then decided again as it now
   reads (an L1 -> L2 move may owe an L2 -> L3 one), at most MAX_CASCADE times.
   Once the time is used, the rest of the work is indexed as due now.
4. **commit** (`_commit`): the page's index entries, the tickets that left the index
   and the cursor, in one transaction: the cursor never passes a ticket that is not
   done or quarantined.

Then the due backlog, the same way (`_apply_due`): the work the read left for lack of
time, most urgent first, then the index's tickets whose wake-up has passed (from
their stored snapshots, one by one), applied while the cycle has time and committed
in batches; what is left stays due for the next tick, which reads new changes first.

Around it: unfinished intents of a crash are settled first (`applier.recover`);
tickets webhooks name are read and acted on between two tickets (`_take_nudged`, the
same steps); quarantined tickets are retried; failed notifications are sent again.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

from tierlift.connectors.base import Connector, Page
from tierlift.connectors.errors import TicketGone
from tierlift.engine.durations import format_elapsed
from tierlift.engine.model import Decision, Ticket
from tierlift.engine.serialize import ticket_from_dict
from tierlift.service.daemon import failpoints
from tierlift.service.daemon.config import HelpdeskConfig
from tierlift.service.daemon.dryrun import Live, dry_progress_name, mode_for
from tierlift.service.daemon.evaluation import (
    TICKET_PROBLEMS,
    EngineFailed,
    TicketEvaluation,
    cut_at,
)
from tierlift.service.daemon.golive import GoLive
from tierlift.service.daemon.progress import SyncProgress
from tierlift.service.daemon.state import IndexEntry, Store
from tierlift.service.daemon.stats import CycleStats, Stop
from tierlift.service.daemon.writes import (
    Notifications,
    OnDecision,
    Parts,
    describe,
    fallback_id,
)
from tierlift.service.ops.logs import event

log = logging.getLogger("tierlift.cycle")
# A ticket created this far after the daemon's clock is said (clocks a few seconds apart are not).
DATED_AHEAD = timedelta(minutes=5)

__all__ = ["CycleStats", "HelpdeskCycle", "Stop"]


@dataclass
class _Tick:
    """What one tick carries from page to page and on to the due work."""

    started: float  # monotonic: the read's share of the cycle's time is counted from here
    seen: set[str] = field(default_factory=set)  # tickets read: the due work does not take their old entries
    deferred: list[tuple[Ticket, datetime]] = field(default_factory=list)  # work left by the read, since when due


@dataclass
class _PageWork:
    """One page as it goes through read, plan, apply and commit (entries by position in the page:
    the commit writes them in page order, so a ticket listed twice keeps its later reading)."""

    page: Page
    before: dict[str, IndexEntry] = field(default_factory=dict)  # the page's tickets' last index entries
    read: list[tuple[int, Ticket, IndexEntry | None]] = field(default_factory=list)
    work: list[tuple[int, Ticket, IndexEntry | None]] = field(default_factory=list)  # planned, most urgent first
    entries: dict[int, IndexEntry] = field(default_factory=dict)
    closed: list[str] = field(default_factory=list)  # deleted while being written: they leave the index


def _most_urgent_first(work: list[tuple[int, Ticket, IndexEntry | None]], reminders: set[int],
                       evaluation: TicketEvaluation, now: datetime) -> None:
    """A page's work in the order it is applied: what moves a ticket before a reminder (which
    moves nothing: on the full floor's restart after two helpdesk hours, reminders of old
    incidents, which may post to a channel too, came between the new outages and their
    moves), then by severity, priority and time past due."""
    work.sort(key=lambda w: (w[0] in reminders, evaluation.urgency(w[1], _due_since(w[2], now))))


URGENT_FIRST_WINDOW = 500  # the index's due tickets decoded to be put in order of urgency; the rest by time


def _urgent_first(deferred: list[tuple[Ticket, datetime]], due: list[IndexEntry],
                  decode: Callable[[IndexEntry], Ticket | None], evaluation: TicketEvaluation,
                  now: datetime) -> list[Ticket | IndexEntry]:
    """The due backlog in the order it is done: the work this cycle read and deferred and the
    index's first URGENT_FIRST_WINDOW due tickets (by time past due, decoded) together, by
    severity, priority and time past due; then the rest of the index by time. Work a cycle had
    no time for waits in the index:
    taken by time and ticket id, a P1 read during a restart's catch-up waited behind a hundred
    SLA moves of quiet tickets for three cycles (the full floor, zendesk three-tier seed 11: a
    data-loss ticket tagged P1 at 15:07 while the daemon was stopped, moved at 17:41, 27
    minutes after the restart). Unreadable snapshots are quarantined by `decode` and left out."""
    head = [*deferred, *((t, e.wake_up or now) for e in due[:URGENT_FIRST_WINDOW] if (t := decode(e)) is not None)]
    head.sort(key=lambda w: evaluation.urgency(w[0], w[1]))
    return [t for t, _ in head] + list(due[URGENT_FIRST_WINDOW:])


def _due_since(old: IndexEntry | None, now: datetime) -> datetime:
    """Since when a ticket is due (its stored wake-up), for the order work is done in."""
    return old.wake_up if old is not None and old.wake_up else now


@dataclass
class _Cascade:
    """One ticket's decisions in one cycle, as far as they went (the ticket as it now reads)."""

    ticket: Ticket
    decision: Decision | None = None
    acted: set[str] = field(default_factory=set)
    capped: bool = False
    as_of: datetime | None = None  # comments and changes read are cut here (a shadow's late look)


class _CyclePart:
    """What the parts of a cycle below share with HelpdeskCycle, which provides it."""

    connector: Connector
    store: Store
    metrics: Any
    name: str

    def _apply_ticket(self, ticket: Ticket, now: datetime, stats: CycleStats,
                      as_of: datetime | None = None) -> IndexEntry | None:
        raise NotImplementedError  # HelpdeskCycle's: one ticket read, decided and written


class _WebhookWork(_CyclePart):
    """The part of a cycle that acts on the tickets webhooks named (HelpdeskCycle's)."""

    nudged: Callable[[], list[str]] | None
    clock: Callable[[], datetime] | None
    evaluation: TicketEvaluation
    golive: GoLive

    def _check_stop(self) -> None:
        raise NotImplementedError

    def act_on_nudged(self, now: datetime) -> CycleStats:
        """Between cycles: the tickets webhooks named since, read, decided and written."""
        stats = CycleStats()
        self._take_nudged(stats, now)
        return stats

    def _take_nudged(self, stats: CycleStats, now: datetime | None = None) -> None:
        """Read the tickets webhooks named (one read per batch: events for a ticket were
        coalesced), then decide and write each exactly as the poll would, most urgent
        first. The payload is never trusted: the ticket is read again, so a duplicate or
        an out-of-order delivery reads the same ticket and decides nothing new, and the
        journal keeps the poll that later sees the same change from acting twice. The
        cursor is the poll's alone: a ticket read here is read again by the poll."""
        if self.nudged is None:
            return
        ids = self.nudged()
        while ids:
            at = self.clock() if self.clock is not None else now
            assert at is not None
            self._act_on(ids, at, stats)
            ids = self.nudged()

    def _act_on(self, ids: list[str], now: datetime, stats: CycleStats) -> None:
        fresh = self.connector.fetch(ids)
        before = self.store.get(self.name, list(fresh))
        tickets = [self.evaluation.with_follow_up(t, before.get(t.id), now, backlog=self.golive.first_sync)
                   for t in fresh.values()]
        tickets.sort(key=lambda t: self.evaluation.urgency(t, now))
        if self.metrics is not None:
            self.metrics.webhook_tickets.labels(self.name).inc(len(tickets))
        entries: list[IndexEntry] = []
        for ticket in tickets:
            self._check_stop()  # stats.read stays the poll's: /metrics counts these apart
            entry = self._apply_ticket(ticket, now, stats)
            if entry is None:
                self.store.remove(self.name, [ticket.id])
            else:
                entries.append(entry)
        if entries:
            self.store.upsert(entries)



class _QuarantineWork(_CyclePart):
    """The part of a cycle that keeps the tickets it cannot decide apart and retries them
    (HelpdeskCycle's): a poison ticket never stops its page, and it is never forgotten."""

    def _quarantine(self, ticket_id: str, cause: str | BaseException, now: datetime, stats: CycleStats) -> None:
        error = cause if isinstance(cause, str) else describe(cause)
        q = self.store.quarantine(self.name, ticket_id, error, now)
        stats.quarantined += 1
        event(log, logging.WARNING, "quarantined", error, helpdesk=self.name, ticket=ticket_id,
              attempts=q.attempts, next_retry=q.next_retry)
        if self.metrics is not None:
            self.metrics.quarantined(self.name, len(self.store.quarantined(self.name)), isinstance(cause, EngineFailed))

    def _retry_quarantined(self, now: datetime, stats: CycleStats) -> None:
        due = self.store.retry_due(self.name, now)
        if not due:
            return
        ids = [q.ticket_id for q in due]
        fresh = self.connector.fetch(ids)
        still = dict(fresh.poison)
        entries = []
        for q in due:
            ticket = fresh.get(q.ticket_id)
            if ticket is None and q.ticket_id in still:  # there, and still cannot be read: stays
                self._quarantine(q.ticket_id, f"cannot read ticket: {still[q.ticket_id]}", now, stats)
                continue
            if ticket is None:
                self.store.release(self.name, q.ticket_id)  # deleted: nothing left to escalate
                self.store.remove(self.name, [q.ticket_id])
                event(log, logging.INFO, "released from quarantine: the ticket is gone", helpdesk=self.name,
                      ticket=q.ticket_id)
                continue
            before = stats.quarantined
            entry = self._apply_ticket(_with_words(self.connector, ticket), now, stats)
            if stats.quarantined == before:
                self.store.release(self.name, q.ticket_id)
                event(log, logging.INFO, "released from quarantine", helpdesk=self.name, ticket=q.ticket_id)
            if entry is not None:
                entries.append(entry)
        if entries:
            self.store.upsert(entries)



class HelpdeskCycle(_WebhookWork, _QuarantineWork):
    """Runs cycles for one helpdesk. One instance per thread (it owns a StateStore)."""

    def __init__(self, cfg: HelpdeskConfig, connector: Connector, store: Store, *,
                 notifier: Any = None, metrics: Any = None, mode: Live | None = None,
                 should_stop: Callable[[], bool] = lambda: False,
                 on_decision: OnDecision | None = None,
                 keep_decisions: bool = False, show_progress: bool = True, deadline: timedelta | None = None,
                 journal_retention: timedelta = timedelta(days=90),
                 raced: Callable[[str, datetime], bool] | None = None,
                 nudged: Callable[[], list[str]] | None = None, clock: Callable[[], datetime] | None = None):
        self.cfg = cfg
        self.name = cfg.name
        self.connector = connector
        self.store = store
        self.metrics = metrics
        self.should_stop = should_stop
        self.show_progress = show_progress
        # How long one cycle may act before it yields to the next (which reads new
        # changes first); the poll interval. None: no limit.
        self.deadline = deadline
        # A shadow's question "did the live policy beside me move this ticket since?"
        # (runner.raced_with); None: no live policy shares the helpdesk.
        self.raced = raced
        # Tickets webhooks named (runner: the Nudges of this helpdesk), taken between two
        # tickets of the cycle's work, and the clock their decisions are taken at.
        self.nudged, self.clock = nudged, clock
        # Live or dry run: chosen once (dryrun.mode_for, the entry's own when not given).
        self.mode = mode = mode or mode_for(cfg)
        self.golive = GoLive(self.name, cfg.options, metrics, planning=mode.plans_moves)
        self.evaluation = TicketEvaluation(cfg, connector, store, journal_retention=journal_retention,
                                           plans_moves=mode.plans_moves)
        self.notifications = Notifications(cfg, store, mode.notifier(notifier), metrics)
        self.applier = mode.applier(Parts(cfg, connector, store, self.evaluation, self.golive,
                                                             self.notifications, metrics, keep_decisions, on_decision))
        self.evaluation.remember = self.applier.remember_markers
        self._dated_ahead: set[str] = set()  # tickets said to be dated after the clock

    # --- the tick ---------------------------------------------------------------
    def run(self, now: datetime) -> CycleStats:
        started = time.monotonic()
        stats = CycleStats()
        try:
            self.recover(stats)
            woken = self.mode.decide_again(self.store, self.cfg, now, self.evaluation.model)
            if woken:
                event(log, logging.INFO, "policy changed", f"{woken} open ticket(s) decided again under it",
                      helpdesk=self.name)
            # A first sync ends with the first completed cycle (last_ok): a restart in the middle
            # of one is still the first sync, so the backlog stays quiet; so is a go-live after a
            # rehearsal of the entry (GoLive.start_cycle).
            self.golive.start_cycle(self.store.helpdesk_status, dry_progress_name(self.name))
            self._take_nudged(stats, now)
            tick = _Tick(time.monotonic())
            for page in self._pages():
                self._tick_page(page, now, stats, tick)
            self._apply_due(tick, now, stats)
            self._take_nudged(stats, now)
            self._retry_quarantined(now, stats)
            self.notifications.retry()
            self.notifications.retry_resolutions()
            self.golive.summary(self.applier.outcome)
        finally:  # the cycle's decisions freed as it ends, not by the collector (docs/performance.md)
            self.evaluation.forget()
        stats.held_back, stats.capped, stats.held = self.golive.held_back, self.golive.capped, self.golive.held
        stats.seconds = time.monotonic() - started
        self.store.set_helpdesk_status(self.name, last_ok=now)
        return stats

    def recover(self, stats: CycleStats | None = None) -> int:
        """Settle intents left pending by a crash (see JournaledWrites.recover)."""
        return self.applier.recover(stats)

    def _pages(self) -> Iterator[Page]:
        """The changed tickets since the cursor, a page at a time (read only)."""
        cursor = self.store.cursor(self.name)
        # The first sync reads every ticket once: show that it is moving.
        progress = SyncProgress(self.name) if cursor is None and self.show_progress else None
        for page in self.connector.changes(cursor):
            yield page
            if progress is not None:
                progress.page(len(page.tickets) + len(page.poison))
        if progress is not None:
            progress.done()

    def _tick_page(self, page: Page, now: datetime, stats: CycleStats, tick: _Tick) -> None:
        """One page: read -> plan -> apply -> commit (the module's docstring)."""
        todo = _PageWork(page)
        self._read(todo, now, stats, tick.seen)
        self._plan(todo, now, stats)
        self._apply(todo, now, stats, tick)
        self.notifications.resolve_solved(todo.page.tickets)  # journaled before the cursor passes them
        self._commit(todo)

    def _read(self, todo: _PageWork, now: datetime, stats: CycleStats, seen: set[str]) -> None:
        """The page's tickets with their follow-ups and ledgers, each beside its last index entry."""
        for ticket_id, reason in todo.page.poison:
            self._quarantine(ticket_id, f"cannot read ticket: {reason}", now, stats)
        todo.before = before = self.store.get(self.name, [t.id for t in todo.page.tickets])
        for at, ticket in enumerate(todo.page.tickets):
            self._check_stop()
            stats.read += 1
            seen.add(ticket.id)
            old = before.get(ticket.id)
            self._tell_dated_ahead(ticket, now)
            ticket = self.evaluation.with_follow_up(ticket, old, now, backlog=self.golive.first_sync)
            try:
                ticket = self.evaluation.with_ledger(ticket, now)
            except TICKET_PROBLEMS as exc:
                self._quarantine(ticket.id, exc, now, stats)
                todo.entries[at] = self.evaluation.entry(ticket, None)
                continue
            todo.read.append((at, ticket, old))

    def _tell_dated_ahead(self, ticket: Ticket, now: datetime) -> None:
        """A ticket created after the daemon's clock waits, unsaid, until its clocks start: one
        of the two clocks is wrong. Said once per ticket while it stays ahead (the set holds only
        those, so it does not grow with the process's life; a clock jumping back is said again)."""
        ahead = ticket.created_at - now
        if ahead <= DATED_AHEAD:
            self._dated_ahead.discard(ticket.id)
            return
        if ticket.id in self._dated_ahead:
            return
        self._dated_ahead.add(ticket.id)
        event(log, logging.WARNING, "ticket dated ahead",
              f"created {ticket.created_at.isoformat()}, {format_elapsed(ahead)} after the daemon's clock "
              f"({now.isoformat()}): its SLA clocks start then. Check the clocks of this host and "
              "of the helpdesk (or the config's clock:)", helpdesk=self.name, ticket=ticket.id)

    def _plan(self, todo: _PageWork, now: datetime, stats: CycleStats) -> None:
        """The engine's decision on each ticket read (no I/O): its index entry when there is
        nothing to do now, else a place in the page's work, most urgent first."""
        reminders: set[int] = set()
        for at, ticket, old in todo.read:
            try:
                decision = self.evaluation.decide(ticket, now)
            except TICKET_PROBLEMS as exc:
                self._quarantine(ticket.id, exc, now, stats)
                todo.entries[at] = self.evaluation.entry(ticket, None)
                continue
            if decision.has_actions or decision.needs_comments:
                todo.work.append((at, ticket, old))
                if decision.kind == "reminder":
                    reminders.add(at)
                continue
            _left_alone(self.name, decision)
            stats.evaluated += 1
            todo.entries[at] = self.evaluation.entry(ticket, None if ticket.is_closed else decision.wake_up)
        _most_urgent_first(todo.work, reminders, self.evaluation, now)

    def _apply(self, todo: _PageWork, now: datetime, stats: CycleStats, tick: _Tick) -> None:
        """The page's work, most urgent first, while the cycle has time: a P0 read in this
        cycle is written before the due backlog. Once the time is used, the rest is
        indexed as due now, in the page's commit, and left to the due work."""
        for ticket in todo.page.tickets:
            self._decide_raced(todo.before.get(ticket.id), now, stats)
        for at, ticket, old in todo.work:
            self._check_stop()
            if self._out_of_time(tick.started):
                todo.entries[at] = self.evaluation.entry(ticket, now)
                tick.deferred.append((ticket, _due_since(old, now)))
                continue
            entry = self._apply_ticket(ticket, now, stats)
            if entry is None:
                todo.closed.append(ticket.id)
            else:
                todo.entries[at] = entry

    def _commit(self, todo: _PageWork) -> None:
        """The page's index entries, the tickets that left the index and the cursor, at once."""
        with self.store.transaction():
            self.store.upsert([todo.entries[at] for at in sorted(todo.entries)])
            if todo.closed:
                self.store.remove(self.name, todo.closed)
            failpoints.hit("in_commit")
            self.store.set_cursor(self.name, todo.page.cursor)

    def _decide_raced(self, old: IndexEntry | None, now: datetime, stats: CycleStats) -> None:
        """A shadow takes the decision it was due to take on a ticket that the live policy
        beside it moved first. Both workers poll side by side: when a threshold falls due
        for both and the live cycle comes first, the shadow reads the ticket already moved
        and, without this, never decides it; its report would call about half of the
        shared moves "only live". The ticket is decided as the shadow last saw it, with
        the comments of that time."""
        if self.raced is None or old is None or old.wake_up is None or old.wake_up > now:
            return
        if not self.raced(old.ticket_id, old.wake_up):
            return
        stale = self._snapshot(old, now, stats)
        if stale is None:
            return
        self._apply_ticket(cut_at(stale, old.updated_at), now, stats, as_of=old.updated_at)

    def _apply_due(self, tick: _Tick, now: datetime, stats: CycleStats) -> None:
        """The due backlog, most urgent first (`_urgent_first`): the tickets this cycle read and
        deferred and the index's first due tickets, by severity, priority and time past their
        threshold, then the rest of the index by time past it (read one by one: a backlog of
        thousands is not all decoded before the first write). When the cycle's time is used (a binding request
        budget), the rest stay due for the next cycle, which reads new changes first: a
        P0 that arrives meanwhile goes ahead of them."""
        due = sorted((e for e in self.store.due(self.name, now) if e.ticket_id not in tick.seen),
                     key=lambda e: (e.wake_up or now, e.ticket_id))
        items = _urgent_first(tick.deferred, due, lambda e: self._snapshot(e, now, stats), self.evaluation, now)
        stats.due = len(items)
        entries: list[IndexEntry] = []
        # The time to act is counted from here, and one ticket always goes: a read
        # phase that used the whole interval must not starve the due work.
        started = time.monotonic()
        for done, item in enumerate(items):
            self._check_stop()
            self._take_nudged(stats, now)  # a new P0 named by a webhook goes ahead of the due backlog
            if done and self._out_of_time(started):
                event(log, logging.INFO, "cycle time used",
                      f"{len(items) - done} due ticket(s) wait for the next cycle, most urgent first",
                      helpdesk=self.name)
                break
            ticket = item if isinstance(item, Ticket) else self._snapshot(item, now, stats)
            if ticket is None:
                continue
            entry = self._apply_ticket(ticket, now, stats)
            if entry is not None:
                entries.append(entry)
            else:
                self.store.remove(self.name, [ticket.id])
            if len(entries) >= 500:
                self.store.upsert(entries)
                entries = []
        if entries:
            self.store.upsert(entries)

    def _snapshot(self, entry: IndexEntry, now: datetime, stats: CycleStats) -> Ticket | None:
        """The ticket as the index stored it, or None (quarantined: its snapshot is unreadable)."""
        try:
            return ticket_from_dict(json.loads(entry.snapshot))
        except (ValueError, KeyError, TypeError) as exc:
            self._quarantine(entry.ticket_id, f"stored snapshot unreadable: {exc}", now, stats)
            return None

    def _out_of_time(self, started: float) -> bool:
        # Not during a quiet first sync: it must finish its backlog before replies start.
        if self.deadline is None or self.golive.first_sync:
            return False
        return time.monotonic() - started > self.deadline.total_seconds()

    def _check_stop(self) -> None:
        if self.should_stop():
            raise Stop()

    # --- one ticket --------------------------------------------------------------
    def _apply_ticket(self, ticket: Ticket, now: datetime, stats: CycleStats,
                      as_of: datetime | None = None) -> IndexEntry | None:
        """Decide and apply one ticket's decisions (its cascade); its index entry (None: it left the index)."""
        steps = _Cascade(ticket, as_of=as_of)
        try:
            self._cascade(steps, now, stats)
        except TICKET_PROBLEMS as exc:
            ticket = steps.ticket  # as far as it went: a write that landed is in it
            if isinstance(exc, TicketGone):
                # Deleted between our read and our write: nothing left to escalate, but
                # say so, or an escalation that was due vanishes without a word.
                event(log, logging.WARNING, "deleted", f"{describe(exc)}; dropped from the index",
                      helpdesk=self.name, ticket=ticket.id)
                return None
            self._quarantine(ticket.id, exc, now, stats)
            return self.evaluation.entry(ticket, None)
        ticket = steps.ticket
        if steps.capped:
            return self.evaluation.entry(ticket, now)  # due: the next cycle (a poll interval away) writes it
        # Solved and closed tickets stay (without a wake-up) for reports until compaction.
        wake = None if ticket.is_closed or steps.decision is None else steps.decision.wake_up
        return self.evaluation.entry(ticket, self.applier.wake_up(ticket, wake, bool(steps.acted), now))

    def _cascade(self, steps: _Cascade, now: datetime, stats: CycleStats) -> None:
        """Plan and apply, again and again: a cascade (L1 -> L2 by SLA, then L2 -> L3 by an
        L2 criterion) is written in the same cycle: the ticket is decided again as it now
        reads, so a quiet first sync covers the whole backlog and a plan lists what the run
        writes."""
        for step in range(MAX_CASCADE):
            if step and self.should_stop():
                return  # the landed write's entry (its cascade due now) is in the index already
            steps.ticket, decision = self.evaluation.decide_reading_comments(steps.ticket, now, as_of=steps.as_of)
            stats.evaluated += 1
            decision = steps.decision = self.golive.reduce(decision, steps.ticket, now)
            if decision.has_actions and self.golive.over_cap(decision):
                steps.capped = True
                return
            esc_id = decision.escalation_id or fallback_id(steps.ticket, decision)
            if not decision.has_actions or esc_id in steps.acted:
                _left_alone(self.name, decision)
                return
            steps.acted.add(esc_id)
            before = steps.ticket
            after = self.applier.act(before, decision, now, stats)
            # The evaluator caches content conditions per version: a ticket changed in
            # memory (a dry run, a write that returned no version) gets one of its own.
            steps.ticket = after if after.version != before.version else replace(after, version=f"{after.version}~{step}")


def _left_alone(helpdesk: str, decision: Decision) -> None:
    """A ticket at a tier the policy lacks is told each time it is decided (it changed, or
    a reload of the policy decided every open ticket again), never acted on."""
    if decision.kind == "unknown-tier":
        event(log, logging.WARNING, "left alone", "; ".join(decision.reasons), helpdesk=helpdesk,
              ticket=decision.ticket_id)


def _with_words(connector: Connector, ticket: Ticket) -> Ticket:
    """A quarantined ticket with its comments: it may have been decided on a follow-up that
    is read once, when it arrives (a write refused twice as stale quarantines it), and a
    fetch carries none on Zendesk. One read per retried ticket."""
    try:
        return connector.with_comments(ticket)
    except TICKET_PROBLEMS:
        return ticket  # the evaluation meets the same problem and quarantines it again


MAX_CASCADE = 4  # decisions on one ticket in one cycle (the engine's own loop guard is the ping-pong freeze)
