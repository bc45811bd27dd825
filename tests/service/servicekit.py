"""Running the real daemon as a subprocess against in-process sandbox helpdesks."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from daemonkit import CHANNELS, write_config  # noqa: F401  (the suites import them from here)

TOKEN = "sandbox-token-7f3e2a91"


def helpdesk(name: str, sb, policy: str = "three-tier", **extra: Any) -> dict[str, Any]:
    hd = {"name": name, "kind": sb.flavor, "url": sb.url, "email": "bot@example.com", "token": "${SANDBOX_TOKEN}",
          "policy": policy, "retry_attempts": 2, "max_retry_wait": "2s",
          # The suites judge every escalation's customer reply from the first sync on, and
          # one run at a time: the go-live safeguards are tested on their own.
          "first_sync": "full", "max_public_replies_per_cycle": 0}
    if sb.flavor == "jira":
        hd["project"] = "SUP"
    hd.update(extra)
    return hd


def env(**extra: str) -> dict[str, str]:
    return {**os.environ, "SANDBOX_TOKEN": TOKEN, "PYTHONUNBUFFERED": "1", **extra}


def run_once(config: Path, *args: str, **env_extra: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "tierlift.service.cli", "run", "--config", str(config), "--once", *args],
                          capture_output=True, text=True, env=env(**env_extra), timeout=120)


def cli(*args: str, **env_extra: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "tierlift.service.cli", *args], capture_output=True, text=True,
                          env=env(**env_extra), timeout=120)


@dataclass
class Daemon:
    """A running `tierlift run` whose log lines are collected as they come."""

    proc: subprocess.Popen
    lines: list[str] = field(default_factory=list)

    @classmethod
    def start(cls, config: Path, *args: str, **env_extra: str) -> Daemon:
        proc = subprocess.Popen([sys.executable, "-m", "tierlift.service.cli", "run", "--config", str(config), *args],
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env(**env_extra))
        d = cls(proc)
        threading.Thread(target=d._read, daemon=True).start()
        return d

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.append(line.rstrip("\n"))

    def wait_for(self, text: str, timeout: float = 30.0) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for line in list(self.lines):
                if text in line:
                    return line
            if self.proc.poll() is not None:
                break
            time.sleep(0.05)
        raise AssertionError(f"no log line with {text!r} within {timeout}s:\n" + "\n".join(self.lines[-30:]))

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 10.0) -> tuple[int, float]:
        t0 = time.monotonic()
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        try:
            code = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            code = self.proc.wait()
            raise AssertionError("the daemon did not stop in time:\n" + "\n".join(self.lines[-30:])) from None
        return code, time.monotonic() - t0

    @property
    def output(self) -> str:
        return "\n".join(self.lines)


def zendesk_notes(sb, tid: int, marker: str = "[tierlift escalation=") -> list[dict[str, Any]]:
    return [c for c in sb.store.comments.get(tid, []) if marker in c["body"]]


def writes(sb) -> list[dict[str, Any]]:
    return [r for r in sb.requests_log() if r["write"]]


def marker_counts(sb) -> dict[str, int]:
    """escalation id -> how many notes carry it, over the whole helpdesk."""
    import re

    counts: dict[str, int] = {}
    if sb.flavor == "zendesk":
        bodies = [c["body"] for cs in sb.store.comments.values() for c in cs]
    else:
        bodies = [c["body"] for i in sb.store.issues.values() for c in i["fields"]["comment"]["comments"]]
    for body in bodies:
        for m in re.finditer(r"\[tierlift escalation=([0-9a-f]+) ", body):
            counts[m.group(1)] = counts.get(m.group(1), 0) + 1
    return counts
