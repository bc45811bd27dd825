"""A connector's HTTP transport: the session it owns and the one adapter its requests pass.

Each connector builds one `requests.Session` when it is constructed
(`session_for`) and mounts a `HelpdeskAdapter` on it, for http and https.
The adapter is given to the connector (the service builds it in
service/daemon/connect.py; a connector built without one makes a plain one):
nothing is patched into a session or a client afterwards. On its way out and
back, every request passes, in this order:

1. the request budget (`RequestBudget`, retry.py): it waits for a slot before
   each send, the wait announced to the observer as it starts;
2. the write guard, when one is given (the replicas' lease check,
   service/daemon/leases.py): called before a write request (POST, PUT, PATCH,
   DELETE) is sent and again before each socket send of it, since urllib3
   sends a request's headers and its body in separate sends; it raises to stop
   the write, and a request whose body never came is never acted on;
3. the send, with urllib3's retries off: retrying is retry.py's job, one layer;
4. the answer, classified as it arrives: counted by the observer; 429 and 5xx
   raise RetriableError (with the Retry-After), 401 and 403 AuthError;
   everything else goes back to the connector (404, 409, 422 ...).

Invariant: a request the budget or the guard stops is never sent, so it never
reaches the helpdesk's log. The guard's per-send check lives on the
connections of this adapter's own pool manager (`init_poolmanager`, the
adapter's documented extension point), set by the adapter for the thread that
sends a guarded write, so reads on other threads are never checked.
"""

from __future__ import annotations

import contextlib
import os
import socket
import threading
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

import requests
import requests.adapters
import requests.auth
import requests.utils
import urllib3
import urllib3.connection

from tierlift.connectors.base import NullObserver, RequestObserver
from tierlift.connectors.errors import AuthError, NotTheHelpdesk, RetriableError, TicketError
from tierlift.connectors.retry import RequestBudget, announce_wait, retry_after_seconds

WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
USER_AGENT = "tierlift/0.1"

# The write guard of the request this thread is sending, if it is a guarded write
# (set by HelpdeskAdapter.send, read by every socket send of its connections).
_sending = threading.local()


class _GuardedConnection(urllib3.connection.HTTPConnection):
    """Runs the write guard before each socket send of a guarded write."""

    def send(self, data: Any) -> None:
        check: Callable[[], None] | None = getattr(_sending, "check", None)
        if check is not None:
            check()  # raises: urllib3 closes the connection, the half-sent request dies
        super().send(data)


class _GuardedHTTPSConnection(_GuardedConnection, urllib3.connection.HTTPSConnection):
    pass


class _GuardedPool(urllib3.HTTPConnectionPool):
    ConnectionCls = _GuardedConnection


class _GuardedHTTPSPool(urllib3.HTTPSConnectionPool):
    ConnectionCls = _GuardedHTTPSConnection


class _GuardedPoolManager(urllib3.PoolManager):
    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.pool_classes_by_scheme = {"http": _GuardedPool, "https": _GuardedHTTPSPool}


class HelpdeskAdapter(requests.adapters.HTTPAdapter):
    """The transport adapter of one connector's session (see the module docstring).

    `budget`: the request budget (None: unlimited). `write_guard`: called with no
    argument before each write and each socket send of it; it raises to refuse.
    `observer`: counts requests and announces budget waits (a connector given an
    adapter without one passes its own through `observe`)."""

    def __init__(self, *, budget: RequestBudget | None = None, write_guard: Callable[[], None] | None = None,
                 observer: RequestObserver | None = None, pool_maxsize: int = 4):
        super().__init__(max_retries=0, pool_maxsize=pool_maxsize)
        self.budget = budget or RequestBudget(None)
        self.write_guard = write_guard
        self.observer: RequestObserver = observer or NullObserver()

    def observe(self, observer: RequestObserver) -> None:
        """Count through `observer` when the builder gave none (a connector's default)."""
        if isinstance(self.observer, NullObserver):
            self.observer = observer

    def init_poolmanager(self, connections: int, maxsize: int, block: bool = False, **pool_kwargs: Any) -> None:
        self.poolmanager = _GuardedPoolManager(num_pools=connections, maxsize=maxsize, block=block, **pool_kwargs)

    def send(self, request: requests.PreparedRequest, stream: bool = False,
             timeout: float | tuple[float | None, float | None] | None = None, verify: bool | str = True,
             cert: str | tuple[str, str] | None = None, proxies: dict[str, str] | None = None) -> requests.Response:
        self.budget.acquire(self._budget_wait)
        guard = self.write_guard if str(request.method).upper() in WRITE_METHODS else None
        if guard is not None:
            guard()
        _sending.check = guard
        started = time.monotonic()
        try:
            response = super().send(request, stream=True, timeout=timeout, verify=verify, cert=cert, proxies=proxies)
        finally:
            _sending.check = None
        response = self._classified(response)
        if not stream:
            read_within(response, _whole(timeout), started)
        return response

    def _budget_wait(self, seconds: float) -> None:
        announce_wait(self.observer, seconds, f"request budget of {self.budget.per_minute}/min used up")

    def _classified(self, response: requests.Response) -> requests.Response:
        method = response.request.method if response.request is not None else "?"
        status = response.status_code
        self.observer.request(method or "?", str(status))
        if 300 <= status < 400:
            # Followed, a redirect sent a write to wherever it pointed (the note quoting the
            # customer, the reply; the foreign host's 200 journaled as an escalation done), or
            # turned a PUT into a GET that wrote nothing and answered 200 (QA, a privacy
            # auditor: 307 to another host, 302 on the same one). None is followed.
            response.close()
            where = urlsplit(response.headers.get("Location") or "")
            to = f" to {where.scheme}://{where.netloc}" if where.netloc else ""
            raise NotTheHelpdesk(f"{method} {urlsplit(response.url).path}: HTTP {status}, a redirect{to}: tierlift"
                                 " follows none (a write would go elsewhere, or become a read); write the helpdesk's"
                                 " own https address in `url`")
        if status == 429 or status >= 500 or status in (401, 403):
            response.close()  # the body is not read: give the connection back
            path = urlsplit(response.url).path
            if status in (401, 403):
                raise AuthError(f"{method} {path}: HTTP {status} (credentials refused or not allowed)", status=status)
            raise RetriableError(f"{method} {path}: HTTP {status}", status=status,
                                 retry_after=retry_after_seconds(response.headers.get("Retry-After")))
        return response


def _whole(timeout: float | tuple[float | None, float | None] | None) -> float | None:
    """How long one request may take in all: requests' timeout bounds each socket read only."""
    if isinstance(timeout, tuple):
        return None if timeout[1] is None else (timeout[0] or 0.0) + timeout[1]
    return timeout


def read_within(response: requests.Response, seconds: float | None, started: float) -> None:
    """Read the answer's body by `started` + `seconds`, or raise requests' ReadTimeout (which the
    retry layer retries, and for a write looks for). requests' timeout bounds each socket read,
    so a helpdesk dripping its answer a byte every few seconds held the request, its worker and
    a pool thread for as long as it dripped (QA, a multi-tenant operator: minutes, with
    `timeout: 5s`). A timer shuts the socket down at the deadline, ending the blocked read."""
    if seconds is None:
        response.content  # noqa: B018 -- reads the body
        return
    cut = threading.Event()

    def stop() -> None:
        cut.set()
        sock = getattr(getattr(response.raw, "connection", None), "sock", None)
        if sock is not None:
            with contextlib.suppress(OSError):  # already closed: the read has ended
                sock.shutdown(socket.SHUT_RDWR)
    timer = threading.Timer(max(0.0, started + seconds - time.monotonic()), stop)
    timer.daemon = True
    timer.start()
    try:
        response.content  # noqa: B018 -- reads the body
    except requests.RequestException:
        if not cut.is_set():
            raise
    finally:
        timer.cancel()
    if cut.is_set():
        response.close()
        raise requests.exceptions.ReadTimeout(f"the answer took longer than {seconds:g} s in all", request=response.request)


def origin(url: str) -> tuple[str, str, int]:
    """A URL's scheme, host and port (the scheme's default when none is written): where
    a request goes, whatever its path, query or user part say."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    try:
        port = parts.port
    except ValueError:  # a port that is no number: no origin a helpdesk has
        port = -1
    return scheme, (parts.hostname or "").lower(), port if port is not None else {"https": 443, "http": 80}.get(scheme, 0)


def where(url: str) -> str:
    """The host and port a URL names, as an error may show it: never its user part (nor
    its path and query, which a hostile answer fills)."""
    scheme, host, port = origin(url)
    return f"{scheme}://{host[:100]}:{port}"


class HelpdeskAuth(requests.auth.HTTPBasicAuth):
    """Basic auth for the helpdesk's own scheme, host and port only.

    A connector follows links the helpdesk sends (Zendesk's next_page, links.next), and
    requests drops a session's credentials on a redirect to another host, not on a request
    made to it: a page naming another host (a hostile answer, a man in the middle) had the
    token sent there. The connectors refuse such a link themselves, with the ticket it
    belongs to; this is the last line: a request elsewhere is never prepared with them,
    nor sent at all (TicketError, naming the host, never the credentials)."""

    def __init__(self, username: str, password: str, url: str):
        super().__init__(username, password)
        self.origin = origin(url)

    def __call__(self, r: requests.PreparedRequest) -> requests.PreparedRequest:
        if origin(str(r.url)) != self.origin:
            raise TicketError(f"refused to send the helpdesk's credentials to {where(str(r.url))}:"
                              f" not the helpdesk's {self.origin[0]}://{self.origin[1]}:{self.origin[2]}")
        return super().__call__(r)

    def __repr__(self) -> str:
        return f"HelpdeskAuth(<redacted> for {self.origin[1]})"


def session_for(adapter: HelpdeskAdapter, auth: tuple[str, str], url: str) -> requests.Session:
    """A connector's own session: basic auth for `url`'s scheme, host and port only
    (HelpdeskAuth), JSON, every request through `adapter`.

    The environment's proxy and CA settings (HTTPS_PROXY, NO_PROXY, REQUESTS_CA_BUNDLE,
    CURL_CA_BUNDLE) are read once, for the helpdesk's one address `url`, as requests
    would read them: requests reads them again at every request, walking the whole
    environment (6% of the daemon's interpreter during 100 helpdesks' first syncs)."""
    session = requests.Session()
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    session.auth = HelpdeskAuth(auth[0], auth[1], url)
    session.headers.update({"User-Agent": USER_AGENT, "Accept": "application/json"})
    session.proxies.update(requests.utils.get_environ_proxies(url))  # {} where NO_PROXY covers it
    bundle = os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE")
    if bundle:
        session.verify = bundle
    session.trust_env = False
    return session
