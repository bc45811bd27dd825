"""The time a read-only tool (status, report, history) works at: the daemon's.

Under `clock: {follow: URL}` the daemon reads the sandbox helpdesk's clock,
so what is "due now" or "the last 7 days" must be measured on that clock too
(`status` once counted 154 tickets due while the daemon had none). A tool,
unlike the daemon, still answers when the sandbox is gone: it falls back to
the system clock and says so on stderr.
"""

from __future__ import annotations

import sys
from datetime import UTC, datetime

import requests

from tierlift.service.daemon.clock import make_clock, sandbox_clock
from tierlift.service.daemon.config import Config


def tool_now(cfg: Config) -> datetime:
    try:
        url = cfg.extra.get("clock")
        return (sandbox_clock(url) if url else make_clock(cfg)).now()
    except (requests.RequestException, ValueError, KeyError) as exc:
        print(f"clock.follow {cfg.extra.get('clock')} did not answer ({exc.__class__.__name__});"
              " using the system clock", file=sys.stderr)
        return datetime.now(UTC)
