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


def test_a_ticket_is_remembered_only_while_it_stays_ahead(caplog):
    """The daemon keeps the ids it told about; one per such ticket for the life of the process
    made the set grow without end. A ticket whose creation the clock has passed is forgotten,
    and a clock that jumps back again is told again."""
    from types import SimpleNamespace

    from tierlift.engine.model import Ticket
    from tierlift.service.daemon.cycle import HelpdeskCycle

    cycle = SimpleNamespace(_dated_ahead=set(), name="hd")
    t = Ticket(id="7", subject="Export question", description="How do I export?", status="open",
               created_at=NOW, updated_at=NOW)
    said = lambda: sum("dated ahead" in r.getMessage() for r in caplog.records)  # noqa: E731
    with caplog.at_level("WARNING"):
        HelpdeskCycle._tell_dated_ahead(cycle, t, NOW - timedelta(hours=3))
        HelpdeskCycle._tell_dated_ahead(cycle, t, NOW - timedelta(hours=2))
        assert said() == 1 and cycle._dated_ahead == {"7"}
        HelpdeskCycle._tell_dated_ahead(cycle, t, NOW + timedelta(minutes=1))
        assert cycle._dated_ahead == set()
        HelpdeskCycle._tell_dated_ahead(cycle, t, NOW - timedelta(hours=3))
    assert said() == 2
