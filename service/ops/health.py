"""/healthz, /readyz and /metrics over HTTP (off by default).

/healthz answers from the main loop's heartbeat alone and never calls a
helpdesk: an upstream outage must not make an orchestrator restart us.
/readyz says state is open and each helpdesk answered recently.

The server binds IPv4 or IPv6 ("[::1]:9464"), serves at most MAX_CONNECTIONS
connections at once (one more is closed at once, not queued on a thread) and
drops a connection idle for IDLE_TIMEOUT seconds: 300 idle sockets used to
hold 300 threads (issue 14.8).
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from tierlift.service.ops.front import Front
from tierlift.service.ops.httpserver import Answer, HttpServer, Request

if TYPE_CHECKING:
    from tierlift.service.ops.webhooks import Receiver


log = logging.getLogger("tierlift.health")


class Heartbeat:
    def __init__(self, clock: Callable[[], float] = time.monotonic):
        self.clock = clock
        self.lock = threading.Lock()
        self.last = clock()
        self.helpdesks: dict[str, float | None] = {}
        self.errors: dict[str, str] = {}
        # Helpdesks whose last answer refused our credentials: not ready at once (below).
        self.refused: set[str] = set()
        # With replicas: "holder" or "standby" per helpdesk (empty: one daemon holds all).
        self.roles: dict[str, str] = {}

    def set_role(self, name: str, role: str) -> None:
        with self.lock:
            self.roles[name] = role

    def standing_by(self, name: str) -> None:
        """Another replica holds the helpdesk: this one's last error about it (from before the
        other took over, a database outage since recovered) is no longer news; kept, /readyz
        showed it minutes after both replicas served again."""
        with self.lock:
            self.roles[name] = "standby"
            self.errors.pop(name, None)
            self.refused.discard(name)

    def role_map(self) -> dict[str, str]:
        with self.lock:
            return dict(self.roles)

    def beat(self) -> None:
        with self.lock:
            self.last = self.clock()

    def age(self) -> float:
        with self.lock:
            return self.clock() - self.last

    def helpdesk_ok(self, name: str) -> None:
        with self.lock:
            self.helpdesks[name] = self.clock()
            self.errors.pop(name, None)
            self.refused.discard(name)

    def helpdesk_failed(self, name: str, error: str, *, refused: bool = False) -> None:
        """A cycle failed. `refused`: the helpdesk answered and refused the credentials (401,
        403), which is ours to mend, not an outage of theirs to ride out: /readyz says not
        ready at once rather than after `ready_after` (a token rotation gone wrong read
        "ready" for ten more minutes, and a rollout gated on it went through)."""
        with self.lock:
            self.helpdesks.setdefault(name, None)
            self.errors[name] = error
            if refused:
                self.refused.add(name)
            else:
                self.refused.discard(name)

    def refused_map(self) -> set[str]:
        with self.lock:
            return set(self.refused)

    def error_map(self) -> dict[str, str]:
        with self.lock:
            return dict(self.errors)

    def helpdesk_ages(self) -> dict[str, float | None]:
        with self.lock:
            now = self.clock()
            return {k: (now - v if v is not None else None) for k, v in self.helpdesks.items()}

    def keep_only(self, names: Sequence[str]) -> None:
        """Forget the helpdesks not in `names` (a reload removed them)."""
        keep = set(names)
        with self.lock:
            for table in (self.helpdesks, self.errors, self.roles):
                for name in [n for n in table if n not in keep]:
                    del table[name]
            self.refused &= keep

    def export(self) -> dict[str, Any]:
        """What the probes' own process needs to answer as this one would (front.py); its
        times are the clock's, time.monotonic, which every process of the host shares."""
        with self.lock:
            return {"last": self.last, "helpdesks": dict(self.helpdesks), "errors": dict(self.errors),
                    "roles": dict(self.roles), "refused": sorted(self.refused)}

    def load(self, data: dict[str, Any]) -> None:
        with self.lock:
            self.last, self.helpdesks = data["last"], data["helpdesks"]
            self.errors, self.roles = data["errors"], data["roles"]
            self.refused = set(data.get("refused", ()))


class StateProbe(threading.Thread):
    """Whether the state store answers, asked every `every` seconds off the main thread:
    /readyz reads the last answer at once, and a check that hangs (a database host that
    stopped answering) counts as down once no answer came for `stale` seconds."""

    def __init__(self, check: Callable[[], None], *, every: float = 2.0, stale: float = 10.0,
                 clock: Callable[[], float] = time.monotonic):
        super().__init__(name="state-probe", daemon=True)
        self.check, self.every, self.stale, self.clock = check, every, stale, clock
        self.stop_event = threading.Event()
        self.lock = threading.Lock()
        self.error: str | None = "not checked yet"
        self.at = clock()

    def run(self) -> None:
        while not self.stop_event.is_set():
            self.probe()
            self.stop_event.wait(self.every)
        close = getattr(self.check, "close", None)
        if close is not None:
            close()

    def probe(self) -> None:
        try:
            self.check()
            error = None
        except Exception as exc:  # whatever the store raises, /readyz says it
            error = str(exc)[:300]
        with self.lock:
            self.error, self.at = error, self.clock()

    def problem(self) -> str | None:
        """Why the state is not usable now, or None."""
        with self.lock:
            age = self.clock() - self.at
            if age > self.stale:
                return f"no answer from the state store for {age:.0f} s"
            return self.error

    def stop(self) -> None:
        self.stop_event.set()

    def export(self) -> dict[str, Any]:
        with self.lock:
            return {"error": self.error, "at": self.at, "stale": self.stale}

    def load(self, data: dict[str, Any]) -> None:
        with self.lock:
            self.error, self.at, self.stale = data["error"], data["at"], data["stale"]


def listen_address(listen: str) -> tuple[str, int]:
    """"HOST:PORT" or "[V6]:PORT" as a bind address; ValueError when it is not one."""
    host, _, port = listen.rpartition(":")
    if host.startswith("[") != host.endswith("]"):
        raise ValueError(f"unbalanced brackets in {listen!r}")
    host = host[1:-1] if host.startswith("[") else host
    if ":" in host and not listen.startswith("["):
        raise ValueError(f"write an IPv6 address in brackets, such as [::1]:9464, not {listen!r}")
    number = int(port)
    if not 0 <= number <= 65535:
        raise ValueError(f"port {number} is out of range")
    return host or "127.0.0.1", number


class Probes:
    """The answers of /healthz and /readyz, from the heartbeat and the state probe alone:
    the same object answers in the daemon and in the probes' own process (front.py)."""

    def __init__(self, heartbeat: Heartbeat, *, state_open: Callable[[], bool], helpdesks: Sequence[str],
                 stale_after: float = 120.0, ready_after: float = 600.0, state_probe: StateProbe | None = None):
        self.heartbeat, self.state_open, self.helpdesks = heartbeat, state_open, list(helpdesks)
        self.stale_after, self.ready_after = stale_after, ready_after
        self.state_probe = state_probe  # why the state is not open (the probe's last answer)

    def serve_helpdesks(self, names: Sequence[str]) -> None:
        """The helpdesks /readyz asks about, after a reload: a new one is not ready until it
        answers, and a removed one is forgotten (it would never answer again)."""
        self.helpdesks = list(names)
        self.heartbeat.keep_only(names)

    def answer(self, path: str) -> tuple[int, str, bytes]:
        if path == "/healthz":
            age = self.heartbeat.age()
            ok = age < self.stale_after
            return (200 if ok else 503), "application/json", json.dumps(
                {"status": "ok" if ok else "stalled", "heartbeat_age_seconds": round(age, 3)}).encode()
        return self._readyz()

    def _readyz(self) -> tuple[int, str, bytes]:
        roles = self.heartbeat.role_map()
        failing = self._not_answering(roles)
        stalled = self._stalled()
        problem = self.state_probe.problem() if self.state_probe and not stalled else None
        state_open = problem is None and not stalled and self.state_open()
        ok = state_open and self._some_answer(roles, failing)
        body: dict = {"status": "ready" if ok else "not ready", "state_open": state_open,
                      "helpdesks_not_answering": failing}
        if stalled:
            body["daemon_error"] = stalled
            roles = {h: "unknown" for h in roles}
        if problem:
            body["state_error"] = problem
        errors = self.heartbeat.error_map()
        if errors:
            body["helpdesk_errors"] = errors  # per helpdesk: why it is not answering
        if roles:
            body["leases"] = roles
        return (200 if ok else 503), "application/json", json.dumps(body).encode()

    def _some_answer(self, roles: dict[str, str], failing: list[str]) -> bool:
        """Not ready when none of the helpdesks this replica serves answers (one of them, alone).
        One client's broken helpdesk among forty took the whole replica out of the webhooks
        Service, and every other client's P0 waited for the poll (QA, a multi-tenant operator):
        who is not answering is in the body, the metrics and the log."""
        served = [h for h in self.helpdesks if roles.get(h) != "standby"]
        return not served or len(failing) < len(served)

    def _not_answering(self, roles: dict[str, str]) -> list[str]:
        """The helpdesks not answered within ready_after, or whose last answer refused the
        credentials; a standby replica's are not its to answer (another replica holds their
        leases)."""
        ages, refused = self.heartbeat.helpdesk_ages(), self.heartbeat.refused_map()
        return [h for h in self.helpdesks if roles.get(h) != "standby"
                and (h in refused or (seen := ages.get(h)) is None or seen > self.ready_after)]

    def _stalled(self) -> str | None:
        """Why this answer is stale, or None. The daemon itself stopped (SIGSTOP, a blocked
        loop) and this is its last copy: it blamed the state store, and said "holder" of
        leases another replica had taken since (QA hunt on replicas)."""
        silent = self.heartbeat.age()
        if self.state_probe is None or silent <= self.state_probe.stale:
            return None
        return f"the daemon has not answered for {silent:.0f} s (stopped or blocked)"

    def export(self) -> dict[str, Any]:
        """All the answers depend on, as JSON data (front.py sends it to the probes' process)."""
        return {"heartbeat": self.heartbeat.export(), "state_open": self.state_open(), "helpdesks": self.helpdesks,
                "stale_after": self.stale_after, "ready_after": self.ready_after,
                "state_probe": self.state_probe.export() if self.state_probe else None}

    @classmethod
    def loaded(cls, data: dict[str, Any]) -> Probes:
        heartbeat = Heartbeat()
        heartbeat.load(data["heartbeat"])
        probe = None
        if data["state_probe"] is not None:
            probe = StateProbe(lambda: None)
            probe.load(data["state_probe"])
        is_open = bool(data["state_open"])
        return cls(heartbeat, state_open=lambda: is_open, helpdesks=data["helpdesks"],
                   stale_after=data["stale_after"], ready_after=data["ready_after"], state_probe=probe)


class HealthServer:
    """/healthz, /readyz, /metrics (probes=True) and, with a receiver, POST /webhooks/<helpdesk>.

    front=True (the daemon's own process, runner.run): a small process of its own accepts
    the connections and answers /healthz and /readyz itself, from what this one sends it a
    few times a second; everything else it hands over to this server (front.py)."""

    def __init__(self, listen: str, heartbeat: Heartbeat, metrics, *, state_open: Callable[[], bool],
                 helpdesks: Sequence[str], stale_after: float = 120.0, ready_after: float = 600.0,
                 receiver: Receiver | None = None, probes: bool = True,
                 state_probe: StateProbe | None = None, front: bool = False):
        self.bind = listen_address(listen)
        self.metrics = metrics
        self.probes = Probes(heartbeat, state_open=state_open, helpdesks=helpdesks, stale_after=stale_after,
                             ready_after=ready_after, state_probe=state_probe) if probes else None
        self.receiver, self.front = receiver, front
        self.httpd: HttpServer | None = None
        self.front_process: Front | None = None

    def start(self) -> None:
        cap = self.receiver.body_cap if self.receiver is not None else (lambda method, path: 0)
        # "[::]:9464" binds IPv6 (and, on Linux by default, IPv4 too): a pod's probes reach either.
        server = HttpServer(self.bind, self.handle, body_cap=cap, name="health" if self.probes else "webhooks")
        in_front = self.front and self.probes is not None and Front.possible()
        server.start(accept=not in_front)
        self.httpd = server
        if in_front:
            assert self.probes is not None
            front = Front(server, self.probes, self.metrics)
            try:
                front.start()
            except OSError as exc:  # no process of its own: this one answers everything, as before
                from tierlift.service.ops.logs import event

                event(log, logging.WARNING, "the probes are answered by the daemon itself", str(exc))
                server.stop()
                self.httpd = HttpServer(self.bind, self.handle, body_cap=cap, name="health")
                self.httpd.start()
            else:
                self.front_process = front

    @property
    def address(self) -> tuple[str, int]:
        assert self.httpd is not None
        return self.httpd.address

    def handle(self, req: Request) -> Answer:
        if self.receiver is not None and self.receiver.handles(req.path):
            return self.receiver.answer(req)
        if self.probes is None:
            return Answer(404, body=b'{"error": "not found"}')
        if req.method not in ("GET", "HEAD") and req.path in ("/healthz", "/readyz", "/metrics"):
            return Answer(405, body=b'{"error": "method not allowed"}', headers={"Allow": "GET"})
        status, ctype, body = self.answer(req.path) if req.method in ("GET", "HEAD") else (
            404, "application/json", b'{"error": "not found"}')
        return Answer(status, ctype, body)

    def answer(self, path: str) -> tuple[int, str, bytes]:
        if path in ("/healthz", "/readyz") and self.probes is not None:
            return self.probes.answer(path)
        if path == "/metrics":
            from prometheus_client import CONTENT_TYPE_LATEST

            return 200, CONTENT_TYPE_LATEST, self.metrics.render()
        return 404, "application/json", b'{"error": "not found"}'

    def stop(self) -> None:
        if self.front_process is not None:
            self.front_process.stop()
            self.front_process = None
        if self.httpd is not None:
            self.httpd.stop()
            self.httpd = None
