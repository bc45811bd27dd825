"""Logging: one line per action, text or JSON, secrets masked, outages logged once.

Invariants:
- an event is logged with its fields as data (`event(...)`): the text line
  `<what> key=value ...[: detail]` is rendered from them once, and the JSON
  formatter writes the same fields as keys; no formatter parses a message;
- a field's text value is quoted (JSON string syntax) when it holds
  whitespace, a quote, `=` or a control character, or is empty, so one
  event stays one line and a ticket's text cannot forge a field;
- every handler carries the RedactingFilter, so a credential that slips into
  a message, a field or a traceback is masked before it reaches any output.
"""

from __future__ import annotations

import json
import logging
import re
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TextIO

from tierlift.service.ops.redact import RedactingFilter

# The LogRecord attributes an event carries (set through `extra`).
FIELDS = "fields"
EVENT = "event"


def event(logger: logging.Logger, level: int, what: str, /, detail: str | None = None, *,
          exc_info: bool = False, **fields: object) -> None:
    """Log the event `what` with `fields` as structured data, and `detail` (free text) after them.

    Text: `what k=v k=v: detail`; a `{name}` in `what` puts that field there instead
    (`"{helpdesk} unreachable"` reads `helpdesk=hd unreachable`, as operators grep it).
    JSON: {"msg": that text line, k: v, ...}; the record also carries `event` (`what`
    without its placeholders) for other handlers.
    """
    if not logger.isEnabledFor(level):
        return
    placed = set(_PLACEHOLDER.findall(what))
    head = _PLACEHOLDER.sub(lambda m: f"{m[1]}={text_value(fields.get(m[1]))}", what)
    line = " ".join([head, *(f"{k}={text_value(v)}" for k, v in fields.items() if k not in placed)])
    if detail:
        line += f": {detail}"
    name = " ".join(_PLACEHOLDER.sub(" ", what).split())
    # The rendered line is the record's message (a %-free string: no args), so any
    # handler -- pytest's caplog, a library's -- reads the same text as ours.
    logger.log(level, "%s", line, exc_info=exc_info,
               extra={FIELDS: dict(fields), EVENT: name}, stacklevel=2)


_PLACEHOLDER = re.compile(r"\{(\w+)\}")


def text_value(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime):
        return _utc(value)
    text = "-" if value is None else str(value)
    if not text or any(c.isspace() or c in '"=' or not c.isprintable() for c in text):
        return json.dumps(text, ensure_ascii=False)
    return text


def json_value(value: object) -> object:
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, datetime):
        return _utc(value)
    return str(value)


def _utc(at: datetime) -> str:
    # The state stores times in UTC; a naive one is UTC, never the host's zone.
    return (at.replace(tzinfo=UTC) if at.tzinfo is None else at.astimezone(UTC)).strftime("%Y-%m-%dT%H:%M:%SZ")


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
    """One JSON object per line: the text line as `msg` and an event's fields as keys (never parsed from it)."""

    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, object] = {
            "ts": datetime.fromtimestamp(record.created, UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
            "level": record.levelname.lower(), "logger": record.name,
            # The text line, as operators and log searches read it; the fields follow as keys.
            "msg": record.getMessage(),
        }
        fields = getattr(record, FIELDS, None)
        for k, v in (fields.items() if isinstance(fields, dict) else ()):
            out.setdefault(k, json_value(v))  # a field never hides the record's own keys
        if record.exc_text or record.exc_info:
            out["exception"] = record.exc_text or _trace(self, record)
        return json.dumps(out, ensure_ascii=False)


def setup_logging(fmt: str = "text", level: str = "INFO", stream: TextIO | None = None) -> None:
    logger = logging.getLogger("tierlift")
    for h in list(logger.handlers):
        logger.removeHandler(h)
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(JsonFormatter() if fmt == "json" else TextFormatter())
    handler.addFilter(RedactingFilter())
    logger.addHandler(handler)
    logger.setLevel(level.upper())
    logger.propagate = False
    # urllib3 logs request URLs at DEBUG; it passes the same filter.
    for name in ("urllib3",):
        lib = logging.getLogger(name)
        lib.setLevel(logging.WARNING)
        for h in list(lib.handlers):
            lib.removeHandler(h)
        lib.addHandler(handler)
        lib.propagate = False


class OutageLog:
    """'log once when the service goes down, once when it comes back' (Home Assistant)."""

    # What the failure was, in words an operator acts on: a refused credential is fixed
    # in the config, an unreachable helpdesk by waiting or the network, anything else
    # by reading the error.
    WHAT = {"auth": "{helpdesk} refused the credentials", "unreachable": "{helpdesk} unreachable",
            "error": "{helpdesk} cycle failed", "state": "{helpdesk} state database error",
            "config": "{helpdesk} not served", "rate": "{helpdesk} rate-limited"}
    LEVEL = {"state": logging.ERROR}  # nothing is decided or written until the state answers

    def __init__(self, logger: logging.Logger, clock: Callable[[], float] = time.monotonic, *, once: bool = False):
        self.logger = logger
        self.clock = clock
        self.once = once  # run --once: one attempt, no retry to promise
        self.down_since: dict[str, float] = {}
        self.cause: dict[str, str] = {}  # the kind of the failure last logged, per helpdesk

    def failed(self, helpdesk: str, error: str, kind: str = "unreachable") -> None:
        # Once per outage and cause: refused credentials fixed, then the helpdesk down, is two.
        if helpdesk in self.down_since and self.cause.get(helpdesk) == kind:
            event(self.logger, logging.DEBUG, "{helpdesk} still failing", error, helpdesk=helpdesk)
            return
        self.down_since.setdefault(helpdesk, self.clock())
        self.cause[helpdesk] = kind
        after = ("; one cycle only (--once), not retried" if self.once
                 else "; not tried again until the configuration changes (a reload)" if kind == "config"
                 else "; will keep retrying")
        event(self.logger, self.LEVEL.get(kind, logging.WARNING), self.WHAT.get(kind, self.WHAT["error"]),
              f"{error}{after}", helpdesk=helpdesk)

    def forget(self, helpdesk: str) -> None:
        """The replica stands by for the helpdesk: its outage, if any, is no longer this
        replica's to tell (QA on replicas: taken back minutes later, the helpdesk was said
        "answering again down_seconds=205", the standby time counted as an outage)."""
        self.cause.pop(helpdesk, None)
        self.down_since.pop(helpdesk, None)

    def recovered(self, helpdesk: str) -> None:
        self.cause.pop(helpdesk, None)
        since = self.down_since.pop(helpdesk, None)
        if since is not None:
            secs = int(self.clock() - since)
            event(self.logger, logging.WARNING, "{helpdesk} answering again", helpdesk=helpdesk, down_seconds=secs)
