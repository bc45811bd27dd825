"""Tickets that verified webhooks named, waiting for their helpdesk's worker.

The receiver (ops/webhooks.py) answers on the HTTP thread and only adds an id here;
the helpdesk's worker takes the ids in its own thread and reads, decides and writes
them exactly as the poll would, under the same connector and request budget.

Invariants:
- events for one ticket coalesce: a ticket waits here once however many events name
  it, so a storm of events for 100 tickets costs about 100 ticket reads;
- bounded: past MAX_PENDING waiting tickets, new ones are dropped (the poll, the
  safety net, still reads every change) and counted;
- `wait` returns as soon as a ticket is added or `wake` is called (shutdown).
"""

from __future__ import annotations

import threading
from collections.abc import Iterable

MAX_PENDING = 10_000


class Nudges:
    def __init__(self, helpdesks: Iterable[str] = ()):
        self._lock = threading.Lock()
        self._pending: dict[str, dict[str, None]] = {}
        self._events: dict[str, threading.Event] = {}
        self.dropped: dict[str, int] = {}
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

    def take(self, helpdesk: str, limit: int = 100) -> list[str]:
        """Up to `limit` waiting tickets, in the order they first arrived."""
        event = self._slot(helpdesk)
        with self._lock:
            pending = self._pending[helpdesk]
            ids = list(pending)[:limit]
            for i in ids:
                del pending[i]
            if not pending:
                event.clear()
        return ids

    def waiting(self, helpdesk: str) -> int:
        with self._lock:
            return len(self._pending.get(helpdesk, {}))

    def wait(self, helpdesk: str, timeout: float) -> bool:
        """Until a ticket waits (True) or `timeout` seconds pass (False)."""
        return self._slot(helpdesk).wait(max(0.0, timeout))

    def wake(self) -> None:
        """Wake every waiting worker (shutdown, reload): each checks its stop flag."""
        with self._lock:
            events = list(self._events.values())
        for event in events:
            event.set()
