"""Shadow mode read back: a dry-run policy beside the live one on the same helpdesk.

`report --shadow NAME [--helpdesk LIVE]` takes NAME as a dry_run entry and LIVE as a
live entry on its url, else exit 2 saying which entries are dry run (QA's second tools
pass: a comparison built backwards, an entry compared with itself, exit 0)."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import pytest

from tierlift.sandbox import Sandbox
from tierlift.service.cli import main
from tierlift.service.daemon.state import Intent, StateStore
from tierlift.service.tools.shadow import compare, render

from kit import cli, run_once, write_config
from servicekit import helpdesk, marker_counts, writes

NOW = datetime(2026, 11, 2, 19, 0, tzinfo=UTC)
MOVE = r'helpdesk={} ticket=(\S+) tier=L(\d)->L(\d) rule=(\S+) team=(?:"[^"]*"|\S+) kind=(?:escalate|route|de-escalate)'


def test_a_week_of_shadow_decisions_compared_with_the_live_ones(tmp_path):
    s = StateStore(tmp_path / "state.sqlite3")
    t0 = NOW - timedelta(days=3)

    def move(hd, eid, tid, a, b, rule, minutes, dry, team="team"):
        i = Intent(hd, eid, tid, "escalate", a, b, rule, team, "{}", "pending", t0 + timedelta(minutes=minutes))
        if dry:
            assert s.record_plan(i)
            return
        assert s.record_intent(i)
        s.mark(hd, eid, "done")

    move("live", "l1", "1", 1, 2, "sla-75pct", 90, False)
    move("shadow", "s1", "1", 1, 2, "unresolved-24h", 30, True)  # same move, 60 min earlier
    move("live", "l2", "2", 1, 3, "severity-p0", 5, False)
    move("shadow", "s2", "2", 1, 2, "outage", 5, True)  # a different move
    move("live", "l3", "3", 1, 2, "manual", 10, False)  # the shadow never moved it
    move("shadow", "s4", "4", 1, 2, "enterprise-customer", 0, True)  # only the shadow
    # The same tiers, but to another team: not the same decision (QA: it read "same").
    move("live", "l5", "5", 1, 2, "sla-75pct", 300, False, team="tier2")
    move("shadow", "s5", "5", 1, 2, "big-refund", 60, True, team="billing-specialists")
    c = compare(s, "live", "shadow", live_policy="three-tier", shadow_policy="teamflow",
                since=NOW - timedelta(days=7), until=NOW)
    s.close()
    assert c.counts() == {"same": 1, "different": 2, "only live": 1, "only shadow": 1}
    assert c.lead_minutes() == 60
    text = render(c)
    assert "tickets: same 1, different 2, only live 1, only shadow 1" in text
    assert "ticket 5 (different)" in text and "L1->L2 big-refund to billing-specialists" in text
    assert "the shadow acted 60 min earlier (median)" in text
    assert "ticket 2 (different)" in text and "L1->L3 severity-p0" in text and "L1->L2 outage" in text
    # QA (F6): "only live" read as "the shadow's policy would never move it"; a slower policy
    # had not yet acted when the live side moved the ticket.
    assert "shadow: - (had not acted by the live move at" in text.split("ticket 3 (only live)")[1], text
    assert "cannot show (not: it would never have moved it)" in text
    assert all(len(line) <= 80 for line in text.splitlines())


def test_shadow_and_live_on_one_helpdesk_then_the_comparison(tmp_path):
    with Sandbox("zendesk", tickets=40, seed=7, now=NOW) as sb:
        config = write_config(tmp_path, [helpdesk("live", sb),
                                         helpdesk("shadow", sb, policy="teamflow", dry_run=True)], clock_url=sb.url)
        proc = run_once(config)
        assert proc.returncode == 0, proc.stderr
        live = re.findall(MOVE.format("live"), proc.stderr)
        planned = re.findall(MOVE.format("shadow"), proc.stderr)
        assert live and planned
        # The shadow wrote nothing: every note on the helpdesk is a live escalation's.
        # A refusal writes its note too, and so does a triage review (it asks a person).
        written = r"(?:escalated|refused|asked a person to triage) helpdesk=live ticket=(\S+)"
        assert len(marker_counts(sb)) == len(re.findall(written, proc.stderr))
        touched = set(re.findall(written, proc.stderr))
        assert {w["path"] for w in writes(sb)} <= {f"/api/v2/tickets/{t}.json" for t in touched}
    r = cli("report", "--config", str(config), "--shadow", "shadow", "--since", "2026-10-01", "--format", "json")
    assert r.returncode == 0, r.stderr
    data = json.loads(r.stdout)
    assert (data["live"], data["shadow"], data["shadow_policy"]) == ("live", "shadow", "teamflow")
    assert data["live_moves"] == len(live) and data["shadow_moves"] == len(planned)
    # Compared: every ticket either side moved, or wrote a note about without moving it (a
    # triage review asks a person; the shadow's teamflow reads words the live pack does not).
    asked = set(re.findall(r"helpdesk=(?:live|shadow) ticket=(\S+) tier=L\d->L\d rule=\S+ team=\S+ kind=triage-review",
                           proc.stderr))
    assert sum(data["counts"].values()) == len({x[0] for x in live} | {x[0] for x in planned} | asked)
    table = cli("report", "--config", str(config), "--shadow", "shadow", "--since", "2026-10-01")
    assert table.returncode == 0 and "shadow shadow (policy teamflow, dry-run) vs live live" in table.stdout
    wrong = cli("report", "--config", str(config), "--shadow", "nope")
    assert wrong.returncode == 2 and "no helpdesk named 'nope'" in wrong.stderr


def test_only_what_both_saw_is_compared_with_notes_and_notifications(tmp_path):
    # 16.13: a live move made before the shadow existed was a "difference".
    s = StateStore(tmp_path / "state.sqlite3")
    t0 = NOW - timedelta(days=2)

    def intent(hd, eid, tid, kind, a, b, rule, minutes, dry, actions=()):
        decision = json.dumps({"actions": [dict(x) for x in actions]})
        i = Intent(hd, eid, tid, kind, a, b, rule, "team", decision, "pending", t0 + timedelta(minutes=minutes))
        if dry:
            assert s.record_plan(i)
            return
        assert s.record_intent(i)
        s.mark(hd, eid, "done")

    note = {"type": "internal_note", "body": "..."}
    page = {"type": "notify", "channel": "pagerduty", "subject": "s", "body": "b"}
    intent("live", "l1", "1", "escalate", 1, 2, "sla-75pct", -60, False, [note])  # before the shadow's first decision
    intent("shadow", "s1", "1", "escalate", 2, 3, "sla-75pct", 0, True, [note])
    intent("live", "l5", "5", "refused", 1, 1, "manual", 10, False, [note])  # a note without a move
    intent("live", "l6", "6", "escalate", 1, 2, "severity-p1", 20, False, [note, page])
    intent("shadow", "s6", "6", "escalate", 1, 2, "severity-p1", 20, True, [note])  # same move, no page
    intent("live", "l7", "7", "escalate", 1, 3, "severity-p0", 30, False, [note, page])
    intent("shadow", "s7", "7", "escalate", 1, 3, "severity-p0", 30, True, [note, page])
    c = compare(s, "live", "shadow", live_policy="three-tier", shadow_policy="three-tier",
                since=NOW - timedelta(days=7), until=NOW)
    s.close()
    verdicts = {t.ticket: t.verdict for t in c.tickets}
    assert verdicts == {"1": "only shadow", "5": "only live", "6": "different", "7": "same"}
    assert c.left_out == 1 and c.since == t0
    data = c.to_dict()
    assert data["live_moves_before_shadow"] == 1
    six = next(t for t in data["tickets"] if t["ticket"] == "6")
    assert (six["live_notified"], six["shadow_notified"]) == (["pagerduty"], [])
    five = next(t for t in data["tickets"] if t["ticket"] == "5")
    assert [n["kind"] for n in five["live_notes"]] == ["refused"]
    text = render(c)
    assert "1 live move(s) before it left out" in text and "notify pagerduty" in text and "refused (manual)" in text


def test_a_shadow_added_after_the_live_policy_acted(tmp_path):
    # The live policy runs alone first; a shadow with the same policy is added later.
    with Sandbox("zendesk", tickets=40, seed=7, now=NOW) as sb:
        config = write_config(tmp_path, [helpdesk("live", sb)], clock_url=sb.url)
        first = run_once(config)
        assert first.returncode == 0, first.stderr
        before = len(re.findall(MOVE.format("live"), first.stderr))
        assert before
        # Long enough for SLA thresholds to fall due after the shadow exists (both sides decide
        # them); cascades of the first run land in that run, so five minutes later nothing is due.
        sb.clock.advance(timedelta(hours=4))
        # The shadow's first cycle reads before the live side writes: the two helpdesks' workers run
        # side by side, and a `run --once` shadow starts without an index, so one that reads a ticket
        # just after the live side moved it sees it moved ("only live"; a running daemon's shadow
        # decides it as it last saw it: test_shadow_race.py). The order is fixed here.
        shadow_first = write_config(tmp_path, [helpdesk("shadow", sb, dry_run=True)], clock_url=sb.url)
        assert run_once(shadow_first).returncode == 0
        config = write_config(tmp_path, [helpdesk("live", sb), helpdesk("shadow", sb, dry_run=True)],
                              clock_url=sb.url)
        assert run_once(config).returncode == 0
        r = cli("report", "--config", str(config), "--shadow", "shadow", "--since", "2026-10-01", "--format", "json")
    assert r.returncode == 0, r.stderr
    data = json.loads(r.stdout)
    assert data["live_moves_before_shadow"] == before
    # Nothing the live side did before the shadow existed shows up as a difference.
    assert data["counts"]["different"] == 0 and data["counts"]["only live"] == 0, data["tickets"]
    assert data["counts"]["same"] > 0  # the thresholds that fell due after the shadow existed


def _entries(tmp_path, *names: str) -> str:
    """A configuration of entries `name` (live), `name?` (dry_run), on helpdesk A unless
    `name@B`; an empty state beside it."""
    desks = {"A": SimpleNamespace(url="http://127.0.0.1:18303", flavor="zendesk"),
             "B": SimpleNamespace(url="http://127.0.0.1:18304", flavor="zendesk")}
    entries = []
    for spec in names:
        name, _, desk = spec.partition("@")
        entries.append(helpdesk(name.rstrip("?"), desks[desk or "A"], dry_run=name.endswith("?")))
    config = write_config(tmp_path, entries)
    StateStore(tmp_path / "state.sqlite3").close()
    return str(config)


@pytest.mark.parametrize(("args", "said"), [
    (["--shadow", "live"], "--shadow: 'live' is a live entry, not a dry_run one (the dry_run entries: shadow)"),
    (["--shadow", "live", "--helpdesk", "shadow"], "--shadow: 'live' is a live entry, not a dry_run one"),
    (["--shadow", "shadow", "--helpdesk", "shadow"], "--helpdesk: 'shadow' is a dry_run entry too: --shadow shadow"
                                                     " is compared with a live entry on its url"),
    (["--shadow", "shadow", "--helpdesk", "elsewhere"], "--helpdesk: 'elsewhere' is on another helpdesk"),
    (["--shadow", "nope"], "--shadow: no helpdesk named 'nope' (the dry_run entries: shadow)"),
])
def test_report_shadow_refuses_entries_the_wrong_way_round(tmp_path, capsys, monkeypatch, args, said):
    monkeypatch.setenv("SANDBOX_TOKEN", "t")
    config = _entries(tmp_path, "live", "shadow?", "elsewhere@B")
    assert main(["report", "--config", config, *args]) == 2
    out, err = capsys.readouterr()
    assert out == "" and err.startswith(said), err
    assert main(["report", "--config", config, "--shadow", "shadow"]) == 0  # the right way round
    assert main(["report", "--config", config, "--shadow", "shadow", "--helpdesk", "live"]) == 0
    assert "shadow shadow (policy three-tier, dry-run) vs live live" in capsys.readouterr().out


def test_report_shadow_without_one_live_twin_says_so(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("SANDBOX_TOKEN", "t")
    assert main(["report", "--config", _entries(tmp_path, "shadow?", "live@B"), "--shadow", "shadow"]) == 2
    assert capsys.readouterr().err.startswith("--shadow: no live entry shares the url of 'shadow'"
                                              " (http://127.0.0.1:18303): nothing to compare it with")


def test_a_shadow_of_the_same_policy_after_the_live_first_sync_differs_in_nothing(tmp_path):
    # QA: "different 6", each a review the live side paged slack_channel about and the
    # shadow did not. The shadow's worker starts a quiet first sync every time (its state is
    # a private copy) and keeps its decisions without their pages; the live side is past its.
    with Sandbox("zendesk", tickets=40, seed=7, now=NOW) as sb:
        config = write_config(tmp_path, [helpdesk("hd", sb, first_sync="quiet"),
                                         helpdesk("hd-refit", sb, dry_run=True, first_sync="quiet")],
                              clock_url=sb.url)
        assert run_once(config).returncode == 0
        sb.clock.advance(timedelta(minutes=10))
        sb.store.add_ticket("Backend access", "Agent needs backend access to check this account, can you"
                            " grant it please so we can look?", sb.clock.now())
        sb.clock.advance(timedelta(minutes=3))
        second = run_once(config)
        assert second.returncode == 0, second.stderr
        assert re.search(r"asked a person to triage helpdesk=hd ticket=41", second.stderr), second.stderr
        r = cli("report", "--config", str(config), "--shadow", "hd-refit", "--since", "2026-10-01", "--format", "json")
    assert r.returncode == 0, r.stderr
    data = json.loads(r.stdout)
    assert data["counts"]["different"] == 0, [t for t in data["tickets"] if t["verdict"] != "same"]
    assert data["counts"]["same"] > 0
    review = next(t for t in data["tickets"] if t["ticket"] == "41")
    # The shadow's first run ended its first sync, and the second start does not begin
    # another: its review is planned with its page, like the live one's.
    assert review["live_notified"] == ["slack_channel"] and review["pages_held_back"] == {"live": 0, "shadow": 0}
    assert review["shadow_notified"] == ["slack_channel"], review


def test_pages_held_back_are_not_compared_but_a_real_difference_in_pages_shows(tmp_path):
    s = StateStore(tmp_path / "state.sqlite3")
    t0 = NOW - timedelta(days=2)
    held = "first-sync: customer reply and pages held back"

    def intent(hd, eid, tid, kind, a, b, minutes, dry, actions=(), detail=""):
        decision = json.dumps({"actions": [dict(x) for x in actions]})
        i = Intent(hd, eid, tid, kind, a, b, "rule", "team", decision, "pending", t0 + timedelta(minutes=minutes),
                   detail=detail)
        if dry:
            assert s.record_plan(i)
            return
        assert s.record_intent(i)
        s.mark(hd, eid, "done", detail)

    note = {"type": "internal_note", "body": "..."}
    review = {"type": "notify", "channel": "slack_channel", "subject": "s", "body": "b"}
    page = {"type": "notify", "channel": "pagerduty", "subject": "s", "body": "b"}
    # 1: the shadow's first sync held its review's page back: not a difference.
    intent("shadow", "s1", "1", "triage-review", 1, 1, 0, True, [note], f"{held} dry-run")
    intent("live", "l1", "1", "triage-review", 1, 1, 0, False, [note, review])
    # 2: the shadow's plan kept its pages and has none: a difference.
    intent("shadow", "s2", "2", "triage-review", 1, 1, 5, True, [note], "dry-run")
    intent("live", "l2", "2", "triage-review", 1, 1, 5, False, [note, review])
    # 3: a review held back, then an escalation both decided with their pages: the page differs.
    intent("shadow", "s3", "3", "triage-review", 1, 1, 0, True, [note], f"{held} dry-run")
    intent("live", "l3", "3", "triage-review", 1, 1, 0, False, [note, review])
    intent("shadow", "s3b", "3", "escalate", 1, 2, 30, True, [note], "dry-run")
    intent("live", "l3b", "3", "escalate", 1, 2, 30, False, [note, page])
    c = compare(s, "live", "shadow", live_policy="three-tier", shadow_policy="three-tier",
                since=NOW - timedelta(days=7), until=NOW)
    s.close()
    assert {t.ticket: t.verdict for t in c.tickets} == {"1": "same", "2": "different", "3": "different"}
    assert c.to_dict()["pages_held_back"] == {"live": 0, "shadow": 2}
    text = render(c)
    assert "decision(s) of a quiet first sync: pages not compared (shadow 2, live 0)" in text
    assert "ticket 3 (different)" in text and "notify pagerduty" in text


def test_a_lone_dry_run_says_so_at_start_and_status_points_where_its_plans_are(tmp_path):
    # QA (dry run to live): a config whose only entry had `dry_run: true` started with
    # `mode=live`, and `status` sent the admin to `report --shadow`, which refused (exit 2:
    # no live entry to compare with).
    from tierlift.service.daemon.config import load_config
    from tierlift.service.daemon.dryrun import run_label

    with Sandbox("zendesk", tickets=30, seed=7, now=NOW) as sb:
        config = write_config(tmp_path, [helpdesk("trial", sb, dry_run=True)], clock_url=sb.url)
        assert run_label(load_config(config, {"SANDBOX_TOKEN": "t"})) == "dry-run"
        proc = run_once(config)
        assert proc.returncode == 0, proc.stderr
        assert re.findall(r"planned helpdesk=trial", proc.stderr)
        assert not writes(sb)
    out = cli("status", "--config", str(config)).stdout
    plans = next(line for line in out.splitlines() if line.strip().startswith("plans:"))
    assert "report --shadow" not in plans and "`history TICKET` shows each" in plans, plans
    # The same of `report` (QA, going live: its hint named `report --shadow trial`, which failed).
    rate = next(line for line in cli("report", "--config", str(config), "--since", "30d").stdout.splitlines()
                if "escalation rate" in line)
    assert "report --shadow trial" not in rate and "`tierlift history TICKET` shows each" in rate, rate
    # QA: the plans line came twice, and the dry run was labelled `run --dry-run`.
    assert sum(line.strip().startswith("plans:") for line in out.splitlines()) == 1, out
    assert "dry run (dry_run: true;" in out and "run --dry-run" not in out, out
    both = write_config(tmp_path / "two", [helpdesk("live", sb), helpdesk("trial", sb, dry_run=True)])
    assert run_label(load_config(both, {"SANDBOX_TOKEN": "t"})) == "live (dry run: trial)"


def test_a_shadows_edited_policy_decides_again_and_the_comparison_starts_from_it(tmp_path):
    # QA (a new adopter, 2026-12-07): the usual workflow, edit the candidate's policy and
    # compare again. The shadow's open tickets were never decided again (no "policy changed"
    # line, after a reload or a restart), and `report --shadow` showed the old policy's
    # decisions under the new policy's name: three-tier "differed" from itself on 4 of 5.
    with Sandbox("zendesk", tickets=40, seed=7, now=NOW) as sb:
        def config(policy: str):
            return write_config(tmp_path, [helpdesk("live", sb),
                                           helpdesk("cand", sb, policy=policy, dry_run=True)], clock_url=sb.url)

        first = run_once(config("teamflow"))
        assert first.returncode == 0 and re.findall(MOVE.format("cand"), first.stderr), first.stderr
        sb.clock.advance(timedelta(minutes=2))
        second = run_once(config("three-tier"))  # the candidate is now the live policy itself
        assert second.returncode == 0, second.stderr
        assert re.search(r"policy changed helpdesk=cand\b.*decided again", second.stderr), second.stderr[-3000:]
        r = cli("report", "--config", str(tmp_path / "tierlift.yaml"), "--shadow", "cand", "--since", "2026-10-01",
                "--format", "json")
    assert r.returncode == 0, r.stderr
    data = json.loads(r.stdout)
    assert data["shadow_policy"] == "three-tier"
    assert data["counts"]["different"] == 0 and data["counts"]["only shadow"] == 0, \
        [t for t in data["tickets"] if t["verdict"] != "same"]
