"""Recovery after a crash between the two writes of one escalation.

Zendesk takes one comment per ticket update, so an escalation that also
answers the customer is two writes: the internal note (with the marker), then
the public reply. A process killed between them leaves a pending intent whose
note landed; recovery must send the reply, once, and mark the intent done.
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime, timedelta

import pytest

from tierlift.connectors.base import Secret
from tierlift.connectors.jira import JiraConnector, JiraSettings
from tierlift.connectors.zendesk import ZendeskConnector, ZendeskSettings
from tierlift.engine.marker import format_marker
from tierlift.engine.model import InternalNote
from tierlift.sandbox import Sandbox
from tierlift.service.daemon.config import ChannelConfig, HelpdeskConfig
from tierlift.service.daemon.cycle import HelpdeskCycle
from tierlift.service.daemon.policies import load_policy
from tierlift.service.daemon.state import Intent, StateStore
from tierlift.service.daemon.writes import dedup_key
from tierlift.service.ops.notify import Notifier

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
                                   json.dumps(decision), created_at=NOW))
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


@pytest.mark.parametrize("flavor", ["zendesk", "jira"])
def test_a_lost_state_relearns_the_ledger_from_note_markers_once(flavor, tmp_path):
    """The moves a ticket's notes record are stored when its comments are read, so the
    next cycles see its ledger (tier starts) without reading the comments again."""
    with Sandbox(flavor, tickets=20, seed=3, now=NOW) as sb:
        connector = make(flavor, sb)
        connector.open()
        ticket = next(t for p in connector.changes(None) for t in p.tickets if not t.is_closed)
        at = NOW.replace(hour=16)
        note = "Escalated L1 -> L2\n" + format_marker(ESC, 1, 2, "sla-75pct", at)
        connector.apply(ticket, [InternalNote(note)], ESC)  # landed; then the state file was lost
        store = StateStore(tmp_path / "state.sqlite3")
        cfg = HelpdeskConfig("hd", flavor, sb.url, "bot@example.com", Secret("t0k3n"), "three-tier",
                             load_policy("three-tier"), False, {})
        cycle = HelpdeskCycle(cfg, connector, store)
        assert store.ledger_moves("hd", ticket.id) == []
        ticket = connector.fetch([ticket.id])[ticket.id]  # as the restarted daemon reads it
        cycle.evaluation.remember(connector.with_comments(ticket), NOW)
        moves = store.ledger_moves("hd", ticket.id)
        assert [(m.at, m.from_tier, m.to_tier, m.rule, m.escalation_id, m.human) for m in moves] == [
            (at, 1, 2, "sla-75pct", ESC, False)]
        cycle.evaluation.remember(connector.with_comments(ticket), NOW)  # known now: nothing stored twice
        assert len(store.ledger_moves("hd", ticket.id)) == 1
        # A move older than the journal's retention is not journaled again: compaction
        # would delete it and the next comments read would put it back, for ever (soak).
        old = HelpdeskCycle(cfg, connector, StateStore(tmp_path / "old.sqlite3"), journal_retention=timedelta(hours=1))
        old.evaluation.remember(connector.with_comments(ticket), at + timedelta(hours=2))
        assert old.store.ledger_moves("hd", ticket.id) == []
        old.store.close()
        store.close()
        connector.close()


def test_a_human_move_is_in_the_ledger_with_its_actor(tmp_path):
    store = StateStore(tmp_path / "state.sqlite3")
    decision = {"ticket": "7", "tier_before": 1, "tier_after": 2, "actions": [], "kind": "human-move",
                "actor": "Dana Agent"}
    store.record_intent(Intent("hd", "h1", "7", "human-move", 1, 2, "human-move", "", json.dumps(decision),
                               created_at=NOW))
    store.mark("hd", "h1", "done")
    store.record_intent(Intent("hd", "e1", "7", "escalate", 2, 3, "sla-75pct", "l3", "{}", created_at=NOW))
    store.mark("hd", "e1", "done")
    moves = store.ledger_moves("hd", "7")
    assert [(m.escalation_id, m.human, m.actor) for m in sorted(moves, key=lambda m: m.escalation_id)] == [
        ("e1", False, None), ("h1", True, "Dana Agent")]
    store.close()


def test_recovery_of_a_landed_write_sends_its_notification_once(tmp_path, caplog):
    """Before: recovery called the notifier without the decision (a TypeError), so a crash
    after the note left the page unsent and every later cycle failed on the same intent."""
    with Sandbox("zendesk", tickets=20, seed=3, now=NOW) as sb:
        connector = make("zendesk", sb)
        connector.open()
        ticket = next(t for p in connector.changes(None) for t in p.tickets if not t.is_closed)
        note = "Escalated L1 -> L2\n" + format_marker(ESC, 1, 2, "sla-75pct", NOW)
        connector.apply(ticket, [InternalNote(note)], ESC)  # the write landed; then the crash
        decision = {"ticket": ticket.id, "tier_before": 1, "tier_after": 2, "reasons": [], "wake_up": None,
                    "actions": [{"type": "internal_note", "body": note},
                                {"type": "notify", "channel": "ops", "subject": "L2 now", "body": "see it"}]}
        store = StateStore(tmp_path / "state.sqlite3")
        store.record_intent(Intent("hd", ESC, ticket.id, "escalate", 1, 2, "sla-75pct", "support-specialists",
                                   json.dumps(decision), created_at=NOW))
        cfg = HelpdeskConfig("hd", "zendesk", sb.url, "bot@example.com", Secret("t0k3n"), "three-tier",
                             load_policy("three-tier"), False, {})
        notifier = Notifier({"ops": ChannelConfig("ops", "log")}, now=lambda: NOW)
        with caplog.at_level(logging.INFO, logger="tierlift"):
            assert HelpdeskCycle(cfg, connector, store, notifier=notifier).recover() == 1
            assert HelpdeskCycle(cfg, connector, store, notifier=notifier).recover() == 0
        assert store.intent("hd", ESC).status == "done"
        assert store.pending_notifications("hd") == [], "journaled and sent"
        assert store.record_notification("hd", ESC, "ops") is False, "journaled once"
        assert [r.getMessage() for r in caplog.records if r.getMessage().startswith("notify ")] == [
            f'notify channel=ops dedup_key={dedup_key(cfg, ESC)} subject="[L1 -> L2] Ticket {ticket.id} on hd:'
            f' rule -" url={sb.url}/agent/tickets/{ticket.id}']
        store.close()
        connector.close()
