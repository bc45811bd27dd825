"""The sandbox's webhooks (sandbox/webhooks.py): the triggers endpoints serve what the
official OpenAPI file says, deliveries are signed as the helpdesks sign them, and the
faults do what they say (drop, duplicate, burst)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from datetime import UTC, datetime

import jsonschema
import requests

from tierlift.sandbox import Sandbox

from kit import Receiver
from refkit import openapi, schema_for

NOW = datetime(2026, 11, 2, 19, 0, tzinfo=UTC)
AUTH = ("bot@example.com/token", "sandbox-token")
SECRET = "sandbox-hook-secret"


def until(check, timeout: float = 10.0):
    end = time.monotonic() + timeout
    while time.monotonic() < end and not check():
        time.sleep(0.02)
    return check()


def _zendesk_hook(sb: Sandbox, url: str) -> int:
    hook = requests.post(f"{sb.url}/api/v2/webhooks.json", auth=AUTH, json={"webhook": {
        "name": "t", "endpoint": url, "http_method": "POST", "request_format": "json", "status": "active",
        "signing_secret": {"algorithm": "SHA256", "secret": SECRET}}})
    assert hook.status_code == 201 and "signing_secret" not in hook.json()["webhook"]
    return int(hook.json()["webhook"]["id"])


def test_zendesk_triggers_validate_against_the_official_openapi(shared_reference):
    spec = openapi(str(shared_reference / "openapi" / "zendesk-support-api.oas.yaml"))
    rx = Receiver()
    with Sandbox("zendesk", tickets=2, now=NOW) as sb:
        hook_id = _zendesk_hook(sb, rx.url + "/in")
        trigger = {"title": "notify", "conditions": {"all": [], "any": [
            {"field": "update_type", "operator": "is", "value": "Create"}]},
            "actions": [{"field": "notification_webhook", "value": [str(hook_id), '{"ticket_id": "{{ticket.id}}"}']}]}
        created = requests.post(f"{sb.url}/api/v2/triggers.json", auth=AUTH, json={"trigger": trigger})
        assert created.status_code == 201
        jsonschema.validate(created.json(), schema_for(spec, "/api/v2/triggers", "post", "201", nulls=True))
        listed = requests.get(f"{sb.url}/api/v2/triggers.json", auth=AUTH).json()
        jsonschema.validate(listed, schema_for(spec, "/api/v2/triggers", "get", nulls=True))
        tid = created.json()["trigger"]["id"]
        one = requests.get(f"{sb.url}/api/v2/triggers/{tid}.json", auth=AUTH).json()
        jsonschema.validate(one, schema_for(spec, "/api/v2/triggers/{trigger_id}", "get", nulls=True))
        # Created fires (update_type Create); a change does not, for this trigger.
        status, body = sb.control("POST", "tickets", {"tickets": [
            {"subject": "s", "description": "d", "created_at": NOW.isoformat()}]})
        assert until(lambda: len(rx.got) == 1)
        got = rx.got[0]
        stamp = got["headers"]["X-Zendesk-Webhook-Signature-Timestamp"]
        expected = base64.b64encode(hmac.new(SECRET.encode(), stamp.encode() + got["raw"], hashlib.sha256).digest())
        assert got["headers"]["X-Zendesk-Webhook-Signature"] == expected.decode()
        assert got["json"] == {"ticket_id": str(body["ids"][0])}
        assert requests.delete(f"{sb.url}/api/v2/triggers/{tid}.json", auth=AUTH).status_code == 204
    rx.close()


def test_jira_admin_webhooks_sign_with_x_hub_signature_and_faults_apply():
    rx = Receiver()
    with Sandbox("jira", tickets=2, now=NOW) as sb:
        r = requests.post(f"{sb.url}/rest/webhooks/1.0/webhook", auth=("bot@example.com", "sandbox-token"), json={
            "name": "t", "url": rx.url + "/in", "events": ["jira:issue_created", "jira:issue_updated"],
            "filters": {"issue-related-events-section": "project = SUP"}, "secret": SECRET})
        assert r.status_code == 201 and "secret" not in r.json()
        sb.hooks.set_faults("duplicate:1")
        sb.control("POST", "tickets", {"tickets": [{"subject": "s", "description": "d", "created_at": NOW.isoformat()}]})
        assert until(lambda: len(rx.got) == 2)
        first, second = rx.got
        assert first["raw"] == second["raw"] and first["json"]["webhookEvent"] == "jira:issue_created"
        assert first["headers"]["X-Atlassian-Webhook-Identifier"] == second["headers"]["X-Atlassian-Webhook-Identifier"]
        sig = "sha256=" + hmac.new(SECRET.encode(), first["raw"], hashlib.sha256).hexdigest()
        assert first["headers"]["X-Hub-Signature"] == sig
        sb.hooks.set_faults("burst:5")
        sb.control("POST", "tickets", {"tickets": [{"subject": "s", "description": "d", "created_at": NOW.isoformat()}]})
        assert until(lambda: len(rx.got) == 7)
        assert len({g["headers"]["X-Atlassian-Webhook-Identifier"] for g in rx.got[2:]}) == 5
        sb.hooks.set_faults("drop:1")
        sb.control("POST", "tickets", {"tickets": [{"subject": "s", "description": "d", "created_at": NOW.isoformat()}]})
        assert until(lambda: sb.hooks.deliveries[-1]["result"] == "dropped")
        assert len(rx.got) == 7
    rx.close()
