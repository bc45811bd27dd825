"""A shadow beside the live policy on one helpdesk, when the live side acts first.

The two helpdesks' workers poll side by side. When a threshold falls due for
both, whichever cycle comes first acts; if the live one writes first, the
shadow's next read shows the ticket already moved. The shadow must still take
the decision it was due to take, or its report calls every such move "only
live" (about half of them in a real deployment).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from tierlift.connectors.base import Secret
from tierlift.connectors.jira import JiraConnector, JiraSettings
from tierlift.connectors.zendesk import ZendeskConnector, ZendeskSettings
from tierlift.sandbox import Sandbox
from tierlift.service.daemon.config import HelpdeskConfig
from tierlift.service.daemon.cycle import HelpdeskCycle
from tierlift.service.daemon.dryrun import copy_plans, live_siblings, raced_with
from tierlift.service.daemon.policies import load_policy
from tierlift.service.daemon.state import StateStore
from tierlift.service.tools.shadow import compare

NOW = datetime(2026, 11, 2, 19, 0, tzinfo=UTC)


def connector(flavor: str, sb: Sandbox):
    cls, settings = ((ZendeskConnector, ZendeskSettings) if flavor == "zendesk" else (JiraConnector, JiraSettings))
    c = cls(settings("hd", sb.url, "bot@example.com", Secret("t0k3n"), backoff=0.01))
    c.open()
    return c


def config(name: str, sb: Sandbox, flavor: str, dry_run: bool) -> HelpdeskConfig:
    return HelpdeskConfig(name, flavor, sb.url, "bot@example.com", Secret("t0k3n"), "three-tier",
                          load_policy("three-tier"), dry_run, {})


@pytest.mark.parametrize("flavor", ["zendesk", "jira"])
def test_a_shadow_read_after_the_live_side_moved_its_due_tickets_still_decides_them(flavor, tmp_path):
    with Sandbox(flavor, tickets=40, seed=7, now=NOW) as sb:
        store = StateStore(tmp_path / "state.sqlite3", now=sb.clock.now)
        entries = [config("live", sb, flavor, False), config("shadow", sb, flavor, True)]
        live = HelpdeskCycle(entries[0], connector(flavor, sb), store, show_progress=False)
        private = store.snapshot()  # as the daemon's shadow worker keeps it
        assert live_siblings(entries, entries[1]) == ["live"]
        shadow = HelpdeskCycle(entries[1], connector(flavor, sb), private, show_progress=False,
                               raced=raced_with(store, ["live"]))
        for _ in range(2):  # both look at the backlog (the shadow first), then read the live side's writes
            shadow.run(sb.clock.now())
            live.run(sb.clock.now())
            sb.clock.advance(timedelta(minutes=2))  # past Zendesk's one-minute export holdback
        sb.clock.advance(timedelta(hours=4))  # SLA thresholds fall due for both
        live.run(sb.clock.now())  # the live side's cycle comes first and moves those tickets
        sb.clock.advance(timedelta(minutes=2))
        shadow.run(sb.clock.now())  # the shadow reads them moved
        live.run(sb.clock.now())
        copy_plans(private, store, "shadow", since=NOW - timedelta(days=1))
        c = compare(store, "live", "shadow", live_policy="three-tier", shadow_policy="three-tier",
                    since=NOW - timedelta(days=1), until=sb.clock.now())
        store.close()
        private.close()
    moved_later = [t for t in c.tickets if any(m.at > NOW for m in t.live)]
    assert moved_later, "nothing fell due after the first look: the test proves nothing"
    assert c.counts()["only live"] == 0 and c.counts()["different"] == 0, \
        [(t.ticket, t.verdict, t.live, t.shadow) for t in c.tickets if t.verdict != "same"]
