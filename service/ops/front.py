"""The probes' own process: /healthz and /readyz answered off the daemon's interpreter.

At 500 helpdesks the daemon's interpreter is busy for minutes of first syncs, and a
probe answered there waits for it: one in 200 waited through a full garbage
collection, which stops every thread for up to 250 ms (docs/performance.md, "Health
answers"). A liveness probe that times out restarts a healthy daemon. So the daemon
(`tierlift run` only) starts this small process beside it:

- the daemon binds the port (a taken port still refuses the start) and passes the
  listening socket here; this process accepts every connection;
- the daemon sends it, several times a second, everything the probes' answers depend on
  (`Probes.export`: the heartbeat's and each helpdesk's last times on the host's monotonic
  clock, the state probe's last answer), and a GET of /healthz or /readyz is answered here
  by the same `Probes` code from the last of those. A daemon that stops beating is seen
  here exactly as there: the heartbeat's age grows;
- anything else (/metrics, webhooks, a POST to a probe) is handed over, socket, the
  bytes read of it and when it was accepted, to the daemon's own server
  (`HttpServer.adopt`), which answers it as if it had accepted it, within what is left of
  the request's REQUEST_DEADLINE. The daemon takes every handover waiting when it looks;
  one its loop takes no room for within HANDOVER_WAIT is answered UNAVAILABLE (503,
  Retry-After) here, and reported back on the status pipe: the daemon counts it
  (`tierlift_webhooks_total{result="busy"}` for a webhook) and logs it once a minute.

It ends when the daemon does (its end of the status pipe closes; it ignores the stop
signals a unit's stop sends every process, and answers until then), and the daemon
starts it again if it ends first. Where the host cannot pass sockets between processes
(`Front.possible`), the daemon answers everything itself, as before.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import json
import logging
import select
import signal
import socket
import struct
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from tierlift.service.ops.httpserver import (
    MAX_CONNECTIONS,
    MAX_HEAD,
    REQUEST_DEADLINE,
    UNAVAILABLE,
    Answer,
    encode,
    make_room,
    parse_head,
    waited,
)

if TYPE_CHECKING:
    from tierlift.service.ops.health import Probes
    from tierlift.service.ops.httpserver import HttpServer

log = logging.getLogger("tierlift.front")

SEND_EVERY = 0.2  # seconds between two copies of the probes' inputs
SEND_DEADLINE = 5.0  # a probes' process that takes no copy for this long is replaced
RESTART_AFTER = 1.0  # seconds before a probes' process that ended is started again
HANDOVER_LIMIT = 64 * 1024  # one handed-over connection's message: its accept time and bytes read so far
HANDOVER_WAIT = 1.0  # seconds a connection waits for room on the handover socket before a 503
LOG_EVERY = 60.0  # seconds between two log lines about refused handovers
PROBES = ("/healthz", "/readyz")
WEBHOOKS = "/webhooks/"
_LENGTH = struct.Struct("!I")
_ACCEPTED = struct.Struct("!d")  # a handover's first bytes: when the connection was accepted (time.monotonic)


class Front:
    """The daemon's side: starts the probes' process, feeds it, takes what it hands over."""

    def __init__(self, server: HttpServer, probes: Probes, metrics: Any = None):
        self.server, self.probes, self.metrics = server, probes, metrics
        self.stop_event = threading.Event()
        self.process: subprocess.Popen[bytes] | None = None
        self.status: socket.socket | None = None
        self.handover: socket.socket | None = None
        self._reported = b""  # what the probes' process sent back, not yet a whole frame
        self._busy: Counter[str] = Counter()  # refused handovers not logged yet, by helpdesk ("" not a webhook)
        self._busy_told = -LOG_EVERY
        self.thread = threading.Thread(target=self._feed, name="probes-front", daemon=True)

    @staticmethod
    def possible() -> bool:
        return hasattr(socket, "send_fds") and hasattr(socket, "SOCK_SEQPACKET") and sys.platform == "linux"

    def start(self) -> None:
        """OSError when no process can start (the caller answers everything itself)."""
        self._spawn()
        self._running(True)
        self.thread.start()

    def stop(self) -> None:
        self.stop_event.set()
        self.thread.join(5)
        self._end_process()

    # --- the process ----------------------------------------------------------------
    def _spawn(self) -> None:
        status, their_status = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        handover, their_handover = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        listening = self.server.listening.fileno()
        fds = {"listen": listening, "status": their_status.fileno(), "handover": their_handover.fileno()}
        try:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "tierlift.service.ops.front", json.dumps(fds)],
                pass_fds=tuple(fds.values()), stdin=subprocess.DEVNULL, start_new_session=True)
        except OSError:
            status.close()
            handover.close()
            raise
        finally:
            their_status.close()
            their_handover.close()
        status.settimeout(SEND_DEADLINE)
        handover.setblocking(False)
        self.status, self.handover, self._reported = status, handover, b""
        self.server.loop.call_soon_threadsafe(self.server.loop.add_reader, handover.fileno(), self._take, handover)
        with contextlib.suppress(OSError):  # it ended at once: _feed sees it and starts another
            status.sendall(_frame(self.probes.export()))  # its first answers wait for this copy

    def _end_process(self) -> None:
        process, status, handover = self.process, self.status, self.handover
        self.process = self.status = self.handover = None
        if handover is not None:
            with contextlib.suppress(RuntimeError):  # the loop already closed
                self.server.loop.call_soon_threadsafe(_forget, self.server.loop, handover)
        if status is not None:
            status.close()  # the process sees the end of its status pipe and ends
        if process is not None:
            try:
                process.wait(3)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()

    def _feed(self) -> None:
        """Send the probes' inputs every SEND_EVERY; replace a process that ended or stalled."""
        while not self.stop_event.wait(SEND_EVERY):
            problem = self._send()
            if problem is None:
                continue
            from tierlift.service.ops.logs import event

            event(log, logging.WARNING, "the probes' process is started again", problem)
            self._end_process()
            self._running(False)
            if self.stop_event.wait(RESTART_AFTER):
                return
            try:
                self._spawn()
            except OSError as exc:  # no process could start: try again after the wait
                event(log, logging.ERROR, "the probes' process cannot start", str(exc))
            else:
                self._running(True, restarted=True)

    def _running(self, up: bool, restarted: bool = False) -> None:
        if self.metrics is not None:
            self.metrics.probes_process.set(1 if up else 0)
            if restarted:
                self.metrics.probes_restarts.inc()

    def _send(self) -> str | None:
        if self.process is None or self.status is None:
            return "it is not running"
        if (code := self.process.poll()) is not None:
            return f"it ended with exit code {code}"
        try:
            self.status.sendall(_frame(self.probes.export()))
        except OSError as exc:  # a full pipe for SEND_DEADLINE is a process that stopped reading
            return f"it took no update for {SEND_DEADLINE:.0f} s ({exc.__class__.__name__})"
        self._reports()
        return None

    def _reports(self) -> None:
        """Read what the probes' process sent back (the connections it refused), without waiting."""
        status = self.status
        with contextlib.suppress(OSError):
            while status is not None and select.select([status], [], [], 0)[0]:
                chunk = status.recv(65536)
                if not chunk:
                    break  # it ended: _send sees it next time
                self._reported += chunk
        while len(self._reported) >= _LENGTH.size:
            (length,) = _LENGTH.unpack_from(self._reported)
            if len(self._reported) < _LENGTH.size + length:
                break
            body, self._reported = self._reported[_LENGTH.size:_LENGTH.size + length], self._reported[_LENGTH.size + length:]
            with contextlib.suppress(ValueError, TypeError, AttributeError):
                self._refused({str(k): int(v) for k, v in json.loads(body)["refused"].items()})

    def _refused(self, counts: dict[str, int]) -> None:
        """Count and (once a minute) log connections answered 503 because the daemon took no handover."""
        helpdesks = set(self.probes.helpdesks)
        for name, n in counts.items():
            if name and self.metrics is not None:
                self.metrics.webhooks.labels(name if name in helpdesks else "-", "busy").inc(n)
            self._busy[name if name in helpdesks or not name else "-"] += n
        now = time.monotonic()
        if now - self._busy_told < LOG_EVERY or not self._busy:
            return
        from tierlift.service.ops.logs import event

        told, self._busy, self._busy_told = self._busy, Counter(), now
        webhooks = ", ".join(f"{k} {v}" for k, v in sorted(told.items()) if k)
        event(log, logging.WARNING, "connections refused: the daemon took no handover", f"{sum(told.values())}"
              f" answered 503 with Retry-After, its loop too busy for {HANDOVER_WAIT:.0f} s"
              f"{' (webhooks: ' + webhooks + ')' if webhooks else ''}; logged at most once a minute,"
              " /metrics counts the webhooks (result busy)")

    def _take(self, handover: socket.socket) -> None:
        """On the server's loop: every connection handed over since the last look, each answered by
        the server. All of them, not one a turn: a loop busy elsewhere took one per turn while the
        probes' process refused the rest of a burst (its socket's buffer full)."""
        for _ in range(MAX_CONNECTIONS):
            try:
                data, fds, _flags, _address = socket.recv_fds(handover, HANDOVER_LIMIT, 1)
            except (BlockingIOError, InterruptedError):
                return
            except OSError:
                data, fds = b"", []
            if not data and not fds:  # the process ended: _feed starts another
                _forget(self.server.loop, handover)
                return
            accepted = _ACCEPTED.unpack_from(data)[0] if len(data) >= _ACCEPTED.size else None
            for fd in fds:
                self.server.adopt(socket.socket(fileno=fd), data[_ACCEPTED.size:], accepted)


def _forget(loop: asyncio.AbstractEventLoop, handover: socket.socket) -> None:
    if handover.fileno() >= 0:
        loop.remove_reader(handover.fileno())
        handover.close()


def _frame(data: dict[str, Any]) -> bytes:
    body = json.dumps(data).encode()
    return _LENGTH.pack(len(body)) + body


# --- the probes' process ----------------------------------------------------------------
class _Answerer:
    """Accepts, answers the probes from the last copy, hands the rest over."""

    def __init__(self, listening: socket.socket, handover: socket.socket, probes: Probes,
                 report: Callable[[bytes], object] | None = None):
        self.listening, self.handover, self.probes, self.report = listening, handover, probes, report
        self.open = 0
        # Connections still reading their request's head, oldest first: when all MAX_CONNECTIONS
        # are taken the oldest of them makes room for a new one (QA, an integrator: 1,024 idle
        # connections left /healthz and every webhook unanswered for as long as they were kept).
        self.waiting: dict[asyncio.Task[Any], None] = {}
        self.refused: Counter[str] = Counter()  # not reported yet, by the webhook's helpdesk ("": not a webhook)
        self._room: asyncio.Future[None] | None = None  # set when the handover socket has room again

    async def accept(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            try:
                client, _ = await loop.sock_accept(self.listening)
            except OSError:  # out of file descriptors, a connection reset in the queue: go on
                await asyncio.sleep(0.05)
                continue
            if self.open >= MAX_CONNECTIONS and not make_room(self.waiting):
                client.close()
                continue
            self.open += 1
            loop.create_task(self.serve(client, time.monotonic()))

    async def serve(self, client: socket.socket, accepted: float | None = None) -> None:
        accepted = time.monotonic() if accepted is None else accepted
        try:
            async with asyncio.timeout(REQUEST_DEADLINE):
                data = await waited(self.waiting, self._head(client))
                if data is None:
                    return
                answer = self._probe(data)
                if answer is None:
                    if await self._hand_over(client, _ACCEPTED.pack(accepted) + data):
                        return
                    answer = self._refuse(data)  # the daemon takes no connection now
                await asyncio.get_running_loop().sock_sendall(client, encode(answer))
        except (TimeoutError, OSError):
            pass  # too slow, or gone: nothing to answer
        finally:
            self.open -= 1
            client.close()

    @staticmethod
    async def _head(client: socket.socket) -> bytes | None:
        """The request's bytes up to its blank line (or past MAX_HEAD: the daemon answers 431)."""
        loop = asyncio.get_running_loop()
        data = b""
        while b"\r\n\r\n" not in data and len(data) <= MAX_HEAD:
            chunk = await loop.sock_recv(client, 4096)
            if not chunk:
                return None
            data += chunk
        return data

    def _probe(self, data: bytes) -> Answer | None:
        """The answer to a GET or HEAD of a probe, or None: the daemon answers."""
        end = data.find(b"\r\n\r\n")
        head = parse_head(data[:end + 4]) if end >= 0 else None
        if head is None or head[0] not in ("GET", "HEAD") or head[1] not in PROBES:
            return None
        status, ctype, body = self.probes.answer(head[1])
        return Answer(status, ctype, body)

    async def _hand_over(self, client: socket.socket, message: bytes) -> bool:
        """Pass the connection to the daemon, waiting up to HANDOVER_WAIT for room (other
        connections, the probes among them, are served meanwhile)."""
        loop = asyncio.get_running_loop()
        give_up = loop.time() + HANDOVER_WAIT
        while True:
            try:
                socket.send_fds(self.handover, [message], [client.fileno()])
                return True
            except (BlockingIOError, InterruptedError):
                if loop.time() >= give_up:
                    return False
            except OSError:
                return False
            if self._room is None:  # one watch for every waiting connection: a loop has one per descriptor
                self._room = loop.create_future()
                loop.add_writer(self.handover.fileno(), self._has_room)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.shield(self._room), give_up - loop.time())

    def _has_room(self) -> None:
        room, self._room = self._room, None
        asyncio.get_running_loop().remove_writer(self.handover.fileno())
        if room is not None and not room.done():
            room.set_result(None)

    def _refuse(self, data: bytes) -> Answer:
        """UNAVAILABLE, counted for the daemon (sent with the next report, SEND_EVERY at most after)."""
        head = parse_head(data[:data.find(b"\r\n\r\n") + 4]) if b"\r\n\r\n" in data else None
        path = head[1] if head is not None else ""
        name = path[len(WEBHOOKS):].strip("/")[:100] if path.startswith(WEBHOOKS) else ""
        if not self.refused:
            asyncio.get_running_loop().call_later(SEND_EVERY, self._send_report)
        self.refused[name] += 1
        return UNAVAILABLE

    def _send_report(self) -> None:
        refused, self.refused = self.refused, Counter()
        if self.report is not None and refused:
            with contextlib.suppress(OSError, RuntimeError):  # the daemon ended: so do we, soon
                self.report(_frame({"refused": dict(refused)}))


async def _serve(fds: dict[str, int]) -> None:
    from tierlift.service.ops.health import Probes

    loop = asyncio.get_running_loop()
    status = socket.socket(fileno=fds["status"])
    status.setblocking(False)
    reader, writer = await asyncio.open_connection(sock=status)
    answerer = _Answerer(socket.socket(fileno=fds["listen"]), socket.socket(fileno=fds["handover"]),
                         Probes.loaded(await _next(reader)), writer.write)
    answerer.listening.setblocking(False)
    answerer.handover.setblocking(False)
    gc.freeze()  # what the start made stays: the collector's passes walk only the copies that come and go
    accepting = loop.create_task(answerer.accept())
    try:
        while True:
            answerer.probes = Probes.loaded(await _next(reader))
    except (asyncio.IncompleteReadError, ConnectionError):
        pass  # the daemon ended: so do the probes
    finally:
        accepting.cancel()


async def _next(reader: asyncio.StreamReader) -> dict[str, Any]:
    (length,) = _LENGTH.unpack(await reader.readexactly(_LENGTH.size))
    data: dict[str, Any] = json.loads(await reader.readexactly(length))
    return data


def main(argv: list[str]) -> int:
    # The daemon decides when this ends: it closes the status pipe (or dies, and the kernel
    # closes it). A unit's stop signals every process of the unit: the probes go on
    # answering while the daemon finishes its tickets.
    for number in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(number, signal.SIG_IGN)
    started = time.monotonic()
    try:
        asyncio.run(_serve(json.loads(argv[0])))
    except Exception as exc:  # said once, plainly: the daemon starts another
        print(f"tierlift probes' process: {exc.__class__.__name__}: {exc}"
              f" (after {time.monotonic() - started:.0f} s)", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
