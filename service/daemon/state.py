"""The daemon's state: one SQLite file (WAL) with versioned migrations.

It holds per-helpdesk cursors, the index of tickets with their next wake-up,
the intent journal (escalations and their notifications) and the quarantine.
The helpdesk stays the source of truth: losing this file costs a resync,
never a duplicate write, because every write carries its escalation id in a
note marker that recovery looks for (DESIGN.md, "State and exactly-once
effects").

Invariants:
- An intent is durable (fsynced) before the helpdesk write it announces:
  ``record_intent`` commits with ``synchronous=FULL``.
- A ``pending`` real intent means "the write may or may not have landed";
  only recovery settles it, and compaction never deletes it.
- ``record_intent`` returns True exactly when the caller now owns the write:
  a new intent, or one re-armed from ``failed``/``dropped`` back to
  ``pending`` (so a retried write is covered by recovery like the first).
- Multi-statement changes run in one transaction (``transaction()``); a
  process killed at any instant leaves the last committed state, nothing in
  between. Nested ``transaction()`` calls are savepoints inside the outer one.
- Dry-run intents share the table but never the key: (helpdesk,
  escalation_id, dry_run) is the primary key, and ``unfinished`` and
  ``ledger`` read real intents only.
- Times are aware datetimes in and out, stored as fixed-width UTC ISO 8601
  text, so text order is time order and the file is readable with sqlite3.

Threading: a store holds one connection and is used by one thread (the
sqlite3 default ``check_same_thread``); each helpdesk worker opens its own.
Writers on different connections serialize on ``BEGIN IMMEDIATE`` and wait up
to ``busy_timeout`` seconds.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from tierlift.engine.model import TierMove

# "TLFT": marks the file as ours, so a stray SQLite database is refused, not migrated.
APPLICATION_ID = 0x544C4654
CLOSED = ("solved", "closed")
INTENT_STATUSES = ("pending", "done", "dropped", "failed")

# (version, statements). Append only; never edit a released step. Statements
# run one by one inside the migration's transaction (executescript would
# commit first, and a crash mid-migration must leave the old schema intact).
MIGRATIONS: list[tuple[int, tuple[str, ...]]] = [
    (1, (
        "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
        "CREATE TABLE cursors (helpdesk TEXT PRIMARY KEY, cursor TEXT NOT NULL, updated_at TEXT NOT NULL)",
        """CREATE TABLE tickets (
            helpdesk TEXT NOT NULL, ticket_id TEXT NOT NULL, version TEXT NOT NULL,
            tier INTEGER NOT NULL, status TEXT NOT NULL, wake_up TEXT, snapshot TEXT NOT NULL,
            created_at TEXT NOT NULL, updated_at TEXT NOT NULL, plan TEXT, group_name TEXT,
            first_reply_at TEXT, solved_at TEXT,
            PRIMARY KEY (helpdesk, ticket_id))""",
        "CREATE INDEX tickets_wake_up ON tickets (helpdesk, wake_up) WHERE wake_up IS NOT NULL",
        # index_size() and compaction count and find tickets by status without reading snapshots.
        "CREATE INDEX tickets_status ON tickets (helpdesk, status, updated_at)",
        """CREATE TABLE journal (
            helpdesk TEXT NOT NULL, escalation_id TEXT NOT NULL, dry_run INTEGER NOT NULL,
            ticket_id TEXT NOT NULL, kind TEXT NOT NULL, tier_before INTEGER NOT NULL,
            tier_after INTEGER NOT NULL, rule TEXT NOT NULL, team TEXT NOT NULL,
            decision TEXT NOT NULL,
            status TEXT NOT NULL CHECK (status IN ('pending', 'done', 'dropped', 'failed')),
            created_at TEXT NOT NULL, done_at TEXT, attempts INTEGER NOT NULL DEFAULT 0,
            detail TEXT NOT NULL DEFAULT '',
            PRIMARY KEY (helpdesk, escalation_id, dry_run))""",
        "CREATE INDEX journal_status ON journal (helpdesk, status)",
        "CREATE INDEX journal_created ON journal (created_at)",
        "CREATE INDEX journal_ticket ON journal (helpdesk, ticket_id)",
        # Notifications belong to a real intent and go with it on compaction.
        """CREATE TABLE notifications (
            helpdesk TEXT NOT NULL, escalation_id TEXT NOT NULL, channel TEXT NOT NULL,
            dry_run INTEGER NOT NULL DEFAULT 0 CHECK (dry_run = 0),
            status TEXT NOT NULL CHECK (status IN ('pending', 'sent', 'failed')),
            attempts INTEGER NOT NULL DEFAULT 0, detail TEXT NOT NULL DEFAULT '',
            created_at TEXT NOT NULL, updated_at TEXT NOT NULL,
            PRIMARY KEY (helpdesk, escalation_id, channel),
            FOREIGN KEY (helpdesk, escalation_id, dry_run)
                REFERENCES journal (helpdesk, escalation_id, dry_run) ON DELETE CASCADE)""",
        "CREATE INDEX notifications_status ON notifications (helpdesk, status)",
        """CREATE TABLE quarantine (
            helpdesk TEXT NOT NULL, ticket_id TEXT NOT NULL, error TEXT NOT NULL,
            first_at TEXT NOT NULL, last_at TEXT NOT NULL, attempts INTEGER NOT NULL,
            next_retry TEXT NOT NULL, PRIMARY KEY (helpdesk, ticket_id))""",
        "CREATE TABLE helpdesks (helpdesk TEXT PRIMARY KEY, last_ok TEXT, last_error TEXT, error_at TEXT)",
    )),
]
SCHEMA_VERSION = MIGRATIONS[-1][0]


class StateError(Exception):
    """The state file cannot be used: missing directory, permissions, not ours, too new."""


@dataclass(frozen=True)
class IndexEntry:
    helpdesk: str
    ticket_id: str
    version: str
    tier: int
    status: str
    wake_up: datetime | None
    snapshot: str  # the ticket as JSON text, opaque here
    created_at: datetime
    updated_at: datetime
    plan: str | None = None
    group: str | None = None
    first_reply_at: datetime | None = None
    solved_at: datetime | None = None


@dataclass(frozen=True)
class Intent:
    helpdesk: str
    escalation_id: str
    ticket_id: str
    kind: str  # escalate / route / de-escalate / reminder / refused / frozen / review
    tier_before: int
    tier_after: int
    rule: str
    team: str
    decision: str  # the decision as JSON text
    dry_run: bool
    status: str = "pending"  # pending | done | dropped | failed
    created_at: datetime | None = None  # decision time; the store's clock if None
    done_at: datetime | None = None
    attempts: int = 0
    detail: str = ""


@dataclass(frozen=True)
class Quarantined:
    helpdesk: str
    ticket_id: str
    error: str
    first_at: datetime
    last_at: datetime
    attempts: int
    next_retry: datetime


def _ts(dt: datetime | None) -> str | None:
    if dt is None:
        return None
    if dt.tzinfo is None:
        raise ValueError(f"naive datetime {dt!r}: the state store takes aware datetimes")
    return dt.astimezone(UTC).isoformat(timespec="microseconds")


def _dt(s: str | None) -> datetime | None:
    return None if s is None else datetime.fromisoformat(s)


_TICKET_COLS = ("helpdesk, ticket_id, version, tier, status, wake_up, snapshot, created_at, updated_at,"
                " plan, group_name, first_reply_at, solved_at")
_INTENT_COLS = ("helpdesk, escalation_id, ticket_id, kind, tier_before, tier_after, rule, team, decision,"
                " dry_run, status, created_at, done_at, attempts, detail")
_QUARANTINE_COLS = "helpdesk, ticket_id, error, first_at, last_at, attempts, next_retry"


def _entry(r: Sequence[Any]) -> IndexEntry:
    return IndexEntry(r[0], r[1], r[2], r[3], r[4], _dt(r[5]), r[6], _dt(r[7]), _dt(r[8]), r[9], r[10],
                      _dt(r[11]), _dt(r[12]))


def _intent(r: Sequence[Any]) -> Intent:
    return Intent(r[0], r[1], r[2], r[3], r[4], r[5], r[6], r[7], r[8], bool(r[9]), r[10], _dt(r[11]),
                  _dt(r[12]), r[13], r[14])


def _quarantined(r: Sequence[Any]) -> Quarantined:
    return Quarantined(r[0], r[1], r[2], _dt(r[3]), _dt(r[4]), r[5], _dt(r[6]))


class StateStore:
    """The state file of one daemon. One instance per thread; see the module docstring."""

    def __init__(self, path: str | os.PathLike[str], *, now: Callable[[], datetime] = lambda: datetime.now(UTC),
                 busy_timeout: float = 30.0, retry_base: timedelta = timedelta(minutes=1),
                 retry_cap: timedelta = timedelta(hours=1)):
        self.path = str(path)
        self._now = now
        self._retry_base = retry_base
        self._retry_cap = retry_cap
        self._depth = 0
        self._memory = self.path == ":memory:"
        if not self._memory:
            _check_path(Path(self.path))
        try:
            self._conn = sqlite3.connect(self.path, isolation_level=None, timeout=busy_timeout)
        except sqlite3.Error as exc:
            raise StateError(f"state file {self.path}: cannot open: {exc}") from exc
        try:
            self._schema_version = self._open(busy_timeout)
        except BaseException as exc:
            self._conn.close()
            if isinstance(exc, sqlite3.OperationalError) and "locked" in str(exc):
                raise StateError(f"state file {self.path}: locked by another process for {busy_timeout:g}s") from exc
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
        return self._migrate()

    def _migrate(self) -> int:
        with self.transaction():
            current = self._stored_version()
            if current > SCHEMA_VERSION:
                raise StateError(f"state file {self.path}: was written by a newer tierlift"
                                 f" (schema {current} > {SCHEMA_VERSION})")
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

    def _stored_version(self) -> int:
        if not self._conn.execute("SELECT 1 FROM sqlite_master WHERE name = 'meta'").fetchone():
            return 0
        row = self._conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
        return int(row[0]) if row else 0

    @property
    def schema_version(self) -> int:
        return self._schema_version

    def close(self) -> None:
        self._conn.close()

    def snapshot(self) -> StateStore:
        """A private in-memory copy: dry runs and `tierlift plan` work on it, so they see
        the live cursor, ledger and index but never write them (issue 13)."""
        copy = StateStore(":memory:", now=self._now, retry_base=self._retry_base, retry_cap=self._retry_cap)
        self._conn.backup(copy._conn)
        return copy

    def __enter__(self) -> StateStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

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
        self._conn.execute("BEGIN IMMEDIATE")  # take the write lock now, not at the first write
        self._depth = 1
        try:
            yield
            self._depth = 0
            self._conn.execute("COMMIT")
        except BaseException:
            self._depth = 0
            if self._conn.in_transaction:  # SQLite may have rolled back already (e.g. disk full)
                self._conn.execute("ROLLBACK")
            raise

    def _x(self, sql: str, params: Sequence[Any] = ()) -> sqlite3.Cursor:
        return self._conn.execute(sql, params)

    # --- cursors ---------------------------------------------------------------------
    def cursor(self, helpdesk: str) -> str | None:
        row = self._x("SELECT cursor FROM cursors WHERE helpdesk = ?", (helpdesk,)).fetchone()
        return row[0] if row else None

    def set_cursor(self, helpdesk: str, cursor: str) -> None:
        self._x("INSERT INTO cursors VALUES (?, ?, ?) ON CONFLICT (helpdesk) DO UPDATE"
                " SET cursor = excluded.cursor, updated_at = excluded.updated_at",
                (helpdesk, cursor, _ts(self._now())))

    # --- the ticket index ------------------------------------------------------------------
    def upsert(self, entries: Iterable[IndexEntry]) -> None:
        """Insert or replace index rows. Solved/closed tickets belong here too (wake_up None):
        reports read their SLA data until compaction."""
        rows = [(e.helpdesk, e.ticket_id, e.version, e.tier, e.status, _ts(e.wake_up), e.snapshot,
                 _ts(e.created_at), _ts(e.updated_at), e.plan, e.group, _ts(e.first_reply_at),
                 _ts(e.solved_at)) for e in entries]
        if not rows:
            return
        with self.transaction():
            self._conn.executemany(
                f"INSERT OR REPLACE INTO tickets ({_TICKET_COLS}) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)", rows)

    def remove(self, helpdesk: str, ticket_ids: Iterable[str]) -> None:
        """Forget tickets that no longer exist in the helpdesk (deleted, merged away)."""
        rows = [(helpdesk, t) for t in ticket_ids]
        if rows:
            with self.transaction():
                self._conn.executemany("DELETE FROM tickets WHERE helpdesk = ? AND ticket_id = ?", rows)

    def get(self, helpdesk: str, ticket_ids: Sequence[str]) -> dict[str, IndexEntry]:
        out: dict[str, IndexEntry] = {}
        ids = list(ticket_ids)
        for i in range(0, len(ids), 500):  # stay under SQLite's bound-parameter limit
            chunk = ids[i:i + 500]
            marks = ",".join("?" * len(chunk))
            for r in self._x(f"SELECT {_TICKET_COLS} FROM tickets WHERE helpdesk = ? AND ticket_id IN ({marks})",
                             (helpdesk, *chunk)):
                out[r[1]] = _entry(r)
        return out

    def due(self, helpdesk: str, now: datetime, limit: int = 10_000) -> list[IndexEntry]:
        """Tickets whose wake-up has passed, earliest first."""
        return [_entry(r) for r in self._x(
            f"SELECT {_TICKET_COLS} FROM tickets WHERE helpdesk = ? AND wake_up IS NOT NULL AND wake_up <= ?"
            " ORDER BY wake_up LIMIT ?", (helpdesk, _ts(now), limit))]

    def set_wake_up(self, helpdesk: str, ticket_id: str, wake_up: datetime | None) -> None:
        self._x("UPDATE tickets SET wake_up = ? WHERE helpdesk = ? AND ticket_id = ?",
                (_ts(wake_up), helpdesk, ticket_id))

    def next_wake_up(self, helpdesk: str) -> datetime | None:
        row = self._x("SELECT MIN(wake_up) FROM tickets WHERE helpdesk = ? AND wake_up IS NOT NULL",
                      (helpdesk,)).fetchone()
        return _dt(row[0])

    def index_size(self, helpdesk: str | None = None) -> int:
        """Open tickets (not solved or closed)."""
        sql = "SELECT COUNT(*) FROM tickets WHERE status NOT IN ('solved', 'closed')"
        if helpdesk is None:
            return self._x(sql).fetchone()[0]
        return self._x(sql + " AND helpdesk = ?", (helpdesk,)).fetchone()[0]

    def entries(self, helpdesk: str | None = None) -> Iterator[IndexEntry]:
        """Every indexed ticket, open or kept-closed, streamed."""
        where, params = ("WHERE helpdesk = ?", (helpdesk,)) if helpdesk is not None else ("", ())
        return self._stream(f"SELECT {_TICKET_COLS} FROM tickets {where} ORDER BY helpdesk, ticket_id",
                            params, _entry)

    def _stream(self, sql: str, params: Sequence[Any], make: Callable[[Sequence[Any]], Any]) -> Iterator[Any]:
        cur = self._conn.cursor()
        cur.execute(sql, params)
        try:
            while rows := cur.fetchmany(1000):
                yield from (make(r) for r in rows)
        finally:
            cur.close()

    # --- the intent journal ------------------------------------------------------------
    def record_intent(self, intent: Intent) -> bool:
        """Journal an intent before its write. True: the caller owns the write now.

        False when the intent is already pending (recovery settles it) or done.
        A failed or dropped intent is re-armed to pending (attempts + 1) and
        True is returned, so the retried write is journaled like the first.
        """
        if intent.status not in INTENT_STATUSES:
            raise ValueError(f"intent status {intent.status!r}: expected one of {INTENT_STATUSES}")
        i = intent
        created = _ts(i.created_at or self._now())
        with self.transaction():
            cur = self._x(
                f"INSERT INTO journal ({_INTENT_COLS}) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)"
                " ON CONFLICT (helpdesk, escalation_id, dry_run) DO NOTHING",
                (i.helpdesk, i.escalation_id, i.ticket_id, i.kind, i.tier_before, i.tier_after, i.rule, i.team,
                 i.decision, int(i.dry_run), i.status, created, _ts(i.done_at), i.attempts, i.detail))
            if cur.rowcount == 1:
                return True
            cur = self._x(
                "UPDATE journal SET status = 'pending', done_at = NULL, attempts = attempts + 1, detail = '',"
                " ticket_id = ?, kind = ?, tier_before = ?, tier_after = ?, rule = ?, team = ?, decision = ?"
                " WHERE helpdesk = ? AND escalation_id = ? AND dry_run = ? AND status IN ('failed', 'dropped')",
                (i.ticket_id, i.kind, i.tier_before, i.tier_after, i.rule, i.team, i.decision,
                 i.helpdesk, i.escalation_id, int(i.dry_run)))
            return cur.rowcount == 1

    def mark(self, helpdesk: str, escalation_id: str, status: str, detail: str = "", *,
             dry_run: bool = False) -> None:
        """Settle an intent: done, dropped or failed (failed counts an attempt)."""
        if status not in ("done", "dropped", "failed"):
            raise ValueError(f"mark status {status!r}: expected done, dropped or failed")
        cur = self._x("UPDATE journal SET status = ?, detail = ?, done_at = ?,"
                      " attempts = attempts + (? = 'failed')"
                      " WHERE helpdesk = ? AND escalation_id = ? AND dry_run = ?",
                      (status, detail, _ts(self._now()), status, helpdesk, escalation_id, int(dry_run)))
        if cur.rowcount != 1:
            raise KeyError(f"no {'dry-run ' if dry_run else ''}intent {escalation_id!r} for helpdesk {helpdesk!r}")

    def unfinished(self, helpdesk: str) -> list[Intent]:
        """Real intents still pending, oldest first: recovery checks each against its ticket."""
        return [_intent(r) for r in self._x(
            f"SELECT {_INTENT_COLS} FROM journal WHERE helpdesk = ? AND status = 'pending' AND dry_run = 0"
            " ORDER BY created_at, escalation_id", (helpdesk,))]

    def intent(self, helpdesk: str, escalation_id: str, dry_run: bool = False) -> Intent | None:
        row = self._x(f"SELECT {_INTENT_COLS} FROM journal WHERE helpdesk = ? AND escalation_id = ? AND dry_run = ?",
                      (helpdesk, escalation_id, int(dry_run))).fetchone()
        return _intent(row) if row else None

    def intents(self, helpdesk: str | None = None, *, since: datetime | None = None,
                dry_run: bool | None = None) -> Iterator[Intent]:
        """Intents decided at or after `since`, oldest first, streamed (for reports)."""
        where, params = ["1"], []
        if helpdesk is not None:
            where.append("helpdesk = ?")
            params.append(helpdesk)
        if since is not None:
            where.append("created_at >= ?")
            params.append(_ts(since))
        if dry_run is not None:
            where.append("dry_run = ?")
            params.append(int(dry_run))
        return self._stream(f"SELECT {_INTENT_COLS} FROM journal WHERE {' AND '.join(where)}"
                            " ORDER BY created_at, escalation_id", params, _intent)

    def ledger(self, helpdesk: str, ticket_id: str,
               since: datetime | None = None) -> list[tuple[datetime, int, int, str, str]]:
        """The ticket's tier moves that landed: (at, from, to, rule, escalation_id), oldest first."""
        rows = self._x(
            "SELECT done_at, tier_before, tier_after, rule, escalation_id FROM journal"
            " WHERE helpdesk = ? AND ticket_id = ? AND dry_run = 0 AND status = 'done'"
            " AND tier_before != tier_after AND done_at >= ? ORDER BY done_at, escalation_id",
            (helpdesk, ticket_id, _ts(since) if since else ""))
        return [(_dt(r[0]), r[1], r[2], r[3], r[4]) for r in rows]

    def ledger_moves(self, helpdesk: str, ticket_id: str) -> list[TierMove]:
        """The ledger as the engine reads it, with who moved the ticket: `actor` from the
        journaled decision, `human` for a person's move (kind human-move, or a move rebuilt
        from a note marker that says so). Oldest first; same rows as `ledger`."""
        rows = self._x(
            "SELECT done_at, tier_before, tier_after, rule, escalation_id, kind,"
            " CASE WHEN json_valid(decision) THEN json_extract(decision, '$.actor') END,"
            " CASE WHEN json_valid(decision) THEN json_extract(decision, '$.human') END FROM journal"
            " WHERE helpdesk = ? AND ticket_id = ? AND dry_run = 0 AND status = 'done'"
            " AND tier_before != tier_after ORDER BY done_at, escalation_id", (helpdesk, ticket_id))
        return [TierMove(_dt(r[0]), r[1], r[2], r[3], r[4], actor=r[6] if isinstance(r[6], str) else None,
                         human=r[5] == "human-move" or r[7] in (1, True)) for r in rows]

    # --- notifications, journaled like writes -------------------------------------------------
    def record_notification(self, helpdesk: str, escalation_id: str, channel: str) -> bool:
        """Journal a notification before sending it. False if it was journaled before."""
        now = _ts(self._now())
        try:
            cur = self._x("INSERT INTO notifications (helpdesk, escalation_id, channel, status, created_at,"
                          " updated_at) VALUES (?, ?, ?, 'pending', ?, ?)"
                          " ON CONFLICT (helpdesk, escalation_id, channel) DO NOTHING",
                          (helpdesk, escalation_id, channel, now, now))
        except sqlite3.IntegrityError as exc:
            raise KeyError(f"no intent {escalation_id!r} for helpdesk {helpdesk!r} to notify about") from exc
        return cur.rowcount == 1

    def mark_notification(self, helpdesk: str, escalation_id: str, channel: str, status: str,
                          detail: str = "") -> None:
        if status not in ("sent", "failed"):
            raise ValueError(f"notification status {status!r}: expected sent or failed")
        cur = self._x("UPDATE notifications SET status = ?, detail = ?, updated_at = ?,"
                      " attempts = attempts + 1 WHERE helpdesk = ? AND escalation_id = ? AND channel = ?",
                      (status, detail, _ts(self._now()), helpdesk, escalation_id, channel))
        if cur.rowcount != 1:
            raise KeyError(f"no notification {escalation_id!r}/{channel!r} for helpdesk {helpdesk!r}")

    def pending_notifications(self, helpdesk: str) -> list[tuple[str, str, int]]:
        """(escalation_id, channel, attempts) of notifications not sent yet, oldest first."""
        return [tuple(r) for r in self._x(
            "SELECT escalation_id, channel, attempts FROM notifications WHERE helpdesk = ? AND status != 'sent'"
            " ORDER BY created_at, escalation_id, channel", (helpdesk,))]

    # --- quarantine -----------------------------------------------------------------------
    def quarantine(self, helpdesk: str, ticket_id: str, error: str, now: datetime) -> Quarantined:
        """Record one more failure; the next retry waits base * 2**(attempts-1), at most cap."""
        with self.transaction():
            row = self._x("SELECT first_at, attempts FROM quarantine WHERE helpdesk = ? AND ticket_id = ?",
                          (helpdesk, ticket_id)).fetchone()
            first_at, attempts = (_dt(row[0]), row[1] + 1) if row else (now, 1)
            # min() before multiplying out: 2**attempts grows without bound.
            delay = self._retry_cap if attempts > 30 else min(self._retry_base * 2 ** (attempts - 1), self._retry_cap)
            q = Quarantined(helpdesk, ticket_id, error, first_at, now, attempts, now + delay)
            self._x(f"INSERT OR REPLACE INTO quarantine ({_QUARANTINE_COLS}) VALUES (?,?,?,?,?,?,?)",
                    (helpdesk, ticket_id, error, _ts(first_at), _ts(now), attempts, _ts(q.next_retry)))
        return q

    def release(self, helpdesk: str, ticket_id: str) -> None:
        self._x("DELETE FROM quarantine WHERE helpdesk = ? AND ticket_id = ?", (helpdesk, ticket_id))

    def quarantined(self, helpdesk: str | None = None) -> list[Quarantined]:
        where, params = ("WHERE helpdesk = ?", (helpdesk,)) if helpdesk is not None else ("", ())
        return [_quarantined(r) for r in self._x(
            f"SELECT {_QUARANTINE_COLS} FROM quarantine {where} ORDER BY helpdesk, first_at, ticket_id", params)]

    def retry_due(self, helpdesk: str, now: datetime) -> list[Quarantined]:
        return [_quarantined(r) for r in self._x(
            f"SELECT {_QUARANTINE_COLS} FROM quarantine WHERE helpdesk = ? AND next_retry <= ?"
            " ORDER BY next_retry, ticket_id", (helpdesk, _ts(now)))]

    # --- health and housekeeping -----------------------------------------------------------
    def helpdesk_status(self, helpdesk: str) -> dict[str, Any]:
        """{"last_ok", "last_error", "error_at"}: None where never set."""
        row = self._x("SELECT last_ok, last_error, error_at FROM helpdesks WHERE helpdesk = ?",
                      (helpdesk,)).fetchone() or (None, None, None)
        return {"last_ok": _dt(row[0]), "last_error": row[1], "error_at": _dt(row[2])}

    def set_helpdesk_status(self, helpdesk: str, *, last_ok: datetime | None = None,
                            last_error: str | None = None, error_at: datetime | None = None) -> dict[str, Any]:
        """Update the given fields only; last_error="" clears the error. Returns the new status."""
        if last_error and error_at is None:
            error_at = self._now()
        with self.transaction():
            self._x("INSERT INTO helpdesks (helpdesk) VALUES (?) ON CONFLICT DO NOTHING", (helpdesk,))
            if last_ok is not None:
                self._x("UPDATE helpdesks SET last_ok = ? WHERE helpdesk = ?", (_ts(last_ok), helpdesk))
            if last_error == "":
                self._x("UPDATE helpdesks SET last_error = NULL, error_at = NULL WHERE helpdesk = ?", (helpdesk,))
            elif last_error is not None:
                self._x("UPDATE helpdesks SET last_error = ?, error_at = ? WHERE helpdesk = ?",
                        (last_error, _ts(error_at), helpdesk))
            return self.helpdesk_status(helpdesk)

    def compact(self, *, older_than: datetime) -> int:
        """Delete what reports no longer need; return the number of rows deleted.

        Intents settled (done, dropped, failed) before the cutoff, with their
        notifications; sent notifications older than it; solved/closed index
        rows last updated before it. Pending intents are never deleted: only
        recovery may settle them.
        """
        cut = _ts(older_than)
        with self.transaction():
            # Counted here rather than left to ON DELETE CASCADE, which reports no rows.
            n = self._x("DELETE FROM notifications WHERE (status = 'sent' AND updated_at < ?) OR EXISTS ("
                        " SELECT 1 FROM journal j WHERE j.helpdesk = notifications.helpdesk"
                        " AND j.escalation_id = notifications.escalation_id AND j.dry_run = 0"
                        " AND j.status != 'pending' AND COALESCE(j.done_at, j.created_at) < ?)",
                        (cut, cut)).rowcount
            n += self._x("DELETE FROM journal WHERE status != 'pending' AND COALESCE(done_at, created_at) < ?",
                         (cut,)).rowcount
            n += self._x("DELETE FROM tickets WHERE status IN ('solved', 'closed') AND updated_at < ?",
                         (cut,)).rowcount
            self._x("PRAGMA incremental_vacuum").fetchall()  # step it to the end, or it frees one page
        if not self._memory:
            self._x("PRAGMA wal_checkpoint(TRUNCATE)").fetchall()
        return n

    def stats(self) -> dict[str, Any]:
        """Counts for `tierlift status` and the metrics endpoint."""
        now = _ts(self._now())

        def by_helpdesk(sql: str, params: Sequence[Any] = ()) -> dict[str, int]:
            return {hd: n for hd, n in self._x(sql + " GROUP BY helpdesk ORDER BY helpdesk", params)}

        page_size = self._x("PRAGMA page_size").fetchone()[0]
        pages = self._x("PRAGMA page_count").fetchone()[0]
        free = self._x("PRAGMA freelist_count").fetchone()[0]
        if self._memory:
            size = pages * page_size
        else:
            size = sum(os.path.getsize(p) for p in (self.path, self.path + "-wal") if os.path.exists(p))
        return {
            "schema_version": self._schema_version,
            "open_tickets": by_helpdesk("SELECT helpdesk, COUNT(*) FROM tickets"
                                        " WHERE status NOT IN ('solved', 'closed')"),
            "closed_kept": by_helpdesk("SELECT helpdesk, COUNT(*) FROM tickets WHERE status IN ('solved', 'closed')"),
            "due_now": by_helpdesk("SELECT helpdesk, COUNT(*) FROM tickets WHERE wake_up IS NOT NULL"
                                   " AND wake_up <= ?", (now,)),
            "quarantined": by_helpdesk("SELECT helpdesk, COUNT(*) FROM quarantine"),
            "pending_intents": by_helpdesk("SELECT helpdesk, COUNT(*) FROM journal"
                                           " WHERE status = 'pending' AND dry_run = 0"),
            "journal_rows": self._x("SELECT COUNT(*) FROM journal").fetchone()[0],
            "pending_notifications": by_helpdesk("SELECT helpdesk, COUNT(*) FROM notifications"
                                                 " WHERE status != 'sent'"),
            "file_bytes": size,
            "pages": pages,
            "free_pages": free,
        }


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
