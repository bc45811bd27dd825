"""The daemon's sense of time, passed in (STYLE.md habit 5).

In production it is the system clock. For rehearsals against the sandbox
helpdesk (`tierlift demo`, the benchmarks), it follows the sandbox's settable
clock, which may run faster than real time, so SLA thresholds are crossed in
seconds rather than hours while every other part runs unchanged.
"""

from __future__ import annotations

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
    """Follows a remote clock that started at `base` and runs `speed` times real time."""

    def __init__(self, base: datetime, speed: float, monotonic=time.monotonic):
        self.base = base
        self.speed = speed
        self._mono = monotonic
        self._t0 = monotonic()

    def now(self) -> datetime:
        return self.base + timedelta(seconds=(self._mono() - self._t0) * self.speed)

    def seconds_until(self, t: datetime) -> float:
        delta = (t - self.now()).total_seconds()
        if self.speed <= 0:
            return 3600.0 if delta > 0 else 0.0  # a frozen clock: only changes wake us
        return delta / self.speed


def sandbox_clock(url: str, session: requests.Session | None = None) -> FollowingClock:
    r = (session or requests).get(url.rstrip("/") + "/_sandbox/clock", timeout=10)
    r.raise_for_status()
    data = r.json()
    now = datetime.fromisoformat(data["now"].replace("Z", "+00:00"))
    return FollowingClock(now, float(data.get("speed", 0.0)))


def make_clock(cfg) -> Clock:
    extra = cfg.extra if hasattr(cfg, "extra") else {}
    if extra.get("clock"):
        return sandbox_clock(extra["clock"])
    if extra.get("clock_at"):  # `clock: {at: ...}`: a rehearsal's last instant, standing still
        return FollowingClock(extra["clock_at"], 0.0)
    return SystemClock()
