"""One helpdesk's poll cycle: read changes, evaluate, act on what is due, retry, mark done.

The protocol (ARCHITECTURE.md, "State and its invariants"):
- at the start of every cycle, unfinished intents are checked against the
  ticket (the note marker) and marked done or dropped -- never written blind;
- the cursor advances past a page only once every ticket of that page is
  done or quarantined, in the same transaction as their index entries;
- due work is done most urgent first, until the cycle's time is used.

The cycle orchestrates three collaborators: `TicketEvaluation` (the engine's
decision with the ledger, index entries), `JournaledWrites` (intent, write,
done, dry-run, recovery) and `Notifications`; `GoLive` holds what customers
see of a cycle.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

from tierlift.connectors.base import Connector, Page
from tierlift.connectors.errors import TicketError, TicketGone
from tierlift.engine.model import Decision, Ticket
from tierlift.engine.serialize import ticket_from_dict
from tierlift.service.daemon import failpoints
from tierlift.service.daemon.config import HelpdeskConfig
from tierlift.service.daemon.dryrun import Live, mode_for
from tierlift.service.daemon.evaluation import TicketEvaluation, cut_at
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

__all__ = ["CycleStats", "HelpdeskCycle", "Stop"]

# A ticket refused by its own data (or the helpdesk, for it alone): quarantined, never the cycle's end.
TICKET_PROBLEMS = (TicketError, ValueError, KeyError, TypeError, AttributeError)


@dataclass
class _Cascade:
    """One ticket's decisions in one cycle, as far as they went (the ticket as it now reads)."""

    ticket: Ticket
    decision: Decision | None = None
    acted: set[str] = field(default_factory=set)
    capped: bool = False
    as_of: datetime | None = None  # comments and changes read are cut here (a shadow's late look)


class _WebhookWork:
    """The part of a cycle that acts on the tickets webhooks named (HelpdeskCycle's)."""

    nudged: Callable[[], list[str]] | None
    clock: Callable[[], datetime] | None
    connector: Connector
    store: Store
    evaluation: TicketEvaluation
    metrics: Any
    name: str

    def _process(self, ticket: Ticket, now: datetime, stats: CycleStats,
                 as_of: datetime | None = None) -> IndexEntry | None:
        raise NotImplementedError

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
        tickets = [self.evaluation.with_follow_up(t, before.get(t.id), now) for t in fresh.values()]
        tickets.sort(key=lambda t: self.evaluation.urgency(t, now))
        if self.metrics is not None:
            self.metrics.webhook_tickets.labels(self.name).inc(len(tickets))
        entries: list[IndexEntry] = []
        for ticket in tickets:
            self._check_stop()  # stats.read stays the poll's: /metrics counts these apart
            entry = self._process(ticket, now, stats)
            if entry is None:
                self.store.remove(self.name, [ticket.id])
            else:
                entries.append(entry)
        if entries:
            self.store.upsert(entries)



class HelpdeskCycle(_WebhookWork):
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
        self.golive = GoLive(self.name, cfg.options, metrics)
        self.evaluation = TicketEvaluation(cfg, connector, store, journal_retention=journal_retention)
        self.notifications = Notifications(cfg, store, notifier, metrics)
        # Live or dry run: chosen once (dryrun.mode_for, the entry's own when not given).
        self.applier = (mode or mode_for(cfg)).applier(Parts(cfg, connector, store, self.evaluation, self.golive,
                                                             self.notifications, metrics, keep_decisions, on_decision))
        self.evaluation.remember = self.applier.remember_markers

    # --- the cycle ------------------------------------------------------------
    def run(self, now: datetime) -> CycleStats:
        started = time.monotonic()
        stats = CycleStats()
        self.recover(stats)
        # A first sync ends with the first completed cycle (last_ok): a restart in
        # the middle of one is still the first sync, so the backlog stays quiet.
        self.golive.start_cycle(self.store.helpdesk_status(self.name).get("last_ok") is None)
        seen: set[str] = set()
        self._take_nudged(stats, now)
        work = self._read_changes(now, stats, seen)
        self._work(work, now, stats, seen)
        self._take_nudged(stats, now)
        self._retry_quarantined(now, stats)
        self.notifications.retry()
        self.golive.summary(self.applier.outcome)
        stats.held_back, stats.capped, stats.held = self.golive.held_back, self.golive.capped, self.golive.held
        stats.seconds = time.monotonic() - started
        self.store.set_helpdesk_status(self.name, last_ok=now)
        return stats

    def recover(self, stats: CycleStats | None = None) -> int:
        """Settle intents left pending by a crash (see JournaledWrites.recover)."""
        return self.applier.recover(stats)

    def _remember_markers(self, ticket: Ticket, now: datetime) -> None:
        self.evaluation.remember(ticket, now)

    def _read_changes(self, now: datetime, stats: CycleStats, seen: set[str]) -> list[tuple[Ticket, datetime]]:
        """Read the changed tickets page by page and act on them as they come, while
        the cycle has time: a P0 read in this cycle is written before the due backlog.
        Once the time is used, tickets that need a write are indexed as due now, in
        the page's commit, and returned for the due work, most urgent first."""
        started = time.monotonic()
        cursor = self.store.cursor(self.name)
        # The first sync reads every ticket once: show that it is moving.
        progress = SyncProgress(self.name) if cursor is None and self.show_progress else None
        work: list[tuple[Ticket, datetime]] = []
        for page in self.connector.changes(cursor):
            self._read_page(page, now, stats, seen, started, work)
            if progress is not None:
                progress.page(len(page.tickets) + len(page.poison))
        if progress is not None:
            progress.done()
        return work

    def _read_page(self, page: Page, now: datetime, stats: CycleStats, seen: set[str], started: float,
                   work: list[tuple[Ticket, datetime]]) -> None:
        """One page: act on each ticket (or defer it to `work`), then commit the page with its cursor."""
        entries: list[IndexEntry] = []
        closed: list[str] = []
        for ticket_id, reason in page.poison:
            self._quarantine(ticket_id, f"cannot read ticket: {reason}", now, stats)
        before = self.store.get(self.name, [t.id for t in page.tickets])
        for ticket in page.tickets:
            self._check_stop()
            stats.read += 1
            seen.add(ticket.id)
            old = before.get(ticket.id)
            self._decide_raced(old, now, stats)
            ticket = self.evaluation.with_follow_up(ticket, old, now)
            if not self._out_of_time(started):
                entry = self._process(ticket, now, stats)
                if entry is None:
                    closed.append(ticket.id)
                else:
                    entries.append(entry)
                continue
            entry, pending = self._look(ticket, now, stats)
            entries.append(entry)
            if pending:
                work.append((ticket, old.wake_up if old is not None and old.wake_up else now))
        with self.store.transaction():
            self.store.upsert(entries)
            if closed:
                self.store.remove(self.name, closed)
            failpoints.hit("in_commit")
            self.store.set_cursor(self.name, page.cursor)

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
        self._process(cut_at(stale, old.updated_at), now, stats, as_of=old.updated_at)

    def _look(self, ticket: Ticket, now: datetime, stats: CycleStats) -> tuple[IndexEntry, bool]:
        """A changed ticket's index entry, and whether it has work to do now."""
        try:
            ticket = self.evaluation.with_ledger(ticket, now)
            decision = self.evaluation.decide(ticket, now)
        except TICKET_PROBLEMS as exc:
            self._quarantine(ticket.id, describe(exc), now, stats)
            return self.evaluation.entry(ticket, None), False
        if decision.has_actions or decision.needs_comments:
            return self.evaluation.entry(ticket, now), True
        return self.evaluation.entry(ticket, None if ticket.is_closed else decision.wake_up), False

    def _work(self, work: list[tuple[Ticket, datetime]], now: datetime, stats: CycleStats, seen: set[str]) -> None:
        """Act on every due ticket, most urgent first: the tickets this cycle read and
        deferred by severity, priority and time past their threshold, then the index's
        due backlog by time past its threshold (read one by one: the first write comes
        at once, not after every snapshot is decoded). When the cycle's time is used
        (a binding request budget), the rest stay due for the next cycle, which reads
        new changes first: a P0 that arrives meanwhile goes ahead of them."""
        work.sort(key=lambda w: self.evaluation.urgency(w[0], w[1]))
        due = sorted((e for e in self.store.due(self.name, now) if e.ticket_id not in seen),
                     key=lambda e: (e.wake_up or now, e.ticket_id))
        items: list[Ticket | IndexEntry] = [t for t, _ in work]
        items += due
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
            entry = self._process(ticket, now, stats)
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
    def _process(self, ticket: Ticket, now: datetime, stats: CycleStats,
                 as_of: datetime | None = None) -> IndexEntry | None:
        """Evaluate and act on one ticket; return its index entry (None: it left the index)."""
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
            self._quarantine(ticket.id, describe(exc), now, stats)
            return self.evaluation.entry(ticket, None)
        ticket = steps.ticket
        if steps.capped:
            return self.evaluation.entry(ticket, now)  # due: the next cycle (a poll interval away) writes it
        # Solved and closed tickets stay (without a wake-up) for reports until compaction.
        wake = None if ticket.is_closed or steps.decision is None else steps.decision.wake_up
        wake = self.applier.wake_up(ticket, wake, bool(steps.acted), now)
        return self.evaluation.entry(ticket, wake)

    def _cascade(self, steps: _Cascade, now: datetime, stats: CycleStats) -> None:
        """A cascade (L1 -> L2 by SLA, then L2 -> L3 by an L2 criterion) is written in
        the same cycle: the ticket is evaluated again as it now reads, so a quiet
        first sync covers the whole backlog and a plan lists what the run writes."""
        for step in range(MAX_CASCADE):
            if step and self.should_stop():
                return  # the landed write's entry (its cascade due now) is in the index already
            steps.ticket, decision = self.evaluation.decide_reading_comments(steps.ticket, now, as_of=steps.as_of)
            stats.evaluated += 1
            decision = steps.decision = self.golive.reduce(decision)
            if decision.has_actions and self.golive.over_cap(decision):
                steps.capped = True
                return
            esc_id = decision.escalation_id or fallback_id(steps.ticket, decision)
            if not decision.has_actions or esc_id in steps.acted:
                return
            steps.acted.add(esc_id)
            before = steps.ticket
            after = self.applier.act(before, decision, now, stats)
            # The evaluator caches content conditions per version: a ticket changed in
            # memory (a dry run, a write that returned no version) gets one of its own.
            steps.ticket = after if after.version != before.version else replace(after, version=f"{after.version}~{step}")

    # --- quarantine ------------------------------------------------------------------
    def _quarantine(self, ticket_id: str, error: str, now: datetime, stats: CycleStats) -> None:
        q = self.store.quarantine(self.name, ticket_id, error, now)
        stats.quarantined += 1
        event(log, logging.WARNING, "quarantined", error, helpdesk=self.name, ticket=ticket_id,
              attempts=q.attempts, next_retry=q.next_retry)
        if self.metrics is not None:
            self.metrics.quarantined(self.name, len(self.store.quarantined(self.name)))

    def _retry_quarantined(self, now: datetime, stats: CycleStats) -> None:
        due = self.store.retry_due(self.name, now)
        if not due:
            return
        ids = [q.ticket_id for q in due]
        fresh = self.connector.fetch(ids)
        entries = []
        for q in due:
            ticket = fresh.get(q.ticket_id)
            if ticket is None:
                self.store.release(self.name, q.ticket_id)  # deleted: nothing left to escalate
                self.store.remove(self.name, [q.ticket_id])
                continue
            before = stats.quarantined
            entry = self._process(ticket, now, stats)
            if stats.quarantined == before:
                self.store.release(self.name, q.ticket_id)
                event(log, logging.INFO, "released from quarantine", helpdesk=self.name, ticket=q.ticket_id)
            if entry is not None:
                entries.append(entry)
        if entries:
            self.store.upsert(entries)

MAX_CASCADE = 4  # decisions on one ticket in one cycle (the engine's own loop guard is the ping-pong freeze)
