"""Run the reliability suites and print the figures table (docs/reliability.md's).

    python tests/reliability/figures.py          # the short versions, as CI runs them
    python tests/reliability/figures.py --full   # the sizes issue 7 asks for (~15 min)

Each suite records what it measured (reliakit.record) into a folder; the broken
configuration count comes from the test report. The exit status is pytest's:
the table is printed either way, with the suites that failed marked.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ET
from collections import defaultdict
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]


def run_suites(folder: Path, full: bool, select: str | None) -> int:
    env = {**os.environ, "TIERLIFT_FIGURES": str(folder), "TIERLIFT_RELIABILITY": "full" if full else "short"}
    # One process (-n 0): the suites measure time and requests, and the suite's two workers
    # (pyproject's addopts) would share the cores between the runs being measured.
    cmd = [sys.executable, "-m", "pytest", str(HERE), "-q", "-n", "0", "-p", "no:cacheprovider", "-o",
           f"timeout={3600 if full else 600}", f"--junitxml={folder / 'junit.xml'}"]
    if select:
        cmd += ["-k", select]
    return subprocess.run(cmd, cwd=ROOT, env=env).returncode


def outcomes(folder: Path) -> dict[str, dict[str, int]]:
    """module -> {"passed": n, "failed": n, "skipped": n}, from the JUnit report."""
    out: dict[str, dict[str, int]] = defaultdict(lambda: {"passed": 0, "failed": 0, "skipped": 0})
    path = folder / "junit.xml"
    if not path.exists():
        return out
    for case in ET.parse(path).iter("testcase"):
        module = case.get("classname", "").rsplit(".", 1)[-1]
        kind = ("failed" if case.find("failure") is not None or case.find("error") is not None
                else "skipped" if case.find("skipped") is not None else "passed")
        out[module][kind] += 1
        if module == "test_bad_config" and case.get("name", "").startswith("test_broken_file_is_refused_cleanly"):
            out["bad_config_files"][kind] += 1
    return out


def load(folder: Path) -> dict[str, dict[str, Any]]:
    return {p.stem: json.loads(p.read_text()) for p in folder.glob("*.json")}


def table(fig: dict[str, dict[str, Any]], res: dict[str, dict[str, int]], full: bool) -> str:
    rows: list[tuple[str, str, str]] = []

    def mark(module: str) -> str:
        r = res.get(module)
        if not r or not any(r.values()):
            return "not run"
        return "FAILED" if r["failed"] else "pass"

    c = fig.get("crash")
    if c:
        rows += [
            ("Kills survived (SIGKILL, restarted each time)",
             f"{c['kills_total']}: {c['kills_signal']} at random moments ({c['random_kills_during_work']} mid-work), "
             f"{c['kills_after_write']} between write and journal, {c['kills_before_write']} between journal and "
             f"write, {c['kills_in_commit']} inside the SQLite transaction", mark("test_crash")),
            ("Escalations expected (engine on the sandbox's tickets)",
             f"{c['expected']} on {c['due_tickets']} due tickets", mark("test_crash")),
            ("Escalations applied / duplicated / missed",
             f"{c['applied']} / {c['duplicated']} / {c['missed']} (wrong tags or group: {c['wrong_state']}; "
             f"customer replies duplicated {c['replies_duplicated']}, missed {c['replies_missed']})",
             mark("test_crash")),
        ]
    f = fig.get("faults")
    if f:
        kinds = ", ".join(f"{k} {n}" for k, n in sorted(f["faults_by_kind"].items(), key=lambda kv: -kv[1]))
        rows += [
            ("Faults injected and survived",
             f"{f['faults_injected']} of {f['requests']} requests ({100 * f['fault_share']:.1f}%): {kinds}",
             mark("test_faults")),
            ("Under faults: escalations expected / applied / duplicated / missed",
             f"{f['expected']} / {f['applied']} / {f['duplicated']} / {f['missed']} (wrong state {f['wrong_state']})",
             mark("test_faults")),
            ("Request budget", f"peak {f['peak_requests_per_minute']} requests in any minute, budget "
                               f"{f['budget_per_minute']}", mark("test_faults")),
        ]
    p = fig.get("poison")
    if p:
        rows.append(("Poison tickets quarantined (each with its log line)",
                     f"{p['handled']} of {p['shapes']} shapes, none written; {p['applied']} of {p['expected']} "
                     f"good escalations applied, {p['duplicated']} duplicated", mark("test_poison")))
    late = [v for k, v in sorted(fig.items()) if k.startswith("late_write_")]
    if late:
        rows.append(("Late writes (a reply held past the client's timeout): duplicate replies",
                     f"{sum(x['duplicate_replies'] for x in late)} in {len(late)} flavours ({late[0]['held_seconds']} s"
                     f" held against a {late[0]['client_timeout']} s timeout); replies missed "
                     f"{sum(x['missing_replies'] for x in late)}", mark("test_late_write")))
    deep = [v for k, v in sorted(fig.items()) if k.startswith("odd_tickets_deep_")]
    if deep:
        rows.append(("Poison pages (one ticket nested 5,000 levels): good escalations applied",
                     f"{sum(x['escalated'] for x in deep)} of {sum(x['good'] for x in deep)} in {len(deep)} flavours;"
                     f" poison ticket written {sum(x['poison_writes'] for x in deep)} times", mark("test_odd_tickets")))
    lost = [v for k, v in sorted(fig.items()) if k.startswith("state_loss_")]
    if lost:
        rows.append(("State losses survived (state deleted, or a second daemon): wrong escalations",
                     f"{sum(x['wrong_escalations'] for x in lost)} in {len(lost)} runs on {sum(x['tickets'] for x in lost)}"
                     f" escalated tickets; L3 tags {sum(x['l3_tags'] for x in lost)}; reads after the loss"
                     f" {sum(x['reads_after_loss'] for x in lost)}", mark("test_state_loss")))
    ids = fig.get("odd_tickets_ids")
    if ids:
        rows.append(("Odd ids and empty tickets refused one by one", f"{ids['refused']} of {ids['odd']}; good "
                     f"escalations applied {ids['escalated']} of {ids['good']}", mark("test_odd_tickets")))
    b = res.get("bad_config_files")
    if b and any(b.values()):
        rows.append(("Broken configs refused cleanly (exit 2, file:line: key, no traceback)",
                     f"{b['passed']} of {b['passed'] + b['failed']}", mark("test_bad_config")))
    secrets = [v for k, v in fig.items() if k.startswith("secrets_")]
    if secrets:
        rows.append(("Secret leaks found", f"{sum(s['leaks_found'] for s in secrets)} in "
                     f"{sum(s['outputs_checked'] for s in secrets)} outputs ({secrets[0]['secrets']} secrets, "
                     f"{len(secrets)} flavours)", mark("test_secrets")))
    s = fig.get("shutdown")
    if s:
        rows.append(("SIGTERM at random moments",
                     f"{s['clean_exits']} of {s['sigterms']} exits 0 ({s['stops_during_work']} mid-work), slowest "
                     f"{s['max_exit_seconds']} s; intents left pending {s['pending_intents_after_stop']}; next start "
                     f"lost {s['missed']}, repeated {s['duplicated']} of {s['expected']}", mark("test_shutdown")))
    k = fig.get("soak")
    if k:
        rows.append(("Memory growth (soak)",
                     f"{k['rss_growth_pct']:+.1f}% RSS after warm-up ({k['rss_warm_mb']} -> {k['rss_end_mb']} MB) "
                     f"over {k['cycles']} cycles, {k['ticket_changes']} ticket changes, {k['escalations']} "
                     f"escalations, {k['duplicated']} duplicated", mark("test_soak")))
        rows.append(("State file (soak)",
                     f"{k['state_warm_kb']} KB after warm-up, {k['state_end_kb']} KB at the end (max "
                     f"{k['state_max_kb']} KB); {k['compactions']} compactions removed {k['compacted_rows']} rows",
                     mark("test_soak")))
    rows += daemon_rows(fig, mark)
    lines = [f"Reliability figures ({'full' if full else 'short'} run)", "",
             "| figure | measured | suite |", "|---|---|---|"]
    lines += [f"| {a} | {b} | {c} |" for a, b, c in rows]
    return "\n".join(lines)


def daemon_rows(fig: dict[str, dict[str, Any]], mark) -> list[tuple[str, str, str]]:
    """Issue 14's daemon items: start-up failures, the budget, go-live, health, plan."""
    rows: list[tuple[str, str, str]] = []
    st = fig.get("startup")
    if st:
        runs = sorted({k.rsplit("_", 1)[0] for k in st if k.endswith("_expected")})
        rows.append(("Start-up failures survived (HTTP 500 x6; 401 then an outage)",
                     f"{len(runs)} starts: {sum(st[r + '_applied'] for r in runs)} of "
                     f"{sum(st[r + '_expected'] for r in runs)} escalations applied, "
                     f"{sum(st[r + '_wrong'] for r in runs)} wrong, {sum(st[r + '_quarantined'] for r in runs)} "
                     "quarantined", mark("test_startup")))
    b = fig.get("budget")
    if b and "p0_seconds_to_escalation_budget_30_per_minute" in b:
        rows.append(("P0 delay under a binding budget (30 requests/min, 40 due escalations queued)",
                     f"{b['p0_seconds_to_escalation_budget_30_per_minute']} s to its note (15 s of it the "
                     "export's one-minute holdback, helpdesk clock at 4x); "
                     f"{b['backlog_still_waiting_when_the_p0_landed']} older escalations still waiting",
                     mark("test_budget")))
    if b and "sigterm_during_budget_wait_seconds" in b:
        rows.append(("SIGTERM during a request-budget wait",
                     f"exit 0 after {b['sigterm_during_budget_wait_seconds']} s (the wait, logged as it started: "
                     f"{b['budget_wait_logged_seconds']} s)", mark("test_budget")))
    g = fig.get("go_live")
    if g and "customer_replies_held_back" in g:
        rows.append(("First-sync customer replies held back (go-live onto a backlog)",
                     f"{g['customer_replies_held_back']} of {g['customer_replies_the_policy_calls_for']} on "
                     f"{g['backlog_tickets']} overdue tickets (notes, tags, groups all written); pages sent "
                     f"{g['pages_sent']}", mark("test_go_live")))
    h = fig.get("health")
    if h:
        rows.append(("Health server threads with 300 idle sockets",
                     f"{h['daemon_threads_before']} -> {h['daemon_threads_with_idle_sockets']}", mark("test_health")))
    pl = fig.get("plan")
    if pl:
        flavours = sorted({k.split("_")[0] for k in pl})
        rows.append(("`plan` vs the next `run --once` on a live state (after a dry run)",
                     "; ".join(f"{f}: {pl[f + '_predicted']} predicted, {pl[f + '_written']} written, "
                               f"{pl[f + '_differences']} different" for f in flavours), mark("test_plan")))
    return rows


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--full", action="store_true", help="the full sizes (2,000 due tickets, 30+ kills, ...)")
    ap.add_argument("-k", dest="select", help="only the suites matching this pytest expression")
    ap.add_argument("--figures", help="keep the figures in this folder (default: a temporary one)")
    ap.add_argument("--table-only", action="store_true", help="print the table of the --figures folder, run nothing")
    args = ap.parse_args(argv)
    folder = Path(args.figures or tempfile.mkdtemp(prefix="tierlift-figures-"))
    if args.table_only:
        print(table(load(folder), outcomes(folder), args.full))
        return 0
    folder.mkdir(parents=True, exist_ok=True)
    for old in folder.glob("*.json"):
        old.unlink()
    code = run_suites(folder, args.full, args.select)
    print()
    print(table(load(folder), outcomes(folder), args.full))
    return code


if __name__ == "__main__":
    sys.exit(main())
