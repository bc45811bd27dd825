"""State store benchmark: index upserts, due() on a large index, and the price of synchronous=FULL.

    python tests/service/bench_state.py [--n 100000] [--dir /var/lib/tierlift]

Run it on the disk the daemon will use: the fsync cost is the disk's, not SQLite's.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from tierlift.service.daemon.state import IndexEntry, Intent, StateStore

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def snapshot(i: int) -> str:
    # About the size of a real ticket snapshot without comments (~1 KB).
    return json.dumps({"id": str(i), "subject": "Cannot log in after the SSO change " * 3, "status": "open",
                       "tags": ["tier_l1", "pro", "sso"], "custom_fields": {"impact": "many users"},
                       "description": "x" * 600})


def bench_upserts(store: StateStore, n: int, batch: int = 500) -> float:
    rng = random.Random(1)
    entries = [IndexEntry("zd", str(i), "v1", 1, "open", T0 + timedelta(seconds=rng.randint(-3600, 7 * 86400)),
                          snapshot(i), T0 - timedelta(days=1), T0, "pro", "Support") for i in range(n)]
    started = time.perf_counter()
    for k in range(0, n, batch):
        store.upsert(entries[k:k + batch])  # one transaction (one fsync) per batch, as a cycle does per page
    return n / (time.perf_counter() - started)


def timed(fn, repeat: int = 20) -> float:
    runs = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        runs.append(time.perf_counter() - t)
    return statistics.median(runs) * 1000


def bench_commits(store: StateStore, sync: str, n: int) -> float:
    """Milliseconds per record_intent + mark pair (two autocommits), as the write path does."""
    store._conn.execute(f"PRAGMA synchronous = {sync}")
    started = time.perf_counter()
    for i in range(n):
        eid = f"{sync}-{i}"
        store.record_intent(Intent("zd", eid, str(i), "escalate", 1, 2, "r", "t", "{}", "pending", T0))
        store.mark("zd", eid, "done")
    ms = (time.perf_counter() - started) * 1000 / n
    store._conn.execute("PRAGMA synchronous = FULL")
    return ms


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=100_000)
    ap.add_argument("--commits", type=int, default=2000)
    ap.add_argument("--dir", default=None)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(dir=args.dir) as d:
        path = Path(d) / "bench.sqlite3"
        with StateStore(path, now=lambda: T0) as store:
            rate = bench_upserts(store, args.n)
            print(f"upsert: {args.n} entries in batches of 500: {rate:,.0f} entries/s")
            due_ms = timed(lambda: store.due("zd", T0))
            due_n = len(store.due("zd", T0))
            print(f"due(): {due_ms:.2f} ms median for {due_n} due of {args.n} indexed")
            due_all = timed(lambda: store.due("zd", T0 + timedelta(days=8)), repeat=3)
            print(f"due() with limit 10000 of {args.n} due: {due_all:.1f} ms")
            print(f"next_wake_up(): {timed(lambda: store.next_wake_up('zd')) * 1000:.0f} us median")
            print(f"get(500 ids): {timed(lambda: store.get('zd', [str(i) for i in range(500)])):.2f} ms median")
            print(f"index_size(): {timed(lambda: store.index_size('zd')):.2f} ms median")
            for sync in ("NORMAL", "FULL", "NORMAL", "FULL"):
                print(f"record_intent + mark, synchronous={sync}: "
                      f"{bench_commits(store, sync, args.commits):.3f} ms per pair")
            st = store.stats()
            print(f"file: {st['file_bytes'] / 1e6:.1f} MB ({st['pages']} pages) for {args.n} entries")


if __name__ == "__main__":
    main()
