"""The one retry layer (connectors/retry.py), judged from the sandbox's request log.

A write is looked for before it is sent again only when its outcome is unknown
(no answer, a 5xx); a 429 was refused whole, so it is simply sent again after
its Retry-After. A customer reply whose answer timed out but which landed is
not sent a second time.
"""

from __future__ import annotations

import time
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from tierlift.connectors.base import Secret
from tierlift.connectors.errors import RetriableError
from tierlift.connectors.jira import JiraConnector, JiraSettings
from tierlift.connectors.zendesk import ZendeskConnector, ZendeskSettings
from tierlift.engine.marker import format_marker
from tierlift.engine.model import AddTags, InternalNote, PublicReply, Reassign
from tierlift.sandbox import FaultSpec, Sandbox

from kit import wait_until

NOW = datetime(2026, 11, 2, 19, 0, tzinfo=UTC)
TEAM = "support-specialists"


class Sleeps(list):
    def __call__(self, seconds: float) -> None:
        self.append(seconds)


def connector(flavor: str, sb: Sandbox, sleep, timeout: float = 30.0):
    if flavor == "zendesk":
        return ZendeskConnector(ZendeskSettings("zd", sb.url, "bot@example.com", Secret("good-token-1"), backoff=0.01,
                                                timeout=timeout), sleep=sleep)
    return JiraConnector(JiraSettings("jira", sb.url, "bot@example.com", Secret("good-token-1"), backoff=0.01,
                                      timeout=timeout), sleep=sleep)


def open_ticket(c):
    tickets = [t for p in c.changes(None) for t in p.tickets]
    c.check_teams([TEAM])  # Jira: the team's account is looked up now, not inside apply
    return next(t for t in tickets if not t.is_closed)


def note(esc_id: str) -> list:
    return [Reassign(TEAM), AddTags(("tier_l2",)),
            InternalNote("Escalated by the retry test\n" + format_marker(esc_id, 1, 2, "retry", NOW))]


def kinds(sb: Sandbox) -> list[str]:
    """The request log as `write STATUS` / `read`, in order."""
    return [f"write {r['status']}" if r["write"] else "read" for r in sorted(sb.requests_log(), key=lambda r: r["t"])]


def comments(sb: Sandbox, flavor: str, tid: str) -> list[str]:
    if flavor == "zendesk":
        return [c["body"] for c in sb.store.comments[int(tid)]]
    return [c["body"] for c in sb.store.issues[tid]["fields"]["comment"]["comments"]]


@pytest.mark.parametrize("flavor", ["zendesk", "jira"])
@pytest.mark.parametrize("fault", ["500", "429"])
def test_a_failed_write_is_looked_for_only_when_it_may_have_landed(flavor, fault):
    sleeps = Sleeps()
    with Sandbox(flavor, tickets=10, seed=3, now=NOW) as sb:
        c = connector(flavor, sb, sleeps)
        c.open()
        t = open_ticket(c)
        sb.reset_log()
        sb.faults.set(FaultSpec.parse("429:0@2s"))
        # Zendesk: the one ticket update carries the note. Jira: the look at the changelog
        # (no conditional write there), the edit (returning the issue and its changelog, the
        # look at what landed before it: 200), then the note.
        sb.faults.script(([] if flavor == "zendesk" else ["latency", "latency"]) + [fault])
        c.apply(t, note("feed00000001"), "feed00000001")
        log = kinds(sb)
        c.close()
    head = [] if flavor == "zendesk" else ["read", "write 200"]
    if fault == "500":  # the helpdesk may have applied it before failing: look, then send again
        assert log == [*head, "write 500", "read", f"write {200 if flavor == 'zendesk' else 201}"], log
    else:  # refused whole: wait the Retry-After, send again, nothing to look for
        assert log == [*head, "write 429", f"write {200 if flavor == 'zendesk' else 201}"], log
        assert sleeps == [2.0]
    assert sum("feed00000001" in b for b in comments(sb, flavor, t.id)) == 1


@pytest.mark.parametrize("flavor", ["zendesk", "jira"])
def test_a_reply_that_timed_out_but_landed_is_on_the_ticket_once(flavor):
    """Real waits (the look must come after the held write landed): the client gives up
    after 1 s, the sandbox applies the reply after 1.3 s."""
    reply = "Hello,\n\nYour request now sits with our specialists; expect their answer by 16:00 EST.\n"
    with Sandbox(flavor, tickets=10, seed=3, now=NOW) as sb:
        c = connector(flavor, sb, time.sleep, timeout=1.0)
        c.open()
        t = open_ticket(c)
        sb.reset_log()
        sb.faults.set(FaultSpec.parse("late:0@1.3s"))
        sb.faults.script(["late"])  # the next write that shows the customer a comment
        c.apply(t, [*note("feed00000002"), PublicReply(reply)], "feed00000002")
        c.close()
        # The held write is logged once the sandbox applied it and answered: judge after that.
        held = wait_until(lambda: [r for r in sb.requests_log() if r.get("fault") == "late"], timeout=30)
        bodies = comments(sb, flavor, t.id)
        reply_posts = [r for r in sb.requests_log() if r["write"] and r["method"] == "POST"
                       and "comment" in r["path"]]
    assert bodies.count(reply) == 1
    assert len(held) == 1
    if flavor == "jira":
        # Jira has no conditional write: the look waited past the timeout, found the
        # reply, and it was never sent again (note + reply = two comment POSTs).
        assert len(reply_posts) == 2, reply_posts
    else:
        # Zendesk: a second attempt may go out, but as a safe update on the same stamp
        # only one of the two can land (the other is a 409).
        assert held[0]["status"] in (200, 409)


@pytest.mark.parametrize("flavor", ["zendesk", "jira"])
def test_no_retries_are_stacked_under_ours(flavor):
    """A helpdesk that stays down (503, Retry-After 1) gets exactly `retry_attempts`
    requests, and a dropped connection is retried after our backoff, not by urllib3
    underneath (the connectors' transport adapter is built with its retries off)."""
    sleeps = Sleeps()
    with Sandbox(flavor, tickets=10, seed=3, now=NOW) as sb:
        c = connector(flavor, sb, sleeps)
        c.open()
        sb.reset_log()
        sb.set_down(True)
        with pytest.raises(RetriableError):
            list(c.changes(None))
        down, down_sleeps = kinds(sb), list(sleeps)
        sb.set_down(False)
        sleeps.clear()
        sb.reset_log()
        sb.faults.script(["drop"])
        assert len([t for p in c.changes(None) for t in p.tickets]) == 10
        # By arrival: the log is written as each request ends, and the retry can end
        # before the dropped request's own thread has logged it.
        dropped = sorted(sb.requests_log(), key=lambda r: r["t"])
        c.close()
    assert down == ["read"] * 5 and down_sleeps == [1.0] * 4, (down, down_sleeps)
    assert len(sleeps) == 1, "the drop was retried once, after our backoff"
    assert dropped[0].get("fault") == "drop" and dropped[1].get("fault") is None


def test_no_wait_is_announced_after_the_last_attempt():
    # tenacity asks for the wait before it checks the stop: the last attempt's failure was
    # logged as "retrying ... seconds=11.1 attempt 5 of 5" and counted in the retry-wait
    # metrics, though no retry followed.
    from tierlift.connectors.errors import RetriableError
    from tierlift.connectors.retry import Retry

    class Seen:
        def __init__(self):
            self.retries: list[str] = []

        def request(self, method, status):
            pass

        def rate_limit_wait(self, seconds):
            pass

        def retry_started(self, seconds, why):
            self.retries.append(why)

    seen, slept = Seen(), []
    retry = Retry(attempts=3, backoff=0.01, observer=seen, sleep=slept.append)

    def fails():
        raise RetriableError("HTTP 503")

    with pytest.raises(RetriableError):
        retry.call(fails)
    assert [w.split(":")[0] for w in seen.retries] == ["attempt 1 of 3", "attempt 2 of 3"]
    assert len(slept) == 2


def test_a_write_found_landed_after_a_lost_answer_returns_the_tickets_new_stamp():
    # QA: the answer of a landed PUT was lost; the note was found on the ticket, but apply
    # returned the stamp it was sent with, so the cycle's next write of the same ticket went
    # out with a stale stamp (as 'updated_stamp: "...~0"', the cycle's in-memory version)
    # and met a 409 before a re-read. The stamp returned is the ticket's as it is now.
    with Sandbox("zendesk", tickets=10, seed=3, now=NOW) as sb:
        c = connector("zendesk", sb, Sleeps())
        c.open()
        t = open_ticket(c)
        sb.clock.advance(timedelta(minutes=1))  # the write moves updated_at
        sb.reset_log()
        sb.faults.script(["drop_after"])  # applied, then the connection dropped
        result = c.apply(t, note("feed00000003"), "feed00000003")
        now_at = str(sb.store.tickets[int(t.id)]["updated_at"])
        assert result.new_version == now_at and result.new_version != t.version, (result.new_version, t.version)
        sb.reset_log()
        c.apply(replace(t, version=result.new_version), [AddTags(("escalation_review_due",))], "feed00000004")
        c.close()
        assert [r["status"] for r in sb.requests_log() if r["write"]] == [200], sb.requests_log()
