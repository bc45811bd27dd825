"""`tierlift status` on a PostgreSQL state: each lease to the second, live or not, and the
helpdesks leased in the shared state that this configuration does not list.

QA on replicas: a helpdesk only one replica's configuration listed went unserved when that
replica died, and `status --config <another replica's config>` did not mention it; and a
lease's expiry printed to the minute ("expires 11:41 UTC (now)") read the same for a live
15 s lease as for a dead holder's.
"""

from __future__ import annotations

import json
import re
import time
from pathlib import Path

import pytest

CONFIG = """\
state: {{url: "{url}"}}
channels: {{pagerduty: {{kind: log}}, slack_oncall: {{kind: log}}, slack_channel: {{kind: log}}}}
helpdesks:
  - {{name: acme, kind: zendesk, url: "https://acme.zendesk.com", email: a@b.c, token: "${{TOK}}", policy: three-tier}}
  - {{name: beta, kind: zendesk, url: "https://beta.zendesk.com", email: a@b.c, token: "${{TOK}}", policy: three-tier}}
"""
WHEN = r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC"


@pytest.fixture
def config(request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, str]:
    url = request.getfixturevalue("pg_url")
    monkeypatch.setenv("TOK", "t0ken-value")
    (tmp_path / "t.yaml").write_text(CONFIG.format(url=url))
    return tmp_path / "t.yaml", url


def _lease(url: str, helpdesk: str, pid: int, ttl: float) -> None:
    from tierlift.service.daemon.store.postgres import PostgresStore

    with PostgresStore(url) as s:
        assert s.lease_acquire(helpdesk, f"vm:{pid}:abc", "vm", pid, ttl, take_released=True, take_orphaned=True)


def test_status_says_to_the_second_whether_a_lease_is_live(config: tuple[Path, str],
                                                           capsys: pytest.CaptureFixture[str]):
    from tierlift.service.tools.status import status

    path, url = config
    _lease(url, "acme", 4242, 30)
    _lease(url, "beta", 4243, 0.2)
    time.sleep(0.5)
    assert status(path) == 0
    out = capsys.readouterr().out
    assert re.search(rf"lease: +held by vm pid 4242, epoch 1, expires {WHEN} \(in \d+ seconds\)$", out, re.M), out
    assert re.search(rf"lease: +expired {WHEN} \(\d+ seconds? ago\); last held by vm pid 4243, epoch 1", out), out
    assert "expired by" not in out


def test_status_lists_the_helpdesks_leased_but_not_in_this_configuration(config: tuple[Path, str],
                                                                         capsys: pytest.CaptureFixture[str]):
    from tierlift.service.tools.status import status

    path, url = config
    _lease(url, "acme", 4242, 30)
    _lease(url, "jira2", 2778, 0.2)  # its replica died: nobody serves it
    _lease(url, "jira3", 2779, 30)  # another replica serves it
    time.sleep(0.5)
    assert status(path) == 0
    out = capsys.readouterr().out
    assert re.search(rf"helpdesk jira2: not in this configuration; lease expired {WHEN} \(\d+ seconds? ago\);"
                     r" last held by vm pid 2778, epoch 1", out), out
    assert re.search(rf"helpdesk jira3: not in this configuration; lease held by vm pid 2779, epoch 1,"
                     rf" expires {WHEN} \(in \d+ seconds\)$", out, re.M), out
    assert "helpdesk acme:" not in out
    assert status(path, as_json=True) == 0
    report = json.loads(capsys.readouterr().out)
    others = report["not_in_this_configuration"]
    assert set(others) == {"jira2", "jira3"}
    assert (others["jira2"]["pid"], others["jira2"]["live"]) == (2778, False)
    assert (others["jira3"]["pid"], others["jira3"]["live"]) == (2779, True)
