"""The request budget (issue 14, items 9 and 10), on the real daemon and the sandbox.

- A wait for the budget is logged when it starts (helpdesk, seconds, why) and
  counted in /metrics while it lasts; SIGTERM during it stops the daemon at once,
  not when the wait is over.
- Behind a binding budget, a P0 that arrives is written before the backlog of
  older due escalations is done: the cycle yields after one poll interval and the
  next one, which reads the P0, acts most urgent first.
"""

from __future__ import annotations

import re
import time
import urllib.request
from datetime import timedelta

from tierlift.connectors.retry import RequestBudget
from tierlift.sandbox import Sandbox

from kit import Daemon, free_port, write_config
from reliakit import NOW, add_backlog, helpdesk, record

MARKER = re.compile(r"\[tierlift escalation=[0-9a-f]+ from=(\d) to=(\d) rule=(\S+) at=")


def escalated(sb) -> dict[str, float]:
    """Ticket id -> when its first escalation note was written (the sandbox's request log)."""
    out: dict[str, float] = {}
    with sb.store.lock:
        for tid, comments in sb.store.comments.items():
            if any(c["author_id"] == sb.store.bot_id and MARKER.search(c["body"]) for c in comments):
                out[str(tid)] = 0.0
    for r in sb.requests_log():
        m = re.search(r"/tickets/(\d+)\.json", r["path"])
        if r["write"] and m and m[1] in out and not out[m[1]]:
            out[m[1]] = r["t"]
    return out


def metric(port: int, name: str) -> float:
    body = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5).read().decode()
    return sum(float(line.rsplit(" ", 1)[1]) for line in body.splitlines()
               if line.startswith(name + "{") and 'helpdesk="hd"' in line)


def test_a_budget_wait_is_logged_counted_as_it_starts_and_ends_on_sigterm(tmp_path):
    with Sandbox("zendesk", tickets=0, now=NOW) as sb:
        add_backlog(sb, 30, seed=3)
        port = free_port()
        config = write_config(tmp_path, [helpdesk(sb, rate_limit_per_minute=2)], clock_url=sb.url,
                              http={"listen": f"127.0.0.1:{port}"})
        d = Daemon(config, tmp_path / "daemon.log")
        try:
            assert d.wait_for("waiting helpdesk=hd", timeout=60), d.output()[-3000:]
            line = next(ln for ln in d.output().splitlines() if "waiting helpdesk=hd" in ln)
            seconds = float(re.search(r"seconds=([\d.]+)", line)[1])
            assert "request budget" in line, line
            assert seconds > 10, line  # a real wait: 2 requests a minute, paced ~30 s apart
            assert metric(port, "tierlift_rate_limit_waits_total") >= 1, "counted while it lasts"
        finally:
            code, took = d.terminate(timeout=30)
        record("budget", sigterm_during_budget_wait_seconds=round(took, 2), budget_wait_logged_seconds=seconds)
        assert code == 0, d.output()[-3000:]
        assert took < seconds / 2, f"SIGTERM took {took:.1f}s during a {seconds:.0f}s wait"
        assert "Traceback" not in d.output()


def test_a_p0_goes_ahead_of_a_backlog_behind_a_binding_budget(tmp_path):
    # The clock runs, 4x: a ticket created later is in the export after the cursor, and the
    # export's one-minute holdback costs 15 s of real time, not 60 (the budget is per real minute).
    with Sandbox("zendesk", tickets=0, now=NOW, clock_speed=4.0) as sb:
        backlog = {str(t) for t in add_backlog(sb, 40, seed=5)}
        config = write_config(tmp_path, [helpdesk(sb, rate_limit_per_minute=30)], clock_url=sb.url)
        d = Daemon(config, tmp_path / "daemon.log")
        try:
            assert d.wait_for("escalated helpdesk=hd", timeout=60), d.output()[-3000:]
            arrived = time.time()
            p0 = str(sb.store.add_ticket("Checkout down for everyone", "All payments fail since 10 minutes.",
                                         sb.clock.now() + timedelta(seconds=2), tags=["p0"]))
            deadline = time.monotonic() + 240
            while p0 not in escalated(sb) and time.monotonic() < deadline and d.alive():
                time.sleep(0.2)
            done = escalated(sb)
        finally:
            d.terminate()
        assert p0 in done, d.output()[-3000:]
        waiting = len(backlog - set(done))
        record("budget", p0_seconds_to_escalation_budget_30_per_minute=round(done[p0] - arrived, 1),
               backlog_still_waiting_when_the_p0_landed=waiting)
        assert waiting > 0, "the P0 waited for the whole backlog"


def test_the_budget_paces_requests_instead_of_stalling_a_minute():
    """Continuous demand at 100/min: no pause longer than a few spacings, and never
    more than 100 in any sliding minute (61 s, the budget's margin)."""
    now = [0.0]
    budget = RequestBudget(100, clock=lambda: now[0], sleep=lambda s: now.__setitem__(0, now[0] + s))
    sent = []
    for _ in range(1000):
        budget.acquire()
        sent.append(now[0])
    gaps = [b - a for a, b in zip(sent, sent[1:], strict=False)]
    assert max(gaps) < 5.0, f"a pause of {max(gaps):.1f}s"
    assert all(later - first >= 61 for first, later in zip(sent, sent[100:], strict=False))
    assert len(sent) / sent[-1] * 60 > 0.9 * 100  # and the budget is used, not wasted
