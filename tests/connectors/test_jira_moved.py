"""An issue whose key changed (moved to another project, or out and back) is followed under its new
key only, and one moved out of the scope is written to no more.

Jira answers a read by an old key with the moved issue under its new key (it redirects old keys),
and a write by the old key lands on the moved issue. QA (2026-12): SUP-2 escalated L1 -> L2 was
moved out and back as SUP-30; at the next wake-up `run --once` wrote L2 -> L3 on SUP-30 AND on
SUP-2 (two notes, two identical customer replies), and an issue moved to project OPS was still
edited and answered under its old key. tierlift keyed tickets by key and never compared the key it
read by with the key that came back. Judged from the sandbox's record: its comments and the
requests it served.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from tierlift.connectors.base import Secret
from tierlift.connectors.errors import TicketGone
from tierlift.connectors.jira import JiraConnector, JiraSettings
from tierlift.engine.model import AddTags, InternalNote, PublicReply, Reassign
from tierlift.sandbox import Sandbox
from tierlift.service.daemon.state import StateStore

from kit import parse_markers, run_once, write_config

NOW = datetime(2026, 11, 2, 15, 0, tzinfo=UTC)


def helpdesk(sb: Sandbox) -> dict[str, object]:
    return {"name": "hd", "kind": "jira", "url": sb.url, "email": "bot@example.com", "token": "${SANDBOX_TOKEN}",
            "policy": "three-tier", "project": "SUP", "first_sync": "full", "max_public_replies_per_cycle": 0,
            "retry_attempts": 2, "max_retry_wait": "2s"}


def moves(issue: dict) -> list[tuple[int, int]]:
    return [(m.from_tier, m.to_tier) for c in issue["fields"]["comment"]["comments"] for m in parse_markers([c["body"]])]


def public_by_bot(issue: dict) -> list[str]:
    return [c["body"] for c in issue["fields"]["comment"]["comments"]
            if c["jsdPublic"] and c["author"]["accountId"] == "acc-tierlift-bot"]


def at_l2(sb: Sandbox) -> list[str]:
    """Issues tierlift moved L1 -> L2 and nothing else yet."""
    return [k for k in sb.store.issues if moves(sb.store.issues[k]) == [(1, 2)]
            and "tier_l2" in sb.store.issues[k]["fields"]["labels"]]


def test_a_moved_issue_is_escalated_once_under_its_new_key_and_one_moved_out_not_at_all(tmp_path):
    with Sandbox("jira", tickets=30, seed=7, now=NOW) as sb:
        config = write_config(tmp_path, [helpdesk(sb)], clock_url=sb.url)
        assert run_once(config).returncode == 0
        back, away = at_l2(sb)[:2]
        new = sb.store.move_issue(sb.store.move_issue(back, "OPS"), "SUP")  # out and back: a new SUP key
        ops = sb.store.move_issue(away, "OPS")
        replies_before = {k: len(public_by_bot(sb.store.issues[k])) for k in (new, ops)}
        sb.clock.advance(timedelta(hours=8))  # L2's SLA falls due
        sb.reset_log()
        proc = run_once(config)
        assert proc.returncode == 0, proc.stderr
        served = sb.requests_log()
        moved_issue, ops_issue = sb.store.issues[new], sb.store.issues[ops]
    # The issue that came back: L2 -> L3 once, one customer reply more.
    assert moves(moved_issue) == [(1, 2), (2, 3)], moves(moved_issue)
    assert len(public_by_bot(moved_issue)) == replies_before[new] + 1
    # The issue moved to OPS: nothing written.
    assert moves(ops_issue) == [(1, 2)] and len(public_by_bot(ops_issue)) == replies_before[ops]
    # Nothing written under either old key; each was read once, and dropped.
    for old in (back, away):
        under = [(r["method"], r["path"]) for r in served if r["path"].rstrip("/").split("/")[-1] == old
                 or f"/{old}/" in r["path"]]
        assert all(method == "GET" for method, _ in under), under
    assert not [r for r in served if r["write"] and ops in r["path"]]
    assert f"issue {back} is now {new}; followed under its new key" in proc.stderr
    assert f"issue {away} moved out of project SUP to {ops}; no longer watched" in proc.stderr
    store = StateStore(tmp_path / "state.sqlite3")
    try:
        assert store.get("hd", [back, away]) == {}  # gone from the index: `status` counts the issue once
        assert new in store.get("hd", [new])
    finally:
        store.close()


@pytest.fixture
def sb():
    with Sandbox("jira", tickets=5, seed=3, now=NOW) as sb:
        yield sb


def connector(url: str, **scope: str | None) -> JiraConnector:
    c = JiraConnector(JiraSettings("jira", url, "bot@example.com", Secret("good-token-1"), backoff=0.01, **scope),
                      sleep=lambda s: None)
    c.open()
    return c


def pages(c: JiraConnector, cursor: str | None) -> tuple[list, str | None]:
    out = list(c.changes(cursor))
    return [t for p in out for t in p.tickets], (out[-1].cursor if out else cursor)


def test_an_old_key_the_search_showed_moved_is_written_to_no_more_not_even_after_a_restart(sb):
    """A note or labels alone (no move, no reply) are written without a read: the search's
    changelog ('Key' SUP-2 -> SUP-6) tells, and the cursor keeps it for the next process."""
    c = connector(sb.url)
    tickets, cursor = pages(c, None)
    ticket = next(t for t in tickets if t.id == "SUP-2")
    new = sb.store.move_issue(sb.store.move_issue("SUP-2", "OPS"), "SUP")
    sb.clock.advance(timedelta(minutes=5))
    tickets, cursor = pages(c, cursor)
    assert new in [t.id for t in tickets]  # the search finds it under its new key
    c.close()
    c = connector(sb.url)  # a new process: what it knows of the move is in the cursor
    pages(c, cursor)
    sb.reset_log()
    with pytest.raises(TicketGone, match=f"issue SUP-2 is now {new}; followed under its new key"):
        c.apply(ticket, [AddTags(("vip",)), InternalNote("note")], "e1")
    assert sb.requests_log() == []
    c.close()


def test_a_read_by_an_old_key_says_where_the_issue_went(sb):
    c = connector(sb.url)
    ticket = next(t for t in pages(c, None)[0] if t.id == "SUP-2")
    ops = sb.store.move_issue("SUP-2", "OPS")
    with pytest.raises(TicketGone, match=f"issue SUP-2 moved out of project SUP to {ops}; no longer watched"):
        c.with_comments(replace(ticket, comments=None))
    c.close()


@pytest.mark.parametrize("action", [Reassign("support-specialists"), PublicReply("We are on it.")])
def test_a_move_or_a_reply_reads_the_issue_first_and_goes_nowhere_once_it_left_the_scope(sb, action):
    c = connector(sb.url, project=None, jql="project = SUP AND statusCategory != Done")
    ticket = next(t for t in pages(c, None)[0] if t.id == "SUP-3")
    ops = sb.store.move_issue("SUP-3", "OPS")
    sb.reset_log()
    with pytest.raises(TicketGone, match=f"issue SUP-3 is now {ops}, outside the helpdesk's scope; no longer watched"):
        c.apply(ticket, [AddTags(("vip",)), action, InternalNote("note")], "e2")
    assert not [r for r in sb.requests_log() if r["write"]]
    c.close()
