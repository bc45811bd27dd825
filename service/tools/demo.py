"""`tierlift demo`: the sandbox helpdesk plus the real daemon, no account needed.

The sandbox serves seeded scenario tickets over HTTP on 127.0.0.1 with its
clock running fast (15 helpdesk minutes per real second), and the daemon runs
as a subprocess against it, exactly as in production: real HTTP through the
real client library, a real SQLite state file, signals to stop it. Each
decision is shown as it lands (a refused manual escalation as a refusal, with
the context it lacks, read from the note the daemon wrote in the helpdesk);
then one full escalation note and customer reply as the helpdesk stores them,
and a summary whose counts add up to the rows shown. `keep=True` leaves the
folder (config and state) and prints how to inspect it.

The arguments are checked before anything starts (`--tickets 0` ran the full half
minute to end "something is wrong"; `--policy nosuch` started the sandbox and the
daemon to end "the daemon exited with 2"): a refused one is InvalidFile, exit 2 with
the reason. The daemon's own refusal, should it exit 2 anyway, is forwarded as it said it.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter, deque
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TextIO

import requests

from tierlift.engine.yamlsrc import InvalidFile, Problem
from tierlift.service.daemon.writes import WRITTEN

LINE = re.compile(f"(?:{'|'.join(map(re.escape, WRITTEN.values()))})"
                  r" helpdesk=(?P<hd>\S+) ticket=(?P<ticket>\S+) tier=L(?P<a>\d)->L(?P<b>\d) "
                  r"rule=(?P<rule>\S+) team=(?P<team>\"[^\"]*\"|\S+) kind=(?P<kind>\S+)")
DEMO_TOKEN = "demo-token-not-a-secret"
MAX_TICKETS = 10_000  # the sandbox holds them in memory, and the demo runs half a minute


def arguments(tickets: int, policy: str, port: int = 0) -> str:
    """The demo's arguments checked; the policy as the demo's config names it: a file's path
    made absolute, since that config is written in a folder of its own."""
    from tierlift.service.daemon.policies import UnknownPolicy, load_policy

    if not 1 <= tickets <= MAX_TICKETS:
        raise InvalidFile([Problem("--tickets", None, "", f"expected a number from 1 to {MAX_TICKETS}, got {tickets}")])
    if port:
        _port_free(port)
    try:
        load_policy(policy)  # a file that does not load says where and why (FILE:LINE: key: message)
    except UnknownPolicy as exc:
        raise InvalidFile([Problem("--policy", None, "", exc.message)]) from None
    return str(Path(policy).resolve()) if Path(policy).exists() else policy


def _port_free(port: int) -> None:
    """The sandbox's port (QA: the demo could not be kept inside a given port range) is one
    this machine can listen on now."""
    if not 1 <= port <= 65535:
        raise InvalidFile([Problem("--port", None, "", f"expected a port from 1 to 65535 (0: any free one), got {port}")])
    with socket.socket() as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError as exc:
            raise InvalidFile([Problem("--port", None, "", f"127.0.0.1:{port} cannot be listened on ({exc.strerror})"
                                                            "; pick another or 0 for any free port")]) from None


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
            "token_file": "demo-token",  # beside the config, so a kept folder runs without the environment
            "policy": policy,
            # The demo's helpdesk is born with its backlog: show what a live escalation
            # writes, customer reply included, rather than a quiet go-live.
            "first_sync": "full",
            "max_public_replies_per_cycle": 0,
            **({"project": "SUP"} if flavor == "jira" else {}),
        }],
    }
    (folder / "demo-token").write_text(DEMO_TOKEN + "\n")
    path = folder / "tierlift.yaml"
    path.write_text(json.dumps(cfg, indent=2))  # JSON is YAML
    return path


MOVES = ("escalate", "route", "de-escalate")
# What a row that is not a tier change says, by decision kind.
KIND_WORDS = {"refused": "refused", "frozen": "frozen", "reminder": "reminder", "review": "review",
              "triage-review": "triage"}  # the model is unsure: a person is asked, nothing moves


@dataclass
class _Run:
    rows: list[dict[str, str]] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    # The daemon's other last lines: a configuration it refuses is told there (FILE:LINE: ...).
    tail: deque[str] = field(default_factory=lambda: deque(maxlen=8))


def _comments(url: str, flavor: str, ticket: str) -> list[dict[str, Any]]:
    """The ticket's comments as the helpdesk's REST API returns them: (body, public), oldest first."""
    auth = ("demo@example.com/token" if flavor == "zendesk" else "demo@example.com", DEMO_TOKEN)
    if flavor == "zendesk":
        r = requests.get(f"{url}/api/v2/tickets/{ticket}/comments.json", auth=auth, timeout=10)
        return [{"body": c["body"], "public": bool(c["public"])} for c in r.json().get("comments", [])]
    r = requests.get(f"{url}/rest/api/2/issue/{ticket}/comment", auth=auth, timeout=10)
    return [{"body": c["body"], "public": bool(c.get("jsdPublic", True))} for c in r.json().get("comments", [])]


def _missing(url: str, flavor: str, ticket: str) -> str:
    """What a refused manual escalation lacks, from the refusal note tierlift wrote on the ticket."""
    try:
        notes = [c["body"] for c in _comments(url, flavor, ticket) if "did not escalate" in c["body"]]
    except (requests.RequestException, ValueError):
        return "context"
    m = re.search(r"needs context \(([^)]*) missing\)", notes[-1]) if notes else None
    return m.group(1) if m else "context"


def _row_text(at: str, row: dict[str, str]) -> str:
    team = row["team"].strip(chr(34))
    if row["kind"] in MOVES:
        move, detail = f"L{row['a']} -> L{row['b']}", f"{row['rule'][:30]:<30} {team}"
    elif row["kind"] == "refused":
        move, detail = "refused", f"manual escalation at L{row['a']}: missing {row.get('missing', 'context')}"
    else:
        move, detail = KIND_WORDS.get(row["kind"], row["kind"]), f"{row['rule'][:30]:<30} L{row['a']}"
    return f"{at:<17} {row['ticket']:<8} {move:<9} {detail}".rstrip() + "\n"


def _follow(proc: subprocess.Popen, sb: Any, run: _Run, out: TextIO) -> None:
    assert proc.stderr is not None
    for line in proc.stderr:
        m = LINE.search(line)
        if m:
            row = m.groupdict()
            if row["kind"] == "refused":
                row["missing"] = _missing(sb.url, sb.flavor, row["ticket"])
            run.rows.append(row)
            out.write(_row_text(sb.clock.now().strftime("%a %H:%M"), row))
            out.flush()
        elif " ERROR " in line or " WARNING " in line or "Traceback" in line:
            run.errors.append(line.rstrip())
        elif line.strip():
            run.tail.append(line.rstrip())


def _stop(proc: subprocess.Popen, seconds: float) -> int:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.2)
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
    try:
        return proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        proc.kill()
        return proc.wait()


def _show_example(out: TextIO, url: str, flavor: str, rows: list[dict[str, str]]) -> str | None:
    """One escalation as the helpdesk stores it: the internal note and the customer reply."""
    for row in rows:
        if row["kind"] != "escalate":
            continue
        try:
            comments = _comments(url, flavor, row["ticket"])
        except (requests.RequestException, ValueError):
            continue
        notes = [i for i, c in enumerate(comments) if not c["public"] and "escalation_note:" in c["body"]]
        if not notes:
            continue
        note = comments[notes[0]]["body"]
        replies = [c["body"] for c in comments[notes[0] + 1:] if c["public"]]
        out.write(f"\none escalation as the helpdesk stores it: ticket {row['ticket']}, "
                  f"L{row['a']} -> L{row['b']} ({row['rule']})\n\ninternal note\n")
        out.write("".join(f"  | {line}\n" for line in note.splitlines()))
        out.write("\ncustomer reply\n")
        out.write("".join(f"  | {line}\n" for line in replies[0].splitlines()) if replies
                  else "  (none: the policy writes no customer reply for this move)\n")
        return row["ticket"]
    return None


def _summary(out: TextIO, rows: list[dict[str, str]], start: datetime, end: datetime, tickets: int,
             stats: dict[str, int]) -> None:
    kinds = Counter(r["kind"] for r in rows)
    moves = [r for r in rows if r["kind"] in MOVES]
    out.write("\nsummary\n")
    out.write(f"  helpdesk time simulated   {start:%a %H:%M} -> {end:%a %H:%M} UTC\n")
    out.write(f"  tickets                   {tickets}\n")
    out.write(f"  decisions shown above     {len(rows)}\n")
    out.write(f"    tier changes written    {len(moves)}\n")
    for (a, b), n in sorted(Counter((r["a"], r["b"]) for r in moves).items()):
        out.write(f"      L{a} -> L{b}              {n}\n")
    for kind, n in sorted(kinds.items()):
        if kind not in MOVES:
            label = {"refused": "refused (no context)", "triage-review": "triage: asked a person"}.get(kind, kind)
            out.write(f"    {label:<24}{n}\n")
    out.write("  by rule\n")
    for rule, n in Counter(r["rule"] for r in rows).most_common():
        out.write(f"    {rule[:36]:<36} {n}\n")
    writes = stats.get("writes", 0)
    per = f" ({writes / len(rows):.2f} writes per decision)" if rows else ""
    out.write(f"  API requests              {stats.get('reads', 0)} reads, {writes} writes{per}\n")


def _keep_hint(out: TextIO, folder: Path, config: Path, ticket: str | None, start: datetime) -> None:
    out.write(f"\nthe demo's folder is kept: {folder}\n")
    out.write("look at what the daemon recorded (the sandbox is gone; these read the state at the\n"
              "helpdesk time the demo stopped at, kept in the config as clock: {at: ...}):\n")
    cli = _cli()
    out.write(f"  {cli} status --config {config}\n")
    out.write(f"  {cli} history --config {config} {ticket or 'TICKET'} --offline\n")
    out.write(f"  {cli} report --config {config} --since {start:%Y-%m-%d}\n")
    out.write(f"remove it with: rm -r {folder}\n")


def _cli() -> str:
    """The tierlift command as this shell can run it: the script beside this Python (a
    virtualenv's bin/), else this Python with the module; an absolute path either way."""
    script = Path(sys.executable).parent / "tierlift"
    return shlex.quote(str(script)) if script.exists() else f"{shlex.quote(sys.executable)} -m tierlift.service.cli"


def _keep_clock(config: Path, end: datetime) -> None:
    """The kept config stands at the sandbox's last instant: the tools read the demo's time,
    not today's clock against a sandbox that is gone (which read 17600% of a target used)."""
    cfg = json.loads(config.read_text())
    cfg["clock"] = {"at": end.astimezone(UTC).isoformat().replace("+00:00", "Z")}
    config.write_text(json.dumps(cfg, indent=2))


def demo(*, flavor: str = "zendesk", tickets: int = 60, seed: int = 7, policy: str = "three-tier",
         seconds: float = 25.0, speed: float = 900.0, keep: bool = False, out: TextIO = sys.stdout,
         port: int = 0) -> int:
    from tierlift.sandbox import Sandbox

    policy = arguments(tickets, policy, port)
    start = datetime(2026, 11, 2, 13, 30, tzinfo=UTC)  # a Monday, 08:30 in New York
    folder = Path(tempfile.mkdtemp(prefix="tierlift-demo-"))
    run = _Run()
    try:
        with Sandbox(flavor=flavor, tickets=tickets, seed=seed, now=start, clock_speed=speed, port=port) as sb:
            config = write_config(folder, sb.url, flavor, policy)
            out.write(f"sandbox {flavor} helpdesk at {sb.url} with {tickets} tickets (seed {seed}); "
                      f"clock runs {speed / 60:.0f} min per second from {start:%a %Y-%m-%d %H:%M} UTC\n")
            out.write(f"daemon: tierlift run --config {config} (policy {policy})\n\n")
            out.write(f"{'helpdesk time':<17} {'ticket':<8} {'move':<9} {'rule':<30} team\n")
            env = {**os.environ, "PYTHONUNBUFFERED": "1"}
            proc = subprocess.Popen([sys.executable, "-m", "tierlift.service.cli", "run", "--config", str(config)],
                                    stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=env)
            reader = threading.Thread(target=_follow, args=(proc, sb, run, out), daemon=True)
            reader.start()
            code = _stop(proc, seconds)
            reader.join(timeout=5)
            example = _show_example(out, sb.url, flavor, run.rows)
            stats, end = sb.stats(), sb.clock.now()
        _summary(out, run.rows, start, end, tickets, stats)
        if keep:
            _keep_clock(config, end)
            _keep_hint(out, folder, config, example, start)
    finally:
        if not keep:
            shutil.rmtree(folder, ignore_errors=True)
    return _verdict(out, code, run)


def _verdict(out: TextIO, code: int, run: _Run) -> int:
    for e in run.errors[:5]:
        out.write(f"  daemon said: {e}\n")
    if code != 0:
        if code == 2:  # it refused its configuration: what it said is the reason
            out.write("".join(f"  daemon said: {line}\n" for line in run.tail))
        out.write(f"the daemon exited with {code}\n")
        return 1
    if not run.rows:
        out.write("no escalations were seen: something is wrong\n")
        return 1
    out.write("the daemon stopped cleanly on SIGTERM (exit 0)\n")
    return 0
