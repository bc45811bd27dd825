"""The report's triage reviews count what people answered, from the ticket's record, not the
tags left on it. QA: a confirmed review whose confirmation tag was taken off after the
escalation read "confirmed 0, open 2"; a dismissed review asked again read "dismissed 0"."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

from tierlift.engine.model import Change, Ticket
from tierlift.engine.serialize import ticket_to_dict
from tierlift.service.daemon.policies import load_policy
from tierlift.service.tools.report_triage import triage_reviews

T10 = datetime(2026, 12, 3, 10, 0, tzinfo=UTC)


def _review(ticket: str, category: str, at: datetime) -> SimpleNamespace:
    decision = json.dumps({"actions": [{"type": "add_tags", "tags": [f"triage_review_{category}"]}]})
    return SimpleNamespace(kind="triage-review", decision=decision, ticket_id=ticket, rule="r", tier_before=1,
                           tier_after=1, created_at=at)


def _entry(tags: set[str], *changes: Change) -> SimpleNamespace:
    ticket = Ticket(id="1", subject="", description="", status="open", created_at=T10 - timedelta(days=1),
                    updated_at=T10 + timedelta(hours=2), tags=frozenset(tags), comments=(), history=changes)
    return SimpleNamespace(snapshot=json.dumps(ticket_to_dict(ticket)))


def test_a_confirmation_taken_off_after_the_escalation_still_confirmed_the_review():
    entries = {"C": _entry({"triage_review_security", "tier_l3"},
                           Change(T10 + timedelta(minutes=5), "ana", "tags", added=("triage_confirm_security",)),
                           Change(T10 + timedelta(minutes=40), "bo", "tags", removed=("triage_confirm_security",)))}
    counts = triage_reviews(load_policy("three-tier"), [_review("C", "security", T10)], entries)
    assert counts["security"] == {"asked": 1, "confirmed": 1, "other": 0, "dismissed": 0, "open": 0}


def test_a_dismissal_answers_its_review_whoever_took_the_tag_off_later():
    # Dismissed by Ana at 10:05; the tag came off in the update that asked again at 10:30
    # (recorded under the account that wrote it, not marked as an automation).
    entries = {"D": _entry({"triage_review_outage"},
                           Change(T10 + timedelta(minutes=5), "ana", "tags", added=("triage_dismissed",)),
                           Change(T10 + timedelta(minutes=30), "svc", "tags", removed=("triage_dismissed",)))}
    journal = [_review("D", "outage", T10), _review("D", "outage", T10 + timedelta(minutes=30))]
    counts = triage_reviews(load_policy("three-tier"), journal, entries)
    assert counts["outage"] == {"asked": 2, "confirmed": 0, "other": 0, "dismissed": 1, "open": 1}
