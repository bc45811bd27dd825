"""The review band through the real daemon and the sandbox, judged from the helpdesk's record.

A customer's words the model reads as an outage, under a policy whose review band holds
that reading: the daemon moves nothing and pages nobody; it tags the ticket, leaves an
internal note saying what it read (category, confidence, the sentence and words that
weighed most) and posts to the triage channel, once. An agent confirms with the category's
tag (with the agent's own credentials, as a person would), and the next cycle escalates.
"""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import requests

from tierlift.sandbox import Sandbox

from kit import cli, helpdesk, run_once, write_config

BOT = ("bot@example.com/token", "sandbox-token-7f3e2a91")
AGENT = ("ana@floor.example/token", "tok-ana")
CUSTOMER = ("carla@customer.example/token", "tok-carla")
POLICY = """
escalation:
  name: review-band
  tiers:
    - {level: 1, name: Front, team: support-generalists, sla: {first_response: 8h}}
    - {level: 2, name: Specialists, team: support-specialists, sla: {first_response: 4h}}
    - {level: 3, name: Engineering, team: engineering-oncall, sla: {first_response: 1h}}
  triage: {notify: [slack_channel]}
  rules:
    - name: outage
      when: {any: [{tag: triage_confirm_outage}, {triage: {category: outage, escalate: 1.0, review: 0.2}}]}
      to: 3
      notify: [pagerduty]
"""
TEXT = ("Since nine this morning every page of yours just spins and nothing ever appears, "
        "for the whole company. We cannot work at all.")


def zendesk(sb: Sandbox, method: str, path: str, auth: tuple[str, str] = BOT, **kw):
    r = requests.request(method, sb.url + path, auth=auth, timeout=10, **kw)
    assert r.status_code in (200, 201), r.text
    return r.json()


def test_a_review_asks_once_and_an_agents_confirmation_escalates(tmp_path: Path):
    with Sandbox("zendesk", tickets=0) as sb:
        ana = sb.add_person({"name": "Ana L1", "email": "ana@floor.example", "role": "agent", "token": "tok-ana",
                             "team": "support-generalists"})
        sb.add_person({"name": "Carla", "email": "carla@customer.example", "role": "end-user", "token": "tok-carla"})
        tid = zendesk(sb, "POST", "/api/v2/requests.json", CUSTOMER,
                      json={"request": {"subject": "Nothing appears", "comment": {"body": TEXT}}})["request"]["id"]
        (tmp_path / "policy.yaml").write_text(POLICY)
        config = write_config(tmp_path, [helpdesk(sb, policy=str(tmp_path / "policy.yaml"))], clock_url=sb.url)
        sb.clock.advance(timedelta(minutes=2))  # past the export's one-minute holdback
        logs = []
        for _ in range(2):  # the second cycle must not ask again
            done = run_once(config)
            assert done.returncode == 0, done.stderr
            logs.append(done.stderr)
        posted = [line for line in "".join(logs).splitlines() if "notify" in line and "channel=slack_channel" in line]
        assert len(posted) == 1 and "may be outage" in posted[0]
        assert "channel=pagerduty" not in "".join(logs)

        ticket = zendesk(sb, "GET", f"/api/v2/tickets/{tid}.json")["ticket"]
        comments = zendesk(sb, "GET", f"/api/v2/tickets/{tid}/comments.json")["comments"]
        notes = [c["body"] for c in comments if not c["public"]]
        assert "triage_review_outage" in ticket["tags"] and "tier_l3" not in ticket["tags"]
        assert len(notes) == 1 and "may be outage" in notes[0] and "Confidence" in notes[0]
        assert "The sentence that weighed most" in notes[0] and "triage_confirm_outage" in notes[0]
        assert not [c for c in comments if c["public"] and c["author_id"] != ticket["requester_id"]]

        tags = sorted({*ticket["tags"], "triage_confirm_outage"})
        zendesk(sb, "PUT", f"/api/v2/tickets/{tid}.json", AGENT, json={"ticket": {"tags": tags}})
        sb.clock.advance(timedelta(minutes=2))
        done = run_once(config)
        assert done.returncode == 0, done.stderr
        ticket = zendesk(sb, "GET", f"/api/v2/tickets/{tid}.json")["ticket"]
        assert "tier_l3" in ticket["tags"]
        assert ticket["group_id"] == sb.data.group_id("engineering-oncall")
        # The escalation is Ana's decision, and its note says so (as a manual escalation's does).
        comments = zendesk(sb, "GET", f"/api/v2/tickets/{tid}/comments.json")["comments"]
        (note,) = [c["body"] for c in comments if not c["public"] and "escalated_to: L3" in c["body"]]
        assert f'escalated_by: "{ana["name"]} <{ana["email"]}>"' in note, note
        # The report counts it as Ana's (QA: "by agent" left out escalations an agent confirmed).
        report = cli("report", "--config", str(config), "--format", "json", "--since", "2026-01-01")
        assert report.returncode == 0, report.stderr
        [rep] = json.loads(report.stdout)  # one helpdesk
        by_agent = rep["by_agent"]
        assert by_agent == {f"{ana['name']} <{ana['email']}>": 1}, by_agent
