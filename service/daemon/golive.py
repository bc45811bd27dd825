"""What customers see of a cycle: the quiet first sync and the per-cycle reply cap.

Decided here, in the service; never in the connectors or the
engine (issue 14.11). Invariants:
- during a quiet first sync (the helpdesk has never completed a cycle), a
  decision on the backlog keeps its note, tags and reassignment and loses its
  customer reply and its notifications; the decision journaled is the reduced
  one, so a recovery after a crash never sends what was held back;
- a ticket created less than `FRESH` before the cycle is not backlog: it
  arrived as tierlift went live, and a new outage or security report is paged
  and answered as it would be a minute later; an older one that its content
  escalates (not a clock) and that changed within `FRESH` (a customer's "still
  down") or that no agent has answered for up to `UNANSWERED` is live: its page
  goes, its reply waits;
- the first sync lasts until the first cycle completes (the state's last_ok):
  a restart in the middle of one is still the first sync;
- at most `max_public_replies_per_cycle` decisions with a customer reply are
  written per cycle; the others stay due for the next cycle.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

from tierlift.engine.durations import format_span
from tierlift.engine.marker import MARKER_PREFIX
from tierlift.engine.model import Action, Decision, InternalNote, Notify, PublicReply, Ticket
from tierlift.engine.policy import by_clock
from tierlift.engine.sla import agent_replies
from tierlift.service.daemon.config_models import HelpdeskOptions
from tierlift.service.ops.logs import event

log = logging.getLogger("tierlift.cycle")

# A journal detail that starts so is a decision a quiet first sync held something back from:
# "first-sync: customer reply and pages held back (at the first go-live)" (GoLive.detail).
FIRST_SYNC_DETAIL = "first-sync:"
PAGES_HELD = "pages held back"  # in such a detail: its pages did not go (a live incident's did)
# Younger than this at the first sync, a ticket is news, not backlog (QA: a security report
# five minutes old at go-live went to L3 without its page).
FRESH = timedelta(hours=1)
UNANSWERED = timedelta(days=1)  # an incident no agent has answered is live this long


def _live(decision: Decision, ticket: Ticket, now: datetime) -> bool:
    """A backlog ticket that is a live incident: its page goes on a quiet first sync. Someone
    changed it in the last hour (an outage of three hours whose customer wrote ten minutes ago
    "still down for all of us" went to L3 without its page, after a state lost and rebuilt
    too), or no agent has answered it for up to a day (QA, on call: an outage of 82 minutes
    filed at L3 at night without a page). Only what the ticket says pages it so (a severity,
    an incident): a threshold that ran out on backlog while nobody watched is backlog news."""
    if decision.kind != "escalate" or by_clock(decision.rule):
        return False
    return ticket.updated_at > now - FRESH or (_unanswered(ticket) and ticket.created_at > now - UNANSWERED)


def _unanswered(ticket: Ticket) -> bool:
    """No agent's public reply is known (the helpdesk's first reply time, or the comments)."""
    if ticket.first_reply_at is not None:
        return False
    return not agent_replies(ticket)


class GoLive:
    """One helpdesk's customer-visible limits, reset at the start of every cycle."""

    def __init__(self, name: str, options: HelpdeskOptions, metrics: Any = None, *, planning: bool = False):
        self.name = name
        self.planning = planning  # a dry run: what the cap holds is planned, nothing was sent
        self.metrics = metrics
        self.quiet = options.first_sync == "quiet"
        self.cap: int | None = options.max_public_replies_per_cycle or None  # 0: none
        self.first_sync = False
        self.golive_key = ""  # start_cycle: which go-live a first sync is
        self._looked = False  # at the rehearsal, once per worker (start_cycle)
        self._after_rehearsal: datetime | None = None  # the live last ok when this worker went live after one
        self.replies = 0
        self.held_back = 0  # decisions reduced by the quiet first sync, this cycle
        # Of them, by ticket as `tierlift status` lists them: escalated, asked (triage reviews,
        # not escalated), live incidents whose page went (only the reply was held); and how
        # many decisions each of the first two sets held (QA: the log said 37 escalations and
        # status 36 tickets, for one ticket moved twice).
        self.quiet_tickets: dict[str, set[str]] = {"escalated": set(), "reviews": set(), "live": set()}
        self.quiet_decisions = 0
        self.capped = 0  # decisions left for the next cycle by the cap, this cycle
        self.held: dict[str, list[str]] = {}  # ticket -> what was held back and why (`tierlift plan` lists it)
        self.held_kinds: dict[str, set[str]] = {}  # ticket -> "customer reply", "pages": what the first sync held

    def start_cycle(self, status: Callable[[str], dict[str, Any]], rehearsal: str) -> None:
        """A cycle of the entry begins. It is a first sync when the entry never completed a live
        cycle, or when this worker began after a rehearsal of it (`dry_run: true`, `run
        --dry-run`: its progress under `rehearsal`, dryrun.dry_progress_name) completed a cycle
        since the entry's last, until a live cycle completes: the entry goes live again after a
        dry-run spell, and what fell due meanwhile is backlog. Before, it resumed from its own
        cursor and sent every reply and page of the spell in one cycle (29 customer e-mails for
        thresholds passed up to a day earlier; QA, a support lead going live after a policy
        change). Looked at once per worker: a rehearsal run beside the live daemon (replicas on
        PostgreSQL) does not make the live entry's next cycle a quiet one."""
        live = status(self.name).get("last_ok")
        if not self._looked:
            self._looked = True
            rehearsed = status(rehearsal).get("last_ok") if live is not None else None
            self._after_rehearsal = live if rehearsed is not None and rehearsed > live else None
        self.first_sync = self.quiet and (live is None or live == self._after_rehearsal)
        # Which go-live this first sync is (the same across a restart in the middle of it):
        # `status` lists the latest one's tickets, not every go-live's (QA: after going live
        # again it listed 38 tickets where the log said 27).
        self.golive_key = ("the first go-live" if live is None
                           else f"going live again after {live:%Y-%m-%d %H:%M:%S} UTC")
        self.replies = self.held_back = self.capped = self.quiet_decisions = 0
        self.quiet_tickets = {"escalated": set(), "reviews": set(), "live": set()}
        self.held, self.held_kinds = {}, {}

    def reduce(self, decision: Decision, ticket: Ticket, now: datetime) -> Decision:
        """The decision as a quiet first sync writes it: no customer reply, no page (a
        ticket younger than FRESH keeps both; one changed within FRESH keeps its page)."""
        if not self.first_sync or not decision.has_actions or ticket.created_at > now - FRESH:
            return decision
        live = _live(decision, ticket, now)
        kept = tuple(a for a in decision.actions
                     if not isinstance(a, PublicReply) and not (isinstance(a, Notify) and not live))
        if len(kept) == len(decision.actions):
            return decision
        held = [a for a in decision.actions if a not in kept]
        self._count(decision, live and any(isinstance(a, Notify) for a in kept), held)
        self.held.setdefault(decision.ticket_id, []).extend(f"{_what(a)} (first_sync: quiet)" for a in held)
        if self.metrics is not None:
            self.metrics.held_back(self.name, "first_sync")
        return replace(decision, actions=_told_in_notes(kept, held))

    def _count(self, decision: Decision, paged: bool, held: list[Action]) -> None:
        """One decision the quiet first sync reduced; `paged`: a live incident whose page went."""
        self.held_back += 1
        self.held_kinds.setdefault(decision.ticket_id, set()).update(
            "pages" if isinstance(a, Notify) else "customer reply" for a in held)
        listed = quiet_listing(decision.kind, decision.tier_before, decision.tier_after)
        if listed is not None:
            self.quiet_tickets[listed].add(decision.ticket_id)
            self.quiet_decisions += 1
        if paged:
            self.quiet_tickets["live"].add(decision.ticket_id)

    def over_cap(self, decision: Decision) -> bool:
        """True: this decision's customer reply would pass the cycle's cap (it waits)."""
        if not any(isinstance(a, PublicReply) for a in decision.actions):
            return False
        if self.cap is None or self.replies < self.cap:
            self.replies += 1
            return False
        if self.capped == 0 and self.planning:
            # QA: a dry run warned of "25 customer replies this cycle" when none was sent.
            event(log, logging.INFO, "public reply cap", f"{self.cap} customer replies planned this cycle"
                  " (max_public_replies_per_cycle; dry run: none was sent); further escalations with a reply"
                  " would wait for the next cycle", helpdesk=self.name)
        elif self.capped == 0:
            event(log, logging.WARNING, "public reply cap", f"{self.cap} customer replies this cycle"
                  " (max_public_replies_per_cycle); further escalations with a reply wait for the next cycle",
                  helpdesk=self.name)
        self.capped += 1
        self.held.setdefault(decision.ticket_id, []).append(
            f"the whole escalation waits for the next cycle (max_public_replies_per_cycle: {self.cap})")
        if self.metrics is not None:
            self.metrics.held_back(self.name, "cap")
        return True

    def detail(self, detail: str, ticket_id: str) -> str:
        """The journal detail; `tierlift status` lists the quiet first sync's escalations by it.
        Only a decision whose reply or pages were held back says so: a new ticket's P0 in the
        first sync kept both, and `history` said "customer reply and pages held back" right
        above its reply and its page (QA)."""
        if not (self.first_sync and ticket_id in self.held):
            return detail
        what = " and ".join(w for w in ("customer reply", "pages") if w in self.held_kinds.get(ticket_id, ()))
        if not what:  # only the cap held it: not the first sync's
            return detail
        # QA (qa11): a live incident's move said "pages held back" right above its page, sent.
        went = " (a live incident: its page went)" if ticket_id in self.quiet_tickets["live"] else ""
        return f"{FIRST_SYNC_DETAIL} {what} held back{went} (at {self.golive_key}) {detail}".strip()

    def summary(self, verb: str) -> None:
        """`verb`: what became of the escalations, in the applier's words (applier.outcome)."""
        if self.first_sync and self.held_back:
            escalated, reviewed, paged = (len(self.quiet_tickets[k]) for k in ("escalated", "reviews", "live"))
            reviews = f" and {reviewed} triage review(s) without their page" if reviewed else ""
            live = f" ({paged} of them live incidents, paged)" if paged else ""
            other = self.held_back - self.quiet_decisions
            others = f", and {other} other decision(s) without their page" if other else ""
            event(log, logging.INFO, "first sync", f"{escalated} ticket(s) already past a threshold: escalations"
                  f" {verb} with the internal note and tags, without customer replies or pages{live}{reviews}:"
                  f" {self.quiet_decisions} decision(s) held back in all{others} (first_sync: quiet; the other"
                  f" decisions, of tickets created in the last {format_span(FRESH)} or with no reply or page to"
                  " hold, are as planned; `tierlift status` lists the tickets)", helpdesk=self.name)


def quiet_listing(kind: str, tier_before: int, tier_after: int) -> str | None:
    """Where `tierlift status` lists a decision a quiet first sync reduced: "escalated" (a move
    up), "reviews" (a triage review), or None (its other decisions: a page at the tier)."""
    if kind == "triage-review":
        return "reviews"
    return "escalated" if tier_after > tier_before and kind in ("escalate", "route") else None


def _told_in_notes(kept: tuple[Action, ...], held: list[Action]) -> tuple[Action, ...]:
    return tuple(_told(a, held) if isinstance(a, InternalNote) else a for a in kept)


def _told(note: InternalNote, held: list[Action]) -> InternalNote:
    """The note as the quiet first sync leaves it: it says what was held back, and one that
    said "tierlift paged ..." says the page was held (QA, a support lead: a P1's note at
    go-live said "tierlift paged outage-response" when nobody was paged, and a quiet P0's
    note said nothing of a page, so agents could not tell that on-call was not told)."""
    pages = ", ".join(a.channel for a in held if isinstance(a, Notify))
    body = note.body.replace(f"tierlift paged {pages}", f"tierlift held back its page to {pages}") if pages else note.body
    what = " and ".join(w for w in ("the customer reply" if any(isinstance(a, PublicReply) for a in held) else "",
                                    f"the page to {pages}" if pages else "") if w)
    line = (f"Go-live (first_sync: quiet): {what} held back, as for all backlog"
            f"{': nobody was paged' if pages else ''}.")
    head, mark, tail = body.rpartition("\n" + MARKER_PREFIX)
    return InternalNote(f"{head.rstrip()}\n\n{line}\n{mark}{tail}" if mark else f"{body}\n\n{line}")


def _what(action: Action) -> str:
    return f"notification to {action.channel}" if isinstance(action, Notify) else "customer reply"
