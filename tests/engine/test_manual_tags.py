"""An escalation answers the agent's request for one: whichever rule moves a ticket up, the
manual trigger tag of the tier it leaves is consumed and the incomplete flag cleared. Found
by a QA session: after an SLA escalation of an issue carrying `escalate` (refused earlier
for missing context, so also `escalation_incomplete`), both tags stayed on the ticket."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

from tierlift.engine.evaluate import apply_decision, evaluate
from tierlift.engine.model import RemoveTags
from tierlift.service.daemon.policies import load_policy

from enginekit import make_ticket, note, utc

CREATED = utc(2026, 11, 2, 14, 0)  # Monday 09:00 in New York
REFUSED = frozenset({"tier_l1", "escalate", "escalation_incomplete"})


def _removed(d) -> set[str]:
    return {t for a in d.actions if isinstance(a, RemoveTags) for t in a.tags}


def test_an_sla_escalation_consumes_the_refused_trigger_and_its_incomplete_flag():
    three = load_policy("three-tier")
    t = make_ticket(tags=REFUSED, comments=(), history=(), created_at=CREATED, updated_at=CREATED)
    at = CREATED + timedelta(hours=3, seconds=1)  # 75% of L1's 4 business hours
    d = evaluate(t, three, at)
    assert (d.tier_after, d.rule) == (2, "sla-75pct"), d.reasons
    assert {"escalate", "escalation_incomplete"} <= _removed(d)
    after = apply_decision(t, d, at)
    assert {"escalate", "escalation_incomplete"}.isdisjoint(after.tags) and "tier_l2" in after.tags
    # The context written later at L2 asks for nothing: no second tier.
    context = note("Steps taken:\n- Cleared the cache\nCustomer impact: exports fail for 40 users", at + timedelta(hours=1))
    later = replace(after, comments=(*after.comments, context), version="v3")
    d = evaluate(later, three, at + timedelta(hours=1, minutes=1))
    assert d.tier_after == 2 and d.rule != "manual", (d.rule, d.reasons)


def test_a_customers_request_escalating_a_tagged_ticket_consumes_the_tag_too():
    three = load_policy("three-tier")
    t = make_ticket(tags=REFUSED | {"escalation_requested"}, comments=(), history=())
    d = evaluate(t, three, CREATED + timedelta(minutes=5))
    assert (d.tier_after, d.rule) == (2, "customer-requests-escalation"), d.reasons
    assert {"escalate", "escalation_incomplete"} <= _removed(d)


def test_a_move_down_leaves_a_request_made_at_the_tier_it_leaves_alone():
    three = load_policy("three-tier")
    t = make_ticket(tags=frozenset({"tier_l3", "fix_deployed", "escalate"}), comments=(), history=(),
                    created_at=CREATED, updated_at=CREATED)
    d = evaluate(t, three, CREATED + timedelta(hours=3))
    assert d.kind == "de-escalate", d.reasons
    assert "escalate" not in _removed(d)
