"""A retry's backoff is told: logged as it starts and counted in /metrics.

A helpdesk that fails a request and recovers within the retries used to be seen only
in the requests' statuses: the daemon waited, silently, and went on. An operator
asking "is tierlift stalled or waiting on the helpdesk?" reads the same answer here as
for a budget's wait or a Retry-After (test_budget.py).
"""

from __future__ import annotations

import re

from test_budget import metric

from tierlift.sandbox import Sandbox

from kit import Daemon, free_port, write_config
from reliakit import NOW, add_backlog, helpdesk


def test_a_retry_after_a_503_is_logged_and_counted_and_the_cycle_goes_on(tmp_path):
    with Sandbox("zendesk", tickets=0, now=NOW) as sb:
        add_backlog(sb, 5, seed=3)
        sb.faults.script(["503", "503"])  # the daemon's first two requests fail
        port = free_port()
        config = write_config(tmp_path, [helpdesk(sb)], clock_url=sb.url, http={"listen": f"127.0.0.1:{port}"})
        d = Daemon(config, tmp_path / "daemon.log")
        try:
            assert d.wait_for("escalated helpdesk=hd", timeout=60), d.output()[-3000:]
            lines = [ln for ln in d.output().splitlines() if "retrying helpdesk=hd" in ln]
            assert len(lines) == 2, d.output()[-3000:]
            assert re.search(r"seconds=[\d.]+ why=.*attempt 1 of 3: GET /api/v2/\S+: HTTP 503", lines[0]), lines[0]
            assert "attempt 2 of 3" in lines[1], lines[1]
            assert metric(port, "tierlift_retry_waits_total") == 2
            assert metric(port, "tierlift_retry_wait_seconds_total") > 0
            assert metric(port, "tierlift_rate_limit_waits_total") == 0, "a backoff is not a rate limit's wait"
        finally:
            code, _ = d.terminate(timeout=30)
        assert code == 0, d.output()[-3000:]
        assert sb.faults.injected["503"] == 2
