"""The service suites' own part of running the daemon (the rest is tests/kit.py):
their helpdesk defaults, and reading what the daemon wrote from the sandbox."""

from __future__ import annotations

from collections import Counter
from typing import Any

import kit
from kit import parse_markers


def helpdesk(name: str, sb: Any, policy: str = "three-tier", **extra: Any) -> dict[str, Any]:
    """The service suites' helpdesk: two tries at most 2 s apart, so an outage shows within seconds."""
    return kit.helpdesk(sb, name, policy=policy, **{"retry_attempts": 2, "max_retry_wait": "2s", **extra})


def zendesk_notes(sb: Any, tid: int, marker: str = "[tierlift escalation=") -> list[dict[str, Any]]:
    return [c for c in sb.store.comments.get(tid, []) if marker in c["body"]]


def writes(sb: Any) -> list[dict[str, Any]]:
    return [r for r in sb.requests_log() if r["write"]]


def marker_counts(sb: Any) -> dict[str, int]:
    """escalation id -> how many notes carry it, over the whole helpdesk."""
    if sb.flavor == "zendesk":
        bodies = [c["body"] for cs in sb.store.comments.values() for c in cs]
    else:
        bodies = [c["body"] for i in sb.store.issues.values() for c in i["fields"]["comment"]["comments"]]
    return dict(Counter(move.escalation_id for body in bodies for move in parse_markers([body])))
