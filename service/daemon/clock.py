"""The daemon's sense of time, passed in (ARCHITECTURE.md: the engine takes time as a parameter).

In production it is the system clock. For rehearsals against the sandbox
helpdesk (`tierlift demo`, the benchmarks), it follows the sandbox's settable
clock, which may run faster than real time, so SLA thresholds are crossed in
seconds rather than hours while every other part runs unchanged.
"""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta
from typing import Protocol

import requests


class Clock(Protocol):
    def now(self) -> datetime: ...

    def seconds_until(self, t: datetime) -> float:
        """Real seconds to wait until the clock shows `t`."""


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)

    def seconds_until(self, t: datetime) -> float:
        return (t - self.now()).total_seconds()


class FollowingClock:
    """Follows a remote clock that started at `base` and runs `speed` times real time.

    With a `url` it reads that clock again on `sync()` (the daemon does, before every
    cycle): a rehearsal whose sandbox clock is set by hand (`POST /_sandbox/clock`) is
    followed from the next cycle, not extrapolated from the start for ever.
    """

    # At most one read a second: the first cycle follows the read made at start, and a
    # fast poll (0.1 s in the rehearsals) does not add a round trip to every cycle.
    SYNC_EVERY = 1.0

    def __init__(self, base: datetime, speed: float, monotonic=time.monotonic, url: str | None = None,
                 session: requests.Session | None = None):
        self._mono = monotonic
        self.url = url
        self.session = session or (requests.Session() if url else None)  # keep-alive: one connection
        # One tuple, replaced whole: worker threads read it while one of them syncs.
        self._state = (base, speed, monotonic())
        self._synced = monotonic()
        self._syncing = threading.Lock()

    @property
    def base(self) -> datetime:
        return self._state[0]

    @property
    def speed(self) -> float:
        return self._state[1]

    def now(self) -> datetime:
        base, speed, t0 = self._state
        return base + timedelta(seconds=(self._mono() - t0) * speed)

    def seconds_until(self, t: datetime) -> float:
        delta = (t - self.now()).total_seconds()
        speed = self._state[1]
        if speed <= 0:
            return 3600.0 if delta > 0 else 0.0  # a frozen clock: only changes wake us
        return delta / speed

    def sync(self) -> None:
        """Read the remote clock again; when it does not answer, keep extrapolating."""
        if self.url is None or self._mono() - self._synced < self.SYNC_EVERY:
            return
        if not self._syncing.acquire(blocking=False):
            return  # another helpdesk's worker is reading it now
        try:
            base, speed = _read_clock(self.url, self.session)
        except (requests.RequestException, ValueError, KeyError):
            return
        finally:
            self._synced = self._mono()
            self._syncing.release()
        ours = self.now()
        if ours - timedelta(seconds=2 * max(speed, 1.0)) < base < ours:
            # Behind by no more than two real seconds' worth: the read's own latency on a
            # fast clock, not a clock set back by hand. Time never steps back for that.
            base = ours
        self._state = (base, speed, self._mono())


def _read_clock(url: str, session: requests.Session | None) -> tuple[datetime, float]:
    r = (session or requests).get(url.rstrip("/") + "/_sandbox/clock", timeout=10)
    r.raise_for_status()
    data = r.json()
    return datetime.fromisoformat(data["now"].replace("Z", "+00:00")), float(data.get("speed", 0.0))


def sandbox_clock(url: str, session: requests.Session | None = None) -> FollowingClock:
    base, speed = _read_clock(url, session)
    return FollowingClock(base, speed, url=url, session=session)


def make_clock(cfg) -> Clock:
    extra = cfg.extra if hasattr(cfg, "extra") else {}
    if extra.get("clock"):
        try:
            return sandbox_clock(extra["clock"])
        except (requests.RequestException, ValueError, KeyError) as exc:
            # A rehearsal whose sandbox is not running (or another port): plan and run ended in
            # a raw "ConnectionError: HTTPConnectionPool(...)" after check had said valid (QA).
            from tierlift.engine.yamlsrc import InvalidFile, Problem

            said = f"{extra['clock']} did not answer ({exc.__class__.__name__}): start the sandbox it names, or" \
                   " fix the address"
            raise InvalidFile([Problem(str(getattr(cfg, "source", "")), extra.get("clock_line"), "clock.follow",
                                       said)]) from None
    if extra.get("clock_at"):  # `clock: {at: ...}`: a rehearsal's last instant, standing still
        return FollowingClock(extra["clock_at"], 0.0)
    return SystemClock()
