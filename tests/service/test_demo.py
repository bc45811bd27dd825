"""`tierlift demo`, the README's first command: the sandbox plus the real daemon, both flavours.

Its arguments are checked before anything starts (QA's second tools pass: `--tickets 0`
ran the half minute to "something is wrong"; `--policy nosuch` ended "the daemon exited
with 2" without the reason), and a daemon that refuses its configuration is quoted."""

from __future__ import annotations

import io
import re
import shlex
import shutil
import subprocess
import time
from pathlib import Path

import pytest

from tierlift.service import cli
from tierlift.service.tools import demo as demo_mod
from tierlift.service.tools.demo import demo

ROW = re.compile(r"^\w{3} \d\d:\d\d\s+(\S+)\s+(L\d -> L\d|refused|frozen|reminder|review|triage)\s", re.M)


def _run(flavor: str, policy: str, **kw) -> tuple[int, str]:
    out = io.StringIO()
    code = demo(flavor=flavor, policy=policy, seconds=8.0, out=out, **kw)
    return code, out.getvalue()


@pytest.mark.parametrize(("flavor", "policy"), [("zendesk", "three-tier"), ("jira", "teamflow")])
def test_the_demo_shows_escalations_as_they_land_and_stops_cleanly(flavor, policy):
    code, text = _run(flavor, policy)
    assert code == 0, text
    assert "the daemon stopped cleanly on SIGTERM (exit 0)" in text
    rows = ROW.findall(text)
    moves = int(re.search(r"tier changes written\s+(\d+)", text).group(1))
    assert moves >= 5, text
    # The summary counts what the table shows: every row, every tier change.
    assert int(re.search(r"decisions shown above\s+(\d+)", text).group(1)) == len(rows), text
    assert moves == sum(1 for _, move in rows if move.startswith("L")), text
    assert not re.search(r"L(\d) -> L\1", text), "a decision that moves nothing is not shown as a move"
    assert "daemon said:" not in text, text  # no warning or error from the daemon
    writes = int(re.search(r"API requests\s+\d+ reads, (\d+) writes", text).group(1))
    assert writes >= moves
    # One full escalation as the helpdesk stored it: the structured note and the customer reply.
    example = text.split("one escalation as the helpdesk stores it:", 1)[1]
    note, reply = example.split("\ninternal note\n", 1)[1].split("\ncustomer reply\n", 1)
    for part in ("escalation_note:", "escalated_from:", "steps_taken:", "sla_status:", "[tierlift escalation="):
        assert part in note, note
    assert "escalated" in reply.split("\nsummary\n", 1)[0].lower(), reply


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_a_refused_manual_escalation_shows_as_a_refusal_with_what_is_missing():
    port = _free_port()  # QA: the demo could not be kept inside a given port range
    code, text = _run("zendesk", "three-tier", port=port)
    assert code == 0, text
    assert f"helpdesk at http://127.0.0.1:{port} " in text, text
    refusals = re.findall(r"refused\s+manual escalation at L\d: missing (.+)", text)
    assert refusals and all("steps taken" in r or "customer impact" in r for r in refusals), text
    assert int(re.search(r"refused \(no context\)\s+(\d+)", text).group(1)) == len(refusals)


def test_keep_leaves_the_folder_and_its_commands_run_as_printed():
    code, text = _run("zendesk", "three-tier", keep=True)
    assert code == 0, text
    folder = Path(re.search(r"the demo's folder is kept: (\S+)", text).group(1))
    try:
        assert (folder / "tierlift.yaml").exists() and (folder / "state.sqlite3").exists()
        commands = re.findall(r"^  (\S+(?: -m tierlift\.service\.cli)? (?:status|history|report) .+)$", text, re.M)
        assert [re.search(r" (status|history|report) ", c)[1] for c in commands] == ["status", "history", "report"]
        end = re.search(r"helpdesk time simulated\s+\w{3} \d\d:\d\d -> \w{3} (\d\d:\d\d) UTC", text)[1]
        outputs = {}
        for command in commands:  # as printed: no virtualenv activated, no $PATH, from another folder
            proc = subprocess.run(shlex.split(command), capture_output=True, text=True, timeout=120, cwd="/",
                                  env={"HOME": str(folder), "LANG": "C.UTF-8"})
            assert proc.returncode == 0 and proc.stdout.strip(), (command, proc.stdout, proc.stderr)
            assert "did not answer" not in proc.stderr and "system clock" not in proc.stderr, proc.stderr
            outputs[re.search(r" (status|history|report) ", command)[1]] = proc.stdout
        # They read the demo's helpdesk time (the sandbox's last clock), not today's.
        assert re.search(r"last ok:\s+2026-11-02 \d\d:\d\d UTC \((now|\d+ minutes? ago)\)", outputs["status"])
        assert f"clocks at 2026-11-02 {end} UTC" in outputs["history"], outputs["history"]
        assert "2026-11-02 to 2026-11-02" in outputs["report"]
        # Read at the kept helpdesk time, not today's: a clock stays within the demo's few hours
        # (a P0 nobody answered at L3 uses ~1,200% of its 30 on-call minutes; today's clock gave 17600%).
        assert not re.search(r"\d{5,}(\.\d)?%", outputs["history"] + outputs["report"])
    finally:
        shutil.rmtree(folder, ignore_errors=True)


@pytest.mark.parametrize(("args", "said"), [
    (["--tickets", "-5"], "--tickets: expected a number from 1 to 10000, got -5\n"),
    (["--tickets", "0"], "--tickets: expected a number from 1 to 10000, got 0\n"),
    (["--tickets", "10000000"], "--tickets: expected a number from 1 to 10000, got 10000000\n"),
    (["--policy", "nosuch"], "--policy: no policy file or built-in pack named 'nosuch'"),
    (["--policy", "three-teir"], "did you mean 'three-tier'?"),
    (["--policy", "missing/p.yaml"], "missing/p.yaml: policy file not found\n"),
])
def test_a_bad_argument_is_exit_2_with_its_reason_before_anything_starts(capsys, args, said):
    started = time.monotonic()
    code = cli.main(["demo", *args])
    out, err = capsys.readouterr()
    assert (code, out) == (2, ""), out + err
    assert err.startswith(said) or said in err.splitlines()[0], err
    assert time.monotonic() - started < 5


def test_a_port_in_use_is_refused_before_anything_starts(capsys):
    import socket

    with socket.socket() as held:
        held.bind(("127.0.0.1", 0))
        held.listen()
        code = cli.main(["demo", "--port", str(held.getsockname()[1])])
    out, err = capsys.readouterr()
    assert (code, out) == (2, ""), out + err
    assert err.startswith("--port: 127.0.0.1:") and "cannot be listened on" in err, err


def test_a_policy_file_that_does_not_load_says_where_and_why(tmp_path, capsys, monkeypatch):
    (tmp_path / "mine.yaml").write_text("escalation:\n  tiers: nope\n")
    monkeypatch.chdir(tmp_path)
    code = cli.main(["demo", "--policy", "mine.yaml"])
    _, err = capsys.readouterr()
    assert code == 2 and err.startswith("mine.yaml:"), err


def test_a_policy_file_is_found_from_where_the_demo_was_started(tmp_path, monkeypatch):
    """The demo's config is written in a folder of its own: a relative path is made absolute."""
    shutil.copy(Path(demo_mod.__file__).parents[2] / "policies" / "two-tier.yaml", tmp_path / "mine.yaml")
    monkeypatch.chdir(tmp_path)
    code, text = _run("zendesk", "mine.yaml")
    assert code == 0 and f"(policy {tmp_path / 'mine.yaml'})" in text, text


def test_a_configuration_the_daemon_refuses_is_quoted(monkeypatch):
    real = demo_mod.write_config

    def refused(folder, url, flavor, policy, poll="1s"):
        return real(folder, url, flavor, policy, poll="a fortnight")

    monkeypatch.setattr(demo_mod, "write_config", refused)
    code, text = _run("zendesk", "three-tier")
    assert code == 1, text
    assert re.search(r"daemon said: \S+tierlift\.yaml:\d+: poll_interval: ", text), text
    assert text.rstrip().endswith("the daemon exited with 2"), text
