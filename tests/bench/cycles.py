"""API cost, cycle times and memory: tierlift's cycle and the naive poller on the same data.

The data: the sandbox's generated tickets (seed 7), ages spread by up to 6 h,
at Monday 08:00 in New York (13:00 UTC), before business hours: the shipped
policies' SLA clocks have not started, so a first sync reads and evaluates
every ticket and writes only for content rules (a few dozen). That keeps the
first sync a measure of reading and evaluating; writes are measured on their
own (`writes_per_escalation`, in business hours, where thousands are due).

A cycle is one command to the party's process; between cycles the sandbox
clock moves as a poll interval would (30 s when idle; 61 s after churn, since
the Zendesk export withholds the last minute). One unmeasured cycle after the
first sync lets the tickets it wrote come back through the export. Churn is a customer follow-up
on 1% of the open tickets (POST /_sandbox/churn); then each churn cycle's
tickets follow up again, a cycle each (their second follow-up, `churn_again_reads`).
Requests are the sandbox log's, reset before each cycle.

    python tests/bench/cycles.py [TICKETS] [--cycles N] [--flavor jira]     tierlift on Zendesk (or Jira), one run
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from benchkit import (
    Child,
    SandboxProcess,
    median,
    policy_without_reply,
    write_config,
    writes_per_escalation,
)

BEFORE_HOURS = datetime(2026, 11, 2, 13, 0, tzinfo=UTC)  # Monday 08:00 in New York
IN_HOURS = datetime(2026, 11, 2, 19, 0, tzinfo=UTC)  # Monday 14:00 in New York
SPREAD = 6 * 3600
SEED = 7


@dataclass
class Cycles:
    """One party's figures on one data set, medians over runs and cycles."""

    first_seconds: list[float] = field(default_factory=list)
    first_sandbox_seconds: list[float] = field(default_factory=list)
    first_reads: list[int] = field(default_factory=list)
    idle_reads: list[int] = field(default_factory=list)
    idle_writes: list[int] = field(default_factory=list)
    idle_seconds: list[float] = field(default_factory=list)
    churn_reads: list[int] = field(default_factory=list)
    churn_writes: list[int] = field(default_factory=list)
    churn_seconds: list[float] = field(default_factory=list)
    churn_again_reads: list[int] = field(default_factory=list)  # the same tickets' second follow-up
    seen: list[int] = field(default_factory=list)
    open: list[int] = field(default_factory=list)  # open tickets, as the naive poller's search counts them
    rss_mb: list[float] = field(default_factory=list)

    def summary(self) -> dict[str, Any]:
        return {k: median(v) for k, v in vars(self).items() if v}


def cycle(sb: SandboxProcess, party: Child) -> tuple[dict[str, Any], dict[str, Any]]:
    """One cycle of the party: (its answer, the sandbox's request stats for that cycle)."""
    sb.reset()
    answer = party.send("cycle")
    return answer, sb.stats()


FOLLOWUPS_KEPT = 20_000


@contextmanager
def synced(flavor: str, n: int, *, naive: bool = False, policy: str = "three-tier", now: datetime = BEFORE_HOURS,
           extra: dict[str, Any] | None = None, settle: bool = True) -> Iterator[tuple[SandboxProcess, Child, dict]]:
    """A sandbox with `n` tickets and a party (tierlift's worker or the naive poller) after its first sync.

    Yields (sandbox, party, first sync figures). With `settle`, one more cycle a minute
    later lets the tickets the first sync wrote come back through the export (tierlift's
    own changes), so that the next cycle is an idle one.
    """
    with tempfile.TemporaryDirectory(prefix="tierlift-bench-") as tmp, \
            SandboxProcess(flavor, n, seed=SEED, now=now, spread=SPREAD) as sb:
        if policy == "no-reply":
            policy = str(policy_without_reply(Path(tmp)))
        if naive:
            party = Child("naive_poller.py", sb.url, policy)
        else:
            # Zendesk follow-ups through the ticket events stream are opt-in (audit_cache):
            # the benchmarks measure them on.
            kept = {"audit_cache": FOLLOWUPS_KEPT} if flavor == "zendesk" else {}
            party = Child("worker.py", str(write_config(Path(tmp), sb.url, flavor, policy, **(kept | (extra or {})))))
        with party:
            answer, st = cycle(sb, party)
            first = {"seconds": answer["seconds"], "sandbox_seconds": st["seconds"], "reads": st["reads"],
                     "log": sb.log() if not settle else None}
            if settle:
                sb.clock(advance=61)
                cycle(sb, party)
            yield sb, party, first


def run_party(flavor: str, n: int, *, naive: bool, cycles: int, out: Cycles, policy: str = "three-tier",
              extra: dict[str, Any] | None = None) -> None:
    """One run: a fresh sandbox and state, a first sync, idle cycles, churn cycles."""
    with synced(flavor, n, naive=naive, policy=policy, extra=extra) as (sb, party, first):
        out.first_seconds.append(first["seconds"])
        out.first_sandbox_seconds.append(first["sandbox_seconds"])
        out.first_reads.append(first["reads"])
        for _ in range(cycles):
            sb.clock(advance=30)
            answer, st = cycle(sb, party)
            out.idle_reads.append(st["reads"])
            out.idle_writes.append(st["writes"])
            out.idle_seconds.append(answer["seconds"])
            if naive:
                out.seen.append(answer["seen"])
                out.open.append(answer["open"])
        picked = []
        for k in range(cycles):
            picked.append(sb.churn(max(1, n // 100), seed=1000 + k))
            sb.clock(advance=61)
            answer, st = cycle(sb, party)
            out.churn_reads.append(st["reads"])
            out.churn_writes.append(st["writes"])
            out.churn_seconds.append(answer["seconds"])
        for again in picked:  # Zendesk: their audits are kept, the ticket events stream brings the rest
            sb.churn(0, seed=0, ids=again)
            sb.clock(advance=61)
            out.churn_again_reads.append(cycle(sb, party)[1]["reads"])
        out.rss_mb.append(answer["rss_mb"])


def writes_per_escalation_run(flavor: str, n: int, *, policy: str, naive: bool = False,
                              extra: dict[str, Any] | None = None) -> dict[str, Any]:
    """Write requests per tier move, in business hours (thousands of tickets are due at once)."""
    with synced(flavor, n, naive=naive, policy=policy, now=IN_HOURS, extra=extra, settle=False) as (_, _p, first):
        per, moves, tickets = writes_per_escalation(first["log"])
    return {"writes_per_escalation": per, "escalations": moves, "tickets": tickets}


if __name__ == "__main__":
    import argparse
    import json

    ap = argparse.ArgumentParser(description="tierlift's requests per cycle on a sandbox helpdesk, one run")
    ap.add_argument("tickets", type=int, nargs="?", default=10_000)
    ap.add_argument("--cycles", type=int, default=5)
    ap.add_argument("--flavor", choices=("zendesk", "jira"), default="zendesk")
    args = ap.parse_args()
    c = Cycles()
    run_party(args.flavor, args.tickets, naive=False, cycles=args.cycles, out=c)
    print(json.dumps({"flavor": args.flavor, "tickets": args.tickets, **{k: v for k, v in vars(c).items() if v}},
                     default=str))
