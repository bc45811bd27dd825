"""The due backlog is done most urgent first across cycles, not by ticket id.

The full floor (zendesk three-tier, seed 11, 2026-12-07): the daemon stopped for two helpdesk
hours on Monday; on its restart the first cycle's time ran out and the rest of the work waited
in the index, which the next cycles took by time and ticket id. A data-loss ticket an agent
tagged P1 at 15:07 was moved at 17:41, 27 minutes after the restart, behind a hundred SLA
moves of quiet tickets; P2s waited the same way."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

from tierlift.engine.model import Ticket
from tierlift.engine.serialize import ticket_from_dict, ticket_to_dict
from tierlift.service.daemon.cycle import URGENT_FIRST_WINDOW, _urgent_first
from tierlift.service.daemon.evaluation import TicketEvaluation
from tierlift.service.daemon.policies import load_policy
from tierlift.service.daemon.store.base import IndexEntry

NOW = datetime(2026, 11, 30, 17, 15, tzinfo=UTC)


def ticket(tid: str, tags: tuple[str, ...] = (), priority: str = "normal") -> Ticket:
    at = NOW - timedelta(hours=6)
    return Ticket(tid, f"Ticket {tid}", "Something is not right.", "open", at, at, "v1", priority, frozenset(tags))


def entry(t: Ticket, wake: datetime) -> IndexEntry:
    return IndexEntry("hd", t.id, t.version, 1, t.status, wake, json.dumps(ticket_to_dict(t)), t.created_at,
                      t.updated_at)


def evaluation() -> TicketEvaluation:
    ev = object.__new__(TicketEvaluation)  # its order reads only the policy
    ev.cfg = SimpleNamespace(policy=load_policy("three-tier"))
    return ev


def test_a_p1_waiting_in_the_index_goes_before_older_quiet_work_and_this_cycles_deferred_p3():
    quiet = [ticket(str(n)) for n in range(10, 20)]
    p1 = ticket("900", ("p1",))
    p2 = ticket("901", ("p2",))
    due = [entry(t, NOW - timedelta(minutes=60 - i)) for i, t in enumerate(quiet)]
    due += [entry(p1, NOW - timedelta(minutes=5)), entry(p2, NOW - timedelta(minutes=4))]
    deferred = [(ticket("950", ("p3",)), NOW)]
    decoded = []

    def decode(e: IndexEntry) -> Ticket:
        decoded.append(e.ticket_id)
        return ticket_from_dict(json.loads(e.snapshot))

    order = [t.id if isinstance(t, Ticket) else t.ticket_id for t in _urgent_first(deferred, due, decode, evaluation(), NOW)]
    # P1, P2, this cycle's deferred P3, then the quiet tickets by how long they have been due.
    assert order == ["900", "901", "950", *(t.id for t in quiet)], order
    assert sorted(decoded) == sorted(e.ticket_id for e in due)


def test_a_backlog_larger_than_the_window_is_decoded_only_as_far_as_the_window():
    many = [ticket(str(n)) for n in range(URGENT_FIRST_WINDOW + 50)]
    due = [entry(t, NOW - timedelta(seconds=len(many) - i)) for i, t in enumerate(many)]
    seen = []

    def decode(e: IndexEntry) -> Ticket:
        seen.append(e.ticket_id)
        return ticket_from_dict(json.loads(e.snapshot))

    out = _urgent_first([], due, decode, evaluation(), NOW)
    assert len(seen) == URGENT_FIRST_WINDOW and len(out) == len(many)
    assert all(isinstance(x, IndexEntry) for x in out[URGENT_FIRST_WINDOW:])
