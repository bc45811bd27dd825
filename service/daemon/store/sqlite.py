"""The SQLite state store: one file (WAL) with versioned migrations, for one daemon.

The queries are the interface's (base.py); this module owns the connection,
durability settings, transactions, migrations and housekeeping.

Invariants:
- An intent is durable (fsynced) before the helpdesk write it announces:
  ``record_intent`` commits with ``synchronous=FULL``.
- A process killed at any instant leaves the last committed state, nothing in
  between. Nested ``transaction()`` calls are savepoints inside the outer one.
- Times are stored as fixed-width UTC ISO 8601 text, so text order is time
  order and the file is readable with sqlite3.
- One daemon per file: the daemon holds the file's exclusive lock
  (leases.FileLock); there are no leases, so fences are never set here.
- ``check_integrity()`` refuses a damaged file (truncated, garbage inside)
  before the daemon runs on it.

Threading: a store holds one connection and is used by one thread at a time:
each helpdesk worker opens its own, and the worker pool runs a worker on one
thread at a time but not always the same one (so ``check_same_thread`` is off).
Writers in one process take turns on a lock of the file's (``writer_lock``) before
SQLite's: SQLite's own wait for a busy file is a sleep that grows to 100 ms between
looks, so with hundreds of helpdesks writing one file the lock stood free while its
waiters slept (issue 25: three quarters of the busy threads' samples during the first
syncs of 500 helpdesks were in the store, most in ``BEGIN IMMEDIATE``). Another process (``tierlift status``, a dry run's copy)
still waits SQLite's way, up to ``busy_timeout`` seconds.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import closing, contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from tierlift.service.daemon.store.base import Fence, SqlStore, StateDatabaseError, StateError
from tierlift.service.daemon.store.schema import DOWN, migrations

# The page cache of one connection, in KiB (SQLite's default is 2,000 KiB).
PAGE_CACHE_KIB = 256
# "TLFT": marks the file as ours, so a stray SQLite database is refused, not migrated.
APPLICATION_ID = 0x544C4654

# (version, statements): the one declared schema (store/schema.py), as sqlite runs it.
MIGRATIONS: list[tuple[int, tuple[str, ...]]] = migrations("sqlite")
SCHEMA_VERSION = MIGRATIONS[-1][0]

_WRITERS: dict[str, threading.RLock] = {}  # one per state file in this process (writer_lock)
_WRITERS_LOCK = threading.Lock()
_WRITES = ("INSERT", "UPDATE", "DELETE", "REPLAC")  # a statement that writes (outside a transaction)


def writer_lock(path: str) -> threading.RLock:
    """The lock the writers of one state file take turns on in this process; an in-memory
    store is private to its connection and gets a lock of its own. Re-entrant: a thread
    that writes through a second store on the same file while its first holds a
    transaction meets SQLite's busy wait and its error, as before, not a hang."""
    if path == ":memory:":
        return threading.RLock()
    key = os.path.realpath(path)
    with _WRITERS_LOCK:
        return _WRITERS.setdefault(key, threading.RLock())


class SqliteStore(SqlStore):
    """The state file of one daemon. One instance per thread; see the module docstring."""

    kind = "sqlite"
    _integrity_errors = (sqlite3.IntegrityError,)

    def __init__(self, path: str | os.PathLike[str], *, now: Callable[[], datetime] = lambda: datetime.now(UTC),
                 busy_timeout: float = 30.0, retry_base: timedelta = timedelta(minutes=1),
                 retry_cap: timedelta = timedelta(hours=1), migrate: bool = True):
        super().__init__(now=now, retry_base=retry_base, retry_cap=retry_cap)
        self.path = str(path)
        # False for the tools that only read (status, report, history, plan): an older daemon
        # may still run on the file, and a migration under it broke every one of its cycles.
        # They read a copy in memory, migrated there (`copied_from_schema` says from what).
        self._may_migrate = migrate
        self.copied_from_schema: int | None = None
        self._depth = 0
        self._memory = self.path == ":memory:"
        self._writer = writer_lock(self.path)
        self._identity: tuple[int, int] | None = None  # the opened file's: set by its first transaction
        if not self._memory:
            _check_path(Path(self.path))
            _private(self.path)
        try:
            self._conn = sqlite3.connect(self.path, isolation_level=None, timeout=busy_timeout,
                                         check_same_thread=False)
        except sqlite3.Error as exc:
            raise StateError(f"state file {self.path}: cannot open: {exc}") from exc
        try:
            # Opened in turn with the file's other writers in this process: a thread switching
            # a new file to WAL waited in SQLite's busy handler for one whose transaction, in
            # the file's first journal mode, waited for it in turn, until the timeout
            # (tests/service/test_state_writers.py).
            with self._writer:
                self._schema_version = self._open(busy_timeout)
        except BaseException as exc:
            self._conn.close()
            if isinstance(exc, sqlite3.OperationalError) and "locked" in str(exc):
                raise StateError(f"state file {self.path}: locked by another process for {busy_timeout:g}s") from exc
            if isinstance(exc, sqlite3.DatabaseError) and "malformed" in str(exc):
                raise StateError(damaged(self.path, str(exc))) from exc
            if isinstance(exc, sqlite3.OperationalError) and any(w in str(exc) for w in ("disk", "readonly", "read-only")):
                # A full or failing disk was refused as "not a tierlift state file", and the
                # README says to move such a file aside: a good state thrown away.
                raise StateError(f"state file {self.path}: cannot be written ({exc}); the file itself may be fine:"
                                 " free space or fix the disk, then start again") from exc
            if isinstance(exc, sqlite3.DatabaseError):
                raise StateError(f"state file {self.path}: is not a tierlift state file ({exc})") from exc
            raise

    def _open(self, busy_timeout: float) -> int:
        c = self._conn
        c.execute(f"PRAGMA busy_timeout = {int(busy_timeout * 1000)}")
        app_id = c.execute("PRAGMA application_id").fetchone()[0]  # reads the header: garbage fails here
        tables = {r[0] for r in c.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        if app_id not in (0, APPLICATION_ID) or (tables and "meta" not in tables):
            raise StateError(f"state file {self.path}: is not a tierlift state file")
        stored = self._stored_version()
        if not self._memory and 0 < stored < SCHEMA_VERSION:
            if not self._may_migrate:
                self._conn, self._memory, self.copied_from_schema = self._copy_in_memory(), True, stored
                c = self._conn
            else:
                self._keep_before_migrating(stored)
        # Only takes effect on a new, empty file: lets compact() hand freed pages back.
        c.execute("PRAGMA auto_vacuum = INCREMENTAL")
        mode = c.execute("PRAGMA journal_mode = WAL").fetchone()[0]
        if mode != ("memory" if self._memory else "wal"):
            raise StateError(f"state file {self.path}: cannot use WAL mode (got {mode}; a network filesystem?)")
        # WAL with synchronous=NORMAL survives a process crash but may lose the last
        # commits on power loss. An intent must be on disk before the helpdesk write it
        # announces, or a power cut would forget a landed write; FULL fsyncs the WAL on
        # every commit. Cost (tests/service/bench_state.py): one fsync per commit.
        c.execute("PRAGMA synchronous = FULL")
        c.execute("PRAGMA foreign_keys = ON")
        c.execute("PRAGMA journal_size_limit = 16777216")  # the WAL shrinks back to 16 MiB after checkpoints
        c.execute("PRAGMA temp_store = MEMORY")
        # Each helpdesk's worker has its own connection: SQLite's default 2 MiB page cache
        # each came to 1.4 MB resident per helpdesk (394 -> 252 MB at 100 helpdesks capped).
        c.execute(f"PRAGMA cache_size = -{PAGE_CACHE_KIB}")
        return self._migrate()

    def _copy_in_memory(self) -> sqlite3.Connection:
        """The file's committed state in a private in-memory database (the file untouched)."""
        copy = sqlite3.connect(":memory:", isolation_level=None, check_same_thread=False)
        self._conn.backup(copy)
        self._conn.close()
        return copy

    def _keep_before_migrating(self, stored: int) -> None:
        """A copy of a file an older tierlift wrote, beside it, before this one migrates it:
        going back to the older release needs the older schema (it refuses a newer one). Made
        at every migration: the file is at the older schema until the migration commits, so it
        is the older release's latest state. Kept from the first upgrade, the copy was days old
        at an upgrade after going back, and going back with it again lost what the older release
        journaled meanwhile (QA, an SRE)."""
        keep = f"{self.path}.schema{stored}.bak"
        partial = keep + ".partial"  # a start killed while copying leaves no half copy under the name
        _private(partial)
        target = sqlite3.connect(partial)
        try:
            self._conn.backup(target)
        finally:
            target.close()
        os.replace(partial, keep)

    def _migrate(self) -> int:
        with self.transaction():
            current = self._stored_version()
            if current > SCHEMA_VERSION:
                raise StateError(f"state file {self.path}: was written by a newer tierlift"
                                 f" (schema {current} > {SCHEMA_VERSION}); to go back to this release, stop"
                                 " its daemon and run the newer release's `tierlift downgrade` (docs/upgrading.md)")
            for version, statements in MIGRATIONS:
                if version <= current:
                    continue
                for sql in statements:
                    self._conn.execute(sql)
                self._conn.execute("INSERT OR REPLACE INTO meta (key, value) VALUES ('schema_version', ?)",
                                   (str(version),))
                self._conn.execute(f"PRAGMA application_id = {APPLICATION_ID}")
                current = version
        return current

    def step_down(self) -> int:
        """The file back at the previous release's schema (schema.DOWN), in one transaction:
        what this release journaled stays for the older one. The schema it is at now."""
        with self.transaction():
            current = self._stored_version()
            if current != SCHEMA_VERSION or current not in DOWN or self.copied_from_schema is not None:
                raise StateError(f"state file {self.path}: is at schema {self.copied_from_schema or current}; this"
                                 f" tierlift takes schema {SCHEMA_VERSION} back to {SCHEMA_VERSION - 1} only")
            for sql in DOWN[current][1]:
                self._conn.execute(sql)
            self._conn.execute("UPDATE meta SET value = ? WHERE key = 'schema_version'", (str(current - 1),))
        return current - 1

    def _stored_version(self) -> int:
        if not self._conn.execute("SELECT 1 FROM sqlite_master WHERE name = 'meta'").fetchone():
            return 0
        row = self._conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
        return int(row[0]) if row else 0

    def close(self) -> None:
        self._conn.close()

    def check_integrity(self) -> None:
        """Refuse a damaged file: a half-truncated one or garbage in its middle.

        quick_check reads every page (O(file size), about a second per GB): run
        once at start, not per cycle.
        """
        try:
            rows = [r[0] for r in self._conn.execute("PRAGMA quick_check(5)")]
        except sqlite3.DatabaseError as exc:
            rows = [str(exc)]
        if rows != ["ok"]:
            raise StateError(damaged(self.path, "; ".join(rows)))

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """BEGIN IMMEDIATE ... COMMIT, or ROLLBACK on any exception (also KeyboardInterrupt).

        A nested call is a savepoint: it commits with the outer transaction, and
        an exception inside it undoes only its own part before propagating.
        """
        if self._depth:
            name = f"s{self._depth}"
            self._conn.execute(f"SAVEPOINT {name}")
            self._depth += 1
            try:
                yield
            except BaseException:
                self._depth -= 1
                if self._conn.in_transaction:
                    self._conn.execute(f"ROLLBACK TO {name}")
                    self._conn.execute(f"RELEASE {name}")
                raise
            self._depth -= 1
            self._conn.execute(f"RELEASE {name}")
            return
        with self._writer:  # this process's writers take turns here, not in SQLite's sleeps
            self._still_there()
            self._bound("BEGIN IMMEDIATE")  # take the write lock now, not at the first write
            self._depth = 1
            try:
                yield
                self._depth = 0
                self._bound("COMMIT")
            except BaseException:
                self._depth = 0
                if self._conn.in_transaction:  # SQLite may have rolled back already (e.g. disk full)
                    try:
                        self._conn.execute("ROLLBACK")
                    except sqlite3.DatabaseError:
                        pass  # the failure that brought us here is the one to tell
                raise

    def _still_there(self) -> None:
        """The file at the path is still the one opened. A file deleted (or replaced) while
        the daemon runs keeps taking commits on the open, unlinked one: every intent and
        cursor would vanish at the next start, and the cycle would write to the helpdesk
        with its journal lost. One stat a transaction."""
        if self._memory:
            return
        at_path = _identity(self.path)
        if self._identity is None:
            self._identity = at_path
        if at_path is not None and at_path == self._identity:
            return
        raise StateDatabaseError(f"state file {self.path}: was deleted or replaced while the daemon ran; nothing"
                                 " more is written to the helpdesk until the daemon is restarted. A restart without"
                                 " the file starts a new state: while this process runs, a deleted file can be"
                                 f" copied back from /proc/{os.getpid()}/fd")

    def _bound(self, sql: str) -> None:
        """A transaction's own statement. Its failure is the state file's: a disk full or
        failing at COMMIT was an OperationalError the worker took for the helpdesk's ("cycle
        failed: disk I/O error ... answering again" while the helpdesk never failed)."""
        try:
            self._conn.execute(sql)
        except sqlite3.DatabaseError as exc:
            raise StateDatabaseError(f"state file {self.path}: database error: {exc}") from exc

    def _x(self, sql: str, params: Sequence[Any] = ()) -> sqlite3.Cursor:
        try:
            if not self._depth and sql.lstrip()[:6].upper() in _WRITES:
                with self._writer:  # a write on its own is a transaction of its own
                    return self._conn.execute(sql, params)
            return self._conn.execute(sql, params)
        except sqlite3.IntegrityError:
            raise
        except sqlite3.DatabaseError as exc:
            raise StateDatabaseError(f"state file {self.path}: database error: {exc}") from exc

    def _many(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        try:
            if self._depth:
                self._conn.executemany(sql, rows)
            else:
                with self._writer:
                    self._conn.executemany(sql, rows)
        except sqlite3.DatabaseError as exc:
            raise StateDatabaseError(f"state file {self.path}: database error: {exc}") from exc

    def _stream(self, sql: str, params: Sequence[Any], make: Callable[[Sequence[Any]], Any]) -> Iterator[Any]:
        cur = self._conn.cursor()
        cur.execute(sql, params)
        try:
            while rows := cur.fetchmany(1000):
                yield from (make(r) for r in rows)
        finally:
            cur.close()

    def _check_fence(self, fence: Fence, need: float) -> None:
        raise StateError("the SQLite store has no leases: one daemon holds the file's lock")

    def _housekeep(self) -> None:
        self._x("PRAGMA incremental_vacuum").fetchall()  # step it to the end, or it frees one page

    def _after_compact(self) -> None:
        if not self._memory:
            with self._writer:  # a checkpoint that truncates waits for every writer
                self._x("PRAGMA wal_checkpoint(TRUNCATE)").fetchall()

    def _erasing(self) -> None:
        self._x("PRAGMA secure_delete = ON")  # the deleted rows' pages are overwritten, not left free

    def _storage(self) -> dict[str, Any]:
        page_size = self._x("PRAGMA page_size").fetchone()[0]
        pages = self._x("PRAGMA page_count").fetchone()[0]
        free = self._x("PRAGMA freelist_count").fetchone()[0]
        if self._memory:
            size = pages * page_size
        else:
            size = sum(os.path.getsize(p) for p in (self.path, self.path + "-wal") if os.path.exists(p))
        return {"file_bytes": size, "pages": pages, "free_pages": free}


def _private(path: str) -> None:
    """Create the file for its owner only (0600), whatever the umask: the state holds the
    tickets' text and the requesters' addresses (docs/privacy.md, "What the state keeps").
    SQLite gives its -wal and -shm files the database file's mode. An existing file is left
    as its owner set it; a place where it cannot be made is sqlite3.connect's to tell, in
    its own words."""
    with contextlib.suppress(OSError):  # FileExistsError among them
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))


def _identity(path: str) -> tuple[int, int] | None:
    """The (device, inode) of the file at `path`, None for none (or for an in-memory state)."""
    if path == ":memory:":
        return None
    try:
        st = os.stat(path)
    except OSError:
        return None
    return st.st_dev, st.st_ino


def _check_path(path: Path) -> None:
    where = f"state file {path}"
    parent = path.parent
    if not parent.exists():
        raise StateError(f"{where}: directory {parent} does not exist")
    if not parent.is_dir():
        raise StateError(f"{where}: {parent} is not a directory")
    if path.is_dir():
        raise StateError(f"{where}: is a directory")
    # WAL mode creates -wal and -shm files next to the database.
    if not os.access(parent, os.W_OK | os.X_OK):
        raise StateError(f"{where}: directory {parent} is not writable")
    if path.exists():
        if not os.access(path, os.R_OK):
            raise StateError(f"{where}: not readable")
        if not os.access(path, os.W_OK):
            raise StateError(f"{where}: not writable")


def damaged(path: str, detail: str) -> str:
    return (f"state file {path}: is damaged ({detail[:200]}); move it aside (mv {path} {path}.damaged)"
            " and start again: the daemon rebuilds it from the helpdesk")


def stored_schema(path: Path) -> int:
    """The schema of the state file at `path`, read only; 0 where there is none to read (no
    file, not a state file: opening it says why)."""
    if not path.is_file():
        return 0
    try:
        with closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as c:
            row = c.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
    except sqlite3.Error:
        return 0
    return int(row[0]) if row and str(row[0]).isdigit() else 0
