"""The re-evaluation after a move (evaluate._follow) reuses the answers the move cannot change."""

from __future__ import annotations

from dataclasses import replace

from tierlift.engine.conditions import TicketView, compile_condition
from tierlift.engine.evaluate import Evaluator
from tierlift.engine.model import Comment
from tierlift.service.daemon.policies import load_policy

from enginekit import make_ticket, note, utc

NOW = utc(2026, 11, 2, 15, 0)


def _answered(ev: Evaluator, ticket, conds) -> None:
    view, facts = TicketView(ticket), ev._facts(ticket)
    for cond in conds:
        ev.holds(cond, view, facts, NOW)


def test_a_moved_ticket_keeps_the_answers_on_its_words_and_not_those_on_what_moved():
    policy = load_policy("three-tier")
    ev = Evaluator(policy)
    words = compile_condition({"keywords": ["outage"]})
    tier_tag = compile_condition({"tag": policy.tier_tag(2)})
    other_tag = compile_condition({"tag": "vip"})
    group = compile_condition({"field": "group", "equals": "Tier 2"})
    both = compile_condition({"all": [{"keywords": ["outage"]}, {"tag": policy.tier_tag(1)}]})
    before = make_ticket(description="A full outage since 8.", tags=frozenset({policy.tier_tag(1), "vip"}))
    _answered(ev, before, [words, tier_tag, other_tag, group, both])
    moved = replace(before, tags=frozenset({policy.tier_tag(2), "vip"}), group="Tier 2", version="v1+m")
    ev.carry(before, moved)
    kept = ev._facts(moved).conditions
    assert id(words) in kept and id(other_tag) in kept
    assert id(tier_tag) not in kept and id(group) not in kept and id(both) not in kept


def test_a_person_s_new_words_are_read_again_but_tierlift_s_own_notes_change_nothing():
    ev = Evaluator(load_policy("three-tier"))
    words = compile_condition({"keywords": ["outage"]})
    before = make_ticket(comments=(note("Looking into it.", utc(2026, 11, 2, 14, 30)),))
    _answered(ev, before, [words])
    own = Comment("tierlift", "escalated", False, NOW, automated=True)
    noted = replace(before, comments=(*before.comments, own), version="v1+n")
    ev.carry(before, noted)
    assert id(words) in ev._facts(noted).conditions
    customer = Comment("customer@acme.com", "Now it is a full outage", True, NOW, False)
    wrote = replace(before, comments=(*before.comments, customer), version="v1+c")
    ev.carry(before, wrote)
    assert id(words) not in ev._facts(wrote).conditions


def test_a_version_decided_without_its_comments_is_decided_again_on_them():
    """The same helpdesk version read twice, first without its comments (Zendesk's export
    carries none) and then with them: the answers kept for the version hid the customer's
    follow-up ("we tried that twice", teamflow's failed attempts) from the second decision.
    Seen on the support floor as a missed escalation when a quarantined ticket was retried."""
    ev = Evaluator(load_policy("teamflow"))
    at = utc(2026, 11, 2, 15, 0)
    bare = make_ticket(tags=frozenset({"tier_l1"}), created_at=at, updated_at=at, version="v7")
    assert not ev.evaluate(bare, at).has_actions
    tried = Comment("customer@acme.com", "It is still not working for us, we tried that twice.", True, at, False)
    read = replace(bare, comments=(tried,))
    decision = ev.evaluate(read, at)
    assert decision.has_actions and decision.tier_after == 2, decision
