"""Dry runs: the one place the daemon decides whether a decision reaches the helpdesk.

A helpdesk entry is dry (`dry_run: true` in its entry or at the top level; `run
--dry-run` is the top-level key forced on, config.load_config) or live. The choice
is made once, by `mode_for`, where the entry's worker opens its state and builds its
cycles; nothing downstream asks again. The mode it returns shapes the rest:

- `Live`: the worker works on the live state, and the cycle's applier is
  `writes.JournaledWrites` (intent, helpdesk write, done, notify; recovery first).
- `DryRun`: the worker works on a private copy of the state (it reads the live
  cursor, ledger and index and writes none of them, so it never delays a live
  escalation); the cycle's applier is `Planner`, which keeps each decision as a
  plan in that copy (its `plans`, never its journal), reports it, and hands the
  cycle the ticket as it would read; after every cycle the plans are copied to the
  live state's `plans` (`report --shadow`, `history` and `status` read them
  there), and so is the dry run's own progress (`progress_name`): its cursor,
  last ok and last error, quarantine and index rows with their wake-ups, in one
  short transaction, never a journal row and never under a live entry's name.
  A dry entry beside a live entry on the same helpdesk (a shadow) keeps that
  progress under its own name and starts from it again after a restart (no
  second first sync), plans a move once per ticket (its earlier plans are in the
  state), and takes the decisions the live side beat it to (`raced_with`,
  cycle.HelpdeskCycle._decide_raced). A dry run of an entry without a live
  sibling (`run --dry-run`, a top-level `dry_run: true`) rehearses that entry: it
  keeps its progress under "NAME (dry run)", and a start goes on from there while
  the rehearsal is newer than the entry's live progress (a restarted rehearsal does
  not begin again half-way), else from the entry's live progress. Either plans one
  move up from the tier a ticket still reads (nothing was written, so its tags have
  not moved): a later reason to move it from there is one the live daemon, its first
  move written, never has.

Both appliers answer the same interface (writes.Applier), so the cycle has one
path for both.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any
from weakref import WeakKeyDictionary

from tierlift.engine.evaluate import apply_decision
from tierlift.engine.model import Decision, Ticket
from tierlift.service.daemon.config import Config, HelpdeskConfig
from tierlift.service.daemon.state import Intent, Store
from tierlift.service.daemon.stats import CycleStats
from tierlift.service.daemon.writes import (
    WRITTEN,
    Applier,
    JournaledWrites,
    OnDecision,
    Parts,
    fallback_id,
    new_intent,
    team_of,
)
from tierlift.service.ops.logs import event
from tierlift.service.ops.notify import Notifier

log = logging.getLogger("tierlift.cycle")

# A planned decision is not applied, so the ticket still needs it: a dry run looks again
# this soon (its journal keeps the plan from repeating itself).
RECHECK = timedelta(minutes=5)


def reporter(cfg: HelpdeskConfig, metrics: Any, on_decision: OnDecision | None, *,
             dry_run: bool) -> Callable[[Decision], None]:
    """What one applied (or planned) decision tells the log, the metrics and the caller."""

    def report(decision: Decision) -> None:
        what = "planned" if dry_run else WRITTEN.get(decision.kind, decision.kind)
        event(log, logging.INFO, what, helpdesk=cfg.name, ticket=decision.ticket_id,
              tier=f"L{decision.tier_before}->L{decision.tier_after}", rule=decision.rule,
              team=team_of(decision) or "-", kind=decision.kind, dry_run=dry_run)
        if metrics is not None:
            metrics.decision(cfg.name, decision, dry_run)
        if on_decision is not None:
            on_decision(cfg, decision, dry_run)

    return report


class Planner:
    """The dry-run applier: the same interface as JournaledWrites, applied to the state's
    private copy only; the helpdesk is never written."""

    outcome = "would be written (dry run: nothing was written)"

    def __init__(self, parts: Parts):
        self.parts = parts
        self.report = reporter(parts.cfg, parts.metrics, parts.on_decision, dry_run=True)

    def recover(self, stats: CycleStats | None = None) -> int:
        return 0  # a plan is done the moment it is journaled: nothing is ever left pending

    def act(self, ticket: Ticket, decision: Decision, now: datetime, stats: CycleStats) -> Ticket:
        p = self.parts
        esc_id = decision.escalation_id or fallback_id(ticket, decision)
        intent = replace(new_intent(p.cfg.name, esc_id, ticket, decision, now), detail=p.golive.detail("dry-run", ticket.id))
        if (planned := self.planned_before(intent)) is not None:
            # The ticket as the earlier plan left it, dated then: applied anew at this read, its
            # new tier's clocks and duties ran from the read (QA: an outage planned to L3 at
            # 13:20 and answered there was "not updated for 6 hours" from its 17:20 read).
            return apply_decision(ticket, decision, planned)
        if p.store.record_plan(intent):
            stats.planned += 1
            self.report(decision)
            if (kept := PROGRESS.get(p.store)) is not None:
                kept.moves.setdefault(intent.ticket_id, {}).setdefault(
                    (intent.kind, intent.tier_before, intent.tier_after), now)
        if p.keep_decisions:
            stats.decisions.append(decision)  # a plan lists every decision, also one journaled before
        # The ticket as it would read goes on to the cascade check (the state is a private copy).
        return apply_decision(ticket, decision, now)

    def planned_before(self, intent: Intent) -> datetime | None:
        """When this dry run planned the move before (None: it did not), or a shadow's move
        already planned on this ticket (the same tiers and rule), under another escalation id:
        the ticket changed since (the live side wrote to it, the customer wrote), and the
        threshold it crossed is the same. A plan of `tierlift plan` or a rehearsal is compared
        with nothing of earlier runs."""
        kept = PROGRESS.get(self.parts.store)
        if kept is None or intent.kind in REPEATING:
            return None
        if (at := _moved_up_before(kept.moves.get(intent.ticket_id, {}), intent)) is not None:
            return at
        if not kept.shadow:
            return None
        # Only plans of the policy it reads under now: after an edit the same move is planned
        # again, or the comparison (which starts at the edit) missed it.
        since = self.parts.store.decided_since(intent.helpdesk)
        same = [i.created_at or intent.created_at for i in self.parts.store.planned(intent.helpdesk, intent.ticket_id)
                if i.escalation_id != intent.escalation_id and (i.kind, i.tier_before, i.tier_after, i.rule)
                == (intent.kind, intent.tier_before, intent.tier_after, intent.rule)
                and (since is None or i.created_at is None or i.created_at >= since)]
        return same[-1] if same else None

    def remember_markers(self, ticket: Ticket, now: datetime) -> None:
        """The ledger read from note markers is the live journal's to keep, not a plan's."""

    def wake_up(self, ticket: Ticket, wake: datetime | None, acted: bool, now: datetime) -> datetime | None:
        """Nothing was applied, so an acted-on open ticket still needs its decision: look again soon."""
        return now + RECHECK if acted and not ticket.is_closed else wake


class Live:
    """A live entry: its decisions are written to the helpdesk through the live journal."""

    label = "live"
    plans_moves = False  # its moves are journaled: an index snapshot keeps no ledger of its own

    def applier(self, parts: Parts) -> Applier:
        return JournaledWrites(parts, reporter(parts.cfg, parts.metrics, parts.on_decision, dry_run=False))

    def notifier(self, notifier: Notifier | None) -> Notifier | None:
        return notifier

    def state(self, live: Store, hd: HelpdeskConfig, helpdesks: list[HelpdeskConfig]) -> Store:
        return live

    def raced(self, helpdesks: list[HelpdeskConfig], hd: HelpdeskConfig,
              live: Store) -> Callable[[str, datetime], bool] | None:
        return None

    def deadline(self, deadline: timedelta | None) -> timedelta | None:
        return deadline

    def settle(self, store: Store, live: Store, helpdesk: str, *, since: datetime) -> int:
        return 0

    def decide_again(self, store: Store, hd: HelpdeskConfig, now: datetime, model: str | None = None) -> int | None:
        """A new policy (a reload, a restart on an edited file) or text model (`triage accept`,
        `triage_model:`): the open tickets of the index fall due now, decided under it
        (store.policy_changed); how many."""
        policy = store.policy_changed(hd.name, hd.policy.digest, now) if hd.policy.digest else None
        reading = store.policy_changed(hd.name, model, now, what="model") if model else None
        return policy or reading


class DryRun(Live):
    """A dry entry: decisions planned on a private copy of the state, copied back as planned rows."""

    label = "dry-run"
    plans_moves = True  # its moves are in no journal: an index snapshot keeps them (evaluation._entry)

    def applier(self, parts: Parts) -> Applier:
        return Planner(parts)

    def decide_again(self, store: Store, hd: HelpdeskConfig, now: datetime, model: str | None = None) -> int | None:
        """On the private copy, as the live entry will once it runs the edited policy (or the
        model accepted): `plan` and `run --once --dry-run` said "0 would change" before a
        reload that then escalated and answered (QA). Once per process, policy text and model:
        a rehearsing daemon copies the live state every cycle, whose record still names the
        live policy."""
        if (hd.name, hd.policy.digest, model) in _DECIDED_AGAIN:
            return None
        _DECIDED_AGAIN.add((hd.name, hd.policy.digest, model))
        woken = super().decide_again(store, hd, now, model)
        kept = PROGRESS.get(store)
        if woken and kept is not None and kept.shadow:
            # A shadow's index holds each ticket as it would read after the old policy's plans
            # (moved to L2 by a rule the new policy lacks, its L2 clock running): it starts over
            # from the helpdesk as the live side left it, as a shadow added now would (QA).
            store.start_over(hd.name)
        return woken

    def notifier(self, notifier: Notifier | None) -> Notifier | None:
        """None: a dry run pages nobody. Its private copy of the state holds the live journal's
        notifications still to send, and its cycle's retry sent them (QA, 4 of 4: pages and Slack
        posts from a dry run, then again from the next live run)."""
        return None

    def state(self, live: Store, hd: HelpdeskConfig, helpdesks: list[HelpdeskConfig]) -> Store:
        copy = live.snapshot()
        # A shadow's own progress is in the copy already (its rows, under its own name). A
        # new shadow beside a live entry is past its first sync once the live entry is: else
        # its plans lack the pages the live entry sends for the same decision (report
        # --shadow: "different"). A dry run of a live entry itself (run --dry-run, plan) has
        # no live sibling and rehearses the live entry's own first sync.
        siblings = live_siblings(helpdesks, hd)
        if copy.helpdesk_status(hd.name)["last_ok"] is None:
            done = [ok for name in siblings if (ok := live.helpdesk_status(name)["last_ok"])]
            if done:
                copy.set_helpdesk_status(hd.name, last_ok=max(done))
        copy.follow_changes()
        moves = {} if siblings else _resume_rehearsal(copy, hd.name)
        PROGRESS[copy] = Progress(progress_name(helpdesks, hd), shadow=bool(siblings), moves=moves)
        return copy

    def raced(self, helpdesks: list[HelpdeskConfig], hd: HelpdeskConfig,
              live: Store) -> Callable[[str, datetime], bool] | None:
        siblings = live_siblings(helpdesks, hd)
        return raced_with(live, siblings) if siblings else None

    def deadline(self, deadline: timedelta | None) -> timedelta | None:
        # The poll interval bounds a cycle so that new changes are read before old work is
        # written; a plan writes nothing, and a late plan is an incomplete one.
        return None

    def settle(self, store: Store, live: Store, helpdesk: str, *, since: datetime) -> int:
        copied = copy_plans(store, live, helpdesk, since=since)
        kept = PROGRESS.get(store)
        if kept is not None:
            # A rehearsal's first hand-over replaces what an earlier one left under its name.
            store.hand_over(helpdesk, live, kept.name, everything=not kept.shadow and not kept.handed)
            kept.handed = True
        return copied


def _resume_rehearsal(copy: Store, name: str) -> dict[str, dict[tuple[str, int, int], datetime]]:
    """A rehearsal newer than its entry's live progress goes on where it stopped: its own
    progress ("NAME (dry run)") becomes the copy's, and the moves it planned are remembered
    (QA, a multi-day `dry_run: true` rehearsal: a restart began it again half-way, with a
    second first sync and a second, partial set of moves, ticket 10 at L3 and then "L1 ->
    L2" again). One older than the live progress (the entry went live since) is not resumed:
    the rehearsal starts from the live entry, as the next live cycle would."""
    rehearsal = dry_progress_name(name)
    rehearsed, went_live = copy.helpdesk_status(rehearsal)["last_ok"], copy.helpdesk_status(name)["last_ok"]
    if rehearsed is None or (went_live is not None and went_live >= rehearsed):
        return {}
    copy.hand_over(rehearsal, copy, name, everything=True)
    moves: dict[str, dict[tuple[str, int, int], datetime]] = {}
    for plan in copy.plans(name, since=went_live):
        if plan.created_at is not None:
            moves.setdefault(plan.ticket_id, {}).setdefault((plan.kind, plan.tier_before, plan.tier_after),
                                                            plan.created_at)
    return moves


@dataclass
class Progress:
    """Where a dry run's private copy keeps its progress in the live state (DryRun.settle),
    and the moves it planned since it started, per ticket: (kind, tier before, tier after) ->
    when it was first planned."""

    name: str
    shadow: bool
    handed: bool = False
    moves: dict[str, dict[tuple[str, int, int], datetime]] = field(default_factory=dict)


def _moved_up_before(moves: dict[tuple[str, int, int], datetime], intent: Intent) -> datetime | None:
    """A move up this dry run already planned from the tier the ticket still reads (nothing
    was written, so its tags still say that tier): the live daemon, which wrote the first
    move, would never make a second one from there (QA: a rehearsal planned L1 -> L2 by a
    criterion, then L1 -> L2 again by the agent's manual tag two hours later, with a second
    customer reply). A move higher than the planned one is still planned (an outage that
    came later). When it was planned, or None."""
    if intent.tier_after <= intent.tier_before:
        return None
    return min((at for (kind, before, after), at in moves.items()
                if kind == intent.kind and before == intent.tier_before and after >= intent.tier_after), default=None)


# The daemon's dry-run copies (DryRun.state) and their progress; `tierlift plan`'s copy is
# not one of them: a one-off rehearsal keeps nothing.
PROGRESS: WeakKeyDictionary[Store, Progress] = WeakKeyDictionary()
_DECIDED_AGAIN: set[tuple[str, str, str | None]] = set()  # (entry, policy digest, model) a dry run decided again under
# Decisions a policy repeats on purpose (an update duty every N hours): never "planned before".
REPEATING = frozenset({"reminder"})

LIVE, DRY_RUN = Live(), DryRun()


def mode_for(hd: HelpdeskConfig) -> Live:
    """The choice, made once per helpdesk entry."""
    return DRY_RUN if hd.dry_run else LIVE


def entry_mode(hd: HelpdeskConfig) -> str:
    """How an entry runs, "live" or "dry run" (what a reload compares)."""
    return "dry run" if mode_for(hd) is DRY_RUN else "live"


def run_label(config: Config) -> str:
    """The run as the start line names it: dry-run when every entry is dry (QA: a config whose
    only entry had `dry_run: true` started with `mode=live`), live with the dry entries named
    when some are."""
    dry = [hd.name for hd in config.helpdesks if hd.dry_run]
    if config.dry_run or (dry and len(dry) == len(config.helpdesks)):
        return DRY_RUN.label
    return f"{LIVE.label} (dry run: {', '.join(dry)})" if dry else LIVE.label


def copy_plans(private: Store, live: Store, helpdesk: str, *, since: datetime) -> int:
    """Copy a dry run's plans of one cycle (never its ledger) to the live state's plans."""
    copied = 0
    for intent in private.plans(helpdesk, since=since):
        if live.record_plan(replace(intent, detail=intent.detail or "dry-run")):
            copied += 1
    return copied


def progress_name(helpdesks: list[HelpdeskConfig], hd: HelpdeskConfig) -> str:
    """Where the live state keeps the progress of the dry entry `hd`: a shadow's own name;
    for a dry run without a live sibling, whose name is the live entry's (run --dry-run),
    "NAME (dry run)", so that the live entry's own cursor and index are never touched."""
    return hd.name if live_siblings(helpdesks, hd) else dry_progress_name(hd.name)


def dry_progress_name(name: str) -> str:
    """The name a rehearsal of entry `name` keeps its progress under (status reads it)."""
    return f"{name} (dry run)"


def live_siblings(helpdesks: list[HelpdeskConfig], hd: HelpdeskConfig) -> list[str]:
    """The live helpdesk entries on the same helpdesk as the shadow `hd` (same kind and URL)."""
    return [h.name for h in helpdesks
            if h.name != hd.name and not h.dry_run and h.kind == hd.kind and h.url.rstrip("/") == hd.url.rstrip("/")]


def raced_with(live: Store, siblings: list[str]) -> Callable[[str, datetime], bool]:
    """Whether one of the live entries beside a shadow moved the ticket at or after a time
    (the shared journal: the shadow's private copy does not see the live side's new rows)."""

    def raced(ticket_id: str, since: datetime) -> bool:
        # The live side's own moves of this one ticket (a person's move is not a race).
        return any(m.at >= since and not m.human for name in siblings for m in live.ledger_moves(name, ticket_id))

    return raced
