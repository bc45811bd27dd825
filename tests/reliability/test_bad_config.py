"""Suite 4: broken configuration and policy files are refused at start, cleanly.

Every case runs the real command (`tierlift run --config FILE`) in a
subprocess and checks: exit code 2, a message naming the file and line and
the key, no traceback, and no half-started daemon (no state file created).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

TOKEN = "zd-test-token-5f3a9c"
GOOD_POLICY = """\
escalation:
  tiers:
    - {level: 1, name: One, team: a, sla: {first_response: 4h}, escalation_criteria: ["SLA at 75% elapsed"]}
    - {level: 2, name: Two, team: b, sla: {first_response: 2h}}
"""


def base(state: str = "state.sqlite3", policy: str = "three-tier") -> str:
    return f"""\
state: {{path: {state}}}
poll_interval: 30s
channels:
  pagerduty: {{kind: log}}
  slack_oncall: {{kind: log}}
  slack_channel: {{kind: log}}
helpdesks:
  - name: acme
    kind: zendesk
    url: https://acme.zendesk.com
    email: bot@acme.com
    token: "${{ZENDESK_TOKEN}}"
    policy: {policy}
"""


def policy_case(text: str) -> tuple[str, dict[str, str]]:
    return base(policy="mine.yaml"), {"mine.yaml": text}


# (id, config text, extra files, expected "file:line: key" fragment relative to the file named)
CASES: list[tuple[str, str, dict[str, str], str]] = [
    ("yaml-syntax", base() + "  - name: [unclosed\n", {}, "tierlift.yaml:14:"),
    ("yaml-tab", base().replace("    kind: zendesk", "\tkind: zendesk"), {}, "tierlift.yaml:9:"),
    ("top-level-list", "- helpdesks\n", {}, "tierlift.yaml:1:"),
    ("empty-file", "", {}, "tierlift.yaml:"),
    ("unknown-top-key", base() + "colour: red\n", {}, "tierlift.yaml:14: colour:"),
    ("duplicate-key", base().replace("poll_interval: 30s", "poll_interval: 30s\npoll_interval: 1m"), {}, "tierlift.yaml:3:"),
    ("no-helpdesks", base().split("helpdesks:")[0], {}, "helpdesks:"),
    ("helpdesks-empty", base().split("helpdesks:")[0] + "helpdesks: []\n", {}, "tierlift.yaml:7: helpdesks:"),
    ("helpdesks-mapping", base().split("helpdesks:")[0] + "helpdesks: {a: 1}\n", {}, "tierlift.yaml:7: helpdesks:"),
    ("helpdesk-scalar", base().split("helpdesks:")[0] + "helpdesks: [acme]\n", {}, "tierlift.yaml:7: helpdesks[0]:"),
    ("missing-name", base().replace("  - name: acme\n    kind", "  - kind"), {}, "helpdesks[0]:"),
    ("bad-name", base().replace("name: acme", "name: acme support"), {}, "tierlift.yaml:8: helpdesks[0].name:"),
    ("duplicate-names", base() + base().split("helpdesks:\n")[1], {}, "tierlift.yaml:14: helpdesks[1].name:"),
    ("unknown-kind", base().replace("kind: zendesk", "kind: freshdesk"), {}, "tierlift.yaml:9: helpdesks[0].kind:"),
    ("missing-url", base().replace("    url: https://acme.zendesk.com\n", ""), {}, "helpdesks[0].url:"),
    ("bad-url", base().replace("https://acme.zendesk.com", "acme.zendesk.com"), {}, "tierlift.yaml:10: helpdesks[0].url:"),
    ("missing-email", base().replace("    email: bot@acme.com\n", ""), {}, "helpdesks[0]:"),
    ("email-number", base().replace("email: bot@acme.com", "email: 42"), {}, "tierlift.yaml:11: helpdesks[0].email:"),
    ("inline-token", base().replace('"${ZENDESK_TOKEN}"', "abcd1234inline"), {}, "tierlift.yaml:12: helpdesks[0].token:"),
    ("missing-env", base().replace("ZENDESK_TOKEN", "NOT_SET_ANYWHERE"), {}, "tierlift.yaml:12: helpdesks[0].token:"),
    ("token-file-missing", base().replace('token: "${ZENDESK_TOKEN}"', "token_file: nope.txt"), {}, "tierlift.yaml:12: helpdesks[0].token_file:"),
    ("token-file-empty", base().replace('token: "${ZENDESK_TOKEN}"', "token_file: empty.txt"), {"empty.txt": ""}, "tierlift.yaml:12: helpdesks[0].token_file:"),
    ("token-and-file", base().replace('token: "${ZENDESK_TOKEN}"', 'token: "${ZENDESK_TOKEN}"\n    token_file: t.txt'), {"t.txt": "x1234"}, "helpdesks[0].token_file:"),
    ("missing-policy", base().replace("    policy: three-tier\n", ""), {}, "helpdesks[0]:"),
    ("unknown-policy", base(policy="four-tier-deluxe"), {}, "four-tier-deluxe"),
    ("policy-path-missing", base(policy="nowhere/policy.yaml"), {}, "policy.yaml: policy file not found"),
    ("policy-yaml-syntax", *policy_case("escalation:\n  tiers: [\n"), "mine.yaml:3:"),
    ("policy-unknown-override-tier", *policy_case(GOOD_POLICY + "  severity_overrides:\n    - {severity: P0, route_to: 5}\n"), "mine.yaml:6: escalation.severity_overrides[0].route_to:"),
    ("policy-bad-severity", *policy_case(GOOD_POLICY + "  severity_overrides:\n    - {severity: P9, route_to: 2}\n"), "mine.yaml:6: escalation.severity_overrides[0].severity:"),
    ("policy-bad-duration", *policy_case(GOOD_POLICY.replace("first_response: 4h", "first_response: four hours")), "mine.yaml:3: escalation.tiers[0].sla.first_response:"),
    ("policy-number-duration", *policy_case(GOOD_POLICY.replace("first_response: 4h", "first_response: 4")), "mine.yaml:3: escalation.tiers[0].sla.first_response:"),
    ("policy-unknown-key", *policy_case(GOOD_POLICY + "  escalate_fast: true\n"), "mine.yaml:5: escalation.escalate_fast:"),
    ("policy-one-tier", *policy_case("escalation:\n  tiers:\n    - {level: 1, name: One, team: a}\n"), "mine.yaml:2: escalation.tiers:"),
    ("policy-five-tiers", *policy_case("escalation:\n  tiers:\n" + "".join(f"    - {{level: {i}, name: T{i}, team: t{i}}}\n" for i in range(1, 6))), "mine.yaml:"),
    ("policy-bad-regex", *policy_case(GOOD_POLICY.replace('["SLA at 75% elapsed"]', '["X"]') + '  criteria:\n    X: {text: "([a-z"}\n'), "mine.yaml:6: escalation.criteria.X.text:"),
    ("policy-unknown-condition", *policy_case(GOOD_POLICY.replace('["SLA at 75% elapsed"]', '["X"]') + "  criteria:\n    X: {mood: angry}\n"), "mine.yaml:6: escalation.criteria.X.mood:"),
    ("policy-bad-timezone", *policy_case(GOOD_POLICY + "  calendars:\n    biz: {timezone: Mars/Olympus, hours: {mon-fri: '09:00-17:00'}}\n"), "mine.yaml:6: escalation.calendars.biz"),
    ("policy-unknown-calendar", *policy_case(GOOD_POLICY + "  calendar: office\n"), "mine.yaml:5: escalation.calendar:"),
    ("policy-de-escalation-tier", *policy_case(GOOD_POLICY + "  de_escalation:\n    - {name: x, when: {tag: fixed}, to: 9}\n"), "mine.yaml:6: escalation.de_escalation[0].to:"),
    ("poll-interval-bad", base().replace("poll_interval: 30s", "poll_interval: often"), {}, "tierlift.yaml:2: poll_interval:"),
    ("poll-interval-number", base().replace("poll_interval: 30s", "poll_interval: 30"), {}, "tierlift.yaml:2: poll_interval:"),
    ("dry-run-string", base() + "dry_run: maybe\n", {}, "tierlift.yaml:14: dry_run:"),
    ("state-dir-missing", base(state="/no/such/dir/state.sqlite3"), {}, "tierlift.yaml:1: state.path:"),
    ("state-parent-is-file", base(state="afile/state.sqlite3"), {"afile": "x"}, "tierlift.yaml:1: state.path:"),
    ("state-not-sqlite", base(state="garbage.sqlite3"), {"garbage.sqlite3": "this is not a database" * 100}, "tierlift.yaml:1: state.path:"),
    ("state-is-directory", base(state="adir"), {"adir/keep": ""}, "tierlift.yaml:1: state.path:"),
    ("channel-unknown-kind", base().replace("pagerduty: {kind: log}", "pagerduty: {kind: carrier-pigeon}"), {}, "tierlift.yaml:4: channels.pagerduty.kind:"),
    ("channel-slack-no-url", base().replace("pagerduty: {kind: log}", "pagerduty: {kind: slack}"), {}, "tierlift.yaml:4: channels.pagerduty:"),
    ("channel-missing", base().replace("  pagerduty: {kind: log}\n", ""), {}, "helpdesks[0].policy:"),
    ("teams-wrong-type", base() + "    teams: [a, b]\n", {}, "tierlift.yaml:14: helpdesks[0].teams:"),
    ("jira-no-project", base().replace("kind: zendesk", "kind: jira"), {}, "helpdesks[0]:"),
    ("page-size-negative", base() + "    page_size: -5\n", {}, "tierlift.yaml:14: helpdesks[0].page_size:"),
    ("start-time-bad", base() + "    start_time: last tuesday\n", {}, "tierlift.yaml:14: helpdesks[0].start_time:"),
    ("log-format-bad", base() + "log: {format: xml}\n", {}, "tierlift.yaml:14: log.format:"),
    ("http-listen-bad", base() + "http: {listen: everywhere}\n", {}, "tierlift.yaml:14: http.listen:"),
    # issue 17: the typed models keep the kind's keys and the secrets' rules
    ("jira-key-on-zendesk", base() + "    overlap: 5m\n", {}, "tierlift.yaml:14: helpdesks[0].overlap: unknown key 'overlap'"),
    ("team-misspelt", base() + "    teams: {support-specialist: {group: S}}\n", {},
     "tierlift.yaml:14: helpdesks[0].teams.support-specialist: team 'support-specialist' is not in policy 'three-tier'"),
    ("channel-key-inline", base().replace("pagerduty: {kind: log}", "pagerduty: {kind: pagerduty, routing_key: pd-inline-9z}"),
     {}, "tierlift.yaml:4: channels.pagerduty.routing_key: secrets must come from the environment"),
]


def test_there_are_at_least_forty_cases():
    assert len(CASES) >= 40
    assert len({c[0] for c in CASES}) == len(CASES)


@pytest.mark.parametrize("case_id,text,files,where", CASES, ids=[c[0] for c in CASES])
def test_broken_file_is_refused_cleanly(tmp_path: Path, case_id, text, files, where):
    for name, content in files.items():
        p = tmp_path / name
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(content)
    cfg = tmp_path / "tierlift.yaml"
    cfg.write_text(text)
    env = {**os.environ, "ZENDESK_TOKEN": TOKEN}
    env.pop("NOT_SET_ANYWHERE", None)
    proc = subprocess.run([sys.executable, "-m", "tierlift.service.cli", "run", "--config", str(cfg)],
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60)
    err = proc.stderr
    assert proc.returncode == 2, f"exit {proc.returncode}\n{err}"
    assert "Traceback" not in err and "Traceback" not in proc.stdout
    assert where in err, f"expected {where!r} in:\n{err}"
    assert re.search(r"\S+\.yaml:\d+: ", err) or case_id == "empty-file", err
    assert TOKEN not in err and TOKEN not in proc.stdout
    if case_id not in ("state-not-sqlite",):
        assert not (tmp_path / "state.sqlite3").exists(), "the daemon half-started"
