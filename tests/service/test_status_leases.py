"""`tierlift status` on a PostgreSQL state: each lease to the second, live or not, and the
helpdesks leased in the shared state that this configuration does not list.

QA on replicas: a helpdesk only one replica's configuration listed went unserved when that
replica died, and `status --config <another replica's config>` did not mention it; and a
lease's expiry printed to the minute ("expires 11:41 UTC (now)") read the same for a live
15 s lease as for a dead holder's.
"""

from __future__ import annotations

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
