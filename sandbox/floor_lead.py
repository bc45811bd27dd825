"""The floor's triage lead: the person who answers tierlift's triage reviews.

A reading in a policy's review band moves nothing: tierlift tags the ticket
`triage_review_<category>`, writes an internal note and asks the triage channel
(docs/triage.md). On a real floor someone answers; this is that person. The lead
notices a review tag when the floor's agents look at their tickets (every scan),
answers a few working minutes later (the pack's calendar, like every agent), with
their own credentials, and answers as a person who read the ticket would: confirms
(`triage_confirm_<category>`, which lets the rule escalate) when the ticket means
what the review says (the floor's intent: its kind, or a customer's request for a
manager); confirms a request for a manager the review took for something else (the
note quotes the sentence, "get me your boss", read as churn), as a person would by
adding the manager rule's tag; and dismisses (`triage_dismissed`) the rest (a near
miss, another kind, an incident already fixed). Each review tag is answered once.

So a floor with a lead measures the product as a team runs it (the review band is
its answer to an unsure reading), at the cost of the lead's minutes: a confirmed
review escalates later than a sure reading would, and the oracle, which owes the
move from the customer's words, counts that as late. `Floor(lead=False)` (`run.py
--no-triage-lead`) is the floor without anyone answering (the figures before 2026-12-05).
"""

from __future__ import annotations

import random
from datetime import datetime, timedelta
from typing import Any

from tierlift.sandbox import floor_catalog as cat

REVIEW, CONFIRM, DISMISSED = "triage_review_", "triage_confirm_", "triage_dismissed"


class TriageLead:
    """Answers review tags for `floor` (a `Floor`): `notice` at each scan, `answer` when due."""

    def __init__(self, floor: Any, seed: int, *, enabled: bool = True, minutes: tuple[float, float] = (2.0, 10.0)):
        self.floor, self.enabled = floor, enabled
        self.rng = random.Random(f"floor-lead-{seed}")  # the cases' own draws stay as they were
        self.minutes = minutes
        self.asked: set[tuple[Any, str]] = set()
        first_team = floor.pack.teams[1][0]
        self.person = floor.agents[first_team][0]

    def notice(self, key: Any, now: datetime) -> None:
        """Review tags not seen before are answered a few working minutes from now."""
        for tag in self.floor.acts.tags(key) if self.enabled else ():
            if tag.startswith(REVIEW) and (key, tag) not in self.asked:
                self.asked.add((key, tag))
                delay = timedelta(minutes=self.rng.uniform(*self.minutes))
                self.floor._at(self.floor.pack.calendar.add(now, delay), key, "review", tag[len(REVIEW):])

    def answer(self, case: Any, category: str) -> None:
        if not self.floor._live(case):
            return
        if self.means(case, category):
            self.floor.acts.agent_update(self.person, case.key, add_tags=[CONFIRM + category])
            self.floor._count("triage reviews confirmed")
        elif case.asked_manager:  # "get me your boss" read as churn: the lead sees what it asks
            self.floor.acts.agent_update(self.person, case.key, add_tags=[CONFIRM + "manager"])
            self.floor._count("triage reviews confirmed as a request for a manager")
        else:
            self.floor.acts.agent_update(self.person, case.key, add_tags=[DISMISSED])
            self.floor._count("triage reviews dismissed")

    @staticmethod
    def means(case: Any, category: str) -> bool:
        """Does the ticket mean `category`, as the person who wrote it meant it?"""
        if category == "manager":
            return bool(case.asked_manager)
        return not case.near and not case.fixed and cat.KIND_OF.get(category) == case.kind
