"""The tickets webhooks name, waiting for their worker (service/daemon/nudges.py)."""

from __future__ import annotations

from tierlift.service.daemon.nudges import Nudges


def test_a_storm_of_events_for_a_few_tickets_is_one_batch_per_gap():
    clock = [0.0]
    nudges = Nudges(["zd"], gap=1.0, monotonic=lambda: clock[0])
    nudges.add("zd", "1")
    assert nudges.take("zd") == ["1"]  # the first event after a quiet spell: at once
    taken = []
    for i in range(10_000):  # 10,000 events in ten seconds, for 100 tickets
        clock[0] = 0.001 * (i + 1)
        nudges.add("zd", str(i % 100))
        taken.append(nudges.take("zd"))
    batches = [t for t in taken if t]
    assert len(batches) <= 10
    assert all(len(b) == len(set(b)) <= 100 for b in batches)
    clock[0] = 20.0
    rest = nudges.take("zd")
    assert {t for b in batches for t in b} | set(rest) == {str(i) for i in range(100)}


def test_wait_returns_when_a_ticket_is_named_and_wake_ends_every_wait():
    nudges = Nudges(["zd"])
    assert nudges.wait("zd", 0) is False
    nudges.add("zd", "5")
    assert nudges.wait("zd", 0) is True
    assert nudges.take("zd") == ["5"]
    assert nudges.wait("zd", 0) is False
    nudges.wake()
    assert nudges.wait("zd", 0) is True
