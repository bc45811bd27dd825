"""A customer's words an agent or an integration posts for them are read as the customer's.

Phone, chat and mail bridges post the customer's message through the agent API with the
customer as the comment's author. Zendesk's metric set then moves `latest_comment_added_at`,
not `requester_updated_at` (the update is the agent's), and tierlift read a follow-up only
when the latter moved: the daemon's cursor passed "Nobody on our team can log in since 10
minutes ago" and nothing happened, while `history` said the escalation was due now (QA,
triage in daily use).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta

import requests

from tierlift.connectors.base import Secret
from tierlift.connectors.zendesk import ZendeskConnector, ZendeskSettings
from tierlift.sandbox import Sandbox
from tierlift.sandbox.floor_acts import Acts
from tierlift.sandbox.users import Person
from tierlift.service.daemon.config import HelpdeskConfig
from tierlift.service.daemon.cycle import HelpdeskCycle
from tierlift.service.daemon.policies import load_policy
from tierlift.service.daemon.state import StateStore

MON_10 = datetime(2026, 11, 2, 15, 0, tzinfo=UTC)  # Monday 10:00 in New York
OUTAGE = ("Update: it is not just me anymore. Nobody on our team can log in since 10 minutes ago,"
          " the whole site shows an error 500 for everyone.")


AGENT = Person(3001, "l1 agent", "l1@floor.example", "agent", token="tok-l1", team="Support Agent")
CUSTOMER = Person(3100, "Carla", "carla@customer.example", "end-user", token="tok-carla")


class _Desk:
    """A sandbox helpdesk with one customer's login question, and tierlift's cycles on its clock."""

    def __init__(self, sb: Sandbox, connector: ZendeskConnector, store: StateStore):
        self.sb, self.connector, self.store = sb, connector, store
        self.acts = Acts(sb, requests.Session(), "customfield_10001")
        for p in (AGENT, CUSTOMER):
            sb.data.add_person(p)
        self.key = self.acts.create(CUSTOMER, "Login trouble",
                                    "I cannot log in since this morning, can you check my account?")
        self.cfg = HelpdeskConfig("hd", "zendesk", sb.url, "bot@example.com", Secret("t0k3n"), "teamflow",
                                  load_policy("teamflow"), False, {})

    def cycle(self, minutes_later: int) -> None:
        """A cycle `minutes_later` on the helpdesk's clock (past the export's one-minute holdback)."""
        self.sb.clock.set(self.sb.clock.now() + timedelta(minutes=minutes_later), 0.0)
        HelpdeskCycle(self.cfg, self.connector, self.store, show_progress=False).run(self.sb.clock.now())

    def comments(self) -> list[dict]:
        with self.sb.data.lock:
            return list(self.sb.store.comments[int(self.key)])


@contextmanager
def desk(tmp_path, **settings) -> Iterator[_Desk]:  # type: ignore[no-untyped-def]
    with Sandbox("zendesk", tickets=0, seed=3, now=MON_10, clock_speed=0) as sb:
        connector = ZendeskConnector(ZendeskSettings("hd", sb.url, "bot@example.com", Secret("t0k3n"), backoff=0.01,
                                                      **settings))
        connector.open()
        store = StateStore(tmp_path / "state.sqlite3", now=sb.clock.now)
        try:
            yield _Desk(sb, connector, store)
        finally:
            connector.close()
            store.close()


def test_a_follow_up_posted_for_the_customer_through_the_agent_api_is_read(tmp_path):
    with desk(tmp_path) as d:
        d.cycle(2)  # the first sync
        assert not _outage_escalated(d)
        # The phone bridge posts what the customer said, as the customer, with the agent's token.
        d.acts._call("PUT", f"/api/v2/tickets/{d.key}.json", AGENT,
                     {"ticket": {"comment": {"body": OUTAGE, "public": True, "author_id": CUSTOMER.uid}}})
        last = d.comments()[-1]
        assert (last["author_id"], last["body"]) == (CUSTOMER.uid, OUTAGE)  # the helpdesk's record
        d.cycle(2)
        assert _outage_escalated(d), [c["body"][:80] for c in d.comments()]


def _outage_escalated(d: _Desk) -> bool:
    # An escalation note, not a review's question ("tierlift triage: ticket N may be outage
    # (rule service-outage ...)": the first message, one person's login trouble, may ask).
    return any("service-outage" in c["body"] and not c["body"].startswith("tierlift triage:") for c in d.comments())


def test_tierlifts_own_note_is_no_reason_to_read_the_ticket_again(tmp_path):
    """The note tierlift writes moves the ticket's last comment time too: read as someone's
    comment, every ticket it wrote to was read again at the next cycle (1,140 reads after a
    first sync of 1,500 tickets in the benchmark). A landed write's stamp covers its own note.
    Without the ticket events stream's kept audits (audit_cache 0, as for an account whose
    token may not read the stream), such a read is one request per ticket."""
    with desk(tmp_path, audit_cache=0) as d:
        d.cycle(2)
        assert any(c["author_id"] == d.sb.store.bot_id for c in d.comments())  # tierlift wrote
        d.sb.reset_log()
        d.cycle(2)  # the written ticket comes back in the export
        reads = [f"{r['method']} {r['path']}" for r in d.sb.requests_log() if not r["write"]]
        assert reads and not [r for r in reads if f"/tickets/{d.key}/" in r or "ticket_events" in r], reads
