"""A small HTTP/1.1 server on one asyncio thread: probes, metrics and helpdesk webhooks.

Why not http.server: it holds a thread per connection, and its timeout bites only on a
silent socket. Thirty clients sending one header byte a second held all 16 slots of
the health server and /healthz failed every probe for as long as they lasted (issue 24):
once the port faces the helpdesks, anything that can reach it could get replicas
restarted. Here:

- a connection costs no thread (one event loop serves them all), at most
  MAX_CONNECTIONS at once (one more is closed at once);
- every request has a total time limit, REQUEST_DEADLINE, from accept to its last
  body byte, however slowly it trickles in; past it the connection is closed;
- the head is capped (MAX_HEAD: 431) and so is the body (the route's cap: the
  handler answers 413 without the body being read);
- one request per connection (`Connection: close`): probes and webhooks do not
  need keep-alive, and an idle keep-alive socket is one more thing to time out.

Handlers run on the loop and must be quick: they answer from memory and hand any
work to others (a webhook names a ticket; the helpdesk's worker reads it). A handler
whose answer depends on work elsewhere (replicas: a webhook is answered once its row is
in the database) returns an Answer with `later`, a future of the real answer, awaited
here for at most LATER_DEADLINE without holding the loop; past it, UNAVAILABLE (503 with
Retry-After: the sender is asked to try again, as the handler itself would ask).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import logging
import socket
import threading
import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any

MAX_CONNECTIONS = 1024
REQUEST_DEADLINE = 10.0  # seconds from accept to a whole request
WRITE_DEADLINE = 10.0  # seconds to hand the answer to a client that does not read
MAX_HEAD = 16 * 1024
LATER_DEADLINE = 5.0  # seconds an answer that waits on other work (Answer.later) may take
MAX_LENGTH_DIGITS = 18  # a Content-Length longer than this is no body anyone sends: 400
LOG_EVERY = 60.0  # seconds between two log lines about handlers that failed

log = logging.getLogger("tierlift.http")


@dataclass(frozen=True)
class Request:
    method: str
    path: str  # without the query string
    headers: dict[str, str]  # names in lower case
    body: bytes = b""
    too_large: bool = False  # Content-Length was over the route's cap: the body was not read
    bad_length: bool = False  # no usable Content-Length on a request with a body (chunked, garbage)


@dataclass(frozen=True)
class Answer:
    status: int
    content_type: str = "application/json"
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    later: concurrent.futures.Future[Answer] | None = None  # the real answer, given by another thread


Handler = Callable[[Request], Answer]
UNAVAILABLE = Answer(503, body=b'{"error": "unavailable"}', headers={"Retry-After": "10"})


def _bind(address: tuple[str, int]) -> socket.socket:
    family = socket.AF_INET6 if ":" in address[0] else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind(address)
        sock.listen(128)
    except OSError:
        sock.close()
        raise
    sock.setblocking(False)
    return sock


def make_room(waiting: dict[asyncio.Task[Any], None]) -> bool:
    """Every connection is taken: close the oldest that has not sent its request's head yet
    (an idle or trickling client), so that a new one (a probe, a webhook) is served. False when
    none is waiting (all are being answered): the new one is closed, as before. Idle sockets
    at the cap left /healthz and every webhook unanswered (QA, an integrator)."""
    if not waiting:
        return False
    oldest = next(iter(waiting))
    del waiting[oldest]
    oldest.cancel()
    return True


async def waited(waiting: dict[asyncio.Task[Any], None], reading: Coroutine[Any, Any, Any]) -> Any:
    """`reading` (a request's head) with this task listed in `waiting` meanwhile."""
    task = asyncio.current_task()
    if task is not None:
        waiting[task] = None
    try:
        return await reading
    finally:
        if task is not None:
            waiting.pop(task, None)


class HttpServer:
    """`handler` answers a whole request; `body_cap(method, path)` is the largest body it takes."""

    def __init__(self, address: tuple[str, int], handler: Handler, *, body_cap: Callable[[str, str], int],
                 name: str = "http", deadline: float = REQUEST_DEADLINE, max_connections: int = MAX_CONNECTIONS):
        self.bind, self.handler, self.body_cap, self.name = address, handler, body_cap, name
        self.deadline, self.max_connections = deadline, max_connections
        self.open = 0
        self.waiting: dict[asyncio.Task[Any], None] = {}  # still reading their head, oldest first
        self.failed, self._failed_told, self._told_at = 0, 0, -LOG_EVERY  # handlers that raised (500s)
        self._sock: socket.socket | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._server: asyncio.base_events.Server | None = None

    def start(self, *, accept: bool = True) -> None:
        """Bind now (an OSError is the caller's: a taken port refuses the start), then serve.
        accept=False: bound and listening, but the connections are accepted by another
        process, which hands over the ones this server answers (`adopt`, ops/front.py)."""
        self._sock = _bind(self.bind)
        self._loop = asyncio.new_event_loop()
        ready = threading.Event()

        def run() -> None:
            assert self._loop is not None and self._sock is not None
            asyncio.set_event_loop(self._loop)
            if accept:
                self._server = self._loop.run_until_complete(
                    asyncio.start_server(self._serve, sock=self._sock, limit=MAX_HEAD))
            ready.set()
            self._loop.run_forever()

        self._thread = threading.Thread(target=run, name=self.name, daemon=True)
        self._thread.start()
        ready.wait(10)

    @property
    def address(self) -> tuple[str, int]:
        assert self._sock is not None
        host, port = self._sock.getsockname()[:2]
        return str(host), int(port)

    @property
    def listening(self) -> socket.socket:
        assert self._sock is not None
        return self._sock

    @property
    def loop(self) -> asyncio.AbstractEventLoop:
        assert self._loop is not None
        return self._loop

    def adopt(self, sock: socket.socket, data: bytes, accepted: float | None = None) -> None:
        """Answer a connection another process accepted; `data`: what it read of it already;
        `accepted`: when (time.monotonic, the host's), so that the deadline runs from there.
        Call on the server's loop."""
        assert self._loop is not None
        reader = asyncio.StreamReader(limit=MAX_HEAD, loop=self._loop)
        reader.feed_data(data)

        def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> Coroutine[Any, Any, None]:
            return self._serve(reader, writer, accepted)

        protocol = asyncio.StreamReaderProtocol(reader, serve, loop=self._loop)
        task = self._loop.create_task(self._loop.connect_accepted_socket(lambda: protocol, sock))

        def adopted(task: asyncio.Task[object]) -> None:
            if task.cancelled() or task.exception() is not None:
                sock.close()  # a client gone before it was adopted: nothing to answer, no descriptor kept

        task.add_done_callback(adopted)

    def stop(self) -> None:
        loop, self._loop = self._loop, None
        if loop is None:
            return

        async def close() -> None:
            if self._server is not None:
                self._server.close()
            # Connections still open (slow clients) end here, before the loop closes.
            tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            loop.stop()

        asyncio.run_coroutine_threadsafe(close(), loop)
        if self._thread is not None:
            self._thread.join(5)
        with contextlib.suppress(Exception):
            loop.close()
        if self._sock is not None:
            self._sock.close()

    # --- one connection -------------------------------------------------------------------
    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                     accepted: float | None = None) -> None:
        if self.open >= self.max_connections and not make_room(self.waiting):
            writer.close()
            return
        self.open += 1
        # A connection accepted by the probes' process (front.py) already spent part of its time there.
        deadline = self.deadline if accepted is None else min(self.deadline, accepted + self.deadline - time.monotonic())
        try:
            try:
                answer = await asyncio.wait_for(self._answer(reader), deadline)
                if answer is not None and answer.later is not None:
                    answer = await self._later(answer.later)
            except (TimeoutError, asyncio.IncompleteReadError, ConnectionError):
                return  # too slow, or gone: nothing to answer
            except Exception as exc:  # a handler's bug answers 500; the server and the daemon go on
                self._failed(exc)
                answer = plain(500)
            if answer is not None:
                await asyncio.wait_for(self._write(writer, answer), WRITE_DEADLINE)
        except (TimeoutError, ConnectionError):
            pass
        finally:
            self.open -= 1
            writer.close()

    def _failed(self, exc: Exception) -> None:
        """Say that a request got a 500, at most once a minute: its exception's class and where it
        was raised, never its text (a request's bytes, a credential) nor a traceback."""
        self.failed += 1
        now = time.monotonic()
        if now - self._told_at < LOG_EVERY:
            return
        tb = exc.__traceback__
        while tb is not None and tb.tb_next is not None:
            tb = tb.tb_next
        where = f"{tb.tb_frame.f_code.co_filename.rsplit('/', 1)[-1]}:{tb.tb_lineno}" if tb is not None else "-"
        since, self._failed_told, self._told_at = self.failed - self._failed_told, self.failed, now
        from tierlift.service.ops.logs import event

        event(log, logging.ERROR, "a request was answered 500", f"{exc.__class__.__name__} raised at {where}"
              " (a bug: logged at most once a minute)", server=self.name, requests=since)

    @staticmethod
    async def _later(later: concurrent.futures.Future[Answer]) -> Answer:
        try:  # shielded: the future is the other thread's to settle, never cancelled from here
            return await asyncio.wait_for(asyncio.shield(asyncio.wrap_future(later)), LATER_DEADLINE)
        except TimeoutError:
            return UNAVAILABLE

    async def _answer(self, reader: asyncio.StreamReader) -> Answer | None:
        try:
            head = await waited(self.waiting, reader.readuntil(b"\r\n\r\n"))
        except asyncio.LimitOverrunError:
            return plain(431)
        except asyncio.IncompleteReadError:
            return None
        parsed = parse_head(head)
        if parsed is None:
            return plain(400)
        method, path, headers = parsed
        length_text = headers.get("content-length", "0").strip()
        chunked = "chunked" in headers.get("transfer-encoding", "").lower()
        # ASCII digits only: str.isdigit() takes "²" and other digits int() refuses (a 500), and
        # int() refuses more than 4,300 digits.
        if chunked or not (length_text.isascii() and length_text.isdigit() and len(length_text) <= MAX_LENGTH_DIGITS):
            return self.handler(Request(method, path, headers, bad_length=True))
        length = int(length_text)
        if length > self.body_cap(method, path):
            return self.handler(Request(method, path, headers, too_large=True))
        body = await reader.readexactly(length) if length else b""
        return self.handler(Request(method, path, headers, body))

    @staticmethod
    async def _write(writer: asyncio.StreamWriter, answer: Answer) -> None:
        writer.write(encode(answer))
        await writer.drain()


def encode(answer: Answer) -> bytes:
    """The answer as HTTP/1.1 bytes, the connection closed after it."""
    reason = HTTPStatus(answer.status).phrase if answer.status in HTTPStatus._value2member_map_ else ""
    lines = [f"HTTP/1.1 {answer.status} {reason}", f"Content-Type: {answer.content_type}",
             f"Content-Length: {len(answer.body)}", "Connection: close"]
    lines += [f"{k}: {v}" for k, v in answer.headers.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + answer.body


def parse_head(head: bytes) -> tuple[str, str, dict[str, str]] | None:
    """(method, path without query, lower-case headers), or None when it is not an HTTP/1 head."""
    try:
        text = head.decode("latin-1")
    except UnicodeDecodeError:  # pragma: no cover - latin-1 decodes any byte
        return None
    first, _, rest = text.partition("\r\n")
    parts = first.split(" ")
    if len(parts) != 3 or not parts[2].startswith("HTTP/1.") or not parts[1].startswith("/"):
        return None
    headers: dict[str, str] = {}
    for line in rest.split("\r\n"):
        if not line:
            continue
        name, sep, value = line.partition(":")
        # RFC 9112 5.1-5.2: whitespace before the colon, or a line folded onto the last, is a 400.
        if not sep or not name or name != name.strip():
            return None
        key, value = name.lower(), value.strip()
        # A field sent twice is one comma-separated list (RFC 9110 5.3): two Content-Lengths,
        # 19 and 5, read "19, 5", no usable length (400, RFC 9112 6.3), where the last was
        # taken, the body cut to 5 bytes and answered 401 bad signature (QA).
        headers[key] = f"{headers[key]}, {value}" if key in headers else value
    return parts[0].upper(), parts[1].split("?", 1)[0], headers


def plain(status: int) -> Answer:
    return Answer(status, body=b'{"error": "%s"}' % HTTPStatus(status).phrase.lower().encode())
