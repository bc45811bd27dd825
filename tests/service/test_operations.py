"""Operations: systemd notify, health and metrics, signals, notifications, logs, deploy files."""

from __future__ import annotations

import configparser
import hashlib
import hmac
import io
import json
import logging
import os
import re
import signal
import socket
import subprocess
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families

from tierlift.connectors.base import Secret
from tierlift.connectors.sandbox import Sandbox
from tierlift.service.daemon.config import ChannelConfig
from tierlift.service.ops import redact
from tierlift.service.ops.logs import OutageLog, setup_logging
from tierlift.service.ops.notify import Notifier, NotifyError

from daemonkit import Receiver, free_port
from servicekit import Daemon, helpdesk, marker_counts, run_once, write_config

NOW = datetime(2026, 11, 2, 19, 0, tzinfo=UTC)
DEPLOY = Path(__file__).resolve().parents[2] / "service" / "deploy"


@pytest.fixture
def sb():
    with Sandbox("zendesk", tickets=40, seed=7, now=NOW) as s:
        yield s


def test_systemd_notify_protocol_and_sigterm(sb, tmp_path):
    sock_path = str(tmp_path / "notify.sock")
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(sock_path)
    sock.settimeout(0.2)
    config = write_config(tmp_path, [helpdesk("hd", sb)], clock_url=sb.url)
    d = Daemon.start(config, NOTIFY_SOCKET=sock_path, WATCHDOG_USEC="2000000")
    got: list[str] = []
    deadline = time.monotonic() + 20
    try:
        while time.monotonic() < deadline and not ("WATCHDOG=1" in got and any(m.startswith("READY=1") for m in got)):
            try:
                got.extend(sock.recv(4096).decode().split("\n"))
            except TimeoutError:
                pass
        assert "READY=1" in got and "WATCHDOG=1" in got
        assert any(m.startswith("STATUS=") for m in got)
    finally:
        code, seconds = d.stop(signal.SIGTERM)
    try:
        while True:
            got.extend(sock.recv(4096).decode().split("\n"))
    except TimeoutError:
        pass
    sock.close()
    assert code == 0 and seconds < 10
    assert "STOPPING=1" in got


def _failed_cycles(base: str) -> float:
    text = requests.get(base + "/metrics", timeout=5).text
    return sum(s.value for f in text_string_to_metric_families(text) for s in f.samples
               if s.name == "tierlift_cycle_failures_total")


def test_health_metrics_and_reload(sb, tmp_path):
    port = free_port()
    config = write_config(tmp_path, [helpdesk("hd", sb)], clock_url=sb.url, http={"listen": f"127.0.0.1:{port}"})
    d = Daemon.start(config)
    try:
        d.wait_for("escalated helpdesk=hd", timeout=30)
        base = f"http://127.0.0.1:{port}"
        assert requests.get(base + "/healthz", timeout=5).status_code == 200
        for _ in range(100):  # ready once the first cycle has completed
            ready = requests.get(base + "/readyz", timeout=5)
            if ready.status_code == 200:
                break
            time.sleep(0.1)
        assert ready.status_code == 200, ready.text
        text = requests.get(base + "/metrics", timeout=5).text
        families = {f.name: f for f in text_string_to_metric_families(text)}
        assert "tierlift_escalations" in families and "tierlift_api_requests" in families
        assert "tierlift_last_successful_cycle_timestamp_seconds" in families
        for f in families.values():
            if f.name.startswith("tierlift_"):
                for s in f.samples:
                    assert "ticket" not in s.labels, f"{f.name} has a ticket label"
        escalated = sum(s.value for s in families["tierlift_escalations"].samples
                        if s.name == "tierlift_escalations_total" and s.labels["dry_run"] == "false")
        assert escalated == len(re.findall(r"escalated helpdesk=hd", d.output))
        # The helpdesk goes down: health stays 200 (liveness never depends on it).
        sb.set_down(True)
        d.wait_for("helpdesk=hd unreachable", timeout=30)
        failed_cycles = _failed_cycles(base)
        deadline = time.monotonic() + 30
        while _failed_cycles(base) < failed_cycles + 2 and time.monotonic() < deadline:
            time.sleep(0.2)  # two more failing cycles: the outage must not be logged again
        assert _failed_cycles(base) >= failed_cycles + 2
        assert requests.get(base + "/healthz", timeout=5).status_code == 200
        assert d.output.count("helpdesk=hd unreachable") == 1
        sb.set_down(False)
        d.wait_for("answering again", timeout=15)
        # SIGHUP with a broken file keeps the running configuration...
        good = config.read_text()
        config.write_text(good.replace('"poll_interval": "1s"', '"poll_interval": "soon"'))
        d.proc.send_signal(signal.SIGHUP)
        d.wait_for("reload refused", timeout=10)
        assert requests.get(base + "/healthz", timeout=5).status_code == 200
        # ...and a good one is applied.
        config.write_text(good.replace('"poll_interval": "1s"', '"poll_interval": "2s"'))
        d.proc.send_signal(signal.SIGHUP)
        d.wait_for("reloaded helpdesks=hd", timeout=15)
    finally:
        code, seconds = d.stop()
    assert code == 0 and seconds < 10


def test_notifications_are_sent_once_per_escalation(sb, tmp_path):
    rx = Receiver()
    try:
        channels = {
            "pagerduty": {"kind": "pagerduty", "url": rx.url + "/pd", "routing_key": "${PD_KEY}"},
            "slack_oncall": {"kind": "slack", "webhook_url": "${SLACK_URL}"},
            "slack_channel": {"kind": "webhook", "url": rx.url + "/hook", "secret": "${HOOK_SECRET}"},
        }
        config = write_config(tmp_path, [helpdesk("hd", sb)], clock_url=sb.url, channels=channels)
        env = {"PD_KEY": "pd-routing-key-0042", "SLACK_URL": rx.url + "/slack", "HOOK_SECRET": "hook-secret-0042"}
        proc = run_once(config, **env)
        assert proc.returncode == 0, proc.stderr
        pd = [g for g in rx.got if g["path"] == "/pd"]
        assert pd and all(g["json"]["event_action"] == "trigger" for g in pd)
        assert {g["json"]["dedup_key"] for g in pd} <= set(marker_counts(sb)), "dedup key is the escalation id"
        assert all(g["json"]["routing_key"] == "pd-routing-key-0042" for g in pd)
        hooks = [g for g in rx.got if g["path"] == "/hook"]
        for g in hooks:
            sig = hmac.new(b"hook-secret-0042", g["raw"], hashlib.sha256).hexdigest()
            assert g["headers"]["X-Tierlift-Signature"] == f"sha256={sig}"
        slack = [g for g in rx.got if g["path"] == "/slack"]
        assert slack and all(g["json"]["text"].startswith("*") for g in slack)
        before = len(rx.got)
        assert run_once(config, **env).returncode == 0
        assert len(rx.got) == before, "a restart never re-sends a notification"
        for secret in env.values():
            assert secret not in proc.stderr
    finally:
        rx.close()


def test_notifier_retries_5xx_not_4xx_and_never_shows_its_secrets():
    rx = Receiver(statuses=[500, 202])
    try:
        n = Notifier({"pd": ChannelConfig("pd", "pagerduty", rx.url + "/pd", Secret("routing-key-secret-9"))},
                     sleep=lambda s: None)
        n.send("pd", "[P0] subject", "body", dedup_key="abc123")
        assert len(rx.got) == 2 and {g["json"]["dedup_key"] for g in rx.got} == {"abc123"}
        rx.statuses = [400]
        with pytest.raises(NotifyError) as exc:
            n.send("pd", "s", "b", dedup_key="x")
        assert len(rx.got) == 3 and "routing-key-secret-9" not in str(exc.value)
        hook = Notifier({"s": ChannelConfig("s", "slack", None, Secret(rx.url + "/secret-path-xyz"))}, sleep=lambda s: None)
        rx.statuses = [500, 500, 500]
        with pytest.raises(NotifyError) as exc:
            hook.send("s", "s", "b", dedup_key="y")
        assert "secret-path-xyz" not in str(exc.value)
    finally:
        rx.close()


def test_logs_are_json_when_asked_and_never_carry_a_secret():
    redact.register("sekrit-token-123456")
    out = io.StringIO()
    setup_logging("json", "DEBUG", stream=out)
    log = logging.getLogger("tierlift.test")
    log.info("escalated helpdesk=acme ticket=42 tier=L1->L2 rule=sla team=%s token=%s", json.dumps("Tier 2"),
             "sekrit-token-123456")
    try:
        raise RuntimeError("failed with Authorization sekrit-token-123456")
    except RuntimeError:
        log.exception("boom")
    lines = [json.loads(x) for x in out.getvalue().splitlines()]
    assert lines[0]["helpdesk"] == "acme" and lines[0]["ticket"] == "42" and lines[0]["team"] == "Tier 2"
    assert "sekrit-token-123456" not in out.getvalue()
    outage = OutageLog(log)
    for _ in range(5):
        outage.failed("acme", "HTTP 503")
    outage.recovered("acme")
    text = out.getvalue()
    assert text.count("unreachable") == 1 and text.count("answering again") == 1
    setup_logging("text", "INFO")


def test_the_unit_file_has_what_systemd_needs():
    unit = configparser.ConfigParser(strict=False, interpolation=None)
    unit.read(DEPLOY / "tierlift.service")
    svc = unit["Service"]
    assert svc["Type"] == "notify" and svc["Restart"] == "on-failure" and svc["DynamicUser"] == "yes"
    assert "WatchdogSec" in svc and svc["StateDirectory"] == "tierlift" and "LoadCredential" in svc
    for option in ("NoNewPrivileges", "ProtectSystem", "PrivateTmp", "RestrictAddressFamilies", "SystemCallFilter"):
        assert option in svc, option


def test_the_container_recipe_and_entrypoint(tmp_path):
    docker = (DEPLOY / "Dockerfile").read_text()
    assert re.search(r"^USER 10001$", docker, re.M) and "HEALTHCHECK" in docker and "VOLUME" in docker
    fake = tmp_path / "bin"
    fake.mkdir()
    (fake / "tierlift").write_text('#!/bin/sh\necho "tierlift $*"\n')
    (fake / "tierlift").chmod(0o755)
    env = {**os.environ, "PATH": f"{fake}:{os.environ['PATH']}", "TIERLIFT_CONFIG": "/etc/t.yaml"}
    script = str(DEPLOY / "docker-entrypoint.sh")
    as_root = os.getuid() == 0
    if as_root:
        refused = subprocess.run(["sh", script], env=env, capture_output=True, text=True)
        assert refused.returncode == 1 and "refusing to run as root" in refused.stderr
        env["TIERLIFT_ALLOW_ROOT"] = "1"
    default = subprocess.run(["sh", script, "--dry-run"], env=env, capture_output=True, text=True)
    assert default.stdout.strip() == "tierlift run --config /etc/t.yaml --dry-run"
    other = subprocess.run(["sh", script, "tierlift", "check", "--config", "x"], env=env, capture_output=True, text=True)
    assert other.stdout.strip() == "tierlift check --config x"
    k8s = (DEPLOY / "kubernetes.yaml").read_text()
    assert "/healthz" in k8s and "/readyz" in k8s
    assert re.search(r"^  replicas: 2$", k8s, re.M) and "secretKeyRef: {name: tierlift-state-db, key: url}" in k8s
    assert "'.[postgres]'" in docker
