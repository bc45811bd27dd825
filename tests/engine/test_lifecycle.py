"""Lifecycles a support team lives every day (issue 26), engine side.

Times: Monday 2026-11-02, 14:00 UTC is 09:00 in New York (three-tier's
business hours are 09:00-17:00 there); teamflow runs on the 24x7 calendar.
Each test failed on the engine before the fix its section names.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from importlib import resources

import pytest

from tierlift.engine.evaluate import Evaluator, apply_decision, evaluate, tier_clocks
from tierlift.engine.model import Change, Comment, StatusChange, TierMove
from tierlift.service.daemon.policies import load_policy

from enginekit import make_ticket, utc

MON = utc(2026, 11, 2, 14, 0)


@pytest.fixture(scope="module")
def three():
    return load_policy("three-tier")


def policy_text(name):
    return resources.files("tierlift.policies").joinpath(f"{name}.yaml").read_text()


@pytest.fixture(scope="module")
def teamflow():
    return load_policy("teamflow")


def reply(at, author="lee@support.example", body="I have it now: checking your logs."):
    return Comment(author, body, True, at, by_agent=True)


# --- 1. a person's move with a reply ---------------------------------------------------------------


def handed(moved_at, frm, to, tags, ledger=(), replied_at=None):
    """A ticket a person moved to team `to` and answered publicly (same update, or later)."""
    comments = (reply(replied_at or moved_at),)
    return make_ticket(tags=frozenset(tags), team=to, comments=comments, ledger=ledger,
                       history=(Change(moved_at, "lee@support.example", "team", frm, to),))


def noticed_late(t, moved_at, noticed):
    """tierlift writes its human-move note at `noticed`; the state's ledger dates the move then
    (the journal's done_at), while the note's marker says when the person moved it."""
    d = evaluate(t, load_policy("three-tier"), noticed)
    assert d.kind == "human-move"
    after = apply_decision(t, d, noticed)
    journaled = replace(after.ledger[-1], at=noticed)
    assert after.ledger[-1].at == moved_at
    return replace(after, ledger=t.ledger + (journaled,), version="v2")


@pytest.mark.parametrize("replied_after", [timedelta(0), timedelta(minutes=1)])
def test_a_reply_with_a_persons_move_up_is_the_new_tiers_first_response(three, replied_after):
    moved_at = MON + timedelta(hours=2)
    t = handed(moved_at, "support-generalists", "support-specialists", {"tier_l1"},
               replied_at=moved_at + replied_after)
    after = noticed_late(t, moved_at, moved_at + timedelta(minutes=5))
    for later in (timedelta(minutes=95), timedelta(hours=5)):  # L2 resolution: 75% of 8 h at 6 h
        d = evaluate(after, three, moved_at + later)
        assert not d.has_actions and d.tier_after == 2, (later, d.reasons)


def test_a_reply_with_a_persons_hand_down_is_the_lower_tiers_first_response(three):
    up = MON + timedelta(minutes=5)
    moved_at = MON + timedelta(hours=2)
    t = handed(moved_at, "engineering-oncall", "support-specialists", {"tier_l3"},
               ledger=(TierMove(up, 1, 3, "security-incident", "s1"),))
    after = noticed_late(t, moved_at, moved_at + timedelta(minutes=5))
    for later in (timedelta(minutes=95), timedelta(hours=5)):
        d = evaluate(after, three, moved_at + later)
        assert not d.has_actions and d.tier_after == 2, (later, d.reasons)


def test_a_hand_down_note_promises_only_what_tierlift_keeps(three):
    """QA (three-tier lead): the note said "tierlift will not move the ticket back", and six
    business hours later L2's resolution clock took the ticket to L3, as seed 000's "SLA at
    75% elapsed without resolution path" asks. The note now says how it can move again."""
    moved_at = MON + timedelta(hours=2)
    t = handed(moved_at, "engineering-oncall", "support-specialists", {"tier_l3"},
               ledger=(TierMove(MON + timedelta(minutes=5), 1, 3, "security-incident", "s1"),))
    d = evaluate(t, three, moved_at + timedelta(minutes=5))
    body = next(a.body for a in d.actions if a.type == "internal_note")
    assert "will not move the ticket back" not in body
    assert "never undoes it" in body and "its L2 clocks reaching their threshold" in body, body
    after = noticed_late(t, moved_at, moved_at + timedelta(minutes=5))
    later = evaluate(after, three, moved_at + timedelta(hours=6))  # 75% of L2's 8 business hours
    assert (later.tier_after, later.rule) == (3, "sla-75pct"), later.reasons


def test_without_a_reply_the_clock_still_runs_from_the_persons_move(three):
    moved_at = MON + timedelta(hours=2)
    t = replace(handed(moved_at, "support-generalists", "support-specialists", {"tier_l1"}), comments=())
    after = noticed_late(t, moved_at, moved_at + timedelta(minutes=5))
    assert evaluate(after, three, moved_at + timedelta(minutes=89)).wake_up == moved_at + timedelta(minutes=90)
    d = evaluate(after, three, moved_at + timedelta(minutes=90))
    assert (d.tier_after, d.rule) == (3, "sla-75pct")


# --- 2. pauses that ended before tierlift looked ---------------------------------------------------


def paused_twice(history_loaded):
    """Created Monday 09:00 New York; on hold 10:30-11:30, pending 12:00-13:00, open since.
    Zendesk's export alone shows only the last status change (the metric set's
    status_updated_at); the audits show both pauses."""
    local = lambda h, m=0: utc(2026, 11, 2, h + 5, m)  # noqa: E731 - New York is UTC-5 in November
    changes = [(local(10, 30), "open", "hold"), (local(11, 30), "hold", "open"), (local(12), "open", "pending"),
               (local(13), "pending", "open")]
    history = tuple(Change(at, "ana@support.example", "status", b, a) for at, b, a in changes)
    return make_ticket(status="open", tags=frozenset({"tier_l1"}), updated_at=local(13),
                       status_history=(StatusChange(MON, "new"), StatusChange(local(13), "open")),
                       history=history if history_loaded else None, comments=() if history_loaded else None), local


def test_a_first_look_after_two_ended_pauses_reads_the_history_before_escalating(three):
    ev = Evaluator(three)  # as the service does: the same ticket version, read again with its history
    t, local = paused_twice(history_loaded=False)
    d = ev.evaluate(t, local(13, 5))
    assert not d.has_actions and d.needs_comments  # one read, for this due threshold
    loaded, _ = paused_twice(history_loaded=True)
    d = ev.evaluate(loaded, local(13, 5))
    # 3 business hours (75% of 4 h) of L1 time: 09:00-10:30, 11:30-12:00, 13:00-14:00.
    assert not d.has_actions and d.wake_up == local(14)
    assert evaluate(loaded, three, local(14)).tier_after == 2


def test_a_ticket_whose_status_never_changed_needs_no_read(three):
    t = make_ticket(status="new", tags=frozenset({"tier_l1"}), status_history=(StatusChange(MON, "new"),))
    d = evaluate(t, three, MON + timedelta(hours=3))
    assert not d.needs_comments and d.tier_after == 2


# --- 3. the resolution target counts ----------------------------------------------------------------


def test_an_answered_ticket_never_resolved_escalates_at_75_percent_of_the_resolution_target(three):
    """Before: answered at 30 minutes, still L1 four business days later, with no wake-up."""
    t = make_ticket(status="open", tags=frozenset({"tier_l1"}), comments=(reply(MON + timedelta(minutes=30)),),
                    history=(), first_reply_at=MON + timedelta(minutes=30))
    # 75% of 24 business hours = 18: Monday 8, Tuesday 8, Wednesday 09:00-11:00 New York.
    due = utc(2026, 11, 4, 16, 0)
    d = evaluate(t, three, MON + timedelta(hours=1))
    assert not d.has_actions and d.wake_up == due
    assert not evaluate(t, three, due - timedelta(seconds=1)).has_actions
    d = evaluate(t, three, due)
    assert (d.tier_after, d.rule) == (2, "sla-75pct")
    note = next(a.body for a in d.actions if a.type == "internal_note")
    assert "L1 resolution clock reached 75% of 24 business hours" in note


def test_pauses_and_the_tier_start_count_on_the_resolution_clock(three):
    entered = MON + timedelta(hours=1)  # L2 since Monday 10:00 New York, answered at once
    t = make_ticket(status="open", tags=frozenset({"tier_l2"}), team="support-specialists",
                    ledger=(TierMove(entered, 1, 2, "manual", "e1"),), comments=(reply(entered),),
                    history=(Change(entered + timedelta(hours=1), "lee", "status", "open", "pending"),
                             Change(entered + timedelta(hours=3), "lee", "status", "pending", "open")),
                    status_history=(StatusChange(MON, "new"), StatusChange(entered + timedelta(hours=3), "open")))
    # 75% of 8 business hours = 6, from 10:00, with 11:00-13:00 paused: 6 = 10-11 + 13-17 + Tue 09-10.
    d = evaluate(t, three, entered + timedelta(hours=4))
    assert d.wake_up == utc(2026, 11, 3, 15, 0)
    assert evaluate(t, three, utc(2026, 11, 3, 15, 0)).tier_after == 3


def test_check_explains_the_clocks_each_pack_runs(three, teamflow):
    how = {text: h for _lv, text, h in three.explanations if text.startswith("SLA at")}
    assert how["SLA at 75% elapsed without resolution path"] == \
        "automatic: the tier's first-response or resolution clock reaches 75% of its target"
    how = {text: h for _lv, text, h in teamflow.explanations if text.startswith("SLA at")}
    assert how["SLA at 75% elapsed without resolution path"] == \
        "automatic: the tier's first-response clock reaches 75% of its target"


# --- 4. on-call hours ---------------------------------------------------------------------------------


FRI_18 = utc(2026, 11, 6, 23, 0)  # Friday 18:00 in New York, after business hours


def test_a_friday_evening_p0_is_promised_the_on_call_half_hour(three):
    """Before: 'You can expect their response by Monday 09 November 2026, 10:00 EST'."""
    t = make_ticket(subject="Everything is down", description="All our users get errors.", tags=frozenset({"p0"}),
                    created_at=FRI_18, updated_at=FRI_18, comments=(), history=())
    d = evaluate(t, three, FRI_18 + timedelta(minutes=1))
    assert (d.tier_after, d.rule) == (3, "severity-p0")
    promise = next(a.body for a in d.actions if a.type == "public_reply")
    assert "Friday 06 November 2026, 18:31 EST" in promise
    # The engineer on call reads the same in the note (QA, on call: its SLA status showed only
    # the clock L1 left, "4 business hours left", at 18:01 on a Friday).
    note = next(a.body for a in d.actions if a.type == "internal_note")
    assert 'L3_first_response_due: "Friday 06 November 2026, 18:31 EST"' in note, note
    l3 = apply_decision(t, d, FRI_18 + timedelta(minutes=1))
    level, _start, clocks = tier_clocks(l3, three, FRI_18 + timedelta(minutes=21))
    fr = next(c for c in clocks if c.metric == "first_response")
    assert level == 3 and fr.target == timedelta(minutes=30) and fr.elapsed == timedelta(minutes=20)


def test_a_friday_evening_outage_in_words_is_promised_the_on_call_half_hour(three):
    """QA (three-tier lead): "Our production API is down for all users" at Friday 19:02 went to
    L3 by the production-outage rule, its page said [P1], and the customer was promised
    'Monday 23 November 2026, 10:00 EST'. An incident read from the words is on call as a
    tagged one is; its L3 clock reads 30 minutes, 24x7."""
    at = FRI_18 + timedelta(hours=1, minutes=2)
    t = make_ticket(subject="API down", description="Our production API is down for all users, every request "
                    "returns 503.", created_at=at, updated_at=at, comments=(), history=())
    d = evaluate(t, three, at + timedelta(minutes=1))
    assert (d.tier_after, d.rule) == (3, "production-outage")
    promise = next(a.body for a in d.actions if a.type == "public_reply")
    assert "Friday 06 November 2026, 19:33 EST" in promise, promise
    # Its on-call message does not call it a P1: nobody gave it a severity (QA, 2026-12-07).
    [page] = [a for a in d.actions if a.type == "notify"]
    assert page.channel == "slack_oncall" and page.subject.startswith("[on call] "), page
    assert "[P1]" not in page.subject and "production-outage" in page.subject
    l3 = apply_decision(t, d, at + timedelta(minutes=1))
    level, _start, clocks = tier_clocks(l3, three, at + timedelta(minutes=21))
    fr = next(c for c in clocks if c.metric == "first_response")
    assert level == 3 and fr.target == timedelta(minutes=30) and fr.elapsed == timedelta(minutes=20)


def test_a_promise_counts_from_the_minute_it_shows_not_the_seconds_past_it(three):
    """Support floor, seed 13, ticket 1394: a request for someone higher up escalated L1 -> L2 at
    Tuesday 15:00:12 New York, L2 owes 2 business hours: promised 'Wednesday 09:00', twelve
    seconds past the 17:00 close, where 'Tuesday 17:00' is the promise the team keeps."""
    at = utc(2026, 12, 1, 20, 0, 12)  # Tuesday 15:00:12 in New York
    t = make_ticket(description="Our go-live is Monday: I want to speak to a manager.", created_at=at,
                    updated_at=at, comments=(), history=())
    d = evaluate(t, three, at)
    assert (d.tier_after, d.rule) == (2, "customer-requests-escalation"), d.reasons
    promise = next(a.body for a in d.actions if a.type == "public_reply")
    assert "Tuesday 01 December 2026, 17:00 EST" in promise, promise


def test_an_incidents_note_says_what_to_do_first_and_quotes_who_is_affected(three):
    """QA (three-tier lead): every note said 'Review the ticket history and contact the customer.'
    and 'customer_impact: not stated' on 'Our production API is down for all users'."""
    t = make_ticket(subject="API down", description="Hi team. Our production API is down for all users, every "
                    "request returns 503. Please help.", comments=(), history=())
    d = evaluate(t, three, MON + timedelta(minutes=1))
    assert d.rule == "production-outage"
    note = next(a.body for a in d.actions if a.type == "internal_note")
    assert 'customer_impact: "in the customer\'s words: Our production API is down for all users' in note, note
    assert "suggested_next_step: \"Engineering on call: confirm the outage" in note, note
    plain = make_ticket(description="The export button does nothing.", tags=frozenset({"escalation_requested"}),
                        comments=(), history=())
    quiet = next(a.body for a in evaluate(plain, three, MON + timedelta(minutes=1)).actions if a.type == "internal_note")
    assert 'customer_impact: "not stated"' in quiet  # nothing in the words says who is affected


def test_a_ticket_without_a_subject_is_named_by_its_first_words(three):
    """QA (hardening): 'Your request "None" has been escalated', or 'Your request ""'."""
    t = make_ticket(subject="", description="Complete outage: the API is down and returns 503 for all of our users "
                    "since this morning.", comments=(), history=())
    d = evaluate(t, three, MON + timedelta(minutes=1))
    reply = next(a.body for a in d.actions if a.type == "public_reply")
    assert 'Your request "Complete outage: the API is down and returns 503 for all of..." has' in reply, reply
    note = next(a.body for a in d.actions if a.type == "internal_note")
    assert 'summary: "Complete outage: the API is down' in note, note


def test_an_l3_ticket_that_is_no_incident_keeps_the_business_calendar(three):
    t = make_ticket(subject="Please change the API", description="We need a code change.", created_at=FRI_18,
                    updated_at=FRI_18, tags=frozenset({"tier_l2", "escalate"}), team="support-specialists",
                    ledger=(TierMove(FRI_18, 1, 2, "manual", "m1"),), history=(),
                    comments=(Comment("lee", "Steps taken:\n- tried\nCustomer impact: blocked", False, FRI_18),))
    d = evaluate(t, three, FRI_18 + timedelta(minutes=1))
    assert (d.tier_after, d.rule) == (3, "manual")
    promise = next(a.body for a in d.actions if a.type == "public_reply")
    assert "Monday 09 November 2026, 10:00 EST" in promise


def test_no_refusal_when_a_criterion_moves_the_ticket_in_the_same_evaluation(three):
    """QA (dry run to live): 'tierlift did not escalate: a manual escalation needs context'
    and, two seconds later, 'Escalated L1 -> L2' by a criterion of the same tier."""
    at = MON + timedelta(hours=1)
    t = make_ticket(tags=frozenset({"tier_l1", "escalate"}), description="I want to speak to a manager about this.",
                    history=(Change(at, "ana@support.example", "tags", added=("escalate",)),), comments=())
    d = evaluate(t, three, at + timedelta(minutes=1))
    assert (d.kind, d.tier_after, d.rule) == ("escalate", 2, "customer-requests-escalation"), d.reasons
    assert not any("needs context" in a.body for a in d.actions if a.type == "internal_note")
    assert any("escalate" in a.tags for a in d.actions if a.type == "remove_tags")  # the request answered


def test_an_escalate_tag_from_before_the_ticket_was_solved_is_spent_on_its_reopen(three):
    """Support floor, seed 13, ticket 777: `escalate` with its context at Monday 15:23, pending at
    15:30, solved at 16:53; the customer's "here are the details you asked for" reopened it at
    Tuesday 00:07, and the old tag escalated it L1 -> L2 a minute later."""
    tagged, solved, reopened = MON + timedelta(hours=6), MON + timedelta(hours=8), MON + timedelta(hours=15)
    context = Comment("ana", "Steps taken:\n- Reproduced\nCustomer impact: blocked", False, tagged, by_agent=True)
    t = make_ticket(tags=frozenset({"tier_l1", "escalate"}), status="open", updated_at=reopened, comments=(context,),
                    history=(Change(tagged, "ana@support.example", "tags", added=("escalate",)),),
                    status_history=(StatusChange(MON, "new"), StatusChange(tagged + timedelta(minutes=7), "pending"),
                                    StatusChange(solved, "solved"), StatusChange(reopened, "open")))
    d = evaluate(t, three, reopened + timedelta(minutes=1))
    assert (d.kind, d.tier_after) == ("refused", 1), d.reasons
    assert any("escalate" in a.tags for a in d.actions if a.type == "remove_tags")
    body = next(a.body for a in d.actions if a.type == "internal_note")
    assert "before the ticket was solved" in body, body
    # The same tag added after the reopen is a new request: it escalates.
    again = replace(t, history=(Change(reopened + timedelta(minutes=5), "ana@support.example", "tags", added=("escalate",)),),
                    comments=(replace(context, created_at=reopened + timedelta(minutes=5)),))
    assert evaluate(again, three, reopened + timedelta(minutes=6)).tier_after == 2


def test_an_escalate_tag_at_the_top_tier_is_answered_once_and_removed(three):
    """QA (three-tier lead): an L3 agent added `escalate` with a full context note; nothing was
    written, nothing logged, and the tag stayed on the ticket for good."""
    at = MON + timedelta(hours=1)
    t = make_ticket(tags=frozenset({"tier_l3", "escalate"}), team="engineering-oncall",
                    ledger=(TierMove(MON, 1, 3, "production-outage", "e1"),), history=(),
                    comments=(Comment("eve", "Steps taken:\n- restarted\nCustomer impact: all users", False, at),))
    d = evaluate(t, three, at + timedelta(minutes=1))
    assert (d.kind, d.tier_after) == ("refused", 3)
    assert [a.tags for a in d.actions if a.type == "remove_tags"] == [("escalate",)]
    body = next(a.body for a in d.actions if a.type == "internal_note")
    assert "the top tier" in body and "'escalate'" in body, body
    after = apply_decision(t, d, at + timedelta(minutes=1))
    assert "escalate" not in after.tags
    again = evaluate(after, three, at + timedelta(minutes=2))
    assert again.kind != "refused" and not any(a.type == "internal_note" for a in again.actions)


def test_a_pack_rejects_an_on_call_entry_it_cannot_keep():
    from tierlift.engine.policy import load_policy_text
    from tierlift.engine.yamlsrc import InvalidFile

    text = policy_text("two-tier") + ("  on_call:\n    - {level: 7, severity: [P9], rules: [nope], calendar: moon,"
                                      " first_response: soon}\n")
    with pytest.raises(InvalidFile) as err:
        load_policy_text(text, "x.yaml")
    msg = str(err.value)
    for part in ("on_call[0].level", "on_call[0].severity", "on_call[0].calendar", "on_call[0].first_response",
                 "on_call[0].rules[0]: unknown rule 'nope'"):
        assert part in msg, msg


# --- 5. teamflow on a backlog ---------------------------------------------------------------------------


def old_outage(**kw):
    base = dict(subject="API down", description="The API is down for all our users.", comments=(), history=(),
                created_at=MON - timedelta(days=3), updated_at=MON - timedelta(days=3))
    base.update(kw)
    return make_ticket(**base)


def test_an_old_outage_seen_first_on_a_backlog_moves_once_then_owes_updates_from_the_move(teamflow):
    """Before: L1 -> L3 by the outage rule, then L3 -> L4 in the same cycle: the update duty
    counted from the creation three days earlier."""
    d = evaluate(old_outage(), teamflow, MON)
    assert (d.tier_after, d.rule) == (3, "service-outage")
    assert d.wake_up > MON  # nothing more is due in this cycle
    l3 = apply_decision(old_outage(), d, MON)
    quiet = evaluate(l3, teamflow, MON + timedelta(minutes=1))
    assert not quiet.has_actions and quiet.wake_up == MON + timedelta(minutes=15)
    reminder = evaluate(l3, teamflow, MON + timedelta(minutes=15))
    assert reminder.kind == "reminder"
    up = evaluate(apply_decision(l3, reminder, MON + timedelta(minutes=15)), teamflow, MON + timedelta(minutes=30))
    assert (up.tier_before, up.tier_after, up.rule) == (3, 4, "update-missed-outage-updates")


def test_an_incident_owes_its_updates_until_settled_though_later_words_read_calmer(teamflow):
    """Found by the full floor (Jira, teamflow, seed 7: SUP-271, L3 -> L4 half an hour late): a
    data incident went L1 -> L3 by its rule, the customer's follow-ups lowered the whole ticket's
    reading, the duty's condition no longer held, and its second missed update moved nothing."""
    moved = MON - timedelta(minutes=61)
    calm = dict(subject="Saved reports", description="A question about the saved reports page.",
                tags=frozenset({"tier_l3"}), team="Engineering Manager", created_at=moved, updated_at=moved,
                comments=(Comment("carla@customer.example", "Here are the details you asked for.", True,
                                  MON - timedelta(minutes=20), by_agent=False),), history=())
    incident = make_ticket(**calm, ledger=(TierMove(moved, 1, 3, "security-incident", "e1"),))
    d = evaluate(incident, teamflow, MON)
    assert (d.tier_before, d.tier_after, d.rule) == (3, 4, "update-missed-security-updates")
    # Moved there by something else (a person's escalate tag), the calm words owe no incident's updates.
    manual = make_ticket(**calm, ledger=(TierMove(moved, 1, 3, "manual", "m1"),))
    assert evaluate(manual, teamflow, MON).tier_after == 3


def test_the_top_tiers_reminder_does_not_threaten_an_escalation(teamflow):
    l4 = old_outage(tags=frozenset({"tier_l4"}), team="CTO",
                    ledger=(TierMove(MON - timedelta(hours=1), 3, 4, "update-missed-outage-updates", "u1"),))
    d = evaluate(l4, teamflow, MON - timedelta(minutes=44))
    assert d.kind == "reminder"
    body = next(a.body for a in d.actions if a.type == "internal_note")
    assert "A further miss escalates it" not in body


# --- 6. whose reply counts --------------------------------------------------------------------------------


def tier_team_pack(name="three-tier"):
    from tierlift.engine.policy import load_policy_text

    return load_policy_text(policy_text(name) + "  first_response_by: tier_team\n", f"{name}-tier-team.yaml")


def at_l2_answered_by(team, entered=MON + timedelta(hours=1)):
    """At L2 since `entered` (tierlift moved it), answered a minute later by an agent of `team`."""
    c = Comment("ana", "I passed this to our specialists.", True, entered + timedelta(minutes=1), team=team)
    return make_ticket(tags=frozenset({"tier_l2"}), team="support-specialists", comments=(c,), history=(),
                       ledger=(TierMove(entered, 1, 2, "manual", "e1"),)), entered


def test_any_agents_public_reply_meets_the_tiers_first_response_by_default(three):
    t, entered = at_l2_answered_by("support-generalists")
    assert not evaluate(t, three, entered + timedelta(minutes=95)).has_actions


def test_a_pack_can_count_only_the_tier_teams_own_reply():
    pack = tier_team_pack()
    t, entered = at_l2_answered_by("support-generalists")  # L1's agent: not L2's response
    d = evaluate(t, pack, entered + timedelta(minutes=90))
    assert (d.tier_after, d.rule) == (3, "sla-75pct")
    for team in ("support-specialists", None):  # L2's own, or a reply whose team the helpdesk does not say
        t, entered = at_l2_answered_by(team)
        assert not evaluate(t, pack, entered + timedelta(minutes=95)).has_actions, team


def test_a_tier_team_pack_does_not_trust_the_ticket_wide_first_reply():
    pack = tier_team_pack()
    t = make_ticket(tags=frozenset({"tier_l1"}), first_reply_at=MON + timedelta(minutes=5))
    assert evaluate(t, pack, MON + timedelta(hours=3)).needs_comments


def test_first_response_by_takes_one_of_two_values():
    from tierlift.engine.policy import load_policy_text
    from tierlift.engine.yamlsrc import InvalidFile

    with pytest.raises(InvalidFile, match="first_response_by: expected any_agent or tier_team"):
        load_policy_text(policy_text("two-tier") + "  first_response_by: everyone\n", "x.yaml")


def test_time_spent_solved_is_not_resolution_time(three):
    """Seed 11 ticket 137: solved Monday evening, reopened Wednesday 13:33 New York, moved to L2
    at once because the days it sat solved counted on L1's resolution clock."""
    solved, reopened = utc(2026, 11, 2, 21, 0), utc(2026, 11, 4, 18, 33)  # Mon 16:00, Wed 13:33 New York
    t = make_ticket(status="open", tags=frozenset({"tier_l1"}), comments=(reply(MON + timedelta(minutes=30)),),
                    history=(Change(solved, "ana", "status", "open", "solved"),
                             Change(reopened, "carla", "status", "solved", "open")))
    # 18 business hours of L1 time: Monday 09:00-16:00 (7), then from Wednesday 13:33: 3:27 that
    # day, 7:33 on Thursday, at 16:33 New York.
    d = evaluate(t, three, reopened + timedelta(minutes=1))
    assert not d.has_actions and d.wake_up == utc(2026, 11, 5, 21, 33)


# --- an incident confirmed on a ticket already at its tier --------------------------------------------


def test_an_incident_confirmed_at_its_tier_goes_to_its_team_once(teamflow):
    """QA (triage lead, 4 of 4): a customer asking for 'someone above you' went L1 -> L3 to the
    Support Manager; the triage lead then confirmed the security review, and nothing happened:
    'security-incident: already at L3 (the receiving tier owns the ticket)'."""
    at = MON + timedelta(hours=1)
    t = make_ticket(description="I think someone may have used my login yesterday. I'd like someone above you "
                    "to look at this.", tags=frozenset({"tier_l3", "triage_confirm_security"}), team="Support Manager",
                    ledger=(TierMove(MON, 1, 3, "management-request", "m1"),), comments=(),
                    history=(Change(at, "tess@support.example", "tags", added=("triage_confirm_security",)),))
    d = evaluate(t, teamflow, at + timedelta(minutes=1))
    assert (d.kind, d.tier_before, d.tier_after) == ("reroute", 3, 3), d.reasons
    assert [a.team for a in d.actions if a.type == "reassign"] == ["Engineering Manager"]
    assert {a.channel for a in d.actions if a.type == "notify"} >= {"security-alerts"}
    note = next(a.body for a in d.actions if a.type == "internal_note")
    assert "from team Support Manager to Engineering Manager" in note and "confirmed by tess" in note, note
    after = replace(apply_decision(t, d, at + timedelta(minutes=1)), version="v2")
    assert evaluate(after, teamflow, at + timedelta(minutes=2)).kind != "reroute"
    # A person who hands it back to the Support Manager decides: tierlift does not fight them.
    back = replace(after, team="Support Manager", version="v3")
    assert evaluate(back, teamflow, at + timedelta(minutes=3)).kind != "reroute"


def test_a_post_escalation_review_taken_off_by_a_person_is_done(three):
    """QA (reports): the L3 engineer wrote 'Review done' and took escalation_review_due off; the
    next cycle wrote 'Post-escalation review due ...' again and put the tag back."""
    solved = MON + timedelta(hours=3)
    t = make_ticket(status="solved", tags=frozenset({"tier_l3"}), team="engineering-oncall", solved_at=solved,
                    ledger=(TierMove(MON, 1, 3, "production-outage", "o1"),), comments=(), history=())
    d = evaluate(t, three, solved + timedelta(minutes=5))
    assert d.kind == "review" and any(a.type == "flag" for a in d.actions), d.reasons
    flagged = apply_decision(t, d, solved + timedelta(minutes=5))
    done = replace(flagged, tags=flagged.tags - {"escalation_review_due"}, version="v9")
    again = evaluate(done, three, solved + timedelta(days=1))
    assert again.kind != "review" and not again.has_actions, again.reasons
    # Without the notes read, tierlift asks for them before it flags anything.
    assert evaluate(replace(done, comments=None), three, solved + timedelta(days=1)).needs_comments


def test_teamflow_escalates_a_request_in_so_many_words_to_speak_to_a_manager():
    """QA (a support lead, 2026-12-07): "I would like to speak to a manager about the export
    feature, it is confusing." only asked a person (the model read a feature question and
    the pack's gate silenced its own pattern); three-tier escalated it. Seed 003: "Requests to
    speak with management"."""
    from tierlift.triage.model import CachedClassifier, load_shipped

    teamflow = load_policy("teamflow")
    t = make_ticket(subject="Request 0", description="I would like to speak to a manager about the export feature,"
                    " it is confusing.", comments=(), history=())
    d = Evaluator(teamflow, classifier=CachedClassifier(load_shipped())).evaluate(t, MON + timedelta(minutes=2))
    assert (d.tier_after, d.rule) == (3, "management-request"), (d.kind, d.reasons)
