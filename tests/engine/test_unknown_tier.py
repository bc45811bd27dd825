"""A ticket at a tier the policy no longer has is left alone, not escalated again from L1.

A team merged its fourth tier into the third and reloaded: the tickets sitting at L4 (tag
tier_l4, a team no tier of the new policy lists) were read as L1 and escalated from there,
moved down to L2's team with a second page and a second reply to the customer (QA).
"""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest

from tierlift.engine.evaluate import evaluate
from tierlift.engine.model import Change, Comment, RemoveTags
from tierlift.service.daemon.policies import load_policy

from enginekit import make_ticket, utc

MON = utc(2026, 11, 2, 14, 0)  # Monday 09:00 New York


@pytest.fixture(scope="module")
def three():
    return load_policy("three-tier")


def at_removed_tier(**kw):
    base = dict(tags=frozenset({"tier_l4", "p1"}), team="incident-command", created_at=MON,
                updated_at=MON + timedelta(hours=3), description="Our production API is down for all users.")
    return make_ticket(**{**base, **kw})


def test_a_ticket_tagged_with_a_tier_the_policy_lacks_is_left_alone_and_told(three):
    d = evaluate(at_removed_tier(), three, MON + timedelta(hours=3))
    assert not d.actions, d.actions
    assert d.kind == "unknown-tier"
    assert any("tier_l4" in r and "L1, L2, L3" in r for r in d.reasons), d.reasons


def test_the_same_words_without_the_stray_tag_still_escalate(three):
    """The check holds only that ticket back: a P1 outage at L1 goes to L3 as always."""
    t = at_removed_tier(tags=frozenset({"p1"}), team="support-generalists")
    # (its customer reply quotes the subject as written: the engine reads the history first)
    assert evaluate(t, three, MON + timedelta(hours=3)).needs_comments
    d = evaluate(replace(t, comments=(), history=()), three, MON + timedelta(hours=3))
    assert d.kind == "escalate" and d.tier_after == 3, (d.kind, d.reasons)


def test_a_person_who_moves_it_to_a_tiers_team_puts_it_back_in_the_policy(three):
    moved_at = MON + timedelta(hours=2)
    t = at_removed_tier(team="engineering-oncall", comments=(),
                        history=(Change(moved_at, "lee@support.example", "team", "incident-command",
                                        "engineering-oncall"),))
    d = evaluate(t, three, MON + timedelta(hours=3))
    assert d.kind == "human-move" and d.tier_after == 3, (d.kind, d.reasons)
    removed = {tag for a in d.actions if isinstance(a, RemoveTags) for tag in a.tags}
    assert "tier_l4" in removed, d.actions


def test_a_customer_reply_does_not_wake_it_either(three):
    t = at_removed_tier(comments=(Comment("cust@acme.com", "Any update? I want to speak to a manager.", True,
                                          MON + timedelta(hours=2), by_agent=False),), history=())
    d = evaluate(t, three, MON + timedelta(hours=3))
    assert not d.actions and d.kind == "unknown-tier", (d.kind, d.reasons)
