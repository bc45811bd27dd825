"""The sandbox is faithful enough to trust: real shapes, real clients, the official specs."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from datetime import UTC, datetime, timedelta

import jsonschema
import pytest
import requests

from tierlift.sandbox import FaultSpec, Sandbox

from refkit import openapi, recorded_bodies, schema_for

NOW = datetime(2026, 11, 2, 19, 0, tzinfo=UTC)
AUTH = ("bot@example.com/token", "sandbox-token")


@pytest.fixture
def zd():
    with Sandbox("zendesk", tickets=60, seed=5, now=NOW) as sb:
        yield sb


@pytest.fixture
def jira():
    with Sandbox("jira", tickets=30, seed=5, now=NOW) as sb:
        yield sb


def get(sb, path, **params):
    r = requests.get(sb.url + path, params=params, auth=AUTH, timeout=10)
    return r


# --- fidelity to real Zendesk data ------------------------------------------------------------


def test_sandbox_tickets_carry_every_key_of_the_recorded_tickets_with_the_same_types(zd, shared_reference):
    recorded: dict[str, set[str]] = {}
    for cassette in (shared_reference / "zendesk-recordings").glob("*.json"):
        for _uri, body in recorded_bodies(cassette):
            for t in body.get("tickets") or ([body["ticket"]] if isinstance(body.get("ticket"), dict) else []):
                for k, v in t.items():
                    recorded.setdefault(k, set()).add(type(v).__name__)
    assert len(recorded) > 30
    tickets = get(zd, "/api/v2/incremental/tickets/cursor.json", start_time=0).json()["tickets"]
    for t in tickets:
        for key, types in recorded.items():
            assert key in t, f"sandbox ticket lacks {key}"
            assert type(t[key]).__name__ in types | {"NoneType"}, (key, type(t[key]).__name__, types)


def validate(instance, schema):
    jsonschema.Draft7Validator(schema).validate(instance)


def test_zendesk_responses_validate_against_the_official_openapi(zd, shared_reference):
    spec = openapi(str(shared_reference / "openapi" / "zendesk-support-api.oas.yaml"))
    export = get(zd, "/api/v2/incremental/tickets/cursor.json", start_time=0, include="organizations").json()
    validate(export, schema_for(spec, "/api/v2/incremental/tickets/cursor", "get", nulls=True))
    validate(get(zd, "/api/v2/tickets/1.json").json(), schema_for(spec, "/api/v2/tickets/{ticket_id}", "get", nulls=True))
    validate(get(zd, "/api/v2/tickets/show_many.json", ids="1,2").json(), schema_for(spec, "/api/v2/tickets/show_many", "get", nulls=True))
    validate(get(zd, "/api/v2/tickets/1/comments.json").json(), schema_for(spec, "/api/v2/tickets/{ticket_id}/comments", "get", nulls=True))
    validate(get(zd, "/api/v2/groups.json").json(), schema_for(spec, "/api/v2/groups", "get", nulls=True))
    t = get(zd, "/api/v2/tickets/3.json").json()["ticket"]
    r = requests.put(zd.url + "/api/v2/tickets/3.json", auth=AUTH, json={"ticket": {
        "tags": t["tags"] + ["tier_l2"], "comment": {"body": "internal", "public": False},
        "safe_update": True, "updated_stamp": t["updated_at"]}})
    body = r.json()
    # The spec types an audit event's value as string or integer, but real audits
    # carry tag changes as arrays (the recorded TestTicketAudits cassettes): the
    # ticket is checked against the spec, the audit against the recorded shape.
    validate({"ticket": body["ticket"]}, schema_for(spec, "/api/v2/tickets/{ticket_id}", "put", nulls=True))
    tag_events = [e for e in body["audit"]["events"] if e.get("field_name") == "tags"]
    assert tag_events and isinstance(tag_events[0]["value"], list)
    job = requests.put(zd.url + "/api/v2/tickets/update_many.json", auth=AUTH, params={"ids": "4,5"},
                       json={"ticket": {"priority": "high"}}).json()
    # Real queued jobs carry "results": null (TestTicketCreateUpdateDelete cassette), which
    # the spec does not allow: the queued answer is checked against the recording instead.
    assert job["job_status"]["status"] == "queued" and job["job_status"]["results"] is None
    assert set(job["job_status"]) == {"id", "url", "total", "progress", "status", "message", "results"}
    done = get(zd, f"/api/v2/job_statuses/{job['job_status']['id']}.json").json()
    # The spec's result items are a oneOf of two open objects that any item matches twice,
    # so the items are checked against the recorded completed job instead.
    results = done["job_status"]["results"]
    validate({"job_status": {**done["job_status"], "results": []}},
             schema_for(spec, "/api/v2/job_statuses/{job_status_id}", "get", nulls=True))
    assert done["job_status"]["status"] == "completed"
    assert results == [{"id": i, "action": "update", "status": "Updated", "success": True} for i in (4, 5)]


def test_jira_responses_validate_against_the_official_openapi(jira, shared_reference):
    spec = openapi(str(shared_reference / "openapi" / "jira-cloud-platform.swagger-v3.json"))
    r = requests.get(jira.url + "/rest/api/3/search/jql", auth=AUTH,
                     params={"jql": "project = SUP ORDER BY updated ASC", "fields": "summary,status,labels,updated",
                             "maxResults": 10})
    validate(r.json(), schema_for(spec, "/rest/api/3/search/jql", "get"))
    validate(requests.get(jira.url + "/rest/api/3/serverInfo", auth=AUTH).json(),
             schema_for(spec, "/rest/api/3/serverInfo", "get"))
    validate(requests.get(jira.url + "/rest/api/3/myself", auth=AUTH).json(), schema_for(spec, "/rest/api/3/myself", "get"))
    validate(requests.get(jira.url + "/rest/api/3/issue/SUP-1", auth=AUTH).json(),
             schema_for(spec, "/rest/api/3/issue/{issueIdOrKey}", "get"))
    validate(requests.get(jira.url + "/rest/api/3/issue/SUP-1/comment", auth=AUTH).json(),
             schema_for(spec, "/rest/api/3/issue/{issueIdOrKey}/comment", "get"))
    editmeta = schema_for(spec, "/rest/api/3/issue/{issueIdOrKey}/editmeta", "get")
    validate(requests.get(jira.url + "/rest/api/3/issue/SUP-1/editmeta", auth=AUTH).json(), editmeta)
    jira.data.team_options = ["support-generalists", "support-specialists"]  # the Team field as a select list
    validate(requests.get(jira.url + "/rest/api/3/issue/SUP-1/editmeta", auth=AUTH).json(), editmeta)


# --- the real clients, unmodified ----------------------------------------------------------------


def test_zenpy_works_against_the_sandbox(zd, monkeypatch):
    from zenpy import Zenpy
    from zenpy.lib.api_objects import Comment

    monkeypatch.setenv("ZENPY_FORCE_SCHEME", "http")
    monkeypatch.setenv("ZENPY_FORCE_NETLOC", zd.url.split("//")[1])
    client = Zenpy(subdomain="sandbox", email="bot@example.com", token="sandbox-token")
    gen = client.tickets.incremental(start_time=datetime(2020, 1, 1, tzinfo=UTC), include=["organizations"])
    tickets = list(gen)
    assert len(tickets) == 60 and gen.after_cursor
    t = client.tickets(id=2)
    assert t.id == 2
    assert [x.id for x in client.tickets(ids=[1, 2, 3])] == [1, 2, 3]
    t.comment = Comment(body="from zenpy", public=False)
    t.safe_update, t.updated_stamp = True, t.updated_at
    client.tickets.update(t)
    assert any(c.body == "from zenpy" and not c.public for c in client.tickets.comments(ticket=2))
    assert {g.name for g in client.groups()} >= {"support-specialists", "engineering-oncall"}
    # update_many answers with a job status, which zenpy polls to completion.
    batch = list(client.tickets(ids=[4, 5]))
    for x in batch:
        x.tags = [*x.tags, "bulk_checked"]
    job = client.tickets.update(batch)
    assert job.status == "queued" and job.total == 2
    done = client.job_status(id=job.id)
    assert done.status == "completed" and [(r.id, r.success) for r in done.results] == [(4, True), (5, True)]
    assert all("bulk_checked" in zd.store.tickets[i]["tags"] for i in (4, 5))
    assert any(e["field_name"] == "tags" for a in client.tickets.audits(ticket=4) for e in a.events
               if e.get("type") == "Change")
    assert client.users.me().email == "bot@example.com"


def test_the_jira_library_works_against_the_sandbox(jira):
    from jira import JIRA

    client = JIRA(server=jira.url, basic_auth=("bot@example.com", "sandbox-token"), max_retries=0)
    page = client.enhanced_search_issues("project = SUP ORDER BY updated ASC", maxResults=20,
                                         fields=["summary", "labels", "status"], expand="changelog")
    assert len(page) == 20 and page.nextPageToken
    issue = client.issue("SUP-1")
    issue.update(update={"labels": [{"add": "tier_l2"}]})
    assert "tier_l2" in client.issue("SUP-1").fields.labels
    client.add_comment("SUP-1", "internal from jira", is_internal=True)
    stored = jira.store.issues["SUP-1"]["fields"]["comment"]["comments"][-1]
    assert stored["body"] == "internal from jira" and stored["jsdPublic"] is False
    assert client.search_users(query="CTO")[0].displayName == "CTO"


# --- behaviour -----------------------------------------------------------------------------------


def test_the_export_never_returns_the_last_minute_and_advances_on_change(zd):
    body = get(zd, "/api/v2/incremental/tickets/cursor.json", start_time=0).json()
    cursor = body["after_cursor"]
    t = get(zd, "/api/v2/tickets/4.json").json()["ticket"]
    requests.put(zd.url + "/api/v2/tickets/4.json", auth=AUTH, json={"ticket": {"priority": "high"}})
    after = get(zd, "/api/v2/incremental/tickets/cursor.json", cursor=cursor).json()
    assert after["tickets"] == []  # changed just now: withheld for a minute
    zd.clock.advance(timedelta(seconds=61))
    after = get(zd, "/api/v2/incremental/tickets/cursor.json", cursor=cursor).json()
    assert [x["id"] for x in after["tickets"]] == [4]
    assert after["tickets"][0]["updated_at"] > t["updated_at"]
    assert after["after_url"].startswith(zd.url)


def test_jira_search_on_a_running_clock_started_mid_second():
    # Generated issues then carry sub-second creation instants, which Jira's
    # times drop: the poll's search must still answer (it once gave 500).
    start = datetime(2026, 11, 2, 13, 30, 0, 123456, tzinfo=UTC)
    with Sandbox("jira", tickets=30, seed=7, now=start, clock_speed=900) as sb:
        r = requests.post(sb.url + "/rest/api/2/search/jql", auth=AUTH, timeout=10, json={
            "jql": 'project = SUP AND updated >= "1970/01/01 00:00" ORDER BY updated ASC, key ASC',
            "fields": ["*all"], "maxResults": 100})
    assert r.status_code == 200, r.text
    assert len(r.json()["issues"]) == 30


def test_faults_by_script_and_by_rate(zd):
    zd.faults.script(["429", "500", "drop"])
    assert get(zd, "/api/v2/tickets/1.json").status_code == 429
    assert get(zd, "/api/v2/tickets/1.json").status_code == 500
    with pytest.raises(requests.ConnectionError):
        get(zd, "/api/v2/tickets/1.json")
    assert get(zd, "/api/v2/tickets/1.json").status_code == 200
    zd.faults.set(FaultSpec.parse("503:0.5", seed=1))
    statuses = [get(zd, "/api/v2/tickets/1.json").status_code for _ in range(200)]
    assert 60 < statuses.count(503) < 140
    assert zd.stats()["faults"] >= 63


def test_rate_limit_budget_gives_429_with_retry_after():
    with Sandbox("zendesk", tickets=3, seed=1, now=NOW, rate_limit_per_minute=5) as sb:
        statuses = [get(sb, "/api/v2/tickets/1.json") for _ in range(7)]
        assert [r.status_code for r in statuses] == [200] * 5 + [429] * 2
        assert int(statuses[-1].headers["Retry-After"]) >= 1
        assert statuses[0].headers["X-Rate-Limit"] == "5" and statuses[4].headers["X-Rate-Limit-Remaining"] == "0"


def test_bad_credentials_are_401(zd):
    r = requests.get(zd.url + "/api/v2/tickets/1.json", auth=("bot@example.com/token", "bad-token"))
    assert r.status_code == 401 and r.json()["error"] == "Couldn't authenticate you"


def test_same_seed_same_data_and_the_mix_covers_both_policies():
    a = Sandbox("zendesk", tickets=80, seed=9, now=NOW).start()
    b = Sandbox("zendesk", tickets=80, seed=9, now=NOW).start()
    try:
        ta = get(a, "/api/v2/incremental/tickets/cursor.json", start_time=0).json()["tickets"]
        tb = get(b, "/api/v2/incremental/tickets/cursor.json", start_time=0).json()["tickets"]
        strip = [{k: v for k, v in t.items() if k != "url"} for t in ta]
        assert strip == [{k: v for k, v in t.items() if k != "url"} for t in tb]
        text = " ".join((t["subject"] + " " + t["description"]).lower() for t in ta)
        tags = {tag for t in ta for tag in t["tags"]}
        for phrase in ("data breach", "outage", "lawsuit", "refund of $1,500", "speak to a manager", "cancel our subscription"):
            assert phrase in text, phrase
        assert {"p0", "p1", "p2", "p3", "escalate", "fix_deployed", "tier_l3"} <= tags
        assert {t["status"] for t in ta} >= {"open", "pending"}
        plans = {o["organization_fields"]["plan"] for o in a.store.orgs.values()}
        assert plans == {"basic", "pro", "enterprise"}
    finally:
        a.stop()
        b.stop()


def test_control_endpoints(zd):
    assert requests.post(zd.url + "/_sandbox/clock", json={"advance_seconds": 3600}).json()["now"] == "2026-11-02T20:00:00Z"
    get(zd, "/api/v2/tickets/1.json")
    stats = requests.get(zd.url + "/_sandbox/stats").json()
    assert stats["reads"] == 1 and stats["writes"] == 0
    log = requests.get(zd.url + "/_sandbox/requests").json()
    assert log[-1]["path"] == "/api/v2/tickets/1.json"
    requests.post(zd.url + "/_sandbox/faults", json={"script": ["503"]})
    assert get(zd, "/api/v2/tickets/1.json").status_code == 503
    requests.post(zd.url + "/_sandbox/reset")
    assert requests.get(zd.url + "/_sandbox/stats").json()["reads"] == 0


def test_malformed_json_is_a_400_not_a_crash(zd):
    r = requests.put(zd.url + "/api/v2/tickets/1.json", auth=AUTH, data=b"{not json",
                     headers={"Content-Type": "application/json"})
    assert r.status_code == 400
    assert get(zd, "/api/v2/tickets/1.json").status_code == 200


def test_the_command_starts_prints_its_address_and_stops_on_sigterm():
    proc = subprocess.Popen([sys.executable, "-m", "tierlift.sandbox", "--flavor", "jira", "--tickets", "5"],
                            stdout=subprocess.PIPE, text=True, env={**os.environ})
    try:
        line = proc.stdout.readline()
        assert line.startswith("sandbox listening on http://127.0.0.1:")
        url = line.split()[3]
        assert requests.get(url + "/rest/api/2/serverInfo", auth=AUTH, timeout=5).json()["deploymentType"] == "Cloud"
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=10) == 0
