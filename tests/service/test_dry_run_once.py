"""A rehearsal plans what the live daemon would write, once (QA, dry run to live).

A dry run writes nothing, so after it plans a move the ticket still reads its old tier;
when the ticket changed later (an agent's note), the rehearsal planned a second move up
from that tier by another rule, with a second customer reply, which the live daemon, its
first move written, never makes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

from tierlift.engine.model import Decision, InternalNote, PublicReply, Reassign, Ticket
from tierlift.service.daemon.dryrun import PROGRESS, Planner, Progress
from tierlift.service.daemon.state import StateStore
from tierlift.service.daemon.stats import CycleStats

NOW = datetime(2026, 11, 3, 14, 2, tzinfo=UTC)


def _move(ticket: Ticket, to: int, rule: str, esc: str) -> Decision:
    actions = (Reassign(f"team-l{to}"), InternalNote(f"Escalated L1 -> L{to}"), PublicReply("escalated"))
    return Decision(ticket.id, 1, to, actions, (rule,), None, rule=rule, escalation_id=esc, kind="escalate")


def _planner(tmp_path) -> tuple[StateStore, Planner]:
    """A rehearsal's applier on a state of its own (no live sibling: not a shadow)."""
    store = StateStore(tmp_path / "state.sqlite3")
    PROGRESS[store] = Progress("trial (dry run)", shadow=False)
    parts = SimpleNamespace(cfg=SimpleNamespace(name="trial"), metrics=None, on_decision=None, store=store,
                            golive=SimpleNamespace(detail=lambda kind, ticket_id: ""), keep_decisions=False)
    return store, Planner(parts)  # type: ignore[arg-type]


def test_a_rehearsal_plans_one_move_up_from_the_tier_the_ticket_still_reads(tmp_path):
    store, planner = _planner(tmp_path)
    read = Ticket("SUP-68", "Webhooks time out", "Our webhooks to the CRM fail.", "open", NOW, NOW, version="v1",
                  tags=frozenset({"tier_l1", "escalate"}))
    planner.act(read, _move(read, 2, "core-bug-or-degradation", "e1"), NOW, CycleStats())
    # Two hours later the agent wrote the context; nothing was written, so the tags say L1.
    later = Ticket(read.id, read.subject, read.description, "open", NOW, NOW + timedelta(hours=2), version="v2",
                   tags=read.tags)
    stats = CycleStats()
    planner.act(later, _move(later, 2, "manual", "e2"), NOW + timedelta(hours=2), stats)
    assert [p.rule for p in store.planned("trial", read.id)] == ["core-bug-or-degradation"]
    assert stats.planned == 0
    # A move past the planned one is still planned: the live side would make it from L2.
    planner.act(later, _move(later, 3, "service-outage", "e3"), NOW + timedelta(hours=2), stats)
    assert [p.rule for p in store.planned("trial", read.id)] == ["core-bug-or-degradation", "service-outage"]
    store.close()


def test_a_move_planned_before_keeps_its_time_when_the_ticket_is_read_again(tmp_path):
    """QA (qa11, N1): the rehearsal planned an outage's L1 -> L3 at 13:20; an agent answered, and
    when the ticket was read again at 17:20 the imagined move was applied anew at 17:20, so L3's
    clocks and its update duty ran from 17:20 ("no public update for 6 hours" at 23:20, a note
    saying L3's first response was breached although the engineer had answered four times)."""
    store, planner = _planner(tmp_path)
    read = Ticket("45", "Production down", "Nobody can log in.", "open", NOW, NOW, version="v1",
                  tags=frozenset({"tier_l1"}))
    moved = planner.act(read, _move(read, 3, "service-outage", "e1"), NOW, CycleStats())
    assert [m.at for m in moved.ledger] == [NOW]
    later = NOW + timedelta(hours=4)
    again = Ticket(read.id, read.subject, read.description, "open", NOW, later, version="v2", tags=read.tags)
    moved_again = planner.act(again, _move(again, 3, "service-outage", "e2"), later, CycleStats())
    assert [m.at for m in moved_again.ledger] == [NOW], moved_again.ledger
    store.close()
