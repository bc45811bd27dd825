"""People in the sandbox: their own credentials, authors of what they write, and the record it leaves.

Each new endpoint is checked against the official OpenAPI file (and, for the
audits, against the recorded TestTicketAudits cassettes), as test_sandbox.py does.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import jsonschema
import pytest
import requests

from tierlift.sandbox import Sandbox

from refkit import openapi, recorded_bodies, resolve, schema_for

NOW = datetime(2026, 11, 2, 15, 0, tzinfo=UTC)
BOT = ("bot@example.com/token", "sandbox-token")
AGENT = ("ana@floor.example/token", "tok-ana")
L2 = ("lee@floor.example/token", "tok-lee")
CUSTOMER = ("carla@customer.example/token", "tok-carla")
PEOPLE = [
    {"name": "Ana L1", "email": "ana@floor.example", "role": "agent", "token": "tok-ana", "team": "support-generalists"},
    {"name": "Lee L2", "email": "lee@floor.example", "role": "agent", "token": "tok-lee", "team": "support-specialists"},
    {"name": "Carla", "email": "carla@customer.example", "role": "end-user", "token": "tok-carla"},
]


def validate(instance, schema):
    jsonschema.Draft7Validator(schema).validate(instance)


@pytest.fixture
def zd():
    with Sandbox("zendesk", tickets=5, seed=5, now=NOW) as sb:
        r = requests.post(sb.url + "/_sandbox/users", json={"users": PEOPLE}, timeout=10)
        assert r.status_code == 200
        yield sb


@pytest.fixture
def jira():
    with Sandbox("jira", tickets=5, seed=5, now=NOW) as sb:
        jp = [dict(p, email=p["email"]) for p in PEOPLE]
        assert requests.post(sb.url + "/_sandbox/users", json={"users": jp}, timeout=10).status_code == 200
        yield sb


@pytest.fixture(scope="module")
def zspec(shared_reference):
    return openapi(str(shared_reference / "openapi" / "zendesk-support-api.oas.yaml"))


@pytest.fixture(scope="module")
def jspec(shared_reference):
    return openapi(str(shared_reference / "openapi" / "jira-cloud-platform.swagger-v3.json"))


def zget(sb, path, auth=BOT, **params):
    return requests.get(sb.url + path, params=params, auth=auth, timeout=10)


def new_ticket(sb, auth=CUSTOMER, subject="VPN drops", body="The VPN drops every hour."):
    r = requests.post(sb.url + "/api/v2/requests.json", auth=auth, timeout=10,
                      json={"request": {"subject": subject, "comment": {"body": body}}})
    assert r.status_code == 201, r.text
    return r.json()["request"]["id"]


def zput(sb, tid, ticket, auth=AGENT):
    r = requests.put(f"{sb.url}/api/v2/tickets/{tid}.json", auth=auth, json={"ticket": ticket}, timeout=10)
    assert r.status_code == 200, r.text
    return r.json()


# --- Zendesk ------------------------------------------------------------------------------


def test_credentials_name_the_caller_and_a_wrong_token_is_refused(zd, zspec):
    me = zget(zd, "/api/v2/users/me.json", auth=AGENT).json()
    validate(me, schema_for(zspec, "/api/v2/users/me", "get", nulls=True))
    assert me["user"]["email"] == "ana@floor.example" and me["user"]["role"] == "agent"
    assert me["user"]["default_group_id"] == zd.store.group_id("support-generalists")
    assert zget(zd, "/api/v2/users/me.json").json()["user"]["email"] == "bot@example.com"
    assert zget(zd, "/api/v2/users/me.json", auth=("ana@floor.example/token", "tok-lee")).status_code == 401
    # tierlift's own account keeps accepting the token every config already uses
    assert zget(zd, "/api/v2/tickets/1.json", auth=("bot@example.com/token", "anything")).status_code == 200


def test_an_agent_creates_a_ticket_and_the_audit_names_its_author(zd, zspec):
    r = requests.post(zd.url + "/api/v2/tickets.json", auth=AGENT, timeout=10, json={"ticket": {
        "subject": "Printer on fire", "comment": {"body": "Customer called: the printer is on fire."},
        "requester": {"name": "Pat", "email": "pat@customer.example"}, "tags": ["phone"],
        "group_id": zd.store.group_id("support-generalists")}})
    assert r.status_code == 201, r.text
    validate(r.json(), schema_for(zspec, "/api/v2/tickets", "post", "201", nulls=True))
    ticket, audit = r.json()["ticket"], r.json()["audit"]
    assert r.headers["Location"].endswith(f"/api/v2/tickets/{ticket['id']}.json")
    pat = zd.store.people.by_email["pat@customer.example"]
    assert ticket["requester_id"] == pat.uid and ticket["submitter_id"] == pat.uid and pat.role == "end-user"
    assert audit["author_id"] == zd.store.people.by_email["ana@floor.example"].uid
    assert [e["type"] for e in audit["events"]][:2] == ["Comment", "Create"]
    # an end user may not use the agents' endpoint
    r = requests.post(zd.url + "/api/v2/tickets.json", auth=CUSTOMER, json={"ticket": {"subject": "x", "comment": {"body": "y"}}})
    assert r.status_code == 403


def test_comments_and_changes_carry_the_callers_id_in_comments_and_audits(zd):
    tid = new_ticket(zd)
    ana, lee = (zd.store.people.by_email[e].uid for e in ("ana@floor.example", "lee@floor.example"))
    carla = zd.store.people.by_email["carla@customer.example"].uid
    zd.clock.advance(timedelta(minutes=5))
    l2 = zd.store.group_id("support-specialists")
    out = zput(zd, tid, {"comment": {"body": "Moving to L2, see logs", "public": False}, "group_id": l2,
                         "additional_tags": ["vpn"]})
    change = {e["field_name"]: e for e in out["audit"]["events"] if e["type"] == "Change"}
    assert change["group_id"]["previous_value"] is None and change["group_id"]["value"] == l2
    assert change["tags"]["previous_value"] == [] and change["tags"]["value"] == ["vpn"]
    zput(zd, tid, {"comment": {"body": "We are on it.", "public": True}, "status": "pending"}, auth=L2)
    r = requests.put(f"{zd.url}/api/v2/requests/{tid}.json", auth=CUSTOMER, json={"request": {"comment": {"body": "Still broken"}}})
    assert r.status_code == 200
    comments = zget(zd, f"/api/v2/tickets/{tid}/comments.json").json()["comments"]
    assert [(c["author_id"], c["public"]) for c in comments] == [(carla, True), (ana, False), (lee, True), (carla, True)]
    audits = zget(zd, f"/api/v2/tickets/{tid}/audits.json").json()["audits"]
    assert [a["author_id"] for a in audits] == [carla, ana, lee, carla]
    reopen = [e for e in audits[-1]["events"] if e["type"] == "Change"]
    assert reopen == [{"type": "Change", "field_name": "status", "value": "open", "previous_value": "pending", "id": 2}]
    assert all(c["author_id"] == e["author_id"] for a, c in zip(audits, comments, strict=True)
               for e in a["events"] if e["type"] == "Comment")


def test_audits_are_cursor_paginated_like_the_recorded_ones(zd, zspec, shared_reference):
    tid = new_ticket(zd)
    for i in range(4):
        zd.clock.advance(timedelta(minutes=1))
        zput(zd, tid, {"comment": {"body": f"note {i}", "public": False}})
    zd.store.apply_rule(tid, "Auto-solve after 4 days pending", "automation", {"status": "solved"})
    seen, url = [], f"{zd.url}/api/v2/tickets/{tid}/audits.json?page%5Bsize%5D=2"
    while url:
        body = requests.get(url, auth=AGENT, timeout=10).json()
        validate(body, schema_for(zspec, "/api/v2/tickets/{ticket_id}/audits", "get", nulls=True))
        seen += body["audits"]
        url = body["links"]["next"] if body["meta"]["has_more"] else None
    assert len(seen) == 6 and seen == zget(zd, f"/api/v2/tickets/{tid}/audits.json").json()["audits"]
    recorded_audit, recorded_meta = set(), set()
    for _uri, rec in recorded_bodies(shared_reference / "zendesk-recordings" / "TestTicketAudits.test_pagination.json"):
        recorded_meta |= set(rec["meta"]) | {f"links.{k}" for k in rec["links"]}
        for a in rec["audits"]:
            recorded_audit |= set(a)
    assert set(seen[0]) == recorded_audit
    assert set(body["meta"]) | {f"links.{k}" for k in body["links"]} == recorded_meta
    rule = seen[-1]
    assert rule["author_id"] == -1 and rule["via"]["channel"] == "rule" and rule["via"]["source"]["rel"] == "automation"
    assert rule["via"]["source"]["from"]["title"] == "Auto-solve after 4 days pending"


def test_incremental_ticket_events_list_every_audit_with_its_changes(zd, zspec):
    start = int(zd.clock.now().timestamp())
    tid = new_ticket(zd)
    zd.clock.advance(timedelta(minutes=2))
    zput(zd, tid, {"comment": {"body": "Checking", "public": True}, "group_id": zd.store.group_id("support-specialists")})
    recent = zget(zd, "/api/v2/incremental/ticket_events.json", start_time=start).json()["ticket_events"]
    assert [e["ticket_id"] for e in recent] == [tid], "the last minute is never returned (as the cursor export)"
    zd.clock.advance(timedelta(seconds=61))
    body = zget(zd, "/api/v2/incremental/ticket_events.json", start_time=start, include="comment_events").json()
    validate(body, schema_for(zspec, "/api/v2/incremental/ticket_events", "get", nulls=True))
    events = [e for e in body["ticket_events"] if e["ticket_id"] == tid]
    assert [e["updater_id"] for e in events] == [zd.store.people.by_email[e].uid for e in
                                                 ("carla@customer.example", "ana@floor.example")]
    kids = events[1]["child_events"]
    assert {"event_type": "Comment", "public": True, "body": "Checking"}.items() <= kids[0].items()
    assert any(k.get("group_id") == zd.store.group_id("support-specialists") and k["previous_value"] is None for k in kids)
    plain = zget(zd, "/api/v2/incremental/ticket_events.json", start_time=start).json()["ticket_events"]
    assert all(k["event_type"] != "Comment" for e in plain for k in e["child_events"])
    assert [e for e in plain if e["ticket_id"] == tid][1]["comment_public"] is True
    assert zget(zd, "/api/v2/incremental/ticket_events.json").status_code == 400
    # Admins only (the OpenAPI file's "Allowed For"): an agent's token is refused.
    assert zget(zd, "/api/v2/incremental/ticket_events.json", auth=AGENT, start_time=start).status_code == 403


def test_a_ticket_an_agent_opens_for_a_customer_has_no_first_reply_yet(zd):
    """QA (TeamFlow lead): a ticket an agent created for a customer had its first reply time
    fulfilled at creation, so tierlift's note said the unanswered L1 clock was "met". First
    reply time ends at the first public agent comment *after* creation (api-facts.md)."""
    r = requests.post(zd.url + "/api/v2/tickets.json", auth=AGENT, timeout=10, json={"ticket": {
        "subject": "Money back", "requester": {"email": "rb@customer.example", "name": "Rb"},
        "comment": {"body": "We were billed twice. Please refund it."}}})
    assert r.status_code == 201, r.text
    tid = r.json()["ticket"]["id"]
    assert zd.store.metrics[tid]["reply_time_in_minutes"]["calendar"] is None
    zd.clock.advance(timedelta(minutes=4))
    zput(zd, tid, {"comment": {"body": "Looking into it", "public": True}}, auth=L2)
    assert zd.store.metrics[tid]["reply_time_in_minutes"]["calendar"] == 4


def test_metric_events_fulfil_the_first_reply_only_for_a_person(zd, zspec):
    start = int(zd.clock.now().timestamp())
    tid = new_ticket(zd)
    zd.clock.advance(timedelta(minutes=3))
    zput(zd, tid, {"comment": {"body": "Your request has been escalated.", "public": True}}, auth=BOT)
    zd.store.apply_rule(tid, "Auto-reply", "trigger", {"comment": {"body": "We got your message", "public": True}})
    assert zd.store.metrics[tid]["reply_time_in_minutes"]["calendar"] is None
    zd.clock.advance(timedelta(minutes=7))
    zput(zd, tid, {"comment": {"body": "Hello, looking now", "public": True}, "status": "pending"}, auth=L2)
    body = zget(zd, "/api/v2/incremental/ticket_metric_events.json", start_time=start).json()
    validate(body, schema_for(zspec, "/api/v2/incremental/ticket_metric_events", "get", nulls=True))
    mine = [(e["metric"], e["type"]) for e in body["ticket_metric_events"] if e["ticket_id"] == tid]
    assert ("reply_time", "activate") in mine and mine.count(("reply_time", "fulfill")) == 1
    assert ("agent_work_time", "pause") in mine
    assert zd.store.metrics[tid]["reply_time_in_minutes"]["calendar"] == 10
    page = zget(zd, "/api/v2/incremental/ticket_metric_events.json", start_time=start, **{"page[size]": 2}).json()
    validate(page, schema_for(zspec, "/api/v2/incremental/ticket_metric_events", "get", nulls=True))
    assert len(page["ticket_metric_events"]) == 2 and page["meta"]["has_more"]


def test_zenpy_with_an_agents_credentials_writes_as_that_agent(zd, monkeypatch):
    from zenpy import Zenpy
    from zenpy.lib.api_objects import Comment

    monkeypatch.setenv("ZENPY_FORCE_SCHEME", "http")
    monkeypatch.setenv("ZENPY_FORCE_NETLOC", zd.url.split("//")[1])
    tid = new_ticket(zd)
    client = Zenpy(subdomain="sandbox", email="lee@floor.example", token="tok-lee")
    assert client.users.me().name == "Lee L2"
    t = client.tickets(id=tid)
    t.comment = Comment(body="from zenpy as Lee", public=True)
    client.tickets.update(t)
    audits = list(client.tickets.audits(ticket=tid))
    lee = zd.store.people.by_email["lee@floor.example"].uid
    assert audits[-1].author_id == lee
    assert [c.author_id for c in client.tickets.comments(ticket=tid)][-1] == lee


# --- Jira -------------------------------------------------------------------------------------


JAGENT = ("ana@floor.example", "tok-ana")
JL2 = ("lee@floor.example", "tok-lee")
JCUSTOMER = ("carla@customer.example", "tok-carla")


def jpost(sb, path, body, auth):
    return requests.post(sb.url + path, json=body, auth=auth, timeout=10)


def test_jira_myself_create_and_comment_as_the_caller(jira, jspec):
    me = requests.get(jira.url + "/rest/api/3/myself", auth=JAGENT, timeout=10).json()
    validate(me, schema_for(jspec, "/rest/api/3/myself", "get"))
    assert me["displayName"] == "Ana L1" and me["accountType"] == "atlassian"
    assert requests.get(jira.url + "/rest/api/2/myself", auth=("bot@example.com", "x")).json()["accountId"] == "acc-tierlift-bot"
    assert requests.get(jira.url + "/rest/api/2/myself", auth=("ana@floor.example", "nope")).status_code == 401
    r = jpost(jira, "/rest/api/3/issue", {"fields": {"project": {"key": "SUP"}, "summary": "Cannot log in",
                                                     "description": "SSO loop", "issuetype": {"name": "Support"}}}, JCUSTOMER)
    assert r.status_code == 201
    validate(r.json(), schema_for(jspec, "/rest/api/3/issue", "post", "201"))
    key = r.json()["key"]
    issue = jira.store.issues[key]
    assert issue["fields"]["reporter"]["displayName"] == "Carla" and issue["fields"]["reporter"]["accountType"] == "customer"
    r = jpost(jira, f"/rest/api/3/issue/{key}/comment", {"body": "Looking", "properties": [
        {"key": "sd.public.comment", "value": {"internal": True}}]}, JAGENT)
    assert r.status_code == 201
    validate(r.json(), schema_for(jspec, "/rest/api/3/issue/{issueIdOrKey}/comment", "post", "201", nulls=True))
    r = jpost(jira, f"/rest/servicedeskapi/request/{key}/comment", {"body": "Hi Carla", "public": True}, JL2)
    assert r.status_code == 201 and r.json()["author"]["displayName"] == "Lee L2"
    cs = jira.store.issues[key]["fields"]["comment"]["comments"]
    assert [(c["author"]["displayName"], c["jsdPublic"]) for c in cs] == [("Ana L1", False), ("Lee L2", True)]


def test_jira_changes_are_a_changelog_with_authors_on_get_and_search(jira, jspec):
    key = jpost(jira, "/rest/api/2/issue", {"fields": {"project": {"key": "SUP"}, "summary": "Export fails",
                                                       "description": "CSV export 500s"}}, JCUSTOMER).json()["key"]
    lee = jira.store.people.by_email["lee@floor.example"].account
    r = requests.put(f"{jira.url}/rest/api/2/issue/{key}", auth=JAGENT, timeout=10, json={
        "fields": {"assignee": {"accountId": lee}, "customfield_10056": "support-specialists"},
        "update": {"labels": [{"add": "export"}]}})
    assert r.status_code == 204, r.text
    ts = requests.get(f"{jira.url}/rest/api/3/issue/{key}/transitions", auth=JL2).json()
    # The spec nests `to` (StatusDetails) deeper than conftest.resolve inlines: checked by hand.
    validate({"transitions": [{k: v for k, v in t.items() if k != "to"} for t in ts["transitions"]]},
             schema_for(jspec, "/rest/api/3/issue/{issueIdOrKey}/transitions", "get"))
    assert all(set(t["to"]) == {"name", "id", "statusCategory"} for t in ts["transitions"])
    waiting = next(t["id"] for t in ts["transitions"] if t["name"] == "Waiting for customer")
    assert jpost(jira, f"/rest/api/3/issue/{key}/transitions", {"transition": {"id": waiting}}, JL2).status_code == 204
    jpost(jira, f"/rest/servicedeskapi/request/{key}/comment", {"body": "still failing"}, JCUSTOMER)
    got = requests.get(f"{jira.url}/rest/api/3/issue/{key}", params={"expand": "changelog"}, auth=JAGENT).json()
    # The changelog sits deeper in the issue schema than conftest.resolve inlines: each
    # history is checked against the spec's Changelog (real items carry null from/to).
    validate({k: v for k, v in got.items() if k != "changelog"},
             schema_for(jspec, "/rest/api/3/issue/{issueIdOrKey}", "get", nulls=True))
    hist = got["changelog"]["histories"]
    for h in hist:
        validate(h, resolve(jspec, {"$ref": "#/components/schemas/Changelog"}, nulls=True))
    assert [h["author"]["displayName"] for h in hist] == ["Ana L1", "Lee L2", "Automation for Jira"]
    assert hist[-1]["author"]["accountType"] == "app"
    items = {i["field"]: i for i in hist[0]["items"]}
    assert items["assignee"]["to"] == lee and items["assignee"]["toString"] == "Lee L2" and items["assignee"]["from"] is None
    assert items["Team"]["fieldId"] == "customfield_10056" and items["Team"]["toString"] == "support-specialists"
    assert items["labels"]["fromString"] == "" and items["labels"]["toString"] == "export"
    assert [(i["fromString"], i["toString"]) for i in hist[1]["items"]] == [("To Do", "Waiting for customer")]
    assert [(i["fromString"], i["toString"]) for i in hist[2]["items"]] == [("Waiting for customer", "In Progress")]
    page = requests.get(jira.url + "/rest/api/3/search/jql", auth=JAGENT, params={
        "jql": f"key in ({key})", "fields": "summary,status", "expand": "changelog"}).json()
    validate({**page, "issues": [{k: v for k, v in i.items() if k != "changelog"} for i in page["issues"]]},
             schema_for(jspec, "/rest/api/3/search/jql", "get", nulls=True))
    assert page["issues"][0]["changelog"]["histories"] == hist
    assert requests.put(f"{jira.url}/rest/api/2/issue/{key}", auth=JAGENT, json={"fields": {"status": {"name": "Done"}}}).status_code == 400


def test_the_jira_library_with_an_agents_credentials(jira):
    from jira import JIRA

    key = jpost(jira, "/rest/api/2/issue", {"fields": {"project": {"key": "SUP"}, "summary": "Slow",
                                                       "description": "Dashboard slow"}}, JCUSTOMER).json()["key"]
    client = JIRA(server=jira.url, basic_auth=JL2, max_retries=0)
    assert client.myself()["displayName"] == "Lee L2"
    client.add_comment(key, "internal from Lee", is_internal=True)
    client.transition_issue(key, "41")
    issue = client.issue(key, expand="changelog")
    assert issue.fields.comment.comments[-1].author.displayName == "Lee L2"
    assert issue.changelog.histories[-1].author.displayName == "Lee L2"
    assert issue.fields.status.name == "Resolved"
