"""The daemon leaves a ticket at a tier its policy lacks alone, says so in its log, and
writes nothing to it, while the other tickets flow (QA: four tiers made three while tickets
sat at L4; the L4 tickets were escalated again from L1, paged and answered twice)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from tierlift.sandbox import Sandbox

from kit import cli, run_once, write_config
from servicekit import helpdesk

NOW = datetime(2026, 11, 2, 19, 0, tzinfo=UTC)  # Monday 14:00 New York


def test_a_ticket_at_a_removed_tier_gets_no_write_and_a_log_line(tmp_path):
    with Sandbox("zendesk", tickets=0, seed=4, now=NOW) as sb:
        created = (NOW - timedelta(hours=3)).isoformat().replace("+00:00", "Z")
        held, flowing = sb.control("POST", "tickets", {"tickets": [
            {"subject": "Production API down", "description": "Our production API is down for all users.",
             "created_at": created, "tags": ["tier_l4", "p1"]},
            {"subject": "Production API down", "description": "Our production API is down for all users.",
             "created_at": created, "tags": ["p1"]}]})[1]["ids"]
        config = write_config(tmp_path, [helpdesk("hd", sb)])
        r = run_once(config)
        assert r.returncode == 0, r.stdout + r.stderr

        def comments(tid):
            return [c for c in sb.store.comments.get(tid, []) if "[tierlift" in c["body"]]
        assert comments(held) == [], comments(held)
        assert "tier_l4" in sb.data.tickets[held]["tags"] and "tier_l3" not in sb.data.tickets[held]["tags"]
        assert comments(flowing), "the same ticket without the stray tag escalates as always"
        assert "tier_l3" in sb.data.tickets[flowing]["tags"]
        log = r.stdout + r.stderr
        assert f"left alone helpdesk=hd ticket={held}" in log, log
        assert "tier tag tier_l4 names a tier this policy does not have (L1, L2, L3)" in log

        story = cli("history", "--config", str(config), str(held))
        assert "nothing due now: tier tag tier_l4 names a tier this policy does not have" in story.stdout, story.stdout
        # No clock of this policy runs for it (QA: history showed L1's, with a threshold never acted on).
        assert "none: the ticket is at a tier this policy does not have" in story.stdout, story.stdout
        assert "L1 first response" not in story.stdout, story.stdout
