"""The floor's triage lead answers tierlift's reviews as a person who read the ticket would.

Judged from the helpdesk's record (record.py, the oracle's reader): who added which
tag, and when. tierlift's review tag is added here with tierlift's own account, as the
daemon does; the floor's lead then confirms or dismisses it with their own credentials.
"""

from __future__ import annotations

import random
from datetime import timedelta

import pytest
from record import jira_records, zendesk_records

from tierlift.sandbox import Sandbox
from tierlift.sandbox.floor import START, TEAM_FIELD, Case, Floor

# (kind, near miss, asked for a manager, tierlift's review) -> what a person who read it answers
CASES = [
    ("security", False, False, "security", "triage_confirm_security"),
    ("security", True, False, "security", "triage_dismissed"),  # a near miss: words alike, nothing happened
    ("security", False, False, "churn", "triage_dismissed"),  # a security report is not a churn threat
    ("noise", False, True, "manager", "triage_confirm_manager"),  # the customer asked for a manager
    ("gdpr", False, False, "gdpr_erasure", "triage_confirm_gdpr_erasure"),
    ("noise", False, True, "churn", "triage_confirm_manager"),  # "get me your boss" read as churn
]


def _answers(sb: Sandbox, floor: Floor) -> dict[object, list[tuple[str, str]]]:
    intents = {key: {"kind": c.kind} for key, c in floor.cases.items()}
    records = zendesk_records(sb.data, intents) if sb.flavor == "zendesk" else \
        jira_records(sb.data, intents, TEAM_FIELD)
    return {r.key: [(e.email, tag) for e in r.events if e.kind == "tags" for tag in e.added
                    if tag.startswith(("triage_confirm_", "triage_dismissed"))] for r in records}


@pytest.mark.parametrize("flavour", ["zendesk", "jira"])
def test_the_lead_confirms_what_the_ticket_means_and_dismisses_the_rest_once_after_a_few_minutes(flavour):
    with Sandbox(flavour, tickets=0, seed=3, now=START) as sb:
        floor = Floor(sb, "teamflow", 3, tickets=0, start=START)
        expected = {}
        for n, (kind, near, manager, review, answer) in enumerate(CASES):
            customer = floor.customers[n % len(floor.customers)]
            key = floor.acts.create(customer, f"Ticket {n}", "Words the customer wrote.")
            floor.cases[key] = Case(key, n, kind, near, customer, random.Random(n), asked_manager=manager)
            floor.acts.agent_update(sb.data.people.bot, key, add_tags=[f"triage_review_{review}"])
            expected[key] = answer
        lead = floor.lead.person.email

        floor.scan(START)
        floor.scan(START + timedelta(minutes=1))  # seen again: still one answer each
        floor.step(START + timedelta(minutes=1))
        assert all(a == [] for a in _answers(sb, floor).values())  # nobody answers in the first minutes

        floor.step(START + timedelta(minutes=11))
        answers = _answers(sb, floor)
        assert answers == {key: [(lead, tag)] for key, tag in expected.items()}
        assert floor.stats["triage reviews confirmed"] == 3 and floor.stats["triage reviews dismissed"] == 2
        assert floor.stats["triage reviews confirmed as a request for a manager"] == 1


def test_without_a_lead_nobody_answers():
    with Sandbox("zendesk", tickets=0, seed=3, now=START) as sb:
        floor = Floor(sb, "teamflow", 3, tickets=0, start=START, lead=False)
        key = floor.acts.create(floor.customers[0], "Ticket", "Words.")
        floor.cases[key] = Case(key, 0, "security", False, floor.customers[0], random.Random(0))
        floor.acts.agent_update(sb.data.people.bot, key, add_tags=["triage_review_security"])
        floor.scan(START)
        floor.step(START + timedelta(hours=2))
        assert _answers(sb, floor) == {key: []}
