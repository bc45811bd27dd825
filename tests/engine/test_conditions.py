"""Every condition key of the policy language, compiled and run on one ticket."""

from __future__ import annotations

from datetime import timedelta
from types import MappingProxyType

import pytest

from tierlift.engine.conditions import ConditionError, TicketView, compile_condition
from tierlift.engine.model import Comment

from enginekit import make_ticket, org, utc

NOW = utc(2026, 11, 3, 14, 0)
TICKET = make_ticket(
    subject="Export FAILS for Acme", description="Refund of $1,500 requested. Production is down.",
    priority="urgent", tags=frozenset({"p1", "vip"}), organization=org(arr=120000), reopens=1,
    custom_fields=MappingProxyType({"refund_amount": "1,500"}), fields=MappingProxyType({"channel": "email"}),
    comments=(Comment("c@x", "Still broken after three attempts", True, utc(2026, 11, 2, 15, 0), False),))

# (condition, holds on TICKET): each key both ways where it has two.
CASES = [
    ({"tag": "VIP"}, True), ({"tag": "gone"}, False),
    ({"tags_any": ["x", "p1"]}, True), ({"tags_all": ["p1", "x"]}, False),
    ({"text": r"production\s+is\s+down"}, True), ({"subject": "acme"}, True), ({"description": "acme"}, False),
    ({"comments": r"after (two|three) attempts"}, True),
    ({"keywords": ["is down"]}, True), ({"keywords": ["dow"]}, False),
    ({"field": "priority", "equals": "URGENT"}, True), ({"field": "channel", "in": ["web"]}, False),
    ({"field": "assignee", "exists": False}, True), ({"field": "subject", "matches": "export"}, True),
    ({"org": "arr", "gte": 50000}, True), ({"org": "region", "exists": True}, False),
    ({"plan": ["Enterprise"]}, True), ({"custom_field": "refund_amount", "gt": 1000}, True),
    ({"number_in_text": r"refund of \$([\d,]+)", "gt": 2000}, False),
    ({"severity": "p1"}, True), ({"severity_in": ["P0"]}, False),
    ({"status": "open"}, True), ({"status_in": ["pending", "hold"]}, False),
    ({"reopened": True}, True), ({"unresolved_for": "24h"}, True), ({"unresolved_for": "2d"}, False),
    ({"all": [{"tag": "p1"}, {"not": {"tag": "gone"}}]}, True), ({"any": [{"tag": "gone"}, {"tag": "nope"}]}, False),
]


@pytest.mark.parametrize(("spec", "expected"), CASES, ids=[str(s) for s, _ in CASES])
def test_each_condition_key_compiles_and_decides(spec, expected):
    cond = compile_condition(spec)
    assert cond.test(TicketView(TICKET, "P1"), NOW) is expected
    assert cond.static is not ("unresolved_for" in spec)


def test_a_time_condition_says_when_its_answer_changes():
    cond = compile_condition({"unresolved_for": "2d"})
    assert cond.next_change is not None
    assert cond.next_change(TicketView(TICKET), NOW) == TICKET.created_at + timedelta(days=2)


@pytest.mark.parametrize(("spec", "path", "message"), [
    ({"tag": "a", "colour": "red"}, ("colour",), "unexpected key 'colour' in this condition (allowed: tag)"),
    ({"field": "priority"}, (), "expected exactly one of equals, in, gt, gte, lt, lte, exists, matches"),
    ({"field": "priority", "gt": "many"}, ("gt",), "expected a number, got 'many'"),
    ({"org": "plan", "in": "enterprise"}, ("in",), "expected a list"),
    ({"any": [{"tag": "a"}, {"shade": 1}]}, ("any", 1, "shade"), "unknown condition 'shade'"),
    ({"tag": "a", "all": []}, (), "'all' must stand alone in its mapping"),
    ({"number_in_text": "refund"}, ("number_in_text",), "the expression needs one group that captures the number"),
    ({"text": ""}, ("text",), "expected a regular expression (a non-empty string)"),
    # A list or mapping where the field's name goes stopped the loader with a TypeError.
    ({"field": ["priority"], "equals": "high"}, ("field",), "expected a field name, got list"),
    ({"org": {"plan": 1}, "exists": True}, ("org",), "expected a field name, got dict"),
])
def test_a_malformed_condition_names_its_key(spec, path, message):
    with pytest.raises(ConditionError) as exc:
        compile_condition(spec)
    assert (exc.value.path, str(exc.value)) == (path, message)


class _Reads:
    """A classifier that records what it was given to read."""

    def __init__(self):
        self.texts: list[str] = []

    def classify(self, text: str):
        from tierlift.engine.triage import Verdict

        self.texts.append(text)
        return Verdict({"none": 1.0})


def test_the_classifier_reads_a_zendesk_description_once_whether_comments_are_loaded_or_not():
    # A Zendesk ticket's first comment is its description. Read with the comments, it was
    # read twice and weighed twice: measured on the seeded sandbox, a ticket scored 0.28 for
    # security without its comments and 0.32 with them, so a daemon that had to load them (a
    # rebuilt ledger) asked a person to triage it and the daemon that kept its state did not.
    t = make_ticket(description="Where is the export button? This blocks our team.")
    first = Comment("customer@example.com", t.description, True, t.created_at, by_agent=False)
    without, with_first = _Reads(), _Reads()
    TicketView(t, classifier=without).verdict()
    TicketView(make_ticket(description=t.description, comments=(first,)), classifier=with_first).verdict()
    assert with_first.texts == without.texts == [f"{t.subject}\n{t.description}"]
    # A follow-up is still read with the whole and on its own.
    later = Comment("customer@example.com", "I want to speak to a manager.", True, utc(2026, 11, 2, 15, 0),
                    by_agent=False)
    both = _Reads()
    TicketView(make_ticket(description=t.description, comments=(first, later)), classifier=both).verdict()
    assert both.texts == [f"{t.subject}\n{t.description}\n{later.body}", later.body]


def test_time_a_ticket_waited_or_spent_solved_is_not_time_unresolved():
    # QA (a CX lead): pending on its customer for a day, a ticket was escalated "unresolved
    # after 24 hours" and its customer told "we have escalated" while support waited for them.
    from dataclasses import replace

    from tierlift.engine.model import StatusChange

    cond = compile_condition({"unresolved_for": "24h"})
    created = NOW - timedelta(hours=30)
    waiting = replace(TICKET, created_at=created, status="pending", status_history=(
        StatusChange(created, "new"), StatusChange(created + timedelta(hours=1), "pending")))
    assert not cond.test(TicketView(waiting), NOW) and cond.next_change(TicketView(waiting), NOW) is None
    # Back to open after 20 hours pending: 24 hours unresolved are reached 20 hours later than before.
    back = replace(waiting, status="open", status_history=(*waiting.status_history,
                                                            StatusChange(created + timedelta(hours=21), "open")))
    assert not cond.test(TicketView(back), NOW)
    assert cond.next_change(TicketView(back), NOW) == created + timedelta(hours=44)
    assert cond.test(TicketView(back), created + timedelta(hours=44))


def test_teamflow_does_not_escalate_a_ticket_pending_on_its_customer_as_unresolved():
    """The whole decision: a question answered by L1 and pending on the customer for 20 of its
    30 hours stays at L1; a pause the export cannot show (one status change since creation,
    no history loaded) has the history read first."""
    from dataclasses import replace

    from tierlift.engine.evaluate import evaluate
    from tierlift.engine.model import Change, Comment, StatusChange
    from tierlift.service.daemon.policies import load_policy

    teamflow = load_policy("teamflow")
    created = NOW - timedelta(hours=30)
    reply = Comment("ana", "Could you send us the file you tried to upload?", True, created + timedelta(hours=1))
    from enginekit import make_ticket

    base = replace(make_ticket(), subject="Cannot upload avatar", description="Uploading a picture gives an error.",
                   created_at=created, updated_at=created + timedelta(hours=21), status="open",
                   tags=frozenset({"tier_l1"}), comments=(reply,), first_reply_at=reply.created_at,
                   status_history=(StatusChange(created, "new"), StatusChange(created + timedelta(hours=21), "open")))
    blind = evaluate(base, teamflow, NOW)
    assert blind.needs_comments and not blind.has_actions, blind.reasons
    history = (Change(created + timedelta(hours=1), "ana", "status", before="open", after="pending"),
               Change(created + timedelta(hours=21), "bob", "status", before="pending", after="open"))
    known = evaluate(replace(base, history=history), teamflow, NOW)
    assert known.tier_after == 1 and not known.has_actions, known.reasons
    never_waited = evaluate(replace(base, history=(), status_history=(StatusChange(created, "new"),)), teamflow, NOW)
    assert never_waited.tier_after == 2 and never_waited.rule == "unresolved-24h", never_waited.reasons
