"""The sandbox's faults and rate limits: what goes wrong on purpose, and when.

Fault spec: comma-separated KIND:RATE[@ARG], e.g. `429:0.1@2s,500:0.05,drop:0.02,
drop_after:0.02,latency:0.2@150ms,409:0.1` (server.py's docstring says what each does).

Invariants:
- one seeded random generator draws every fault, in a fixed order per request
  (late, then latency, then 429, 500, 502, 503, drop, drop_after, 409), so a
  seed replays the same faults for the same requests;
- a scripted fault (script()) comes before any random one; a scripted `late`
  waits for the next write that shows the customer a comment (reads pass);
- 409 applies to safe updates only; drop_after on a read is a drop;
- `injected` counts every fault served (latency aside), by kind.
"""

from __future__ import annotations

import random
import threading
import time
from collections import Counter, deque
from dataclasses import dataclass, field

KINDS = ("429", "500", "502", "503", "drop", "drop_after", "latency", "409", "late")
RANDOM_ORDER = ("429", "500", "502", "503", "drop", "drop_after", "409")
Draw = tuple[str | None, float]  # (the fault, None: serve it; the added latency in seconds)


@dataclass
class FaultSpec:
    rates: dict[str, float] = field(default_factory=dict)
    args: dict[str, float] = field(default_factory=dict)  # 429: Retry-After seconds; latency: seconds
    seed: int = 0

    @classmethod
    def parse(cls, spec: str, seed: int = 0) -> FaultSpec:
        out = cls(seed=seed)
        for part in (p.strip() for p in (spec or "").split(",") if p.strip()):
            kind, _, rest = part.partition(":")
            rate_s, _, arg = rest.partition("@")
            out.rates[kind] = _rate(kind, rate_s)
            if arg:
                out.args[kind] = float(arg[:-2]) / 1000 if arg.endswith("ms") else float(arg.rstrip("s"))
        return out


def _rate(kind: str, text: str) -> float:
    if kind not in KINDS:
        raise ValueError(f"unknown fault '{kind}' (expected one of {', '.join(KINDS)})")
    try:
        rate = float(text)
    except ValueError:
        raise ValueError(f"fault '{kind}': expected a rate such as 0.1, got '{text}'") from None
    if not 0 <= rate <= 1:
        raise ValueError(f"fault '{kind}': the rate must be between 0 and 1")
    return rate


class Faults:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.spec = FaultSpec()
        self.rng = random.Random(0)
        self.queue: deque[str] = deque()
        self.injected: Counter[str] = Counter()

    def set(self, spec: FaultSpec) -> None:
        with self.lock:
            self.spec = spec
            self.rng = random.Random(spec.seed)

    def script(self, kinds: list[str]) -> None:
        with self.lock:
            for k in kinds:
                if k not in KINDS:
                    raise ValueError(f"unknown fault '{k}'")
            self.queue.extend(kinds)

    def clear(self) -> None:
        with self.lock:
            self.spec = FaultSpec()
            self.queue.clear()

    def draw(self, is_write: bool, safe_update: bool, public_comment: bool = False) -> Draw:
        """The fault for this request (None: serve it) and the added latency."""
        with self.lock:
            late = self._late(public_comment)
            if late is not None:
                return late
            if self.queue:
                return self._scripted()
            return self._random(is_write, safe_update)

    def _late(self, public_comment: bool) -> Draw | None:
        """A late write: scripted (the head of the queue holds every request until one qualifies) or drawn."""
        if self.queue and self.queue[0] == "late":
            if not public_comment:
                return None, 0.0
            self.queue.popleft()
        elif not (public_comment and self.spec.rates.get("late") and self.rng.random() < self.spec.rates["late"]):
            return None
        self.injected["late"] += 1
        return "late", self.spec.args.get("late", 1.0)

    def _scripted(self) -> Draw:
        kind = self.queue.popleft()
        if kind == "latency":
            return None, self.spec.args.get("latency", 0.2)
        self.injected[kind] += 1
        return kind, 0.0

    def _random(self, is_write: bool, safe_update: bool) -> Draw:
        rates = self.spec.rates
        latency = 0.0
        if rates.get("latency") and self.rng.random() < rates["latency"]:
            latency = self.spec.args.get("latency", 0.2)
        for kind in RANDOM_ORDER:
            rate = rates.get(kind, 0.0)
            if not rate or self.rng.random() >= rate:
                continue
            if kind == "409" and not safe_update:
                continue
            if kind == "drop_after" and not is_write:
                kind = "drop"
            self.injected[kind] += 1
            return kind, latency
        return None, latency


class RateLimiter:
    """A sliding 60 s window of real time, like Zendesk's per-minute budgets."""

    def __init__(self, per_minute: int | None):
        self.per_minute = per_minute
        self.lock = threading.Lock()
        self.hits: deque[float] = deque()

    def check(self) -> tuple[bool, int, int]:
        """(allowed, remaining, retry_after seconds)."""
        limit = self.per_minute or 100_000
        with self.lock:
            now = time.monotonic()
            while self.hits and now - self.hits[0] >= 60:
                self.hits.popleft()
            if self.per_minute and len(self.hits) >= self.per_minute:
                return False, 0, max(1, int(60 - (now - self.hits[0])) + 1)
            self.hits.append(now)
            return True, limit - len(self.hits), 0
