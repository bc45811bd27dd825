"""Paging the helpdesk drives: where a connector follows it, and how far. Each test is a defect
a QA pass found (2026-12, a rewriting proxy in front of the sandbox), on payloads the
references allow: Zendesk's audits and comments list (next_page, or meta.has_more with
links.next, as zendesk-recordings/TestTicketAudits.test_pagination.json shows them), the
cursor export (CursorBasedExportIncrementalTicketsResponse), Jira's PageBeanChangelog and
PageOfComments (isLast and total optional).

1. The API token went to another host: a next_page naming http://127.0.0.2:18099/... was
   requested on the session that carries the credentials (requests drops them on a redirect
   to another host, not on a request made there).
2. One ticket paged forever: each audits answer named a fresh next page (3,159 reads in
   45 s), a Jira changelog ignoring startAt without isLast or total (1,497 reads a minute),
   an export answering end_of_stream false with a fresh cursor and no tickets (1,381 reads a
   minute against a documented 10): the cycle never ended and the ticket was never quarantined.
"""

from __future__ import annotations

import base64
import copy
import itertools
import json
import logging

import pytest
import requests
import responses

from tierlift.connectors.base import Secret
from tierlift.connectors.errors import RetriableError, TicketError
from tierlift.connectors.jira import JiraConnector, JiraSettings
from tierlift.connectors.jira.mapping import ticket_from_jira
from tierlift.connectors.paging import MAX_PAGES
from tierlift.connectors.transport import HelpdeskAdapter, session_for
from tierlift.connectors.zendesk import ZendeskConnector, ZendeskSettings
from tierlift.engine.marker import format_marker
from tierlift.engine.model import InternalNote

from refkit import recorded_bodies

ZD = "https://acme.zendesk.com"
EXPORT = f"{ZD}/api/v2/incremental/tickets/cursor.json"
JR = "https://acme.atlassian.net"
TOKEN = "s3cr3t-T0KEN-value"
AT = "2026-11-02T10:00:00.000+0000"
EVIL = "http://127.0.0.2:18099"


class Endless(Exception):
    """A read past any sane bound: the test stops the loop the connector did not."""


def bounded(answer, limit: int = 3 * MAX_PAGES):
    """A responses callback that answers `answer(request, n)` and gives up after `limit` reads."""
    count = itertools.count(1)

    def callback(request):
        n = next(count)
        if n > limit:
            raise Endless(f"{n} reads of {request.url}")
        return 200, {}, json.dumps(answer(request, n))
    return callback


def zendesk() -> ZendeskConnector:
    return ZendeskConnector(ZendeskSettings("zd", ZD, "bot@acme.example", Secret(TOKEN), backoff=0.01,
                                            audit_cache=0), sleep=lambda s: None)


def jira() -> JiraConnector:
    responses.get(f"{JR}/rest/api/2/myself", json={"accountId": "bot-1"})
    c = JiraConnector(JiraSettings("jira", JR, "bot@acme.example", Secret(TOKEN), backoff=0.01),
                      sleep=lambda s: None)
    c.open()
    return c


def secret_sent(calls) -> list[str]:
    """The URLs of the calls that carried the token (in a Basic header)."""
    out = []
    for call in calls:
        header = call.request.headers.get("Authorization", "")
        if header.startswith("Basic ") and TOKEN in base64.b64decode(header[6:]).decode(errors="replace"):
            out.append(call.request.url)
    return out


@pytest.fixture
def recorded(shared_reference) -> dict:
    """A ticket of the recorded export and a recorded audits page (has_more, links.next)."""
    export = shared_reference / "zendesk-recordings" / "TicketsIncrementalTest.test_get_values.json"
    page = copy.deepcopy(next(b for u, b in recorded_bodies(export) if "cursor.json?start_time=0" in u))
    audits = shared_reference / "zendesk-recordings" / "TestTicketAudits.test_pagination.json"
    first = copy.deepcopy(next(b for u, b in recorded_bodies(audits) if u.endswith("size%5D=1")))
    return {"export": page, "audits": first}


def ticket(c: ZendeskConnector, recorded: dict, tid: int = 21):
    raw = {**recorded["export"]["tickets"][0], "id": tid}
    page = c._page({"tickets": [raw], "after_cursor": "x"})
    assert not page.poison
    return page.tickets[0]


# --- 1. credentials go to the helpdesk's own scheme, host and port only -------------------

@responses.activate
def test_an_audits_next_page_on_another_host_is_refused_and_the_token_never_sent_there(recorded):
    first = recorded["audits"]
    first["audits"][0]["ticket_id"] = 21
    first["meta"] = {"has_more": False}
    first["next_page"] = f"{EVIL}/api/v2/steal&ticket=21"  # what the proxy wrote in
    responses.get(f"{ZD}/api/v2/tickets/21/audits.json", json=first)
    stolen = responses.get(f"{EVIL}/api/v2/steal", json={"audits": [], "next_page": None})
    c = zendesk()
    with pytest.raises(TicketError) as err:
        c.with_comments(ticket(c, recorded))
    assert stolen.call_count == 0 and secret_sent(responses.calls) == [f"{ZD}/api/v2/tickets/21/audits.json?page%5Bsize%5D=100"]
    assert err.value.ticket_id == "21"
    assert "127.0.0.2:18099" in str(err.value) and TOKEN not in str(err.value) and TOKEN not in repr(err.value)


@responses.activate
def test_a_comments_links_next_to_another_host_is_refused_before_a_write(recorded):
    # find_marker reads the comments (links.next under meta.has_more, cursor pagination).
    first = {"comments": [{"id": 1, "body": "Hi", "public": True}], "meta": {"has_more": True},
             "links": {"next": f"{EVIL}/api/v2/tickets/21/comments.json?page%5Bafter%5D=x"}}
    responses.get(f"{ZD}/api/v2/tickets/21/comments.json", json=first)
    stolen = responses.get(f"{EVIL}/api/v2/tickets/21/comments.json", json={"comments": []})
    c = zendesk()
    with pytest.raises(TicketError, match=r"ticket 21: its comments: the next-page link points to http://127\.0\.0\.2:18099"):
        c.find_marker("21", "esc-1")
    assert stolen.call_count == 0 and TOKEN not in str(secret_sent(responses.calls))
    assert all(call.request.url.startswith(ZD) for call in responses.calls)


@responses.activate
def test_a_link_on_the_same_host_by_another_scheme_or_port_is_refused_too():
    c = zendesk()
    for link in ("http://acme.zendesk.com/api/v2/groups.json?page=2", "https://acme.zendesk.com:8443/api/v2/groups.json"):
        responses.get(f"{ZD}/api/v2/groups.json", json={"groups": [{"id": 1, "name": "L1"}], "next_page": link})
        with pytest.raises(TicketError, match="not to this helpdesk"):
            c._pages("/api/v2/groups.json", "groups")
        responses.reset()


@responses.activate
def test_a_link_without_a_scheme_is_the_helpdesks_own_path_not_a_longer_host_name():
    # Pasted behind the base it named another host: https://acme.zendesk.com.evil.example/...
    responses.get(f"{ZD}/api/v2/groups.json", json={"groups": [{"id": 1, "name": "L1"}],
                                                     "next_page": ".evil.example/api/v2/groups.json"})
    second = responses.get(f"{ZD}/.evil.example/api/v2/groups.json", json={"groups": [{"id": 2, "name": "L2"}]})
    assert [g["id"] for g in zendesk()._pages("/api/v2/groups.json", "groups")] == [1, 2]
    assert second.call_count == 1 and all(call.request.url.startswith(f"{ZD}/") for call in responses.calls)


@responses.activate
def test_the_directory_read_at_start_fails_with_the_host_named_not_followed():
    responses.get(f"{ZD}/api/v2/users/me.json", json={"user": {"id": 7}})
    responses.get(f"{ZD}/api/v2/ticket_fields.json", json={"ticket_fields": []})
    responses.get(f"{ZD}/api/v2/groups.json", json={"groups": [{"id": 1, "name": "L1"}],
                                                     "next_page": f"{EVIL}/api/v2/groups.json?page=2"})
    stolen = responses.get(f"{EVIL}/api/v2/groups.json", json={"groups": []})
    with pytest.raises(TicketError, match=r"/api/v2/groups\.json: the next-page link points to http://127\.0\.0\.2:18099"):
        zendesk().open()
    assert stolen.call_count == 0


@responses.activate
@pytest.mark.parametrize("url", [f"{EVIL}/x", "http://acme.zendesk.com/x", "https://acme.zendesk.com:444/x",
                                 "https://acme.zendesk.com.evil.example/x", "https://bot:pw@evil.example/x"])
def test_the_session_itself_sends_the_credentials_nowhere_but_the_helpdesk(url):
    # The last line for any request a connector makes, Jira's too: refused before it is sent.
    stolen = responses.get(url.replace("bot:pw@", ""), json={})
    own = responses.get(f"{ZD}/x", json={})
    for session in (zendesk().session, JiraConnector(JiraSettings("j", ZD, "bot@acme.example", Secret(TOKEN))).session,
                    session_for(HelpdeskAdapter(), ("bot", TOKEN), ZD + "/")):
        with pytest.raises(TicketError, match="refused to send the helpdesk's credentials to") as err:
            session.get(url, timeout=5)
        assert TOKEN not in str(err.value) and "pw" not in str(err.value)
        assert TOKEN not in repr(session.auth)
        session.get(f"{ZD}/x", timeout=5)
        session.get("https://ACME.zendesk.com/x", timeout=5)  # the same origin, written otherwise
    assert stolen.call_count == 0 and own.call_count == 6 and len(secret_sent(responses.calls)) == 6


# --- 2. paging the helpdesk drives is bounded; the ticket is quarantined ------------------

@responses.activate
def test_audits_naming_a_fresh_next_page_every_time_quarantine_the_ticket(recorded):
    # The QA proxy: every answer of ticket 21's audits named ?qpage=N+1 (the same audits).
    page = recorded["audits"]
    page["meta"] = {"has_more": False}
    responses.add_callback(responses.GET, f"{ZD}/api/v2/tickets/21/audits.json", callback=bounded(
        lambda request, n: {**page, "next_page": f"{ZD}/api/v2/tickets/21/audits.json?qpage={n + 1}"}))
    c = zendesk()
    with pytest.raises(TicketError, match="ticket 21: its audits: a page brought nothing new") as err:
        c.with_comments(ticket(c, recorded))
    assert err.value.ticket_id == "21" and len(responses.calls) == 2


@responses.activate
def test_audits_paging_on_with_new_audits_forever_stop_at_the_page_cap(recorded):
    template = recorded["audits"]["audits"][0]

    def answer(request, n):
        return {"audits": [{**template, "id": 10_000 + n}], "meta": {"has_more": True},
                "links": {"next": f"{ZD}/api/v2/tickets/21/audits.json?page%5Bafter%5D=c{n}&page%5Bsize%5D=100"}}

    responses.add_callback(responses.GET, f"{ZD}/api/v2/tickets/21/audits.json", callback=bounded(answer))
    c = zendesk()
    with pytest.raises(TicketError, match=f"ticket 21: its audits: more than {MAX_PAGES} pages") as err:
        c.with_comments(ticket(c, recorded))
    assert err.value.ticket_id == "21" and len(responses.calls) == MAX_PAGES


@responses.activate
def test_export_pages_of_nothing_with_a_fresh_cursor_end_the_pass_with_a_warning(recorded, caplog):
    empty = {**recorded["export"], "tickets": [], "users": [], "organizations": [], "metric_sets": [],
             "end_of_stream": False}
    responses.add_callback(responses.GET, EXPORT, callback=bounded(
        lambda request, n: {**empty, "after_cursor": f"c{n}", "after_url": f"{EXPORT}?cursor=c{n}"}))
    with caplog.at_level(logging.WARNING, logger="tierlift.zendesk"):
        pages = list(itertools.islice(zendesk().changes("c0"), 50))
    assert len(pages) == 3 and len(responses.calls) == 3
    assert pages[-1].cursor == "c3"  # the next cycle goes on from there
    assert any(r.levelno == logging.WARNING and "brought nothing new" in r.getMessage() for r in caplog.records)


@responses.activate
def test_export_pages_repeating_the_same_tickets_with_a_fresh_cursor_end_the_pass(recorded):
    same = {**recorded["export"], "end_of_stream": False}
    responses.add_callback(responses.GET, EXPORT, callback=bounded(
        lambda request, n: {**same, "after_cursor": f"c{n}"}))
    pages = list(itertools.islice(zendesk().changes("c0"), 50))
    assert len(pages) == 4 and pages[0].tickets and pages[-1].cursor == "c4"


@responses.activate
def test_an_export_with_tickets_on_every_page_reads_on(recorded):
    tickets = recorded["export"]["tickets"]

    def answer(request, n):
        return {**recorded["export"], "tickets": [{**tickets[0], "id": 1000 + n}], "end_of_stream": n == 8,
                "after_cursor": f"c{n}"}

    responses.add_callback(responses.GET, EXPORT, callback=bounded(answer))
    pages = list(zendesk().changes("c0"))
    assert len(pages) == 8 and [t.id for p in pages for t in p.tickets] == [str(1000 + n) for n in range(1, 9)]


@responses.activate
def test_jira_search_pages_of_nothing_with_a_fresh_token_end_the_pass_with_a_warning(caplog):
    # SearchAndReconcileResults: isLast optional, nextPageToken absent only on the last page.
    issue = cut_issue()
    responses.add_callback(responses.GET, f"{JR}/rest/api/2/search/jql", callback=bounded(
        lambda request, n: {"issues": [issue] if n == 1 else [], "nextPageToken": f"tok-{n}"}))
    c = jira()
    with caplog.at_level(logging.WARNING, logger="tierlift.jira"):
        pages = list(itertools.islice(c.changes(None), 50))
    assert len(pages) == 4 and [t.id for p in pages for t in p.tickets] == ["SUP-1"]
    assert "searched" not in json.loads(pages[-1].cursor)  # not a pass that reached its end
    assert any(r.levelno == logging.WARNING and "brought nothing new" in r.getMessage() for r in caplog.records)


def history(i: int) -> dict:
    return {"id": str(i), "created": AT, "author": {"accountId": "agent-7", "accountType": "atlassian"},
            "items": [{"field": "labels", "fromString": "", "toString": f"l{i}"}]}


def cut_issue() -> dict:
    """An issue whose changelog expansion was cut short (total past what it holds)."""
    return {"id": "10001", "key": "SUP-1", "fields": {
        "summary": "Cannot log in", "description": "It fails", "labels": ["tier_l1"],
        "status": {"name": "Open", "statusCategory": {"key": "indeterminate"}}, "priority": {"name": "High"},
        "created": AT, "updated": "2026-11-02T12:00:00.000+0000", "assignee": None, "resolutiondate": None,
        "reporter": {"accountId": "cust-1", "accountType": "customer"},
        "comment": {"comments": [], "maxResults": 0, "total": 0, "startAt": 0}},
        "changelog": {"startAt": 0, "maxResults": 1, "total": 9999, "histories": [history(1)]}}


@responses.activate
def test_a_changelog_that_ignores_start_at_without_is_last_or_total_quarantines_the_issue():
    # The QA proxy: every changelog answer the same values, isLast and total removed.
    responses.get(f"{JR}/rest/api/2/issue/SUP-1", json=cut_issue())
    responses.get(f"{JR}/rest/api/2/issue/SUP-1/comment", json={"startAt": 0, "maxResults": 100, "total": 0,
                                                                "comments": []})
    responses.add_callback(responses.GET, f"{JR}/rest/api/2/issue/SUP-1/changelog", callback=bounded(
        lambda request, n: {"startAt": int(request.params["startAt"]), "maxResults": 100, "values": [history(1)]}))
    c = jira()
    with pytest.raises(TicketError, match="issue SUP-1: its changelog: a page brought nothing new") as err:
        c.with_comments(ticket_from_jira(cut_issue()))
    assert err.value.ticket_id == "SUP-1"
    assert len([x for x in responses.calls if "/changelog" in x.request.url]) == 2


@responses.activate
def test_a_changelog_paging_on_with_new_changes_forever_stops_at_the_page_cap():
    responses.get(f"{JR}/rest/api/2/issue/SUP-1", json=cut_issue())
    responses.get(f"{JR}/rest/api/2/issue/SUP-1/comment", json={"startAt": 0, "maxResults": 100, "total": 0,
                                                                "comments": []})
    responses.add_callback(responses.GET, f"{JR}/rest/api/2/issue/SUP-1/changelog", callback=bounded(
        lambda request, n: {"startAt": int(request.params["startAt"]), "maxResults": 1, "values": [history(n)]}))
    c = jira()
    with pytest.raises(TicketError, match=f"issue SUP-1: its changelog: more than {MAX_PAGES} pages"):
        c.with_comments(ticket_from_jira(cut_issue()))
    assert len([x for x in responses.calls if "/changelog" in x.request.url]) == MAX_PAGES


@responses.activate
def test_comments_whose_total_is_never_reached_stop_at_the_page_cap_before_a_write():
    mark = format_marker("esc-1", 1, 2, "rule", ticket_from_jira(cut_issue()).created_at)
    responses.add_callback(responses.GET, f"{JR}/rest/api/2/issue/SUP-1/comment", callback=bounded(
        lambda request, n: {"startAt": int(request.params["startAt"]), "maxResults": 1, "total": 10 ** 9,
                            "comments": [{"id": str(n), "body": "chatter", "created": AT,
                                          "author": {"accountId": "cust-1", "accountType": "customer"}}]}))
    post = responses.post(f"{JR}/rest/servicedeskapi/request/SUP-1/comment", status=503)
    c = jira()
    with pytest.raises(TicketError, match=f"issue SUP-1: its comments: more than {MAX_PAGES} pages"):
        c.apply(ticket_from_jira(cut_issue()), [InternalNote("Escalated\n" + mark)], "esc-1")
    assert post.call_count == 1  # the note's look after the 503 failed: it was not sent again


def test_a_request_error_names_no_secret():
    # requests' own errors carry the URL, never the auth: checked for the refusal above too.
    session = session_for(HelpdeskAdapter(), ("bot", TOKEN), ZD)
    with pytest.raises(TicketError) as err:
        session.get(f"{EVIL}/?token=x", timeout=5)
    assert TOKEN not in str(err.value) and "token=x" not in str(err.value)
    assert isinstance(session.auth, requests.auth.HTTPBasicAuth)


@responses.activate
def test_a_zendesk_answer_that_is_not_json_is_named_and_retried_not_a_decoder_error():
    """QA (a data-protection officer): a helpdesk (or a proxy before it) answering 200 with an
    HTML page gave `tierlift check: JSONDecodeError: Expecting value: line 1 column 1` with no
    word of which request; the cycle failed the same way. It is a retried helpdesk error now,
    naming the path and what came back."""
    responses.add(responses.GET, f"{ZD}/api/v2/groups.json", body="<html>Sign in</html>", status=200,
                  content_type="text/html")
    zd = zendesk()
    with pytest.raises(RetriableError) as err:
        zd._read("/api/v2/groups.json")
    assert str(err.value) == "/api/v2/groups.json: HTTP 200 with a body that is not JSON (text/html)"
    assert len(responses.calls) > 1, "retried, as a 5xx is"


# --- 3. redirects: none is followed ---------------------------------------------------------

@responses.activate
@pytest.mark.parametrize("status", [301, 302, 303, 307, 308])
def test_a_write_answered_with_a_redirect_is_refused_not_sent_elsewhere_nor_made_a_read(status):
    """QA (a privacy auditor): a 307 to another host re-sent the note quoting the customer and the
    reply there, and its 200 was journaled as an escalation done; a 302 on the same host made the
    PUT a GET that wrote nothing and answered 200."""
    from tierlift.connectors.errors import NotTheHelpdesk

    for c, url, there in ((zendesk(), f"{ZD}/api/v2/tickets/21.json", f"{EVIL}/api/v2/tickets/21.json"),
                          (jira(), f"{JR}/rest/api/2/issue/SUP-21", f"{JR}/login?next=/rest/api/2/issue/SUP-21")):
        responses.put(url, status=status, headers={"Location": there})
        elsewhere = responses.put(there, json={"ticket": {"id": 21}})
        read = responses.get(there, json={"ticket": {"id": 21}})
        with pytest.raises(NotTheHelpdesk, match=rf"HTTP {status}, a redirect to .*: tierlift follows none"):
            c.session.put(url, json={"ticket": {"comment": {"body": "customer words"}}}, timeout=5)
        assert elsewhere.call_count == 0 and read.call_count == 0
