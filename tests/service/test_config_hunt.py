"""QA's configuration hunt: what was accepted, crashed or leaked, each refused at load with
FILE:LINE: key.path and without echoing what was written where a credential goes."""

from __future__ import annotations

from pathlib import Path

import pytest

from tierlift.engine.yamlsrc import InvalidFile
from tierlift.service.daemon.config import load_config

SECRET = "zd-LEAKED-abc123"
ENV = {"TL_TOKEN": "tl-token-value-0001"}
BASE = """\
state: {path: state.sqlite3}
poll_interval: 30s
channels:
  pagerduty: {kind: log}
  slack_oncall: {kind: log}
  slack_channel: {kind: log}
helpdesks:
  - name: hd
    kind: zendesk
    url: https://acme.zendesk.com
    email: bot@example.com
    token: ${TL_TOKEN}
    policy: three-tier
"""
JIRA = BASE.replace("kind: zendesk", "kind: jira\n    project: SUP")


def write(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "tierlift.yaml"
    p.write_text(text)
    return p


def problems(tmp_path: Path, text: str, env: dict[str, str] = ENV) -> list[str]:
    with pytest.raises(InvalidFile) as exc:
        load_config(write(tmp_path, text), env)
    return [str(p) for p in exc.value.problems]


def test_the_base_loads(tmp_path):
    assert load_config(write(tmp_path, BASE), ENV).helpdesks[0].url == "https://acme.zendesk.com"


# --- 1. a credential in a helpdesk's address ------------------------------------------------------
@pytest.mark.parametrize("base", [BASE, JIRA], ids=["zendesk", "jira"])
@pytest.mark.parametrize("url", [f"https://bot:{SECRET}@acme.zendesk.com", f"https://{SECRET}@acme.zendesk.com",
                                 f"https://acme.zendesk.com/?api_token={SECRET}", f"https://acme.zendesk.com#{SECRET}"])
def test_a_credential_in_the_helpdesk_url_is_refused_without_echoing_it(tmp_path, base, url):
    # It was accepted, then printed by `check` and in every ticket link of `report` and the pages.
    text = base.replace("https://acme.zendesk.com", url)
    line = next(n for n, written in enumerate(text.splitlines(), 1) if "url:" in written)
    (problem,) = problems(tmp_path, text)
    assert problem.startswith(f"{tmp_path / 'tierlift.yaml'}:{line}: helpdesks[0].url: "), problem
    assert SECRET not in problem


@pytest.mark.parametrize("url", ["https://acme.zendesk.com/ trailing junk", "https://acme.zendesk.com:99999"])
def test_a_helpdesk_url_with_spaces_or_an_impossible_port_is_refused(tmp_path, url):
    (problem,) = problems(tmp_path, BASE.replace("https://acme.zendesk.com", f'"{url}"'))
    assert ":10: helpdesks[0].url: expected an address" in problem, problem


@pytest.mark.parametrize("key", ["follow", "public_url"])
@pytest.mark.parametrize("url", ["notaurl", f"http://u:{SECRET}@127.0.0.1:9"])
def test_the_clock_and_webhook_addresses_are_checked_as_addresses(tmp_path, key, url):
    # `clock: {follow: notaurl}` passed `check`; `plan` and `run` then failed with MissingSchema.
    section = "clock" if key == "follow" else "webhooks"
    (problem,) = problems(tmp_path, BASE + f'{section}: {{{key}: "{url}"}}\n')
    assert f":14: {section}.{key}: " in problem and SECRET not in problem, problem


@pytest.mark.parametrize("sub", ["https://acme.zendesk.com", "acme.zendesk.com", "acme/", "ac me"])
def test_a_subdomain_is_a_bare_name(tmp_path, sub):
    # `subdomain: https://acme.zendesk.com` became https://https://acme.zendesk.com.zendesk.com.
    (problem,) = problems(tmp_path, BASE.replace("url: https://acme.zendesk.com", f'subdomain: "{sub}"'))
    assert ":10: helpdesks[0].subdomain: expected the bare subdomain" in problem, problem
    cfg = load_config(write(tmp_path, BASE.replace("url: https://acme.zendesk.com", "subdomain: acme-eu")), ENV)
    assert cfg.helpdesks[0].url == "https://acme-eu.zendesk.com"
