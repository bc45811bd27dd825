"""Progress of a long first sync, so an operator knows the daemon is working, not stuck.

A first sync of a large helpdesk reads every ticket once (100,000 tickets is
a hundred export pages). On a terminal it shows a live counter on one line;
under systemd or in a container (no terminal) it logs a line every
`every` seconds, and always one closing line with the total and the rate.
The export announces no total, so the counter counts up; it never guesses
a percentage.
"""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Callable
from typing import TextIO

from tierlift.service.ops.logs import event

log = logging.getLogger("tierlift.cycle")


class SyncProgress:
    def __init__(self, helpdesk: str, *, stream: TextIO | None = None, tty: bool | None = None,
                 every: float = 10.0, clock: Callable[[], float] = time.monotonic):
        self.helpdesk = helpdesk
        self.stream = stream or sys.stderr
        self.tty = self.stream.isatty() if tty is None else tty
        self.every = every
        self.clock = clock
        self.started = clock()
        self.last = self.started
        self.tickets = 0
        self.pages = 0

    def page(self, tickets: int) -> None:
        self.tickets += tickets
        self.pages += 1
        now = self.clock()
        if self.tty:
            self.stream.write(f"\rfirst sync {self.helpdesk}: {self.tickets:,} tickets read, "
                              f"{self.pages} pages, {self._rate(now):,.0f}/s ")
            self.stream.flush()
        elif now - self.last >= self.every:
            self.last = now
            event(log, logging.INFO, "first sync", helpdesk=self.helpdesk, read=self.tickets, pages=self.pages,
                  rate=f"{self._rate(now):.0f}/s")

    def done(self) -> None:
        now = self.clock()
        if self.tty:
            self.stream.write("\n")
        event(log, logging.INFO, "first sync done", helpdesk=self.helpdesk, tickets=self.tickets, pages=self.pages,
              seconds=round(float(now - self.started), 1), rate=f"{self._rate(now):.0f}/s")

    def _rate(self, now: float) -> float:
        return self.tickets / max(now - self.started, 1e-6)
