"""A webhook secret must be one nobody can guess. QA: `ZENDESK_WEBHOOK_SECRET=" "` or `"a"` was
taken by `check --offline`, `webhooks setup --dry-run` and the daemon, which then acted on
webhooks signed with that key, while an empty one was refused ("not set or empty"). Blank
(only whitespace) is refused as empty is, and shorter than 16 characters as too short, at
the key's line, with how to make a good one; the value is never shown."""

from __future__ import annotations

import pytest

from tierlift.engine.yamlsrc import InvalidFile
from tierlift.service.daemon.config import load_config

from kit import cli, write_config

GOOD = "whsec-0123456789ab"  # 18 characters
HOW = "make one with `openssl rand -hex 32`"


def _helpdesk(**keys: str) -> dict[str, str]:
    return {"name": "hd", "kind": "zendesk", "url": "http://127.0.0.1:9", "email": "bot@example.com",
            "token": "${ZD_TOKEN}", "policy": "two-tier", **keys}


def _line(path, key: str) -> int:
    return next(n for n, text in enumerate(path.read_text().splitlines(), 1) if f'"{key}"' in text)


def _problem(config, env: dict[str, str]) -> str:
    with pytest.raises(InvalidFile) as exc:
        load_config(config, {"ZD_TOKEN": "plain-token", **env})
    [problem] = [str(p) for p in exc.value.problems]
    return problem


@pytest.mark.parametrize("secret, said", [
    (" ", "environment variable WH holds only whitespace: as good as empty"),
    ("\t \n", "environment variable WH holds only whitespace: as good as empty"),
    ("", "environment variable WH is not set or empty"),
    ("a", "the webhook_secret read from environment variable WH is shorter than 16 characters, too short to"
          f" resist guessing: {HOW}"),
    ("s3cr3t-15-chars", "shorter than 16 characters"),
    ("  whsec-0123456  ", "shorter than 16 characters"),  # whitespace does not count
    ("a              b", "shorter than 16 characters"),  # nor inside (QA: two characters were taken)
], ids=["space", "whitespace", "empty", "one-char", "15-chars", "padded", "spaced"])
def test_a_blank_or_short_webhook_secret_is_refused_at_its_line(tmp_path, secret, said):
    config = write_config(tmp_path, [_helpdesk(webhook_secret="${WH}")])
    problem = _problem(config, {"WH": secret})
    assert problem.startswith(f"{config}:{_line(config, 'webhook_secret')}: helpdesks[0].webhook_secret: "), problem
    assert said in problem, problem
    assert len(secret.strip()) < 4 or secret.strip() not in problem  # "a" is in any sentence


@pytest.mark.parametrize("content, said", [(" \n", "is empty"), ("abc123\n", "shorter than 16 characters")])
def test_a_blank_or_short_webhook_secret_file_is_refused_at_its_line(tmp_path, content, said):
    (tmp_path / "wh.txt").write_text(content)
    config = write_config(tmp_path, [_helpdesk(webhook_secret_file="wh.txt")])
    problem = _problem(config, {})
    assert problem.startswith(f"{config}:{_line(config, 'webhook_secret_file')}: helpdesks[0].webhook_secret_file: ")
    assert said in problem and "abc123" not in problem, problem


def test_a_secret_of_16_characters_is_taken_and_a_blank_token_is_refused_too(tmp_path):
    config = write_config(tmp_path, [_helpdesk(webhook_secret="${WH}")])
    [hd] = load_config(config, {"ZD_TOKEN": "plain-token", "WH": "0123456789abcdef"}).helpdesks
    assert hd.webhook_secret is not None and hd.webhook_secret.reveal() == "0123456789abcdef"
    assert load_config(config, {"ZD_TOKEN": "plain-token", "WH": GOOD}).helpdesks[0].webhook_secret is not None
    # Any secret from the environment: a token of spaces is as empty as an empty one.
    assert "helpdesks[0].token: environment variable ZD_TOKEN holds only whitespace" in _problem(
        config, {"ZD_TOKEN": "   ", "WH": GOOD})


@pytest.mark.parametrize("command", [["check", "--offline", "--config"], ["webhooks", "setup", "--dry-run",
                                     "--public-url", "https://tierlift.example.com", "--config"], ["run", "--config"]],
                         ids=lambda c: " ".join(c[:-1]))
@pytest.mark.parametrize("secret", [" ", "a"], ids=["space", "one-char"])
def test_every_command_that_reads_the_secret_exits_2_naming_the_key(tmp_path, command, secret):
    config = write_config(tmp_path, [_helpdesk(webhook_secret="${WH}")], http={"listen": "127.0.0.1:0"})
    proc = cli(*command, str(config), ZD_TOKEN="plain-token", WH=secret, timeout=30)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 2, out
    assert f"{config}:{_line(config, 'webhook_secret')}: helpdesks[0].webhook_secret: " in out, out
    assert "started" not in out  # the daemon never listened for webhooks signed with it


def test_the_api_token_as_webhook_secret_is_refused_and_one_secret_for_two_is_said(tmp_path):
    # QA (an integrator, 2026-12-07): both were taken without a word. The signature does not
    # cover the address, so a delivery signed for one endpoint is valid at the other's.
    token = write_config(tmp_path, [_helpdesk(webhook_secret="${WH}")])
    said = _problem(token, {"WH": "plain-token-0000000", "ZD_TOKEN": "plain-token-0000000"})
    assert "helpdesks[0].webhook_secret: the webhook secret is the helpdesk's API token" in said, said
    assert "plain-token" not in said
    two = [_helpdesk(webhook_secret="${WH}"), _helpdesk(name="eu", url="http://127.0.0.2:9", webhook_secret="${WH}")]
    checked = cli("check", "--config", str(write_config(tmp_path, two)), "--offline", WH=GOOD, ZD_TOKEN="plain-token")
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "webhook secret: the same as hd's: a delivery signed for one is taken by the other" in checked.stdout
    assert GOOD not in checked.stdout + checked.stderr


def test_a_refused_short_secret_is_not_masked_in_the_refusals_own_words(tmp_path):
    """QA (a privacy auditor): a webhook secret "short" was refused as "... shorter than 16
    characters, too *** to resist guessing": the mask of a value the message never shows
    told the log's reader the value. A refused value is no secret to mask."""
    from tierlift.service.ops import redact

    saved = redact.snapshot()
    try:
        config = write_config(tmp_path, [_helpdesk(webhook_secret="${WH}")])
        problem = _problem(config, {"WH": "short"})
        assert "too short to resist guessing" in redact.redact(problem), redact.redact(problem)
        # A token the configuration takes is masked as ever.
        load_config(config, {"ZD_TOKEN": "plain-token-0123456789", "WH": GOOD})
        assert "plain-token-0123456789" not in redact.redact("token plain-token-0123456789 sent")
    finally:
        redact.restore(saved)
