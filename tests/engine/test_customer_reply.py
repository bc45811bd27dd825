"""What the customer reads when tierlift moves their ticket up (QA, a CX lead, 2026-12-07).

- A brand-new enterprise "how do I add seats?" was answered "We have escalated ... to our
  Senior Support team": nothing was escalated from the customer's view (F9).
- "escalated to our Engineering / Executive team", "our Management team" for an outage: the
  team's own names for its tiers reached the customer (F7).
- Each escalation promised afresh: "... by 05:06", then at 04:36 "... to our Executive team
  ... by 05:36", a later time than the one the customer already held (F4)."""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import datetime, timedelta

import pytest

from tierlift.engine.evaluate import apply_decision, evaluate
from tierlift.engine.model import Comment, PublicReply, TierMove
from tierlift.engine.policy import load_policy_text
from tierlift.service.daemon.policies import load_policy

from enginekit import make_ticket, org, utc

PROMISE = re.compile(r"by (\w+ \d{1,2} \w+ \d{4}, \d{2}:\d{2} [A-Z]{3,5})")


def replies(decision) -> list[str]:
    return [a.body for a in decision.actions if isinstance(a, PublicReply)]


def promised(body: str) -> str:
    m = PROMISE.search(body)
    assert m, body
    return m.group(1)


def test_a_new_enterprise_question_routed_to_senior_support_is_acknowledged_not_escalated():
    teamflow = load_policy("teamflow")
    now = utc(2026, 11, 2, 9, 1)
    t = make_ticket(subject="How to add seats", description="Hi, how do I add two more seats to our subscription?",
                    organization=org("enterprise"), created_at=now, updated_at=now)
    d = evaluate(t, teamflow, now)
    assert (d.tier_after, d.rule) == (2, "enterprise-customer"), d.reasons
    [body] = replies(d)
    assert "escalated" not in body.lower() and '"How to add seats" is with our Senior Support team' in body, body
    assert promised(body) == "Monday 02 November 2026, 10:01 UTC", body  # an enterprise customer's hour
    # The same customer's outage is escalated, and told so.
    down = make_ticket(subject="Workspace down", description="Our production API is down for all users.",
                       organization=org("enterprise"), created_at=now, updated_at=now)
    [told] = replies(evaluate(down, teamflow, now))
    assert "We have escalated" in told, told


def test_the_customer_reads_the_packs_names_for_its_tiers_not_the_teams():
    three, teamflow = load_policy("three-tier"), load_policy("teamflow")
    now = utc(2026, 11, 2, 15, 0)
    t = make_ticket(tags=frozenset({"p0"}), organization=org("pro"))
    [body] = replies(evaluate(t, three, now))
    assert "our Engineering team" in body and "Executive" not in body, body
    down = make_ticket(subject="Workspace down", description="Our production API is down for all users.",
                       organization=org("pro"), created_at=now, updated_at=now)
    [told] = replies(evaluate(down, teamflow, now))
    assert "our Escalation Management team" in told and "our Management team" not in told, told


BARE = """
escalation:
  tiers:
    - {level: 1, name: Front, team: front, sla: {first_response: 4h}}
    - {level: 2, name: Specialists Internal, team: spec, sla: {first_response: 2h}}
  routing:
    - {name: vip, when: {plan: enterprise}, start_tier: 2}
  customer_notification:
    body: "Escalated to our {tier_name} team, answer by {expected_response}."
    %s
"""


@pytest.mark.parametrize(("extra", "expected"), [
    ("", None),
    ("routed: 'With our {tier_name} team, answer by {expected_response}.'", "With our Specialists Internal team"),
    ("routed: 'With our {tier_name} team.'\n    tier_names: {2: specialist}", "With our specialist team."),
])
def test_a_routing_entry_answers_with_the_routed_text_or_not_at_all(tmp_path, extra, expected):
    policy = load_policy_text(BARE % extra, "bare.yaml")
    d = evaluate(make_ticket(organization=org("enterprise")), policy, utc(2026, 11, 2, 15, 0))
    assert d.tier_after == 2 and d.kind == "route", d.reasons
    assert [b[:len(expected)] for b in replies(d)] == ([expected] if expected else []), replies(d)


@pytest.mark.parametrize(("names", "said"), [
    ("{5: nobody}", "escalation.customer_notification.tier_names[5]: expected a tier level (1, 2), got 5"),
    ("{2: ''}", "escalation.customer_notification.tier_names[2]: expected the name a customer reads for the tier"),
    ("[specialist]", "escalation.customer_notification.tier_names: expected a mapping of tier levels to names"),
])
def test_a_tier_name_for_the_customer_of_no_tier_is_refused_with_its_line(names, said):
    with pytest.raises(Exception) as problem:
        load_policy_text(BARE % f"tier_names: {names}", "bare.yaml")
    assert f"bare.yaml:10: {said}" in str(problem.value), problem.value


def test_a_later_escalation_keeps_the_promise_the_customer_holds():
    """teamflow: a manager request takes an unanswered ticket L2 -> L3 at 03:06 (L3 answers
    within 2 hours: "by 05:06"); at 75% of L3's time, 04:36, still unanswered, it goes to L4,
    whose hour would say 05:36. The customer keeps 05:06."""
    teamflow = load_policy("teamflow")
    start = utc(2026, 11, 3, 1, 0)
    asked = Comment("fred@customer.example", "This has been going on for a day. I want to speak to a manager.", True,
                    utc(2026, 11, 3, 3, 5), by_agent=False)
    t = make_ticket(subject="Webhook retries", description="Webhook retries pile up.", organization=org("pro"),
                    tags=frozenset({"tier_l2"}), created_at=start, updated_at=asked.created_at, comments=(asked,),
                    history=(), first_reply_at=None)
    first_at = utc(2026, 11, 3, 3, 6)
    first = evaluate(t, teamflow, first_at)
    assert (first.tier_after, first.rule) == (3, "management-request"), first.reasons
    [held] = replies(first)
    assert promised(held) == "Tuesday 03 November 2026, 05:06 UTC", held
    moved = apply_decision(t, first, first_at)
    later = evaluate(moved, teamflow, utc(2026, 11, 3, 4, 37))
    assert later.tier_after == 4, later.reasons
    [again] = replies(later)
    assert promised(again) == "Tuesday 03 November 2026, 05:06 UTC", again
    assert _note_due(later) == "Tuesday 03 November 2026, 05:06", "the note tells L4 what the customer holds"


def _note_due(decision) -> str | None:
    from tierlift.engine.model import InternalNote
    for a in decision.actions:
        if isinstance(a, InternalNote):
            m = re.search(r"(\w+day \d{2} \w+ \d{4}, \d{2}:\d{2})", a.body)
            return m.group(1) if m else None
    return None


def _at(text: str) -> datetime:
    return datetime.strptime(text, "%A %d %B %Y, %H:%M %Z")


def test_the_kept_promise_is_never_one_already_passed():
    """A promise that passed unmet is not repeated: the new tier's own time is promised."""
    teamflow = load_policy("teamflow")
    start = utc(2026, 11, 3, 1, 0)
    asked = Comment("fred@customer.example", "I want to speak to a manager.", True, utc(2026, 11, 3, 3, 5),
                    by_agent=False)
    t = make_ticket(subject="Webhook retries", description="Webhook retries pile up.", organization=org("pro"),
                    tags=frozenset({"tier_l2"}), created_at=start, updated_at=asked.created_at, comments=(asked,),
                    history=())
    first = evaluate(t, teamflow, utc(2026, 11, 3, 3, 6))
    moved = apply_decision(t, first, utc(2026, 11, 3, 3, 6))
    late = evaluate(moved, teamflow, utc(2026, 11, 3, 5, 30))  # the daemon was away past 05:06
    assert late.tier_after == 4, late.reasons
    assert _at(promised(replies(late)[0])) > _at("Tuesday 03 November 2026, 05:30 UTC"), replies(late)
    assert timedelta(0) < _at(promised(replies(late)[0])) - _at("Tuesday 03 November 2026, 05:30 UTC") <= timedelta(hours=1)


def _back_at_l1(pack) -> tuple:
    """teamflow: a manager request took the ticket L1 -> L3 on Monday, a fix brought it back to
    L1; on Wednesday the customer asks for a manager again."""
    ledger = (TierMove(utc(2026, 11, 2, 10, 0), 1, 3, "management-request", "m1"),
              TierMove(utc(2026, 11, 2, 15, 0), 3, 1, "fix-deployed", "d1"))
    asked = Comment("fred@customer.example", "Still broken. I want to speak to a manager again.", True,
                    utc(2026, 11, 4, 9, 5), by_agent=False)
    t = make_ticket(subject="Webhook retries", description="Webhook retries pile up.", organization=org("pro"),
                    tags=frozenset({"tier_l1"}), created_at=utc(2026, 11, 2, 9, 0), updated_at=asked.created_at,
                    comments=(asked,), history=(), ledger=ledger)
    return t, evaluate(t, pack, utc(2026, 11, 4, 9, 6))


def test_a_move_back_up_into_a_tier_the_ticket_was_at_tells_the_customer_it_is_back():
    """QA (a CX lead, F8): after a fix that did not hold, the customer got the first escalation
    email again word for word, as if nothing had happened in between."""
    teamflow = load_policy("teamflow")
    t, d = _back_at_l1(teamflow)
    assert (d.tier_before, d.tier_after) == (1, 3), d.reasons
    [body] = replies(d)
    assert '"Webhook retries" is not resolved yet. It is back with our Escalation Management team' in body, body
    assert "We have escalated" not in body, body
    # A first move into that tier is announced as an escalation, as ever.
    first, _ = _back_at_l1(teamflow)
    [told] = replies(evaluate(replace(first, ledger=()), teamflow, utc(2026, 11, 4, 9, 6)))
    assert "We have escalated" in told, told


def test_without_a_returned_text_the_move_back_up_says_the_body():
    teamflow = load_policy("teamflow")
    plain = replace(teamflow, customer_notification=replace(teamflow.customer_notification, returned=None))
    _, d = _back_at_l1(plain)
    [body] = replies(d)
    assert "We have escalated" in body, body


def test_a_returned_text_with_an_unknown_placeholder_is_refused_with_its_line():
    with pytest.raises(Exception) as problem:
        load_policy_text(BARE % "returned: 'Back with {team_lead}.'", "bare.yaml")
    assert "bare.yaml:10: escalation.customer_notification.returned" in str(problem.value), problem.value
