"""Shadow mode, read back: a dry-run policy's decisions beside what the live policy did.

A team trying a new policy runs it as a second helpdesk entry on the same
helpdesk with `dry_run: true` (ARCHITECTURE.md: dry-run decisions are journaled
apart). After a week, `tierlift report --shadow NAME` compares, ticket by
ticket, the tier moves the shadow would have made with the moves the live
policy made: the same, different, only live, only shadow, and how much
earlier or later the shadow would have acted. Only the journal is read.

A shadow writes nothing, so after the live policy moves a ticket the shadow
sees the new tier like everyone else: the comparison is of decisions taken
on the same tickets at the same time, not of two independent histories.
The two helpdesks' workers poll side by side. When a threshold falls due for
both and the live side acts first, the shadow reads the ticket already moved;
a running daemon's shadow then still decides the ticket as it last saw it
(HelpdeskCycle._decide_raced), so the move is "same", not "only live". A
`run --once` starts its shadow without an index, so there the first to read wins.

Only what both saw is compared: from the shadow's first decision on (its
first sync evaluates every open ticket, so anything it would act on is
journaled then). A live move made before the shadow existed is left out and
counted, not shown as a difference. Besides tier moves, each side's notes
without a move (refusals, reminders, reviews) and its notifications (by
channel) are compared: a ticket is "same" only when all three agree. A move is
its tiers and the team it went to: two policies name their rules differently
(the rule is shown, not compared), but a ticket handed to another team is not
the same decision (QA: a refund rule routing to billing read "same" as the live
SLA move to tier2).

A decision taken in a quiet first sync was kept without its pages (golive.py; its row's
detail says so). A shadow has one every time its worker starts (its private copy of
the state, dryrun.py, never keeps its last_ok), so its plan lacks the pages the live
side, long past its own first sync, sends for the same decision. Held back is not
"would not page": the pages of such a decision, and the other side's pages for the
same decision (its kind and tiers), are not compared; the report counts them.
"""

from __future__ import annotations

import json
import statistics
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, NamedTuple

from tierlift.service.daemon.golive import FIRST_SYNC_DETAIL, PAGES_HELD

MOVES = ("escalate", "route", "de-escalate")


class Move(NamedTuple):
    before: int
    after: int
    rule: str
    at: datetime
    team: str | None


@dataclass
class TicketMoves:
    ticket: str
    live: list[Move] = field(default_factory=list)
    shadow: list[Move] = field(default_factory=list)
    # Notes written without a move: (kind, rule, at), e.g. ("refused", "manual", ...).
    live_notes: list[tuple[str, str, datetime]] = field(default_factory=list)
    shadow_notes: list[tuple[str, str, datetime]] = field(default_factory=list)
    live_notified: list[str] = field(default_factory=list)  # channels
    shadow_notified: list[str] = field(default_factory=list)
    # Pages by decision, (kind, from, to, channel), and the decisions whose pages a quiet
    # first sync held back, (kind, from, to): their pages are not known, so not compared.
    live_pages: list[tuple[str, int, int, str]] = field(default_factory=list)
    shadow_pages: list[tuple[str, int, int, str]] = field(default_factory=list)
    live_held: list[tuple[str, int, int]] = field(default_factory=list)
    shadow_held: list[tuple[str, int, int]] = field(default_factory=list)

    def _acted(self, side: str) -> bool:
        return bool(getattr(self, side) or getattr(self, f"{side}_notes") or getattr(self, f"{side}_notified"))

    @property
    def verdict(self) -> str:
        if not self._acted("live"):
            return "only shadow"
        if not self._acted("shadow"):
            return "only live"
        same = ([(m.before, m.after, m.team) for m in self.live] == [(m.before, m.after, m.team) for m in self.shadow]
                and sorted(k for k, _, _ in self.live_notes) == sorted(k for k, _, _ in self.shadow_notes)
                and self.compared_pages("live") == self.compared_pages("shadow"))
        return "same" if same else "different"

    def paged(self, side: str, key: tuple[str, int, int], channels: list[str], *, held: bool) -> None:
        """One decision's pages (`key`: its kind and tiers); `held`: a quiet first sync held them back."""
        getattr(self, f"{side}_notified").extend(channels)
        getattr(self, f"{side}_pages").extend((*key, ch) for ch in channels)
        if held:
            getattr(self, f"{side}_held").append(key)

    def compared_pages(self, side: str) -> list[str]:
        """The side's channels paged, but for decisions whose pages either side held back."""
        held = set(self.live_held) | set(self.shadow_held)
        return sorted(ch for kind, a, b, ch in getattr(self, f"{side}_pages") if (kind, a, b) not in held)


@dataclass
class ShadowComparison:
    live: str
    shadow: str
    live_policy: str
    shadow_policy: str
    since: datetime
    until: datetime
    tickets: list[TicketMoves]
    left_out: int = 0  # live moves made before the shadow's first decision: not compared

    def counts(self) -> dict[str, int]:
        out = {"same": 0, "different": 0, "only live": 0, "only shadow": 0}
        for t in self.tickets:
            out[t.verdict] += 1
        return out

    def held(self, side: str) -> int:
        """The side's decisions whose pages a quiet first sync held back (not compared)."""
        return sum(len(getattr(t, f"{side}_held")) for t in self.tickets)

    def lead_minutes(self) -> float | None:
        """Median minutes by which the shadow's first move came before the live one (negative: later)."""
        leads = [(t.live[0].at - t.shadow[0].at).total_seconds() / 60 for t in self.tickets
                 if t.verdict == "same" and t.live and t.shadow]
        return statistics.median(leads) if leads else None

    def to_dict(self) -> dict[str, Any]:
        def moves(ms):
            return [{"from": m.before, "to": m.after, "rule": m.rule, "team": m.team, "at": m.at.isoformat()}
                    for m in ms]

        def notes(ns):
            return [{"kind": k, "rule": r, "at": at.isoformat()} for k, r, at in ns]

        return {"live": self.live, "shadow": self.shadow, "live_policy": self.live_policy,
                "shadow_policy": self.shadow_policy, "since": self.since.isoformat(), "until": self.until.isoformat(),
                "counts": self.counts(), "shadow_lead_minutes_median": self.lead_minutes(),
                "live_moves": sum(len(t.live) for t in self.tickets),
                "shadow_moves": sum(len(t.shadow) for t in self.tickets),
                "live_moves_before_shadow": self.left_out,
                "pages_held_back": {"live": self.held("live"), "shadow": self.held("shadow")},
                "tickets": [{"ticket": t.ticket, "verdict": t.verdict, "live": moves(t.live),
                             "shadow": moves(t.shadow), "live_notes": notes(t.live_notes),
                             "shadow_notes": notes(t.shadow_notes), "live_notified": sorted(t.live_notified),
                             "shadow_notified": sorted(t.shadow_notified),
                             "pages_held_back": {"live": len(t.live_held), "shadow": len(t.shadow_held)}}
                            for t in self.tickets]}


def compare(store, live: str, shadow: str, *, live_policy: str, shadow_policy: str, since: datetime,
            until: datetime) -> ShadowComparison:
    # From the shadow's first decision on: before it, only the live side was looking; and
    # from the last edit of either side's policy (or model): before it, the decisions were
    # another policy's (QA: three-tier "differed" from itself after the shadow's edit).
    first = next(iter(store.plans(shadow)), None)
    starts = [since, first.created_at if first is not None else None, store.decided_since(shadow),
              store.decided_since(live)]
    start = max(at for at in starts if at is not None)
    by_ticket: dict[str, TicketMoves] = defaultdict(lambda: TicketMoves(""))
    left_out = 0
    for side, decided in (("live", store.intents(live, since=since)), ("shadow", store.plans(shadow, since=since))):
        for i in decided:
            if i.created_at > until or i.status != "done":
                continue  # a live write that never landed is not what the live policy did
            if i.created_at < start:
                left_out += i.kind in MOVES and i.tier_before != i.tier_after
                continue
            _add(by_ticket, i, side)
    order = {"different": 0, "only shadow": 1, "only live": 2, "same": 3}
    tickets = sorted(by_ticket.values(), key=lambda t: (order[t.verdict], _num(t.ticket)))
    return ShadowComparison(live, shadow, live_policy, shadow_policy, start, until, tickets, left_out)


def _add(by_ticket: dict[str, TicketMoves], i, side: str) -> None:
    try:
        actions = json.loads(i.decision).get("actions") or []
    except (ValueError, AttributeError):
        actions = []
    types = {a.get("type") for a in actions if isinstance(a, dict)}
    channels = [str(a.get("channel")) for a in actions if isinstance(a, dict) and a.get("type") == "notify"]
    moved = i.kind in MOVES and i.tier_before != i.tier_after
    if not moved and "internal_note" not in types and not channels:
        return
    t = by_ticket[i.ticket_id]
    t.ticket = i.ticket_id
    if moved:
        getattr(t, side).append(Move(i.tier_before, i.tier_after, i.rule, i.created_at, i.team))
    elif "internal_note" in types:
        getattr(t, f"{side}_notes").append((i.kind, i.rule, i.created_at))
    t.paged(side, (i.kind, i.tier_before, i.tier_after), channels, held=_pages_held(i.detail or ""))


def _pages_held(detail: str) -> bool:
    """A quiet first sync held this decision's pages back (a live incident's page went)."""
    return detail.startswith(FIRST_SYNC_DETAIL) and PAGES_HELD in detail


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
    if c.left_out:
        w.append(f"compared from the shadow's first decision; {c.left_out} live move(s) before it left out")
    if n["only live"]:
        # QA (F6): a slower policy's escalations read as "would not have moved".
        w += ["only live: the shadow had not acted when the live side moved the ticket;",
              "  it then reads the ticket as the live side left it, so a later move under",
              "  its own thresholds cannot show (not: it would never have moved it)"]
    held = {side: c.held(side) for side in ("shadow", "live")}
    if any(held.values()):
        w.append(f"decision(s) of a quiet first sync: pages not compared (shadow {held['shadow']},"
                 f" live {held['live']})")
    lead = c.lead_minutes()
    if lead is not None:
        when = "earlier" if lead >= 0 else "later"
        w.append(f"where both agree, the shadow acted {abs(lead):.0f} min {when} (median)")
    w += _differences(c, limit)
    return "\n".join(w) + "\n"  # whole lines: one cut at 80 columns ended mid-timestamp


def _differences(c: ShadowComparison, limit: int) -> list[str]:
    """The tickets on which the two sides differ, at most `limit`, each side's moves, notes and notifications."""
    differ = [t for t in c.tickets if t.verdict != "same"]
    shown = differ[:limit]
    w = ["", "differences:"] if shown else []
    for t in shown:
        w.append(f"  ticket {t.ticket} ({t.verdict})")
        for label, side in (("live:  ", "live"), ("shadow:", "shadow")):
            first = t.live[0].at if side == "shadow" and t.verdict == "only live" and t.live else None
            w.append(f"    {label} {_moves(getattr(t, side))}"
                     + (f" (had not acted by the live move at {first:%m-%d %H:%M})" if first else ""))
            extra = [f"{k} ({r})" for k, r, _ in getattr(t, f"{side}_notes")]
            extra += [f"notify {ch}" for ch in sorted(getattr(t, f"{side}_notified"))]
            if extra:
                w.append(f"            {', '.join(extra)}")
    if len(differ) > len(shown):
        w.append(f"  ... and {len(differ) - len(shown)} more (--format json lists them all)")
    return w


def _moves(ms: list[Move]) -> str:
    if not ms:
        return "-"
    return ", ".join(f"L{m.before}->L{m.after} {m.rule}{f' to {m.team}' if m.team else ''} {m.at:%m-%d %H:%M}"
                     for m in ms[:3]) + (" ..." if len(ms) > 3 else "")
