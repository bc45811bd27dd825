"""The oracle's teamflow rules on hand-made records, as the full-size floor showed them wrong.

Each test failed on the oracle of the integration branch at 88a16e0: it read
the seeds inconsistently with its own rules (see each test's comment).
"""

from __future__ import annotations

from datetime import timedelta

from oracle import Judge, Policy
from record import Ev, Record
from test_oracle import MON, TOL, bot_move

TEAMFLOW = Policy.load("teamflow")


def rec(kind="noise", plan="basic", arr=1000, events=()):
    r = Record(1, MON, plan, arr, 80, {"kind": kind, "near": False})
    r.events = [Ev(MON, "customer", "comment", "Cy", public=True, body="help"),
                Ev(MON, "customer", "status", after="new"),
                Ev(MON + timedelta(seconds=2), "rule", "comment", public=True, body="ack"), *events]
    return r


def judge(r, end):
    return Judge(TEAMFLOW, r, TOL, end).run()


def reply(at, who="Eve"):
    return Ev(at, "agent", "comment", who, public=True, body="Update")


def fixed(at, frm, to, esc="d1", by="Eve"):
    """An agent deploys a fix (a public reply and the tag); tierlift de-escalates a minute later."""
    return [reply(at, by), Ev(at, "agent", "tags", by, added=frozenset({"fix_deployed"})),
            *bot_move(at + timedelta(minutes=1), frm, to, esc=esc, frm=3, to=int(to == "Senior Technical Specialist") + 1)]


def outage_at_l3_fixed_at(hours):
    to_l3 = bot_move(MON + timedelta(seconds=40), None, "Engineering Manager", esc="s", to=3)
    return [*to_l3, reply(MON + timedelta(minutes=10)),
            *fixed(MON + timedelta(hours=hours), "Engineering Manager", "Technical Support")]


def test_an_over_50k_account_de_escalates_to_l2_as_its_routing_calls_for():
    # content() requires high-value-account (L2) from creation, as for an enterprise plan:
    # "the tier its own routing calls for" is L2 for both, not L1 for the $50k account.
    to_l3 = bot_move(MON + timedelta(seconds=40), None, "Support Manager", esc="s", to=3)
    events = [*to_l3, *fixed(MON + timedelta(hours=3), "Support Manager", "Senior Technical Specialist")]
    v = judge(rec(plan="pro", arr=60000, events=events), end=MON + timedelta(hours=4))
    assert v.deescalations == 1 and not v.bounced, v.bounced


def test_a_de_escalated_incident_owes_no_update_duty():
    # Seed 000 pitfall 3: once the fix is deployed, follow-up returns to a lower tier; the
    # 15-minute outage updates of seed 003 belong to the incident, and escalating L1 -> L2 for
    # them would climb back by the content that escalated it (issue 13, de-escalation).
    v = judge(rec(kind="outage", events=outage_at_l3_fixed_at(2)), end=MON + timedelta(hours=4))
    assert v.deescalations == 1 and not v.missed, v.missed


def test_24_hours_unresolved_count_from_the_de_escalation():
    # Created Mon 14:00, de-escalated to L1 Mon 22:01: the age before the move is settled,
    # as its text is (else L1's follow-up bounces back to L2 at Tue 14:00).
    events = outage_at_l3_fixed_at(8)
    v = judge(rec(kind="outage", events=events), end=MON + timedelta(hours=30))
    assert v.deescalations == 1 and not v.missed, v.missed
    v = judge(rec(kind="outage", events=events), end=MON + timedelta(hours=33))
    assert len(v.missed) == 1 and "unresolved-24h to L2 due Tue 22:01:00" in v.missed[0]


def test_after_a_de_escalation_only_that_tier_is_spared_the_first_response_clock():
    # The answered customer is not waiting at L1; but a later escalation (the customer's
    # failed attempts) gives L2 a ticket it never answered: L2's clock runs (before: never again).
    events = outage_at_l3_fixed_at(2)
    still = MON + timedelta(hours=3)
    events += [Ev(still, "customer", "comment", "Cy", public=True, body="It is still not working for us, we tried that twice."),
               *bot_move(still + timedelta(seconds=30), "Technical Support", "Senior Technical Specialist", esc="f")]
    sla = still + timedelta(seconds=30, hours=3)  # 75% of L2's 4 h
    events += bot_move(sla + timedelta(seconds=30), "Senior Technical Specialist", "Support Manager", esc="l2", frm=2, to=3)
    v = judge(rec(kind="outage", events=events), end=sla + timedelta(minutes=30))
    assert v.right == 3 and not v.false and not v.bounced, (v.false, v.bounced)


def test_a_customer_answered_before_the_de_escalation_who_writes_again_awaits_no_first_response():
    # Answered when the ticket came down: "any news?" asks for a next reply, which no
    # first-response target measures (as on a ticket that never moved).
    events = outage_at_l3_fixed_at(2)
    wrote = MON + timedelta(hours=3)
    events.append(Ev(wrote, "customer", "comment", "Cy", public=True, body="Any news on this?"))
    v = judge(rec(kind="outage", events=events), end=wrote + timedelta(hours=19))  # basic L1: 75% of 24 h is 18 h
    assert not v.missed and not v.false, v


def test_a_p0_promise_is_an_outage_promise_once_tagged():
    # Seed 000: "P0: Production outage affecting all customers"; seed 003: "Service Outages:
    # 15 minutes". UPDATE_DUTY already read P0 so; CATEGORY_TIME did not.
    def p0(tagged):
        events = [Ev(MON + timedelta(seconds=20), "agent", "tags", "Ana", added=frozenset({"p0"}))] if tagged else []
        events += bot_move(MON + timedelta(seconds=40), None, "Engineering Manager", to=3)
        at = MON + timedelta(seconds=40, minutes=15)
        events.append(Ev(MON + timedelta(seconds=45), "bot", "comment", "tierlift", public=True,
                         body=f"You can expect their next response by {at:%A %d %B %Y, %H:%M} UTC."))
        return judge(rec(kind="p0", events=events), end=MON + timedelta(minutes=20)).promise_wrong

    assert not p0(tagged=True)
    assert len(p0(tagged=False)) == 1  # before triage it was a P1 by its text: L3's 2 hours


def test_a_ticket_the_guard_froze_rightly_owes_nothing_but_severity():
    # Seed 000 "Don't allow ping-pong": after max_moves moves of tierlift's within the window the
    # ticket is frozen and flagged for a person; what falls due later is not tierlift's to do.
    steps = [(None, "Senior Technical Specialist", 1, 2), ("Senior Technical Specialist", "Support Manager", 2, 3),
             ("Support Manager", "Senior Technical Specialist", 3, 2), ("Senior Technical Specialist", "Support Manager", 2, 3)]
    events = []
    for i, (a, b, frm, to) in enumerate(steps):
        events += bot_move(MON + timedelta(minutes=10 * i + 1), a, b, esc=f"m{i}", frm=frm, to=to)
    freeze = Ev(MON + timedelta(hours=2), "bot", "tags", "tierlift", added=frozenset({"escalation_frozen"}))
    v = judge(rec(events=[*events, freeze]), end=MON + timedelta(hours=6))
    assert not v.missed, v.missed
    early = Ev(MON + timedelta(minutes=35), "bot", "tags", "tierlift", added=frozenset({"escalation_frozen"}))
    v = judge(rec(events=[*events[:4], early]), end=MON + timedelta(hours=6))  # 2 moves: not the guard's freeze
    assert len(v.missed) == 1 and "sla to L4" in v.missed[0], v.missed


def test_the_promise_counts_from_the_decision_also_when_the_marker_names_the_agent():
    # Full floor 504, 1193, ...: a manual escalation's marker goes on after at= (" by=Ana");
    # the oracle's pattern wanted "]" right after at= and fell back to the move's time, so a
    # daemon that wrote 2.5 minutes after deciding was "promised 01:09, expected 01:12".
    decided = MON + timedelta(minutes=10)
    moved = decided + timedelta(minutes=2, seconds=30)
    ctx = Ev(MON + timedelta(minutes=9), "agent", "comment", "Ana", body="Steps taken: x\nCustomer impact: y")
    tag = Ev(MON + timedelta(minutes=9), "agent", "tags", "Ana", added=frozenset({"escalate"}))
    note = Ev(moved, "bot", "comment", "tierlift", body=(
        'Escalated\n  escalated_by: "Ana"\n'
        f"[tierlift escalation=abc from=1 to=2 rule=manual at={decided:%Y-%m-%dT%H:%M:%SZ} by=Ana]"))
    move = Ev(moved, "bot", "team", "tierlift", before="Technical Support", after="Senior Technical Specialist")
    at = decided + timedelta(hours=4)  # L2's 4 h from the decision
    promise = Ev(moved + timedelta(seconds=5), "bot", "comment", "tierlift", public=True,
                 body=f"You can expect their next response by {at:%A %d %B %Y, %H:%M} UTC.")
    v = Judge(TEAMFLOW, rec(events=[ctx, tag, note, move, promise]), timedelta(minutes=5), MON + timedelta(hours=1)).run()
    assert v.right == 1 and not v.promise_wrong, v.promise_wrong


def test_a_reply_just_after_the_update_duty_instant_races_a_move_within_tolerance():
    # Full floor SUP-86: duty due 16:04:26, an agent's update at 16:04:35, tierlift's move at
    # 16:04:42 (decided on what it read before the reply). Due, and acted on within poll + 1 s
    # of the instant: right (issue 13), not "false" because a reply landed in between.
    to_l3 = bot_move(MON + timedelta(seconds=40), None, "Engineering Manager", esc="s", to=3)
    due = MON + timedelta(minutes=30, seconds=40)  # two periods from the move into L3 (issue 26)
    late_reply = reply(due + timedelta(seconds=9))
    move = bot_move(due + timedelta(seconds=16), "Engineering Manager", "CTO", esc="u", frm=3, to=4)
    v = judge(rec(kind="outage", events=[*to_l3, late_reply, *move]), end=MON + timedelta(hours=1))
    assert v.right == 2 and not v.false, v.false
    early_reply = reply(due - timedelta(minutes=1))
    v = judge(rec(kind="outage", events=[*to_l3, early_reply, *move]), end=MON + timedelta(hours=1))
    assert len(v.false) == 1  # answered before the instant: nothing was due


def test_an_old_outage_owes_its_updates_from_the_move_into_its_tier():
    # Issue 26, item 5: seen first three days after its creation, moved L1 -> L3 by its text;
    # an L3 -> L4 for missed updates in the same instant is false, 30 minutes later right.
    seen = MON + timedelta(days=3)
    l3 = bot_move(seen, "Technical Support", "Engineering Manager", to=3)
    at_once = bot_move(seen + timedelta(seconds=1), "Engineering Manager", "CEO", esc="def456", frm=3, to=4)
    v = judge(rec(kind="outage", events=[*l3, *at_once]), seen + timedelta(hours=1))
    assert any("L3->L4" in f for f in v.false), v
    later = bot_move(seen + timedelta(minutes=30, seconds=5), "Engineering Manager", "CEO", esc="def456", frm=3, to=4)
    v = judge(rec(kind="outage", events=[*l3, *later]), seen + timedelta(hours=1))
    # (The L1 -> L3 itself is judged late: the record shows the outage three days before.)
    assert not [x for x in v.false + v.late if "L3->L4" in x] and v.right + len(v.late) == 2, v


def test_an_outage_pending_on_the_customer_owes_no_updates_and_its_paused_time_is_no_silence():
    # QA, 2026-12-07: teamflow's outage update duty counted pending and solved time. Pending
    # from 14:10 to 14:40 after L3's reply: the duty resumes at 14:40, so an L3 -> L4 for
    # missed updates at 14:45 is false, at 15:11 (two periods after 14:40) right.
    to_l3 = bot_move(MON + timedelta(seconds=40), None, "Engineering Manager", esc="s", to=3)
    held = [reply(MON + timedelta(minutes=10)), Ev(MON + timedelta(minutes=10), "agent", "status", "Eve", after="pending"),
            Ev(MON + timedelta(minutes=40), "customer", "status", after="open")]
    early = bot_move(MON + timedelta(minutes=45), "Engineering Manager", "CTO", esc="u", frm=3, to=4)
    v = judge(rec(kind="outage", events=[*to_l3, *held, *early]), MON + timedelta(hours=2))
    assert any("L3->L4" in f for f in v.false), v
    right = bot_move(MON + timedelta(minutes=70, seconds=30), "Engineering Manager", "CTO", esc="u", frm=3, to=4)
    v = judge(rec(kind="outage", events=[*to_l3, *held, *right]), MON + timedelta(hours=2))
    assert not [x for x in v.false + v.late if "L3->L4" in x] and not v.missed, v
    never = judge(rec(kind="outage", events=[*to_l3, *held[:2]]), MON + timedelta(hours=2))  # still pending
    assert not never.missed, never.missed


def test_a_deployed_fix_ends_the_outages_updates_before_its_minimum_stay():
    # QA, 2026-12-07: a fix deployed at 14:10 and left open for monitoring climbed L3 -> L4 for
    # missed updates at 14:40, before its one-hour stay let it go down. Nothing is owed after the
    # fix: that move is false, and no move at all misses nothing (the de-escalation is due later).
    to_l3 = bot_move(MON + timedelta(seconds=40), None, "Engineering Manager", esc="s", to=3)
    fix = [reply(MON + timedelta(minutes=10)),
           Ev(MON + timedelta(minutes=10), "agent", "tags", "Eve", added=frozenset({"fix_deployed"}))]
    climb = bot_move(MON + timedelta(minutes=40, seconds=5), "Engineering Manager", "CTO", esc="u", frm=3, to=4)
    v = judge(rec(kind="outage", events=[*to_l3, *fix, *climb]), MON + timedelta(minutes=50))
    assert any("L3->L4" in f for f in v.false), v
    v = judge(rec(kind="outage", events=[*to_l3, *fix]), MON + timedelta(minutes=50))
    assert not v.missed, v.missed


def test_an_update_missed_while_tierlift_was_stopped_and_then_pending_is_owed_at_the_reopening():
    # Floor, zendesk teamflow seed 31 (835, 838) and jira seed 11 (SUP-813): an incident's update
    # fell due while the floor had stopped the daemon, an agent set it pending, and tierlift
    # (which escalates no ticket waiting on its customer) moved it when the customer's answer
    # reopened it: judged late against the instant it fell due. It is owed at the reopening;
    # a person's public update while it waited answers it.
    to_l3 = bot_move(MON + timedelta(seconds=40), None, "Engineering Manager", esc="s", to=3)
    stopped = (MON + timedelta(minutes=15), MON + timedelta(hours=5))
    pending = [reply(MON + timedelta(minutes=10)),
               Ev(MON + timedelta(minutes=50), "agent", "status", "Eve", after="pending")]
    back = MON + timedelta(hours=6)
    reopened = Ev(back, "customer", "status", after="open")
    moved = bot_move(back + timedelta(seconds=30), "Engineering Manager", "CTO", esc="u", frm=3, to=4)

    def judged(events):
        return Judge(TEAMFLOW, rec(kind="outage", events=events), TOL, back + timedelta(minutes=20), down=[stopped]).run()

    v = judged([*to_l3, *pending, reopened, *moved])
    assert not [x for x in v.false + v.late if "L3->L4" in x] and v.right == 2 and not v.missed, v
    # Not moved at all, it is missed; moved while it still waited, it is false.
    assert judged([*to_l3, *pending, reopened]).missed
    while_pending = bot_move(MON + timedelta(hours=5, minutes=1), "Engineering Manager", "CTO", esc="u", frm=3, to=4)
    assert [x for x in judged([*to_l3, *pending, *while_pending]).false if "L3->L4" in x]
    # Answered while it waited: the reopening owes nothing yet.
    answered = [*pending, reply(MON + timedelta(hours=2))]
    assert [x for x in judged([*to_l3, *answered, reopened, *moved]).false if "L3->L4" in x]
