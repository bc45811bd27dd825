"""What an escalation note says was tried: every tier's steps, and the newest word on the
rest (seed 000: the receiving tier "should never ask the customer to repeat information",
and every escalation carries "what has already been tried")."""

from __future__ import annotations

from datetime import timedelta

from tierlift.engine.model import Comment
from tierlift.engine.notes import extract_context

from enginekit import make_ticket, utc

T0 = utc(2026, 11, 2, 15, 0)


def test_an_l2_note_carries_l1s_steps_and_l2s_own_and_l2s_impact():
    # Before: the first text that gave a section won, so the L2 -> L3 note listed L1's steps
    # and L1's impact and dropped what L2 had tried and found.
    ticket = make_ticket(comments=(
        Comment("l1", "Steps taken:\n- checked the signing secret\nCustomer impact: no webhooks for 3 days",
                False, T0 + timedelta(minutes=45)),
        Comment("l2", "Steps taken:\n- reproduced with our test receiver\n- checked the signing secret\n"
                      "Customer impact: all webhooks rejected", False, T0 + timedelta(minutes=70)),
        Comment("carla", "Customer impact: nothing works", True, T0 + timedelta(minutes=80), by_agent=False),
    ))
    context = extract_context(ticket)
    assert context["steps_taken"] == ["checked the signing secret", "reproduced with our test receiver"]
    assert context["customer_impact"] == ["all webhooks rejected"]  # the newest agent's, not the customer's


def test_a_section_without_content_does_not_replace_one_with_content():
    ticket = make_ticket(description="Customer impact: 40 users cannot log in",
                         comments=(Comment("l1", "Customer impact: ...", False, T0),))
    assert extract_context(ticket)["customer_impact"] == ["40 users cannot log in"]
