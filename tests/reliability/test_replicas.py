"""Chaos on replicas (issue 15): several `tierlift run` processes share the helpdesks
through one PostgreSQL, while lease holders are SIGKILLed, SIGSTOPped past the
lease TTL and the database restarts.

Judged from the helpdesks' own records:
- escalations expected / applied / duplicated / missed: Zendesk sandboxes against
  the engine's expected set (reliakit.expected); Jira sandboxes against a twin
  sandbox (same seed) that one undisturbed SQLite daemon settled;
- writes after lease loss: each process has its own token, so the sandbox's
  request log tells writers apart (a digest of the credentials); a write counts
  when, at its arrival, the helpdesk's latest lease acquisition (lease_history,
  the database's clock on this machine) was not that process's;
- failover: from a holder's death (SIGKILL, SIGSTOP) to the first read of its
  helpdesk by another process;
- leases per replica at the end, and the most requests any helpdesk received in
  a minute against its budget;
- webhooks through the storm (issue 24): new P0 tickets on the Zendesk sandboxes,
  each announced by a signed webhook posted to a replica picked at random (the
  holder or not, killed, paused or not: a refused or unanswered post goes to
  another replica, as a helpdesk retries). The sandboxes' clocks stand still, so
  their exports never get past the one-minute holdback and no poll reads these
  tickets: each must be escalated exactly once through its webhook alone.

`chaos(size)` runs one size and returns the figures; figures.py calls
`replica_figures(full=True)`.
"""

from __future__ import annotations

import base64
import hashlib
import json
import math
import os
import random
import re
import signal
import statistics
import tempfile
import threading
import time
from collections import Counter
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import requests

from tierlift.sandbox import Sandbox
from tierlift.service.ops.webhooks import zendesk_signature

from kit import MARKER as MARK
from kit import Daemon, free_port, write_config
from pgkit import PgServer, missing_reason
from reliakit import (
    FULL,
    NOW,
    add_backlog,
    exactly_once_reference,
    helpdesk,
    outcome,
    record,
    settle,
)

SHORT = {"replicas": 3, "zendesk": 1, "jira": 1, "due": 40, "kills": 3, "stops": 1, "ttl": 4, "poll": 1,
         "budget": 600, "limit": 150, "webhook_every": 1.0}
LARGE = {"replicas": 3, "zendesk": 3, "jira": 3, "due": 400, "kills": 30, "stops": 10, "ttl": 6, "poll": 1,
         "budget": 1200, "limit": 1500, "webhook_every": 0.5}
SECRET = "whsec-chaos-6a1f0c"


def client_ids(token: str) -> set[str]:
    """The sandbox's digest of this token's Authorization header, for both flavours' clients."""
    out = set()
    for user in ("bot@example.com/token", "bot@example.com"):
        header = "Basic " + base64.b64encode(f"{user}:{token}".encode()).decode()
        out.add(hashlib.sha256(header.encode()).hexdigest()[:12])
    return out


def jira_sandbox(due: int, seed: int) -> Sandbox:
    sb = Sandbox("jira", tickets=60, seed=seed, now=NOW).start()
    rng = random.Random(seed)
    for i in range(due):
        created = NOW - timedelta(hours=rng.uniform(30, 110))
        sb.store.add_issue(f"Backlog {i}", "We suspect unauthorized access to an admin account."
                           if i % 5 == 0 else "The export has been slow since Monday.", created)
    return sb


def jira_moves(sb: Sandbox) -> Counter:
    moves: Counter = Counter()
    for key, issue in sb.store.issues.items():
        for c in issue["fields"]["comment"]["comments"]:
            body = c["body"] if isinstance(c["body"], str) else str(c["body"])
            for m in MARK.finditer(body):
                moves[(str(key), m[2], m[3], m[4])] += 1
    return moves


class Fleet:
    """The replica processes; each start gets a fresh token (its identity in the sandbox log)."""

    def __init__(self, configs: list[Path], folder: Path, n: int, ports: list[int]):
        self.configs, self.folder, self.ports = configs, folder, ports  # one config (its own port) per slot
        self.procs: dict[int, Daemon] = {}
        self.clients: dict[str, int] = {}  # client digest -> pid
        self.generation = 0
        self.events: list[str] = []
        for slot in range(n):
            self.start(slot)

    def start(self, slot: int) -> Daemon:
        self.generation += 1
        token = f"replica-{slot}-{self.generation}-{os.getpid()}"
        d = Daemon(self.configs[slot], self.folder / f"replica{slot}.log", SANDBOX_TOKEN=token, WH_SECRET=SECRET)
        for c in client_ids(token):
            self.clients[c] = d.pid
        self.procs[slot] = d
        return d

    def by_pid(self, pid: int) -> int | None:
        return next((s for s, d in self.procs.items() if d.pid == pid and d.alive()), None)

    def stop_all(self) -> None:
        for d in self.procs.values():
            if d.alive():
                os.kill(d.pid, signal.SIGCONT)
                d.terminate(15)


class Webhooks:
    """New P0s on the Zendesk sandboxes through the storm, each announced by one signed webhook
    posted to a replica picked at random; a post that is refused (503) or not answered goes to
    another replica a moment later, as the helpdesk retries, for up to a minute."""

    def __init__(self, fleet: Fleet, sandboxes: list[tuple[str, Sandbox]], every: float):
        self.fleet, self.sandboxes, self.every = fleet, sandboxes, every
        self.accepted: dict[tuple[str, str], float] = {}  # (helpdesk, ticket) -> when it was created
        self.never: list[tuple[str, str]] = []  # no replica accepted it within a minute
        self.posts: Counter = Counter()  # answers and errors, for the details
        self.rng = random.Random(24)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="webhooks", daemon=True)

    def start(self) -> None:
        if self.sandboxes:
            self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=90)

    def _run(self) -> None:
        n = 0
        while not self._stop.wait(self.every):
            name, sb = self.rng.choice(self.sandboxes)
            n += 1
            born = time.time()
            status, body = sb.control("POST", "tickets", {"tickets": [
                {"subject": f"Checkout down {n}", "description": "All payments fail.", "tags": ["p0"],
                 "created_at": sb.clock.now().isoformat()}]})
            assert status == 200, body
            tid = str(body["ids"][0])
            if self._deliver(name, sb, tid, f"chaos-{n}"):
                self.accepted[(name, tid)] = born
            else:
                self.never.append((name, tid))

    def _deliver(self, name: str, sb: Sandbox, tid: str, delivery: str) -> bool:
        data = json.dumps({"ticket_id": tid}).encode()
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            port = self.rng.choice(self.fleet.ports)
            stamp = sb.clock.now().strftime("%Y-%m-%dT%H:%M:%SZ")
            try:
                r = requests.post(f"http://127.0.0.1:{port}/webhooks/{name}", data=data, timeout=3, headers={
                    "X-Zendesk-Webhook-Signature": zendesk_signature(SECRET, stamp, data),
                    "X-Zendesk-Webhook-Signature-Timestamp": stamp, "X-Zendesk-Webhook-Invocation-Id": delivery})
                self.posts[r.status_code] += 1
                if r.status_code in (200, 202):
                    return True
            except requests.RequestException as exc:
                self.posts[exc.__class__.__name__] += 1
            time.sleep(0.2)
        return False

    def notes(self, sandboxes: list[tuple[str, Sandbox]]) -> dict[tuple[str, str], list[float]]:
        """(helpdesk, ticket) -> when each escalation note on these P0s arrived (the sandbox's log)."""
        out: dict[tuple[str, str], list[float]] = {k: [] for k in self.accepted}
        for name, sb in sandboxes:
            for e in sb.requests_log():
                m = re.search(r"/tickets/(\d+)", e["path"])
                if m and (name, m[1]) in out and e["write"] and 200 <= int(e["status"]) < 300 \
                        and MARK.search(json.dumps(e.get("body"))):
                    out[(name, m[1])].append(e["t"])
        return out


def _leases(url: str) -> list[dict[str, Any]]:
    from tierlift.service.daemon.store.postgres import PostgresStore

    with PostgresStore(url) as s:
        return [x for x in s.leases() if x["live"]]


def _history(url: str) -> list[dict[str, Any]]:
    from tierlift.service.daemon.store.postgres import PostgresStore

    with PostgresStore(url) as s:
        return s.lease_history()


def chaos(size: dict[str, Any], folder: Path) -> dict[str, Any]:
    server = PgServer()
    sandboxes: list[tuple[str, Sandbox]] = []
    twins: list[Sandbox] = []
    fleet = hooks = None
    try:
        for i in range(size["zendesk"]):
            sb = Sandbox("zendesk", tickets=60, seed=11 + i, now=NOW).start()
            add_backlog(sb, size["due"], 11 + i)
            sandboxes.append((f"zd{i}", sb))
        for i in range(size["jira"]):
            sandboxes.append((f"jira{i}", jira_sandbox(size["due"], 21 + i)))
            twins.append(jira_sandbox(size["due"], 21 + i))
        url = server.new_database("chaos")
        # Jira: the note rides in the edit (one write per escalation, as Zendesk's PUT). With two
        # writes (the default), a kill between the label edit and the note leaves a tier label with
        # no marker, and the next holder measured L2 from creation: one wrong L2->L3 in a run
        # (SUP-11); that is the ledger rebuild of issue 14 item 2, not a lease matter.
        hds = [helpdesk(sb, name, page_size=50, rate_limit_per_minute=size["budget"],
                        **({"note_in_edit": True} if sb.flavor == "jira" else {})) for name, sb in sandboxes]
        for hd in hds:
            if hd["kind"] == "zendesk":
                hd["webhook_secret"] = "${WH_SECRET}"
        ports = [free_port() for _ in range(size["replicas"])]
        configs = [write_config(folder / f"slot{i}", hds, clock_url=sandboxes[0][1].url, poll=f"{size['poll']}s",
                                state={"url": url, "lease_ttl": f"{size['ttl']}s"},
                                http={"listen": f"127.0.0.1:{port}"}) for i, port in enumerate(ports)]
        exp_zd = {name: exactly_once_reference(sb) for name, sb in sandboxes if sb.flavor == "zendesk"}
        fleet = Fleet(configs, folder, size["replicas"], ports)
        _wait_for_holders(fleet, url, len(sandboxes), 60)  # python starts slowly on a busy machine
        hooks = Webhooks(fleet, [(n, sb) for n, sb in sandboxes if sb.flavor == "zendesk"], size["webhook_every"])
        hooks.start()
        try:
            deaths = _storm(fleet, server, url, size, sandboxes)
        finally:
            hooks.stop()
        return _judge(fleet, url, size, sandboxes, twins, exp_zd, deaths, folder, hooks)
    finally:
        if hooks is not None:
            hooks.stop()
        if fleet is not None:
            fleet.stop_all()
        for _, sb in sandboxes:
            sb.stop()
        for sb in twins:
            sb.stop()
        server.close()


def _wait_for_holders(fleet: Fleet, url: str, n: int, timeout: float) -> list[dict[str, Any]]:
    """The live leases, once at least `n` helpdesks have a live holder among the fleet."""
    deadline = time.monotonic() + timeout
    while True:
        held = [x for x in _leases(url) if fleet.by_pid(x["pid"]) is not None]
        if len(held) >= n:
            return held
        assert time.monotonic() < deadline, f"only {len(held)} helpdesks held after {timeout:g}s"
        time.sleep(0.2)


def _storm(fleet: Fleet, server: PgServer, url: str, size: dict[str, Any],
           sandboxes: list[tuple[str, Sandbox]]) -> list[tuple[float, str, str]]:
    """Kill and stop lease holders; restart the database once. Returns (time, helpdesk, client digests of the victim)."""
    rng = random.Random(15)
    plan = ["kill"] * size["kills"] + ["stop"] * size["stops"]
    rng.shuffle(plan)
    plan.insert(len(plan) // 2, "restart")
    deaths: list[tuple[float, str, set[str]]] = []
    deadline = time.monotonic() + size["limit"]
    for action in plan:
        # One failure at a time: every helpdesk has a live holder again before the next one,
        # so each failover is measured on its own (a successor killed in turn would add up).
        _wait_for_holders(fleet, url, len(sandboxes), 30 + 3 * size["ttl"])
        assert time.monotonic() < deadline, f"the storm ran out of time with {plan.count(action)} left"
        time.sleep(rng.uniform(0.5, 2.0))
        if action == "restart":
            server.restart()
            continue
        held = _wait_for_holders(fleet, url, 1, 30 + 3 * size["ttl"])
        victims = [(x, fleet.by_pid(x["pid"])) for x in held if fleet.by_pid(x["pid"]) is not None]
        lease, slot = rng.choice(victims)
        d = fleet.procs[slot]
        mine = {c for c, pid in fleet.clients.items() if pid == d.pid}
        t = time.time()
        lost = [x["helpdesk"] for x in held if x["pid"] == d.pid]
        if action == "kill":
            d.kill()
            deaths += [(t, h, mine) for h in lost]
            fleet.events.append(f"{t:.3f} SIGKILL pid {d.pid} holding {lost}")
            fleet.start(slot)
        else:
            os.kill(d.pid, signal.SIGSTOP)
            deaths += [(t, h, mine) for h in lost]
            time.sleep(size["ttl"] + rng.uniform(1.0, 2.0))
            os.kill(d.pid, signal.SIGCONT)
            fleet.events.append(f"{t:.3f} SIGSTOP pid {d.pid} holding {lost}, SIGCONT at {time.time():.3f}")
    return deaths


def _from_the_log(name: str, log: list[dict[str, Any]], history: list[dict[str, Any]], fleet: Fleet,
                  deaths: list, details: list[str]) -> tuple[int, list[float], int]:
    """One helpdesk's request log against the lease history: (writes after lease loss,
    failover seconds, the most requests in any 60 s)."""
    after_loss, failovers = 0, []
    acq = sorted((h["acquired_at"].timestamp(), h["pid"]) for h in history if h["helpdesk"] == name)
    for r in log:
        pid = fleet.clients.get(r.get("client", ""))
        if not r["write"] or pid is None:
            continue
        before = [p for t, p in acq if t <= r["t"]]
        if not before or before[-1] != pid:
            after_loss += 1
            details.append(f"{name}: write {r['method']} {r['path']} ({r['status']}) at {r['t']:.3f} by pid {pid};"
                           f" acquisitions before it: {[(round(t, 3), p) for t, p in acq if t <= r['t']][-3:]}")
    for t, hd, mine in deaths:
        if hd == name:
            nxt = next((r["t"] for r in log if r["t"] > t and r.get("client") not in mine and not r["write"]), None)
            if nxt is not None:
                failovers.append(nxt - t)
                details.insert(0, f"{name}: failover {nxt - t:.2f}s after the death at {t:.3f}")
    times, lo, most = sorted(r["t"] for r in log), 0, 0
    for hi, t in enumerate(times):
        while t - times[lo] >= 60:
            lo += 1
        most = max(most, hi - lo + 1)
    return after_loss, failovers, most


def _slowest_first(line: str) -> float:
    m = re.search(r"failover ([0-9.]+)s", line)
    return -float(m[1]) if m else -1e9  # writes after a lease loss first, then the slowest failovers


def _webhook_figures(hooks: Webhooks, sandboxes: list[tuple[str, Sandbox]], details: list[str]) -> dict[str, Any]:
    """Each P0 announced by a webhook: escalated exactly once; and its time from creation to its note."""
    notes = hooks.notes(sandboxes)
    waits = sorted(min(ts) - hooks.accepted[k] for k, ts in notes.items() if ts)
    details += [f"{k[0]}: P0 {k[1]} (webhook) escalated {len(ts)} times" for k, ts in notes.items() if len(ts) != 1]
    details.append(f"webhook posts: {dict(hooks.posts)}")
    return {"webhook_p0s": len(notes), "webhook_p0s_escalated": sum(1 for ts in notes.values() if ts),
            "webhook_p0s_duplicated": sum(max(0, len(ts) - 1) for ts in notes.values()),
            "webhook_p0s_missed": sum(1 for ts in notes.values() if not ts), "webhooks_never_accepted": len(hooks.never),
            "webhook_to_note_p50_s": round(statistics.median(waits), 2) if waits else None,
            "webhook_to_note_p99_s": round(waits[min(len(waits) - 1, math.ceil(0.99 * len(waits)) - 1)], 2)
            if waits else None}


def _backlog(sb: Sandbox, name: str, hooks: Webhooks) -> set[str]:
    """The sandbox's tickets but the P0s the webhooks announced (judged apart)."""
    new = {tid for (n, tid) in [*hooks.accepted, *hooks.never] if n == name}
    return {str(t) for t in sb.store.tickets} - new


def _judge(fleet: Fleet, url: str, size: dict[str, Any], sandboxes: list[tuple[str, Sandbox]],
           twins: list[Sandbox], exp_zd: dict[str, Any], deaths: list, folder: Path, hooks: Webhooks) -> dict[str, Any]:
    # Let the fleet finish the work, then read the spread while all replicas live.
    deadline = time.monotonic() + size["limit"]
    while time.monotonic() < deadline:
        done = all(outcome(sb, exp_zd[name], only=_backlog(sb, name, hooks)).applied
                   >= sum(exp_zd[name].escalations.values()) for name, sb in sandboxes if name in exp_zd)
        if done and all(hooks.notes(sandboxes).values()):
            break
        time.sleep(1)
    time.sleep(2 * size["ttl"] + size["poll"])  # leases settle: new replicas take their share
    spread = Counter(x["pid"] for x in _leases(url))
    history = _history(url)
    fleet.stop_all()
    figures: Counter = Counter()
    details: list[str] = []
    for name, sb in sandboxes:
        if name in exp_zd:
            o = outcome(sb, exp_zd[name], only=_backlog(sb, name, hooks))
            details += [f"{name}: {d}" for d in o.details]
            for k in ("expected", "applied", "duplicated", "missed", "unexpected", "wrong_state",
                      "replies_duplicated", "replies_missed"):
                figures[k] += getattr(o, k)
    for (name, sb), twin in zip([x for x in sandboxes if x[1].flavor == "jira"], twins, strict=True):
        cfg = write_config(Path(tempfile.mkdtemp(dir=folder)), [helpdesk(twin, name, note_in_edit=True)],
                           clock_url=twin.url)
        settle(cfg, folder / "twin.log", runs=10)
        want, got = jira_moves(twin), jira_moves(sb)
        figures["expected"] += sum(want.values())
        figures["applied"] += sum(min(n, want[k]) for k, n in got.items())
        figures["duplicated"] += sum(max(0, n - want[k]) for k, n in got.items() if k in want)
        figures["unexpected"] += sum(n for k, n in got.items() if k not in want)
        figures["missed"] += sum(max(0, n - got[k]) for k, n in want.items())
        details += [f"{name}: unexpected {k}" for k in got if k not in want]
        details += [f"{name}: missed {k}" for k, n in want.items() if n > got[k]]
    after_loss, failovers, budget = 0, [], 0
    for name, sb in sandboxes:
        n, waits, most = _from_the_log(name, sb.requests_log(), history, fleet, deaths, details)
        after_loss, budget = after_loss + n, max(budget, most)
        failovers += waits
    failovers.sort()
    helpdesks = len(sandboxes)
    webhooks = _webhook_figures(hooks, [(n, sb) for n, sb in sandboxes if n in exp_zd], details)
    return {**figures, **webhooks, "replicas": size["replicas"], "helpdesks": helpdesks, "sigkills": size["kills"],
            "sigstops": size["stops"], "database_restarts": 1, "lease_ttl_s": size["ttl"],
            "poll_interval_s": size["poll"], "writes_after_lease_loss": after_loss,
            "failovers": len(failovers),
            "failover_p50_s": round(statistics.median(failovers), 2) if failovers else None,
            "failover_p99_s": round(failovers[min(len(failovers) - 1, math.ceil(0.99 * len(failovers)) - 1)], 2)
            if failovers else None,
            "leases_per_replica": sorted(spread.values(), reverse=True),
            "lease_share_bound": math.ceil(helpdesks / size["replicas"]) + 1,
            "max_requests_per_minute": budget, "request_budget_per_minute": size["budget"],
            "details": sorted(details, key=_slowest_first)[:60] + fleet.events}


def replica_figures(full: bool = True) -> dict[str, Any]:
    """The chaos suite at its full size (or the short one): the figures dict, for figures.py."""
    with tempfile.TemporaryDirectory(prefix="tierlift-replicas-") as folder:
        return chaos(LARGE if full else SHORT, Path(folder))


@pytest.mark.slow
@pytest.mark.skipif(missing_reason() is not None, reason=missing_reason() or "")
def test_replicas_share_helpdesks_through_kills_stops_and_a_database_restart(tmp_path):
    fig = chaos(LARGE if FULL else SHORT, tmp_path)
    record("replicas", **{k: v for k, v in fig.items() if k != "details"})
    print("\n".join(fig["details"]))
    assert fig["expected"] > 0
    assert (fig["duplicated"], fig["missed"], fig["unexpected"], fig["replies_duplicated"]) == (0, 0, 0, 0), fig
    assert fig["writes_after_lease_loss"] == 0, fig
    # Webhooks through the kills, pauses and the restart: none lost, none acted on twice.
    assert fig["webhook_p0s"] >= 1 and fig["webhooks_never_accepted"] == 0, fig
    assert (fig["webhook_p0s_duplicated"], fig["webhook_p0s_missed"]) == (0, 0), fig
    assert fig["failovers"] >= 1
    assert fig["failover_p99_s"] <= fig["lease_ttl_s"] + fig["poll_interval_s"] + 2, fig
    assert max(fig["leases_per_replica"]) <= fig["lease_share_bound"], fig
    assert sum(fig["leases_per_replica"]) == fig["helpdesks"], fig
