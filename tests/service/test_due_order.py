"""The order of due work when a cycle cannot do it all (a binding request budget).

A P1 put off by a busy cycle goes into the index as due; the next cycle must
still take it before older due tickets of lower severity, as it would had it
just read it. It used to take the index's due work by due time alone, so the
P1 waited behind every older overdue question.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from tierlift.connectors.base import Secret
from tierlift.connectors.sandbox import Sandbox
from tierlift.connectors.zendesk import ZendeskConnector, ZendeskSettings
from tierlift.service.daemon.config import HelpdeskConfig
from tierlift.service.daemon.cycle import HelpdeskCycle
from tierlift.service.daemon.policies import load_policy
from tierlift.service.daemon.state import StateStore

NOW = datetime(2026, 11, 2, 14, 0, tzinfo=UTC)  # a Monday, in business hours
MARKER = re.compile(r"\[tierlift escalation=[0-9a-f]+ from=(\d) to=(\d) rule=(\S+) at=")


def escalated(sb: Sandbox) -> dict[int, list[str]]:
    """Ticket id -> the rules of tierlift's notes on it, from the helpdesk's own record."""
    with sb.store.lock:
        return {tid: [m[3] for c in cs if c["author_id"] == sb.store.bot_id for m in MARKER.finditer(c["body"])]
                for tid, cs in sb.store.comments.items()}


def test_a_severe_ticket_put_off_by_a_busy_cycle_goes_ahead_of_older_due_work(tmp_path):
    with Sandbox("zendesk", tickets=0, now=NOW) as sb:
        connector = ZendeskConnector(ZendeskSettings("hd", sb.url, "bot@example.com", Secret("t0k3n"), backoff=0.01))
        connector.open()
        store = StateStore(tmp_path / "state.sqlite3")
        cfg = HelpdeskConfig("hd", "zendesk", sb.url, "bot@example.com", Secret("t0k3n"), "three-tier",
                             load_policy("three-tier"), False, {})
        # One ticket acted on per cycle, as behind a budget that binds.
        cycle = HelpdeskCycle(cfg, connector, store, deadline=timedelta(0), show_progress=False)
        cycle.run(sb.clock.now())  # the first sync, on an empty helpdesk

        questions = [sb.store.add_ticket(f"Question {n}", "How do I export my invoices?", sb.clock.now())
                     for n in range(4)]
        sb.clock.advance(timedelta(minutes=2))  # past the export's one-minute holdback
        cycle.run(sb.clock.now())  # reads them: nothing due yet
        assert not any(escalated(sb).values())

        sb.clock.advance(timedelta(hours=8))  # every question is now past 75% of L1's target
        p0 = sb.store.add_ticket("Checkout down", "All payments fail for everyone.", sb.clock.now(), tags=["p0"])
        p1 = sb.store.add_ticket("Reports broken", "The reports page fails for our team.", sb.clock.now(),
                                 tags=["p1"])
        sb.clock.advance(timedelta(minutes=2))
        cycle.run(sb.clock.now())  # reads the P0 and the P1, has time for one: the P0
        assert escalated(sb)[p0] and not escalated(sb)[p1]

        sb.clock.advance(timedelta(minutes=2))
        cycle.run(sb.clock.now())  # one more: the P1, not the oldest question
        done = escalated(sb)
        store.close()
        connector.close()
    assert done[p1] == ["severity-p1"], done
    assert not any(done[q] for q in questions), done
