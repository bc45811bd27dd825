"""Many helpdesks on two replicas sharing PostgreSQL: how the leases spread, how fast a lost
replica's helpdesks move.

    python tests/bench/replicas.py [--helpdesks 100,500] [--ttl 15s]

H sandbox helpdesks (half Zendesk, half Jira, 200 tickets each) run in one other process
(many_sandboxes.py); a throwaway PostgreSQL cluster (tests/pgkit.py) holds the state; two
real daemons (`tierlift run`, 30 s poll, health servers on their own ports) share it. Read
from each replica's own `/readyz` (its `leases` map: holder or standby per helpdesk):

- spread: how many helpdesks each replica holds once every helpdesk has a holder and the
  counts stood still for one lease TTL;
- all held: seconds from the start until every helpdesk had a holder;
- failover: replica A is killed (SIGKILL); seconds until replica B holds every helpdesk,
  and per helpdesk A held (p50 / p99 / max) the time until B took it. The target of
  docs/reliability.md is TTL + poll interval + 2 s;
- both ready: whether each replica's /readyz answered 200 once the spread stood still.
"""

from __future__ import annotations

import argparse
import signal
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import requests
from benchkit import env  # noqa: F401  (puts tests/ on the path)
from many import TICKETS, _Box, _sandboxes

import kit
import pgkit

POLL_SECONDS = 30.0


def _leases(base: str) -> tuple[int | None, dict[str, str]]:
    try:
        r = requests.get(base + "/readyz", timeout=10)
    except requests.RequestException:
        return None, {}
    try:
        return r.status_code, dict(r.json().get("leases") or {})
    except ValueError:
        return r.status_code, {}


def _held(roles: dict[str, str]) -> set[str]:
    return {h for h, role in roles.items() if role == "holder"}


def _settle(bases: list[str], h: int, ttl: float, t0: float, log) -> dict[str, Any]:
    """Wait until every helpdesk has a holder and the counts stood still for one TTL."""
    all_held = None
    last, still_since = None, time.monotonic()
    while time.monotonic() - t0 < 1200:
        answers = [_leases(b) for b in bases]
        counts = tuple(len(_held(roles)) for _, roles in answers)
        if all_held is None and len(set().union(*(_held(r) for _, r in answers))) == h:
            all_held = time.monotonic() - t0
            log(f"  H={h}: every helpdesk held after {all_held:.1f} s ({counts[0]} / {counts[1]})")
        if counts != last:
            last, still_since = counts, time.monotonic()
        elif all_held is not None and time.monotonic() - still_since >= ttl:
            return {"all_held_seconds": all_held, "spread": counts,
                    "both_ready": all(code == 200 for code, _ in answers)}
        time.sleep(0.5)
    raise RuntimeError(f"the leases did not settle in 20 minutes: {last}")


def _failover(victim: kit.Daemon, base: str, lost: set[str], log) -> dict[str, Any]:
    """Kill the victim; when did the survivor take each helpdesk it held?"""
    t_kill = time.monotonic()
    victim.proc.kill()
    taken: dict[str, float] = {}
    while len(taken) < len(lost) and time.monotonic() - t_kill < 600:
        _, roles = _leases(base)
        now = time.monotonic() - t_kill
        for name in _held(roles) & lost:
            taken.setdefault(name, now)
        time.sleep(0.25)
    times = sorted(taken.values())
    log(f"  failover: {len(taken)} of {len(lost)} taken, the last after {times[-1] if times else 0:.1f} s")
    return {"moved": len(taken), "lost": len(lost), "all_moved_seconds": times[-1] if len(taken) == len(lost) else None,
            "p50": statistics.median(times) if times else None,
            "p99": times[min(len(times) - 1, int(len(times) * 0.99))] if times else None}


def run(h: int, ttl: float, log=print) -> dict[str, Any]:
    sb_proc, boxes = _sandboxes(h)
    pg = pgkit.PgServer()
    try:
        url = pg.new_database("bench")
        with tempfile.TemporaryDirectory(prefix="tierlift-replicas-") as tmp:
            hds = [kit.helpdesk(_Box(b), f"hd{i:03d}") for i, b in enumerate(boxes)]
            ports = [kit.free_port(), kit.free_port()]
            daemons = []
            for name, port in zip("ab", ports, strict=True):
                folder = Path(tmp) / name
                config = kit.write_config(folder, hds, clock_url=boxes[0]["url"], poll=f"{POLL_SECONDS:.0f}s",
                                          http={"listen": f"127.0.0.1:{port}"},
                                          state={"url": url, "lease_ttl": f"{ttl:.0f}s"})
                daemons.append(kit.Daemon(config, folder / "daemon.log"))
            try:
                bases = [f"http://127.0.0.1:{p}" for p in ports]
                out = _settle(bases, h, ttl, time.monotonic(), log)
                _, roles = _leases(bases[0])
                out |= _failover(daemons[0], bases[1], _held(roles), log)
                return {"helpdesks": h, "ttl": ttl, **out}
            finally:
                for d in daemons:
                    kit.end(d.proc, timeout=30)
    finally:
        pg.close()
        if sb_proc.stdin:
            sb_proc.stdin.close()
        sb_proc.wait(60)


def _s(x: float | None) -> str:
    return "-" if x is None else f"{x:,.1f}"


def table(results: list[dict[str, Any]]) -> str:
    head = ["helpdesks", *[str(r["helpdesks"]) for r in results], "target"]
    rows = [
        ("every helpdesk held (s)", [_s(r["all_held_seconds"]) for r in results], ""),
        ("leases held, replica A / B", [f"{r['spread'][0]} / {r['spread'][1]}" for r in results], "H/2 each"),
        ("both /readyz 200 once settled", ["yes" if r["both_ready"] else "no" for r in results], "yes"),
        ("A killed: helpdesks moved to B", [f"{r['moved']} of {r['lost']}" for r in results], "all"),
        ("A killed: all moved after (s)", [_s(r["all_moved_seconds"]) for r in results],
         f"TTL + poll + 2 s = {results[0]['ttl'] + POLL_SECONDS + 2:.0f} s" if results else ""),
        ("A killed: per helpdesk p50 / p99 (s)", [f"{_s(r['p50'])} / {_s(r['p99'])}" for r in results], ""),
    ]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    lines += ["| " + " | ".join([label, *cells, target]) + " |" for label, cells, target in rows]
    return "\n".join(lines) + f"\n\n{TICKETS} tickets per helpdesk, poll {POLL_SECONDS:.0f} s"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--helpdesks", default="100,500")
    ap.add_argument("--ttl", default="15s", help="the lease TTL (seconds, e.g. 15s)")
    args = ap.parse_args(argv)
    reason = pgkit.missing_reason()
    if reason:
        print(f"PostgreSQL is needed: {reason}", file=sys.stderr)
        return 2
    ttl = float(args.ttl.rstrip("s"))
    # Stopped with SIGTERM, the daemons, the sandboxes and the cluster still go (the finally blocks).
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    results = [run(int(h), ttl, log=lambda m: print(f"# {m}", file=sys.stderr, flush=True))
               for h in args.helpdesks.split(",")]
    print(table(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
