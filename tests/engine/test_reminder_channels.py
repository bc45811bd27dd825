"""A missed update's reminder reaches the incident's channel, not only a note on the ticket.

Issue 26: teamflow's update-duty reminders were internal notes only. At 02:00 nobody reads a
note on an outage nobody is updating; the first anyone heard of the silence was the L4 page
a period later. A duty's `remind:` channels get the reminder beside the note."""

from __future__ import annotations

from datetime import timedelta

import pytest

from tierlift.engine.evaluate import evaluate
from tierlift.engine.model import InternalNote, Notify
from tierlift.engine.policy import load_policy_text
from tierlift.service.daemon.policies import load_policy

from enginekit import make_ticket, note, utc


def test_a_teamflow_outage_reminder_tells_the_outage_channel():
    teamflow = load_policy("teamflow")
    start = utc(2026, 11, 3, 7, 0)  # 02:00 in New York
    t = make_ticket(subject="API down", description="Complete outage of the API for all our users.",
                    tags=frozenset({"tier_l3"}), created_at=start, updated_at=start + timedelta(minutes=5),
                    comments=(note("On it", start + timedelta(minutes=5), public=True),))
    r = evaluate(t, teamflow, start + timedelta(minutes=21))
    assert r.kind == "reminder" and [type(a) for a in r.actions] == [InternalNote, Notify], r.actions
    [page] = [a for a in r.actions if isinstance(a, Notify)]
    assert page.channel == "outage-response" and "API down" in page.subject, page
    assert "every 15 minutes" in page.body and "A further miss escalates it." in page.body, page.body
    assert "outage-response" in teamflow.channels


BARE = """
escalation:
  tiers:
    - {level: 1, name: Front, team: front, sla: {first_response: 4h}}
    - {level: 2, name: Back, team: back, sla: {first_response: 2h}}
  updates:
    - {name: vip-updates, when: {tag: vip}, every: 30m%s}
"""


@pytest.mark.parametrize(("remind", "channels"), [("", []), (", remind: [vip-desk]", ["vip-desk"])])
def test_a_duty_without_remind_channels_reminds_by_note_only(remind, channels):
    policy = load_policy_text(BARE % remind, "bare.yaml")
    start = utc(2026, 11, 2, 14, 0)
    t = make_ticket(tags=frozenset({"vip"}), comments=(note("Looking", start, public=True),))
    r = evaluate(t, policy, start + timedelta(minutes=31))
    assert r.kind == "reminder", r.reasons
    assert [a.channel for a in r.actions if isinstance(a, Notify)] == channels
    assert policy.channels == channels
