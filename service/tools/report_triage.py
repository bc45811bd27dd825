"""The report's triage section: how well the model serves this team, per category.

A review (kind triage-review in the journal) asked a person about a ticket; it counts as
confirmed when the same ticket was later escalated by the rule that asked, as dismissed
when the ticket as last read carries the dismissal tag given after the review was asked (a
dismissal answers the words it was asked about: a review of later words is not answered by
it; where the last read has no history, the tag is taken as the answer), and as open
otherwise. Escalations where the model's reading fired the rule outright are counted from
their notes' reasons.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from tierlift.engine import history
from tierlift.engine.policy import Policy
from tierlift.engine.serialize import ticket_from_dict


def triage_reviews(policy: Policy, real: Iterable[Any], entries: Mapping[str, Any]) -> dict[str, dict[str, int]]:
    """Per category: asked, confirmed, dismissed, open."""
    intents = sorted(real, key=lambda i: i.created_at)
    prefix, dismissed_tag = policy.triage.review_tag_prefix, policy.triage.dismissed_tag
    out: dict[str, dict[str, int]] = {}
    for i, review in enumerate(intents):
        if review.kind != "triage-review":
            continue
        category = _category(review.decision, prefix)
        row = out.setdefault(category, {"asked": 0, "confirmed": 0, "dismissed": 0, "open": 0})
        row["asked"] += 1
        later = [x for x in intents[i + 1:] if x.ticket_id == review.ticket_id and x.rule == review.rule
                 and x.tier_after > x.tier_before]
        if later:
            row["confirmed"] += 1
        elif _dismissed_since(entries.get(review.ticket_id), dismissed_tag, review.created_at):
            row["dismissed"] += 1
        else:
            row["open"] += 1
    return out


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


def _dismissed_since(entry: Any, tag: str, asked: datetime) -> bool:
    try:
        ticket = ticket_from_dict(json.loads(entry.snapshot)) if entry is not None else None
    except (ValueError, KeyError, TypeError, AttributeError):
        return False
    if ticket is None or tag not in ticket.tags:
        return False
    given = history.tag_added_at(ticket, tag)
    return given is None or given >= asked


def render(reviews: Mapping[str, Mapping[str, int]]) -> list[str]:
    if not reviews:
        return []
    lines = ["", "triage reviews (the model asked a person)",
             f"  {'category':<16}{'asked':>7}{'confirmed':>11}{'dismissed':>11}{'open':>7}"]
    for cat, r in sorted(reviews.items()):
        lines.append(f"  {cat:<16}{r['asked']:>7}{r['confirmed']:>11}{r['dismissed']:>11}{r['open']:>7}")
    return lines
