"""The health server of the running daemon (issue 14, item 8).

- `http.listen: "[::1]:9464"` passes `check` and serves on IPv6 (it used to
  crash the start with a traceback); an address the config cannot mean is
  refused at check time with exit 2.
- Idle connections do not hold a thread each: 300 idle sockets used to hold
  303 threads. The count of the daemon's threads (from /proc) stays bounded,
  and /healthz answers again once the idle ones time out.
"""

from __future__ import annotations

import json
import socket
import time
import urllib.request
from pathlib import Path

from tierlift.sandbox import Sandbox

from kit import Daemon, cli, free_port, write_config
from reliakit import NOW, helpdesk, record


def threads(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("Threads:"):
            return int(line.split()[1])
    raise AssertionError("no thread count")


def test_an_ipv6_listen_address_serves(tmp_path):
    with Sandbox("zendesk", tickets=5, now=NOW) as sb:
        port = free_port()
        config = write_config(tmp_path, [helpdesk(sb)], clock_url=sb.url, http={"listen": f"[::1]:{port}"})
        check = cli("check", "--config", str(config), "--offline")
        assert check.returncode == 0, check.stdout + check.stderr
        d = Daemon(config, tmp_path / "daemon.log")
        try:
            assert d.wait_for("health and metrics on", timeout=30), d.output()[-3000:]
            body = json.loads(urllib.request.urlopen(f"http://[::1]:{port}/healthz", timeout=5).read())
            assert body["status"] == "ok"
        finally:
            code, _ = d.terminate()
        assert code == 0 and "Traceback" not in d.output(), d.output()[-3000:]


def test_a_listen_address_the_server_cannot_mean_is_refused_at_check(tmp_path):
    with Sandbox("zendesk", tickets=1, now=NOW) as sb:
        config = write_config(tmp_path, [helpdesk(sb)], clock_url=sb.url, http={"listen": "::1:9464"})
        check = cli("check", "--config", str(config), "--offline")
        assert check.returncode == 2
        assert "http.listen" in check.stdout + check.stderr


def test_idle_connections_do_not_hold_a_thread_each(tmp_path):
    with Sandbox("zendesk", tickets=5, now=NOW) as sb:
        port = free_port()
        config = write_config(tmp_path, [helpdesk(sb)], clock_url=sb.url, http={"listen": f"127.0.0.1:{port}"})
        d = Daemon(config, tmp_path / "daemon.log")
        sockets = []
        try:
            assert d.wait_for("health and metrics on", timeout=30), d.output()[-3000:]
            before = threads(d.pid)
            for _ in range(300):
                s = socket.create_connection(("127.0.0.1", port), timeout=5)
                sockets.append(s)
            time.sleep(1.0)
            during = threads(d.pid)
            # The idle ones time out and give their slots back: the server answers again.
            time.sleep(7.0)
            body = json.loads(urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=5).read())
            assert body["status"] == "ok"
        finally:
            for s in sockets:
                s.close()
            code, _ = d.terminate()
        record("health", idle_sockets=300, daemon_threads_before=before, daemon_threads_with_idle_sockets=during)
        assert code == 0, d.output()[-3000:]
        assert during - before <= 20, f"{during - before} more threads for 300 idle sockets"


def test_probes_and_webhooks_are_served_while_100_slow_clients_trickle_headers(tmp_path):
    """The port faces the helpdesks (issue 24): 100 connections sending one header byte a
    second used to hold every slot. Now /healthz and a webhook are answered while they are
    open, and the total time limit of a request closes each of them (observed: the server
    hangs up on them; nothing waits on a timer here)."""
    import threading

    from tierlift.service.ops.webhooks import zendesk_signature

    with Sandbox("zendesk", tickets=0, now=NOW) as sb:
        port = free_port()
        config = write_config(tmp_path, [helpdesk(sb, webhook_secret="${WH_SECRET}")], clock_url=sb.url,
                              http={"listen": f"127.0.0.1:{port}"})
        d = Daemon(config, tmp_path / "daemon.log", WH_SECRET="slow-client-secret")
        slow: list[socket.socket] = []
        stop = threading.Event()
        closed: list[socket.socket] = []

        def trickle() -> None:
            while not stop.is_set() and len(closed) < len(slow):
                for s in slow:
                    if s in closed:
                        continue
                    try:
                        s.sendall(b"X")
                        s.settimeout(0.001)
                        if s.recv(1) == b"":
                            closed.append(s)
                    except (BlockingIOError, TimeoutError):
                        pass
                    except OSError:
                        closed.append(s)
                stop.wait(1.0)

        try:
            assert d.wait_for("health and metrics on", timeout=30), d.output()[-3000:]
            for _ in range(100):
                s = socket.create_connection(("127.0.0.1", port), timeout=5)
                s.sendall(b"POST /webhooks/hd HTTP/1.1\r\nHost: x\r\nX-Slow: ")
                slow.append(s)
            worker = threading.Thread(target=trickle, daemon=True)
            worker.start()
            probes, took = [], []
            for _ in range(20):
                t0 = time.perf_counter()
                probes.append(urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2).status)
                took.append(time.perf_counter() - t0)
            assert probes == [200] * 20
            record("health_slow_clients", slow_clients=100, probes=20, probe_ms_max=round(max(took) * 1000, 1),
                   probe_ms_median=round(sorted(took)[10] * 1000, 1))
            body = b'{"ticket_id": "1"}'
            stamp = NOW.strftime("%Y-%m-%dT%H:%M:%SZ")
            req = urllib.request.Request(f"http://127.0.0.1:{port}/webhooks/hd", data=body, method="POST", headers={
                "X-Zendesk-Webhook-Signature": zendesk_signature("slow-client-secret", stamp, body),
                "X-Zendesk-Webhook-Signature-Timestamp": stamp})
            assert urllib.request.urlopen(req, timeout=2).status == 202
            worker.join(60)  # until the server has hung up on every slow client
            assert len(closed) == 100
            assert urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2).status == 200
        finally:
            stop.set()
            for s in slow:
                s.close()
            code, _ = d.terminate()
        assert code == 0, d.output()[-3000:]
