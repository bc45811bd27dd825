"""The oracle on hand-made records: it flags what is wrong, so it cannot pass vacuously."""

from __future__ import annotations

import ast
from datetime import UTC, datetime, timedelta
from pathlib import Path

from oracle import Judge, Policy
from record import Ev, Record

MON = datetime(2026, 11, 2, 14, 0, tzinfo=UTC)  # Monday 09:00 in New York
TOL = timedelta(seconds=61)
END = MON + timedelta(days=4)
THREE = Policy.load("three-tier")
TEAMFLOW = Policy.load("teamflow")


def rec(kind="noise", near=False, created=MON, plan="basic", arr=1000, events=()):
    r = Record(1, created, plan, arr, 80, {"kind": kind, "near": near})
    r.events = [Ev(created, "customer", "comment", "Cy", public=True, body="help"),
                Ev(created, "customer", "status", after="new"),
                Ev(created + timedelta(seconds=2), "rule", "team", after="support-generalists"), *events]
    return r


def bot_move(at, before, after, esc="abc123", frm=1, to=2, by="tierlift (rule x)"):
    note = f'Escalated\n  escalated_by: "{by}"\n[tierlift escalation={esc} from={frm} to={to} rule=x at={at:%Y-%m-%dT%H:%M:%SZ}]'
    return [Ev(at, "bot", "comment", "tierlift", body=note), Ev(at, "bot", "team", before=before, after=after)]


def judge(r, pol=THREE, end=END):
    return Judge(pol, r, TOL, end).run()


def test_an_sla_escalation_at_75_percent_is_right_and_one_before_it_is_false():
    due = MON + timedelta(hours=3)  # 75% of L1's 4 h, inside business hours
    v = judge(rec(events=bot_move(due + timedelta(seconds=30), "support-generalists", "support-specialists")),
              end=due + timedelta(hours=1))
    assert v.right == 1 and not v.false and not v.late and not v.missed
    v = judge(rec(events=bot_move(due - timedelta(minutes=5), "support-generalists", "support-specialists")))
    assert v.right == 0 and len(v.false) == 1 and "sla not due until" in v.false[0]


def test_an_sla_due_at_the_close_to_the_second_may_be_met_at_the_next_opening():
    """The record's times are whole seconds, tierlift's clocks are not: a tier entered at
    Monday 15:30:00.4 EST owes its 1.5 business hours at the next morning's opening, not at
    the 17:00 close (full floor, seed 5, jira three-tier, SUP-1071). A move at that opening
    is right; a move that long after a due instant in the middle of the day is late."""
    def two_moves(created, first, second):
        return rec(created=created, events=[*bot_move(first, "support-generalists", "support-specialists"),
                                            *bot_move(second, "support-specialists", "engineering-oncall",
                                                      esc="def456", frm=2, to=3)])

    created = MON + timedelta(hours=3, minutes=30)  # 12:30 EST: L1's 3 business hours end 15:30 EST
    entered = created + timedelta(hours=3)  # L2 from 15:30 EST: 1.5 hours end at the 17:00 close
    opening = MON + timedelta(days=1, seconds=1)  # Tuesday 09:00:01 EST
    v = judge(two_moves(created, entered, opening), end=opening + timedelta(hours=1))
    assert not v.late and v.right == 2, v
    entered = MON + timedelta(hours=3)  # L2 from 12:00 EST: due at 13:30 EST
    v = judge(two_moves(MON, entered, entered + timedelta(hours=1, minutes=33)))
    assert v.right == 1 and len(v.late) == 1, v


def test_a_reply_by_a_person_of_the_tier_means_no_sla_escalation_but_tierlifts_own_comment_does_not():
    reply = Ev(MON + timedelta(hours=1), "agent", "comment", "Ana", public=True, body="Looking")
    late_move = bot_move(MON + timedelta(hours=3, seconds=30), "support-generalists", "support-specialists")
    assert len(judge(rec(events=[reply, *late_move])).false) == 1
    own = Ev(MON + timedelta(hours=1), "bot", "comment", "tierlift", public=True, body="escalated")
    auto = Ev(MON + timedelta(hours=1), "rule", "comment", public=True, body="We got it")
    assert judge(rec(events=[own, auto, *late_move])).right == 1


def test_a_missing_escalation_is_missed_and_a_slow_one_is_late():
    v = judge(rec(kind="security"), end=MON + timedelta(hours=1))
    assert len(v.missed) == 1 and "severity to L3" in v.missed[0] and "sla" not in v.missed[0]
    v = judge(rec(kind="security"))
    assert len(v.missed) == 1 and "sla to L2" in v.missed[0]  # one per ticket, every owed rule named
    v = judge(rec(kind="security", events=bot_move(MON + timedelta(minutes=30), "support-generalists",
                                                  "engineering-oncall", to=3)))
    assert len(v.late) == 1 and v.right == 0 and not v.missed
    assert not judge(rec(kind="security", near=True), end=MON + timedelta(hours=1)).missed  # a near miss requires nothing


def test_business_hours_and_pauses_move_the_sla_instant():
    fri = datetime(2026, 11, 6, 21, 0, tzinfo=UTC)  # Friday 16:00 in New York: 1 h left that week
    monday_due = datetime(2026, 11, 9, 16, 0, tzinfo=UTC)  # 2 h more on Monday: 11:00 New York
    v = judge(rec(created=fri, events=bot_move(fri + timedelta(hours=3), "support-generalists", "support-specialists")),
              end=fri + timedelta(days=4))
    assert len(v.false) == 1
    v = judge(rec(created=fri, events=bot_move(monday_due + timedelta(seconds=5), "support-generalists",
                                               "support-specialists")), end=fri + timedelta(days=4))
    assert v.right == 1
    pause = [Ev(MON + timedelta(hours=1), "agent", "status", "Ana", before="open", after="pending"),
             Ev(MON + timedelta(hours=2), "customer", "status", before="pending", after="open")]
    v = judge(rec(events=[*pause, *bot_move(MON + timedelta(hours=3, seconds=30), "support-generalists",
                                            "support-specialists")]))
    assert len(v.false) == 1  # an hour on hold: due at 13:00 New York, not 12:00
    v = judge(rec(events=[*pause, *bot_move(MON + timedelta(hours=4, seconds=30), "support-generalists",
                                            "support-specialists")]))
    assert v.right == 1


def test_reverting_a_human_move_is_a_bounce():
    human = Ev(MON + timedelta(minutes=10), "agent", "team", "Lee", before="support-generalists",
               after="support-specialists")
    v = judge(rec(events=[human, *bot_move(MON + timedelta(minutes=20), "support-specialists", "support-generalists",
                                           frm=2, to=1)]))
    assert len(v.bounced) == 1 and v.human_moves == 1


def test_more_moves_than_the_guard_allows_bounce_but_severity_passes_a_frozen_ticket():
    moves = []
    for i, (a, b) in enumerate([("support-generalists", "support-specialists"), ("support-specialists", "engineering-oncall")]):
        tag = Ev(MON + timedelta(hours=i, minutes=1), "agent", "comment", "Ana", body="Steps taken: x\nCustomer impact: y")
        esc = Ev(MON + timedelta(hours=i, minutes=1), "agent", "tags", "Ana", added=frozenset({"escalate"}))
        moves += [tag, esc, *bot_move(MON + timedelta(hours=i, minutes=2), a, b, esc=f"e{i}", by="Ana")]
    fix = Ev(MON + timedelta(hours=5), "agent", "tags", "Eve", added=frozenset({"fix_deployed"}))
    moves += [fix, *bot_move(MON + timedelta(hours=5, minutes=1), "engineering-oncall", "support-generalists",
                             esc="d1", frm=3, to=1)]
    p1 = Ev(MON + timedelta(hours=6), "agent", "tags", "Ana", added=frozenset({"p1"}))
    v = judge(rec(events=[*moves, p1, *bot_move(MON + timedelta(hours=6, seconds=30), "support-generalists",
                                                "engineering-oncall", esc="s1", to=3)]))
    assert v.right == 3 and v.deescalations == 1 and not v.bounced and not v.false  # 4 moves, the 4th a severity
    v = judge(rec(events=[*moves, *bot_move(MON + timedelta(hours=6), "support-generalists", "support-specialists",
                                            esc="x1")]))
    assert len(v.bounced) == 2  # a 4th move in 24 h, and a climb back after the de-escalation
    assert any("climbs back" in b for b in v.bounced) and len(v.false) == 1


def test_one_note_per_escalation_and_the_manual_escalator_is_named():
    note = bot_move(MON + timedelta(hours=3, seconds=30), "support-generalists", "support-specialists")
    again = Ev(MON + timedelta(hours=3, seconds=40), "bot", "comment", "tierlift", body=note[0].body)
    v = judge(rec(events=[*note, again]))
    assert len(v.duplicated) == 1
    ctx = Ev(MON + timedelta(minutes=5), "agent", "comment", "Ana L1", body="Steps taken: x\nCustomer impact: y")
    tag = Ev(MON + timedelta(minutes=5), "agent", "tags", "Ana L1", added=frozenset({"escalate"}))
    v = judge(rec(events=[ctx, tag, *bot_move(MON + timedelta(minutes=6), "support-generalists", "support-specialists",
                                              by="tierlift (rule manual)")]))
    assert v.right == 1 and len(v.note_wrong) == 1
    v = judge(rec(events=[ctx, tag, *bot_move(MON + timedelta(minutes=6), "support-generalists", "support-specialists",
                                              by="Ana L1")]))
    assert v.right == 1 and not v.note_wrong
    bare = Ev(MON + timedelta(minutes=5), "agent", "comment", "Ana L1", body="needs backend")
    v = judge(rec(events=[bare, tag, *bot_move(MON + timedelta(minutes=6), "support-generalists", "support-specialists")]))
    assert len(v.false) == 1  # no context, no escalation


def test_nothing_is_escalated_once_solved_and_teamflow_rules_follow_the_record():
    solved = Ev(MON + timedelta(minutes=30), "agent", "status", "Ana", before="open", after="solved")
    v = judge(rec(kind="security", events=[solved, *bot_move(MON + timedelta(minutes=31), "support-generalists",
                                                             "engineering-oncall", to=3)]))
    assert len(v.false) == 1 and "while solved" in v.false[0] and not v.missed
    r = rec(kind="noise", plan="enterprise", arr=120000)
    r.events[2] = Ev(MON, "rule", "comment", public=True, body="ack")
    v = judge(r, TEAMFLOW, end=MON + timedelta(hours=1))
    assert len(v.missed) == 1 and "enterprise-customer to L2" in v.missed[0] and "high-value-account" in v.missed[0]
    r.events += bot_move(MON + timedelta(seconds=40), None, "Senior Technical Specialist")
    assert judge(r, TEAMFLOW, end=MON + timedelta(hours=1)).right == 1
    gdpr = rec(kind="gdpr")
    gdpr.events += bot_move(MON + timedelta(seconds=40), "support-generalists", "Support Manager", to=3)
    v = judge(gdpr, TEAMFLOW, end=MON + timedelta(hours=1))
    assert v.right == 1 and len(v.missed) == 1 and "legal-compliance to L4" in v.missed[0]  # right step, but legal and GDPR go to L4


def test_teamflow_update_duty_moves_one_tier_after_two_silent_periods_once():
    def outage(*events):
        r = rec(kind="outage", events=events)
        r.events[2] = Ev(MON, "rule", "comment", public=True, body="ack")
        return r

    to_l3 = bot_move(MON + timedelta(seconds=40), None, "Engineering Manager", esc="s", to=3)
    early = bot_move(MON + timedelta(minutes=20), "Engineering Manager", "CTO", esc="u", frm=3, to=4)
    assert len(judge(outage(*to_l3, *early), TEAMFLOW, end=MON + timedelta(hours=1)).false) == 1
    # Two periods from the move into L3 (issue 26: not from the creation, 40 s before it).
    due = bot_move(MON + timedelta(minutes=30, seconds=50), "Engineering Manager", "CTO", esc="u", frm=3, to=4)
    v = judge(outage(*to_l3, *due), TEAMFLOW, end=MON + timedelta(hours=1))
    assert v.right == 2 and not v.false and not v.missed
    update = Ev(MON + timedelta(minutes=25), "agent", "comment", "Eve", public=True, body="Still on it")
    v = judge(outage(*to_l3, update), TEAMFLOW, end=MON + timedelta(hours=1))
    assert len(v.missed) == 1 and "update-duty to L4 due Mon 14:55:00" in v.missed[0]


def test_teamflow_promises_the_category_time_first():
    def security(promise_minutes):
        r = rec(kind="security", events=bot_move(MON + timedelta(seconds=40), None, "Engineering Manager", to=3))
        r.events[2] = Ev(MON, "rule", "comment", public=True, body="ack")
        at = MON + timedelta(seconds=40, minutes=promise_minutes)
        r.events.append(Ev(MON + timedelta(seconds=45), "bot", "comment", "tierlift", public=True,
                           body=f"You can expect their next response by {at:%A %d %B %Y, %H:%M} UTC."))
        return judge(r, TEAMFLOW, end=MON + timedelta(minutes=20))

    assert not security(15).promise_wrong
    assert len(security(120).promise_wrong) == 1  # the level's 2 h, not the 15 minutes seed 003 gives


def test_teamflow_failed_attempts_and_24_hours_unresolved_move_l1_to_l2():
    still = Ev(MON + timedelta(hours=2), "customer", "comment", "Cy", public=True,
               body="It is still not working for us, we tried that twice.")
    r = rec(events=[still, *bot_move(MON + timedelta(hours=2, seconds=30), "support-generalists", "Senior Technical Specialist")])
    r.events[2] = Ev(MON, "rule", "comment", public=True, body="ack")
    assert judge(r, TEAMFLOW, end=MON + timedelta(hours=3)).right == 1
    r = rec(plan="basic")
    r.events[2] = Ev(MON, "rule", "comment", public=True, body="ack")
    r.events.append(Ev(MON + timedelta(hours=1), "agent", "comment", "Ana", public=True, body="Looking"))
    v = judge(r, TEAMFLOW, end=MON + timedelta(hours=30))
    assert len(v.missed) == 1 and "unresolved-24h to L2 due Tue 14:00:00" in v.missed[0]


def test_a_note_written_just_after_the_move_is_the_moves_note_as_jira_writes_it():
    ctx = Ev(MON + timedelta(minutes=5), "agent", "comment", "Ana L1", body="Steps taken: x\nCustomer impact: y")
    tag = Ev(MON + timedelta(minutes=5), "agent", "tags", "Ana L1", added=frozenset({"escalate"}))
    note, move = bot_move(MON + timedelta(minutes=6), "support-generalists", "support-specialists", by="Ana L1")
    note.at = MON + timedelta(minutes=6, seconds=1)
    v = judge(rec(events=[ctx, tag, move, note]))
    assert v.right == 1 and not v.note_wrong and not v.duplicated
    lonely = Ev(MON + timedelta(hours=2), "bot", "comment", "tierlift", body=note.body.replace("abc123", "ffff99"))
    v = judge(rec(events=[ctx, tag, move, note, lonely]), end=MON + timedelta(hours=2, minutes=30))
    assert len(v.duplicated) == 1 and "no move" in v.duplicated[0]


def deescalated_security():
    """A security ticket tierlift sent to L3, answered there, de-escalated to L1 by fix_deployed at 11:01 NY."""
    up = bot_move(MON + timedelta(minutes=1), "support-generalists", "engineering-oncall", esc="a1", to=3)
    reply = Ev(MON + timedelta(minutes=30), "agent", "comment", "Eng", public=True, body="Fixed, deployed.")
    fix = Ev(MON + timedelta(minutes=30), "agent", "tags", "Eng", added=frozenset({"fix_deployed"}))
    down = bot_move(MON + timedelta(hours=2, minutes=1, seconds=30), "engineering-oncall", "support-generalists",
                    esc="d1", frm=3, to=1)  # just after the 2 h minimum stay
    return [*up, reply, fix, *down]


def test_after_a_de_escalation_a_human_move_starts_the_new_tiers_clock():
    # Issue 13, human moves: a person's move "starts that tier's clock at the moment of the move";
    # the answered customer's exemption belongs to the stint the de-escalation began, not to the next tier.
    moved = MON + timedelta(hours=3)
    human = Ev(moved, "agent", "team", "Lee", before="support-generalists", after="support-specialists")
    due = moved + timedelta(minutes=90)  # 75% of L2's 2 h, inside business hours
    v = judge(rec(kind="security", events=[*deescalated_security(), human]), end=due + timedelta(hours=1))
    assert len(v.missed) == 1 and "sla to L3" in v.missed[0]
    up = bot_move(due + timedelta(seconds=30), "support-specialists", "engineering-oncall", esc="a2", frm=2, to=3)
    v = judge(rec(kind="security", events=[*deescalated_security(), human, *up]), end=due + timedelta(hours=1))
    assert v.right == 2 and not v.false and not v.bounced and not v.missed


def test_after_a_de_escalation_tierlifts_next_escalation_starts_the_new_tiers_clock():
    tue = MON + timedelta(days=1, hours=3)  # the next day: the guard's 24 h window holds two moves
    ctx = Ev(tue, "agent", "comment", "Ana L1", body="Steps taken: x\nCustomer impact: y")
    tag = Ev(tue, "agent", "tags", "Ana L1", added=frozenset({"escalate"}))
    manual = bot_move(tue + timedelta(minutes=1), "support-generalists", "support-specialists", esc="e1", by="Ana L1")
    due = tue + timedelta(hours=1, minutes=31)
    up = bot_move(due + timedelta(seconds=30), "support-specialists", "engineering-oncall", esc="a2", frm=2, to=3)
    v = judge(rec(kind="security", events=[*deescalated_security(), ctx, tag, *manual, *up]), end=due + timedelta(hours=1))
    assert v.right == 3 and not v.false and not v.bounced and not v.late and not v.note_wrong


def test_a_customer_still_waiting_when_the_ticket_comes_down_is_owed_l1s_first_response():
    # "A customer who was already answered is not awaiting a first response": one whose
    # last message is unanswered when the ticket comes down is awaiting one, from the move.
    events = deescalated_security()
    waiting = Ev(MON + timedelta(hours=1), "customer", "comment", "Cy", public=True, body="Still broken for us.")
    events.insert(4, waiting)  # after the fix reply, before the move down
    down_at = MON + timedelta(hours=2, minutes=1, seconds=30)
    v = judge(rec(kind="security", events=events), end=down_at + timedelta(hours=4))
    assert len(v.missed) == 1 and "sla to L2" in v.missed[0]
    # answered: a follow-up after the move down starts no first-response clock
    later = Ev(down_at + timedelta(minutes=5), "customer", "comment", "Cy", public=True, body="Any news?")
    v = judge(rec(kind="security", events=[*deescalated_security(), later]), end=down_at + timedelta(hours=6))
    assert not v.missed


def test_a_move_the_ping_pong_guard_holds_back_is_not_missed_but_only_when_the_guard_had_tripped():
    # Three tierlift moves within a day (L1->L2, L2->L3 by SLA, L3->L1 by fix_deployed), then a p2
    # tag asks for L2: a fourth move, so the guard freezes the ticket for a person instead (issue 13:
    # "no ticket moves more often than the ping-pong guard allows"). The old oracle called it missed.
    three_moves = [*bot_move(MON + timedelta(hours=3, seconds=30), "support-generalists", "support-specialists",
                             esc="b1"),
                   *bot_move(MON + timedelta(hours=4, minutes=31), "support-specialists", "engineering-oncall",
                             esc="b2", frm=2, to=3),
                   Ev(MON + timedelta(hours=4, minutes=40), "agent", "comment", "Eng", public=True, body="On it"),
                   Ev(MON + timedelta(hours=7), "agent", "tags", "Eng", added=frozenset({"fix_deployed"})),
                   *bot_move(MON + timedelta(hours=7, minutes=1), "engineering-oncall", "support-generalists",
                             esc="b3", frm=3, to=1)]
    p2 = Ev(MON + timedelta(hours=7, minutes=10), "agent", "tags", "Ana", added=frozenset({"p2"}))
    frozen = Ev(MON + timedelta(hours=7, minutes=11), "bot", "tags", "tierlift", added=frozenset({"escalation_frozen"}))
    end = MON + timedelta(hours=8)
    v = judge(rec(events=[*three_moves, p2, frozen]), end=end)
    assert (v.right, v.deescalations) == (2, 1) and not v.missed and not v.bounced
    v = judge(rec(events=[*three_moves, p2]), end=end)  # not frozen: the move was owed
    assert len(v.missed) == 1 and "severity-p2 to L2" in v.missed[0]
    # A freeze after one move is not the guard's: the manual escalation it held back is missed.
    ctx = Ev(MON + timedelta(hours=3, minutes=10), "agent", "comment", "Ana", body="Steps taken: x\nCustomer impact: y")
    tag = Ev(MON + timedelta(hours=3, minutes=10), "agent", "tags", "Ana", added=frozenset({"escalate"}))
    early = Ev(MON + timedelta(hours=3, minutes=11), "bot", "tags", "tierlift", added=frozenset({"escalation_frozen"}))
    v = judge(rec(events=[*three_moves[:2], ctx, tag, early]), end=end)
    assert len(v.missed) == 1 and "manual to L3" in v.missed[0]


def test_three_tier_owes_a_move_at_75_percent_of_the_resolution_target_teamflow_does_not():
    # Issue 26, item 3: answered at 30 minutes, never solved: 75% of L1's 24 business hours
    # is Wednesday 11:00 New York; a reply does not stop that clock, a pause does.
    reply = Ev(MON + timedelta(minutes=30), "agent", "comment", "Ana", public=True, body="Looking")
    due = datetime(2026, 11, 4, 16, 0, tzinfo=UTC)
    v = judge(rec(events=[reply]))
    assert len(v.missed) == 1 and "sla-resolution to L2 due Wed 16:00:00" in v.missed[0]
    v = judge(rec(events=[reply, *bot_move(due + timedelta(seconds=20), "support-generalists", "support-specialists")]),
              end=due + timedelta(hours=1))
    assert v.right == 1 and not v.false and not v.missed
    v = judge(rec(events=[reply, *bot_move(due - timedelta(minutes=5), "support-generalists", "support-specialists")]))
    assert len(v.false) == 1
    pause = [Ev(MON + timedelta(hours=1), "agent", "status", "Ana", before="open", after="pending"),
             Ev(MON + timedelta(hours=2), "customer", "status", before="pending", after="open")]
    v = judge(rec(events=[reply, *pause, *bot_move(due + timedelta(seconds=20), "support-generalists",
                                                   "support-specialists")]))
    assert len(v.false) == 1  # an hour pending moves it to 12:00 New York
    solved = Ev(MON + timedelta(hours=5), "agent", "status", "Ana", before="open", after="solved")
    assert not judge(rec(events=[reply, solved])).missed
    tf = rec(events=[reply], plan="basic")
    tf.events[2] = Ev(MON + timedelta(seconds=2), "rule", "team", after="Technical Support")
    assert not [m for m in judge(tf, pol=TEAMFLOW).missed if "sla-resolution" in m]


def test_a_reply_in_the_same_update_as_a_persons_move_is_the_new_tiers_first_response():
    # Issue 26, item 1: Zendesk lists the comment before the group change in one audit.
    moved = MON + timedelta(hours=1)
    take = [Ev(moved, "agent", "comment", "Lee", public=True, body="I have it."),
            Ev(moved, "agent", "team", "Lee", before="support-generalists", after="support-specialists")]
    v = judge(rec(events=take), end=moved + timedelta(hours=2))
    assert not v.missed, v.missed
    late_move = bot_move(moved + timedelta(minutes=95), "support-specialists", "engineering-oncall", frm=2, to=3)
    v = judge(rec(events=[*take, *late_move]), end=moved + timedelta(hours=2))
    assert len(v.false) == 1, v


def test_a_move_due_while_tierlift_was_stopped_is_on_time_right_after_its_restart():
    due = MON + timedelta(hours=3)
    move = bot_move(due + timedelta(hours=1, minutes=1), "support-generalists", "support-specialists")
    assert len(judge(rec(events=move), end=due + timedelta(hours=2)).late) == 1
    down = (due - timedelta(hours=1), due + timedelta(hours=1))
    v = Judge(THREE, rec(events=move), TOL, due + timedelta(hours=2), down=down).run()
    assert v.right == 1 and not v.late


def test_a_refused_manual_escalation_is_owed_once_the_context_is_written():
    # Seed 11 (issue 26): 356 and SUP-312 were judged false -- the tag first, the context later.
    tag = [Ev(MON + timedelta(hours=1), "agent", "comment", "Ana", body="Needs backend access."),
           Ev(MON + timedelta(hours=1), "agent", "tags", "Ana", added=frozenset({"escalate"}))]
    context = Ev(MON + timedelta(hours=2), "agent", "comment", "Ben",
                 body="Steps taken:\n- Reproduced\nCustomer impact: blocked")
    move = bot_move(MON + timedelta(hours=2, seconds=30), "support-generalists", "support-specialists",
                    by="Ana (escalate tag)")
    v = judge(rec(events=[*tag, context, *move]), end=MON + timedelta(hours=2, minutes=30))
    assert v.right == 1 and not v.false and not v.note_wrong, v
    early = bot_move(MON + timedelta(hours=1, minutes=30), "support-generalists", "support-specialists")
    assert len(judge(rec(events=[*tag, *early])).false) == 1  # no context yet: nothing was owed


# --- three-tier's promises: the on-call half hour, and business hours across a holiday weekend ---------------
FRI_EVENING = datetime(2027, 5, 28, 21, 30, tzinfo=UTC)  # Friday 17:30 in New York, before Memorial Day 2027


def promise(at, text):
    return Ev(at + timedelta(seconds=1), "bot", "comment", "tierlift", public=True,
              body=f"Hello,\n\nYou can expect their response by {text}.\n")


def test_a_friday_evening_p0_is_owed_the_on_call_half_hour_not_tuesday():
    moved = FRI_EVENING + timedelta(seconds=20)
    up = bot_move(moved, "support-generalists", "engineering-oncall", to=3)

    def wrong(text):
        r = rec(kind="p0", created=FRI_EVENING, events=[*up, promise(moved, text)])
        return judge(r, end=FRI_EVENING + timedelta(hours=1)).promise_wrong

    assert not wrong("Friday 28 May 2027, 18:00 EDT")
    # the business calendar's hour: Tuesday (Monday is a holiday), as before issue 26 item 4
    assert wrong("Tuesday 01 June 2027, 10:00 EDT")


def test_a_friday_evening_outage_in_words_is_owed_the_on_call_half_hour():
    # QA (three-tier lead): an outage told in words went to L3 on its rule, paged on call,
    # and its customer was promised the business calendar's hour after the weekend.
    moved = FRI_EVENING + timedelta(seconds=20)
    up = bot_move(moved, "support-generalists", "engineering-oncall", to=3)

    def wrong(kind, text):
        r = rec(kind=kind, created=FRI_EVENING, events=[*up, promise(moved, text)])
        return judge(r, end=FRI_EVENING + timedelta(hours=1)).promise_wrong

    for kind in ("outage", "security", "data_loss"):
        assert not wrong(kind, "Friday 28 May 2027, 18:00 EDT"), kind
        assert wrong(kind, "Tuesday 01 June 2027, 10:00 EDT"), kind


def test_an_ordinary_l2_promise_waits_for_business_hours_across_the_holiday_weekend():
    created = FRI_EVENING - timedelta(hours=2)  # Friday 15:30
    tag = Ev(created + timedelta(minutes=5), "agent", "tags", "Ana", added=frozenset({"p2"}))
    moved = created + timedelta(minutes=5, seconds=30)
    up = bot_move(moved, "support-generalists", "support-specialists")

    def wrong(text):
        return judge(rec(kind="p2", created=created, events=[tag, *up, promise(moved, text)]),
                     end=created + timedelta(hours=1)).promise_wrong

    # L2's 2 hours: 1 h 24.5 min on Friday up to 17:00, the rest on Tuesday from 09:00
    assert not wrong("Tuesday 01 June 2027, 09:35 EDT")
    assert wrong("Friday 28 May 2027, 17:35 EDT")
    assert wrong("Monday 31 May 2027, 09:35 EDT")  # Memorial Day is a holiday of the pack's calendar


def test_a_promise_that_ends_at_the_close_may_count_from_the_decisions_minute():
    # Seed 13, ticket 154: decided at Wednesday 15:00:30 New York (Thanksgiving next), L2's two
    # business hours end at 17:00:30, past the close: "Friday 09:00" from the second, and
    # "Wednesday 17:00" from the minute, which the promise is shown to. Both are honest.
    created = datetime(2026, 11, 25, 19, 30, tzinfo=UTC)
    moved = datetime(2026, 11, 25, 20, 0, 30, tzinfo=UTC)
    tag = Ev(created + timedelta(minutes=5), "agent", "tags", "Ana", added=frozenset({"p2"}))
    up = bot_move(moved, "support-generalists", "support-specialists")

    def wrong(text):
        return judge(rec(kind="p2", created=created, events=[tag, *up, promise(moved, text)]),
                     end=created + timedelta(hours=2)).promise_wrong

    assert not wrong("Wednesday 25 November 2026, 17:00 EST")
    assert not wrong("Friday 27 November 2026, 09:00 EST")
    assert wrong("Thursday 26 November 2026, 10:00 EST")  # Thanksgiving is a holiday of the pack


def test_a_stop_that_begins_before_a_jumps_deadline_extends_it():
    # A ticket due during a jump (the clock skipped the night) and the daemon stopped while it
    # worked through what the jump left: due at the landing + 2 tol, then at the restart + 2 tol.
    # L1's SLA is due Monday 17:00 UTC (3 business hours after 09:00 New York), inside the jump.
    jump = (MON + timedelta(hours=2), MON + timedelta(hours=20))
    stop = (jump[1] + TOL, jump[1] + timedelta(hours=1))
    late = bot_move(stop[1] + timedelta(minutes=1), "support-generalists", "support-specialists")
    v = Judge(THREE, rec(events=late), TOL, END, down=[jump, stop]).run()
    assert v.right == 1 and not v.late
    v = Judge(THREE, rec(events=late), TOL, END, down=[jump]).run()
    assert len(v.late) == 1


def test_the_judge_shares_no_code_with_the_judged():
    """Issue 21: the oracle and its business-hours clock import nothing of tierlift's; the floor's
    record reader (record.py) is their one way into the package (the sandbox's store)."""
    tests = Path(__file__).resolve().parents[1]
    for path in (tests / "floor" / "oracle.py", tests / "refhours.py"):
        names = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                names |= {a.name for a in node.names}
            elif isinstance(node, ast.ImportFrom):
                names.add(node.module or "")
        assert not {n for n in names if n.split(".")[0] == "tierlift"}, (path.name, sorted(names))
