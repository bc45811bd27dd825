"""The machine-readable marker every escalation note carries.

A restarted daemon asks the helpdesk whether its write landed by looking for
this marker in the ticket's comments (ARCHITECTURE.md, "State and its
invariants"). The same markers rebuild the tier ledger when the state file is
lost, so the ping-pong guard and minimum stays survive a resync.

Format, one line at the end of the note:

    [tierlift escalation=3f2a9c1e07b4 from=1 to=2 rule=sla-first-response at=2026-11-02T15:00:00Z]

Moves a person made or asked for carry who did it, URL-quoted, and a human
move the flag `human` (a rebuilt ledger must know tierlift never reverts it):

    [tierlift escalation=... from=1 to=2 rule=human-move at=... by=ana%40example.com human]
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable
from datetime import datetime

from tierlift.engine.model import TierMove

MARKER_PREFIX = "[tierlift escalation="
_MARKER = re.compile(
    r"\[tierlift escalation=(?P<id>[0-9a-f]{6,40}) from=(?P<from>\d) to=(?P<to>\d)"
    r" rule=(?P<rule>\S+) at=(?P<at>[^\s\]]+)"
    r"(?: by=(?P<by>[^\s\]]+))?(?P<human> human)?\]"
)


def escalation_id(ticket_id: str, version: str, tier_before: int, tier_after: int, rule: str) -> str:
    """A stable idempotency key: the same ticket version and decision give the same id."""
    raw = f"{ticket_id}\x1f{version}\x1f{tier_before}\x1f{tier_after}\x1f{rule}"
    return hashlib.sha256(raw.encode()).hexdigest()[:16]


def format_marker(esc_id: str, tier_before: int, tier_after: int, rule: str, at: datetime,
                  actor: str | None = None, human: bool = False) -> str:
    rule_token = re.sub(r"\s+", "-", rule.strip()) or "-"
    stamp = at.strftime("%Y-%m-%dT%H:%M:%SZ")
    by = f" by={_quote(actor)}" if actor else ""
    flag = " human" if human else ""
    return f"{MARKER_PREFIX}{esc_id} from={tier_before} to={tier_after} rule={rule_token} at={stamp}{by}{flag}]"


_SAFE = re.compile(r"[A-Za-z0-9@.+\-_:]")


def _quote(text: str) -> str:
    """Percent-encode everything but letters, digits and @.+-_: (UTF-8), so the actor is one
    token of the marker line. Written here: the engine imports no I/O library (urllib)."""
    return "".join(ch if _SAFE.fullmatch(ch) else "".join(f"%{b:02X}" for b in ch.encode()) for ch in text)


def _unquote(text: str) -> str:
    return re.sub(rb"%([0-9A-Fa-f]{2})", lambda m: bytes([int(m[1], 16)]), text.encode()).decode("utf-8", "replace")


def has_marker(text: str, esc_id: str) -> bool:
    return f"{MARKER_PREFIX}{esc_id} " in text


def parse_markers(texts: Iterable[str]) -> tuple[TierMove, ...]:
    """Tier moves recorded in notes, oldest first; malformed markers are ignored."""
    moves = []
    for text in texts:
        for m in _MARKER.finditer(text):
            try:
                at = datetime.fromisoformat(m["at"].replace("Z", "+00:00"))
            except ValueError:
                continue
            actor = _unquote(m["by"]) if m["by"] else None
            moves.append(TierMove(at, int(m["from"]), int(m["to"]), m["rule"], m["id"], actor, bool(m["human"])))
    moves.sort(key=lambda mv: mv.at)
    return tuple(moves)
