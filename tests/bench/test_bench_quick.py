"""The benchmark's cheap parts as a test: behaviour, never speed (the machine is shared).

The same processes as `python tests/bench/run.py` (sandbox, tierlift's cycle,
the naive poller, each its own process), at small sizes; requests are the
sandbox log's.
"""

from __future__ import annotations

import math

import pytest
from cycles import cycle, synced, writes_per_escalation_run


def idle_reads(sb, party, cycles: int = 2) -> list[int]:
    out = []
    for _ in range(cycles):
        sb.clock(advance=30)
        out.append(cycle(sb, party)[1]["reads"])
    return out


def churn_reads(sb, party, changed: int, seed: int) -> int:
    sb.churn(changed, seed=seed)
    sb.clock(advance=61)  # the export withholds the last minute
    return cycle(sb, party)[1]["reads"]


@pytest.mark.timeout(240)
def test_reads_are_one_per_idle_cycle_and_grow_with_changes_not_with_open_tickets():
    small, large = 1_500, 6_000
    with synced("zendesk", small) as (sb, party, first):
        assert first["reads"] >= math.ceil(small / 1000)  # the first sync reads every page
        assert idle_reads(sb, party) == [1, 1]
        few_small = churn_reads(sb, party, 15, seed=1)
        # The same tickets follow up again: their audits are kept, and one read of the
        # ticket events stream brings all the follow-ups (connectors/zendesk/followups.py).
        picked = sb.churn(15, seed=3)
        sb.clock(advance=61)
        cycle(sb, party)  # their first follow-up: each ticket's audits are read (and kept)
        sb.churn(0, seed=0, ids=picked)
        sb.clock(advance=61)
        assert cycle(sb, party)[1]["reads"] == 2, "the export and one stream read, no audits read"
    with synced("zendesk", large) as (sb, party, _):
        assert idle_reads(sb, party) == [1, 1]
        few_large = churn_reads(sb, party, 15, seed=1)  # 1% of the small helpdesk
        many_large = churn_reads(sb, party, 2_400, seed=2)  # export pages hold 1,000 tickets
    # Changed tickets cost their export pages, plus one comments read for each customer
    # follow-up (Zendesk's export carries no comments, and "I want a manager" may be in
    # one): the same on a helpdesk four times the size, never one read per open ticket.
    assert few_small == few_large <= 1 + 15
    assert many_large >= 3 and many_large > few_large


@pytest.mark.timeout(240)
def test_jira_idle_cycle_is_one_search_request():
    with synced("jira", 1_000, policy="two-tier") as (sb, party, _):
        assert idle_reads(sb, party) == [1, 1]
    # three-tier's first sync writes ~250 tickets (escalations and triage reviews) in the same
    # helpdesk second on this frozen clock: they stay in the search's overlap window, which is
    # paged through again while nothing newer arrives (100 a page). An idle cycle costs those
    # pages and nothing else: the same each time, and no ticket is processed again.
    with synced("jira", 1_000) as (sb, party, _):
        reads = idle_reads(sb, party)
        assert reads[0] == reads[1] <= 3
        sb.clock(advance=30)
        answer, _st = cycle(sb, party)
        assert answer["read"] == 0 and answer["evaluated"] == 0


@pytest.mark.timeout(240)
def test_one_write_per_zendesk_escalation_without_a_customer_reply_and_two_with_one():
    no_reply = writes_per_escalation_run("zendesk", 400, policy="no-reply")
    assert no_reply["escalations"] > 20 and no_reply["writes_per_escalation"] == 1.0
    reply = writes_per_escalation_run("zendesk", 400, policy="three-tier")
    # Zendesk takes one comment per update: the note, then the customer reply.
    assert reply["escalations"] > 20 and reply["writes_per_escalation"] == 2.0


@pytest.mark.timeout(240)
def test_the_naive_poller_needs_more_requests_and_sees_less():
    n = 1_500
    with synced("zendesk", n) as (sb, party, _):
        tierlift = idle_reads(sb, party, 1)[0]
    with synced("zendesk", n, naive=True) as (sb, party, _):
        sb.clock(advance=30)
        answer, st = cycle(sb, party)
    assert st["reads"] == 10 > tierlift  # zenpy's search: 100 a page, up to the 1,000 cap
    assert answer["seen"] == 1_000 < n  # the Search API's cap: the rest is never evaluated
    naive = writes_per_escalation_run("zendesk", 400, policy="no-reply", naive=True)
    assert naive["writes_per_escalation"] >= 3  # group, tags, note: one call each


def test_the_engine_measure_runs_every_pack_with_and_without_the_triage_model():
    """run.py's first rows (it once called the engine benchmark with an old signature and
    the full run stopped at its first line)."""
    import importlib.util
    import sys
    from pathlib import Path

    # tests/floor has a run.py too: load this folder's by path, under its own name.
    spec = importlib.util.spec_from_file_location("bench_run", Path(__file__).with_name("run.py"))
    assert spec and spec.loader
    run = sys.modules["bench_run"] = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(run)
    got = run.engine(30, 1)
    assert sorted(got) == ["teamflow", "teamflow+triage", "three-tier", "three-tier+triage", "two-tier"]
    assert all(first > 0 and wake > 0 for first, wake in got.values())
