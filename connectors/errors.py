"""The error taxonomy every connector speaks, and the service acts on.

    TierliftError
     +-- RetriableError      429, 5xx, timeouts, dropped connections: retried with
     |    |                  backoff inside the connector (tenacity, honouring
     |    |                  Retry-After); raised only when retries are exhausted.
     |    +-- RateLimited    429 whose wait exceeded the cap; carries retry_after.
     +-- AuthError           401/403: stop this helpdesk, log once, probe again
     |                       next cycle; other helpdesks carry on.
     +-- TicketError         permanent for one ticket (422, other 4xx, a payload we
     |    |                  cannot map): quarantine it, carry on with the rest.
     |    +-- TicketGone     the ticket is gone: 404 on either connector (Zendesk:
     |                       any read or write; Jira: the issue, its comments or
     |                       changelog, its edit or a comment on it). status is
     |                       404. The cycle drops the ticket from its index with a
     |                       "deleted" log line instead of quarantining it.
     +-- ConflictError       409 on a safe update: re-read, re-evaluate, try once more.

Invariants:
- A connector raises only these (a library's own exceptions never leave it), so
  the service catches by meaning: `except TicketGone` before `except TicketError`.
- TicketGone is a TicketError: code that only knows "this ticket failed" still
  catches it; a 404 that names no ticket (Jira's user search) stays a TicketError.
- Messages never contain credentials: connectors build them from status codes,
  paths and ticket ids only.
"""

from __future__ import annotations


class TierliftError(Exception):
    """Base of every error tierlift raises on purpose."""


class RetriableError(TierliftError):
    def __init__(self, message: str, *, status: int | None = None, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.retry_after = retry_after


class RateLimited(RetriableError):
    pass


class AuthError(TierliftError):
    def __init__(self, message: str, *, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class TicketError(TierliftError):
    def __init__(self, message: str, *, ticket_id: str | None = None, status: int | None = None) -> None:
        super().__init__(message)
        self.ticket_id = ticket_id
        self.status = status


class TicketGone(TicketError):
    def __init__(self, message: str, *, ticket_id: str | None = None, status: int | None = 404) -> None:
        super().__init__(message, ticket_id=ticket_id, status=status)


class ConflictError(TierliftError):
    def __init__(self, message: str, *, ticket_id: str | None = None) -> None:
        super().__init__(message)
        self.ticket_id = ticket_id
