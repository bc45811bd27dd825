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
