"""Failpoints for the crash suites: kill the process at a named point, on purpose.

Inert unless TIERLIFT_FAILPOINTS is set (e.g. "after_write:0.05,in_commit:0.02"),
which only the reliability suites do. Points:
- before_write: the intent is journaled, the helpdesk write not yet sent;
- after_write:  the write landed, the journal not yet marked done;
- in_commit:    inside the SQLite transaction that moves the cursor.
"""

from __future__ import annotations

import os
import random
import signal

_spec = os.environ.get("TIERLIFT_FAILPOINTS", "")
_points: dict[str, float] = {}
for _part in filter(None, (p.strip() for p in _spec.split(","))):
    _name, _, _rate = _part.partition(":")
    _points[_name] = float(_rate or 1.0)
_rng = random.Random(int(os.environ.get("TIERLIFT_FAILPOINT_SEED", os.getpid())))


def hit(name: str) -> None:
    rate = _points.get(name)
    if rate and _rng.random() < rate:
        # One raw line on stderr (no logging: it may buffer or take locks), so a
        # suite can count which point killed the process.
        os.write(2, f"failpoint {name}: SIGKILL\n".encode())
        os.kill(os.getpid(), signal.SIGKILL)
