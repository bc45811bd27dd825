"""The SQLite state file as deployments break it (issue 14, items 3 and 4), with real processes.

- A damaged file (half-truncated, garbage in its middle) is refused at start:
  exit 2 and a message naming the file and what to do (move it aside; the
  helpdesk rebuilds it). It used to start and lose its cursor silently.
- Two daemons on one file: the second exits 2 naming the first one's pid. It
  used to run beside it.
- A database failure at run time is logged as a state database error, not as
  "helpdesk unreachable".
"""

from __future__ import annotations

import os
import random
import subprocess

import pytest

from kit import Daemon, cli, free_port, write_config
from reliakit import helpdesk, record, seeded_sandbox


@pytest.fixture
def ran(tmp_path):
    """A state file that a real daemon wrote (a first sync), closed cleanly."""
    sb = seeded_sandbox(40)
    try:
        cfg = write_config(tmp_path, [helpdesk(sb)])
        proc = cli("run", "--config", str(cfg), "--once")
        assert proc.returncode == 0, proc.stderr[-2000:]
        yield cfg, tmp_path / "state.sqlite3", sb
    finally:
        sb.stop()


def _truncate(path):
    with path.open("r+b") as f:
        f.truncate(os.path.getsize(path) // 2)


def _garbage(path):
    """One page of garbage two thirds in: the schema still reads, so the old code started on it."""
    pages = os.path.getsize(path) // 4096
    rng = random.Random(3)
    with path.open("r+b") as f:
        f.seek(pages * 2 // 3 * 4096)
        f.write(bytes(rng.randrange(256) for _ in range(4096)))


@pytest.mark.parametrize("damage", [_truncate, _garbage], ids=["half-truncated", "garbage-inside"])
def test_a_damaged_state_file_is_refused_at_start(ran, damage):
    cfg, state, _sb = ran
    assert not (state.parent / "state.sqlite3-wal").exists()  # a clean stop checkpointed it
    damage(state)
    proc = cli("run", "--config", str(cfg), "--once", timeout=60)
    assert proc.returncode == 2, proc.stderr[-2000:]
    assert str(state) in proc.stderr and "damaged" in proc.stderr
    assert f"mv {state} {state}.damaged" in proc.stderr and "rebuilds it from the helpdesk" in proc.stderr
    assert "Traceback" not in proc.stderr and "unreachable" not in proc.stderr
    record("state_file", corrupt_files_refused=1)


def test_a_second_daemon_on_one_state_file_exits_2_naming_the_holder(ran, tmp_path):
    cfg, state, _sb = ran
    first = Daemon(cfg, tmp_path / "first.log")
    try:
        assert first.wait_for("started helpdesks=", 60), first.output()[-2000:]
        try:
            second = cli("run", "--config", str(cfg), timeout=30)
        except subprocess.TimeoutExpired:
            pytest.fail("the second daemon ran beside the first one on the same state file")
        assert second.returncode == 2, second.stderr[-2000:]
        assert f"pid {first.pid}" in second.stderr and str(state) in second.stderr
        assert first.alive()
    finally:
        code, _ = first.terminate()
    assert code == 0
    # The lock went with the first daemon: the next start works.
    again = cli("run", "--config", str(cfg), "--once")
    assert again.returncode == 0, again.stderr[-2000:]
    record("state_file", second_daemon_refused=1)


def test_a_database_error_at_run_time_is_reported_as_one(ran, tmp_path):
    """The state breaks under a running daemon (here a table goes missing): the log names
    the state database, not the helpdesk, which answered all along."""
    import sqlite3

    _cfg, state, sb = ran
    port = free_port()
    cfg = write_config(tmp_path, [helpdesk(sb)], http={"listen": f"127.0.0.1:{port}"})  # the same state file
    d = Daemon(cfg, tmp_path / "broken.log")
    try:
        assert d.wait_for("started helpdesks=", 60), d.output()[-2000:]
        d.wait_cycles(port, more=1)  # running on it: a cycle went through
        with sqlite3.connect(state) as db:
            db.execute("DROP TABLE helpdesks")
        assert d.wait_for("state database error", 30), d.output()[-3000:]
    finally:
        d.terminate()
    out = d.output()
    assert f"state file {state}: database error: no such table: helpdesks" in out
    assert "unreachable" not in out


def test_a_second_daemon_with_the_same_port_is_told_of_the_first_daemon_not_of_its_port(ran, tmp_path):
    # QA (a new adopter, 2026-12-07): with http.listen set, as in both example configurations,
    # the second daemon was refused for the port ("Address already in use", no line), not for
    # the state file the first one holds, which the README says it names.
    _cfg, state, sb = ran
    cfg = write_config(tmp_path, [helpdesk(sb)], http={"listen": f"127.0.0.1:{free_port()}"})
    first = Daemon(cfg, tmp_path / "first.log")
    try:
        assert first.wait_for("started helpdesks=", 60), first.output()[-2000:]
        second = cli("run", "--config", str(cfg), timeout=30)
        assert second.returncode == 2, second.stderr[-2000:]
        assert f"pid {first.pid}" in second.stderr and str(state) in second.stderr, second.stderr[-2000:]
        assert "cannot listen" not in second.stderr
    finally:
        first.terminate()


def test_a_port_taken_by_something_else_is_refused_at_its_line(ran, tmp_path):
    import re
    import socket

    _cfg, _state, sb = ran
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        cfg = write_config(tmp_path, [helpdesk(sb)], http={"listen": f"127.0.0.1:{port}"})
        proc = cli("run", "--config", str(cfg), timeout=30)
    assert proc.returncode == 2, proc.stderr[-2000:]
    assert re.search(rf"^{re.escape(str(cfg))}:\d+: http.listen: cannot listen on 127.0.0.1:{port}: Address already"
                     r" in use$", proc.stderr, re.M), proc.stderr[-2000:]
