"""The report of a real run: `tierlift report` on the daemon's own state agrees with
the Prometheus counters the same daemon served, in every format."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime

import requests
from prometheus_client.parser import text_string_to_metric_families

from tierlift.sandbox import Sandbox

from kit import Daemon, cli, free_port, write_config
from servicekit import helpdesk

NOW = datetime(2026, 11, 2, 19, 0, tzinfo=UTC)


def samples(base: str, name: str) -> list:
    text = requests.get(base + "/metrics", timeout=5).text
    return [s for f in text_string_to_metric_families(text) for s in f.samples if s.name == name]


def test_the_report_agrees_with_the_metrics_of_the_same_run(tmp_path):
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    with Sandbox("zendesk", tickets=60, seed=7, now=NOW) as sb:  # a still clock: the work is finite
        config = write_config(tmp_path, [helpdesk("hd", sb)], clock_url=sb.url,
                              http={"listen": f"127.0.0.1:{port}"})
        d = Daemon(config, tmp_path / "daemon.log")
        try:
            d.expect("escalated helpdesk=hd", timeout=30)
            # Settled: three more cycles complete with no new decision (counted as cycles in
            # /metrics: a daemon that stalled finishes none and is not taken for settled).
            deadline, last, last_cycles, quiet = time.monotonic() + 60, -1.0, 0.0, 0
            while quiet < 3 and time.monotonic() < deadline:
                cycles = sum(s.value for s in samples(base, "tierlift_cycle_duration_seconds_count"))
                total = sum(s.value for s in samples(base, "tierlift_escalations_total"))
                if cycles > last_cycles:
                    quiet = quiet + 1 if total == last else 0
                    last, last_cycles = total, cycles
                time.sleep(0.3)
            assert quiet >= 3, "the daemon kept deciding on a still clock"
            metrics = [s for s in samples(base, "tierlift_escalations_total") if s.labels["dry_run"] == "false"]
        finally:
            code, _ = d.terminate()
        assert code == 0
    up = sum(s.value for s in metrics
             if s.labels["kind"] in ("escalate", "route") and int(s.labels["to_tier"]) > int(s.labels["from_tier"]))
    down = sum(s.value for s in metrics if s.labels["kind"] == "de-escalate")
    refused = sum(s.value for s in metrics if s.labels["kind"] == "refused")
    assert up > 10 and down >= 1 and refused >= 1

    r = cli("report", "--config", str(config), "--since", "2026-10-01", "--format", "json")
    assert r.returncode == 0, r.stderr
    (rep,) = json.loads(r.stdout)
    assert rep["escalations"] == up
    assert rep["de_escalations"] == down and rep["refused"] == refused
    by_rule = {}
    for s in metrics:
        if s.labels["kind"] in ("escalate", "route") and int(s.labels["to_tier"]) > int(s.labels["from_tier"]):
            by_rule[s.labels["rule"]] = by_rule.get(s.labels["rule"], 0) + int(s.value)
    assert rep["by_rule"] == by_rule

    table = cli("report", "--config", str(config), "--since", "2026-10-01")
    assert table.returncode == 0
    assert f"{int(up)} escalations of {rep['escalated_tickets']} tickets" in table.stdout and f"de-escalations {int(down)}" in table.stdout
    assert all(len(line) <= 80 for line in table.stdout.splitlines())
    out = tmp_path / "report.html"
    page = cli("report", "--config", str(config), "--since", "2026-10-01", "--format", "html", "--out", str(out))
    assert page.returncode == 0 and out.read_text().startswith("<!DOCTYPE html>")
