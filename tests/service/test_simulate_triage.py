"""`simulate --json`: a line's `triage` block is the reading its decision used.

QA: a Zendesk ticket whose description read outage but whose customer's follow-up read
manager was asked about as "triage review (manager 0.35 ...)" while the line's block said
manager 0.09 and quoted the follow-up for churn: the block was a reading of its own (the
ticket's words as one text), not the engine's (the whole ticket and each follow-up on its
own; after a dismissal only the words written since)."""

from __future__ import annotations

import io
import json
import re
from datetime import UTC, datetime, timedelta

from tierlift.service.daemon.policies import load_policy
from tierlift.service.tools.policytools import (
    simulate,
    ticket_from_case,
    triage_readings,
    write_json_lines,
)

T0 = datetime(2026, 11, 2, 15, 0, tzinfo=UTC)
SLOW = "Since this morning some pages of the dashboard load slowly for a few of our users, not sure why."
BOSS = "Honestly, get me your boss. I've been patient for two weeks."


def _at(minutes: int) -> str:
    return (T0 + timedelta(minutes=minutes)).isoformat()


def _said(minutes: int, body: str, **extra) -> dict:
    return {"author": "c1", "body": body, "public": True, "by_agent": False, "created_at": _at(minutes), **extra}


def _ticket(tid: str, **extra):
    raw = {"id": tid, "subject": "Dashboard", "description": SLOW, "created_at": _at(0), "updated_at": _at(60),
           "comments": [_said(0, SLOW), _said(60, BOSS)], **extra}
    return ticket_from_case(raw, tid)


def _lines(tickets):
    policy = load_policy("three-tier")
    out = io.StringIO()
    write_json_lines(simulate(policy, tickets, T0 + timedelta(minutes=65)), out,
                     readings=triage_readings(policy, tickets))
    return [json.loads(line) for line in out.getvalue().splitlines()]


def _quoted(row) -> str:
    return next(r for r in row["reasons"] if "triage review (" in r)


def test_the_block_is_the_reading_the_review_quotes():
    (row,) = _lines([_ticket("7")])
    assert row["kind"] == "triage-review"
    block = row["triage"]
    # The review asks about a category (outage for the description, or manager for the
    # follow-up: the model decides which) at the score the block gives, on the sentence it gives.
    asked = re.search(r"triage review \((\w+) ", _quoted(row)).group(1)
    assert asked in ("outage", "manager"), _quoted(row)
    assert f"{asked} {block['scores'][asked]:.2f} (" in _quoted(row), (block["scores"], _quoted(row))
    assert f'"{block["sentence"][asked]}"' in _quoted(row)
    assert block["scores"][asked] > 0.3  # in the review band, as the decision says
    assert block["read"] == "whole ticket"


def test_after_a_dismissal_the_block_reads_the_words_written_since():
    # An outage review was dismissed; the customer's later words ask about a manager.
    history = [{"at": _at(20), "author": "bot", "field": "tags", "added": ["triage_review_outage"], "automated": True},
               {"at": _at(30), "author": "agent", "field": "tags", "added": ["triage_dismissed"]}]
    ticket = _ticket("8", tags=["triage_review_outage", "triage_dismissed"], history=history)
    (row,) = _lines([ticket])
    assert row["kind"] == "triage-review", row["reasons"]
    block = row["triage"]
    assert f"manager {block['scores']['manager']:.2f} (" in _quoted(row), (block["scores"], _quoted(row))
    # The description the agent dismissed is not in what was read.
    assert SLOW not in block["sentence"].values()
    assert block["read"] == "words since the dismissal"


def test_a_decision_without_a_reading_gets_the_whole_ticket():
    raw = {"id": "9", "subject": "Invoice copy", "description": "Could you send me a copy of last month's invoice?",
           "created_at": _at(0), "updated_at": _at(0)}
    (row,) = _lines([ticket_from_case(raw, "9")])
    assert row["triage"]["read"] == "whole ticket" and row["triage"]["scores"]
