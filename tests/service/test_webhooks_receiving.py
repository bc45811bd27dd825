"""Receiving webhooks (issue 24, step 1): what the receiver verifies, over real HTTP.

Each refusal gets its status (413, 400, 404, 401), is counted in /metrics and logged
at most once a minute per cause; no refused request names a ticket to the worker, and
the secret is in no answer and no log line.
"""

from __future__ import annotations

import json
import logging
import socket
from datetime import UTC, datetime, timedelta

import pytest
import requests

from tierlift.connectors.base import Secret
from tierlift.service.ops.health import HealthServer, Heartbeat
from tierlift.service.ops.metrics import Metrics
from tierlift.service.ops.webhooks import Endpoint, Receiver, jira_signature, zendesk_signature

SECRET = "whsec-4be1d07a93c2"
NOW = datetime(2026, 11, 2, 19, 0, tzinfo=UTC)


@pytest.fixture
def server(caplog):
    caplog.set_level(logging.INFO)
    named: list[tuple[str, str]] = []
    metrics = Metrics()
    clock = [NOW]
    receiver = Receiver({"zd": Endpoint("zd", "zendesk", Secret(SECRET)), "jr": Endpoint("jr", "jira", Secret(SECRET))},
                        lambda hd, t, key: named.append((hd, t)), now=lambda: clock[0], metrics=metrics)
    hs = HealthServer("127.0.0.1:0", Heartbeat(), metrics, state_open=lambda: True, helpdesks=["zd", "jr"],
                      receiver=receiver)
    hs.start()
    host, port = hs.address
    yield f"http://{host}:{port}", named, metrics, receiver, clock
    hs.stop()


def zendesk_post(url: str, body: bytes, *, at: datetime = NOW, secret: str = SECRET, **headers: str):
    stamp = at.strftime("%Y-%m-%dT%H:%M:%SZ")
    h = {"X-Zendesk-Webhook-Signature": zendesk_signature(secret, stamp, body),
         "X-Zendesk-Webhook-Signature-Timestamp": stamp, "Content-Type": "application/json", **headers}
    return requests.post(f"{url}/webhooks/zd", data=body, headers=h, timeout=5)


def jira_post(url: str, body: bytes, delivery: str, secret: str = SECRET):
    h = {"X-Hub-Signature": jira_signature(secret, body), "X-Atlassian-Webhook-Identifier": delivery,
         "Content-Type": "application/json"}
    return requests.post(f"{url}/webhooks/jr", data=body, headers=h, timeout=5)


def test_a_signed_zendesk_event_names_its_ticket(server):
    url, named, metrics, receiver, _ = server
    r = zendesk_post(url, b'{"ticket_id": "42", "event": "created"}')
    assert r.status_code == 202
    assert named == [("zd", "42")]
    assert receiver.summary()["zd"]["last_ticket"] == "42"
    assert 'tierlift_webhooks_total{helpdesk="zd",result="accepted"} 1.0' in metrics.render().decode()


def test_a_jira_event_is_taken_once_per_delivery_id(server):
    url, named, _, receiver, _ = server
    body = json.dumps({"webhookEvent": "jira:issue_created", "issue": {"id": "10007", "key": "SUP-7"}}).encode()
    assert jira_post(url, body, "d-1").status_code == 202
    assert jira_post(url, body, "d-1").status_code == 200  # Jira's retry of the same delivery
    later = json.dumps({"webhookEvent": "jira:issue_updated", "issue": {"id": "10007", "key": "SUP-7"}}).encode()
    assert jira_post(url, later, "d-3").status_code == 202  # a new event on the same issue
    assert jira_post(url, later, "d-3").status_code == 200
    assert named == [("jr", "SUP-7"), ("jr", "SUP-7")]
    assert receiver.summary()["jr"]["duplicates"] == 2


def test_two_changes_of_a_ticket_in_one_second_are_both_acted_on(server):
    """Zendesk signs a 1-second timestamp and the trigger's body {"ticket_id": N}: a ticket created
    and tagged p0 in the same second is two deliveries (two invocation ids) with one signature.
    The second was answered "duplicate" and the P0 waited for the poll."""
    url, named, _, receiver, _ = server
    body = b'{"ticket_id": "42"}'
    first = zendesk_post(url, body, **{"X-Zendesk-Webhook-Invocation-Id": "inv-1"})
    second = zendesk_post(url, body, **{"X-Zendesk-Webhook-Invocation-Id": "inv-2"})
    assert (first.status_code, second.status_code) == (202, 202)
    assert named == [("zd", "42"), ("zd", "42")]
    # Still not acted on twice: a retry (its id again) and a replay without an id.
    assert zendesk_post(url, body, **{"X-Zendesk-Webhook-Invocation-Id": "inv-2"}).status_code == 200
    assert zendesk_post(url, body).status_code == 200
    assert len(named) == 2 and receiver.summary()["zd"]["duplicates"] == 2


def test_the_replay_memory_holds_two_minutes_of_a_storm():
    """REMEMBERED is counted in deliveries (a storm of 10,000 a minute fits twice), though each
    delivery with an id keeps two keys: 15,000 deliveries on, the first is still known."""
    from tierlift.service.ops.webhooks import REMEMBERED

    receiver = Receiver({}, lambda hd, t, key: None, now=lambda: NOW)
    deliveries = [(f"sig-{n}", f"id-{n}") for n in range(REMEMBERED * 3 // 4)]
    assert all(receiver._first("zd", d) for d in deliveries)
    assert not receiver._first("zd", deliveries[0])  # its retry: the same id
    assert not receiver._first("zd", (deliveries[1][0], None))  # a replay without an id


def test_refusals_get_their_status_are_counted_and_name_no_ticket(server, caplog):
    url, named, metrics, receiver, _ = server
    good = b'{"ticket_id": "42"}'
    stamp = NOW.strftime("%Y-%m-%dT%H:%M:%SZ")
    cases = {
        "forged": zendesk_post(url, good, secret="not-the-secret"),
        "unsigned": requests.post(f"{url}/webhooks/zd", data=good, timeout=5),
        "stale": zendesk_post(url, good, at=NOW - timedelta(minutes=6)),
        "ahead": zendesk_post(url, good, at=NOW + timedelta(minutes=6)),
        "tampered": requests.post(f"{url}/webhooks/zd", data=b'{"ticket_id": "43"}', timeout=5, headers={
            "X-Zendesk-Webhook-Signature": zendesk_signature(SECRET, stamp, good),
            "X-Zendesk-Webhook-Signature-Timestamp": stamp}),
        "oversized": zendesk_post(url, b'{"ticket_id": "42", "pad": "' + b"x" * 300_000 + b'"}'),
        "malformed": zendesk_post(url, b'{"ticket_id": '),
        "no ticket": zendesk_post(url, b'{"ticket_id": "drop table"}'),
        "unknown helpdesk": requests.post(f"{url}/webhooks/nope", data=good, timeout=5),
        "jira forged": jira_post(url, b'{"issue": {"key": "SUP-1"}}', "d-9", secret="wrong"),
    }
    statuses = {k: r.status_code for k, r in cases.items()}
    assert statuses == {"forged": 401, "unsigned": 401, "stale": 401, "ahead": 401, "tampered": 401,
                        "oversized": 413, "malformed": 400, "no ticket": 400, "unknown helpdesk": 404,
                        "jira forged": 401}
    assert named == []
    text = metrics.render().decode()
    for cause in ("bad_signature", "unsigned", "stale", "too_large", "malformed", "no_ticket"):
        assert f'tierlift_webhooks_total{{helpdesk="zd",result="{cause}"}}' in text, cause
    assert 'tierlift_webhooks_total{helpdesk="-",result="unknown_helpdesk"} 1.0' in text
    assert receiver.summary()["zd"]["refused"]["bad_signature"] == 2  # forged and tampered
    # Once a minute per cause: the two bad signatures and the stale pair are one line each.
    lines = [r.getMessage() for r in caplog.records if "webhook refused" in r.getMessage()]
    assert sum("bad signature" in line for line in lines if "zd" in line) == 1
    assert sum("stale" in line for line in lines) == 1
    everything = "\n".join(lines) + "".join(r.text for r in cases.values()) + text
    assert SECRET not in everything


def raw_post(url: str, head: str, body: bytes = b"") -> bytes:
    host, port = url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=5) as s:
        s.sendall(head.encode("latin-1") + b"\r\n\r\n" + body)
        out = b""
        while chunk := s.recv(65536):
            out += chunk
    return out


def test_a_content_length_int_cannot_read_is_malformed(server):
    """str.isdigit() takes "²", "1¹" and 5,000 digits; int() takes none of them: those were 500s."""
    url, named, metrics, _, _ = server
    for length in ("²", "1¹", "9" * 5000, "0" * 19 + "1"):
        answer = raw_post(url, f"POST /webhooks/zd HTTP/1.1\r\nHost: x\r\nContent-Length: {length}", b"{}")
        assert answer.startswith(b"HTTP/1.1 400 "), (length[:5], answer[:60])
    assert named == []
    assert 'tierlift_webhooks_total{helpdesk="zd",result="malformed"} 4.0' in metrics.render().decode()


def test_conflicting_content_lengths_are_malformed_not_a_bad_signature(server):
    """QA: Content-Length 19 then 5 took the last one, read 5 bytes of a genuinely signed body and
    answered 401 bad_signature. RFC 9112 6.3: a request whose length cannot be told is a 400;
    and so is one whose framing a proxy in front may read otherwise (a space before the colon)."""
    url, named, metrics, _, _ = server
    body = b'{"ticket_id": "26"}'
    stamp = NOW.strftime("%Y-%m-%dT%H:%M:%SZ")
    signed = (f"POST /webhooks/zd HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
              f"X-Zendesk-Webhook-Signature-Timestamp: {stamp}\r\n"
              f"X-Zendesk-Webhook-Signature: {zendesk_signature(SECRET, stamp, body)}\r\n")
    for lengths in (("19", "5"), ("5", "19"), ("19", "19")):
        answer = raw_post(url, signed + "\r\n".join(f"Content-Length: {n}" for n in lengths), body)
        assert answer.startswith(b"HTTP/1.1 400 "), (lengths, answer[:80])
    for head in ("Content-Length : 19", "Content-Length: 19\r\n X-Folded: on"):
        answer = raw_post(url, signed + head, body)
        assert answer.startswith(b"HTTP/1.1 400 "), (head, answer[:80])
    assert named == []
    text = metrics.render().decode()
    assert 'tierlift_webhooks_total{helpdesk="zd",result="malformed"} 3.0' in text
    assert 'result="bad_signature"' not in text
    assert raw_post(url, signed + "Content-Length: 19", body).startswith(b"HTTP/1.1 202 ")  # the same, once
    assert named == [("zd", "26")]


def test_a_handlers_bug_answers_500_and_says_so_once_a_minute_without_its_text(caplog):
    from tierlift.service.ops.httpserver import HttpServer

    def handler(req):
        raise ValueError(f"token {SECRET} in the message")

    caplog.set_level(logging.INFO)
    hs = HttpServer(("127.0.0.1", 0), handler, body_cap=lambda m, p: 1024, name="test-http")
    hs.start()
    try:
        host, port = hs.address
        url = f"http://{host}:{port}"
        assert [requests.get(f"{url}/x", timeout=5).status_code for _ in range(3)] == [500] * 3
    finally:
        hs.stop()
    lines = [r.getMessage() for r in caplog.records if r.name == "tierlift.http"]
    assert len(lines) == 1 and "ValueError" in lines[0] and "500" in lines[0], lines
    assert SECRET not in "".join(lines) and hs.failed == 3


def test_a_replayed_zendesk_request_is_not_acted_on_twice(server):
    url, named, _, _, clock = server
    body = b'{"ticket_id": "42"}'
    first = zendesk_post(url, body)
    again = zendesk_post(url, body)  # the same bytes, signature and timestamp
    assert (first.status_code, again.status_code) == (202, 200)
    assert named == [("zd", "42")]
    clock[0] = NOW + timedelta(minutes=10)  # and later, the same request is stale
    assert zendesk_post(url, body).status_code == 401
    assert named == [("zd", "42")]


def test_probes_answer_while_slow_clients_trickle_headers(server):
    """100 connections each holding a request open, one header byte at a time: the probe
    and a webhook are still answered (no slot or thread is theirs to hold)."""
    url, named, _, _, _ = server
    host, port = url.removeprefix("http://").split(":")
    slow = []
    try:
        for _ in range(100):
            s = socket.create_connection((host, int(port)), timeout=5)
            s.sendall(b"POST /webhooks/zd HTTP/1.1\r\nHost: x\r\nX-")
            slow.append(s)
        for _ in range(10):
            assert requests.get(f"{url}/healthz", timeout=2).status_code == 200
        assert zendesk_post(url, b'{"ticket_id": "7"}').status_code == 202
        assert named == [("zd", "7")]
    finally:
        for s in slow:
            s.close()


def test_with_replicas_the_answer_waits_until_the_event_is_durable(monkeypatch):
    """relay.py: 202 once the event's row is committed; 503 with Retry-After when it cannot be
    (dropped, or the database does not answer in time), so that the helpdesk sends it again,
    and the retry of a refused delivery is taken again, not answered as a duplicate."""
    from concurrent.futures import Future

    from tierlift.service.ops import httpserver

    monkeypatch.setattr(httpserver, "LATER_DEADLINE", 0.3)
    outcomes: list[Future[bool]] = []

    def nudge(hd: str, ticket: str, key: str) -> Future[bool]:
        f: Future[bool] = Future()
        if ticket == "1":
            f.set_result(True)  # committed
        elif ticket == "2":
            f.set_result(False)  # dropped (the outbox was full)
        outcomes.append(f)  # "3": never settled (the database does not answer)
        return f

    receiver = Receiver({"zd": Endpoint("zd", "zendesk", Secret(SECRET))}, nudge, now=lambda: NOW)
    hs = HealthServer("127.0.0.1:0", Heartbeat(), Metrics(), state_open=lambda: True, helpdesks=["zd"],
                      receiver=receiver)
    hs.start()
    try:
        host, port = hs.address
        answers = [zendesk_post(f"http://{host}:{port}", f'{{"ticket_id": "{t}"}}'.encode()) for t in "123"]
        assert [a.status_code for a in answers] == [202, 503, 503]
        assert answers[1].headers["Retry-After"] == "10"
        assert answers[2].headers["Retry-After"] == "10"  # past LATER_DEADLINE too, as docs/webhooks.md says
        retry = zendesk_post(f"http://{host}:{port}", b'{"ticket_id": "2"}', **{"X-Zendesk-Webhook-Invocation-Id": "i2"})
        assert retry.status_code == 503 and len(outcomes) == 4  # offered to the relay again
        assert requests.get(f"http://{host}:{port}/healthz", timeout=5).status_code == 200  # the loop was not held
        outcomes[2].set_result(True)  # committed late: nothing breaks
    finally:
        hs.stop()


def test_a_webhook_forwarded_while_no_replica_holds_the_lease_is_not_said_to_have_another_holder(caplog):
    """A lone replica whose lease lapsed (PostgreSQL stalled) forwards its webhooks too: the log
    line said "another replica holds the helpdesk", sending the operator after a replica that
    does not exist."""
    from tierlift.service.daemon.nudges import Nudges
    from tierlift.service.daemon.relay import Relay

    caplog.set_level(logging.INFO)
    relay = Relay(None, Nudges(["zd"]))
    relay.route("zd", "42", "id:i-1")
    relay.route("zd", "43", "id:i-2")
    lines = [r.getMessage() for r in caplog.records if "forwarded to the lease holder" in r.getMessage()]
    assert len(lines) == 1
    assert "another replica holds the helpdesk" not in lines[0]
    assert "does not hold the helpdesk's lease" in lines[0]


def test_an_unknown_helpdesk_is_logged_with_the_name_called_and_405_says_what_is_allowed(server, caplog):
    url, named, metrics, _, _ = server
    assert requests.post(f"{url}/webhooks/acme-zendsek", data=b"{}", timeout=5).status_code == 404
    lines = [r.getMessage() for r in caplog.records if "webhook refused" in r.getMessage()]
    assert any("helpdesk=- " in line and "called=acme-zendsek" in line for line in lines), lines
    assert 'tierlift_webhooks_total{helpdesk="-",result="unknown_helpdesk"} 1.0' in metrics.render().decode()
    wrong = requests.get(f"{url}/webhooks/zd", timeout=5)
    assert wrong.status_code == 405 and wrong.headers["Allow"] == "POST"
    assert named == []
