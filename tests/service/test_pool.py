"""The worker pool: many helpdesks' turns on a few threads, woken early when asked,
all ended by the stop event, one worker's bug ending that worker alone."""

from __future__ import annotations

import re
import threading
import time

import pytest

from tierlift.service.daemon.pool import Park, Slots, WorkerPool, first_sync_places


def _wait(predicate, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)


def test_two_hundred_sleeping_workers_hold_a_few_threads_and_each_keeps_its_own_rhythm():
    stop = threading.Event()
    pool = WorkerPool(stop, most=8)
    turns: dict[str, int] = {}
    lock = threading.Lock()

    def worker(name):
        while not stop.is_set():
            with lock:
                turns[name] = turns.get(name, 0) + 1
            yield Park(0.05)

    for i in range(200):
        pool.add(f"hd{i}", worker(f"hd{i}"))
    time.sleep(1.0)
    try:
        with lock:
            counts = dict(turns)
        assert len(counts) == 200 and min(counts.values()) >= 3, counts  # every worker, every ~50 ms
        assert pool.most_threads_seen <= 8
    finally:
        stop.set()
        pool.stop()
    _wait(lambda: pool.threads() == 0)


def test_a_wake_resumes_a_wakeable_park_at_once_and_one_that_finds_it_running_is_kept():
    stop = threading.Event()
    pool = WorkerPool(stop)
    resumed: list[float] = []
    in_turn, go_on = threading.Event(), threading.Event()

    def worker():
        resumed.append(time.monotonic())
        yield Park(60.0, wakeable=True)
        resumed.append(time.monotonic())
        in_turn.set()
        go_on.wait(5)  # a wake that arrives now, while it runs, must not be lost
        yield Park(60.0, wakeable=True)
        resumed.append(time.monotonic())
        yield Park(60.0)  # not wakeable: a wake waits for a wakeable park
        resumed.append(time.monotonic())

    task = pool.add("hd", worker())
    _wait(lambda: len(resumed) == 1)
    pool.wake("hd")
    _wait(in_turn.is_set)
    pool.wake("hd")
    go_on.set()
    _wait(lambda: len(resumed) == 3)
    assert resumed[2] - resumed[1] < 5
    pool.wake("hd")
    time.sleep(0.3)
    assert len(resumed) == 3  # the plain park waits its 60 s
    stop.set()
    pool.stop()
    assert task.done.wait(5) and len(resumed) == 4


def test_a_worker_that_raises_ends_alone_and_the_others_go_on(caplog):
    stop = threading.Event()
    pool = WorkerPool(stop, most=2)
    beats = [0]

    def broken():
        yield Park(0.01)
        raise RuntimeError("a bug in one helpdesk")

    def healthy():
        while not stop.is_set():
            beats[0] += 1
            yield Park(0.01)

    bad, good = pool.add("bad", broken()), pool.add("good", healthy())
    assert bad.done.wait(5)
    seen = beats[0]
    _wait(lambda: beats[0] > seen + 10)
    assert not good.done.is_set() and "bad worker ended" in caplog.text and "a bug in one helpdesk" in caplog.text
    stop.set()
    assert good.done.wait(5)  # the stop event alone (a signal handler sets it) ends the parked worker


def test_slots_hand_a_freed_place_to_the_first_who_waited():
    slots = Slots(1)
    woken: list[str] = []
    assert slots.take("a", lambda: woken.append("a"))
    assert not slots.take("b", lambda: woken.append("b"))
    assert not slots.take("c", lambda: woken.append("c"))
    slots.give_back()
    assert woken == ["b"]
    assert not slots.take("c", lambda: woken.append("c"))  # b was first: c waits on
    assert slots.take("b", lambda: None)
    slots.leave("c")
    slots.give_back()
    assert woken == ["b"] and slots.take("d", lambda: None)


def test_two_places_freed_together_wake_two_waiters_not_one():
    slots = Slots(2)
    woken: list[str] = []
    assert slots.take("a", lambda: None) and slots.take("b", lambda: None)
    assert not slots.take("c", lambda: woken.append("c"))
    assert not slots.take("d", lambda: woken.append("d"))
    slots.give_back()
    slots.give_back()  # both back before c runs: c is woken twice, d not yet
    assert woken == ["c", "c"]
    assert slots.take("c", lambda: None)
    assert woken == ["c", "c", "d"]  # the second place is d's at once, not after a timeout
    assert slots.take("d", lambda: None)


def test_a_synced_helpdesk_keeps_its_turns_while_long_first_syncs_fill_their_places():
    # The runner's first syncs (runner.HelpdeskWorker._step): a slot, then a long cycle on the
    # thread. Five helpdesks start their first syncs at once on a four-thread pool, each sync
    # long (waiting for its helpdesk); a sixth synced already and polls. Its turns must go on
    # while the first syncs last: a P0 on it is read in its next cycle, not after a first sync.
    stop, release = threading.Event(), threading.Event()
    pool = WorkerPool(stop, most=4)
    slots = Slots(first_sync_places(4))
    syncing, polls = [0], [0]
    lock = threading.Lock()

    def first_sync(name):
        while not slots.take(name, lambda: pool.wake(name)):
            yield Park(5.0, wakeable=True)
        try:
            with lock:
                syncing[0] += 1
            release.wait(10)  # a first sync across the internet: most of it waiting
        finally:
            with lock:
                syncing[0] -= 1
            slots.give_back()
        while not stop.is_set():
            yield Park(0.05)

    def synced():
        while not stop.is_set():
            with lock:
                polls[0] += 1
            yield Park(0.02)

    for i in range(5):
        pool.add(f"new{i}", first_sync(f"new{i}"))
    try:
        _wait(lambda: syncing[0] == first_sync_places(4))
        pool.add("synced", synced())
        _wait(lambda: polls[0] >= 5, timeout=3)  # while every first sync still waits
        assert syncing[0] == first_sync_places(4) and not release.is_set()
    finally:
        release.set()
        stop.set()
        pool.stop()


def test_a_turn_that_runs_too_long_is_told_with_its_helpdesk_and_where_it_is_and_again_while_it_lasts(caplog):
    # Python cannot cut a turn short; a worker stuck in a call that never returns holds one of
    # the pool's threads, and the operator must see which helpdesk and where, not silence.
    stop = threading.Event()
    pool = WorkerPool(stop, long_turn=0.3, turn_check=0.05)
    stuck, free = threading.Event(), threading.Event()

    def worker():
        yield Park(0.0)
        stuck.set()
        free.wait(10)  # the call that does not return
        yield Park(60.0)

    def quiet():
        while not stop.is_set():
            yield Park(0.02)

    caplog.set_level("WARNING", logger="tierlift.daemon")
    pool.add("acme", worker())
    pool.add("globex", quiet())
    try:
        assert stuck.wait(5)
        _wait(lambda: sum("turn running long" in r.getMessage() for r in caplog.records) >= 2)
        told = [r.getMessage() for r in caplog.records if "turn running long" in r.getMessage()]
        assert all(m.startswith("helpdesk=acme turn running long seconds=") for m in told), told
        # where: the pool's frame that runs the turn, and inside it the wait that holds it
        assert re.search(r": pool\.py:\d+ in _turn \(inside threading\.py:\d+ in wait\)$", told[0]), told[0]
        free.set()
        _wait(lambda: pool._tasks["acme"].parked)
        caplog.clear()
        looks = pool.turn_looks
        _wait(lambda: pool.turn_looks >= looks + 5)  # the watch looked again: nothing long runs
        assert not [r for r in caplog.records if "turn running long" in r.getMessage()]
    finally:
        free.set()
        stop.set()
        pool.stop()
    _wait(lambda: pool.threads() == 0)


def _pace_a_budget() -> None:
    """A request budget of 60 a minute: a burst of 3, then about one a second."""
    from tierlift.connectors.retry import RequestBudget

    budget = RequestBudget(60)
    for _ in range(6):
        budget.acquire()


def _wait_out_a_retry_after() -> None:
    """A read answered 429 with Retry-After 2 s (as transport.py classifies it), then 200."""
    from tierlift.connectors.errors import RetriableError
    from tierlift.connectors.retry import Retry

    answers = [429, 200]

    def read() -> int:
        status = answers.pop(0)
        if status == 429:
            raise RetriableError("GET /api/v2/tickets: HTTP 429", status=429, retry_after=2.0)
        return status

    assert Retry(attempts=3).call(read) == 200


@pytest.mark.parametrize("wait", [_pace_a_budget, _wait_out_a_retry_after], ids=["budget", "retry-after"])
def test_helpdesks_waiting_for_their_helpdesk_do_not_hold_back_another_helpdesks_turn(wait):
    """Both threads of a two-thread pool run helpdesks that wait seconds for their helpdesk
    (a request budget's pace, a rate-limited account's Retry-After): the third helpdesk's
    due turn runs while they wait, on a thread their waits lent their places to, not after."""
    stop = threading.Event()
    pool = WorkerPool(stop, most=2)
    waited: dict[str, tuple[float, float]] = {}
    ran: list[float] = []
    both_started = threading.Barrier(2)

    def held(name):
        both_started.wait(5)
        started = time.monotonic()
        wait()
        waited[name] = (started, time.monotonic())
        yield Park(60.0)

    def urgent():
        yield Park(0.3)  # falls due while both threads wait
        ran.append(time.monotonic())
        yield Park(60.0)

    try:
        pool.add("held-a", held("held-a"))
        pool.add("held-b", held("held-b"))
        pool.add("p0", urgent())
        _wait(lambda: len(waited) == 2 and ran)
        assert all(start < ran[0] < end for start, end in waited.values()), (waited, ran)
        assert pool.most_threads_seen <= 4
    finally:
        stop.set()
        pool.stop()
    _wait(lambda: pool.threads() == 0)
