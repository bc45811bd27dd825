"""Applying one helpdesk's decisions exactly once: journal, write, mark done, notify.

The protocol (ARCHITECTURE.md, "State and its invariants"):
- an intent is committed to the journal, keyed by the escalation id, BEFORE
  the helpdesk write; it is marked done after the write, in the same
  transaction as the ticket's post-write index entry;
- unfinished intents are checked against the ticket (the note marker) and
  marked done or dropped -- never written blind (`recover`);
- a decision whose escalation id is already journaled is not applied again;
- a notification is journaled per (escalation, channel) and sent after the
  write; its failure never undoes the write, and it is retried later.

`JournaledWrites` is the live applier. A dry run has its own (dryrun.Planner), with
the same interface (`Applier`): which one a cycle gets is chosen once, in dryrun.py.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from tierlift.connectors.base import Connector
from tierlift.connectors.errors import (
    AuthError,
    ConflictError,
    RetriableError,
    TicketError,
    TicketGone,
)
from tierlift.connectors.retry import backoff
from tierlift.engine.durations import format_elapsed
from tierlift.engine.evaluate import apply_decision
from tierlift.engine.model import Action, Decision, Notify, PublicReply, Reassign, Ticket
from tierlift.service.daemon import failpoints
from tierlift.service.daemon.config import HelpdeskConfig
from tierlift.service.daemon.evaluation import TicketEvaluation, after_own_write
from tierlift.service.daemon.golive import GoLive
from tierlift.service.daemon.state import Intent, Store
from tierlift.service.daemon.stats import CycleStats
from tierlift.service.daemon.store.base import Unsent
from tierlift.service.ops.logs import event
from tierlift.service.ops.notify import escalation_of
from tierlift.service.ops.redact import redact

log = logging.getLogger("tierlift.cycle")

OnDecision = Callable[[HelpdeskConfig, Decision, bool], None]
# A failed notification is tried again 30 s after its first failure, then after 1, 2, 4, 8
# and 15 minutes, every 15 minutes from there, for a day; then it is given up, with an error
# line. It was retried on each of the next 8 cycles (40 s at a 5 s poll) and then never
# again, without a word: a page sent while PagerDuty or Slack was away for a minute was lost
# (QA, on call).
NOTIFY_RETRY_BASE = timedelta(seconds=30)
NOTIFY_RETRY_CAP = timedelta(minutes=15)
NOTIFY_GIVE_UP = timedelta(hours=24)
GIVEN_UP = "given up"  # the detail of a notification no longer tried starts so


class Notifications:
    """A decision's notifications, journaled per (escalation, channel) like writes."""

    def __init__(self, cfg: HelpdeskConfig, store: Store, notifier: Any, metrics: Any):
        self.cfg, self.name, self.store, self.notifier, self.metrics = cfg, cfg.name, store, notifier, metrics

    def notify(self, esc_id: str, action: Notify, decision: dict[str, Any]) -> None:
        if self.record(esc_id, action):
            self.send(esc_id, action, decision)

    def record(self, esc_id: str, action: Notify) -> bool:
        """Journal a notification before it is sent; False: not to be sent (journaled before,
        or no notifier)."""
        return self.notifier is not None and self.store.record_notification(self.name, esc_id, action.channel)

    def send(self, esc_id: str, action: Notify, decision: dict[str, Any], failed_before: int = 0,
             first_try: datetime | None = None) -> None:
        try:
            # The ticket's link, tier change, rule and note summary ride with every message.
            self.notifier.send(action.channel, action.subject, action.body, dedup_key=dedup_key(self.cfg, esc_id),
                               about=escalation_of(self.cfg, decision))
        except Exception as exc:  # a notification failure never undoes the helpdesk write
            self.store.mark_notification(self.name, esc_id, action.channel, "failed", describe(exc))
            wait = _retry_wait(failed_before + 1)
            self._count(action.channel, ok=False)
            now = self.store.clock_now()  # once: the give-up test and its record say the same instant
            if first_try is not None and now + wait - first_try > NOTIFY_GIVE_UP:
                # Its next try would come after the day is over: this was its last (the warning
                # used to promise a try in 900 s that never came).
                self._give_up(Unsent(esc_id, action.channel, failed_before + 1, first_try, now, describe(exc)))
                return
            event(log, logging.WARNING, "notification failed",
                  f"{describe(exc)}; tried again in {wait.total_seconds():g}s",
                  helpdesk=self.name, channel=action.channel, escalation=esc_id)
            return
        self.store.mark_notification(self.name, esc_id, action.channel, "sent")
        if failed_before:
            event(log, logging.INFO, "notification sent", f"after {failed_before} failed attempt(s)",
                  helpdesk=self.name, channel=action.channel, escalation=esc_id)
        self._count(action.channel, ok=True)

    def _count(self, channel: str, *, ok: bool) -> None:
        if self.metrics is not None:
            self.metrics.notification(self.name, channel, ok)

    def notify_all(self, esc_id: str, decision: dict[str, Any]) -> None:
        """Every notify action of a journaled decision (its dict form)."""
        for a in decision.get("actions", []):
            if a.get("type") == "notify":
                self.notify(esc_id, Notify(a["channel"], a.get("subject", ""), a.get("body", "")), decision)

    def retry(self) -> None:
        """The failed notifications whose wait is over (NOTIFY_RETRY_BASE, doubling to the cap),
        each tried once more; one older than NOTIFY_GIVE_UP is given up, with an error line."""
        if self.notifier is None:
            return
        now = self.store.clock_now()
        for n in self.store.unsent_notifications(self.name):
            if n.detail.startswith(GIVEN_UP):
                continue
            if n.attempts and now < n.updated_at + _retry_wait(n.attempts):
                continue
            intent = self.store.intent(self.name, n.escalation_id)
            if intent is None:
                continue
            if now - n.created_at > NOTIFY_GIVE_UP:
                self._give_up(n)
                continue
            decision = json.loads(intent.decision)
            for a in decision.get("actions", []):
                if a.get("type") == "notify" and a.get("channel") == n.channel:
                    self.send(n.escalation_id, Notify(n.channel, a.get("subject", ""), a.get("body", "")), decision,
                              failed_before=n.attempts, first_try=n.created_at)

    def resolve_solved(self, tickets: list[Ticket]) -> None:
        """A paged ticket solved or closed: each of its pages on a channel that resolves
        (PagerDuty) is resolved, journaled before it is sent, once. The incident stayed open
        in PagerDuty, and on-call was paged again by its escalation policy, long after the
        ticket was solved (QA, on call). One look at the store per page that holds a closed
        ticket, none where no channel resolves."""
        self._resolve_pages([t.id for t in tickets if t.is_closed], "the ticket was solved")

    def resolve_moved_down(self, ticket_id: str, tier_before: int, tier_after: int) -> None:
        """A paged ticket moved down (a deployed fix brought it back, or a person handed it
        down): on-call no longer holds it, so its pages are resolved as a solve resolves them.
        Left open, the incident kept paging on-call until the customer confirmed and someone
        solved the ticket, days later (issue 26)."""
        if tier_after < tier_before:
            self._resolve_pages([ticket_id], f"the ticket moved down to L{tier_after}")

    def _resolve_pages(self, ticket_ids: list[str], why: str) -> None:
        notifier = self.notifier
        if not ticket_ids or notifier is None or not any(notifier.resolves(c) for c in notifier.channels):
            return
        pages = self.store.open_pages(self.name, ticket_ids)
        for ticket_id in ticket_ids:
            for esc_id, channel in pages.get(ticket_id, ()):
                if notifier.resolves(channel) and self.store.record_resolution(self.name, esc_id, channel, ticket_id):
                    now = self.store.clock_now()
                    self._resolve(Unsent(esc_id, channel, 0, now, now, "", ticket_id), why)

    def _resolve(self, page: Unsent, why: str = "tried again") -> None:
        try:
            self.notifier.resolve(page.channel, dedup_key=dedup_key(self.cfg, page.escalation_id))
        except Exception as exc:  # tried again by retry(), as a failed page is
            self.store.mark_resolution(self.name, page.escalation_id, page.channel, "failed", describe(exc))
            event(log, logging.WARNING, "resolution failed",
                  f"{describe(exc)}; tried again in {_retry_wait(page.attempts + 1).total_seconds():g}s",
                  helpdesk=self.name, channel=page.channel, escalation=page.escalation_id, ticket=page.ticket_id)
            return
        self.store.mark_resolution(self.name, page.escalation_id, page.channel, "sent")
        event(log, logging.INFO, "page resolved", why, helpdesk=self.name,
              channel=page.channel, escalation=page.escalation_id, ticket=page.ticket_id)

    def retry_resolutions(self) -> None:
        """The resolutions that failed, each tried again on the pages' schedule; given up after a day."""
        if self.notifier is None:
            return
        now = self.store.clock_now()
        for r in self.store.unsent_resolutions(self.name):
            if r.detail.startswith(GIVEN_UP) or (r.attempts and now < r.updated_at + _retry_wait(r.attempts)):
                continue
            if now - r.created_at > NOTIFY_GIVE_UP:
                said = f"{GIVEN_UP} after {r.attempts} attempt(s): {r.detail}"
                self.store.mark_resolution(self.name, r.escalation_id, r.channel, "failed", said[:500], attempt=False)
                event(log, logging.ERROR, "resolution given up", said, helpdesk=self.name, channel=r.channel,
                      escalation=r.escalation_id, ticket=r.ticket_id)
                continue
            self._resolve(r)

    def _give_up(self, n: Unsent) -> None:
        said = f"{GIVEN_UP} after {n.attempts} attempt(s) over {format_elapsed(NOTIFY_GIVE_UP)}: {n.detail}"
        self.store.mark_notification(self.name, n.escalation_id, n.channel, "failed", said[:500], attempt=False)
        event(log, logging.ERROR, "notification given up", said, helpdesk=self.name, channel=n.channel,
              escalation=n.escalation_id)
        if self.metrics is not None:
            self.metrics.notification(self.name, n.channel, False, given_up=True)


def _retry_wait(failures: int) -> timedelta:
    """How long a notification that failed `failures` times waits before its next try."""
    return timedelta(seconds=backoff(failures, base=NOTIFY_RETRY_BASE.total_seconds(),
                                     cap=NOTIFY_RETRY_CAP.total_seconds()))


def dedup_key(cfg: HelpdeskConfig, esc_id: str) -> str:
    """The escalation id (as the note's marker shows it) and the helpdesk's address: an
    escalation id is made of the ticket's id, version and tiers, so two helpdesks whose ticket
    16 changed in the same second gave PagerDuty one dedup key, and the second outage was
    folded into the first one's incident (QA, 2 of 2)."""
    return f"{esc_id}-{hashlib.sha256(cfg.url.rstrip('/').lower().encode()).hexdigest()[:8]}"


@dataclass(frozen=True)
class Parts:
    """What an applier works with: the cycle's collaborators, built once per cycle."""

    cfg: HelpdeskConfig
    connector: Connector
    store: Store
    evaluation: TicketEvaluation
    golive: GoLive
    notifications: Notifications
    metrics: Any = None
    keep_decisions: bool = False  # `tierlift plan`: every decision is listed
    on_decision: OnDecision | None = None


class Applier(Protocol):
    """Applies a cycle's decisions: the live helpdesk's (JournaledWrites) or a plan's (dryrun.Planner)."""

    outcome: str  # what happened to a quiet first sync's escalations, in the summary's words

    def recover(self, stats: CycleStats | None = None) -> int:
        """Settle what a crash left unfinished, before anything new is applied; how many."""
        ...

    def act(self, ticket: Ticket, decision: Decision, now: datetime, stats: CycleStats) -> Ticket:
        """Apply one decision; the ticket as it now reads."""
        ...

    def remember_markers(self, ticket: Ticket, now: datetime) -> None:
        """Keep the tier moves a ticket's note markers record (its comments were just read)."""
        ...

    def wake_up(self, ticket: Ticket, wake: datetime | None, acted: bool, now: datetime) -> datetime | None:
        """When the ticket is looked at again, given the decision's `wake` and whether it was acted on."""
        ...


class JournaledWrites:
    """The live applier: decisions written to the helpdesk through the journal, exactly once."""

    outcome = "were written"

    def __init__(self, parts: Parts, report: Callable[[Decision], None]):
        self.cfg, self.name = parts.cfg, parts.cfg.name
        self.connector, self.store, self.evaluation, self.golive = (parts.connector, parts.store, parts.evaluation,
                                                                    parts.golive)
        self.notifications = parts.notifications
        self.keep_decisions = parts.keep_decisions
        self._report = report

    def act(self, ticket: Ticket, decision: Decision, now: datetime, stats: CycleStats) -> Ticket:
        """Journal the intent, write it (one conflict-safe write), mark it done; the ticket as it now reads."""
        esc_id = decision.escalation_id or fallback_id(ticket, decision)
        if not self.store.record_intent(new_intent(self.name, esc_id, ticket, decision, now)):
            existing = self.store.intent(self.name, esc_id)
            if existing and existing.status == "done":
                # Already applied (a stale snapshot came back): the ledger now has it.
                return apply_decision(ticket, decision, existing.done_at or now)
            if existing and existing.status == "pending":
                return ticket  # recovery decides at the start of the next cycle
        failpoints.hit("before_write")
        try:
            result = self.connector.apply(ticket, helpdesk_actions(decision), esc_id)
        except ConflictError:
            stats.conflicts += 1
            self.store.mark(self.name, esc_id, "dropped", "conflict: the ticket changed; re-evaluated")
            return self._after_conflict(ticket, now, stats)
        except TicketError as exc:
            self.store.mark(self.name, esc_id, "failed", describe(exc))
            raise
        except (RetriableError, AuthError):
            raise  # the intent stays pending; recovery checks it next cycle
        failpoints.hit("after_write")
        after = self._done(ticket, decision, esc_id, now, stats, result.new_version)
        return self._reread(after) if result.raced else after

    def remember_markers(self, ticket: Ticket, now: datetime) -> None:
        self.evaluation.journal_markers(ticket, now)

    def wake_up(self, ticket: Ticket, wake: datetime | None, acted: bool, now: datetime) -> datetime | None:
        return wake

    def _after_conflict(self, ticket: Ticket, now: datetime, stats: CycleStats) -> Ticket:
        fresh = self.connector.fetch([ticket.id]).get(ticket.id)
        if fresh is None:
            raise TicketGone(f"ticket {ticket.id} was deleted", ticket_id=ticket.id)
        if ticket.comments is not None and fresh.comments is None:
            # Decided on the comments (a follow-up is read once, when it arrives): decided
            # again on the fetch alone, which carries none on Zendesk, the follow-up that
            # made the escalation due was lost with the conflict, and no later cycle reads it.
            fresh = self.connector.with_comments(fresh)
            self.evaluation.remember(fresh, now)
        fresh, decision = self.evaluation.decide_reading_comments(fresh, now)
        if not decision.has_actions:
            return fresh
        esc_id = decision.escalation_id or fallback_id(fresh, decision)
        if not self.store.record_intent(new_intent(self.name, esc_id, fresh, decision, now)):
            return fresh
        try:
            result = self.connector.apply(fresh, helpdesk_actions(decision), esc_id)
        except ConflictError:
            # Twice in a row: give the ticket a cycle to settle.
            self.store.mark(self.name, esc_id, "dropped", "conflict twice; retried next cycle")
            raise TicketError(f"ticket {fresh.id}: changed twice while being escalated", ticket_id=fresh.id) from None
        return self._done(fresh, decision, esc_id, now, stats, result.new_version)

    def _reread(self, ticket: Ticket) -> Ticket:
        """The ticket as the helpdesk has it now. After a race (the escalation found written
        by another daemon on the helpdesk) our copy misses what the other wrote next: a
        cascade decided on it wrote a second triage-review note under a new id."""
        fresh = self.connector.fetch([ticket.id]).get(ticket.id)
        return fresh if fresh is not None else ticket

    def _done(self, ticket: Ticket, decision: Decision, esc_id: str, now: datetime, stats: CycleStats,
              version: str | None) -> Ticket:
        """Journal a landed write; returns the ticket as it now reads in the helpdesk, with the
        version the write returned, so a cascading decision is not refused as stale."""
        after = apply_decision(ticket, decision, now)
        after = after_own_write(replace(after, version=version)) if version else after
        # "done" and the ticket's post-write index entry commit together. Left to the
        # page's commit, a crash in between forgot the ticket's next wake-up (a cascade
        # due now, the next tier's SLA): the written ticket is not in the re-read page
        # until the helpdesk returns it again, which a scope such as a JQL filter or a
        # still clock may never do (found by tests/reliability/test_crash.py).
        # The entry is worked out before the transaction: making it takes a turn at the
        # computing gate (gate.py), and the state file's write lock held while queueing there
        # kept every other helpdesk's writer waiting too (issue 25).
        entry = self.evaluation.entry(after, None if after.is_closed else decision.wake_up)
        alerts = [a for a in decision.actions if isinstance(a, Notify)]
        with self.store.transaction():
            self.store.mark(self.name, esc_id, "done", self.golive.detail("", ticket.id))
            self.store.release(self.name, ticket.id)
            self.store.upsert([entry])
            # Journaled with the write's "done" (one commit, not one more per channel), sent after.
            alerts = [a for a in alerts if self.notifications.record(esc_id, a)]
        stats.escalations += 1
        if self.keep_decisions:
            stats.decisions.append(decision)
        self._report(decision)
        for action in alerts:
            self.notifications.send(esc_id, action, decision.to_dict())
        self.notifications.resolve_moved_down(decision.ticket_id, decision.tier_before, decision.tier_after)
        return after

    # --- recovery -------------------------------------------------------------------
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
                self._landed(intent)
            else:
                self.store.mark(self.name, intent.escalation_id, "dropped", "not landed before a restart; re-evaluated")
            if stats is not None and landed:
                stats.recovered += 1
            elif stats is not None:
                stats.dropped += 1
            recheck.append(intent.ticket_id)
            settled += 1
        if recheck:
            fresh = self.connector.fetch(sorted(set(recheck)))
            due_now = datetime.fromtimestamp(0, UTC)
            self.store.upsert([self.evaluation.entry(t, due_now) for t in fresh.values()])
        return settled

    def _landed(self, intent: Intent) -> None:
        decision = json.loads(intent.decision)
        self._finish_reply(intent, decision.get("actions", []))  # before "done": a failure here is retried next cycle
        self.store.mark(self.name, intent.escalation_id, "done", "recovered: the note had landed")
        event(log, logging.INFO, "recovered", "the write had landed", helpdesk=self.name,
              ticket=intent.ticket_id, escalation=intent.escalation_id)
        self.notifications.notify_all(intent.escalation_id, decision)
        self.notifications.resolve_moved_down(intent.ticket_id, int(decision.get("tier_before") or 0),
                                              int(decision.get("tier_after") or 0))

    def _finish_reply(self, intent: Intent, actions: list[dict[str, Any]]) -> None:
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


# What a landed write did, in the log's words: a refusal is not an escalation, nor is a
# person's move that tierlift only recorded (`kind` stays a field, as before).
WRITTEN = {"escalate": "escalated", "route": "routed", "de-escalate": "de-escalated",
           "human-move": "recorded human move", "reminder": "reminded", "refused": "refused",
           "frozen": "frozen", "review": "review due", "triage-review": "asked a person to triage",
           "retag": "put tier tags back", "fix-not-held": "kept the tier: the fix did not hold",
           "reroute": "re-routed within its tier",
           "severity": "paged for its severity at its tier"}


def new_intent(helpdesk: str, esc_id: str, ticket: Ticket, decision: Decision, now: datetime) -> Intent:
    """The journal row announcing a helpdesk write, pending until it lands."""
    return Intent(helpdesk, esc_id, ticket.id, decision.kind, decision.tier_before, decision.tier_after,
                  decision.rule or "", team_of(decision), json.dumps(decision.to_dict()),
                  "pending", now, None, 0, "")


def helpdesk_actions(decision: Decision) -> list[Action]:
    # Notifications go through the notifier after the write, not the helpdesk.
    return [a for a in decision.actions if not isinstance(a, Notify)]


def team_of(decision: Decision) -> str:
    for a in decision.actions:
        if isinstance(a, Reassign):
            return a.team
    return ""


def fallback_id(ticket: Ticket, decision: Decision) -> str:
    from tierlift.engine.marker import escalation_id

    return escalation_id(ticket.id, ticket.version, decision.tier_before, decision.tier_after,
                         f"{decision.kind}:{decision.rule}")


def describe(exc: BaseException) -> str:
    text = str(exc) or exc.__class__.__name__
    return redact(f"{exc.__class__.__name__}: {text}"[:500])
