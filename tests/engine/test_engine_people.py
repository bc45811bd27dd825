"""The engine on a helpdesk where people work (issue 13, engine side; issue 14 item 2).

One test per engine-side bullet of issue 13; each one failed on the engine of
commit 1bb15e9 (the test names say which bullet). Times: Monday 2026-11-02,
14:00 UTC is 09:00 in New York (three-tier's business hours are 09:00-17:00
there); teamflow runs on the 24x7 calendar.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest

from tierlift.engine import notes
from tierlift.engine.evaluate import apply_decision, evaluate
from tierlift.engine.marker import parse_markers
from tierlift.engine.model import Change, Comment, InternalNote, PublicReply, Reassign, TierMove
from tierlift.service.daemon.policies import load_policy

from enginekit import make_ticket, org, utc

MON = utc(2026, 11, 2, 14, 0)


@pytest.fixture(scope="module")
def three():
    return load_policy("three-tier")


@pytest.fixture(scope="module")
def teamflow():
    return load_policy("teamflow")


def of(d, kind):
    return [a for a in d.actions if isinstance(a, kind)]


def agent_reply(at, body="Looking into it now.", author="sam@support.example"):
    return Comment(author, body, True, at, by_agent=True)


def customer(at, body="Any news?"):
    return Comment("customer@acme.example", body, True, at, by_agent=False)


def at_l2_since(entered, **kw):
    """A three-tier ticket tierlift moved to L2 at `entered` (the state's ledger)."""
    base = dict(tags=frozenset({"tier_l2"}), ledger=(TierMove(entered, 1, 2, "manual", "e1"),),
                team="support-specialists")
    base.update(kw)
    return make_ticket(**base)


# --- 1. what counts as a tier's first response ----------------------------------------


def test_l1_first_reply_does_not_stop_the_l2_clock_without_comments(three):
    # Bullet 1 (Zendesk): L1 replied at 14:30, the ticket moved to L2 at 15:00,
    # an L2 specialist replied at 15:20. Old engine: escalated to L3 at 16:30.
    t = at_l2_since(MON + timedelta(hours=1), first_reply_at=MON + timedelta(minutes=30))
    due = MON + timedelta(hours=2, minutes=30)  # 75% of L2's 2 h after 15:00
    d = evaluate(t, three, due)
    assert d.needs_comments and not d.has_actions
    loaded = replace(t, comments=(agent_reply(MON + timedelta(minutes=30), author="lee@l1.example"),
                                  agent_reply(MON + timedelta(hours=1, minutes=20))), history=())
    d = evaluate(loaded, three, due)
    assert not d.has_actions and not d.needs_comments


def test_an_idle_ticket_before_its_threshold_never_asks_for_comments(three):
    t = at_l2_since(MON + timedelta(hours=1), first_reply_at=MON + timedelta(minutes=30))
    d = evaluate(t, three, MON + timedelta(hours=2))
    assert not d.needs_comments and d.wake_up == MON + timedelta(hours=2, minutes=30)


def test_tierlifts_own_public_comment_is_not_the_tiers_first_response(three):
    # Bullet 2 (Jira): the "your request has been escalated" comment stopped the L2 clock.
    entered = MON + timedelta(hours=1)
    own = Comment("tierlift", "Your request has been escalated.", True, entered, automated=True)
    t = at_l2_since(entered, comments=(own,), history=())
    d = evaluate(t, three, entered + timedelta(minutes=90))
    assert (d.tier_before, d.tier_after) == (2, 3) and d.rule == "sla-75pct"


def test_applied_replies_are_marked_automated(three):
    d = evaluate(make_ticket(tags=frozenset({"p0"}), comments=()), three, MON + timedelta(minutes=5))
    after = apply_decision(make_ticket(tags=frozenset({"p0"}), comments=()), d, MON + timedelta(minutes=5))
    assert after.comments and all(c.automated for c in after.comments)


# --- 2. severity from any tier, also when frozen --------------------------------------------


@pytest.mark.parametrize("text,rule", [
    ("We lost all of our customer records overnight.", "data-loss"),
    ("Production is down for all our users since 9am.", "production-outage"),
    ("We think someone gained unauthorized access to our admin account.", "security-incident"),
    ("Production is badly degraded for all customers right now.", "severity-p1"),
])
def test_three_tier_severity_reaches_l3_from_l1(three, text, rule):
    # Bullet 3: three-tier checked those words only at L2; "data loss" nowhere.
    d = evaluate(make_ticket(description=text), three, MON + timedelta(minutes=1))
    assert (d.tier_after, d.rule) == (3, rule)
    assert of(d, Reassign)[0].team == "engineering-oncall"


def test_p0_moves_a_ticket_frozen_by_the_ping_pong_guard(three):
    # Bullet 4: the freeze was checked before severity overrides.
    t = make_ticket(tags=frozenset({"tier_l2", "escalation_frozen", "p0"}))
    d = evaluate(t, three, MON + timedelta(minutes=5))
    assert (d.tier_before, d.tier_after, d.rule) == (2, 3, "severity-p0")


def test_the_guard_counts_tierlifts_own_moves_only(three):
    now = utc(2026, 11, 2, 20, 0)
    ledger = (TierMove(now - timedelta(hours=5), 1, 2, "manual"),
              TierMove(now - timedelta(hours=4), 2, 1, "human-move", actor="ana", human=True),
              TierMove(now - timedelta(hours=3), 1, 2, "manual"))
    t = make_ticket(tags=frozenset({"tier_l2"}), ledger=ledger, comments=(), history=())
    d = evaluate(t, three, now)
    assert d.kind == "escalate" and d.tier_after == 3


# --- 3. human moves -------------------------------------------------------------------------------


def moved_by_ana(at, frm="support-generalists", to="support-specialists", **kw):
    base = dict(tags=frozenset({"tier_l1"}), team=to, comments=(),
                history=(Change(at, "ana@support.example", "team", frm, to),))
    base.update(kw)
    return make_ticket(**base)


def test_a_person_moving_the_ticket_sets_its_tier_and_clock(three):
    # Bullet 5: the tier was read from the tags only; the move was ignored.
    moved_at = MON + timedelta(hours=1)
    t = moved_by_ana(moved_at)
    assert evaluate(replace(t, comments=None, history=None), three, moved_at).needs_comments
    d = evaluate(t, three, moved_at + timedelta(minutes=5))
    assert d.kind == "human-move" and (d.tier_before, d.tier_after) == (1, 2)
    assert sorted(a.type for a in d.actions) == ["add_tags", "internal_note", "remove_tags"]
    [mark] = parse_markers([of(d, InternalNote)[0].body])
    assert (mark.human, mark.actor, mark.at, mark.to_tier) == (True, "ana@support.example", moved_at, 2)
    after = apply_decision(t, d, moved_at + timedelta(minutes=5))
    assert after.ledger[-1].human and after.ledger[-1].at == moved_at
    quiet = evaluate(after, three, moved_at + timedelta(minutes=10))
    assert not quiet.has_actions and quiet.wake_up == moved_at + timedelta(minutes=90)
    up = evaluate(after, three, moved_at + timedelta(minutes=90))
    assert (up.tier_before, up.tier_after, up.rule) == (2, 3, "sla-75pct")


def test_a_rebuilt_ledger_sees_the_human_move_in_the_note(three):
    moved_at = MON + timedelta(hours=1)
    t = moved_by_ana(moved_at)
    d = evaluate(t, three, moved_at + timedelta(minutes=5))
    after = apply_decision(t, d, moved_at + timedelta(minutes=5))
    lost_state = replace(after, ledger=())  # the note's marker rebuilds it
    assert not evaluate(lost_state, three, moved_at + timedelta(minutes=10)).has_actions


def test_a_human_move_down_is_never_reverted_by_the_rule_that_moved_it_up(three):
    up = MON + timedelta(minutes=5)
    moved_at = MON + timedelta(hours=1)
    t = moved_by_ana(moved_at, frm="engineering-oncall", description="Our account was hacked last night.",
                     tags=frozenset({"tier_l3"}), ledger=(TierMove(up, 1, 3, "security-incident", "s1"),))
    d = evaluate(t, three, moved_at + timedelta(minutes=1))
    assert d.kind == "human-move" and d.tier_after == 2
    after = apply_decision(t, d, moved_at + timedelta(minutes=1))
    later = evaluate(after, three, moved_at + timedelta(minutes=2))
    assert not later.has_actions


def test_a_team_in_no_tier_is_not_a_move(three):
    t = make_ticket(tags=frozenset({"tier_l1"}), team="sales")
    assert evaluate(t, three, MON + timedelta(minutes=5)).kind == "none"


# --- 4. de-escalation -------------------------------------------------------------------------------


def outage_at_l3(teamflow_plan=None, **kw):
    base = dict(subject="API down", description="The API is down for all our users.",
                tags=frozenset({"tier_l3", "fix_deployed"}), team="Engineering Manager",
                ledger=(TierMove(MON + timedelta(minutes=5), 1, 3, "service-outage", "o1"),),
                comments=tuple(agent_reply(MON + timedelta(minutes=m)) for m in range(10, 70, 10)), history=(),
                organization=org(teamflow_plan, 1000, 90) if teamflow_plan else None)
    base.update(kw)
    return make_ticket(**base)


def test_a_de_escalated_outage_does_not_climb_back_by_its_text(teamflow):
    # Bullet 6: it returned to L3 a minute later because its text still matched.
    t = outage_at_l3()
    now = MON + timedelta(hours=1, minutes=10)
    d = evaluate(t, teamflow, now)
    assert (d.kind, d.tier_after) == ("de-escalate", 1)
    after = apply_decision(t, d, now)
    assert not evaluate(after, teamflow, now + timedelta(minutes=1)).has_actions
    assert not evaluate(after, teamflow, now + timedelta(hours=2)).has_actions
    # New facts do: the customer reports the outage again.
    again = replace(after, comments=after.comments + (customer(now + timedelta(hours=3), "The API is down again!"),),
                    version="v9")
    d = evaluate(again, teamflow, now + timedelta(hours=3, minutes=1))
    assert (d.tier_before, d.tier_after, d.rule) == (1, 3, "service-outage")


def test_an_enterprise_ticket_de_escalates_to_l2(teamflow):
    # Bullet 6: it went to L1, then climbed back to L2 by the enterprise rule.
    t = make_ticket(description="I want to speak to a manager about this.", tags=frozenset({"tier_l3", "fix_deployed"}),
                    team="Support Manager", organization=org("enterprise", 30000, 80), comments=(), history=(),
                    ledger=(TierMove(MON + timedelta(minutes=5), 2, 3, "management-request", "m1"),))
    now = MON + timedelta(hours=1, minutes=10)
    d = evaluate(t, teamflow, now)
    assert (d.kind, d.tier_after) == ("de-escalate", 2)
    assert not evaluate(apply_decision(t, d, now), teamflow, now + timedelta(minutes=1)).has_actions


def test_an_answered_customer_gets_no_fresh_first_response_clock(three):
    # Bullet 6: a three-tier ticket started a fresh L1 clock although answered.
    t = at_l2_since(MON + timedelta(minutes=5), tags=frozenset({"tier_l2", "fix_deployed"}),
                    comments=(agent_reply(MON + timedelta(minutes=30)),), history=())
    back = MON + timedelta(hours=2, minutes=5)
    d = evaluate(t, three, back)
    assert (d.kind, d.tier_after) == ("de-escalate", 1)
    after = apply_decision(t, d, back)
    assert not evaluate(after, three, back + timedelta(hours=3, minutes=5)).has_actions
    # A follow-up after the move down asks for a next reply, not a first response: no
    # clock starts (as on a ticket that never moved, where "any news?" starts none).
    wrote = back + timedelta(hours=3, minutes=25)  # Monday 19:30 UTC
    again = replace(after, comments=after.comments + (customer(wrote, "It happens again."),), version="v7")
    # (Its resolution clock runs on: 75% of L1's 24 business hours, from the move down,
    # is Wednesday 13:05 New York.)
    for now in (wrote + timedelta(minutes=1), utc(2026, 11, 3, 14, 31), utc(2026, 11, 4, 18, 4)):
        assert not evaluate(again, three, now).has_actions, now


def test_a_customer_still_waiting_when_the_ticket_comes_down_is_owed_a_first_response(three):
    # The customer wrote after the last reply and before the move down: L1 owes
    # them an answer, measured from the move down.
    t = at_l2_since(MON + timedelta(minutes=5), tags=frozenset({"tier_l2", "fix_deployed"}),
                    comments=(agent_reply(MON + timedelta(minutes=30)), customer(MON + timedelta(hours=1))),
                    history=())
    back = MON + timedelta(hours=2, minutes=5)
    d = evaluate(t, three, back)
    assert (d.kind, d.tier_after) == ("de-escalate", 1)
    after = apply_decision(t, d, back)
    d = evaluate(after, three, back + timedelta(minutes=1))
    assert not d.has_actions and d.wake_up == back + timedelta(hours=3)  # 75% of 4 h, all in business hours
    assert evaluate(after, three, back + timedelta(hours=3, seconds=1)).tier_after == 2


# --- 5. manual escalation names the agent ----------------------------------------------------------


def test_a_manual_escalation_names_the_agent_who_applied_the_tag(three):
    # Bullet 7: the note said escalated_by "tierlift (rule manual)".
    ctx = Comment("ben@support.example", "Steps taken:\n- reinstalled\nCustomer impact: blocked", False,
                  MON + timedelta(minutes=20))
    t = make_ticket(tags=frozenset({"tier_l1", "escalate"}), comments=(ctx,),
                    history=(Change(MON + timedelta(minutes=21), "ben@support.example", "tags", added=("escalate",)),))
    d = evaluate(t, three, MON + timedelta(minutes=25))
    assert d.rule == "manual" and d.actor == "ben@support.example"
    body = of(d, InternalNote)[0].body
    assert 'escalated_by: "ben@support.example"' in body
    assert parse_markers([body])[0].actor == "ben@support.example"
    assert apply_decision(t, d, MON + timedelta(minutes=25)).ledger[-1].actor == "ben@support.example"


def test_a_manual_escalation_without_history_asks_for_it(three):
    t = make_ticket(tags=frozenset({"tier_l1", "escalate"}))
    assert evaluate(t, three, MON + timedelta(minutes=25)).needs_comments


# --- 6. teamflow's category times -------------------------------------------------------------------


@pytest.mark.parametrize("text,plan,minutes", [
    ("We think someone gained unauthorized access to our admin account.", "pro", 15),
    ("The whole platform is down, we cannot work.", "pro", 15),
    ("Our attorney is preparing a lawsuit.", "pro", 30),
    ("Please help with a question about exports.", "enterprise", 60),
])
def test_teamflow_promises_the_category_time(teamflow, text, plan, minutes):
    # Bullet 8: security and outage customers were promised the Level 3 time (2 h).
    now = MON + timedelta(minutes=1)
    d = evaluate(make_ticket(description=text, organization=org(plan, 30000, 80)), teamflow, now)
    cal = teamflow.calendars[teamflow.default_calendar]
    promise = notes.local_time(now + timedelta(minutes=minutes), cal.timezone)
    assert promise in of(d, PublicReply)[0].body


def test_teamflow_security_updates_are_due_every_30_minutes(teamflow):
    names = {u.name: u.every for u in teamflow.updates}
    assert names == {"security-updates": timedelta(minutes=30), "outage-updates": timedelta(minutes=15)}


# --- 7. ordinary phrasings -------------------------------------------------------------------------


def test_a_gdpr_erasure_request_goes_to_the_ceo(teamflow):
    # Bullet 9: "Under GDPR Article 17 ..." stayed at L1.
    t = make_ticket(description="Under GDPR Article 17 I request the erasure of all personal data you hold about me.")
    d = evaluate(t, teamflow, MON + timedelta(minutes=1))
    assert (d.tier_after, d.rule) == (4, "legal-compliance") and of(d, Reassign)[0].team == "CEO"


# --- issue 14 item 2: a lost state costs a read, never a wrong write --------------------------------


def test_a_tiered_ticket_with_no_ledger_is_not_measured_from_creation(three):
    t = make_ticket(tags=frozenset({"tier_l2"}), team="support-specialists")
    now = MON + timedelta(hours=2)  # 2 h after creation: "due" if measured from it
    d = evaluate(t, three, now)
    assert d.needs_comments and not d.has_actions
    marker = "[tierlift escalation=0123456789abcdef from=1 to=2 rule=manual at=2026-11-02T15:30:00Z]"
    loaded = replace(t, comments=(Comment("tierlift", f"Escalated.\n\n{marker}", False, MON + timedelta(hours=1, minutes=30),
                                          automated=True),), history=())
    d = evaluate(loaded, three, now)
    assert not d.has_actions and d.wake_up == MON + timedelta(hours=3)


def test_snapshots_keep_team_history_and_who_moved_it():
    import json

    from tierlift.engine.serialize import ticket_from_dict, ticket_to_dict

    t = moved_by_ana(MON, ledger=(TierMove(MON, 1, 2, "human-move", "h1", "ana@support.example", True),),
                     comments=(Comment("tierlift", "note", False, MON, automated=True),))
    assert ticket_from_dict(json.loads(json.dumps(ticket_to_dict(t)))) == t


def test_once_comments_are_loaded_the_engine_never_asks_again(three, teamflow):
    # The cycle loads comments once and evaluates again: a second "needs
    # comments" would leave the ticket without a decision or a wake-up.
    t = MON + timedelta(hours=1)
    tickets = [
        (three, at_l2_since(t, first_reply_at=MON), t + timedelta(hours=2)),
        (three, make_ticket(tags=frozenset({"tier_l2"}), team="support-specialists"), t + timedelta(hours=2)),
        (three, make_ticket(tags=frozenset({"tier_l1", "escalate"})), t),
        (three, moved_by_ana(t, comments=None, history=None), t + timedelta(minutes=5)),
        (teamflow, outage_at_l3(tags=frozenset({"tier_l3"}), comments=None, history=None), t + timedelta(minutes=10)),
    ]
    for policy, ticket, now in tickets:
        assert evaluate(ticket, policy, now).needs_comments, ticket
        assert not evaluate(replace(ticket, comments=()), policy, now).needs_comments, ticket


def test_a_human_move_wakes_at_the_new_tiers_threshold(three):
    moved_at = MON + timedelta(hours=1)
    d = evaluate(moved_by_ana(moved_at), three, moved_at + timedelta(minutes=5))
    assert d.kind == "human-move" and d.wake_up == moved_at + timedelta(minutes=90)


def test_a_person_moving_an_enterprise_ticket_to_l1_is_not_overruled_by_the_enterprise_rule(teamflow):
    moved_at = MON + timedelta(hours=1)
    t = make_ticket(tags=frozenset({"tier_l2"}), team="Technical Support", organization=org("enterprise", 30000, 80),
                    ledger=(TierMove(MON + timedelta(minutes=1), 1, 2, "enterprise-customer", "e1"),), comments=(),
                    history=(Change(moved_at, "ana@support.example", "team", "Senior Technical Specialist",
                                    "Technical Support"),))
    d = evaluate(t, teamflow, moved_at + timedelta(minutes=1))
    assert d.kind == "human-move" and d.tier_after == 1
    after = apply_decision(t, d, moved_at + timedelta(minutes=1))
    assert not evaluate(after, teamflow, moved_at + timedelta(minutes=2)).has_actions


@pytest.mark.parametrize("text,fires", [
    ("It is still not working for us.", False),  # one follow-up is not "multiple failed attempts"
    ("Still broken after 3 attempts.", True),
    ("We tried this twice already.", True),
    ("This is the third time I'm writing about the broken sync.", True),
    ("I've reported the duplicate invoices three times now and nothing has changed.", True),
    ("Your workaround did not help, the export is still failing after two fixes.", True),
    # the customer's own tries, counts and questions are no resolution attempts (issue 22: the
    # fresh writers' sign-in near misses went to L2 by this rule)
    ("I requested a password reset three times this morning and no email came.", False),
    ("I typed the wrong password too many times and now my account is locked.", False),
    ("How many times does the webhook retry before it gives up?", False),
    ("The PDF fails to generate about 1 in 5 times.", False),
])
def test_teamflow_failed_attempts_needs_several(teamflow, text, fires):
    d = evaluate(make_ticket(description=text, organization=org("basic", 1000, 90)), teamflow, MON + timedelta(minutes=1))
    assert (d.rule == "failed-attempts") is fires


# --- a person's round trip between two reads (issue 26, ticket 341 of the full floor) ---------


def round_trip_ticket(history):
    """Moved L1 -> L2 and de-escalated on Friday 15:57 New York (tierlift's ledger; an L1
    agent replied after); on Monday a person moved it to L2's team at 15:01 UTC and back to
    L1's at 17:46 UTC, both between two of tierlift's reads: the tags never changed."""
    fri = utc(2026, 11, 6, 20, 57)
    created = utc(2026, 11, 5, 14, 0)
    moves = (TierMove(utc(2026, 11, 5, 18, 0), 1, 2, "sla-75pct", "up1"), TierMove(fri, 2, 1, "de-escalation", "down1"))
    trip = (Change(utc(2026, 11, 9, 15, 1), "kim@support.example", "team", "support-generalists", "support-specialists"),
            Change(utc(2026, 11, 9, 17, 46), "kim@support.example", "team", "support-specialists", "support-generalists"))
    reply = agent_reply(fri + timedelta(minutes=20), author="lee@l1.example")
    return make_ticket(tags=frozenset({"tier_l1"}), team="support-generalists", ledger=moves, created_at=created,
                       updated_at=utc(2026, 11, 9, 17, 46), first_reply_at=reply.created_at,
                       **({"comments": (reply,), "history": trip} if history else {}))


def test_a_persons_round_trip_back_into_l1_starts_the_l1_clocks_again(three):
    # From Friday's de-escalation the L1 resolution clock (75% of 24 business hours)
    # reaches its threshold Wednesday 09:57 New York; from Monday's move back, 14:46.
    wed = utc(2026, 11, 11, 15, 0)  # 10:00 New York
    unread = evaluate(round_trip_ticket(history=False), three, wed)
    assert unread.needs_comments and not unread.has_actions, unread.reasons
    read = evaluate(round_trip_ticket(history=True), three, wed)
    assert not read.has_actions and not read.needs_comments, read.reasons
    assert read.wake_up == utc(2026, 11, 11, 19, 46)
    assert evaluate(round_trip_ticket(history=True), three, utc(2026, 11, 11, 19, 47)).tier_after == 2
