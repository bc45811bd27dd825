"""The systemd notify protocol (sd_notify), on a unix datagram socket, never raising."""

from __future__ import annotations

import logging
import os
import socket
from collections.abc import Mapping

from tierlift.service.ops.logs import event

log = logging.getLogger("tierlift.systemd")


class SystemdNotifier:
    def __init__(self, env: Mapping[str, str] | None = None):
        env = os.environ if env is None else env
        self.address = env.get("NOTIFY_SOCKET") or None
        self.env = env
        self._warned = False

    def notify(self, **fields: str) -> None:
        if not self.address:
            return
        message = "\n".join(f"{k}={v}" for k, v in fields.items()).encode()
        addr = self.address
        if addr.startswith("@"):
            addr = "\0" + addr[1:]  # abstract namespace
        try:
            with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC) as s:
                s.connect(addr)
                s.sendall(message)
        except OSError as exc:
            if not self._warned:
                self._warned = True
                event(log, logging.WARNING, "cannot notify systemd", str(exc), address=self.address)

    def ready(self, status: str = "") -> None:
        self.notify(READY="1", STATUS=status or "running")

    def watchdog(self) -> None:
        self.notify(WATCHDOG="1")

    def status(self, text: str) -> None:
        self.notify(STATUS=text.replace("\n", " ")[:200])

    def stopping(self) -> None:
        self.notify(STOPPING="1", STATUS="stopping")

    def watchdog_interval(self) -> float | None:
        usec = self.env.get("WATCHDOG_USEC")
        pid = self.env.get("WATCHDOG_PID")
        if not usec or (pid and pid != str(os.getpid())):
            return None
        try:
            return int(usec) / 1_000_000
        except ValueError:
            return None
