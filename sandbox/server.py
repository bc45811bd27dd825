"""The sandbox helpdesk server: HTTP on loopback, faults, rate limits, a request log.

    tierlift sandbox --flavor zendesk|jira --port 8080 --tickets 200 --seed 7 [--faults SPEC]

Control endpoints (never logged, never faulted): GET /_sandbox/requests,
GET /_sandbox/stats, POST /_sandbox/reset, POST /_sandbox/seed {"tickets","seed"[,"spread"]},
GET|POST /_sandbox/clock {"now"} or {"advance_seconds"} or {"speed"},
POST /_sandbox/faults {"spec"} or {"script": [...]},
POST /_sandbox/churn {"count","seed"} or {"ids"} (customer follow-ups on open tickets, or on these),
POST /_sandbox/users {"users": [{"name","email","role","token"[,"team"]}]} (people with
their own credentials: the author of a write is whoever made it),
POST /_sandbox/tickets {"tickets": [{"subject","description","created_at"[,"tags","status"]}]},
POST /_sandbox/delete_on_write {"ids": [...]} (each is deleted as the next write for it
arrives: deleted between a client's read and its write),
POST /_sandbox/time_zone {"time_zone"} (Jira: the profile time zone of tierlift's account,
in which the site reads JQL dates; UTC until set),
POST /_sandbox/webhook_faults {"spec", "seed"} and GET /_sandbox/deliveries (webhooks.py:
the webhooks the helpdesk sends, their faults and every delivery attempt).
Each logged request carries "seconds", the time spent serving it (benchmarks
put the sandbox's own time beside the client's).

Fault spec: comma-separated KIND:RATE[@ARG], e.g. `429:0.1@2s,500:0.05,drop:0.02,
drop_after:0.02,latency:0.2@150ms,409:0.1`. `drop` closes the connection before
a write is applied; `drop_after` applies it first (the case that makes a
careless client write twice). 409 applies to safe updates only. `late`
holds a write that carries a customer-visible comment ARG seconds (default 1),
THEN applies it: a client whose timeout is shorter gives up on a write that
lands afterwards (scripted, it waits for the next such write; reads pass).
faults.py draws the faults and keeps the rate limits; each flavour routes its
own paths (zendesk.py, jira.py, through router.py's tables).
"""

from __future__ import annotations

import argparse
import json
import re
import signal
import socket
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit
from zoneinfo import ZoneInfo

from tierlift.sandbox.faults import Faults, FaultSpec, RateLimiter
from tierlift.sandbox.history import history_rows
from tierlift.sandbox.jira import JiraData
from tierlift.sandbox.router import Response
from tierlift.sandbox.store import SandboxClock, generate, iso
from tierlift.sandbox.users import Person
from tierlift.sandbox.webhooks import WebhookHub
from tierlift.sandbox.zendesk import ZendeskData

__all__ = ["FaultSpec", "Sandbox", "client_id", "main"]


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that hangs up (or a connection we dropped on purpose) is not news.
        pass


class Sandbox:
    """A local helpdesk. Use as a context manager, or start() / stop()."""

    def __init__(self, flavor: str = "zendesk", tickets: int = 100, seed: int = 7, now: datetime | None = None,
                 *, port: int = 0, host: str = "127.0.0.1", clock_speed: float = 0.0,
                 rate_limit_per_minute: int | None = None, export_per_minute: int | None = None,
                 rejected_tokens: tuple[str, ...] = ("bad-token",), faults: str = "", fault_seed: int = 0,
                 spread: int = 0, history: int = 0):
        if flavor not in ("zendesk", "jira"):
            raise ValueError("flavor must be zendesk or jira")
        if host not in ("127.0.0.1", "localhost", "::1"):
            raise ValueError("the sandbox listens on loopback only")
        self.flavor = flavor
        self.n_tickets, self.seed, self.spread = tickets, seed, spread
        self.history = history  # closed, labelled tickets for `tierlift triage learn` (history.py)
        self.clock = SandboxClock(now or datetime.now(UTC).replace(microsecond=0), clock_speed)
        self.data: Any = ZendeskData(self.clock) if flavor == "zendesk" else JiraData(self.clock)
        self.hooks = WebhookHub(flavor, self.clock)
        self.data.on_change = self.hooks.changed
        self.faults = Faults()
        if faults:
            self.faults.set(FaultSpec.parse(faults, fault_seed))
        self.limiter = RateLimiter(rate_limit_per_minute)
        self.export_limiter = RateLimiter(export_per_minute)
        self.rejected_tokens = set(rejected_tokens)
        self.down = False
        self.delete_on_write: set[str] = set()
        self.log_lock = threading.Lock()
        self.log: list[dict[str, Any]] = []
        self._seq = 0
        self.host, self.port = host, port
        self.httpd: ThreadingHTTPServer | None = None

    # --- lifecycle --------------------------------------------------------------------
    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def store(self) -> Any:
        return self.data

    def start(self) -> Sandbox:
        handler = type("Handler", (_Handler,), {"sandbox": self})
        self.httpd = _Server((self.host, self.port), handler)
        self.port = self.httpd.server_address[1]
        self.hooks.start(self.url)
        self.seed_tickets(self.n_tickets, self.seed)
        # serve_forever checks for shutdown every poll_interval (0.5 s by default): every stop()
        # waited that long, about a minute over the test suite's sandboxes.
        threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, name="sandbox",
                         daemon=True).start()
        return self

    def stop(self) -> None:
        self.hooks.stop()
        if self.httpd is not None:
            self.httpd.shutdown()
            self.httpd.server_close()
            self.httpd = None

    def __enter__(self) -> Sandbox:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def seed_tickets(self, n: int, seed: int) -> None:
        self.n_tickets, self.seed = n, seed
        now = self.clock.now()
        self.data.load(generate(n, seed, now, self.spread) + history_rows(self.history, seed, now, n + 1), self.url)

    def add_person(self, spec: dict[str, Any]) -> dict[str, Any]:
        """A user with its own credentials: {"name", "email", "role", "token"[, "team"]}; its API record."""
        person = Person(int(spec.get("id") or self.data.people.next_id()), str(spec["name"]), str(spec["email"]),
                        str(spec.get("role") or "agent"), token=str(spec["token"]), team=spec.get("team"))
        record: dict[str, Any] = self.data.add_person(person)
        return record

    def set_down(self, down: bool) -> None:
        self.down = down

    # --- the log ------------------------------------------------------------------------
    def requests_log(self) -> list[dict[str, Any]]:
        with self.log_lock:
            return list(self.log)

    def reset_log(self) -> None:
        with self.log_lock:
            self.log.clear()
            self.faults.injected.clear()

    def stats(self) -> dict[str, Any]:
        with self.log_lock:
            rows = list(self.log)
        by_status = Counter(str(r["status"]) for r in rows)
        by_endpoint = Counter(f"{r['method']} {r['path']}" for r in rows)
        return {"reads": sum(1 for r in rows if not r["write"]), "writes": sum(1 for r in rows if r["write"]),
                "by_status": dict(by_status), "by_endpoint": dict(by_endpoint),
                "faults": sum(self.faults.injected.values()), "faults_by_kind": dict(self.faults.injected),
                "seconds": sum(r.get("seconds", 0.0) for r in rows)}

    def _record(self, entry: dict[str, Any]) -> None:
        with self.log_lock:
            self._seq += 1
            entry["seq"] = self._seq
            self.log.append(entry)

    # --- control endpoints ------------------------------------------------------------
    def control(self, method: str, name: str, payload: Any) -> tuple[int, Any]:
        """A /_sandbox/{name} endpoint: (status, body). Bad input raises ValueError, TypeError or KeyError."""
        handler = CONTROL.get((method, name)) or CONTROL.get(("*", name))
        if handler is None:
            return 404, {"error": "unknown control endpoint"}
        return handler(self, method, payload or {})

    def _control_requests(self, method: str, body: Any) -> tuple[int, Any]:
        return 200, self.requests_log()

    def _control_stats(self, method: str, body: Any) -> tuple[int, Any]:
        return 200, self.stats()

    def _control_reset(self, method: str, body: Any) -> tuple[int, Any]:
        self.reset_log()
        self.faults.clear()
        return 200, {"ok": True}

    def _control_seed(self, method: str, body: Any) -> tuple[int, Any]:
        self.spread = int(body.get("spread", self.spread))
        self.seed_tickets(int(body.get("tickets", self.n_tickets)), int(body.get("seed", self.seed)))
        return 200, {"ok": True, "tickets": self.n_tickets}

    def _control_churn(self, method: str, body: Any) -> tuple[int, Any]:
        ids = body.get("ids")
        return 200, {"changed": self.data.churn(int(body.get("count", 1)), int(body.get("seed", 0)),
                                                ids=list(ids) if isinstance(ids, list) else None)}

    def _control_tickets(self, method: str, body: Any) -> tuple[int, Any]:
        add = self.data.add_ticket if self.flavor == "zendesk" else self.data.add_issue
        ids = [add(str(t.get("subject") or ""), str(t["description"]),
                   datetime.fromisoformat(str(t["created_at"]).replace("Z", "+00:00")),
                   tags=list(t.get("tags") or []), status=str(t.get("status") or "open"))
               for t in body.get("tickets", [])]
        return 200, {"ids": ids}

    def _control_users(self, method: str, body: Any) -> tuple[int, Any]:
        return 200, {"users": [self.add_person(u) for u in body.get("users", [])]}

    def _control_time_zone(self, method: str, body: Any) -> tuple[int, Any]:
        """Jira: the profile time zone of tierlift's account, in which the site reads its JQL dates."""
        if self.flavor != "jira":
            return 404, {"error": "only the Jira sandbox reads JQL"}
        zone = str(body["time_zone"])
        ZoneInfo(zone)  # an unknown zone raises ValueError (ZoneInfoNotFoundError is a KeyError)
        with self.data.lock:
            self.data.bot["timeZone"] = zone
        return 200, {"time_zone": zone}

    def _control_clock(self, method: str, body: Any) -> tuple[int, Any]:
        if method == "POST":
            if "now" in body:
                self.clock.set(datetime.fromisoformat(str(body["now"]).replace("Z", "+00:00")), body.get("speed"))
            elif "advance_seconds" in body:
                self.clock.advance(timedelta(seconds=float(body["advance_seconds"])))
            elif "speed" in body:
                self.clock.set(self.clock.now(), float(body["speed"]))
        return 200, {"now": iso(self.clock.now()), "speed": self.clock.speed}

    def _control_delete_on_write(self, method: str, body: Any) -> tuple[int, Any]:
        self.delete_on_write.update(str(i) for i in body.get("ids", []))
        return 200, {"ok": True}

    def _control_faults(self, method: str, body: Any) -> tuple[int, Any]:
        if "spec" in body:
            self.faults.set(FaultSpec.parse(str(body["spec"]), int(body.get("seed", 0))))
        if "script" in body:
            self.faults.script(list(body["script"]))
        return 200, {"ok": True}


    def _control_webhook_faults(self, method: str, body: Any) -> tuple[int, Any]:
        self.hooks.set_faults(str(body.get("spec", "")), int(body.get("seed", 0)))
        return 200, {"ok": True}

    def _control_deliveries(self, method: str, body: Any) -> tuple[int, Any]:
        with self.hooks.lock:
            return 200, list(self.hooks.deliveries)


# (method, name under /_sandbox/) -> handler; method "*" takes any (the clock answers GET and POST).
CONTROL: dict[tuple[str, str], Callable[[Sandbox, str, Any], tuple[int, Any]]] = {
    ("GET", "requests"): Sandbox._control_requests,
    ("GET", "stats"): Sandbox._control_stats,
    ("POST", "reset"): Sandbox._control_reset,
    ("POST", "seed"): Sandbox._control_seed,
    ("POST", "churn"): Sandbox._control_churn,
    ("POST", "tickets"): Sandbox._control_tickets,
    ("POST", "users"): Sandbox._control_users,
    ("*", "clock"): Sandbox._control_clock,
    ("POST", "time_zone"): Sandbox._control_time_zone,
    ("POST", "delete_on_write"): Sandbox._control_delete_on_write,
    ("POST", "faults"): Sandbox._control_faults,
    ("POST", "webhook_faults"): Sandbox._control_webhook_faults,
    ("GET", "deliveries"): Sandbox._control_deliveries,
}


@dataclass(frozen=True)
class _Request:
    method: str
    path: str
    query: dict[str, str]
    payload: Any
    bad_json: bool

    @property
    def is_write(self) -> bool:
        return self.method in ("POST", "PUT", "DELETE")


class _Handler(BaseHTTPRequestHandler):
    sandbox: Sandbox
    caller: Person | None = None
    protocol_version = "HTTP/1.1"
    # Headers and body go out as two writes; with Nagle's algorithm and the
    # client's delayed ACK each response stalled ~40 ms on loopback, which made
    # a 2,000-escalation suite take minutes instead of seconds.
    disable_nagle_algorithm = True

    def log_message(self, *args: Any) -> None:  # quiet: the request log is the record
        pass

    def date_time_string(self, timestamp: float | None = None) -> str:
        """The Date header at the helpdesk's clock, as a real helpdesk's is at its own (a client
        may date its reads by it: the connector's follow-up stream does)."""
        return formatdate(self.sandbox.clock.now().timestamp() if timestamp is None else timestamp, usegmt=True)

    def do_GET(self) -> None:
        self._handle("GET")

    def do_PUT(self) -> None:
        self._handle("PUT")

    def do_POST(self) -> None:
        self._handle("POST")

    def do_DELETE(self) -> None:
        self._handle("DELETE")

    def _send(self, status: int, body: Any, headers: dict[str, str] | None = None) -> None:
        data = b"" if status == 204 else json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        if data:
            self.wfile.write(data)

    def _drop(self) -> None:
        self.close_connection = True
        try:
            self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    def _read(self, method: str) -> _Request | None:
        split = urlsplit(self.path)
        query: dict[str, str] = {}
        for k, v in parse_qsl(split.query, keep_blank_values=True):
            # Repeated parameters (fields=a&fields=b, as the jira library sends them) join as a list.
            query[k] = f"{query[k]},{v}" if k in query else v
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        if len(raw) < length:
            # The client went away mid-body (a paused or killed process): like any HTTP server,
            # act on nothing and log nothing; the request never arrived.
            self._drop()
            return None
        payload: Any = None
        bad_json = False
        if raw:
            try:
                payload = json.loads(raw)
            except ValueError:
                bad_json = True
        return _Request(method, split.path, query, payload, bad_json)

    def _handle(self, method: str) -> None:
        sb = self.sandbox
        req = self._read(method)
        if req is None:
            return  # the body never came
        if req.path.startswith("/_sandbox/"):
            try:
                status, body = sb.control(method, req.path[len("/_sandbox/"):].strip("/"), req.payload)
            except (ValueError, TypeError, KeyError) as exc:
                status, body = 400, {"error": str(exc)}
            self._send(status, body)
            return
        started = time.perf_counter()
        entry: dict[str, Any] = {"t": time.time(), "method": method, "path": req.path, "query": req.query,
                                 "write": req.is_write, "body": req.payload if req.is_write else None, "fault": None,
                                 "client": client_id(self.headers.get("Authorization", ""))}
        status, body, headers = self._serve(req, entry)
        entry["status"] = status
        sb._record(entry)
        if status == -1:
            return  # dropped
        self._send(status, body, headers)
        entry["seconds"] = time.perf_counter() - started

    def _serve(self, req: _Request, entry: dict[str, Any]) -> Response:
        """Refuse (credentials, down, rate limits), inject a fault, or dispatch to the flavour."""
        refused, rl_headers = self._gate(req.path, entry)
        if refused is not None:
            return refused
        fault = self._draw(req, entry)
        injected = self._injected(fault, rl_headers) if fault else None
        if injected is not None:
            return injected
        if req.bad_json:
            return 400, {"error": "InvalidJSON", "description": "the request body is not valid JSON"}, rl_headers
        if req.is_write and self.sandbox.delete_on_write:
            self._delete_on_write(req.path)
        try:
            status, body, headers = self._dispatch(req)
        except Exception as exc:  # the sandbox never dies on a request
            status, body, headers = 500, {"error": "SandboxError", "description": f"{exc.__class__.__name__}: {exc}"}, {}
        if fault == "drop_after":
            self._drop()
            return -1, None, {}
        return status, body, {**rl_headers, **headers}

    def _gate(self, path: str, entry: dict[str, Any]) -> tuple[Response | None, dict[str, str]]:
        """The refusal before any fault (401, 503 when down, 429 over a rate limit), and the rate-limit headers."""
        sb = self.sandbox
        zendesk = sb.flavor == "zendesk"
        if not self._authorised():
            body = {"error": "Couldn't authenticate you"} if zendesk else {
                "errorMessages": ["Client must be authenticated to access this resource."], "errors": {}}
            return (401, body, {}), {}
        if sb.down:
            return (503, {"error": "ServiceUnavailable", "description": "The helpdesk is down (sandbox)"},
                    {"Retry-After": "1"}), {}
        allowed, remaining, retry = sb.limiter.check()
        limit = str(sb.limiter.per_minute or 100_000)
        rl_headers = {"X-Rate-Limit": limit, "X-Rate-Limit-Remaining": str(remaining)} if zendesk else {
            "X-RateLimit-Limit": limit, "X-RateLimit-Remaining": str(remaining)}
        if not allowed:
            entry["fault"] = "rate_limit"
            h = {**rl_headers, "Retry-After": str(retry)}
            if not zendesk:
                h["RateLimit-Reason"] = "jira-burst-based"
            return (429, {"error": "TooManyRequests", "description": "Rate limit exceeded"}, h), rl_headers
        if "incremental" in path:
            ok, _, retry = sb.export_limiter.check()
            if not ok:
                entry["fault"] = "rate_limit"
                return (429, {"error": "TooManyRequests", "description": "Incremental export rate limit exceeded"},
                        {**rl_headers, "Retry-After": str(retry)}), rl_headers
        return None, rl_headers

    def _draw(self, req: _Request, entry: dict[str, Any]) -> str | None:
        """Draw this request's fault and sleep its latency; the log shows every injected fault, delays included."""
        payload = req.payload
        safe = bool(isinstance(payload, dict) and isinstance(payload.get("ticket"), dict)
                    and payload["ticket"].get("safe_update"))
        fault, latency = self.sandbox.faults.draw(req.is_write, safe, req.is_write and _public_comment(payload))
        if latency:
            entry["latency"] = latency
            time.sleep(latency)
        if fault:
            entry["fault"] = fault
        return fault

    def _injected(self, fault: str, rl_headers: dict[str, str]) -> Response | None:
        """The answer a fault gives instead of the helpdesk's (None: the request goes on: late, drop_after)."""
        if fault == "429":
            retry = str(int(self.sandbox.faults.spec.args.get("429", 1)))
            return 429, {"error": "TooManyRequests"}, {**rl_headers, "Retry-After": retry}
        if fault in ("500", "502", "503"):
            return int(fault), {"error": "ServerError", "description": "injected by the sandbox"}, rl_headers
        if fault == "409":
            return 409, {"error": "UpdateConflict", "description": "Safe Update prevented the update due to outdated ticket data."}, rl_headers
        if fault == "drop":
            self._drop()
            return -1, None, {}
        return None

    def _delete_on_write(self, path: str) -> None:
        """Delete a ticket named for deletion as its write arrives (between a client's read and its write)."""
        sb = self.sandbox
        m = re.search(r"/(?:tickets|issue)/([A-Za-z0-9-]+?)(?:\.json)?(?:/|$)", path)
        if m and m[1] in sb.delete_on_write:
            sb.delete_on_write.discard(m[1])
            sb.data.delete(int(m[1]) if sb.flavor == "zendesk" else m[1])

    def _authorised(self) -> bool:
        """Resolve the caller from the credentials (users.py); the author of this request's writes."""
        self.caller = self.sandbox.data.people.resolve(self.headers.get("Authorization", ""),
                                                       self.sandbox.rejected_tokens)
        return self.caller is not None

    def _dispatch(self, req: _Request) -> Response:
        data = self.sandbox.data
        hooks = self.sandbox.hooks.route(req.method, req.path, req.payload)
        if hooks is not None:
            return hooks
        if isinstance(data, JiraData):
            return data.route(req.method, req.path, req.query, req.payload, self.caller)
        assert isinstance(data, ZendeskData)
        if not req.path.startswith("/api/v2/"):
            return 404, {"error": "InvalidEndpoint"}, {}
        rest = req.path[len("/api/v2/"):]
        if rest.endswith(".json"):
            rest = rest[:-5]
        return data.route(req.method, [p for p in rest.split("/") if p], req.query, req.payload, self.caller)


def _start_floor(sb: Sandbox, args: argparse.Namespace, stop: threading.Event) -> None:
    from tierlift.sandbox.floor import Floor

    if sb.clock.speed <= 0:
        print("tierlift sandbox: --floor needs a running clock (--clock-speed > 0)", file=sys.stderr)
        return
    floor = Floor(sb, args.floor_pack, args.seed, tickets=args.floor_tickets, days=args.floor_days)
    print(f"floor: {args.floor_pack}, {args.floor_tickets} tickets until {iso(floor.end)}", flush=True)

    def work() -> None:
        floor.run(stop)
        print("floor done: " + ", ".join(f"{k} {v}" for k, v in sorted(floor.stats.items())), flush=True)

    threading.Thread(target=work, name="floor", daemon=True).start()


def _public_comment(payload: Any) -> bool:
    """A write that shows the customer a comment: a Zendesk update with a public comment,
    a Jira comment that is neither `public: false` nor marked internal."""
    if not isinstance(payload, dict):
        return False
    ticket = payload.get("ticket")
    if isinstance(ticket, dict):
        comment = ticket.get("comment")
        return isinstance(comment, dict) and bool(comment.get("public", True))
    if "body" not in payload or payload.get("public") is False:
        return False
    return not any(isinstance(p, dict) and p.get("key") == "sd.public.comment" for p in payload.get("properties") or [])


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="tierlift sandbox", description="A local helpdesk that speaks the Zendesk or Jira REST API.")
    ap.add_argument("--flavor", choices=["zendesk", "jira"], default="zendesk")
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--tickets", type=int, default=200)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--faults", default="", help="errors it serves on purpose: KIND:RATE[@ARG], comma-separated, KIND one"
                    " of 429 500 502 503 drop drop_after latency 409 late (e.g. 429:0.1@2s,500:0.05,latency:0.2@150ms)")
    ap.add_argument("--webhook-faults", default="", help="faults of the webhooks it sends: drop, delay, duplicate,"
                    " reorder, burst (e.g. drop:0.1,duplicate:0.5,delay:0.2@2s)")
    ap.add_argument("--now", help="sandbox time to start at (ISO 8601; default: now)")
    ap.add_argument("--clock-speed", type=float, default=1.0, help="helpdesk seconds per real second (0 = frozen)")
    ap.add_argument("--rate-limit", type=int, default=None, help="requests per minute before 429s")
    ap.add_argument("--spread", type=int, default=0, help="age tickets by up to this many more seconds each")
    ap.add_argument("--history", type=int, default=0,
                    help="closed, labelled tickets of the past 170 days (for `tierlift triage learn`)")
    ap.add_argument("--floor", action="store_true", help="simulate a support floor: customers and agents (floor.py)")
    ap.add_argument("--floor-pack", default="three-tier", choices=["three-tier", "teamflow"],
                    help="the policy pack whose tiers and teams the floor staffs")
    ap.add_argument("--floor-tickets", type=int, default=200, help="tickets the floor's customers open")
    ap.add_argument("--floor-days", type=float, default=5, help="helpdesk business days the floor works")
    args = ap.parse_args(argv)
    try:
        now = datetime.fromisoformat(args.now.replace("Z", "+00:00")) if args.now else None
        sb = Sandbox(args.flavor, args.tickets, args.seed, now, port=args.port, host=args.host,
                     clock_speed=args.clock_speed, rate_limit_per_minute=args.rate_limit, faults=args.faults,
                     spread=args.spread, history=args.history)
    except ValueError as exc:
        print(f"tierlift sandbox: {exc}", file=sys.stderr)
        return 2
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    sb.hooks.set_faults(args.webhook_faults)
    sb.start()
    print(f"sandbox listening on {sb.url} (flavor {args.flavor}, {args.tickets} tickets, seed {args.seed})", flush=True)
    if args.floor:
        _start_floor(sb, args, stop)
    stop.wait()
    sb.stop()
    return 0


def client_id(authorization: str) -> str:
    """Who sent a request, for the log: a digest of its credentials (never the credentials).

    The replica suites give each daemon process its own token and tell writers apart by this."""
    import hashlib

    return hashlib.sha256(authorization.encode()).hexdigest()[:12] if authorization else ""
