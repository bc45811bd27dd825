"""Engine throughput: decisions per second per pack, first evaluations vs wake-ups.

    python tests/engine/bench_engine.py [--tickets 10000] [--runs 5]

First evaluation: a ticket seen for the first time (every condition runs,
text included). Wake-up: the same, unchanged ticket evaluated again later
(content-only results are reused per ticket version). Prints the median of
several runs; one core (the benchmark is single-threaded), timed in process
CPU time so that other work on a shared machine does not count against it.

Each pack is measured twice: without a text classifier, and with the one the daemon
gives a pack that asks for one (service/daemon/triage.py: the shipped model, its cache
by content); a run starts with an empty cache, so a first evaluation pays the model.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import time
from datetime import UTC, datetime, timedelta

from tierlift.engine.evaluate import Evaluator
from tierlift.engine.model import Organization, Ticket
from tierlift.engine.triage import Classifier
from tierlift.service.daemon.policies import load_policy
from tierlift.service.daemon.triage import shipped_model, uses_triage
from tierlift.triage.model import CachedClassifier

WORDS = ("the a our we you it export report dashboard login page error slow button users team account "
         "integration api sync data file upload download settings password reset invoice plan feature "
         "works broken again today yesterday customer support please help thanks urgent issue problem").split()
SPICE = ["data breach", "outage", "speak to a manager", "refund of $1,500", "lawsuit", "still broken after 3 attempts",
         "cancel our subscription", "unauthorized access", "invoice", "feature request"]


def make_tickets(n: int, seed: int = 1) -> list[Ticket]:
    rng = random.Random(seed)
    base = datetime(2026, 11, 2, 14, 0, tzinfo=UTC)
    plans = ["basic", "pro", "enterprise"]
    out = []
    for i in range(n):
        words = [rng.choice(WORDS) for _ in range(180)]
        if rng.random() < 0.15:
            words.insert(rng.randrange(len(words)), rng.choice(SPICE))
        desc = " ".join(words)[:1024]
        created = base - timedelta(minutes=rng.randrange(0, 3000))
        tags = set()
        if rng.random() < 0.05:
            tags.add(rng.choice(["p0", "p1", "p2", "p3"]))
        org = Organization(str(i % 50), f"Org {i % 50}", plans[i % 3], float(rng.randrange(1000, 150000)),
                           float(rng.randrange(20, 100)), None)
        out.append(Ticket(id=str(i), subject=" ".join(rng.choice(WORDS) for _ in range(6)), description=desc,
                          status="open", created_at=created, updated_at=created, version=f"v{i}",
                          tags=frozenset(tags), organization=org))
    return out


def bench(policy_name: str, tickets: list[Ticket], runs: int, triage: bool) -> tuple[float, float] | None:
    """Median first evaluations/s and wake-ups/s; None when `triage` is asked of a pack
    that reads with no classifier."""
    policy = load_policy(policy_name)
    if triage and not uses_triage(policy):
        return None
    now = datetime(2026, 11, 2, 15, 0, tzinfo=UTC)
    first, wake = [], []
    for _ in range(runs):
        # As the daemon reads (service/daemon/triage.py:classifier_for), with a cold cache.
        classifier: Classifier | None = CachedClassifier(shipped_model()) if triage else None
        ev = Evaluator(policy, classifier=classifier)
        t0 = time.process_time()
        for t in tickets:
            ev.evaluate(t, now)
        first.append(len(tickets) / (time.process_time() - t0))
        later = now + timedelta(minutes=7)
        t0 = time.process_time()
        for t in tickets:
            ev.evaluate(t, later)
        wake.append(len(tickets) / (time.process_time() - t0))
    return statistics.median(first), statistics.median(wake)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--tickets", type=int, default=10_000)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--policies", default="three-tier,teamflow,two-tier")
    args = ap.parse_args(argv)
    tickets = make_tickets(args.tickets)
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())  # the machine may be shared: say how busy it was
    print(f"engine decisions/s, {args.tickets} tickets with ~1 KB descriptions, median of {args.runs} runs"
          f" (load average {load})")
    print(f"{'policy':<12} {'triage':<7} {'first evaluation':>18} {'wake-up':>12}")
    for name in args.policies.split(","):
        for triage in (False, True):
            found = bench(name, tickets, args.runs, triage)
            if found is None:
                print(f"{name:<12} {'with':<7} {'(the pack asks no triage)':>32}")
                continue
            f, w = found
            print(f"{name:<12} {'with' if triage else 'without':<7} {f:>16,.0f}/s {w:>10,.0f}/s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
