"""The report's triage section: how well the model serves this team, per category.

A review (kind triage-review in the journal) asked a person about a ticket. It is answered
by the tag a person gave after it was asked, as the ticket was last read: confirmed (the
category's confirmation tag), confirmed as another category (another category's
confirmation tag: a review of "security" a person confirmed as an outage), dismissed (the
dismissal tag: a dismissal answers the words it was asked about, a review of later words is
not answered by it, and a dismissal tierlift took off to ask about later words still answers
the review before); open otherwise. A tag tierlift or an automation added answers nothing,
and neither does an escalation that came without an answer (the customer's later words):
"confirmed" once meant "later escalated by the same rule", which counted both. A later review
that took the dismissal off says the one before it was dismissed, whatever the last read
carries. Where the
last read has no history, a tag on the ticket is taken as the answer. Escalations where the
model's reading fired the rule outright are counted from their notes' reasons.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta
from typing import Any

from tierlift.engine.policy import Policy
from tierlift.engine.serialize import ticket_from_dict


def triage_reviews(policy: Policy, real: Iterable[Any], entries: Mapping[str, Any]) -> dict[str, dict[str, int]]:
    """Per category: asked, confirmed, confirmed as another category (other), dismissed, open."""
    t = policy.triage
    out: dict[str, dict[str, int]] = {}
    reviews = sorted((i for i in real if i.kind == "triage-review"), key=lambda i: i.created_at)
    # When tierlift took a dismissal off to ask about newer words: the review before was
    # dismissed, whatever the ticket's last read carries (QA: a read without history fell back
    # to the tags left on, and a dismissal turned into "open" with nobody acting).
    lifted: dict[str, list[datetime]] = {}
    for review in reviews:
        if _removes(review.decision, t.dismissed_tag):
            lifted.setdefault(review.ticket_id, []).append(review.created_at)
    for review in reviews:
        category = _category(review.decision, t.review_tag_prefix)
        row = out.setdefault(category, {"asked": 0, "confirmed": 0, "other": 0, "dismissed": 0, "open": 0})
        row["asked"] += 1
        given = _given_by_a_person(entries.get(review.ticket_id), review.created_at)
        if t.confirm_tag_prefix + category in given:
            row["confirmed"] += 1
        elif any(tag.startswith(t.confirm_tag_prefix) for tag in given):
            row["other"] += 1
        elif t.dismissed_tag in given or any(at > review.created_at for at in lifted.get(review.ticket_id, ())):
            row["dismissed"] += 1
        else:
            row["open"] += 1
    return out


def _given_by_a_person(entry: Any, asked: datetime) -> frozenset[str]:
    """The tags a person added after `asked`, by the ticket's history as last read, whether
    or not they are still on (all its tags where the last read carries no history)."""
    try:
        ticket = ticket_from_dict(json.loads(entry.snapshot)) if entry is not None else None
    except (ValueError, KeyError, TypeError, AttributeError):
        return frozenset()
    if ticket is None:
        return frozenset()
    if ticket.history is None:
        return ticket.tags
    since = asked - timedelta(microseconds=1)
    # What a person answered, whatever became of the tag: a confirmation taken off after the
    # escalation, or a dismissal tierlift took off to ask about newer words, still answered
    # this review (the table read "confirmed 0" and "dismissed 0" from the tags left on).
    return frozenset(t for c in ticket.history if c.field == "tags" and not c.automated and c.at > since
                     for t in c.added)


def _removes(decision: str, tag: str) -> bool:
    """The decision took `tag` off the ticket."""
    try:
        actions = json.loads(decision).get("actions", [])
    except (ValueError, AttributeError):
        return False
    return any(a.get("type") == "remove_tags" and tag in a.get("tags", []) for a in actions if isinstance(a, dict))


def _category(decision: str, prefix: str) -> str:
    try:
        actions = json.loads(decision).get("actions", [])
    except (ValueError, AttributeError):
        return "unknown"
    for a in actions:
        for tag in a.get("tags", []) if a.get("type") == "add_tags" else []:
            if tag.startswith(prefix):
                return str(tag[len(prefix):])
    return "unknown"


def render(reviews: Mapping[str, Mapping[str, int]]) -> list[str]:
    if not reviews:
        return []
    lines = ["", "triage reviews (the model asked a person; other: confirmed as another category)",
             f"  {'category':<16}{'asked':>7}{'confirmed':>11}{'other':>7}{'dismissed':>11}{'open':>7}"]
    for cat, r in sorted(reviews.items()):
        lines.append(f"  {cat:<16}{r['asked']:>7}{r['confirmed']:>11}{r['other']:>7}{r['dismissed']:>11}{r['open']:>7}")
    return lines
