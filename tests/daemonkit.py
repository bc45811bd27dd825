"""What every suite that runs the real daemon needs: its config file, a free port,
and a local HTTP endpoint that records what notifications it received."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

# Every channel the shipped policy packs name.
CHANNELS = ("pagerduty", "slack_oncall", "slack_channel", "security-alerts", "outage-response",
            "support-escalation", "customer-success")


def write_config(folder: Path, helpdesks: Iterable[dict[str, Any]], *, clock_url: str | None = None,
                 poll: str = "1s", channels: dict[str, Any] | None = None, **top: Any) -> Path:
    """A tierlift.yaml (JSON is YAML) with the state in `folder` and log-only channels by default."""
    cfg: dict[str, Any] = {
        "state": {"path": str(folder / "state.sqlite3")},
        "poll_interval": poll,
        "channels": channels or {c: {"kind": "log"} for c in CHANNELS},
        "helpdesks": list(helpdesks),
        **top,
    }
    if clock_url:
        cfg["clock"] = {"follow": clock_url}
    path = folder / "tierlift.yaml"
    path.write_text(json.dumps(cfg, indent=2))
    return path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Receiver:
    """A local HTTP server that records what it got (Slack, PagerDuty, webhooks).

    `statuses` answers the first requests with those codes (then 202), to test retries.
    """

    def __init__(self, statuses: list[int] | None = None):
        self.got: list[dict] = []
        self.statuses = list(statuses or [])
        outer = self

        class H(BaseHTTPRequestHandler):
            def log_message(self, *a):
                pass

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                outer.got.append({"path": self.path, "headers": dict(self.headers), "raw": body,
                                  "json": json.loads(body)})
                status = outer.statuses.pop(0) if outer.statuses else 202
                self.send_response(status)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"{}")

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), H)
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()
