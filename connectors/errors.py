"""The error taxonomy every connector speaks, and the service acts on.

The tree, and what the service does with each error, is drawn in one place:
engine/errors.py (the engine is the innermost layer, so the base of every
error lives there). This module is the connectors' import point for the
helpdesk part of it:

    TierliftError
     +-- RetriableError      429, 5xx, timeouts, dropped connections (retried first)
     |    +-- RateLimited    a 429 whose Retry-After exceeds the cap
     |    +-- TimedOut       no answer in time: a write may still land
     +-- AuthError           401/403
     +-- TicketError         permanent for one ticket
     |    +-- TicketGone     404: the ticket is gone, on either connector
     +-- NotTheHelpdesk      404 where the kind's API is, on open: a wrong url or kind
 +-- ConflictError       409 on a safe update

They are the same classes as engine.errors' (re-exported, not copied), so
`except tierlift.connectors.errors.TicketError` and `except
tierlift.engine.errors.TicketError` catch the same thing.
"""

from __future__ import annotations

from tierlift.engine.errors import (
    AuthError,
    ConflictError,
    NotTheHelpdesk,
    RateLimited,
    RetriableError,
    TicketError,
    TicketGone,
    TierliftError,
    TimedOut,
)

__all__ = ["AuthError", "ConflictError", "NotTheHelpdesk", "RateLimited", "RetriableError", "TicketError", "TicketGone",
           "TierliftError", "TimedOut"]
