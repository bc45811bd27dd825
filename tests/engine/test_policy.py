"""Policy loading: the seed's YAML runs unmodified; every error names file, line and key."""

from __future__ import annotations

import re
from importlib import resources

import pytest

from tierlift.engine.evaluate import evaluate
from tierlift.engine.policy import load_policy_text
from tierlift.engine.yamlsrc import InvalidFile
from tierlift.service.daemon.policies import builtin_names, load_policy

from enginekit import make_ticket, utc


def seed_block(shared_dir) -> str:
    seed = (shared_dir / "seeds" / "000_a00ae918b013cf81.txt").read_text()
    m = re.search(r"## Escalation Workflow Configuration\s*```yaml\n(.*?)```", seed, re.S)
    assert m, "the seed's configuration block was not found"
    return m.group(1)


def test_the_seed_yaml_loads_unmodified_and_runs(shared_dir):
    policy = load_policy_text(seed_block(shared_dir), "seed-000.yaml")
    assert sorted(policy.tiers) == [1, 2, 3]
    # With no extension keys: SLA at 75% is automatic on a 24x7 clock...
    d = evaluate(make_ticket(), policy, utc(2026, 11, 2, 17, 0))
    assert (d.tier_before, d.tier_after, d.rule) == (1, 2, "sla-75pct")
    # ...severity comes from p0..p3 tags and P0 goes straight to L3 with a page.
    d = evaluate(make_ticket(tags=frozenset({"p0"})), policy, utc(2026, 11, 2, 14, 1))
    assert d.tier_after == 3 and any(a.type == "notify" and a.channel == "pagerduty" for a in d.actions)
    # ...and the free-text criteria are manual (the `escalate` tag).
    hows = {text: how for _tier, text, how in policy.explanations}
    assert hows["Issue not in runbook or knowledge base"].startswith("manual: an agent adds the tag 'escalate'")
    assert hows["SLA at 75% elapsed without resolution path"].startswith("automatic")


def test_the_three_tier_pack_contains_the_seed_block_byte_for_byte(shared_dir):
    pack = (resources.files("tierlift.policies") / "three-tier.yaml").read_text()
    assert seed_block(shared_dir).rstrip("\n") in pack


def test_every_pack_loads_and_explains_each_criterion():
    assert set(builtin_names()) >= {"three-tier", "teamflow", "two-tier"}
    for name in builtin_names():
        p = load_policy(name)
        assert 2 <= len(p.tiers) <= 4
        assert p.explanations, name
        for _tier, text, how in p.explanations:
            assert how.split(":")[0] in {"automatic", "manual", "by condition", "severity override"}, (text, how)


def test_teamflow_has_four_levels_with_plan_based_response_times():
    p = load_policy("teamflow")
    assert sorted(p.tiers) == [1, 2, 3, 4]
    l1 = p.tiers[1].first_response
    assert [l1.for_ticket(plan, None).total_seconds() / 3600 for plan in ("basic", "pro", "enterprise")] == [24, 8, 4]
    assert [p.tiers[lv].first_response.for_ticket("basic", None).total_seconds() / 3600 for lv in (2, 3, 4)] == [4, 2, 1]


BROKEN = """\
escalation:
  tiers:
    - level: 1
      name: One
      team: a
      sla: {first_response: 4 hours, resolution_target: 24h}
      escalation_criteria: ["SLA at 140% elapsed"]
    - level: 2
      name: Two
      team: b
      sla: {first_response: 2h}
      colour: blue
  severity_overrides:
    - severity: P7
      route_to: 2
    - severity: P0
      route_to: 9
  criteria:
    "Never used": {tag: x}
  ping_pong: {max_moves: zero}
"""


def test_every_error_is_reported_with_file_line_and_key():
    with pytest.raises(InvalidFile) as exc:
        load_policy_text(BROKEN, "broken.yaml")
    lines = [str(p) for p in exc.value.problems]
    expected = [
        ("broken.yaml:6: escalation.tiers[0].sla.first_response:", "duration"),
        ("broken.yaml:7: escalation.tiers[0].escalation_criteria[0]:", "more than 0% and at most 100%"),
        ("broken.yaml:12: escalation.tiers[1].colour:", "unknown key"),
        ("broken.yaml:14: escalation.severity_overrides[0].severity:", "P0, P1, P2, P3"),
        ("broken.yaml:17: escalation.severity_overrides[1].route_to:", "existing tier"),
        ("broken.yaml:19: escalation.criteria.Never used:", "not used"),
        ("broken.yaml:20: escalation.ping_pong.max_moves:", "whole number"),
    ]
    for prefix, words in expected:
        assert any(line.startswith(prefix) and words in line for line in lines), (prefix, lines)


def test_yaml_syntax_error_names_the_line():
    with pytest.raises(InvalidFile) as exc:
        load_policy_text("escalation:\n  tiers: [\n    - level: 1\n", "bad.yaml")
    assert str(exc.value.problems[0]).startswith("bad.yaml:")
    assert "YAML syntax" in str(exc.value)


def test_duplicate_keys_are_refused():
    with pytest.raises(InvalidFile) as exc:
        load_policy_text("escalation:\n  name: a\n  name: b\n", "dup.yaml")
    assert "dup.yaml:3" in str(exc.value) and "duplicate key 'name'" in str(exc.value)


def test_unknown_condition_and_bad_regex_are_located():
    text = """\
escalation:
  tiers:
    - {level: 1, name: One, team: a, escalation_criteria: [X, Y]}
    - {level: 2, name: Two, team: b}
  criteria:
    X: {colour: red}
    Y: {text: "(unclosed"}
"""
    with pytest.raises(InvalidFile) as exc:
        load_policy_text(text, "c.yaml")
    msg = str(exc.value)
    assert "c.yaml:6: escalation.criteria.X.colour: unknown condition 'colour'" in msg
    assert "c.yaml:7: escalation.criteria.Y.text: invalid regular expression" in msg


def test_a_tier_may_choose_its_team_by_condition():
    text = """\
escalation:
  tiers:
    - {level: 1, name: One, team: front, sla: {first_response: 1h}, escalation_criteria: ["SLA at 50% elapsed"]}
    - level: 2
      name: Two
      teams:
        - {team: billing-managers, when: {keywords: [invoice]}}
        - {team: specialists}
"""
    p = load_policy_text(text, "t.yaml")
    d = evaluate(make_ticket(description="Wrong invoice total"), p, utc(2026, 11, 2, 14, 30))
    assert [a.team for a in d.actions if a.type == "reassign"] == ["billing-managers"]
    d = evaluate(make_ticket(), p, utc(2026, 11, 2, 14, 30))
    assert [a.team for a in d.actions if a.type == "reassign"] == ["specialists"]


def test_customer_tier_routing_starts_enterprise_tickets_at_level_two():
    text = """\
escalation:
  tiers:
    - {level: 1, name: One, team: front, sla: {first_response: 4h}}
    - {level: 2, name: Two, team: specialists, sla: {first_response: 2h}}
  routing:
    - {name: enterprise-to-l2, when: {plan: enterprise}, start_tier: 2}
"""
    from enginekit import org

    p = load_policy_text(text, "r.yaml")
    d = evaluate(make_ticket(organization=org("enterprise")), p, utc(2026, 11, 2, 14, 1))
    assert (d.tier_after, d.kind, d.rule) == (2, "route", "enterprise-to-l2")
    assert not evaluate(make_ticket(organization=org("basic")), p, utc(2026, 11, 2, 14, 1)).has_actions


RESPONSE_TIMES = """escalation:
  tiers:
    - {level: 1, name: One, team: a, sla: {first_response: 4h}}
    - {level: 2, name: Two, team: b, sla: {first_response: 2h}}
  rules:
    - {name: outage, when: {keywords: [outage]}, to: 2, severe: yes please}
  response_times:
    - {name: outage, rules: [outage, nope], first_response: 15m}
    - {name: slow, when: {keywords: [slow]}, updates_every: soon}
    - {name: empty, first_response: 1h}
    - {name: quiet, when: {tag: x}, colour: red}
"""


def test_response_times_and_rule_flags_are_validated_with_file_line_and_key():
    with pytest.raises(InvalidFile) as exc:
        load_policy_text(RESPONSE_TIMES, "rt.yaml")
    lines = [str(p) for p in exc.value.problems]
    expected = [
        ("rt.yaml:6: escalation.rules[0].severe:", "true or false"),
        ("rt.yaml:8: escalation.response_times[0].rules[1]:", "unknown rule 'nope'"),
        ("rt.yaml:9: escalation.response_times[1].updates_every:", "duration"),
        ("rt.yaml:10: escalation.response_times[2]:", "'when'"),
        ("rt.yaml:11: escalation.response_times[3].colour:", "unknown key"),
        ("rt.yaml:11: escalation.response_times[3]:", "first_response or updates_every"),
    ]
    for prefix, words in expected:
        assert any(line.startswith(prefix) and words in line for line in lines), (prefix, lines)


def test_a_team_in_one_tier_maps_to_it_and_a_shared_team_to_none():
    policy = load_policy_text(RESPONSE_TIMES.replace("team: b", "team: a").split("  rules:")[0], "t.yaml")
    assert policy.tier_of_team("a") is None and policy.tier_of_team("zz") is None
    three = load_policy_text(RESPONSE_TIMES.split("  rules:")[0], "t.yaml")
    assert three.tier_of_team("a") == 1 and three.tier_of_team("b") == 2
