"""docs/sandbox.md's worked example runs as written.

The page tells a support lead how to try a policy on the sandbox by hand; its one Python
block is a complete session (people, a customer's ticket, the clock, agents' replies,
tags and moves, `tierlift run --once`, the ticket's record). This test takes from the page
the sandbox's command line, the tierlift.yaml and that script, starts the sandbox as the
page says (on a free port instead of 8080), and runs the script from a folder laid out as
the checkout is (`.venv/bin/tierlift`, `rehearsal/`). The script's own asserts check each
step; the record it prints must hold the lines the page shows. So the page fails here when
an endpoint, a field, a login or the policy's behaviour it describes stops being true.
"""

from __future__ import annotations

import re
import shlex
import subprocess
import sys
from pathlib import Path

import requests

from kit import CLI, end, free_port, wait_until

DOC = Path(__file__).resolve().parents[2] / "docs" / "sandbox.md"
URL = "http://127.0.0.1:8080"  # the page's sandbox address
FENCE = re.compile(r"^```(\w*)\n(.*?)^```", re.S | re.M)


def blocks(lang: str) -> list[str]:
    return [body for kind, body in FENCE.findall(DOC.read_text()) if kind == lang]


def sandbox_args(port: int) -> list[str]:
    """The page's `tierlift sandbox` command line, on `port`."""
    line = next(ln for b in blocks("sh") for ln in b.splitlines()
                if ln.startswith(".venv/bin/tierlift sandbox --flavor zendesk"))
    args = shlex.split(line)[1:]
    args[args.index("--port") + 1] = str(port)
    return args


def expected_record() -> list[str]:
    """The record the page says the script prints last: the plain block right after the script."""
    text = DOC.read_text()
    after = text[text.index("```python"):]
    plain = [body for kind, body in FENCE.findall(after) if kind == ""]
    return [ln for ln in plain[0].splitlines() if ln.strip()]


def test_the_worked_example_runs_as_the_page_says(tmp_path):
    (script,) = blocks("python")
    (config,) = [b for b in blocks("yaml") if "kind: zendesk" in b]
    assert script.count(URL) == 1 and config.count(URL) == 2
    port = free_port()
    url = f"http://127.0.0.1:{port}"

    # The checkout's layout: .venv/bin/tierlift, rehearsal/tierlift.yaml and its token file.
    venv_bin = tmp_path / ".venv" / "bin"
    venv_bin.mkdir(parents=True)
    (venv_bin / "tierlift").write_text(f'#!/bin/sh\nexec {shlex.join(CLI)} "$@"\n')
    (venv_bin / "tierlift").chmod(0o755)
    rehearsal = tmp_path / "rehearsal"
    rehearsal.mkdir()
    (rehearsal / "tierlift.yaml").write_text(config.replace(URL, url))
    (rehearsal / "sandbox-token").write_text("any-token\n")
    (tmp_path / "example.py").write_text(script.replace(URL, url))

    with (tmp_path / "sandbox.log").open("w") as log:
        sandbox = subprocess.Popen([*CLI, *sandbox_args(port)], stdout=log, stderr=subprocess.STDOUT)
    try:
        def up() -> bool:
            try:
                return requests.get(url + "/_sandbox/clock", timeout=1).ok
            except requests.RequestException:
                return False

        assert wait_until(up, timeout=15), (tmp_path / "sandbox.log").read_text()
        run = subprocess.run([sys.executable, "example.py"], cwd=tmp_path, capture_output=True, text=True,
                             timeout=60)
    finally:
        end(sandbox)
    out = run.stdout + run.stderr
    assert run.returncode == 0, out[-4000:]
    assert "lead@example.com/token is tierlift bot" in out  # the pitfall the page warns of
    assert "carla@customer.example/token is Carla" in out
    printed = [ln.rstrip() for ln in run.stdout.splitlines()]
    missing = [ln for ln in expected_record() if ln.rstrip() not in printed]
    assert not missing, "the page's record differs from what the script printed:\n" + "\n".join(missing) + \
        "\n--- printed:\n" + run.stdout[-3000:]
