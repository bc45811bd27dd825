"""`tierlift demo`, the README's first command: the sandbox plus the real daemon, both flavours."""

from __future__ import annotations

import io
import re

import pytest

from tierlift.service.tools.demo import demo


@pytest.mark.parametrize(("flavor", "policy"), [("zendesk", "three-tier"), ("jira", "teamflow")])
def test_the_demo_shows_escalations_as_they_land_and_stops_cleanly(flavor, policy):
    out = io.StringIO()
    code = demo(flavor=flavor, policy=policy, seconds=8.0, out=out)
    text = out.getvalue()
    assert code == 0, text
    assert "the daemon stopped cleanly on SIGTERM (exit 0)" in text
    moves = int(re.search(r"tier changes written\s+(\d+)", text).group(1))
    assert moves >= 5, text
    assert "daemon said:" not in text, text  # no warning or error from the daemon
    writes = int(re.search(r"API requests\s+\d+ reads, (\d+) writes", text).group(1))
    assert writes >= moves
