"""Logging: one line per action, text or JSON, secrets masked, outages logged once.

Every handler carries the RedactingFilter, so a credential that slips into a
message or a traceback is masked before it reaches any output.
"""

from __future__ import annotations

import json
import logging
import re
import sys
import time
from datetime import UTC, datetime

from tierlift.service.ops.redact import RedactingFilter

_KV = re.compile(r'(\w+)=("(?:[^"\\]|\\.)*"|\S+)')


class TextFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        ts = datetime.fromtimestamp(record.created, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        line = f"{ts} {record.levelname} {record.name} {record.getMessage()}"
        if record.exc_text or record.exc_info:
            line += "\n" + (record.exc_text or _trace(self, record))
        return line


def _trace(fmt: logging.Formatter, record: logging.LogRecord) -> str:
    return fmt.formatException(record.exc_info) if record.exc_info else ""


class JsonFormatter(logging.Formatter):
    """One JSON object per line; key=value pairs of the message become fields."""

    def format(self, record: logging.LogRecord) -> str:
        msg = record.getMessage()
        out: dict[str, object] = {
            "ts": datetime.fromtimestamp(record.created, UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
            "level": record.levelname.lower(), "logger": record.name, "msg": msg,
        }
        for k, v in _KV.findall(msg):
            if k not in out:
                out[k] = json.loads(v) if v.startswith('"') else v
        if record.exc_text or record.exc_info:
            out["exception"] = record.exc_text or _trace(self, record)
        return json.dumps(out, ensure_ascii=False)


def setup_logging(fmt: str = "text", level: str = "INFO", stream=None) -> None:
    logger = logging.getLogger("tierlift")
    for h in list(logger.handlers):
        logger.removeHandler(h)
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(JsonFormatter() if fmt == "json" else TextFormatter())
    handler.addFilter(RedactingFilter())
    logger.addHandler(handler)
    logger.setLevel(level.upper())
    logger.propagate = False
    # Libraries log request URLs and headers at DEBUG; they pass the same filter.
    for name in ("urllib3", "zenpy", "jira"):
        lib = logging.getLogger(name)
        lib.setLevel(logging.WARNING)
        for h in list(lib.handlers):
            lib.removeHandler(h)
        lib.addHandler(handler)
        lib.propagate = False


class OutageLog:
    """'log once when the service goes down, once when it comes back' (Home Assistant)."""

    def __init__(self, logger: logging.Logger, clock=time.monotonic):
        self.logger = logger
        self.clock = clock
        self.down_since: dict[str, float] = {}

    def failed(self, helpdesk: str, error: str) -> None:
        if helpdesk in self.down_since:
            self.logger.debug("helpdesk=%s still failing: %s", helpdesk, error)
            return
        self.down_since[helpdesk] = self.clock()
        self.logger.warning("helpdesk=%s unreachable: %s; will keep retrying", helpdesk, error)

    def recovered(self, helpdesk: str) -> None:
        since = self.down_since.pop(helpdesk, None)
        if since is not None:
            secs = int(self.clock() - since)
            self.logger.warning("helpdesk=%s answering again after %dm %02ds", helpdesk, secs // 60, secs % 60)
