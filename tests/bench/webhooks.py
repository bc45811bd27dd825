"""A new P0's time to its escalation note, with webhooks and without (issue 24).

Both flavours; the real daemon (`tierlift run`, poll `poll`) and the real sandbox in its
own process, delivering signed webhooks set up by `tierlift webhooks setup`. P0 tickets
arrive one every `gap` seconds; per ticket, the time is from just before the request
that creates it to the moment the sandbox answered the write carrying its escalation
marker (the sandbox's own log). p50 and p99 over `n` tickets, side by side.

Then behind a backlog: `due` escalations already due and a binding budget of `budget`
requests a minute (as urgent.py), a P0 arrives once the budget is spent.

`--replicas`: two replicas on one throwaway PostgreSQL (tests/pgkit.py) instead, the
sandbox's webhook pointing first at the replica that holds the helpdesk's lease, then
(`webhooks setup` again) at the one that does not: there each webhook goes through the
database (a row and a NOTIFY, service/daemon/relay.py) to the holder.

    python tests/bench/webhooks.py [--n 200] [--gap 0.25] [--poll 5] [--due 1000] [--budget 60]
    python tests/bench/webhooks.py --replicas [--n 200] [--flavors zendesk]
"""

from __future__ import annotations

import argparse
import json
import signal
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from benchkit import SandboxProcess, env, escalated_at, percentile

from tierlift.sandbox.store import NOISE

import kit
from kit import free_port

NOW = datetime(2026, 11, 2, 19, 0, tzinfo=UTC)  # Monday 14:00 in New York (business hours)
SECRET = "bench-webhook-secret-5e1f"


def _config(folder: Path, sb: SandboxProcess, poll: float, hooks: bool, budget: int | None) -> tuple[Path, int]:
    port = free_port()
    extra: dict[str, Any] = {"webhook_secret": "${WH_SECRET}"} if hooks else {}
    if budget:
        extra["rate_limit_per_minute"] = budget
    hd = kit.helpdesk(sb, "bench", policy="three-tier", **extra)
    path = kit.write_config(folder, [hd], poll=f"{poll:g}s", clock_url=sb.url, http={"listen": f"127.0.0.1:{port}"})
    if hooks:
        done = subprocess.run([sys.executable, "-m", "tierlift.service.cli", "webhooks", "setup", "--config", str(path),
                               "--public-url", f"http://127.0.0.1:{port}"], capture_output=True, text=True,
                              env=env(WH_SECRET=SECRET), timeout=120)
        if done.returncode != 0:
            raise RuntimeError(done.stdout + done.stderr)
    return path, port


def _daemon(config: Path, log: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, "-m", "tierlift.service.cli", "run", "--config", str(config)],
                            stdout=log.open("w"), stderr=subprocess.STDOUT, env=env(WH_SECRET=SECRET))


def _stop(daemon: subprocess.Popen[bytes]) -> None:
    daemon.send_signal(signal.SIGTERM)
    daemon.wait(timeout=60)


def _p0(sb: SandboxProcess, i: int) -> tuple[str, float]:
    arrived = time.time()
    tid = str(sb.add_tickets([{"subject": f"Checkout down for everyone ({i})", "tags": ["p0"],
                               "description": "All payments fail since ten minutes.",
                               "created_at": sb.clock().isoformat()}])[0])
    return tid, arrived


def arrivals(flavor: str, hooks: bool, n: int, gap: float, poll: float) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="tierlift-bench-") as tmp, \
            SandboxProcess(flavor, 20, now=NOW, speed=1.0) as sb:
        config, _ = _config(Path(tmp), sb, poll, hooks, None)
        daemon = _daemon(config, Path(tmp) / "daemon.log")
        try:
            while not sb.stats()["reads"]:
                time.sleep(0.2)
            time.sleep(3)  # the first sync is done
            born: dict[str, float] = {}
            for i in range(n):
                tid, at = _p0(sb, i)
                born[tid] = at
                time.sleep(gap)
            deadline = time.time() + 240
            while time.time() < deadline and len(set(escalated_at(sb)) & set(born)) < n:
                time.sleep(1)
            landed = escalated_at(sb)
        finally:
            _stop(daemon)
    times = [landed[t] - born[t] for t in born if t in landed]
    return {"flavor": flavor, "webhooks": hooks, "tickets": n, "escalated": len(times), "poll": poll,
            "p50": round(percentile(times, 50), 2), "p99": round(percentile(times, 99), 2)}


def backlog(flavor: str, hooks: bool, due: int, budget: int, poll: float, settle: float = 45.0) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="tierlift-bench-") as tmp, \
            SandboxProcess(flavor, 0, now=NOW, speed=1.0) as sb:
        sb.add_tickets([{"subject": NOISE[i % len(NOISE)][0], "description": NOISE[i % len(NOISE)][1],
                         "created_at": (NOW - timedelta(hours=30 + i % 50)).isoformat()} for i in range(due)])
        config, _ = _config(Path(tmp), sb, poll, hooks, budget)
        daemon = _daemon(config, Path(tmp) / "daemon.log")
        try:
            while sb.stats()["writes"] == 0:
                time.sleep(0.5)
            time.sleep(settle)  # past the first minute: the budget binds
            p0, arrived = _p0(sb, 0)
            landed = None
            while landed is None and time.time() - arrived < 300:
                time.sleep(0.5)
                landed = escalated_at(sb).get(p0)
            done = len(escalated_at(sb))
        finally:
            _stop(daemon)
    return {"flavor": flavor, "webhooks": hooks, "due": due, "budget": budget, "poll": poll,
            "p0_seconds": round(landed - arrived, 1) if landed else None, "backlog_waiting": due - (done - 1)}


def _setup(config: Path, port: int) -> None:
    done = subprocess.run([sys.executable, "-m", "tierlift.service.cli", "webhooks", "setup", "--config", str(config),
                           "--public-url", f"http://127.0.0.1:{port}"], capture_output=True, text=True,
                          env=env(WH_SECRET=SECRET), timeout=120)
    if done.returncode != 0:
        raise RuntimeError(done.stdout + done.stderr)


def _holder(url: str) -> int | None:
    from tierlift.service.daemon.store.postgres import PostgresStore

    with PostgresStore(url) as s:
        live = [x["pid"] for x in s.leases() if x["live"]]
    return live[0] if live else None


def _wave(sb: SandboxProcess, n: int, gap: float, first: int) -> dict[str, float]:
    born: dict[str, float] = {}
    for i in range(n):
        tid, at = _p0(sb, first + i)
        born[tid] = at
        time.sleep(gap)
    deadline = time.time() + 240
    while time.time() < deadline and len(set(escalated_at(sb)) & set(born)) < n:
        time.sleep(1)
    landed = escalated_at(sb)
    return {t: landed[t] - born[t] for t in born if t in landed}


def replicas(flavor: str, n: int, gap: float, poll: float, ttl: float = 10.0) -> list[dict[str, Any]]:
    """P0s' time to their note with two replicas: webhooks sent to the holder, then to the non-holder."""
    from pgkit import PgServer

    server = PgServer()
    rows: list[dict[str, Any]] = []
    try:
        url = server.new_database("bench")
        with tempfile.TemporaryDirectory(prefix="tierlift-bench-") as tmp, \
                SandboxProcess(flavor, 20, now=NOW, speed=1.0) as sb:
            ports, configs, daemons = [free_port(), free_port()], [], []
            try:
                for i, port in enumerate(ports):
                    hd = kit.helpdesk(sb, "bench", policy="three-tier", webhook_secret="${WH_SECRET}")
                    configs.append(kit.write_config(Path(tmp) / f"r{i}", [hd], poll=f"{poll:g}s", clock_url=sb.url,
                                                    http={"listen": f"127.0.0.1:{port}"},
                                                    state={"url": url, "lease_ttl": f"{ttl:g}s"}))
                    daemons.append(_daemon(configs[-1], Path(tmp) / f"r{i}.log"))
                pid = None
                while pid is None or not sb.stats()["reads"]:
                    time.sleep(0.2)
                    pid = _holder(url)
                time.sleep(3)  # the first sync is done
                holder = next(i for i, d in enumerate(daemons) if d.pid == pid)
                for where, slot in (("holder", holder), ("non-holder", 1 - holder)):
                    _setup(configs[slot], ports[slot])
                    times = list(_wave(sb, n, gap, len(rows) * n).values())
                    if _holder(url) != pid:
                        raise RuntimeError("the lease moved during the run: the figures would mix both cases")
                    rows.append({"flavor": flavor, "replicas": 2, "webhook_on": where, "tickets": n,
                                 "escalated": len(times), "poll": poll,
                                 "p50": round(percentile(times, 50), 2), "p99": round(percentile(times, 99), 2)})
            finally:
                for d in daemons:
                    _stop(d)
    finally:
        server.close()
    return rows


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--n", type=int, default=200)
    ap.add_argument("--gap", type=float, default=0.25)
    ap.add_argument("--poll", type=float, default=5.0)
    ap.add_argument("--due", type=int, default=1000)
    ap.add_argument("--budget", type=int, default=60)
    ap.add_argument("--flavors", default="zendesk,jira")
    ap.add_argument("--modes", default="on,off", help="webhooks on, off or both")
    ap.add_argument("--skip-backlog", action="store_true")
    ap.add_argument("--skip-arrivals", action="store_true")
    ap.add_argument("--replicas", action="store_true", help="two replicas on PostgreSQL: holder vs non-holder")
    ap.add_argument("--out", type=Path, help="write the figures as JSON here")
    args = ap.parse_args(argv)
    rows: list[dict[str, Any]] = []
    if args.replicas:
        for flavor in args.flavors.split(","):
            for r in replicas(flavor, args.n, args.gap, args.poll):
                rows.append(r)
                print(f"{flavor:8} 2 replicas, webhook on the {r['webhook_on']:10}: p50 {r['p50']} s, p99 {r['p99']} s"
                      f" ({r['escalated']}/{r['tickets']} P0s escalated, poll {r['poll']:g} s)", flush=True)
        args.skip_arrivals = args.skip_backlog = True
    for flavor in args.flavors.split(",") if not args.skip_arrivals else []:
        for hooks in [m == "on" for m in args.modes.split(",")]:
            r = arrivals(flavor, hooks, args.n, args.gap, args.poll)
            rows.append(r)
            print(f"{flavor:8} webhooks {'on ' if hooks else 'off'}: p50 {r['p50']} s, p99 {r['p99']} s"
                  f" ({r['escalated']}/{r['tickets']} P0s escalated, poll {r['poll']:g} s)", flush=True)
    if not args.skip_backlog:
        for flavor, hooks in [(f, m == "on") for f in args.flavors.split(",") for m in args.modes.split(",")]:
            r = backlog(flavor, hooks, args.due, args.budget, args.poll)
            rows.append(r)
            print(f"{flavor:8} webhooks {'on ' if hooks else 'off'}: P0 behind {r['due']} due escalations at {r['budget']}/min:"
                  f" {r['p0_seconds']} s ({r['backlog_waiting']} still waiting)", flush=True)
    if args.out:
        args.out.write_text(json.dumps(rows, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
