"""A replica's leases while PostgreSQL is stopped: the outage logged once, not per beat.

QA on replicas: while PostgreSQL was stopped for 52 s, each replica logged "cannot claim its
lease" and "lease renewal failed" every 5 s per helpdesk, for the whole outage. A replica
now logs the outage once when it begins (with the error) and once when it ends (with how
long it lasted).
"""

from __future__ import annotations

import re
import time
from datetime import UTC, datetime

import psycopg
import pytest

from tierlift.sandbox import Sandbox

from kit import Daemon, free_port, helpdesk, wait_until, write_config
from pgkit import PgServer, missing_reason

pytestmark = pytest.mark.skipif(missing_reason() is not None, reason=missing_reason() or "")
NOW = datetime(2026, 11, 2, 13, 0, tzinfo=UTC)


def _held(url: str) -> set[str]:
    try:
        with psycopg.connect(url) as conn:
            return {r[0] for r in conn.execute("select helpdesk from leases where expires_at > now()")}
    except psycopg.errors.UndefinedTable:
        return set()


def test_a_stopped_database_is_logged_once_when_it_goes_and_once_when_it_comes_back(tmp_path):
    server = PgServer()
    try:
        url = server.new_database()
        with Sandbox("zendesk", tickets=5, seed=7, now=NOW) as a, Sandbox("jira", tickets=5, seed=8, now=NOW) as b:
            cfg = write_config(tmp_path, [helpdesk(a, "a"), helpdesk(b, "b")], clock_url=a.url,
                               state={"url": url, "lease_ttl": "6s"}, http={"listen": f"127.0.0.1:{free_port()}"})
            replica = Daemon(cfg, tmp_path / "replica.log")
            try:
                assert wait_until(lambda: _held(url) == {"a", "b"}, timeout=60), replica.output()
                server.stop()
                time.sleep(12)  # 6 renewals (TTL/3) and a dozen claims of each helpdesk
                server.start()
                assert replica.wait_for("state database answering again", timeout=60), replica.output()
                assert wait_until(lambda: _held(url) == {"a", "b"}, timeout=60), replica.output()
            finally:
                replica.terminate(15)
            log = replica.output()
    finally:
        server.close()
    assert log.count("state database failing: leases cannot be claimed or renewed") == 1, log
    assert log.count("state database answering again") == 1, log
    assert int(re.search(r"state database answering again down_seconds=(\d+)", log)[1]) >= 5, log
    assert "cannot claim its lease" not in log and "lease renewal failed" not in log, log
