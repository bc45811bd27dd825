"""`tierlift simulate` on exports read from the sandbox helpdesk: order, --changed-only, --compare (16.8)."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime

import pytest
import requests

from tierlift.sandbox import Sandbox

from kit import cli

NOW = datetime(2026, 11, 2, 19, 0, tzinfo=UTC)
AT = "2026-11-02T19:00:00Z"


@pytest.fixture(scope="module", params=["zendesk", "jira"])
def export(request, tmp_path_factory):
    """The helpdesk's own export format, as an operator would save it."""
    with Sandbox(request.param, tickets=60, seed=7, now=NOW) as sb:
        if sb.flavor == "zendesk":
            r = requests.get(sb.url + "/api/v2/incremental/tickets/cursor.json", timeout=30,
                             params={"start_time": 0, "include": "organizations,users,metric_sets"},
                             auth=("bot@example.com/token", "x"))
        else:
            r = requests.get(sb.url + "/rest/api/3/search/jql", timeout=30, auth=("bot@example.com", "x"),
                             params={"jql": "project = SUP", "fields": "*all", "maxResults": 100})
        r.raise_for_status()
    path = tmp_path_factory.mktemp("export") / f"{request.param}.json"
    path.write_text(r.text)
    return path


def simulate(export, *args: str):
    r = cli("simulate", "--policy", "three-tier", "--tickets", str(export), "--now", AT, *args)
    assert r.returncode == 0, r.stderr
    return r.stdout


def number(ticket: str) -> int:
    return int(ticket.rsplit("-", 1)[-1])


def test_rows_come_in_ticket_order(export):
    # A ticket decided again after its first decision acts (a cascade, as the daemon's
    # cycle does) has a row per decision, one after the other.
    rows = [json.loads(line) for line in simulate(export, "--json").splitlines()]
    assert len(rows) >= 60
    assert [number(r["ticket"]) for r in rows] == sorted(number(r["ticket"]) for r in rows)
    assert {number(r["ticket"]) for r in rows} == set(range(1, 61))
    table = simulate(export).splitlines()
    lines = table[1:table.index("")]
    assert [number(line.split()[0]) for line in lines] == [number(r["ticket"]) for r in rows]
    # Each row says its decision's kind, as `plan` does (QA: a refusal and a triage review
    # read as the rule having acted).
    assert table[0].split()[:4] == ["ticket", "tier", "kind", "rule"]
    assert [line.split()[2] for line in lines] == [r["kind"] if r["kind"] != "none" else "-" for r in rows]
    assert {"refused", "escalate"} <= {r["kind"] for r in rows}
    assert table[-1].startswith("60 tickets, ")


def test_changed_only_lists_the_tickets_the_policy_acts_on(export):
    full = simulate(export)
    acted = int(re.search(r"(\d+) with actions", full).group(1))
    rows = [json.loads(line) for line in simulate(export, "--json", "--changed-only").splitlines()]
    assert 0 < len({r["ticket"] for r in rows}) == acted < 60 and all(r["actions"] for r in rows)
    table = simulate(export, "--changed-only").splitlines()
    assert len([line for line in table[1:] if line.strip() and not line.startswith("60 tickets")]) == len(rows)


def test_compare_honours_json_and_says_what_differs(export):
    *rows, summary = [json.loads(line) for line in simulate(export, "--compare", "teamflow", "--json").splitlines()]
    assert summary == {"summary": True, "a": "three-tier", "b": "teamflow", "tickets": 60, "different": len(rows)}
    assert rows
    for r in rows:
        assert r["differs"], r
        for key in r["differs"]:
            assert r["a"][key] != r["b"][key], r  # a listed difference is a real one
        assert r["actions_only_a"] == sorted(set(r["a"]["actions"]) - set(r["b"]["actions"]))
    assert [number(r["ticket"]) for r in rows] == sorted(number(r["ticket"]) for r in rows)
    text = simulate(export, "--compare", "teamflow")
    assert f"{len(rows)} of 60 tickets treated differently by three-tier and teamflow" in text
    first = rows[0]
    assert f"ticket {first['ticket']} ({', '.join(first['differs'])} differ):" in text
    assert re.search(r"^  three-tier +L\d->L\d \S+ \(.*\): ", text, re.M)


def test_a_policy_compared_with_itself_differs_nowhere(export):
    lines = simulate(export, "--compare", "three-tier", "--json").splitlines()
    assert [json.loads(line) for line in lines] == [
        {"summary": True, "a": "three-tier (--policy)", "b": "three-tier (--compare)", "tickets": 60, "different": 0}]


def test_an_edited_copy_of_a_pack_is_named_by_its_file(export, tmp_path):
    """QA (a support lead): an edited copy keeps the pack's name, and the comparison read
    "3 of 4 tickets treated differently by three-tier and three-tier", each row "three-tier"."""
    from importlib import resources

    pack = resources.files("tierlift.policies").joinpath("three-tier.yaml").read_text(encoding="utf-8")
    edited = tmp_path / "three-tier-edit.yaml"
    edited.write_text(pack.replace("first_response: 4h", "first_response: 1h", 1), encoding="utf-8")
    text = simulate(export, "--compare", str(edited))
    assert re.search(r"treated differently by three-tier \(three-tier\.yaml\) and three-tier \(three-tier-edit\.yaml\)",
                     text), text[-500:]
    assert re.search(r"^  three-tier \(three-tier-edit\.yaml\) +L\d->L\d", text, re.M), text[:1500]


def _raw_zendesk_export(path):
    """Zendesk's own incremental export (metric sets sideloaded) of two tickets created
    Friday 2026-10-30 14:00 UTC: 1 never paused, 2 pending Friday 15:00 to Monday 15:00
    UTC. The metric set keeps only the last status change; the pause is in the audits."""
    def ticket(n):
        return {"id": n, "subject": f"ticket {n}", "description": "How do I change the billing address on my invoices?",
                "status": "open", "priority": "normal", "created_at": "2026-10-30T14:00:00Z",
                "updated_at": "2026-11-02T15:00:00Z" if n == 2 else "2026-10-30T14:00:00Z",
                "requester_id": 100002, "submitter_id": 100002, "assignee_id": None, "group_id": None,
                "organization_id": None, "tags": [], "custom_fields": [], "via": {"channel": "email"}}

    def metrics(n):
        return {"ticket_id": n, "reopens": 0, "replies": 0, "solved_at": None,
                "status_updated_at": "2026-11-02T15:00:00Z" if n == 2 else "2026-10-30T14:00:00Z",
                "reply_time_in_minutes": {"calendar": None, "business": None},
                "created_at": "2026-10-30T14:00:00Z", "updated_at": "2026-10-30T14:00:00Z"}

    path.write_text(json.dumps({"tickets": [ticket(1), ticket(2)], "metric_sets": [metrics(1), metrics(2)],
                                "users": [{"id": 100002, "name": "Customer", "role": "end-user"}],
                                "end_of_stream": True}))
    return path


def test_a_raw_export_says_which_tickets_clocks_it_could_not_decide(tmp_path):
    # Ticket 2 is past its threshold, but when it was paused is only in its audits. The
    # table said "2  L1  -  -  -" (nothing due, no wake-up) and the only remark was that it
    # was "decided without its comments": its SLA clock was not decided at all.
    export = _raw_zendesk_export(tmp_path / "zendesk.json")
    r = cli("simulate", "--policy", "three-tier", "--tickets", str(export), "--now", "2026-11-02T17:05:00Z",
            "--me", "1")
    assert r.returncode == 0, r.stderr
    said = " ".join(r.stderr.split())
    assert "1 ticket(s) not decided: 2 (" in said, said
    assert "threshold due" in said and "status history" in said and "`tierlift export`" in said, said
    assert "decided without their comments" not in said, said  # ticket 1 needed none, 2 was not decided
    row = next(line for line in r.stdout.splitlines() if line.startswith("2 "))
    assert "undecided" in row, r.stdout
    # The JSON lines say it too, as a field: the table's word was the only place it was.
    r = cli("simulate", "--policy", "three-tier", "--tickets", str(export), "--now", "2026-11-02T17:05:00Z",
            "--me", "1", "--json")
    assert r.returncode == 0, r.stderr
    rows = {row["ticket"]: row for row in map(json.loads, r.stdout.splitlines()) if "ticket" in row}
    assert rows["2"]["undecided"] is True and rows["2"]["actions"] == [] and rows["2"]["wake_up"] is None, rows["2"]
    assert rows["1"]["undecided"] is False, rows["1"]


def test_compare_says_a_ticket_left_alone_at_a_tier_the_policy_lacks(export):
    # QA (a new adopter, 2026-12-07): "two-tier L1->L1 unknown-tier" for a ticket tagged tier_l3.
    text = simulate(export, "--compare", "two-tier")
    assert "unknown-tier" in text, text[-2000:]  # the seeded helpdesk has such a ticket
    assert not re.search(r"L\d->L\d unknown-tier", text), text[-2000:]
    assert "two-tier     left alone (its tier tag names a tier this policy does not have): unknown-tier" in text
