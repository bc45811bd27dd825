"""The route tables answer every path as the if-chains they replaced did (issue 17).

Each case is one request and the status (and error shape) the sandbox gave before
the tables: the methods an endpoint takes, trailing slashes, numbers in paths, the
flavour's own 404, and which endpoints turn a bad number into a 400.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
import requests

from tierlift.sandbox import Sandbox

NOW = datetime(2026, 11, 2, 19, 0, tzinfo=UTC)
AUTH = ("bot@example.com/token", "sandbox-token")


@pytest.fixture(scope="module")
def zd():
    with Sandbox("zendesk", tickets=20, seed=5, now=NOW) as sb:
        yield sb


@pytest.fixture(scope="module")
def jira():
    with Sandbox("jira", tickets=20, seed=5, now=NOW) as sb:
        yield sb


def call(sb: Sandbox, method: str, path: str, body: object = None, **params: str) -> requests.Response:
    return requests.request(method, sb.url + path, json=body, params=params, auth=AUTH, timeout=10)


@pytest.mark.parametrize(("method", "path", "status", "error"), [
    ("GET", "/api/v2/tickets/3.json", 200, None),
    ("GET", "/api/v2/tickets/3", 200, None),  # the suffix is optional
    ("GET", "/api/v2//tickets//3.json", 200, None),  # empty segments are dropped
    ("DELETE", "/api/v2/tickets/3.json", 404, "InvalidEndpoint"),  # no such route
    ("GET", "/api/v2/tickets/abc.json", 404, "InvalidEndpoint"),
    ("GET", "/api/v2/tickets/3/tags.json", 200, None),  # tags take every method
    ("DELETE", "/api/v2/tickets/3/tags.json", 200, None),
    ("GET", "/api/v2/tickets/3/comments.json", 200, None),
    ("GET", "/api/v2/tickets/3/audits.json", 200, None),
    ("GET", "/api/v2/tickets/999/audits.json", 404, "RecordNotFound"),
    ("GET", "/api/v2/job_statuses/nope.json", 404, "RecordNotFound"),
    ("GET", "/api/v2/users/me.json", 200, None),
    ("GET", "/api/v2/users/1.json", 200, None),
    ("GET", "/api/v2/users/show_many.json?ids=1,2", 200, None),
    ("GET", "/api/v2/organization_fields.json", 200, None),
    ("GET", "/api/v2/user_fields.json", 200, None),
    ("GET", "/api/v2/ticket_fields.json", 200, None),
    ("GET", "/api/v2/groups.json", 200, None),
    ("POST", "/api/v2/groups.json", 404, "InvalidEndpoint"),
    ("GET", "/api/v2/nowhere.json", 404, "InvalidEndpoint"),
    ("GET", "/elsewhere", 404, "InvalidEndpoint"),
])
def test_zendesk_paths_and_methods(zd, method, path, status, error):
    r = call(zd, method, path)
    assert r.status_code == status, r.text
    assert error is None or r.json()["error"] == error


def test_zendesk_bad_numbers_are_a_400_on_the_audit_and_event_endpoints_only(zd):
    r = call(zd, "GET", "/api/v2/incremental/ticket_events.json", start_time="soon")
    assert r.status_code == 400 and r.json()["error"] == "InvalidValue"
    r = call(zd, "GET", "/api/v2/tickets/3/audits.json", **{"page[after]": "bm9wZQ=="})
    assert r.status_code == 400 and r.json()["error"] == "InvalidPaginationParameter"
    # Search never had that guard: a bad page number is the sandbox's own 500.
    r = call(zd, "GET", "/api/v2/search.json", query="type:ticket", page="x")
    assert r.status_code == 500 and r.json()["error"] == "SandboxError"


@pytest.mark.parametrize(("method", "path", "status"), [
    ("GET", "/rest/api/2/serverInfo", 200),
    ("POST", "/rest/api/3/serverInfo//", 200),  # any method, trailing slashes ignored
    ("GET", "/rest/api/2/field", 200),
    ("GET", "/rest/api/2/user/search?query=cto", 200),
    ("GET", "/rest/api/2/user/assignable/search?query=cto", 200),
    ("GET", "/rest/api/2/myself", 200),
    ("GET", "/rest/api/2/myself/", 200),
    ("GET", "/rest/api/2/myself//", 404),  # one trailing slash only, as before
    ("PUT", "/rest/api/2/myself", 404),
    ("GET", "/rest/api/2/issue/SUP-3", 200),
    ("GET", "/rest/api/3/issue/10003/", 200),  # an issue id
    ("GET", "/rest/api/2/issue/SUP-3/comment", 200),
    ("GET", "/rest/api/2/issue/SUP-3/changelog", 200),
    ("GET", "/rest/api/2/issue/SUP-3/transitions", 200),
    ("GET", "/rest/api/2/issue/SUP-999", 404),
    ("DELETE", "/rest/api/2/issue/SUP-3", 404),
    ("GET", "/rest/api/2/issue", 404),
    ("GET", "/rest/api/4/serverInfo", 404),
    ("GET", "/rest/servicedeskapi/request/SUP-3/comment", 404),
])
def test_jira_paths_and_methods(jira, method, path, status):
    r = call(jira, method, path)
    assert r.status_code == status, r.text
    if status == 404:
        assert "errorMessages" in r.json()


def test_jira_v3_serves_descriptions_as_documents_and_v2_as_text(jira):
    v2 = call(jira, "GET", "/rest/api/2/issue/SUP-4").json()["fields"]["description"]
    v3 = call(jira, "GET", "/rest/api/3/issue/SUP-4").json()["fields"]["description"]
    assert isinstance(v2, str) and v3["type"] == "doc"
    found = call(jira, "POST", "/rest/api/3/search/jql", {"jql": "key = SUP-4", "fields": ["description"]}).json()
    assert found["issues"][0]["fields"]["description"]["type"] == "doc"


def test_control_endpoints_answer_by_method_and_name(zd):
    assert requests.get(zd.url + "/_sandbox/clock", timeout=10).status_code == 200
    assert requests.get(zd.url + "/_sandbox/stats/", timeout=10).status_code == 200
    assert requests.get(zd.url + "/_sandbox/seed", timeout=10).status_code == 404
    r = requests.post(zd.url + "/_sandbox/faults", json={"spec": "boom:0.1"}, timeout=10)
    assert r.status_code == 400 and "unknown fault 'boom'" in r.json()["error"]
