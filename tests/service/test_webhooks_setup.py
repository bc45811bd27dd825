"""`tierlift webhooks setup | check` against the sandbox's webhook and trigger endpoints
(QA's second tools pass):

- a dry_run entry beside the live one on the same helpdesk is skipped by both: the
  shadow wrote to the helpdesk and took the live entry's webhook by its name;
- `--public-url` is checked as the file's `webhooks.public_url` is: exit 2 before
  anything is written, the credential of a refused address never printed;
- check reports a trigger or webhook narrowed after setup (events, conditions, JQL)
  as a difference (exit 1); an entry without webhook_secret is said to have webhooks
  off, not a missing webhook.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from tierlift.sandbox import Sandbox
from tierlift.service.cli import main

from kit import helpdesk, write_config

SECRET = "whsec-setup-5d1c0e7a"
NOW = datetime(2026, 11, 2, 19, 0, tzinfo=UTC)
PUBLIC = "https://tierlift.example.com"


def run(capsys, *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    assert SECRET not in out + err
    return code, out, err


def config(tmp: Path, sb: Sandbox, *entries: dict[str, Any]) -> str:
    return str(write_config(tmp, [helpdesk(sb, name, **extra) for name, extra in
                                  (tuple(e.items())[0] for e in entries)]))


@pytest.fixture(autouse=True)
def secret(monkeypatch):
    monkeypatch.setenv("SANDBOX_TOKEN", "sandbox-token-7f3e2a91")
    monkeypatch.setenv("WH_SECRET", SECRET)


def writes(sb: Sandbox) -> list[str]:
    return [f"{r['method']} {r['path']}" for r in sb.requests_log() if r["write"]]


@pytest.mark.parametrize("flavor", ["zendesk", "jira"])
def test_a_dry_run_entry_is_skipped_and_leaves_the_live_webhook_alone(tmp_path, capsys, flavor):
    with Sandbox(flavor, tickets=2, now=NOW) as sb:
        cfg = config(tmp_path, sb, {"live": {"webhook_secret": "${WH_SECRET}"}},
                     {"shadow": {"webhook_secret": "${WH_SECRET}", "dry_run": True}})
        code, out, _ = run(capsys, "webhooks", "setup", "--config", cfg, "--public-url", PUBLIC)
        assert code == 0, out
        assert "shadow: skipped: a dry_run entry writes nothing to the helpdesk" in out
        [hook] = sb.hooks.webhooks.values()
        assert (hook.get("endpoint") or hook.get("url")) == f"{PUBLIC}/webhooks/live"
        code, out, _ = run(capsys, "webhooks", "check", "--config", cfg, "--public-url", PUBLIC)
        assert code == 0, out
        assert "shadow: skipped" in out and "missing" not in out


def test_a_dry_run_entry_alone_writes_nothing(tmp_path, capsys):
    with Sandbox("zendesk", tickets=2, now=NOW) as sb:
        cfg = config(tmp_path, sb, {"shadow": {"webhook_secret": "${WH_SECRET}", "dry_run": True}})
        code, out, _ = run(capsys, "webhooks", "setup", "--config", cfg, "--public-url", PUBLIC)
        assert code == 0 and "skipped" in out, out
        assert writes(sb) == [] and not sb.hooks.webhooks and not sb.hooks.triggers


def narrowed(sb: Sandbox, **fields: Any) -> None:
    """What an admin did in the helpdesk's UI after setup: the one webhook (Jira) or trigger
    (Zendesk) edited in place."""
    [record] = (sb.hooks.webhooks if sb.flavor == "jira" else sb.hooks.triggers).values()
    record.update(fields)


CREATE_ONLY = {"all": [{"field": "update_type", "operator": "is", "value": "Create"}], "any": []}


@pytest.mark.parametrize("flavor, change, said", [
    ("zendesk", {"conditions": CREATE_ONLY}, "fires on other conditions"),
    ("jira", {"events": ["jira:issue_created"]}, "listens for jira:issue_created, not"),
    ("jira", {"filters": {"issue-related-events-section": "project = OTHER"}}, "filters with JQL 'project = OTHER'"),
    ("jira", {"excludeBody": True}, "sends no body"),
])
def test_check_reports_a_webhook_narrowed_after_setup(tmp_path, capsys, flavor, change, said):
    with Sandbox(flavor, tickets=2, now=NOW) as sb:
        cfg = config(tmp_path, sb, {"hd": {"webhook_secret": "${WH_SECRET}"}})
        assert run(capsys, "webhooks", "setup", "--config", cfg, "--public-url", PUBLIC)[0] == 0
        code, out, _ = run(capsys, "webhooks", "check", "--config", cfg, "--public-url", PUBLIC)
        assert code == 0 and "repair" not in out, out
        narrowed(sb, **change)
        code, out, _ = run(capsys, "webhooks", "check", "--config", cfg, "--public-url", PUBLIC)
        assert code == 1 and said in out, out
        assert run(capsys, "webhooks", "setup", "--config", cfg, "--public-url", PUBLIC)[0] == 0  # repairs it
        code, out, _ = run(capsys, "webhooks", "check", "--config", cfg, "--public-url", PUBLIC)
        assert code == 0, out


def test_an_entry_without_a_secret_has_nothing_to_set_up_or_check(tmp_path, capsys):
    with Sandbox("zendesk", tickets=2, now=NOW) as sb:
        cfg = config(tmp_path, sb, {"hd": {}})
        code, out, _ = run(capsys, "webhooks", "setup", "--config", cfg, "--public-url", PUBLIC)
        assert (code, out) == (0, "hd: no webhook_secret: webhooks are off for this helpdesk, nothing to set up\n")
        code, out, _ = run(capsys, "webhooks", "check", "--config", cfg, "--public-url", PUBLIC)
        assert (code, out) == (0, "hd: no webhook_secret: webhooks are off for this helpdesk, nothing to check\n")
        assert writes(sb) == []


@pytest.mark.parametrize("url", ["notaurl", "ftp://x", "http://", "https://h:99999", "https://h/?token=abc",
                                 "https://h/#frag", "https://bot:hunter2-pw@h", "https://h /x", ""])
@pytest.mark.parametrize("action", ["setup", "check"])
def test_a_bad_public_url_is_refused_before_the_helpdesk_is_called(tmp_path, capsys, url, action):
    with Sandbox("zendesk", tickets=2, now=NOW) as sb:
        cfg = config(tmp_path, sb, {"hd": {"webhook_secret": "${WH_SECRET}"}})
        before = len(sb.requests_log())
        code, out, err = run(capsys, "webhooks", action, "--config", cfg, "--public-url", url)
        assert code == 2 and out == "", out + err
        assert err.startswith("--public-url: ") and err.endswith("1 problem found\n"), err
        assert "hunter2" not in err and "abc" not in err and "frag" not in err
        assert len(sb.requests_log()) == before and not sb.hooks.webhooks


def test_a_public_url_is_taken_without_its_trailing_slash(tmp_path, capsys):
    with Sandbox("zendesk", tickets=2, now=NOW) as sb:
        cfg = config(tmp_path, sb, {"hd": {"webhook_secret": "${WH_SECRET}"}})
        assert run(capsys, "webhooks", "setup", "--config", cfg, "--public-url", PUBLIC + "/")[0] == 0
        [hook] = sb.hooks.webhooks.values()
        assert hook["endpoint"] == f"{PUBLIC}/webhooks/hd"


@pytest.mark.parametrize("action", ["setup", "check"])
def test_a_helpdesk_that_does_not_answer_is_said_as_the_other_commands_say_it(tmp_path, capsys, action):
    # QA (an integrator, 2026-12-07): the raw urllib3 text, "HTTPConnectionPool(host=..., port=...):
    # Max retries exceeded with url: /api/v2/webhooks (Caused by NewConnectionError(...))".
    import socket
    from types import SimpleNamespace

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    nobody = SimpleNamespace(flavor="zendesk", url=f"http://127.0.0.1:{port}")
    cfg = str(write_config(tmp_path, [helpdesk(nobody, "hd", webhook_secret="${WH_SECRET}")]))
    code, out, _ = run(capsys, "webhooks", action, "--config", cfg, "--public-url", PUBLIC)
    assert code != 0 and f"hd: failed: connection to 127.0.0.1:{port} failed: ConnectionError" in out, out
    assert "HTTPConnectionPool" not in out and "Max retries" not in out


def test_setup_says_when_the_configuration_serves_no_webhook_endpoint(tmp_path, capsys):
    # QA (an integrator, 2026-12-07): with neither http.listen nor webhooks.listen, setup pointed
    # the helpdesk at the URL without a word; only the running daemon said "not served".
    with Sandbox("zendesk", tickets=2, now=NOW) as sb:
        cfg = config(tmp_path, sb, {"hd": {"webhook_secret": "${WH_SECRET}"}})
        code, _out, err = run(capsys, "webhooks", "setup", "--config", cfg, "--public-url", PUBLIC)
    assert code == 0 and "sets neither http.listen nor webhooks.listen: the daemon serves no webhook endpoint" in err
