"""Printing a plan: per ticket, the tier change, the rule, the note and the notifications."""

from __future__ import annotations

import json
import logging
import sys
from pathlib import Path
from typing import TextIO

from tierlift.engine.model import Action, Decision, InternalNote, Notify, PublicReply
from tierlift.service.daemon.clock import make_clock
from tierlift.service.daemon.config import Config, HelpdeskConfig, load_config
from tierlift.service.daemon.cycle import CycleStats, HelpdeskCycle
from tierlift.service.daemon.dryrun import DRY_RUN
from tierlift.service.daemon.runner import setup_logging_for
from tierlift.service.daemon.state import StateStore, Store, open_store, state_exists
from tierlift.service.ops.notify import Escalation, bare_channels, without_words
from tierlift.service.ops.redact import redact


def print_plan(results: list[tuple[HelpdeskConfig, CycleStats]], *, as_json: bool, out: TextIO,
               failed: dict[str, str] | None = None, bare: frozenset[str] = frozenset()) -> None:
    """Text, or JSON Lines: one decision per line, then one summary record.

    The summary (`{"summary": true, ...}`) comes last, so a reader that stops
    at it knows the plan was not cut off; it names the helpdesks that could not be
    planned (`failed`), so a plan that left one out does not read as whole.
    A ticket may have several decisions in one cycle (a cascade): tickets are counted
    once ("13 ticket(s)" was said of 12).
    """
    failed = failed or {}
    if as_json:
        _print_json(results, out, failed)
        return
    for hd, stats in results:
        # "read" is the tickets changed since the cursor; the due ones come from the index (QA,
        # going live: "12 tickets read, 27 would change" read as impossible).
        out.write(f"helpdesk {hd.name} ({hd.kind}, policy {hd.policy.name}): {stats.read} changed ticket(s) read,"
                  f" {stats.due} due from the index; {_tickets(stats)} would change ({len(stats.decisions)}"
                  " decisions)\n")
        for d in stats.decisions:
            _print_decision(d, out, hd.name, bare)
        _print_held(stats, out)
        out.write("\n")
    total = sum(_tickets(s) for _, s in results)
    out.write(f"plan: {total} ticket(s) would change; nothing was written (dry-run)\n")
    if failed:
        out.write(f"not planned (see above): {', '.join(sorted(failed))}\n")


def _tickets(stats: CycleStats) -> int:
    return len({d.ticket_id for d in stats.decisions})


def _print_held(stats: CycleStats, out: TextIO) -> None:
    """What the go-live limits hold back: a quiet first sync's replies and pages, the reply cap's waits."""
    if not stats.held:
        return
    out.write(f"\n  held back ({len(stats.held)} ticket(s)):\n")
    for ticket, what in stats.held.items():
        out.write(f"    ticket {ticket}: {'; '.join(what)}\n")


def _print_json(results: list[tuple[HelpdeskConfig, CycleStats]], out: TextIO, failed: dict[str, str]) -> None:
    for hd, stats in results:
        for d in stats.decisions:
            row = {"helpdesk": hd.name, **d.to_dict(), "dry_run": True, "held_back": stats.held.get(d.ticket_id, [])}
            out.write(redact(json.dumps(row, ensure_ascii=False)) + "\n")
    summary = {"summary": True, "dry_run": True, "would_change": sum(len(s.decisions) for _, s in results),
               "tickets": sum(_tickets(s) for _, s in results), "complete": not failed, "failed": failed,
               "helpdesks": {hd.name: {"read": stats.read, "due": stats.due, "would_change": len(stats.decisions),
                                       "tickets": _tickets(stats), "held_back": stats.held} for hd, stats in results}}
    out.write(redact(json.dumps(summary)) + "\n")


def _print_decision(d: Decision, out: TextIO, helpdesk: str = "", bare: frozenset[str] = frozenset()) -> None:
    """`bare`: the channels sent none of the ticket's words, shown as they would be sent (QA, a
    privacy auditor: plan showed the ticket's subject for a `customer_words: false` channel)."""
    out.write(f"\n  ticket {d.ticket_id}: L{d.tier_before} -> L{d.tier_after}  rule {d.rule}  ({d.kind})\n")
    for r in d.reasons[-1:]:
        out.write(f"    why: {r}\n")
    for a in d.actions:
        if isinstance(a, InternalNote):
            out.write("    note:\n" + "".join(f"      | {line}\n" for line in a.body.splitlines()))
        elif isinstance(a, PublicReply):
            out.write("    public reply:\n" + "".join(f"      > {line}\n" for line in a.body.splitlines()))
        elif isinstance(a, Notify):
            subject = a.subject if a.channel not in bare else without_words(a.subject, Escalation(
                helpdesk, d.ticket_id, "", d.tier_before, d.tier_after, d.rule or "", "", ""))[0]
            out.write(f"    notify {a.channel}: {subject}\n")
        else:
            out.write(f"    {a.type}: {_short(a)}\n")


def _short(action: Action) -> str:
    for name in ("team", "tags", "priority", "flag"):
        if hasattr(action, name):
            v = getattr(action, name)
            return ", ".join(v) if isinstance(v, tuple) else str(v)
    return ""


def plan(config_path: Path, *, as_json: bool = False, helpdesk: str | None = None) -> int:
    """One dry-run cycle on a private copy of the daemon's state: the plan starts from
    the live cursor, ledger, tier starts and index, so it predicts what the next
    `run --once` does, and nothing of the live state is written."""
    from tierlift.service.daemon.connect import make_connector

    cfg = load_config(config_path)
    setup_logging_for(cfg, None, False)
    logging.getLogger("tierlift.cycle").setLevel(logging.WARNING)
    clock = make_clock(cfg)
    selected = [h for h in cfg.helpdesks if helpdesk in (None, h.name)]
    if not selected:
        print(f"{config_path}: no helpdesk named {helpdesk!r}", file=sys.stderr)
        return 2
    results: list[tuple[HelpdeskConfig, CycleStats]] = []
    failed: dict[str, str] = {}
    for hd in selected:
        store = _private_state(cfg)
        try:
            connector = make_connector(hd, None)
            connector.open()
            cycle = HelpdeskCycle(hd, connector, store, mode=DRY_RUN, keep_decisions=True)
            stats = cycle.run(clock.now())
            results.append((hd, stats))
            connector.close()
        except Exception as exc:
            failed[hd.name] = f"{exc.__class__.__name__}: {redact(str(exc))}"
            print(f"helpdesk {hd.name}: {failed[hd.name]}", file=sys.stderr)
        finally:
            store.close()
    print_plan(results, as_json=as_json, out=sys.stdout, failed=failed, bare=bare_channels(cfg))
    return 1 if failed else 0


def _private_state(cfg: Config) -> Store:
    """A copy of the live state in memory (an empty one before the daemon first ran)."""
    if not state_exists(cfg):
        return StateStore(":memory:")
    live = open_store(cfg, migrate=False)
    try:
        return live.snapshot()
    finally:
        live.close()
