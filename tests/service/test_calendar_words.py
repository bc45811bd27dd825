"""Durations and instants read as the calendar counts them (issue 23, item 7).

`history` printed "0m of 1d" for a 24 business-hour target, the report's
median "33 hours 20 minutes", `status` a raw cursor and
`2026-11-02 19:00:00+00:00`. Each now reads in words: business time in the
calendar's business days and hours, wall-clock spans in days and hours,
instants to the minute in UTC with how far they are from the daemon's now.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta

import pytest
import requests

from tierlift.engine.durations import format_elapsed
from tierlift.sandbox import Sandbox
from tierlift.service.ops.webhooks import zendesk_signature

from kit import Daemon, cli, free_port, run_once, write_config
from servicekit import helpdesk

NOW = datetime(2026, 11, 2, 19, 0, tzinfo=UTC)  # Monday 14:00 in New York
RAW = re.compile(r"\b\d+[dhm]\b|\d{2}:\d{2}:\d{2}|\+00:00")  # "1d", "7d 8h", "19:00:00+00:00"


@pytest.fixture(scope="module", params=["zendesk", "jira"])
def ran(request, tmp_path_factory):
    folder = tmp_path_factory.mktemp(request.param)
    with Sandbox(request.param, tickets=40, seed=7, now=NOW) as sb:
        config = write_config(folder, [helpdesk("hd", sb)], clock_url=sb.url)
        proc = run_once(config)
        assert proc.returncode == 0, proc.stderr
        yield sb, config


def test_history_clocks_are_in_business_words(ran):
    sb, config = ran
    ticket = "40" if sb.flavor == "zendesk" else "SUP-40"  # escalated L1 -> L2 by its SLA
    r = cli("history", "--config", str(config), ticket)
    assert r.returncode == 0, r.stderr
    clocks = r.stdout.split("clocks at", 1)[1]
    assert "of 8 business hours (1 business day) used" in clocks, clocks  # L2 resolution, 09:00-17:00
    assert not RAW.search(clocks.split("\n", 1)[1]), clocks


def test_status_shows_times_not_raw_cursors(ran):
    sb, config = ran
    r = cli("status", "--config", str(config))
    assert r.returncode == 0, r.stderr
    assert "cursor:          changes read up to 2026-11-02 18:55 UTC (5 minutes ago)" in r.stdout, r.stdout
    assert "last ok:         2026-11-02 19:00 UTC (now)" in r.stdout
    assert re.search(r"wake-up: +ticket \S+ at 2026-11-02 19:30 UTC \(in 30 minutes\)", r.stdout)
    assert not RAW.search(r.stdout), r.stdout
    assert "watermark" not in r.stdout and "==" not in r.stdout


def test_status_says_a_ticket_due_at_once_and_how_many_more_wake_ups(ran, tmp_path):
    """QA (a multi-tenant operator): a ticket to read again at once (a write recovered after a
    restart, filed as due at the epoch) read "at 1970-01-01 00:00 UTC (20794 days 13 hours
    ago)"; and five wake-ups were listed with nothing to say a sixth existed (QA, a Jira admin)."""
    import shutil

    from tierlift.service.daemon.state import StateStore

    sb, config = ran
    copy = tmp_path / "tierlift.yaml"
    state = tmp_path / "state.sqlite3"
    shutil.copy(config.parent / "state.sqlite3", state)
    copy.write_text(config.read_text().replace(str(config.parent / "state.sqlite3"), str(state)))
    store = StateStore(state)
    entries = [e for e in store.entries("hd") if e.wake_up is not None]
    total = len(entries)
    first = entries[0]
    store.upsert([type(first)(**{**{f: getattr(first, f) for f in first.__dataclass_fields__},
                                 "wake_up": datetime.fromtimestamp(0, UTC)})])
    store.close()
    r = cli("status", "--config", str(copy))
    assert r.returncode == 0, r.stderr
    assert f"wake-up:         ticket {first.ticket_id} due now" in r.stdout, r.stdout
    assert "1970" not in r.stdout
    assert total > 5 and f"... and {total - 5} more" in r.stdout, r.stdout


def test_report_medians_are_in_calendar_words(ran):
    sb, config = ran
    r = cli("report", "--config", str(config), "--since", "2026-10-01")
    assert r.returncode == 0, r.stderr
    line = next(x for x in r.stdout.splitlines() if x.startswith("time to escalate"))
    assert "1 day 9 hours" in line and "33 hours" not in line, line


def test_elapsed_spans_count_days():
    assert format_elapsed(timedelta(hours=176)) == "7 days 8 hours"
    assert format_elapsed(timedelta(hours=24)) == "1 day"
    assert format_elapsed(timedelta(hours=13, minutes=20)) == "13 hours 20 minutes"


@pytest.mark.parametrize("flavor", ["zendesk", "jira"])
def test_status_says_a_quiet_helpdesk_was_polled_since_its_newest_change(flavor, tmp_path):
    # Before: "changes read up to 18:55 UTC (3 hours ago)" right after a good poll read as a
    # stalled poll: the cursor is the newest change read, not the last poll.
    with Sandbox(flavor, tickets=10, seed=7, now=NOW) as sb:
        config = write_config(tmp_path, [helpdesk("hd", sb)], clock_url=sb.url)
        assert run_once(config).returncode == 0
        sb.clock.set(NOW + timedelta(hours=3))
        assert run_once(config).returncode == 0
        r = cli("status", "--config", str(config))
    assert r.returncode == 0, r.stderr
    line = next(x for x in r.stdout.splitlines() if x.strip().startswith("cursor:"))
    assert line.endswith("ago); nothing changed since, polled at last ok"), line
    assert "last ok:         2026-11-02 22:00 UTC (now)" in r.stdout, r.stdout


def test_status_json_counts_due_tickets_by_the_daemons_clock_everywhere(ran, tmp_path):
    # Before: `stats.due_now` was counted by the wall clock (weeks after this sandbox's
    # Monday: every wake-up due) while the helpdesk's own entry, by the followed clock, said 0.
    sb, config = ran
    r = cli("status", "--config", str(config), "--json")
    assert r.returncode == 0, r.stderr
    report = json.loads(r.stdout)
    due = report["helpdesks"]["hd"]["due_now"]
    assert report["stats"]["due_now"] == ({"hd": due} if due else {}), report["stats"]
    # Before the first run, --json printed a sentence, not JSON.
    fresh = write_config(tmp_path, [helpdesk("hd", sb)], clock_url=sb.url)
    r = cli("status", "--config", str(fresh), "--json")
    assert r.returncode == 0 and json.loads(r.stdout)["state"] is None, r.stdout


def test_status_webhooks_line_reads_its_last_event_as_the_other_lines_do(tmp_path):
    # QA: `webhooks: last event 2026-12-06T11:45:12.841988+00:00, ...` under lines that read
    # `2026-12-06 11:40 UTC (5 minutes ago)`.
    secret = "whsec-words-3c9e1b7d"
    port = free_port()
    with Sandbox("zendesk", tickets=3, seed=7, now=NOW) as sb:
        config = write_config(tmp_path, [helpdesk("hd", sb, webhook_secret="${WH_SECRET}")], clock_url=sb.url,
                              poll="120s", http={"listen": f"127.0.0.1:{port}"})
        d = Daemon(config, tmp_path / "daemon.log", WH_SECRET=secret)
        try:
            d.expect("first sync done helpdesk=hd")
            body, stamp = b'{"ticket_id": "1"}', NOW.strftime("%Y-%m-%dT%H:%M:%SZ")
            sent = requests.post(f"http://127.0.0.1:{port}/webhooks/hd", data=body, timeout=5, headers={
                "X-Zendesk-Webhook-Signature": zendesk_signature(secret, stamp, body),
                "X-Zendesk-Webhook-Signature-Timestamp": stamp})
            assert sent.status_code == 202, sent.text
            r = cli("status", "--config", str(config), WH_SECRET=secret)
            shown = cli("status", "--config", str(config), "--json", WH_SECRET=secret)
        finally:
            d.terminate()
    assert r.returncode == 0, r.stderr
    line = next(x for x in r.stdout.splitlines() if x.strip().startswith("webhooks:"))
    assert line == ("  webhooks:        last event 2026-11-02 19:00 UTC (now), accepted 1, duplicates 0,"
                    " refused: none"), line
    assert json.loads(shown.stdout)["helpdesks"]["hd"]["webhooks"]["last_event_at"].startswith("2026-11-02T19:00")


def test_status_goes_on_a_first_sync_line_without_an_empty_label(tmp_path):
    # QA: the triage reviews a quiet first sync held back were printed under a lone colon
    # (`:                and 1 triage review(s) ...`), the only line of status without a label.
    with Sandbox("zendesk", tickets=40, seed=7, now=NOW) as sb:
        config = write_config(tmp_path, [helpdesk("hd", sb, first_sync="quiet")], clock_url=sb.url)
        assert run_once(config).returncode == 0
        r = cli("status", "--config", str(config))
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    at = next(n for n, x in enumerate(lines) if x.startswith("  first sync:      "))
    assert re.fullmatch(r" {19}and \d+ triage review\(s\) without their page: .+ held back in all", lines[at + 1]), \
        lines[at:at + 2]
    assert not [x for x in lines if x.strip().startswith(":")], r.stdout
