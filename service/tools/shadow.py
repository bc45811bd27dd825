"""Shadow mode, read back: a dry-run policy's decisions beside what the live policy did.

A team trying a new policy runs it as a second helpdesk entry on the same
helpdesk with `dry_run: true` (DESIGN.md: dry-run decisions are journaled
apart). After a week, `tierlift report --shadow NAME` compares, ticket by
ticket, the tier moves the shadow would have made with the moves the live
policy made: the same, different, only live, only shadow, and how much
earlier or later the shadow would have acted. Only the journal is read.

A shadow writes nothing, so after the live policy moves a ticket the shadow
sees the new tier like everyone else: the comparison is of decisions taken
on the same tickets at the same time, not of two independent histories.
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

MOVES = ("escalate", "route", "de-escalate")


@dataclass
class TicketMoves:
    ticket: str
    live: list[tuple[int, int, str, datetime]] = field(default_factory=list)
    shadow: list[tuple[int, int, str, datetime]] = field(default_factory=list)

    @property
    def verdict(self) -> str:
        if not self.live:
            return "only shadow"
        if not self.shadow:
            return "only live"
        same = [(a, b) for a, b, _, _ in self.live] == [(a, b) for a, b, _, _ in self.shadow]
        return "same" if same else "different"


@dataclass
class ShadowComparison:
    live: str
    shadow: str
    live_policy: str
    shadow_policy: str
    since: datetime
    until: datetime
    tickets: list[TicketMoves]

    def counts(self) -> dict[str, int]:
        out = {"same": 0, "different": 0, "only live": 0, "only shadow": 0}
        for t in self.tickets:
            out[t.verdict] += 1
        return out

    def lead_minutes(self) -> float | None:
        """Median minutes by which the shadow's first move came before the live one (negative: later)."""
        leads = [(t.live[0][3] - t.shadow[0][3]).total_seconds() / 60 for t in self.tickets
                 if t.verdict == "same"]
        return statistics.median(leads) if leads else None

    def to_dict(self) -> dict[str, Any]:
        def moves(ms):
            return [{"from": a, "to": b, "rule": r, "at": at.isoformat()} for a, b, r, at in ms]

        return {"live": self.live, "shadow": self.shadow, "live_policy": self.live_policy,
                "shadow_policy": self.shadow_policy, "since": self.since.isoformat(), "until": self.until.isoformat(),
                "counts": self.counts(), "shadow_lead_minutes_median": self.lead_minutes(),
                "live_moves": sum(len(t.live) for t in self.tickets),
                "shadow_moves": sum(len(t.shadow) for t in self.tickets),
                "tickets": [{"ticket": t.ticket, "verdict": t.verdict, "live": moves(t.live),
                             "shadow": moves(t.shadow)} for t in self.tickets]}


def compare(store, live: str, shadow: str, *, live_policy: str, shadow_policy: str, since: datetime,
            until: datetime) -> ShadowComparison:
    by_ticket: dict[str, TicketMoves] = defaultdict(lambda: TicketMoves(""))
    for name, dry, side in ((live, False, "live"), (shadow, True, "shadow")):
        for i in store.intents(name, since=since, dry_run=dry):
            if i.kind not in MOVES or i.tier_before == i.tier_after or i.created_at > until:
                continue
            if not dry and i.status != "done":
                continue  # a live move that never landed is not what the live policy did
            t = by_ticket[i.ticket_id]
            t.ticket = i.ticket_id
            getattr(t, side).append((i.tier_before, i.tier_after, i.rule, i.created_at))
    order = {"different": 0, "only shadow": 1, "only live": 2, "same": 3}
    tickets = sorted(by_ticket.values(), key=lambda t: (order[t.verdict], _num(t.ticket)))
    return ShadowComparison(live, shadow, live_policy, shadow_policy, since, until, tickets)


def _num(ticket: str) -> tuple[int, str]:
    tail = ticket.rsplit("-", 1)[-1]
    return (int(tail), ticket) if tail.isdigit() else (0, ticket)


def render(c: ShadowComparison, limit: int = 30) -> str:
    n = c.counts()
    w = [f"shadow {c.shadow} (policy {c.shadow_policy}, dry-run) vs live {c.live} (policy {c.live_policy})",
         f"{c.since:%Y-%m-%d %H:%M} to {c.until:%Y-%m-%d %H:%M} UTC", "=" * 78,
         f"tier moves        live {sum(len(t.live) for t in c.tickets):>6}   shadow {sum(len(t.shadow) for t in c.tickets):>6}",
         f"tickets: same {n['same']}, different {n['different']}, only live {n['only live']},"
         f" only shadow {n['only shadow']}"]
    lead = c.lead_minutes()
    if lead is not None:
        when = "earlier" if lead >= 0 else "later"
        w.append(f"where both agree, the shadow acted {abs(lead):.0f} min {when} (median)")
    shown = [t for t in c.tickets if t.verdict != "same"][:limit]
    if shown:
        w.append("")
        w.append("differences:")
    for t in shown:
        w.append(f"  ticket {t.ticket} ({t.verdict})")
        w.append(f"    live:   {_moves(t.live)}")
        w.append(f"    shadow: {_moves(t.shadow)}")
    rest = sum(1 for t in c.tickets if t.verdict != "same") - len(shown)
    if rest > 0:
        w.append(f"  ... and {rest} more (--format json lists them all)")
    return "\n".join(line[:80] for line in w) + "\n"


def _moves(ms: list[tuple[int, int, str, datetime]]) -> str:
    if not ms:
        return "-"
    return ", ".join(f"L{a}->L{b} {rule} {at:%m-%d %H:%M}" for a, b, rule, at in ms[:3]) + (" ..." if len(ms) > 3 else "")
