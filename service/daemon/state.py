"""The daemon's state: which store a configuration selects, and the names its users import.

``state: {path: ...}`` (or nothing) is the SQLite file of one daemon;
``state: {url: postgresql://...}`` is the PostgreSQL database that several
replicas share. Both implement store/base.py's interface and pass one
contract suite. ``StateStore`` stays the SQLite store, so
``StateStore(":memory:")`` and ``StateStore(path)`` keep working.

Invariant: nothing outside service/daemon/store/ holds SQL or a connection.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from tierlift.service.daemon.store.base import (
    CLOSED,
    INTENT_STATUSES,
    Fence,
    IndexEntry,
    Intent,
    LeaseLost,
    Quarantined,
    SqlStore,
    StateDatabaseError,
    StateError,
)
from tierlift.service.daemon.store.sqlite import (
    APPLICATION_ID,
    MIGRATIONS,
    SCHEMA_VERSION,
    SqliteStore,
)

StateStore = SqliteStore
Store = SqlStore

__all__ = ["APPLICATION_ID", "CLOSED", "INTENT_STATUSES", "MIGRATIONS", "SCHEMA_VERSION", "Fence", "IndexEntry",
           "Intent", "LeaseLost", "Quarantined", "SqlStore", "SqliteStore", "StateDatabaseError", "StateError",
           "StateStore", "Store", "open_store", "describe", "state_exists"]


def open_store(cfg: Any, *, now: Callable[[], datetime] = lambda: datetime.now(UTC), **kw: Any) -> SqlStore:
    """The store `cfg` (a Config) selects: PostgreSQL when state.url is set, else the SQLite file."""
    url = getattr(cfg, "state_url", None)
    if url:
        from tierlift.service.daemon.store.postgres import PostgresStore

        secret = getattr(cfg, "state_password", None)
        ttl = cfg.lease_ttl.total_seconds()
        # Replicas wait on each other's lease rows for at most TTL/3 (see store/postgres.py).
        kw = {"busy_timeout": ttl / 3, "idle_timeout": ttl / 3, **kw}
        return PostgresStore(url, password=secret.reveal() if secret is not None else None, now=now, **kw)
    return SqliteStore(cfg.state_path, now=now, **kw)


def state_exists(cfg: Any) -> bool:
    """Whether the daemon has a state yet: a PostgreSQL URL always has one (empty at first)."""
    return bool(getattr(cfg, "state_url", None)) or cfg.state_path.exists()


def describe(cfg: Any) -> str:
    """The state's location for logs: the file, or the URL without any password."""
    url = getattr(cfg, "state_url", None)
    if url:
        from tierlift.service.daemon.store.postgres import safe_url

        return safe_url(url)
    return str(cfg.state_path)
