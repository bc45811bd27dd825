"""`clock: {follow: URL}` (the rehearsal clock) is honoured by `status` and `report`, not only the daemon.

Measured before the fix: `due now: 154` while the daemon had nothing due,
because `status` counted wake-ups against the wall clock.
"""

from __future__ import annotations

import json
import re
import time
from datetime import UTC, datetime, timedelta

import requests

from tierlift.sandbox import Sandbox
from tierlift.service.daemon.state import StateStore

from kit import Daemon, cli, free_port, run_once, write_config
from servicekit import helpdesk

NOW = datetime(2026, 11, 2, 19, 0, tzinfo=UTC)  # the sandbox's frozen clock, weeks before the wall clock


def test_status_and_report_read_the_sandbox_clock(tmp_path):
    with Sandbox("zendesk", tickets=40, seed=7, now=NOW) as sb:
        config = write_config(tmp_path, [helpdesk("live", sb)], clock_url=sb.url)
        assert run_once(config).returncode == 0
        store = StateStore(tmp_path / "state.sqlite3")
        due_at_sandbox_time = len(store.due("live", NOW))
        due_at_wall_time = len(store.due("live", datetime.now(UTC)))
        store.close()
        assert due_at_wall_time > due_at_sandbox_time  # else this test could not tell the clocks apart
        r = cli("status", "--config", str(config), "--json")
        assert r.returncode == 0, r.stderr
        assert json.loads(r.stdout)["helpdesks"]["live"]["due_now"] == due_at_sandbox_time
        r = cli("report", "--config", str(config), "--since", "7d", "--format", "json")
        assert r.returncode == 0, r.stderr
        (rep,) = json.loads(r.stdout)
        assert rep["until"] == NOW.isoformat()
    # The sandbox is gone: the tools still answer, on the system clock, and say so.
    r = cli("status", "--config", str(config), "--json")
    assert r.returncode == 0, r.stderr
    assert "did not answer (ConnectionError); using the system clock" in r.stderr
    assert json.loads(r.stdout)["helpdesks"]["live"]["due_now"] == due_at_wall_time


def _last_cycle_at(base: str) -> float:
    try:
        text = requests.get(base + "/metrics", timeout=5).text
    except requests.RequestException:
        return 0.0
    m = re.search(r'^tierlift_last_successful_cycle_timestamp_seconds\{helpdesk="hd"\} (\S+)$', text, re.M)
    return float(m[1]) if m else 0.0


def test_the_daemon_follows_a_sandbox_clock_set_by_hand(tmp_path):
    # The daemon read the clock once at start and extrapolated: after a jump it acted on the old time.
    port = free_port()
    with Sandbox("zendesk", tickets=10, seed=7, now=NOW) as sb:
        config = write_config(tmp_path, [helpdesk("hd", sb)], clock_url=sb.url,
                              http={"listen": f"127.0.0.1:{port}"})
        d = Daemon(config, tmp_path / "daemon.log")
        try:
            base = f"http://127.0.0.1:{port}"
            deadline = time.monotonic() + 60
            while _last_cycle_at(base) < NOW.timestamp() and time.monotonic() < deadline:
                time.sleep(0.1)
            assert _last_cycle_at(base) >= NOW.timestamp(), d.output()[-2000:]
            jump = NOW + timedelta(days=1)
            requests.post(sb.url + "/_sandbox/clock", json={"now": jump.isoformat()}, timeout=10).raise_for_status()
            deadline = time.monotonic() + 60
            while _last_cycle_at(base) < jump.timestamp() and time.monotonic() < deadline:
                time.sleep(0.1)
            assert _last_cycle_at(base) == jump.timestamp(), "the next cycle runs at the clock set by hand"
        finally:
            d.terminate()
