"""One helpdesk's poll cycle: read changes, evaluate, record intent, write, notify, mark done.

The protocol (DESIGN.md, "State and exactly-once effects"):
- an intent is committed to the journal, keyed by the escalation id, BEFORE
  the helpdesk write; it is marked done after the write;
- at the start of every cycle, unfinished intents are checked against the
  ticket (the note marker) and marked done or dropped -- never written blind;
- the cursor advances past a page only once every ticket of that page is
  done or quarantined, in the same transaction as their index entries;
- a decision whose escalation id is already journaled is not applied again.

Dry-run is decided here and only here: the decision is journaled apart
(dry_run = 1) and printed, and the connector's `apply` is never called.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta

from tierlift.connectors.base import Connector
from tierlift.connectors.errors import (
    AuthError,
    ConflictError,
    RetriableError,
    TicketError,
    TicketGone,
)
from tierlift.engine.evaluate import Evaluator, apply_decision, ledger_of, severity_of
from tierlift.engine.model import Decision, Notify, PublicReply, Reassign, Ticket
from tierlift.engine.serialize import ticket_from_dict, ticket_to_dict
from tierlift.service.daemon import failpoints
from tierlift.service.daemon.config import HelpdeskConfig
from tierlift.service.daemon.golive import GoLive
from tierlift.service.daemon.progress import SyncProgress
from tierlift.service.daemon.state import IndexEntry, Intent, StateStore
from tierlift.service.ops.logs import event
from tierlift.service.ops.notify import escalation_of

log = logging.getLogger("tierlift.cycle")


@dataclass
class CycleStats:
    read: int = 0
    evaluated: int = 0
    due: int = 0
    escalations: int = 0
    planned: int = 0
    quarantined: int = 0
    recovered: int = 0
    dropped: int = 0
    conflicts: int = 0
    held_back: int = 0  # escalations whose customer reply and pages a quiet first sync held back
    capped: int = 0  # escalations left for the next cycle by max_public_replies_per_cycle
    seconds: float = 0.0
    decisions: list[Decision] = field(default_factory=list)


class Stop(Exception):
    """Raised between tickets when shutdown was requested."""


class HelpdeskCycle:
    """Runs cycles for one helpdesk. One instance per thread (it owns a StateStore)."""

    def __init__(self, cfg: HelpdeskConfig, connector: Connector, store: StateStore, *,
                 notifier=None, metrics=None, dry_run: bool = False,
                 should_stop: Callable[[], bool] = lambda: False,
                 on_decision: Callable[[HelpdeskConfig, Decision, bool], None] | None = None,
                 keep_decisions: bool = False, show_progress: bool = True, deadline: timedelta | None = None,
                 journal_retention: timedelta = timedelta(days=90)):
        self.cfg = cfg
        # Moves rebuilt from note markers older than this are not journaled: compaction
        # would delete them and the next comments read put them back, for ever.
        self.journal_retention = journal_retention
        self.name = cfg.name
        self.connector = connector
        self.store = store
        self.notifier = notifier
        self.metrics = metrics
        self.dry_run = dry_run or cfg.dry_run
        self.evaluator = Evaluator(cfg.policy, cache_size=EVALUATOR_CACHE)
        self.should_stop = should_stop
        self.on_decision = on_decision
        self.keep_decisions = keep_decisions
        self.show_progress = show_progress
        # How long one cycle may act before it yields to the next (which reads new
        # changes first); the poll interval. None: no limit.
        self.deadline = deadline
        self.golive = GoLive(self.name, cfg.options, metrics)

    # --- the cycle ------------------------------------------------------------
    def run(self, now: datetime) -> CycleStats:
        started = time.monotonic()
        stats = CycleStats()
        if not self.dry_run:
            self.recover(stats)
        # A first sync ends with the first completed cycle (last_ok): a restart in
        # the middle of one is still the first sync, so the backlog stays quiet.
        self.golive.start_cycle(self.store.helpdesk_status(self.name).get("last_ok") is None)
        seen: set[str] = set()
        work = self._read_changes(now, stats, seen)
        self._work(work, now, stats, seen)
        self._retry_quarantined(now, stats)
        self._retry_notifications()
        self.golive.summary()
        stats.held_back, stats.capped = self.golive.held_back, self.golive.capped
        stats.seconds = time.monotonic() - started
        self.store.set_helpdesk_status(self.name, last_ok=now)
        return stats

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
            entries: list[IndexEntry] = []
            closed: list[str] = []
            for ticket_id, reason in page.poison:
                self._quarantine(ticket_id, f"cannot read ticket: {reason}", now, stats)
            before = self.store.get(self.name, [t.id for t in page.tickets])
            for ticket in page.tickets:
                self._check_stop()
                stats.read += 1
                seen.add(ticket.id)
                ticket = self._with_follow_up(ticket, before.get(ticket.id), now)
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
                    old = before.get(ticket.id)
                    work.append((ticket, old.wake_up if old is not None and old.wake_up else now))
            with self.store.transaction():
                self.store.upsert(entries)
                if closed:
                    self.store.remove(self.name, closed)
                failpoints.hit("in_commit")
                self.store.set_cursor(self.name, page.cursor)
            if progress is not None:
                progress.page(len(page.tickets) + len(page.poison))
        if progress is not None:
            progress.done()
        return work

    def _with_follow_up(self, ticket: Ticket, previous: IndexEntry | None, now: datetime) -> Ticket:
        """The ticket with its comments when the customer wrote since tierlift last read it.

        Zendesk's export carries no comments, only when the requester last updated the
        ticket (`customer_wrote_at`, from the metric set): a follow-up such as "I want
        to speak to a manager" is read once, when it arrives -- one read per follow-up,
        none on an idle cycle, none for a ticket seen for the first time (its
        description is what the customer wrote). Jira's search carries the comments.
        """
        wrote = _when(ticket.fields.get("customer_wrote_at"))
        if ticket.comments is not None or wrote is None or previous is None:
            return ticket
        try:
            seen = _when(json.loads(previous.snapshot).get("fields", {}).get("customer_wrote_at"))
        except (ValueError, AttributeError):
            seen = None
        if seen is not None and wrote <= seen:
            return ticket
        try:
            loaded = self.connector.with_comments(ticket)
        except TicketError:
            return ticket  # the evaluation meets the same problem and quarantines the ticket
        self._remember_markers(loaded, now)
        return loaded

    def _look(self, ticket: Ticket, now: datetime, stats: CycleStats) -> tuple[IndexEntry, bool]:
        """A changed ticket's index entry, and whether it has work to do now."""
        try:
            ticket = self._with_ledger(ticket, now)
            decision = self._decide(ticket, now)
        except (TicketError, ValueError, KeyError, TypeError, AttributeError) as exc:
            self._quarantine(ticket.id, _describe(exc), now, stats)
            return self._entry(ticket, None), False
        if decision.has_actions or decision.needs_comments:
            return self._entry(ticket, now), True
        return self._entry(ticket, None if ticket.is_closed else decision.wake_up), False

    def _work(self, work: list[tuple[Ticket, datetime]], now: datetime, stats: CycleStats, seen: set[str]) -> None:
        """Act on every due ticket, most urgent first: the tickets this cycle read and
        deferred by severity, priority and time past their threshold, then the index's
        due backlog by time past its threshold (read one by one: the first write comes
        at once, not after every snapshot is decoded). When the cycle's time is used
        (a binding request budget), the rest stay due for the next cycle, which reads
        new changes first: a P0 that arrives meanwhile goes ahead of them."""
        work.sort(key=lambda w: self._urgency(w[0], w[1]))
        due = sorted((e for e in self.store.due(self.name, now) if e.ticket_id not in seen),
                     key=lambda e: (e.wake_up or now, e.ticket_id))
        items: list[tuple[Ticket | None, IndexEntry | None]] = [(t, None) for t, _ in work]
        items += [(None, e) for e in due]
        stats.due = len(items)
        entries: list[IndexEntry] = []
        # The time to act is counted from here, and one ticket always goes: a read
        # phase that used the whole interval must not starve the due work.
        started = time.monotonic()
        for done, (ticket, e) in enumerate(items):
            self._check_stop()
            if done and self._out_of_time(started):
                event(log, logging.INFO, "cycle time used",
                      f"{len(items) - done} due ticket(s) wait for the next cycle, most urgent first",
                      helpdesk=self.name)
                break
            if ticket is None and e is not None:
                try:
                    ticket = ticket_from_dict(json.loads(e.snapshot))
                except (ValueError, KeyError, TypeError) as exc:
                    self._quarantine(e.ticket_id, f"stored snapshot unreadable: {exc}", now, stats)
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

    def _urgency(self, ticket: Ticket, since: datetime) -> tuple[int, int, datetime, str]:
        try:
            severity = severity_of(ticket, self.cfg.policy)
        except Exception:  # a ticket the conditions cannot read is ranked last, and quarantined when processed
            severity = None
        return (SEVERITY_RANK.get(severity or "", len(SEVERITY_RANK)), PRIORITY_RANK.get(ticket.priority or "", 4),
                since, ticket.id)

    def _out_of_time(self, started: float) -> bool:
        # Not during a quiet first sync: it must finish its backlog before replies start.
        if self.deadline is None or self.golive.first_sync or self.dry_run:
            return False
        return time.monotonic() - started > self.deadline.total_seconds()

    def _check_stop(self) -> None:
        if self.should_stop():
            raise Stop()

    # --- one ticket --------------------------------------------------------------
    def _with_ledger(self, ticket: Ticket, now: datetime) -> Ticket:
        for name, at in (("created_at", ticket.created_at), ("updated_at", ticket.updated_at)):
            # An updated_at years ahead is as wrong as a created_at: its snapshot
            # would also outlive every compaction (kept while updated_at >= cutoff).
            if at > now + FUTURE_SLACK:
                raise TicketError(f"ticket {ticket.id}: {name} {at:%Y-%m-%d %H:%M} is in the future",
                                  ticket_id=ticket.id)
        stored = self.store.ledger_moves(self.name, ticket.id)
        if not stored:
            return ticket
        # Moves the ticket carries already (applied in memory by a dry run) stay.
        known = {m.escalation_id for m in stored}
        ledger = sorted([*stored, *(m for m in ticket.ledger if m.escalation_id not in known)], key=lambda m: m.at)
        return replace(ticket, ledger=tuple(ledger))

    def _process(self, ticket: Ticket, now: datetime, stats: CycleStats) -> IndexEntry | None:
        """Evaluate and act on one ticket; return its index entry (None: it left the index)."""
        try:
            # A cascade (L1 -> L2 by SLA, then L2 -> L3 by an L2 criterion) is written in
            # the same cycle: the ticket is evaluated again as it now reads, so a quiet
            # first sync covers the whole backlog and a plan lists what the run writes.
            acted: set[str] = set()
            for step in range(MAX_CASCADE):
                if step and self.should_stop():
                    break  # the landed write's entry (its cascade due now) is in the index already
                ticket = self._with_ledger(ticket, now)
                decision = self._decide(ticket, now)
                stats.evaluated += 1
                if decision.needs_comments:
                    ticket = self.connector.with_comments(ticket)
                    self._remember_markers(ticket, now)
                    decision = self._decide(ticket, now)
                decision = self.golive.reduce(decision)
                if decision.has_actions and self.golive.over_cap(decision):
                    return self._entry(ticket, now)  # due: the next cycle (a poll interval away) writes it
                esc_id = decision.escalation_id or _fallback_id(ticket, decision)
                if not decision.has_actions or esc_id in acted:
                    break
                acted.add(esc_id)
                after = self._act(ticket, decision, now, stats)
                # The evaluator caches content conditions per version: a ticket changed in
                # memory (a dry run, a write that returned no version) gets one of its own.
                ticket = after if after.version != ticket.version else replace(after, version=f"{after.version}~{step}")
        except (TicketError, ValueError, KeyError, TypeError, AttributeError) as exc:
            if isinstance(exc, TicketGone):
                # Deleted between our read and our write: nothing left to escalate, but
                # say so, or an escalation that was due vanishes without a word.
                event(log, logging.WARNING, "deleted", f"{_describe(exc)}; dropped from the index",
                      helpdesk=self.name, ticket=ticket.id)
                return None
            self._quarantine(ticket.id, _describe(exc), now, stats)
            return self._entry(ticket, None)
        # Solved and closed tickets stay (without a wake-up) for reports until compaction.
        wake = None if ticket.is_closed else decision.wake_up
        if self.dry_run and acted and not ticket.is_closed:
            # Nothing was applied, so the ticket still needs this decision: look
            # again soon (the journal keeps the plan from repeating itself). A dry
            # run works on a private copy of the state: the live index never sees this.
            wake = now + DRY_RUN_RECHECK
        return self._entry(ticket, wake)

    def _remember_markers(self, ticket: Ticket, now: datetime) -> None:
        """Store the tier moves the ticket's note markers record and the ledger lacks
        (a lost or new state file): the next cycles need no comments read for them,
        so a lost state costs one read per tiered ticket, once."""
        if self.dry_run or not ticket.comments:
            return
        known = {m.escalation_id for m in self.store.ledger_moves(self.name, ticket.id)}
        for m in ledger_of(ticket):
            if not m.escalation_id or m.escalation_id in known or m.from_tier == m.to_tier \
                    or m.at < now - self.journal_retention:
                continue
            row = {"rebuilt": True, "actor": m.actor, "human": m.human}
            self.store.record_intent(Intent(self.name, m.escalation_id, ticket.id, "rebuilt", m.from_tier, m.to_tier,
                                            m.rule, "", json.dumps(row), False, "done", m.at, m.at, 0,
                                            "rebuilt from the note marker"))

    def _decide(self, ticket: Ticket, now: datetime) -> Decision:
        return self.evaluator.evaluate(ticket, now)

    def _act(self, ticket: Ticket, decision: Decision, now: datetime, stats: CycleStats) -> Ticket:
        esc_id = decision.escalation_id or _fallback_id(ticket, decision)
        intent = Intent(self.name, esc_id, ticket.id, decision.kind, decision.tier_before, decision.tier_after,
                        decision.rule or "", _team(decision), json.dumps(decision.to_dict()), self.dry_run,
                        "pending", now, None, 0, "")
        if self.dry_run:
            if self.store.record_intent(intent):
                self.store.mark(self.name, esc_id, "done", self.golive.detail("dry-run"), dry_run=True)
                stats.planned += 1
                self._report(decision, dry_run=True)
            if self.keep_decisions:
                # A plan lists every decision, also one an earlier dry run journaled.
                stats.decisions.append(decision)
            # Nothing was written; the ticket as it would read goes on to the cascade check
            # (the state is a private copy: its index may hold it).
            return apply_decision(ticket, decision, now)
        if not self.store.record_intent(intent):
            existing = self.store.intent(self.name, esc_id)
            if existing and existing.status == "done":
                # Already applied (a stale snapshot came back): the ledger now has it.
                return apply_decision(ticket, decision, existing.done_at or now)
            if existing and existing.status == "pending":
                return ticket  # recovery decides at the start of the next cycle
        failpoints.hit("before_write")
        try:
            result = self.connector.apply(ticket, _helpdesk_actions(decision), esc_id)
        except ConflictError:
            stats.conflicts += 1
            self.store.mark(self.name, esc_id, "dropped", "conflict: the ticket changed; re-evaluated")
            return self._after_conflict(ticket, now, stats)
        except TicketError as exc:
            self.store.mark(self.name, esc_id, "failed", _describe(exc))
            raise
        except (RetriableError, AuthError):
            raise  # the intent stays pending; recovery checks it next cycle
        failpoints.hit("after_write")
        return self._done(ticket, decision, esc_id, now, stats, result.new_version)

    def _applied(self, ticket: Ticket, decision: Decision, now: datetime, version: str | None) -> Ticket:
        """The ticket as it now reads in the helpdesk, with the version the write returned,
        so a cascading decision on the same ticket is not refused as stale."""
        after = apply_decision(ticket, decision, now)
        return replace(after, version=version) if version else after

    def _after_conflict(self, ticket: Ticket, now: datetime, stats: CycleStats) -> Ticket:
        fresh = self.connector.fetch([ticket.id]).get(ticket.id)
        if fresh is None:
            raise TicketGone(f"ticket {ticket.id} was deleted", ticket_id=ticket.id)
        fresh = self._with_ledger(fresh, now)
        decision = self._decide(fresh, now)
        if decision.needs_comments:
            fresh = self.connector.with_comments(fresh)
            self._remember_markers(fresh, now)
            decision = self._decide(fresh, now)
        if not decision.has_actions:
            return fresh
        esc_id = decision.escalation_id or _fallback_id(fresh, decision)
        intent = Intent(self.name, esc_id, fresh.id, decision.kind, decision.tier_before, decision.tier_after,
                        decision.rule or "", _team(decision), json.dumps(decision.to_dict()), False,
                        "pending", now, None, 0, "")
        if not self.store.record_intent(intent):
            return fresh
        try:
            result = self.connector.apply(fresh, _helpdesk_actions(decision), esc_id)
        except ConflictError:
            # Twice in a row: give the ticket a cycle to settle.
            self.store.mark(self.name, esc_id, "dropped", "conflict twice; retried next cycle")
            raise TicketError(f"ticket {fresh.id}: changed twice while being escalated", ticket_id=fresh.id) from None
        return self._done(fresh, decision, esc_id, now, stats, result.new_version)

    def _done(self, ticket: Ticket, decision: Decision, esc_id: str, now: datetime, stats: CycleStats,
              version: str | None) -> Ticket:
        """Journal a landed write; returns the ticket as it now reads in the helpdesk."""
        after = self._applied(ticket, decision, now, version)
        # "done" and the ticket's post-write index entry commit together. Left to the
        # page's commit, a crash in between forgot the ticket's next wake-up (a cascade
        # due now, the next tier's SLA): the written ticket is not in the re-read page
        # until the helpdesk returns it again, which a scope such as a JQL filter or a
        # still clock may never do (found by tests/reliability/test_crash.py).
        with self.store.transaction():
            self.store.mark(self.name, esc_id, "done", self.golive.detail(""))
            self.store.release(self.name, ticket.id)
            self.store.upsert([self._entry(after, None if after.is_closed else decision.wake_up)])
        stats.escalations += 1
        if self.keep_decisions:
            stats.decisions.append(decision)
        self._report(decision, dry_run=False)
        for action in decision.actions:
            if isinstance(action, Notify):
                self._notify(esc_id, action, decision.to_dict())
        return after

    def _report(self, decision: Decision, dry_run: bool) -> None:
        team = _team(decision)
        event(log, logging.INFO, "planned" if dry_run else "escalated", helpdesk=self.name,
              ticket=decision.ticket_id, tier=f"L{decision.tier_before}->L{decision.tier_after}",
              rule=decision.rule, team=team or "-", kind=decision.kind, dry_run=dry_run)
        if self.metrics is not None:
            self.metrics.decision(self.name, decision, dry_run)
        if self.on_decision is not None:
            self.on_decision(self.cfg, decision, dry_run)

    # --- notifications, journaled like writes -----------------------------------
    def _notify(self, esc_id: str, action: Notify, decision: dict) -> None:
        if self.notifier is None:
            return
        if not self.store.record_notification(self.name, esc_id, action.channel):
            return
        self._send(esc_id, action, decision)

    def _send(self, esc_id: str, action: Notify, decision: dict) -> None:
        try:
            # The ticket's link, tier change, rule and note summary ride with every message.
            self.notifier.send(action.channel, action.subject, action.body, dedup_key=esc_id,
                               about=escalation_of(self.cfg, decision))
        except Exception as exc:  # a notification failure never undoes the helpdesk write
            self.store.mark_notification(self.name, esc_id, action.channel, "failed", _describe(exc))
            event(log, logging.WARNING, "notification failed", _describe(exc), helpdesk=self.name,
                  channel=action.channel, escalation=esc_id)
            return
        self.store.mark_notification(self.name, esc_id, action.channel, "sent")

    def _retry_notifications(self) -> None:
        if self.notifier is None:
            return
        for esc_id, channel, attempts in self.store.pending_notifications(self.name):
            if attempts >= 8:
                continue
            intent = self.store.intent(self.name, esc_id)
            if intent is None:
                continue
            decision = json.loads(intent.decision)
            for a in decision.get("actions", []):
                if a.get("type") == "notify" and a.get("channel") == channel:
                    self._send(esc_id, Notify(channel, a.get("subject", ""), a.get("body", "")), decision)

    # --- recovery and quarantine ---------------------------------------------------
    def recover(self, stats: CycleStats | None = None) -> int:
        """Settle intents left pending by a crash: done if the note landed, else dropped.

        Either way the ticket is re-read and made due now: its index entry may be
        missing or predate the write (the crash came before the page's commit).
        """
        settled = 0
        recheck: list[str] = []
        for intent in self.store.unfinished(self.name):
            try:
                landed = self.connector.find_marker(intent.ticket_id, intent.escalation_id)
            except TicketGone:
                self.store.mark(self.name, intent.escalation_id, "dropped", "ticket deleted")
                continue
            if landed:
                actions = json.loads(intent.decision).get("actions", [])
                self._finish_reply(intent, actions)  # before "done": a failure here is retried next cycle
                self.store.mark(self.name, intent.escalation_id, "done", "recovered: the note had landed")
                event(log, logging.INFO, "recovered", "the write had landed", helpdesk=self.name,
                      ticket=intent.ticket_id, escalation=intent.escalation_id)
                for a in actions:
                    if a.get("type") == "notify":
                        self._notify(intent.escalation_id, Notify(a["channel"], a.get("subject", ""), a.get("body", "")))
                if stats:
                    stats.recovered += 1
            else:
                self.store.mark(self.name, intent.escalation_id, "dropped", "not landed before a restart; re-evaluated")
                if stats:
                    stats.dropped += 1
            recheck.append(intent.ticket_id)
            settled += 1
        if recheck:
            fresh = self.connector.fetch(sorted(set(recheck)))
            due_now = datetime.fromtimestamp(0, UTC)
            self.store.upsert([self._entry(t, due_now) for t in fresh.values()])
        return settled

    def _finish_reply(self, intent: Intent, actions: list[dict]) -> None:
        """The note landed but the process died before the customer reply (a second
        write): send the reply now, unless it landed too. Never twice, never lost."""
        replies = [a["body"] for a in actions if a.get("type") == "public_reply" and a.get("body")]
        if not replies or self.connector.find_reply(intent.ticket_id, replies[0]):
            return
        ticket = self.connector.fetch([intent.ticket_id]).get(intent.ticket_id)
        if ticket is None:
            return
        self.connector.apply(ticket, [PublicReply(replies[0])], intent.escalation_id)
        event(log, logging.INFO, "recovered", "sent the customer reply", helpdesk=self.name,
              ticket=intent.ticket_id, escalation=intent.escalation_id)

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

    # --- index ------------------------------------------------------------------------
    def _entry(self, ticket: Ticket, wake_up: datetime | None) -> IndexEntry:
        tier = max((lv for lv in self.cfg.policy.tiers if self.cfg.policy.tier_tag(lv) in ticket.tags), default=1)
        snapshot = ticket_to_dict(replace(ticket, ledger=()))
        return IndexEntry(self.name, ticket.id, ticket.version, tier, ticket.status, wake_up,
                          json.dumps(snapshot, separators=(",", ":")), ticket.created_at, ticket.updated_at,
                          ticket.organization.plan if ticket.organization else None, ticket.group,
                          ticket.first_reply_at, ticket.solved_at)


def _when(value: object) -> datetime | None:
    """An ISO time as the helpdesk wrote it, or None."""
    if not isinstance(value, str):
        return None
    try:
        at = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return at if at.tzinfo is not None else None


def _helpdesk_actions(decision: Decision) -> list:
    # Notifications go through the notifier after the write, not the helpdesk.
    return [a for a in decision.actions if not isinstance(a, Notify)]


def _team(decision: Decision) -> str:
    for a in decision.actions:
        if isinstance(a, Reassign):
            return a.team
    return ""


def _fallback_id(ticket: Ticket, decision: Decision) -> str:
    from tierlift.engine.marker import escalation_id

    return escalation_id(ticket.id, ticket.version, decision.tier_before, decision.tier_after,
                         f"{decision.kind}:{decision.rule}")


def _describe(exc: BaseException) -> str:
    from tierlift.service.ops.redact import redact

    text = str(exc) or exc.__class__.__name__
    return redact(f"{exc.__class__.__name__}: {text}"[:500])


def due_later(entries: Iterable[IndexEntry]) -> datetime | None:
    times = [e.wake_up for e in entries if e.wake_up]
    return min(times) if times else None


DRY_RUN_RECHECK = timedelta(minutes=5)
MAX_CASCADE = 4  # decisions on one ticket in one cycle (the engine's own loop guard is the ping-pong freeze)
SEVERITY_RANK = {"P0": 0, "P1": 1, "P2": 2, "P3": 3}
PRIORITY_RANK = {"urgent": 0, "high": 1, "normal": 2, "low": 3}

# The Evaluator caches results per ticket version (~2 KB a ticket). A cycle
# evaluates a ticket again only when it changed (a new version) or its
# wake-up passed, and the daemon starts each cycle with a new Evaluator, so an
# unbounded cache bought nothing and held ~200 MB during a first sync of
# 100,000 tickets (tests/bench). Bounded, it still covers the cascade check
# within one decision.
EVALUATOR_CACHE = 2_000
# Clocks disagree a little; a ticket created a day ahead of us is bad data.
FUTURE_SLACK = timedelta(days=1)
