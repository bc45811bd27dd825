"""A connector's session honours the environment's proxy settings, read once.

Teams behind a corporate proxy set HTTPS_PROXY (and NO_PROXY for hosts reached
directly); requests read those at every request, walking the whole environment
(6% of the daemon's interpreter time during first syncs). `session_for` now reads them
once, for the helpdesk's address: a helpdesk's requests still go through the proxy,
and a NO_PROXY host still does not.
"""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from tierlift.connectors.transport import HelpdeskAdapter, session_for


class _Proxy(BaseHTTPRequestHandler):
    seen: list[str] = []

    def do_GET(self) -> None:  # noqa: N802 - http.server's name
        _Proxy.seen.append(self.path)  # a proxy is asked for the absolute URL
        body = json.dumps({"via": "proxy"}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def proxy():
    _Proxy.seen = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Proxy)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_requests_go_through_the_proxy_the_environment_names(proxy, monkeypatch):
    monkeypatch.setenv("HTTP_PROXY", proxy)
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    url = "http://helpdesk.example.invalid"
    session = session_for(HelpdeskAdapter(), ("bot@example.com/token", "secret"), url)
    answer = session.get(url + "/api/v2/tickets.json", timeout=5)
    assert answer.json() == {"via": "proxy"}
    assert _Proxy.seen == [url + "/api/v2/tickets.json"]


def test_a_host_no_proxy_covers_is_reached_directly(proxy, monkeypatch):
    monkeypatch.setenv("HTTP_PROXY", proxy)
    monkeypatch.setenv("NO_PROXY", "helpdesk.example.invalid")
    session = session_for(HelpdeskAdapter(), ("bot@example.com/token", "secret"), "http://helpdesk.example.invalid")
    assert session.proxies == {}
    other = session_for(HelpdeskAdapter(), ("bot@example.com/token", "secret"), "http://other.example.invalid")
    assert other.proxies.get("http") == proxy


def test_the_ca_bundle_the_environment_names_is_used(monkeypatch, tmp_path):
    bundle = tmp_path / "ca.pem"
    bundle.write_text("")
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(bundle))
    session = session_for(HelpdeskAdapter(), ("bot@example.com/token", "secret"), "https://acme.zendesk.com")
    assert session.verify == str(bundle)
