"""`tierlift triage learn --now T --since D` learns from the tickets of the window D before T,
as a user reads it: QA ran `--now 2020-01-01T00:00:00Z` on a helpdesk whose history is of 2026
and learn trained on tickets after --now instead of saying there is too little history."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

from tierlift.sandbox import Sandbox
from tierlift.service.daemon.config import load_config
from tierlift.service.daemon.state import open_store

from kit import cli, env, helpdesk, write_config

NOW = datetime(2026, 11, 2, 15, 0, tzinfo=UTC)


def test_a_window_before_the_history_refuses_and_saves_nothing(tmp_path: Path):
    with Sandbox("zendesk", tickets=0, history=150, now=NOW) as sb:
        config = write_config(tmp_path, [helpdesk(sb, policy="teamflow")])
        r = cli("triage", "learn", "--config", str(config), "--since", "180d", "--now", "2020-01-01T00:00:00Z")
        assert r.returncode == 1, r.stdout
        assert "helpdesk hd: 0 labelled closed tickets" in r.stderr and "at least 30 are needed" in r.stderr
        assert "saved" not in r.stdout
        with open_store(load_config(config, env=env())) as store:
            assert store.triage_models("hd") == []


def test_tickets_after_now_are_not_learnt(tmp_path: Path):
    """The history spans 1 to 170 days before the sandbox's now: with --now 60 days earlier,
    only the tickets created before it count (the refit's id carries the newest one's date)."""
    with Sandbox("zendesk", tickets=0, history=150, now=NOW) as sb:
        config = write_config(tmp_path, [helpdesk(sb, policy="teamflow")])
        everything = cli("triage", "learn", "--config", str(config), "--since", "200d", "--now", NOW.isoformat())
        earlier = cli("triage", "learn", "--config", str(config), "--since", "200d",
                      "--now", (NOW - timedelta(days=60)).isoformat())
        assert everything.returncode == 0 and earlier.returncode == 0, earlier.stderr
        count = [int(re.search(r"(\d+) labelled closed tickets", r.stdout).group(1))  # type: ignore[union-attr]
                 for r in (everything, earlier)]
        assert count[0] == 150 and 90 < count[1] < 110, count
        newest = re.search(r"saved hd-(\d{8})-", earlier.stdout).group(1)  # type: ignore[union-attr]
        assert newest <= f"{NOW - timedelta(days=60):%Y%m%d}", earlier.stdout
