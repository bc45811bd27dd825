"""The replicas' write guard (service/daemon/leases.py, write_guard), from the helpdesk's record.

A replica paused (SIGSTOP) while sending a write must send nothing more of it
once it runs again, when its lease may have passed to another replica:
urllib3 sends a request's headers and its body in separate system calls, so
the lease is checked before each of them, and a helpdesk acts on no request
whose body never came. The guard is given to the connector with its
transport (connectors/transport.py, HelpdeskAdapter), as the service does.
"""

from __future__ import annotations

import pytest

from tierlift.connectors.base import Secret
from tierlift.connectors.transport import HelpdeskAdapter
from tierlift.sandbox import Sandbox
from tierlift.service.daemon.leases import write_guard
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
        lease = Lease(good)
        c = ZendeskConnector(ZendeskSettings("hd", sb.url, "bot@example.com", Secret("t0k3n")),
                             adapter=HelpdeskAdapter(write_guard=write_guard(lease.left, 5.0)))
        c.open()
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
        lease = Lease(2)
        c = JiraConnector(JiraSettings("hd", sb.url, "bot@example.com", Secret("t0k3n"), project="SUP"),
                          adapter=HelpdeskAdapter(write_guard=write_guard(lease.left, 5.0)))
        c.open()
        key = sorted(sb.store.issues)[0]
        before = len(_writes(sb))
        with pytest.raises(LeaseLost, match="not sent"):
            c.session.put(f"{sb.url}/rest/api/2/issue/{key}", json={"update": {"labels": [{"add": "stale_write"}]}})
        assert len(_writes(sb)) == before
        assert "stale_write" not in sb.store.issues[key]["fields"]["labels"]
        c.close()


@pytest.mark.parametrize("flavor", ["zendesk", "jira"])
def test_the_service_builds_each_connector_with_the_guard_and_a_timeout_within_the_lease(flavor, tmp_path):
    """The daemon's own path (connect.make_connector with a WriteGuard): the request timeout
    is capped by the lease, and an escalation's write with too little lease left stops
    before it reaches the helpdesk, while reads go on."""
    from tierlift.engine.model import AddTags
    from tierlift.service.daemon.config import load_config
    from tierlift.service.daemon.connect import WriteGuard, make_connector

    with Sandbox(flavor, tickets=3, seed=1) as sb:
        (tmp_path / "tierlift.yaml").write_text(
            "state: {path: state.sqlite3}\nchannels: {pagerduty: {kind: log}, slack_oncall: {kind: log},"
            " slack_channel: {kind: log}}\nhelpdesks:\n"
            f"  - {{name: hd, kind: {flavor}, url: \"{sb.url}\", email: bot@example.com, token: \"${{T}}\","
            f" policy: three-tier, timeout: 30s{', project: SUP' if flavor == 'jira' else ''}}}\n")
        hd = load_config(tmp_path / "tierlift.yaml", {"T": "t0k3n"}).helpdesks[0]
        left = [30.0]
        c = make_connector(hd, guard=WriteGuard(write_guard(lambda: left[0], 5.0), 5.0))
        assert c.settings.timeout == 5.0  # type: ignore[attr-defined]
        c.open()
        ticket = next(t for p in c.changes(None) for t in p.tickets if not t.is_closed)
        before = len(_writes(sb))
        left[0] = 4.0
        with pytest.raises(LeaseLost, match="not sent"):
            c.apply(ticket, [AddTags(("stale_write",))], "feed00000009")
        assert len(_writes(sb)) == before
        assert c.fetch([ticket.id])  # reads are not guarded
        c.close()
