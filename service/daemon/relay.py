"""Replicas: a webhook reaches the helpdesk's lease holder whichever replica it lands on.

With the PostgreSQL store a Service sends each webhook to any replica. The one that
received it writes a row (helpdesk, delivery, ticket, received at) in the state
database and NOTIFYs the channel in the same transaction (store/postgres.py), and
only then answers 202; the holder LISTENs on a session of its own, pokes the
helpdesk's worker (nudges.py), and the worker reads the waiting rows, acts on their
tickets as on any webhook, and marks the rows done once it acted. A webhook that lands
on the holder itself takes the same way (a row first): a holder killed before it acted
loses nothing. With SQLite the one daemon takes its webhooks directly (no relay).

Invariants:
- a row is marked done only after the batch it came in was read, decided and written
  (runner.HelpdeskWorker._take_nudged): a holder that dies between the NOTIFY and the
  write leaves the row waiting, and the next holder acts on it; acting twice writes
  nothing twice (the journal's idempotency key and the note marker);
- a NOTIFY nobody heard (the holder dead, restarting, its session lost) is not lost:
  the holder looks at the rows on taking a lease, on every (re)connection of its
  listening session and at the start of every cycle;
- 202 means durable: the HTTP thread hands the row to this replica's outbox thread
  (bounded, batched) and its answer waits, off the event loop, for the commit; a
  database that does not answer within httpserver.LATER_DEADLINE gets the helpdesk a
  503 with Retry-After (it sends again; the poll reads the change meanwhile);
- one delivery that reached two replicas is one row (its key: the delivery id, or
  a digest of the signature); rows are pruned an hour after they arrived.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any

from tierlift.service.daemon.nudges import Nudges
from tierlift.service.daemon.state import nudge_listener, open_store
from tierlift.service.ops.logs import event
from tierlift.service.ops.redact import redact

log = logging.getLogger("tierlift.relay")

MAX_QUEUED = 10_000  # rows waiting for the outbox thread; past it new ones are dropped (the poll reads them)
BATCH = 500  # rows per transaction
PRUNE_AFTER = 3600.0  # seconds a row is kept (the poll has read its change long before)
PRUNE_EVERY = 60.0
LOG_EVERY = 60.0  # seconds between two log lines about the database not answering
LOOK_EVERY = 60.0  # seconds: a holder looks at its helpdesk's rows at least this often


class Relay:
    """One replica's part: forwarding (outbox) and, for the helpdesks it holds, listening."""

    def __init__(self, cfg: Any, nudges: Nudges, *, metrics: Any = None):
        self.cfg, self.nudges, self.metrics = cfg, nudges, metrics
        self.replica = "-"
        self.held: Callable[[str], bool] = lambda helpdesk: False  # until the leases exist: forward all
        self._queue: deque[tuple[str, str, str, Future[bool]]] = deque()
        self._cond = threading.Condition()
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._told: set[str] = set()  # helpdesks whose forwarding was logged
        self._complained = 0.0
        self.forwarded, self.consumed, self.dropped = 0, 0, 0

    # --- the receiving side ------------------------------------------------------------------
    def route(self, helpdesk: str, ticket: str, delivery: str) -> Future[bool]:
        """A verified webhook, for the holder: a future, True once its row is committed (False: dropped)."""
        durable: Future[bool] = Future()
        with self._cond:
            if len(self._queue) >= MAX_QUEUED:
                self.dropped += 1
                self._count(helpdesk, "dropped")
                durable.set_result(False)
                return durable
            self._queue.append((helpdesk, delivery, ticket, durable))
            self._cond.notify()
        if helpdesk not in self._told and not self.held(helpdesk):
            self._told.add(helpdesk)
            # Not "another replica holds it": a lone replica whose lease lapsed (a stalled database)
            # forwards too, to whichever replica takes the lease next, itself included.
            event(log, logging.INFO, "{helpdesk} webhooks forwarded to the lease holder", "this replica does not"
                  " hold the helpdesk's lease now (another replica holds it, or it lapsed and is not taken again"
                  " yet): its webhooks received here wait as rows in the state database for the holder to act on"
                  " (logged once; /metrics counts them)", helpdesk=helpdesk)
        return durable

    # --- the holder's side (its worker's thread, its store) -------------------------------------
    def waiting(self, store: Any, helpdesk: str) -> list[tuple[str, str]]:
        """(delivery, ticket) of the rows waiting for this helpdesk."""
        return list(store.nudges_waiting(helpdesk))

    def done(self, store: Any, helpdesk: str, deliveries: list[str]) -> None:
        n = store.nudges_done(helpdesk, deliveries)
        self.consumed += n
        self._count(helpdesk, "consumed", n)

    # --- threads ---------------------------------------------------------------------------------
    def start(self, held: Callable[[str], bool], replica: str) -> None:
        self.held, self.replica = held, replica
        for name, target in (("relay-outbox", self._outbox), ("relay-listen", self._listen)):
            t = threading.Thread(target=target, name=name, daemon=True)
            t.start()
            self._threads.append(t)

    def stop(self, timeout: float = 5.0) -> None:
        """Write what is queued (within `timeout`), then end both threads."""
        self._stop.set()
        with self._cond:
            self._cond.notify_all()
        deadline = time.monotonic() + timeout
        for t in self._threads:
            t.join(max(0.0, deadline - time.monotonic()))

    def _outbox(self) -> None:
        store = None
        pruned = time.monotonic()
        while True:
            with self._cond:
                if not self._queue and not self._stop.is_set():
                    self._cond.wait(timeout=PRUNE_EVERY)
                rows = [self._queue.popleft() for _ in range(min(BATCH, len(self._queue)))]
                if not rows and self._stop.is_set():
                    break
            try:
                store = store or open_store(self.cfg)
                if rows:
                    self._write(store, rows)
                if time.monotonic() - pruned >= PRUNE_EVERY:
                    pruned = time.monotonic()
                    store.nudges_prune(PRUNE_AFTER)
            except Exception as exc:  # the database, or a bug: this thread must go on (else every webhook 503s)
                with self._cond:
                    self._queue.extendleft(reversed(rows))  # kept, in order, for the next attempt
                self._complain(exc)
                if self._stop.wait(1.0):
                    break
        if store is not None:
            store.close()

    def _write(self, store: Any, rows: list[tuple[str, str, str, Future[bool]]]) -> None:
        new = store.nudges_forward([r[:3] for r in rows], self.replica)
        for (helpdesk, _, _, durable), fresh in zip(rows, new, strict=True):
            # duplicate: a delivery another replica (or an earlier attempt) already wrote
            self._count(helpdesk, "forwarded" if fresh else "duplicate")
            if not durable.done():
                durable.set_result(True)
        self.forwarded += sum(new)

    def _listen(self) -> None:
        listener = nudge_listener(self.cfg)
        try:
            while not self._stop.is_set():
                try:
                    named = listener.wait(1.0)
                except Exception as exc:  # lost session (StateError) or a bug: reconnect and go on
                    self._complain(exc)
                    self._stop.wait(1.0)
                    continue
                if named is None:  # (re)connected: what was sent meanwhile is in the rows
                    named = self.nudges.helpdesks()
                for helpdesk in named:
                    if self.held(helpdesk):
                        self.nudges.poke(helpdesk)
        finally:
            listener.close()

    def _complain(self, exc: Exception) -> None:
        now = time.monotonic()
        if now - self._complained >= LOG_EVERY:
            self._complained = now
            event(log, logging.WARNING, "webhooks cannot reach the lease holder for now", redact(str(exc)) +
                  "; kept and retried (the poll reads the same changes)")

    def _count(self, helpdesk: str, result: str, n: int = 1) -> None:
        if self.metrics is not None and n:
            self.metrics.nudges.labels(helpdesk, result).inc(n)


class Inbox:
    """One holder worker's side of the rows for its helpdesk: the batch in hand and when it last looked.

    The cycle asks for tickets again only once the batch it was given was acted on, so
    `take` first marks the rows of the previous batch done; a batch handed out when the
    cycle failed or stopped is forgotten (`drop`) without marking, and read again. Without a
    relay (SQLite, webhooks off) it holds nothing.
    """

    def __init__(self, relay: Relay | None, helpdesk: str):
        self.relay, self.helpdesk = relay, helpdesk
        self.keys: list[str] = []  # the rows of the batch in hand
        self.looked = -LOOK_EVERY  # time.monotonic() of the last look at the rows
        self.epoch: int | None = None  # of the lease this worker held at its last claim

    def drop(self) -> None:
        self.keys = []

    def claimed(self, epoch: int | None) -> None:
        """The lease's epoch after a claim (None: standby). On a lease newly taken, look at the rows
        at once: webhooks sent while another replica held the helpdesk (or none did) wait there."""
        if epoch is not None and epoch != self.epoch:
            self.looked = -LOOK_EVERY
        self.epoch = epoch

    def take(self, store: Any) -> list[str]:
        assert self.relay is not None
        if self.keys:
            done, self.keys = self.keys, []
            self.relay.done(store, self.helpdesk, done)
        ids, poked = self.relay.nudges.take_all(self.helpdesk)
        if poked or time.monotonic() - self.looked >= LOOK_EVERY:
            self.looked = time.monotonic()
            rows = self.relay.waiting(store, self.helpdesk)
            self.keys = [key for key, _ in rows]
            ids = list(dict.fromkeys(ids + [ticket for _, ticket in rows]))
        return ids
