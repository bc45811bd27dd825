"""`tierlift plan` and `run --once --dry-run` on a live state (issue 13, section 3).

Both work on a private copy of the daemon's state: they start from the live
cursor, ledger, tier starts and index, so what they predict is what the next
`run --once` writes, and they write none of it, so they never delay a live
escalation. Judged on both flavours, against the writes the next real run makes.
"""

from __future__ import annotations

import json
import re
from datetime import timedelta

import pytest

from tierlift.sandbox import Sandbox

from kit import cli, write_config
from reliakit import NOW, helpdesk, record

ESCALATED = re.compile(r"(escalated|planned) helpdesk=hd ticket=(\S+) tier=L(\d)->L(\d) rule=(\S+)")


def lines(text: str, verb: str) -> set[tuple[str, int, int, str]]:
    return {(m[2], int(m[3]), int(m[4]), m[5]) for m in ESCALATED.finditer(text) if m[1] == verb}


@pytest.mark.parametrize("flavor", ["zendesk", "jira"])
def test_plan_and_dry_run_predict_the_next_run_and_delay_nothing(flavor, tmp_path):
    with Sandbox(flavor, tickets=80, seed=11, now=NOW) as sb:
        config = write_config(tmp_path, [helpdesk(sb)], clock_url=sb.url)
        first = cli("run", "--config", str(config), "--once")
        assert first.returncode == 0, first.stderr[-3000:]
        assert lines(first.stderr, "escalated")
        # A business day later: L2 and L3 clocks started by the first run's moves are due.
        sb.clock.advance(timedelta(days=1))
        plan = cli("plan", "--config", str(config), "--json")
        assert plan.returncode == 0, plan.stderr[-3000:]
        predicted = {(r["ticket"], r["tier_before"], r["tier_after"], r["rule"])
                     for r in map(json.loads, plan.stdout.splitlines()) if "ticket" in r}  # the last: a summary
        dry = cli("run", "--config", str(config), "--once", "--dry-run")
        assert dry.returncode == 0, dry.stderr[-3000:]
        real = cli("run", "--config", str(config), "--once")
        assert real.returncode == 0, real.stderr[-3000:]
        written = lines(real.stderr, "escalated")
        record("plan", **{f"{flavor}_predicted": len(predicted), f"{flavor}_written": len(written),
                          f"{flavor}_differences": len(predicted ^ written)})
        assert written, "the day's escalations were delayed (by the dry run) or never came"
        assert predicted == written, f"plan only: {predicted - written}; run only: {written - predicted}"
        assert lines(dry.stderr, "planned") == written
