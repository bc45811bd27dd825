"""Suite 1: crash and restart. SIGKILL the daemon at random moments, and on purpose
between the helpdesk write and the journal update, before the write, and inside
the SQLite transaction that moves the cursor; restart it each time until the work
is done. Then every due escalation is in the helpdesk exactly once: one note
marker per escalation, the right tags and group, the customer reply once, no
ticket missed. The expected set comes from the engine alone (reliakit.expected).
"""

from __future__ import annotations

import json
import random
import sqlite3
import time
from dataclasses import replace
from datetime import timedelta

import pytest

from tierlift.connectors.base import Secret
from tierlift.connectors.zendesk import ZendeskConnector, ZendeskSettings
from tierlift.engine.evaluate import Evaluator
from tierlift.engine.model import Notify
from tierlift.sandbox import Sandbox
from tierlift.service.daemon.config import HelpdeskConfig
from tierlift.service.daemon.cycle import HelpdeskCycle, Stop
from tierlift.service.daemon.policies import load_policy
from tierlift.service.daemon.state import Intent, StateStore
from tierlift.service.daemon.triage import classifier_for

from kit import MARKER, Daemon, wait_until, write_config
from reliakit import (
    NOW,
    assert_exactly_once,
    exactly_once_reference,
    helpdesk,
    outcome,
    record,
    seeded_sandbox,
    settle,
    size,
)

DUE = size(150, 2000)
SIGNAL_KILLS = size(8, 30)
FAILPOINT_KILLS = size(1, 5)  # of each kind, while there is still work to interrupt
# in_commit is hit once per page; the write points' rate is set from the work.
FAILPOINTS = {"after_write": 0.0, "before_write": 0.0, "in_commit": 0.8}


@pytest.mark.slow
def test_sigkill_at_random_and_at_failpoints_applies_every_escalation_exactly_once(tmp_path):
    sb = seeded_sandbox(DUE)
    try:
        _storm(sb, tmp_path)
    finally:
        sb.stop()


def _storm(sb, tmp_path):
    exp = exactly_once_reference(sb)
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
    # kills. Then SIGKILL at random moments (mostly while it reads and writes, some
    # while it starts), with a kill inside the transaction that moves the cursor every
    # third run (hit once per page of 100), until the counts are reached and the work
    # is done.
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
            at_random = not fired
        else:
            d = Daemon(config, log)
            if not plan and kills["signal"] >= SIGNAL_KILLS and kills["in_commit"] >= FAILPOINT_KILLS:
                # Every kill counted: this run is left to finish the work, then killed. Killed
                # at random within 0.3 s of its start, a daemon on a loaded CI machine never
                # reached the last due ticket (a review after a cascade, 254 of 255 after 160
                # runs), although nothing was wrong with what it had done.
                d.wait_for("started helpdesks", timeout=30)
                wait_until(lambda: applied() >= total, timeout=60)
            elif rng.random() < 0.3:
                time.sleep(rng.uniform(0.05, 1.0))  # starting: imports, migration, recovery
            else:
                d.wait_for("started helpdesks", timeout=30)
                time.sleep(rng.uniform(0.0, 0.3))  # reading and writing (or idle, once done)
            code = d.kill()
            kills["signal"] += 1
            at_random = True
        assert code == -9, f"the daemon exited by itself ({code}):\n{d.output()[-3000:]}"
        assert "Traceback" not in d.output(), d.output()[-3000:]
        after = applied()
        during_work += at_random and before < after < total  # it interrupted writing
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
           random_kills_during_work=during_work, work_done_after_run=done_at_run, settle_runs_that_wrote=settle_runs, pending_intents=pending,
           seconds=round(time.monotonic() - started, 1), **o.figures())
    assert_exactly_once(o)
    assert pending == 0
    assert kills["signal"] >= SIGNAL_KILLS
    for point in FAILPOINTS:
        assert kills[point] >= FAILPOINT_KILLS, f"failpoint {point} fired {kills[point]} times"


# --- the bug this suite found, pinned down in-process ------------------------------


def _cascading_helpdesk(tmp_path):
    """A frozen helpdesk with one ticket that escalates L1 -> L2 (SLA), then at once
    L2 -> L3 (an outage is an L2 criterion), and a cycle on a real state file."""
    sb = Sandbox("zendesk", tickets=0, now=NOW).start()
    tid = str(sb.store.add_ticket("Checkout errors", "We see an outage of checkout since this morning.",
                                  NOW - timedelta(hours=40)))
    sb.store.add_ticket("Password reset", "The reset email never came.", NOW - timedelta(hours=30))  # next in the page
    # Since issue 13 three-tier sends an outage straight to Tier 3 from L1; without that
    # rule the outage is the L2 criterion again, and the cascade this suite pins remains.
    policy = load_policy("three-tier")
    policy = replace(policy, rules=tuple(r for r in policy.rules if r.name != "production-outage"))
    cfg = HelpdeskConfig("hd", "zendesk", sb.url, "bot@example.com", Secret("t0k3n"), "three-tier",
                         policy, False, {})
    connector = ZendeskConnector(ZendeskSettings("hd", sb.url, "bot@example.com", Secret("t0k3n")))
    connector.open()
    return sb, tid, cfg, connector, StateStore(tmp_path / "state.sqlite3", now=lambda: NOW)


def _moves(sb, tid: str) -> list[tuple[str, str]]:
    return [(m[2], m[3]) for c in sb.store.comments[int(tid)] if (m := MARKER.search(c["body"]))]


def test_a_write_whose_page_never_committed_still_has_its_next_wake_up(tmp_path):
    sb, tid, cfg, connector, store = _cascading_helpdesk(tmp_path)
    try:
        written = []
        # Stop (as a kill would) right after the first write, before the page commits.
        cycle = HelpdeskCycle(cfg, connector, store, should_stop=lambda: bool(written),
                              on_decision=lambda *a: written.append(a))
        with pytest.raises(Stop):
            cycle.run(NOW)
        # (The page's cursor may have committed: a cycle indexes the tickets it read as due
        # before it writes, most urgent first. What matters is the next wake-up below.)
        assert _moves(sb, tid) == [("1", "2")]
        # The written ticket is gone from the helpdesk's export (its clock stands still),
        # so only the index can bring its cascade back; it used to be lost here.
        entries = {e.ticket_id: e for e in store.entries("hd")}
        assert tid in entries, "the written ticket is not in the index"
        entry = entries[tid]
        assert entry.wake_up is not None and entry.wake_up <= NOW and entry.tier == 2
        HelpdeskCycle(cfg, connector, store).run(NOW)
        assert _moves(sb, tid) == [("1", "2"), ("2", "3")]
    finally:
        store.close()
        connector.close()
        sb.stop()


def test_recovery_makes_a_landed_write_due_again(tmp_path):
    sb, tid, cfg, connector, store = _cascading_helpdesk(tmp_path)
    try:
        ticket = next(t for p in connector.changes(None) for t in p.tickets)
        decision = Evaluator(cfg.policy, classifier=classifier_for(cfg.policy)).evaluate(ticket, NOW)
        assert (decision.tier_before, decision.tier_after) == (1, 2)
        store.record_intent(Intent("hd", decision.escalation_id, tid, "escalate", 1, 2, decision.rule, "x",
                                   json.dumps(decision.to_dict()), created_at=NOW))
        connector.apply(ticket, [a for a in decision.actions if not isinstance(a, Notify)], decision.escalation_id)
        # Killed here: the write landed, the intent is pending, nothing is indexed.
        HelpdeskCycle(cfg, connector, store).run(NOW)
        assert store.intent("hd", decision.escalation_id).status == "done"
        assert _moves(sb, tid) == [("1", "2"), ("2", "3")]
    finally:
        store.close()
        connector.close()
        sb.stop()
