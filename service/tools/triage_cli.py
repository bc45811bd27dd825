"""The `tierlift triage` actions over a configuration: read the history, learn, list, accept.

Reading: the helpdesk's connector from `--since` ago (the same export the daemon polls),
closed tickets only; comments are read only for the tickets whose label needs tierlift's
note markers (a tier above L1 and no agent answer on the ticket): a handful of reads.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import TextIO

from tierlift.engine.durations import DurationError
from tierlift.engine.errors import TierliftError
from tierlift.engine.model import Ticket
from tierlift.engine.policy import Policy
from tierlift.engine.yamlsrc import InvalidFile, Problem
from tierlift.service.daemon.config import Config, HelpdeskConfig, load_config
from tierlift.service.daemon.connect import make_connector
from tierlift.service.daemon.state import Store, open_for_tool
from tierlift.service.daemon.triage import (
    UnknownTriageModel,
    chosen_classifier,
    chosen_model,
    shipped_classifier,
    uses_triage,
)
from tierlift.service.ops.redact import redact
from tierlift.service.tools.clock import tool_now
from tierlift.service.tools.triage_learn import MIN_SCORED, Shift, learn, shifts, urgent_categories

EXIT_OK, EXIT_FAIL, EXIT_BAD_INPUT = 0, 1, 2


def run(args: argparse.Namespace, out: TextIO) -> int:
    cfg = load_config(Path(args.config))
    helpdesks = _chosen(cfg, args.config, getattr(args, "helpdesk", None))
    with open_for_tool(cfg, writes=args.triage_command != "eval") as store:
        if args.triage_command == "learn":
            return _learn_all(args, cfg, helpdesks, store, out)
        if args.triage_command == "eval":
            for hd in helpdesks:
                _list(hd, store, out)
            return EXIT_OK
        if args.triage_command == "forget":
            return _forget(args.model, helpdesks[0], store, out)
        return _accept(args, helpdesks[0], store, out)


def _forget(model: str, hd: HelpdeskConfig, store: Store, out: TextIO) -> int:
    """Delete saved refits: their figures keep the text of the tickets they were scored on and
    their arrays the words they learnt (QA, a data-protection officer: an erased customer's
    words stayed in the state, with no way to remove them). The one in use is refused."""
    in_use = store.accepted_triage_model(hd.name)
    if model != "all" and model == in_use:
        print(f"tierlift triage forget: helpdesk {hd.name} reads with {model}; take another into use first"
              " (`tierlift triage accept ... shipped`)", file=sys.stderr)
        return EXIT_BAD_INPUT
    gone = store.forget_triage_models(hd.name, None if model == "all" else model)
    if model != "all" and not gone:
        print(f"tierlift triage forget: helpdesk {hd.name} has no saved refit {model!r} (`tierlift triage eval`"
              " lists them)", file=sys.stderr)
        return EXIT_BAD_INPUT
    kept = f"; {in_use}, in use, is kept" if model == "all" and in_use else ""
    out.write(f"helpdesk {hd.name}: {gone} saved refit(s) deleted{kept}\n")
    return EXIT_OK


def _accept(args: argparse.Namespace, hd: HelpdeskConfig, store: Store, out: TextIO) -> int:
    setting = hd.options.triage_model
    if setting != "accepted":
        # The entry's setting decides what it reads: accepting for it used to print "now reads
        # with ..." and change nothing the daemon does.
        print(f"tierlift triage accept: helpdesk {hd.name} reads with its `triage_model: {setting}` setting,"
              " whatever is accepted for it; nothing was changed (set `triage_model: accepted`, or remove the"
              " setting, for this entry to read with the refit accepted for it)", file=sys.stderr)
        return EXIT_BAD_INPUT
    model = None if args.model == "shipped" else _model_id(store, hd, args.model)
    if model is not None:
        refused = _before_switching(args, hd, store, model, out)
        if refused is not None:
            return refused
    if not store.accept_triage_model(hd.name, model):
        print(f"tierlift triage accept: helpdesk {hd.name} has no learnt model {args.model!r} "
              "(`tierlift triage eval` lists them)", file=sys.stderr)
        return EXIT_BAD_INPUT
    out.write(f"helpdesk {hd.name} now reads with {model or 'shipped'}; the running daemon takes it at its next"
              " cycle\n")
    return EXIT_OK


def _model_id(store: Store, hd: HelpdeskConfig, named: str) -> str:
    """The id `named` stands for: `latest` is the newest refit learnt for the helpdesk (QA: it
    printed what it changes, then was refused as no learnt model 'latest')."""
    if named != "latest":
        return named
    try:
        found = chosen_model(store, hd.name, "latest")
    except UnknownTriageModel:
        return named  # refused by the caller: no learnt model
    return found[1] if found is not None else named


def _before_switching(args: argparse.Namespace, hd: HelpdeskConfig, store: Store, model_id: str,
                      out: TextIO) -> int | None:
    """Show what the refit changes on the helpdesk's recent tickets against the model in use,
    and refuse it (unless --force) when it escalates fewer urgent tickets outright or was
    scored on too few of a category to tell. An accepted refit once turned three paged
    escalations into reviews (security 0.83 -> 0.59) while learn's figures, read at 0.5, were
    the same for both; a refit scored on one refund was accepted without a word."""
    try:
        refit = chosen_classifier(store, hd.name, f"{hd.name}/{model_id}")
        figures = (chosen_model(store, hd.name, f"{hd.name}/{model_id}") or ("", "", {}))[2]
    except UnknownTriageModel:
        return None  # said by the caller: no such learnt model
    in_use, told = chosen_classifier(store, hd.name) or shipped_classifier(), _reads(hd, store)[1]
    recent = figures.get("recent")
    if refit is None or not recent:
        reasons = ["it was learnt before accept could compare it (learn it again)"]
    else:
        rows = shifts(in_use, refit, recent, hd.policy)
        out.write(_shift_table(model_id, told, rows, len(recent)))
        reasons = _worse(rows, hd.policy, told)
    if not reasons:
        return None
    force = getattr(args, "force", None)
    if force:
        out.write(f"accepted anyway (--force): {'; '.join(reasons)}\n")
        return None
    how = "`--force` takes it anyway" if force is not None else f"set `triage_model: {model_id}` on the entry"
    print(f"tierlift triage accept: {model_id} not accepted for helpdesk {hd.name}: {'; '.join(reasons)};"
          f" nothing was changed ({how})", file=sys.stderr)
    return EXIT_FAIL


def _shift_table(model_id: str, told: str, rows: dict[str, Shift], n: int) -> str:
    lines = [f"what {model_id} changes on the helpdesk's {n} recent tickets learn kept, against {told}"
             " (escalated outright: at the policy's threshold):",
             f"  {'category':<14} {'tickets':>7}  {'escalated outright':<20} {'escalated -> review/none':>24}"
             f" {'the reverse':>12}"]
    for cat, r in sorted(rows.items()):
        lines.append(f"  {cat:<14} {r.labelled:>7}  {f'{r.before} -> {r.after}':<20} {r.down:>24} {r.up:>12}")
    return "\n".join(lines) + "\n"


def _worse(rows: dict[str, Shift], policy: Policy, told: str) -> list[str]:
    reasons = []
    urgent = sorted(c for c in urgent_categories(policy) if c in rows)
    before, after = (sum(getattr(rows[c], side) for c in urgent) for side in ("before", "after"))
    if after < before:
        fewer = ", ".join(f"{c} {rows[c].before} -> {rows[c].after}" for c in urgent if rows[c].after < rows[c].before)
        reasons.append(f"it escalates fewer urgent tickets outright than {told} ({before} -> {after}: {fewer})")
    few = [f"{c} {r.labelled}" for c, r in sorted(rows.items()) if r.labelled < MIN_SCORED]
    if few:
        reasons.append(f"it was scored on too few tickets to tell ({', '.join(few)}; at least {MIN_SCORED} of each)")
    return reasons


def _learn_all(args: argparse.Namespace, cfg: Config, helpdesks: list[HelpdeskConfig], store: Store,
               out: TextIO) -> int:
    """Learn each helpdesk it can. One helpdesk with too little history (or down) used to stop
    the command before the others were read; now each failure is said and the exit is 1 at the end."""
    # The daemon's clock: a followed sandbox's (`--since 30d` was counted from the wall clock
    # and asked a sandbox in the past for its future: HTTP 400), or --now when given.
    now = _now(args.now) if getattr(args, "now", None) else tool_now(cfg)
    since = _since(args.since, now)
    failed: list[str] = []
    # An entry whose policy reads no text has nothing to learn: it was tried and counted a
    # failure (exit 1) while `triage eval` said it reads with no model (QA, a new adopter).
    readers = [hd for hd in helpdesks if uses_triage(hd.policy)]
    for hd in helpdesks:
        if hd not in readers:
            out.write(f"{hd.name}: skipped: its policy ({hd.policy.name}) has no triage conditions, so no model"
                      " reads for it\n")
    if not readers:
        print("tierlift triage learn: no helpdesk chosen reads with a model: nothing to learn", file=sys.stderr)
        return EXIT_FAIL
    for hd in readers:
        try:
            model_id, figures, blob = learn(hd.name, closed_tickets(hd, now - since, now), hd.policy, out)
        except (ValueError, TierliftError) as exc:
            reason = redact(str(exc))
            reason = reason if reason.startswith(f"helpdesk {hd.name}") else f"helpdesk {hd.name}: {reason}"
            print(f"tierlift triage learn: {reason}", file=sys.stderr)
            failed.append(hd.name)
            continue
        store.save_triage_model(hd.name, model_id, figures, blob)
        out.write(_saved(args, cfg, hd, store, model_id))
    if failed:
        print(f"tierlift triage learn: nothing learnt for {', '.join(failed)} (the reasons above)"
              + (f"; learnt for {', '.join(h.name for h in helpdesks if h.name not in failed)}"
                 if len(failed) < len(readers) else ""), file=sys.stderr)
        return EXIT_FAIL
    return EXIT_OK


def _saved(args: argparse.Namespace, cfg: Config, hd: HelpdeskConfig, store: Store, model_id: str) -> str:
    """The line for a saved refit: in use when an entry reads with it (a refit learnt again
    under the id already in use was told "not in use" while eval said "in use")."""
    readers = [h.name for h in cfg.helpdesks if _reads(h, store)[0] == (hd.name, model_id)]
    if readers:
        return f"saved {model_id} (in use: {', '.join(readers)} read{'s' if len(readers) == 1 else ''} with it)\n"
    if hd.options.triage_model != "accepted":
        return (f"saved {model_id} (not in use: helpdesk {hd.name} reads with its"
                f" `triage_model: {hd.options.triage_model}` setting)\n")
    return (f"saved {model_id} (not in use): `tierlift triage accept --config {args.config} "
            f"--helpdesk {hd.name} {model_id}` takes it into use; to try it first, add a dry-run"
            f" entry for the same helpdesk with `triage_model: {hd.name}/latest` and compare with"
            f" `tierlift report --shadow` (docs/triage.md)\n")


def _reads(hd: HelpdeskConfig, store: Store) -> tuple[tuple[str, str] | None, str]:
    """What the entry reads with, as the daemon picks it (its `triage_model` setting, then the
    refit accepted for it): ((helpdesk learnt for, model id) or None, how to say it)."""
    if not uses_triage(hd.policy):
        return None, "no model (its policy has no triage conditions)"
    setting = hd.options.triage_model
    why = "" if setting == "accepted" else f" (its `triage_model: {setting}` setting, whatever is accepted)"
    try:
        chosen = chosen_model(store, hd.name, setting)
    except UnknownTriageModel as exc:
        return None, f"nothing: {exc}; the daemon runs no cycle of this entry"
    if chosen is None:
        return None, f"the shipped model{why}"
    return (chosen[0], chosen[1]), f"{chosen[1]}{why}"


def _list(hd: HelpdeskConfig, store: Store, out: TextIO) -> None:
    models = store.triage_models(hd.name)
    reading, told = _reads(hd, store)
    accepted = store.accepted_triage_model(hd.name)
    out.write(f"helpdesk {hd.name}: reads with {told}\n")
    for m in models:
        mark = ("in use" if reading == (hd.name, m["model_id"])
                else "accepted, not read: the entry's setting decides" if m["model_id"] == accepted else "saved")
        f = m["figures"]
        out.write(f"  {m['model_id']} ({mark}, learnt {m['created_at']:%Y-%m-%d %H:%M} UTC from {f.get('tickets')} "
                  f"tickets, head weight {f.get('weight')})\n")
        for cat in sorted(f.get("learnt", {})):
            out.write(f"    {cat:<14} shipped {f['shipped'].get(cat, '-'):<30} learnt {f['learnt'][cat]}\n")
    if not models:
        out.write("  no learnt models (`tierlift triage learn` makes one)\n")


def closed_tickets(hd: HelpdeskConfig, start: datetime, end: datetime | None = None) -> Iterator[Ticket]:
    """The helpdesk's tickets created between `start` and `end` (when given) that are closed,
    with comments where the label needs tierlift's markers. `end` is learn's now: `--now
    2020-01-01` counted `--since` back from it and still learnt from the tickets of 2026."""
    options = hd.options.model_copy(update={"start_time": start})
    connector = make_connector(_with_options(hd, options))
    connector.open()
    try:
        for page in connector.changes(None):
            for t in page.tickets:
                if not t.is_closed or not _within(t, start, end):
                    continue
                if t.comments is None and t.tags & (hd.policy.tier_tags - {hd.policy.tier_tag(1)}):
                    t = connector.with_comments(t)
                yield t
    finally:
        connector.close()


def _within(t: Ticket, start: datetime, end: datetime | None) -> bool:
    """Created after `start`, and created and closed by `end` (a ticket solved after it was
    still open then)."""
    if t.created_at < start:
        return False
    return end is None or (t.created_at <= end and (t.solved_at is None or t.solved_at <= end))


def _with_options(hd: HelpdeskConfig, options: object) -> HelpdeskConfig:
    return HelpdeskConfig(hd.name, hd.kind, hd.url, hd.email, hd.token, hd.policy_ref, hd.policy, hd.dry_run,
                          hd.teams, options, hd.index, hd.lines)  # type: ignore[arg-type]


def _chosen(cfg: Config, source: str, name: str | None) -> list[HelpdeskConfig]:
    found = [h for h in cfg.helpdesks if name is None or h.name == name]
    if not found:
        names = ", ".join(h.name for h in cfg.helpdesks)
        raise InvalidFile([Problem(source, None, "helpdesks", f"no helpdesk named {name!r} (there are: {names})")])
    return found


def _since(text: str, now: datetime) -> timedelta:
    """How far back: a duration, or an ISO date or instant, as export and report take it (QA:
    `--since 2026-10-01` was refused here only)."""
    from tierlift.service.tools.report import parse_since

    try:
        start = parse_since(text, now)
    except (DurationError, ValueError):
        raise InvalidFile([Problem("--since", None, "", f"expected a duration such as 180d or an ISO date, got"
                                   f" {text!r}")]) from None
    if start >= now:
        raise InvalidFile([Problem("--since", None, "", f"{text!r} is not before now ({now:%Y-%m-%d %H:%M} UTC)")])
    return now - start


def _now(text: str | None) -> datetime:
    from tierlift.service.cli import _now as cli_now

    return cli_now(text)

