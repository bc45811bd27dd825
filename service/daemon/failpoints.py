"""Failpoints for the crash suites: kill the process at a named point, on purpose.

Inert until `configure` is given an environment with TIERLIFT_FAILPOINTS set
(e.g. "after_write:0.05,in_commit:0.02"), which the daemon does when it starts
and only the reliability suites set. Points:
- before_write: the intent is journaled, the helpdesk write not yet sent;
- after_write:  the write landed, the journal not yet marked done;
- in_commit:    inside the SQLite transaction that moves the cursor.
"""

from __future__ import annotations

import os
import random
import signal
from collections.abc import Mapping

_points: dict[str, float] = {}
_rng = random.Random()


def configure(env: Mapping[str, str]) -> None:
    """Read the failpoints from `env` (the daemon's environment, read once at its start)."""
    global _rng
    _points.clear()
    for part in filter(None, (p.strip() for p in env.get("TIERLIFT_FAILPOINTS", "").split(","))):
        name, _, rate = part.partition(":")
        _points[name] = float(rate or 1.0)
    _rng = random.Random(int(env.get("TIERLIFT_FAILPOINT_SEED", os.getpid())))


def hit(name: str) -> None:
    rate = _points.get(name)
    if rate and _rng.random() < rate:
        # One raw line on stderr (no logging: it may buffer or take locks), so a
        # suite can count which point killed the process.
        os.write(2, f"failpoint {name}: SIGKILL\n".encode())
        os.kill(os.getpid(), signal.SIGKILL)
