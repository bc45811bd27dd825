"""A customer's thank-you that reopens a solved ticket is not a reason to escalate it.

QA (a CX lead), reproduced here on the sandbox as it happened, judged from the helpdesk's
record: the public comments tierlift wrote after the customer's confirmation, and its tier."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import requests

from tierlift.sandbox import Sandbox

from kit import run_once, write_config
from servicekit import helpdesk

NOW = datetime(2026, 11, 2, 14, 0, tzinfo=UTC)  # Monday 09:00 in New York
AGENT, CUSTOMER = ("eve@desk.example/token", "tok-eve"), ("carla@customer.example/token", "tok-carla")


def people(sb: Sandbox, team: str) -> None:
    sb.add_person({"name": "Eve", "email": "eve@desk.example", "role": "agent", "token": "tok-eve", "team": team})
    sb.add_person({"name": "Carla", "email": "carla@customer.example", "role": "end-user", "token": "tok-carla"})


def call(sb: Sandbox, method: str, path: str, auth: tuple[str, str], body: dict) -> dict:
    r = requests.request(method, sb.url + path, json=body, auth=auth, timeout=10)
    assert r.status_code in (200, 201), r.text
    return r.json()


def bot_public(sb: Sandbox, tid: int) -> list[tuple[datetime, str]]:
    with sb.data.lock:
        return [(c["created_at"], c["body"]) for c in sb.data.comments.get(tid, [])
                if c["public"] and c["author_id"] == sb.data.bot_id]


def test_a_thank_you_that_reopens_a_solved_ticket_gets_no_escalation_email(tmp_path):
    with Sandbox("zendesk", tickets=0, now=NOW) as sb:
        people(sb, "support-generalists")
        tid = call(sb, "POST", "/api/v2/requests.json", CUSTOMER, {"request": {
            "subject": "Password reset link", "comment": {"body": "The reset link in the email says expired."}}})["request"]["id"]
        config = write_config(tmp_path, [helpdesk("hd", sb)], clock_url=sb.url)
        sb.clock.advance(timedelta(minutes=20))
        call(sb, "PUT", f"/api/v2/tickets/{tid}.json", AGENT, {"ticket": {"status": "solved", "comment": {
            "body": "I've sent you a fresh link; it is valid for 1 hour.", "public": True}}})
        sb.clock.advance(timedelta(minutes=10))
        call(sb, "PUT", f"/api/v2/requests/{tid}.json", CUSTOMER, {"request": {"comment": {"body": "Thanks, that worked!"}}})
        assert sb.data.tickets[tid]["status"] == "open"  # the requester's reply reopened it, as in Zendesk
        for _ in range(4):  # three business days, a cycle each day
            sb.clock.advance(timedelta(days=1))
            assert run_once(config).returncode == 0
        tags = set(sb.data.tickets[tid]["tags"])
    assert bot_public(sb, tid) == [] and "tier_l2" not in tags, (bot_public(sb, tid), tags)


def test_a_fixed_outage_whose_customer_confirms_it_pages_nobody_again(tmp_path):
    with Sandbox("zendesk", tickets=0, now=NOW) as sb:
        people(sb, "Engineering Manager")
        tid = call(sb, "POST", "/api/v2/requests.json", CUSTOMER, {"request": {
            "subject": "Workspace down", "comment": {"body": "Our whole workspace is down, nobody in the company can"
                                                            " log in since 9am. We are completely blocked."}}})["request"]["id"]
        config = write_config(tmp_path, [helpdesk("hd", sb, policy="teamflow")], clock_url=sb.url)
        sb.clock.advance(timedelta(seconds=90))
        first = run_once(config)
        assert first.returncode == 0 and "tier_l3" in sb.data.tickets[tid]["tags"], first.stderr[-2000:]
        sb.clock.advance(timedelta(minutes=5))
        call(sb, "PUT", f"/api/v2/tickets/{tid}.json", AGENT, {"ticket": {"comment": {
            "body": "We are investigating the login outage and will update you shortly.", "public": True}}})
        sb.clock.advance(timedelta(minutes=10))
        call(sb, "PUT", f"/api/v2/tickets/{tid}.json", AGENT, {"ticket": {
            "status": "solved", "additional_tags": ["fix_deployed"],
            "comment": {"body": "A fix has been deployed; logins work again. Please confirm on your side.", "public": True}}})
        sb.clock.advance(timedelta(minutes=5))
        call(sb, "PUT", f"/api/v2/requests/{tid}.json", CUSTOMER, {"request": {"comment": {"body": "Thanks, it works now!"}}})
        before = len(bot_public(sb, tid))
        logs = []
        for _ in range(8):  # two hours, a cycle every 15 minutes
            sb.clock.advance(timedelta(minutes=15))
            done = run_once(config)
            assert done.returncode == 0
            logs.append(done.stderr)
        tags = set(sb.data.tickets[tid]["tags"])
    assert len(bot_public(sb, tid)) == before, bot_public(sb, tid)
    assert "tier_l4" not in tags and "fix_deployed" in tags, tags
    assert "notify channel=" not in "".join(logs)
