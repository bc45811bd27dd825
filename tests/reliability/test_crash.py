"""Suite 1: crash and restart. SIGKILL the daemon at random moments, and on purpose
between the helpdesk write and the journal update, before the write, and inside
the SQLite transaction that moves the cursor; restart it each time until the work
is done. Then every due escalation is in the helpdesk exactly once: one note
marker per escalation, the right tags and group, the customer reply once, no
ticket missed. The expected set comes from the engine alone (reliakit.expected).
"""

from __future__ import annotations

import random
import sqlite3
import time

import pytest

from reliakit import (
    Daemon,
    assert_exactly_once,
    expected,
    helpdesk,
    outcome,
    record,
    seeded_sandbox,
    settle,
    size,
    write_config,
)

DUE = size(150, 2000)
SIGNAL_KILLS = size(8, 30)
FAILPOINT_KILLS = size(1, 5)  # of each kind, while there is still work to interrupt
# in_commit is hit once per page; the write points' rate is set from the work.
FAILPOINTS = {"after_write": 0.0, "before_write": 0.0, "in_commit": 0.4}


@pytest.mark.slow
def test_sigkill_at_random_and_at_failpoints_applies_every_escalation_exactly_once(tmp_path):
    sb = seeded_sandbox(DUE)
    try:
        _storm(sb, tmp_path)
    finally:
        sb.stop()


def _storm(sb, tmp_path):
    exp = expected(sb)
    assert exp.due_tickets >= DUE
    config = write_config(tmp_path, [helpdesk(sb, page_size=100)], clock_url=sb.url)
    log = tmp_path / "daemon.log"
    rng = random.Random(20261102)
    total = sum(exp.escalations.values())
    kills = dict.fromkeys(["signal", *FAILPOINTS], 0)
    started = time.monotonic()
    runs = 0
    done_at_run = None

    def applied() -> int:
        return outcome(sb, exp).applied

    # The plan: first the write failpoints (between the journal and the write, between
    # the write and the journal), while writes remain to interrupt; a write failpoint
    # fires after ~1/rate writes, the rate set from the work so each kind gets its
    # kills. Then SIGKILL at random moments (imports, migration, reading, writing,
    # sleeping), with a kill inside the transaction that moves the cursor every third
    # run (hit once per page of 100), until both counts are reached and the work is done.
    write_rate = min(0.2, 3 * len(FAILPOINTS) * FAILPOINT_KILLS / total)
    plan = [p for _ in range(FAILPOINT_KILLS) for p in ("after_write", "before_write")]
    during_work = 0
    while plan or kills["signal"] < SIGNAL_KILLS or kills["in_commit"] < FAILPOINT_KILLS or done_at_run is None:
        assert runs < 20 * SIGNAL_KILLS, f"the work is not done after {runs} runs: {outcome(sb, exp)}"
        runs += 1
        before = applied()
        point = plan.pop(0) if plan else None
        if point is None and kills["in_commit"] < FAILPOINT_KILLS and runs % 3 == 0:
            point = "in_commit"
        if point and (point == "in_commit" or before < total):
            rate = FAILPOINTS[point] if point == "in_commit" else write_rate
            d = Daemon(config, log, TIERLIFT_FAILPOINTS=f"{point}:{rate:.4f}", TIERLIFT_FAILPOINT_SEED=str(runs))
            fired = d.wait_for(f"failpoint {point}: SIGKILL", timeout=30)
            code = d.proc.wait() if fired else d.kill()
            kills[point if fired else "signal"] += 1
        else:
            d = Daemon(config, log)
            time.sleep(rng.uniform(0.05, 1.5))
            code = d.kill()
            kills["signal"] += 1
        assert code == -9, f"the daemon exited by itself ({code}):\n{d.output()[-3000:]}"
        assert "Traceback" not in d.output(), d.output()[-3000:]
        after = applied()
        during_work += before < after < total
        if done_at_run is None and after >= total:
            done_at_run = runs
    # One clean restart must find nothing left to do but what the storm left unfinished.
    settle_runs = settle(config, log)
    o = outcome(sb, exp)
    with sqlite3.connect(tmp_path / "state.sqlite3") as db:
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        pending = db.execute("SELECT COUNT(*) FROM journal WHERE status = 'pending'").fetchone()[0]
    record("crash", due_tickets=exp.due_tickets, kills_signal=kills["signal"],
           kills_after_write=kills["after_write"], kills_before_write=kills["before_write"],
           kills_in_commit=kills["in_commit"], kills_total=sum(kills.values()), runs=runs,
           kills_during_work=during_work, work_done_after_run=done_at_run, settle_runs_that_wrote=settle_runs, pending_intents=pending,
           seconds=round(time.monotonic() - started, 1), **o.figures())
    assert_exactly_once(o)
    assert pending == 0
    assert kills["signal"] >= SIGNAL_KILLS
    for point in FAILPOINTS:
        assert kills[point] >= FAILPOINT_KILLS, f"failpoint {point} fired {kills[point]} times"
