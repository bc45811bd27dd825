"""A PostgreSQL state that does not answer (QA: `state: {url: postgresql://...:1/...}`):
`check` passed it (exit 0, "credentials accepted") and `run --once` waited for it for ever,
so a systemd timer's run never ended. Now `check` fails naming the database without its
password and why; `run --once` waits with backoff for runner.ONCE_STATE_WAIT, then exits 1
(2 is bad configuration); the daemon (`run`) still waits as long as it takes."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from datetime import UTC, datetime

from tierlift.sandbox import Sandbox

from kit import cli, env, free_port, helpdesk, write_config

NOW = datetime(2026, 11, 2, 19, 0, tzinfo=UTC)
PASSWORD = "pw-SECRET-at@tail"
# The CLI in a process of its own, with run --once's wait for the database shortened.
SHORT_WAIT = ("import sys; import tierlift.service.daemon.runner as r; r.ONCE_STATE_WAIT = float(sys.argv[1]);"
              " from tierlift.service.cli import main; sys.exit(main(sys.argv[2:]))")


def _closed_url() -> str:
    return f"postgresql://tierlift:{PASSWORD}@127.0.0.1:{free_port()}/tierlift"  # nothing listens there


def _config(tmp_path, sb, url: str):
    cfg = write_config(tmp_path, [helpdesk(sb, "hd")], clock_url=sb.url, state={"url": "${TL_DSN}"})
    line = next(n for n, text in enumerate(cfg.read_text().splitlines(), 1) if '"url": "${TL_DSN}"' in text)
    return cfg, line


def _secretless(text: str) -> bool:
    return "SECRET" not in text and "tail" not in text and PASSWORD not in text


def test_check_fails_on_a_state_database_that_does_not_answer(tmp_path):
    url = _closed_url()
    with Sandbox("zendesk", tickets=5, seed=1, now=NOW) as sb:
        config, line = _config(tmp_path, sb, url)
        r = cli("check", "--config", str(config), TL_DSN=url, timeout=120)
        offline = cli("check", "--config", str(config), "--offline", TL_DSN=url, timeout=60)
    out = r.stdout + r.stderr
    assert r.returncode == 2, out
    port = url.rsplit(":", 1)[1].split("/")[0]
    assert (f"{config}:{line}: state.url: the state database cannot be used (state database"
            f" postgresql://tierlift:***@127.0.0.1:{port}/tierlift:") in r.stdout, out
    assert "Connection refused" in r.stdout or "connection failed" in r.stdout, out
    assert "hd: credentials accepted" in r.stdout  # the helpdesks are still checked
    assert _secretless(out), out
    assert offline.returncode == 0 and "offline: helpdesks not contacted" in offline.stdout  # nothing contacted


def test_check_passes_a_state_database_that_answers(tmp_path, pg_url):
    with Sandbox("zendesk", tickets=5, seed=1, now=NOW) as sb:
        config, _ = _config(tmp_path, sb, pg_url)
        r = cli("check", "--config", str(config), TL_DSN=pg_url, timeout=120)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "  state: PostgreSQL postgresql://127.0.0.1:" in r.stdout and "answers and takes writes" in r.stdout


def test_run_once_gives_up_on_the_state_database_with_exit_1(tmp_path):
    url = _closed_url()
    with Sandbox("zendesk", tickets=5, seed=1, now=NOW) as sb:
        config, _ = _config(tmp_path, sb, url)
        started = time.monotonic()
        proc = subprocess.run([sys.executable, "-c", SHORT_WAIT, "4", "run", "--once", "--config", str(config)],
                              capture_output=True, text=True, env=env(TL_DSN=url), timeout=60)
        took = time.monotonic() - started
    out = proc.stdout + proc.stderr
    assert proc.returncode == 1, out
    assert took < 30, took
    assert out.count("waiting for the state database") >= 2, out  # with backoff, not one try
    assert "tierlift run --once: the state database did not answer: gave up after" in proc.stderr, out
    assert "in 4s (state database postgresql://tierlift:***@127.0.0.1:" in proc.stderr, out
    assert "the next run tries again" in proc.stderr, out
    assert _secretless(out), out


def test_the_daemon_still_waits_for_the_state_database(tmp_path):
    url = _closed_url()
    with Sandbox("zendesk", tickets=5, seed=1, now=NOW) as sb:
        config, _ = _config(tmp_path, sb, url)
        proc = subprocess.Popen([sys.executable, "-c", SHORT_WAIT, "1", "run", "--config", str(config)],
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env(TL_DSN=url))
        try:
            time.sleep(5)  # five times run --once's wait
            assert proc.poll() is None, proc.communicate()[0]
        finally:
            proc.send_signal(signal.SIGTERM)
            out = proc.communicate(timeout=30)[0]
    assert proc.returncode == 0, out
    assert "waiting for the state database" in out and "gave up" not in out, out
    assert _secretless(out), out
