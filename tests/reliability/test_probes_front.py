"""/healthz and /readyz answered by a process of their own (service/ops/front.py, issue 25).

At 500 helpdesks a probe answered by the daemon's own interpreter waited up to 250 ms
whenever it met a full garbage collection. The daemon now passes its listening socket to a
small process that answers the probes from what the daemon sends it, and hands everything
else back. Seen from outside:

- a daemon whose interpreter is held (here: stopped outright with SIGSTOP) still has its
  probes answered at once, and /healthz tells the truth: the heartbeat's age grows, and
  /metrics (the daemon's own) waits until it goes on;
- the probes' process killed is started again, and the port answers again;
- the daemon killed takes its probes' process with it: nothing is left holding the port.
"""

from __future__ import annotations

import json
import os
import signal
import time
import urllib.request

import psutil

from tierlift.sandbox import Sandbox

from kit import Daemon, free_port, wait_until, write_config
from reliakit import NOW, helpdesk, record


def get(port: int, path: str, timeout: float = 2.0) -> tuple[int, bytes, float]:
    t0 = time.perf_counter()
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=timeout) as answer:
            return answer.status, answer.read(), time.perf_counter() - t0
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read(), time.perf_counter() - t0


def _metric(port: int, name: str) -> float | None:
    status, body, _ = get(port, "/metrics")
    assert status == 200
    found = [line.split()[-1] for line in body.decode().splitlines() if line.split(" ")[0] == name]
    return float(found[0]) if found else None


def probes_process(pid: int) -> psutil.Process | None:
    found = [p for p in psutil.Process(pid).children() if "tierlift.service.ops.front" in " ".join(p.cmdline())]
    return found[0] if found else None


def start(tmp_path, sb, **env_extra: str):
    port = free_port()
    config = write_config(tmp_path, [helpdesk(sb)], clock_url=sb.url, http={"listen": f"127.0.0.1:{port}"})
    d = Daemon(config, tmp_path / "daemon.log", **env_extra)
    assert d.wait_for("health and metrics on", timeout=30), d.output()[-3000:]
    assert wait_until(lambda: get(port, "/readyz")[0] == 200, timeout=30), d.output()[-3000:]
    return d, port


def test_a_held_daemon_has_its_probes_answered_and_its_heartbeat_ages(tmp_path):
    with Sandbox("zendesk", tickets=5, now=NOW) as sb:
        d, port = start(tmp_path, sb)
        try:
            assert get(port, "/metrics")[0] == 200  # handed over to the daemon and answered there
            os.kill(d.pid, signal.SIGSTOP)
            try:
                first = get(port, "/healthz")
                time.sleep(1.5)
                later = get(port, "/healthz")
                ready = get(port, "/readyz")
                try:
                    get(port, "/metrics", timeout=1.0)
                    metrics_waited = False
                except OSError:  # the daemon itself answers nothing while it is stopped
                    metrics_waited = True
            finally:
                os.kill(d.pid, signal.SIGCONT)
            assert first[0] == 200 and later[0] == 200 and ready[0] == 200, (first, later, ready)
            aged = json.loads(later[1])["heartbeat_age_seconds"] - json.loads(first[1])["heartbeat_age_seconds"]
            assert aged >= 1.4, (first, later)
            assert metrics_waited
            assert json.loads(ready[1])["state_open"] is True
            assert get(port, "/metrics")[0] == 200  # and answered once the daemon goes on
            record("probes_front", probe_ms_daemon_stopped=round(max(first[2], later[2], ready[2]) * 1000, 1))
        finally:
            code, _ = d.terminate()
        assert code == 0 and "Traceback" not in d.output(), d.output()[-3000:]


def test_the_probes_process_killed_is_started_again(tmp_path):
    with Sandbox("zendesk", tickets=5, now=NOW) as sb:
        d, port = start(tmp_path, sb)
        try:
            first = probes_process(d.pid)
            assert first is not None
            assert _metric(port, "tierlift_probes_process") == 1.0
            assert _metric(port, "tierlift_probes_process_restarts_total") == 0.0
            first.kill()
            d.expect("the probes' process is started again", timeout=15)
            second = wait_until(lambda: (p := probes_process(d.pid)) is not None and p.pid != first.pid and p,
                                timeout=15)
            assert second, d.output()[-3000:]
            assert wait_until(lambda: get(port, "/healthz")[0] == 200, timeout=15)
            assert _metric(port, "tierlift_probes_process_restarts_total") == 1.0  # an alert can see it
            assert _metric(port, "tierlift_probes_process") == 1.0
        finally:
            code, _ = d.terminate()
        assert code == 0, d.output()[-3000:]
        assert not second.is_running() or second.status() == psutil.STATUS_ZOMBIE


def test_a_killed_daemon_leaves_no_probes_process_behind(tmp_path):
    with Sandbox("zendesk", tickets=5, now=NOW) as sb:
        d, port = start(tmp_path, sb)
        try:
            child = probes_process(d.pid)
        finally:
            d.kill()
        assert child is not None
        gone = wait_until(lambda: not child.is_running() or child.status() == psutil.STATUS_ZOMBIE, timeout=15)
        assert gone, "the probes' process outlived the daemon"
        assert wait_until(lambda: _refused(port), timeout=5), "something still answers on the daemon's port"


def _refused(port: int) -> bool:
    try:
        get(port, "/healthz", timeout=1.0)
    except OSError:
        return True
    return False


def test_a_unit_stop_signalling_every_process_ends_both_cleanly(tmp_path):
    """systemd's stop (KillMode=control-group) sends SIGTERM to every process of the unit:
    the probes' process leaves the ending to the daemon (it answers while the daemon
    finishes its work, even if its own signal comes first), and the daemon exits 0 and
    takes it along; nothing is started again on the way out."""
    with Sandbox("zendesk", tickets=5, now=NOW) as sb:
        d, port = start(tmp_path, sb)
        child = probes_process(d.pid)
        try:
            assert child is not None
            child.send_signal(signal.SIGTERM)
            answers = []
            for _ in range(5):
                answers.append(get(port, "/healthz")[0])
                time.sleep(0.3)
            same = probes_process(d.pid)
            os.kill(d.pid, signal.SIGTERM)
            code = d.proc.wait(15)
        finally:
            d.kill()
        assert answers == [200] * 5
        assert same is not None and same.pid == child.pid, "the probes' process ended at its own signal"
        assert code == 0, d.output()[-3000:]
        assert wait_until(lambda: not child.is_running() or child.status() == psutil.STATUS_ZOMBIE, timeout=10)
        assert "started again" not in d.output(), d.output()[-3000:]


def test_without_a_process_of_its_own_the_daemon_answers_everything(monkeypatch, caplog):
    """A host where the probes' process cannot start (no interpreter at sys.executable, a
    process limit) keeps the probes and the metrics answered, by the daemon, and says so."""
    import sys

    from tierlift.service.ops.health import HealthServer, Heartbeat
    from tierlift.service.ops.metrics import Metrics

    monkeypatch.setattr(sys, "executable", "/nonexistent/python3")
    server = HealthServer("127.0.0.1:0", Heartbeat(), Metrics(), state_open=lambda: True, helpdesks=[], front=True)
    with caplog.at_level("WARNING"):
        server.start()
    try:
        port = server.address[1]
        assert get(port, "/healthz")[0] == 200 and get(port, "/readyz")[0] == 200
        assert get(port, "/metrics")[0] == 200
        assert _metric(port, "tierlift_probes_process") == 0.0
        assert server.front_process is None
        assert "the probes are answered by the daemon itself" in caplog.text
    finally:
        server.stop()


def test_a_handed_over_connection_is_answered_from_the_bytes_read_and_a_bad_one_is_closed():
    """`HttpServer.adopt`: the daemon's server answers a connection the probes' process
    accepted, from the bytes that process read of it plus the rest; a socket it cannot
    serve is closed, not kept (a descriptor a day would run a long-lived daemon out)."""
    import socket as sockets

    from tierlift.service.ops.httpserver import Answer, HttpServer

    seen = []

    def handler(req):
        seen.append((req.method, req.path, req.body))
        return Answer(200, body=b'{"ok": true}')

    server = HttpServer(("127.0.0.1", 0), handler, body_cap=lambda method, path: 1024)
    server.start(accept=False)
    try:
        client, accepted = sockets.socketpair()
        client.sendall(b'{"ticket_id": "1"}')  # the body arrives after the head the other process read
        server.loop.call_soon_threadsafe(
            server.adopt, accepted, b"POST /webhooks/hd HTTP/1.1\r\nContent-Length: 18\r\n\r\n")
        client.settimeout(5)
        answer = b""
        while chunk := client.recv(4096):
            answer += chunk
        assert answer.startswith(b"HTTP/1.1 200") and answer.endswith(b'{"ok": true}')
        assert seen == [("POST", "/webhooks/hd", b'{"ticket_id": "1"}')]
        datagram = sockets.socket(sockets.AF_INET, sockets.SOCK_DGRAM)
        server.loop.call_soon_threadsafe(server.adopt, datagram, b"")
        assert wait_until(lambda: datagram.fileno() == -1, timeout=5), "the socket it could not serve stayed open"
    finally:
        server.stop()


def test_a_token_gone_wrong_makes_readyz_503_at_once_not_after_ten_minutes(tmp_path):
    """A rollout gated on /readyz must stop at a bad token. The 10-minute rule is for a
    helpdesk that does not answer (an outage of theirs must not flap readiness); a helpdesk
    that answers 401 has answered: the credentials are ours, and wrong (QA, 2026-12-07: a
    token rotation gone wrong read "ready" for ten more minutes)."""
    with Sandbox("zendesk", tickets=5, seed=7, now=NOW) as sb:
        d, port = start(tmp_path, sb, WRONG_TOKEN="not-the-agents-token")  # ready: the helpdesk answered
        try:
            # The credentials change under the running daemon: agent@example.com is a known
            # sandbox person, and this is not its token (a 401).
            wrong = helpdesk(sb, email="agent@example.com", token="${WRONG_TOKEN}")
            write_config(tmp_path, [wrong], clock_url=sb.url, http={"listen": f"127.0.0.1:{port}"})
            os.kill(d.pid, signal.SIGHUP)
            assert d.wait_for("refused the credentials", timeout=30), d.output()[-3000:]
            assert wait_until(lambda: get(port, "/readyz")[0] == 503, timeout=10), get(port, "/readyz")
            status, body, _ = get(port, "/readyz")
            answer = json.loads(body)
            assert answer["helpdesks_not_answering"] == ["hd"], answer
            assert "authentication or permission refused" in answer["helpdesk_errors"]["hd"], answer
            assert "not-the-agents-token" not in body.decode()
            assert get(port, "/healthz")[0] == 200  # alive: nothing to restart for
        finally:
            d.terminate()


def test_idle_connections_at_the_cap_do_not_keep_a_probe_out(tmp_path):
    """QA (an integrator, 2026-12-07): 1,024 connections that send nothing held every slot of
    the shared port: /healthz, /readyz and webhooks went unanswered for as long as they were
    kept (10 s each, renewed at will), so anyone who can reach the webhook port could get the
    pod restarted. The oldest connection still waiting for its request now makes room."""
    import socket

    from tierlift.service.ops.httpserver import MAX_CONNECTIONS

    with Sandbox("zendesk", tickets=3, seed=7, now=NOW) as sb:
        d, port = start(tmp_path, sb)
        idle = []
        try:
            for _ in range(MAX_CONNECTIONS + 50):
                idle.append(socket.create_connection(("127.0.0.1", port), timeout=5))
            time.sleep(0.5)  # all accepted: the port is full
            for _ in range(3):
                status, body, took = get(port, "/healthz", timeout=3.0)
                assert status == 200, (status, body)
            assert d.alive()
        finally:
            for s in idle:
                s.close()
            d.terminate()


def test_the_webhook_servers_own_port_makes_room_too():
    """The same on `webhooks.listen` (a server of its own, no probes' process)."""
    import socket

    from tierlift.service.ops.httpserver import Answer, HttpServer

    server = HttpServer(("127.0.0.1", 0), lambda req: Answer(202, body=b"ok"), body_cap=lambda m, p: 1024,
                        max_connections=20)
    server.start()
    idle = []
    try:
        for _ in range(30):
            idle.append(socket.create_connection(server.address, timeout=5))
        time.sleep(0.3)
        status, _body, _took = get(server.address[1], "/webhooks/hd", timeout=3.0)
        assert status == 202
    finally:
        for s in idle:
            s.close()
        server.stop()
