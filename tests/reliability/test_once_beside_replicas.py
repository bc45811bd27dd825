"""`run --once` (a cron job or systemd timer) beside running replicas on PostgreSQL.

QA on replicas: a one-shot run counted itself a replica, so a running replica handed it
one of its leases; the run worked that helpdesk once, then waited for the leases the
replica kept and never exited, holding the one it had taken. P0s on that helpdesk waited
until the run was killed (3 minutes, or a timer's 5). A one-shot run is no replica: it
takes only the leases nobody holds and leaves the rest to their holders, and ends.
"""

from __future__ import annotations

import subprocess
import time
from datetime import UTC, datetime

import psycopg
import pytest

from tierlift.sandbox import Sandbox

from kit import Daemon, free_port, helpdesk, run_once, write_config
from pgkit import PgServer, missing_reason

pytestmark = pytest.mark.skipif(missing_reason() is not None, reason=missing_reason() or "")
NOW = datetime(2026, 11, 2, 13, 0, tzinfo=UTC)


def _holders(url: str) -> dict[str, int]:
    """The live leases: helpdesk -> holder's pid (none before the daemon made the table)."""
    try:
        with psycopg.connect(url) as conn:
            rows = conn.execute("select helpdesk, pid from leases where expires_at > now()").fetchall()
    except psycopg.errors.UndefinedTable:
        return {}
    return {h: pid for h, pid in rows}


def test_a_one_shot_run_beside_a_replica_leaves_its_helpdesks_to_it_and_ends(tmp_path):
    server = PgServer()
    try:
        url = server.new_database()
        with Sandbox("zendesk", tickets=10, seed=7, now=NOW) as a, Sandbox("zendesk", tickets=10, seed=8, now=NOW) as b:
            cfg = write_config(tmp_path, [helpdesk(a, "a"), helpdesk(b, "b")], clock_url=a.url,
                               state={"url": url, "lease_ttl": "15s"}, http={"listen": f"127.0.0.1:{free_port()}"})
            replica = Daemon(cfg, tmp_path / "replica.log")
            try:
                deadline = time.monotonic() + 60
                while set(_holders(url)) != {"a", "b"}:
                    assert replica.alive() and time.monotonic() < deadline, "the replica never held both leases"
                    time.sleep(0.2)
                held = _holders(url)
                try:
                    once = run_once(cfg, timeout=60)
                except subprocess.TimeoutExpired:
                    pytest.fail("run --once beside a running replica never ended")
                assert once.returncode == 0, once.stderr
                assert once.stderr.count("is held by a running replica: left to it by this run") == 2, once.stderr
                assert "lease acquired" not in once.stderr
                assert _holders(url) == held, "the replica handed a lease to the one-shot run"
                assert "handed over" not in (tmp_path / "replica.log").read_text()
            finally:
                replica.terminate(15)
    finally:
        server.close()
