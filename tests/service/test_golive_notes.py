"""What the ticket's note says when a quiet first sync holds back its reply and page.

QA (a support lead going live): a P1's note at go-live said "tierlift paged outage-response"
when nobody was paged, and a quiet P0's note said nothing of a page, so the agents could not
tell from the ticket that on-call had not been told."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from tierlift.engine.evaluate import evaluate
from tierlift.engine.marker import format_marker, parse_markers
from tierlift.engine.model import (
    Decision,
    InternalNote,
    Notify,
    Organization,
    PublicReply,
    SetPriority,
    Ticket,
)
from tierlift.service.daemon.config_models import HelpdeskOptions
from tierlift.service.daemon.golive import GoLive
from tierlift.service.daemon.policies import load_policy

NOW = datetime(2026, 11, 4, 15, 0, tzinfo=UTC)
OLD = NOW - timedelta(days=2)  # backlog: answered two days ago, nothing since


def backlog(**kw) -> Ticket:
    base = dict(id="15", subject="Data integrity issue", description="Some rows look wrong.", status="open",
                created_at=OLD, updated_at=OLD, version="v1", first_reply_at=OLD,
                organization=Organization("9", "Acme", "pro", 1000.0, 80.0, "a@acme.example"))
    return Ticket(**{**base, **kw})


def quiet() -> GoLive:
    g = GoLive("hd", HelpdeskOptions(first_sync="quiet"))
    g.start_cycle(lambda name: {"last_ok": None}, "hd (dry run)")  # never completed a cycle
    return g


def note_of(decision: Decision) -> str:
    [note] = [a.body for a in decision.actions if isinstance(a, InternalNote)]
    return note


def test_a_held_escalation_note_says_the_reply_and_page_were_held_and_keeps_its_marker():
    ticket = backlog(tags=frozenset({"p1"}))
    decision = evaluate(ticket, load_policy("three-tier"), NOW)
    assert any(isinstance(a, Notify) for a in decision.actions), decision.reasons
    reduced = quiet().reduce(decision, ticket, NOW)
    assert not any(isinstance(a, (Notify, PublicReply)) for a in reduced.actions)
    note = note_of(reduced)
    assert "Go-live (first_sync: quiet): the customer reply and the page to slack_oncall held back" in note, note
    assert "nobody was paged" in note
    assert note.splitlines()[-1].startswith("[tierlift escalation=")  # the marker stays the last line
    assert [m.escalation_id for m in parse_markers([note])] == [decision.escalation_id]


def test_a_note_that_says_tierlift_paged_says_the_page_was_held_instead():
    marker = format_marker("0123456789abcdef", 3, 3, "severity-p1", NOW)
    said = ("P1 on ticket 15, already at L3 (Engineering): tierlift paged outage-response and set its priority"
            " to urgent (Jira: Highest).")
    decision = Decision("15", 3, 3, (SetPriority("urgent"), InternalNote(f"{said}\n\n{marker}"),
                                     Notify("outage-response", "[P1] Ticket 15", "P1")), ("p1 at L3",), None,
                        rule="severity-p1", escalation_id="0123456789abcdef", kind="escalate")
    note = note_of(quiet().reduce(decision, backlog(tags=frozenset({"p1", "tier_l3"})), NOW))
    assert "tierlift paged" not in note, note
    assert "tierlift held back its page to outage-response and set its priority to urgent" in note, note
    assert note.endswith(marker)


def test_a_go_live_after_a_rehearsal_is_quiet_until_a_live_cycle_completes_and_looked_at_once():
    """The rehearsal is looked at when the worker begins: a `run --dry-run` beside the live
    replicas (a shared PostgreSQL state) must not make the live entry's next cycle a quiet one,
    holding back the replies and pages of that cycle's escalations."""
    t1, t2, t3 = NOW - timedelta(days=1), NOW - timedelta(hours=1), NOW
    status = {"hd": {"last_ok": t1}, "hd (dry run)": {"last_ok": t2}}
    after = GoLive("hd", HelpdeskOptions(first_sync="quiet"))
    after.start_cycle(status.__getitem__, "hd (dry run)")
    assert after.first_sync  # live again after a day's rehearsal: the spell's thresholds are backlog
    after.start_cycle(status.__getitem__, "hd (dry run)")
    assert after.first_sync  # no live cycle completed yet (a restart in the middle of it)
    status["hd"] = {"last_ok": t3}
    after.start_cycle(status.__getitem__, "hd (dry run)")
    assert not after.first_sync
    running = GoLive("hd", HelpdeskOptions(first_sync="quiet"))
    status = {"hd": {"last_ok": t2}, "hd (dry run)": {"last_ok": None}}
    running.start_cycle(status.__getitem__, "hd (dry run)")
    assert not running.first_sync
    status["hd (dry run)"] = {"last_ok": t3}  # a rehearsal beside the running daemon
    running.start_cycle(status.__getitem__, "hd (dry run)")
    assert not running.first_sync


def test_the_first_sync_line_counts_tickets_as_status_lists_them(caplog):
    """QA (F10): the log said "37 escalation(s) ... 42 decision(s) held back" and `status` "36
    ticket(s) ... 41": one ticket moved twice in the first sync, and a page at the tier counted
    as an escalation. Tickets are counted as tickets, the decisions apart."""
    import logging
    import re

    g, ticket = quiet(), backlog(tags=frozenset({"tier_l1"}))

    def move(before: int, after: int, esc: str, kind: str = "escalate") -> Decision:
        return Decision("15", before, after, (InternalNote("moved"), PublicReply("escalated"),
                                              Notify("oncall", "[L3]", "x")), ("r",), None, rule="r",
                        escalation_id=esc, kind=kind)

    for d in (move(1, 2, "e1"), move(2, 3, "e2"), move(3, 3, "e3", kind="page")):
        g.reduce(d, ticket, NOW)
    with caplog.at_level(logging.INFO, logger="tierlift.cycle"):
        g.summary("were written")
    said = re.search(r"first sync helpdesk=hd: (\d+) ticket\(s\) already past a threshold: .* (\d+) decision\(s\)"
                     r" held back in all, and (\d+) other decision\(s\) without their page", caplog.text)
    assert said and (said[1], said[2], said[3]) == ("1", "2", "1"), caplog.text


def test_a_dry_run_that_meets_the_reply_cap_says_nothing_was_sent(caplog):
    """QA (F10): a dry run logged the live daemon's WARNING "25 customer replies this cycle",
    also on `plan`'s stderr, when nothing was sent."""
    import logging

    def reply(esc: str) -> Decision:
        return Decision("15", 1, 2, (InternalNote("moved"), PublicReply("escalated")), ("r",), None, rule="r",
                        escalation_id=esc, kind="escalate")

    for planning in (True, False):
        caplog.clear()
        g = GoLive("hd", HelpdeskOptions(max_public_replies_per_cycle=1), planning=planning)
        with caplog.at_level(logging.INFO, logger="tierlift.cycle"):
            assert [g.over_cap(reply(e)) for e in ("e1", "e2", "e3")] == [False, True, True]
        [record] = [r for r in caplog.records if "public reply cap" in r.getMessage()]
        if planning:
            assert record.levelno == logging.INFO and "dry run: none was sent" in record.getMessage()
        else:
            assert record.levelno == logging.WARNING and "none was sent" not in record.getMessage()


def test_status_lists_the_latest_go_lives_held_back_tickets_and_the_paged_ones():
    """QA (qa11 N2): after going live again, `status` added both go-lives up (38 tickets and
    69 decisions, the log 27 and 28), listing the first go-live's tickets for the teams to
    work; and it said "without ... pages" of live incidents whose page had gone."""
    import json

    from tierlift.service.daemon.store.base import Intent
    from tierlift.service.tools.status import _first_sync_quiet

    def held(eid: str, tid: str, at: datetime, key: str | None, notify: bool = False) -> Intent:
        g = quiet()
        if key is not None:  # a go-live after an earlier live cycle
            g.start_cycle(lambda name: {"last_ok": key} if name == "hd" else {"last_ok": None}, "hd (dry run)")
        g.first_sync, g.held, g.held_kinds = True, {tid: ["customer reply (first_sync: quiet)"]}, {tid: {"customer reply"}}
        actions = [{"type": "internal_note", "body": "moved"}] + ([{"type": "notify", "channel": "p"}] if notify else [])
        return Intent("hd", eid, tid, "escalate", 1, 2, "r", "t", json.dumps({"actions": actions}), "done", at,
                      detail=g.detail("", tid))

    first = [held(f"a{n}", str(n), OLD, None) for n in (1, 2, 3)]
    again = NOW - timedelta(hours=1)
    second = [held("b4", "4", again, NOW - timedelta(hours=30), notify=True), held("b1", "1", again,
                                                                                     NOW - timedelta(hours=30))]
    quiet_now = _first_sync_quiet(first + second)
    assert (quiet_now["escalated"], quiet_now["decisions"], quiet_now["paged"]) == (["1", "4"], 2, ["4"]), quiet_now
    assert _first_sync_quiet(first)["escalated"] == ["1", "2", "3"]


def test_a_live_incidents_record_says_its_page_went_and_only_the_reply_was_held():
    """QA (qa11, F3's residue): `history` labelled a live incident's go-live move "customer reply
    and pages held back" right above its page, marked sent."""
    g = quiet()
    live = backlog(updated_at=NOW - timedelta(minutes=10), tags=frozenset({"p0"}))
    old = backlog(id="16", tags=frozenset({"p0"}))

    def incident(tid: str) -> Decision:
        return Decision(tid, 1, 3, (InternalNote("moved"), PublicReply("escalated"), Notify("pagerduty", "[P0]", "x")),
                        ("p0",), None, rule="severity-p0", escalation_id=f"e{tid}", kind="escalate")

    g.reduce(incident("15"), live, NOW)
    g.reduce(incident("16"), old, NOW)
    assert g.detail("", "15") == ("first-sync: customer reply held back (a live incident: its page went)"
                                  " (at the first go-live)"), g.detail("", "15")
    assert g.detail("", "16") == "first-sync: customer reply and pages held back (at the first go-live)"
