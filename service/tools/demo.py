"""`tierlift demo`: the sandbox helpdesk plus the real daemon, no account needed.

The sandbox serves seeded scenario tickets over HTTP on 127.0.0.1 with its
clock running fast (15 helpdesk minutes per real second), and the daemon runs
as a subprocess against it, exactly as in production: real HTTP through the
real client library, a real SQLite state file, signals to stop it. Each
escalation is shown as it lands; a summary table closes the run.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

LINE = re.compile(r"escalated helpdesk=(?P<hd>\S+) ticket=(?P<ticket>\S+) tier=L(?P<a>\d)->L(?P<b>\d) "
                  r"rule=(?P<rule>\S+) team=(?P<team>\"[^\"]*\"|\S+) kind=(?P<kind>\S+)")
DEMO_TOKEN = "demo-token-not-a-secret"


def write_config(folder: Path, url: str, flavor: str, policy: str, poll: str = "1s") -> Path:
    cfg = {
        "state": {"path": str(folder / "state.sqlite3")},
        "poll_interval": poll,
        "clock": {"follow": url},
        "channels": {name: {"kind": "log"} for name in (
            "pagerduty", "slack_oncall", "slack_channel", "security-alerts", "outage-response",
            "support-escalation", "customer-success")},
        "helpdesks": [{
            "name": f"sandbox-{flavor}",
            "kind": flavor,
            "url": url,
            "email": "demo@example.com",
            "token": "${TIERLIFT_DEMO_TOKEN}",
            "policy": policy,
            **({"project": "SUP"} if flavor == "jira" else {}),
        }],
    }
    path = folder / "tierlift.yaml"
    path.write_text(json.dumps(cfg, indent=2))  # JSON is YAML
    return path


def demo(*, flavor: str = "zendesk", tickets: int = 60, seed: int = 7, policy: str = "three-tier",
         seconds: float = 25.0, speed: float = 900.0, out=sys.stdout) -> int:
    from tierlift.connectors.sandbox import Sandbox

    start = datetime(2026, 11, 2, 13, 30, tzinfo=UTC)  # a Monday, 08:30 in New York
    with tempfile.TemporaryDirectory(prefix="tierlift-demo-") as tmp, \
            Sandbox(flavor=flavor, tickets=tickets, seed=seed, now=start, clock_speed=speed) as sb:
        folder = Path(tmp)
        config = write_config(folder, sb.url, flavor, policy)
        out.write(f"sandbox {flavor} helpdesk at {sb.url} with {tickets} tickets (seed {seed}); "
                  f"clock runs {speed / 60:.0f} min per second from {start:%a %Y-%m-%d %H:%M} UTC\n")
        out.write(f"daemon: tierlift run --config {config} (policy {policy})\n\n")
        out.write(f"{'helpdesk time':<17} {'ticket':<8} {'move':<9} {'rule':<30} team\n")
        env = {**os.environ, "TIERLIFT_DEMO_TOKEN": DEMO_TOKEN, "PYTHONUNBUFFERED": "1"}
        proc = subprocess.Popen([sys.executable, "-m", "tierlift.service.cli", "run", "--config", str(config)],
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=env)
        seen: list[dict[str, str]] = []
        errors: list[str] = []

        def follow() -> None:
            assert proc.stderr is not None
            for line in proc.stderr:
                m = LINE.search(line)
                if m:
                    row = m.groupdict()
                    seen.append(row)
                    at = sb.clock.now().strftime("%a %H:%M")
                    out.write(f"{at:<17} {row['ticket']:<8} L{row['a']} -> L{row['b']}  {row['rule'][:30]:<30} "
                              f"{row['team'].strip(chr(34))}\n")
                    out.flush()
                elif " ERROR " in line or " WARNING " in line or "Traceback" in line:
                    errors.append(line.rstrip())

        reader = threading.Thread(target=follow, daemon=True)
        reader.start()
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.2)
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
        try:
            code = proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            code = proc.wait()
        reader.join(timeout=2)
        stats = sb.stats()
        end = sb.clock.now()
    moves = [r for r in seen if r["kind"] in ("escalate", "route", "de-escalate")]
    out.write("\nsummary\n")
    out.write(f"  helpdesk time simulated   {start:%a %H:%M} -> {end:%a %H:%M} UTC\n")
    out.write(f"  tickets                   {tickets}\n")
    out.write(f"  tier changes written      {len(moves)}\n")
    for (a, b), n in sorted(Counter((r["a"], r["b"]) for r in moves).items()):
        out.write(f"    L{a} -> L{b}                 {n}\n")
    out.write("  by rule\n")
    for rule, n in Counter(r["rule"] for r in seen).most_common():
        out.write(f"    {rule[:36]:<36} {n}\n")
    writes = stats.get("writes", 0)
    out.write(f"  API requests              {stats.get('reads', 0)} reads, {writes} writes"
              f" ({writes / len(seen):.2f} writes per decision)\n" if seen else
              f"  API requests              {stats.get('reads', 0)} reads, {writes} writes\n")
    for e in errors[:5]:
        out.write(f"  daemon said: {e}\n")
    if code != 0:
        out.write(f"the daemon exited with {code}\n")
        return 1
    if not seen:
        out.write("no escalations were seen: something is wrong\n")
        return 1
    out.write("the daemon stopped cleanly on SIGTERM (exit 0)\n")
    return 0
