"""A throwaway PostgreSQL for the tests: initdb + pg_ctl in a temporary folder, on a free port.

- Uses only a server it started itself: never $PGHOST, never a running one.
- initdb refuses to run as root: as root, the server runs as `postgres` (runuser).
- Where the binaries are missing, the tests that need it skip with that reason
  (CI installs Debian's `postgresql`, see .ci/run).
- One server per test session (``pg_server`` fixture); each test gets a fresh
  database from ``pg_url``.
"""

from __future__ import annotations

import glob
import itertools
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import psycopg
import pytest

from tierlift.sandbox import Sandbox

from kit import Daemon, free_port, helpdesk, wait_until, write_config

ROOT = hasattr(os, "geteuid") and os.geteuid() == 0
_counter = itertools.count()


def find_bin() -> Path | None:
    """The folder of initdb and pg_ctl: PATH, then Debian's /usr/lib/postgresql/N/bin."""
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=lambda p: int(p.split("/")[-2]), reverse=True)
    for folder in candidates:
        if os.access(os.path.join(folder, "initdb"), os.X_OK) and os.access(os.path.join(folder, "pg_ctl"), os.X_OK):
            return Path(folder)
    initdb, pg_ctl = shutil.which("initdb"), shutil.which("pg_ctl")
    if initdb and pg_ctl:
        return Path(pg_ctl).parent
    return None


def missing_reason() -> str | None:
    if find_bin() is None:
        return "PostgreSQL's binaries (initdb, pg_ctl) are not installed: apt-get install postgresql"
    if ROOT and shutil.which("runuser") is None:
        return "running as root without runuser: initdb refuses root"
    try:
        import psycopg  # noqa: F401
    except ImportError:
        return "psycopg is not installed: pip install 'tierlift[postgres]'"
    return None


class PgServer:
    """One PostgreSQL cluster in a temporary folder, owned by this object."""

    def __init__(self) -> None:
        self.bin = find_bin()
        assert self.bin is not None, missing_reason()
        self.folder = Path(tempfile.mkdtemp(prefix="tierlift-pg-"))
        self.data = self.folder / "data"
        self.port = free_port()
        self.user = "postgres" if ROOT else os.environ.get("USER") or "postgres"
        if ROOT:
            os.chmod(self.folder, 0o755)
            shutil.chown(self.folder, "postgres", "postgres")
        self._run("initdb", "-D", str(self.data), "-U", "tierlift", "--auth=trust", "-E", "UTF8",
                  "--no-sync", "-N")
        self.start()

    def _run(self, tool: str, *args: str) -> None:
        cmd = [str(self.bin / tool), *args]
        if ROOT:
            cmd = ["runuser", "-u", "postgres", "--", *cmd]
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, timeout=120)

    def start(self) -> None:
        # fsync off: a throwaway cluster; the tests kill replicas, never this machine.
        opts = (f"-p {self.port} -k {self.folder} -c listen_addresses=127.0.0.1 -c fsync=off"
                " -c synchronous_commit=off -c full_page_writes=off -c max_connections=200")
        self._run("pg_ctl", "-D", str(self.data), "-o", opts, "-l", str(self.folder / "log"), "-w", "start")

    def stop(self, mode: str = "fast") -> None:
        self._run("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "stop")

    def restart(self) -> None:
        """A database restart as replicas meet it: every session dropped, the data kept."""
        self.stop("fast")
        self.start()

    def url(self, db: str = "postgres") -> str:
        return f"postgresql://tierlift@127.0.0.1:{self.port}/{db}"

    def new_database(self, prefix: str = "t") -> str:
        import psycopg

        name = f"{prefix}_{os.getpid()}_{next(_counter)}"
        with psycopg.connect(self.url(), autocommit=True) as c:
            c.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def close(self) -> None:
        try:
            self.stop("immediate")
        except subprocess.SubprocessError:
            pass
        shutil.rmtree(self.folder, ignore_errors=True)


@pytest.fixture(scope="session")
def pg_server():
    reason = missing_reason()
    if reason:
        pytest.skip(reason)
    server = PgServer()
    try:
        yield server
    finally:
        server.close()


@pytest.fixture
def pg_url(pg_server: PgServer) -> str:
    return pg_server.new_database()


def live_leases(url: str) -> dict[str, int]:
    """The leases no one let expire: helpdesk -> its holder's pid (none before a daemon made the table)."""
    try:
        with psycopg.connect(url) as conn:
            rows = conn.execute("select helpdesk, pid from leases where expires_at > now()").fetchall()
    except psycopg.errors.UndefinedTable:
        return {}
    return {h: pid for h, pid in rows}


@dataclass
class OneReplica:
    server: PgServer
    url: str
    config: Path
    daemon: Daemon


@contextmanager
def one_replica(folder: Path, flavors: tuple[str, str], lease_ttl: str) -> Iterator[OneReplica]:
    """A throwaway PostgreSQL, two sandbox helpdesks `a` and `b` (of `flavors`), and one replica
    daemon on them, once it holds both leases; all of it stopped on the way out."""
    now = datetime(2026, 11, 2, 13, 0, tzinfo=UTC)
    server = PgServer()
    try:
        url = server.new_database()
        with Sandbox(flavors[0], tickets=5, seed=7, now=now) as a, Sandbox(flavors[1], tickets=5, seed=8, now=now) as b:
            cfg = write_config(folder, [helpdesk(a, "a"), helpdesk(b, "b")], clock_url=a.url,
                               state={"url": url, "lease_ttl": lease_ttl}, http={"listen": f"127.0.0.1:{free_port()}"})
            replica = Daemon(cfg, folder / "replica.log")
            try:
                assert wait_until(lambda: set(live_leases(url)) == {"a", "b"}, timeout=60), replica.output()
                yield OneReplica(server, url, cfg, replica)
            finally:
                replica.terminate(15)
    finally:
        server.close()
