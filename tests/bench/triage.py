"""What reading costs: model load, memory, texts per second, and the engine with triage on
beside it off, on the engine benchmark's tickets (tests/engine/bench_engine.py).

    python tests/bench/triage.py [--tickets 3000] [--runs 3]

Load time and memory are measured in fresh subprocesses (median of 5); throughput is
process CPU time, so other work on a shared machine does not count against it. Every figure
is printed; nothing is asserted.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "engine"))

from bench_engine import make_tickets  # noqa: E402

from tierlift.engine.conditions import TicketView  # noqa: E402
from tierlift.engine.evaluate import Evaluator  # noqa: E402
from tierlift.service.daemon.policies import load_policy  # noqa: E402
from tierlift.triage.model import CachedClassifier, load_shipped  # noqa: E402

PROBE = """
import json, os, time, psutil
p = psutil.Process()
import tierlift.engine.evaluate, tierlift.service.daemon.policies
before = p.memory_info().rss
t = time.perf_counter()
from tierlift.triage.model import CachedClassifier, load_shipped
c = CachedClassifier(load_shipped())
c.classify("The whole platform is down for all our users since 8am, nobody can log in.")
loaded = time.perf_counter() - t
print(json.dumps({"load_s": loaded, "rss_mb": (p.memory_info().rss - before) / 2**20}))
"""


def probe() -> tuple[float, float]:
    runs = [json.loads(subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, check=True,
                                      env={**os.environ}).stdout) for _ in range(5)]
    return statistics.median(r["load_s"] for r in runs), statistics.median(r["rss_mb"] for r in runs)


def texts_per_second(tickets: list, runs: int) -> tuple[float, float]:
    texts = [TicketView(t).customer_text for t in tickets]
    cold, warm = [], []
    for _ in range(runs):
        c = CachedClassifier(load_shipped())
        t0 = time.process_time()
        for text in texts:
            c.classify(text)
        cold.append(len(texts) / (time.process_time() - t0))
        t0 = time.process_time()
        for text in texts:
            c.classify(text)
        warm.append(len(texts) / (time.process_time() - t0))
    return statistics.median(cold), statistics.median(warm)


def engine(policy_name: str, tickets: list, runs: int, triage: bool) -> tuple[float, float]:
    policy = load_policy(policy_name)
    now = datetime(2026, 11, 2, 15, 0, tzinfo=UTC)
    first, wake = [], []
    for _ in range(runs):
        ev = Evaluator(policy, classifier=CachedClassifier(load_shipped()) if triage else None)
        t0 = time.process_time()
        for t in tickets:
            ev.evaluate(t, now)
        first.append(len(tickets) / (time.process_time() - t0))
        t0 = time.process_time()
        for t in tickets:
            ev.evaluate(t, now + timedelta(minutes=7))
        wake.append(len(tickets) / (time.process_time() - t0))
    return statistics.median(first), statistics.median(wake)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--tickets", type=int, default=3000)
    ap.add_argument("--runs", type=int, default=3)
    args = ap.parse_args(argv)
    load_s, rss = probe()
    model = load_shipped()
    print(f"model {model.name}: {len(model.vocabulary):,} features; load and first reading {load_s * 1000:.0f} ms "
          f"(median of 5 fresh processes); resident memory +{rss:.0f} MB")
    tickets = make_tickets(args.tickets)
    cold, warm = texts_per_second(tickets, args.runs)
    print(f"classifier: {cold:,.0f} texts/s read, {warm:,.0f} texts/s from the content cache "
          f"({args.tickets} ~1 KB texts, median of {args.runs}, CPU time)")
    print(f"\nengine decisions/s, {args.tickets} tickets, median of {args.runs} runs (load: {os.getloadavg()[0]:.1f})")
    print(f"{'policy':<12} {'first, rules only':>18} {'first, with triage':>19} {'wake-up, rules':>15} {'wake-up, triage':>16}")
    for name in ("three-tier", "teamflow"):
        f0, w0 = engine(name, tickets, args.runs, False)
        f1, w1 = engine(name, tickets, args.runs, True)
        print(f"{name:<12} {f0:>18,.0f} {f1:>19,.0f} {w0:>15,.0f} {w1:>16,.0f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
