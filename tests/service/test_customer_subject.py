"""The customer's reply quotes the subject as the customer wrote it, not as an agent renamed it.

QA (a CX lead): an agent renamed "Reports slow" to "Reports slow -- ANGRY customer, churn risk,
do NOT offer credits" to flag it to colleagues, as agents do in Zendesk and Jira, and the next
escalation's public reply quoted the rename to the customer. Judged from the helpdesk's record:
the public comments tierlift wrote, read back as the customer sees them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import requests

from tierlift.sandbox import Sandbox

from kit import run_once, write_config
from servicekit import helpdesk

NOW = datetime(2026, 11, 2, 15, 0, tzinfo=UTC)  # Monday 10:00 in New York
RENAMED = "Reports slow -- ANGRY customer, churn risk, do NOT offer credits"


def people(sb: Sandbox) -> tuple[tuple[str, str], tuple[str, str]]:
    sb.add_person({"name": "Ana", "email": "ana@desk.example", "role": "agent", "token": "tok-ana",
                   "team": "support-generalists"})
    sb.add_person({"name": "Carla", "email": "carla@customer.example", "role": "end-user", "token": "tok-carla"})
    if sb.flavor == "zendesk":
        return ("ana@desk.example/token", "tok-ana"), ("carla@customer.example/token", "tok-carla")
    return ("ana@desk.example", "tok-ana"), ("carla@customer.example", "tok-carla")


def call(sb: Sandbox, method: str, path: str, auth: tuple[str, str], body: dict) -> dict:
    r = requests.request(method, sb.url + path, json=body, auth=auth, timeout=10)
    assert r.status_code in (200, 201, 204), r.text
    return r.json() if r.content else {}


def bot_replies(sb: Sandbox, key: object) -> list[str]:
    data = sb.data
    with data.lock:
        if sb.flavor == "zendesk":
            return [c["body"] for c in data.comments.get(key, []) if c["public"] and c["author_id"] == data.bot_id]
        issue = data.issues.live[key]
        return [c["body"] for c in issue["fields"]["comment"]["comments"]
                if c.get("jsdPublic", True) and c["author"]["accountId"] == "acc-tierlift-bot"]


@pytest.mark.parametrize("flavor", ["zendesk", "jira"])
def test_the_reply_quotes_the_subject_the_customer_wrote_not_an_agents_rename(flavor, tmp_path):
    with Sandbox(flavor, tickets=0, now=NOW) as sb:
        agent, customer = people(sb)
        if flavor == "zendesk":
            key = call(sb, "POST", "/api/v2/requests.json", customer,
                       {"request": {"subject": "Reports slow", "comment": {"body": "All our reports take minutes."}}})["request"]["id"]
            sb.clock.advance(timedelta(minutes=5))
            call(sb, "PUT", f"/api/v2/tickets/{key}.json", agent, {"ticket": {"subject": RENAMED, "additional_tags": ["p1"]}})
        else:
            key = call(sb, "POST", "/rest/api/2/issue", customer, {"fields": {
                "project": {"key": "SUP"}, "summary": "Reports slow", "description": "All our reports take minutes.",
                "issuetype": {"name": "Support"}}})["key"]
            sb.clock.advance(timedelta(minutes=5))
            call(sb, "PUT", f"/rest/api/2/issue/{key}", agent, {"fields": {"summary": RENAMED, "labels": ["p1"]}})
        sb.clock.advance(timedelta(minutes=2))
        config = write_config(tmp_path, [helpdesk("hd", sb)], clock_url=sb.url)
        proc = run_once(config)
        assert proc.returncode == 0, proc.stderr[-3000:]
        replies = bot_replies(sb, key)
    assert replies and all('"Reports slow"' in r for r in replies), replies
    assert not [r for r in replies if "ANGRY" in r or "credits" in r], replies
