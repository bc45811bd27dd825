"""`tierlift check --config`: offline validation, then proof that each helpdesk answers
with its credentials and that every team of its policy maps to a real group or user."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from tierlift.sandbox import Sandbox

from kit import TOKEN, cli, write_config
from servicekit import helpdesk

NOW = datetime(2026, 11, 2, 19, 0, tzinfo=UTC)


@pytest.mark.parametrize("flavor", ["zendesk", "jira"])
def test_good_credentials_and_teams_pass(flavor, tmp_path):
    with Sandbox(flavor, tickets=5, seed=1, now=NOW) as sb:
        config = write_config(tmp_path, [helpdesk("hd", sb)])
        r = cli("check", "--config", str(config))
        assert r.returncode == 0, r.stdout + r.stderr
        assert "hd: credentials accepted; all 3 policy teams map to the helpdesk" in r.stdout
        assert not (tmp_path / "state.sqlite3").exists()  # a check never starts anything


@pytest.mark.parametrize("flavor", ["zendesk", "jira"])
def test_refused_credentials_name_the_token_line(flavor, tmp_path):
    with Sandbox(flavor, tickets=5, seed=1, now=NOW, rejected_tokens=(TOKEN,)) as sb:
        config = write_config(tmp_path, [helpdesk("hd", sb)])
        r = cli("check", "--config", str(config))
    assert r.returncode == 2
    line = next(n for n, text in enumerate(config.read_text().splitlines(), 1) if '"token"' in text)
    assert f"{config}:{line}: helpdesks[0].token: the helpdesk refused these credentials" in r.stdout
    assert TOKEN not in r.stdout + r.stderr


def test_a_team_that_maps_to_nothing_names_the_teams_line(tmp_path):
    with Sandbox("zendesk", tickets=5, seed=1, now=NOW) as sb:
        hd = helpdesk("hd", sb, teams={"engineering-oncall": {"group": "Night Shift"}})
        config = write_config(tmp_path, [hd])
        r = cli("check", "--config", str(config))
    assert r.returncode == 2
    assert "helpdesks[0].teams: team 'engineering-oncall' maps to no Zendesk group named 'Night Shift'" in r.stdout


def test_an_unreachable_helpdesk_names_the_url_and_offline_skips_it(tmp_path):
    with Sandbox("zendesk", tickets=5, seed=1, now=NOW) as sb:
        hd = helpdesk("hd", sb)
    hd["url"] = sb.url  # the sandbox has stopped: nothing listens there now
    config = write_config(tmp_path, [hd])
    r = cli("check", "--config", str(config))
    assert r.returncode == 2 and "helpdesks[0].url: the helpdesk did not answer" in r.stdout
    offline = cli("check", "--config", str(config), "--offline")
    assert offline.returncode == 0 and "offline: helpdesks not contacted" in offline.stdout
