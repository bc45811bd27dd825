"""Start-up failures (issue 14, items 1 and 12), on both flavours.

- A helpdesk that answers HTTP 500 to the first requests, or refuses the
  credentials (401) and then goes down, must cost time, never escalations: a
  connector is used only once it opened, so nothing is quarantined for a team
  map that was never loaded. Judged against a twin helpdesk (same seed, same
  frozen clock) settled by a daemon that met no fault: the notes in both
  helpdesks' own records must be the same moves.
- `run --once` tells cron and systemd the truth: exit 1 when a team maps to no
  group or user, or the helpdesk refused the credentials; `tierlift status`
  shows the last error and since when.
"""

from __future__ import annotations

import re
import time
from collections import Counter

import pytest

from tierlift.sandbox import Sandbox

from kit import TOKEN, Daemon, cli, free_port, wait_until, write_config
from reliakit import NOW, helpdesk, record, settle

FLAVORS = ["zendesk", "jira"]
TICKETS = 60
MOVE = re.compile(r"\[tierlift escalation=[0-9a-f]+ from=(\d) to=(\d) rule=(\S+) at=")


def notes(sb) -> list[tuple[str, str]]:
    """(ticket, comment body) of every comment, from the helpdesk's own store."""
    with sb.store.lock:
        if sb.flavor == "zendesk":
            return [(str(tid), c["body"]) for tid, cs in sb.store.comments.items() for c in cs]
        return [(key, c["body"]) for key, i in sb.store.issues.items() for c in i["fields"]["comment"]["comments"]]


def moves(sb) -> Counter[tuple[str, str, str, str]]:
    out: Counter[tuple[str, str, str, str]] = Counter()
    for tid, body in notes(sb):
        for m in MOVE.finditer(body):
            out[(tid, m[1], m[2], m[3])] += 1
    return out


def reference(flavor: str, folder) -> Counter:
    """What a daemon that met no fault writes on the same helpdesk."""
    folder.mkdir()
    with Sandbox(flavor, tickets=TICKETS, seed=7, now=NOW) as twin:
        settle(write_config(folder, [helpdesk(twin)], clock_url=twin.url), folder / "daemon.log")
        return moves(twin)


def run_until(sb, d: Daemon, want: Counter, port: int, seconds: float = 90.0) -> None:
    """Until the helpdesk holds the moves wanted, then two more whole cycles (counted in
    /metrics, so a stalled daemon fails here): nothing more may be written in them."""
    wait_until(lambda: moves(sb) == want or not d.alive(), seconds, every=0.2)
    d.wait_cycles(port, more=2)


@pytest.mark.parametrize("flavor", FLAVORS)
@pytest.mark.parametrize("fault", ["500x6", "401-then-outage"])
def test_a_failed_start_costs_time_never_escalations(flavor, fault, tmp_path):
    want = reference(flavor, tmp_path / "twin")
    assert sum(want.values()) >= 10
    with Sandbox(flavor, tickets=TICKETS, seed=7, now=NOW) as sb:
        port = free_port()
        config = write_config(tmp_path, [helpdesk(sb)], clock_url=sb.url, http={"listen": f"127.0.0.1:{port}"})
        log = tmp_path / "daemon.log"
        if fault == "500x6":
            sb.faults.script(["500"] * 6)
            d = Daemon(config, log)
        else:
            sb.rejected_tokens.add(TOKEN)
            d = Daemon(config, log)
            assert d.wait_for("HTTP 401", timeout=30), d.output()[-3000:]
            sb.set_down(True)  # the credentials are fixed, then the helpdesk is down for a while
            sb.rejected_tokens.discard(TOKEN)
            time.sleep(8)  # longer than one open's retries: the start fails for good, then succeeds
            sb.set_down(False)
        try:
            run_until(sb, d, want, port)
        finally:
            code, _ = d.terminate()
        got = moves(sb)
        out = d.output()
        record("startup", **{f"{flavor}_{fault}_expected": sum(want.values()),
                             f"{flavor}_{fault}_applied": sum((got & want).values()),
                             f"{flavor}_{fault}_wrong": sum((got - want).values()) + sum((want - got).values()),
                             f"{flavor}_{fault}_quarantined": out.count("quarantined helpdesk=")})
        assert code == 0, out[-3000:]
        assert "maps to no" not in out, out[-3000:]
        assert "quarantined helpdesk=" not in out, out[-3000:]
        assert got == want, f"missing {want - got}, unexpected {got - want}"
        assert out.count("unreachable") == 1, "the outage is logged once when it starts"
        assert out.count("answering again") == 1, "and once when it ends"


def _unmap_specialists(sb, tmp_path):
    """A helpdesk in which the policy's L2 team maps to nothing."""
    if sb.flavor == "zendesk":
        return write_config(tmp_path, [helpdesk(sb, teams={"support-specialists": "No Such Group"})],
                            clock_url=sb.url)
    with sb.store.lock:
        for account, user in list(sb.store.users.items()):
            if user["displayName"] == "support-specialists":
                del sb.store.users[account]
    return write_config(tmp_path, [helpdesk(sb)], clock_url=sb.url)


@pytest.mark.parametrize("flavor", FLAVORS)
def test_run_once_exits_1_when_a_team_maps_to_nothing(flavor, tmp_path):
    with Sandbox(flavor, tickets=TICKETS, seed=7, now=NOW) as sb:
        config = _unmap_specialists(sb, tmp_path)
        proc = cli("run", "--config", str(config), "--once")
        assert proc.returncode == 1, proc.stderr[-3000:]
        assert "support-specialists" in proc.stderr and "maps to no" in proc.stderr


@pytest.mark.parametrize("flavor", FLAVORS)
def test_status_shows_the_last_error_and_since_when(flavor, tmp_path):
    with Sandbox(flavor, tickets=5, seed=7, now=NOW) as sb:
        config = write_config(tmp_path, [helpdesk(sb)], clock_url=sb.url)
        sb.rejected_tokens.add(TOKEN)
        proc = cli("run", "--config", str(config), "--once")
        assert proc.returncode == 1, proc.stderr[-3000:]
        status = cli("status", "--config", str(config))
        assert status.returncode == 0, status.stderr
        line = next((ln for ln in status.stdout.splitlines() if "last error" in ln), "")
        assert "401" in line and "since" in line, status.stdout
        assert TOKEN not in status.stdout
        # Once the helpdesk answers again, the error is gone from status.
        sb.rejected_tokens.discard(TOKEN)
        assert cli("run", "--config", str(config), "--once").returncode == 0
        assert "last error" not in cli("status", "--config", str(config)).stdout
