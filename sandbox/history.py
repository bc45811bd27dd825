"""A helpdesk's past for `tierlift triage learn`: closed tickets whose record carries labels.

The wording is the development writer's (tests/triage/corpus/dara, copied here as
history.jsonl so the wheel carries it), written apart from the support floor's wording.
Each ticket is solved, created 1 to 170 days before the sandbox's now, and carries what a
real floor leaves behind: an urgent one was confirmed by an agent (triage_confirm_<category>)
and worked at L3; a refund carries its amount in the refund field; some near misses carry
triage_dismissed; the rest carry nothing.
"""

from __future__ import annotations

import json
import random
from datetime import datetime, timedelta
from importlib import resources
from typing import Any

_RATES = {"USD": 1.0, "EUR": 1.08, "GBP": 1.27}


def _load() -> list[dict[str, Any]]:
    text = (resources.files("tierlift.sandbox") / "history.jsonl").read_text(encoding="utf-8")
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def history_rows(count: int, seed: int, now: datetime, first_id: int) -> list[dict[str, Any]]:
    """`count` closed tickets (cycling through the history's wording), ids from `first_id`."""
    if count <= 0:
        return []
    items = _load()
    rng = random.Random(f"history-{seed}")
    rows = []
    for n in range(count):
        item = items[n % len(items)]
        cat = item["category"]
        tags = ["tier_l1"]
        refund = None
        if cat == "refund":
            refund = round(float(item.get("amount") or 0) * _RATES.get(str(item.get("currency")), 1.0), 2)
            if not item.get("near_miss"):
                tags = ["tier_l2", "triage_confirm_refund"]
        elif cat != "none":
            tags = ["tier_l3", f"triage_confirm_{cat}"]
        elif item.get("near_miss") and rng.random() < 0.3:
            tags.append("triage_dismissed")
        rows.append({
            "id": first_id + n, "category": "history", "subject": item["subject"] or item["body"][:60],
            "description": item["body"], "tags": sorted(tags),
            "created_at": now - timedelta(days=1 + (n * 169 / max(1, count - 1))), "status": "solved", "org": None,
            "comments": [], "priority": "normal", "refund": refund, "severity": None, "reopens": 0,
            "replied_after": 10,
        })
    return rows

