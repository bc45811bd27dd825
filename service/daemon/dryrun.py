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
  there). A dry entry beside a live entry on the same helpdesk (a shadow) also
  takes the decisions the live side beat it to (`raced_with`,
  cycle.HelpdeskCycle._decide_raced).

Both appliers answer the same interface (writes.Applier), so the cycle has one
path for both.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

from tierlift.engine.evaluate import apply_decision
from tierlift.engine.model import Decision, Ticket
from tierlift.service.daemon.config import Config, HelpdeskConfig
from tierlift.service.daemon.state import Store
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
        intent = replace(new_intent(p.cfg.name, esc_id, ticket, decision, now), detail=p.golive.detail("dry-run"))
        if p.store.record_plan(intent):
            stats.planned += 1
            self.report(decision)
        if p.keep_decisions:
            stats.decisions.append(decision)  # a plan lists every decision, also one journaled before
        # The ticket as it would read goes on to the cascade check (the state is a private copy).
        return apply_decision(ticket, decision, now)

    def remember_markers(self, ticket: Ticket, now: datetime) -> None:
        """The ledger read from note markers is the live journal's to keep, not a plan's."""

    def wake_up(self, ticket: Ticket, wake: datetime | None, acted: bool, now: datetime) -> datetime | None:
        """Nothing was applied, so an acted-on open ticket still needs its decision: look again soon."""
        return now + RECHECK if acted and not ticket.is_closed else wake


class Live:
    """A live entry: its decisions are written to the helpdesk through the live journal."""

    label = "live"

    def applier(self, parts: Parts) -> Applier:
        return JournaledWrites(parts, reporter(parts.cfg, parts.metrics, parts.on_decision, dry_run=False))

    def state(self, live: Store, hd: HelpdeskConfig, helpdesks: list[HelpdeskConfig]) -> Store:
        return live

    def raced(self, helpdesks: list[HelpdeskConfig], hd: HelpdeskConfig,
              live: Store) -> Callable[[str, datetime], bool] | None:
        return None

    def deadline(self, deadline: timedelta | None) -> timedelta | None:
        return deadline

    def settle(self, store: Store, live: Store, helpdesk: str, *, since: datetime) -> int:
        return 0


class DryRun(Live):
    """A dry entry: decisions planned on a private copy of the state, copied back as planned rows."""

    label = "dry-run"

    def applier(self, parts: Parts) -> Applier:
        return Planner(parts)

    def state(self, live: Store, hd: HelpdeskConfig, helpdesks: list[HelpdeskConfig]) -> Store:
        copy = live.snapshot()
        # A shadow beside a live entry is past its first sync once the live entry is: its
        # private copy is made anew at every start, so each start was a quiet first sync
        # again, its plans without the pages the live entry sends for the same decision
        # (report --shadow: "different"). A dry run of a live entry itself (run --dry-run,
        # plan) has no live sibling and rehearses the live entry's own first sync.
        if copy.helpdesk_status(hd.name)["last_ok"] is None:
            done = [ok for name in live_siblings(helpdesks, hd) if (ok := live.helpdesk_status(name)["last_ok"])]
            if done:
                copy.set_helpdesk_status(hd.name, last_ok=max(done))
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
        return copy_plans(store, live, helpdesk, since=since)


LIVE, DRY_RUN = Live(), DryRun()


def mode_for(hd: HelpdeskConfig) -> Live:
    """The choice, made once per helpdesk entry."""
    return DRY_RUN if hd.dry_run else LIVE


def run_label(config: Config) -> str:
    """The run as the start line names it."""
    return DRY_RUN.label if config.dry_run else LIVE.label


def copy_plans(private: Store, live: Store, helpdesk: str, *, since: datetime) -> int:
    """Copy a dry run's plans of one cycle (never its ledger) to the live state's plans."""
    copied = 0
    for intent in private.plans(helpdesk, since=since):
        if live.record_plan(replace(intent, detail=intent.detail or "dry-run")):
            copied += 1
    return copied


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
