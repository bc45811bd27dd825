"""What every suite that runs the real daemon needs, written once.

The daemon and the CLI run as real subprocesses (`python -m tierlift.service.cli`)
against sandbox helpdesks over real HTTP; a suite keeps only what is its own
(its helpdesk defaults, its sizes, its judges) in its own kit (reliakit,
servicekit, benchkit).

- `env()` is the child's environment: the sandbox token in `$SANDBOX_TOKEN`,
  unbuffered output, and no failpoint inherited from the caller's environment.
- `Daemon` appends the daemon's output to a log file, so a suite that runs
  several daemons in a row (kills, restarts) keeps one log to read after a failure.
- `MARKER` and `parse_markers` are the product's own (engine/marker.py): the
  suites read escalation notes back the way the daemon does.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from tierlift.engine.marker import _MARKER as MARKER  # noqa: F401  (the suites import it from here)
from tierlift.engine.marker import parse_markers  # noqa: F401  (the suites import it from here)

TOKEN = "sandbox-token-7f3e2a91"
# Every channel the shipped policy packs name.
CHANNELS = ("pagerduty", "slack_oncall", "slack_channel", "security-alerts", "outage-response",
            "support-escalation", "customer-success")
CLI = (sys.executable, "-m", "tierlift.service.cli")


# --- configuration ----------------------------------------------------------------------


def helpdesk(sb: Any, name: str = "hd", *, policy: str = "three-tier", **extra: Any) -> dict[str, Any]:
    """One helpdesk entry for a sandbox (in process or not: it has `url` and `flavor`)."""
    hd: dict[str, Any] = {
        "name": name, "kind": sb.flavor, "url": sb.url, "email": "bot@example.com", "token": "${SANDBOX_TOKEN}",
        "policy": policy,
        # The suites judge every escalation's customer reply from the first sync on, and
        # one run at a time: the go-live safeguards are tested on their own.
        "first_sync": "full", "max_public_replies_per_cycle": 0}
    if sb.flavor == "jira":
        hd["project"] = "SUP"
    hd.update(extra)
    return hd


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
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "tierlift.yaml"
    path.write_text(json.dumps(cfg, indent=2))
    return path


# --- running tierlift ------------------------------------------------------------------------


def env(**extra: str) -> dict[str, str]:
    """The child's environment; failpoints only where the caller passes them."""
    out = {**os.environ, "SANDBOX_TOKEN": TOKEN, "PYTHONUNBUFFERED": "1", **extra}
    for k in ("TIERLIFT_FAILPOINTS", "TIERLIFT_FAILPOINT_SEED"):
        if k not in extra:
            out.pop(k, None)
    return out


def cli(*args: str, timeout: float = 300, **env_extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*CLI, *args], capture_output=True, text=True, env=env(**env_extra), timeout=timeout)


def run_once(config: Path, *args: str, timeout: float = 300, **env_extra: str) -> subprocess.CompletedProcess[str]:
    return cli("run", "--config", str(config), "--once", *args, timeout=timeout, **env_extra)


def end(proc: subprocess.Popen[Any], *, sig: int | None = signal.SIGTERM, timeout: float = 10.0) -> int:
    """Stop a child: `sig` unless it has exited (None: it was asked otherwise), SIGKILL
    past `timeout`; its exit code (-9 when it had to be killed)."""
    if sig is not None and proc.poll() is None:
        proc.send_signal(sig)
    try:
        return proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        return proc.wait()


class Daemon:
    """`tierlift run` as a subprocess; its output appends to `log` (one file per suite)."""

    def __init__(self, config: Path, log: Path, *args: str, **env_extra: str):
        self.log = log
        self._start = log.stat().st_size if log.exists() else 0
        with log.open("a") as out:
            self.proc = subprocess.Popen([*CLI, "run", "--config", str(config), *args], stdout=out,
                                         stderr=subprocess.STDOUT, env=env(**env_extra))

    @property
    def pid(self) -> int:
        return self.proc.pid

    def output(self) -> str:
        """This run's output so far (the log may hold earlier runs')."""
        with self.log.open("rb") as f:
            f.seek(self._start)
            return f.read().decode("utf-8", "replace")

    def alive(self) -> bool:
        return self.proc.poll() is None

    def wait_for(self, text: str, timeout: float = 60.0) -> bool:
        """True once `text` is in this run's output; False if the process ended or time ran out."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if text in self.output():
                return True
            if not self.alive():
                return text in self.output()
            time.sleep(0.02)
        return False

    def expect(self, text: str, timeout: float = 30.0) -> str:
        """The first line with `text`; AssertionError with the output's tail if none comes."""
        if not self.wait_for(text, timeout):
            tail = "\n".join(self.output().splitlines()[-30:])
            raise AssertionError(f"no log line with {text!r} within {timeout}s:\n{tail}")
        return next(line for line in self.output().splitlines() if text in line)

    def cycles(self, port: int) -> int:
        """Poll cycles finished so far, as the daemon's /metrics counts them
        (tierlift_cycle_duration_seconds_count; `http: {listen: 127.0.0.1:PORT}` serves them)."""
        try:
            text = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5).read().decode()
        except OSError:
            return 0  # not listening yet
        return int(sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines()
                       if line.startswith("tierlift_cycle_duration_seconds_count")))

    def wait_cycles(self, port: int, more: int = 2, timeout: float = 60.0) -> None:
        """Wait until `more` cycles finished after this call (with 2, at least one whole cycle
        began after it): the daemon went on working. A "nothing more was written" check after
        this wait cannot pass because the daemon stalled; AssertionError if it did."""
        base = self.cycles(port)
        if not wait_until(lambda: self.cycles(port) >= base + more or not self.alive(), timeout) or not self.alive():
            tail = "\n".join(self.output().splitlines()[-30:])
            raise AssertionError(f"the daemon finished {self.cycles(port) - base} of {more} cycles in {timeout}s:\n{tail}")

    def kill(self) -> int:
        return end(self.proc, sig=signal.SIGKILL)

    def terminate(self, timeout: float = 10.0) -> tuple[int, float]:
        """SIGTERM; (exit code, seconds to exit). Killed and reported as -9 past the timeout."""
        t0 = time.monotonic()
        code = end(self.proc, timeout=timeout)
        return code, time.monotonic() - t0


# --- the network around it ------------------------------------------------------------------


def wait_until(what: Any, timeout: float = 60.0, every: float = 0.05) -> Any:
    """`what()` polled until it is truthy; its last value when `timeout` seconds ran out."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = what()
        if value:
            return value
        time.sleep(every)
    return what()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Receiver:
    """A local HTTP server that records what it got (Slack, PagerDuty, webhooks).

    `statuses` answers the first requests with those codes (then 202), to test retries; a
    (code, Retry-After) pair also sends that header.
    """

    def __init__(self, statuses: list[int | tuple[int, str]] | None = None):
        self.got: list[dict[str, Any]] = []
        self.statuses = list(statuses or [])
        outer = self

        class H(BaseHTTPRequestHandler):
            def log_message(self, *a: Any) -> None:
                """Quiet: a test reads what arrived (`got`), not the server's access log."""

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                outer.got.append({"path": self.path, "headers": dict(self.headers), "raw": body,
                                  "json": json.loads(body)})
                answer = outer.statuses.pop(0) if outer.statuses else 202
                status, retry_after = answer if isinstance(answer, tuple) else (answer, None)
                self.send_response(status)
                if retry_after:
                    self.send_header("Retry-After", retry_after)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"{}")

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), H)
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
