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


@pytest.mark.parametrize("zone", ["America/Los_Angeles", "Asia/Kolkata"])
def test_a_change_is_delivered_whatever_time_zone_the_account_searches_in(desk, zone):
    # Jira reads a JQL date without a zone in the searching account's profile time zone
    # (api-facts.md; the sandbox does too). Written in UTC, a window from 19:00 UTC was read
    # as 19:00 in Los Angeles, eight hours ahead: every change of those hours was skipped.
    sb, c = desk
    sb.control("POST", "time_zone", {"time_zone": zone})
    c.close()
    c.open()  # the account's zone is read at open, with the account
    _, cursor = one_pass(c)
    sb.clock.advance(timedelta(minutes=10))
    changed = sb.control("POST", "churn", {"count": 3, "seed": 2})[1]["changed"]
    sb.clock.advance(timedelta(minutes=1))
    read, cursor = one_pass(c, cursor)
    assert sorted(read) == sorted(changed)
    sb.clock.advance(timedelta(minutes=10))
    assert one_pass(c, cursor)[0] == [], "a change already delivered is not delivered again"


def test_a_window_over_the_hour_the_clocks_go_back_misses_nothing():
    # 01:30 on 2026-11-01 happens twice in Los Angeles; the site may read it as the later one.
    fold = datetime(2026, 11, 1, 8, 40, tzinfo=UTC)  # 01:40 PDT, the first 01:40
    with Sandbox("jira", tickets=20, seed=3, now=fold) as sb:
        sb.control("POST", "time_zone", {"time_zone": "America/Los_Angeles"})
        c = JiraConnector(JiraSettings("jira", sb.url, "bot@example.com", Secret("good-token-1"), page_size=10,
                                       backoff=0.01), sleep=lambda s: None)
        c.open()
        try:
            _, cursor = one_pass(c)
            sb.clock.advance(timedelta(minutes=5))
            changed = sb.control("POST", "churn", {"count": 2, "seed": 5})[1]["changed"]
            sb.clock.advance(timedelta(minutes=1))
            read = one_pass(c, cursor)[0]
            # stepping back over the fold re-reads up to an hour, once a year: nothing is missed
            assert set(changed) <= set(read)
        finally:
            c.close()


def test_an_account_time_zone_this_machine_does_not_know_is_told_and_read_as_utc(desk):
    sb, c = desk
    with sb.data.lock:
        sb.data.bot["timeZone"] = "Mars/Olympus_Mons"
    c.close()
    c.open()
    assert any(n.startswith("problem:") and "Mars/Olympus_Mons" in n for n in c.site_notes)
    assert one_pass(c)[0], "the helpdesk is still read"
