"""A dry run's record is a forecast: its imagined moves date its tiers' clocks.

QA (a support lead going live, F5): after a dry run's first imagined move, its next look at
the ticket counted the new tier's clock from the ticket's creation (the move was in no
journal, which a dry run never writes, and its snapshot kept the new tier's tag without the
move): a ticket planned L1 -> L2 at 09:00 was planned L2 -> L3 at 10:00 as "75% reached at
05:20", and the rehearsal climbed to L4 within hours (125 decisions planned where going live
wrote 44)."""

from __future__ import annotations

from datetime import UTC, datetime

from tierlift.sandbox import Sandbox
from tierlift.service.daemon.state import StateStore

from kit import Daemon, free_port, helpdesk, write_config

MON_9 = datetime(2026, 11, 2, 14, 0, tzinfo=UTC)  # Monday 09:00 in New York


def test_a_dry_runs_next_tier_runs_its_clock_from_the_planned_move(tmp_path):
    sb = Sandbox("zendesk", tickets=0, seed=3, now=MON_9, clock_speed=0).start()
    try:
        ticket = str(sb.store.add_ticket("Webhook retries", "Webhook retries pile up since this morning.", MON_9))
        port = free_port()
        config = write_config(tmp_path, [helpdesk(sb, "hd", dry_run=True)], clock_url=sb.url,
                              http={"listen": f"127.0.0.1:{port}"})
        # three-tier: L1 4 business hours (75% at 12:00 New York), L2 2 hours (75%: 90 minutes)
        sb.clock.set(datetime(2026, 11, 2, 17, 5, tzinfo=UTC), 0.0)  # 12:05: L1 -> L2 is due
        daemon = Daemon(config, tmp_path / "daemon.log")
        try:
            daemon.wait_cycles(port, more=2)
            sb.clock.set(datetime(2026, 11, 2, 18, 5, tzinfo=UTC), 0.0)  # an hour into L2: nothing due
            daemon.wait_cycles(port, more=3)
            sb.clock.set(datetime(2026, 11, 2, 18, 40, tzinfo=UTC), 0.0)  # past 13:35: L2 -> L3 is due
            daemon.wait_cycles(port, more=3)
        finally:
            daemon.terminate()
        with StateStore(tmp_path / "state.sqlite3") as store:
            plans = [(p.created_at, p.tier_before, p.tier_after, p.rule) for p in store.plans("hd")
                     if p.ticket_id == ticket]
    finally:
        sb.stop()
    assert plans == [(datetime(2026, 11, 2, 17, 5, tzinfo=UTC), 1, 2, "sla-75pct"),
                     (datetime(2026, 11, 2, 18, 40, tzinfo=UTC), 2, 3, "sla-75pct")], plans
