"""Every error tierlift raises on purpose, in one tree (ARCHITECTURE.md).

    TierliftError                  the base: `except TierliftError` is "tierlift said no"
     |
     |  -- a helpdesk call (the connectors raise only these; connectors/errors.py) --
     +-- RetriableError            429, 5xx, timeouts, dropped connections: retried by the
     |    |                        one retry layer (connectors/retry.py: tenacity, honouring
     |    |                        Retry-After); raised only when the retries are exhausted.
     |    +-- RateLimited          a 429 whose Retry-After exceeds the cap: not waited out;
     |    |                        carries retry_after.
     |    +-- TimedOut             no answer within the timeout: a write may still land
     |                             later, so it is looked for before it is sent again.
     +-- AuthError                 401/403: stop this helpdesk, log once, probe again next
     |                             cycle; other helpdesks carry on.
     +-- TicketError               permanent for one ticket (422, other 4xx, a payload we
     |    |                        cannot map): quarantine it, carry on with the rest.
     |    +-- TicketGone           the ticket is gone: 404 on either connector (Zendesk: any
     |                             read or write; Jira: the issue, its comments or changelog,
     |                             its edit or a comment on it). status is 404. The cycle
     |                             drops it from its index ("deleted") instead of quarantining.
     +-- NotTheHelpdesk            404 where the kind's API is, on open: the entry's url or
     |                             kind is wrong (said as such, retried each cycle).
     +-- ConflictError             409 on a safe update: re-read, re-evaluate, try once more.
     +-- Interrupted               a wait ended because the daemon is stopping
     |                             (connectors/retry.py; not a helpdesk error).
     |
     |  -- bad configuration: refused at start, `FILE:LINE: key.path: message`, exit 2 --
     +-- ConfigError (also a ValueError, so `except ValueError` keeps working)
     |    +-- InvalidFile          a config or policy file, every problem listed (engine/yamlsrc.py)
     |    +-- CalendarError        a business-hours calendar (engine/calendar.py)
     |    +-- ConditionError       a condition (engine/conditions.py)
     |    +-- DurationError        a duration such as "4h" or "2 business days" (engine/durations.py)
     |
     |  -- the state store (service/daemon/store/base.py) --
     +-- StateError                the state cannot be used: missing, not ours, too new, locked
     |    +-- StateDatabaseError   the database failed at run time: not the helpdesk's fault
     +-- LeaseLost                 this replica no longer holds the helpdesk's lease: stand by
     |                             (a sibling of StateError, not a child: nothing is broken)
     |
     |  -- notifications (service/ops/notify.py) --
     +-- NotifyError               a channel refused or never answered; the helpdesk write
                                   stands and the notification is journaled as failed.

Where each lives: the base, the helpdesk errors and the ConfigError category
are defined here, because the engine is the innermost layer and every other
layer may import it; connectors/errors.py re-exports the helpdesk errors as
the connectors' import point. The others stay in the module that raises them
(their names are imported across the code base) and derive from a base here.

Invariants:
- A connector raises only the helpdesk errors above (a client library's own
  exceptions never leave it), so the service catches by meaning: `except
  TicketGone` before `except TicketError`.
- TicketGone is a TicketError: code that only knows "this ticket failed" still
  catches it; a 404 that names no ticket (Jira's user search) stays a TicketError.
- Messages never contain credentials: they are built from status codes, paths,
  ticket ids, file names and key paths only.
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


class TimedOut(RetriableError):
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


class NotTheHelpdesk(TierliftError):
    """The entry's address answered, but not as a helpdesk of its kind (404 where the
    kind's API is): its url or kind is wrong. Not a ticket gone (QA: a wrong url was
    reported as 'TicketGone: /api/v2/users/me.json: not found')."""


class ConflictError(TierliftError):
    def __init__(self, message: str, *, ticket_id: str | None = None) -> None:
        super().__init__(message)
        self.ticket_id = ticket_id


class ConfigError(TierliftError, ValueError):
    """Bad configuration or policy: the daemon refuses to start (exit 2)."""
