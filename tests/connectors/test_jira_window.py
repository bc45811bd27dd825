"""The Jira search window: what an idle helpdesk re-reads, and that nothing is skipped.

Jira's search has minute precision and is eventually consistent, so each pass re-reads
an overlap window and drops what it delivered. The window used to start only at the
newest change less the overlap, so an idle helpdesk paged through the last burst of
changes (a first sync's writes: 194 searches a cycle at 100,000 issues) on every cycle
until its next change. Real HTTP against the sandbox, whose Date header is its own clock.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from tierlift.connectors.base import Secret
from tierlift.connectors.jira import JiraConnector, JiraSettings
from tierlift.sandbox import Sandbox

NOW = datetime(2026, 11, 2, 19, 0, tzinfo=UTC)


@pytest.fixture
def desk():
    with Sandbox("jira", tickets=40, seed=3, now=NOW) as sb:
        c = JiraConnector(JiraSettings("jira", sb.url, "bot@example.com", Secret("good-token-1"), page_size=10,
                                       backoff=0.01), sleep=lambda s: None)
        c.open()
        yield sb, c
        c.close()


def one_pass(c, cursor=None):
    pages = list(c.changes(cursor))
    return [t.id for p in pages for t in p.tickets], pages[-1].cursor


def searches(sb):
    return [r for r in sb.requests_log() if "search" in r["path"]]


def test_an_idle_helpdesk_stops_re_reading_a_burst_once_it_is_older_than_the_overlap(desk):
    sb, c = desk
    _, cursor = one_pass(c)
    burst = sb.control("POST", "churn", {"count": 30, "seed": 1})[1]["changed"]
    read, cursor = one_pass(c, cursor)
    assert sorted(read) == sorted(burst)
    sb.clock.advance(timedelta(minutes=5))
    again, cursor = one_pass(c, cursor)  # the burst was younger than the overlap at the last search
    assert again == []
    sb.clock.advance(timedelta(minutes=5))
    sb.reset_log()
    idle, cursor = one_pass(c, cursor)
    assert idle == []
    assert len(searches(sb)) == 1, "an idle pass is one search once the burst is older than the overlap"


def test_a_change_dated_inside_the_overlap_before_the_last_search_is_still_delivered(desk):
    sb, c = desk
    _, cursor = one_pass(c)
    sb.clock.advance(timedelta(minutes=10))
    assert one_pass(c, cursor)[0] == []
    _, cursor = one_pass(c, cursor)
    searched_at = sb.clock.now()
    # A change the helpdesk dates a minute before that search but that the search did not
    # return (Jira's search is eventually consistent): the next pass must still reach it.
    sb.clock.set(searched_at - timedelta(minutes=1))
    late = sb.control("POST", "churn", {"count": 1, "seed": 4})[1]["changed"]
    sb.clock.set(searched_at + timedelta(minutes=1))
    assert one_pass(c, cursor)[0] == late


def test_a_pass_cut_short_resumes_from_the_page_it_delivered(desk):
    sb, c = desk
    pages = c.changes(None)
    first = next(pages)
    assert len(first.tickets) == 10
    pages.close()  # the daemon stopped after committing one page
    sb.clock.advance(timedelta(minutes=30))
    rest, _ = one_pass(c, first.cursor)
    assert sorted(rest + [t.id for t in first.tickets]) == sorted(sb.store.issues)
