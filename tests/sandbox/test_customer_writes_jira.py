"""A portal-only JSM customer cannot write an issue through the platform API, as in Jira.

They have no Browse projects, Edit issues or Transition issues permission: edit,
assignee, transitions and the platform comment answer them 404 "Issue does not exist
or you do not have permission to see it" (the reference's 404 of those operations:
"not found or the user does not have permission to view it") and change nothing.
They comment through /rest/servicedeskapi, which keeps working.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
import requests

from tierlift.sandbox import Sandbox

NOW = datetime(2026, 11, 2, 15, 0, tzinfo=UTC)
PEOPLE = [
    {"name": "Ana L1", "email": "ana@floor.example", "role": "agent", "token": "tok-ana", "team": "support-generalists"},
    {"name": "Carla", "email": "carla@customer.example", "role": "end-user", "token": "tok-carla"},
]
JAGENT = ("ana@floor.example", "tok-ana")
JCUSTOMER = ("carla@customer.example", "tok-carla")
NOT_FOUND = {"errorMessages": ["Issue does not exist or you do not have permission to see it."], "errors": {}}
TEAM = "customfield_10056"


@pytest.fixture
def jira():
    with Sandbox("jira", tickets=5, seed=5, now=NOW) as sb:
        assert requests.post(sb.url + "/_sandbox/users", json={"users": PEOPLE}, timeout=10).status_code == 200
        yield sb


def call(sb: Sandbox, method: str, path: str, auth: tuple[str, str], body: object = None) -> requests.Response:
    return requests.request(method, sb.url + path, json=body, auth=auth, timeout=10)


def customer_issue(jira: Sandbox) -> str:
    r = call(jira, "POST", "/rest/api/2/issue", JCUSTOMER,
             {"fields": {"project": {"key": "SUP"}, "summary": "Breach?", "description": "Someone logged in as me."}})
    assert r.status_code == 201, r.text
    return str(r.json()["key"])


@pytest.mark.parametrize(("method", "path", "body"), [
    ("PUT", "/rest/api/2/issue/{key}", {"update": {"labels": [{"add": "triage_confirm_security"}]}}),
    ("PUT", "/rest/api/3/issue/{key}", {"fields": {"labels": ["triage_confirm_security"]}}),
    ("PUT", "/rest/api/2/issue/{key}", {"fields": {TEAM: "engineering-oncall"}}),
    ("PUT", "/rest/api/2/issue/{key}/assignee", {"accountId": "acc-engineering-oncall"}),
    ("POST", "/rest/api/2/issue/{key}/transitions", {"transition": {"id": "41"}}),
    ("POST", "/rest/api/2/issue/{key}/comment", {"body": "internal?", "properties": [
        {"key": "sd.public.comment", "value": {"internal": True}}]}),
])
def test_a_portal_customer_cannot_write_an_issue_through_the_platform_api(jira, method, path, body):
    key = customer_issue(jira)
    before = jira.store.issues[key]
    fields = {k: before["fields"][k] for k in ("labels", TEAM, "assignee", "status", "updated")}
    histories, comments = len(before["changelog"]["histories"]), before["fields"]["comment"]["total"]
    r = call(jira, method, path.format(key=key), JCUSTOMER, body)
    assert (r.status_code, r.json()) == (404, NOT_FOUND)
    after = jira.store.issues[key]
    assert {k: after["fields"][k] for k in fields} == fields
    assert len(after["changelog"]["histories"]) == histories and after["fields"]["comment"]["total"] == comments


def test_a_portal_customer_still_comments_through_the_servicedesk_api_and_an_agent_edits(jira):
    key = customer_issue(jira)
    r = call(jira, "POST", f"/rest/servicedeskapi/request/{key}/comment", JCUSTOMER, {"body": "Any news?", "public": True})
    assert r.status_code == 201 and r.json()["author"]["displayName"] == "Carla"
    r = call(jira, "PUT", f"/rest/api/2/issue/{key}", JAGENT, {"update": {"labels": [{"add": "security"}]}})
    assert r.status_code == 204, r.text
    assert jira.store.issues[key]["fields"]["labels"] == ["security"]
