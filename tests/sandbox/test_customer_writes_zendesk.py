"""An end user writes a Zendesk ticket only through /requests, as in Zendesk.

Zendesk allows the tags endpoint (every method), ticket updates, update_many and
ticket creation to agents only ("Allowed For: Agents" in the OpenAPI file): an end
user gets 403 with Zendesk's {"error", "description"} body and changes nothing.
"""

from __future__ import annotations

import pytest
from peoplekit import ZAGENT, ZCUSTOMER, call, with_people

from tierlift.sandbox import Sandbox

FORBIDDEN = {"error": "Forbidden", "description": "You do not have access to this page. Please contact the account "
             "owner of this help desk for further help."}


@pytest.fixture
def zd():
    with with_people("zendesk") as sb:
        yield sb


def own_request(zd: Sandbox) -> int:
    r = call(zd, "POST", "/api/v2/requests.json", ZCUSTOMER,
             {"request": {"subject": "Breach?", "comment": {"body": "Someone logged in as me."}}})
    assert r.status_code == 201, r.text
    return int(r.json()["request"]["id"])


@pytest.mark.parametrize("method", ["PUT", "POST", "DELETE", "GET"])
def test_an_end_user_cannot_use_the_tags_endpoint_even_on_their_own_ticket(zd, method):
    tid = own_request(zd)
    assert call(zd, "PUT", f"/api/v2/tickets/{tid}/tags.json", ZAGENT, {"tags": ["vpn"]}).status_code == 200
    audits = len(zd.store.audits[tid])
    r = call(zd, method, f"/api/v2/tickets/{tid}/tags.json", ZCUSTOMER, {"tags": ["triage_confirm_security"]})
    assert (r.status_code, r.json()) == (403, FORBIDDEN)
    assert zd.store.tickets[tid]["tags"] == ["vpn"] and len(zd.store.audits[tid]) == audits


def test_an_end_user_cannot_update_many_and_an_agent_still_can(zd):
    tid = own_request(zd)
    body = {"tickets": [{"id": tid, "tags": ["triage_confirm_security"]}]}
    r = call(zd, "PUT", "/api/v2/tickets/update_many.json", ZCUSTOMER, body)
    assert (r.status_code, r.json()) == (403, FORBIDDEN)
    r = call(zd, "PUT", f"/api/v2/tickets/update_many.json?ids={tid}", ZCUSTOMER, {"ticket": {"status": "solved"}})
    assert (r.status_code, r.json()) == (403, FORBIDDEN)
    assert zd.store.tickets[tid]["tags"] == [] and zd.store.tickets[tid]["status"] == "new"
    assert call(zd, "PUT", "/api/v2/tickets/update_many.json", ZAGENT, body).status_code == 200
    assert zd.store.tickets[tid]["tags"] == ["triage_confirm_security"]


def test_an_end_user_ticket_write_is_refused_with_the_same_body_and_requests_still_work(zd):
    tid = own_request(zd)
    r = call(zd, "PUT", f"/api/v2/tickets/{tid}.json", ZCUSTOMER, {"ticket": {"additional_tags": ["x"]}})
    assert (r.status_code, r.json()) == (403, FORBIDDEN)
    r = call(zd, "POST", "/api/v2/tickets.json", ZCUSTOMER, {"ticket": {"subject": "x", "comment": {"body": "y"}}})
    assert (r.status_code, r.json()) == (403, FORBIDDEN)
    r = call(zd, "PUT", f"/api/v2/requests/{tid}.json", ZCUSTOMER, {"request": {"comment": {"body": "Any news?"}}})
    assert r.status_code == 200
