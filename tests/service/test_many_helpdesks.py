"""Many helpdesks in one daemon: no helpdesk is ever lost, first syncs take turns, a pack is parsed once.

In process (the workers run on worker pools): a sandbox helpdesk, the real HelpdeskWorker,
and the state opened through the runner. The figures (RSS, first-sync time, idle
CPU at H = 10, 100, 500) are the benchmark's: tests/bench/run.py --many.
"""

from __future__ import annotations

import logging
import threading
import time
from datetime import UTC, datetime

import pytest

from tierlift.sandbox import FaultSpec, Sandbox
from tierlift.service.daemon import runner
from tierlift.service.daemon.config import load_config
from tierlift.service.daemon.policies import load_policy
from tierlift.service.daemon.state import StateError
from tierlift.service.ops.health import HealthServer, Heartbeat
from tierlift.service.ops.logs import OutageLog

from kit import TOKEN, helpdesk, write_config

NOW = datetime(2026, 11, 2, 13, 0, tzinfo=UTC)


@pytest.fixture
def sb():
    with Sandbox("zendesk", tickets=10, seed=7, now=NOW) as s:
        yield s


def _wait(predicate, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def _workers(tmp_path, sb, names, services, stop, more=()):
    """A worker per name: the first on `sb`, the others on the helpdesks `more` (two live
    entries on one helpdesk are refused: each would write every escalation)."""
    config = write_config(tmp_path, [helpdesk(box, n) for box, n in zip([sb, *more], names, strict=True)],
                          clock_url=sb.url)
    cfg = load_config(config, {"SANDBOX_TOKEN": TOKEN})
    clock = runner.make_clock(cfg)
    return [runner.HelpdeskWorker(cfg, hd, clock, services, stop=stop) for hd in cfg.helpdesks]


def test_a_state_that_will_not_open_is_retried_and_shown_per_helpdesk_not_a_dead_worker(sb, tmp_path, monkeypatch):
    real_open = runner.open_store
    attempts = []

    def locked_once(cfg, **kw):
        attempts.append(1)
        if len(attempts) == 1:
            raise StateError("state file: locked by another process for 30s")
        return real_open(cfg, **kw)

    monkeypatch.setattr(runner, "open_store", locked_once)
    beat, stop = Heartbeat(), threading.Event()
    services = runner.Services(heartbeat=beat, first_syncs=runner.Slots(2))
    [worker] = _workers(tmp_path, sb, ["hd"], services, stop)
    server = HealthServer("127.0.0.1:0", beat, None, state_open=lambda: True, helpdesks=["hd"])
    worker.start()
    try:
        _wait(lambda: "hd" in beat.error_map())
        code, _, body = server.answer("/readyz")
        assert code == 503 and b"locked by another process" in body and b"helpdesk_errors" in body
        _wait(lambda: beat.helpdesk_ages().get("hd") is not None)  # opened on the next try, then cycled
        assert worker.is_alive() and worker.cycles >= 1 and len(attempts) == 2
        code, _, body = server.answer("/readyz")
        assert code == 200, body
    finally:
        stop.set()
        worker.join(10)


def test_first_syncs_take_turns_and_all_finish(sb, tmp_path, monkeypatch):
    seen: set[str] = set()
    running, most = [0], [0]
    lock = threading.Lock()
    real_run = runner.HelpdeskCycle.run

    def counted(self, now):
        me = self.cfg.name
        with lock:
            first = me not in seen
            seen.add(me)
            if first:
                running[0] += 1
                most[0] = max(most[0], running[0])
        try:
            if first:
                time.sleep(0.3)  # a first sync that takes a while: the others must wait for it
            return real_run(self, now)
        finally:
            if first:
                with lock:
                    running[0] -= 1

    monkeypatch.setattr(runner.HelpdeskCycle, "run", counted)
    beat, stop = Heartbeat(), threading.Event()
    services = runner.Services(heartbeat=beat, first_syncs=runner.Slots(1))
    with Sandbox("zendesk", tickets=10, seed=8, now=NOW) as b, Sandbox("zendesk", tickets=10, seed=9, now=NOW) as c:
        workers = _workers(tmp_path, sb, ["a", "b", "c"], services, stop, more=(b, c))
        for w in workers:
            w.start()
        try:
            _wait(lambda: all(w.cycles >= 1 for w in workers))
            assert all(w.is_alive() for w in workers)
        finally:
            stop.set()
            for w in workers:
                w.join(10)
    assert most[0] == 1 and len(seen) == 3


def test_a_pack_is_parsed_once_for_every_helpdesk_that_uses_it(tmp_path):
    assert load_policy("three-tier") is load_policy("three-tier")
    own = tmp_path / "mine.yaml"
    own.write_text(load_policy.__globals__["policy_source"]("two-tier")[0])
    first = load_policy(str(own))
    assert load_policy(str(own)) is first
    own.write_text(own.read_text().replace("name:", "name: changed #", 1))  # an edited file is parsed again
    assert load_policy(str(own)) is not first


def test_readyz_reads_a_sqlite_state_at_any_path_and_says_when_it_is_gone(tmp_path):
    from types import SimpleNamespace

    from tierlift.service.daemon.state import StateStore, state_check
    from tierlift.service.ops.health import StateProbe

    path = tmp_path / "odd #name?.sqlite3"  # characters a file: URI must escape
    StateStore(path).close()
    probe = StateProbe(state_check(SimpleNamespace(state_url=None, state_path=path)))
    server = HealthServer("127.0.0.1:0", Heartbeat(), None, state_open=lambda: True, helpdesks=[],
                          state_probe=probe)
    probe.probe()
    assert server.answer("/readyz")[0] == 200
    path.unlink()
    probe.probe()
    code, _, body = server.answer("/readyz")
    assert code == 503 and b"state_error" in body


@pytest.mark.parametrize("when", ["opening", "cycling"])
def test_a_retry_after_beyond_the_cap_is_waited_out_parked_not_asked_again_at_the_next_poll(sb, tmp_path, when):
    """A 429 whose Retry-After exceeds `max_retry_wait` is not slept through inside the turn
    (that would hold one of the pool's threads); the cycle fails and the worker parks. It must
    park for the helpdesk's Retry-After: asked again at the next poll (1 s here), a rate-limited
    helpdesk answers 429 to every poll and Zendesk counts them against the account."""
    stop = threading.Event()
    [worker] = _workers(tmp_path, sb, ["hd"], runner.Services(), stop)
    turns = worker.turns()
    try:
        if when == "cycling":
            first = next(turns)  # opened and synced: parked until the next poll
            assert first.seconds <= 1.0 and not worker.failed
        sb.faults.set(FaultSpec.parse("429:1@120s"))
        park = next(turns)
        assert worker.failed and "Retry-After 120s" in (worker.store.helpdesk_status("hd") or {}).get("last_error", "")
        assert park.seconds >= 119.0, park
    finally:
        stop.set()
        sb.faults.clear()
        turns.close()


def test_a_helpdesk_answering_with_a_long_retry_after_is_said_rate_limited_not_unreachable(sb, tmp_path, caplog):
    """QA (a multi-tenant operator): "helpdesk=bad429 unreachable: ... HTTP 429 (Retry-After 300s
    exceeds the 60s cap)" for a client that answered every request at once, with a rate limit."""
    stop = threading.Event()
    [worker] = _workers(tmp_path, sb, ["hd"], runner.Services(outage=OutageLog(runner.log)), stop)
    turns = worker.turns()
    try:
        next(turns)
        sb.faults.set(FaultSpec.parse("429:1@120s"))
        with caplog.at_level(logging.WARNING, logger=runner.log.name):
            next(turns)
        said = [r.getMessage() for r in caplog.records if "helpdesk=hd" in r.getMessage()]
        assert any("helpdesk=hd rate-limited" in m and "Retry-After 120s" in m for m in said), said
        assert not any("unreachable" in m for m in said), said
    finally:
        stop.set()
        sb.faults.clear()
        turns.close()


def _before_a_reload(sb, tmp_path, monkeypatch) -> tuple[runner.Daemon, runner.HelpdeskWorker, list]:
    """A daemon with one helpdesk and its worker from before a reload; the workers a reload
    starts are built and listed, not run."""
    monkeypatch.setenv("SANDBOX_TOKEN", TOKEN)
    config = write_config(tmp_path, [helpdesk(sb, "hd")], clock_url=sb.url)
    daemon = runner.Daemon(config)
    old = runner.HelpdeskWorker(daemon.config, daemon.config.helpdesks[0], daemon.clock, daemon.services,
                                stop=daemon.worker_stop)
    daemon.workers = [old]
    started: list = []
    monkeypatch.setattr(runner.HelpdeskWorker, "start", lambda self, pool: started.append(self))
    return daemon, old, started


def test_a_reload_keeps_a_helpdesks_retry_after_hold(sb, tmp_path, monkeypatch):
    # Before: a SIGHUP built new workers with no hold, and the helpdesk was asked again ten
    # seconds later, inside the 120 s Retry-After it had asked for.
    daemon, old, started = _before_a_reload(sb, tmp_path, monkeypatch)
    held = time.monotonic() + 110
    old.hold_until = held
    daemon.worker_stop.set()  # stopped, as a reload stops it
    daemon._start_workers()
    [new] = daemon.workers
    assert new is not old and started == [new] and new.hold_until == held
    # ...and the new worker waits it out before its first request: it ran its first cycle at
    # once, 19 s into a 300 s hold, after a reload that changed another client (QA, a
    # multi-tenant operator).
    sb.reset_log()
    turns = new.turns()
    try:
        park = next(turns)
        assert park.seconds > 50, park
        assert sb.requests_log() == []
    finally:
        daemon.worker_stop.set()
        turns.close()


def test_a_standby_replica_forgets_its_error_about_a_helpdesk_another_holds(sb, tmp_path):
    # After a database outage, both replicas served again, but the one on standby for a
    # helpdesk kept its outage error in /readyz's helpdesk_errors for minutes: only a
    # cycle clears it, and a standby runs none (QA hunt on replicas).
    class OtherHolds:  # the leases of a replica whose peer holds every helpdesk
        ttl = 15.0
        held: dict = {}

        def claim(self, helpdesk):
            return None

    beat, stop = Heartbeat(), threading.Event()
    outage = OutageLog(runner.log)
    services = runner.Services(heartbeat=beat, first_syncs=runner.Slots(2), outage=outage)
    [worker] = _workers(tmp_path, sb, ["hd"], services, stop)
    worker.leases = OtherHolds()
    beat.helpdesk_failed("hd", "cannot connect to the state database: Connection refused")
    outage.failed("hd", "state database error: terminating connection", "state")
    store = runner.open_store(worker.cfg, now=worker.clock.now)
    try:
        steps = worker._claim(store)
        with pytest.raises(StopIteration):
            while True:
                next(steps)  # the park while standing by
    finally:
        store.close()
    assert beat.error_map() == {} and beat.role_map() == {"hd": "standby"}
    # ...and its outage: taken back later, it said "answering again down_seconds=205" (QA).
    assert "hd" not in outage.down_since
    server = HealthServer("127.0.0.1:0", beat, None, state_open=lambda: True, helpdesks=["hd"])
    code, _, body = server.answer("/readyz")
    assert code == 200 and b"Connection refused" not in body, body


def test_a_reload_never_starts_a_helpdesks_worker_beside_the_one_still_finishing(sb, tmp_path, monkeypatch, caplog):
    # Before: a reload waited the stop grace (8 s) for each worker, then started new ones
    # whatever: a worker still inside a slow write went on to finish its ticket while the new
    # one opened the same helpdesk and cycled it, two cycles of one helpdesk at once.
    daemon, old, _ = _before_a_reload(sb, tmp_path, monkeypatch)
    finishing = [True]
    monkeypatch.setattr(old, "is_alive", lambda: finishing[0])
    daemon._start_workers()
    [new] = daemon.workers
    turns = new.turns()
    try:
        for _ in range(3):
            park = next(turns)
            assert park.seconds <= 1.0 and new.store is None and new.cycles == 0  # waits, opens nothing
        daemon.worker_stop.set()  # a second reload while it waits: its successor waits for the same one
        with pytest.raises(StopIteration):
            next(turns)
        with caplog.at_level(logging.WARNING, logger=runner.log.name):
            runner._tell_finishing(daemon.workers)  # the second reload names the helpdesk still finishing
        assert "still finishing the ticket in hand helpdesks=hd:" in caplog.text, caplog.text
        daemon._start_workers()
        [new] = daemon.workers
        turns = new.turns()
        assert next(turns).seconds <= 1.0 and new.store is None
        finishing[0] = False
        next(turns)  # the old one ended: opened and synced, parked until the next poll
        assert new.store is not None and new.cycles == 1 and not new.failed
    finally:
        daemon.worker_stop.set()
        turns.close()


def test_an_entry_not_served_waits_for_a_reload_and_its_worker_never_ends(sb, tmp_path, caplog):
    # QA (operator): an entry whose url changed under its name is not served; its worker
    # ended, and the main loop, which beats only while every worker is alive, stopped the
    # heartbeat and the systemd watchdog: /healthz 503 and a restart loop for every helpdesk.
    services = runner.Services(heartbeat=Heartbeat(), first_syncs=runner.Slots(2), outage=OutageLog(runner.log))
    stop = threading.Event()
    [worker] = _workers(tmp_path, sb, ["hd"], services, stop)
    store = runner.open_store(worker.cfg, now=worker.clock.now)
    assert store.served_url("hd", "http://elsewhere.example") is None  # its state was read there
    store.close()
    turns = worker.turns()
    try:
        with caplog.at_level(logging.WARNING, logger=runner.log.name):
            for _ in range(3):
                assert next(turns).seconds >= 1.0  # parked, not ended
        assert worker.failed and worker.store is None and worker.cycles == 0
        assert "moved to another address" in caplog.text
        assert "not tried again until the configuration changes" in caplog.text and "will keep retrying" not in caplog.text
        stop.set()  # the reload or the stop ends it
        with pytest.raises(StopIteration):
            next(turns)
    finally:
        stop.set()
        turns.close()


def test_run_once_exits_1_when_a_helpdesks_worker_ended_on_an_error_of_its_own(sb, tmp_path, monkeypatch):
    # QA (replicas): `run --once --dry-run` on PostgreSQL printed a traceback for every helpdesk
    # (its worker ended) and exited 0, which a timer or a CI job reads as success.
    monkeypatch.setenv("SANDBOX_TOKEN", TOKEN)
    config = write_config(tmp_path, [helpdesk(sb, "hd")], clock_url=sb.url)

    def broken(self):
        raise RuntimeError("a bug in the worker")
        yield  # a generator, as turns are

    monkeypatch.setattr(runner.HelpdeskWorker, "turns", broken)
    daemon = runner.Daemon(config, once=True)
    daemon.start()
    assert daemon.serve() == 1
    [worker] = daemon.workers
    assert isinstance(worker.crashed, RuntimeError)


def test_a_helpdesk_that_never_answered_has_its_last_success_series_at_zero():
    """QA (a multi-tenant operator): a client that never connected had no
    tierlift_last_successful_cycle_timestamp_seconds series, so an alert on its age never fired."""
    from tierlift.service.ops.metrics import Metrics

    m = Metrics()
    m.cycle("never", 0.0, False, due=0, read=0, at=datetime(2026, 11, 2, tzinfo=UTC))
    assert 'tierlift_last_successful_cycle_timestamp_seconds{helpdesk="never"} 0.0' in m.render().decode()
    m.cycle("never", 1.0, True, due=0, read=0, at=datetime(2026, 11, 2, tzinfo=UTC))
    m.cycle("never", 0.0, False, due=0, read=0, at=datetime(2026, 11, 3, tzinfo=UTC))  # a later failure keeps it
    assert 'tierlift_last_successful_cycle_timestamp_seconds{helpdesk="never"} 1.7935776e+09' in m.render().decode()
