"""Reading issues by key (`fetch`): only within the helpdesk's scope, and every key Jira can have.

A webhook names an issue by its key, and the receiver trusts nothing else of it: an
issue outside the helpdesk's `project`/`jql` was read by `fetch` and escalated, a write
to an issue the poll never touches. And a project key may hold an underscore (AB_C-5):
the receiver took such keys and `fetch` dropped them without a read.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from tierlift.connectors.base import Secret
from tierlift.connectors.jira import JiraConnector, JiraSettings
from tierlift.sandbox import Sandbox

NOW = datetime(2026, 11, 2, 19, 0, tzinfo=UTC)


def connector(url: str, **scope: str | None) -> JiraConnector:
    return JiraConnector(JiraSettings("jira", url, "bot@example.com", Secret("good-token-1"), backoff=0.01, **scope),
                         sleep=lambda s: None)


@pytest.fixture
def sb():
    with Sandbox("jira", tickets=5, seed=3, now=NOW) as sb:
        yield sb


def new_issue(sb, labels: list[str]) -> str:
    status, body = sb.control("POST", "tickets", {"tickets": [
        {"subject": "Checkout down", "description": "All payments fail.", "tags": labels,
         "created_at": NOW.isoformat()}]})
    assert status in (200, 201), body
    return str(body["ids"][0])


def test_an_issue_outside_the_scope_is_not_read(sb):
    inside, outside = new_issue(sb, ["vip", "p0"]), new_issue(sb, ["p0"])
    scoped = connector(sb.url, project=None, jql="project = SUP AND labels = vip")
    other = connector(sb.url, project="OPS")
    for c in (scoped, other):
        c.open()
    try:
        assert sorted(scoped.fetch([inside, outside])) == [inside]
        assert other.fetch([inside, outside]) == {}
        assert sorted(connector(sb.url).fetch([inside, outside])) == sorted([inside, outside])  # project SUP
    finally:
        for c in (scoped, other):
            c.close()


def test_a_scope_with_or_keeps_its_meaning():
    """`a OR b AND key in (...)` would read all of `a`: such a scope is bracketed."""
    assert connector("http://x", project=None, jql="project = A OR project = B")._scope() == \
        "(project = A OR project = B)"
    assert connector("http://x", project=None, jql="project = A || labels = x")._scope().startswith("(")



def test_a_key_with_an_underscore_is_read():
    c = connector("http://jira.invalid")
    asked: list[str] = []

    def read(path, params=None, *, ticket_id=None):
        asked.append(params["jql"])
        return {"issues": [], "isLast": True}

    c._read = read  # type: ignore[method-assign]
    c.fetch(["AB_C-5", "SUP-7", "10007", "SUP-7) OR (project = X", "ÄB-1", ""])
    assert len(asked) == 1
    assert asked[0].endswith('key in ("AB_C-5", "SUP-7", "10007")')


def test_a_deleted_key_costs_only_itself(sb):
    """Jira answers a search naming a key it does not have with a 400 ("An issue with key
    'SUP-2' does not exist for field 'key'", the enhanced search has no `validateQuery` to
    turn that off): one deleted issue among a webhook's keys, or a quarantined one, failed
    the whole batch, so the others were never read."""
    c = connector(sb.url)
    c.open()
    try:
        sb.store.delete("SUP-2")
        assert sorted(c.fetch(["SUP-1", "SUP-2", "SUP-3"])) == ["SUP-1", "SUP-3"]
        sb.store.delete("SUP-1")
        sb.store.delete("SUP-3")
        assert c.fetch(["SUP-1", "SUP-2", "SUP-3"]) == {}
    finally:
        c.close()


def test_the_sandbox_refuses_a_search_for_a_key_it_does_not_have_as_jira_does(sb):
    import requests
    sb.store.delete("SUP-2")
    r = requests.get(f"{sb.url}/rest/api/2/search/jql", params={"jql": 'key in ("SUP-1", "SUP-2", SUP-99)'},
                     auth=("bot@example.com", "good-token-1"), timeout=5)
    assert r.status_code == 400
    assert r.json()["errorMessages"] == ["An issue with key 'SUP-2' does not exist for field 'key'.",
                                         "An issue with key 'SUP-99' does not exist for field 'key'."]


def test_a_refused_write_says_what_jira_said(sb):
    """The quarantine's log line said "HTTP 400" and nothing of why."""
    from tierlift.connectors.errors import TicketError
    from tierlift.engine.model import InternalNote

    c = connector(sb.url)
    c.open()
    try:
        ticket = c.fetch(["SUP-1"])["SUP-1"]
        with pytest.raises(TicketError, match="HTTP 400: comment: The entered text is too long. It exceeds the "
                                              "allowed limit of 32,767 characters"):
            c.apply(ticket, [InternalNote("x" * 40_000)], "e1")
    finally:
        c.close()
