"""Shared machinery of the benchmark: processes, the sandbox's control API, configs, medians.

Every party runs in its own process, so that times and memory are not
conflated: the sandbox (`python -m tierlift.sandbox`), tierlift's
cycle (worker.py), the naive poller (naive_poller.py), and the real daemon
(`tierlift run`) for the time-to-escalation run. Requests are counted from
the sandbox's own request log (ground truth), never from what a client says
it did.
"""

from __future__ import annotations

import json
import re
import statistics
import subprocess
import sys
import threading
from collections.abc import Iterable
from datetime import datetime
from pathlib import Path
from types import SimpleNamespace
from typing import Any, Self

import requests

HERE = Path(__file__).resolve().parent
if str(HERE.parent) not in sys.path:  # tests/kit.py, when a bench script runs on its own
    sys.path.insert(0, str(HERE.parent))

import kit  # noqa: E402
from kit import MARKER, TOKEN, end, env, parse_markers  # noqa: E402, F401  (the bench scripts import them from here)


def median(values: Iterable[float]) -> float:
    vs = list(values)
    return statistics.median(vs) if vs else float("nan")


def percentile(values: list[float], pct: float) -> float:
    """Nearest-rank percentile (p99 of 1,000 values is the 990th smallest)."""
    vs = sorted(values)
    if not vs:
        return float("nan")
    k = max(0, min(len(vs) - 1, int(round(pct / 100 * len(vs) + 0.5)) - 1))
    return vs[k]


# --- the sandbox, in its own process ----------------------------------------------------------


class _Party:
    """A child process of the benchmark, stopped on leaving a `with` block."""

    proc: subprocess.Popen[str]

    def stop(self) -> None:
        end(self.proc, timeout=20)

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


class SandboxProcess(_Party):
    """`tierlift sandbox` as a subprocess, and a client for its /_sandbox/ control endpoints."""

    def __init__(self, flavor: str, tickets: int, *, seed: int = 7, now: datetime, spread: int = 0,
                 speed: float = 0.0):
        self.flavor = flavor
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "tierlift.sandbox", "--flavor", flavor, "--tickets", str(tickets),
             "--seed", str(seed), "--spread", str(spread), "--now", now.isoformat(), "--clock-speed", str(speed)],
            stdout=subprocess.PIPE, text=True, env=env())
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if not line.startswith("sandbox listening on "):
            self.stop()
            raise RuntimeError(f"the sandbox did not start: {line!r}")
        self.url = line.split()[3]
        self.http = requests.Session()

    def control(self, name: str, payload: Any = None, method: str = "POST") -> Any:
        r = self.http.request(method, f"{self.url}/_sandbox/{name}", json=payload, timeout=600)
        r.raise_for_status()
        return r.json()

    def stats(self) -> dict[str, Any]:
        return self.control("stats", method="GET")

    def log(self) -> list[dict[str, Any]]:
        return self.control("requests", method="GET")

    def reset(self) -> None:
        self.control("reset")

    def seed(self, tickets: int, seed: int, spread: int, now: datetime) -> None:
        """The same data again: generation is relative to the clock, so set it first."""
        self.clock(now=now, speed=0.0)
        self.control("seed", {"tickets": tickets, "seed": seed, "spread": spread})

    def clock(self, *, now: datetime | None = None, advance: float | None = None,
              speed: float | None = None) -> datetime:
        if now is not None:
            body: dict[str, Any] = {"now": now.isoformat()}
            if speed is not None:
                body["speed"] = speed
            out = self.control("clock", body)
        elif advance is not None:
            out = self.control("clock", {"advance_seconds": advance})
        elif speed is not None:
            out = self.control("clock", {"speed": speed})
        else:
            out = self.control("clock", method="GET")
        return datetime.fromisoformat(out["now"].replace("Z", "+00:00"))

    def churn(self, count: int, seed: int, ids: list[Any] | None = None) -> list[Any]:
        """Follow-ups on `count` open tickets picked by `seed`, or on the open ones of `ids`."""
        return self.control("churn", {"count": count, "seed": seed, **({"ids": ids} if ids is not None else {})})["changed"]

    def add_tickets(self, tickets: list[dict[str, Any]]) -> list[Any]:
        return self.control("tickets", {"tickets": tickets})["ids"]



# --- a client process driven by JSON lines ---------------------------------------------------------


class Child(_Party):
    """A benchmark party (worker.py, naive_poller.py) answering one JSON line per command."""

    def __init__(self, script: str, *args: str):
        self.proc = subprocess.Popen([sys.executable, str(HERE / script), *args], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env())
        self.errors: list[str] = []
        threading.Thread(target=self._drain, daemon=True).start()
        self.ready = self._answer()

    def _drain(self) -> None:
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            self.errors.append(line.rstrip())

    def _answer(self) -> dict[str, Any]:
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if not line:
            self.proc.wait(timeout=10)
            raise RuntimeError("benchmark child died:\n" + "\n".join(self.errors[-30:]))
        return json.loads(line)

    def send(self, cmd: str, **args: Any) -> dict[str, Any]:
        assert self.proc.stdin is not None
        self.proc.stdin.write(json.dumps({"cmd": cmd, **args}) + "\n")
        self.proc.stdin.flush()
        return self._answer()

    def stop(self) -> None:
        if self.proc.poll() is None:
            try:
                self.send("quit")
            except (RuntimeError, BrokenPipeError, ValueError):
                pass
            end(self.proc, sig=None, timeout=20)


def serve(handle) -> None:
    """The child's side: announce readiness, then answer each command line with one JSON line."""
    out = sys.stdout
    print(json.dumps({"ready": True}), file=out, flush=True)
    for line in sys.stdin:
        cmd = json.loads(line)
        if cmd["cmd"] == "quit":
            print(json.dumps({"bye": True}), file=out, flush=True)
            return
        print(json.dumps(handle(cmd), default=str), file=out, flush=True)


def peak_rss_mb() -> float:
    """This process's peak resident memory (MiB).

    VmHWM, not getrusage's ru_maxrss: Linux carries ru_maxrss across fork and
    exec, so a child would report its parent's peak if that was higher (the
    benchmark's parent holds the engine bench's tickets).
    """
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024  # kB
    except OSError:
        pass
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux reports KiB


# --- configuration --------------------------------------------------------------------------------


def write_config(folder: Path, sandbox_url: str, flavor: str, policy: str, *, poll: str = "30s",
                 clock: bool = False, **extra: Any) -> Path:
    """A tierlift.yaml for one sandbox helpdesk, with the product's retry defaults."""
    sandbox = SimpleNamespace(url=sandbox_url, flavor=flavor)
    # The benchmarks measure writes at full speed: no cap on customer replies (kit.helpdesk).
    hd = kit.helpdesk(sandbox, "bench", policy=policy, **extra)
    return kit.write_config(folder, [hd], poll=poll, clock_url=sandbox_url if clock else None)


def policy_without_reply(folder: Path) -> Path:
    """three-tier with its customer_notification block removed: escalations without a public reply."""
    from importlib import resources

    text = (resources.files("tierlift.policies") / "three-tier.yaml").read_text(encoding="utf-8")
    out, skipping = [], False
    for line in text.splitlines():
        if line.startswith("  customer_notification:"):
            skipping = True
            continue
        if skipping and (line.startswith("    ") or not line.strip()):
            continue
        skipping = False
        out.append(line)
    path = folder / "three-tier-no-reply.yaml"
    folder.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(out) + "\n")
    return path


# --- reading the sandbox's log ---------------------------------------------------------------------


def ticket_of(entry: dict[str, Any]) -> str | None:
    """The ticket a write request is about (Zendesk id or Jira key)."""
    m = re.search(r"/tickets/(\d+)(?:/|\.json)|/issue/([^/]+)|/request/([^/]+)/comment", entry["path"])
    if not m:
        return None
    return next(g for g in m.groups() if g)


def bodies_of(entry: dict[str, Any]) -> list[str]:
    """Comment texts a write request carries (Zendesk ticket comment, Jira comment or edit comments)."""
    body = entry.get("body") or {}
    out = []
    if isinstance(body.get("ticket"), dict) and isinstance(body["ticket"].get("comment"), dict):
        out.append(str(body["ticket"]["comment"].get("body") or ""))
    if isinstance(body.get("body"), str):
        out.append(body["body"])
    for op in ((body.get("update") or {}).get("comment") or []) if isinstance(body.get("update"), dict) else []:
        if isinstance(op, dict) and isinstance(op.get("add"), dict):
            out.append(str(op["add"].get("body") or ""))
    return out


def escalated_at(sb: Any) -> dict[str, float]:
    """Ticket -> real time its first escalation write was answered, from the sandbox's own log
    (`sb`: anything with `flavor` and `log()`)."""
    out: dict[str, float] = {}
    for e in sb.log():
        if e["write"] and 200 <= int(e["status"]) < 300 and "seconds" in e:
            tid = ticket_of(e)
            if tid is None:
                continue
            if sb.flavor == "jira" and tid.isdigit():
                tid = f"SUP-{int(tid) - 10000}"
            if tid not in out and any(MARKER.search(t) for t in bodies_of(e)):
                out[tid] = e["t"] + e["seconds"]
    return out


def writes_per_escalation(log: list[dict[str, Any]]) -> tuple[float, int, int]:
    """(write requests per escalation, escalations, tickets counted) over successful writes.

    An escalation is a move up a tier. Only tickets whose notes in this log are
    all escalations count (a de-escalation, a reminder or a refusal note is a
    write that escalates nothing), and a cascade of two moves in one cycle
    counts as two escalations.
    """
    writes: dict[str, int] = {}
    moves: dict[str, int] = {}
    other: set[str] = set()
    for e in log:
        if not e["write"] or not (200 <= int(e["status"]) < 300):
            continue
        tid = ticket_of(e)
        if tid is None:
            continue
        if tid.isdigit() and len(tid) == 5 and e["path"].startswith("/rest/api/2/issue/"):
            tid = f"SUP-{int(tid) - 10000}"  # the jira library PUTs to the id URL
        writes[tid] = writes.get(tid, 0) + 1
        for move in parse_markers(bodies_of(e)):
            if move.to_tier > move.from_tier:
                moves[tid] = moves.get(tid, 0) + 1
            else:  # a de-escalation, a reminder, a refusal: writes that escalate nothing
                other.add(tid)
    counted = [t for t in moves if t not in other]
    total_writes = sum(writes[t] for t in counted)
    total_moves = sum(moves[t] for t in counted)
    return (total_writes / total_moves if total_moves else float("nan")), total_moves, len(counted)
