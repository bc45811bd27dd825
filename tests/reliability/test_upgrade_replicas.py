"""A rolling update on PostgreSQL: a replica of this release starts while a replica of an
older release (an older state schema) still runs on the database.

Found by the upgrade QA: the new replica migrated at once, before holding any lease, and
the older one then failed every cycle ("column dry_run does not exist") while it kept its
leases and answered ready; its helpdesks were escalated by nobody until it was stopped.
The new replica now stands by, ready (so the rollout goes on and stops the old pod), and
migrates once the older replicas are gone. Judged from the database's schema version and
the sandbox's own record (the escalation notes written).
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest
import requests

from tierlift.sandbox import Sandbox
from tierlift.service.daemon.store.schema import migrations

from kit import Daemon, cli, free_port, write_config
from pgkit import missing_reason
from reliakit import NOW, helpdesk

pytestmark = pytest.mark.skipif(missing_reason() is not None, reason=missing_reason() or "")


def schema(url: str) -> str:
    import psycopg

    with psycopg.connect(url) as c:
        return c.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()[0]


def escalation_notes(sb: Sandbox) -> int:
    return sum(1 for cs in sb.store.comments.values() for c in cs
               if not c["public"] and "[tierlift escalation=" in c["body"])


def test_a_new_replica_waits_for_the_older_ones_before_migrating(tmp_path: Path, pg_server):
    import psycopg

    url = pg_server.new_database("upgrade")
    with psycopg.connect(url, autocommit=True) as c:
        for v, statements in migrations("postgresql")[:3]:  # as the release before this one left it
            for sql in statements:
                c.execute(sql)
            c.execute("INSERT INTO meta (key, value) VALUES ('schema_version', %s)"
                      " ON CONFLICT (key) DO UPDATE SET value = excluded.value", (str(v),))
        # an older replica, beating
        c.execute("INSERT INTO replicas VALUES ('old-pod', 'old-host', 4242, clock_timestamp(),"
                  " clock_timestamp() + interval '1 hour')")
    port = free_port()
    with Sandbox("zendesk", tickets=30, seed=7, now=NOW) as sb:
        config = write_config(tmp_path, [helpdesk(sb)], clock_url=sb.url, http={"listen": f"127.0.0.1:{port}"},
                              state={"url": url, "lease_ttl": "4s"})
        # A timer's `run --once` does not stand by for ever: it says why and ends (exit 1).
        once = cli("run", "--once", "--config", str(config), timeout=60)
        assert once.returncode == 1 and "replica(s) of an older tierlift still run" in once.stderr, once.stderr
        # The database answered: not "did not answer", which sends on-call to PostgreSQL (QA, an SRE).
        assert "did not answer" not in once.stderr and "the state database answered" in once.stderr, once.stderr
        assert schema(url) == "3" and escalation_notes(sb) == 0
        new = Daemon(config, tmp_path / "new.log")
        try:
            line = new.expect("waiting for replicas of an older tierlift to stop", 60)
            assert "3 -> " in line and "live_replicas=1" in line, line
            time.sleep(2)  # several looks later: still standing by, nothing migrated, nothing written
            assert schema(url) == "3" and escalation_notes(sb) == 0
            ready = requests.get(f"http://127.0.0.1:{port}/readyz", timeout=5)
            assert ready.status_code == 200 and ready.json()["leases"] == {"hd": "standby"}, ready.text
            with psycopg.connect(url, autocommit=True) as c:  # the rollout stopped the old pod
                c.execute("DELETE FROM replicas WHERE holder = 'old-pod'")
            new.expect("the older replicas stopped: migrating the state schema", 30)
            deadline = time.monotonic() + 60
            while escalation_notes(sb) == 0 and time.monotonic() < deadline:
                time.sleep(0.2)
            assert escalation_notes(sb) > 0, new.output()[-3000:]
            assert schema(url) != "3"
        finally:
            new.terminate()
