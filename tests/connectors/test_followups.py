"""A customer's follow-up on a Zendesk ticket read before costs no audits read (issue 25):
the connector keeps the audits it read and adds the incremental ticket events stream's.

Real HTTP against the sandbox. Each case compares the ticket as the kept audits and the
stream give it with the ticket as a connector that keeps nothing reads it from its audits
(the same ticket, the same moment): they must be equal, comments, history and all.
"""

from __future__ import annotations

import logging
import secrets
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
import requests

from tierlift.connectors.base import Secret
from tierlift.connectors.zendesk import ZendeskConnector, ZendeskSettings
from tierlift.connectors.zendesk.followups import slim
from tierlift.connectors.zendesk.mapping import history_from_audits
from tierlift.sandbox import Sandbox

NOW = datetime(2026, 11, 2, 19, 0, tzinfo=UTC)
PEOPLE = [
    {"name": "Ana L1", "email": "ana@floor.example", "role": "agent", "token": "tok-ana", "team": "support-generalists"},
    {"name": "Lee L2", "email": "lee@floor.example", "role": "agent", "token": "tok-lee", "team": "support-specialists"},
    {"name": "Carla", "email": "carla@customer.example", "role": "end-user", "token": "tok-carla"},
]
TEAMS = ("support-generalists", "support-specialists", "engineering-oncall")
CARLA, ANA, LEE = (("carla@customer.example/token", "tok-carla"), ("ana@floor.example/token", "tok-ana"),
                   ("lee@floor.example/token", "tok-lee"))
PAST_THE_WITHHELD_MINUTE = timedelta(seconds=61)


def connector(sb: Sandbox, *, email: str = "bot@example.com", token: str = "good-token-1", **kw) -> ZendeskConnector:
    c = ZendeskConnector(ZendeskSettings("zd", sb.url, email, Secret(token), backoff=0.01, policy_teams=TEAMS, **kw),
                         sleep=lambda s: None)
    c.open()
    return c


@pytest.fixture
def sb():
    with Sandbox("zendesk", tickets=3, seed=3, now=NOW) as sandbox:
        assert requests.post(sandbox.url + "/_sandbox/users", json={"users": PEOPLE}, timeout=10).status_code == 200
        yield sandbox


def put(sb: Sandbox, tid: str, auth, ticket: dict) -> None:
    r = requests.put(f"{sb.url}/api/v2/tickets/{tid}.json", auth=auth, json={"ticket": ticket}, timeout=10)
    assert r.status_code == 200, r.text


def worked_ticket(sb: Sandbox, subject: str = "VPN drops") -> str:
    """Carla asks; Ana answers and puts it pending; Lee notes, moves it to L2 and tags it; a trigger replies."""
    r = requests.post(sb.url + "/api/v2/requests.json", auth=CARLA, timeout=10,
                      json={"request": {"subject": subject, "comment": {"body": "The VPN drops hourly."}}})
    tid = str(r.json()["request"]["id"])
    sb.clock.advance(timedelta(minutes=5))
    put(sb, tid, ANA, {"comment": {"body": "Looking into it.", "public": True}, "status": "pending",
                       "group_id": sb.store.group_id("support-generalists")})
    sb.clock.advance(timedelta(minutes=5))
    put(sb, tid, LEE, {"comment": {"body": "Taking this to L2.", "public": False},
                       "group_id": sb.store.group_id("support-specialists"), "additional_tags": ["escalate"]})
    sb.clock.advance(timedelta(minutes=5))
    sb.store.apply_rule(int(tid), "Auto-reply", "trigger", {"comment": {"body": "We got your message"}})
    sb.clock.advance(PAST_THE_WITHHELD_MINUTE)
    return tid


def follow_up(sb: Sandbox, tid: str, text: str = "Any news?") -> None:
    """Carla writes again (through /requests, as a requester does): it reopens the ticket."""
    r = requests.put(f"{sb.url}/api/v2/requests/{tid}.json", auth=CARLA, timeout=10,
                     json={"request": {"comment": {"body": text}}})
    assert r.status_code == 200, r.text


def as_read(c: ZendeskConnector, tid: str):
    """The ticket as a cycle has it (the export's fields, no comments yet)."""
    return replace(c.fetch([tid])[tid], comments=None, history=None)


def from_audits(sb: Sandbox, ticket, **kw):
    """The same ticket as a connector that keeps nothing reads it: from its audits."""
    plain = connector(sb, audit_cache=0, **kw)
    try:
        return plain.with_comments(ticket)
    finally:
        plain.close()


def paths(sb: Sandbox) -> list[str]:
    return [r["path"].split("?")[0] for r in sb.requests_log()]


def test_a_follow_up_on_tickets_read_before_costs_one_stream_read_and_reads_as_their_audits_do(sb):
    c = connector(sb)
    first, second = worked_ticket(sb), worked_ticket(sb, "Invoices missing")
    for tid in (first, second):
        c.with_comments(as_read(c, tid))  # read before: their audits are kept
    follow_up(sb, first, "I want to speak to a manager.")
    put(sb, second, LEE, {"comment": {"body": "Escalating to engineering.", "public": False}, "remove_tags": ["escalate"],
                          "group_id": sb.store.group_id("engineering-oncall")})
    follow_up(sb, second)
    sb.store.apply_rule(int(second), "Auto-reply", "trigger", {"comment": {"body": "We got your message"}})
    sb.clock.advance(timedelta(minutes=2))  # a cycle later: the export has both
    tickets = {tid: as_read(c, tid) for tid in (first, second)}
    sb.reset_log()
    loaded = {tid: c.with_comments(t) for tid, t in tickets.items()}
    assert paths(sb) == ["/api/v2/incremental/ticket_events.json"], "one stream read for both, no audits read"
    for tid, t in tickets.items():
        assert loaded[tid] == from_audits(sb, t)
    assert loaded[first].comments[-1].body == "I want to speak to a manager."
    assert loaded[first].status_history[-1].status == "open"  # the follow-up reopened it
    assert loaded[second].comments[-1].automated, "a trigger's reply is the helpdesk's, read from the stream too"
    moves = [(h.before, h.after) for h in loaded[second].history if h.field == "team"]
    assert moves[-1] == ("support-specialists", "engineering-oncall")
    sb.reset_log()
    assert c.with_comments(tickets[first]) == loaded[first] and paths(sb) == [], "nothing new: nothing read"


def test_overlapping_stream_windows_add_each_audit_once(sb):
    c = connector(sb)
    tid = worked_ticket(sb)
    c.with_comments(as_read(c, tid))
    start = c.followups.position
    assert start is not None and start > 0, "the stream starts at the first audits read, never at 0"
    for n in range(3):
        follow_up(sb, tid, f"Follow-up {n}")
        sb.clock.advance(PAST_THE_WITHHELD_MINUTE)
        c.followups.position = start  # read every window again from the start: they overlap
        ticket = as_read(c, tid)
        sb.reset_log()
        loaded = c.with_comments(ticket)
        assert paths(sb) == ["/api/v2/incremental/ticket_events.json"]
        assert loaded == from_audits(sb, ticket)
    assert [x.body for x in loaded.comments].count("Follow-up 0") == 1


def test_a_ticket_changed_past_the_streams_end_is_read_from_its_audits(sb):
    c = connector(sb)
    tid = worked_ticket(sb)
    c.with_comments(as_read(c, tid))
    follow_up(sb, tid, "Still broken.")
    ticket = as_read(c, tid)  # read at once (a webhook's nudge): the stream withholds the last minute
    sb.reset_log()
    loaded = c.with_comments(ticket)
    assert paths(sb) == ["/api/v2/incremental/ticket_events.json", f"/api/v2/tickets/{tid}/audits.json"]
    assert loaded == from_audits(sb, ticket) and loaded.comments[-1].body == "Still broken."
    # Kept as read; read in the second of the change (a frozen clock), which might have
    # held another audit after the read: the stream says, no audits read. The next cycle
    # reads the ticket first, and that answer dates the stream's read.
    sb.clock.advance(PAST_THE_WITHHELD_MINUTE)
    assert as_read(c, tid) == ticket
    sb.reset_log()
    assert c.with_comments(ticket) == loaded and paths(sb) == ["/api/v2/incremental/ticket_events.json"]
    sb.reset_log()
    assert c.with_comments(ticket) == loaded and paths(sb) == [], "then nothing is read again"


def test_an_account_that_may_not_read_the_stream_reads_audits_and_says_so_once(sb, caplog):
    agent = connector(sb, email="ana@floor.example", token="tok-ana")  # an agent, not an admin
    tid = worked_ticket(sb)
    agent.with_comments(as_read(agent, tid))
    audits = f"/api/v2/tickets/{tid}/audits.json"
    with caplog.at_level(logging.WARNING, logger="tierlift.zendesk"):
        for n in range(2):
            follow_up(sb, tid, f"Follow-up {n}")
            sb.clock.advance(PAST_THE_WITHHELD_MINUTE)
            ticket = as_read(agent, tid)
            sb.reset_log()
            loaded = agent.with_comments(ticket)
            assert [(p, r["status"]) for p, r in zip(paths(sb), sb.requests_log(), strict=True)] == \
                   ([("/api/v2/incremental/ticket_events.json", 403)] if n == 0 else []) + [(audits, 200)]
            assert loaded == from_audits(sb, ticket, email="ana@floor.example", token="tok-ana")
    said = [r for r in caplog.records if "ticket events" in r.getMessage()]
    assert len(said) == 1 and "403" in said[0].getMessage()


def test_a_ticket_evicted_from_the_kept_audits_is_read_from_its_audits(sb):
    c = connector(sb, audit_cache=2)
    evicted, kept, last = (worked_ticket(sb, s) for s in ("one", "two", "three"))
    for tid in (evicted, kept, last):
        c.with_comments(as_read(c, tid))  # the third pushes the least recently used out
    for tid in (evicted, kept):
        follow_up(sb, tid)
    sb.clock.advance(PAST_THE_WITHHELD_MINUTE)
    for tid, read in ((kept, "/api/v2/incremental/ticket_events.json"), (evicted, f"/api/v2/tickets/{evicted}/audits.json")):
        ticket = as_read(c, tid)
        sb.reset_log()
        loaded = c.with_comments(ticket)
        assert paths(sb) == [read], tid
        assert loaded == from_audits(sb, ticket)


def test_kept_audits_give_the_same_comments_and_history_as_the_recorded_audits(shared_reference):
    """On real recorded audits: slimming keeps everything history_from_audits reads."""
    from refkit import recorded_bodies

    audits = [a for path in sorted((shared_reference / "zendesk-recordings").glob("TestTicketAudits.*"))
              for _, body in recorded_bodies(path) if isinstance(body, dict) for a in body.get("audits") or []]
    assert audits
    by_ticket: dict[object, list[dict]] = {}
    for a in audits:
        by_ticket.setdefault(a.get("ticket_id"), []).append(a)
    for tid, its in by_ticket.items():
        kw = {"tid": str(tid), "requester_id": None, "users": {}, "me": None,
              "team_of": lambda g, a: f"team-{g}" if g else None}
        assert history_from_audits([slim(a) for a in its], **kw) == history_from_audits(its, **kw)


def test_a_second_with_more_than_a_page_of_events_forgets_the_tickets_read_by_then():
    """A time-based page starts at a second: of 1,100 events in one second the last 100
    cannot be read. A ticket read before that second may have one of them: it is read from
    its audits again; one read after it keeps its audits and reads the rest from the stream."""
    with Sandbox("zendesk", tickets=1_100, seed=3, now=NOW) as sb:
        c = connector(sb)
        early, late = "1100", "1099"  # their events sort last in that second
        c.with_comments(as_read(c, early))
        for tid in range(1, 1_101):  # a bulk change, all in the same second
            sb.store.apply_rule(tid, "Bulk tag", "trigger", {"additional_tags": ["bulk"]})
        sb.clock.advance(timedelta(seconds=2))
        c.with_comments(as_read(c, late))
        sb.store.churn(0, 0, ids=[int(early), int(late)])  # a follow-up on each
        sb.clock.advance(PAST_THE_WITHHELD_MINUTE)
        for tid, audits_read in ((early, True), (late, False)):
            ticket = as_read(c, tid)
            sb.reset_log()
            loaded = c.with_comments(ticket)
            assert (f"/api/v2/tickets/{tid}/audits.json" in paths(sb)) is audits_read, paths(sb)
            assert loaded == from_audits(sb, ticket)
            assert any(h.field == "tags" and "bulk" in h.added for h in loaded.history)


def test_the_kept_audits_are_bounded_by_tickets_and_bytes_least_recently_used_out_first():
    from tierlift.connectors.zendesk.followups import AuditCache

    def audits(tid: int, words: int) -> list[dict]:
        text = " ".join(f"word{tid}x{n}" for n in range(words))
        return [slim({"id": tid * 1000 + 1, "created_at": "2026-11-02T13:00:00Z", "author_id": 7,
                      "events": [{"type": "Comment", "body": text, "public": True, "author_id": 7}]})]

    cache = AuditCache(3)
    for tid in (1, 2, 3):
        cache.put(str(tid), audits(tid, 10), 0)
    cache.get("1")  # used: 2 is now the least recently used
    cache.put("4", audits(4, 10), 0)
    assert list(cache.kept) == ["3", "1", "4"]
    small = cache.bytes
    cache.put("3", audits(3, 2_000), 0)  # read again, grown: replaced, not kept twice
    assert len(cache) == 3 and cache.bytes > small
    bounded = AuditCache(100, max_total=cache.bytes)
    for tid in (1, 3, 4, 5):
        bounded.put(str(tid), audits(tid, 2_000 if tid == 3 else 10), 0)
    assert "1" not in bounded and bounded.bytes <= cache.bytes  # the oldest made room
    huge = [{**audits(9, 1)[0], "events": [{"type": "Comment", "body": secrets.token_urlsafe(400_000), "public": True}]}]
    roomy = AuditCache(10)
    roomy.put("9", huge, 0)  # over MAX_BYTES compressed: read each time, never kept
    assert "9" not in roomy and roomy.bytes == 0
    bounded.add("4", [{**audits(4, 10)[0], "id": 4002}, audits(4, 10)[0]])  # the known audit comes once
    assert [a["id"] for a in bounded.get("4").audits()] == [4001, 4002]


def test_a_stream_that_keeps_failing_is_no_failure_the_audits_are_read(sb):
    c = connector(sb)
    tid = worked_ticket(sb)
    c.with_comments(as_read(c, tid))
    follow_up(sb, tid)
    sb.clock.advance(PAST_THE_WITHHELD_MINUTE)
    ticket = as_read(c, tid)
    sb.reset_log()
    sb.faults.script(["500"] * c.settings.retry_attempts)  # every attempt at the stream
    loaded = c.with_comments(ticket)
    assert paths(sb) == ["/api/v2/incremental/ticket_events.json"] * c.settings.retry_attempts + \
        [f"/api/v2/tickets/{tid}/audits.json"]
    assert loaded == from_audits(sb, ticket)
    follow_up(sb, tid, "And now?")
    sb.clock.advance(PAST_THE_WITHHELD_MINUTE)
    ticket = as_read(c, tid)
    sb.reset_log()
    loaded = c.with_comments(ticket)
    assert paths(sb) == ["/api/v2/incremental/ticket_events.json"], "the next cycle: the stream again"
    assert loaded == from_audits(sb, ticket)


# A helpdesk dates an answer when it sends it, after it read: seconds later at the sandbox's
# 600x (the final CI run's short floor missed a follow-up this way, with the cache on).
# The helpdesk here is a list of audits and a clock: a read is made at `now`, its answer is
# dated `slow` seconds later, and the clock goes on from there.

class SlowHelpdesk:
    def __init__(self, slow: int):
        from tierlift.connectors.zendesk.followups import Followups

        self.audits: list[dict] = []
        self.now, self.slow = 1_000, slow
        self.followups = Followups(self.stream, 100)
        self.followups.saw(self.date(self.now))  # the cycle's ticket export, answered at 1,000

    @staticmethod
    def date(t: int) -> str:
        return datetime.fromtimestamp(t, UTC).strftime("%a, %d %b %Y %H:%M:%S GMT")

    def audit(self, aid: int, body: str, at: int) -> None:
        self.audits.append({"id": aid, "ticket_id": 7, "created_at": datetime.fromtimestamp(at, UTC).isoformat(),
                            "author_id": 5, "via": {}, "events": [{"type": "Comment", "author_id": 5, "public": True,
                                                                   "body": body}]})

    def _upto(self, t: float, start: int = 0) -> list[dict]:
        return [a for a in self.audits if start <= datetime.fromisoformat(a["created_at"]).timestamp() <= t]

    def _answer(self) -> None:
        self.now += self.slow
        self.followups.saw(self.date(self.now))

    def read_audits(self) -> list[dict]:
        out = self._upto(self.now)
        self._answer()
        return out

    def stream(self, path: str, params) -> dict:
        """The events export: every audit up to a minute before the moment it reads."""
        rows = self._upto(self.now - 60, params["start_time"])
        self._answer()
        events = [{"id": a["id"], "ticket_id": a["ticket_id"], "created_at": a["created_at"], "updater_id": 5,
                   "via": {}, "child_events": [{"event_type": "Comment", "author_id": 5, "public": True,
                                                "body": a["events"][0]["body"]}]} for a in rows]
        end = int(datetime.fromisoformat(rows[-1]["created_at"]).timestamp()) if rows else params["start_time"]
        return {"ticket_events": events, "end_of_stream": True, "end_time": end}

    def read_ticket_7(self) -> None:
        """The ticket (updated at 1,000) and its audits, read as with_comments reads them."""
        f = self.followups
        asked_after = f.server_time
        f.remember("7", AT_1000, self.read_audits(), asked_after=asked_after)


AT_1000 = datetime.fromtimestamp(1_000, UTC)
BOTH = ["Our dashboard is down.", "Also: I want to speak to a manager."]


def bodies(audits) -> list[str]:
    return [e["body"] for a in audits for e in a["events"]]


def test_a_follow_up_in_the_second_of_an_audits_read_is_not_taken_as_read():
    hd = SlowHelpdesk(slow=12)
    hd.audit(1, "Our dashboard is down.", at=1_000)
    hd.read_ticket_7()  # read at 1,000, answered at 1,012
    hd.audit(2, "Also: I want to speak to a manager.", at=1_000)  # after the read, in its second
    kept = hd.followups.audits("7", AT_1000)  # the ticket's updated_at: that second
    assert kept is None or bodies(kept) == BOTH, \
        "the follow-up made after the read, in its second, must be read, not taken as kept"


def test_the_stream_counts_as_read_only_what_it_read_not_up_to_its_late_answer():
    hd = SlowHelpdesk(slow=12)
    hd.audit(1, "Our dashboard is down.", at=1_000)
    hd.read_ticket_7()
    hd.audit(2, "Also: I want to speak to a manager.", at=1_000)
    hd.now = 1_058  # the stream reads up to 998 (neither audit); its answer is dated 1,070
    kept = hd.followups.audits("7", AT_1000)
    assert kept is None or bodies(kept) == BOTH
    hd.now = 1_080  # a later cycle: the stream has the second whole, and the kept audits serve
    assert bodies(hd.followups.audits("7", AT_1000) or []) == BOTH
