"""`run --once` (a cron job or systemd timer) beside running replicas on PostgreSQL.

QA on replicas: a one-shot run counted itself a replica, so a running replica handed it
one of its leases; the run worked that helpdesk once, then waited for the leases the
replica kept and never exited, holding the one it had taken. P0s on that helpdesk waited
until the run was killed (3 minutes, or a timer's 5). A one-shot run is no replica: it
takes only the leases nobody holds and leaves the rest to their holders, and ends.
"""

from __future__ import annotations

import subprocess

import pytest

from kit import run_once
from pgkit import live_leases, missing_reason, one_replica

pytestmark = pytest.mark.skipif(missing_reason() is not None, reason=missing_reason() or "")


def test_a_one_shot_run_beside_a_replica_leaves_its_helpdesks_to_it_and_ends(tmp_path):
    with one_replica(tmp_path, ("zendesk", "zendesk"), "15s") as r:
        held = live_leases(r.url)
        try:
            once = run_once(r.config, timeout=60)
        except subprocess.TimeoutExpired:
            pytest.fail("run --once beside a running replica never ended")
        assert once.returncode == 0, once.stderr
        assert once.stderr.count("is held by a running replica: left to it by this run") == 2, once.stderr
        assert "lease acquired" not in once.stderr
        assert live_leases(r.url) == held, "the replica handed a lease to the one-shot run"
        assert "handed over" not in r.daemon.output()
