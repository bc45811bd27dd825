"""The Zendesk connector on payloads the reference allows: recorded export pages and audits
(../shared/reference/zendesk-recordings) bent into shapes the OpenAPI file permits, through
`responses`. Each test is a defect a QA pass found (docs of the 2026-12 connector hunt).
"""

from __future__ import annotations

import copy
import itertools
from datetime import UTC, datetime

import pytest
import responses

from tierlift.connectors.base import Secret
from tierlift.connectors.zendesk import ZendeskConnector, ZendeskSettings
from tierlift.connectors.zendesk.mapping import ticket_from_zendesk
from tierlift.engine.sla import paused_intervals

from refkit import recorded_bodies

ZD = "https://acme.zendesk.com"
EXPORT = f"{ZD}/api/v2/incremental/tickets/cursor.json"


def zendesk(**settings) -> ZendeskConnector:
    return ZendeskConnector(ZendeskSettings("zd", ZD, "bot@acme.example", Secret("t"), backoff=0.01, **settings),
                            sleep=lambda s: None)


@pytest.fixture
def export_page(shared_reference) -> dict:
    path = shared_reference / "zendesk-recordings" / "TicketsIncrementalTest.test_get_values.json"
    return copy.deepcopy(next(b for u, b in recorded_bodies(path) if "cursor.json?start_time=0" in u))


@responses.activate
def test_a_last_page_without_after_cursor_keeps_the_position(export_page):
    # after_cursor is nullable (CursorBasedExportIncrementalTicketsResponse): an empty cursor
    # made the next cycle export the whole account again from start_time=0.
    export_page.update(after_cursor=None, after_url=None, end_of_stream=True)
    responses.get(EXPORT, json=export_page)
    c = zendesk()
    pages = list(c.changes("MTcwNzI3MTc0MS4wfHw0MDQ1fA=="))
    assert pages[-1].cursor == "MTcwNzI3MTc0MS4wfHw0MDQ1fA=="
    list(c.changes(pages[-1].cursor))
    assert "start_time" not in responses.calls[1].request.url
    assert "cursor=MTcwNzI3MTc0MS4wfHw0MDQ1fA" in responses.calls[1].request.url


@responses.activate
def test_an_after_cursor_already_asked_for_ends_the_pass(export_page):
    # end_of_stream false with the cursor just asked for: it was read again and again, forever.
    export_page.update(end_of_stream=False, after_cursor="SAME", after_url=f"{EXPORT}?cursor=SAME")
    responses.get(EXPORT, json=export_page)
    pages = list(itertools.islice(zendesk().changes("SAME"), 5))
    assert len(pages) == 1 and len(responses.calls) == 1
    assert pages[0].cursor == "SAME"


@pytest.fixture
def recorded_ticket(export_page) -> dict:
    return copy.deepcopy(export_page["tickets"][0])


def audit(aid: int, at: str, author: int, *events: dict) -> dict:
    return {"id": aid, "ticket_id": 1, "created_at": at, "author_id": author,
            "via": {"channel": "email", "source": {"rel": None}}, "events": list(events)}


@responses.activate
def test_a_public_comment_by_a_ccd_end_user_is_no_agents_first_reply(recorded_ticket):
    requester, cc, agent, other_agent = 6130869168922, 7000000000001, 6130907993114, 6130907993999
    recorded_ticket.update(id=1, status="open", requester_id=requester, created_at="2026-11-02T10:00:00Z",
                           updated_at="2026-11-02T11:00:00Z", collaborator_ids=[cc], email_cc_ids=[cc])
    responses.get(f"{ZD}/api/v2/tickets/1/audits.json", json={"meta": {"has_more": False}, "audits": [
        audit(11, "2026-11-02T10:00:00Z", requester,
              {"id": 111, "type": "Comment", "author_id": requester, "body": "Our login is broken", "public": True},
              {"id": 112, "type": "Create", "field_name": "status", "value": "new"}),
        audit(12, "2026-11-02T11:00:00Z", cc,
              {"id": 121, "type": "Comment", "author_id": cc, "body": "Same here, any news?", "public": True}),
        audit(13, "2026-11-02T12:00:00Z", other_agent,
              {"id": 131, "type": "Comment", "author_id": other_agent, "body": "Fixed, please retry", "public": True})]})
    responses.get(f"{ZD}/api/v2/users/show_many.json", json={"users": [
        {"id": cc, "role": "end-user", "name": "Colleague", "email": "cc@cust.example"},
        {"id": other_agent, "role": "agent", "name": "Bo", "email": "bo@acme.example"}]})
    c = zendesk()
    # The export's sideload knew the ticket's own people, not the CC'd colleague.
    c._remember_users({"users": [{"id": requester, "role": "end-user", "name": "Req", "email": "req@cust.example"},
                                 {"id": agent, "role": "agent", "name": "Ann"}]})
    t = c.with_comments(ticket_from_zendesk(recorded_ticket, users=c.users))
    # Judged by role, looked up before the comments are mapped: the colleague is no agent,
    # the agent no sideload had named yet is one.
    assert [x.by_agent for x in t.comments] == [False, False, True]
    assert t.first_reply_at == datetime(2026, 11, 2, 12, tzinfo=UTC)
    looked_up = [x.request.url for x in responses.calls if "show_many" in x.request.url]
    assert len(looked_up) == 1 and str(cc) in looked_up[0] and str(requester) not in looked_up[0]


def test_a_comment_whose_author_has_no_known_role_is_no_agents():
    from tierlift.connectors.zendesk.mapping import comment_from_zendesk

    stranger = comment_from_zendesk({"author_id": 99, "body": "me too", "public": True,
                                     "created_at": "2026-11-02T10:00:00Z"}, 1, {}, "1")
    assert not stranger.by_agent


@pytest.fixture
def recorded_audits(shared_reference) -> list[dict]:
    path = shared_reference / "zendesk-recordings" / "TestTicketAudits.test_values.json"
    body = next(b for u, b in recorded_bodies(path) if "audits" in u and "page%5Bsize%5D=100" in u)
    return copy.deepcopy([a for a in body["audits"] if a["ticket_id"] == 1][:2])  # the create and its follow-up


@responses.activate
def test_a_ticket_created_pending_is_paused_from_its_creation_by_its_audits(recorded_ticket, recorded_audits):
    # The recorded Create event sets status; here it creates the ticket as pending (agent outreach).
    for e in recorded_audits[0]["events"]:
        if e.get("field_name") == "status":
            e["value"] = "pending"
    opened = audit(6130852545999, "2023-09-10T23:52:05Z", 6130869168922,
                   {"id": 1, "type": "Change", "field_name": "status", "value": "open", "previous_value": "pending"})
    responses.get(f"{ZD}/api/v2/tickets/1/audits.json",
                  json={"audits": [*recorded_audits, opened], "meta": {"has_more": False}})
    responses.get(f"{ZD}/api/v2/users/show_many.json", json={"users": []})
    recorded_ticket.update(id=1, status="open", created_at="2023-09-09T23:52:05Z", updated_at="2023-09-10T23:52:05Z")
    t = zendesk().with_comments(ticket_from_zendesk(recorded_ticket))
    paused = paused_intervals(t, frozenset({"pending", "hold"}), datetime(2023, 9, 12, tzinfo=UTC))
    assert paused == [(datetime(2023, 9, 9, 23, 52, 5, tzinfo=UTC), datetime(2023, 9, 10, 23, 52, 5, tzinfo=UTC))]


@responses.activate
def test_a_ticket_created_pending_is_paused_from_its_creation_by_the_export(export_page):
    # TicketMetricObject.status_updated_at == created_at: the status was set at creation.
    ticket = export_page["tickets"][0]
    ticket.update(status="pending", created_at="2026-11-02T10:00:00Z", updated_at="2026-11-02T14:00:00Z")
    export_page.update(tickets=[ticket], metric_sets=[
        {"ticket_id": ticket["id"], "status_updated_at": "2026-11-02T10:00:00Z", "reopens": 0,
         "reply_time_in_minutes": {"calendar": None, "business": None},
         "created_at": "2026-11-02T10:00:00Z", "updated_at": "2026-11-02T14:00:00Z"}])
    responses.get(EXPORT, json=export_page)
    t = list(zendesk().changes(None))[0].tickets[0]
    assert paused_intervals(t, frozenset({"pending"}), datetime(2026, 11, 2, 16, tzinfo=UTC)) == [
        (datetime(2026, 11, 2, 10, tzinfo=UTC), datetime(2026, 11, 2, 16, tzinfo=UTC))]
