"""One place that knows the secret values, so nothing printed can carry them.

Config loading registers every credential it resolves; log records, plans,
status output, reports and error messages pass through `redact`. Values
shorter than 4 characters are not registered (they would mangle ordinary
text and are not credentials worth the name).
"""

from __future__ import annotations

import logging
import re
import threading
from datetime import datetime

_lock = threading.Lock()
_secrets: set[str] = set()
MASK = "***"
# scheme://USER:PASSWORD@HOST: the password runs to the LAST '@' before the host, so an unencoded
# '@' (or '/', '?', '#') in it is masked whole; stopping at the first '@' showed the tail of
# `tl:SECRETat@pw1@host` (QA). The input is one URL, so a space ends nothing. A URL with an '@' in its query and no user is masked too far:
# that costs a host name in a message, never a secret.
_URL_USERINFO = re.compile(r"([A-Za-z][A-Za-z0-9+.\-]*://[^\s:/@?#]*):.*@")
_PASSWORD_PARAM = re.compile(r"([?&][^=&#]*password=)[^&#]*", re.IGNORECASE)  # ?password=, &sslpassword=
# A key=value DSN (`host=db password='a b'`): the value, quoted or not.
_PASSWORD_KEYWORD = re.compile(r"(\b\w*password\s*=\s*)('(?:[^'\\]|\\.)*'?|\S*)", re.IGNORECASE)


# A secret shorter than this is masked only where it stands as a word of its own: a short value
# masked inside other words ("tier" in "tierlift", "tier=L1->L3") spelled itself out around the
# masks and garbled every log line (QA, an integrator). Real tokens are longer, and are masked
# wherever they stand.
WHOLE_WORD_BELOW = 16
_words: dict[str, re.Pattern[str]] = {}


# A URL's delimiters: a password holding one is parsed as parts of the URL, and a driver's error
# may quote a part alone (QA, a privacy auditor: psycopg quoted the tail after a '?' as a "URI
# query parameter"). Parts at least this long are secrets of their own.
_URL_DELIMITERS = re.compile(r"[/?#@:&=]")
FRAGMENT_AT_LEAST = 8


def register(value: str | None) -> None:
    if value and len(value) >= 4:
        with _lock:
            _secrets.add(value)
            if "://" not in value:  # a URL's parts are its scheme, host and path: a password's are secret
                _secrets.update(part for part in _URL_DELIMITERS.split(value) if len(part) >= FRAGMENT_AT_LEAST
                                and part != value)
            # Basic auth headers carry "email/token:value" base64-encoded.
            import base64

            _secrets.add(base64.b64encode(value.encode()).decode().rstrip("="))


def forget(value: str) -> None:
    """A value refused as a secret (too short, not ASCII) is no secret to mask: the refusal
    never shows it, and masked as a word it showed itself in the refusal's own words ("too
    *** to resist guessing" for "short": QA, a privacy auditor)."""
    import base64

    with _lock:
        _secrets.discard(value)
        _secrets.discard(base64.b64encode(value.encode()).decode().rstrip("="))


def snapshot() -> frozenset[str]:
    """The secrets known now: a configuration refused afterwards (a reload) gives them back
    with `restore`, so a value it alone held is not masked in the text of every later line."""
    with _lock:
        return frozenset(_secrets)


def restore(saved: frozenset[str]) -> None:
    with _lock:
        _secrets.clear()
        _secrets.update(saved)


def redact(text: str) -> str:
    if not _secrets or not text:
        return text
    with _lock:
        known = sorted(_secrets, key=len, reverse=True)
    for s in known:
        if s not in text:
            continue
        if len(s) >= WHOLE_WORD_BELOW:
            text = text.replace(s, MASK)
        else:
            word = _words.get(s)
            if word is None:
                word = _words[s] = re.compile(r"(?<![A-Za-z0-9])" + re.escape(s) + r"(?![A-Za-z0-9])")
            text = word.sub(MASK, text)
    return text


def mask_url_password(url: str) -> str:
    """A database URL or DSN with its password masked wherever it is written: in the user part
    (to the last '@'), in the query (`?password=`, any case, `sslpassword=` too) or as a
    key=value DSN's `password=`. For the state's address in logs, errors and `check`."""
    if "://" not in url:
        return _PASSWORD_KEYWORD.sub(lambda m: m.group(1) + MASK, url)
    return _PASSWORD_PARAM.sub(lambda m: m.group(1) + MASK, _URL_USERINFO.sub(lambda m: f"{m.group(1)}:{MASK}@", url))


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
