"""Log lines and notes say what happened (issue 23, item 6).

A refusal is logged as a refusal, a person's move as a recorded move, a
de-escalation note says "De-escalated"; a dry run does not say anything "was
written"; `run --once` promises no retry; a refused credential is not
"unreachable"; a connection that fails names the host and port it tried.
"""

from __future__ import annotations

import json
import logging
import re
import socket
from datetime import UTC, datetime
from types import SimpleNamespace

import pytest

from tierlift.engine import notes
from tierlift.engine.model import Decision, Ticket
from tierlift.sandbox import Sandbox
from tierlift.service.daemon.dryrun import reporter
from tierlift.service.ops.logs import OutageLog

from kit import cli, run_once, write_config
from servicekit import helpdesk

NOW = datetime(2026, 11, 2, 19, 0, tzinfo=UTC)  # Monday 14:00 in New York
DECISION = re.compile(r"^\S+ [A-Z]+ \S+ (.+?) helpdesk=hd ticket=\S+ tier=\S+ rule=(\S+) .*kind=(\S+)", re.M)


@pytest.fixture(scope="module")
def zendesk():
    with Sandbox("zendesk", tickets=40, seed=7, now=NOW) as sb:
        yield sb


def test_a_refusal_is_logged_as_a_refusal_and_a_dry_run_writes_nothing(zendesk, tmp_path):
    # The default go-live (first_sync: quiet) holds replies back on a first sync.
    config = write_config(tmp_path, [helpdesk("hd", zendesk, first_sync="quiet")], clock_url=zendesk.url)
    dry = run_once(config, "--dry-run")
    assert dry.returncode == 0, dry.stderr
    first_sync = [line for line in dry.stderr.splitlines() if "first sync helpdesk" in line]
    assert first_sync and "would be written" in first_sync[0] and "were written" not in first_sync[0]
    live = run_once(config)
    assert live.returncode == 0, live.stderr
    assert "were written" in live.stderr
    events = DECISION.findall(live.stderr)
    refused = [what for what, _, kind in events if kind == "refused"]
    assert refused and set(refused) == {"refused"}, live.stderr[-3000:]
    assert all(what.endswith("escalated") for what, _, kind in events if kind == "escalate")


def test_a_person_move_and_other_kinds_are_logged_in_their_own_words(caplog):
    report = reporter(SimpleNamespace(name="hd"), None, None, dry_run=False)  # type: ignore[arg-type]
    words = {}
    for kind in ("escalate", "de-escalate", "human-move", "refused", "frozen", "reminder"):
        caplog.clear()
        with caplog.at_level(logging.INFO, logger="tierlift"):
            report(Decision("7", 2, 1, (), (), None, rule=kind, kind=kind))
        (record,) = caplog.records
        words[kind] = record.getMessage().split(" helpdesk=")[0]
    assert words == {"escalate": "escalated", "de-escalate": "de-escalated", "human-move": "recorded human move",
                     "refused": "refused", "frozen": "frozen", "reminder": "reminded"}


def test_a_de_escalation_note_does_not_say_escalated():
    ticket = Ticket(id="7", subject="s", description="d", status="open", created_at=NOW, updated_at=NOW)
    note = notes.escalation_note(notes.NoteInput(
        ticket=ticket, policy_name="three-tier", tier_from=3, tier_to=1, tier_name="Frontline", team="l1",
        rule="resolved-workaround", reason="workaround applied", now=NOW, clocks=(), next_step=None,
        context={}, marker="[tierlift escalation=x]"))
    assert note.startswith("De-escalated L3 -> L1 (Frontline, team l1) by tierlift")
    up = notes.escalation_note(notes.NoteInput(
        ticket=ticket, policy_name="three-tier", tier_from=1, tier_to=2, tier_name="Tier 2", team="l2",
        rule="sla", reason="r", now=NOW, clocks=(), next_step=None, context={}, marker="m"))
    assert up.startswith("Escalated L1 -> L2")


def test_a_refused_credential_is_not_unreachable_and_once_promises_no_retry(zendesk, tmp_path):
    # agent@example.com is a known sandbox person: a wrong token is a 401.
    hd = helpdesk("hd", zendesk, email="agent@example.com", token="${WRONG_TOKEN}")
    proc = run_once(write_config(tmp_path, [hd], clock_url=zendesk.url), WRONG_TOKEN="not-the-agents-token")
    assert proc.returncode == 1
    assert "helpdesk=hd refused the credentials" in proc.stderr, proc.stderr[-2000:]
    assert "unreachable" not in proc.stderr and "will keep retrying" not in proc.stderr
    assert "not retried" in proc.stderr


def test_a_connection_error_names_host_and_port(tmp_path):
    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    hd = helpdesk("hd", SimpleNamespace(flavor="zendesk", url=f"http://127.0.0.1:{port}"))
    proc = run_once(write_config(tmp_path, [hd]))
    assert proc.returncode == 1
    assert f"helpdesk=hd unreachable: connection to 127.0.0.1:{port} failed" in proc.stderr, proc.stderr[-2000:]
    assert "will keep retrying" not in proc.stderr


def test_plan_under_a_quiet_first_sync_says_what_it_holds_back(tmp_path):
    with Sandbox("zendesk", tickets=40, seed=7, now=NOW) as sb:
        config = write_config(tmp_path, [helpdesk("hd", sb, first_sync="quiet", max_public_replies_per_cycle=0)],
                              clock_url=sb.url)
        _plan_says_what_it_holds_back(config)


def _plan_says_what_it_holds_back(config) -> None:
    text = cli("plan", "--config", str(config))
    assert text.returncode == 0, text.stderr
    held = re.findall(r"^    ticket (\S+): (.+)$", text.stdout.split("held back (", 1)[-1], re.M)
    # An escalation holds back its customer reply; a triage review (nothing moved) only its
    # message to the pack's triage channel (three-tier: slack_channel).
    assert held and all("customer reply (first_sync: quiet)" in what or what.startswith("notification to slack_channel")
                        for _, what in held), text.stdout[-3000:]
    assert any("customer reply (first_sync: quiet)" in what for _, what in held)
    assert any("notification to " in what for _, what in held)
    rows = [json.loads(line) for line in cli("plan", "--config", str(config), "--json").stdout.splitlines()]
    with_reply = [r for r in rows if not r.get("summary") and r["held_back"]]
    assert {r["ticket"] for r in with_reply} == {t for t, _ in held}
    assert all(not any(a["type"] == "public_reply" for a in r["actions"]) for r in with_reply)
    assert rows[-1]["helpdesks"]["hd"]["held_back"]


def test_an_outage_is_logged_once_per_cause(caplog):
    outage = OutageLog(logging.getLogger("tierlift.test"), clock=lambda: 0.0)
    with caplog.at_level(logging.WARNING, logger="tierlift"):
        outage.failed("hd", "HTTP 401", "auth")
        outage.failed("hd", "HTTP 401", "auth")
        outage.failed("hd", "HTTP 503")  # the credentials were fixed, then the helpdesk went down
        outage.failed("hd", "HTTP 503")
        outage.recovered("hd")
    lines = [r.getMessage() for r in caplog.records]
    assert [line.split(":")[0] for line in lines] == [
        "helpdesk=hd refused the credentials", "helpdesk=hd unreachable", "helpdesk=hd answering again down_seconds=0"]
