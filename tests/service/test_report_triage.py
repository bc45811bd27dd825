"""The report's triage section counts each review as a team would: confirmed, dismissed, open.

A dismissal answers the words it was asked about (docs/triage.md): a review the model asked
about later words, on a ticket dismissed before, is still open, not dismissed.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

from tierlift.engine.model import Change, Ticket
from tierlift.engine.serialize import ticket_to_dict
from tierlift.service.daemon.policies import load_policy
from tierlift.service.tools.report_triage import triage_reviews

T10 = datetime(2026, 12, 3, 15, 0, tzinfo=UTC)


def review(ticket: str, category: str, rule: str, at: datetime) -> SimpleNamespace:
    decision = json.dumps({"actions": [{"type": "add_tags", "tags": [f"triage_review_{category}"]}]})
    return SimpleNamespace(kind="triage-review", decision=decision, ticket_id=ticket, rule=rule, tier_before=1,
                           tier_after=1, created_at=at)


def escalation(ticket: str, rule: str, at: datetime) -> SimpleNamespace:
    return SimpleNamespace(kind="escalate", decision="{}", ticket_id=ticket, rule=rule, tier_before=1, tier_after=3,
                           created_at=at)


def entry(tags: list[str], dismissed_at: datetime | None = None, history: bool = True,
          added: tuple[Change, ...] = ()) -> SimpleNamespace:
    """The index entry of the ticket as last read: its snapshot, as the daemon stores it."""
    changes = added + (() if dismissed_at is None else (Change(dismissed_at, "ana", "tags", added=("triage_dismissed",)),))
    ticket = Ticket(id="1", subject="", description="", status="open", created_at=T10 - timedelta(days=1),
                    updated_at=T10, tags=frozenset(tags), comments=() if history else None,
                    history=changes if history else None)
    return SimpleNamespace(snapshot=json.dumps(ticket_to_dict(ticket)))


def test_each_review_counts_once_and_a_dismissal_answers_only_what_it_was_asked_about():
    journal = [
        review("A", "churn", "customer-requests-escalation", T10),  # dismissed five minutes later
        review("B", "manager", "customer-requests-escalation", T10),  # asked after an earlier dismissal
        review("C", "outage", "production-environment-impact", T10),
        escalation("C", "production-environment-impact", T10 + timedelta(minutes=8)),  # confirmed
        review("D", "security", "security-related-issue", T10),  # dismissed; the last read has no history
    ]
    entries = {
        "A": entry(["triage_review_churn", "triage_dismissed"], T10 + timedelta(minutes=5)),
        "B": entry(["triage_review_churn", "triage_review_manager", "triage_dismissed"], T10 - timedelta(hours=1)),
        "C": entry(["triage_review_outage", "triage_confirm_outage"],
                   added=(Change(T10 + timedelta(minutes=6), "ana", "tags", added=("triage_confirm_outage",)),)),
        "D": entry(["triage_review_security", "triage_dismissed"], history=False),
    }
    counts = triage_reviews(load_policy("three-tier"), journal, entries)
    assert counts["churn"] == {"asked": 1, "confirmed": 0, "other": 0, "dismissed": 1, "open": 0}
    assert counts["manager"] == {"asked": 1, "confirmed": 0, "other": 0, "dismissed": 0, "open": 1}
    assert counts["outage"] == {"asked": 1, "confirmed": 1, "other": 0, "dismissed": 0, "open": 0}
    assert counts["security"] == {"asked": 1, "confirmed": 0, "other": 0, "dismissed": 1, "open": 0}


def test_only_a_persons_tag_answers_a_review():
    # Before: "confirmed" meant "later escalated by the same rule": a review the customer's
    # later words escalated, with nobody answering, counted as confirmed, and so did a
    # confirmation tag tierlift's own account added; one confirmed as another category
    # (asked about security, confirmed as an outage) counted as open.
    journal = [
        review("E", "security", "security-related-issue", T10),
        escalation("E", "security-related-issue", T10 + timedelta(minutes=30)),  # the customer wrote again
        review("F", "security", "security-related-issue", T10),
        escalation("F", "security-related-issue", T10 + timedelta(minutes=5)),
        review("G", "security", "security-related-issue", T10),
    ]
    entries = {
        "E": entry(["triage_review_security", "tier_l3"]),
        "F": entry(["triage_review_security", "triage_confirm_security"],
                   added=(Change(T10 + timedelta(minutes=4), "tierlift", "tags", added=("triage_confirm_security",),
                                 automated=True),)),
        "G": entry(["triage_review_security", "triage_confirm_outage"],
                   added=(Change(T10 + timedelta(minutes=4), "ana", "tags", added=("triage_confirm_outage",)),)),
    }
    counts = triage_reviews(load_policy("three-tier"), journal, entries)
    assert counts["security"] == {"asked": 3, "confirmed": 0, "other": 1, "dismissed": 0, "open": 2}


def test_a_dismissal_tierlift_took_off_to_ask_again_still_answers_the_first_review():
    # Asked about an outage at 10:00, dismissed by Ana at 10:05; the customer wrote that it
    # was down again, and tierlift asked again at 10:30, taking the dismissal off so that Ana
    # can answer the new question. The first review was dismissed; the second is open.
    changes = (Change(T10 + timedelta(minutes=5), "ana", "tags", added=("triage_dismissed",)),
               Change(T10 + timedelta(minutes=30), "tierlift", "tags", removed=("triage_dismissed",), automated=True))
    ticket = Ticket(id="1", subject="", description="", status="open", created_at=T10 - timedelta(days=1),
                    updated_at=T10, tags=frozenset({"triage_review_outage"}), comments=(), history=changes)
    journal = [review("H", "outage", "production-environment-impact", T10),
               review("H", "outage", "production-environment-impact", T10 + timedelta(minutes=30))]
    counts = triage_reviews(load_policy("three-tier"), journal,
                            {"H": SimpleNamespace(snapshot=json.dumps(ticket_to_dict(ticket)))})
    assert counts["outage"] == {"asked": 2, "confirmed": 0, "other": 0, "dismissed": 1, "open": 1}


def test_a_dismissal_tierlift_took_off_counts_when_the_last_read_carries_no_history():
    # QA (triage): the same story, but the ticket's last read was a wake-up without its
    # history: the count fell back to the tags left on, where tierlift had taken the dismissal
    # off, and the first review turned from dismissed into open with nobody acting.
    lifted = json.dumps({"actions": [{"type": "add_tags", "tags": ["triage_review_outage"]},
                                     {"type": "remove_tags", "tags": ["triage_dismissed"]}]})
    again = SimpleNamespace(kind="triage-review", decision=lifted, ticket_id="H", rule="production-environment-impact",
                            tier_before=1, tier_after=1, created_at=T10 + timedelta(minutes=30))
    journal = [review("H", "outage", "production-environment-impact", T10), again]
    counts = triage_reviews(load_policy("three-tier"), journal, {"H": entry(["triage_review_outage"], history=False)})
    assert counts["outage"] == {"asked": 2, "confirmed": 0, "other": 0, "dismissed": 1, "open": 1}
