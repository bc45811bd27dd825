"""The handover between the probes' process and the daemon (service/ops/front.py), in one process.

A burst of ~200 webhook connections on the shared port got 503s nobody saw: the daemon
took one handed-over connection a turn of its loop, the probes' process refused the
rest as soon as its socket's buffer was full, with no Retry-After, no count and no log
line. And a request handed over got a fresh REQUEST_DEADLINE in the daemon, on top of
the time it spent in the probes' process: 20 s from accept, where 10 are promised.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import threading
import time
from types import SimpleNamespace

import pytest

from tierlift.service.ops import front as front_module
from tierlift.service.ops.front import Front, _Answerer
from tierlift.service.ops.httpserver import Answer, HttpServer
from tierlift.service.ops.metrics import Metrics


@pytest.fixture
def server():
    seen: list[bytes] = []

    def handler(req):
        seen.append(req.body)
        return Answer(202, body=b'{"status": "accepted"}')

    hs = HttpServer(("127.0.0.1", 0), handler, body_cap=lambda method, path: 1024, deadline=2.0)
    hs.start(accept=False)
    yield hs, seen
    hs.stop()


def on_loop(server: HttpServer, call) -> None:
    done = threading.Event()
    server.loop.call_soon_threadsafe(lambda: (call(), done.set()))
    assert done.wait(5)


def in_thread(work) -> threading.Thread:
    """Run the coroutine function `work` on a loop of its own, as the probes' process would."""
    t = threading.Thread(target=lambda: asyncio.run(work()), daemon=True)
    t.start()
    return t


def test_the_daemon_takes_every_waiting_handover_when_it_looks(server):
    hs, _ = server
    mine, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    mine.setblocking(False)
    adopted: list[bytes] = []

    def adopt(sock, data, *accepted):
        adopted.append(data)
        sock.close()

    hs.adopt = adopt  # type: ignore[method-assign]
    clients = [socket.socketpair() for _ in range(5)]
    for _, theirs_end in clients:
        socket.send_fds(theirs, [b"\0" * 8 + b"GET /metrics HTTP/1.1\r\n\r\n"], [theirs_end.fileno()])
    on_loop(hs, lambda: Front(hs, probes=None)._take(mine))
    assert len(adopted) == 5, "one look took one connection: the rest waited while the probes' process refused more"
    for pair in clients:
        for s in pair:
            s.close()
    mine.close()
    theirs.close()


def test_a_refused_handover_is_answered_503_with_retry_after_counted_and_logged(monkeypatch, caplog):
    monkeypatch.setattr(front_module, "HANDOVER_WAIT", 0.3, raising=False)
    monkeypatch.setattr(front_module, "SEND_EVERY", 0.05)
    mine, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    theirs.setblocking(False)
    with pytest.raises(BlockingIOError):  # the daemon reads nothing: fill the socket's buffer
        for _ in range(100_000):
            theirs.send(b"x" * 4096)
    status, their_status = socket.socketpair()
    client, accepted = socket.socketpair()
    accepted.setblocking(False)

    async def work():
        _, writer = await asyncio.open_connection(sock=their_status)
        answerer = _Answerer(None, theirs, None)  # type: ignore[arg-type]
        answerer.open, answerer.report = 1, writer.write
        await answerer.serve(accepted)
        await asyncio.sleep(0.3)  # the report goes SEND_EVERY after the refusal
        writer.close()

    client.sendall(b"POST /webhooks/zd HTTP/1.1\r\nContent-Length: 2\r\n\r\n{}")
    t0 = time.monotonic()
    t = in_thread(work)
    client.settimeout(5)
    answer = b""
    while chunk := client.recv(4096):
        answer += chunk
    waited = time.monotonic() - t0
    assert answer.startswith(b"HTTP/1.1 503 "), answer
    assert b"\r\nRetry-After: 10\r\n" in answer
    assert 0.25 <= waited < 2.0, waited  # it waited for room, a bounded time
    t.join(5)
    metrics = Metrics()
    daemon_side = Front(SimpleNamespace(), SimpleNamespace(helpdesks=["zd"]), metrics)  # type: ignore[arg-type]
    daemon_side.status = status
    with caplog.at_level(logging.WARNING):
        daemon_side._reports()
    assert 'tierlift_webhooks_total{helpdesk="zd",result="busy"} 1.0' in metrics.render().decode()
    lines = [r.getMessage() for r in caplog.records if "took no handover" in r.getMessage()]
    assert len(lines) == 1 and "503" in lines[0] and "zd 1" in lines[0], lines
    for s in (mine, theirs, status, their_status, client, accepted):
        s.close()


def test_a_handed_over_request_keeps_its_total_deadline_from_accept(monkeypatch, server):
    """docs/webhooks.md: a total time limit from accept to the last body byte. A client that took
    most of it sending its head in the probes' process does not get it afresh in the daemon."""
    hs, seen = server  # deadline 2 s
    monkeypatch.setattr(front_module, "REQUEST_DEADLINE", 2.0)
    mine, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    mine.setblocking(False)
    theirs.setblocking(False)
    taker = Front(hs, probes=None)
    hs.loop.call_soon_threadsafe(hs.loop.add_reader, mine.fileno(), taker._take, mine)
    client, accepted = socket.socketpair()
    accepted.setblocking(False)
    answerer = _Answerer(None, theirs, None)  # type: ignore[arg-type]
    answerer.open = 1
    t0 = time.monotonic()
    t = in_thread(lambda: answerer.serve(accepted))
    time.sleep(1.2)  # a slow client: its head arrives after 1.2 s, and its body never
    client.sendall(b"POST /webhooks/zd HTTP/1.1\r\nContent-Length: 18\r\n\r\n")
    client.settimeout(10)
    assert client.recv(4096) == b""  # closed, unanswered
    took = time.monotonic() - t0
    assert took < 2.6, f"closed {took:.1f} s after accept: the daemon started the deadline again"
    assert seen == []
    t.join(5)
    hs.loop.call_soon_threadsafe(hs.loop.remove_reader, mine.fileno())
    for s in (mine, theirs, client, accepted):
        s.close()
