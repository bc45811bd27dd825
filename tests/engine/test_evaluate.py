"""The escalation semantics, one behaviour a test, on the shipped packs."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest

from tierlift.engine.evaluate import Evaluator, apply_decision, evaluate
from tierlift.engine.marker import has_marker
from tierlift.engine.model import (
    AddTags,
    Change,
    Comment,
    Flag,
    InternalNote,
    Notify,
    PublicReply,
    Reassign,
    RemoveTags,
    SetPriority,
    StatusChange,
)
from tierlift.service.daemon.policies import load_policy

from enginekit import make_ticket, note, org, utc


@pytest.fixture(scope="module")
def three():
    return load_policy("three-tier")


@pytest.fixture(scope="module")
def teamflow():
    return load_policy("teamflow")


@pytest.fixture(scope="module")
def two():
    return load_policy("two-tier")


def kinds(decision):
    return [a.type for a in decision.actions]


def of(decision, cls):
    return [a for a in decision.actions if isinstance(a, cls)]


def settle(ticket, policy, now):
    """Evaluate, apply, and evaluate again: the second answer must be empty."""
    d = evaluate(ticket, policy, now)
    after = apply_decision(ticket, d, now)
    again = evaluate(after, policy, now)
    assert not again.has_actions, f"not idempotent: {again.reasons}"
    return d, after


# --- tiers and SLA clocks -----------------------------------------------------------


def test_no_tier_tag_means_level_one_and_a_fresh_ticket_waits(three):
    d = evaluate(make_ticket(), three, utc(2026, 11, 2, 15, 0))
    assert d.tier_before == d.tier_after == 1
    assert not d.has_actions
    # 75% of the 4 business-hour first response = 3h after Monday 09:00 New York.
    assert d.wake_up == utc(2026, 11, 2, 17, 0)


def test_sla_threshold_escalates_one_level_with_a_structured_note(three):
    t = make_ticket(organization=org(), requester="jane@acme.com")
    d, after = settle(t, three, utc(2026, 11, 2, 17, 0))
    assert (d.tier_before, d.tier_after, d.kind) == (1, 2, "escalate")
    assert of(d, Reassign)[0].team == "support-specialists"
    assert of(d, AddTags)[0].tags == ("tier_l2",)
    body = of(d, InternalNote)[0].body
    for field in ("escalated_from: L1", "escalated_to: L2", '"Acme Corp"', '"$120,000"', "health_score: 72",
                  "steps_taken:", "customer_impact:", "escalation_reason:", "suggested_next_step:",
                  "first_response:", "75% of 4 business hours", "policy: \"three-tier\""):
        assert field in body
    assert has_marker(body, d.escalation_id)
    assert "tier_l2" in after.tags


def test_business_hours_carry_the_clock_over_the_weekend(three):
    # Friday 16:00 New York: one business hour on Friday, two on Monday.
    t = make_ticket(created_at=utc(2026, 11, 6, 21, 0), updated_at=utc(2026, 11, 6, 21, 0))
    d = evaluate(t, three, utc(2026, 11, 7, 12, 0))
    assert not d.has_actions
    assert d.wake_up == utc(2026, 11, 9, 16, 0)  # Monday 11:00 New York


def test_pending_time_is_excluded_from_the_clock(three):
    t = make_ticket(status="open", status_history=(
        StatusChange(utc(2026, 11, 2, 14, 0), "new"),
        StatusChange(utc(2026, 11, 2, 15, 0), "pending"),
        StatusChange(utc(2026, 11, 2, 17, 0), "open"),
    ))
    # 3h of clock needed; 2h were paused, so the threshold moves to 19:00 UTC.
    assert not evaluate(t, three, utc(2026, 11, 2, 18, 59)).has_actions
    assert evaluate(t, three, utc(2026, 11, 2, 19, 0)).tier_after == 2


def test_a_paused_ticket_has_no_sla_wake_up(three):
    t = make_ticket(status="pending", status_history=(StatusChange(utc(2026, 11, 2, 14, 30), "pending"),))
    d = evaluate(t, three, utc(2026, 11, 2, 20, 0))
    assert not d.has_actions
    assert d.wake_up is None


def test_a_public_reply_stops_the_first_response_trigger_the_resolution_clock_goes_on(three):
    # Issue 13: a public reply by the tier meets its first response. Issue 26, item 3:
    # "SLA at 75% elapsed without resolution path" also watches the resolution target,
    # so an answered ticket that is never solved escalates at 75% of it.
    t = make_ticket(first_reply_at=utc(2026, 11, 2, 14, 30))
    d = evaluate(t, three, utc(2026, 11, 2, 17, 0))
    assert not d.has_actions
    assert d.wake_up == utc(2026, 11, 4, 16, 0)  # 75% of 24 business hours: Wednesday 11:00 NY
    assert not evaluate(t, three, utc(2026, 11, 4, 15, 59)).has_actions


def test_the_l2_clock_starts_when_the_ticket_entered_l2(three):
    t = make_ticket(first_reply_at=utc(2026, 11, 2, 14, 30))
    entered = utc(2026, 11, 2, 17, 0)
    d1, at_l2 = settle(make_ticket(), three, entered)
    assert d1.tier_after == 2
    d2 = evaluate(at_l2, three, entered + timedelta(minutes=89))
    assert not d2.has_actions
    assert d2.wake_up == entered + timedelta(minutes=90)  # 75% of 2h
    # Due at L2 without comments: whether L2 replied is not known (issue 13).
    assert evaluate(at_l2, three, entered + timedelta(minutes=90)).needs_comments
    d3 = evaluate(replace(at_l2, comments=()), three, entered + timedelta(minutes=90))
    assert (d3.tier_before, d3.tier_after) == (2, 3)
    assert t  # unchanged original


def test_reopening_does_not_reset_the_clock(three):
    # Seed pitfall 4: measured from the original creation time.
    t = make_ticket(reopens=2, updated_at=utc(2026, 11, 2, 16, 59))
    # Changed since L1 got it: the history is read first (a person's round trip restarts
    # the clock, test_engine_people.py); a reopen does not.
    assert evaluate(t, three, utc(2026, 11, 2, 17, 0)).needs_comments
    t = replace(t, comments=(), history=(Change(utc(2026, 11, 2, 16, 59), "customer@acme.example", "status", "solved", "open"),))
    assert evaluate(t, three, utc(2026, 11, 2, 17, 0)).tier_after == 2


# --- severity overrides --------------------------------------------------------------


def test_p0_goes_straight_to_the_top_and_pages(three):
    d, _ = settle(make_ticket(tags=frozenset({"p0"})), three, utc(2026, 11, 2, 14, 5))
    assert (d.tier_before, d.tier_after) == (1, 3)
    assert of(d, Reassign)[0].team == "engineering-oncall"
    assert [n.channel for n in of(d, Notify)] == ["pagerduty"]
    assert of(d, SetPriority)[0].priority == "urgent"
    assert "severity-p0" == d.rule


def test_p2_routes_to_l2_and_an_override_below_the_current_tier_does_nothing(three):
    assert evaluate(make_ticket(tags=frozenset({"p2"})), three, utc(2026, 11, 2, 14, 5)).tier_after == 2
    d = evaluate(make_ticket(tags=frozenset({"p2", "tier_l3"})), three, utc(2026, 11, 2, 14, 5))
    assert not d.has_actions
    assert any("owns the ticket" in r for r in d.reasons)


def test_severity_from_a_custom_field(three):
    t = make_ticket(custom_fields={"severity": "p1"})
    d = evaluate(t, three, utc(2026, 11, 2, 14, 5))
    assert d.tier_after == 3 and [n.channel for n in of(d, Notify)] == ["slack_oncall"]


# --- manual triggers and context --------------------------------------------------


def test_manual_escalation_without_context_is_refused_once(three):
    now = utc(2026, 11, 2, 14, 30)
    t = make_ticket(tags=frozenset({"escalate"}), comments=())
    d = evaluate(t, three, now)
    assert d.kind == "refused" and d.tier_after == 1
    assert of(d, AddTags)[0].tags == ("escalation_incomplete",)
    body = of(d, InternalNote)[0].body
    assert "steps taken" in body and "customer impact" in body
    again = evaluate(apply_decision(t, d, now), three, now)
    assert not again.has_actions


def test_manual_escalation_with_context_moves_up_and_consumes_the_tag(three):
    now = utc(2026, 11, 2, 14, 30)
    ctx = note("Steps taken:\n- Verified IdP metadata\n- Re-uploaded certificate\nCustomer impact: 50 users locked out",
               utc(2026, 11, 2, 14, 20))
    t = make_ticket(tags=frozenset({"escalate", "escalation_incomplete"}), comments=(ctx,))
    d, after = settle(t, three, now)
    assert (d.tier_after, d.rule) == (2, "manual")
    assert set(of(d, RemoveTags)[0].tags) == {"escalate", "escalation_incomplete"}
    body = of(d, InternalNote)[0].body
    assert '"Verified IdP metadata"' in body and "50 users locked out" in body
    assert "escalate" not in after.tags


def test_manual_trigger_without_loaded_comments_asks_for_them(three):
    d = evaluate(make_ticket(tags=frozenset({"escalate"})), three, utc(2026, 11, 2, 14, 30))
    assert d.needs_comments and not d.has_actions


def test_customer_request_criterion_is_decided_by_its_condition(three):
    t = make_ticket(description="This is the third time. I want to speak to a manager now.")
    d = evaluate(t, three, utc(2026, 11, 2, 14, 10))
    assert d.tier_after == 2 and d.rule == "customer-requests-escalation"


# --- de-escalation and ping-pong ----------------------------------------------------


def test_de_escalation_waits_for_the_minimum_stay(three):
    entered = utc(2026, 11, 2, 15, 0)
    d1, at_l3 = settle(make_ticket(tags=frozenset({"p0"})), three, entered)
    at_l3 = apply_decision(at_l3, evaluate(at_l3, three, entered), entered)
    fixed = type(at_l3)(**{**{s: getattr(at_l3, s) for s in at_l3.__slots__},
                           "tags": at_l3.tags - {"p0"} | {"fix_deployed"}})
    early = evaluate(fixed, three, entered + timedelta(hours=1))
    assert not early.has_actions and early.wake_up == entered + timedelta(hours=2)
    # The move's note states the tier's replies and the context: read without the comments
    # (a Zendesk wake-up) it said "breached (running)" and "none recorded" on a worked
    # ticket. The engine asks for them first, as the daemon then reads them.
    blind = evaluate(fixed, three, entered + timedelta(hours=2))
    assert blind.needs_comments and not blind.has_actions
    d, after = settle(type(fixed)(**{**{s: getattr(fixed, s) for s in fixed.__slots__}, "comments": ()}), three,
                      entered + timedelta(hours=2))
    assert (d.tier_before, d.tier_after, d.kind) == (3, 1, "de-escalate")
    assert "fix_deployed" in of(d, RemoveTags)[0].tags
    assert of(d, Reassign)[0].team == "support-generalists"


def test_a_fix_tagged_before_the_customer_reopened_the_ticket_does_not_move_it_down(three):
    """The support floor (zendesk teamflow, seed 5, ticket 1507): fix_deployed and solved at
    04:07, the customer's "it broke again" reopened it at 09:40, and the old tag sent the L4
    ticket to L1. The tag is spent: removed with a note, the tier keeps the ticket; a fix
    tagged after the reopen moves it down as ever."""
    from tierlift.engine.model import Change, StatusChange

    entered = utc(2026, 11, 2, 15, 0)
    _d, at_l3 = settle(make_ticket(tags=frozenset({"p0"})), three, entered)
    fixed_at, reopened = entered + timedelta(hours=3), entered + timedelta(hours=5)
    tagged = Change(fixed_at, "agent@example.com", "tags", added=("fix_deployed",))
    broke = replace(at_l3, tags=at_l3.tags - {"p0"} | {"fix_deployed"}, comments=(), history=(tagged,),
                    status_history=(StatusChange(fixed_at, "solved"), StatusChange(reopened, "open")))
    d, after = settle(broke, three, reopened + timedelta(minutes=1))
    assert (d.kind, d.tier_after) == ("fix-not-held", 3) and of(d, RemoveTags)[0].tags == ("fix_deployed",)
    assert "reopened" in of(d, InternalNote)[0].body and not of(d, Reassign)
    assert "fix_deployed" not in after.tags
    again = replace(broke, history=(tagged, Change(reopened + timedelta(hours=1), "agent@example.com", "tags",
                                                   added=("fix_deployed",))))
    down = evaluate(again, three, reopened + timedelta(hours=1, minutes=1))
    assert (down.kind, down.tier_after) == ("de-escalate", 1)


def test_a_fix_tagged_before_the_ticket_moved_up_does_not_move_it_down(teamflow):
    """The support floor (zendesk teamflow, seed 13, ticket 60): fix_deployed at L2 at 18:24,
    the customer's "escalate this to someone senior" took it to L3 at 18:30, and an hour later
    the old tag brought it back to L2 ("bounced"). The tag is spent; one added at L3 acts."""
    from tierlift.engine.model import Change, TierMove

    fixed_at, moved_at = utc(2026, 11, 25, 18, 24), utc(2026, 11, 25, 18, 30)
    tagged = Change(fixed_at, "agent@example.com", "tags", added=("fix_deployed",))
    # What moved it: the customer's words after the fix (a move on words the fix had already
    # answered leaves the fix standing: test_update_duty_pauses, the go-live after a dry run).
    asked = note("This is still not working. Please escalate this to someone senior.", moved_at - timedelta(minutes=3),
                 public=True, by_agent=False)
    t = make_ticket(tags=frozenset({"tier_l3", "fix_deployed"}), team="Support Manager", comments=(asked,),
                    history=(tagged,),
                    ledger=(TierMove(utc(2026, 11, 25, 15, 15), 1, 2, "enterprise-customer", "e1"),
                            TierMove(moved_at, 2, 3, "management-request", "m1")))
    d = evaluate(t, teamflow, moved_at + timedelta(hours=1, minutes=1))
    assert (d.kind, d.tier_after) == ("fix-not-held", 3), d.reasons
    assert "entered L3" in of(d, InternalNote)[0].body and of(d, RemoveTags)[0].tags == ("fix_deployed",)
    again = replace(t, history=(tagged, Change(moved_at + timedelta(minutes=20), "agent@example.com", "tags",
                                               added=("fix_deployed",))))
    down = evaluate(again, teamflow, moved_at + timedelta(hours=1, minutes=21))
    assert (down.kind, down.tier_before) == ("de-escalate", 3) and down.tier_after < 3, down.reasons


def test_ping_pong_freezes_a_ticket_that_moves_too_often(three):
    from tierlift.engine.model import TierMove

    now = utc(2026, 11, 2, 20, 0)
    ledger = (TierMove(now - timedelta(hours=5), 1, 2, "manual"), TierMove(now - timedelta(hours=4), 2, 1, "fix-deployed"),
              TierMove(now - timedelta(hours=3), 1, 2, "manual"))
    # Its L2 first-response clock crossed 75% (no reply since it came back to L2).
    t = make_ticket(tags=frozenset({"tier_l2"}), ledger=ledger, comments=())
    d = evaluate(t, three, now)
    assert d.kind == "frozen" and d.tier_after == 2
    assert of(d, Flag)[0].flag == "escalation_frozen"
    frozen = apply_decision(t, d, now)
    assert not evaluate(frozen, three, now + timedelta(days=3)).has_actions


def test_a_person_who_lifts_the_freeze_lets_automatic_escalation_resume(three):
    # The freeze note says "remove the tag 'escalation_frozen' to let automatic escalation
    # resume". A person did: the next cycle froze the ticket again on the same moves, with a
    # second identical note and the tag back (QA hunt). The moves before a lifted freeze
    # no longer count; a new run of bounces after it freezes again.
    from tierlift.engine.model import TierMove

    now = utc(2026, 11, 2, 20, 0)
    ledger = (TierMove(now - timedelta(hours=5), 1, 2, "manual"), TierMove(now - timedelta(hours=4), 2, 1, "fix-deployed"),
              TierMove(now - timedelta(hours=3), 1, 2, "manual"))
    t = make_ticket(tags=frozenset({"tier_l2"}), ledger=ledger, comments=(), history=())
    frozen = apply_decision(t, evaluate(t, three, now), now)
    lifted = type(frozen)(**{**{s: getattr(frozen, s) for s in frozen.__slots__},
                             "tags": frozen.tags - {"escalation_frozen"}})
    d = evaluate(lifted, three, now + timedelta(minutes=10))
    assert (d.kind, d.tier_before, d.tier_after) == ("escalate", 2, 3), d.reasons
    # Read without its comments, the engine asks for them rather than freeze blind.
    blind = type(lifted)(**{**{s: getattr(lifted, s) for s in lifted.__slots__}, "comments": None})
    assert evaluate(blind, three, now + timedelta(minutes=10)).needs_comments


# --- customer notification, review, idempotence -----------------------------------


def test_customer_is_told_the_new_response_time_in_local_time(three):
    d = evaluate(make_ticket(), three, utc(2026, 11, 2, 17, 0))
    reply = of(d, PublicReply)[0].body
    # L2 first response 2 business hours from Monday 12:00 New York.
    assert "Monday 02 November 2026, 14:00 EST" in reply


def test_solved_top_tier_ticket_is_flagged_for_review(three):
    t = make_ticket(status="solved", tags=frozenset({"tier_l3"}), solved_at=utc(2026, 11, 3, 10, 0), comments=())
    d = evaluate(t, three, utc(2026, 11, 3, 10, 5))
    assert d.kind == "review" and of(d, Flag)[0].flag == "escalation_review_due"
    assert "2026-11-10 10:00" in of(d, InternalNote)[0].body
    assert not evaluate(apply_decision(t, d, utc(2026, 11, 3, 10, 5)), three, utc(2026, 11, 3, 11, 0)).has_actions


def test_a_top_tier_ticket_solved_long_before_is_not_flagged_for_review(three):
    # QA: a first sync onto a helpdesk's history flagged 103 tickets solved in August with
    # "Post-escalation review due by 2026-08-17" notes. A review due within the last review
    # window (a daemon stopped a few days) is still flagged.
    long_ago = make_ticket(status="solved", tags=frozenset({"tier_l3"}), solved_at=utc(2026, 8, 10, 10, 0), comments=())
    assert not evaluate(long_ago, three, utc(2026, 11, 3, 10, 5)).has_actions
    lately = make_ticket(status="solved", tags=frozenset({"tier_l3"}), solved_at=utc(2026, 10, 25, 10, 0), comments=())
    d = evaluate(lately, three, utc(2026, 11, 3, 10, 5))
    assert d.kind == "review" and "2026-11-01 10:00" in of(d, InternalNote)[0].body


def test_escalation_id_is_stable_for_the_same_ticket_version(three):
    now = utc(2026, 11, 2, 17, 0)
    a = evaluate(make_ticket(), three, now)
    b = evaluate(make_ticket(), three, now + timedelta(minutes=3))
    assert a.escalation_id == b.escalation_id
    c = evaluate(make_ticket(version="v2"), three, now)
    assert c.escalation_id != a.escalation_id


def test_evaluator_cache_gives_the_same_answers(three):
    ev = Evaluator(three)
    t = make_ticket(description="please let me speak to a manager")
    now = utc(2026, 11, 2, 14, 10)
    assert ev.evaluate(t, now).to_dict() == ev.evaluate(t, now).to_dict() == evaluate(t, three, now).to_dict()


# --- teamflow ------------------------------------------------------------------------


def test_teamflow_security_incident_goes_to_engineering_manager_with_the_seed_template(teamflow):
    t = make_ticket(subject="Possible data breach", description="We see unauthorized access to our workspace.",
                    organization=org("pro", 20000, 80), requester="sec@acme.com")
    d, _ = settle(t, teamflow, utc(2026, 11, 2, 14, 5))
    assert (d.tier_after, d.rule) == (3, "security-incident")
    assert of(d, Reassign)[0].team == "Engineering Manager"
    n = of(d, Notify)[0]
    assert n.channel == "security-alerts"
    assert n.subject == "[URGENT] Security Incident - TeamFlow Customer Data"
    assert "Incident ID: SEC-101" in n.body and "Affected Customer: Acme Corp" in n.body


def test_teamflow_legal_threat_goes_to_the_ceo(teamflow):
    d = evaluate(make_ticket(description="Our attorney will file a lawsuit."), teamflow, utc(2026, 11, 2, 14, 5))
    assert d.tier_after == 4 and of(d, Reassign)[0].team == "CEO"


def test_teamflow_refund_over_1000_goes_to_the_billing_manager(teamflow):
    big = evaluate(make_ticket(description="We request a refund of $1,500 for March."), teamflow, utc(2026, 11, 2, 14, 5))
    assert big.tier_after == 2 and of(big, Reassign)[0].team == "Billing Manager"
    small = evaluate(make_ticket(description="We request a refund of $200 for March."), teamflow, utc(2026, 11, 2, 14, 5))
    assert small.tier_after == 1


def test_teamflow_enterprise_and_high_value_accounts_are_priority(teamflow):
    d = evaluate(make_ticket(organization=org("enterprise", 30000)), teamflow, utc(2026, 11, 2, 14, 5))
    assert d.tier_after == 2 and d.rule == "enterprise-customer"
    d = evaluate(make_ticket(organization=org("pro", 75000)), teamflow, utc(2026, 11, 2, 14, 5))
    assert d.tier_after == 2 and d.rule == "high-value-account"


def test_teamflow_response_time_depends_on_the_plan(teamflow):
    created = utc(2026, 11, 2, 14, 0)
    for plan, hours in (("basic", 24), ("pro", 8)):
        t = make_ticket(organization=org(plan, 1000, 90))
        d = evaluate(t, teamflow, created + timedelta(minutes=1))
        assert d.wake_up == created + timedelta(hours=hours) * 0.75, plan


def test_teamflow_unresolved_after_24_hours(teamflow):
    t = make_ticket(organization=org("basic", 1000, 90), first_reply_at=utc(2026, 11, 2, 15, 0))
    early = evaluate(t, teamflow, utc(2026, 11, 3, 13, 0))
    assert not early.has_actions and early.wake_up == utc(2026, 11, 3, 14, 0)
    d = evaluate(t, teamflow, utc(2026, 11, 3, 14, 0))
    assert d.tier_after == 2 and d.rule == "unresolved-24h"


def test_teamflow_outage_updates_remind_then_escalate(teamflow):
    start = utc(2026, 11, 2, 14, 0)
    t = make_ticket(subject="API down", description="Complete outage of the API for all our users.",
                    tags=frozenset({"tier_l3"}), comments=(note("On it", start + timedelta(minutes=5), public=True),))
    ok = evaluate(t, teamflow, start + timedelta(minutes=19))
    assert not ok.has_actions and ok.wake_up == start + timedelta(minutes=20)
    r = evaluate(t, teamflow, start + timedelta(minutes=21))
    assert r.kind == "reminder" and "every 15 minutes" in of(r, InternalNote)[0].body
    reminded = apply_decision(t, r, start + timedelta(minutes=21))
    assert not evaluate(reminded, teamflow, start + timedelta(minutes=30)).has_actions
    # The second missed update moves it up (the pack's `escalate_after: 2`).
    e = evaluate(reminded, teamflow, start + timedelta(minutes=36))
    assert (e.tier_before, e.tier_after) == (3, 4) and e.rule.startswith("update-missed")
    assert of(e, Reassign)[0].team == "CTO"
    # Without `escalate_after` a missed update only reminds.
    from pathlib import Path

    from tierlift.engine.policy import load_policy_text

    text = (Path(__file__).resolve().parents[2] / "policies" / "teamflow.yaml").read_text().replace(
        "      escalate_after: 2\n", "")
    lenient = load_policy_text(text, "teamflow.yaml")
    again = evaluate(reminded, lenient, start + timedelta(minutes=36))
    assert again.kind == "reminder" and again.tier_after == 3 and again.escalation_id != r.escalation_id


def test_an_outage_nobody_updates_escalates_with_its_pages_and_is_reminded_every_period_at_the_top(teamflow):
    """QA (TeamFlow lead): the L3 -> L4 move for missed updates told no channel, and at L4 one
    reminder came, then nothing for hours of silence; the seed asks updates every 15 minutes."""
    start = utc(2026, 11, 2, 14, 0)
    t = make_ticket(subject="API down", description="Complete outage of the API for all our users.",
                    tags=frozenset({"tier_l3"}), comments=())
    moved = evaluate(t, teamflow, start + timedelta(minutes=31))
    assert moved.tier_after == 4 and moved.rule == "update-missed-outage-updates"
    assert {n.channel for n in of(moved, Notify)} == {"outage-response", "pagerduty"}
    top = apply_decision(t, moved, start + timedelta(minutes=31))
    assert not evaluate(top, teamflow, start + timedelta(minutes=45)).has_actions
    seen = set()
    # L4 from minute 31: reminded after 1, 2, 4, 8 missed periods (a note every period was 96 a
    # day on an incident nobody closed), each its own, none in between
    for minute, quiet in ((47, 55), (62, 90), (92, 150), (152, 270)):
        r = evaluate(top, teamflow, start + timedelta(minutes=minute))
        body = of(r, InternalNote)[0].body
        assert r.kind == "reminder" and "none since it reached L4" in body and "further miss" not in body
        assert r.escalation_id not in seen
        seen.add(r.escalation_id)
        top = apply_decision(top, r, start + timedelta(minutes=minute))
        assert not evaluate(top, teamflow, start + timedelta(minutes=quiet)).has_actions


def test_an_incident_that_climbs_goes_to_the_team_its_rule_names_not_by_keywords(teamflow):
    """QA (TeamFlow lead): an outage in words the CTO's keywords miss ("502 bad gateway") went
    L3 -> L4 by its missed updates to VP Customer Success; a refund of "$2,400 ... refunded"
    went L2 -> L3 by the SLA to the Support Manager. Seed 003: the CTO takes "major technical
    failures", the Finance Director "large refunds"."""
    start = utc(2026, 11, 2, 14, 0)
    outage = make_ticket(subject="Everything is down",
                         description="Your platform is down for our whole company, every page returns 502 bad gateway.",
                         tags=frozenset({"tier_l3"}), comments=())
    up = evaluate(outage, teamflow, start + timedelta(minutes=31))
    assert up.tier_after == 4 and of(up, Reassign)[0].team == "CTO"
    # the model's reading of the amount is not in this test: a person confirmed the refund review
    refund = make_ticket(subject="Money back", comments=(), tags=frozenset({"tier_l2", "triage_confirm_refund"}),
                         description="We cancelled in October but were billed $2,400 anyway. We want that $2,400 refunded.")
    sla = evaluate(refund, teamflow, start + timedelta(hours=3, minutes=1))
    assert sla.tier_after == 3 and sla.rule == "sla-75pct" and of(sla, Reassign)[0].team == "Finance Director"


def test_teamflow_level_two_team_depends_on_the_kind_of_issue(teamflow):
    t = make_ticket(description="Please send us the feature request form and roadmap.", organization=org("enterprise"))
    d = evaluate(t, teamflow, utc(2026, 11, 2, 14, 5))
    assert d.tier_after == 2 and of(d, Reassign)[0].team == "Product Manager"


# --- two-tier ------------------------------------------------------------------------


def test_two_tier_p1_goes_to_tier_two(two):
    d, _ = settle(make_ticket(tags=frozenset({"p1"})), two, utc(2026, 11, 2, 14, 5))
    assert d.tier_after == 2 and of(d, Reassign)[0].team == "tier2"


def test_every_action_type_serialises(three):
    d = evaluate(make_ticket(tags=frozenset({"p0"})), three, utc(2026, 11, 2, 14, 5))
    out = d.to_dict()
    assert {a["type"] for a in out["actions"]} >= {"reassign", "add_tags", "internal_note", "notify", "set_priority"}
    assert out["wake_up"] is None or out["wake_up"].endswith("Z")


def test_a_refused_manual_tag_does_not_silence_the_customers_request_or_the_sla(three):
    # Floor (800 tickets): an agent tagged `escalate` without context, tierlift refused it once;
    # the customer then asked for "someone senior" and the ticket stayed at L1 for good.
    created = utc(2026, 11, 2, 14, 0)
    refused = frozenset({"escalate", "escalation_incomplete"})
    ask = Comment("customer@acme.example", "I would like someone senior, a team lead or whoever is in charge, "
                  "to look at this now.", True, created + timedelta(minutes=40), by_agent=False)
    t = make_ticket(tags=refused, comments=(ask,), created_at=created, updated_at=created, history=())
    d = evaluate(t, three, created + timedelta(minutes=41))
    assert (d.tier_after, d.rule) == (2, "customer-requests-escalation")
    quiet = make_ticket(tags=refused, comments=(), created_at=created, updated_at=created, history=())
    assert not evaluate(quiet, three, created + timedelta(hours=2)).has_actions
    d = evaluate(quiet, three, created + timedelta(hours=3, seconds=1))  # 75% of L1's 4 h
    assert (d.tier_after, d.rule) == (2, "sla-75pct")


def test_an_l1_ticket_whose_moves_the_state_lost_asks_for_its_markers_before_an_sla_move(three):
    # Issue 21.7: tierlift brought it back to L1 at 14:00 New York; a state that lost the move
    # saw only the L1 tag and measured the L1 clock from creation (09:00): escalated at once.
    from tierlift.engine.marker import format_marker

    back, now = utc(2026, 11, 2, 19, 0), utc(2026, 11, 2, 20, 30)  # 14:00 and 15:30 in New York
    t = make_ticket(tags=frozenset({"tier_l1"}), ledger_known=False)
    assert evaluate(t, three, now).needs_comments
    marker = note("Back to L1.\n" + format_marker("ab12cd34ef56", 3, 1, "fix-deployed", back), back)
    read = replace(t, comments=(marker,))
    d = evaluate(read, three, now)
    assert not d.has_actions and d.wake_up == utc(2026, 11, 2, 22, 0)  # 75% of 4 h from the return
    # A state that followed the ticket and holds no move: it never moved, the clock runs from creation.
    assert evaluate(replace(t, ledger_known=True), three, now).tier_after == 2


def test_an_incidents_promise_counts_on_the_clock_of_its_update_duty():
    # A team that gave teamflow business hours (Berlin, Mon-Fri): an outage on Saturday was
    # promised "Monday 09:15", and then escalated to the CTO on Saturday for missing the
    # 15-minute updates that its own promise said were not due. The category's times are
    # wall-clock, as `check --policy` words them ("first response 15 minutes") and as the
    # update duty counts; the level's own target stays on its calendar.
    from pathlib import Path

    from tierlift.engine.model import PublicReply
    from tierlift.engine.policy import load_policy_text

    text = (Path(__file__).resolve().parents[2] / "policies" / "teamflow.yaml").read_text().replace(
        "  sla_clocks: [first_response]\n",
        "  sla_clocks: [first_response]\n  calendars:\n    office: {timezone: Europe/Berlin, hours: {mon-fri:"
        " \"09:00-17:00\"}}\n  calendar: office\n", 1)
    office = load_policy_text(text, "teamflow.yaml")
    saturday = utc(2026, 11, 7, 10, 0)  # 11:00 in Berlin
    t = make_ticket(subject="Everything is down", description="Production outage: the platform is down for all users.",
                    tags=frozenset({"p0"}), created_at=saturday, updated_at=saturday)
    d = evaluate(t, office, saturday + timedelta(minutes=2))
    assert d.tier_after == 3, d.reasons
    reply = of(d, PublicReply)[0].body
    assert "Saturday 07 November 2026, 11:17 CET" in reply, reply
    # A request for management has no update duty: its "standard" 4 hours run on the office's
    # hours like the level's own target (2 hours), so the promise is Monday morning.
    t = make_ticket(subject="Complaint", description="I want to speak to a manager about this, it is unacceptable.",
                    created_at=saturday, updated_at=saturday)
    d = evaluate(t, office, saturday + timedelta(minutes=2))
    assert (d.tier_after, d.rule) == (3, "management-request"), d.reasons
    reply = of(d, PublicReply)[0].body
    assert "Monday 09 November 2026, 11:00 CET" in reply, reply


def test_a_new_ticket_routed_to_level_two_and_urgent_enough_for_the_top_gets_one_notice():
    # Routing starts pro customers at L2, and a P0 goes to L4: the ticket went L1 -> L2
    # (route) and L2 -> L4 in one cycle, and the customer got two public replies in the
    # same second, the first promising L2's time (QA hunt). A rule past the starting tier
    # now moves the new ticket there at once.
    from tierlift.engine.model import PublicReply
    from tierlift.engine.policy import load_policy_text

    text = """\
escalation:
  tiers:
    - {level: 1, name: One, team: front, sla: {first_response: 4h}}
    - {level: 2, name: Two, team: specialists, sla: {first_response: 2h}}
    - {level: 3, name: Three, team: engineers, sla: {first_response: 1h}}
    - {level: 4, name: Leadership, team: leaders, sla: {first_response: 30m}}
  severity:
    P0: {tag: p0}
  severity_overrides:
    - {severity: P0, route_to: 4}
  routing:
    - {name: pro-starts-l2, when: {plan: pro}, start_tier: 2}
  customer_notification:
    body: "Your ticket is with {tier_name}; reply by {expected_response}."
"""
    p = load_policy_text(text, "r.yaml")
    now = utc(2026, 11, 2, 14, 5)
    t = make_ticket(organization=org("pro"), tags=frozenset({"p0"}))
    d, after = settle(t, p, now)
    assert (d.tier_before, d.tier_after) == (1, 4), d.reasons
    assert len(of(d, PublicReply)) == 1 and "Leadership" in of(d, PublicReply)[0].body
    # Without the P0 the route still starts it at L2.
    d = evaluate(make_ticket(organization=org("pro")), p, now)
    assert (d.tier_after, d.kind, d.rule) == (2, "route", "pro-starts-l2")


def test_a_page_for_a_ticket_without_an_organization_has_no_empty_brackets(three):
    # three-tier's P1 template is "{account} ({plan}): {subject} -- {reason}": a ticket with no
    # organization paged on-call with " (): Password reset -- ...".
    t = make_ticket(subject="Password reset", tags=frozenset({"p1"}))
    d = evaluate(t, three, utc(2026, 11, 2, 15, 0))
    pages = [a for a in d.actions if isinstance(a, Notify) and a.subject.startswith("[P1]")]
    assert pages, d.actions
    assert pages[0].body.startswith("Password reset -- "), pages[0].body
    with_org = evaluate(make_ticket(subject="Password reset", tags=frozenset({"p1"}), organization=org()), three,
                        utc(2026, 11, 2, 15, 0))
    page = next(a for a in with_org.actions if isinstance(a, Notify) and a.subject.startswith("[P1]"))
    assert page.body.startswith("Acme Corp (enterprise): Password reset -- "), page.body


def test_a_customers_control_characters_never_reach_a_reply_or_a_page(three):
    # A subject with "\x1b[31m" (and a CR, a line separator) was copied raw into the customer
    # reply and the on-call page.
    t = make_ticket(subject="Down \x1b[31mnow\x1b[0m\r\u2028again", tags=frozenset({"p1"}))
    d = evaluate(t, three, utc(2026, 11, 2, 15, 0))
    texts = [a.body for a in d.actions if isinstance(a, PublicReply | Notify)]
    texts += [a.subject for a in d.actions if isinstance(a, Notify)]
    assert texts and any("Down" in x for x in texts), d.actions
    for x in texts:
        assert not any(c in x for c in "\x1b\r\u2028"), repr(x)


def test_tier_tags_changed_by_hand_are_put_back_and_nothing_moves(three):
    # QA: an agent removing tier_l2 from a ticket tierlift had moved to L2 got it escalated
    # L1 -> L2 again (a second note, a second customer email, L2's clock restarted);
    # removing tier_l3 moved it down to L2; a tier_l3 added by hand at L2 stopped its SLA
    # escalation for good. The team stayed where tierlift put it: the tags are put back.
    t = make_ticket(organization=org(), requester="jane@acme.com", comments=(), history=())
    d, at_l2 = settle(t, three, utc(2026, 11, 2, 17, 0))
    assert (d.tier_after, at_l2.team) == (2, "support-specialists")
    for tags, removed in ((at_l2.tags - {"tier_l2"}, None), (at_l2.tags | {"tier_l3"}, ("tier_l3",))):
        edited = replace(at_l2, tags=frozenset(tags), version="edited")
        r = evaluate(edited, three, utc(2026, 11, 2, 17, 30))
        assert r.kind == "retag" and (r.tier_before, r.tier_after) == (2, 2), r.reasons
        assert of(r, AddTags)[0].tags == ("tier_l2",)
        assert (of(r, RemoveTags)[0].tags if removed else ()) == (removed or ())
        assert not of(r, Reassign) and not of(r, PublicReply) and not of(r, Notify)
        assert "put the tier tag 'tier_l2' back" in of(r, InternalNote)[0].body
        fixed = apply_decision(edited, r, utc(2026, 11, 2, 17, 30))
        again = evaluate(fixed, three, utc(2026, 11, 2, 17, 30))
        assert not again.has_actions and again.tier_before == 2, again.reasons
    # At L3, a removed tier_l3 does not take it down to L2.
    d3, at_l3 = settle(make_ticket(tags=frozenset({"p0"}), comments=(), history=()), three, utc(2026, 11, 2, 15, 0))
    assert d3.tier_after == 3
    bare = replace(at_l3, tags=at_l3.tags - {"tier_l3"}, version="edited")
    r = evaluate(bare, three, utc(2026, 11, 2, 15, 20))
    assert r.kind == "retag" and r.tier_after == 3 and not of(r, Reassign), r.reasons


def test_tier_tags_changed_by_the_person_who_took_the_ticket_are_put_back(three):
    """QA (a Jira admin, no team_field: the team is the assignee): an L2 agent who assigned the
    issue to himself and removed tier_l2 got it escalated L1 -> L2 again, a second customer
    email and his assignment undone; adding tier_l3 stopped L2's SLA escalation."""
    t = make_ticket(organization=org(), requester="jane@acme.com", comments=(), history=())
    d, at_l2 = settle(t, three, utc(2026, 11, 2, 17, 0))
    assert (d.tier_after, at_l2.team) == (2, "support-specialists")
    taken = replace(at_l2, team=None, assignee="sam@support.example")
    for tags, removed in ((taken.tags - {"tier_l2"}, None), (taken.tags | {"tier_l3"}, ("tier_l3",))):
        edited = replace(taken, tags=frozenset(tags), version="edited")
        r = evaluate(edited, three, utc(2026, 11, 2, 17, 30))
        assert r.kind == "retag" and (r.tier_before, r.tier_after) == (2, 2), (r.kind, r.reasons)
        assert (of(r, RemoveTags)[0].tags if removed else ()) == (removed or ())
        assert not of(r, Reassign) and not of(r, PublicReply) and not of(r, Notify)
        assert "with team sam@support.example, at L2" in of(r, InternalNote)[0].body
    # Tags that agree with the last move: nothing to put back.
    assert evaluate(taken, three, utc(2026, 11, 2, 17, 30)).kind != "retag"


def test_the_names_a_fixture_case_may_expect_are_every_action_type_and_decision_kind_the_engine_gives():
    # `test-policy` refuses a step whose kind or action is not among these (QA: `kind:
    # escalated` ran and failed at run time): a kind or action the engine gives must be here.
    import re
    from pathlib import Path
    from typing import get_args

    from tierlift.engine import evaluate as ev_mod
    from tierlift.engine.model import ACTION_TYPES, DECISION_KINDS, Action

    assert sorted(ACTION_TYPES) == sorted(cls.__dataclass_fields__["type"].default for cls in get_args(Action))
    source = Path(ev_mod.__file__).read_text()
    given = set(re.findall(r'\bkind="([a-z-]+)"', source)) | set(re.findall(r'ctx\.none\("([a-z-]+)"\)', source))
    given |= set(re.findall(r'_marked\([^()]*?"([a-z-]+)", \(', source, re.S))
    given |= {"none", "escalate", "frozen"}  # the Decision default, a _Move's default, _Quiet("frozen")
    assert given <= set(DECISION_KINDS), given - set(DECISION_KINDS)
    assert {"refused", "triage-review", "unknown-tier", "human-move", "reminder"} <= given


@pytest.mark.parametrize("pack", ["three-tier", "teamflow"])
def test_the_customers_reply_breaks_no_sentence(pack):
    """QA (a Jira admin): teamflow's reply read "... You can expect their\\nnext response by ...",
    and Jira shows a single newline as a line break: a sentence cut after "their"."""
    d = evaluate(make_ticket(description="Our production API is down for all users."), load_policy(pack),
                 utc(2026, 11, 2, 17, 0))
    reply = of(d, PublicReply)[0].body
    for line in reply.splitlines():
        assert not line or line.rstrip()[-1] in ".,:!?" or line.startswith("--"), repr(line)


def test_teamflows_pages_claim_nothing_was_done(teamflow):
    """QA (on call): every teamflow outage page said "Actions Taken: - Status page updated -
    Customer notifications sent" and security pages "Environment secured", when nothing had
    happened but the page; and "Started:" was the escalation's time, not the outage's."""
    from tierlift.engine.model import Notify

    for text in ("Our production API is down for all users.", "Our account was hacked: a stranger logged into our admin account and changed the payout bank details."):
        d = evaluate(make_ticket(subject=text, description=text), teamflow, utc(2026, 11, 2, 17, 0))
        bodies = "\n".join(a.body for a in d.actions if isinstance(a, Notify))
        assert bodies and "To Take" in bodies, (d.rule, bodies)
        for claim in ("Status page updated", "Environment secured", "notifications sent", "Started:", "briefed"):
            assert claim not in bodies, (claim, bodies)


def test_an_agent_who_asks_for_the_move_and_answers_the_customer_is_not_repeated(three):
    """QA (a CX lead): an agent tagged `escalate` with the context and told the customer in the
    same update "I have passed this to our senior specialists"; tierlift's own "has been
    escalated to our Specialist Support team ... by ..." followed 90 seconds later, naming
    another team and time. The move, its note and pages stay; the customer hears one voice."""
    from tierlift.engine.model import Change, PublicReply

    now = utc(2026, 11, 2, 14, 30)
    asked = utc(2026, 11, 2, 14, 28)
    ctx = note("Steps taken:\n- Verified IdP metadata\nCustomer impact: 50 users locked out", utc(2026, 11, 2, 14, 20))
    told = note("I have passed this to our senior specialists, who will get back to you today.", asked, public=True)
    tagged = (Change(asked, "ana@support.example", "tags", added=("escalate",)),)
    t = make_ticket(tags=frozenset({"escalate"}), comments=(ctx, told), history=tagged)
    d = evaluate(t, three, now)
    assert (d.tier_after, d.rule) == (2, "manual") and not of(d, PublicReply), d.actions
    assert of(d, InternalNote)
    # Without the agent's own reply, tierlift answers the customer as ever.
    alone = evaluate(make_ticket(tags=frozenset({"escalate"}), comments=(ctx,), history=tagged), three, now)
    assert (alone.tier_after, alone.rule) == (2, "manual") and of(alone, PublicReply)
