"""Many helpdesks in one daemon: H helpdesks (half Zendesk, half Jira, 200 tickets each).

    python tests/bench/many.py [--helpdesks 10,100,500] [--idle 60] [--latency-ms 0] [--p0 0]

The sandboxes (one per helpdesk, each with its own data) run in one separate
process (many_sandboxes.py), so the daemon's figures are the daemon's alone.
The real daemon (`tierlift run`, SQLite state, 30 s poll, health server) is
started, and measured by its own /proc entries (psutil):

- first syncs: seconds from the start until /readyz answers 200 (every
  helpdesk has finished a cycle);
- RSS steady (after the first syncs and an idle minute; with the probes' own
  process, service/ops/front.py) and peak (VmHWM, the daemon's);
- threads and open files once steady;
- idle CPU: user + system seconds the daemon used over the idle window,
  per minute;
- /healthz and /readyz: the slowest answer seen from start to end, by this
  process's client and by outside_probe.py, a client in a session of its own
  (as a kubelet asks from outside the pod), from the start to the first syncs' end.

With `--p0 N`, the first 24 helpdesks of the configuration (the first the pool syncs) get
webhooks (`tierlift webhooks setup`), and while the others are still in their first syncs
N new P0 tickets arrive, one every 2 s, each at one of those helpdesks that has synced: the
time from the request that creates it to the sandbox's answer to the write carrying its
escalation marker (the sandbox's own log) shows what a new urgent ticket waits while the
pool is busy with first syncs. The helpdesks' clocks stand still and an export never returns
the last minute, so a poll never reads these P0s: only their webhooks bring them.

The sandbox time is before business hours (no SLA clock runs), so a cycle
is reading and evaluating; content rules still write a few tickets.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psutil
import requests
from benchkit import HERE, env, escalated_at

import kit

BEFORE_HOURS = datetime(2026, 11, 2, 13, 0, tzinfo=UTC)
TICKETS = 200
HOOKED = 24  # helpdesks with webhooks in a --p0 run: the configuration's first, which the pool syncs first
WH_SECRET = "bench-many-webhook-secret-77c2"
SPREAD = 6 * 3600


class _Probe:
    """/healthz and /readyz, timed."""

    def __init__(self, base: str):
        self.base = base
        self.slowest = {"/healthz": 0.0, "/readyz": 0.0}
        self.sizes = {"/healthz": 0, "/readyz": 0}  # the slowest answer's body, in bytes
        self.times: dict[str, list[float]] = {"/healthz": [], "/readyz": []}  # every answer's, in seconds
        self.http = requests.Session()
        self.last_body: dict[str, Any] = {}  # the last /readyz answer's

    def get(self, path: str) -> int | None:
        t0 = time.perf_counter()
        try:
            answer = self.http.get(self.base + path, timeout=10)
        except requests.RequestException:
            return None
        took = time.perf_counter() - t0
        self.times[path].append(took)
        if path == "/readyz":
            self.last_body = answer.json()
        if took > self.slowest[path]:
            self.slowest[path], self.sizes[path] = took, len(answer.content)
        return answer.status_code


def _sandboxes(h: int, latency_ms: float = 0.0) -> tuple[subprocess.Popen[str], list[dict[str, str]]]:
    proc = subprocess.Popen([sys.executable, str(HERE / "many_sandboxes.py"), str(h), str(TICKETS),
                             BEFORE_HOURS.isoformat(), str(SPREAD), str(latency_ms)],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env())
    assert proc.stdout is not None
    line = proc.stdout.readline()
    if not line.startswith("["):
        proc.kill()
        raise RuntimeError(f"the sandboxes did not start: {line!r}")
    return proc, json.loads(line)


def run(h: int, idle: float = 60.0, log=print, latency_ms: float = 0.0, p0: int = 0) -> dict[str, Any]:
    sb_proc, boxes = _sandboxes(h, latency_ms)
    try:
        with tempfile.TemporaryDirectory(prefix="tierlift-many-") as tmp:
            folder = Path(tmp)
            port = kit.free_port()
            hooked = HOOKED if p0 else 0
            hds = [kit.helpdesk(_Box(b), f"hd{i:03d}", **({"webhook_secret": "${WH_SECRET}"} if i < hooked else {}))
                   for i, b in enumerate(boxes)]
            config = kit.write_config(folder, hds, clock_url=boxes[0]["url"], poll="30s",
                                      http={"listen": f"127.0.0.1:{port}"})
            arrivals = _Arrivals([_Box(b) for b in boxes[:hooked]], p0) if p0 else None
            if arrivals:
                _setup_webhooks(config, port)
            return {**_measure(config, folder, port, h, idle, log, arrivals, psutil.Process(sb_proc.pid)),
                    "latency_ms": latency_ms}
    finally:
        if sb_proc.stdin:
            sb_proc.stdin.close()
        try:
            sb_proc.wait(30)
        except subprocess.TimeoutExpired:
            sb_proc.kill()


class _Box:
    """One of many_sandboxes.py's helpdesks, and a client for its /_sandbox/ control endpoints."""

    def __init__(self, b: dict[str, str]):
        self.url, self.flavor = b["url"], b["flavor"]

    def control(self, name: str, payload: Any = None) -> Any:
        answer = requests.request("POST" if payload is not None else "GET", f"{self.url}/_sandbox/{name}",
                                  json=payload, timeout=60)
        answer.raise_for_status()
        return answer.json()

    def log(self) -> list[dict[str, Any]]:
        return self.control("requests")


def _setup_webhooks(config: Path, port: int) -> None:
    done = subprocess.run([sys.executable, "-m", "tierlift.service.cli", "webhooks", "setup", "--config", str(config),
                           "--public-url", f"http://127.0.0.1:{port}"], capture_output=True, text=True,
                          env=env(WH_SECRET=WH_SECRET), timeout=600)
    if done.returncode != 0:
        raise RuntimeError(done.stdout[-2000:] + done.stderr[-2000:])


class _Arrivals:
    """New P0 tickets during the first syncs, each at a helpdesk with webhooks that has synced."""

    def __init__(self, boxes: list[_Box], n: int, gap: float = 2.0):
        self.boxes, self.n, self.gap = boxes, n, gap
        self.born: dict[tuple[int, str], float] = {}  # (helpdesk, ticket) -> when its creation was asked
        self.next_at = 0.0

    def offer(self, readyz: dict[str, Any]) -> None:
        """Send the next P0 if it is time, to a synced helpdesk (`readyz`: /readyz's body)."""
        if len(self.born) >= self.n or time.time() < self.next_at:
            return
        waiting = set(readyz.get("helpdesks_not_answering", ()))
        synced = [i for i in range(len(self.boxes)) if f"hd{i:03d}" not in waiting]
        if not waiting or not synced:  # not up yet (no helpdesk listed), or none synced yet
            return
        i = synced[len(self.born) % len(synced)]
        box = self.boxes[i]
        now = box.control("clock")["now"]
        at = time.time()
        tid = box.control("tickets", {"tickets": [{"subject": f"Checkout down for everyone ({len(self.born)})",
                                                   "tags": ["p0"], "created_at": now,
                                                   "description": "All payments fail since ten minutes."}]})["ids"][0]
        self.born[(i, str(tid))] = at
        self.next_at = at + self.gap

    def waits(self) -> dict[str, float | None]:
        """Each P0 (`hd003 SUP-201`) -> seconds from its creation to its escalation write (None: not
        escalated)."""
        landed = {i: escalated_at(self.boxes[i]) for i in {i for i, _ in self.born}}
        return {f"hd{i:03d} {t}": (landed[i][t] - at) if t in landed[i] else None for (i, t), at in self.born.items()}


def _measure(config: Path, folder: Path, port: int, h: int, idle: float, log,
             arrivals: _Arrivals | None = None, sandboxes: psutil.Process | None = None) -> dict[str, Any]:
    sandbox_cpu0 = _cpu(sandboxes) if sandboxes else 0.0
    daemon = kit.Daemon(config, folder / "daemon.log", WH_SECRET=WH_SECRET)
    probe = _Probe(f"http://127.0.0.1:{port}")
    outside = _Outside(port, folder / "outside.txt")
    try:
        p = psutil.Process(daemon.pid)
        t0 = time.monotonic()
        not_ready = 0
        while probe.get("/readyz") != 200:
            probe.get("/healthz")
            if not daemon.alive() or time.monotonic() - t0 > 900:
                raise RuntimeError(f"not ready: {daemon.output()[-2000:]}")
            not_ready += 1
            if arrivals:
                arrivals.offer(probe.last_body)
            time.sleep(0.5)
        first = time.monotonic() - t0
        daemon_cpu, sandbox_cpu = _cpu(p), (_cpu(sandboxes) - sandbox_cpu0 if sandboxes else 0.0)
        log(f"  H={h}: every first sync done in {first:.1f} s; idle for {idle:.0f} s")
        log(f"  CPU during the first syncs: the daemon {daemon_cpu:.1f} s, the sandboxes' process {sandbox_cpu:.1f} s "
            f"(2 cores give {2 * first:.0f} s in {first:.0f} s)")
        outside_spread = outside.spread()
        log("  the same from a session of its own (outside_probe.py, a kubelet's view): " + ", ".join(
            f"{k} {v[0]:.1f} / {v[1]:.1f} / {v[2]:.1f} ms of {v[3]} ({v[4]} over 50 ms)"
            for k, v in outside_spread.items()))
        outside.stop()
        syncing = dict(probe.slowest)
        spread = {k: _spread(v) for k, v in probe.times.items()}
        log("  answers during first syncs (median / 95th / slowest): " + ", ".join(
            f"{k} {spread[k][0]:.0f} / {spread[k][1]:.0f} / {v * 1000:.0f} ms of {len(probe.times[k])}"
            f" ({sum(t > 0.05 for t in probe.times[k])} over 50 ms; slowest {probe.sizes[k]:,} bytes)"
            for k, v in syncing.items()))
        probe.slowest = {k: 0.0 for k in probe.slowest}
        statuses = _request_statuses(probe)
        log("  helpdesk requests by status, first syncs: " + ", ".join(f"{k} {v:,}" for k, v in statuses.items()))
        time.sleep(10)  # the first syncs' writes come back through the export once
        c0 = p.cpu_times()
        w0 = time.monotonic()
        while time.monotonic() - w0 < idle:
            probe.get("/healthz")
            probe.get("/readyz")
            time.sleep(1.0)
        c1 = p.cpu_times()
        cpu = (c1.user + c1.system - c0.user - c0.system) / (time.monotonic() - w0) * 60
        status = Path(f"/proc/{daemon.pid}/status").read_text()
        peak_kb = int(next(line.split()[1] for line in status.splitlines() if line.startswith("VmHWM:")))
        # The probes' own process (service/ops/front.py) is part of the daemon's memory.
        front_mb = sum(c.memory_info().rss for c in p.children()) / 2**20
        out = {"helpdesks": h, "first_sync_seconds": first, "rss_mb": p.memory_info().rss / 2**20 + front_mb,
               "front_rss_mb": front_mb,
               "peak_rss_mb": peak_kb / 1024, "threads": p.num_threads(), "open_files": p.num_fds(),
               "idle_cpu_seconds_per_minute": cpu,
               "first_sync_daemon_cpu_s": daemon_cpu, "first_sync_sandbox_cpu_s": sandbox_cpu,
               "slowest_healthz_ms": probe.slowest["/healthz"] * 1000,
               "slowest_readyz_ms": probe.slowest["/readyz"] * 1000,
               "syncing_healthz_ms": syncing["/healthz"] * 1000,
               "syncing_readyz_ms": syncing["/readyz"] * 1000,
               "syncing_healthz_p50_ms": spread["/healthz"][0], "syncing_healthz_p95_ms": spread["/healthz"][1],
               "syncing_readyz_p50_ms": spread["/readyz"][0], "syncing_readyz_p95_ms": spread["/readyz"][1],
               "state_open_failures": daemon.output().count("cannot open state"),
               "requests_not_ok": sum(v for k, v in statuses.items() if not k.startswith("2")),
               **{f"outside_{k.strip('/')}_slowest_ms": v[2] for k, v in outside_spread.items()}}
        if arrivals:
            out |= _p0_figures(arrivals.waits(), log)
        return out
    finally:
        outside.stop()
        daemon.terminate(timeout=30)


def _cpu(p: psutil.Process) -> float:
    """User + system CPU seconds of a process and its children so far."""
    t = p.cpu_times()
    return t.user + t.system + sum(c.cpu_times().user + c.cpu_times().system for c in p.children(recursive=True))


class _Outside:
    """outside_probe.py in a session of its own, from the daemon's start to the first syncs' end."""

    def __init__(self, port: int, out: Path):
        self.out = out
        self.proc = subprocess.Popen([sys.executable, str(HERE / "outside_probe.py"), str(port), str(out)],
                                     stdin=subprocess.PIPE, start_new_session=True)

    def stop(self) -> None:
        if self.proc.stdin is not None and not self.proc.stdin.closed:
            self.proc.stdin.close()
            self.proc.wait(30)

    def spread(self) -> dict[str, tuple[float, float, float, int, int]]:
        """Per path: median, 95th, slowest (ms), answers, answers over 50 ms (so far)."""
        times: dict[str, list[float]] = {"/healthz": [], "/readyz": []}
        for line in self.out.read_text().splitlines() if self.out.exists() else []:
            path, _status, seconds = line.split()
            times[path].append(float(seconds))
        return {k: (*_spread(v), (max(v) * 1000 if v else 0.0), len(v), sum(t > 0.05 for t in v))
                for k, v in times.items()}


def _p0_figures(waits: dict[str, float | None], log) -> dict[str, Any]:
    landed = sorted(w for w in waits.values() if w is not None)
    log(f"  P0s during first syncs: {len(landed)} of {len(waits)} escalated; seconds to the escalation write: "
        + ", ".join(f"{w:.1f}" for w in landed)
        + "".join(f"; not escalated: {k}" for k, w in waits.items() if w is None))
    return {"p0_sent": len(waits), "p0_escalated": len(landed),
            "p0_median_s": statistics.median(landed) if landed else None,
            "p0_slowest_s": landed[-1] if landed else None}


def _request_statuses(probe: _Probe) -> dict[str, int]:
    """The daemon's helpdesk requests so far by status (its /metrics), every helpdesk summed:
    a first sync that spent its time on failed requests and their retries would show here
    (none did at 500 on 2026-12-05: docs/performance.md)."""
    try:
        text = probe.http.get(probe.base + "/metrics", timeout=10).text
    except requests.RequestException:
        return {}
    out: dict[str, int] = {}
    for line in text.splitlines():
        if line.startswith("tierlift_api_requests_total{"):
            status = line.split('status="', 1)[1].split('"', 1)[0]
            out[status] = out.get(status, 0) + int(float(line.rsplit(" ", 1)[1]))
    return dict(sorted(out.items()))


def _spread(seconds: list[float]) -> tuple[float, float]:
    """Median and 95th percentile, in ms (0 when nothing was asked)."""
    if not seconds:
        return 0.0, 0.0
    ordered = sorted(seconds)
    return statistics.median(ordered) * 1000, ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))] * 1000


def _cell(result: dict[str, Any], key: str | tuple[str, str], digits: int) -> str:
    if isinstance(key, tuple):  # an earlier run's figures may lack the spread
        return " / ".join(f"{result[k]:,.{digits}f}" if result.get(k) is not None else "-" for k in key)
    return f"{result[key]:,.{digits}f}" if result.get(key) is not None else "-"


def table(results: list[dict[str, Any]]) -> str:
    rows = [("all first syncs done (s)", "first_sync_seconds", 1, "< 60"),
            ("RSS steady (MB), the probes' process included", "rss_mb", 0, "< 1,024 at 500"),
            ("RSS peak (MB)", "peak_rss_mb", 0, ""),
            ("threads", "threads", 0, ""),
            ("open files", "open_files", 0, ""),
            ("idle CPU (s per minute)", "idle_cpu_seconds_per_minute", 2, "< 10"),
            ("median / 95th /healthz, first syncs (ms)", ("syncing_healthz_p50_ms", "syncing_healthz_p95_ms"), 0, ""),
            ("slowest /healthz, first syncs (ms)", "syncing_healthz_ms", 0, "< 50"),
            ("median / 95th /readyz, first syncs (ms)", ("syncing_readyz_p50_ms", "syncing_readyz_p95_ms"), 0, ""),
            ("slowest /readyz, first syncs (ms)", "syncing_readyz_ms", 0, "< 50"),
            ("slowest /healthz, first syncs, asked from outside (ms)", "outside_healthz_slowest_ms", 0, "< 50"),
            ("slowest /readyz, first syncs, asked from outside (ms)", "outside_readyz_slowest_ms", 0, "< 50"),
            ("slowest /healthz, idle (ms)", "slowest_healthz_ms", 0, "< 50"),
            ("slowest /readyz, idle (ms)", "slowest_readyz_ms", 0, "< 50"),
            ("state opens retried", "state_open_failures", 0, ""),
            ("helpdesk requests not answered 2xx, first syncs", "requests_not_ok", 0, ""),
            ("P0s sent during first syncs (webhooks) / escalated", ("p0_sent", "p0_escalated"), 0, ""),
            ("P0 to its escalation write, median / slowest (s)", ("p0_median_s", "p0_slowest_s"), 1, "")]
    head = ["helpdesks", *[str(r["helpdesks"]) for r in results], "target"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for label, key, digits, target in rows:
        lines.append("| " + " | ".join([label, *[_cell(r, key, digits) for r in results], target]) + " |")
    if len(results) >= 2:
        lo, hi = results[0], results[-1]
        per = (hi["rss_mb"] - lo["rss_mb"]) / max(1, hi["helpdesks"] - lo["helpdesks"])
        lines.append(f"\nsteady RSS per helpdesk: {per:.2f} MB "
                     f"(({hi['rss_mb']:.0f} - {lo['rss_mb']:.0f}) MB / ({hi['helpdesks']} - {lo['helpdesks']}))")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--helpdesks", default="10,100,500")
    ap.add_argument("--idle", type=float, default=60.0)
    ap.add_argument("--latency-ms", type=float, default=0.0,
                    help="every helpdesk answer delayed by this much, as across the internet (default 0: local)")
    ap.add_argument("--p0", type=int, default=0,
                    help="new P0 tickets sent during the first syncs to synced helpdesks with webhooks (default 0)")
    args = ap.parse_args(argv)
    results = [run(int(h), args.idle, log=lambda m: print(f"# {m}", file=sys.stderr, flush=True),
                   latency_ms=args.latency_ms, p0=args.p0)
               for h in args.helpdesks.split(",")]
    print(table(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
