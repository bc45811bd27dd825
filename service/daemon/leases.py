"""Who may work on a helpdesk: one SQLite daemon per file, or one PostgreSQL replica per helpdesk.

SQLite (``FileLock``): the daemon takes an exclusive ``flock`` on
``<state>.lock`` for its whole life and writes its pid there; a second daemon
on the same file is refused at start (exit 2) naming the holder's pid. The
kernel drops the lock with the process, so a SIGKILLed daemon leaves none.

PostgreSQL (``Leases``): each helpdesk has one lease row (store/postgres.py
explains the table, epochs and fencing). This replica:
- claims between cycles (``claim``): a lease handed over (released) only
  while it holds fewer than its share ceil(H/R), one orphaned by a dead or
  stalled holder (or handed over TTL/3 ago and left: its taker died) while it
  holds fewer than share + 1, so no replica holds more than ceil(H/R) + 1
  once each of its workers passed a cycle; a replica claims nothing in its
  first TTL/3, so replicas started together count each other first;
- hands one lease over between cycles while it holds more than its share
  (``claim`` returns None for it), so a new replica gets its share;
- a `run --once` beside the replicas (``standing=False``) is no replica: it sends
  no heartbeat, so no replica hands it a lease; it takes only leases nobody holds
  (released or orphaned), and the helpdesks a live replica holds are left to it;
- renews every held lease every ttl/3 from its own thread and connection, all of
  them in one statement, so a long cycle keeps its lease, and a renewal that fails
  drops it here at once;
- fences its helpdesk's store with (holder, epoch, write margin): intents need
  ``write_margin`` seconds of lease left, and a helpdesk request's timeout is
  bounded by ttl/3 (``request_timeout``), less than the margin: a write that
  starts under the lease finishes, or times out, before the lease can pass to
  another replica; and each write request checks that as much lease is left
  by this process's monotonic clock before it is sent and again before each
  of its socket sends (``write_guard``, given to the connector's transport
  when the service builds it), so a replica paused (SIGSTOP) in
  the middle of an escalation's writes, or between a request's headers and
  its body, sends nothing more once it runs again. A write in flight when its
  holder died is then settled by the next holder's recovery through the note
  marker. What no client-side check closes: a pause in the microseconds
  between the last check and the system call that sends the last bytes.

DESIGN note: why a lease table and not advisory locks is in store/postgres.py.
Invariants: R counts replicas whose heartbeat row is unexpired (database
time); a replica's own view of a lease's deadline is taken from the monotonic
clock BEFORE the statement that set it, so it is never later than the
database's.
"""

from __future__ import annotations

import fcntl
import logging
import math
import os
import secrets
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tierlift.service.daemon.state import Fence, LeaseLost, StateError, open_store
from tierlift.service.ops.logs import event

log = logging.getLogger("tierlift.leases")


class FileLock:
    """The exclusive lock of one daemon on its SQLite state file."""

    def __init__(self, state_path: Path):
        self.path = Path(f"{state_path}.lock")
        self.state_path = state_path
        self._fd: int | None = None

    def acquire(self) -> None:
        try:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        except OSError as exc:
            raise StateError(f"state file {self.state_path}: cannot create its lock {self.path}: {exc.strerror}") from exc
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 64, 0).decode(errors="replace").strip() or "unknown"
            os.close(fd)
            raise StateError(f"state file {self.state_path}: in use by another tierlift daemon (pid {holder});"
                             " stop it first, or give this daemon its own state.path") from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        self._fd = fd

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)  # closing drops the flock; the file stays (removing it would race)
            self._fd = None


class StateOutage:
    """The state database's outage as the leases meet it, logged once per replica when it
    begins and once when it ends, with how long it lasted (QA on replicas: a 52 s stop of
    PostgreSQL logged "cannot claim its lease" and "lease renewal failed" every 5 s per
    helpdesk). Like OutageLog (ops/logs.py), which is kept per helpdesk; this one is per
    replica, and its failures come from the workers' threads and the renewal's."""

    def __init__(self, clock: Callable[[], float] = time.monotonic):
        self.clock = clock
        self.since: float | None = None
        self._lock = threading.Lock()
        # Called when an outage ends: the replica's pooled connections (PgPool.drop_idle) all
        # date from before it, and a restarted server has ended them (QA on replicas: the
        # first transaction after "answering again" failed on one, and /readyz said 503).
        self.on_answer: Callable[[], None] | None = None

    def failed(self, error: str, during: str, ttl: float) -> None:
        with self._lock:
            first = self.since is None
            if first:
                self.since = self.clock()
        if first:
            event(log, logging.WARNING, "state database failing: leases cannot be claimed or renewed",
                  f"{error}; the leases held lapse within {ttl:g}s and their helpdesks stand by; retrying,"
                  " logged again when it answers", during=during)
        else:
            event(log, logging.DEBUG, "state database still failing", error, during=during)

    def answered(self) -> None:
        """A statement on the state database went through."""
        with self._lock:
            since, self.since = self.since, None
        if since is not None:
            if self.on_answer is not None:
                self.on_answer()
            event(log, logging.WARNING, "state database answering again", down_seconds=int(self.clock() - since))


@dataclass
class Lease:
    helpdesk: str
    holder: str
    epoch: int
    deadline: float  # time.monotonic() by which the lease is surely expired
    write_margin: float

    def remaining(self) -> float:
        """Seconds of lease left, as this process can be sure of."""
        return self.deadline - time.monotonic()

    def fence(self) -> Fence:
        return Fence(self.helpdesk, self.holder, self.epoch, self.write_margin)


class Leases:
    """This replica's leases on a shared PostgreSQL state (see the module docstring)."""

    def __init__(self, cfg: Any, helpdesks: list[str], *, connect: Any = open_store, settle: float | None = None,
                 standing: bool = True):
        self.ttl = cfg.lease_ttl.total_seconds()
        # A standing replica counts among the live ones; a `run --once` does not (a replica
        # handed it a lease, and the helpdesk waited for the one-shot run to be killed).
        self.standing = standing
        self.host, self.pid = socket.gethostname(), os.getpid()
        self.holder = f"{self.host}:{self.pid}:{secrets.token_hex(3)}"
        self.helpdesks = list(helpdesks)
        self.write_margin = self.ttl / 3 + 1.0
        self.held: dict[str, Lease] = {}
        self.live = 1
        # Whose workers opened the state, and whose could not: a replica none of whose workers
        # can open it (the database refused its pool: "too many clients") stops counting itself
        # live, or the others hand it their excess leases, which it never takes, and take them
        # back, over and over (QA hunt on replicas: 13 hand-overs a minute).
        self._opened: set[str] = set()
        self._starved: set[str] = set()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self.outage = StateOutage()
        self._store = connect(cfg)
        self._beat()
        self._settle = self.ttl / 3 if settle is None else settle
        self._started, self._counted = time.monotonic(), False
        self._thread = threading.Thread(target=self._renew_loop, name="leases", daemon=True)
        self._thread.start()

    @property
    def request_timeout(self) -> float:
        """The longest a helpdesk request may take under a lease (less than the write margin)."""
        return self.ttl / 3

    def share(self) -> int:
        return math.ceil(len(self.helpdesks) / max(1, self.live))

    def claim(self, helpdesk: str) -> Lease | None:
        """Between cycles: the lease to work under, or None (standby). Hands over an excess one."""
        with self._lock:
            lease = self.held.get(helpdesk)
            if lease is not None:
                if lease.remaining() <= self.write_margin:
                    # Hand it over rather than let it lapse: a standby need not wait for the expiry.
                    self._store.lease_release(helpdesk, self.holder, lease.epoch)
                    self._drop(helpdesk, "too little of it left (renewals failing?)")
                    return None
                if len(self.held) > self.share():
                    self._store.lease_release(helpdesk, self.holder, lease.epoch)
                    del self.held[helpdesk]
                    event(log, logging.INFO, "lease handed over", helpdesk=helpdesk, epoch=lease.epoch,
                          share=self.share(), helpdesks=len(self.helpdesks), replicas=self.live)
                    return None
                return lease
            if self.settling:
                return None  # replicas starting together see each other first (the share bound)
            if not self._counted:
                self._beat()
                self._counted = True
            n, share = len(self.held), self.share()
            if n >= share + 1:
                return None
            t0 = time.monotonic()
            got = self._store.lease_acquire(helpdesk, self.holder, self.host, self.pid, self.ttl,
                                            take_released=n < share, take_orphaned=True, grace=self.ttl / 3)
            self.outage.answered()
            if got is None:
                return None
            epoch, left = got
            lease = Lease(helpdesk, self.holder, epoch, t0 + left, self.write_margin)
            self.held[helpdesk] = lease
            event(log, logging.INFO, "lease acquired", helpdesk=helpdesk, epoch=epoch, holder=self.holder,
                  ttl=f"{self.ttl:g}s")
            return lease

    def serve(self, helpdesks: list[str]) -> None:
        """After a reload: the helpdesks this replica now serves. The lease of one it no longer
        serves is handed over at once; kept and renewed, it left that helpdesk to nobody, with
        the other replicas standing by for it."""
        with self._lock:
            self.helpdesks = list(helpdesks)
            for helpdesk in [h for h in self.held if h not in helpdesks]:
                lease = self.held.pop(helpdesk)
                try:
                    self._store.lease_release(helpdesk, self.holder, lease.epoch)
                except Exception as exc:  # the database is down: the lease lapses by its deadline
                    event(log, logging.WARNING, "could not hand the lease over", str(exc), helpdesk=helpdesk,
                          expire_within=f"{self.ttl:g}s")
                    continue
                event(log, logging.INFO, "lease handed over", "no longer in this replica's configuration",
                      helpdesk=helpdesk, epoch=lease.epoch)

    def state_opened(self, helpdesk: str, ok: bool) -> None:
        """A worker opened the state (`ok`), or could not."""
        with self._lock:
            (self._opened if ok else self._starved).add(helpdesk)
            (self._starved if ok else self._opened).discard(helpdesk)

    def _serving(self) -> bool:
        """Whether this replica can serve a helpdesk: not while every worker that tried to
        open the state failed."""
        return not self._starved or bool(self._opened)

    def lost(self, helpdesk: str, why: str) -> None:
        with self._lock:
            self._drop(helpdesk, why)

    def _drop(self, helpdesk: str, why: str) -> None:
        lease = self.held.pop(helpdesk, None)
        if lease is not None:
            event(log, logging.WARNING, "lease lost", f"{why}; standing by", helpdesk=helpdesk, epoch=lease.epoch)

    def roles(self) -> dict[str, str]:
        with self._lock:
            return {h: ("holder" if h in self.held else "standby") for h in self.helpdesks}

    def _beat(self) -> None:
        if self.standing:
            self.live = self._store.replica_beat(self.holder, self.host, self.pid, self.ttl)
            self.outage.answered()

    @property
    def settling(self) -> bool:
        """In the first TTL/3, when no lease is claimed yet (replicas count each other first)."""
        return time.monotonic() < self._started + self._settle

    def _renew_loop(self) -> None:
        while not self._stop.wait(self.ttl / 3):
            for attempt in (1, 2):  # a database restart drops the session: reconnect, renew at once
                try:
                    self._renew()
                    break
                except Exception as exc:  # the database is down: leases lapse by their deadlines
                    if attempt == 2:
                        self.outage.failed(str(exc), "renewing leases", self.ttl)

    def _renew(self) -> None:
        with self._lock:
            if self._serving():
                self._beat()
            elif self.live:  # out of the count at once, not after its last beat's TTL
                self._store.replica_gone(self.holder)
                self.live = 0
                event(log, logging.WARNING, "not counting this replica among the live ones",
                      "none of its helpdesks can open the state; it takes no lease until one can")
            t0 = time.monotonic()
            renewed = self._store.lease_renew(self.holder, {h: lease.epoch for h, lease in self.held.items()}, self.ttl)
            if self.held:  # a statement went through (none is sent for no lease)
                self.outage.answered()
            for helpdesk, lease in list(self.held.items()):
                if helpdesk in renewed:
                    lease.deadline = t0 + renewed[helpdesk]
                else:
                    self._drop(helpdesk, "expired or taken over")

    def close(self) -> None:
        """Clean stop: hand every lease over at once, so standbys need not wait for the TTL."""
        self._stop.set()
        self._thread.join(timeout=5)
        with self._lock:
            try:
                for helpdesk, lease in self.held.items():
                    self._store.lease_release(helpdesk, self.holder, lease.epoch)
                self._store.replica_gone(self.holder)
            except Exception as exc:
                event(log, logging.WARNING, "could not hand the leases over", str(exc), expire_within=f"{self.ttl:g}s")
            self.held.clear()
            self._store.close()


def write_guard(lease_left: Callable[[], float], need: float) -> Callable[[], None]:
    """The check a connector's transport runs before each helpdesk write and before each
    socket send of it (connectors/transport.py, HelpdeskAdapter): it refuses, raising
    LeaseLost, a write that would start or go on sending with under `need` seconds of
    lease left. The service gives it to the connector it builds (connect.py), with the
    request timeout capped at `need` (a write that starts under the lease ends, or times
    out, within it). So a replica paused (SIGSTOP) before or in the middle of a write
    sends nothing more of it once it runs again: a half-sent request is closed, and no
    server acts on a request whose body never came. The worker turns LeaseLost into
    standby. What is left: the microseconds between the last check and the system call.
    """
    def check() -> None:
        left = lease_left()
        if left < need:
            raise LeaseLost(f"{left:.1f}s of lease left; a helpdesk write needs {need:g}s: not sent")

    return check
