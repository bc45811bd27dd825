"""tierlift.yaml validation: every problem with file, line and key; secrets never shown."""

from __future__ import annotations

from pathlib import Path

import pytest

from tierlift.engine.yamlsrc import InvalidFile
from tierlift.service.daemon.config import load_config

from kit import cli

GOOD = """\
state: {path: state.sqlite3}
poll_interval: 30s
channels:
  pagerduty: {kind: pagerduty, routing_key: "${PD_KEY}"}
  slack_oncall: {kind: slack, webhook_url: "${SLACK_URL}"}
  slack_channel: {kind: log}
helpdesks:
  - name: acme-zendesk
    kind: zendesk
    url: https://acme.zendesk.com
    email: bot@acme.com
    token: "${ZENDESK_TOKEN}"
    policy: three-tier
    teams:
      support-specialists: {group: Specialists}
      engineering-oncall: {group_id: 360001}
  - name: acme-jira
    kind: jira
    url: https://acme.atlassian.net
    email: bot@acme.com
    token_file: jira-token
    project: SUP
    policy: two-tier
    dry_run: true
"""

ENV = {"ZENDESK_TOKEN": "zd-secret-value-123", "PD_KEY": "pd-routing-key-456", "SLACK_URL": "https://hooks.slack.test/T0/B0/xyz789"}


def write(tmp_path: Path, text: str, name: str = "tierlift.yaml") -> Path:
    p = tmp_path / name
    p.write_text(text)
    return p


def test_a_good_config_loads_with_secrets_resolved_and_redacted(tmp_path):
    (tmp_path / "jira-token").write_text("jira-secret-token-000\n")
    cfg = load_config(write(tmp_path, GOOD), ENV)
    zd, jira = cfg.helpdesks
    assert zd.token.reveal() == "zd-secret-value-123"
    assert jira.token.reveal() == "jira-secret-token-000"
    assert jira.dry_run and not zd.dry_run
    assert zd.teams["engineering-oncall"].group == "360001"
    assert zd.policy.name == "three-tier"
    assert cfg.poll_interval.total_seconds() == 30
    for obj in (cfg, zd, jira, zd.token, cfg.channels["pagerduty"]):
        text = repr(obj) + str(obj)
        for secret in (*ENV.values(), "jira-secret-token-000"):
            assert secret not in text


def problems_of(tmp_path, text, env=ENV) -> list[str]:
    with pytest.raises(InvalidFile) as exc:
        load_config(write(tmp_path, text), env)
    return [str(p) for p in exc.value.problems]


def test_inline_secrets_are_refused_without_echoing_them(tmp_path):
    text = GOOD.replace('token: "${ZENDESK_TOKEN}"', "token: my-pasted-real-token").replace("token_file: jira-token", 'token: "${JIRA}"')
    probs = problems_of(tmp_path, text, {**ENV, "JIRA": "x" * 8})
    assert any(":12: helpdesks[0].token: secrets must come from the environment" in p for p in probs), probs
    assert not any("my-pasted-real-token" in p for p in probs)


def test_missing_env_var_and_unreadable_secret_file(tmp_path):
    probs = problems_of(tmp_path, GOOD, {k: v for k, v in ENV.items() if k != "ZENDESK_TOKEN"})
    assert any("helpdesks[0].token: environment variable ZENDESK_TOKEN is not set" in p for p in probs)
    assert any("helpdesks[1].token_file: cannot read the secret file" in p for p in probs)


def test_several_problems_are_all_reported(tmp_path):
    (tmp_path / "jira-token").write_text("t0k3n-value")
    text = GOOD.replace("poll_interval: 30s", "poll_interval: soon").replace("kind: jira", "kind: jira\n    colour: red") \
        .replace("name: acme-jira", "name: acme-zendesk").replace("policy: two-tier", "policy: no-such-pack")
    probs = problems_of(tmp_path, text)
    assert any(p.startswith(f"{tmp_path}/tierlift.yaml:2: poll_interval:") for p in probs), probs
    assert any("duplicate helpdesk name 'acme-zendesk'" in p for p in probs)
    assert any("helpdesks[1].colour: unknown key 'colour'" in p for p in probs)
    assert any("no policy file or built-in pack named 'no-such-pack'" in p for p in probs)


def test_a_config_without_channels_is_refused_when_its_policy_pages(tmp_path):
    """QA (hardening, 2 of 2): with no `channels:` section at all `check --offline` said valid,
    and every P0/P1 page then failed at run time ("channel 'pagerduty' is not configured")."""
    import re

    (tmp_path / "jira-token").write_text("t0k3n-value")
    text = re.sub(r"\nchannels:\n(  .*\n)+", "\n", GOOD)
    assert "channels:" not in text
    probs = problems_of(tmp_path, text)
    assert any("notifies channel 'pagerduty', which 'channels' does not define" in p for p in probs), probs


def test_a_policy_channel_missing_from_channels_is_an_error(tmp_path):
    (tmp_path / "jira-token").write_text("t0k3n-value")
    text = GOOD.replace("  pagerduty: {kind: pagerduty, routing_key: \"${PD_KEY}\"}\n", "")
    probs = problems_of(tmp_path, text)
    assert any("notifies channel 'pagerduty', which 'channels' does not define" in p for p in probs), probs


def test_unwritable_or_missing_state_directory(tmp_path):
    (tmp_path / "jira-token").write_text("t0k3n-value")
    text = GOOD.replace("state: {path: state.sqlite3}", "state: {path: /nonexistent/dir/state.sqlite3}")
    probs = problems_of(tmp_path, text)
    assert any(":1: state.path: directory /nonexistent/dir does not exist" in p for p in probs), probs


def test_a_broken_policy_file_is_reported_at_its_own_line(tmp_path):
    (tmp_path / "jira-token").write_text("t0k3n-value")
    (tmp_path / "mine.yaml").write_text("escalation:\n  tiers:\n    - {level: 1, name: a, team: x}\n    - {level: 7, name: b, team: y}\n")
    probs = problems_of(tmp_path, GOOD.replace("policy: two-tier", "policy: mine.yaml"))
    assert any(p.startswith(f"{tmp_path}/mine.yaml:4: escalation.tiers[1].level:") for p in probs), probs
    assert any("helpdesks[1].policy: policy 'mine.yaml' is invalid" in p for p in probs)


def test_a_misspelt_team_is_refused_with_did_you_mean(tmp_path):
    # 16.4: the typo used to pass `check` while the real team fell back to a group of its own name.
    text = GOOD.replace("engineering-oncall: {group_id: 360001}", "enginering-oncall: {group_id: 360001}")
    probs = problems_of(tmp_path, text)
    assert any(p.endswith(":16: helpdesks[0].teams.enginering-oncall: team 'enginering-oncall' is not in policy"
                          " 'three-tier' (did you mean engineering-oncall?)") for p in probs), probs


def test_a_team_far_from_any_policy_team_lists_them(tmp_path):
    text = GOOD.replace("engineering-oncall: {group_id: 360001}", "billing: {group_id: 360001}")
    probs = problems_of(tmp_path, text)
    assert any("helpdesks[0].teams.billing: team 'billing' is not in policy 'three-tier' (the policy's teams are:"
               " engineering-oncall, support-generalists, support-specialists)" in p for p in probs), probs


def test_check_refuses_a_misspelt_team_with_exit_2(tmp_path):
    import subprocess
    import sys

    (tmp_path / "jira-token").write_text("jira-secret-token-000\n")
    text = GOOD.replace("engineering-oncall: {group_id: 360001}", "enginering-oncall: {group_id: 360001}")
    path = write(tmp_path, text)
    r = subprocess.run([sys.executable, "-m", "tierlift.service.cli", "check", "--config", str(path), "--offline"],
                       capture_output=True, text=True, env={**__import__("os").environ, **ENV}, timeout=60)
    assert r.returncode == 2, r.stdout + r.stderr
    assert f"{path}:16: helpdesks[0].teams.enginering-oncall:" in r.stderr
    assert "did you mean engineering-oncall?" in r.stderr and "Traceback" not in r.stderr


def test_a_channel_kind_that_is_a_mapping_is_a_problem_not_a_crash(tmp_path):
    # Found by tests/service/test_config_reference.py's probes: it raised TypeError (exit 1).
    probs = problems_of(tmp_path, GOOD.replace("slack_channel: {kind: log}", "slack_channel: {kind: {a: 1}}"))
    assert any("channels.slack_channel.kind: expected one of slack, pagerduty, webhook, log" in p for p in probs)


# --- issue 17: the environment passed in is the only one read; typed settings; no secret in any message ----
def test_the_environment_passed_in_is_the_only_one_read(tmp_path, monkeypatch):
    # The loader read os.environ for $STATE_DIRECTORY and for $VARS in paths although an env was passed.
    monkeypatch.delenv("STATE_DIRECTORY", raising=False)
    monkeypatch.delenv("CREDS", raising=False)
    (tmp_path / "units").mkdir()
    (tmp_path / "creds").mkdir()
    (tmp_path / "creds" / "jira").write_text("jira-secret-token-000\n")
    text = GOOD.replace("state: {path: state.sqlite3}\n", "").replace("token_file: jira-token", "token_file: ${CREDS}/jira")
    cfg = load_config(write(tmp_path, text), {**ENV, "STATE_DIRECTORY": str(tmp_path / "units"),
                                              "CREDS": str(tmp_path / "creds")})
    assert cfg.state_path == tmp_path / "units" / "tierlift-state.sqlite3"
    assert cfg.helpdesks[1].token.reveal() == "jira-secret-token-000"


def test_each_kind_has_its_typed_settings_with_their_defaults(tmp_path):
    from datetime import timedelta

    from tierlift.service.daemon.connect import make_connector

    (tmp_path / "jira-token").write_text("jira-secret-token-000\n")
    text = GOOD.replace("    dry_run: true\n", "    dry_run: true\n    overlap: 5m\n    note_in_edit: true\n"
                        "    status_map: {Waiting for vendor: pending}\n    fields: {plan: customfield_10056}\n")
    zd, jira = load_config(write(tmp_path, text.replace("    policy: three-tier\n", "    policy: three-tier\n"
                                                         "    timeout: 10s\n    page_size: 500\n"
                                                         "    audit_cache: 5000\n")), ENV).helpdesks
    assert (zd.options.page_size, zd.options.timeout, zd.options.max_retry_wait) == (500, timedelta(seconds=10),
                                                                                     timedelta(seconds=60))
    assert (jira.options.page_size, jira.options.overlap, jira.options.note_in_edit) == (100, timedelta(minutes=5), True)
    assert zd.options.first_sync == "quiet" and zd.options.max_public_replies_per_cycle == 25
    settings = make_connector(zd).settings  # the connector is built from the typed fields, not a dict
    assert (settings.page_size, settings.timeout, settings.max_retry_wait, settings.audit_cache) == (500, 10.0, 60.0, 5000)
    jira_settings = make_connector(jira).settings
    assert jira_settings.project == "SUP" and jira_settings.overlap == timedelta(minutes=5)
    assert jira_settings.fields == {"plan": "customfield_10056"} and jira_settings.status_map == {"Waiting for vendor": "pending"}


def test_a_jira_key_on_a_zendesk_helpdesk_is_an_unknown_key(tmp_path):
    text = GOOD.replace("    policy: three-tier\n", "    policy: three-tier\n    overlap: 5m\n")
    probs = problems_of(tmp_path, text)
    assert any(":14: helpdesks[0].overlap: unknown key 'overlap' (expected one of: " in p for p in probs), probs


def test_a_misspelt_key_gets_did_you_mean(tmp_path):
    probs = problems_of(tmp_path, GOOD.replace("poll_interval: 30s", "pol_interval: 30s"))
    assert any(p.endswith(":2: pol_interval: unknown key 'pol_interval' (did you mean 'poll_interval'?)") for p in probs), probs


PASTED = ("zd-pasted-0a1b2c", "pd-pasted-3d4e5f", "hook-pasted-6a7b8c", "db-pasted-9d0e1f", "dbpw-pasted-2a3b4c")


def test_a_bad_config_with_pasted_secrets_never_prints_them(tmp_path):
    text = GOOD.replace('token: "${ZENDESK_TOKEN}"', f"token: {PASTED[0]}") \
        .replace('routing_key: "${PD_KEY}"', f"routing_key: {PASTED[1]}") \
        .replace("slack_channel: {kind: log}", f"slack_channel: {{kind: webhook, url: 'https://h.example.com', secret: {PASTED[2]}}}") \
        .replace("state: {path: state.sqlite3}", f"state: {{url: 'postgresql://tl:{PASTED[3]}@db/tl', password: {PASTED[4]}}}") \
        .replace("token_file: jira-token", f"token: [{PASTED[0]}]")
    with pytest.raises(InvalidFile) as exc:
        load_config(write(tmp_path, text), ENV)
    shown = str(exc.value) + repr(exc.value) + "".join(repr(p) for p in exc.value.problems)
    assert len(exc.value.problems) >= 5, shown  # each pasted secret refused, none echoed
    for secret in PASTED:
        assert secret not in shown, shown
    assert "helpdesks[0].token: secrets must come from the environment" in shown
    assert "channels.pagerduty.routing_key: secrets must come from the environment" in shown
    assert "state.url: no password in the URL" in shown


def test_a_validated_file_never_shows_its_secrets(tmp_path):
    from tierlift.service.daemon.config_models import ConfigFile
    from tierlift.service.daemon.config_values import Sources

    (tmp_path / "jira-token").write_text("jira-secret-token-000\n")
    import yaml

    model = ConfigFile.model_validate(yaml.safe_load(GOOD), context=Sources(ENV, tmp_path))
    shown = repr(model) + str(model) + repr(model.helpdesks[0].resolved("token"))
    for secret in (*ENV.values(), "jira-secret-token-000"):
        assert secret not in shown


def test_a_directory_given_as_the_configuration_says_so(tmp_path):
    # QA (hardening): "cannot read configuration file: IsADirectoryError".
    with pytest.raises(InvalidFile) as err:
        load_config(tmp_path)
    assert str(err.value) == f"{tmp_path}: is a directory: give the configuration file, such as tierlift.yaml"


@pytest.mark.parametrize("command", [["check", "--config"], ["check", "--policy"], ["test-policy", "three-tier"],
                                     ["simulate", "--policy", "three-tier", "--tickets"]])
def test_a_file_not_in_utf8_is_refused_with_its_line_and_what_to_do(tmp_path, command):
    # QA: a policy saved as Latin-1 said "cannot read policy file: UnicodeDecodeError".
    bad = tmp_path / "latin1.yaml"
    bad.write_bytes("# a policy\nescalation:\n  name: caf\xe9\n".encode("latin-1"))
    r = cli(*command, str(bad))
    assert r.returncode == 2, r.stdout + r.stderr
    assert f"{bad}:3: not UTF-8 text (byte 0xe9): save the" in r.stderr and "as UTF-8" in r.stderr, r.stderr
    assert "UnicodeDecodeError" not in r.stderr and "Traceback" not in r.stderr


def test_an_entry_missing_several_keys_is_told_every_one_at_once(tmp_path):
    # QA (operator): the entry's missing token and a Jira entry's missing project showed only
    # after its missing policy was fixed: the checks of an entry as a whole ran only on an
    # entry whose keys were all valid.
    path = tmp_path / "tierlift.yaml"
    path.write_text("state: {path: state.sqlite3}\nhelpdesks:\n"
                    "  - name: a\n    kind: zendesk\n    url: http://127.0.0.1:9\n    email: bot@example.com\n"
                    "  - name: b\n    kind: jira\n    url: http://127.0.0.1:9\n    email: bot@example.com\n"
                    "    token: ${T}\n    policy: two-tier\n    poll: 3\n")
    with pytest.raises(InvalidFile) as err:
        load_config(path, {"T": "x"})
    said = [str(p) for p in err.value.problems]
    for wanted in (f"{path}:3: helpdesks[0]: missing required key 'policy'",
                   f"{path}:3: helpdesks[0]: missing 'token' (as ${{ENV_VAR}}) or 'token_file' (a path)",
                   f"{path}:13: helpdesks[1].poll: unknown key 'poll'",
                   f"{path}:7: helpdesks[1]: a Jira helpdesk needs 'project' (a key such as SUP) or 'jql' (its scope)"):
        assert any(p.startswith(wanted) for p in said), (wanted, said)
    # A valid entry missing only its token says so once.
    path.write_text("state: {path: state.sqlite3}\nhelpdesks:\n"
                    "  - name: a\n    kind: zendesk\n    url: http://127.0.0.1:9\n    email: bot@example.com\n"
                    "    policy: two-tier\n")
    with pytest.raises(InvalidFile) as err:
        load_config(path, {})
    said = [str(p) for p in err.value.problems]
    assert said.count(f"{path}:3: helpdesks[0]: missing 'token' (as ${{ENV_VAR}}) or 'token_file' (a path)") == 1, said


def test_a_secret_file_of_two_lines_is_refused_at_its_line(tmp_path):
    # QA (an integrator, 2026-12-07): a token file with a second line was taken whole, newline
    # and all; the helpdesk answers 401 to every request made with it.
    (tmp_path / "jira-token").write_text("jira-secret-token-000\nsecond-line-value\n")
    probs = problems_of(tmp_path, GOOD)
    said = [p for p in probs if "helpdesks[1].token_file" in p]
    assert said and "holds 2 lines" in said[0], probs
    assert not any("jira-secret-token-000" in p or "second-line-value" in p for p in probs)


def test_a_status_map_value_that_is_no_tierlift_status_is_refused_at_its_line(tmp_path):
    """QA (a Jira admin): `{Waiting for vendor: pendng}` was valid; the parked issues it meant
    to pause ran their clocks and were escalated, with customer replies."""
    text = GOOD.replace("    dry_run: true\n", "    dry_run: true\n    status_map:\n      Waiting for vendor: pendng\n"
                        "      In Progress: Open\n")
    probs = problems_of(tmp_path, text)
    assert any(":26: helpdesks[1].status_map.Waiting for vendor: expected one of new, open, pending, hold, solved, "
               "closed, got 'pendng' (did you mean pending?)" in p for p in probs), probs
    assert not any("In Progress" in p for p in probs), probs  # a capital letter is still the status


@pytest.mark.parametrize("url", ["https://hookuser:URLPASS_QA8@hooks.example.com/tierlift",
                                 "https://hooks.example.com/tierlift?token=URLTOKEN_QA8",
                                 "https://chat.example.com/v1/spaces/AAA/messages?key=URLKEY_QA8&x=1"])
def test_a_channel_url_carrying_a_credential_is_refused_inline_and_taken_as_a_variable(tmp_path, url):
    """QA (a privacy auditor): the helpdesk url and state.url refuse a credential written in the
    URL; a webhook channel's url took one silently, into a file kept in config management."""
    inline = GOOD.replace("slack_channel: {kind: log}", f'slack_channel: {{kind: webhook, url: "{url}"}}')
    line = next(n for n, text in enumerate(inline.splitlines(), 1) if "slack_channel:" in text)
    probs = problems_of(tmp_path, inline)
    assert any(f":{line}: channels.slack_channel.url: a URL that carries a credential" in p and "${VAR}" in p
               for p in probs), probs
    assert not [p for p in probs if "QA8" in p], probs
    (tmp_path / "jira-token").write_text("jira-secret-token-000\n")
    as_variable = GOOD.replace("slack_channel: {kind: log}",
                               'slack_channel: {kind: webhook, url: "${HOOK_URL}", secret: "${HOOK_SECRET}"}')
    cfg = load_config(write(tmp_path, as_variable), {**ENV, "HOOK_URL": url, "HOOK_SECRET": "hook-signing-secret-0042"})
    assert cfg.channels["slack_channel"].url == url
    plain = GOOD.replace("slack_channel: {kind: log}",
                         'slack_channel: {kind: webhook, url: "https://hooks.example.com/t?page=2", secret: "${HOOK_SECRET}"}')
    cfg = load_config(write(tmp_path, plain), {**ENV, "HOOK_SECRET": "hook-signing-secret-0042"})
    assert cfg.channels["slack_channel"].url.endswith("?page=2")
