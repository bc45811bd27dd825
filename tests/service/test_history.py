"""`tierlift history`: one ticket's story after a real daemon run against the sandbox helpdesk.

What it says is checked against the sandbox's own store (the note and reply
on the ticket), and against the state's journal for what only it knows.
"""

from __future__ import annotations

import io
import json
import re
import shutil
from datetime import UTC, datetime

import pytest

from tierlift.sandbox import Sandbox
from tierlift.service.daemon.state import StateStore

from kit import cli, run_once, write_config
from servicekit import helpdesk

NOW = datetime(2026, 11, 2, 19, 0, tzinfo=UTC)
MARKER = "[tierlift escalation="


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """One daemon cycle on a frozen sandbox: the seed escalates 15 to L3 (severity-p1), refuses 23."""
    folder = tmp_path_factory.mktemp("history")
    with Sandbox("zendesk", tickets=40, seed=7, now=NOW) as sb:
        config = write_config(folder, [helpdesk("live", sb)], clock_url=sb.url)
        proc = run_once(config)
        assert proc.returncode == 0, proc.stderr
        yield sb, config, folder


def story(config, ticket: str, *args: str) -> dict:
    r = cli("history", "--config", str(config), ticket, "--json", *args)
    assert r.returncode == 0, r.stderr
    (one,) = json.loads(r.stdout)
    return one


def test_an_escalation_as_the_helpdesk_records_it(run):
    sb, config, _ = run
    s = story(config, "15")
    (move,) = [e for e in s["events"] if e["kind"] == "escalate"]
    assert move["summary"].startswith("L1 -> L3") and "severity-p1" in move["summary"]
    assert move["source"] == "state+helpdesk" and move["status"] == "done"
    # The note and the reply shown are the ones on the ticket, word for word.
    notes = [c["body"] for c in sb.store.comments[15] if not c["public"] and MARKER in c["body"]]
    replies = [c["body"] for c in sb.store.comments[15] if c["public"] and "escalated" in c["body"]]
    assert [move["note"]] == notes and f"escalation={move['escalation_id']} " in notes[0]
    assert [move["reply"]] == replies
    assert move["notifications"] and all(n["status"] == "sent" for n in move["notifications"])
    assert s["tier"] == 3 and s["status"] == "open"
    # The clocks are read at the daemon's clock (the frozen sandbox), not the wall clock.
    assert s["now"] == NOW.isoformat()
    assert {c["metric"] for c in s["clocks"]} == {"first_response", "resolution"}
    assert all(c["tier"] == 3 for c in s["clocks"])
    assert s["decision_now"]["actions"] == []  # the daemon has done what was due


def test_a_refused_manual_escalation_says_what_is_missing(run):
    sb, config, _ = run
    s = story(config, "23")
    (refusal,) = [e for e in s["events"] if e["kind"] == "refused"]
    assert refusal["summary"].startswith("L1 refused") and "manual" in refusal["summary"]
    assert refusal["source"] == "state+helpdesk"  # its marker is on the ticket
    assert refusal["note"] in [c["body"] for c in sb.store.comments[23] if not c["public"]]
    assert "missing" in refusal["note"].lower()
    assert s["tier"] == 1


def test_the_text_form(run):
    _, config, _ = run
    r = cli("history", "--config", str(config), "15")
    assert r.returncode == 0, r.stderr
    out = r.stdout
    assert out.startswith("ticket 15 on live (zendesk, policy three-tier):")
    assert "L1 -> L3 escalate" in out and "[state+helpdesk, done]" in out
    assert "    note:\n      | " in out and "    customer reply:\n      > " in out and "    notify " in out
    assert "clocks at 2026-11-02 19:00 UTC:\n  L3 first response:" in out
    assert "quarantine: no" in out


def test_without_the_state_the_helpdesk_notes_still_tell_the_moves(run, tmp_path):
    sb, _, _ = run
    config = write_config(tmp_path, [helpdesk("live", sb)], clock_url=sb.url)  # no state file here
    s = story(config, "15")
    (move,) = s["events"]
    assert move["source"] == "helpdesk" and move["summary"] == "L1 -> L3, rule severity-p1"
    # The helpdesk was read: its comments, and its changes where the connector loads them (Zendesk's audits).
    assert "state" not in s["sources"] and re.fullmatch(r"\d+ comments(, \d+ changes)?", s["sources"]["helpdesk"])


def test_offline_from_the_state_alone_with_the_quarantine(run, tmp_path):
    sb, config, folder = run
    shutil.copy(folder / "state.sqlite3", tmp_path / "state.sqlite3")
    copy = write_config(tmp_path, [helpdesk("live", sb)], clock_url=sb.url)
    store = StateStore(tmp_path / "state.sqlite3")
    store.quarantine("live", "15", "ticket 15: custom field 360000000102 is not a string", NOW)
    store.close()
    s = story(copy, "15", "--offline")
    assert s["sources"]["helpdesk"] == "not read (--offline)"
    assert s["sources"]["ticket"] == "the state's last snapshot"
    assert [e["kind"] for e in s["events"]] == ["escalate", "quarantined"]
    assert s["quarantine"][0]["error"].endswith("is not a string") and s["quarantine"][0]["attempts"] == 1
    assert s["clocks"] and s["tier"] == 3


def test_an_unknown_ticket_is_an_error_not_an_empty_story(run):
    _, config, _ = run
    r = cli("history", "--config", str(config), "99999")
    assert r.returncode == 1 and "ticket 99999: unknown to the state and to live" in r.stderr


def test_jira(tmp_path):
    with Sandbox("jira", tickets=40, seed=7, now=NOW) as sb:
        config = write_config(tmp_path, [helpdesk("live", sb)], clock_url=sb.url)
        assert run_once(config).returncode == 0
        s = story(config, "SUP-15")
        (move,) = [e for e in s["events"] if e["kind"] == "escalate"]
        bodies = [c["body"] for c in sb.store.issues["SUP-15"]["fields"]["comment"]["comments"]]
        assert move["source"] == "state+helpdesk" and move["note"] in bodies and move["reply"] in bodies
        assert s["now"] == NOW.isoformat() and s["tier"] == 3


def test_moves_made_by_people_are_told_with_who_made_them():
    # The helpdesk's record as the connectors load it (Ticket.history, TierMove.human):
    # a person's move is shown with the person, tierlift's own changes are not repeated.
    from datetime import timedelta

    from tierlift.engine.model import Change, Comment, Ticket, TierMove
    from tierlift.service.daemon.policies import load_policy
    from tierlift.service.tools.history import Story, _helpdesk_events

    t0 = NOW - timedelta(hours=3)
    ticket = Ticket("77", "Export fails", "...", "open", t0, NOW, tags=frozenset({"tier_l3"}),
                    comments=(Comment("agent-1", "looking", False, t0),),
                    history=(Change(t0 + timedelta(hours=1), "Dana Agent", "tags", added=("tier_l3",)),
                             Change(t0 + timedelta(hours=1), "Dana Agent", "team", "support-generalists",
                                    "engineering-oncall"),
                             Change(t0 + timedelta(minutes=5), "tierlift", "tags", added=("tier_l2",), automated=True)),
                    ledger=(TierMove(t0 + timedelta(hours=2), 3, 2, "manual", "", actor="Sam Lead", human=True),))
    story = Story("live", "zendesk", "three-tier", "77", NOW)
    _helpdesk_events(story, ticket, load_policy("three-tier"))
    told = sorted((e.at, e.kind, e.summary, e.by) for e in story.events)
    assert told == [
        (t0 + timedelta(hours=1), "moved-by-person", "team support-generalists -> engineering-oncall", "Dana Agent"),
        (t0 + timedelta(hours=1), "moved-by-person", "tier tag set to L3", "Dana Agent"),
        (t0 + timedelta(hours=2), "moved-by-person", "L3 -> L2, rule manual", "Sam Lead"),
    ]


def test_an_on_call_clock_reads_in_plain_time_with_its_breach_and_threshold():
    # three-tier: a P0 at L3 runs on call, 24x7, 30 minutes. history used the tier's
    # business calendar for it: "0 business minutes" on a Friday evening, no breach, and a
    # next threshold on Monday morning, while the engine counted the evening's minutes.
    from datetime import timedelta

    from tierlift.engine.model import Ticket
    from tierlift.service.daemon.policies import load_policy
    from tierlift.service.tools.history import Story, _clocks, render

    friday = datetime(2026, 11, 6, 23, 0, tzinfo=UTC)  # Friday 18:00 in New York
    ticket = Ticket("9", "Everything is down", "Production is down for everyone.", "open", friday, friday,
                    tags=frozenset({"p0", "tier_l3"}), comments=())
    story = Story("live", "zendesk", "three-tier", "9", friday + timedelta(minutes=40))
    _clocks(story, ticket, load_policy("three-tier"))
    first = next(c for c in story.clocks if c["metric"] == "first_response")
    assert (first["tier"], first["target"], first["elapsed"]) == (3, "30 minutes", "40 minutes"), first
    assert first["breached"] == "10 minutes ago" and first["percent"] == pytest.approx(133.3), first
    out = io.StringIO()
    render(story, out)
    assert "L3 first response: 40 minutes of 30 minutes used (133.3%), running, breached 10 minutes ago" in out.getvalue()
    assert "business" not in out.getvalue().split("clocks at", 1)[1].split("\n")[1], out.getvalue()


def test_a_quarantined_ticket_the_helpdesk_returns_is_not_called_missing(tmp_path):
    # Before: "helpdesk: not found" for a ticket the helpdesk served and the connector could
    # not read (the daemon quarantined it), which sends the operator looking for a deletion.
    with Sandbox("zendesk", tickets=5, seed=7, now=NOW) as sb:
        config = write_config(tmp_path, [helpdesk("live", sb)], clock_url=sb.url)
        assert run_once(config).returncode == 0
        sb.store.tickets[3]["status"] = "exploded"  # no Zendesk status: the mapping refuses it
        sb.store.tickets[3]["updated_at"] = "2026-11-02T18:59:00Z"
        store = StateStore(tmp_path / "state.sqlite3")
        store.quarantine("live", "3", "ticket 3: status 'exploded' is not a Zendesk status", NOW)
        store.close()
        s = story(config, "3")
    assert s["sources"]["helpdesk"] == "returned, but not readable: quarantined (below)", s["sources"]
    assert s["quarantine"] and "exploded" in s["quarantine"][0]["error"]


def test_a_long_breached_clock_prints_its_percent_in_whole_figures():
    # A P0 left at L3 for 400 days: 576,000 on-call minutes of 30. The percent printed
    # as "%g" read "(1.92e+06%)", which an operator has to decode; the JSON keeps the number.
    from datetime import timedelta

    from tierlift.engine.model import Ticket
    from tierlift.service.daemon.policies import load_policy
    from tierlift.service.tools.history import Story, _clocks, render

    friday = datetime(2026, 11, 6, 23, 0, tzinfo=UTC)
    ticket = Ticket("9", "Everything is down", "Production is down for everyone.", "open", friday, friday,
                    tags=frozenset({"p0", "tier_l3"}), comments=())
    story = Story("live", "zendesk", "three-tier", "9", friday + timedelta(days=400))
    _clocks(story, ticket, load_policy("three-tier"))
    first = next(c for c in story.clocks if c["metric"] == "first_response")
    assert first["percent"] == 1920000, first
    out = io.StringIO()
    render(story, out)
    said = out.getvalue()
    assert "of 30 minutes used (1,920,000%), running" in said, said
    assert "of 4 hours used (240,000%), running" in said, said
    assert "e+" not in said, said


def test_a_snapshot_without_its_history_says_undecided_not_nothing_due():
    # Offline, the ticket is the state's snapshot, which carries no audits: an L1 ticket
    # past 75% of its first-response target that changed since creation cannot be decided
    # (a person may have moved it away and back). History said "nothing due now" there.
    from tierlift.engine.model import Ticket
    from tierlift.service.daemon.policies import load_policy
    from tierlift.service.tools.history import Story, _decision_now, render

    created = datetime(2026, 11, 2, 14, 0, tzinfo=UTC)
    t = Ticket(id="8", subject="Export settings", description="Where do I change the export format?", status="open",
               created_at=created, updated_at=created.replace(hour=15), version="2", tags=frozenset({"tier_l1"}))
    d = _decision_now(t, load_policy("three-tier"), datetime(2026, 11, 3, 19, 0, tzinfo=UTC))
    assert d["actions"] == [] and d["undecided"] and "threshold due" in d["undecided"], d
    out = io.StringIO()
    render(Story("live", "zendesk", "three-tier", "8", NOW, ticket=t, decision=d, tier=1), out)
    assert "due now: undecided without the ticket's history (L1 first response threshold due" in out.getvalue()
    assert "nothing due now" not in out.getvalue()


def test_a_customers_control_characters_are_shown_escaped_not_sent_to_the_terminal():
    # A subject carrying ESC sequences was quoted raw into the reply, and `history` printed
    # them, colouring (or rewriting) the reader's terminal.
    from tierlift.engine.model import Comment, Ticket
    from tierlift.service.tools.history import Event, Story, render

    created = datetime(2026, 11, 2, 14, 0, tzinfo=UTC)
    t = Ticket(id="8", subject="Red \x1b[31malert\x1b[0m", description="d", status="open", created_at=created,
               updated_at=created, version="1", comments=(Comment("c", "x\u2028y", True, created),))
    e = Event(created, "escalate", "L1 -> L2 (sla-75pct)", "state", status="done",
              note="Customer wrote: \x1b[2Jcleared", reply="Hello\rWorld")
    out = io.StringIO()
    render(Story("live", "zendesk", "three-tier", "8", NOW, ticket=t, events=[e], tier=2), out)
    text = out.getvalue()
    assert "\x1b" not in text and "\r" not in text, text
    assert "\\x1b[2Jcleared" in text and "> Hello\n      > World" in text, text


def test_a_clock_stopped_past_its_target_reads_met_late_not_met():
    # QA (reports): "L3 first response: 53 minutes of 30 minutes used (176.7%), met", while
    # the report counted the same clock as breached.
    from datetime import timedelta

    from tierlift.engine.model import Comment, Ticket
    from tierlift.service.daemon.policies import load_policy
    from tierlift.service.tools.history import Story, _clocks, render

    friday = datetime(2026, 11, 6, 23, 0, tzinfo=UTC)
    late = Comment("eve", "Looking into it now.", True, friday + timedelta(minutes=53), by_agent=True)
    ticket = Ticket("9", "Everything is down", "Production is down for everyone.", "open", friday, friday,
                    tags=frozenset({"p0", "tier_l3"}), comments=(late,))
    story = Story("live", "zendesk", "three-tier", "9", friday + timedelta(hours=2))
    _clocks(story, ticket, load_policy("three-tier"))
    first = next(c for c in story.clocks if c["metric"] == "first_response")
    assert first["state"] == "met late", first
    out = io.StringIO()
    render(story, out)
    assert "L3 first response: 53 minutes of 30 minutes used (176.7%), met late" in out.getvalue(), out.getvalue()


def test_without_helpdesk_only_the_helpdesks_that_know_the_ticket_are_asked(tmp_path):
    # QA (fleet): `history 3` without --helpdesk printed nothing for 2 minutes while one of 20
    # helpdesks hung; the ticket was another helpdesk's.
    with Sandbox("zendesk", tickets=5, seed=7, now=NOW) as known, Sandbox("jira", tickets=0, now=NOW) as other:
        config = write_config(tmp_path, [helpdesk("known", known), helpdesk("other", other)], clock_url=known.url)
        assert run_once(config).returncode == 0
        other.set_down(True)
        asked = len(other.requests_log())
        s = story(config, "3")
        assert s["helpdesk"] == "known" and len(other.requests_log()) == asked, s.get("helpdesk")


def test_a_new_tickets_p0_in_the_first_sync_is_not_told_as_held_back(tmp_path):
    """QA (systemd): a P0 opened minutes before the first sync got its customer reply and page
    (README, "Going live"), and history said "first-sync: customer reply and pages held back"
    right above them. A backlog ticket's escalation still says it."""
    with Sandbox("zendesk", tickets=0, seed=3, now=NOW) as sb:
        fresh, old = sb.control("POST", "tickets", {"tickets": [
            {"subject": "Checkout down", "description": "Checkout is down for everyone.", "tags": ["p0"],
             "created_at": "2026-11-02T18:55:00Z"},
            {"subject": "Checkout down", "description": "Checkout is down for everyone.", "tags": ["p0"],
             "created_at": "2026-10-30T18:55:00Z"}]})[1]["ids"]
        config = write_config(tmp_path, [helpdesk("hd", sb, first_sync="quiet")], clock_url=sb.url)
        r = run_once(config)
        assert r.returncode == 0, r.stderr
        told = {t: cli("history", "--config", str(config), str(t), "--offline").stdout for t in (fresh, old)}
    assert "held back" not in told[fresh], told[fresh]
    assert "first-sync: customer reply and pages held back" in told[old], told[old]


def test_a_shadows_story_reads_plainly():
    # QA (a new adopter, 2026-12-07): `history` of a shadow entry printed "LNone" for a ticket
    # at a tier its policy lacks, and a plan's status "done (dry run): first-sync: customer
    # reply and pages held back dry-run".
    from tierlift.engine.model import Ticket
    from tierlift.service.daemon.state import Intent
    from tierlift.service.tools.history import Story, _intent_event, render

    created = datetime(2026, 11, 2, 14, 0, tzinfo=UTC)
    t = Ticket(id="3", subject="API down for everyone", description="d", status="open", created_at=created,
               updated_at=created, version="1", tags=frozenset({"tier_l3"}))
    plan = Intent("shadow", "e1", "3", "escalate", 1, 2, "severity-p0", "tier2", "{}", "done", created,
                  detail="first-sync: customer reply and pages held back dry-run", planned=True)
    event = _intent_event(plan, {})
    assert event.status == "done (dry run): first-sync: customer reply and pages held back", event.status
    assert _intent_event(replace_detail(plan, "dry-run"), {}).status == "done (dry run)"
    out = io.StringIO()
    render(Story("shadow", "zendesk", "two-tier", "3", NOW, ticket=t, events=[event], tier=None), out)
    assert "LNone" not in out.getvalue() and "at a tier this policy does not have" in out.getvalue()
    # QA (qa10 F10, qa11): the rehearsal's imagined tiers and the clocks read as one story.
    assert "(as the helpdesk has the ticket: the dry run's plans above moved nothing)" in out.getvalue()


def replace_detail(intent, detail):
    from dataclasses import replace

    return replace(intent, detail=detail)


def test_a_jira_key_in_lower_case_is_the_issue_and_offline_asks_no_helpdesk(tmp_path):
    # QA (a new adopter, 2026-12-07): `history sup-28` was "unknown" (Jira takes it), and
    # `history 99 --offline` said "unknown to the state and to sandbox-jira", never asked.
    with Sandbox("jira", tickets=40, seed=7, now=NOW) as sb:
        config = write_config(tmp_path, [helpdesk("live", sb)], clock_url=sb.url)
        assert run_once(config).returncode == 0
        lower = cli("history", "sup-15", "--config", str(config), "--offline")
        assert lower.returncode == 0 and lower.stdout.startswith("ticket SUP-15 on live"), lower.stderr
        missing = cli("history", "SUP-999", "--config", str(config), "--offline")
        assert missing.returncode == 1 and missing.stderr.strip() == "ticket SUP-999: unknown to the state"
