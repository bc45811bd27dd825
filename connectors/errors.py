"""The error taxonomy every connector speaks, and the service acts on.

    TierliftError
     +-- RetriableError      429, 5xx, timeouts, dropped connections: retried with
     |    |                  backoff inside the connector (tenacity, honouring
     |    |                  Retry-After); raised only when retries are exhausted.
     |    +-- RateLimited    429 whose wait exceeded the cap; carries retry_after.
     +-- AuthError           401/403: stop this helpdesk, log once, probe again
     |                       next cycle; other helpdesks carry on.
     +-- TicketError         permanent for one ticket (404, 422, a payload we
     |    |                  cannot map): quarantine it, carry on with the rest.
     |    +-- TicketGone     the ticket was deleted (404 on read or write).
     +-- ConflictError       409 on a safe update: re-read, re-evaluate, try once more.

Messages never contain credentials: connectors build them from status codes,
paths and ticket ids only.
"""

from __future__ import annotations


class TierliftError(Exception):
    """Base of every error tierlift raises on purpose."""


class RetriableError(TierliftError):
    def __init__(self, message: str, *, status: int | None = None, retry_after: float | None = None):
        super().__init__(message)
        self.status = status
        self.retry_after = retry_after


class RateLimited(RetriableError):
    pass


class AuthError(TierliftError):
    def __init__(self, message: str, *, status: int | None = None):
        super().__init__(message)
        self.status = status


class TicketError(TierliftError):
    def __init__(self, message: str, *, ticket_id: str | None = None, status: int | None = None):
        super().__init__(message)
        self.ticket_id = ticket_id
        self.status = status


class TicketGone(TicketError):
    pass


class ConflictError(TierliftError):
    def __init__(self, message: str, *, ticket_id: str | None = None):
        super().__init__(message)
        self.ticket_id = ticket_id
