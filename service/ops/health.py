"""/healthz, /readyz and /metrics over HTTP (off by default).

/healthz answers from the main loop's heartbeat alone and never calls a
helpdesk: an upstream outage must not make an orchestrator restart us.
/readyz says state is open and each helpdesk answered recently.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Callable, Sequence
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from prometheus_client import CONTENT_TYPE_LATEST


class Heartbeat:
    def __init__(self, clock: Callable[[], float] = time.monotonic):
        self.clock = clock
        self.lock = threading.Lock()
        self.last = clock()
        self.helpdesks: dict[str, float | None] = {}
        self.errors: dict[str, str] = {}
        # With replicas: "holder" or "standby" per helpdesk (empty: one daemon holds all).
        self.roles: dict[str, str] = {}

    def set_role(self, name: str, role: str) -> None:
        with self.lock:
            self.roles[name] = role

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

    def helpdesk_failed(self, name: str, error: str) -> None:
        with self.lock:
            self.helpdesks.setdefault(name, None)
            self.errors[name] = error

    def helpdesk_ages(self) -> dict[str, float | None]:
        with self.lock:
            now = self.clock()
            return {k: (now - v if v is not None else None) for k, v in self.helpdesks.items()}


class HealthServer:
    def __init__(self, listen: str, heartbeat: Heartbeat, metrics, *, state_open: Callable[[], bool],
                 helpdesks: Sequence[str], stale_after: float = 120.0, ready_after: float = 600.0):
        host, _, port = listen.rpartition(":")
        self.bind = (host.strip("[]") or "127.0.0.1", int(port))
        self.heartbeat, self.metrics = heartbeat, metrics
        self.state_open, self.helpdesks = state_open, list(helpdesks)
        self.stale_after, self.ready_after = stale_after, ready_after
        self.httpd: ThreadingHTTPServer | None = None

    def start(self) -> None:
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:
                pass

            def do_GET(self) -> None:
                status, ctype, body = server.answer(self.path.split("?")[0])
                self.send_response(status)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        # "[::]:9464" binds IPv6 (and, on Linux by default, IPv4 too): a pod's probes reach either.
        family = socket.AF_INET6 if ":" in self.bind[0] else socket.AF_INET
        self.httpd = type("Server", (ThreadingHTTPServer,), {"address_family": family})(self.bind, Handler)
        self.httpd.daemon_threads = True
        threading.Thread(target=self.httpd.serve_forever, name="health", daemon=True).start()

    @property
    def address(self) -> tuple[str, int]:
        assert self.httpd is not None
        return self.httpd.server_address[0], self.httpd.server_address[1]

    def answer(self, path: str) -> tuple[int, str, bytes]:
        if path == "/healthz":
            age = self.heartbeat.age()
            ok = age < self.stale_after
            return (200 if ok else 503), "application/json", json.dumps(
                {"status": "ok" if ok else "stalled", "heartbeat_age_seconds": round(age, 3)}).encode()
        if path == "/readyz":
            ages = self.heartbeat.helpdesk_ages()
            roles = self.heartbeat.role_map()
            # A standby replica is ready: another replica holds that helpdesk's lease.
            failing = [h for h in self.helpdesks if roles.get(h) != "standby"
                       and (ages.get(h) is None or ages[h] > self.ready_after)]
            ok = self.state_open() and not failing
            body: dict = {"status": "ready" if ok else "not ready", "state_open": self.state_open(),
                          "helpdesks_not_answering": failing}
            if roles:
                body["leases"] = roles
            return (200 if ok else 503), "application/json", json.dumps(body).encode()
        if path == "/metrics":
            return 200, CONTENT_TYPE_LATEST, self.metrics.render()
        return 404, "application/json", b'{"error": "not found"}'

    def stop(self) -> None:
        if self.httpd is not None:
            self.httpd.shutdown()
            self.httpd.server_close()
            self.httpd = None
