"""The steady-state cycle on PostgreSQL beside SQLite, at 10,000 tickets (issue 15's benchmark).

    python tests/bench/state_stores.py [--tickets 10000] [--cycles 15]

One Zendesk sandbox (frozen clock) with the tickets, the real connector over
HTTP and the real HelpdeskCycle; each store gets the same first sync (not
timed), then `--cycles` steady-state cycles (nothing changed, nothing due:
one incremental read, recovery, the due query, the status write). Printed:
the median cycle on each store and the ratio PostgreSQL / SQLite, plus the
medians of the state's own part (the same cycle's store calls, the helpdesk
read left out). PostgreSQL is a throwaway server on this machine
(tests/pgkit.py), over TCP on 127.0.0.1; SQLite is a file in a temp folder.
A benchmark prints figures; it asserts nothing about time.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE.parent)]

from tierlift.connectors.base import Secret  # noqa: E402
from tierlift.connectors.zendesk import ZendeskConnector, ZendeskSettings  # noqa: E402
from tierlift.sandbox import Sandbox  # noqa: E402
from tierlift.service.daemon.config import HelpdeskConfig  # noqa: E402
from tierlift.service.daemon.cycle import HelpdeskCycle  # noqa: E402
from tierlift.service.daemon.policies import load_policy  # noqa: E402
from tierlift.service.daemon.state import SqliteStore  # noqa: E402

from pgkit import PgServer, missing_reason  # noqa: E402

NOW = datetime(2026, 11, 2, 19, 0, tzinfo=UTC)


class Timed:
    """Wraps a store: the seconds spent in its calls, the cycle's share of the state."""

    def __init__(self, store):
        self._store, self.seconds = store, 0.0

    def __getattr__(self, name):
        attr = getattr(self._store, name)
        if not callable(attr) or name == "transaction":
            return attr

        def timed(*a, **kw):
            t0 = time.perf_counter()
            try:
                return attr(*a, **kw)
            finally:
                self.seconds += time.perf_counter() - t0
        return timed


def run(sb: Sandbox, store, cycles: int) -> tuple[list[float], list[float]]:
    cfg = HelpdeskConfig("hd", "zendesk", sb.url, "bot@example.com", Secret("t0k3n"), "three-tier",
                         load_policy("three-tier"), False, {})
    connector = ZendeskConnector(ZendeskSettings("hd", sb.url, "bot@example.com", Secret("t0k3n")))
    connector.open()
    timed = Timed(store)
    for _ in range(3):  # the first sync and its cascades: not timed
        HelpdeskCycle(cfg, connector, store, show_progress=False).run(NOW)
    total, state = [], []
    for _ in range(cycles):
        timed.seconds = 0.0
        t0 = time.perf_counter()
        HelpdeskCycle(cfg, connector, timed, show_progress=False).run(NOW)
        total.append(time.perf_counter() - t0)
        state.append(timed.seconds)
    connector.close()
    return total, state


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--tickets", type=int, default=10_000)
    ap.add_argument("--cycles", type=int, default=15)
    args = ap.parse_args(argv)
    reason = missing_reason()
    if reason:
        print(f"skipped: {reason}")
        return 0
    from tierlift.service.daemon.store.postgres import PostgresStore

    server = PgServer()
    try:
        with tempfile.TemporaryDirectory() as tmp:
            results = {}
            for kind in ("sqlite", "postgres"):
                with Sandbox("zendesk", tickets=args.tickets, seed=5, now=NOW) as sb:
                    store = (SqliteStore(Path(tmp) / "state.sqlite3", now=lambda: NOW) if kind == "sqlite"
                             else PostgresStore(server.new_database("bench"), now=lambda: NOW))
                    with store:
                        results[kind] = run(sb, store, args.cycles)
                        indexed = store.index_size("hd")
            med = {k: (statistics.median(t), statistics.median(s)) for k, (t, s) in results.items()}
            print(f"steady-state cycle, {args.tickets:,} tickets ({indexed:,} open in the index),"
                  f" median of {args.cycles} cycles:")
            for k, (t, s) in med.items():
                print(f"  {k:9s} cycle {t * 1000:8.1f} ms   of which the state {s * 1000:7.1f} ms")
            print(f"  ratio postgres/sqlite: cycle {med['postgres'][0] / med['sqlite'][0]:.2f}x,"
                  f" state {med['postgres'][1] / med['sqlite'][1]:.2f}x")
    finally:
        server.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
