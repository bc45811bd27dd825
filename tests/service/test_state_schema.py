"""One declared schema (store/schema.py): a database created at any older schema version
migrates to the same tables and columns as a new one, on SQLite and on PostgreSQL, and the
two stores share every table but the replicas' own.

PostgreSQL's cases run on tests/pgkit.py's throwaway server and skip, saying why, where its
binaries are missing.
"""

from __future__ import annotations

import sqlite3
from contextlib import closing
from pathlib import Path

import pytest

from tierlift.service.daemon.state import StateStore
from tierlift.service.daemon.store.schema import SCHEMA_VERSION, migrations

Columns = dict[str, list[tuple[str, str, bool]]]  # table -> (column, type, not null)
REPLICAS_ONLY = {"leases", "lease_history", "replicas", "nudges"}
# The type names PostgreSQL's catalogue gives for the words the statements use.
PG_TYPES = {"text": "TEXT", "integer": "INTEGER", "bigint": "BIGINT", "boolean": "BOOLEAN",
            "timestamp with time zone": "TIMESTAMPTZ"}


def sqlite_columns(path: Path) -> Columns:
    with closing(sqlite3.connect(path)) as c:
        tables = [r[0] for r in c.execute("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")]
        return {t: [(r[1], r[2].upper(), bool(r[3]) or bool(r[5]))
                    for r in c.execute(f"PRAGMA table_info({t})")] for t in tables}


def sqlite_at(path: Path, version: int) -> None:
    """A state file as a tierlift of schema `version` left it."""
    with closing(sqlite3.connect(path, isolation_level=None)) as c:
        for v, statements in migrations("sqlite")[:version]:
            for sql in statements:
                c.execute(sql)
            c.execute("INSERT OR REPLACE INTO meta (key, value) VALUES ('schema_version', ?)", (str(v),))
            c.execute("PRAGMA application_id = 1414284884")


def pg_columns(conn) -> Columns:
    rows = conn.execute(
        "SELECT c.table_name, c.column_name, c.data_type, c.is_nullable = 'NO' FROM information_schema.columns c"
        " JOIN information_schema.tables t USING (table_schema, table_name)"
        " WHERE c.table_schema = current_schema() AND t.table_type = 'BASE TABLE'"
        " ORDER BY c.table_name, c.ordinal_position").fetchall()
    out: Columns = {}
    for table, column, kind, not_null in rows:
        out.setdefault(table, []).append((column, PG_TYPES.get(kind, kind), bool(not_null)))
    return out


def pg_at(url: str, version: int) -> None:
    psycopg = pytest.importorskip("psycopg")
    with psycopg.connect(url, autocommit=True) as c:
        for v, statements in migrations("postgresql")[:version]:
            for sql in statements:
                c.execute(sql)
            c.execute("INSERT INTO meta (key, value) VALUES ('schema_version', %s)"
                      " ON CONFLICT (key) DO UPDATE SET value = excluded.value", (str(v),))


def pg_store_columns(url: str) -> Columns:
    psycopg = pytest.importorskip("psycopg")
    from tierlift.service.daemon.store.postgres import PostgresStore

    with PostgresStore(url) as store:
        assert store.schema_version == SCHEMA_VERSION
    with psycopg.connect(url) as c:
        return pg_columns(c)


@pytest.mark.parametrize("version", range(SCHEMA_VERSION))
def test_an_old_state_file_migrates_to_the_new_files_tables(tmp_path: Path, version: int):
    new, old = tmp_path / "new.sqlite3", tmp_path / "old.sqlite3"
    StateStore(new).close()
    sqlite_at(old, version)
    with StateStore(old) as s:
        assert s.schema_version == SCHEMA_VERSION
    assert sqlite_columns(old) == sqlite_columns(new)


@pytest.mark.parametrize("version", range(SCHEMA_VERSION))
def test_an_old_database_migrates_to_the_new_databases_tables_and_the_files(pg_server, tmp_path: Path,
                                                                            version: int):
    new, old = pg_server.new_database(), pg_server.new_database()
    pg_at(old, version)
    migrated = pg_store_columns(old)
    assert migrated == pg_store_columns(new)
    path = tmp_path / "state.sqlite3"
    StateStore(path).close()
    shared = {t: cols for t, cols in migrated.items() if t not in REPLICAS_ONLY}
    assert shared == sqlite_columns(path)
    assert set(migrated) - set(shared) == REPLICAS_ONLY


def test_both_stores_run_the_one_declared_schema():
    from tierlift.service.daemon.store import postgres, sqlite

    assert sqlite.MIGRATIONS == migrations("sqlite") and postgres.MIGRATIONS == migrations("postgresql")
    assert sqlite.SCHEMA_VERSION == postgres.SCHEMA_VERSION == SCHEMA_VERSION


# Rows as a schema-3 tierlift left them: one intent with a notification, a dry run's plan of
# the same escalation beside it (the old key told them apart by dry_run), and another plan.
V3_ROWS = (
    "INSERT INTO journal VALUES ('zd', 'e1', 0, '7', 'escalate', 1, 2, 'sla-75', 'l2', '{}', 'done',"
    " '2026-03-02T09:00:00.000000+00:00', '2026-03-02T09:00:05.000000+00:00', 0, '')",
    "INSERT INTO journal VALUES ('zd', 'e1', 1, '7', 'escalate', 1, 3, 'outage', 'l3', '{}', 'done',"
    " '2026-03-02T08:59:00.000000+00:00', '2026-03-02T08:59:01.000000+00:00', 0, 'dry-run')",
    "INSERT INTO journal VALUES ('zd', 'e2', 1, '8', 'route', 1, 1, 'route', 'l1', '{}', 'done',"
    " '2026-03-02T09:01:00.000000+00:00', NULL, 0, 'dry-run')",
    "INSERT INTO notifications VALUES ('zd', 'e1', 'slack', 0, 'pending', 1, '',"
    " '2026-03-02T09:00:05.000000+00:00', '2026-03-02T09:00:05.000000+00:00')",
)


def v3_file(path: Path) -> None:
    """A schema-3 state file with V3_ROWS in it, as the release before the plans table left it."""
    sqlite_at(path, 3)
    with closing(sqlite3.connect(path, isolation_level=None)) as c:
        for sql in V3_ROWS:
            c.execute(sql)


def _kept_apart(store) -> None:
    """What the schema-4 store reads from V3_ROWS: the intent in the journal, the plans apart."""
    assert [(i.escalation_id, i.tier_after, i.status, i.planned) for i in store.intents("zd")] == [
        ("e1", 2, "done", False)]
    assert [(p.escalation_id, p.tier_after, p.detail, p.planned) for p in store.plans("zd")] == [
        ("e1", 3, "dry-run", True), ("e2", 1, "dry-run", True)]
    assert list(store.plans("zd"))[1].done_at == list(store.plans("zd"))[1].created_at  # planned_at from NULL
    assert store.pending_notifications("zd") == [("e1", "slack", 1)]
    assert store.ledger("zd", "7")[0][1:4] == (1, 2, "sla-75")  # the plan is not in the ledger


def test_a_schema_3_file_keeps_its_intents_and_moves_its_plans_apart(tmp_path: Path):
    path = tmp_path / "state.sqlite3"
    v3_file(path)
    with StateStore(path) as s:
        _kept_apart(s)
    with closing(sqlite3.connect(path)) as c:  # the notification still belongs to its intent
        c.execute("PRAGMA foreign_keys = ON")
        with pytest.raises(sqlite3.IntegrityError):
            c.execute("INSERT INTO notifications VALUES ('zd', 'e9', 'slack', 'pending', 0, '', 'x', 'x')")


def test_a_schema_3_database_keeps_its_intents_and_moves_its_plans_apart(pg_server):
    psycopg = pytest.importorskip("psycopg")
    from tierlift.service.daemon.store.postgres import PostgresStore

    url = pg_server.new_database()
    pg_at(url, 3)
    with psycopg.connect(url, autocommit=True) as c:
        for sql in V3_ROWS:
            c.execute(sql)
    with PostgresStore(url) as s:
        _kept_apart(s)
    with psycopg.connect(url, autocommit=True) as c, pytest.raises(psycopg.errors.ForeignKeyViolation):
        c.execute("INSERT INTO notifications VALUES ('zd', 'e9', 'slack', 'pending', 0, '', 'x', 'x')")


def stored_version(path: Path) -> str:
    with closing(sqlite3.connect(path)) as c:
        return c.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()[0]


def test_a_reading_tool_reads_an_older_file_without_migrating_it(tmp_path: Path):
    # Upgrade QA: main's `status` (or report, history --offline, plan) migrated a schema-3 file
    # under the older daemon still running on it, which then failed every cycle ("no such
    # column: dry_run") and escalated nothing until it was stopped.
    path = tmp_path / "state.sqlite3"
    v3_file(path)
    with StateStore(path, migrate=False) as s:
        assert s.copied_from_schema == 3 and s.schema_version == SCHEMA_VERSION
        _kept_apart(s)  # read as the new schema reads it
    assert stored_version(path) == "3", "the file is the older daemon's still"
    assert not list(tmp_path.glob("*.bak")), "a reading tool keeps no copy: it changed nothing"


def test_the_daemon_keeps_the_older_file_beside_it_before_migrating(tmp_path: Path):
    # Going back to the older release needs its schema (it refuses a newer one), and nothing
    # kept one: the README's downgrade had no file to go back to.
    path = tmp_path / "state.sqlite3"
    v3_file(path)
    with StateStore(path) as s:
        assert s.schema_version == SCHEMA_VERSION and s.copied_from_schema is None
    assert stored_version(path) == str(SCHEMA_VERSION)
    kept = tmp_path / "state.sqlite3.schema3.bak"
    assert stored_version(kept) == "3" and sqlite_columns(kept)["journal"][2][0] == "dry_run"
    StateStore(path).close()  # opened again at the new schema: nothing more is kept
    assert [p.name for p in tmp_path.glob("*.bak")] == ["state.sqlite3.schema3.bak"]


def test_a_second_upgrade_after_going_back_keeps_the_older_file_as_it_is_then(tmp_path: Path):
    """QA (an SRE): upgraded, gone back with the copy (docs/upgrading.md), the older release ran
    on for days; at the next upgrade the copy kept was the first one, days old. Going back with
    it again would forget what the older release journaled meanwhile (its pages sent again)."""
    import shutil

    path = tmp_path / "state.sqlite3"
    v3_file(path)
    StateStore(path).close()
    kept = tmp_path / "state.sqlite3.schema3.bak"
    path.unlink()
    shutil.copy(kept, path)  # going back
    with closing(sqlite3.connect(path, isolation_level=None)) as c:  # the older release journals on
        c.execute("INSERT INTO meta (key, value) VALUES ('written_after_going_back', 'yes')")
    StateStore(path).close()  # the second upgrade
    with closing(sqlite3.connect(kept)) as c:
        assert c.execute("SELECT value FROM meta WHERE key = 'written_after_going_back'").fetchone() == ("yes",)
    assert stored_version(kept) == "3" and stored_version(path) == str(SCHEMA_VERSION)


def test_the_reading_commands_leave_an_older_file_as_it_is(tmp_path: Path):
    from tierlift.sandbox import Sandbox

    from kit import cli, write_config
    from servicekit import helpdesk

    path = tmp_path / "state.sqlite3"
    v3_file(path)
    with Sandbox("zendesk", tickets=3) as sb:
        config = write_config(tmp_path, [helpdesk("zd", sb)])
        for args in (["status"], ["report", "--since", "30d"], ["history", "7", "--offline"], ["plan"]):
            r = cli(*args, "--config", str(config))
            assert r.returncode in (0, 1), (args, r.stderr)
            assert "Traceback" not in r.stderr, (args, r.stderr)
            assert stored_version(path) == "3", f"`tierlift {' '.join(args)}` migrated the older daemon's file"
        # QA (an SRE upgrading): `triage eval` and `triage learn` migrated the file under the
        # older daemon, whose next start was refused ("written by a newer tierlift"). eval reads
        # a copy; a command that writes refuses, saying what to do.
        r = cli("triage", "eval", "--config", str(config))
        assert r.returncode == 0, r.stderr
        for args in (["triage", "learn", "--since", "30d"], ["triage", "forget", "--helpdesk", "zd", "all"], ["forget", "--helpdesk",
                                                                                            "zd", "7"]):
            r = cli(*args, "--config", str(config))
            assert r.returncode == 1 and "is at schema 3, an older tierlift's; this command writes to it" in r.stderr, \
                (args, r.stderr)
            assert "start this version's daemon first" in r.stderr, r.stderr
        assert stored_version(path) == "3", "a tool migrated the older daemon's file"
        assert not list(tmp_path.glob("*.bak"))


def test_a_reading_tool_refuses_an_older_database_without_migrating_it(pg_server):
    psycopg = pytest.importorskip("psycopg")
    from tierlift.service.daemon.state import StateError
    from tierlift.service.daemon.store.postgres import PostgresStore

    url = pg_server.new_database()
    pg_at(url, 3)
    with pytest.raises(StateError, match="is at schema 3, an older tierlift's; tools do not migrate it"):
        PostgresStore(url, migrate=False)
    with psycopg.connect(url) as c:
        assert c.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()[0] == "3"


# --- going back one release without losing what this one journaled (`tierlift downgrade`) ----


def _downgrade_config(tmp_path: Path, **top) -> Path:
    from types import SimpleNamespace

    from kit import helpdesk, write_config

    box = SimpleNamespace(flavor="zendesk", url="http://127.0.0.1:9")  # never asked: the command reads the state
    return write_config(tmp_path, [helpdesk(box, "zd")], **top)


def _sent_page(store) -> None:
    """A page journaled and sent by this release: the older one must not send it again."""
    from datetime import UTC, datetime

    from tierlift.service.daemon.state import Intent

    now = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
    store.record_intent(Intent("zd", "e1", "7", "escalate", 1, 3, "outage", "", "{}", "done", now, now))
    store.record_notification("zd", "e1", "pagerduty")
    store.mark_notification("zd", "e1", "pagerduty", "sent")


def test_downgrade_takes_the_file_back_one_release_keeping_what_this_one_journaled(tmp_path: Path):
    """QA (an SRE): going back with the copy kept before migrating forgot that this release had
    sent and resolved a page that was failing at the upgrade; the older release paged it again."""
    from kit import cli

    config = _downgrade_config(tmp_path)
    path = tmp_path / "state.sqlite3"
    with StateStore(path) as store:
        _sent_page(store)
    older = tmp_path / "older.sqlite3"
    sqlite_at(older, SCHEMA_VERSION - 1)
    r = cli("downgrade", "--config", str(config), SANDBOX_TOKEN="")  # a shell without the daemon's environment
    assert r.returncode == 0, r.stderr
    assert f"schema {SCHEMA_VERSION} -> {SCHEMA_VERSION - 1}" in r.stdout and "PagerDuty resolutions" in r.stdout
    assert stored_version(path) == str(SCHEMA_VERSION - 1)
    assert sqlite_columns(path) == sqlite_columns(older), "not the schema the previous release keeps"
    with closing(sqlite3.connect(path)) as c:
        assert c.execute("SELECT status FROM notifications WHERE escalation_id = 'e1'").fetchall() == [("sent",)]
        assert c.execute("SELECT status FROM journal WHERE escalation_id = 'e1'").fetchall() == [("done",)]
    again = cli("downgrade", "--config", str(config))  # one step only, and said so
    assert again.returncode == 1 and f"is at schema {SCHEMA_VERSION - 1}" in again.stderr, again.stderr
    with StateStore(path) as store:  # this release's daemon migrates it again
        assert store.schema_version == SCHEMA_VERSION


def test_downgrade_refuses_while_a_daemon_holds_the_file(tmp_path: Path):
    from tierlift.service.daemon.leases import FileLock

    from kit import cli

    config = _downgrade_config(tmp_path)
    path = tmp_path / "state.sqlite3"
    StateStore(path).close()
    lock = FileLock(path)
    lock.acquire()
    try:
        r = cli("downgrade", "--config", str(config))
    finally:
        lock.release()
    assert r.returncode == 1 and "in use by another tierlift daemon" in r.stderr, r.stderr
    assert stored_version(path) == str(SCHEMA_VERSION)


def test_downgrade_of_a_database_waits_for_no_replica_and_leaves_the_previous_schema(pg_server, tmp_path: Path):
    psycopg = pytest.importorskip("psycopg")
    from tierlift.service.daemon.store.postgres import PostgresStore

    from kit import cli

    url, older = pg_server.new_database(), pg_server.new_database()
    pg_at(older, SCHEMA_VERSION - 1)
    with PostgresStore(url) as store:
        _sent_page(store)
    with psycopg.connect(url, autocommit=True) as c:
        c.execute("INSERT INTO replicas (holder, host, pid, seen_at, expires_at)"
                  " VALUES ('r1', 'h', 1, now(), now() + interval '1 hour')")
    config = _downgrade_config(tmp_path, state={"url": url})
    r = cli("downgrade", "--config", str(config))
    assert r.returncode == 1 and "1 replica(s) still run on it" in r.stderr, r.stderr
    with psycopg.connect(url, autocommit=True) as c:
        c.execute("DELETE FROM replicas")
    r = cli("downgrade", "--config", str(config))
    assert r.returncode == 0, r.stderr
    with psycopg.connect(url) as c, psycopg.connect(older) as o:
        assert pg_columns(c) == pg_columns(o)
        assert c.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()[0] == str(SCHEMA_VERSION - 1)
        assert c.execute("SELECT status FROM notifications WHERE escalation_id = 'e1'").fetchall() == [("sent",)]
