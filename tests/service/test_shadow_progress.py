"""A dry run's own progress: a shadow keeps it across restarts, `status` shows it.

QA (a new operator following the README): a shadow beside the live entry re-ran its
first sync at every start (its private copy of the state was made anew, its cursor and
last ok never kept), planned the same escalation of one ticket twice, and `status`
showed it as never run (`cursor: (none: first sync pending)`, `open tickets: 0`,
`last ok: -`), as it did after eight `run --dry-run` cycles of the live entry itself."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta

from tierlift.sandbox import Sandbox
from tierlift.service.daemon.state import StateStore

from kit import cli, run_once, write_config
from servicekit import helpdesk

NOW = datetime(2026, 11, 2, 13, 30, tzinfo=UTC)
PLANNED = r"planned helpdesk=shadow ticket=(\S+) tier=L(\d)->L(\d) rule=(\S+) team=(?:\"[^\"]*\"|\S+) kind=(\S+)"


def _status(config) -> dict:
    r = cli("status", "--config", str(config), "--json")
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)["helpdesks"]


def test_a_shadow_keeps_its_progress_across_restarts_and_plans_a_move_once(tmp_path):
    with Sandbox("zendesk", tickets=40, seed=7, now=NOW) as sb:
        config = write_config(tmp_path, [helpdesk("live", sb, first_sync="quiet"),
                                         helpdesk("shadow", sb, policy="two-tier", dry_run=True)],
                              clock_url=sb.url)
        runs = []
        for _ in range(3):  # three starts, a few minutes apart: the live side writes in between
            proc = run_once(config)
            assert proc.returncode == 0, proc.stderr[-3000:]
            runs.append(proc.stderr)
            sb.clock.advance(timedelta(minutes=2))
        status = _status(config)
        text = cli("status", "--config", str(config)).stdout
    shadow = status["shadow"]
    # Its own progress, under its own name: where it read up to, its index and wake-ups, last ok.
    assert shadow["cursor"] and shadow["health"]["last_ok"], shadow
    assert shadow["open_tickets"] > 0 and shadow["next_wake_ups"], shadow
    assert shadow["plans"]["count"] > 0
    block = text.split("helpdesk shadow", 1)[1]
    assert "first sync pending" not in block and "last ok:         -" not in block, text
    assert "decision(s) planned, none written" in block, text
    # A restart reads on from its cursor: no second first sync, so no ticket of the backlog
    # is read (and planned) again, and no move of one ticket is planned twice.
    moves = [m for run in runs for m in re.findall(PLANNED, run) if m[4] != "reminder"]
    assert moves and len(moves) == len(set(moves)), moves
    s = StateStore(tmp_path / "state.sqlite3")
    plans = [(p.ticket_id, p.kind, p.tier_before, p.tier_after, p.rule) for p in s.plans("shadow")
             if p.kind != "reminder"]
    journal = {i.helpdesk for i in s.intents()}
    s.close()
    assert plans and len(plans) == len(set(plans)), plans
    assert journal == {"live"}  # the shadow's progress is never a journal row


def test_status_shows_a_dry_run_of_the_live_entry_apart_from_the_entry(tmp_path):
    # `run --once --dry-run` of a live entry rehearses it: status shows where the rehearsal
    # read up to and its plans, and the entry's own progress stays that of the live runs.
    with Sandbox("zendesk", tickets=40, seed=7, now=NOW) as sb:
        config = write_config(tmp_path, [helpdesk("hd", sb, first_sync="quiet")], clock_url=sb.url)
        dry = run_once(config, "--dry-run")
        assert dry.returncode == 0, dry.stderr[-3000:]
        assert "tierlift status` lists the tickets" in dry.stderr
        status = _status(config)["hd"]
        text = cli("status", "--config", str(config)).stdout
        assert status["cursor"] is None and status["health"]["last_ok"] is None  # the live entry never ran
        rehearsal = status["dry_run"]
        assert rehearsal["cursor"] and rehearsal["health"]["last_ok"] and rehearsal["open_tickets"] > 0
        assert rehearsal["plans"]["count"] > 0 and rehearsal["first_sync_quiet"]["escalated"]
        assert "dry run (run --dry-run" in text and "decision(s) planned, none written" in text, text
        assert "planned without their customer reply or pages" in text, text
        # The live run after it is still the entry's quiet first sync.
        live = run_once(config)
        assert live.returncode == 0
        assert re.search(r"first sync helpdesk=hd: \d+ ticket\(s\) already past", live.stderr), live.stderr[-3000:]


def test_status_counts_what_a_quiet_first_sync_held_back_as_its_log_line_does(tmp_path):
    # QA: the log said 16 held back, status "18 ticket(s) escalated without customer reply or
    # page", listing a refused manual escalation, a de-escalation and the triage reviews.
    with Sandbox("zendesk", tickets=40, seed=7, now=NOW) as sb:
        config = write_config(tmp_path, [helpdesk("hd", sb, first_sync="quiet")], clock_url=sb.url)
        proc = run_once(config)
        assert proc.returncode == 0, proc.stderr[-3000:]
        text = cli("status", "--config", str(config)).stdout
    held = int(re.search(r"first sync helpdesk=hd: .*: (\d+) decision\(s\) held back in all", proc.stderr)[1])
    kinds: dict[str, set[str]] = {}
    for tid, kind in re.findall(r"helpdesk=hd ticket=(\S+) tier=L\d->L\d rule=\S+ team=(?:\"[^\"]*\"|\S+) kind=(\S+)",
                                proc.stderr):
        kinds.setdefault(kind, set()).add(tid)
    assert kinds.get("refused") or kinds.get("de-escalate"), kinds  # decisions that hold nothing back
    line = re.search(r"first sync:\s+(\d+) ticket\(s\) escalated without their customer reply or pages"
                     r" \(first_sync: quiet(?:, (\d+) of them live incidents whose page went)?\): tickets ([\d, ]+)",
                     text)
    assert line, text
    # The live incidents are said as the log says them (qa11: status said "without ... pages").
    paged = re.search(r"\((\d+) of them live incidents, paged\)", proc.stderr)
    assert line[2] == (paged[1] if paged else None), text
    escalated = set(line[3].split(", "))
    assert int(line[1]) == len(escalated)
    assert not escalated & (kinds.get("refused", set()) | kinds.get("de-escalate", set())), (escalated, kinds)
    reviews = re.search(r"and (\d+) triage review\(s\) without their page: tickets [\d, ]+: (\d+) decision", text)
    assert reviews and int(reviews[2]) == held == int(line[1]) + int(reviews[1]), (held, text)


def _public_comments(sb) -> int:
    return sum(1 for cs in sb.store.comments.values() for c in cs if c.get("public"))


def test_going_live_again_after_a_rehearsal_is_a_quiet_first_sync(tmp_path):
    """QA (a support lead going live after a policy change): the entry went back to a dry run
    for a day and then live again; resuming from its own cursor, it sent in one cycle every
    customer e-mail and page of the thresholds passed meanwhile (29 replies, two L4 pages).
    What fell due during a rehearsal is backlog, as at the first go-live."""
    with Sandbox("zendesk", tickets=40, seed=7, now=NOW) as sb:
        config = write_config(tmp_path, [helpdesk("hd", sb, first_sync="quiet")], clock_url=sb.url)
        for _ in range(2):  # live: the quiet first sync, then a cycle past it
            assert run_once(config).returncode == 0
        sb.clock.advance(timedelta(days=1))  # a day's rehearsal: thresholds pass, nothing is written
        dry = run_once(config, "--dry-run")
        assert dry.returncode == 0, dry.stderr[-3000:]
        sb.clock.advance(timedelta(minutes=5))
        replies, notes = _public_comments(sb), sum(len(cs) for cs in sb.store.comments.values())
        live = run_once(config)
        assert live.returncode == 0, live.stderr[-3000:]
        held = re.search(r"first sync helpdesk=hd: (\d+) ticket\(s\) already past", live.stderr)
        assert held and int(held[1]) > 0, live.stderr[-3000:]
        written = sum(len(cs) for cs in sb.store.comments.values()) - notes
        assert written > 0 and _public_comments(sb) == replies, "the backlog's customer replies went out"
        # The next cycle is no first sync: what falls due from now on is answered as ever.
        sb.clock.advance(timedelta(minutes=2))
        after = run_once(config)
        assert after.returncode == 0 and "first sync helpdesk=hd" not in after.stderr, after.stderr[-3000:]
        # The rehearsal is said to be an earlier one, not the current (qa11: still read as current).
        text = cli("status", "--config", str(config)).stdout
        assert "dry run (an earlier rehearsal, its own progress: the entry has run live since" in text, text


def test_a_restarted_rehearsal_goes_on_where_it_stopped(tmp_path):
    """QA (a support-ops lead, a multi-day `dry_run: true` rehearsal, Zendesk three-tier): a
    restart began the rehearsal again half-way, with a second first sync ("32 escalation(s)
    ... would be written") and a second, partial set of moves: ticket 10 at L3 in the record,
    then "L1 -> L2" again, and the planned counts a lead approves going live on inflated."""
    with Sandbox("zendesk", tickets=40, seed=7, now=NOW) as sb:
        config = write_config(tmp_path, [helpdesk("trial", sb, dry_run=True, first_sync="quiet")], clock_url=sb.url)
        runs = []
        for minutes in (0, 30, 90):  # three starts of the rehearsing daemon
            sb.clock.advance(timedelta(minutes=minutes))
            proc = run_once(config)
            assert proc.returncode == 0, proc.stderr[-3000:]
            runs.append(proc.stderr)
        status = _status(config)
        text = cli("status", "--config", str(config)).stdout
    assert "its own progress, a restart goes on from it" in text, text
    assert "first sync helpdesk=trial" in runs[0], runs[0][-3000:]
    assert not any("first sync helpdesk=trial" in run for run in runs[1:]), runs[1][-3000:]
    planned = r"planned helpdesk=trial ticket=(\S+) tier=L(\d)->L(\d) rule=(\S+) team=(?:\"[^\"]*\"|\S+) kind=(\S+)"
    moves = [m[:3] for run in runs for m in re.findall(planned, run) if m[4] != "reminder"]
    assert moves and len(moves) == len(set(moves)), sorted(moves)
    s = StateStore(tmp_path / "state.sqlite3")
    plans = [(p.ticket_id, p.tier_before, p.tier_after) for p in s.plans("trial") if p.kind != "reminder"]
    replies = sum('"public_reply"' in p.decision for p in s.plans("trial"))
    s.close()
    assert len(plans) == len(set(plans)), sorted(plans)
    assert status["trial"]["dry_run"]["health"]["last_ok"], status["trial"]
    # What going live would have written, summed up (qa10 F4: a lone dry run had no summary).
    summary = status["trial"]["plans"]
    assert summary["escalations"] == sum(b > a for _t, a, b in plans) > 0, summary
    assert summary["customer_replies"] == replies, summary
    assert f"they would have written {summary['escalations']} move(s) up and {replies} customer reply(ies)" in text
