"""A helpdesk token with a character that is not ASCII is refused at load, at its line, never
shown. QA: `ZD_TOKEN='SECRETsnow☃123'` crashed `check`, `plan` and `run` (exit 1) with
`'latin-1' codec can't encode character '\\u2603' in position 10`: a character of the secret
and its place, no FILE:LINE. Zendesk and Atlassian API tokens are ASCII, and Basic auth
carries Latin-1 only, so such a token was mistyped or pasted with something extra."""

from __future__ import annotations

import pytest

from tierlift.engine.yamlsrc import InvalidFile
from tierlift.service.daemon.config import load_config

from kit import cli, write_config

TOKEN = "SECRETsnow\u2603123"
SHOWS_IT = ("SECRET", "snow", "\u2603", "2603", "position", "latin")


def _helpdesk(**auth: str) -> dict[str, str]:
    return {"name": "hd", "kind": "zendesk", "url": "http://127.0.0.1:9", "email": "bot@example.com",
            "policy": "two-tier", **auth}


def _line(path, key: str) -> int:
    return next(n for n, text in enumerate(path.read_text().splitlines(), 1) if f'"{key}"' in text)


@pytest.mark.parametrize("token", [TOKEN, "SECRETcaf\u00e9123", "SECRET\ufeff123"], ids=["snowman", "latin-1", "bom"])
def test_a_token_that_is_not_ascii_is_refused_at_its_line_without_showing_it(tmp_path, token):
    config = write_config(tmp_path, [_helpdesk(token="${ZD_TOKEN}")])
    with pytest.raises(InvalidFile) as exc:
        load_config(config, {"ZD_TOKEN": token})
    problems = [str(p) for p in exc.value.problems]
    assert len(problems) == 1, problems
    assert problems[0].startswith(f"{config}:{_line(config, 'token')}: helpdesks[0].token: the token read from"
                                  " environment variable ZD_TOKEN has a character that is not ASCII"), problems
    assert not [s for s in SHOWS_IT if s in problems[0]], problems


def test_a_token_file_that_is_not_ascii_is_refused_at_its_line(tmp_path):
    (tmp_path / "token.txt").write_text(TOKEN + "\n", encoding="utf-8")
    config = write_config(tmp_path, [_helpdesk(token_file="token.txt")])
    with pytest.raises(InvalidFile) as exc:
        load_config(config, {})
    problem = str(exc.value.problems[0])
    assert problem.startswith(f"{config}:{_line(config, 'token_file')}: helpdesks[0].token_file: the token read from"
                              f" file {tmp_path / 'token.txt'} has a character that is not ASCII"), problem
    assert not [s for s in SHOWS_IT if s in problem], problem


@pytest.mark.parametrize("command", [["check", "--config"], ["check", "--offline", "--config"], ["plan", "--config"],
                                     ["run", "--once", "--config"]], ids=lambda c: " ".join(c[:-1]))
def test_every_command_exits_2_naming_the_key(tmp_path, command):
    config = write_config(tmp_path, [_helpdesk(token="${ZD_TOKEN}")])
    proc = cli(*command, str(config), ZD_TOKEN=TOKEN, timeout=60)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 2, out
    assert f"{config}:{_line(config, 'token')}: helpdesks[0].token:" in out, out
    assert not [s for s in SHOWS_IT if s in out], out


def test_a_sign_in_email_that_is_not_ascii_is_refused_at_its_line(tmp_path):
    # It goes in the Basic auth header with the token: the same codec crash, on every command.
    config = write_config(tmp_path, [{**_helpdesk(token="${ZD_TOKEN}"), "email": "bot@b\u00fccher.example"}])
    with pytest.raises(InvalidFile) as exc:
        load_config(config, {"ZD_TOKEN": "plain-token"})
    problems = [str(p) for p in exc.value.problems]
    assert len(problems) == 1 and problems[0].startswith(
        f"{config}:{_line(config, 'email')}: helpdesks[0].email: the sign-in email has a character that is not"
        " ASCII"), problems
    assert load_config(write_config(tmp_path / "ok", [_helpdesk(token="${ZD_TOKEN}")]), {"ZD_TOKEN": "t"})
