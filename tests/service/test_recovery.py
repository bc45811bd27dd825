"""Recovery after a crash between the two writes of one escalation.

Zendesk takes one comment per ticket update, so an escalation that also
answers the customer is two writes: the internal note (with the marker), then
the public reply. A process killed between them leaves a pending intent whose
note landed; recovery must send the reply, once, and mark the intent done.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from tierlift.connectors.base import Secret
from tierlift.connectors.jira import JiraConnector, JiraSettings
from tierlift.connectors.sandbox import Sandbox
from tierlift.connectors.zendesk import ZendeskConnector, ZendeskSettings
from tierlift.engine.marker import format_marker
from tierlift.engine.model import InternalNote
from tierlift.service.daemon.config import HelpdeskConfig
from tierlift.service.daemon.cycle import HelpdeskCycle
from tierlift.service.daemon.policies import load_policy
from tierlift.service.daemon.state import Intent, StateStore

NOW = datetime(2026, 11, 2, 19, 0, tzinfo=UTC)
ESC = "c0ffeec0ffee"
REPLY = "Hello,\n\nYour request has been escalated to our Specialist Support team.\n"


def make(flavor: str, sb: Sandbox):
    if flavor == "zendesk":
        return ZendeskConnector(ZendeskSettings("hd", sb.url, "bot@example.com", Secret("t0k3n"), backoff=0.01))
    return JiraConnector(JiraSettings("hd", sb.url, "bot@example.com", Secret("t0k3n"), backoff=0.01))


def bodies(sb: Sandbox, tid: str) -> list[str]:
    if sb.flavor == "zendesk":
        return [c["body"] for c in sb.store.comments[int(tid)]]
    return [c["body"] for c in sb.store.issues[tid]["fields"]["comment"]["comments"]]


@pytest.mark.parametrize("flavor", ["zendesk", "jira"])
def test_a_reply_lost_to_a_crash_after_the_note_is_sent_once_by_recovery(flavor, tmp_path):
    with Sandbox(flavor, tickets=20, seed=3, now=NOW) as sb:
        connector = make(flavor, sb)
        connector.open()
        ticket = next(t for p in connector.changes(None) for t in p.tickets if not t.is_closed)
        note = "Escalated L1 -> L2\n" + format_marker(ESC, 1, 2, "sla-75pct", NOW)
        connector.apply(ticket, [InternalNote(note)], ESC)  # the first write landed; then the crash
        decision = {"ticket": ticket.id, "tier_before": 1, "tier_after": 2, "reasons": [], "wake_up": None,
                    "actions": [{"type": "internal_note", "body": note}, {"type": "public_reply", "body": REPLY}]}
        store = StateStore(tmp_path / "state.sqlite3")
        store.record_intent(Intent("hd", ESC, ticket.id, "escalate", 1, 2, "sla-75pct", "support-specialists",
                                   json.dumps(decision), False, created_at=NOW))
        cfg = HelpdeskConfig("hd", flavor, sb.url, "bot@example.com", Secret("t0k3n"), "three-tier",
                             load_policy("three-tier"), False, {})
        cycle = HelpdeskCycle(cfg, connector, store)

        assert cycle.recover() == 1
        assert store.intent("hd", ESC).status == "done"
        assert bodies(sb, ticket.id).count(REPLY) == 1
        assert sum(ESC in b for b in bodies(sb, ticket.id)) == 1
        # A second restart finds nothing left to do and writes nothing.
        sb.reset_log()
        assert cycle.recover() == 0
        assert not [r for r in sb.requests_log() if r["write"]]
        store.close()
        connector.close()
