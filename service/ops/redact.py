"""One place that knows the secret values, so nothing printed can carry them.

Config loading registers every credential it resolves; log records, plans,
status output, reports and error messages pass through `redact`. Values
shorter than 4 characters are not registered (they would mangle ordinary
text and are not credentials worth the name).
"""

from __future__ import annotations

import logging
import threading
from datetime import datetime

_lock = threading.Lock()
_secrets: set[str] = set()
MASK = "***"


def register(value: str | None) -> None:
    if value and len(value) >= 4:
        with _lock:
            _secrets.add(value)
            # Basic auth headers carry "email/token:value" base64-encoded.
            import base64

            _secrets.add(base64.b64encode(value.encode()).decode().rstrip("="))


def redact(text: str) -> str:
    if not _secrets or not text:
        return text
    for s in sorted(_secrets, key=len, reverse=True):
        if s in text:
            text = text.replace(s, MASK)
    return text


def _masked(value: object) -> object:
    """A field value with secrets masked: numbers, booleans and times stay as they are,
    anything else is the masked text of it (an exception's str() may carry a header)."""
    if value is None or isinstance(value, (bool, int, float, datetime)):
        return value
    return redact(str(value))


class RedactingFilter(logging.Filter):
    """Rewrites every record's message, an event's fields and the exception text with secrets
    masked (the JSON formatter writes the fields apart from the message)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if _secrets:
            try:
                message = record.getMessage()
            except Exception:  # a malformed log call must not lose the record
                message = str(record.msg)
            record.msg, record.args = redact(message), None
            fields = getattr(record, "fields", None)
            if isinstance(fields, dict):
                record.fields = {k: _masked(v) for k, v in fields.items()}
            if record.exc_info and not record.exc_text:
                record.exc_text = logging.Formatter().formatException(record.exc_info)
            if record.exc_text:
                record.exc_text = redact(record.exc_text)
        return True
