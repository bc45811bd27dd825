"""The state store contract, on a real SQLite file and a real (throwaway) PostgreSQL.

Tests taking `store` or `make` run on both stores through the interface only;
tests taking `sqlite_store` or `path` are about the SQLite file itself
(durability settings, crashes, file size). PostgreSQL's skip where its
binaries are missing, saying so (tests/pgkit.py).
"""

from __future__ import annotations

import json
import os
import re
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from contextlib import closing
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace

import pytest

from tierlift.service.daemon.state import SCHEMA_VERSION, IndexEntry, Intent, StateError, StateStore
from tierlift.service.daemon.store import sqlite as state_mod

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
ROOT = hasattr(os, "geteuid") and os.geteuid() == 0


class Clock:
    def __init__(self, t: datetime = T0):
        self.t = t

    def __call__(self) -> datetime:
        return self.t


def entry(tid: str, wake: datetime | None = None, *, hd: str = "zd", status: str = "open", tier: int = 1,
          updated: datetime = T0) -> IndexEntry:
    return IndexEntry(hd, tid, "v1", tier, status, wake, json.dumps({"id": tid}), T0 - timedelta(days=1), updated,
                      "pro", "Support", None, updated if status in ("solved", "closed") else None)


def intent(eid: str, tid: str = "1", *, hd: str = "zd", before: int = 1, after: int = 2,
           at: datetime = T0, kind: str = "escalate") -> Intent:
    return Intent(hd, eid, tid, kind, before, after, "sla-75", "l2-team", '{"actions": []}', "pending",
                  at, None, 0, "")


@pytest.fixture
def path(tmp_path: Path) -> Path:
    return tmp_path / "state.sqlite3"


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def sqlite_store(path: Path, clock: Clock):
    with StateStore(path, now=clock) as s:
        yield s


@pytest.fixture(params=["sqlite", "postgres"])
def make(request: pytest.FixtureRequest, path: Path, clock: Clock):
    """Opens stores of one kind on one database: make(**kw) -> a new store (closed at the end)."""
    opened = []
    if request.param == "postgres":
        from tierlift.service.daemon.store.postgres import PostgresStore

        url = request.getfixturevalue("pg_url")

        def factory(**kw):
            opened.append(PostgresStore(url, **{"now": clock, **kw}))
            return opened[-1]
    else:
        def factory(**kw):
            opened.append(StateStore(path, **{"now": clock, **kw}))
            return opened[-1]
    yield factory
    for s in opened:
        try:
            s.close()
        except sqlite3.ProgrammingError:  # opened and closed by a test's own thread
            pass


@pytest.fixture
def store(make):
    return make()


def raw(path: Path) -> sqlite3.Connection:
    """The file itself, opened apart from any store: what is on disk, not what a store says."""
    return sqlite3.connect(path, isolation_level=None)


def one(path: Path, sql: str) -> object:
    """The first value `sql` reads from the file (a connection of its own, closed at once)."""
    with closing(raw(path)) as c:
        row = c.execute(sql).fetchone()
        return row[0] if row else None


def intact(store: StateStore, path: Path) -> bool:
    """The store's own check passes and SQLite's full integrity check of the file says ok."""
    store.check_integrity()
    return one(path, "PRAGMA integrity_check") == "ok"


# --- opening, migrations, refusals --------------------------------------------------------
def test_new_file_is_migrated_with_durable_settings(sqlite_store: StateStore, path: Path):
    assert sqlite_store.schema_version == SCHEMA_VERSION
    # WAL and auto_vacuum are kept in the file: any connection reads them back.
    assert one(path, "PRAGMA journal_mode") == "wal"
    assert one(path, "PRAGMA auto_vacuum") == 2  # incremental
    # synchronous is the store's connection's own setting, and the store's interface has
    # no read of it: the one look inside the store (reported in issue 17).
    assert sqlite_store._conn.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL
    # foreign_keys is per connection too: seen through the interface, a notification
    # for an intent that does not exist is refused by the key.
    with pytest.raises(KeyError, match="no intent"):
        sqlite_store.record_notification("zd", "no-such-intent", "slack")
    with closing(raw(path)) as c:
        tables = {r[0] for r in c.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert {"meta", "cursors", "tickets", "journal", "notifications", "quarantine", "helpdesks"} <= tables
    assert one(path, "SELECT value FROM meta WHERE key = 'schema_version'") == str(SCHEMA_VERSION)


def test_reopen_keeps_data_and_does_not_migrate_again(path: Path):
    with StateStore(path) as s:
        s.set_cursor("zd", "c-42")
        s.upsert([entry("1", T0)])
        s.record_intent(intent("e1"))
    with StateStore(path) as s:
        assert s.schema_version == SCHEMA_VERSION
        assert s.cursor("zd") == "c-42"
        assert s.get("zd", ["1"])["1"].wake_up == T0
        assert s.intent("zd", "e1").status == "pending"


def test_newer_schema_is_refused(path: Path):
    StateStore(path).close()
    with raw(path) as c:
        c.execute("UPDATE meta SET value = '99' WHERE key = 'schema_version'")
    with pytest.raises(StateError, match=rf"{path}.*newer tierlift \(schema 99 > {SCHEMA_VERSION}\)") as refused:
        StateStore(path)
    assert "run the newer release's `tierlift downgrade`" in str(refused.value)  # the way back, said where it is met


def test_failed_migration_leaves_the_old_schema(path: Path, monkeypatch: pytest.MonkeyPatch):
    StateStore(path).close()
    steps = [*state_mod.MIGRATIONS, (SCHEMA_VERSION + 1, ("CREATE TABLE extra (x)", "THIS IS NOT SQL"))]
    monkeypatch.setattr(state_mod, "MIGRATIONS", steps)
    monkeypatch.setattr(state_mod, "SCHEMA_VERSION", SCHEMA_VERSION + 1)
    with pytest.raises(StateError):
        StateStore(path)
    monkeypatch.undo()
    with StateStore(path) as s:
        assert s.schema_version == SCHEMA_VERSION
        assert one(path, "SELECT 1 FROM sqlite_master WHERE name = 'extra'") is None


def test_missing_directory(tmp_path: Path):
    p = tmp_path / "nope" / "state.sqlite3"
    with pytest.raises(StateError, match=rf"state file {p}: directory .* does not exist"):
        StateStore(p)
    assert not p.parent.exists()  # never created behind the operator's back


def test_path_is_a_directory(tmp_path: Path):
    with pytest.raises(StateError, match=rf"{tmp_path}: is a directory"):
        StateStore(tmp_path)


def test_not_a_database(path: Path):
    path.write_bytes(b"this is a text file, not sqlite\n" * 100)
    with pytest.raises(StateError, match=rf"state file {path}: is not a tierlift state file"):
        StateStore(path)
    assert path.read_bytes().startswith(b"this is a text file")  # untouched


def test_someone_elses_sqlite_database(path: Path):
    with raw(path) as c:
        c.execute("CREATE TABLE customers (id INTEGER)")
    with pytest.raises(StateError, match=rf"{path}: is not a tierlift state file"):
        StateStore(path)


PERMISSION_CHECKS = textwrap.dedent("""
    import re, sys
    from pathlib import Path
    from tierlift.service.daemon.state import StateError, StateStore

    path = Path(sys.argv[1])

    def refused(pattern):
        try:
            StateStore(path).close()
        except StateError as exc:
            assert re.search(pattern, str(exc)), str(exc)
            return
        raise AssertionError("opened " + str(path) + " though " + pattern)

    StateStore(path).close()
    path.chmod(0o200)
    refused(re.escape(str(path)) + ": not readable")
    path.chmod(0o400)
    refused(re.escape(str(path)) + ": not writable")
    path.chmod(0o600)
    path.parent.chmod(0o500)
    try:
        refused(re.escape(str(path)) + ": directory .* is not writable")
    finally:
        path.parent.chmod(0o700)
    print("refused all three")
""")


def test_unreadable_or_unwritable(path: Path):
    command = [sys.executable, "-c", PERMISSION_CHECKS, str(path)]
    if ROOT:
        # Root reads and writes anything through CAP_DAC_OVERRIDE (CI runs as root):
        # the checks run in a child without it, so they are real there too.
        setpriv = "/usr/bin/setpriv"
        if not os.path.exists(setpriv):
            pytest.skip("running as root without util-linux's setpriv to drop CAP_DAC_OVERRIDE")
        command = [setpriv, "--bounding-set", "-dac_override,-dac_read_search", *command]
    r = subprocess.run(command, capture_output=True, text=True, timeout=60)
    assert r.returncode == 0 and "refused all three" in r.stdout, r.stdout + r.stderr


def test_naive_datetimes_are_refused(store: StateStore):
    with pytest.raises(ValueError, match="naive"):
        store.due("zd", datetime(2026, 1, 1))


def test_memory_store():
    with StateStore(":memory:") as s:
        s.set_cursor("zd", "c1")
        assert s.cursor("zd") == "c1"
        assert s.stats()["file_bytes"] > 0


# --- transactions and crashes ------------------------------------------------------------------
def test_cursor_and_marks_commit_together(make):
    store, other = make(), make()
    store.record_intent(intent("e1"))
    with store.transaction():
        store.mark("zd", "e1", "done")
        store.set_cursor("zd", "c2")
        # another connection sees nothing before the commit
        assert other.cursor("zd") is None
        assert other.intent("zd", "e1").status == "pending"
    assert other.cursor("zd") == "c2"
    assert other.intent("zd", "e1").status == "done"


def test_exception_rolls_back_cursor_and_marks(store: StateStore):
    store.set_cursor("zd", "c1")
    store.record_intent(intent("e1"))
    with pytest.raises(RuntimeError), store.transaction():
        store.mark("zd", "e1", "done")
        store.upsert([entry("1", T0)])
        store.set_cursor("zd", "c2")
        raise RuntimeError("connector blew up")
    assert store.cursor("zd") == "c1"
    assert store.intent("zd", "e1").status == "pending"
    assert store.get("zd", ["1"]) == {}
    store.set_cursor("zd", "c3")  # the store is usable afterwards
    assert store.cursor("zd") == "c3"


def test_nested_transaction_joins_the_outer_one(store: StateStore):
    with store.transaction():
        store.set_cursor("zd", "outer")
        with pytest.raises(KeyError), store.transaction():
            store.set_cursor("jira", "inner")
            raise KeyError("inner failure")
        with store.transaction():
            store.upsert([entry("1")])
    assert store.cursor("zd") == "outer"
    assert store.cursor("jira") is None  # the failed inner part alone was undone
    assert "1" in store.get("zd", ["1"])


CHILD = textwrap.dedent("""
    import sys, time
    from datetime import UTC, datetime
    from tierlift.service.daemon.state import IndexEntry, Intent, StateStore
    T = datetime(2026, 3, 2, tzinfo=UTC)
    s = StateStore(sys.argv[1])
    s.set_cursor("zd", "committed")
    with s.transaction():
        s.upsert([IndexEntry("zd", str(i), "v", 1, "open", T, "x" * 500, T, T) for i in range(5000)])
        s.record_intent(Intent("zd", "uncommitted", "1", "escalate", 1, 2, "r", "t", "{}", "pending", T))
        s.set_cursor("zd", "uncommitted")
        print("in-transaction", flush=True)
        time.sleep(60)
""")


def kill_after(script: str, path: Path, ready: str, delay: float = 0.0) -> int:
    """Run `script` on the file, SIGKILL it `delay` seconds after it prints `ready`; its exit status."""
    child = subprocess.Popen([sys.executable, "-c", script, str(path)], stdout=subprocess.PIPE, text=True)
    try:
        assert child.stdout.readline().strip() == ready
        time.sleep(delay)
        os.kill(child.pid, signal.SIGKILL)
        return child.wait(10)
    finally:
        if child.poll() is None:
            child.kill()
        child.stdout.close()


def test_sigkill_inside_a_transaction_leaves_nothing(path: Path):
    assert kill_after(CHILD, path, "in-transaction") == -signal.SIGKILL
    with StateStore(path) as s:
        assert intact(s, path)
        assert s.cursor("zd") == "committed"
        assert s.index_size() == 0
        assert s.intent("zd", "uncommitted") is None


LOOP_CHILD = textwrap.dedent("""
    import sys
    from datetime import UTC, datetime
    from tierlift.service.daemon.state import IndexEntry, StateStore
    T = datetime(2026, 3, 2, tzinfo=UTC)
    s = StateStore(sys.argv[1])
    n = 0
    while True:
        with s.transaction():
            s.upsert([IndexEntry("zd", str(n + i), "v", 1, "open", T, "y" * 300, T, T) for i in range(50)])
            n += 50
            s.set_cursor("zd", str(n))
        if n == 500:
            print("running", flush=True)
""")


def test_sigkill_at_a_random_instant_keeps_cursor_and_index_consistent(path: Path):
    for delay in (0.0, 0.05, 0.15):
        kill_after(LOOP_CHILD, path, "running", delay)
        with StateStore(path) as s:
            assert intact(s, path)
            # The cursor names exactly the number of tickets committed with it.
            assert s.index_size("zd") == int(s.cursor("zd")) >= 500
        path.unlink()
        for suffix in ("-wal", "-shm"):
            Path(str(path) + suffix).unlink(missing_ok=True)


# --- the index -----------------------------------------------------------------------------
def test_due_and_next_wake_up_in_order(store: StateStore):
    store.upsert([entry("late", T0 + timedelta(minutes=5)), entry("first", T0 - timedelta(hours=2)),
                  entry("second", T0 - timedelta(minutes=1)), entry("never", None),
                  entry("other-hd", T0 - timedelta(days=1), hd="jira"),
                  entry("now", T0.astimezone(datetime.now().astimezone().tzinfo))])
    assert [e.ticket_id for e in store.due("zd", T0)] == ["first", "second", "now"]
    assert [e.ticket_id for e in store.due("zd", T0, limit=1)] == ["first"]
    assert store.next_wake_up("zd") == T0 - timedelta(hours=2)
    assert store.next_wake_up("none") is None
    store.set_wake_up("zd", "first", None)
    store.set_wake_up("zd", "late", T0 - timedelta(hours=3))
    assert [e.ticket_id for e in store.due("zd", T0)] == ["late", "second", "now"]
    assert store.due("zd", T0)[0].wake_up.tzinfo is not None


def test_due_uses_the_wake_up_index(sqlite_store: StateStore, path: Path):
    with closing(raw(path)) as c:  # the file's own indexes, which the store's due() query can use
        plan = " ".join(r[-1] for r in c.execute(
            "EXPLAIN QUERY PLAN SELECT * FROM tickets WHERE helpdesk = ? AND wake_up IS NOT NULL AND wake_up <= ?"
            " ORDER BY wake_up LIMIT 10", ("zd", "x")))
    assert "tickets_wake_up" in plan and "TEMP B-TREE" not in plan


def test_upsert_get_remove_and_sizes(store: StateStore):
    store.upsert([entry("1", T0), entry("2", T0), entry("3", None, status="solved")])
    store.upsert([entry("1", T0 + timedelta(hours=1), tier=3)])
    got = store.get("zd", ["1", "2", "3", "missing"])
    assert set(got) == {"1", "2", "3"}
    e1 = got["1"]
    assert (e1.tier, e1.wake_up, e1.plan, e1.group, e1.created_at) == (3, T0 + timedelta(hours=1), "pro", "Support",
                                                                       T0 - timedelta(days=1))
    assert got["3"].solved_at == T0
    assert store.index_size("zd") == 2 and store.index_size() == 2  # the solved ticket is kept, not open
    assert [e.ticket_id for e in store.entries("zd")] == ["1", "2", "3"]
    store.remove("zd", ["2", "missing"])
    assert set(store.get("zd", ["1", "2"])) == {"1"}
    assert set(store.get("zd", [str(i) for i in range(2000)])) == {"1", "3"}  # chunked under the parameter limit


def test_entries_stream(store: StateStore):
    store.upsert([entry(f"{i:05d}", T0) for i in range(2500)])
    it = store.entries()
    assert next(it).ticket_id == "00000"
    assert sum(1 for _ in it) == 2499


# --- the journal ---------------------------------------------------------------------------
def test_record_intent_is_idempotent(store: StateStore, clock: Clock):
    assert store.record_intent(intent("e1")) is True
    assert store.record_intent(intent("e1")) is False  # pending: recovery settles it
    clock.t = T0 + timedelta(seconds=3)
    store.mark("zd", "e1", "done")
    assert store.record_intent(intent("e1")) is False  # done: never again
    got = store.intent("zd", "e1")
    assert (got.status, got.done_at, got.created_at, got.team, got.planned) == ("done", clock.t, T0, "l2-team", False)


def test_failed_or_dropped_intent_is_rearmed_for_the_retry(store: StateStore):
    store.record_intent(intent("e1"))
    store.mark("zd", "e1", "failed", "422 invalid group")
    assert store.intent("zd", "e1").attempts == 1
    assert store.record_intent(intent("e1")) is True
    again = store.intent("zd", "e1")
    assert (again.status, again.done_at, again.attempts, again.detail) == ("pending", None, 2, "")
    assert [i.escalation_id for i in store.unfinished("zd")] == ["e1"]  # a crash now is recovered like the first
    store.mark("zd", "e1", "dropped", "conflict")
    assert store.record_intent(intent("e1")) is True


def test_mark_unknown_intent_raises(store: StateStore):
    with pytest.raises(KeyError):
        store.mark("zd", "nope", "done")
    with pytest.raises(ValueError):
        store.mark("zd", "nope", "pending")


def test_a_plan_is_kept_apart_from_the_journal(store: StateStore, clock: Clock):
    assert store.record_plan(replace(intent("e1"), detail="dry-run")) is True
    assert store.record_plan(intent("e1")) is False  # kept once
    assert store.intent("zd", "e1") is None and list(store.intents("zd")) == []
    assert store.unfinished("zd") == [] and store.ledger("zd", "1") == []  # a plan moved nothing
    assert store.record_intent(intent("e1")) is True  # the live decision is not blocked by the shadow one
    assert store.intent("zd", "e1").status == "pending"
    plans = list(store.plans("zd"))
    assert [(p.escalation_id, p.status, p.planned, p.detail, p.done_at) for p in plans] == [
        ("e1", "done", True, "dry-run", clock.t)]
    assert [(i.escalation_id, i.planned) for i in store.decisions("zd")] == [("e1", False), ("e1", True)]
    with pytest.raises(ValueError, match="is a plan"):
        store.record_intent(plans[0])


def test_unfinished_and_intents_filters(store: StateStore):
    for n, at in enumerate([T0 + timedelta(minutes=2), T0, T0 + timedelta(minutes=1)]):
        store.record_intent(intent(f"e{n}", at=at))
    store.record_intent(intent("other", hd="jira"))
    store.mark("zd", "e1", "done")
    assert [i.escalation_id for i in store.unfinished("zd")] == ["e2", "e0"]  # oldest first
    assert [i.escalation_id for i in store.intents("zd", since=T0 + timedelta(minutes=1))] == ["e2", "e0"]
    assert len(list(store.intents())) == 4


def test_ledger_has_landed_real_moves_only(store: StateStore, clock: Clock):
    steps = [("m1", 1, 2, "done"), ("same", 2, 2, "done"), ("pend", 2, 3, None), ("drop", 2, 3, "dropped"),
             ("m2", 2, 3, "done")]
    for n, (eid, before, after, status) in enumerate(steps):
        clock.t = T0 + timedelta(minutes=n)
        store.record_intent(intent(eid, before=before, after=after, at=clock.t))
        if status:
            store.mark("zd", eid, status)
    assert store.ledger("zd", "1") == [(T0, 1, 2, "sla-75", "m1"), (T0 + timedelta(minutes=4), 2, 3, "sla-75", "m2")]
    assert [m[4] for m in store.ledger("zd", "1", since=T0 + timedelta(minutes=1))] == ["m2"]
    assert store.ledger("zd", "other") == []


def test_notifications_are_journaled_like_writes(store: StateStore):
    store.record_intent(intent("e1"))
    store.mark("zd", "e1", "done")
    assert store.record_notification("zd", "e1", "pagerduty") is True
    assert store.record_notification("zd", "e1", "pagerduty") is False
    assert store.record_notification("zd", "e1", "slack") is True
    store.mark_notification("zd", "e1", "slack", "sent")
    store.mark_notification("zd", "e1", "pagerduty", "failed", "503")
    assert store.pending_notifications("zd") == [("e1", "pagerduty", 1)]
    store.mark_notification("zd", "e1", "pagerduty", "sent")
    assert store.pending_notifications("zd") == []
    with pytest.raises(KeyError):
        store.record_notification("zd", "no-such-intent", "slack")


# --- quarantine and health ---------------------------------------------------------------------
def test_quarantine_backoff_grows_caps_and_releases(store: StateStore):
    delays = []
    now = T0
    for n in range(9):
        q = store.quarantine("zd", "7", f"error {n}", now)
        delays.append(q.next_retry - now)
        assert (q.attempts, q.first_at, q.last_at, q.error) == (n + 1, T0, now, f"error {n}")
        now = q.next_retry
    assert [d.total_seconds() / 60 for d in delays] == [1, 2, 4, 8, 16, 32, 60, 60, 60]
    assert store.retry_due("zd", now - timedelta(seconds=1)) == []
    assert [q.ticket_id for q in store.retry_due("zd", now)] == ["7"]
    assert store.quarantined("zd")[0].attempts == 9
    assert store.stats()["quarantined"] == {"zd": 1}
    store.release("zd", "7")
    assert store.quarantined() == []
    assert store.quarantine("zd", "7", "again", now).attempts == 1  # a new episode starts over


def test_backoff_is_configurable(make):
    with make(retry_base=timedelta(seconds=10), retry_cap=timedelta(seconds=25)) as s:
        assert [s.quarantine("zd", "1", "x", T0).next_retry - T0 for _ in range(3)] == [
            timedelta(seconds=10), timedelta(seconds=20), timedelta(seconds=25)]
        for _ in range(100):  # no overflow however long it fails
            q = s.quarantine("zd", "1", "x", T0)
        assert q.next_retry - T0 == timedelta(seconds=25)


def test_helpdesk_status(store: StateStore, clock: Clock):
    assert store.helpdesk_status("zd") == {"last_ok": None, "last_error": None, "error_at": None}
    store.set_helpdesk_status("zd", last_ok=T0)
    st = store.set_helpdesk_status("zd", last_error="401 Unauthorized")
    assert st == {"last_ok": T0, "last_error": "401 Unauthorized", "error_at": clock.t}
    assert store.set_helpdesk_status("zd", last_error="")["last_error"] is None


# --- compaction and boundedness ----------------------------------------------------------------
def test_compact_keeps_pending_and_recent(store: StateStore, clock: Clock):
    old, recent = T0 - timedelta(days=100), T0 - timedelta(days=1)
    for eid, at, status in [("old-done", old, "done"), ("old-dropped", old, "dropped"), ("old-pending", old, None),
                            ("recent-done", recent, "done")]:
        clock.t = at
        store.record_intent(intent(eid, at=at))
        if status:
            store.mark("zd", eid, status)
    clock.t = old
    store.record_notification("zd", "old-done", "slack")
    store.record_plan(intent("old-dry", at=old))
    store.upsert([entry("closed-old", None, status="closed", updated=old),
                  entry("closed-new", None, status="solved", updated=recent),
                  entry("open-old", old, updated=old)])
    clock.t = T0
    deleted = store.compact(older_than=T0 - timedelta(days=90))
    assert deleted == 5  # 3 intents, 1 notification, 1 closed ticket
    assert {i.escalation_id for i in store.intents()} == {"old-pending", "recent-done"}
    assert set(store.get("zd", ["closed-old", "closed-new", "open-old"])) == {"closed-new", "open-old"}
    assert store.pending_notifications("zd") == []
    assert store.stats()["journal_rows"] == 2


def test_file_stays_bounded_under_churn(path: Path):
    clock = Clock()
    sizes, pages = [], []
    with StateStore(path, now=clock) as s:
        for day in range(40):
            clock.t = T0 + timedelta(days=day)
            with s.transaction():
                s.upsert([entry(f"{day}-{i}", None, status="closed", updated=clock.t) for i in range(300)])
                for i in range(300):
                    s.record_intent(intent(f"{day}-{i}", f"{day}-{i}", at=clock.t))
                    s.mark("zd", f"{day}-{i}", "done")
                    s.record_notification("zd", f"{day}-{i}", "slack")
                    s.mark_notification("zd", f"{day}-{i}", "slack", "sent")
            s.compact(older_than=clock.t - timedelta(days=3))
            st = s.stats()
            sizes.append(st["file_bytes"])
            pages.append(st["pages"])
        assert s.stats()["journal_rows"] == 4 * 300  # today and the three days kept
        assert os.path.getsize(str(path) + "-wal") == 0  # checkpointed and truncated
    warm = max(pages[5:10])
    assert max(pages[10:]) <= warm * 1.1, pages
    assert max(sizes[10:]) <= max(sizes[5:10]) * 1.1, sizes


def test_helpdesk_threads_share_one_file(make):
    """Each helpdesk worker opens its own store on the same database; writers take turns."""
    import threading

    errors: list[BaseException] = []

    def worker(hd: str) -> None:
        try:
            with make(busy_timeout=10) as s:
                for n in range(30):
                    with s.transaction():
                        s.upsert([entry(f"{n}-{i}", T0, hd=hd) for i in range(20)])
                        s.set_cursor(hd, str(n))
        except BaseException as exc:  # reported below: a thread's exception is otherwise lost
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(f"hd{k}",)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    with make() as s:
        assert s.stats()["open_tickets"] == {f"hd{k}": 600 for k in range(4)}
        assert {s.cursor(f"hd{k}") for k in range(4)} == {"29"}


# --- leases and fencing (PostgreSQL: the store replicas share) ----------------------------------
@pytest.fixture
def pg(request: pytest.FixtureRequest, clock: Clock):
    from tierlift.service.daemon.store.postgres import PostgresStore

    url = request.getfixturevalue("pg_url")
    opened = []

    def factory():
        opened.append(PostgresStore(url, now=clock))
        return opened[-1]
    yield factory
    for s in opened:
        s.close()


def take(s, holder: str, hd: str = "zd", ttl: float = 30.0):
    return s.lease_acquire(hd, holder, "host", 1, ttl, take_released=True, take_orphaned=True)


def test_a_lease_has_one_holder_and_a_new_epoch_per_holder(pg):
    a, b = pg(), pg()
    epoch, left = take(a, "a")
    assert epoch == 1 and 29 < left <= 30
    assert take(b, "b") is None  # held and unexpired
    assert a.lease_renew("b", {"zd": epoch}, 30) == {}
    assert a.lease_renew("a", {"zd": epoch}, 30)["zd"] > 29
    a.lease_release("zd", "a", epoch)
    assert b.lease_acquire("zd", "b", "host", 2, 30, take_released=False, take_orphaned=True) is None
    assert take(b, "b")[0] == 2
    assert a.lease_renew("a", {"zd": epoch}, 30) == {}  # a stale holder cannot renew its way back
    [lease] = a.leases()
    assert (lease["holder"], lease["epoch"], lease["live"]) == ("b", 2, True)
    assert [(h["holder"], h["epoch"]) for h in a.lease_history()] == [("a", 1), ("b", 2)]


def test_an_expired_lease_is_taken_as_orphaned_only_when_asked(pg):
    a, b = pg(), pg()
    epoch, _ = take(a, "a", ttl=0.2)
    time.sleep(0.3)
    assert b.lease_acquire("zd", "b", "h", 2, 30, take_released=True, take_orphaned=False) is None
    assert b.lease_acquire("zd", "b", "h", 2, 30, take_released=False, take_orphaned=True)[0] == epoch + 1
    assert a.lease_renew("a", {"zd": epoch}, 30) == {}


def test_a_replica_renews_every_lease_it_holds_in_one_statement(pg, monkeypatch):
    a, b = pg(), pg()
    held = {f"hd{i}": take(a, "a", f"hd{i}", ttl=5)[0] for i in range(40)}
    b_epoch = take(b, "b", "theirs")[0]
    a.lease_release("hd3", "a", held["hd3"])  # handed over: not renewed
    statements = []
    real = a._x
    monkeypatch.setattr(a, "_x", lambda sql, params=(): statements.append(sql) or real(sql, params))
    renewed = a.lease_renew("a", {**held, "theirs": b_epoch, "hd7": held["hd7"] + 1}, 30)
    assert len(statements) == 1
    assert set(renewed) == set(held) - {"hd3", "hd7"}  # hd7 at another epoch is not ours
    assert all(29 < left <= 30 for left in renewed.values())
    by = {row["helpdesk"]: row for row in a.leases()}
    assert by["theirs"]["holder"] == "b"


def test_fencing_refuses_intent_mark_and_cursor_after_a_takeover(pg):
    from tierlift.service.daemon.state import Fence, LeaseLost

    a, b = pg(), pg()
    epoch, _ = take(a, "a", ttl=0.5)
    a.set_fence(Fence("zd", "a", epoch, write_margin=0.0))
    assert a.record_intent(intent("e1"))
    a.set_cursor("zd", "c1")
    time.sleep(0.6)
    b_epoch, _ = take(b, "b")
    b.set_fence(Fence("zd", "b", b_epoch, write_margin=0.0))
    with pytest.raises(LeaseLost):
        a.record_intent(intent("e2"))
    with pytest.raises(LeaseLost):
        a.mark("zd", "e1", "done")
    with pytest.raises(LeaseLost), a.transaction():
        a.upsert([entry("1", T0)])
        a.set_cursor("zd", "stale")
    # Nothing of the fenced transactions landed; the new holder goes on.
    assert b.cursor("zd") == "c1" and b.get("zd", ["1"]) == {} and b.intent("zd", "e2") is None
    assert b.intent("zd", "e1").status == "pending"  # the next holder's recovery settles it
    b.mark("zd", "e1", "dropped")
    b.set_cursor("zd", "c2")
    # A dry run's planned rows and other helpdesks are not fenced by zd's lease.
    assert a.record_plan(intent("d1"))
    assert a.record_intent(intent("j1", hd="jira"))


def test_an_intent_needs_the_write_margin_left(pg):
    from tierlift.service.daemon.state import Fence, LeaseLost

    a = pg()
    epoch, _ = take(a, "a", ttl=5)
    a.set_fence(Fence("zd", "a", epoch, write_margin=10.0))
    with pytest.raises(LeaseLost, match="left"):
        a.record_intent(intent("e1"))
    assert a.intent("zd", "e1") is None
    a.set_fence(Fence("zd", "a", epoch, write_margin=1.0))
    assert a.record_intent(intent("e1"))
    a.mark("zd", "e1", "done")  # a mark needs the lease, not the margin


def test_replicas_count_and_expire(pg):
    a = pg()
    assert a.replica_beat("r1", "h", 1, 30) == 1
    assert a.replica_beat("r2", "h", 2, 0.2) == 2
    time.sleep(0.3)
    assert a.replica_beat("r1", "h", 1, 30) == 1
    a.replica_gone("r1")
    assert a.replica_beat("r3", "h", 3, 30) == 1


def test_replicas_starting_together_migrate_once(request: pytest.FixtureRequest):
    import threading

    url = request.getfixturevalue("pg_url")
    from tierlift.service.daemon.store.postgres import PostgresStore

    errors: list[BaseException] = []

    def open_one() -> None:
        try:
            PostgresStore(url).close()
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=open_one) for _ in range(5)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []


def test_a_database_restart_is_a_database_error_then_reconnects(request: pytest.FixtureRequest):
    server, url = request.getfixturevalue("pg_server"), request.getfixturevalue("pg_url")
    from tierlift.service.daemon.state import StateDatabaseError
    from tierlift.service.daemon.store.postgres import PostgresStore

    with PostgresStore(url) as s:
        s.set_cursor("zd", "c1")
        server.restart()
        with pytest.raises(StateDatabaseError, match="database error"):
            s.cursor("zd")
        assert s.cursor("zd") == "c1"


def test_a_password_never_shows_in_messages(request: pytest.FixtureRequest):
    server = request.getfixturevalue("pg_server")
    from tierlift.service.daemon.store.postgres import PostgresStore

    url = f"postgresql://nobody:s3cret-pw@127.0.0.1:{server.port}/absent"
    with pytest.raises(StateError) as err:
        PostgresStore(url, connect_timeout=2)
    assert "s3cret-pw" not in str(err.value) and "cannot connect" in str(err.value)


# --- which store a configuration selects ---------------------------------------------------------
def _config(tmp_path: Path, state: str, **env: str):
    from tierlift.service.daemon.config import load_config

    (tmp_path / "t.yaml").write_text(f"""\
state: {state}
channels: {{pagerduty: {{kind: log}}, slack_oncall: {{kind: log}}, slack_channel: {{kind: log}}}}
helpdesks:
  - {{name: acme, kind: zendesk, url: "https://acme.zendesk.com", email: a@b.c, token: "${{TOK}}",
     policy: three-tier}}
""")
    return load_config(tmp_path / "t.yaml", env={"TOK": "t0ken-value", **env}, load_policies=False)


def test_state_url_selects_postgres_with_its_password_from_the_environment(tmp_path: Path):
    cfg = _config(tmp_path, '{url: "postgresql://tl@db:5432/tl", password: "${PW}", lease_ttl: 20s}', PW="pw-9f8e7d")
    assert cfg.state_url == "postgresql://tl@db:5432/tl" and cfg.state_password.reveal() == "pw-9f8e7d"
    assert cfg.lease_ttl == timedelta(seconds=20)
    assert "pw-9f8e7d" not in repr(cfg)
    assert _config(tmp_path, "{path: s.sqlite3}").state_url is None
    assert _config(tmp_path, "{path: s.sqlite3}").lease_ttl == timedelta(seconds=15)


def test_state_url_from_a_secret_may_carry_the_password_and_never_shows(tmp_path: Path):
    from tierlift.service.daemon.state import describe
    from tierlift.service.ops.redact import redact

    cfg = _config(tmp_path, '{url: "${DB_URL}"}', DB_URL="postgresql://tl:pw-5a4b3c@db/tl")
    assert cfg.state_url == "postgresql://tl:pw-5a4b3c@db/tl"
    assert "pw-5a4b3c" not in describe(cfg) and "pw-5a4b3c" not in redact(f"error at {cfg.state_url}")


@pytest.mark.parametrize("state, message", [
    ('{url: "postgresql://tl:inline-pw@db/tl"}', "no password in the URL"),
    ('{url: "mysql://db/tl"}', "expected postgresql://"),
    ('{url: "postgresql://tl@db/tl", path: x.sqlite3}', "not both"),
    ('{url: "postgresql://tl@db/tl", lease_ttl: 1s}', "at least 2s"),
    ('{path: x.sqlite3, password: "${PW}"}', "goes with state.url"),
])
def test_bad_state_settings_are_refused_with_their_key(tmp_path: Path, state: str, message: str):
    from tierlift.engine.yamlsrc import InvalidFile

    with pytest.raises(InvalidFile) as err:
        _config(tmp_path, state, PW="x")
    assert message in str(err.value) and "state" in str(err.value)
    assert "inline-pw" not in str(err.value)


# --- the replicas' share ---------------------------------------------------------------------------
def test_replicas_spread_the_helpdesks_and_hand_over_the_excess(request: pytest.FixtureRequest):
    import math
    from types import SimpleNamespace

    from tierlift.service.daemon.leases import Leases

    url = request.getfixturevalue("pg_url")
    cfg = SimpleNamespace(state_url=url, state_password=None, state_path=None, lease_ttl=timedelta(seconds=30))
    hds = ["a", "b", "c", "d", "e"]
    first = Leases(cfg, hds, settle=0)
    try:
        assert all(first.claim(h) for h in hds)  # alone: all five
        others = [Leases(cfg, hds, settle=0), Leases(cfg, hds, settle=0)]
        try:
            for r in [first, *others]:
                r._beat()
            for _ in range(3):  # cycles: the first hands over its excess, the others take their share
                for r in [first, *others]:
                    for h in hds:  # each helpdesk's worker claims between its cycles
                        r.claim(h)
                    # once each of its workers passed a cycle, a replica holds at most its share + 1
                    assert len(r.held) <= math.ceil(len(hds) / 3) + 1
            counts = sorted(len(r.held) for r in [first, *others])
            assert sum(counts) == 5 and counts[-1] <= math.ceil(5 / 3), counts
            holders = {x["helpdesk"]: x["holder"] for x in first._store.leases() if x["live"]}
            assert set(holders) == set(hds)
        finally:
            for r in others:
                r.close()
        # The others stopped cleanly and handed over: the first takes everything back at once.
        first._beat()
        assert all(first.claim(h) for h in hds)
    finally:
        first.close()


def test_a_helpdesk_a_reload_removes_is_handed_over_at_once(request: pytest.FixtureRequest):
    # A SIGHUP that removed a helpdesk from one replica's configuration kept its lease held
    # and renewed: no worker served it, the other replica stood by for it, and its due
    # escalations waited until the helpdesk was put back (QA hunt on replicas: Jira stayed
    # at 104 notes for 90 s while 238 were due).
    from types import SimpleNamespace

    from tierlift.service.daemon.leases import Leases

    url = request.getfixturevalue("pg_url")
    cfg = SimpleNamespace(state_url=url, state_password=None, state_path=None, lease_ttl=timedelta(seconds=30))
    one = Leases(cfg, ["zendesk", "jira"], settle=0)
    other = None
    try:
        assert one.claim("zendesk") and one.claim("jira")
        one.serve(["zendesk"])  # the reload: jira is no longer this replica's
        assert set(one.held) == {"zendesk"} and one.roles() == {"zendesk": "holder"}
        other = Leases(cfg, ["zendesk", "jira"], settle=0)
        assert other.claim("jira"), "the released lease is taken at once, not after its TTL"
        one._renew()
        assert set(one.held) == {"zendesk"}
    finally:
        if other is not None:
            other.close()
        one.close()


def test_a_replica_that_cannot_open_the_state_is_not_handed_leases(request: pytest.FixtureRequest):
    # A replica whose pool the database refused ("too many clients") still beat as live:
    # the healthy one handed it its excess lease, which it never took, and took it back, 13
    # times a minute, with a helpdesk held by nobody most of the time (QA hunt on replicas).
    from types import SimpleNamespace

    from tierlift.service.daemon.leases import Leases

    url = request.getfixturevalue("pg_url")
    cfg = SimpleNamespace(state_url=url, state_password=None, state_path=None, lease_ttl=timedelta(seconds=30))
    healthy = Leases(cfg, ["a", "b"], settle=0)
    starved = Leases(cfg, ["a", "b"], settle=0)
    try:
        for h in ("a", "b"):
            healthy.state_opened(h, True)
            starved.state_opened(h, False)  # its workers' pool was refused
        starved._renew()
        healthy._beat()
        assert healthy.live == 1
        assert healthy.claim("a") and healthy.claim("b")
        assert healthy.claim("a") and healthy.claim("b"), "nothing handed over to a replica that cannot take it"
        starved.state_opened("a", True)  # the database has room again: it counts, and takes its share
        starved._renew()
        healthy._beat()
        assert healthy.live == 2
        assert [healthy.claim(h) is not None for h in ("a", "b")].count(False) == 1
        assert starved.claim("a") or starved.claim("b")
    finally:
        starved.close()
        healthy.close()


def test_status_shows_each_helpdesks_lease(request: pytest.FixtureRequest, tmp_path: Path,
                                           capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch):
    from tierlift.service.daemon.store.postgres import PostgresStore
    from tierlift.service.tools.status import status

    url = request.getfixturevalue("pg_url")
    (tmp_path / "t.yaml").write_text(f"""\
state: {{url: "{url}"}}
channels: {{pagerduty: {{kind: log}}, slack_oncall: {{kind: log}}, slack_channel: {{kind: log}}}}
helpdesks:
  - {{name: acme, kind: zendesk, url: "https://acme.zendesk.com", email: a@b.c, token: "${{TOK}}", policy: three-tier}}
  - {{name: beta, kind: zendesk, url: "https://beta.zendesk.com", email: a@b.c, token: "${{TOK}}", policy: three-tier}}
""")
    monkeypatch.setenv("TOK", "t0ken-value")
    with PostgresStore(url) as s:
        s.lease_acquire("acme", "vm:4242:abc", "vm", 4242, 30, take_released=True, take_orphaned=True)
    assert status(tmp_path / "t.yaml") == 0
    out = capsys.readouterr().out
    assert "lease:           held by vm pid 4242, epoch 1, expires 20" in out
    assert "lease:           (never held)" in out
    assert status(tmp_path / "t.yaml", as_json=True) == 0
    lease = json.loads(capsys.readouterr().out)["helpdesks"]["acme"]["lease"]
    assert (lease["host"], lease["pid"], lease["epoch"], lease["live"]) == ("vm", 4242, 1, True)


def test_status_measures_a_lease_on_the_databases_clock_under_a_followed_clock(
        request: pytest.FixtureRequest, tmp_path: Path, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch):
    # With `clock: {follow: URL}` (a rehearsal) every lease read "expires ... (in 33 days 13
    # hours)": its expiry is on the database's clock, measured from the sandbox's (QA hunt).
    from tierlift.sandbox import Sandbox
    from tierlift.service.daemon.store.postgres import PostgresStore
    from tierlift.service.tools.status import status

    url = request.getfixturevalue("pg_url")
    monkeypatch.setenv("TOK", "t0ken-value")
    with Sandbox("zendesk", tickets=1, seed=1, now=datetime(2026, 11, 2, 19, 0, tzinfo=UTC)) as sb:
        (tmp_path / "t.yaml").write_text(f"""\
state: {{url: "{url}"}}
clock: {{follow: "{sb.url}"}}
channels: {{pagerduty: {{kind: log}}, slack_oncall: {{kind: log}}, slack_channel: {{kind: log}}}}
helpdesks:
  - {{name: acme, kind: zendesk, url: "https://acme.zendesk.com", email: a@b.c, token: "${{TOK}}", policy: three-tier}}
""")
        with PostgresStore(url) as s:
            s.lease_acquire("acme", "vm:4242:abc", "vm", 4242, 30, take_released=True, take_orphaned=True)
        assert status(tmp_path / "t.yaml") == 0
    line = next(x for x in capsys.readouterr().out.splitlines() if x.strip().startswith("lease:"))
    assert re.search(r"expires \S+ \S+ UTC \((now|in \d+ seconds?)\)$", line), line


def test_readyz_and_metrics_tell_holder_or_standby():
    from tierlift.service.ops.health import HealthServer, Heartbeat
    from tierlift.service.ops.metrics import Metrics

    beat, metrics = Heartbeat(), Metrics()
    server = HealthServer("127.0.0.1:0", beat, metrics, state_open=lambda: True, helpdesks=["a", "b"])
    beat.set_role("a", "holder")
    code, _, body = server.answer("/readyz")
    assert code == 503 and json.loads(body)["helpdesks_not_answering"] == ["a", "b"]
    beat.helpdesk_ok("a")
    code, _, body = server.answer("/readyz")  # a answers; b, not yet, is said
    assert code == 200 and json.loads(body)["helpdesks_not_answering"] == ["b"]
    beat.set_role("b", "standby")  # another replica holds b: not this one's to answer
    code, _, body = server.answer("/readyz")
    assert code == 200 and json.loads(body)["leases"] == {"a": "holder", "b": "standby"}
    metrics.lease_holder.labels(helpdesk="a").set(1)
    metrics.lease_holder.labels(helpdesk="b").set(0)
    text = metrics.render().decode()
    assert 'tierlift_lease_holder{helpdesk="a"} 1.0' in text and 'tierlift_lease_holder{helpdesk="b"} 0.0' in text


def test_one_clients_broken_helpdesk_leaves_the_replica_ready_and_says_so():
    """QA (a multi-tenant operator): one client's revoked token among forty made /readyz 503,
    and the shipped manifest's webhooks Service then dropped the replica: every client's
    webhooks failed. Not ready only when none of the helpdesks it serves answers."""
    from tierlift.service.ops.health import HealthServer, Heartbeat
    from tierlift.service.ops.metrics import Metrics

    beat = Heartbeat()
    server = HealthServer("127.0.0.1:0", beat, Metrics(), state_open=lambda: True, helpdesks=["good", "revoked"])
    beat.helpdesk_ok("good")
    beat.helpdesk_failed("revoked", "AuthError: HTTP 401", refused=True)
    code, _, body = server.answer("/readyz")
    said = json.loads(body)
    assert code == 200 and said["helpdesks_not_answering"] == ["revoked"]
    assert said["helpdesk_errors"] == {"revoked": "AuthError: HTTP 401"}
    beat.helpdesk_failed("good", "AuthError: HTTP 401", refused=True)  # a shared token rotated wrong: all refused
    assert server.answer("/readyz")[0] == 503


def test_a_write_request_is_not_sent_without_enough_lease_left():
    """The guard sits on the connector's transport: a write with too little lease left never
    reaches the helpdesk (the sandbox's own log), reads go on."""
    from tierlift.connectors.base import Secret
    from tierlift.connectors.transport import HelpdeskAdapter
    from tierlift.connectors.zendesk import ZendeskConnector, ZendeskSettings
    from tierlift.sandbox import Sandbox
    from tierlift.service.daemon.leases import write_guard
    from tierlift.service.daemon.state import LeaseLost

    left = [30.0]
    with Sandbox("zendesk", tickets=3, seed=1) as sb:
        c = ZendeskConnector(ZendeskSettings("hd", sb.url, "bot@example.com", Secret("t0k3n")),
                             adapter=HelpdeskAdapter(write_guard=write_guard(lambda: left[0], 5.0)))
        c.open()
        tid = next(iter(c.fetch(["1"]).values())).id
        writes = len([r for r in sb.requests_log() if r["write"]])
        left[0] = 4.0
        with pytest.raises(LeaseLost, match="not sent"):
            c.session.put(f"{sb.url}/api/v2/tickets/{tid}.json", json={"ticket": {"tags": ["x"]}})
        assert len([r for r in sb.requests_log() if r["write"]]) == writes
        assert c.fetch(["1"])  # reads are not guarded
        c.close()


def test_a_replica_paused_inside_a_transaction_does_not_hold_up_the_takeover(request: pytest.FixtureRequest):
    """A paused holder's open transaction holds its lease row FOR SHARE; the server ends that
    session after the idle timeout, so the next holder takes the lease, and the paused one's
    transaction commits nothing."""
    from tierlift.service.daemon.state import Fence, LeaseLost, StateDatabaseError
    from tierlift.service.daemon.store.postgres import PostgresStore

    url = request.getfixturevalue("pg_url")
    with PostgresStore(url, idle_timeout=0.5) as a, PostgresStore(url, busy_timeout=10) as b:
        epoch, _ = a.lease_acquire("zd", "a", "h", 1, 0.3, take_released=True, take_orphaned=True)
        a.set_fence(Fence("zd", "a", epoch, 0.0))
        with pytest.raises((StateDatabaseError, LeaseLost)), a.transaction():
            a.set_cursor("zd", "stale")  # the fence check locks the lease row
            time.sleep(0.35)  # the lease expires; the paused holder's transaction stays open
            t0 = time.monotonic()
            assert b.lease_acquire("zd", "b", "h", 2, 30, take_released=True, take_orphaned=True)[0] == epoch + 1
            assert time.monotonic() - t0 < 5  # the idle timeout, not b's 10 s lock timeout
            a.set_cursor("zd", "still stale")
        assert b.cursor("zd") is None


def test_a_learnt_triage_model_is_kept_and_only_an_accepted_one_is_in_use(store):
    """Both stores: `triage learn` saves a refit with its figures; nothing reads with it until
    `triage accept`; accepting another replaces it; None goes back to the shipped model."""
    assert store.accepted_triage_model("zd") is None
    store.save_triage_model("zd", "m1", {"tickets": 120}, b"\x00model one\xff")
    store.save_triage_model("zd", "m2", {"tickets": 140}, b"model two")
    store.save_triage_model("jira", "m1", {"tickets": 5}, b"other helpdesk")
    assert store.accepted_triage_model("zd") is None
    assert store.triage_model("zd", "m1") == b"\x00model one\xff"
    assert {m["model_id"]: m["figures"]["tickets"] for m in store.triage_models("zd")} == {"m1": 120, "m2": 140}
    assert store.accept_triage_model("zd", "m1") and store.accepted_triage_model("zd") == "m1"
    assert store.accept_triage_model("zd", "m2") and store.accepted_triage_model("zd") == "m2"
    assert not store.accept_triage_model("zd", "nope") and store.accepted_triage_model("zd") == "m2"
    assert store.accepted_triage_model("jira") is None
    assert store.accept_triage_model("zd", None) and store.accepted_triage_model("zd") is None


# --- nudges: webhooks forwarded to the lease holder (service/daemon/relay.py) -------------------
def test_a_forwarded_webhook_is_a_row_once_heard_by_the_listener_and_kept_until_done(pg, request):
    from tierlift.service.daemon.store.postgres import NudgeListener

    a, b = pg(), pg()
    listener = NudgeListener(request.getfixturevalue("pg_url"))
    try:
        assert listener.wait(0) is None  # connected: the caller looks at the rows (nothing heard before)
        assert a.nudges_forward([("zd", "id:d1", "7"), ("zd", "id:d2", "7"), ("jr", "id:d1", "SUP-1")], "r1") == \
            [True, True, True]
        assert b.nudges_forward([("zd", "id:d1", "7")], "r2") == [False]  # one delivery on two replicas: one row
        heard: list[str] = []
        for _ in range(20):
            heard += listener.wait(0.5) or []
            if {"zd", "jr"} <= set(heard):
                break
        assert {"zd", "jr"} <= set(heard)
        assert b.nudges_waiting("zd") == [("id:d1", "7"), ("id:d2", "7")]
        assert b.nudges_done("zd", ["id:d1"]) == 1
        assert b.nudges_waiting("zd") == [("id:d2", "7")]  # what was not marked done waits for the next holder
        assert a.nudges_forward([("zd", "id:d1", "7")], "r1") == [False]  # a late duplicate of a done delivery
        assert a.nudges_prune(3600) == 0
        assert a.nudges_prune(0) == 3
        assert a.nudges_waiting("zd") == [] and a.nudges_waiting("jr") == []
    finally:
        listener.close()


class _FailingCommit:
    """The store's connection, whose COMMIT fails as a full or failing disk makes it fail."""

    def __init__(self, conn: sqlite3.Connection):
        self._conn = conn

    def execute(self, sql: str, *args):
        if sql == "COMMIT":
            raise sqlite3.OperationalError("disk I/O error")
        return self._conn.execute(sql, *args)

    def __getattr__(self, name: str):
        return getattr(self._conn, name)


def test_a_commit_the_disk_refuses_is_a_state_database_error(path: Path):
    # Before: the OperationalError escaped as it was, and the worker took it for the
    # helpdesk's failure ("cycle failed: disk I/O error", then "answering again").
    from tierlift.service.daemon.state import StateDatabaseError

    store = StateStore(path)
    store._conn = _FailingCommit(store._conn)  # type: ignore[assignment]
    with pytest.raises(StateDatabaseError, match="state file .*: database error: disk I/O error"):
        with store.transaction():
            store.set_cursor("hd", "c1")
    store._conn = store._conn._conn  # type: ignore[attr-defined]
    assert store.cursor("hd") is None  # rolled back, nothing half-written
    store.close()


def test_a_full_disk_at_start_is_not_called_a_foreign_file(path: Path, monkeypatch: pytest.MonkeyPatch):
    # Before: "is not a tierlift state file (database or disk is full)", and the README says
    # to move such a file aside: a good state thrown away for a full disk.
    StateStore(path).close()

    def full(self, busy_timeout):
        raise sqlite3.OperationalError("database or disk is full")

    monkeypatch.setattr(state_mod.SqliteStore, "_open", full)
    with pytest.raises(StateError) as err:
        StateStore(path)
    assert "cannot be written (database or disk is full); the file itself may be fine" in str(err.value)
    assert "not a tierlift state file" not in str(err.value)


def test_a_private_copy_of_the_state_is_made_from_either_store_with_its_policies(store):
    # QA (replicas): on PostgreSQL every copy failed ("only '%s', '%b', '%t' are allowed as
    # placeholders, got '%'"): `plan` exited 1 and `run --once --dry-run` printed a traceback
    # per helpdesk and exited 0. The copy holds the index, and the policy each was decided under.
    store.upsert([entry("1", T0), entry("2")])
    assert store.policy_changed("zd", "digest-a", T0) is None  # the first policy recorded
    copy = store.snapshot()
    try:
        assert {e.ticket_id for e in copy.due("zd", T0 + timedelta(hours=1))} == {"1"}
        assert copy.index_size("zd") == 2
        assert copy.policy_changed("zd", "digest-a", T0) is None  # the same policy: nothing decided again
        assert copy.policy_changed("zd", "digest-b", T0) == 1  # an edited one: the ticket not yet due falls due
    finally:
        copy.close()
    assert store.policy_changed("zd", "digest-a", T0) is None  # the copy's change stayed in the copy


def test_a_new_text_model_makes_the_open_tickets_fall_due_as_a_new_policy_does(store):
    # QA (triage): after `triage accept` (or `accept shipped`), `history` said "due now: escalate"
    # for a legal notice the old model had only sent to review, while status and plan said
    # nothing was due and the daemon never acted: the index kept the old model's wake-ups.
    from tierlift.service.daemon.dryrun import Live
    from tierlift.service.daemon.policies import load_policy

    hd = SimpleNamespace(name="zd", policy=load_policy("teamflow"))
    store.upsert([entry("1", T0), entry("2")])
    mode = Live()
    assert mode.decide_again(store, hd, T0, "shipped-model") is None  # the first policy and model recorded
    assert mode.decide_again(store, hd, T0, "shipped-model") is None
    assert mode.decide_again(store, hd, T0, "shipped + refit-1 (0.43)") == 1  # the ticket not yet due falls due
    assert {e.ticket_id for e in store.due("zd", T0)} == {"1", "2"}
    assert mode.decide_again(store, hd, T0, "shipped + refit-1 (0.43)") is None


def test_both_stores_resolve_pages_and_forget_tickets(store: StateStore):
    """Schema 5's page resolutions and `tierlift forget`, on SQLite and PostgreSQL alike."""
    snap = json.dumps({"id": "1", "requester": "Zelda@Custpii.example", "description": "call me"})
    store.upsert([IndexEntry("zd", "1", "v1", 3, "open", None, snap, T0, T0, "pro", "Support", None, None),
                  entry("2")])
    for eid, tid in (("e1", "1"), ("e2", "2")):
        store.record_intent(intent(eid, tid))
        store.mark("zd", eid, "done")
        assert store.record_notification("zd", eid, "pagerduty")
        store.mark_notification("zd", eid, "pagerduty", "sent")
    assert store.open_pages("zd", ["1", "2", "3"]) == {"1": [("e1", "pagerduty")], "2": [("e2", "pagerduty")]}
    assert store.open_pages("zd", ["2"]) == {"2": [("e2", "pagerduty")]} and store.open_pages("zd", []) == {}
    assert store.record_resolution("zd", "e1", "pagerduty", "1") and not store.record_resolution("zd", "e1", "pagerduty", "1")
    store.mark_resolution("zd", "e1", "pagerduty", "failed", "HTTP 503")
    assert [(u.escalation_id, u.attempts, u.ticket_id) for u in store.unsent_resolutions("zd")] == [("e1", 1, "1")]
    assert store.open_pages("zd", ["1", "2"]) == {"2": [("e2", "pagerduty")]}  # asked once: not opened again
    assert store.tickets_of_requester("zd", "zelda@custpii.EXAMPLE") == ["1"]
    store.record_intent(intent("e3", "2"))  # a write in flight on ticket 2
    with pytest.raises(ValueError, match=r"ticket\(s\) 2: a write is being settled"):
        store.forget_tickets("zd", ["1", "2"])
    store.mark("zd", "e3", "done")
    counts = store.forget_tickets("zd", ["1"])
    assert counts == {"resolutions": 1, "notifications": 1, "journal": 1, "plans": 0, "quarantine": 0, "index": 1}
    assert store.get("zd", ["1", "2"]).keys() == {"2"} and store.intent("zd", "e1") is None
    assert store.intent("zd", "e2") is not None and store.open_pages("zd", ["1", "2"]) == {"2": [("e2", "pagerduty")]}
