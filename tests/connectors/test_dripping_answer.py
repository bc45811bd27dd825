"""A helpdesk that drips its answer: `timeout` bounds the whole request, not each read.

QA (a multi-tenant operator): behind a proxy that applied a write and then sent its answer a
byte every two seconds, the request, its worker and a pool thread were held for minutes
with `timeout: 5s`, and nothing said so (requests' timeout bounds each socket read).
"""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import requests

from tierlift.connectors.transport import HelpdeskAdapter, session_for


class _Drip(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    stop = threading.Event()

    def do_GET(self) -> None:  # noqa: N802 -- http.server's name
        # /slow: a byte every 0.2 s for a minute, each read well inside the timeout; /short: one second.
        body = b'{"tickets": [' + b" " * 300 + b"]}" if self.path.startswith("/slow") else b'{"tickets": []}'
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        for byte in body:
            if self.stop.wait(0.2 if self.path.startswith("/slow") else 0.05):
                return
            try:
                self.wfile.write(bytes([byte]))
                self.wfile.flush()
            except OSError:
                return  # the client hung up

    def log_message(self, *args: object) -> None:  # quiet
        return


@pytest.fixture
def dripping():
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Drip)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    _Drip.stop.set()
    server.shutdown()
    _Drip.stop.clear()


def test_a_dripping_answer_times_out_as_a_whole(dripping):
    session = session_for(HelpdeskAdapter(), ("bot@example.com", "t0k3n"), dripping)
    with pytest.raises(requests.Timeout, match="longer than 1 s in all"):
        session.get(f"{dripping}/slow/api/v2/tickets.json", timeout=1.0)


def test_an_answer_in_time_is_read_whole(dripping):
    session = session_for(HelpdeskAdapter(), ("bot@example.com", "t0k3n"), dripping)
    answer = session.get(f"{dripping}/short/api/v2/tickets.json", timeout=30.0)
    assert answer.json() == {"tickets": []}  # the drip's body, whole
