"""The long-running service: helpdesk workers on a pool of threads, signals, reload, health.

Isolation: each helpdesk runs its cycles with its own connector and state
connection, as turns on a pool of threads that grows with the work in hand
(pool.py), so a helpdesk that is down or slow (retry waits) holds one thread,
never the others. The main thread owns signals, systemd notifications, the
watchdog and the health server.

Signals: SIGTERM/SIGINT finish the ticket in hand, persist state and exit 0;
SIGHUP reloads the configuration and policies, validating first, and keeps
the running ones when the new files are bad.
"""

from __future__ import annotations

import gc
import logging
import os
import random
import signal
import sys
import threading
import time
from collections.abc import Callable, Generator, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING

from tierlift.connectors.base import Connector, set_computing
from tierlift.connectors.errors import AuthError, NotTheHelpdesk, RateLimited, RetriableError
from tierlift.connectors.retry import Interrupted, backoff
from tierlift.engine.yamlsrc import InvalidFile, Problem
from tierlift.service.daemon import failpoints
from tierlift.service.daemon.clock import Clock, make_clock
from tierlift.service.daemon.config import Config, HelpdeskConfig, load_config
from tierlift.service.daemon.cycle import CycleStats, HelpdeskCycle, Stop
from tierlift.service.daemon.dryrun import entry_mode, mode_for, run_label
from tierlift.service.daemon.gate import COMPUTING
from tierlift.service.daemon.leases import FileLock, Lease, Leases, write_guard
from tierlift.service.daemon.nudges import Nudges
from tierlift.service.daemon.pool import (
    MOST_THREADS,
    Park,
    Pooled,
    Slots,
    Turns,
    WorkerPool,
    first_sync_places,
)
from tierlift.service.daemon.relay import Inbox, Relay
from tierlift.service.daemon.state import (
    SCHEMA_VERSION,
    LeaseLost,
    SqliteStore,
    StateDatabaseError,
    StateError,
    StateUnreachable,
    Store,
    announce_migration,
    describe,
    older_replicas,
    open_store,
    pg_pool,
    state_check,
)
from tierlift.service.ops.logs import OutageLog, event
from tierlift.service.ops.redact import redact, restore, snapshot
from tierlift.service.ops.systemd import SystemdNotifier

if TYPE_CHECKING:
    from tierlift.service.daemon.store.postgres import PgPool
    from tierlift.service.ops.health import HealthServer, Heartbeat, StateProbe
    from tierlift.service.ops.metrics import Metrics
    from tierlift.service.ops.notify import Notifier
    from tierlift.service.ops.webhooks import Receiver

log = logging.getLogger("tierlift.daemon")
# One try of 5 s per message and cycle: the journal tries a failed one again with backoff
# (writes.Notifications.retry). Three tries of 10 s held a cycle 30 s per message behind a
# receiver that hung, a P0 escalated after them, and a receiver that had taken each request
# got it three times (QA, on call: a Slack message four times).
NOTIFY_ATTEMPTS, NOTIFY_TIMEOUT = 1, 5.0
COMPACT_EVERY = timedelta(hours=6)
OPEN_BACKOFF_CAP = 60.0  # seconds between attempts to open a helpdesk that is down
# First syncs that run together: three in four of the pool's threads (24; the rest stays
# for the helpdesks that have synced). A first sync is mostly waiting on its helpdesk's
# answers; with 150 ms an answer (a helpdesk across the internet) 8 at once took 145 s
# for 100 helpdesks and 32 took 50 s, where a local helpdesk's answers took 32-37 s
# either way (docs/performance.md, "First syncs across the internet").
FIRST_SYNCS_AT_ONCE = first_sync_places(MOST_THREADS)
STATE_WAIT_CAP = 30.0  # seconds between attempts to reach a state database that is down at start
# `run --once` waits this long for a state database that does not answer, then exits 1: it
# waited for ever, so a systemd timer's run never ended and no later run started (QA). A
# minute rides through a database restart or failover (attempts at 0, 1, 3, 7, 15, 31 and
# 60 s) and is the shipped timer's interval: waiting longer only delays the failure and
# the next run, which tries again (tierlift-once.service stops a run after 5 minutes).
ONCE_STATE_WAIT = 60.0
OLDER_REPLICAS_POLL = 5.0  # seconds between looks for an older release's replicas, before migrating
# How long a thread holding the interpreter runs before one waiting for it may take it
# (CPython's default is 5 ms). With 8 first syncs reading and deciding, a probe's answer
# waited for the interpreter several times over: /readyz took 658 ms at 500 helpdesks. At
# 1 ms a request to an in-process server among 8 busy threads is answered in a quarter of
# the time (docs/performance.md), for no throughput measurable on two cores.
SWITCH_INTERVAL = 0.001
# The cyclic collector's first threshold in the daemon's process (CPython's default is 700).
# A ticket, its page and its decision live a little while, long enough at 700 allocations to
# be promoted and counted toward a full collection, which stops every thread for as long as
# it walks the heap (up to 279 ms at 500 helpdesks). At 10,000 they mostly die young: 67
# full collections became 4 over 500 helpdesks' first syncs, young ones take up to 76 ms
# (docs/performance.md, "Health answers").
YOUNG_OBJECTS = 10_000


class ListenError(Exception):
    """The health server cannot bind its address: the start is refused (exit 2), said as a
    configuration problem at the key's line."""

    def __init__(self, problem: Problem):
        super().__init__(str(problem))
        self.problem = problem


def _listen_refused(config: Config, key: str, bind: tuple[str, int], exc: OSError) -> ListenError:
    """The start refused for an address it cannot bind, with the key's line (QA: the only
    configuration error without one)."""
    return ListenError(Problem(str(config.source), config.extra.get(f"{key}_line"), key,
                               f"cannot listen on {bind[0]}:{bind[1]}: {exc.strerror or exc}"))


class StateNotReached(Exception):
    """`run --once` waited ONCE_STATE_WAIT for the state database in vain: exit 1, since a
    database that does not answer is no bad configuration (exit 2)."""


def _url_host(address: tuple[str, int]) -> str:
    host, port = address[0], address[1]
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def _close_quietly(connector: Connector) -> None:
    try:
        connector.close()
    except Exception as exc:  # closing a broken connection must not mask why it broke
        event(log, logging.DEBUG, "closing connector", str(exc))


class Compactions:
    """When a state store is next compacted: once every COMPACT_EVERY for the whole store, by
    whichever helpdesk's worker ends a cycle first once it is due. Compaction clears every
    helpdesk's settled rows at once; each worker compacting the one file after its own first
    cycle took the file's write lock 500 times over during the first syncs of 500 helpdesks,
    a checkpoint each time (issue 25). A dry run's private copy is a store of its own."""

    def __init__(self, every: timedelta = COMPACT_EVERY):
        self.every = every
        self._last: dict[object, datetime] = {}  # the store's file or database -> last compacted
        self._lock = threading.Lock()

    def claim(self, store: Store, now: datetime) -> bool:
        """True (and it counts as done now) when `store`'s file or database is due for compaction
        (every worker has a connection of its own to the same one)."""
        path = getattr(store, "path", ":memory:")
        key: object = id(store) if path == ":memory:" else (type(store).__name__, path)
        with self._lock:
            last = self._last.get(key)
            if last is not None and now - last < self.every:
                return False
            self._last[key] = now
            return True


@dataclass
class Services:
    """What the workers share with the main thread; None: not running (a test's worker)."""

    metrics: Metrics | None = None
    heartbeat: Heartbeat | None = None
    notifier: Notifier | None = None
    outage: OutageLog | None = None
    # At most this many first syncs at once (FIRST_SYNCS_AT_ONCE): 300 helpdesks syncing
    # together kept 140 workers waiting on SQLite's write lock and the heap at its peak
    # (issue 25). The pool bounds the threads; this bounds the first syncs when the pool
    # runs more threads while some wait for their helpdesks (pool.py).
    first_syncs: Slots | None = None
    pool: PgPool | None = None  # PostgreSQL: the connections the replica's helpdesks share
    nudges: Nudges | None = None  # tickets named by webhooks (None: webhooks off)
    relay: Relay | None = None  # PostgreSQL: webhooks that landed on another replica (relay.py)
    compactions: Compactions = field(default_factory=Compactions)  # one schedule per store, not per helpdesk

    def cycle_ok(self, helpdesk: str, stats: CycleStats, at: datetime) -> None:
        """A helpdesk's cycle went through: the outage log, the health server and the metrics hear it."""
        if self.outage:
            self.outage.recovered(helpdesk)
        if self.heartbeat:
            self.heartbeat.helpdesk_ok(helpdesk)
        if self.metrics:
            self.metrics.cycle(helpdesk, stats.seconds, True, due=stats.due, read=stats.read, at=at)

    def cycle_failed(self, helpdesk: str, error: str, kind: str, at: datetime) -> None:
        """A helpdesk's cycle failed with `error` (already redacted)."""
        if self.outage:
            self.outage.failed(helpdesk, error, kind)
        else:
            event(log, logging.WARNING, "{helpdesk} cycle failed", error, helpdesk=helpdesk)
        if self.heartbeat:
            self.heartbeat.helpdesk_failed(helpdesk, error, refused=kind == "auth")
        if self.metrics:
            self.metrics.cycle(helpdesk, 0.0, False, due=0, read=0, at=at)


class HelpdeskWorker(Pooled):
    """Opens one helpdesk's connector, cycles it until asked to stop, and closes it.

    It runs as turns on the worker pool (pool.py): each wait (the poll interval, a backoff,
    a standby lease, a first-sync slot, the worker before a reload) is a `Park` yielded to
    it, not a thread asleep. A connector is used only once its `open()` succeeded: before
    that it has no group map or field names, and every escalation would be quarantined as
    "maps to no group" (issue 14.1). Opening is retried with backoff; the outage log says
    once that the helpdesk is down and once that it is back."""

    def __init__(self, cfg: Config, hd: HelpdeskConfig, clock: Clock, services: Services, *,
                 stop: threading.Event, once: bool = False, leases: Leases | None = None, after: Pooled | None = None):
        self.cfg, self.hd, self.clock, self.services = cfg, hd, clock, services
        self.mode = mode_for(hd)  # live or dry run, chosen once (dryrun.py)
        self.raced: Callable[[str, datetime], bool] | None = None
        self.stop_event, self.after = stop, after  # after: the worker before a reload, still finishing
        self.once = once
        self.failed = False
        self.cycles = 0
        self.last_stats: CycleStats | None = None
        self.next_wake: datetime | None = None
        self.leases = leases  # None: SQLite, this daemon alone holds the state
        self.lease: Lease | None = None  # the lease of the cycle in hand (replicas only)
        self.connector: Connector | None = None
        self.open_failures = 0  # consecutive failed opens: the backoff's exponent
        self.hold_until = 0.0  # monotonic: a Retry-After beyond the retry layer's cap ends then
        self.team_problems: list[str] = []  # teams the helpdesk cannot take (run --once exits 1)
        self.left_to_holder = False  # run --once: a running replica holds the helpdesk's lease
        self.error_since: datetime | None = None
        self.store: Store | None = None
        self.cycle: HelpdeskCycle | None = None  # the last cycle's, for tickets webhooks name between cycles
        self.cycle_interrupted = False
        self.live_store: Store | None = None
        self.inbox = Inbox(services.relay, hd.name)  # replicas: the webhooks' rows (relay.py)
        self.name = hd.name

    def turns(self) -> Turns:
        if not (yield from _after_the_last(self)):
            return
        live = yield from _open_with_backoff(self)
        if live is None:
            return
        # A dry run works on a private copy of the state, and its planned rows are copied
        # back after each cycle (dryrun.DryRun); a shadow beside a live entry on the same
        # helpdesk decides what the live side moved first (HelpdeskCycle._decide_raced).
        self.store = self.mode.state(live, self.hd, self.cfg.helpdesks)
        self.live_store = live
        self.raced = self.mode.raced(self.cfg.helpdesks, self.hd, live)
        try:
            while not self.stop_event.is_set():
                if not (yield from self._claim(live)):
                    if self.left_to_holder:
                        break
                    continue
                started = self.clock.now()
                ok = yield from self._step(self.store)
                self.mode.settle(self.store, live, self.hd.name, since=started)
                if not ok or self.once:
                    break
                yield from self._sleep(self.store)
                if self.cycle_interrupted:
                    break
        finally:
            try:
                self._drop_connector()
            finally:
                if self.store is not live:
                    self.store.close()
                live.close()

    def _step(self, store: Store) -> Generator[Park, None, bool]:
        """Open if needed, then one cycle (the first one when a first-sync slot is free). False: stop now."""
        gate = self.services.first_syncs if self.cycles == 0 else None
        if gate is not None:
            while not gate.take(self.hd.name, self._wake):
                if self.stop_event.is_set():
                    gate.leave(self.hd.name)
                    return False
                yield Park(5.0, wakeable=True)  # woken when a slot comes back; 5 s if that wake was lost
        try:
            return self._cycle(store)
        finally:
            if gate is not None:
                gate.give_back()

    def _cycle(self, store: Store) -> bool:
        self.inbox.drop()  # a batch handed out and not marked done was not acted on: read again
        try:
            sync = getattr(self.clock, "sync", None)
            if sync is not None:
                sync()  # a rehearsal clock set by hand is followed from this cycle on
            if self.connector is None:
                self.connector = self._open()
            cycle = HelpdeskCycle(self.hd, self.connector, store, notifier=self.services.notifier,
                                  metrics=self.services.metrics, mode=self.mode,
                                  should_stop=self.stop_event.is_set,
                                  # run --once does all the due work (most urgent first); the daemon
                                  # yields after a poll interval so that new changes are read.
                                  deadline=self.mode.deadline(None if self.once else self.cfg.poll_interval),
                                  journal_retention=self.cfg.journal_retention, raced=self.raced,
                                  nudged=self._take_nudged, clock=self.clock.now)
            self.cycle = cycle
            stats = cycle.run(self.clock.now())
            self._ok(stats)
            self._compact(store)
        except (Stop, Interrupted):
            return False
        except LeaseLost as exc:  # another replica holds the helpdesk now: stand by
            if self.leases is not None:
                self.leases.lost(self.hd.name, str(exc))
        except StateDatabaseError as exc:  # the database, not the helpdesk: nothing is written into it
            # QA: the status line said "ok" while every cycle failed on a full disk (logged each cycle).
            self.failed = True
            self.error_since = self.error_since or self.clock.now()
            self.services.cycle_failed(self.hd.name, redact(str(exc)), "state", self.clock.now())
        except AuthError as exc:
            self._failed(f"authentication or permission refused: {exc}", "auth")
            self._drop_connector()  # rebuild and re-authenticate next time
        except RetriableError as exc:
            if isinstance(exc, RateLimited) and exc.retry_after:
                # Not waited out inside the turn (it would hold a pool thread): parked instead,
                # for as long as the helpdesk said (_sleep), and never asked again before.
                self.hold_until = time.monotonic() + exc.retry_after
            self._failed(str(exc), "rate" if isinstance(exc, RateLimited) else "unreachable")  # QA: not unreachable
        except Exception as exc:  # keep the daemon alive; log the cause once per outage
            self._failed(_said(exc), "error")
            event(log, logging.DEBUG, "cycle failed", exc_info=True, helpdesk=self.hd.name)
        return True

    def _open(self) -> Connector:
        """A connector whose open() succeeded, or the error (the half-open one is closed)."""
        from tierlift.service.daemon.connect import WriteGuard, make_connector

        guard = None
        if self.leases is not None:  # every write checks the lease left; requests end within it
            timeout = self.leases.request_timeout
            guard = WriteGuard(write_guard(self._lease_left, timeout), timeout)
        connector = make_connector(self.hd, self.services.metrics, guard=guard)
        try:
            connector.open()
            problems = connector.check_teams(self.hd.policy.teams)
        except BaseException:
            self.open_failures += 1
            _close_quietly(connector)
            raise
        self.open_failures = 0
        if problems != self.team_problems:
            for problem in problems:
                event(log, logging.ERROR, "{helpdesk} team not mapped", f"{problem}: escalations to it are quarantined"
                      " until the mapping is fixed (tierlift check shows it)", helpdesk=self.hd.name)
        self.team_problems = problems
        return connector

    def _drop_connector(self) -> None:
        connector, self.connector = self.connector, None
        if connector is not None:
            _close_quietly(connector)

    def _claim(self, store: Store) -> Generator[Park, None, bool]:
        """With replicas: hold the helpdesk's lease before a cycle, else stand by a while."""
        if self.leases is None:
            return True
        claimed = True
        try:
            lease = self.leases.claim(self.hd.name)
        except StateDatabaseError as exc:
            self.leases.outage.failed(redact(str(exc)), f"claiming the lease of {self.hd.name}", self.leases.ttl)
            lease, claimed = None, False
        self.lease = lease
        store.set_fence(lease.fence() if lease else None, self.hd.name)
        _announce_claim(self.services, self.hd.name, lease, claimed)
        self.inbox.claimed(lease.epoch if lease else None)
        if lease is None and self.once and claimed and not self.leases.settling:
            # A running replica holds it: a one-shot run leaves it to that replica, and ends.
            event(log, logging.INFO, "{helpdesk} is held by a running replica: left to it by this run",
                  helpdesk=self.hd.name)
            self.left_to_holder = True
            return False
        if lease is None:
            if self.services.nudges is not None:
                self.services.nudges.discard(self.hd.name)  # replicas: the rows wait for the holder (relay.py)
            yield Park(min(self.cfg.poll_interval.total_seconds(), self.leases.ttl / 3))
            return False
        return True

    def _lease_left(self) -> float:
        lease = self.lease
        held = self.leases is not None and self.hd.name in self.leases.held
        return lease.remaining() if lease is not None and held else -1.0

    def _compact(self, store: Store) -> None:
        """Keep the state file bounded: settled journal entries older than the retention go."""
        now = self.clock.now()
        if not self.services.compactions.claim(store, now):
            return
        removed = store.compact(older_than=now - self.cfg.journal_retention)
        if removed:
            event(log, logging.INFO, "compacted", helpdesk=self.hd.name, rows=removed)

    def _ok(self, stats: CycleStats) -> None:
        if (self.error_since is not None or self.cycles == 0) and self.store is not None:
            self.store.set_helpdesk_status(self.hd.name, last_error="")  # also an error an earlier run left
        self.cycles += 1
        self.last_stats = stats
        self.error_since = None
        self.services.cycle_ok(self.hd.name, stats, self.clock.now())
        event(log, logging.DEBUG, "cycle", helpdesk=self.hd.name, read=stats.read, due=stats.due,
              escalations=stats.escalations, planned=stats.planned, quarantined=stats.quarantined,
              seconds=round(stats.seconds, 3))

    def _failed(self, error: str, kind: str = "unreachable") -> None:
        self.failed = True
        error = redact(error)
        # `tierlift status` shows the error and since when (the first failure of this outage).
        self.error_since = self.error_since or _outage_began(self.store, self.hd.name) or self.clock.now()
        if self.store is not None:
            try:
                self.store.set_helpdesk_status(self.hd.name, last_error=error, error_at=self.error_since)
            except Exception as exc:  # the state's own trouble is reported, never hides the helpdesk's
                event(log, logging.ERROR, "{helpdesk} cannot record its error in the state", str(exc), helpdesk=self.hd.name)
        self.services.cycle_failed(self.hd.name, error, kind, self.clock.now())

    def _sleep(self, store: Store) -> Turns:
        held = self.hold_until - time.monotonic()
        if held > 0:  # the helpdesk said when to come back: nothing is asked of it before
            yield Park(held)
            return
        wait = self.cfg.poll_interval.total_seconds()
        if self.connector is None and self.open_failures:
            # Not open: back off (1, 2, 4 ... s with jitter, at most OPEN_BACKOFF_CAP).
            cap = backoff(self.open_failures, base=1.0, cap=OPEN_BACKOFF_CAP)
            yield from self._wait(random.uniform(cap / 2, cap))
            return
        if self.last_stats is not None and self.last_stats.capped:
            # The reply cap bound: the rest are due now, but wait a whole poll interval.
            yield from self._wait(wait)
            return
        try:
            nxt = store.next_wake_up(self.hd.name)
        except StateDatabaseError:
            nxt = None  # reported by the cycle; wait the poll interval and try again
        self.next_wake = nxt
        if nxt is not None:
            wait = min(wait, self.clock.seconds_until(nxt))
        yield from self._wait(max(wait, 0.02))

    def _wait(self, seconds: float) -> Turns:
        """Wait for the next cycle; tickets that webhooks name meanwhile are acted on at once."""
        nudges = self.services.nudges
        if nudges is None or self.once:
            yield Park(seconds)
            return
        until = time.monotonic() + seconds
        while not self.stop_event.is_set():
            left = until - time.monotonic()
            if left <= 0:
                return
            if not nudges.pending(self.hd.name):
                yield Park(left, wakeable=True)  # Nudges' listener wakes it (Daemon._start_workers)
                continue
            gap = nudges.ready_in(self.hd.name)
            if gap > 0:  # a storm: gather what else arrives, then read it in one batch
                yield Park(min(gap, left))
                continue
            if not self._act_on_nudged():
                yield Park(0.05)  # taken within the gap or not, do not spin on the set event

    def _take_nudged(self) -> list[str]:
        """Tickets webhooks named (None of them while another replica holds the helpdesk); with
        replicas, from the rows every replica writes (relay.Inbox marks them done after acting)."""
        nudges = self.services.nudges
        if nudges is None or (self.leases is not None and self.lease is None):
            return []
        return nudges.take(self.hd.name) if self.inbox.relay is None or self.live_store is None else \
            self.inbox.take(self.live_store)

    def _act_on_nudged(self) -> bool:
        """Between cycles: read, decide and write the tickets webhooks named, as the poll would.
        False: not open yet (the tickets are dropped: the first cycle reads every change)."""
        cycle, store = self.cycle, self.store
        if cycle is None or self.connector is None or store is None:
            if self.services.nudges is not None:
                self.services.nudges.take(self.hd.name)
            return False
        started = self.clock.now()
        self.inbox.drop()
        try:
            cycle.act_on_nudged(self.clock.now())
        except (Stop, Interrupted):
            self.cycle_interrupted = True
            return True
        except LeaseLost as exc:
            if self.leases is not None:
                self.leases.lost(self.hd.name, str(exc))
        except Exception as exc:  # the poll is the safety net: it reads the same change
            event(log, logging.WARNING, "{helpdesk} webhook work failed", redact(f"{exc.__class__.__name__}: {exc}"),
                  helpdesk=self.hd.name)
        if self.live_store is not None:
            self.mode.settle(store, self.live_store, self.hd.name, since=started)
        return True


class Daemon:
    """The main thread: workers, health, systemd, reload. `metrics` (and its Prometheus
    registry) comes from the caller; a daemon without one builds a private registry."""

    def __init__(self, config_path: Path, *, overrides: Mapping[str, object] | None = None, once: bool = False,
                 clock: Clock | None = None, metrics: Metrics | None = None, systemd: SystemdNotifier | None = None):
        self.config_path = config_path
        self.overrides = dict(overrides or {})  # top-level keys the command line sets (run --dry-run)
        self.once = once
        self.config = load_config(config_path, overrides=self.overrides)
        self.clock = clock or make_clock(self.config)
        self.stop_event = threading.Event()
        self.reload_requested = threading.Event()
        self.workers: list[HelpdeskWorker] = []
        self.worker_stop = threading.Event()
        self.pool: WorkerPool | None = None
        self.services = Services()
        self.metrics = metrics
        self.health: HealthServer | None = None
        self.hooks: HealthServer | None = None  # webhooks on a port of their own (webhooks.listen)
        self.receiver: Receiver | None = None
        self.probe: StateProbe | None = None
        self.front = False  # the probes answered by a process of their own (ops/front.py): run() sets it
        self.systemd = systemd or SystemdNotifier()
        self.lock: FileLock | None = None
        self.leases: Leases | None = None
        self._told_older = False  # the wait for an older release's replicas was logged

    # --- lifecycle ----------------------------------------------------------------
    def start(self) -> None:
        from tierlift.service.ops.health import HealthServer, Heartbeat, StateProbe
        from tierlift.service.ops.metrics import Metrics

        heartbeat, metrics = Heartbeat(), self.metrics or Metrics()
        self.services = Services(metrics, heartbeat, _notifier(self.config, self.clock.now),
                                 OutageLog(log, once=self.once), Slots(FIRST_SYNCS_AT_ONCE))
        self.receiver = self._receiver(metrics)
        if not self.config.state_url:  # a second daemon on the file hears of the first, not of its port (QA)
            self._open_state()
        if self.config.http_listen and not self.once:
            # Up before the state opens: while a database is waited for, /healthz answers
            # (the process is alive) and /readyz says why it is not ready.
            own_port = self.config.webhooks_listen is not None
            self.probe = StateProbe(state_check(self.config))
            self.health = HealthServer(self.config.http_listen, heartbeat, metrics,
                                       state_open=lambda: True, helpdesks=[h.name for h in self.config.helpdesks],
                                       stale_after=max(120.0, 4 * self.config.poll_interval.total_seconds()),
                                       receiver=None if own_port else self.receiver, state_probe=self.probe,
                                       front=self.front)
            self._listen(self.health, "http.listen", "health and metrics on")
            self.probe.start()
        if self.config.webhooks_listen and self.receiver is not None and not self.once:
            self.hooks = HealthServer(self.config.webhooks_listen, heartbeat, metrics, state_open=lambda: True,
                                      helpdesks=[], receiver=self.receiver, probes=False)
            self._listen(self.hooks, "webhooks.listen", "webhooks on")
        if self.config.state_url:
            self._open_state()
        if self.stop_event.is_set():
            return  # stopped while waiting for the database
        self._start_workers()
        event(log, logging.INFO, "started", helpdesks=",".join(h.name for h in self.config.helpdesks),
              mode=run_label(self.config),
              poll_interval=f"{int(self.config.poll_interval.total_seconds())}s", state=describe(self.config))
        self.systemd.ready(status_line(self.workers))

    def _receiver(self, metrics: Metrics) -> Receiver | None:
        """The webhook receiver when a helpdesk has a webhook secret (None: webhooks off)."""
        from tierlift.service.ops.webhooks import Endpoint, Receiver

        endpoints = {h.name: Endpoint(h.name, h.kind, h.webhook_secret) for h in self.config.helpdesks
                     if h.webhook_secret is not None}
        if not endpoints or self.once:
            return None
        nudges = self.services.nudges = Nudges(endpoints)
        if not self.config.http_listen and not self.config.webhooks_listen:
            event(log, logging.WARNING, "webhooks are not served", "a helpdesk has webhook_secret but neither"
                  " http.listen nor webhooks.listen is set; polling alone finds changes")
        if self.config.state_url:  # replicas: a webhook for a helpdesk held elsewhere goes to its holder
            relay = self.services.relay = Relay(self.config, nudges, metrics=metrics)
            return Receiver(endpoints, relay.route, now=self.clock.now, metrics=metrics)
        return Receiver(endpoints, lambda helpdesk, ticket, _key: nudges.add(helpdesk, ticket), now=self.clock.now,
                        metrics=metrics)

    def _listen(self, server: HealthServer, key: str, what: str) -> None:
        try:
            server.start()
        except OSError as exc:  # port taken, address not on this host: refused like bad config
            raise _listen_refused(self.config, key, server.bind, exc) from None
        event(log, logging.INFO, what, url=f"http://{_url_host(server.address)}")

    def _open_state(self) -> None:
        """Open (and migrate) the state once in the main thread: a bad, damaged or locked
        state refuses the start before anything else happens."""
        if self.config.state_url:
            if self._wait_for_database():
                leases = self.leases = Leases(self.config, [h.name for h in self.config.helpdesks],
                                              standing=not self.once)
                self.services.pool = _pool_beside(leases, self.config)
                if self.services.relay is not None:
                    self.services.relay.start(lambda helpdesk: helpdesk in leases.held, leases.holder)
            return
        self.lock = FileLock(self.config.state_path)
        self.lock.acquire()
        announce_migration(self.config)
        store = open_store(self.config, now=self.clock.now)
        try:
            if isinstance(store, SqliteStore):
                store.check_integrity()
        finally:
            store.close()

    def _wait_for_database(self) -> bool:
        """Open (and migrate) the database, waiting with backoff while it does not answer
        (down, restarting, too many clients): a database that starts after us is no bad
        configuration, which alone exits 2. False: stopped while waiting. `run --once` waits
        ONCE_STATE_WAIT at most, then raises StateNotReached; the daemon waits as long as it takes."""
        failures = 0
        give_up = time.monotonic() + ONCE_STATE_WAIT if self.once else None
        while True:
            try:
                wait = self._wait_for_older_replicas()
                if not wait:
                    open_store(self.config, now=self.clock.now).close()  # migrates under the database's global lock
                    if failures:
                        event(log, logging.INFO, "state database answering", attempts=failures + 1)
                    return True
            except StateUnreachable as exc:
                failures += 1
                wait = backoff(failures, base=1.0, cap=STATE_WAIT_CAP)
                if give_up is not None:
                    wait = _once_wait(wait, give_up, failures, exc)
                event(log, logging.WARNING, "waiting for the state database", redact(str(exc)), attempt=failures,
                      retry_in=f"{wait:.0f}s")
                self.systemd.status(f"waiting for the state database (attempt {failures})")
            deadline = time.monotonic() + wait
            while time.monotonic() < deadline:  # the heartbeat goes on: alive, only not ready
                if self.services.heartbeat is not None:
                    self.services.heartbeat.beat()
                if self.stop_event.wait(min(1.0, max(0.0, deadline - time.monotonic()))):
                    return False

    def _wait_for_older_replicas(self) -> float:
        """Seconds to wait before migrating: replicas of an older tierlift still run on the
        database (a rolling update), and its schema is theirs until they stop. Meanwhile this
        replica stands by, ready, so that the rollout goes on and stops them; 0: none."""
        older = older_replicas(self.config)
        if older is None:
            if self._told_older:
                event(log, logging.INFO, "the older replicas stopped: migrating the state schema")
            return 0.0
        schema, live = older
        if self.once:  # a timer's run does not stand by: it would never end while they run
            raise StateNotReached(f"the state database answered, but {live} replica(s) of an older tierlift still run"
                                  f" on it (schema {schema}); this release migrates it once they stop: nothing was"
                                  " read or written, the next run tries again")
        if not self._told_older:
            event(log, logging.WARNING, "waiting for replicas of an older tierlift to stop before migrating the"
                  " state schema", schema=f"{schema} -> {SCHEMA_VERSION}", live_replicas=live)
            self._told_older = True
        self.systemd.status(f"standing by: {live} older replica(s) still run on schema {schema}")
        if self.services.heartbeat is not None:
            for hd in self.config.helpdesks:
                self.services.heartbeat.standing_by(hd.name)
        return OLDER_REPLICAS_POLL

    def _start_workers(self, carried: Mapping[str, HelpdeskWorker] = MappingProxyType({})) -> None:
        """A worker per entry, on the running pool; `carried`: the workers a reload left running."""
        # A helpdesk's Retry-After outlives a reload: new workers started with none and asked
        # the helpdesk again seconds after a SIGHUP, inside a 120 s hold it had asked for.
        holds = {w.hd.name: w.hold_until for w in self.workers}
        finishing = _finishing([w for w in self.workers if w.hd.name not in carried])  # a reload's grace ran out
        if self.pool is None or self.worker_stop.is_set():
            self.worker_stop = threading.Event()
            self.pool = WorkerPool(self.worker_stop)
        pool = self.pool
        if self.services.nudges is not None:
            self.services.nudges.listener = pool.wake  # a named ticket resumes its helpdesk's wait
        self.workers = [carried.get(hd.name) or HelpdeskWorker(
            self.config, hd, self.clock, self.services, stop=WorkerStop(self.worker_stop), once=self.once,
            leases=self.leases, after=finishing.get(hd.name)) for hd in self.config.helpdesks]
        for w in self.workers:
            w.cfg = self.config
            if w.hd.name not in carried:
                w.hold_until = holds.get(w.hd.name, 0.0)
                w.start(pool)

    def _stop_workers(self, timeout: float) -> bool:
        self.worker_stop.set()
        if self.pool is not None:
            self.pool.stop()
        deadline = time.monotonic() + timeout
        for w in self.workers:
            w.join(max(0.0, deadline - time.monotonic()))
        return not any(w.is_alive() for w in self.workers)

    def serve(self) -> int:
        """The main loop: heartbeat, watchdog, reload, until a stop signal."""
        watchdog = self.systemd.watchdog_interval()
        beat_every = min(5.0, (watchdog / 2) if watchdog else 5.0)
        last_status = 0.0
        while not self.stop_event.is_set():
            if self.once:
                if all(not w.is_alive() for w in self.workers):
                    break
            alive = all(w.is_alive() for w in self.workers) or self.once
            if alive:
                if self.services.heartbeat is not None:
                    self.services.heartbeat.beat()
                self.systemd.watchdog()
            if self.reload_requested.is_set():
                self.reload_requested.clear()
                self._reload()
            if time.monotonic() - last_status > 30:
                self.systemd.status(status_line(self.workers))
                last_status = time.monotonic()
            self.stop_event.wait(min(beat_every, 0.2 if self.once else beat_every))
        return self.shutdown()

    def shutdown(self) -> int:
        self.systemd.stopping()
        clean = self._stop_workers(self.config.shutdown_grace.total_seconds())
        for server in (self.health, self.hooks):
            if server is not None:
                server.stop()
        if self.probe is not None:
            self.probe.stop()
        if self.services.relay is not None:
            self.services.relay.stop()  # what the outbox holds is written before the leases go
        if self.leases is not None:
            self.leases.close()
        if self.services.pool is not None:
            self.services.pool.close()
        if self.lock is not None:
            self.lock.release()
        if not clean:
            event(log, logging.WARNING, "a helpdesk worker did not stop in time",
                  "state is consistent (its transaction rolls back)")
        event(log, logging.INFO, "stopped")
        if self.once and any(w.failed or w.team_problems or w.crashed for w in self.workers):
            # cron and systemd timers see the exit code only: a team that maps to
            # no group is a failure to escalate, not a success (issue 14.12).
            return 1
        return 0

    def _reload(self) -> None:
        known = snapshot()
        try:
            new = load_config(self.config_path, overrides=self.overrides)
            moved = _state_moved(self.config, new)
            if moved:  # the running daemon holds the old file's lock: a second daemon could take it
                raise StateError(f"{moved} changed: the daemon keeps its state where it started; restart it"
                                 " to use another state")
            open_store(new, now=self.clock.now).close()
        except (InvalidFile, StateError) as exc:
            _tell_refused(exc, known)
            self._reloaded(ok=False)
            return
        event(log, logging.INFO, "reloading configuration", path=str(self.config_path))
        kept = _restart_only(self.config, new)
        if kept:
            event(log, logging.WARNING, "reload leaves these as they were", f"{', '.join(kept)} take a restart")
        carried = _stop_changed(self, new)
        removed = {h.name for h in self.config.helpdesks} - {h.name for h in new.helpdesks}
        changes = _reload_changes(self.config, new)
        self.config = new
        if self.leases is not None:
            self.leases.serve([h.name for h in new.helpdesks])
        self.services.notifier = _notifier(new, self.clock.now)
        _serve_webhooks(self.receiver, new, once=self.once)
        if self.health is not None and self.health.probes is not None:
            self.health.probes.serve_helpdesks([h.name for h in new.helpdesks])
        if self.services.metrics is not None:
            for name in removed:
                self.services.metrics.forget(name)  # its last gauges would alert for ever
        self._start_workers(carried)
        event(log, logging.INFO, "reloaded", helpdesks=",".join(h.name for h in new.helpdesks),
              added=changes["added"], removed=changes["removed"], changed=changes["changed"])
        self._reloaded(ok=True)

    def _reloaded(self, *, ok: bool) -> None:
        if self.services.metrics is not None:
            self.services.metrics.reload_ok.set(1 if ok else 0)
            self.services.metrics.reload_at.set(time.time())

    def install_signals(self) -> None:
        def stop(signum: int, _frame: object) -> None:
            event(log, logging.INFO, "received " + signal.Signals(signum).name, "finishing the ticket in hand")
            self.stop_event.set()
            self.worker_stop.set()

        signal.signal(signal.SIGTERM, stop)
        signal.signal(signal.SIGINT, stop)
        signal.signal(signal.SIGHUP, lambda *_: self.reload_requested.set())


def _state_moved(old: Config, new: Config) -> str | None:
    """The state key a reload would move, or None. A SIGHUP that moved `state.path` opened
    the new file without its lock: a second daemon on the old file was let in and wrote
    customer replies a second time."""
    if (old.state_url or None) != (new.state_url or None):
        return "state.url"
    if not old.state_url and old.state_path.resolve() != new.state_path.resolve():
        return "state.path"
    return None


def _notifier(config: Config, now: Callable[[], datetime]) -> Notifier:
    from tierlift.service.ops.notify import Notifier

    return Notifier(config.channels, now=now, attempts=NOTIFY_ATTEMPTS, timeout=NOTIFY_TIMEOUT)


def _serve_webhooks(receiver: Receiver | None, new: Config, *, once: bool) -> None:
    """The webhook endpoints a reload leaves: the receiver serves the new helpdesks' secrets
    at once; without a receiver (no helpdesk had a secret at start) the endpoint takes a restart."""
    from tierlift.service.ops.webhooks import Endpoint

    endpoints = {h.name: Endpoint(h.name, h.kind, h.webhook_secret) for h in new.helpdesks
                 if h.webhook_secret is not None}
    if receiver is None:
        if endpoints and not once:
            event(log, logging.WARNING, "reload leaves webhooks off", "no helpdesk had webhook_secret when the"
                  " daemon started, so no webhook endpoint runs: restart it to serve "
                  + ",".join(sorted(endpoints)))
        return
    changed = receiver.serve(endpoints)
    if any(changed.values()):
        said = {k: ",".join(v) or "-" for k, v in changed.items()}
        event(log, logging.INFO, "webhooks reloaded", served=",".join(sorted(endpoints)) or "-", added=said["added"],
              removed=said["removed"], secret_changed=said["secret changed"])


def _restart_only(old: Config, new: Config) -> list[str]:
    """Keys a reload does not apply (the listening sockets, the logging set up at start):
    they were changed silently, the log said "reloaded". `new` keeps the running values, so
    a later reload compares with what runs (QA: putting the port back still said "take a
    restart", against the value the reload before had not applied)."""
    keys = (("http.listen", "http_listen"), ("webhooks.listen", "webhooks_listen"), ("log.format", "log_format"),
            ("log.level", "log_level"))
    kept = [(key, attr) for key, attr in keys if getattr(old, attr) != getattr(new, attr)]
    for _key, attr in kept:
        setattr(new, attr, getattr(old, attr))
    return [key for key, _attr in kept]


def _announce_claim(services: Services, helpdesk: str, lease: Lease | None, claimed: bool) -> None:
    """What a claim's outcome tells /readyz (the heartbeat's role) and the lease-holder metric."""
    if lease is None and claimed and services.outage is not None:
        services.outage.forget(helpdesk)
    if services.heartbeat:
        if lease is None and claimed:
            services.heartbeat.standing_by(helpdesk)
        else:
            services.heartbeat.set_role(helpdesk, "holder" if lease else "standby")
    if services.metrics:
        services.metrics.lease_holder.labels(helpdesk=helpdesk).set(1 if lease else 0)


def _once_wait(wait: float, give_up: float, failures: int, exc: StateUnreachable) -> float:
    """`run --once`: the wait before the next attempt, the last one at `give_up`; past it,
    StateNotReached with the database (no password) and the last error."""
    left = give_up - time.monotonic()
    if left <= 0:
        raise StateNotReached(f"the state database did not answer: gave up after {failures} attempts in {ONCE_STATE_WAIT:.0f}s ({redact(str(exc))});"
                              " nothing was read or written, the next run tries again") from None
    return min(wait, left)


def setup_logging_for(cfg: Config | None, log_format: str | None, verbose: bool) -> None:
    from tierlift.service.ops.logs import setup_logging

    fmt = log_format or (cfg.log_format if cfg else "text")
    level = "DEBUG" if verbose else (cfg.log_level if cfg else "INFO")
    setup_logging(fmt, level)


def run(config_path: Path, *, once: bool = False, overrides: Mapping[str, object] | None = None,
        log_format: str | None = None, verbose: bool = False, early_stop: list[int] | None = None) -> int:
    """`early_stop`: signals received before this could install its handlers (see cli.cmd_run);
    `overrides`: top-level configuration keys the command line sets (config.load_config)."""
    from prometheus_client import CollectorRegistry

    from tierlift.service.ops.metrics import Metrics

    setup_logging_for(None, log_format, verbose)
    sys.setswitchinterval(SWITCH_INTERVAL)  # the daemon's process only: the probes answer while it works
    gc.set_threshold(YOUNG_OBJECTS, *gc.get_threshold()[1:])
    set_computing(COMPUTING)  # the connectors' page mapping takes turns with the decisions (gate.py)
    failpoints.configure(os.environ)  # the crash suites' kill points, read once at the start
    daemon = Daemon(config_path, overrides=overrides, once=once, metrics=Metrics(CollectorRegistry(auto_describe=True)),
                    systemd=SystemdNotifier(os.environ))
    # What start-up made (modules, the configuration, the policies) lives as long as the
    # process: frozen out of the interpreter's full collections, which stop every thread while
    # they walk the heap (docs/performance.md, "Health answers"). Here, with the other settings
    # of the daemon's own process, not in Daemon.start, which tests also call in theirs.
    gc.collect()
    gc.freeze()
    daemon.front = True  # /healthz and /readyz answered off this interpreter (ops/front.py)
    setup_logging_for(daemon.config, log_format, verbose)
    try:
        daemon.install_signals()
        stops = [s for s in early_stop or () if s != signal.SIGHUP]
        if stops:
            event(log, logging.INFO, "received " + signal.Signals(stops[0]).name + " while starting",
                  "stopped before starting")
            return 0
        if early_stop:  # a SIGHUP while starting: the files are read again once it runs
            daemon.reload_requested.set()
        daemon.start()
    except StateError as exc:
        line = daemon.config.extra.get("state_line")
        where = f"{config_path}:{line}" if line else str(config_path)
        key = "state.url" if daemon.config.state_url else "state.path"
        print(f"{where}: {key}: {redact(str(exc))}", file=sys.stderr)
        return 2
    except ListenError as exc:
        daemon.shutdown()
        print(exc.problem, file=sys.stderr)
        return 2
    except StateNotReached as exc:
        daemon.shutdown()
        # Each reason says itself: replicas of an older release still running on a database that
        # answered were announced as "the state database did not answer" (QA, an SRE upgrading).
        print(f"tierlift run --once: {exc}", file=sys.stderr)
        return 1
    return daemon.serve()


def _reload_changes(old: Config, new: Config) -> dict[str, str]:
    """What a reload changed, by helpdesk name (QA, fleet: the log listed every helpdesk and
    never which were added, removed or given another policy or address)."""
    before, after = {h.name: h for h in old.helpdesks}, {h.name: h for h in new.helpdesks}
    out = {"added": sorted(after.keys() - before.keys()), "removed": sorted(before.keys() - after.keys()),
           "changed": sorted(n for n in before.keys() & after.keys() if _entry_differs(before[n], after[n]))}
    return {k: ",".join(v) or "-" for k, v in out.items()}


def _entry_differs(a: HelpdeskConfig, b: HelpdeskConfig) -> bool:
    """Every key of the entry (QA: a new reply cap or first_sync was applied under
    "changed=-"); the credentials compared here, never shown. One text parses to one Policy
    (policies.load_policy's cache): an edited policy file is another object; it said
    "changed=-" for an edit of the policy alone (QA)."""
    def what(h: HelpdeskConfig) -> tuple[object, ...]:
        secrets = (h.token.reveal(), h.webhook_secret.reveal() if h.webhook_secret else None)
        return h.kind, h.url.rstrip("/"), h.policy_ref, entry_mode(h), h.teams, h.email, h.options, secrets

    return what(a) != what(b) or a.policy is not b.policy


class WorkerStop(threading.Event):
    """A worker's stop: its own (a reload changed or removed its entry) or the daemon's
    (SIGTERM, a reload that changes what every worker reads), whichever is set first."""

    def __init__(self, daemon_stop: threading.Event):
        super().__init__()
        self.daemon_stop = daemon_stop

    def is_set(self) -> bool:
        return super().is_set() or self.daemon_stop.is_set()


def _stop_changed(d: Daemon, new: Config) -> dict[str, HelpdeskWorker]:
    """A reload stops the workers whose entry it changes or removes, waits for them up to the
    grace, and returns the others, which go on as they were: every reload restarted every
    worker, so one client's edit re-opened a replica's hundreds of helpdesks, their first
    reads and their cycles in hand (issue 25). A change to what every worker reads (the poll
    interval, the journal's retention) restarts them all, as before."""
    old = d.config
    same = (old.poll_interval, old.journal_retention) == (new.poll_interval, new.journal_retention)
    after = {h.name: h for h in new.helpdesks}
    carried = {w.hd.name: w for w in d.workers
               if same and w.is_alive() and w.after is None and (hd := after.get(w.hd.name)) is not None
               and not _entry_differs(w.hd, hd) and _beside(old, w.hd) == _beside(new, hd)}
    stopping = [w for w in d.workers if w.hd.name not in carried]
    for w in stopping:
        w.stop_event.set()
        if d.pool is not None:
            d.pool.resume(w.hd.name)  # a parked worker sees its stop now, not at its park's end
    deadline = time.monotonic() + old.shutdown_grace.total_seconds()
    for w in stopping:
        w.join(max(0.0, deadline - time.monotonic()))
    _tell_finishing(stopping)
    return carried


def _beside(cfg: Config, hd: HelpdeskConfig) -> list[tuple[str, str]]:
    """The other entries on the same helpdesk (a shadow beside a live entry reads their state)."""
    return sorted((h.name, entry_mode(h)) for h in cfg.helpdesks
                  if h.name != hd.name and h.kind == hd.kind and h.url.rstrip("/") == hd.url.rstrip("/"))


def _outage_began(store: Store | None, helpdesk: str) -> datetime | None:
    """When the outage a worker meets began, as the state recorded it before this worker (QA,
    fleet: every reload restarted the workers, and `status` said "since now" for a helpdesk
    that had been failing for minutes)."""
    try:
        status = store.helpdesk_status(helpdesk) if store is not None else None
    except Exception:  # the state's own trouble: the outage begins now, as before
        return None
    return status["error_at"] if status and status["last_error"] else None


def _same_helpdesk(w: HelpdeskWorker, live: Store) -> bool:
    """The entry's state was read from the helpdesk at its url (QA, fleet: a client moved to a
    new Zendesk under the same entry name went on from the old one's cursor, and its backlog,
    a P0 included, was never escalated; history mixed the two helpdesks' tickets)."""
    other = live.served_url(w.hd.name, w.hd.url)
    if other is None:
        return True
    said = (f"its state (cursor, ledger, index) was read from {other}, and the entry now names {w.hd.url}: a new"
            " helpdesk under an old name would go on from the other one's cursor and miss its backlog. Give the"
            " entry a new name (its first sync reads the helpdesk as it is; on the same helpdesk at a new address,"
            " the ledger is read back from tierlift's notes); this entry is not served until then")
    event(log, logging.ERROR, "{helpdesk} moved to another address", said, helpdesk=w.hd.name)
    w._failed(f"moved to another address: {said}", "config")
    live.set_helpdesk_status(w.hd.name, last_error=f"moved to another address: {said}", error_at=w.clock.now())
    return False


def _pool_beside(leases: Leases, cfg: Config) -> PgPool:
    """The replica's PostgreSQL connections, dropped when the leases see an outage end."""
    pool = pg_pool(cfg)
    leases.outage.on_answer = pool.drop_idle
    return pool


def _tell_refused(exc: Exception, known: frozenset[str]) -> None:
    """A reload refused, in one line however many problems (QA: in text format the second and
    later ones came as lines of their own, without a time or a level). Then the secrets only
    the refused file held are forgotten (`known`: those of the running configuration): kept,
    a refused short secret was masked inside every later line's words (QA, an integrator)."""
    said = redact(str(exc)).splitlines()
    event(log, logging.ERROR, "reload refused, keeping the running configuration", "; ".join(said),
          problems=len(said))
    restore(known)


def _said(exc: Exception) -> str:
    """A cycle's unexpected error for the log, status and /readyz: tierlift's own words where
    they say what is wrong (NotTheHelpdesk: a wrong url, QA), else named by its class."""
    return str(exc) if isinstance(exc, NotTheHelpdesk) else f"{exc.__class__.__name__}: {exc}"


def _not_served(w: HelpdeskWorker) -> Generator[Park, None, None]:
    """An entry that is not served until the configuration changes waits, parked, for the
    reload or the stop: a worker that ended made the main loop stop its heartbeat and the
    systemd watchdog, so one such entry had the whole daemon restarted in a loop (QA)."""
    while not (w.once or w.stop_event.is_set()):
        yield Park(60.0)


def _after_the_last(w: HelpdeskWorker) -> Generator[Park, None, bool]:
    """Wait for the helpdesk's worker before a reload, still finishing the ticket in hand, to
    end: never two cycles of one helpdesk at once. False: stopped while waiting."""
    while w.after is not None and w.after.is_alive():
        if w.stop_event.is_set():
            return False
        yield Park(0.5)
    w.after = None
    # A Retry-After carried across a reload (Daemon._start_workers) is waited out before the
    # first request: the new worker asked a helpdesk again 19 s into a 300 s hold, after a
    # reload that changed another client (QA, a multi-tenant operator).
    while (held := w.hold_until - time.monotonic()) > 0:
        if w.stop_event.is_set():
            return False
        yield Park(min(held, 60.0))
    return True


def _finishing(workers: list[HelpdeskWorker]) -> dict[str, Pooled]:
    """Per helpdesk, the worker still finishing the ticket in hand: the last one, or the one
    it was waiting for when a second reload stopped it (_after_the_last)."""
    return {w.hd.name: last for w in workers
            if (last := w if w.is_alive() else w.after) is not None and last.is_alive()}


def status_line(workers: list[HelpdeskWorker]) -> str:
    """The systemd STATUS= line: each helpdesk's state and cycles."""
    parts = []
    for w in workers:
        s = w.last_stats
        # QA (hardening): "zd: ok, 0 cycles" for 100 s while every request timed out in the
        # first cycle's retries: a helpdesk with no cycle done is not yet "ok".
        state = (f"failing since {w.error_since:%H:%M:%S} UTC" if w.error_since is not None
                 else "failing" if w.failed and s is None else "first cycle running" if s is None else "ok")
        parts.append(f"{w.hd.name}: {state}, {w.cycles} cycles" + (f", {s.escalations} escalated last" if s else ""))
    return "; ".join(parts) or "no helpdesks"


def _tell_finishing(workers: list[HelpdeskWorker]) -> None:
    """After a reload's grace: the helpdesks whose worker is still finishing the ticket in
    hand, said once; also one whose worker from an earlier reload is (its successor, stopped
    while it waited, has ended, and the new worker waits for the same one)."""
    slow = ",".join(_finishing(workers))
    if slow:
        event(log, logging.WARNING, "reload: a helpdesk worker is still finishing the ticket in hand",
              "its new worker starts when it has ended, never beside it", helpdesks=slow)


def _open_with_backoff(w: HelpdeskWorker) -> Generator[Park, None, Store | None]:
    """The state, opened with backoff until it opens or the daemon stops (None): a state
    locked or unreachable for a while is a failing helpdesk, shown in /readyz and the
    metrics, never a worker that ended (at 300 helpdesks two such workers never came
    back, issue 25). `run --once` tries once."""
    failures = 0
    while not w.stop_event.is_set():
        try:
            pool = w.services.pool  # PostgreSQL: the replica's shared connections
            store = open_store(w.cfg, now=w.clock.now, **({"pool": pool} if pool is not None else {}))
            if w.leases is not None:
                w.leases.state_opened(w.hd.name, True)
            if not _same_helpdesk(w, store):
                store.close()
                yield from _not_served(w)
                return None
            return store
        except StateError as exc:
            if w.leases is not None:  # a replica that cannot open it stops counting itself live
                w.leases.state_opened(w.hd.name, False)
            failures += 1
            event(log, logging.ERROR, "{helpdesk} cannot open state", str(exc), helpdesk=w.hd.name,
                  attempt=failures)
            w._failed(f"cannot open state: {exc}")
            if w.once:
                return None
            cap = backoff(failures, base=1.0, cap=OPEN_BACKOFF_CAP)
            yield Park(random.uniform(cap / 2, cap))
    return None
