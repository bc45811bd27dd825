"""Evaluating one helpdesk's tickets: the engine's decision on a ticket with the ledger the state keeps.

Invariants:
- a ticket is evaluated with the tier moves the state journaled (the ledger)
  merged into the ones it carries, so a move is never decided twice;
- comments and history are read only when the engine asks (needs_comments),
  one read per ticket, and the tier moves their note markers record are
  stored, so a lost state costs one read per tiered ticket, once;
- a time years ahead of the helpdesk's clock is bad data: the ticket is
  refused (and quarantined by the cycle), never indexed for ever.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Mapping
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from types import MappingProxyType
from typing import Any

from tierlift.connectors.base import Connector
from tierlift.connectors.errors import TicketError
from tierlift.engine.evaluate import Evaluator, ledger_of, severity_of
from tierlift.engine.model import Decision, Ticket
from tierlift.engine.serialize import ticket_to_dict
from tierlift.service.daemon.config import HelpdeskConfig
from tierlift.service.daemon.gate import COMPUTING
from tierlift.service.daemon.state import IndexEntry, Intent, Store
from tierlift.service.daemon.triage import chosen_classifier, classifier_for
from tierlift.service.ops.logs import event

log = logging.getLogger("tierlift.cycle")

# The Evaluator caches results per ticket version (~2 KB a ticket). A cycle
# evaluates a ticket again only when it changed (a new version) or its
# wake-up passed, and the daemon starts each cycle with a new Evaluator, so an
# unbounded cache bought nothing and held ~200 MB during a first sync of
# 100,000 tickets (tests/bench). Bounded, it still covers the cascade check
# within one decision.
EVALUATOR_CACHE = 2_000
# A ticket refused by its own data (or the helpdesk, for it alone): quarantined, never the cycle's end.
TICKET_PROBLEMS = (TicketError, ValueError, KeyError, TypeError, AttributeError)
# Clocks disagree a little; a ticket created a day ahead of us is bad data.
FUTURE_SLACK = timedelta(days=1)
# No helpdesk records a ticket before the Unix epoch; one in year 1 overflowed the engine's
# calendar arithmetic (an OverflowError, quarantined as tierlift's bug instead of bad data).
EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
# A new ticket's requester_updated_at is its creation; later than this, the customer wrote again.
CREATION_SLACK = timedelta(seconds=5)
SEVERITY_RANK = {"P0": 0, "P1": 1, "P2": 2, "P3": 3}
PRIORITY_RANK = {"urgent": 0, "high": 1, "normal": 2, "low": 3}


class EngineFailed(TicketError):
    """The engine raised what no ticket data is meant to make it raise: a tierlift bug, met
    on this ticket. Quarantined like bad data, and counted apart (/metrics)."""


class TicketEvaluation:
    """The policy's decisions on one helpdesk's tickets, and their index entries."""

    def __init__(self, cfg: HelpdeskConfig, connector: Connector, store: Store, *, journal_retention: timedelta,
                 plans_moves: bool = False):
        self.cfg, self.name, self.connector, self.store = cfg, cfg.name, connector, store
        self.plans_moves = plans_moves  # a dry run (dryrun.DryRun): its moves are in no journal
        # What becomes of the tier moves read from a ticket's note markers: the cycle
        # gives its applier's choice (a plan keeps none); alone, they are journaled.
        self.remember: Callable[[Ticket, datetime], None] = self.journal_markers
        # Moves rebuilt from note markers older than this are not journaled: compaction
        # would delete them and the next comments read put them back, for ever.
        self.journal_retention = journal_retention
        self.evaluator = Evaluator(cfg.policy, cache_size=EVALUATOR_CACHE,
                                   classifier=classifier_for(cfg.policy, chosen_classifier(store, cfg.name,
                                                                                    cfg.options.triage_model)))

    @property
    def model(self) -> str | None:
        """The text model the policy reads with (None: it reads none)."""
        classifier = self.evaluator.classifier
        return getattr(classifier, "name", None) if classifier is not None else None

    def forget(self) -> None:
        """The evaluator's cache, freed when its cycle ends (HelpdeskCycle.run)."""
        self.evaluator.forget()

    def decide(self, ticket: Ticket, now: datetime) -> Decision:
        with COMPUTING:  # one section at a time in the process: the others wait off the interpreter
            try:
                return self.evaluator.evaluate(ticket, now)
            except TICKET_PROBLEMS:
                raise
            except Exception as exc:
                # The engine reads no network, file or state: whatever else it raises is about
                # this ticket's data, so this ticket is quarantined and the rest of its page
                # flows (an IndexError used to end every cycle at the same ticket). Its traceback
                # is for whoever reports the bug (`log: {level: debug}`), as a failed cycle's is.
                event(log, logging.DEBUG, "engine failed", exc_info=True, helpdesk=self.name, ticket=ticket.id)
                raise EngineFailed(f"the engine failed on this ticket: {exc.__class__.__name__}: {exc}",
                                   ticket_id=ticket.id) from exc

    def decide_reading_comments(self, ticket: Ticket, now: datetime, *,
                                as_of: datetime | None = None) -> tuple[Ticket, Decision]:
        """The decision on the ticket with its ledger; its comments are read when the engine asks
        (cut at `as_of` when given: a shadow deciding a ticket as it last saw it)."""
        ticket = self.with_ledger(ticket, now)
        decision = self.decide(ticket, now)
        if decision.needs_comments:
            ticket = cut_at(self.connector.with_comments(ticket), as_of)
            self.remember(ticket, now)
            decision = self.decide(ticket, now)
        return ticket, decision

    def with_follow_up(self, ticket: Ticket, previous: IndexEntry | None, now: datetime, *,
                       backlog: bool = False) -> Ticket:
        """The ticket with its comments when the customer wrote since tierlift last read it.

        Zendesk's export carries no comments, only when the requester last updated the
        ticket (`customer_wrote_at`, from the metric set): a follow-up such as "I want
        to speak to a manager" is read once, when it arrives -- one read per follow-up
        (for a ticket read before, the connector's kept audits and one ticket events read
        for the whole cycle: connectors/zendesk/followups.py), none on an idle cycle, none
        for a ticket seen for the first time whose customer wrote nothing after its
        creation (its description is what the customer wrote). A new ticket the customer
        followed up before tierlift first saw it (created and answered by the customer
        while tierlift was stopped, or between two polls) is read with its comments, except
        in the first sync's backlog (`backlog`), which stays one read a page. Jira's search
        carries the comments.
        A ticket whose decision is owed (indexed as due with the comments it was read
        with, by a cycle out of time) is read with its comments again when it changes
        before that decision is taken: it must be taken on the words that made it due.
        """
        wrote = max((t for k in FOLLOW_UP_TIMES if (t := _when(ticket.fields.get(k))) is not None), default=None)
        if ticket.comments is not None or wrote is None:
            return ticket
        if previous is None:
            if backlog or wrote <= ticket.created_at + CREATION_SLACK:
                return ticket
            return self._with_comments(ticket, now)
        try:
            before = json.loads(previous.snapshot)
            then = dict(before.get("fields", {}))
        except (ValueError, AttributeError, TypeError):
            before, then = {}, {}
        owed = previous.wake_up is not None and previous.wake_up <= now and before.get("comments") is not None
        if not owed and not _customer_wrote(ticket.fields, then) and not _someone_commented(ticket.fields, then):
            return ticket
        return self._with_comments(ticket, now)

    def _with_comments(self, ticket: Ticket, now: datetime) -> Ticket:
        try:
            loaded = self.connector.with_comments(ticket)
        except TicketError:
            return ticket  # the evaluation meets the same problem and quarantines the ticket
        self.remember(loaded, now)
        return loaded

    def with_ledger(self, ticket: Ticket, now: datetime) -> Ticket:
        for name, at in (("created_at", ticket.created_at), ("updated_at", ticket.updated_at)):
            # An updated_at years ahead is as wrong as a created_at: its snapshot
            # would also outlive every compaction (kept while updated_at >= cutoff).
            if at > now + FUTURE_SLACK:
                raise TicketError(f"ticket {ticket.id}: {name} {at:%Y-%m-%d %H:%M} is in the future",
                                  ticket_id=ticket.id)
            if at < EARLIEST:
                raise TicketError(f"ticket {ticket.id}: {name} {at.isoformat(' ', 'minutes')[:16]} is before 1970",
                                  ticket_id=ticket.id)
        stored = self.store.ledger_moves(self.name, ticket.id)
        if not stored:
            # An L1 tag and nothing journaled: a lost or new state, which cannot tell a ticket
            # that never moved from one tierlift brought back to L1 (its notes' markers can).
            if ticket.comments is None and not ticket.ledger and self.cfg.policy.tier_tag(1) in ticket.tags \
                    and not self.store.journaled(self.name, ticket.id):
                return replace(ticket, ledger_known=False)
            return ticket
        # Moves the ticket carries already (applied in memory by a dry run) stay.
        known = {m.escalation_id for m in stored}
        ledger = sorted([*stored, *(m for m in ticket.ledger if m.escalation_id not in known)], key=lambda m: m.at)
        return replace(ticket, ledger=tuple(ledger))

    def journal_markers(self, ticket: Ticket, now: datetime) -> None:
        """Store the tier moves the ticket's note markers record and the ledger lacks
        (a lost or new state file): the next cycles need no comments read for them,
        so a lost state costs one read per tiered ticket, once."""
        if not ticket.comments:
            return
        known = {m.escalation_id for m in self.store.ledger_moves(self.name, ticket.id)}
        for m in ledger_of(ticket):
            if not m.escalation_id or m.escalation_id in known or m.from_tier == m.to_tier \
                    or m.at < now - self.journal_retention:
                continue
            row = {"rebuilt": True, "actor": m.actor, "human": m.human}
            self.store.record_intent(Intent(self.name, m.escalation_id, ticket.id, "rebuilt", m.from_tier, m.to_tier,
                                            m.rule, "", json.dumps(row), "done", m.at, m.at, 0,
                                            "rebuilt from the note marker"))

    def urgency(self, ticket: Ticket, since: datetime) -> tuple[int, int, datetime, str]:
        """The order due work is done in: severity, priority, time past the threshold."""
        try:
            severity = severity_of(ticket, self.cfg.policy)
        except Exception:  # a ticket the conditions cannot read is ranked last, and quarantined when processed
            severity = None
        return (SEVERITY_RANK.get(severity or "", len(SEVERITY_RANK)), PRIORITY_RANK.get(ticket.priority or "", 4),
                since, ticket.id)

    def entry(self, ticket: Ticket, wake_up: datetime | None) -> IndexEntry:
        with COMPUTING:
            return self._entry(ticket, wake_up)

    def _entry(self, ticket: Ticket, wake_up: datetime | None) -> IndexEntry:
        tier = max((lv for lv in self.cfg.policy.tiers if self.cfg.policy.tier_tag(lv) in ticket.tags), default=1)
        # A dry run's moves are in no journal: its snapshot keeps them (with_ledger merges them
        # with the journal's). Dropped, a planned L1 -> L2 left the tier tag on the snapshot and
        # no move, so L2's clock ran from the ticket's creation and the rehearsal climbed to L4
        # within hours: 125 decisions planned where going live wrote 44 (QA, a support lead).
        snapshot = ticket_to_dict(ticket if self.plans_moves else replace(ticket, ledger=()))
        return IndexEntry(self.name, ticket.id, ticket.version, tier, ticket.status, wake_up,
                          json.dumps(snapshot, separators=(",", ":")), ticket.created_at, ticket.updated_at,
                          ticket.organization.plan if ticket.organization else None, ticket.group,
                          ticket.first_reply_at, ticket.solved_at)


def cut_at(ticket: Ticket, at: datetime | None) -> Ticket:
    """The ticket's comments and changes up to `at` (None: all of them)."""
    if at is None:
        return ticket
    comments = None if ticket.comments is None else tuple(c for c in ticket.comments if c.created_at <= at)
    history = None if ticket.history is None else tuple(h for h in ticket.history if h.at <= at)
    return replace(ticket, comments=comments, history=history)


# When the customer last updated the ticket, and when anyone last commented (the metric set's).
FOLLOW_UP_TIMES = ("customer_wrote_at", "commented_at")


def _customer_wrote(now: Mapping[str, Any], then: Mapping[str, Any]) -> bool:
    """The customer updated the ticket since the snapshot (or the snapshot cannot say)."""
    wrote, seen = _when(now.get("customer_wrote_at")), _when(then.get("customer_wrote_at"))
    return wrote is not None and (seen is None or wrote > seen)


def _someone_commented(now: Mapping[str, Any], then: Mapping[str, Any]) -> bool:
    """A comment came since the snapshot that tierlift's own landed writes do not explain
    (`after_own_write`): words a bridge posted for the customer move only this. A snapshot
    from before this was kept says nothing, and is no reason to read."""
    commented, seen = _when(now.get("commented_at")), _when(then.get("commented_at"))
    return commented is not None and seen is not None and commented > seen


def after_own_write(ticket: Ticket) -> Ticket:
    """The ticket after tierlift's landed write, its last comment time moved up to the write's
    stamp (its version): the comments up to it are tierlift's own, as a safe update lands
    only on the ticket as read. Else every ticket tierlift wrote to was read again at the
    next cycle (1,140 reads after a first sync of 1,500 tickets, tests/bench)."""
    stamp, commented = _when(ticket.version), _when(ticket.fields.get("commented_at"))
    if stamp is None or commented is None or commented >= stamp:
        return ticket
    return replace(ticket, fields=MappingProxyType({**ticket.fields, "commented_at": ticket.version}))


def _when(value: object) -> datetime | None:
    """An ISO time as the helpdesk wrote it, or None."""
    if not isinstance(value, str):
        return None
    try:
        at = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return at if at.tzinfo is not None else None
