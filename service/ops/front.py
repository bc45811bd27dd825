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
- anything else (/metrics, webhooks, a POST to a probe) is handed over, socket and the
  bytes read of it, to the daemon's own server (`HttpServer.adopt`), which answers it as
  if it had accepted it.

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
import signal
import socket
import struct
import subprocess
import sys
import threading
import time
from typing import TYPE_CHECKING, Any

from tierlift.service.ops.httpserver import (
    MAX_CONNECTIONS,
    MAX_HEAD,
    REQUEST_DEADLINE,
    Answer,
    encode,
    parse_head,
    plain,
)

if TYPE_CHECKING:
    from tierlift.service.ops.health import Probes
    from tierlift.service.ops.httpserver import HttpServer

log = logging.getLogger("tierlift.front")

SEND_EVERY = 0.2  # seconds between two copies of the probes' inputs
SEND_DEADLINE = 5.0  # a probes' process that takes no copy for this long is replaced
RESTART_AFTER = 1.0  # seconds before a probes' process that ended is started again
HANDOVER_LIMIT = 64 * 1024  # one handed-over connection's message: its bytes read so far
PROBES = ("/healthz", "/readyz")
_LENGTH = struct.Struct("!I")


class Front:
    """The daemon's side: starts the probes' process, feeds it, takes what it hands over."""

    def __init__(self, server: HttpServer, probes: Probes, metrics: Any = None):
        self.server, self.probes, self.metrics = server, probes, metrics
        self.stop_event = threading.Event()
        self.process: subprocess.Popen[bytes] | None = None
        self.status: socket.socket | None = None
        self.handover: socket.socket | None = None
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
        self.status, self.handover = status, handover
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
        return None

    def _take(self, handover: socket.socket) -> None:
        """On the server's loop: a connection handed over, answered by the server."""
        try:
            data, fds, _flags, _address = socket.recv_fds(handover, HANDOVER_LIMIT, 1)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            data, fds = b"", []
        if not data and not fds:  # the process ended: _feed starts another
            _forget(self.server.loop, handover)
            return
        for fd in fds:
            self.server.adopt(socket.socket(fileno=fd), data)


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

    def __init__(self, listening: socket.socket, handover: socket.socket, probes: Probes):
        self.listening, self.handover, self.probes = listening, handover, probes
        self.open = 0

    async def accept(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            try:
                client, _ = await loop.sock_accept(self.listening)
            except OSError:  # out of file descriptors, a connection reset in the queue: go on
                await asyncio.sleep(0.05)
                continue
            if self.open >= MAX_CONNECTIONS:
                client.close()
                continue
            self.open += 1
            loop.create_task(self.serve(client))

    async def serve(self, client: socket.socket) -> None:
        handed = False
        try:
            async with asyncio.timeout(REQUEST_DEADLINE):
                data = await self._head(client)
                if data is None:
                    return
                answer = self._probe(data)
                if answer is None:
                    handed = self._hand_over(client, data)
                    if handed:
                        return
                    answer = plain(503)  # the daemon takes no connection now
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

    def _hand_over(self, client: socket.socket, data: bytes) -> bool:
        try:
            socket.send_fds(self.handover, [data], [client.fileno()])
        except OSError:
            return False
        return True


async def _serve(fds: dict[str, int]) -> None:
    from tierlift.service.ops.health import Probes

    loop = asyncio.get_running_loop()
    status = socket.socket(fileno=fds["status"])
    status.setblocking(False)
    reader, _writer = await asyncio.open_connection(sock=status)
    answerer = _Answerer(socket.socket(fileno=fds["listen"]), socket.socket(fileno=fds["handover"]),
                         Probes.loaded(await _next(reader)))
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
