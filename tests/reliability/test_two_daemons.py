"""Two daemons on one Zendesk helpdesk, each with a state file of its own (issue 21 item 7).

A deployment mistake that happens: a second copy started by hand, or a staging daemon
pointed at production. Zendesk's safe update turns the second copy's escalation write
into a 409, so each escalation should land once. Measured before the fix, on 577
tickets: 331 customer replies sent twice (the second copy found the marker after its
409, then sent the reply on the stamp the first copy's reply had just left) and 39
triage-review notes written twice (it went on deciding from its stale copy of the
ticket). Judged from the sandbox's record against an exactly-once reference; run
concurrently with `run --once` until neither writes.
"""

from __future__ import annotations

import threading

from kit import run_once, write_config
from reliakit import (
    assert_exactly_once,
    exactly_once_reference,
    helpdesk,
    outcome,
    record,
    seeded_sandbox,
    size,
)

DUE = size(100, 600)


def test_two_daemons_with_their_own_state_write_each_escalation_and_reply_once(tmp_path):
    sb = seeded_sandbox(DUE, generated=size(60, 200))
    try:
        exp = exactly_once_reference(sb)
        configs = [write_config(tmp_path / f"copy{i}", [helpdesk(sb, page_size=50)], clock_url=sb.url)
                   for i in range(2)]
        failures: list[str] = []

        def copy(config):
            for _ in range(3):
                proc = run_once(config)
                if proc.returncode != 0:
                    failures.append(proc.stderr[-2000:])

        threads = [threading.Thread(target=copy, args=(c,)) for c in configs]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert not failures, failures[0]
        conflicts = sum(1 for r in sb.requests_log() if r.get("status") == 409)
        o = outcome(sb, exp)
        record("two_daemons", tickets=len(sb.store.tickets), conflicts=conflicts, **o.figures())
        assert conflicts, "the two copies never met on a ticket: this run proves nothing"
        assert_exactly_once(o)
    finally:
        sb.stop()
