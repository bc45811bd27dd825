"""`check` says when the configured Jira project does not exist.

QA (2026-12): `project: SPU` (a typo of SUP) gave "credentials accepted", then a first sync of
0 tickets, for ever. `check` now reads GET /rest/api/2/project/{key} (404 in Jira for a key that
names no project, or one the account may not browse) and names the file, line and key.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
import requests

from tierlift.sandbox import Sandbox

from kit import TOKEN, cli, write_config

NOW = datetime(2026, 11, 2, 15, 0, tzinfo=UTC)


@pytest.fixture
def sb():
    with Sandbox("jira", tickets=5, seed=3, now=NOW) as sb:
        yield sb


def desk(sb: Sandbox, project: str) -> dict[str, object]:
    return {"name": "hd", "kind": "jira", "url": sb.url, "email": "bot@example.com", "token": "${SANDBOX_TOKEN}",
            "policy": "three-tier", "project": project}


def test_the_sandbox_answers_a_project_as_jira_does(sb):
    auth = ("bot@example.com", TOKEN)
    ok = requests.get(sb.url + "/rest/api/2/project/SUP", auth=auth, timeout=10)
    assert ok.status_code == 200 and ok.json()["key"] == "SUP" and ok.json()["projectTypeKey"] == "service_desk"
    missing = requests.get(sb.url + "/rest/api/3/project/SPU", auth=auth, timeout=10)
    assert (missing.status_code, missing.json()) == (404, {"errorMessages": ["No project could be found with key 'SPU'."],
                                                          "errors": {}})


def test_check_says_the_project_does_not_exist_at_its_line(sb, tmp_path):
    config = write_config(tmp_path, [desk(sb, "SPU")])
    proc = cli("check", "--config", str(config))
    out = proc.stdout + proc.stderr
    assert proc.returncode == 2, out
    line = next(n for n, text in enumerate(config.read_text().splitlines(), 1) if '"project"' in text)
    assert f"{config}:{line}: helpdesks[0].project: the site has no project SPU" in out, out
    assert "credentials accepted" not in out


def test_check_accepts_the_project_that_exists(sb, tmp_path):
    proc = cli("check", "--config", str(write_config(tmp_path, [desk(sb, "SUP")])))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "credentials accepted" in proc.stdout
