"""Every command line the README (and the configuration reference) shows, run as written.

`tierlift sandbox --flavor zendesk ...` was shown in the README and failed
("unrecognized arguments: --flavor"), while the tests used
`python -m tierlift.sandbox`. Here the command lines are read from
the documents themselves: the lines of their ```sh blocks and their inline
`tierlift ...` / `python ...` spans. Optional parts (`[--json]`) are included,
alternatives (`table|json|html`) are each run, and the placeholders
(`tierlift.yaml`, `P`, `NAME`, `TICKET`...) become real files and names.

Each line is handled as RULES says, with its reason: run for real against a
sandbox helpdesk where that is short; `--help` (which still parses every
argument before it) where running it is long; a check where it installs
software. A command line no rule covers fails the test, and so does a rule
that no longer matches anything.
"""

from __future__ import annotations

import itertools
import json
import re
import shlex
import subprocess
import sys
import time
import tomllib
from datetime import UTC, datetime
from pathlib import Path

import pytest
import requests

from tierlift.sandbox import Sandbox

from kit import env, free_port, run_once, write_config
from servicekit import helpdesk

ROOT = Path(__file__).resolve().parents[2]
# The README, the configuration reference, and the pages the README links for the measured figures.
DOCS = (ROOT / "README.md", ROOT / "service" / "CONFIGURATION.md",
        *(ROOT / "docs" / name for name in ("reliability.md", "support-floor.md", "benchmarks.md", "triage.md", "performance.md")))
NOW = datetime(2026, 11, 2, 19, 0, tzinfo=UTC)

# (pattern matched against the command line, how, why). First match wins.
V = r"(\.venv/bin/)?"  # the README calls the virtualenv's programs by path: run in one shell as written
RULES: list[tuple[str, str, str]] = [
    (r"^python3 -m venv \.venv$", "help", "creates a virtualenv in the checkout; its options must parse"),
    (r"^\.venv/bin/pip install ", "extras", "installs from the network for minutes; the extras it names must exist"),
    (r"^\.venv/bin/python -m pytest -q$", "help", "the whole suite, this test included: it runs under it"),
    (rf"^{V}tierlift demo( |$)", "help", "starts a sandbox and a daemon for ~30 s; test_demo.py runs it"),
    (rf"^{V}python tests/reliability/figures\.py", "help", "2.5 to 13 minutes; the suites run under pytest"),
    (rf"^{V}python tests/bench/run\.py --table ", "run", "prints the table from the stored figures: short"),
    (rf"^{V}python tests/bench/run\.py", "help", "1 to 13 minutes; test_bench_quick.py checks the behaviours"),
    (rf"^{V}tierlift sandbox ", "serve", "a server: started, asked its clock, stopped"),
    (rf"^{V}python -m tierlift\.sandbox --flavor ", "serve", "a server with its floor: started, asked its clock, stopped"),
    (r"^#!script\n", "script", "a walkthrough with background processes and sleeps (minutes): bash -n checks the"
                               " script, and every tierlift command in it must parse"),
    (rf"^{V}python tests/floor/run\.py", "help", "minutes; tests/floor/test_floor.py runs the short size under pytest"),
    (rf"^{V}python tests/bench/state_stores\.py", "help", "a minute or more; test_state.py runs both stores"),
    (rf"^{V}python -m tierlift\.sandbox$", "help", "a mention of the server module"),
    (rf"^{V}tierlift [a-z-]+$", "help", "a mention of the command in the text, not a command line"),
    (rf"^{V}tierlift webhooks setup$", "help", "a mention in the configuration reference; test_webhooks.py runs it"
                                             " against the sandbox"),
    (rf"^{V}tierlift webhooks setup --config ", "help", "creates the helpdesk's webhook and trigger;"
                                                   " test_webhooks.py runs it against the sandbox"),
    (rf"^{V}python tests/triage/(evaluate|build_model|compare_embedding)\.py", "help", "fits models for a minute or more;"
                                                                     " tests/triage/test_accuracy.py runs a slice"),
    (rf"^{V}python tests/bench/triage\.py", "help", "a minute or more of measuring; nothing to assert"),
    (rf"^{V}python tests/bench/switch_interval\.py", "help", "half a minute of measuring; nothing to assert"),
    (rf"^{V}python tests/bench/many\.py", "help", "minutes (6 to 10 at 500 helpdesks) of measuring;"
                                                 " nothing to assert"),
    (rf"^{V}python tests/bench/cycles\.py", "help", "minutes with 10,000 tickets; test_bench_quick.py checks the"
                                                 " follow-up reads"),
    (rf"^{V}python tests/engine/bench_engine\.py", "help", "a minute or more of measuring; nothing to assert"),
    (rf"^{V}python tests/bench/replicas\.py", "help", "minutes: a PostgreSQL cluster, H sandboxes and two daemons;"
                                                   " tests/reliability/test_replicas.py runs replicas under pytest"),
    (rf"^{V}tierlift triage (learn|eval|accept)\b", "help", "reads a helpdesk's closed history; tests/triage/test_learn.py"
                                                       " runs learn, eval and accept against the sandbox"),
    (rf"^{V}tierlift run .*--once", "run", "one cycle against the sandbox"),
    (rf"^{V}tierlift run --config \S+$", "help", "runs until stopped; test_daemon.py runs and stops it"),
    (rf"^{V}tierlift (plan|check|status|history|simulate|test-policy|report|export) ", "run", "short, against the sandbox"),
]


def _expand(line: str) -> list[str]:
    """`a [--x] b|c` -> with every optional part and with none, each alternative: "a --x b", "a --x c", "a b", ..."""
    line = line.replace("\\|", "|")
    out = []
    for variant in (re.sub(r"\[(--[^\]]*)\]", r"\1", line), re.sub(r"\s*\[--[^\]]*\]", "", line)):
        choices = [t.split("|") if "|" in t and not t.startswith("'") else [t] for t in variant.split()]
        out += [" ".join(c) for c in itertools.product(*choices)]
    return out


def command_lines() -> list[str]:
    return list(dict.fromkeys(c for doc in DOCS for c in command_lines_of(doc)))


def command_lines_of(doc: Path) -> list[str]:
    lines: list[str] = []
    text = doc.read_text(encoding="utf-8")
    for block in re.findall(r"^```sh\n(.*?)^```", text, flags=re.S | re.M):
        block = block.replace("\\\n", " ")  # a line continued with a backslash is one command line
        if "<<" in block or "$(" in block:  # a shell script, not a list of command lines
            lines.append("#!script\n" + block)
            continue
        for raw in block.splitlines():
            raw = re.sub(r"(^|\s+)#.*$", "", raw).strip()
            lines += [part.strip() for part in raw.split("&&") if part.strip()]
    for span in re.findall(r"`([^`\n]+)`", re.sub(r"^```.*?^```", "", text, flags=re.S | re.M)):
        if re.match(r"(\.venv/bin/)?(tierlift|python3?) ", span):
            lines.append(span.strip())
    out: list[str] = []
    for line in lines:
        for cmd in ([line] if line.startswith("#!script") else _expand(line)):
            if cmd not in out:
                out.append(cmd)
    return out


def rule_for(cmd: str) -> tuple[str, str, str] | None:
    return next((r for r in RULES if re.search(r[0], cmd)), None)


COMMANDS = command_lines()


def test_every_command_line_has_a_rule_and_every_rule_a_command_line():
    assert len(COMMANDS) > 20, COMMANDS
    assert [c for c in COMMANDS if rule_for(c) is None] == []
    assert [r[0] for r in RULES if not any(re.search(r[0], c) for c in COMMANDS)] == []
    assert any(c.startswith(".venv/bin/tierlift history --config") for c in COMMANDS)  # the table lists it
    # One shell, as written: the README's commands all call the virtualenv's programs by path.
    readme = [c for c in command_lines_of(ROOT / "README.md")
              if not c.startswith(("#!script", "python3 -m venv")) and not re.fullmatch(r"tierlift [a-z-]+", c)]
    assert readme and all(c.startswith(".venv/bin/") for c in readme), [c for c in readme if not c.startswith(".venv")]


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    """A sandbox helpdesk, a configuration with a live and a shadow entry after one cycle, an export."""
    folder = tmp_path_factory.mktemp("readme")
    with Sandbox("zendesk", tickets=40, seed=7, now=NOW) as sb:
        config = write_config(folder, [helpdesk("live", sb), helpdesk("shadow", sb, policy="teamflow", dry_run=True)],
                              clock_url=sb.url)
        assert run_once(config).returncode == 0
        r = requests.get(sb.url + "/api/v2/incremental/tickets/cursor.json", timeout=30,
                         params={"start_time": 0, "include": "organizations,users,metric_sets"},
                         auth=("bot@example.com/token", "x"))
        (folder / "export.json").write_text(r.text)
        yield {"tierlift.yaml": str(config), "export.json": str(folder / "export.json"), "P": "three-tier",
               "Q": "teamflow", "cases.yaml": str(ROOT / "policies" / "cases" / "three-tier.yaml"),
               "NAME": "shadow", "TICKET": "15", "PORT": "29000",
               # a file the README's commands write goes to the test's folder, not the checkout
               "report.html": str(folder / "report.html")}


def _check_script(script: str) -> None:
    """The script parses as bash, and each tierlift command in it parses its arguments."""
    r = subprocess.run(["bash", "-n"], input=script, capture_output=True, text=True, timeout=30)
    assert r.returncode == 0, r.stderr
    # The command, not the word: `createdb ... -U tierlift tierlift` names a role and a database.
    calls = re.findall(r"(?m)(?:\.venv/bin/tierlift|^tierlift) ([a-z-]+)((?: --?[a-z-]+(?: [^\s>|&;-]\S*)?)*)", script)
    assert calls, script
    for sub, args in calls:
        words = shlex.split(args)
        r = subprocess.run([sys.executable, "-m", "tierlift.service.cli", sub, *words, "--help"], cwd=ROOT, env=env(),
                           capture_output=True, text=True, timeout=60)
        assert r.returncode == 0, f"tierlift {sub}{args}\n{r.stderr[-2000:]}"


def argv(cmd: str, names: dict[str, str]) -> list[str]:
    words = [names.get(w, w) for w in shlex.split(cmd)]
    head = words[0]
    if head in ("tierlift", ".venv/bin/tierlift"):
        return [sys.executable, "-m", "tierlift.service.cli", *words[1:]]
    if head in ("python", "python3", ".venv/bin/python"):
        return [sys.executable, *words[1:]]
    if head == ".venv/bin/pip":
        return [sys.executable, "-m", "pip", *words[1:]]
    raise AssertionError(f"no way to run {head!r}")


def _serve(args: list[str]) -> None:
    port = free_port()
    i = args.index("--port")
    args[i + 1] = str(port)
    proc = subprocess.Popen(args, cwd=ROOT, env=env(), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        for _ in range(200):  # 20 s at most, for a slow machine
            try:
                r = requests.get(f"http://127.0.0.1:{port}/_sandbox/clock", timeout=1)
                break
            except requests.ConnectionError:
                assert proc.poll() is None, proc.communicate()[1]
                time.sleep(0.1)
        else:
            raise AssertionError(f"{args} did not answer")
        assert r.status_code == 200 and "now" in r.json()
    finally:
        proc.terminate()
        proc.wait(timeout=10)


@pytest.mark.parametrize("cmd", COMMANDS)
def test_the_command_line_works_as_written(cmd, site):
    rule = rule_for(cmd)
    assert rule is not None, f"no rule for {cmd!r}"
    _, how, _why = rule
    if how == "script":
        _check_script(cmd)
        return
    args = argv(cmd, site)
    if how == "extras":
        extras = re.findall(r"\.\[([^\]]+)\]", cmd)
        declared = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]
        assert all(e in declared for group in extras for e in group.split(",")), (extras, sorted(declared))
        args = [sys.executable, "-m", "pip", "install", "--help"]
    elif how == "help":
        args.append("--help")
    elif how == "serve":
        _serve(args)
        return
    r = subprocess.run(args, cwd=ROOT, env=env(), capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, f"{cmd}\n{r.stdout[-2000:]}\n{r.stderr[-2000:]}"
    if how == "run" and " --json" in cmd and " history " in cmd:
        assert json.loads(r.stdout)[0]["ticket"] == "15"
