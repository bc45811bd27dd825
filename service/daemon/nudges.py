"""Tickets that verified webhooks named, waiting for their helpdesk's worker.

The receiver (ops/webhooks.py) answers on the HTTP thread and only adds an id here;
the helpdesk's worker takes the ids in its own thread and reads, decides and writes
them exactly as the poll would, under the same connector and request budget.

Invariants:
- events for one ticket coalesce: a ticket waits here once however many events name
  it, so a storm of events for 100 tickets costs about 100 ticket reads;
- bounded: past MAX_PENDING waiting tickets, new ones are dropped (the poll, the
  safety net, still reads every change) and counted;
- a worker takes them at most once every GAP seconds: the first event after a quiet
  spell is taken at once, and during a storm each take reads every ticket named
  since the last in one batch (a storm of a minute costs about 60 batch reads, not
  one read per event);
- `listener` is called with the helpdesk's name (the worker pool resumes that
  helpdesk's wait, pool.py) as soon as a ticket is added or the helpdesk is poked
  (replicas: a webhook that landed on another replica waits in the database,
  relay.py), and `pending` says so until the next take; a poke is taken like a
  ticket, under the same gap.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable

MAX_PENDING = 10_000
GAP = 1.0  # seconds between two takes of one helpdesk


class Nudges:
    def __init__(self, helpdesks: Iterable[str] = (), *, gap: float = GAP,
                 monotonic: Callable[[], float] = time.monotonic):
        self.gap, self.monotonic = gap, monotonic
        self._last: dict[str, float] = {}
        self._lock = threading.Lock()
        self._pending: dict[str, dict[str, None]] = {}
        self._events: dict[str, threading.Event] = {}
        self._poked: set[str] = set()
        self.dropped: dict[str, int] = {}
        self.listener: Callable[[str], None] = lambda helpdesk: None
        for name in helpdesks:
            self._slot(name)

    def _slot(self, helpdesk: str) -> threading.Event:
        with self._lock:
            self._pending.setdefault(helpdesk, {})
            self.dropped.setdefault(helpdesk, 0)
            return self._events.setdefault(helpdesk, threading.Event())

    def add(self, helpdesk: str, ticket_id: str) -> None:
        event = self._slot(helpdesk)
        with self._lock:
            pending = self._pending[helpdesk]
            if ticket_id not in pending and len(pending) >= MAX_PENDING:
                self.dropped[helpdesk] += 1
                return
            pending[ticket_id] = None
        event.set()
        self.listener(helpdesk)

    def ready_in(self, helpdesk: str) -> float:
        """Seconds until the next take of this helpdesk may read (0: now)."""
        with self._lock:
            last = self._last.get(helpdesk)
        return 0.0 if last is None else max(0.0, last + self.gap - self.monotonic())

    def poke(self, helpdesk: str) -> None:
        """Rows wait for this helpdesk in the database (relay.py): its worker looks at the next take."""
        event = self._slot(helpdesk)
        with self._lock:
            self._poked.add(helpdesk)
        event.set()
        self.listener(helpdesk)

    def take(self, helpdesk: str) -> list[str]:
        """Every waiting ticket, in the order they first arrived ([] within GAP of the last take)."""
        return self.take_all(helpdesk)[0]

    def take_all(self, helpdesk: str) -> tuple[list[str], bool]:
        """(every waiting ticket, whether the helpdesk was poked); ([], False) within GAP of the last take."""
        event = self._slot(helpdesk)
        with self._lock:
            pending = self._pending[helpdesk]
            if not pending and helpdesk not in self._poked:
                event.clear()
                return [], False
            now = self.monotonic()
            last = self._last.get(helpdesk)
            if last is not None and now - last < self.gap:
                return [], False
            self._last[helpdesk] = now
            ids = list(pending)
            pending.clear()
            poked = helpdesk in self._poked
            self._poked.discard(helpdesk)
            event.clear()
        return ids, poked

    def discard(self, helpdesk: str) -> list[str]:
        """Forget the waiting tickets and return them (a standby replica hands them to the holder)."""
        event = self._slot(helpdesk)
        with self._lock:
            ids = list(self._pending[helpdesk])
            self._pending[helpdesk].clear()
            self._poked.discard(helpdesk)
            event.clear()
        return ids

    def helpdesks(self) -> list[str]:
        with self._lock:
            return list(self._events)

    def waiting(self, helpdesk: str) -> int:
        with self._lock:
            return len(self._pending.get(helpdesk, {}))

    def pending(self, helpdesk: str) -> bool:
        """Whether a ticket or a poke waits for this helpdesk (taken or not within the gap)."""
        return self._slot(helpdesk).is_set()
