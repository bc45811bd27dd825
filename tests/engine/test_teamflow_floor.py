"""Faults the full-size support floor found in the teamflow pack (issue 13, acceptance at full size).

Each test failed on the engine of the integration branch at 88a16e0 and names
the floor ticket that showed it. Times: Monday 2026-11-02 14:00 UTC; teamflow
runs on the 24x7 calendar (L1: basic 24 h, pro 8 h; L2 4 h; L3 2 h; L4 1 h).
"""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest

from tierlift.engine.evaluate import apply_decision, evaluate
from tierlift.engine.model import Change, Comment, StatusChange, TierMove
from tierlift.service.daemon.policies import load_policy

from enginekit import make_ticket, org, utc

MON = utc(2026, 11, 2, 14, 0)


@pytest.fixture(scope="module")
def teamflow():
    return load_policy("teamflow")


def agent_reply(at, body="Looking into it now.", author="sam@support.example"):
    return Comment(author, body, True, at, by_agent=True)


def customer(at, body="Any news?"):
    return Comment("customer@acme.example", body, True, at, by_agent=False)


def de_escalated_to_l1(teamflow, fixed_at):
    """A pro customer's ticket that L2 answered and de-escalated (fix deployed) at `fixed_at`."""
    t = make_ticket(tags=frozenset({"tier_l2", "fix_deployed"}), team="Senior Technical Specialist",
                    organization=org("pro", 20000, 80), history=(),
                    ledger=(TierMove(MON + timedelta(minutes=5), 1, 2, "sla-75pct", "s1"),),
                    comments=(agent_reply(fixed_at - timedelta(minutes=1), "A fix has been deployed."),))
    d = evaluate(t, teamflow, fixed_at)
    assert (d.kind, d.tier_after) == ("de-escalate", 1)
    return apply_decision(t, d, fixed_at)


def test_after_a_de_escalation_the_tiers_own_reply_meets_its_first_response(teamflow):
    # Floor SUP-19 / SUP-20: de-escalated and answered, then L1 replied to the
    # customer's next comment; a later "here are the details" restarted L1's
    # first-response clock as if L1 had never answered, and the ticket climbed
    # L1 -> L2 -> L3 -> L4 by SLA.
    fixed = MON + timedelta(hours=2)
    after = de_escalated_to_l1(teamflow, fixed)
    talk = (customer(fixed + timedelta(hours=1), "Still affected."),
            agent_reply(fixed + timedelta(hours=2), "Checking with the team."),  # L1's first response
            customer(fixed + timedelta(hours=3), "Here are the details you asked for."))
    t = replace(after, comments=after.comments + talk, version="v8")
    d = evaluate(t, teamflow, fixed + timedelta(hours=10))  # 7 h after the last comment: 75% of 8 h is 6 h
    assert not d.has_actions, d.reasons
    # Before L1 answers: the customer was answered when the ticket came down, so the follow-up
    # awaits a next reply, which no first-response target measures (floor3's reading, the oracle's
    # too): no SLA move, however long L1 takes.
    waiting = replace(after, comments=after.comments + talk[:1], version="v9")
    d = evaluate(waiting, teamflow, fixed + timedelta(hours=7, minutes=1))
    assert not d.has_actions, d.reasons


def test_after_a_de_escalation_the_24_hours_unresolved_wake_counts_from_the_move(teamflow):
    # Floor ticket 26 (p1): de-escalated to L1 at Mon 22:17; "unresolved after 24 hours" counts
    # from the move, but the wake-up was computed from the creation (already past), so the
    # daemon never looked at the ticket again at Tue 22:17 and the escalation was missed.
    fixed = MON + timedelta(hours=8)
    after = de_escalated_to_l1(teamflow, fixed)
    d = evaluate(after, teamflow, fixed + timedelta(hours=17))  # past creation + 24 h, before the move + 24 h
    assert not d.has_actions and d.wake_up == fixed + timedelta(hours=24), (d.wake_up, d.reasons)
    d = evaluate(after, teamflow, fixed + timedelta(hours=24, seconds=1))
    assert (d.tier_after, d.rule) == (2, "unresolved-24h")


def test_a_refused_manual_escalation_does_not_silence_the_tiers_other_criteria(teamflow):
    # Floor ticket 86: an agent applied `escalate` without context; tierlift refused it (the
    # incomplete tag), and from then on every evaluation stopped at the refusal: the L1 SLA
    # and "unresolved after 24 hours" never fired while the bare tag stayed on the ticket.
    t = make_ticket(tags=frozenset({"escalate", "escalation_incomplete"}), organization=org("basic", 1000, 90),
                    comments=(), history=())
    d = evaluate(t, teamflow, MON + timedelta(hours=18, minutes=1))  # 75% of basic L1's 24 h
    assert (d.tier_after, d.rule) == (2, "sla-75pct"), d.reasons
    d = evaluate(t, teamflow, MON + timedelta(hours=1))
    assert not d.has_actions and d.wake_up == MON + timedelta(hours=18)


def test_a_pause_the_status_history_lost_is_read_from_the_loaded_history(teamflow):
    # Floor ticket 146 (Zendesk): pending from before a person moved it to L3 until the
    # customer answered 50 minutes after the move. Zendesk's metric set keeps only the last
    # status change, so the pause was lost and L3's clock ran through it: escalated at
    # 75% of 2 h from the move instead of 50 minutes later. The audits (loaded with the
    # comments whenever a threshold is due) hold every status change.
    moved = MON + timedelta(hours=2)
    reopened = moved + timedelta(minutes=50)
    t = make_ticket(tags=frozenset({"tier_l3"}), team="Support Manager", status="open",
                    organization=org("pro", 20000, 80), comments=(),
                    status_history=(StatusChange(MON, "new"), StatusChange(reopened, "open")),
                    history=(Change(MON + timedelta(hours=1), "sam@support.example", "status", "new", "pending"),
                             Change(moved, "sam@support.example", "team", "Technical Support", "Support Manager"),
                             Change(reopened, None, "status", "pending", "open")),
                    ledger=(TierMove(moved, 1, 3, "human-move", "h1", "sam@support.example", True),))
    d = evaluate(t, teamflow, moved + timedelta(minutes=95))  # 75% of 2 h, plus 5 minutes
    assert not d.has_actions and d.wake_up == reopened + timedelta(minutes=90), (d.wake_up, d.reasons)


def test_tierlifts_own_notes_are_not_what_the_ticket_says(teamflow):
    # Floor SUP-503 / 503 (a billing address question, an account over $50k): once tierlift's
    # note said ticket_id "SUP-503", service-outage's keyword "503" matched it and the
    # ticket went L2 -> L3 -> L4 as an outage. Text criteria read what people wrote.
    note = Comment("tierlift", 'Escalated L1 -> L2\nescalation_note:\n  ticket_id: "SUP-503"', False,
                   MON + timedelta(minutes=1), by_agent=True, automated=True)
    t = make_ticket(id="SUP-503", subject="Billing address", description="Please update the billing address.",
                    tags=frozenset({"tier_l2"}), team="Billing Manager", organization=org("pro", 53412, 80),
                    comments=(note,), history=(),
                    ledger=(TierMove(MON + timedelta(minutes=1), 1, 2, "high-value-account", "h1"),))
    d = evaluate(t, teamflow, MON + timedelta(minutes=2))
    assert not d.has_actions, d.reasons


def test_a_manual_tag_applied_at_a_lower_tier_does_not_move_the_ticket_again(teamflow):
    # Floor SUP-665 / 665 (full size): an L1 agent applied `escalate` without context and
    # tierlift refused it; the ticket then went L1 -> L2 -> L3 by other rules. When an L3
    # agent later wrote an internal note with the context headings, the stale tag moved it
    # L3 -> L4 as a manual escalation nobody at L3 asked for. The tag asked for one tier
    # up from L1: a move the ticket has since made.
    tagged = MON + timedelta(hours=1)
    context = Comment("mia@support.example", "Steps taken:\n- Checked the logs\nCustomer impact:\nExports fail.",
                      False, MON + timedelta(hours=30), by_agent=True)
    t = make_ticket(tags=frozenset({"tier_l3", "escalate", "escalation_incomplete"}), team="Support Manager",
                    organization=org("basic", 1000, 90), comments=(context,),
                    history=(Change(tagged, "bea@support.example", "tags", added=("escalate",)),),
                    ledger=(TierMove(MON + timedelta(hours=24), 1, 2, "unresolved-24h", "u1"),
                            TierMove(MON + timedelta(hours=27), 2, 3, "sla-75pct", "s2")))
    d = evaluate(t, teamflow, MON + timedelta(hours=30, minutes=1))
    assert not (d.has_actions and d.rule == "manual"), (d.rule, d.tier_after, d.reasons)
    # The same tag applied once the ticket is at L3 is a request: L3 -> L4.
    fresh = replace(t, history=(Change(MON + timedelta(hours=29), "mia@support.example", "tags", added=("escalate",)),),
                    version="v2")
    d = evaluate(fresh, teamflow, MON + timedelta(hours=30, minutes=1))
    assert (d.rule, d.tier_after) == ("manual", 4), d.reasons


def test_a_fix_tagged_before_a_persons_move_is_settled_by_it(teamflow):
    # Floor SUP-1382 (Jira, seed 11, full size): at L4 an agent tagged fix_deployed and,
    # 24 s later, another moved the ticket to the Engineering Manager (L3); an hour later,
    # L3's minimum stay over, tierlift moved it to L1 on that tag. A person's move settles
    # what was known before it, the fix included: the person chose L3 after the fix.
    tagged = MON + timedelta(hours=10)
    moved = tagged + timedelta(seconds=24)
    t = make_ticket(tags=frozenset({"tier_l3", "fix_deployed"}), team="Engineering Manager",
                    organization=org("pro", 20000, 80), comments=(agent_reply(MON + timedelta(minutes=30)),),
                    history=(Change(tagged, "vp-agent-1@support.example", "tags", added=("fix_deployed",)),
                             Change(moved, "vp-agent-2@support.example", "team", "VP Customer Success",
                                    "Engineering Manager")),
                    ledger=(TierMove(MON + timedelta(minutes=5), 1, 4, "sla-75pct", "e1"),
                            TierMove(moved, 4, 3, "human-move", "h1", "vp-agent-2@support.example", True)))
    d = evaluate(t, teamflow, moved + timedelta(hours=1, minutes=10))
    assert d.kind != "de-escalate" and d.tier_after == 3, d.reasons
    # A fix tagged after the person's move moves it down once L3's minimum stay is over.
    later = replace(t, history=t.history + (Change(moved + timedelta(minutes=5), "eng@support.example", "tags",
                                                   added=("fix_deployed",)),), version="v2")
    d = evaluate(later, teamflow, moved + timedelta(hours=1, minutes=10))
    assert (d.kind, d.tier_after) == ("de-escalate", 1), d.reasons
