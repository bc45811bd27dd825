"""A portal-only JSM customer cannot write an issue through the platform API, as in Jira.

They have no Browse projects, Edit issues or Transition issues permission: edit,
assignee, transitions and the platform comment answer them 404 "Issue does not exist
or you do not have permission to see it" (the reference's 404 of those operations:
"not found or the user does not have permission to view it") and change nothing.
They comment through /rest/servicedeskapi, which keeps working.
"""

from __future__ import annotations

import pytest
from peoplekit import JAGENT, JCUSTOMER, TEAM, call, with_people

from tierlift.sandbox import Sandbox

NOT_FOUND = {"errorMessages": ["Issue does not exist or you do not have permission to see it."], "errors": {}}


@pytest.fixture
def jira():
    with with_people("jira") as sb:
        yield sb


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
