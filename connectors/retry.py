"""The one retry layer: tenacity, honouring Retry-After, with nothing retrying under it.

Every retry in tierlift goes through `Retry` (helpdesk reads, helpdesk writes,
notifications); no other module loops, sleeps or computes a backoff.

- `Retry.call(fn)`: reads, and writes that give the same result twice.
- `Retry.write(fn, landed, on_landed)`: a write that must not land twice (a
  comment). Before an attempt whose outcome is unknown (no answer, a dropped
  connection, a 5xx) is repeated, a tenacity hook asks `landed()` (the note
  marker, the reply's text) and stops there if it did.

Nothing under this layer retries: a connector's session sends through its
`HelpdeskAdapter` (transport.py), built with urllib3's retries off, and that
adapter classifies every HTTP outcome as the response arrives:

- 429, 5xx, timeouts, dropped connections -> RetriableError (retried here)
- 401, 403                                 -> AuthError (not retried)
- everything else                          -> left to the caller (404, 409, 422 ...)

Every wait for the helpdesk (the request budget, Retry-After) is announced to
the observer when it STARTS (so a log line and the wait counter show a stall
while it happens, not after), and every wait, backoff included, ends early
with `Interrupted` once the thread's stop event (`bind_stop`) is set: SIGTERM
stops the daemon within a second whatever it waits on (issue 14.9).
"""

from __future__ import annotations

import email.utils
import threading
import time
from collections import deque
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from datetime import UTC
from typing import TypeVar
from urllib.parse import urlsplit

import requests
from tenacity import (
    RetryCallState,
    Retrying,
    retry_if_exception,
    stop_after_attempt,
    wait_exponential,
    wait_random_exponential,
)

from tierlift.connectors.base import NullObserver, RequestObserver
from tierlift.connectors.errors import (
    ConflictError,
    RateLimited,
    RetriableError,
    TierliftError,
    TimedOut,
)

T = TypeVar("T")


class Interrupted(TierliftError):
    """A wait ended because the thread was asked to stop (not a helpdesk error)."""


_local = threading.local()


def bind_stop(event: threading.Event | None) -> None:
    """Waits on this thread end (Interrupted) once `event` is set."""
    _local.stop = event


def bind_pause(pause: Callable[[float], AbstractContextManager[object]] | None) -> None:
    """This thread's waits for the helpdesk (the request budget's pace, a Retry-After, a
    retry's backoff) run inside `pause(seconds)`: the worker pool lends the waiting thread's
    place to another meanwhile (service/daemon/pool.py)."""
    _local.pause = pause


def interruptible_sleep(seconds: float) -> None:
    pause: Callable[[float], AbstractContextManager[object]] | None = getattr(_local, "pause", None)
    with pause(seconds) if pause is not None else nullcontext():
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


def announce_retry(observer: RequestObserver, seconds: float, why: str) -> None:
    """Count and log a retry's backoff as it starts (an observer without `retry_started`
    does neither): a helpdesk that fails and recovers within the retries is otherwise
    seen only in the requests' statuses."""
    started = getattr(observer, "retry_started", None)
    if started is not None:
        started(seconds, why)


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
        limit = self.per_minute
        if not limit:
            return 0.0
        waited = 0.0
        while True:
            with self.lock:
                pause = self._take(self.clock(), limit)
                if pause is None:
                    return waited
            if on_wait is not None:
                on_wait(pause)
            self.sleep(pause)  # on a pool's thread, its place is lent meanwhile (bind_pause)
            waited += pause

    def _take(self, now: float, limit: int) -> float | None:
        """Take a slot now (None), or the seconds to wait for one."""
        while self.sent and now - self.sent[0] >= WINDOW:
            self.sent.popleft()
        self.tokens = min(self.burst, self.tokens + (now - self.refilled) * self.rate)
        self.refilled = now
        if len(self.sent) < limit and self.tokens >= 1.0 - 1e-9:
            self.tokens -= 1.0
            self.sent.append(now)
            return None
        window = WINDOW - (now - self.sent[0]) + 0.01 if len(self.sent) >= limit else 0.0
        return max(window, (1.0 - self.tokens) / self.rate + 0.001)


def backoff(failures: int, *, base: float, cap: float) -> float:
    """The layer's exponential schedule for something retried across cycles, not inside one call
    (a connector that will not open, a quarantined ticket): base * 2**(failures - 1), at most
    cap; tenacity's own arithmetic, so the formula lives in one place."""
    state = RetryCallState(None, None, (), {})  # type: ignore[arg-type]  # the wait reads attempt_number only
    state.attempt_number = max(1, failures)
    return float(wait_exponential(multiplier=base, max=cap)(state))


class _Landed(Exception):  # noqa: N818 - a signal, not an error
    """The write's earlier attempt was found applied: stop retrying it."""


class Retry:
    """The one retry layer, on tenacity: reads (`call`), writes (`write`) and notifications.

    Retried: RetriableError, and the connection errors and timeouts of requests
    (turned into RetriableError / TimedOut here). A Retry-After is the wait
    (announced as it starts); one beyond `max_wait` is not waited out but raised
    at once as RateLimited. Otherwise the wait is exponential backoff with full
    jitter (`backoff` * 2^n, capped at `max_wait`). `attempts` counts every try.
    Waits go through `sleep`: time.sleep becomes the interruptible sleep.
    """

    def __init__(self, *, attempts: int = 5, max_wait: float = 60.0, backoff: float = 1.0,
                 observer: RequestObserver | None = None, sleep: Callable[[float], None] = time.sleep):
        self.attempts = attempts
        self.max_wait = max_wait
        self.backoff = backoff
        self.observer: RequestObserver = observer or NullObserver()
        self.sleep = _sleeper(sleep)
        self._backoff = wait_random_exponential(multiplier=backoff, max=max_wait)
        # One Retrying for every read, not one per call: tenacity's objects hold each
        # other in cycles (about 20 objects a call), which only the interpreter's full
        # collections free, and a full collection stops every thread. Its state between
        # attempts is per thread (threading.local), and each call has its own RetryCallState.
        self._reads = self._retrying()

    def call(self, fn: Callable[[], T]) -> T:
        """`fn()`, retried: for reads and for writes that give the same result twice."""
        result: T = self._reads(self._attempt, fn)
        return result

    def write(self, fn: Callable[[], T], landed: Callable[[], bool], on_landed: Callable[[], T], *,
              conflicts: bool = False, settle: float = 0.0) -> T:
        """A write that must not be applied twice (a comment): retried like `call`, but
        before retrying an attempt whose outcome is unknown (no answer, a dropped
        connection, a 5xx; with `conflicts`, also a 409), `landed()` looks whether it was
        applied after all, and if so the write stops there and returns `on_landed()`.

        The look is a tenacity hook: `before_sleep` notes that the failed attempt may
        have landed, `before` looks once the wait is over (a late write has had that
        long to finish). `settle`: seconds added to the wait after a timeout, when the
        request may still be under way at the helpdesk. `landed` makes its reads
        through this layer itself (connectors' reads do), so it is not wrapped again.
        With `conflicts`, a 409 is retried at once, after the look (Zendesk's reply:
        each attempt is a safe update on the stamp that `landed` read).
        """
        unknown = False

        def remember(state: RetryCallState) -> None:
            nonlocal unknown
            unknown = _outcome_unknown(state, conflicts)

        def look(state: RetryCallState) -> None:
            nonlocal unknown
            if unknown:
                unknown = False
                if landed():
                    raise _Landed

        retrying = self._retrying(conflicts=conflicts, settle=settle).copy(before=look, before_sleep=remember)
        try:
            return retrying(lambda: self._attempt(fn))
        except _Landed:
            return on_landed()

    def _retrying(self, *, conflicts: bool = False, settle: float = 0.0) -> Retrying:
        def retriable(exc: BaseException) -> bool:
            if isinstance(exc, ConflictError):
                return conflicts
            return isinstance(exc, RetriableError) and not isinstance(exc, RateLimited)

        return Retrying(retry=retry_if_exception(retriable), stop=stop_after_attempt(self.attempts),
                        wait=lambda state: self._wait(state, settle), sleep=self._pause, reraise=True)

    def _attempt(self, fn: Callable[[], T]) -> T:
        """One try, with the transport's failures put in the taxonomy."""
        try:
            return fn()
        except requests.Timeout as exc:
            raise TimedOut(f"no answer in time from {_where(exc)}: {exc.__class__.__name__}") from None
        except requests.ConnectionError as exc:
            raise RetriableError(f"connection to {_where(exc)} failed: {exc.__class__.__name__}") from None
        except RetriableError as exc:
            if exc.retry_after is not None and exc.retry_after > self.max_wait and not isinstance(exc, RateLimited):
                raise RateLimited(f"{exc} (Retry-After {exc.retry_after:.0f}s exceeds the {self.max_wait:.0f}s cap)",
                                  status=exc.status, retry_after=exc.retry_after) from None
            raise

    def _wait(self, state: RetryCallState, settle: float) -> float:
        exc = state.outcome.exception() if state.outcome is not None else None
        if state.attempt_number >= self.attempts:
            # tenacity asks for the wait before it checks the stop: after the last attempt no
            # wait follows, and one was logged ("retrying ... seconds=11.1 attempt 5 of 5")
            # and counted in tierlift_retry_wait_seconds.
            return 0.0
        if isinstance(exc, ConflictError):
            return 0.0  # at once: the look before the next attempt reads the new stamp
        retry_after = exc.retry_after if isinstance(exc, RetriableError) else None
        if retry_after is not None:
            announce_wait(self.observer, retry_after, f"Retry-After {retry_after:g}s ({exc})")
            return retry_after
        wait = float(self._backoff(state))
        wait = wait + settle if isinstance(exc, TimedOut) else wait
        announce_retry(self.observer, wait, f"attempt {state.attempt_number} of {self.attempts}: {exc}")
        return wait

    def _pause(self, seconds: float) -> None:
        if seconds > 0:
            self.sleep(seconds)


def _where(exc: requests.RequestException) -> str:
    """host:port of the failed request, so an operator knows which address did not answer
    (the URL's path and query stay out: they may carry ticket data)."""
    url = getattr(exc.request, "url", None) if exc.request is not None else None
    if not url:
        return "the helpdesk"
    parts = urlsplit(str(url))
    port = parts.port or {"https": 443, "http": 80}.get(parts.scheme, 0)
    return f"{parts.hostname}:{port}"


def _outcome_unknown(state: RetryCallState, conflicts: bool) -> bool:
    """Whether the failed attempt may have been applied: no answer, or a 5xx (the
    helpdesk may have failed after applying it); a 429 or 4xx was refused whole."""
    exc = state.outcome.exception() if state.outcome is not None else None
    if isinstance(exc, ConflictError):
        return conflicts
    return isinstance(exc, RetriableError) and (exc.status is None or exc.status >= 500)
