"""After a stop, the backlog's escalations are written before its reminders.

The full floor (zendesk teamflow, seed 31) restarted the daemon after two helpdesk hours:
reminders of old incidents, which move nothing (and now also post to a channel), came between
the new outages and their moves, and the last of those moves landed after the time the floor
gives a restart to catch up. Judged from the order the sandbox received the writes."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import requests

from tierlift.sandbox import Sandbox

from kit import run_once, write_config
from servicekit import helpdesk

NOW = datetime(2026, 11, 2, 14, 0, tzinfo=UTC)
CUSTOMER = ("carla@customer.example/token", "tok-carla")


def ask(sb: Sandbox, method: str, path: str, body: dict) -> dict:
    r = requests.request(method, sb.url + path, json=body, auth=CUSTOMER, timeout=10)
    assert r.status_code in (200, 201), r.text
    return r.json()


def first_write(sb: Sandbox, tid: int, since: int) -> int:
    """The index in the sandbox's request log of the first write to ticket `tid` after `since`."""
    return next(i for i, r in enumerate(sb.requests_log()) if i > since and r["write"]
                and re.search(rf"/tickets/{tid}\.json", r["path"]))


def test_a_new_outages_move_is_written_before_an_old_outages_reminder_in_the_same_page(tmp_path):
    with Sandbox("zendesk", tickets=0, now=NOW) as sb:
        sb.add_person({"name": "Carla", "email": "carla@customer.example", "role": "end-user", "token": "tok-carla"})
        old = ask(sb, "POST", "/api/v2/requests.json", {"request": {"subject": "Workspace down", "comment": {
            "body": "Our whole workspace is down, nobody in the company can log in."}}})["request"]["id"]
        config = write_config(tmp_path, [helpdesk("hd", sb, policy="teamflow")], clock_url=sb.url)
        sb.clock.advance(timedelta(seconds=90))
        assert run_once(config).returncode == 0 and "tier_l3" in sb.data.tickets[old]["tags"]
        # Nobody updates it; 20 minutes later its customer asks and a new outage arrives.
        sb.clock.advance(timedelta(minutes=18))
        ask(sb, "PUT", f"/api/v2/requests/{old}.json", {"request": {"comment": {"body": "Any news? Still down."}}})
        new = ask(sb, "POST", "/api/v2/requests.json", {"request": {"subject": "API down", "comment": {
            "body": "The API answers 503 to every call since 14:15, for all our users."}}})["request"]["id"]
        assert old < new
        sb.clock.advance(timedelta(minutes=2))
        since = len(sb.requests_log()) - 1
        done = run_once(config)
        assert done.returncode == 0, done.stderr[-2000:]
        assert f"reminded helpdesk=hd ticket={old}" in done.stderr, done.stderr[-3000:]
        assert f"escalated helpdesk=hd ticket={new}" in done.stderr, done.stderr[-3000:]
        assert first_write(sb, new, since) < first_write(sb, old, since), "the reminder went first"
