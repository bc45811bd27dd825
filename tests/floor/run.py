"""The support floor against the real daemon, judged by the oracle: one row per flavour and pack.

    python tests/floor/run.py            # short: 1 business day from a Monday, 80 tickets per run
    python tests/floor/run.py --full     # 5 business days across Thanksgiving and a weekend, 2,000 tickets

Each run: a sandbox (zendesk or jira) on a running clock, the floor working
it (sandbox/floor.py), and `tierlift run` as a subprocess whose
rehearsal clock follows the sandbox's (as tests/reliability and tests/bench
do). When the floor's days are over the daemon is stopped and the oracle
reads the helpdesk's record. Figures only: nothing here asserts (test_floor.py
does, on the short run).
"""

from __future__ import annotations

import argparse
import pickle
import shutil
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
for p in (HERE, HERE.parent, HERE.parent / "reliability"):
    sys.path.insert(0, str(p))

from oracle import Verdicts, judge  # noqa: E402
from record import jira_records, zendesk_records  # noqa: E402

from tierlift.sandbox import Sandbox  # noqa: E402
from tierlift.sandbox.floor import START, TEAM_FIELD, Floor  # noqa: E402

from kit import Daemon, write_config  # noqa: E402
from reliakit import helpdesk  # noqa: E402

SHORT = {"tickets": 80, "days": 1.0, "speed": 600.0, "poll": 0.1}
FULL = {"tickets": 2000, "days": 5.0, "speed": 600.0, "poll": 0.1}
STOP_HOURS = 2.0  # the daemon stops for two helpdesk hours halfway through each run
ZENDESK_LAG = timedelta(seconds=60)  # the cursor export never returns the last minute
# The clock runs this long before the floor opens, and lands this long before the end of a
# jump while nobody acts: the daemon reads the helpdesk's clock at most once a real second
# (600 helpdesk seconds at 600x), so by then it has caught up, and never reads a person's act
# that is in its own future.
LEAD = timedelta(minutes=15)


@dataclass(frozen=True)
class Window:
    """Where a run's helpdesk time goes. The floor starts at `start` for its business days; the
    clock jumps over each of `skips` (a night, a weekend, a holiday nobody on the floor works:
    what came due meanwhile is due when the clock lands, `LEAD` before the skip's end; people
    act again at its end, what they meant to do meanwhile as much later) while the daemon
    keeps running;
    `specials` are arrivals placed by hand, (when, kind); the daemon is stopped for
    `stop_hours` from `stop_at` (default: halfway through); `end`, when given, closes the
    window instead of the business days' count."""

    start: datetime = START
    skips: tuple[tuple[datetime, datetime], ...] = ()
    specials: tuple[tuple[datetime, str], ...] = ()
    stop_at: datetime | None = None
    stop_hours: float = STOP_HOURS
    end: datetime | None = None
COLUMNS = ["flavour", "pack", "days", "tickets", "agent replies", "human moves", "de-escalations", "right",
           "false", "missed", "late", "bounced", "notes dup", "notes wrong", "promises wrong"]
WRONG = ("false", "missed", "late", "bounced", "notes dup", "notes wrong", "promises wrong")


@dataclass
class Result:
    flavour: str
    pack: str
    days: float
    tickets: int
    verdicts: Verdicts
    floor_stats: dict[str, int]
    floor_errors: list[str]
    tol: timedelta
    daemon_log: str
    judged_in: float = 0.0  # seconds the oracle took
    gaps: list[tuple[datetime, datetime]] = field(default_factory=list)

    def row(self) -> dict[str, Any]:
        v = self.verdicts
        return {"flavour": self.flavour, "pack": self.pack, "days": self.days, "tickets": self.tickets,
                "agent replies": v.agent_replies, "human moves": v.human_moves, "de-escalations": v.deescalations,
                "right": v.right, "false": len(v.false), "missed": len(v.missed), "late": len(v.late),
                "bounced": len(v.bounced), "notes dup": len(v.duplicated), "notes wrong": len(v.note_wrong), "promises wrong": len(v.promise_wrong)}


# The full size lives through nights, a holiday and a weekend at 600x, no jumps: from the
# Wednesday before Thanksgiving 2026 (a holiday of three-tier's calendar) 08:30 New York to
# the Wednesday after, 17:30; tierlift is stopped on the Monday morning. A P0 arrives on
# Thanksgiving morning and another on the Friday evening, placed by hand.
FULL_WINDOW = Window(start=datetime(2026, 11, 25, 13, 30, tzinfo=UTC), stop_at=datetime(2026, 11, 30, 15, 0, tzinfo=UTC),
                     specials=((datetime(2026, 11, 26, 15, 0, tzinfo=UTC), "p0"),
                               (datetime(2026, 11, 27, 23, 0, tzinfo=UTC), "p0")))


def run_one(flavour: str, pack: str, *, tickets: int, days: float, speed: float, poll: float, seed: int,
            folder: Path, keep: Path | None = None, window: Window = Window(), audit_cache: int = 0,
            lead: bool = True) -> Result:
    sb = Sandbox(flavour, tickets=0, seed=seed, now=window.start - LEAD, clock_speed=0).start()
    try:
        extra: dict[str, Any] = {"policy": pack}
        if flavour == "jira":
            extra["team_field"] = TEAM_FIELD
        elif audit_cache:
            extra["audit_cache"] = audit_cache  # follow-ups through the ticket events stream (opt-in)
        cfg = write_config(folder, [helpdesk(sb, **extra)], clock_url=sb.url, poll=f"{poll}s")
        log = folder / "daemon.log"
        daemon = Daemon(cfg, log)  # it starts while the floor is set up, on a clock that stands still
        floor = Floor(sb, pack, seed, tickets=tickets, days=days, start=window.start, specials=list(window.specials),
                      end=window.end, lead=lead)
        daemon.wait_for("started", timeout=60)  # a slow start on a busy machine is not lateness
        sb.clock.set(window.start - LEAD, speed)
        stop = threading.Event()
        worker = threading.Thread(target=floor.run, args=(stop,), daemon=True)
        worker.start()
        daemon, gaps = _drive(sb, floor, daemon, cfg, log, window)
        stop.set()
        worker.join(timeout=30)
        end = sb.clock.now()
        daemon.terminate()
        sb.clock.set(end, 0.0)
        store = sb.data
        records = zendesk_records(store, floor.intent) if flavour == "zendesk" else \
            jira_records(store, floor.intent, TEAM_FIELD)
        tol = timedelta(seconds=(poll + 1.0) * speed) + (ZENDESK_LAG if flavour == "zendesk" else timedelta(0))
        # The daemon's clock follows the sandbox's from its own start: allow 50 ms of skew.
        early = timedelta(seconds=0.05 * speed + 2)
        t0 = time.monotonic()
        verdicts = judge(pack, records, tol, end, early=early, down=gaps)
        judged_in = time.monotonic() - t0
        if keep is not None:  # the record and the daemon's log, to judge again or read later (--keep)
            keep.mkdir(parents=True, exist_ok=True)
            (keep / "records.pickle").write_bytes(pickle.dumps({"pack": pack, "records": records, "tol": tol,
                                                                 "end": end, "early": early, "down": gaps}))
            shutil.copy(log, keep / "daemon.log")
        return Result(flavour, pack, days, len(records), verdicts, dict(floor.stats), floor.errors, tol,
                      daemon.output()[-4000:], judged_in, gaps)
    finally:
        sb.stop()


def _drive(sb: Sandbox, floor: Floor, daemon: Daemon, cfg: Path, log: Path,
           window: Window) -> tuple[Daemon, list[tuple[datetime, datetime]]]:
    """Let the helpdesk's clock run to the floor's end: jump its skips, stop the daemon once.
    (the daemon running at the end, [(from, to)] of every span tierlift could not act in)."""
    # Halfway through, the daemon is stopped for `stop_hours` helpdesk hours while people
    # go on working (a restart, a stopped timer): tickets set pending or on hold and back
    # meanwhile, thresholds passed while it was away (issue 26).
    stop_at = window.stop_at or floor.start + (floor.end - floor.start) / 2
    stopped = not window.stop_hours
    gaps: list[tuple[datetime, datetime]] = []
    while sb.clock.now() < floor.end and daemon.alive():
        now = sb.clock.now()
        if not stopped and now >= stop_at:
            daemon, down = _stopped_for(daemon, sb, floor, cfg, log, timedelta(hours=window.stop_hours))
            gaps.append(down)
            stopped = True
        skip = next((s for s in window.skips if s[0] <= now < s[1] - LEAD), None)
        if skip is not None:
            floor.skip(now, skip[1])
            sb.clock.set(skip[1] - LEAD)
            gaps.append((now, skip[1]))
        time.sleep(0.2)
    return daemon, gaps


def _stopped_for(daemon: Daemon, sb: Sandbox, floor: Floor, cfg: Path, log: Path,
                 span: timedelta) -> tuple[Daemon, tuple[datetime, datetime]]:
    """Stop the daemon for `span` of helpdesk time and start it again; (the new daemon,
    (stopped at, back at)), back at being when the new one said it started. Stopped at is
    when it was told to stop: on a busy machine its exit ("finishing the ticket in hand")
    took 100 helpdesk minutes, in which it acted on nothing new."""
    stopped = sb.clock.now()
    daemon.terminate()
    floor.pause_some(stopped, span)
    while sb.clock.now() < stopped + span:
        time.sleep(0.05)
    again = Daemon(cfg, log)
    again.wait_for("started", timeout=60)
    return again, (stopped, sb.clock.now())


def table(results: list[Result]) -> str:
    rows = [r.row() for r in results]
    widths = {c: max(len(c), *(len(str(r[c])) for r in rows)) for c in COLUMNS}
    lines = ["| " + " | ".join(c.ljust(widths[c]) for c in COLUMNS) + " |",
             "|" + "|".join("-" * (widths[c] + 2) for c in COLUMNS) + "|"]
    lines += ["| " + " | ".join(str(r[c]).ljust(widths[c]) for c in COLUMNS) + " |" for r in rows]
    return "\n".join(lines)


def examples(r: Result, n: int = 3) -> str:
    v = r.verdicts
    out = []
    for name, items in (("false", v.false), ("missed", v.missed), ("late", v.late), ("bounced", v.bounced),
                        ("notes dup", v.duplicated), ("notes wrong", v.note_wrong),
                        ("promises wrong", v.promise_wrong)):
        out += [f"  {r.flavour}/{r.pack} {name}: {x}" for x in items[:n]]
    return "\n".join(out)


def run_all(size: dict[str, float], flavours: list[str], packs: list[str], seed: int,
            log=print, keep: Path | None = None, parallel: int = 1,
            window: Window | dict[str, Window] = Window(), audit_cache: int = 0, lead: bool = True) -> list[Result]:
    """One run per flavour and pack, `parallel` at a time (a run mostly waits on the
    helpdesk's clock: one uses about a sixth of a core at the short size); `window` may
    differ by pack."""

    def one(flavour: str, pack: str) -> Result:
        with tempfile.TemporaryDirectory(prefix=f"floor-{flavour}-{pack}-") as d:
            t0 = time.monotonic()
            r = run_one(flavour, pack, tickets=int(size["tickets"]), days=size["days"], speed=size["speed"],
                        poll=size["poll"], seed=seed, folder=Path(d),
                        keep=keep / f"{flavour}-{pack}" if keep else None,
                        window=window[pack] if isinstance(window, dict) else window, audit_cache=audit_cache,
                        lead=lead)
            log(f"{flavour}/{pack}: {time.monotonic() - t0:.0f} s real, oracle {r.judged_in:.2f} s for "
                f"{r.tickets} tickets, tolerance {r.tol.total_seconds():.0f} s "
                f"helpdesk time; floor: {', '.join(f'{k} {v}' for k, v in sorted(r.floor_stats.items()))}"
                + (f"; floor errors: {r.floor_errors[:3]}" if r.floor_errors else ""))
            return r

    combos = [(flavour, pack) for flavour in flavours for pack in packs]
    with ThreadPoolExecutor(max_workers=max(1, parallel)) as pool:
        return list(pool.map(lambda c: one(*c), combos))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--full", action="store_true",
                    help="5 business days across Thanksgiving and a weekend, 2,000 tickets per flavour and pack")
    ap.add_argument("--flavor", action="append", choices=["zendesk", "jira"])
    ap.add_argument("--pack", action="append", choices=["three-tier", "teamflow"])
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--tickets", type=int)
    ap.add_argument("--days", type=float)
    ap.add_argument("--speed", type=float, help="helpdesk seconds per real second")
    ap.add_argument("--parallel", type=int, default=1, help="runs at once (each mostly waits on the clock)")
    ap.add_argument("--examples", type=int, default=3, help="failures listed per wrong column")
    ap.add_argument("--keep", type=Path, help="keep each run's record (records.pickle) and daemon.log in DIR/FLAVOUR-PACK")
    ap.add_argument("--audit-cache", type=int, default=0, metavar="N",
                    help="Zendesk: keep N tickets' audits and read follow-ups from the ticket events stream")
    ap.add_argument("--no-triage-lead", dest="lead", action="store_false",
                    help="nobody answers tierlift's triage reviews (sandbox/floor_lead.py)")
    args = ap.parse_args(argv)
    size = dict(FULL if args.full else SHORT)
    for k in ("tickets", "days", "speed"):
        if getattr(args, k) is not None:
            size[k] = getattr(args, k)
    results = run_all(size, args.flavor or ["zendesk", "jira"], args.pack or ["three-tier", "teamflow"], args.seed,
                      keep=args.keep, parallel=args.parallel, window=FULL_WINDOW if args.full else Window(),
                      audit_cache=args.audit_cache, lead=args.lead)
    print(table(results))
    for r in results:
        ex = examples(r, args.examples)
        if ex:
            print(ex)
    return 0


if __name__ == "__main__":
    sys.exit(main())
