"""`report --since` after the report's end (QA's second tools pass): `--since 2999-01-01`
printed "2999-01-01 to 2026-11-02", an empty report, exit 0. It is bad input: exit 2."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from tierlift.engine.yamlsrc import InvalidFile
from tierlift.service.daemon.state import StateStore
from tierlift.service.tools.report import report_command

from kit import helpdesk, write_config

NOW = datetime(2026, 11, 2, 19, 0, tzinfo=UTC)


class Desk:
    url, flavor = "http://127.0.0.1:18303", "zendesk"


@pytest.fixture
def config(tmp_path, monkeypatch):
    monkeypatch.setenv("SANDBOX_TOKEN", "t")
    path = write_config(tmp_path, [helpdesk(Desk(), "live"), helpdesk(Desk(), "shadow", dry_run=True)])
    StateStore(tmp_path / "state.sqlite3").close()
    return path


@pytest.mark.parametrize("since", ["2999-01-01", "2026-11-02T19:00:01Z"])
@pytest.mark.parametrize("shadow", [None, "shadow"])
def test_a_since_after_the_end_is_refused(config, capsys, since, shadow):
    with pytest.raises(InvalidFile) as refused:
        report_command(config, helpdesk=None, since=since, fmt="table", out=None, now=NOW, shadow=shadow)
    assert str(refused.value) == f"--since: {since!r} is after the report's end, now (2026-11-02 19:00 UTC)"
    assert capsys.readouterr().out == ""


@pytest.mark.parametrize("since", ["2026-11-02T19:00:00Z", "2026-10-01", "30d"])
def test_a_since_up_to_the_end_is_a_report(config, capsys, since):
    assert report_command(config, helpdesk=None, since=since, fmt="table", out=None, now=NOW) == 0
    assert " to 2026-11-02" in capsys.readouterr().out


def test_a_since_older_than_the_journal_keeps_says_what_is_not_counted(config, capsys):
    # The journal keeps 90 days (journal_retention): a report over 200 days counted the
    # tickets escalated before then as not escalated, and said nothing (QA hunt).
    assert report_command(config, helpdesk=None, since="200d", fmt="table", out=None, now=NOW) == 0
    err = capsys.readouterr().err
    assert ("the journal keeps 90 days (journal_retention): escalations before 2026-08-04 were pruned,"
            " so a ticket escalated before then counts as not escalated") in err
    assert report_command(config, helpdesk=None, since="30d", fmt="table", out=None, now=NOW) == 0
    assert "journal_retention" not in capsys.readouterr().err


def _intent(s, eid, tid, at):
    from tierlift.service.daemon.state import Intent

    assert s.record_intent(Intent("live", eid, tid, "escalate", 1, 2, "sla-75pct", "team", "{}", "pending", at))
    s.mark("live", eid, "done")


def test_until_closes_the_window_and_an_empty_window_has_no_rate(config, capsys):
    # QA (reports): no --until (a closed past week could not be reported), and a window
    # without tickets printed "escalation rate 0.0%", as if it were a good week.
    import json
    from datetime import timedelta

    s = StateStore(config.parent / "state.sqlite3")
    _intent(s, "e1", "1", NOW - timedelta(days=10))
    _intent(s, "e2", "2", NOW - timedelta(days=2))
    s.close()
    assert report_command(config, helpdesk="live", since="2026-10-20", until="2026-10-27", fmt="json", out=None,
                          now=NOW) == 0
    [week] = json.loads(capsys.readouterr().out)
    assert week["until"].startswith("2026-10-27")
    assert week["escalations"] == 1 and [e["ticket"] for e in week["escalated"]] == ["1"], week["escalated"]
    assert report_command(config, helpdesk="live", since="1h", fmt="table", out=None, now=NOW) == 0
    out = capsys.readouterr().out
    assert "escalation rate no data" in out and "0.0%" not in out.split("escalation rate", 1)[1].split("\n")[0]
    with pytest.raises(InvalidFile) as refused:
        report_command(config, helpdesk="live", since="7d", until="2026-10-01", fmt="table", out=None, now=NOW)
    assert str(refused.value).startswith("--until: '2026-10-01' is not between the report's start")


def test_moves_people_made_are_counted_with_who_made_them(config, capsys):
    # QA (reports): an agent's move to L2, recorded by tierlift (note, history, /metrics), was
    # nowhere in the report; "L1->L2 5" where the record had 6 moves.
    import json
    from datetime import timedelta

    from tierlift.service.daemon.state import Intent

    s = StateStore(config.parent / "state.sqlite3")
    decision = json.dumps({"actor": "ana@support.example", "actions": []})
    assert s.record_intent(Intent("live", "h1", "6", "human-move", 1, 2, "human-move", "l2", decision, "pending",
                                  NOW - timedelta(days=1)))
    s.mark("live", "h1", "done")
    s.close()
    assert report_command(config, helpdesk="live", since="7d", fmt="table", out=None, now=NOW) == 0
    out = capsys.readouterr().out
    assert "moves by people 1" in out and "ana@support.example" in out.split("by who made them", 1)[1], out
    assert report_command(config, helpdesk="live", since="7d", fmt="json", out=None, now=NOW) == 0
    [rep] = json.loads(capsys.readouterr().out)
    assert rep["human_moves"] == 1 and rep["by_mover"] == {"ana@support.example": 1}


def test_a_closed_window_counts_no_ticket_created_after_it(config, capsys):
    # QA (a new adopter, 2026-12-07): a window ending before most tickets existed counted them
    # as seen: "0 of 200 tickets seen were escalated, 0.0%" instead of "no data", with a weekly
    # row for a week that starts after the window.
    import json
    from datetime import timedelta

    from tierlift.service.daemon.store.base import IndexEntry

    s = StateStore(config.parent / "state.sqlite3")
    made = [NOW - timedelta(days=20), *(NOW - timedelta(hours=h) for h in range(1, 6))]
    s.upsert([IndexEntry("live", str(n), "v1", 1, "open", None, "{}", at, NOW) for n, at in enumerate(made, 1)])
    s.close()
    assert report_command(config, helpdesk="live", since="30d", until="7d", fmt="json", out=None, now=NOW) == 0
    [closed] = json.loads(capsys.readouterr().out)
    assert closed["tickets_seen"] == 1, closed
    assert all(w["week"] <= "2026-W44" for w in closed["weekly"]), closed["weekly"]
    assert report_command(config, helpdesk="live", since="30d", fmt="json", out=None, now=NOW) == 0
    assert json.loads(capsys.readouterr().out)[0]["tickets_seen"] == 6


def test_html_without_matplotlib_says_which_extra_to_install(config, capsys, monkeypatch):
    # QA (a new adopter, 2026-12-07): the README's install has no report extra, and
    # --format html ended in "ModuleNotFoundError: No module named 'matplotlib'".
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "matplotlib" else real(name, *a))
    with pytest.raises(InvalidFile) as refused:
        report_command(config, helpdesk=None, since="7d", fmt="html", out=None, now=NOW)
    assert "pip install '.[report]'" in str(refused.value) and "--format table or json" in str(refused.value)


def test_a_dry_run_entrys_report_does_not_claim_an_escalation_rate(config, capsys):
    # QA (a new adopter, 2026-12-07): the shadow's card read "0 escalations, escalation rate
    # 0.0%" beside the live entry's 42.0%: a candidate policy that escalates nothing, at a glance.
    import json

    assert report_command(config, helpdesk="shadow", since="7d", fmt="table", out=None, now=NOW) == 0
    out = capsys.readouterr().out
    assert "escalation rate not measured: a dry run writes nothing" in out and "0.0%" not in out.split(
        "escalation rate", 1)[1].split("\n")[0]
    assert "`tierlift report --shadow shadow` compares them" in out
    assert report_command(config, helpdesk="shadow", since="7d", fmt="json", out=None, now=NOW) == 0
    assert json.loads(capsys.readouterr().out)[0]["dry_run"] is True
    assert report_command(config, helpdesk="live", since="7d", fmt="table", out=None, now=NOW) == 0
    assert "escalation rate no data" in capsys.readouterr().out
