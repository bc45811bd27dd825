"""A P0 confirmed on an incident already at L3 pages as the P0 override says, once.

QA (on call): the outage rule had taken the ticket to L3 with a Slack message; the L3
engineer tagged p0; tierlift did nothing ("already at L3"): no PagerDuty page, priority left
at normal, though three-tier's P0 override pages PagerDuty and sets the priority to urgent.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest

from tierlift.engine.evaluate import apply_decision, evaluate
from tierlift.engine.marker import escalation_id, format_marker
from tierlift.engine.model import Change, Comment, InternalNote, Notify, SetPriority
from tierlift.service.daemon.policies import load_policy

from enginekit import make_ticket, utc

MON = utc(2026, 11, 2, 14, 0)  # Monday 09:00 New York


@pytest.fixture(scope="module")
def three():
    return load_policy("three-tier")


def at_l3_by(rule: str, tags: set[str], extra: tuple[Comment, ...] = ()):
    moved = MON + timedelta(minutes=3)
    esc = escalation_id("101", "v0", 1, 3, rule)
    note = Comment("bot@example.com", f"Escalated L1 -> L3.\n\n{format_marker(esc, 1, 3, rule, moved)}", False, moved,
                   by_agent=True)
    return make_ticket(description="Our production API is down for all users.", tags=frozenset({"tier_l3", *tags}),
                       team="engineering-oncall", comments=(note, *extra), history=(), ledger_known=True,
                       updated_at=MON + timedelta(minutes=20), version="v2")


def test_a_p0_tagged_at_l3_after_the_outage_rule_moved_it_pages_and_sets_urgent_once(three):
    d = evaluate(at_l3_by("production-outage", {"p0"}), three, MON + timedelta(minutes=21))
    assert d.kind == "severity" and d.tier_after == 3, (d.kind, d.reasons)
    assert SetPriority("urgent") in d.actions
    assert [a.channel for a in d.actions if isinstance(a, Notify)] == ["pagerduty"]
    [note] = [a.body for a in d.actions if isinstance(a, InternalNote)]
    assert "P0 on ticket 101, already at L3" in note and "paged pagerduty" in note

    # Its note landed: not again.
    again = at_l3_by("production-outage", {"p0"}, (Comment("bot@example.com", note, False, MON + timedelta(minutes=22),
                                                           by_agent=True),))
    d2 = evaluate(again, three, MON + timedelta(minutes=30))
    assert not any(isinstance(a, Notify) for a in d2.actions), (d2.kind, d2.actions)


def test_the_p0_that_moved_the_ticket_pages_no_second_time(three):
    d = evaluate(at_l3_by("severity-p0", {"p0"}), three, MON + timedelta(minutes=21))
    assert not any(isinstance(a, Notify) for a in d.actions), (d.kind, d.actions)


def test_no_severity_no_page(three):
    d = evaluate(at_l3_by("production-outage", set()), three, MON + timedelta(minutes=21))
    assert d.kind != "severity" and not any(isinstance(a, Notify) for a in d.actions), (d.kind, d.actions)


def _p0_handed_to_l3(tagged_at, moved_at):
    """An L1 agent sends a P0 to engineering on call and tags it p0 (QA, a support lead,
    2026-12-07: in one update, or the tag a minute first, Zendesk paged nobody)."""
    history = tuple(sorted((Change(moved_at, "ana@support.example", "team", "support-generalists", "engineering-oncall"),
                            Change(tagged_at, "ana@support.example", "tags", added=("p0",))), key=lambda c: c.at))
    return make_ticket(description="Checkout fails for every customer of ours.", tags=frozenset({"tier_l1", "p0"}),
                       team="engineering-oncall", comments=(), history=history, updated_at=max(tagged_at, moved_at))


def _once_the_move_is_recorded(t, policy, moved_at):
    """The decision on a ticket a person moved at `moved_at`, once its human move is recorded
    (its note landed) where the first look records it; and the ticket it is decided on."""
    d = evaluate(t, policy, moved_at + timedelta(minutes=3))
    after = apply_decision(t, d, moved_at + timedelta(minutes=3))
    if d.kind == "human-move":  # recorded first; the P0's page follows on the next look
        assert d.tier_after == 3, d.reasons
        landed = tuple(Comment("bot@example.com", a.body, False, moved_at + timedelta(minutes=3), by_agent=True)
                       for a in d.actions if isinstance(a, InternalNote))
        after = replace(after, comments=(*after.comments, *landed))
        d = evaluate(after, policy, moved_at + timedelta(minutes=4))
    return d, after


@pytest.mark.parametrize("tag_before", [timedelta(0), timedelta(minutes=1)], ids=["same-update", "tag-first"])
def test_a_p0_a_person_hands_to_l3_with_its_tag_pages_once_the_move_is_recorded(three, tag_before):
    moved_at = MON + timedelta(minutes=2)
    d, _ = _once_the_move_is_recorded(_p0_handed_to_l3(moved_at - tag_before, moved_at), three, moved_at)
    assert d.kind == "severity", (d.kind, d.reasons)
    assert [a.channel for a in d.actions if isinstance(a, Notify)] == ["pagerduty"]
    assert SetPriority("urgent") in d.actions


def test_a_p0_back_at_l3_after_a_fix_took_it_down_pages_again_once(three):
    """QA (on call): a P0 at L3 paged, was fixed and went back to L1; a day later the customer
    wrote "It's happening again!!" and the outage rule took it to L3 with a Slack message.
    Its p0 tag still on, PagerDuty was never told of the recurrence: the page of the first
    occurrence counted, and the tag, older than the move down, counted as settled."""
    first = at_l3_by("production-outage", {"p0"})
    first = replace(first, history=(Change(MON + timedelta(minutes=15), "eng@support.example", "tags", added=("p0",)),))
    paged = evaluate(first, three, MON + timedelta(minutes=21))
    assert [a.channel for a in paged.actions if isinstance(a, Notify)] == ["pagerduty"]
    [note] = [a.body for a in paged.actions if isinstance(a, InternalNote)]
    down_at, up_at = MON + timedelta(hours=3), MON + timedelta(days=1)
    down = format_marker(escalation_id("101", "v3", 3, 1, "fix-deployed"), 3, 1, "fix-deployed", down_at)
    up = format_marker(escalation_id("101", "v4", 1, 3, "production-outage"), 1, 3, "production-outage", up_at)
    notes = (*first.comments, Comment("bot@example.com", note, False, MON + timedelta(minutes=22), by_agent=True),
             Comment("bot@example.com", f"De-escalated L3 -> L1.\n\n{down}", False, down_at, by_agent=True),
             Comment("bot@example.com", f"Escalated L1 -> L3.\n\n{up}", False, up_at, by_agent=True))
    back = replace(first, comments=notes, updated_at=up_at, version="v5")
    d = evaluate(back, three, up_at + timedelta(minutes=1))
    assert d.kind == "severity", (d.kind, d.reasons)
    assert [a.channel for a in d.actions if isinstance(a, Notify)] == ["pagerduty"]
    [again] = [a.body for a in d.actions if isinstance(a, InternalNote)]
    landed = replace(back, comments=(*notes, Comment("bot@example.com", again, False, up_at + timedelta(minutes=2),
                                                     by_agent=True)))
    d2 = evaluate(landed, three, up_at + timedelta(minutes=5))
    assert not any(isinstance(a, Notify) for a in d2.actions), (d2.kind, d2.actions)


def test_the_page_of_a_p0_at_l3_quotes_the_tickets_summary_and_impact(three):
    """QA (on call): every P0 event reached PagerDuty with an empty summary: the severity's note
    said only that it paged, and the page quotes the note's summary."""
    from types import SimpleNamespace

    from tierlift.service.ops.notify import escalation_of

    d = evaluate(at_l3_by("production-outage", {"p0"}), three, MON + timedelta(minutes=21))
    assert d.kind == "severity"
    about = escalation_of(SimpleNamespace(name="zd", kind="zendesk", url="https://acme.zendesk.com"), d.to_dict())
    assert about.summary == "Cannot export report"  # the ticket's subject (enginekit's)
    [note] = [a.body for a in d.actions if isinstance(a, InternalNote)]
    assert 'customer_impact: "in the customer\'s words: Our production API is down for all users."' in note


@pytest.mark.parametrize("tag_before", [timedelta(0), timedelta(minutes=1)], ids=["same-update", "tag-first"])
def test_teamflow_a_p0_a_person_hands_to_the_engineering_manager_pages_once(tag_before):
    """QA (on call): on teamflow the P0 is the `service-outage` rule ({severity: P0}), not a
    severity override: an agent who tagged p0 and gave the ticket to the Engineering Manager
    (in one update or the tag first) paged nobody, on either flavour; three-tier paged."""
    teamflow = load_policy("teamflow")
    moved_at = MON + timedelta(minutes=2)
    history = tuple(sorted((Change(moved_at, "ana@support.example", "team", "Support Agent", "Engineering Manager"),
                            Change(moved_at - tag_before, "ana@support.example", "tags", added=("p0",))),
                           key=lambda c: c.at))
    t = make_ticket(description="The accounting sync has stalled for every tenant.", tags=frozenset({"tier_l1", "p0"}),
                    team="Engineering Manager", comments=(), history=history, updated_at=moved_at)
    d, after = _once_the_move_is_recorded(t, teamflow, moved_at)
    assert d.kind == "severity", (d.kind, d.reasons)
    assert sorted(a.channel for a in d.actions if isinstance(a, Notify)) == ["outage-response", "pagerduty"]
    assert SetPriority("urgent") in d.actions
    landed = tuple(Comment("bot@example.com", a.body, False, moved_at + timedelta(minutes=5), by_agent=True)
                   for a in d.actions if isinstance(a, InternalNote))
    again = evaluate(replace(after, comments=(*after.comments, *landed)), teamflow, moved_at + timedelta(minutes=9))
    assert not any(isinstance(a, Notify) for a in again.actions), (again.kind, again.actions)


@pytest.mark.parametrize("asked_after, removed", [(timedelta(0), True), (timedelta(minutes=-1), True),
                                                   (timedelta(minutes=5), False)],
                         ids=["same-update", "tag-first", "tag-after-the-move"])
def test_a_persons_hand_off_up_answers_the_escalate_tag_added_before_it(three, asked_after, removed):
    """QA (a Jira admin): an agent who tagged `escalate` and gave the issue to L2 herself left
    the tag on; the L2 agent's own `escalate` for L3 then recorded nothing (already there)
    and was lost. A tag added after the move asks for the next tier and stays."""
    from tierlift.engine.model import RemoveTags

    moved_at = MON + timedelta(minutes=2)
    history = tuple(sorted((Change(moved_at, "ana@support.example", "team", "support-generalists", "support-specialists"),
                            Change(moved_at + asked_after, "ana@support.example", "tags", added=("escalate",))),
                           key=lambda c: c.at))
    t = make_ticket(tags=frozenset({"tier_l1", "escalate"}), team="support-specialists", comments=(), history=history,
                    updated_at=max(moved_at, moved_at + asked_after))
    d = evaluate(t, three, moved_at + timedelta(minutes=6))
    assert d.kind == "human-move" and d.tier_after == 2, (d.kind, d.reasons)
    gone = {tag for a in d.actions if isinstance(a, RemoveTags) for tag in a.tags}
    assert ("escalate" in gone) is removed and "tier_l1" in gone


@pytest.mark.parametrize("away", [timedelta(hours=1, minutes=5), timedelta(hours=2)], ids=["1h", "2h"])
def test_an_unanswered_outage_reaching_l4_after_the_daemon_was_away_pages(away):
    """QA (on call, teamflow): away one hour, the missed-update duty took an unanswered outage
    L3 -> L4 and paged; away two hours, the L3 SLA was due too and its move won, with no page."""
    teamflow = load_policy("teamflow")
    t0 = utc(2026, 12, 13, 2, 35)  # a Sunday night
    up = t0 + timedelta(minutes=2)
    esc = escalation_id("101", "v0", 1, 3, "service-outage")
    note = Comment("bot@example.com", f"Escalated L1 -> L3.\n\n{format_marker(esc, 1, 3, 'service-outage', up)}", False,
                   up, by_agent=True)
    said = Comment("carla", "Your API is down: every call is refused since 02:35 UTC, all 20k users.", True, t0,
                   by_agent=False)
    t = make_ticket(subject="API down", description=said.body, created_at=t0, updated_at=up, comments=(said, note),
                    tags=frozenset({"tier_l3"}), team="Engineering Manager", history=(), ledger_known=True)
    d = evaluate(t, teamflow, up + away)
    assert (d.kind, d.tier_after) == ("escalate", 4), (d.kind, d.reasons)
    assert {a.channel for a in d.actions if isinstance(a, Notify)} >= {"pagerduty"}, (d.rule, d.actions)


def test_a_p0_reopened_at_l3_pages_again_once(three):
    """QA (on call): a P0 outage paged at L3, solved there, then reopened by the customer
    ("Webhooks stopped again ... all our order integrations are dark"): nothing, in two cycles
    an hour apart, and nothing ever would (L3 is the top tier, its reply already made)."""
    from tierlift.engine.model import StatusChange

    first = at_l3_by("production-outage", {"p0"})
    paged = evaluate(first, three, MON + timedelta(minutes=21))
    [note] = [a.body for a in paged.actions if isinstance(a, InternalNote)]
    solved, reopened = MON + timedelta(hours=2), MON + timedelta(hours=20)
    again = Comment("carla", "Webhooks stopped again - nothing received since 01:30. All our order integrations are dark.",
                    True, reopened, by_agent=False)
    back = replace(first, comments=(*first.comments, Comment("bot@example.com", note, False, MON + timedelta(minutes=22),
                                                             by_agent=True), again),
                   status_history=(StatusChange(first.created_at, "new"), StatusChange(solved, "solved"),
                                   StatusChange(reopened, "open")), updated_at=reopened, version="v9")
    d = evaluate(back, three, reopened + timedelta(minutes=1))
    assert d.kind == "severity" and [a.channel for a in d.actions if isinstance(a, Notify)] == ["pagerduty"], \
        (d.kind, d.reasons)
    [renote] = [a.body for a in d.actions if isinstance(a, InternalNote)]
    landed = replace(back, comments=(*back.comments, Comment("bot@example.com", renote, False,
                                                             reopened + timedelta(minutes=2), by_agent=True)))
    assert not any(isinstance(a, Notify) for a in evaluate(landed, three, reopened + timedelta(hours=1)).actions)
