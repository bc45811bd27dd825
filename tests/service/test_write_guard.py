"""The replicas' write guard (service/daemon/leases.py, guard_writes), from the helpdesk's record.

A replica paused (SIGSTOP) while sending a write must send nothing more of it
once it runs again, when its lease may have passed to another replica:
urllib3 sends a request's headers and its body in separate system calls, so
the lease is checked before each of them, and a helpdesk acts on no request
whose body never came.
"""

from __future__ import annotations

import pytest

from tierlift.connectors.base import Secret
from tierlift.sandbox import Sandbox
from tierlift.service.daemon.leases import guard_writes
from tierlift.service.daemon.state import LeaseLost


class Lease:
    """Plenty of lease for the first `good` checks, none after: a pause that outlived the TTL."""

    def __init__(self, good: int):
        self.good, self.checks = good, 0

    def left(self) -> float:
        self.checks += 1
        return 30.0 if self.checks <= self.good else 0.0


def _writes(sb: Sandbox) -> list[dict]:
    return [r for r in sb.requests_log() if r["write"]]


@pytest.mark.parametrize("good", [1, 2], ids=["paused before the headers", "paused between headers and body"])
def test_zendesk_write_paused_mid_request_is_never_completed(good: int):
    from tierlift.connectors.zendesk import ZendeskConnector, ZendeskSettings

    with Sandbox("zendesk", tickets=3, seed=1) as sb:
        c = ZendeskConnector(ZendeskSettings("hd", sb.url, "bot@example.com", Secret("t0k3n")))
        c.open()
        lease = Lease(good)
        guard_writes(c, lease.left, 5.0)
        ticket = next(iter(c.fetch(["1"]).values()))
        before = len(_writes(sb))
        with pytest.raises(LeaseLost, match="not sent"):
            c.session.put(f"{sb.url}/api/v2/tickets/{ticket.id}.json", json={"ticket": {"tags": ["stale_write"]}})
        assert lease.checks == good + 1  # the adapter's check, then one per socket send
        assert len(_writes(sb)) == before
        assert "stale_write" not in sb.store.tickets[int(ticket.id)]["tags"]
        assert c.fetch(["1"])  # reads are not guarded, and the connection pool still works
        c.close()


def test_jira_write_paused_between_headers_and_body_is_never_completed():
    from tierlift.connectors.jira import JiraConnector, JiraSettings

    with Sandbox("jira", tickets=3, seed=1) as sb:
        c = JiraConnector(JiraSettings("hd", sb.url, "bot@example.com", Secret("t0k3n"), project="SUP"))
        c.open()
        lease = Lease(2)
        guard_writes(c, lease.left, 5.0)
        key = sorted(sb.store.issues)[0]
        before = len(_writes(sb))
        with pytest.raises(LeaseLost, match="not sent"):
            c.client._session.put(f"{sb.url}/rest/api/2/issue/{key}",
                                  json={"update": {"labels": [{"add": "stale_write"}]}})
        assert len(_writes(sb)) == before
        assert "stale_write" not in sb.store.issues[key]["fields"]["labels"]
        c.close()
