"""A replica's leases while PostgreSQL is stopped: the outage logged once, not per beat.

QA on replicas: while PostgreSQL was stopped for 52 s, each replica logged "cannot claim its
lease" and "lease renewal failed" every 5 s per helpdesk, for the whole outage. A replica
now logs the outage once when it begins (with the error) and once when it ends (with how
long it lasted).
"""

from __future__ import annotations

import re
import time

import pytest

from kit import wait_until
from pgkit import live_leases, missing_reason, one_replica

pytestmark = pytest.mark.skipif(missing_reason() is not None, reason=missing_reason() or "")


def test_a_stopped_database_is_logged_once_when_it_goes_and_once_when_it_comes_back(tmp_path):
    with one_replica(tmp_path, ("zendesk", "jira"), "6s") as r:
        r.server.stop()
        time.sleep(12)  # 6 renewals (TTL/3) and a dozen claims of each helpdesk
        r.server.start()
        assert r.daemon.wait_for("state database answering again", timeout=60), r.daemon.output()
        assert wait_until(lambda: set(live_leases(r.url)) == {"a", "b"}, timeout=60), r.daemon.output()
        log = r.daemon.output()
    assert log.count("state database failing: leases cannot be claimed or renewed") == 1, log
    assert log.count("state database answering again") == 1, log
    assert int(re.search(r"state database answering again down_seconds=(\d+)", log)[1]) >= 5, log
    assert "cannot claim its lease" not in log and "lease renewal failed" not in log, log
