"""The PostgreSQL state store: one database that any number of replicas share.

The queries are the interface's (base.py, ``?`` turned into ``%s`` here);
this module owns the connection, migrations, the leases and fencing.

DESIGN (leases): a lease table, not advisory locks. One row per helpdesk:
holder (replica id "host:pid:nonce"), host, pid, epoch, expires_at, released.
- Times are the database's (``clock_timestamp()``), so replicas' clocks
  never disagree about who holds what.
- Acquiring bumps the epoch; renewing extends ``expires_at`` only while the
  lease is unexpired and still ours at that epoch; a stale holder can never
  renew its way back (it must acquire, which bumps the epoch again).
- Fencing: a fenced write's transaction first runs ``SELECT ... FOR SHARE`` on
  the lease row for (holder, epoch, unexpired with the margin left). A
  competing acquire (an UPDATE of that row) waits for the fenced transaction
  to commit, and a fenced transaction after a takeover finds no row and
  raises LeaseLost: the journal of a helpdesk only ever moves under its
  current epoch.
- Advisory locks were rejected: they live as long as a session, so a paused
  (SIGSTOP) holder keeps them while its TCP session stays up, and they carry
  no epoch to fence a late write with.
- Migrations and compaction each run under one transaction-level advisory
  lock, so replicas starting together migrate once and compact one at a time.

Connection loss (a database restart): the connection is reopened at the next
statement outside a transaction; inside one, the error propagates as
StateDatabaseError and the transaction is gone with the old session.
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

from tierlift.service.daemon.store.base import (
    Fence,
    LeaseLost,
    SqlStore,
    StateDatabaseError,
    StateError,
    StateUnreachable,
)
from tierlift.service.daemon.store.schema import DOWN, migrations
from tierlift.service.ops.redact import mask_url_password

try:
    import psycopg
    from psycopg import errors as pg_errors
    from psycopg.pq import TransactionStatus

    TRANSACTION_IDLE = TransactionStatus.IDLE
except ImportError:  # the optional extra: pip install 'tierlift[postgres]'
    psycopg = None  # type: ignore[assignment]
    pg_errors = None  # type: ignore[assignment]

# Keys of the transaction-level advisory locks ("TLFT" and one more byte).
LOCK_MIGRATE = 0x544C465401
LOCK_COMPACT = 0x544C465402
# The channel a replica NOTIFYs when it wrote a nudge row for a helpdesk (the payload: its name).
NUDGE_CHANNEL = "tierlift_nudges"

# (version, statements): the one declared schema (store/schema.py), as postgresql runs it.
MIGRATIONS: list[tuple[int, tuple[str, ...]]] = migrations("postgresql")
SCHEMA_VERSION = MIGRATIONS[-1][0]


def safe_url(url: str) -> str:
    """The URL with any password cut out, in its user part (to the last '@'), its query or a
    key=value DSN: for logs and messages (ops/redact.py masks every form the same way)."""
    return mask_url_password(url)


def connect(url: str, password: str | None, connect_timeout: float, busy_timeout: float,
            idle_timeout: float | None, path: str) -> Any:
    """One session to the state database, set up as the stores need it."""
    kw: dict[str, Any] = {"autocommit": True, "connect_timeout": max(1, int(connect_timeout)),
                          "application_name": "tierlift"}
    if password:
        kw["password"] = password
    try:
        conn = psycopg.connect(url, **kw)
        # A lock held by a stalled replica must not stall this one for ever.
        conn.execute(f"SET lock_timeout = '{int(busy_timeout * 1000)}ms'")
        if idle_timeout:
            # A replica paused (SIGSTOP) inside a transaction holds its lease row FOR SHARE:
            # the server ends that session after this long, so the takeover need not wait for
            # the pause to end. Our transactions never wait on the helpdesk, so a live
            # replica is never idle in one for long.
            conn.execute(f"SET idle_in_transaction_session_timeout = '{int(idle_timeout * 1000)}ms'")
    except psycopg.Error as exc:
        kind = StateError if _misconfigured(exc) else StateUnreachable
        raise kind(f"state database {path}: cannot connect: {_first_line(exc)}") from exc
    return conn


def older_replicas(url: str, password: str | None, path: str, connect_timeout: float = 10.0) -> tuple[int, int] | None:
    """(the database's schema, its live replicas) while the database is at an older schema
    than this tierlift's and replicas beat on it: an older release still running. Migrating
    under it broke every one of its cycles ("column dry_run does not exist") while it kept its
    leases and answered ready (upgrade QA). None when there is nothing to wait for."""
    conn = connect(url, password, connect_timeout, connect_timeout, None, path)
    try:
        if conn.execute("SELECT to_regclass('meta')").fetchone()[0] is None:
            return None
        row = conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
        current = int(row[0]) if row else 0
        if not 0 < current < SCHEMA_VERSION:
            return None
        live = int(conn.execute("SELECT COUNT(*) FROM replicas WHERE expires_at > clock_timestamp()").fetchone()[0])
        return (current, live) if live else None
    except psycopg.Error as exc:
        raise StateUnreachable(f"state database {path}: {_first_line(exc)}") from exc
    finally:
        conn.close()


class PgPool:
    """The connections one replica's helpdesk stores share (state.pool_size): a store holds one
    for a transaction or a statement, never for its life. 300 helpdesks with a connection each
    met PostgreSQL's "too many clients" at start (issue 25); the leases and the readiness probe
    keep a connection of their own, so a busy pool never delays a lease renewal."""

    def __init__(self, url: str, *, password: str | None = None, size: int = 10, connect_timeout: float = 10.0,
                 busy_timeout: float = 30.0, idle_timeout: float | None = None, wait: float = 30.0):
        self.url, self.path, self.size, self.wait = url, safe_url(url), size, wait
        self._args = (password or os.environ.get("PGPASSWORD") or None, connect_timeout, busy_timeout, idle_timeout)
        self._free: list[Any] = []
        self._made = 0
        self._cond = threading.Condition()

    def get(self) -> Any:
        with self._cond:
            while True:
                while self._free:
                    conn = self._free.pop()
                    if not (conn.closed or conn.broken):
                        return conn
                    self._made -= 1
                if self._made < self.size:
                    self._made += 1
                    break
                if not self._cond.wait(timeout=self.wait):
                    raise StateDatabaseError(f"state database {self.path}: all {self.size} pooled connections"
                                             f" busy for {self.wait:g}s (state.pool_size)")
        try:
            return connect(self.url, *self._args, self.path)
        except StateError as exc:
            with self._cond:
                self._made -= 1
                self._cond.notify()
            raise StateDatabaseError(str(exc)) from exc

    def drop_idle(self) -> None:
        """Close the connections waiting in the pool (after a database outage: the server that
        came back has ended them); the next `get` makes new ones."""
        with self._cond:
            idle, self._free = self._free, []
            self._made -= len(idle)
            self._cond.notify_all()
        for conn in idle:
            _close_quietly(conn)

    def put(self, conn: Any) -> None:
        with self._cond:
            if conn.closed or conn.broken or conn.info.transaction_status != TRANSACTION_IDLE:
                self._made -= 1
                if not conn.closed:
                    conn.close()
            else:
                self._free.append(conn)
            self._cond.notify()

    def in_use(self) -> int:
        with self._cond:
            return self._made - len(self._free)

    def close(self) -> None:
        with self._cond:
            free, self._free = self._free, []
            self._made -= len(free)
        for conn in free:
            conn.close()


class PostgresStore(SqlStore):
    """One connection to the shared database. One instance per thread."""

    kind = "postgres"

    def __init__(self, url: str, *, password: str | None = None,
                 now: Callable[[], datetime] = lambda: datetime.now(UTC), busy_timeout: float = 30.0,
                 retry_base: timedelta = timedelta(minutes=1), retry_cap: timedelta = timedelta(hours=1),
                 connect_timeout: float = 10.0, idle_timeout: float | None = None, pool: PgPool | None = None,
                 migrate: bool = True):
        super().__init__(now=now, retry_base=retry_base, retry_cap=retry_cap)
        # False for the tools that only read: older replicas may still run on the database.
        self._may_migrate = migrate
        if psycopg is None:
            raise StateError("state.url needs psycopg: pip install 'tierlift[postgres]'")
        self.url = url
        self.path = safe_url(url)  # what messages name
        self._password = password or os.environ.get("PGPASSWORD") or None
        self._connect_timeout = connect_timeout
        self._busy_timeout = busy_timeout
        self._idle_timeout = idle_timeout
        self._integrity_errors = (pg_errors.IntegrityError,)
        self._conn: Any = None
        self._depth = 0
        # With a pool, a connection is held for one transaction or statement, not for the
        # store's life: 500 helpdesks share the replica's few connections.
        self._pool = pool
        if pool is None:
            self._conn = self._connect()
        self._schema_version = self._migrate()

    def _connect(self) -> Any:
        return connect(self.url, self._password, self._connect_timeout, self._busy_timeout, self._idle_timeout,
                       self.path)

    @contextmanager
    def _held(self) -> Iterator[None]:
        """A pooled store's connection for the statement or transaction in hand."""
        if self._pool is None or self._conn is not None:
            yield
            return
        self._conn = self._pool.get()
        try:
            yield
        finally:
            conn, self._conn = self._conn, None
            self._pool.put(conn)

    def _ready(self) -> None:
        """Reconnect after a lost session (a database restart), outside transactions only."""
        if self._pool is not None:
            return  # the pool hands out live connections
        if self._depth == 0 and (self._conn is None or self._conn.closed or self._conn.broken):
            if self._conn is not None:
                self._conn.close()
            try:
                self._conn = self._connect()
            except StateError as exc:
                raise StateDatabaseError(str(exc)) from exc

    def _migrate(self) -> int:
        with self.transaction():
            self._x("SELECT pg_advisory_xact_lock(?)", (LOCK_MIGRATE,))
            current = 0
            if self._x("SELECT to_regclass('meta')").fetchone()[0] is not None:
                row = self._x("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
                current = int(row[0]) if row else 0
            elif self._x("SELECT COUNT(*) FROM pg_tables WHERE schemaname = current_schema()").fetchone()[0]:
                raise StateError(f"state database {self.path}: has tables but is not a tierlift state database")
            if current > SCHEMA_VERSION:
                raise StateError(f"state database {self.path}: was written by a newer tierlift"
                                 f" (schema {current} > {SCHEMA_VERSION}); to go back to this release, stop"
                                 " its daemon and run the newer release's `tierlift downgrade` (docs/upgrading.md)")
            if 0 < current < SCHEMA_VERSION and not self._may_migrate:
                raise StateError(f"state database {self.path}: is at schema {current}, an older tierlift's; tools"
                                 f" do not migrate it to {SCHEMA_VERSION} under replicas that"
                                 " may still run: this version's daemon migrates it when it starts (docs/upgrading.md)")
            for version, statements in MIGRATIONS:
                if version <= current:
                    continue
                for sql in statements:
                    self._x(sql)
                self._x("INSERT INTO meta (key, value) VALUES ('schema_version', ?)"
                        " ON CONFLICT (key) DO UPDATE SET value = excluded.value", (str(version),))
                current = version
        return current

    def step_down(self) -> int:
        """The database back at the previous release's schema (schema.DOWN), in one transaction
        under the migration lock, refused while a replica lives. The schema it is at now."""
        with self.transaction():
            self._x("SELECT pg_advisory_xact_lock(?)", (LOCK_MIGRATE,))
            row = self._x("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
            current = int(row[0]) if row else 0
            if current != SCHEMA_VERSION or current not in DOWN:
                raise StateError(f"state database {self.path}: is at schema {current}; this tierlift takes schema"
                                 f" {SCHEMA_VERSION} back to {SCHEMA_VERSION - 1} only")
            live = int(self._x("SELECT COUNT(*) FROM replicas WHERE expires_at > clock_timestamp()").fetchone()[0])
            if live:
                raise StateError(f"state database {self.path}: {live} replica(s) still run on it; stop every"
                                 " replica first")
            for sql in DOWN[current][1]:
                self._x(sql)
            self._x("UPDATE meta SET value = ? WHERE key = 'schema_version'", (str(current - 1),))
        return current - 1

    def close(self) -> None:
        if self._conn is not None and self._pool is None:
            self._conn.close()

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """BEGIN ... COMMIT, or ROLLBACK on any exception; nested calls are savepoints (psycopg's own)."""
        self._ready()
        with self._held():
            self._depth += 1
            try:
                with self._conn.transaction():
                    yield
            except psycopg.Error as exc:
                if isinstance(exc, pg_errors.IntegrityError):
                    raise
                raise StateDatabaseError(f"state database {self.path}: database error: {_first_line(exc)}") from exc
            finally:
                self._depth -= 1

    def _x(self, sql: str, params: Sequence[Any] = ()) -> Any:
        self._ready()
        # A client-side cursor holds its rows: they are read after the connection went back.
        with self._held():
            try:
                return self._conn.execute(sql.replace("?", "%s"), tuple(params))
            except pg_errors.IntegrityError:
                raise
            except psycopg.Error as exc:
                raise StateDatabaseError(f"state database {self.path}: database error: {_first_line(exc)}") from exc

    def _many(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        self._ready()
        with self._held():
            try:
                with self._conn.cursor() as cur:
                    cur.executemany(sql.replace("?", "%s"), rows)
            except psycopg.Error as exc:
                raise StateDatabaseError(f"state database {self.path}: database error: {_first_line(exc)}") from exc

    def _stream(self, sql: str, params: Sequence[Any], make: Callable[[Sequence[Any]], Any]) -> Iterator[Any]:
        cur = self._x(sql, params)
        try:
            while rows := cur.fetchmany(1000):
                yield from (make(r) for r in rows)
        finally:
            cur.close()

    def _compaction_lock(self) -> bool:
        return bool(self._x("SELECT pg_try_advisory_xact_lock(?)", (LOCK_COMPACT,)).fetchone()[0])

    def _storage(self) -> dict[str, Any]:
        size = self._x("SELECT pg_database_size(current_database())").fetchone()[0]
        return {"file_bytes": size, "pages": 0, "free_pages": 0}

    # --- fencing and leases ------------------------------------------------------------------
    def _check_fence(self, fence: Fence, need: float) -> None:
        row = self._x("SELECT 1 FROM leases WHERE helpdesk = ? AND holder = ? AND epoch = ? AND NOT released"
                      " AND expires_at > clock_timestamp() + make_interval(secs => ?) FOR SHARE",
                      (fence.helpdesk, fence.holder, fence.epoch, float(need))).fetchone()
        if row is None:
            raise LeaseLost(f"helpdesk {fence.helpdesk}: lease epoch {fence.epoch} lost"
                            + (f" or under {need:g}s of it left" if need else ""))

    def lease_acquire(self, helpdesk: str, holder: str, host: str, pid: int, ttl: float, *,
                      take_released: bool, take_orphaned: bool, grace: float | None = None) -> tuple[int, float] | None:
        """Take the helpdesk's lease if free: (epoch, seconds until it expires) or None.

        take_released: a lease its holder handed over; take_orphaned: one whose
        holder stopped renewing (dead or stalled), or one handed over more than
        `grace` seconds ago that nobody under its share took (its intended taker
        died; None: never). The caller decides from its share.
        """
        grace = 1e9 if grace is None else grace  # None: a handed-over lease never counts as orphaned
        with self.transaction():
            self._x("INSERT INTO leases VALUES (?, '', '', 0, 0, clock_timestamp(), true, clock_timestamp())"
                    " ON CONFLICT (helpdesk) DO NOTHING", (helpdesk,))
            row = self._x(
                "UPDATE leases SET holder = ?, host = ?, pid = ?, epoch = epoch + 1, released = false,"
                " expires_at = clock_timestamp() + make_interval(secs => ?), acquired_at = clock_timestamp()"
                " WHERE helpdesk = ? AND ((released AND ?) OR (expires_at <= clock_timestamp()"
                " - make_interval(secs => CASE WHEN released THEN ? ELSE 0 END) AND ?))"
                " RETURNING epoch, EXTRACT(EPOCH FROM expires_at - clock_timestamp())",
                (holder, host, pid, float(ttl), helpdesk, take_released, float(grace), take_orphaned)).fetchone()
            if row is None:
                return None
            self._x("INSERT INTO lease_history SELECT helpdesk, epoch, holder, host, pid, acquired_at FROM leases"
                    " WHERE helpdesk = ?", (helpdesk,))
            return int(row[0]), float(row[1])

    def lease_renew(self, holder: str, held: Mapping[str, int], ttl: float) -> dict[str, float]:
        """Extend every unexpired lease we hold at its epoch (`held`: helpdesk -> epoch), in one
        statement: {helpdesk: seconds left}; a helpdesk missing from the answer is lost.

        One statement, not one per lease: a replica holding 250 helpdesks renewed them one
        round trip at a time, each waiting for the interpreter among 500 busy threads, and
        the last of them lapsed before the loop reached them (tests/bench/replicas.py)."""
        if not held:
            return {}
        names = list(held)
        rows = self._x("UPDATE leases SET expires_at = clock_timestamp() + make_interval(secs => ?)"
                       " FROM unnest(?::text[], ?::bigint[]) AS mine(helpdesk, epoch)"
                       " WHERE leases.helpdesk = mine.helpdesk AND leases.epoch = mine.epoch AND leases.holder = ?"
                       " AND NOT leases.released AND leases.expires_at > clock_timestamp()"
                       " RETURNING leases.helpdesk, EXTRACT(EPOCH FROM leases.expires_at - clock_timestamp())",
                       (float(ttl), names, [held[h] for h in names], holder)).fetchall()
        return {str(h): float(left) for h, left in rows}

    def lease_release(self, helpdesk: str, holder: str, epoch: int) -> None:
        """Hand the lease over now (between cycles, or on a clean stop)."""
        self._x("UPDATE leases SET released = true, expires_at = clock_timestamp()"
                " WHERE helpdesk = ? AND holder = ? AND epoch = ?", (helpdesk, holder, epoch))

    def replica_beat(self, holder: str, host: str, pid: int, ttl: float) -> int:
        """Say this replica is alive for ttl seconds; returns the number of live replicas."""
        with self.transaction():
            self._x("INSERT INTO replicas VALUES (?, ?, ?, clock_timestamp(), clock_timestamp()"
                    " + make_interval(secs => ?)) ON CONFLICT (holder) DO UPDATE"
                    " SET seen_at = excluded.seen_at, expires_at = excluded.expires_at",
                    (holder, host, pid, float(ttl)))
            self._x("DELETE FROM replicas WHERE expires_at < clock_timestamp() - interval '1 hour'")
            return int(self._x("SELECT COUNT(*) FROM replicas WHERE expires_at > clock_timestamp()").fetchone()[0])

    def replica_gone(self, holder: str) -> None:
        self._x("DELETE FROM replicas WHERE holder = ?", (holder,))

    def leases(self) -> list[dict[str, Any]]:
        rows = self._x("SELECT helpdesk, holder, host, pid, epoch, expires_at, released,"
                       " expires_at > clock_timestamp() AND NOT released FROM leases ORDER BY helpdesk").fetchall()
        return [{"helpdesk": r[0], "holder": r[1], "host": r[2], "pid": r[3], "epoch": r[4],
                 "expires_at": r[5], "released": r[6], "live": r[7]} for r in rows]

    # --- nudges: webhooks forwarded to the lease holder (service/daemon/relay.py) -------------
    def nudges_forward(self, rows: Sequence[tuple[str, str, str]], replica: str) -> list[bool]:
        """Write (helpdesk, delivery, ticket) rows for the holders and NOTIFY them at the commit.
        Per row, whether it was new (a delivery already written, by any replica, is not again)."""
        new = []
        with self.transaction():
            for helpdesk, delivery, ticket in rows:
                cur = self._x("INSERT INTO nudges (helpdesk, delivery, ticket_id, received_at, replica)"
                              " VALUES (?, ?, ?, clock_timestamp(), ?) ON CONFLICT DO NOTHING",
                              (helpdesk, delivery, ticket, replica))
                new.append(cur.rowcount == 1)
            for helpdesk in sorted({r[0] for r in rows}):
                self._x("SELECT pg_notify(?, ?)", (NUDGE_CHANNEL, helpdesk))
        return new

    def nudges_waiting(self, helpdesk: str, limit: int = 10_000) -> list[tuple[str, str]]:
        """(delivery, ticket) of the helpdesk's rows not yet acted on, oldest first."""
        rows = self._x("SELECT delivery, ticket_id FROM nudges WHERE helpdesk = ? AND done_at IS NULL"
                       " ORDER BY received_at LIMIT ?", (helpdesk, limit)).fetchall()
        return [(r[0], r[1]) for r in rows]

    def nudges_done(self, helpdesk: str, deliveries: Sequence[str]) -> int:
        """Mark rows acted on (kept until pruned: a late duplicate of the delivery is still known)."""
        if not deliveries:
            return 0
        cur = self._x("UPDATE nudges SET done_at = clock_timestamp() WHERE helpdesk = ? AND delivery = ANY(?)"
                      " AND done_at IS NULL", (helpdesk, list(deliveries)))
        return int(cur.rowcount)

    def nudges_prune(self, older_than: float) -> int:
        """Delete rows received more than `older_than` seconds ago, acted on or not (the poll has
        read those changes long since)."""
        cur = self._x("DELETE FROM nudges WHERE received_at < clock_timestamp() - make_interval(secs => ?)",
                      (float(older_than),))
        return int(cur.rowcount)

    def lease_history(self) -> list[dict[str, Any]]:
        """Every acquisition: helpdesk, epoch, holder, host, pid, acquired_at (for the chaos suite)."""
        rows = self._x("SELECT helpdesk, epoch, holder, host, pid, acquired_at FROM lease_history"
                       " ORDER BY acquired_at, helpdesk").fetchall()
        return [dict(zip(("helpdesk", "epoch", "holder", "host", "pid", "acquired_at"), r, strict=True))
                for r in rows]


# What no wait mends: the configuration names a role, database or password the server refuses.
_CONFIG_PROBLEMS = ("password authentication failed", "no pg_hba.conf entry", "does not exist",
                    "invalid dsn", "invalid connection option", "invalid integer value", "invalid sslmode")


def _misconfigured(exc: BaseException) -> bool:
    text = str(exc).lower()
    return any(p in text for p in _CONFIG_PROBLEMS)


class PostgresCheck:
    """Whether the state database answers and takes writes, for /readyz: one connection of
    its own (a probe must not wait behind the workers' transactions). Raises StateError."""

    def __init__(self, url: str, password: str | None = None, timeout: float = 3.0):
        self.url, self.path, self._password, self._timeout = url, safe_url(url), password, timeout
        self._conn: Any = None

    def __call__(self) -> None:
        if psycopg is None:
            raise StateError("state.url needs psycopg")
        try:
            if self._conn is None or self._conn.closed or self._conn.broken:
                kw: dict[str, Any] = {"autocommit": True, "connect_timeout": max(1, int(self._timeout)),
                                      "application_name": "tierlift-probe"}
                if self._password:
                    kw["password"] = self._password
                self._conn = psycopg.connect(self.url, **kw)
                self._conn.execute(f"SET statement_timeout = '{int(self._timeout * 1000)}ms'")
            read_only = self._conn.execute("SHOW transaction_read_only").fetchone()[0]
        except psycopg.Error as exc:
            self.close()
            raise StateUnreachable(f"state database {self.path}: {_first_line(exc)}") from None
        if read_only == "on":
            raise StateUnreachable(f"state database {self.path}: read-only (writes would fail)")

    def close(self) -> None:
        conn, self._conn = self._conn, None
        _close_quietly(conn)


class NudgeListener:
    """A session of its own, in autocommit, that LISTENs on NUDGE_CHANNEL for the lease holder.

    `wait(timeout)` returns the helpdesks named by NOTIFY since the last call ([] after
    `timeout` seconds of quiet), or None right after a (re)connection: notifications sent
    while no session listened are lost, so the caller then looks at the rows themselves.
    A lost session raises StateDatabaseError once; the next call reconnects.
    """

    def __init__(self, url: str, password: str | None = None, connect_timeout: float = 10.0):
        self.url, self.path, self._password, self._timeout = url, safe_url(url), password, connect_timeout
        self._conn: Any = None
        self._named: list[str] = []

    def wait(self, timeout: float) -> list[str] | None:
        import select

        if self._conn is None or self._conn.closed or self._conn.broken:
            self._open()
            return None
        try:
            if not self._named:
                ready, _, _ = select.select([self._conn.fileno()], [], [], max(0.0, timeout))
                if ready:
                    self._conn.execute("SELECT 1")  # reads what arrived; the handler collects it
        except (psycopg.Error, OSError, ValueError) as exc:
            self.close()
            raise StateDatabaseError(f"state database {self.path}: listening for nudges: {_first_line(exc)}") from None
        named, self._named = self._named, []
        return list(dict.fromkeys(named))

    def _open(self) -> None:
        self.close()
        conn = connect(self.url, self._password, self._timeout, 5.0, None, self.path)
        conn.add_notify_handler(lambda n: self._named.append(n.payload))
        try:
            conn.execute(f"LISTEN {NUDGE_CHANNEL}")
        except psycopg.Error as exc:
            conn.close()
            raise StateDatabaseError(f"state database {self.path}: LISTEN: {_first_line(exc)}") from None
        self._conn = conn

    def close(self) -> None:
        conn, self._conn = self._conn, None
        _close_quietly(conn)


def _close_quietly(conn: Any) -> None:
    """Close a session that may be broken already (closing it is all that is left to do)."""
    if conn is not None:
        with contextlib.suppress(psycopg.Error):
            conn.close()


def _first_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [exc.__class__.__name__])[0]
