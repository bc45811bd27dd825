"""The daemon's state: which store a configuration selects, and the names its users import.

``state: {path: ...}`` (or nothing) is the SQLite file of one daemon;
``state: {url: postgresql://...}`` is the PostgreSQL database that several
replicas share. Both implement store/base.py's interface and pass one
contract suite. ``StateStore`` stays the SQLite store, so
``StateStore(":memory:")`` and ``StateStore(path)`` keep working.

Invariant: nothing outside service/daemon/store/ holds SQL or a connection.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from contextlib import closing
from datetime import UTC, datetime
from pathlib import Path
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
    StateUnreachable,
)
from tierlift.service.daemon.store.sqlite import (
    APPLICATION_ID,
    MIGRATIONS,
    SCHEMA_VERSION,
    SqliteStore,
    stored_schema,
)

StateStore = SqliteStore
Store = SqlStore

__all__ = ["APPLICATION_ID", "CLOSED", "INTENT_STATUSES", "MIGRATIONS", "SCHEMA_VERSION", "Fence", "IndexEntry",
           "Intent", "LeaseLost", "Quarantined", "SqlStore", "SqliteStore", "StateDatabaseError", "StateError",
           "StateUnreachable", "StateStore", "Store", "open_for_tool", "open_store", "older_replicas", "describe", "nudge_listener", "pg_pool", "state_check",
           "state_exists"]


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


def open_for_tool(cfg: Any, *, writes: bool = False) -> SqlStore:
    """A tool's store, never migrated: only the daemon of a release migrates the state it finds
    (docs/upgrading.md). A reading tool reads an older release's file through a migrated copy
    in memory; a tool that writes refuses it, its writes would land in the copy. Before, the
    triage and forget commands migrated the file under a running older daemon, whose next
    start was then refused ("written by a newer tierlift"; QA, an SRE upgrading)."""
    store = open_store(cfg, migrate=False)
    older = getattr(store, "copied_from_schema", None)
    if writes and older is not None:
        store.close()
        raise StateError(f"state file {describe(cfg)}: is at schema {older}, an older tierlift's; this command"
                         f" writes to it, and tools do not migrate it to {SCHEMA_VERSION} under a daemon that may"
                         " still run: start this version's daemon first, which migrates it (docs/upgrading.md),"
                         " or use the older release's tierlift")
    return store


def announce_migration(cfg: Any) -> None:
    """Say it before a start migrates an older release's SQLite file: the copy and the migration
    of a large file take a while, and nothing was logged (QA, an SRE: a 636 MB file)."""
    path = Path(cfg.state_path)
    older = stored_schema(path)
    if 0 < older < SCHEMA_VERSION:
        logging.getLogger("tierlift.state").info(
            "migrating the state schema %s -> %s: the older file is copied to %s.schema%s.bak first (the way back:"
            " docs/upgrading.md)", older, SCHEMA_VERSION, path, older)


def older_replicas(cfg: Any) -> tuple[int, int] | None:
    """On PostgreSQL: (the database's older schema, its live replicas) while replicas of an
    older tierlift run on it (store/postgres.py older_replicas); None otherwise."""
    if not getattr(cfg, "state_url", None):
        return None
    from tierlift.service.daemon.store.postgres import older_replicas as ask

    secret = getattr(cfg, "state_password", None)
    return ask(cfg.state_url, secret.reveal() if secret is not None else None, describe(cfg))


def pg_pool(cfg: Any) -> Any:
    """The replica's PostgreSQL connection pool (state.pool_size connections), shared by its
    helpdesks' stores; timeouts as open_store sets them."""
    from tierlift.service.daemon.store.postgres import PgPool

    secret = getattr(cfg, "state_password", None)
    ttl = cfg.lease_ttl.total_seconds()
    return PgPool(cfg.state_url, password=secret.reveal() if secret is not None else None,
                  size=cfg.state_pool_size, busy_timeout=ttl / 3, idle_timeout=ttl / 3)


def nudge_listener(cfg: Any) -> Any:
    """A PostgreSQL session of its own that LISTENs for nudges forwarded to this replica's
    helpdesks (store/postgres.py NudgeListener; connects at its first wait)."""
    from tierlift.service.daemon.store.postgres import NudgeListener

    secret = getattr(cfg, "state_password", None)
    return NudgeListener(cfg.state_url, secret.reveal() if secret is not None else None)


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


def state_check(cfg: Any) -> Callable[[], None]:
    """A check that the state answers (raises StateError when it does not), for /readyz."""
    url = getattr(cfg, "state_url", None)
    if url:
        from tierlift.service.daemon.store.postgres import PostgresCheck

        secret = getattr(cfg, "state_password", None)
        return PostgresCheck(url, secret.reveal() if secret is not None else None)
    path = cfg.state_path
    uri = f"{Path(path).resolve().as_uri()}?mode=ro"  # read-only; as_uri escapes '?', '#', spaces

    def sqlite_check() -> None:
        import sqlite3

        try:
            with closing(sqlite3.connect(uri, uri=True, timeout=2.0)) as c:
                c.execute("SELECT 1 FROM meta LIMIT 1").fetchall()
        except sqlite3.Error as exc:
            raise StateUnreachable(f"state file {path}: {exc}") from None

    return sqlite_check
