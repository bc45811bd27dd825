"""One thread computing at a time in the daemon's process, in the order they asked.

The engine's decisions (and the triage model's readings inside them), a page's
mapping to tickets and a ticket's index entry are the daemon's heaviest
computing, and under one interpreter lock two threads computing at once compute
no faster than one. Threads that all compute together make every
other thread wait longer for the interpreter: the health server's answers most
of all, which a liveness probe times (issue 25: /readyz 329-746 ms during the
first syncs of 100 and 500 helpdesks, where up to 32 pool threads decided at
once). A thread waiting here waits on a lock of its own, not for the
interpreter, so it costs the others nothing.

Invariants:
- at most `slots` threads are inside at once;
- first come, first served: a leaving thread hands its place to the longest
  waiter, so a helpdesk's urgent ticket waits behind at most one section per
  thread already waiting, never behind another helpdesk's whole tick;
- a thread inside may enter again (a section within a section) without waiting;
- nothing inside waits for anything else (the sections gated do no I/O and take
  no lock held across I/O), so the gate cannot take part in a deadlock.
"""

from __future__ import annotations

import threading
from collections import deque
from types import TracebackType


class FairGate:
    def __init__(self, slots: int = 1):
        if slots < 1:
            raise ValueError("a gate needs at least one slot")
        self._lock = threading.Lock()
        self._free = slots
        self._waiting: deque[threading.Lock] = deque()
        self._mine = threading.local()  # how deep this thread is inside
        self.waits = 0  # entries that had to wait (the tests watch it)

    def __enter__(self) -> None:
        depth = getattr(self._mine, "depth", 0)
        self._mine.depth = depth + 1
        if depth:
            return
        with self._lock:
            if self._free and not self._waiting:
                self._free -= 1
                return
            turn = threading.Lock()
            turn.acquire()
            self._waiting.append(turn)
            self.waits += 1
        turn.acquire()  # released by the thread that hands its place over

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self._mine.depth -= 1
        if self._mine.depth:
            return
        with self._lock:
            if self._waiting:
                self._waiting.popleft().release()  # the place passes on, still taken
            else:
                self._free += 1


# The daemon's process computes one section at a time (docs/performance.md, "Health answers").
COMPUTING = FairGate(1)
