"""`tierlift forget`: a customer's erasure request reaches what the state keeps of their tickets.

QA (a privacy auditor): the state keeps whole ticket snapshots (subjects, descriptions,
emails, phone numbers) and the notes tierlift wrote; the only way to erase one customer was
to delete the whole state. Judged from the state file's bytes, and from the helpdesk's record
(nothing is written twice after the forgetting)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import requests

from tierlift.sandbox import Sandbox

from kit import cli, run_once, write_config
from servicekit import helpdesk, marker_counts

NOW = datetime(2026, 11, 2, 15, 0, tzinfo=UTC)  # Monday 10:00 in New York
WORDS = "Zelda Quixotic +44 7700 900123"


def test_forgetting_a_requester_leaves_none_of_their_words_and_writes_nothing_twice(tmp_path):
    with Sandbox("zendesk", tickets=3, seed=4, now=NOW) as sb:
        sb.add_person({"name": "Zelda Quixotic", "email": "zelda@custpii.example", "role": "end-user", "token": "tok-z"})
        r = requests.post(f"{sb.url}/api/v2/requests.json", auth=("zelda@custpii.example/token", "tok-z"), timeout=10,
                          json={"request": {"subject": "Site down", "comment": {
                              "body": f"Our whole site is down for everyone since 9am. Call me: {WORDS}."}}})
        tid = str(r.json()["request"]["id"])
        config = write_config(tmp_path, [helpdesk("hd", sb)], clock_url=sb.url)
        sb.clock.advance(timedelta(minutes=2))
        assert run_once(config).returncode == 0
        state = tmp_path / "state.sqlite3"
        assert "tier_l3" in sb.data.tickets[int(tid)]["tags"], "the outage was escalated"
        assert b"Quixotic" in state.read_bytes() + _wal(state)
        done = cli("forget", "--config", str(config), "--helpdesk", "hd", "--requester", "ZELDA@custpii.example")
        assert done.returncode == 0, done.stderr
        assert f"1 indexed ticket(s) of that requester: {tid}" in done.stdout, done.stdout
        assert "forgot 1 ticket(s):" in done.stdout and "journal" in done.stdout and "index" in done.stdout, done.stdout
        assert b"Quixotic" not in state.read_bytes() + _wal(state)
        # The daemon meets the ticket again: it reads where it stands from tierlift's notes.
        sb.clock.advance(timedelta(minutes=30))
        assert run_once(config).returncode == 0
        assert all(n == 1 for n in marker_counts(sb).values()), marker_counts(sb)
    unknown = cli("forget", "--config", str(config), "--helpdesk", "nope", "1")
    assert unknown.returncode == 2 and "no helpdesk 'nope'" in unknown.stderr


def _wal(state) -> bytes:
    wal = state.with_name(state.name + "-wal")
    return wal.read_bytes() if wal.exists() else b""
