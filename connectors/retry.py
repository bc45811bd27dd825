"""The one retry layer: tenacity, honouring Retry-After, never stacked on a client's own.

Both client libraries retry on their own (zenpy sleeps on every 429 with no
attempt cap; jira's ResilientSession retries POSTs on dropped connections,
which can duplicate a comment). Connectors turn those loops off and classify
every HTTP outcome here, as the response arrives, through a requests
response hook, so the library never sees a 429 or a 5xx:

- 429, 5xx, timeouts, dropped connections -> RetriableError (retried here)
- 401, 403                                 -> AuthError (not retried)
- everything else                          -> left to the caller (404, 409, 422 ...)

Writes are retried only through `retry_write`, which first asks whether the
earlier attempt landed (the note marker), so a comment is never posted twice.

Every wait (the request budget, Retry-After, backoff) is announced to the
observer when it STARTS (so a log line and the wait counter show a stall while
it happens, not after), and ends early with `Interrupted` once the thread's
stop event (`bind_stop`) is set: SIGTERM stops the daemon within a second
whatever it waits on (issue 14.9).
"""

from __future__ import annotations

import email.utils
import random
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TypeVar

import requests
from tenacity import RetryCallState, Retrying, retry_if_exception, stop_after_attempt

from tierlift.connectors.base import NullObserver, RequestObserver
from tierlift.connectors.errors import AuthError, RateLimited, RetriableError, TierliftError

T = TypeVar("T")


class Interrupted(TierliftError):
    """A wait ended because the thread was asked to stop (not a helpdesk error)."""


_local = threading.local()


def bind_stop(event: threading.Event | None) -> None:
    """Waits on this thread end (Interrupted) once `event` is set."""
    _local.stop = event


def interruptible_sleep(seconds: float) -> None:
    event: threading.Event | None = getattr(_local, "stop", None)
    if event is None:
        time.sleep(seconds)
        return
    if event.wait(max(0.0, seconds)):
        raise Interrupted("stop requested during a wait")


def announce_wait(observer: RequestObserver, seconds: float, why: str) -> None:
    """Count and log a wait as it starts (an observer without `wait_started` only counts)."""
    started = getattr(observer, "wait_started", None)
    if started is not None:
        started(seconds, why)
    else:
        observer.rate_limit_wait(seconds)


def _sleeper(sleep: Callable[[float], None]) -> Callable[[float], None]:
    # Connectors pass time.sleep by default; in a daemon thread that must stop on
    # SIGTERM it is the interruptible one. Tests pass their own fake clocks.
    return interruptible_sleep if sleep is time.sleep else sleep


def retry_after_seconds(value: str | None, now: Callable[[], float] = time.time) -> float | None:
    """Retry-After as seconds: an integer, or an HTTP date (RFC 9110)."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, when.timestamp() - now())


def install_hook(session: requests.Session, observer: RequestObserver) -> None:
    """Classify responses before the client library sees them."""

    def hook(response: requests.Response, *args, **kwargs) -> requests.Response:
        method = response.request.method if response.request is not None else "?"
        status = response.status_code
        observer.request(method or "?", str(status))
        path = requests.utils.urlparse(response.url).path
        if status == 429 or status >= 500:
            raise RetriableError(f"{method} {path}: HTTP {status}", status=status,
                                 retry_after=retry_after_seconds(response.headers.get("Retry-After")))
        if status in (401, 403):
            raise AuthError(f"{method} {path}: HTTP {status} (credentials refused or not allowed)", status=status)
        return response

    session.hooks["response"].append(hook)


# The helpdesk counts requests as they arrive, and arrivals jitter (a new
# connection, a busy server): spaced by exactly a minute of our own sends, 501
# requests of a 500 budget arrived within one of its minutes
# (tests/reliability/test_faults.py). A second of margin absorbs that.
WINDOW = 61.0


class RequestBudget:
    """At most `per_minute` requests in any sliding minute: waits before sending.

    The helpdesk answers 429 past its budget anyway, but a daemon that knows
    its share never spends requests on refusals and leaves the rest of the
    account's budget (other integrations, agents' apps) untouched.

    Paced, not in bursts: a small burst (a twentieth of the budget) goes at
    once, then requests are spaced at the budget's rate. A window that let the
    whole minute's share go at once then stalled for a minute: a P0 read just
    after the burst waited ~60 s for its write whatever its urgency
    (tests/bench/urgent.py). The sliding window stays the hard limit.
    """

    def __init__(self, per_minute: int | None, clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep):
        from collections import deque

        self.per_minute = per_minute
        self.clock, self.sleep = clock, _sleeper(sleep)
        self.sent: deque[float] = deque()
        self.lock = threading.Lock()
        self.burst = max(1.0, (per_minute or 0) / 20)
        self.rate = (per_minute or 0) / WINDOW  # tokens a second
        self.tokens = self.burst
        self.refilled = clock()

    def acquire(self, on_wait: Callable[[float], None] | None = None) -> float:
        """Wait for a slot; returns the seconds waited. `on_wait(seconds)` runs before each pause."""
        if not self.per_minute:
            return 0.0
        waited = 0.0
        while True:
            with self.lock:
                pause = self._take(self.clock())
                if pause is None:
                    return waited
            if on_wait is not None:
                on_wait(pause)
            self.sleep(pause)
            waited += pause

    def _take(self, now: float) -> float | None:
        """Take a slot now (None), or the seconds to wait for one."""
        while self.sent and now - self.sent[0] >= WINDOW:
            self.sent.popleft()
        self.tokens = min(self.burst, self.tokens + (now - self.refilled) * self.rate)
        self.refilled = now
        if len(self.sent) < self.per_minute and self.tokens >= 1.0 - 1e-9:
            self.tokens -= 1.0
            self.sent.append(now)
            return None
        window = WINDOW - (now - self.sent[0]) + 0.01 if len(self.sent) >= self.per_minute else 0.0
        return max(window, (1.0 - self.tokens) / self.rate + 0.001)

    def wrap(self, session: requests.Session, observer: RequestObserver) -> None:
        original = session.request

        def on_wait(seconds: float) -> None:
            announce_wait(observer, seconds, f"request budget of {self.per_minute}/min used up")

        def request(method, url, *args, **kwargs):
            self.acquire(on_wait)
            return original(method, url, *args, **kwargs)

        session.request = request  # type: ignore[method-assign]


def plain_session(email_addr: str, token: str, *, basic_user_suffix: str = "") -> requests.Session:
    """A session with no urllib3 retries: retrying is this module's job."""
    s = requests.Session()
    adapter = requests.adapters.HTTPAdapter(max_retries=0, pool_maxsize=4)
    s.mount("http://", adapter)
    s.mount("https://", adapter)
    s.auth = (email_addr + basic_user_suffix, token)
    s.headers["User-Agent"] = "tierlift/0.1"
    return s


class Retry:
    """Retries a call on RetriableError with Retry-After honoured, up to a cap."""

    def __init__(self, *, attempts: int = 5, max_wait: float = 60.0, backoff: float = 1.0,
                 observer: RequestObserver | None = None, sleep: Callable[[float], None] = time.sleep):
        self.attempts = attempts
        self.max_wait = max_wait
        self.backoff = backoff
        self.observer = observer or NullObserver()
        self.sleep = _sleeper(sleep)

    def _wait(self, state: RetryCallState) -> float:
        exc = state.outcome.exception() if state.outcome else None
        ra = getattr(exc, "retry_after", None)
        if ra is not None:
            announce_wait(self.observer, ra, f"Retry-After {ra:g}s ({exc})")
            return ra
        # Exponential backoff with full jitter.
        return random.uniform(0, min(self.max_wait, self.backoff * 2 ** (state.attempt_number - 1)))

    def call(self, fn: Callable[[], T]) -> T:
        def run() -> T:
            try:
                return fn()
            except (requests.ConnectionError, requests.Timeout) as exc:
                raise RetriableError(f"connection failed: {exc.__class__.__name__}") from None
            except RetriableError as exc:
                if exc.retry_after is not None and exc.retry_after > self.max_wait:
                    raise RateLimited(f"{exc} (Retry-After {exc.retry_after:.0f}s exceeds the {self.max_wait:.0f}s cap)",
                                      status=exc.status, retry_after=exc.retry_after) from None
                raise

        retrying = Retrying(retry=retry_if_exception(lambda e: isinstance(e, RetriableError) and not isinstance(e, RateLimited)),
                            stop=stop_after_attempt(self.attempts), wait=self._wait, sleep=self.sleep, reraise=True)
        return retrying(run)

    def write(self, fn: Callable[[], T], landed: Callable[[], bool], on_landed: Callable[[], T]) -> T:
        """A non-idempotent write: before each retry, check whether the last attempt landed."""
        attempt = 0
        while True:
            attempt += 1
            try:
                return self.call_once(fn)
            except RetriableError as exc:
                if attempt >= self.attempts or isinstance(exc, RateLimited):
                    raise
                wait = exc.retry_after if exc.retry_after is not None else random.uniform(
                    0, min(self.max_wait, self.backoff * 2 ** (attempt - 1)))
                if exc.retry_after is not None:
                    announce_wait(self.observer, exc.retry_after, f"Retry-After {exc.retry_after:g}s ({exc})")
                self.sleep(wait)
                if exc.status is None or exc.status >= 500:
                    # The request may have been applied before the failure: look first.
                    if self.call(landed):
                        return on_landed()

    def call_once(self, fn: Callable[[], T]) -> T:
        try:
            return fn()
        except (requests.ConnectionError, requests.Timeout) as exc:
            raise RetriableError(f"connection failed: {exc.__class__.__name__}") from None
        except RetriableError as exc:
            if exc.retry_after is not None and exc.retry_after > self.max_wait:
                raise RateLimited(f"{exc} (Retry-After {exc.retry_after:.0f}s exceeds the cap)",
                                  status=exc.status, retry_after=exc.retry_after) from None
            raise


def now_utc() -> datetime:
    return datetime.now(UTC)
