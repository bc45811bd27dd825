"""`clock: {follow: URL}` (the rehearsal clock) is honoured by `status` and `report`, not only the daemon.

Measured before the fix: `due now: 154` while the daemon had nothing due,
because `status` counted wake-ups against the wall clock.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime

from tierlift.sandbox import Sandbox
from tierlift.service.daemon.state import StateStore

from kit import cli, run_once, write_config
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
