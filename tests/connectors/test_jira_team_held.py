"""A team `check` found no move may be written to is held back, as the daemon's log says.

QA (a JSM admin): with `team_field: customfield_10050` (the Plan field, not on the edit
screen), the daemon logged "team not mapped: ... escalations to it are quarantined until the
mapping is fixed", then escalated SUP-1 L1 -> L3 anyway: the customer's Plan value was
overwritten with 'engineering-oncall', and the note and the customer reply were posted.
"""

from __future__ import annotations

from datetime import UTC, datetime

from tierlift.sandbox import Sandbox
from tierlift.service.daemon.state import StateStore

from kit import helpdesk, run_once, write_config

NOW = datetime(2026, 11, 2, 15, 0, tzinfo=UTC)


def test_a_team_field_tierlift_cannot_set_holds_every_move_and_writes_nothing(tmp_path):
    with Sandbox("jira", tickets=30, seed=7, now=NOW) as sb:
        plans = {k: i["fields"].get("customfield_10050") for k, i in sb.store.issues.items()}
        config = write_config(tmp_path, [helpdesk(sb, team_field="customfield_10050")], clock_url=sb.url)
        proc = run_once(config)
        assert "team not mapped" in proc.stderr and "customfield_10050 is not on the edit screen" in proc.stderr
        # The helpdesk's record: no issue's Plan changed, and no issue moved (no escalation note,
        # no customer notice); notes that move nothing (a triage question, a refusal) still go.
        assert {k: i["fields"].get("customfield_10050") for k, i in sb.store.issues.items()} == plans
        bodies = [c["body"] for i in sb.store.issues.values() for c in i["fields"]["comment"]["comments"]
                  if c["author"]["accountId"] == sb.store.bot["accountId"]]
        assert bodies and not [b for b in bodies if b.startswith("Escalated") or "has been escalated" in b], bodies
        assert " escalated helpdesk=hd" not in proc.stderr
        held = [line for line in proc.stderr.splitlines() if "not moved to" in line]
        assert held and all("customfield_10050 is not on the edit screen" in line for line in held), held
        store = StateStore(tmp_path / "state.sqlite3")
        try:
            quarantined = {q.ticket_id for q in store.quarantined("hd")}
        finally:
            store.close()
        assert "SUP-3" in quarantined  # the P0 waits for the mapping, kept, not dropped


def test_with_a_team_field_a_move_sets_the_field_and_no_assignee_of_the_teams_name(tmp_path):
    # QA: with `team_field`, the edit also set `assignee` to the user whose display name is the
    # team (acc-engineering-oncall), where CONFIGURATION.md says assignees are the mapping
    # *without* a team field: the issue left whoever was working on it.
    with Sandbox("jira", tickets=30, seed=7, now=NOW) as sb:
        before = {k: (i["fields"].get("assignee") or {}).get("accountId") for k, i in sb.store.issues.items()}
        config = write_config(tmp_path, [helpdesk(sb, team_field="customfield_10056")], clock_url=sb.url)
        proc = run_once(config)
        assert proc.returncode == 0, proc.stderr[-2000:]
        moved = {k for k, i in sb.store.issues.items() if i["fields"].get("customfield_10056")}
        assert "SUP-3" in moved  # the P0, at L3's team
        after = {k: (i["fields"].get("assignee") or {}).get("accountId") for k, i in sb.store.issues.items()}
        assert after == before
