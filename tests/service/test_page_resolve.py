"""A page is resolved when its ticket is solved: PagerDuty's incident does not outlive it.

Judged from what the PagerDuty endpoint received (a local receiver) after an agent solved the
ticket in the sandbox with their own credentials."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

import requests

from tierlift.sandbox import Sandbox

from kit import Receiver, run_once, write_config
from servicekit import helpdesk

NOW = datetime(2026, 11, 2, 19, 0, tzinfo=UTC)
AGENT = ("ana@floor.example/token", "tok-ana")


def solve(sb: Sandbox, tid: int) -> None:
    r = requests.put(f"{sb.url}/api/v2/tickets/{tid}.json", auth=AGENT, timeout=10,
                     json={"ticket": {"status": "solved", "comment": {"body": "Fixed: deployed.", "public": True}}})
    assert r.status_code == 200, r.text


@contextmanager
def paged(tmp_path: Path, rx: Receiver) -> Iterator[tuple[Sandbox, Path, list[int]]]:
    """A helpdesk with a P0 outage (paged on the first run) and a question (never paged)."""
    with Sandbox("zendesk", tickets=0, seed=7, now=NOW) as sb:
        sb.add_person({"name": "Ana", "email": "ana@floor.example", "role": "agent", "token": "tok-ana",
                       "team": "support-generalists"})
        made = sb.control("POST", "tickets", {"tickets": [
            {"subject": "Checkout down", "tags": ["p0"], "description": "Checkout is down for everyone.",
             "created_at": "2026-11-02T18:58:00Z"},
            {"subject": "Invoice copy", "description": "Could you send me last month's invoice again?",
             "created_at": "2026-11-02T18:58:00Z"}]})
        channels = {name: {"kind": "pagerduty", "url": rx.url + "/pd", "routing_key": "${PD_KEY}"}
                    for name in ("pagerduty", "slack_oncall", "slack_channel")}
        config = write_config(tmp_path, [helpdesk("hd", sb)], clock_url=sb.url, channels=channels)
        assert run_once(config, PD_KEY=KEY).returncode == 0
        yield sb, config, made[1]["ids"]


KEY = "pd-routing-key-0042"


def events(rx: Receiver, action: str) -> list[dict]:
    return [g["json"] for g in rx.got if g["path"] == "/pd" and g["json"]["event_action"] == action]


def test_a_solved_ticket_resolves_its_page_once_and_an_unpaged_one_sends_nothing(tmp_path):
    rx = Receiver()
    try:
        with paged(tmp_path, rx) as (sb, config, ids):
            triggers = events(rx, "trigger")
            assert triggers and {t["payload"]["custom_details"]["ticket"] for t in triggers} == {str(ids[0])}
            sb.clock.advance(timedelta(minutes=30))
            for tid in ids:
                solve(sb, tid)
            sb.clock.advance(timedelta(minutes=1))
            done = run_once(config, PD_KEY=KEY)
            assert done.returncode == 0, done.stderr
            resolves = events(rx, "resolve")
            assert sorted(r["dedup_key"] for r in resolves) == sorted(t["dedup_key"] for t in triggers)
            assert all(r["routing_key"] == KEY for r in resolves)
            assert KEY not in done.stderr + done.stdout
            # Once: the next run, and a later change to the solved ticket, resolve nothing more.
            requests.put(f"{sb.url}/api/v2/tickets/{ids[0]}.json", auth=AGENT, timeout=10,
                         json={"ticket": {"tags": ["p0", "postmortem"]}}).raise_for_status()
            sb.clock.advance(timedelta(minutes=1))
            assert run_once(config, PD_KEY=KEY).returncode == 0
            assert len(events(rx, "resolve")) == len(resolves)
    finally:
        rx.close()


def test_a_resolution_pagerduty_refused_is_tried_again_on_a_later_cycle(tmp_path):
    rx = Receiver()
    try:
        with paged(tmp_path, rx) as (sb, config, ids):
            sb.clock.advance(timedelta(minutes=30))
            solve(sb, ids[0])
            sb.clock.advance(timedelta(minutes=1))
            rx.statuses = [400]  # refused once (a 4xx is not retried within the attempt)
            failed = run_once(config, PD_KEY=KEY)
            assert failed.returncode == 0 and "resolution failed" in failed.stderr, failed.stderr
            assert KEY not in failed.stderr
            sb.clock.advance(timedelta(minutes=1))
            assert run_once(config, PD_KEY=KEY).returncode == 0
            keys = [r["dedup_key"] for r in events(rx, "resolve")]
            assert len(keys) == 2 and len(set(keys)) == 1 and keys[0] in {t["dedup_key"] for t in events(rx, "trigger")}
            sb.clock.advance(timedelta(minutes=1))
            assert run_once(config, PD_KEY=KEY).returncode == 0
            assert len(events(rx, "resolve")) == 2
    finally:
        rx.close()


def test_a_paged_ticket_its_fix_brought_down_resolves_its_page(tmp_path):
    """Issue 26: a PagerDuty incident was resolved on solve only. The fix deployed, three-tier
    brought the P0 back to L1 two hours later, and the incident went on paging on-call until
    the customer confirmed and someone solved the ticket. A move down resolves it, once."""
    rx = Receiver()
    try:
        with paged(tmp_path, rx) as (sb, config, ids):
            triggers = events(rx, "trigger")
            assert triggers
            sb.clock.advance(timedelta(minutes=30))
            url = f"{sb.url}/api/v2/tickets/{ids[0]}.json"
            tags = requests.get(url, auth=AGENT, timeout=10).json()["ticket"]["tags"]
            assert "tier_l3" in tags, tags
            fixed = sorted({*tags, "fix_deployed"} - {"p0"})
            requests.put(url, auth=AGENT, timeout=10, json={"ticket": {"tags": fixed, "comment": {
                "body": "A fix is deployed: could you confirm it works for you?", "public": True}}}).raise_for_status()
            sb.clock.advance(timedelta(minutes=1))
            assert run_once(config, PD_KEY=KEY).returncode == 0
            assert not events(rx, "resolve"), "still at L3 for its minimum stay: the incident is open"
            sb.clock.advance(timedelta(hours=2))
            done = run_once(config, PD_KEY=KEY)
            assert done.returncode == 0, done.stderr
            now_tags = requests.get(url, auth=AGENT, timeout=10).json()["ticket"]["tags"]
            assert "tier_l1" in now_tags and "tier_l3" not in now_tags, now_tags
            resolves = events(rx, "resolve")
            assert sorted(r["dedup_key"] for r in resolves) == sorted(t["dedup_key"] for t in triggers)
            solve(sb, ids[0])  # solved later: nothing more to resolve
            sb.clock.advance(timedelta(minutes=1))
            assert run_once(config, PD_KEY=KEY).returncode == 0
            assert len(events(rx, "resolve")) == len(resolves)
    finally:
        rx.close()
