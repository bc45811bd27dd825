"""The Jira connector on payloads the reference allows (the Jira Cloud OpenAPI file in
../shared/reference/openapi: IssueBean, PageOfComments, SearchAndReconcileResults, User),
through `responses`. Each test is a defect a QA pass found (the 2026-12 connector hunt).
"""

from __future__ import annotations

import itertools
import json
from datetime import UTC, datetime

import responses

from tierlift.connectors.base import Secret
from tierlift.connectors.jira import JiraConnector, JiraSettings
from tierlift.connectors.jira.mapping import ticket_from_jira
from tierlift.engine.marker import format_marker
from tierlift.engine.model import AddTags, InternalNote, RemoveTags
from tierlift.engine.sla import paused_intervals

JR = "https://acme.atlassian.net"
AT = "2026-11-02T10:00:00.000+0000"


def jira(**settings) -> JiraConnector:
    responses.get(f"{JR}/rest/api/2/myself", json={"accountId": "bot-1"})
    c = JiraConnector(JiraSettings("jira", JR, "bot@acme.example", Secret("t"), backoff=0.01, **settings),
                      sleep=lambda s: None)
    c.open()
    return c


def issue(key: str = "SUP-1", **fields) -> dict:
    """An issue as GET /rest/api/2/search/jql returns it (IssueBean)."""
    f = {"summary": "Cannot log in", "description": "It fails", "labels": ["tier_l1"],
         "status": {"name": "Open", "statusCategory": {"key": "indeterminate", "name": "In Progress"}},
         "priority": {"name": "High"}, "created": AT, "updated": "2026-11-02T12:00:00.000+0000",
         "reporter": {"accountId": "cust-1", "emailAddress": "c@x.example", "accountType": "customer"},
         "assignee": None, "resolutiondate": None,
         "comment": {"comments": [], "maxResults": 0, "total": 0, "startAt": 0}}
    f.update(fields)
    return {"id": "10001", "key": key, "self": f"{JR}/rest/api/2/issue/10001", "fields": f,
            "changelog": {"startAt": 0, "maxResults": 0, "total": 0, "histories": []}}


def comment(cid: str, who: str, kind: str, body: str, at: str = AT, public: bool = True) -> dict:
    return {"id": cid, "author": {"accountId": who, "displayName": who, "accountType": kind}, "body": body,
            "created": at, "updated": at, "jsdPublic": public}


def paged_comments(comments: list[dict]):
    """GET /issue/{key}/comment as Jira answers it: startAt, maxResults (100 by default), total."""
    def answer(request):
        start, size = int(request.params.get("startAt", 0)), int(request.params.get("maxResults", 100))
        return 200, {}, json.dumps({"startAt": start, "maxResults": size, "total": len(comments),
                                    "comments": comments[start:start + size]})
    return answer


@responses.activate
def test_a_marker_past_the_first_page_of_comments_is_found_so_the_note_is_not_posted_twice():
    mark = format_marker("esc-1", 1, 2, "rule", ticket_from_jira(issue()).created_at)
    comments = [comment(str(i), "cust-1", "customer", f"chatter {i}") for i in range(120)]

    def post_note(request):  # it lands, but the answer is a 503
        comments.append(comment(f"n{len(comments)}", "bot-1", "atlassian", json.loads(request.body)["body"],
                                public=False))
        return 503, {}, ""

    c = jira()
    responses.add_callback(responses.GET, f"{JR}/rest/api/2/issue/SUP-1/comment", callback=paged_comments(comments))
    responses.add_callback(responses.POST, f"{JR}/rest/servicedeskapi/request/SUP-1/comment", callback=post_note)
    c.apply(ticket_from_jira(issue()), [InternalNote("Escalated\n" + mark)], "esc-1")
    assert sum(mark in str(x["body"]) for x in comments) == 1


@responses.activate
def test_with_comments_reads_every_page_of_comments():
    comments = [comment(str(i), "cust-1", "customer", f"c{i}") for i in range(129)]
    comments.append(comment("129", "agent-7", "atlassian", "Fixed, please retry", "2026-11-02T12:00:00.000+0000"))
    raw = issue(comment={"startAt": 0, "maxResults": 20, "total": 130, "comments": []})
    c = jira()
    responses.get(f"{JR}/rest/api/2/issue/SUP-1", json=raw)
    responses.get(f"{JR}/rest/api/2/issue/SUP-1/changelog",
                  json={"startAt": 0, "maxResults": 100, "total": 0, "isLast": True, "values": []})
    responses.add_callback(responses.GET, f"{JR}/rest/api/2/issue/SUP-1/comment", callback=paged_comments(comments))
    t = c.with_comments(ticket_from_jira({**raw, "fields": {k: v for k, v in raw["fields"].items() if k != "comment"}}))
    assert t.comments is not None and len(t.comments) == 130
    assert t.first_reply_at is not None and t.first_reply_at.hour == 12


@responses.activate
def test_a_search_page_with_a_token_and_no_is_last_is_not_the_last():
    # isLast is optional in SearchAndReconcileResults; only the last page has no nextPageToken.
    first = {"issues": [issue("SUP-1", updated="2026-11-02T10:00:00.000+0000")], "nextPageToken": "tok-2"}
    second = {"issues": [issue("SUP-2", updated="2026-11-02T10:05:00.000+0000")]}
    c = jira()
    responses.add_callback(responses.GET, f"{JR}/rest/api/2/search/jql", callback=lambda request: (
        200, {}, json.dumps(second if request.params.get("nextPageToken") == "tok-2" else first)))
    pages = list(c.changes(None))
    assert [t.id for p in pages for t in p.tickets] == ["SUP-1", "SUP-2"]


@responses.activate
def test_a_changelog_page_without_is_last_is_read_on_to_its_total():
    histories = [{"id": str(i), "created": AT, "author": {"accountId": "agent-7", "accountType": "atlassian"},
                  "items": [{"field": "labels", "fromString": "", "toString": f"l{i}"}]} for i in range(150)]

    def changelog(request):  # PageBeanChangelog: isLast is optional
        start = int(request.params.get("startAt", 0))
        return 200, {}, json.dumps({"startAt": start, "maxResults": 100, "total": 150,
                                    "values": histories[start:start + 100]})

    raw = issue()
    raw["changelog"] = {"startAt": 0, "maxResults": 100, "total": 150, "histories": []}
    c = jira()
    responses.get(f"{JR}/rest/api/2/issue/SUP-1", json=raw)
    responses.add_callback(responses.GET, f"{JR}/rest/api/2/issue/SUP-1/changelog", callback=changelog)
    responses.add_callback(responses.GET, f"{JR}/rest/api/2/issue/SUP-1/comment", callback=paged_comments([]))
    t = c.with_comments(ticket_from_jira(raw))
    assert t.history is not None and len(t.history) == 150


@responses.activate
def test_who_replied_is_read_from_the_authors_account_type():
    # User.accountType: customer (a JSM customer), atlassian (a user: an agent here), app.
    participant = issue("SUP-1", comment={"startAt": 0, "maxResults": 2, "total": 2, "comments": [
        comment("1", "cust-1", "customer", "Any update?", "2026-11-02T10:05:00.000+0000"),
        comment("2", "cust-2", "customer", "We are also blocked", "2026-11-02T10:30:00.000+0000")]})
    raised_for = issue("SUP-2", reporter={"accountId": "agent-7", "accountType": "atlassian"},
                       comment={"startAt": 0, "maxResults": 3, "total": 3, "comments": [
                           comment("3", "cust-9", "customer", "Thanks for raising this", "2026-11-02T10:10:00.000+0000"),
                           comment("4", "auto", "app", "We got your request", "2026-11-02T10:11:00.000+0000"),
                           comment("5", "agent-7", "atlassian", "Fix today", "2026-11-02T10:20:00.000+0000")]})
    internal = issue("SUP-3", reporter={"accountId": "emp-1", "accountType": "atlassian"},
                     comment={"startAt": 0, "maxResults": 2, "total": 2, "comments": [
                         comment("6", "emp-1", "atlassian", "Still broken", "2026-11-02T10:05:00.000+0000"),
                         comment("7", "it-1", "atlassian", "On it", "2026-11-02T10:40:00.000+0000")]})
    c = jira()
    responses.get(f"{JR}/rest/api/2/search/jql", json={"issues": [participant, raised_for, internal], "isLast": True})
    a, b, i = list(c.changes(None))[0].tickets
    assert [x.by_agent for x in a.comments] == [False, False] and a.first_reply_at is None
    assert [(x.by_agent, x.automated) for x in b.comments] == [(False, False), (True, True), (True, False)]
    assert b.first_reply_at is not None and b.first_reply_at.minute == 20
    # An internal helpdesk's customers are atlassian accounts: the reporter rule still holds.
    assert [x.by_agent for x in i.comments] == [False, True] and i.first_reply_at.minute == 40


def status_item(at: str, before: str, after: str) -> dict:
    return {"id": at[11:13], "created": at, "author": {"accountId": "agent-1", "accountType": "atlassian"},
            "items": [{"field": "status", "fieldtype": "jira", "fieldId": "status", "from": "1", "fromString": before,
                       "to": "2", "toString": after}]}


def test_waiting_for_support_is_no_pause():
    # In JSM the customer has answered and the agents must act: the clock runs.
    raw = issue(status={"name": "Waiting for support", "statusCategory": {"key": "new", "name": "To Do"}})
    raw["changelog"] = {"startAt": 0, "maxResults": 1, "total": 1, "histories": [
        status_item("2026-11-02T11:00:00.000+0000", "Waiting for customer", "Waiting for support")]}
    t = ticket_from_jira(raw)
    assert t.status == "new"
    assert paused_intervals(t, frozenset({"pending", "hold"}), datetime(2026, 11, 2, 15, tzinfo=UTC)) == []


def test_a_done_status_is_solved_whatever_its_name():
    raw = issue(status={"name": "Pending", "statusCategory": {"key": "done"}})
    assert ticket_from_jira(raw).status == "solved"


def test_the_status_history_maps_statuses_as_the_current_status_is_mapped():
    # The changelog cut short (total beyond what came): the status history alone tells the pauses.
    raw = issue(status={"name": "In Progress", "statusCategory": {"key": "indeterminate"}})
    raw["changelog"] = {"startAt": 0, "maxResults": 2, "total": 150, "histories": [
        status_item("2026-11-02T10:30:00.000+0000", "Open", "Awaiting reply"),
        status_item("2026-11-02T11:30:00.000+0000", "Awaiting reply", "In Progress")]}
    t = ticket_from_jira(raw, status_map={"Awaiting reply": "pending"})
    assert paused_intervals(t, frozenset({"pending"}), datetime(2026, 11, 2, 12, tzinfo=UTC)) == [
        (datetime(2026, 11, 2, 10, 30, tzinfo=UTC), datetime(2026, 11, 2, 11, 30, tzinfo=UTC))]
    done = issue(status={"name": "Completed", "statusCategory": {"key": "done"}}, resolutiondate=AT)
    done["changelog"]["histories"] = [status_item("2026-11-02T11:00:00.000+0000", "In Progress", "Completed")]
    assert [s.status for s in ticket_from_jira(done).status_history] == ["new", "solved"]


@responses.activate
def test_a_search_token_already_followed_ends_the_pass():
    page = {"issues": [issue("SUP-1")], "nextPageToken": "same", "isLast": False}
    c = jira()
    responses.get(f"{JR}/rest/api/2/search/jql", json=page)
    pages = list(itertools.islice(c.changes(None), 5))
    assert len(pages) == 2 and sum("search/jql" in x.request.url for x in responses.calls) == 2
    assert [t.id for p in pages for t in p.tickets] == ["SUP-1"]
    # Not a pass that reached its last page: the next window keeps to the watermark.
    assert "searched" not in json.loads(pages[-1].cursor)


@responses.activate
def test_a_label_is_removed_by_the_name_it_is_written_with():
    # Jira labels keep their case: {"remove": "tier_l1"} names no label of an issue labelled "Tier_L1".
    c = jira()
    responses.put(f"{JR}/rest/api/2/issue/SUP-1", status=204)
    t = ticket_from_jira(issue("SUP-1", labels=["Tier_L1", "VIP"]))
    assert t.tags == {"tier_l1", "vip"}
    c.apply(t, [AddTags(("tier_l2",)), RemoveTags(("tier_l1",))], "esc-1")
    edit = json.loads(next(x.request.body for x in responses.calls if x.request.method == "PUT"))
    assert edit["update"]["labels"] == [{"add": "tier_l2"}, {"remove": "Tier_L1"}]
