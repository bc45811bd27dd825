"""An incident's update duty counts the time someone owes an update, not paused or fixed time.

QA (a support lead, 2026-12-07, both flavours, from the helpdesk's record): teamflow's 15-minute
outage updates counted time the ticket was pending (waiting for the customer's confirmation)
or solved, and an outage whose fix was deployed (`fix_deployed`, left open for monitoring, as
seed 000 pitfall 3 says) climbed L3 -> L4 with a PagerDuty page 30 minutes after the fix,
before its one-hour minimum stay let it go down: the customer who had just written "Confirmed,
it works again" was told the ticket went to the executives.
"""

from __future__ import annotations

from datetime import timedelta

import pytest

from tierlift.engine.evaluate import evaluate
from tierlift.engine.model import Change, InternalNote, StatusChange, TierMove
from tierlift.service.daemon.policies import load_policy

from enginekit import make_ticket, note, utc

START = utc(2026, 11, 2, 14, 0)
MOVED = START + timedelta(minutes=2)
FIXED = START + timedelta(minutes=10)


@pytest.fixture(scope="module")
def teamflow():
    return load_policy("teamflow")


def outage_at_l3(**kw):
    """An outage tierlift took to L3 at 14:02; L3 answered at 14:10."""
    base = dict(subject="Platform down", description="The platform is down for all our users since this morning.",
                tags=frozenset({"tier_l3"}), team="Engineering Manager",
                ledger=(TierMove(MOVED, 1, 3, "service-outage", "o1"),),
                comments=(note("Fixed: bad deploy rolled back. Please confirm on your side.", FIXED, public=True),),
                history=())
    base.update(kw)
    return make_ticket(**base)


def _moves(d) -> bool:
    return d.tier_after != d.tier_before


def test_an_outage_pending_on_the_customer_owes_no_updates(teamflow):
    t = outage_at_l3(status="pending", status_history=(StatusChange(FIXED, "pending"),),
                     history=(Change(FIXED, "eng@support.example", "status", "open", "pending"),))
    for minutes in (26, 45, 90):
        d = evaluate(t, teamflow, START + timedelta(minutes=minutes))
        assert not d.has_actions, (minutes, d.kind, d.reasons)


@pytest.mark.parametrize("paused", ["pending", "solved"])
def test_paused_time_does_not_count_toward_the_next_update(teamflow, paused):
    back = START + timedelta(minutes=40)  # the customer writes again: open
    t = outage_at_l3(status="open", status_history=(StatusChange(FIXED, paused), StatusChange(back, "open")),
                     history=(Change(FIXED, "eng@support.example", "status", "open", paused),
                              Change(back, "carla@customer.example", "status", paused, "open")))
    early = evaluate(t, teamflow, START + timedelta(minutes=45))
    assert not _moves(early) and not early.has_actions, (early.kind, early.reasons)
    assert early.wake_up == back + timedelta(minutes=15)
    reminded = evaluate(t, teamflow, back + timedelta(minutes=16))
    assert reminded.kind == "reminder", (reminded.kind, reminded.reasons)
    assert not _moves(evaluate(t, teamflow, back + timedelta(minutes=29)))


def test_a_deployed_fix_ends_the_update_duty_and_the_ticket_goes_down_after_its_stay(teamflow):
    t = outage_at_l3(tags=frozenset({"tier_l3", "fix_deployed"}),
                     history=(Change(FIXED, "eng@support.example", "tags", added=("fix_deployed",)),))
    for minutes in (26, 40, 55):
        d = evaluate(t, teamflow, START + timedelta(minutes=minutes))
        assert not d.has_actions, (minutes, d.kind, d.reasons)
        assert not any(isinstance(a, InternalNote) and "Reminder" in a.body for a in d.actions)
    down = evaluate(t, teamflow, MOVED + timedelta(hours=1, minutes=1))
    assert (down.tier_before, down.tier_after, down.rule) == (3, 1, "fix-deployed"), (down.kind, down.reasons)


def test_an_open_outage_nobody_updates_still_climbs(teamflow):
    d = evaluate(outage_at_l3(), teamflow, FIXED + timedelta(minutes=31))
    assert (d.tier_before, d.tier_after) == (3, 4) and d.rule == "update-missed-outage-updates", (d.kind, d.reasons)


def _fixed_before_tierlift_moved(**kw):
    """QA (a support-ops lead, go-live after a dry run, Jira teamflow, SUP-27): the outage was
    reported at 12:00, updated by engineering and fixed at 13:10 (`fix_deployed`, left open for
    monitoring); tierlift went live at 21:10 and its first move took it L1 -> L3 for the outage
    it had never seen. The move answered the words the fix had already answered."""
    reported, fixed, live = utc(2026, 11, 23, 12, 0), utc(2026, 11, 23, 13, 10), utc(2026, 11, 23, 21, 10)
    base = dict(subject="Dashboards down", description="Our dashboards are down for every user, nothing loads.",
                created_at=reported, tags=frozenset({"tier_l3", "fix_deployed"}), team="Engineering Manager",
                ledger=(TierMove(live, 1, 3, "service-outage", "o1"),),
                comments=tuple(note(f"Update: still working on it ({m} min).", reported + timedelta(minutes=m),
                                    public=True) for m in (10, 25, 40, 55))
                + (note("Fixed: a bad load balancer config was rolled back.", fixed, public=True),),
                history=(Change(fixed, "eng@support.example", "tags", added=("fix_deployed",)),))
    base.update(kw)
    return make_ticket(**base), live


def test_a_fix_deployed_before_tierlifts_first_move_ends_the_update_duty(teamflow):
    t, live = _fixed_before_tierlift_moved()
    for minutes in (16, 32, 50):
        d = evaluate(t, teamflow, live + timedelta(minutes=minutes))
        assert not d.has_actions, (minutes, d.kind, d.reasons)
    down = evaluate(t, teamflow, live + timedelta(hours=1, minutes=1))
    assert (down.tier_before, down.tier_after, down.kind) == (3, 1, "de-escalate"), (down.kind, down.reasons)


def test_a_customer_who_writes_it_broke_again_after_the_fix_spends_it(teamflow):
    """What moved the ticket up came after the fix: the tag is spent, the duty runs."""
    t, live = _fixed_before_tierlift_moved()
    again = note("The platform is down again, nothing loads for any of us!", live - timedelta(minutes=5), public=True,
                 by_agent=False)
    t = make_ticket(**{**{s: getattr(t, s) for s in t.__slots__}, "comments": t.comments + (again,)})
    d = evaluate(t, teamflow, live + timedelta(minutes=32))
    assert (d.tier_before, d.tier_after) == (3, 4) and d.rule == "update-missed-outage-updates", (d.kind, d.reasons)


def test_an_agent_who_moves_a_misread_outage_back_ends_its_update_duty(teamflow):
    """QA (F9, a support-ops lead): the model read an export timeout as an outage, and the
    agent's public "This is not an outage" left the 15-minute duty running. Overruling a sure
    reading is a person's move back: it settles the words before it, and the duty ends."""
    back = MOVED + timedelta(minutes=20)
    t = outage_at_l3(tags=frozenset({"tier_l2"}), team="Senior Support",
                     ledger=(TierMove(MOVED, 1, 3, "service-outage", "o1"),
                             TierMove(back, 3, 2, "human", actor="lead@support.example", human=True)))
    for minutes in (16, 31, 60, 120):
        d = evaluate(t, teamflow, back + timedelta(minutes=minutes))
        assert not _moves(d) and not any(isinstance(a, InternalNote) and "Reminder" in a.body for a in d.actions), \
            (minutes, d.kind, d.reasons)
