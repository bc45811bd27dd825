"""Printing a plan: per ticket, the tier change, the rule, the note and the notifications."""

from __future__ import annotations

import json
from typing import TextIO

from tierlift.engine.model import InternalNote, Notify, PublicReply
from tierlift.service.redact import redact


def print_plan(results, *, as_json: bool, out: TextIO) -> None:
    if as_json:
        for hd, stats in results:
            for d in stats.decisions:
                row = {"helpdesk": hd.name, **d.to_dict(), "dry_run": True}
                out.write(redact(json.dumps(row, ensure_ascii=False)) + "\n")
        return
    for hd, stats in results:
        out.write(f"helpdesk {hd.name} ({hd.kind}, policy {hd.policy.name}): {stats.read} tickets read, "
                  f"{len(stats.decisions)} would change\n")
        for d in stats.decisions:
            out.write(f"\n  ticket {d.ticket_id}: L{d.tier_before} -> L{d.tier_after}  rule {d.rule}  ({d.kind})\n")
            for r in d.reasons[-1:]:
                out.write(f"    why: {r}\n")
            for a in d.actions:
                if isinstance(a, InternalNote):
                    out.write("    note:\n" + "".join(f"      | {line}\n" for line in a.body.splitlines()))
                elif isinstance(a, PublicReply):
                    out.write("    public reply:\n" + "".join(f"      > {line}\n" for line in a.body.splitlines()))
                elif isinstance(a, Notify):
                    out.write(f"    notify {a.channel}: {a.subject}\n")
                else:
                    out.write(f"    {a.type}: {_short(a)}\n")
        out.write("\n")
    total = sum(len(s.decisions) for _, s in results)
    out.write(f"plan: {total} ticket(s) would change; nothing was written (dry-run)\n")


def _short(action) -> str:
    for name in ("team", "tags", "priority", "flag"):
        if hasattr(action, name):
            v = getattr(action, name)
            return ", ".join(v) if isinstance(v, tuple) else str(v)
    return ""
