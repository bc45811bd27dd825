"""Webhooks end to end (issue 24): the sandbox sends signed webhooks as the helpdesks do,
`tierlift webhooks setup` creates them, the real daemon acts on them.

- a new P0 is escalated by its webhook before any poll could see it (the poll interval
  is a minute, and the cycle count in /metrics has not moved when the note lands);
- setup run twice leaves one webhook and one trigger; `check` finds them;
- every webhook duplicated and half of them reordered: one note per ticket, also once
  the poll has read the same changes;
- every webhook dropped: the poll still escalates;
- forged, unsigned, stale, replayed, oversized and malformed requests are refused with
  their status, and nothing is read from the helpdesk for them.
"""

from __future__ import annotations

import json
import re
import time
from datetime import timedelta
from pathlib import Path

import pytest
import requests

from tierlift.sandbox import Sandbox
from tierlift.service.ops.webhooks import zendesk_signature

from kit import MARKER, Daemon, cli, free_port, write_config
from reliakit import NOW, helpdesk

SECRET = "whsec-e2e-70c1d9a4b3"


def notes(sb: Sandbox) -> dict[str, int]:
    """Ticket -> escalation notes written (answered 2xx), from the helpdesk's own request log."""
    out: dict[str, int] = {}
    for e in sb.requests_log():
        if not e["write"] or not 200 <= int(e["status"]) < 300 or not MARKER.search(json.dumps(e.get("body"))):
            continue
        m = re.search(r"/tickets/(\d+)|/issue/([^/]+)|/request/([^/]+)/comment", e["path"])
        if not m:
            continue
        tid = next(g for g in m.groups() if g)
        if tid.isdigit() and sb.flavor == "jira":
            tid = f"SUP-{int(tid) - 10000}"
        out[tid] = out.get(tid, 0) + 1
    return out


def metric(port: int, name: str) -> float:
    text = requests.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
    return sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines()
               if line.startswith(name) and not line.startswith("#"))


def wait(what, timeout: float = 60.0):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        value = what()
        if value:
            return value
        time.sleep(0.1)
    return what()


def p0s(sb: Sandbox, n: int) -> list[str]:
    at = sb.clock.now().isoformat()
    status, body = sb.control("POST", "tickets", {"tickets": [
        {"subject": f"Checkout down {i}", "description": "All payments fail.", "tags": ["p0"], "created_at": at}
        for i in range(n)]})
    assert status == 200
    return [str(i) for i in body["ids"]]


def start(tmp: Path, sb: Sandbox, poll: str) -> tuple[Daemon, int]:
    port = free_port()
    config = write_config(tmp, [helpdesk(sb, webhook_secret="${WH_SECRET}")], clock_url=sb.url, poll=poll,
                          http={"listen": f"127.0.0.1:{port}"}, webhooks={"public_url": f"http://127.0.0.1:{port}"})
    dry = cli("webhooks", "setup", "--config", str(config), "--dry-run", WH_SECRET=SECRET)
    assert dry.returncode == 0 and "would create" in dry.stdout and not sb.hooks.webhooks, dry.stdout + dry.stderr
    for _ in range(2):  # idempotent: twice is once
        done = cli("webhooks", "setup", "--config", str(config), WH_SECRET=SECRET)
        assert done.returncode == 0, done.stdout + done.stderr
        assert SECRET not in done.stdout + done.stderr
    checked = cli("webhooks", "check", "--config", str(config), "--public-url", f"http://127.0.0.1:{port}",
                  WH_SECRET=SECRET)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    d = Daemon(config, tmp / "daemon.log", "--verbose", WH_SECRET=SECRET)
    assert d.wait_for("started helpdesks", timeout=60), d.output()[-3000:]
    assert wait(lambda: _up(port) and metric(port, "tierlift_cycle_duration_seconds_count") >= 1), d.output()[-3000:]
    return d, port


def _up(port: int) -> bool:
    try:
        return requests.get(f"http://127.0.0.1:{port}/healthz", timeout=2).ok
    except requests.ConnectionError:
        return False


@pytest.mark.parametrize("flavor", ["zendesk", "jira"])
def test_a_new_p0_is_escalated_by_its_webhook_before_any_poll(tmp_path, flavor):
    with Sandbox(flavor, tickets=3, now=NOW) as sb:
        d, port = start(tmp_path, sb, poll="120s")
        try:
            if flavor == "zendesk":
                assert (len(sb.hooks.webhooks), len(sb.hooks.triggers)) == (1, 1)
            else:
                assert len(sb.hooks.webhooks) == 1
            checked = cli("check", "--config", str(tmp_path / "tierlift.yaml"), WH_SECRET=SECRET)
            assert checked.returncode == 0 and "webhook points at" in checked.stdout, checked.stdout + checked.stderr
            cycles = metric(port, "tierlift_cycle_duration_seconds_count")
            [p0] = p0s(sb, 1)
            assert wait(lambda: notes(sb).get(p0)), d.output()[-3000:]
            assert metric(port, "tierlift_cycle_duration_seconds_count") == cycles  # no poll in between
            assert metric(port, 'tierlift_webhooks_total{helpdesk="hd",result="accepted"}') >= 1
        finally:
            code, _ = d.terminate()
        assert code == 0 and notes(sb)[p0] == 1 and SECRET not in d.output()


@pytest.mark.parametrize("flavor", ["zendesk", "jira"])
def test_duplicated_and_reordered_webhooks_write_one_note_per_ticket(tmp_path, flavor):
    with Sandbox(flavor, tickets=3, now=NOW) as sb:
        d, port = start(tmp_path, sb, poll="1s")
        try:
            sb.hooks.set_faults("duplicate:1,reorder:0.5", seed=3)
            read = metric(port, "tierlift_tickets_read_total")  # by the poll (webhook reads are counted apart)
            ids = p0s(sb, 6)
            assert wait(lambda: all(notes(sb).get(t) for t in ids)), d.output()[-3000:]
            # The poll reads the same changes (Zendesk: once the export's last minute has passed).
            sb.clock.advance(timedelta(seconds=90))
            assert wait(lambda: metric(port, "tierlift_tickets_read_total") >= read + len(ids)), d.output()[-3000:]
            assert metric(port, 'tierlift_webhooks_total{helpdesk="hd",result="duplicate"}') >= 1
        finally:
            d.terminate()
        assert {t: notes(sb)[t] for t in ids} == {t: 1 for t in ids}


def test_with_every_webhook_dropped_the_poll_still_escalates(tmp_path):
    with Sandbox("zendesk", tickets=3, now=NOW) as sb:
        d, port = start(tmp_path, sb, poll="1s")
        try:
            sb.hooks.set_faults("drop:1")
            sent = len(sb.hooks.deliveries)
            [p0] = p0s(sb, 1)
            sb.clock.advance(timedelta(seconds=90))  # past the export's holdback
            assert wait(lambda: notes(sb).get(p0)), d.output()[-3000:]
            after = sb.hooks.deliveries[sent:]
            assert after and {e["result"] for e in after} == {"dropped"}
        finally:
            d.terminate()
        assert notes(sb)[p0] == 1


def test_hostile_requests_are_refused_and_read_nothing(tmp_path):
    with Sandbox("zendesk", tickets=0, now=NOW) as sb:  # no first-sync writes, so no webhooks of its own
        d, port = start(tmp_path, sb, poll="120s")
        url = f"http://127.0.0.1:{port}/webhooks/hd"
        try:
            before = len(sb.requests_log())
            good = b'{"ticket_id": "1"}'
            stamp = sb.clock.now().strftime("%Y-%m-%dT%H:%M:%SZ")
            old = (sb.clock.now() - timedelta(minutes=10)).strftime("%Y-%m-%dT%H:%M:%SZ")

            def post(body: bytes, key: str = SECRET, at: str = stamp, signed: bool = True) -> int:
                h = {"X-Zendesk-Webhook-Signature": zendesk_signature(key, at, body),
                     "X-Zendesk-Webhook-Signature-Timestamp": at} if signed else {}
                return requests.post(url, data=body, headers=h, timeout=5).status_code

            statuses = [post(good, key="forged"), post(good, signed=False), post(good, at=old),
                        post(b'{"ticket_id": "1", "x": "' + b"y" * 400_000 + b'"}'), post(b"{not json"),
                        requests.post(url.replace("/hd", "/other"), data=good, timeout=5).status_code]
            assert statuses == [401, 401, 401, 413, 400, 404]
            assert wait(lambda: metric(port, "tierlift_webhooks_total") >= 6)
            assert metric(port, "tierlift_cycle_duration_seconds_count") == 1  # the poll did not read meanwhile
            assert len(sb.requests_log()) == before  # nothing read or written for them
            # A genuine request, then the same bytes replayed: one ticket read, not two.
            h = {"X-Zendesk-Webhook-Signature": zendesk_signature(SECRET, stamp, good),
                 "X-Zendesk-Webhook-Signature-Timestamp": stamp}
            assert [requests.post(url, data=good, headers=h, timeout=5).status_code for _ in range(2)] == [202, 200]
            accepted = 'tierlift_webhooks_total{helpdesk="hd",result="accepted"}'
            assert (metric(port, accepted), metric(port, accepted.replace("accepted", "duplicate"))) == (1, 1)
            # `status` shows the last event and the refusals per helpdesk.
            shown = cli("status", "--config", str(tmp_path / "tierlift.yaml"), "--json", WH_SECRET=SECRET)
            hooks = json.loads(shown.stdout)["helpdesks"]["hd"]["webhooks"]
            assert hooks["refused"] == {"bad_signature": 1, "unsigned": 1, "stale": 1, "too_large": 1, "malformed": 1}
            assert hooks["accepted"] == 1 and hooks["last_event_at"]
            text = cli("status", "--config", str(tmp_path / "tierlift.yaml"), WH_SECRET=SECRET).stdout
            assert "webhooks:        last event" in text and SECRET not in text
        finally:
            code, _ = d.terminate()
        assert code == 0 and SECRET not in d.output()


@pytest.mark.slow
def test_a_storm_of_events_costs_a_batch_read_a_second_within_the_budget(tmp_path):
    """10,000 signed events for 100 tickets as fast as the test can send them: every one is
    answered, the tickets are read in batches (at most one a second), the request budget
    holds in every minute, and once the storm has passed an idle cycle is one read again."""
    from concurrent.futures import ThreadPoolExecutor

    from tierlift.sandbox.store import NOISE

    with Sandbox("zendesk", tickets=0, now=NOW) as sb:
        at = sb.clock.now().isoformat()
        status, body = sb.control("POST", "tickets", {"tickets": [
            {"subject": NOISE[i % len(NOISE)][0], "description": NOISE[i % len(NOISE)][1], "created_at": at}
            for i in range(100)]})
        ids = [str(i) for i in body["ids"]]
        port = free_port()
        config = write_config(tmp_path, [helpdesk(sb, webhook_secret="${WH_SECRET}", rate_limit_per_minute=120)],
                              clock_url=sb.url, poll="2s", http={"listen": f"127.0.0.1:{port}"})
        d = Daemon(config, tmp_path / "daemon.log", WH_SECRET=SECRET)
        try:
            assert wait(lambda: _up(port) and metric(port, "tierlift_cycle_duration_seconds_count") >= 1)
            url = f"http://127.0.0.1:{port}/webhooks/hd"
            stamp = sb.clock.now().strftime("%Y-%m-%dT%H:%M:%SZ")
            started, before = time.time(), len(sb.requests_log())

            def send(chunk: range) -> list[int]:
                s = requests.Session()
                out = []
                for i in chunk:
                    data = json.dumps({"ticket_id": ids[i % 100], "event": i}).encode()  # 10,000 distinct
                    out.append(s.post(url, data=data, timeout=10, headers={
                        "X-Zendesk-Webhook-Signature": zendesk_signature(SECRET, stamp, data),
                        "X-Zendesk-Webhook-Signature-Timestamp": stamp,
                        "X-Zendesk-Webhook-Invocation-Id": f"storm-{i}"}).status_code)
                return out

            with ThreadPoolExecutor(8) as pool:
                statuses = [c for part in pool.map(send, [range(k, 10_000, 8) for k in range(8)]) for c in part]
            seconds = time.time() - started
            assert statuses.count(202) == 10_000
            cycles = metric(port, "tierlift_cycle_duration_seconds_count")
            assert wait(lambda: metric(port, "tierlift_cycle_duration_seconds_count") >= cycles + 2)
            log = sb.requests_log()[before:]
            batches = [e for e in log if "show_many" in e["path"]]
            assert len(batches) <= seconds + 3, (len(batches), seconds)
            times = sorted(e["t"] for e in sb.requests_log())
            busiest = max(sum(1 for t in times if t0 <= t < t0 + 60) for t0 in times)
            assert busiest <= 120
            # Quiet again: a cycle is one read.
            cycles, count = metric(port, "tierlift_cycle_duration_seconds_count"), len(sb.requests_log())
            assert wait(lambda: metric(port, "tierlift_cycle_duration_seconds_count") >= cycles + 2)
            done = metric(port, "tierlift_cycle_duration_seconds_count") - cycles
            assert len(sb.requests_log()) - count <= done + 1  # a cycle may be under way when counted
            print(f"storm: 10,000 events in {seconds:.1f} s for 100 tickets: {len(batches)} batch reads,"
                  f" {metric(port, 'tierlift_webhook_tickets_total'):.0f} ticket reads; busiest minute"
                  f" {busiest} requests (budget 120)")
        finally:
            d.terminate()


def test_webhooks_listen_serves_webhooks_apart_from_the_probes(tmp_path):
    with Sandbox("zendesk", tickets=0, now=NOW) as sb:
        probes, hooks = free_port(), free_port()
        config = write_config(tmp_path, [helpdesk(sb, webhook_secret="${WH_SECRET}")], clock_url=sb.url,
                              http={"listen": f"127.0.0.1:{probes}"}, webhooks={"listen": f"127.0.0.1:{hooks}"})
        d = Daemon(config, tmp_path / "daemon.log", WH_SECRET=SECRET)
        try:
            assert d.wait_for("webhooks on", timeout=30), d.output()[-3000:]
            body, stamp = b'{"ticket_id": "1"}', sb.clock.now().strftime("%Y-%m-%dT%H:%M:%SZ")
            h = {"X-Zendesk-Webhook-Signature": zendesk_signature(SECRET, stamp, body),
                 "X-Zendesk-Webhook-Signature-Timestamp": stamp}
            assert wait(lambda: _up(probes))
            assert requests.post(f"http://127.0.0.1:{probes}/webhooks/hd", data=body, headers=h, timeout=5).status_code == 404
            assert requests.post(f"http://127.0.0.1:{hooks}/webhooks/hd", data=body, headers=h, timeout=5).status_code == 202
            assert requests.get(f"http://127.0.0.1:{hooks}/healthz", timeout=5).status_code == 404
            assert requests.get(f"http://127.0.0.1:{hooks}/metrics", timeout=5).status_code == 404
        finally:
            code, _ = d.terminate()
        assert code == 0, d.output()[-3000:]


def test_a_reload_applies_a_rotated_secret_and_a_removed_helpdesk_is_no_longer_served(tmp_path):
    """QA (an integrator, 2026-12-07): after a secret rotation and SIGHUP the reload said
    "changed=-", the revoked secret was still accepted and every delivery signed with the new one
    was refused (the P0 waited for the poll); a helpdesk the reload removed went on answering
    202 with nothing acting on it."""
    import os
    import signal

    old, new = SECRET, "whsec-rotated-5e8a1f77c2"
    secret_file = tmp_path / "wh-secret"
    secret_file.write_text(old + "\n")
    with Sandbox("zendesk", tickets=3, now=NOW) as sb:
        port = free_port()
        entry = helpdesk(sb, webhook_secret_file=str(secret_file))
        config = write_config(tmp_path, [entry], clock_url=sb.url, poll="120s", http={"listen": f"127.0.0.1:{port}"},
                              webhooks={"public_url": f"http://127.0.0.1:{port}"})
        assert cli("webhooks", "setup", "--config", str(config)).returncode == 0
        d = Daemon(config, tmp_path / "daemon.log")
        try:
            assert wait(lambda: _up(port) and metric(port, "tierlift_cycle_duration_seconds_count") >= 1)
            secret_file.write_text(new + "\n")  # rotated: the helpdesk signs with the new secret
            done = cli("webhooks", "setup", "--config", str(config))
            assert done.returncode == 0, done.stdout + done.stderr
            before = metric(port, "tierlift_cycle_duration_seconds_count")
            os.kill(d.pid, signal.SIGHUP)
            assert d.wait_for("webhooks reloaded", timeout=30), d.output()[-3000:]
            assert "secret_changed=hd" in d.output()
            # The reload's new worker starts with a cycle; the next poll is two minutes away.
            assert wait(lambda: metric(port, "tierlift_cycle_duration_seconds_count") > before)
            url, body = f"http://127.0.0.1:{port}/webhooks/hd", b'{"ticket_id": "1"}'
            assert _signed(url, body, old).status_code == 401  # the revoked secret
            assert _signed(url, body, new).status_code == 202
            cycles = metric(port, "tierlift_cycle_duration_seconds_count")
            [p0] = p0s(sb, 1)
            assert wait(lambda: notes(sb).get(p0)), d.output()[-3000:]
            assert metric(port, "tierlift_cycle_duration_seconds_count") == cycles  # by its webhook, no poll

            write_config(tmp_path, [helpdesk(sb)], clock_url=sb.url, poll="120s", http={"listen": f"127.0.0.1:{port}"})
            os.kill(d.pid, signal.SIGHUP)
            assert wait(lambda: d.output().count("webhooks reloaded") == 2), d.output()[-3000:]
            assert _signed(url, body, new).status_code == 404  # no longer taken, so never dropped unseen
        finally:
            code, _ = d.terminate()
        assert code == 0 and old not in d.output() and new not in d.output()


def _signed(url: str, body: bytes, secret: str) -> requests.Response:
    at = NOW.isoformat().replace("+00:00", "Z")
    return requests.post(url, data=body, timeout=10, headers={
        "Content-Type": "application/json", "X-Zendesk-Webhook-Signature-Timestamp": at,
        "X-Zendesk-Webhook-Signature": zendesk_signature(secret, at, body)})


def test_a_refused_reloads_short_secret_is_not_masked_in_later_lines(tmp_path):
    """QA (an integrator, 2026-12-07): a reload refused for a webhook secret of "tier" (too
    short) kept it as a secret to mask: every later escalation line read "***=L1->L3"."""
    import os
    import signal

    secret_file = tmp_path / "wh-secret"
    secret_file.write_text(SECRET + "\n")
    with Sandbox("zendesk", tickets=3, now=NOW) as sb:
        port = free_port()
        config = write_config(tmp_path, [helpdesk(sb, webhook_secret_file=str(secret_file))], clock_url=sb.url,
                              poll="120s", http={"listen": f"127.0.0.1:{port}"},
                              webhooks={"public_url": f"http://127.0.0.1:{port}"})
        assert cli("webhooks", "setup", "--config", str(config)).returncode == 0
        d = Daemon(config, tmp_path / "daemon.log")
        try:
            assert wait(lambda: _up(port) and metric(port, "tierlift_cycle_duration_seconds_count") >= 1)
            secret_file.write_text("tier\n")
            os.kill(d.pid, signal.SIGHUP)
            assert d.wait_for("reload refused", timeout=30), d.output()[-3000:]
            secret_file.write_text(SECRET + "\n")
            [p0] = p0s(sb, 1)
            assert wait(lambda: notes(sb).get(p0)), d.output()[-3000:]
            assert d.wait_for(f"ticket={p0} tier=L1->L3", timeout=10), d.output()[-3000:]
        finally:
            d.terminate()
