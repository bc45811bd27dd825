"""A policy changed while tickets wait (a reload, or a restart on an edited file) decides them
again under the new one, at once, not at the wake-ups the old one set.

QA (a policy author): after a SIGHUP that moved the SLA trigger, `status` still listed the
old policy's wake-ups. With a threshold lowered (75% -> 50%), each ticket waited for its 75%
wake-up: escalated an hour late on a 4-hour target.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from tierlift.sandbox import Sandbox

from kit import cli, run_once, write_config
from servicekit import helpdesk

MON_9 = datetime(2026, 11, 2, 14, 0, tzinfo=UTC)  # Monday 09:00 New York; L1 answers within 4 business hours
THREE = (Path(__file__).resolve().parents[2] / "policies" / "three-tier.yaml").read_text(encoding="utf-8")


def test_a_lowered_sla_threshold_applies_to_the_tickets_already_waiting(tmp_path):
    policy = tmp_path / "ours.yaml"
    policy.write_text(THREE, encoding="utf-8")
    with Sandbox("zendesk", tickets=0, seed=3, now=MON_9 + timedelta(minutes=5)) as sb:
        [tid] = sb.control("POST", "tickets", {"tickets": [{
            "subject": "Notification settings", "description": "Where can I change my notification settings?",
            "created_at": MON_9.isoformat().replace("+00:00", "Z")}]})[1]["ids"]
        config = write_config(tmp_path, [helpdesk("hd", sb, policy=str(policy))], clock_url=sb.url)
        r = run_once(config)
        assert r.returncode == 0, r.stderr[-2000:]
        assert "tier_l2" not in sb.data.tickets[tid]["tags"]

        policy.write_text(THREE.replace("SLA at 75% elapsed", "SLA at 50% elapsed"), encoding="utf-8")
        sb.control("POST", "clock", {"now": (MON_9 + timedelta(hours=2, minutes=30)).isoformat()})  # 62% used
        # The plan shows what the edited policy will do (QA: "0 ticket(s) would change", then
        # the reload escalated and answered).
        plan = cli("plan", "--config", str(config))
        assert plan.returncode == 0, plan.stderr
        assert "sla-50pct" in plan.stdout and "plan: 1 ticket(s) would change" in plan.stdout, plan.stdout
        assert "tier_l2" not in sb.data.tickets[tid]["tags"], "the plan wrote nothing"
        r = run_once(config)
        assert r.returncode == 0, r.stderr[-2000:]
        assert "policy changed helpdesk=hd" in r.stdout + r.stderr, (r.stdout + r.stderr)[-3000:]
        assert "tier_l2" in sb.data.tickets[tid]["tags"], "escalated at 50%, not at the old 75% wake-up"
        notes = [c["body"] for c in sb.store.comments.get(tid, []) if "[tierlift escalation=" in c["body"]]
        assert any("sla-50pct" in n for n in notes), notes

        r = run_once(config)
        assert "policy changed" not in r.stdout + r.stderr, "the same policy: nothing to decide again"


def test_a_ticket_left_alone_is_named_again_when_a_policy_change_decides_every_ticket(tmp_path):
    """QA (reload): after a reload that removed a tier, the log said "5 open ticket(s) decided
    again" and named none of the tickets left at the removed tier until one of them changed."""
    policy = tmp_path / "ours.yaml"
    policy.write_text(THREE, encoding="utf-8")
    with Sandbox("zendesk", tickets=0, seed=3, now=MON_9 + timedelta(minutes=5)) as sb:
        [tid] = sb.control("POST", "tickets", {"tickets": [{
            "subject": "Old incident", "description": "Where can I change my notification settings?",
            "created_at": MON_9.isoformat().replace("+00:00", "Z"), "tags": ["tier_l4"]}]})[1]["ids"]
        config = write_config(tmp_path, [helpdesk("hd", sb, policy=str(policy))], clock_url=sb.url)
        first = run_once(config)
        assert f"left alone helpdesk=hd ticket={tid}" in first.stdout + first.stderr
        policy.write_text(THREE.replace("SLA at 75% elapsed", "SLA at 50% elapsed"), encoding="utf-8")
        again = run_once(config)
        log = again.stdout + again.stderr
        assert "policy changed helpdesk=hd" in log and f"left alone helpdesk=hd ticket={tid}" in log, log[-3000:]
        assert not [c for c in sb.store.comments.get(tid, []) if "[tierlift" in c["body"]]
