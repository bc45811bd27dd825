"""Progress on a long first sync: a live counter on a terminal, periodic log lines otherwise."""

from __future__ import annotations

import io
import logging
from datetime import UTC, datetime

from tierlift.sandbox import Sandbox
from tierlift.service.daemon.progress import SyncProgress

from kit import run_once, write_config
from servicekit import helpdesk

NOW = datetime(2026, 11, 2, 19, 0, tzinfo=UTC)


class Clock:
    def __init__(self) -> None:
        self.t = 100.0

    def __call__(self) -> float:
        return self.t


def test_without_a_terminal_a_line_every_interval_and_a_closing_line(caplog):
    clock = Clock()
    p = SyncProgress("acme", stream=io.StringIO(), tty=False, every=10, clock=clock)
    with caplog.at_level(logging.INFO, logger="tierlift.cycle"):
        for _ in range(6):  # a page every 4 s: lines at 12 s and 24 s, not at every page
            clock.t += 4
            p.page(1000)
        p.done()
    lines = [r.getMessage() for r in caplog.records]
    assert lines[:2] == ["first sync helpdesk=acme read=3000 pages=3 rate=250/s",
                         "first sync helpdesk=acme read=6000 pages=6 rate=250/s"]
    assert lines[2] == "first sync done helpdesk=acme tickets=6000 pages=6 seconds=24.0 rate=250/s"


def test_on_a_terminal_one_line_is_rewritten_in_place():
    clock, out = Clock(), io.StringIO()
    p = SyncProgress("acme", stream=out, tty=True, clock=clock)
    clock.t += 2
    p.page(1000)
    clock.t += 2
    p.page(500)
    p.done()
    text = out.getvalue()
    assert text.count("\r") == 2 and text.endswith("\n") and text.count("\n") == 1
    assert "first sync acme: 1,500 tickets read, 2 pages, 375/s" in text


def test_the_daemon_reports_its_first_sync_and_only_the_first(tmp_path):
    with Sandbox("zendesk", tickets=1200, seed=4, now=NOW) as sb:
        config = write_config(tmp_path, [helpdesk("hd", sb, page_size=500)], clock_url=sb.url)
        first = run_once(config)
        assert first.returncode == 0, first.stderr
        assert "first sync done helpdesk=hd tickets=1200 pages=3" in first.stderr
        second = run_once(config)
        assert second.returncode == 0 and "first sync" not in second.stderr
