"""Webhooks on replicas (issue 24 item 3): a webhook that lands on the replica that does not
hold the helpdesk's lease reaches the holder through PostgreSQL (a row and a NOTIFY).

Two `tierlift run` replicas on one throwaway PostgreSQL (tests/pgkit.py, the session's
server) share one Zendesk sandbox. The sandbox's clock stands still, so its export never
gets past its one-minute holdback: a new ticket is never read by a poll, and its
escalation note can only come from a webhook. Judged from the sandbox's own request log
(the notes written), never from what the daemons say:
- a signed webhook posted to the non-holder: the holder escalates the ticket, once, also
  when the same delivery is then posted to the holder too (one row for both);
- the holder killed (SIGKILL), a webhook posted to the survivor before it holds the
  lease (the NOTIFY reaches no holder): the survivor acts on the row once it takes
  the lease; the first ticket is not escalated again.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
import requests
from test_webhooks import SECRET, metric, notes, p0s, wait

from tierlift.sandbox import Sandbox
from tierlift.service.ops.webhooks import zendesk_signature

from kit import Daemon, cli, free_port, write_config
from pgkit import missing_reason
from reliakit import NOW, helpdesk

pytestmark = pytest.mark.skipif(missing_reason() is not None, reason=missing_reason() or "")


def post(port: int, ticket: str, stamp: str, delivery: str) -> int:
    body = json.dumps({"ticket_id": ticket}).encode()
    return requests.post(f"http://127.0.0.1:{port}/webhooks/hd", data=body, timeout=5, headers={
        "X-Zendesk-Webhook-Signature": zendesk_signature(SECRET, stamp, body),
        "X-Zendesk-Webhook-Signature-Timestamp": stamp, "X-Zendesk-Webhook-Invocation-Id": delivery}).status_code


def holder_pid(url: str) -> int | None:
    from tierlift.service.daemon.store.postgres import PostgresStore

    with PostgresStore(url) as s:
        live = [x["pid"] for x in s.leases() if x["live"]]
    return live[0] if live else None


def settled(url: str, replicas: list[Daemon], ports: list[int]) -> tuple[int] | None:
    """(the slot of the replica that holds the lease and finished a cycle under it,), both replicas up."""
    pid = holder_pid(url)
    slot = next((i for i, d in enumerate(replicas) if d.pid == pid), None)
    if slot is None or "started helpdesks" not in replicas[1 - slot].output():
        return None
    done = metric(ports[slot], "tierlift_cycle_duration_seconds_count") >= 1
    return (slot,) if done and holder_pid(url) == pid else None


def test_a_webhook_on_the_replica_without_the_lease_is_escalated_by_the_holder(tmp_path: Path, pg_server):
    url = pg_server.new_database("relay")
    with Sandbox("zendesk", tickets=2, now=NOW) as sb:
        ports, replicas, configs = [free_port(), free_port()], [], []
        try:
            for i, port in enumerate(ports):
                config = write_config(tmp_path / f"r{i}", [helpdesk(sb, webhook_secret="${WH_SECRET}")],
                                      clock_url=sb.url, poll="60s", http={"listen": f"127.0.0.1:{port}"},
                                      state={"url": url, "lease_ttl": "4s"})
                replicas.append(Daemon(config, tmp_path / f"r{i}.log", WH_SECRET=SECRET))
                configs.append(config)
            found = wait(lambda: settled(url, replicas, ports), 60)
            assert found, "".join(d.output()[-2000:] for d in replicas)
            holder, other = found[0], 1 - found[0]
            stamp = sb.clock.now().strftime("%Y-%m-%dT%H:%M:%SZ")

            [first] = p0s(sb, 1)
            t0 = time.monotonic()
            assert post(ports[other], first, stamp, "d-1") == 202
            assert wait(lambda: notes(sb).get(first), 30), replicas[holder].output()[-3000:]
            print(f"\nwebhook on the non-holder -> note: {time.monotonic() - t0:.2f} s")
            nudges = 'tierlift_webhook_nudges_total{helpdesk="hd",result="%s"}'
            assert metric(ports[other], nudges % "forwarded") == 1
            assert wait(lambda: metric(ports[holder], nudges % "consumed") == 1)
            assert post(ports[holder], first, stamp, "d-1") == 202  # the same delivery on the holder too
            assert metric(ports[holder], nudges % "duplicate") == 1  # known: one row for both replicas
            shown = cli("status", "--config", str(configs[other]), "--json", WH_SECRET=SECRET)
            hd = json.loads(shown.stdout)["helpdesks"]["hd"]
            assert (hd["webhooks"]["forwarded"], hd["webhooks_waiting"]) == (1, 0), shown.stdout + shown.stderr

            replicas[holder].kill()  # no holder listens now: the next NOTIFY reaches nobody
            [second] = p0s(sb, 1)
            assert post(ports[other], second, stamp, "d-2") == 202
            assert wait(lambda: notes(sb).get(second), 60), replicas[other].output()[-3000:]
            assert metric(ports[other], nudges % "forwarded") == 2  # it did not hold the lease when it came
            assert wait(lambda: metric(ports[other], nudges % "consumed") == 1)  # marked done once acted on
            assert "webhooks forwarded to the lease holder" in replicas[other].output()
        finally:
            for d in replicas:
                d.terminate()
        assert (notes(sb)[first], notes(sb)[second]) == (1, 1)
        assert SECRET not in "".join(d.output() for d in replicas)
