"""The commands that read only the state run where the daemon's environment is not set.

An operator runs `tierlift status` or `report` from a shell on the daemon's host, where the
helpdesk tokens live in systemd's environment file, not in the shell: these commands were
refused ("environment variable SANDBOX_TOKEN is not set or empty") although they never ask
a helpdesk. The commands that talk to a helpdesk still refuse, naming the key.
"""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime

from tierlift.sandbox import Sandbox

from kit import TOKEN, cli, run_once, write_config
from servicekit import helpdesk

NOW = datetime(2026, 11, 2, 19, 0, tzinfo=UTC)  # Monday 14:00 New York


def test_status_report_and_an_offline_history_need_no_helpdesk_secret(tmp_path):
    with Sandbox("zendesk", tickets=20, seed=4, now=NOW) as sb:
        config = write_config(tmp_path, [helpdesk("hd", sb)])
        r = run_once(config)
        assert r.returncode == 0, r.stdout + r.stderr
        moved = [t["id"] for t in sb.data.tickets.values() if any(tag.startswith("tier_l") and tag != "tier_l1"
                                                                   for tag in t.get("tags", []))]
        unset = {"SANDBOX_TOKEN": ""}  # the shell an operator opens, without the daemon's environment

        status = cli("status", "--config", str(config), "--json", **unset)
        assert status.returncode == 0, status.stdout + status.stderr
        assert "hd" in json.loads(status.stdout)["helpdesks"]

        report = cli("report", "--config", str(config), "--format", "json", **unset)
        assert report.returncode == 0, report.stdout + report.stderr
        assert json.loads(report.stdout)

        assert moved, "the first cycle moved a ticket up"
        story = cli("history", "--config", str(config), str(moved[0]), "--offline", **unset)
        assert story.returncode == 0, story.stdout + story.stderr
        assert "tier_l" in story.stdout or "L1" in story.stdout

        for talks in (["history", "--config", str(config), str(moved[0])], ["plan", "--config", str(config)],
                      ["run", "--config", str(config), "--once"]):
            r = cli(*talks, **unset)
            assert r.returncode == 2, (talks, r.stdout, r.stderr)
            assert "helpdesks[0].token: environment variable SANDBOX_TOKEN is not set or empty" in r.stdout + r.stderr
    assert TOKEN not in status.stdout + report.stdout + story.stdout


def test_status_shows_one_helpdesk_of_many_and_names_the_others_when_asked_wrong(tmp_path):
    """An operator serving many helpdesks asks after one: `status --helpdesk`, as `plan`,
    `history` and `report` take it; a wrong name is refused with the names there are."""
    with Sandbox("zendesk", tickets=12, seed=4, now=NOW) as sb, Sandbox("jira", tickets=8, seed=5, now=NOW) as sj:
        config = write_config(tmp_path, [helpdesk("support", sb), helpdesk("billing", sj)])
        r = run_once(config)
        assert r.returncode == 0, r.stdout + r.stderr

        whole = json.loads(cli("status", "--config", str(config), "--json").stdout)
        one = cli("status", "--config", str(config), "--json", "--helpdesk", "billing")
        assert one.returncode == 0, one.stdout + one.stderr
        billing = json.loads(one.stdout)
        assert list(billing["helpdesks"]) == ["billing"]
        assert billing["helpdesks"]["billing"] == whole["helpdesks"]["billing"]
        assert billing["stats"]["open_tickets"] == {"billing": whole["stats"]["open_tickets"]["billing"]}

        text = cli("status", "--config", str(config), "--helpdesk", "support")
        assert text.returncode == 0, text.stdout + text.stderr
        assert "helpdesk support" in text.stdout and "billing" not in text.stdout

        wrong = cli("status", "--config", str(config), "--helpdesk", "suport")
        assert wrong.returncode == 2
        assert "no helpdesk named 'suport' (there are: support, billing)" in wrong.stderr


def test_the_state_and_its_lock_are_the_owners_only_whatever_the_umask(tmp_path):
    """QA (privacy): under umask 022 the state file (tickets' text, requesters' addresses) and
    its lock were created -rw-r--r--, readable by every local user; `export` already wrote 0600."""
    with Sandbox("zendesk", tickets=5, seed=4, now=NOW) as sb:
        config = write_config(tmp_path, [helpdesk("hd", sb)])
        old = os.umask(0o022)
        try:
            r = run_once(config)
        finally:
            os.umask(old)
        assert r.returncode == 0, r.stdout + r.stderr
    made = sorted(p for p in tmp_path.iterdir() if p.name.startswith("state.sqlite3"))
    assert made and any(p.name == "state.sqlite3" for p in made) and any(p.name.endswith(".lock") for p in made)
    assert {p.name: oct(p.stat().st_mode & 0o777) for p in made} == {p.name: "0o600" for p in made}
