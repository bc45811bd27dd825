"""One engine decision at a time in the daemon's process, first come first served (gate.py).

Threads that decide at once make the health server's answers wait for the
interpreter; the gate keeps them waiting on their own lock instead. These tests
watch what a user of the daemon would: no two helpdesks' decisions overlap, and
a helpdesk that asked first decides first (an urgent ticket never waits behind
another helpdesk's whole page).
"""

from __future__ import annotations

import contextlib
import threading
import time
from datetime import UTC, datetime

import pytest

from tierlift.service.daemon import evaluation
from tierlift.service.daemon.gate import FairGate


def _wait_for(predicate, what: str, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.001)


def test_a_waiting_thread_enters_in_the_order_it_came():
    gate = FairGate(1)
    order: list[str] = []
    gate.__enter__()  # the main thread holds the place
    threads = []
    for name in "abcde":
        t = threading.Thread(target=lambda n=name: _enter_and_note(gate, order, n))
        t.start()
        threads.append(t)
        queued = len(threads)
        _wait_for(lambda: gate.waits == queued, f"{name} to queue")  # noqa: B023 (asked at once)
    gate.__exit__(None, None, None)
    for t in threads:
        t.join(10)
    assert order == list("abcde")


def _enter_and_note(gate: FairGate, order: list[str], name: str) -> None:
    with gate:
        order.append(name)


def test_no_more_threads_inside_than_slots_and_an_error_frees_the_place():
    gate = FairGate(2)
    inside, most = 0, 0
    count = threading.Lock()

    def work(i: int) -> None:
        nonlocal inside, most
        for _ in range(50):
            with contextlib.suppress(RuntimeError), gate:
                with count:
                    inside += 1
                    most = max(most, inside)
                time.sleep(0.0002)
                with count:
                    inside -= 1
                if i % 2:
                    raise RuntimeError("a ticket's bad data")

    threads = [threading.Thread(target=work, args=(i,)) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert most == 2
    # Both places came back despite the errors: while one thread holds a place, another
    # enters at once.
    holding, leave, second_in = threading.Event(), threading.Event(), threading.Event()

    def hold() -> None:
        with gate:
            holding.set()
            leave.wait(10)

    def enter() -> None:
        with gate:
            second_in.set()

    first, second = threading.Thread(target=hold), threading.Thread(target=enter)
    first.start()
    assert holding.wait(10)
    second.start()
    try:
        assert second_in.wait(10), "the second place did not come back after the errors"
    finally:
        leave.set()
        first.join(10)
        second.join(10)


def test_a_gate_without_a_slot_is_refused():
    with pytest.raises(ValueError, match="at least one slot"):
        FairGate(0)


class _SlowEvaluator:
    """An engine that takes its time and counts how many decide at once."""

    inside = 0
    most = 0
    lock = threading.Lock()

    def evaluate(self, ticket, now):
        with self.lock:
            type(self).inside += 1
            type(self).most = max(type(self).most, type(self).inside)
        time.sleep(0.002)
        with self.lock:
            type(self).inside -= 1
        return ticket


def test_two_helpdesks_cycles_never_decide_at_once():
    """TicketEvaluation.decide, as every cycle calls it, goes through the process's gate."""
    helpdesks = []
    for _ in range(3):
        ev = object.__new__(evaluation.TicketEvaluation)
        ev.evaluator = _SlowEvaluator()
        helpdesks.append(ev)
    now = datetime(2026, 12, 1, 12, tzinfo=UTC)
    threads = [threading.Thread(target=lambda e=ev: [e.decide(f"t{i}", now) for i in range(40)]) for ev in helpdesks]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert _SlowEvaluator.most == 1
