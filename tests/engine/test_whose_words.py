"""Rules that read text read the customer's side, not the agents': an agent's reply or
internal note is not a customer's report. Found while fixing the quoted-lines bug (QA,
2026-12-06): on three-tier an agent's own public reply "Shall I escalate this to our
specialists?" moved the ticket L1 -> L2 as "Customer requests escalation"; on teamflow an
agent's note "tried to reproduce it 3 times" is the wording of "Multiple failed resolution
attempts". An agent who means a move adds the tag."""

from __future__ import annotations

from tierlift.engine.evaluate import Evaluator
from tierlift.engine.model import Comment
from tierlift.service.daemon.policies import load_policy

from enginekit import make_ticket, utc

NOW = utc(2026, 11, 2, 15, 0)
ASK = "Shall I escalate this to our specialists? Let me know."


def _decide(pack: str, by_agent: bool, body: str, public: bool = True):
    said = Comment("someone@example.com", body, public, utc(2026, 11, 2, 14, 30), by_agent=by_agent)
    ticket = make_ticket(subject="Export question", description="How do I export the weekly report as CSV?",
                         comments=(said,), tags=frozenset({"tier_l1"}))
    return Evaluator(load_policy(pack)).evaluate(ticket, NOW)


def test_an_agents_reply_offering_escalation_moves_nothing():
    d = _decide("three-tier", by_agent=True, body=ASK)
    assert d.kind != "escalate" and d.tier_after == 1, d.reasons


def test_the_customer_asking_the_same_is_still_escalated():
    d = _decide("three-tier", by_agent=False, body="Please escalate this to your specialists, it has been a week.")
    assert d.kind == "escalate" and d.tier_after == 2, d.reasons


def test_an_agents_internal_note_on_its_own_attempts_is_no_failed_attempts_report():
    note = "Tried to reproduce it 3 times on staging, works for me. Asked for a HAR file."
    d = _decide("teamflow", by_agent=True, body=note, public=False)
    assert d.kind != "escalate", d.reasons
    d = _decide("teamflow", by_agent=False, body="Still not working after 3 attempts, we tried that twice.")
    assert d.kind == "escalate" and d.rule == "failed-attempts", d.reasons
