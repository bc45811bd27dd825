"""Time to escalation: the real daemon, a running sandbox clock, thresholds crossed at known instants.

N tickets are created so that three-tier's L1 criterion "SLA at 75% elapsed"
(3 business hours of a 4 h first response) is crossed at whole seconds spread
evenly over one helpdesk hour, Monday 14:00-15:00 in New York; nothing
changes on them afterwards. `tierlift run` (poll interval 1 s, following the
sandbox clock) runs against it. Per ticket, the delay is from the instant
its threshold is crossed to the moment its escalation write (the first
write that carries an L1 -> L2 marker) has been answered by the sandbox.

The sandbox clock runs `speed` times real time, so that the thresholds fall
across a whole helpdesk hour in a run of minutes; delays are given in real
seconds, which is what they would be on a clock running at real speed
(the daemon's polling and work happen in real time). The crossing instants
come from the engine itself (the wake-up it gives each ticket at the start),
not from a formula repeated here.

The hourly automation, beside it: a Zendesk time-based automation runs once
an hour and counts whole hours, so for these same crossing instants it acts
at the first hourly run after each (taken at the top of the hour; the
distribution is the same for any fixed minute). Its delay is computed, not
simulated: the sandbox runs no automations.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import requests
from benchkit import (
    MARKER,
    TOKEN,
    SandboxProcess,
    bodies_of,
    env,
    percentile,
    ticket_of,
    write_config,
)

from tierlift.connectors.zendesk.mapping import ticket_from_zendesk
from tierlift.engine.evaluate import Evaluator
from tierlift.sandbox.store import NOISE
from tierlift.service.daemon.policies import load_policy

HOUR = datetime(2026, 11, 2, 19, 0, tzinfo=UTC)  # Monday 14:00 in New York (business hours)
LEAD = timedelta(minutes=5)  # helpdesk time before the first crossing: the daemon's first sync


def crossings(n: int) -> list[datetime]:
    """Whole-second instants spread evenly over the hour (half a step in, so none sits on the hour)."""
    return [HOUR + timedelta(seconds=int((i + 0.5) * 3600 / n)) for i in range(n)]


def automation_delay(cross: datetime) -> float:
    """Seconds from a crossing to the next hourly automation run (top of the hour)."""
    top = cross.replace(minute=0, second=0, microsecond=0)
    nxt = top if top >= cross else top + timedelta(hours=1)
    return (nxt - cross).total_seconds()


def run(n: int, speed: float, *, timeout_slack: float = 60.0) -> dict[str, Any]:
    start = HOUR - LEAD
    with tempfile.TemporaryDirectory(prefix="tierlift-bench-") as tmp, \
            SandboxProcess("zendesk", 0, now=start) as sb:
        wanted = crossings(n)
        # 3 business hours before each crossing, all inside Monday's business day.
        ids = sb.add_tickets([{"subject": NOISE[i % len(NOISE)][0], "description": NOISE[i % len(NOISE)][1],
                               "created_at": (c - timedelta(hours=3)).isoformat()} for i, c in enumerate(wanted)])
        cross = _engine_crossings(sb, [str(i) for i in ids], start)
        config = write_config(Path(tmp), sb.url, "zendesk", "three-tier", poll="1s", clock=True)
        sb.reset()
        before = time.time()
        sb.clock(now=start, speed=speed)
        t_set = (before + time.time()) / 2  # real time at which the sandbox clock showed `start`
        daemon = subprocess.Popen([sys.executable, "-m", "tierlift.service.cli", "run", "--config", str(config)],
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env())
        try:
            deadline = t_set + (max(cross.values()) - start).total_seconds() / speed + timeout_slack
            # Poll the cheap stats, not the log, so the watching costs the daemon little CPU:
            # three-tier writes twice per escalation (the note, then the customer reply).
            while time.time() < deadline and sb.stats()["writes"] < 2 * len(cross):
                time.sleep(2.0)
            landed = _landed(sb.log())
        finally:
            daemon.send_signal(signal.SIGTERM)
            try:
                daemon.wait(timeout=30)
            except subprocess.TimeoutExpired:
                daemon.kill()
                daemon.wait()
    delays = [landed[t] - (t_set + (c - start).total_seconds() / speed) for t, c in cross.items() if t in landed]
    hourly = [automation_delay(c) for c in cross.values()]
    return {"tickets": len(cross), "escalated": len(delays), "speed": speed,
            "p50": percentile(delays, 50), "p99": percentile(delays, 99), "max": max(delays, default=float("nan")),
            "early": sum(1 for d in delays if d < -0.05),
            "hourly_p50_min": percentile(hourly, 50) / 60, "hourly_p99_min": percentile(hourly, 99) / 60}


def _engine_crossings(sb: SandboxProcess, ids: list[str], now: datetime) -> dict[str, datetime]:
    """Each ticket's threshold instant as the engine computes it (its wake-up), read before the run."""
    ev = Evaluator(load_policy("three-tier"))
    out: dict[str, datetime] = {}
    auth = ("bot@example.com/token", TOKEN)
    for i in range(0, len(ids), 100):
        body = requests.get(f"{sb.url}/api/v2/tickets/show_many.json", params={"ids": ",".join(ids[i:i + 100])},
                            auth=auth, timeout=60).json()
        for raw in body["tickets"]:
            d = ev.evaluate(ticket_from_zendesk(raw), now)
            assert not d.has_actions and d.wake_up is not None, f"ticket {raw['id']} is due before the run"
            out[str(raw["id"])] = d.wake_up
    return out


def _landed(log: list[dict[str, Any]]) -> dict[str, float]:
    """Ticket -> real time its first L1 -> L2 escalation write was answered."""
    out: dict[str, float] = {}
    for e in log:
        if not e["write"] or not (200 <= int(e["status"]) < 300) or "seconds" not in e:
            continue
        tid = ticket_of(e)
        if tid is None or tid in out:
            continue
        if any(m.group(2) == "1" and m.group(3) == "2" for text in bodies_of(e) for m in MARKER.finditer(text)):
            out[tid] = e["t"] + e["seconds"]
    return out
