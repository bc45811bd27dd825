"""A customer's "Thanks, it works now!" after a person's reply: nothing moves or answers.

QA (a CX lead): Zendesk reopens a solved ticket on the requester's reply, so the everyday
"Thanks, that worked!" reopened it, and three business days later its resolution clock moved
it L1 -> L2 with "has been escalated to our Specialist Support team" to the customer; on
teamflow a fixed outage's thank-you reopened it and its update duty paged on-call again on the
way to the CTO. The customer's words are read by engine.confirm, narrowly."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest

from tierlift.engine.confirm import confirms_fixed
from tierlift.engine.evaluate import evaluate
from tierlift.engine.model import Change, Comment, PublicReply, StatusChange
from tierlift.service.daemon.policies import load_policy

from enginekit import make_ticket, utc

MON = utc(2026, 11, 2, 14, 0)  # Monday 09:00 in New York


@pytest.mark.parametrize(("text", "confirms"), [
    ("Thanks, it works now!", True), ("Thanks, that worked!", True), ("Confirmed, it works again. Thanks a lot!", True),
    ("Never mind, it works now after the users logged in again. Thanks!", True),
    ("Gracias, ya funciona.", True), ("Danke, es funktioniert wieder.", True), ("Merci, ça fonctionne.", True),
    ("Obrigado, resolvido!", True),
    ("Thanks for the update, here are the details you asked for.", False),
    ("It is still not working for us, we tried that twice.", False), ("Any news on this? We are still affected.", False),
    ("it works but exports fail", False), ("It never worked", False), ("Thanks! Is it working for everyone?", False),
    ("Still broken for us", False), ("The export still stops halfway, nothing changed.", False),
])
def test_a_confirmation_is_read_narrowly(text, confirms):
    assert confirms_fixed(text) is confirms


def reopened_by(words: str):
    """Answered and solved on Monday; the customer's reply reopened it on Monday 10:00."""
    answer = Comment("ana@support.example", "I've sent you a fresh link; it is valid for 1 hour.", True,
                     MON + timedelta(minutes=30), by_agent=True)
    thanks = Comment("carla@customer.example", words, True, MON + timedelta(hours=1), by_agent=False)
    statuses = (StatusChange(MON, "new"), StatusChange(MON + timedelta(minutes=30), "solved"),
                StatusChange(MON + timedelta(hours=1), "open"))
    history = (Change(MON + timedelta(minutes=30), "ana@support.example", "status", "open", "solved"),
               Change(MON + timedelta(hours=1), "carla@customer.example", "status", "solved", "open"))
    return make_ticket(subject="Password reset link", description="The reset link says expired.",
                       tags=frozenset({"tier_l1"}), comments=(answer, thanks), history=history,
                       status_history=statuses, first_reply_at=answer.created_at, updated_at=thanks.created_at)


def test_a_thank_you_that_reopened_a_solved_ticket_moves_nothing_and_answers_nobody():
    three = load_policy("three-tier")
    thursday = MON + timedelta(days=3, hours=6)
    d = evaluate(reopened_by("Thanks, that worked!"), three, thursday)
    assert d.kind == "confirmed" and d.tier_after == 1 and not d.actions and d.wake_up is None, d.reasons
    # The same reopening by "still broken" climbs as ever (the resolution clock), with its reply.
    broken = evaluate(reopened_by("Still broken for us, the new link expired too."), three, thursday)
    assert broken.tier_after == 2 and any(isinstance(a, PublicReply) for a in broken.actions), broken.reasons
    # A person's own tag after the thank-you is still theirs to act on.
    asked = reopened_by("Thanks, that worked!")
    asked = replace(asked, tags=asked.tags | {"p1"}, history=(*asked.history, Change(
        MON + timedelta(hours=2), "ana@support.example", "tags", added=("p1",))))
    assert evaluate(asked, three, thursday).tier_after == 3
