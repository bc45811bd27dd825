"""A ticket created after the daemon's clock says so in the log.

Its SLA clocks start at its creation, so with the daemon's clock (or the helpdesk's) a day
off it waited a day without a word: a team saw nothing escalate and nothing explain why.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from tierlift.sandbox import Sandbox

from kit import helpdesk, run_once, write_config

NOW = datetime(2026, 11, 3, 15, 0, tzinfo=UTC)


def test_a_ticket_dated_after_the_daemons_clock_is_said_once_with_both_times(tmp_path: Path):
    with Sandbox("zendesk", tickets=0, now=NOW) as sb:
        ahead = sb.store.add_ticket("Export question", "How do I export a CSV?", NOW - timedelta(hours=2))
        behind = sb.store.add_ticket("Invoice copy", "Please send the March invoice.", NOW - timedelta(days=3))
        daemon_now = NOW - timedelta(days=1, hours=2)
        config = write_config(tmp_path, [helpdesk(sb)], clock={"at": daemon_now.isoformat()})
        r = run_once(config)
    assert r.returncode == 0, r.stderr
    told = [line for line in r.stderr.splitlines() if "dated ahead" in line]
    assert len(told) == 1, r.stderr
    assert f"ticket={ahead}" in told[0] and "helpdesk=hd" in told[0]
    assert "1 day after the daemon's clock (2026-11-02T13:00:00+00:00)" in told[0], told[0]
    assert f"ticket={behind}" not in r.stderr.split("dated ahead")[1]
