"""A 404 on a write is no proof that the issue is gone, and `check` refuses a customer's account.

Jira answers 404 to an account that may read an issue but not edit or comment on it (a
portal-only customer: "not found or the user does not have permission"). QA (2026-12): with a
customer's credentials `check` said "credentials accepted"; `run --once` read SUP-1 (200), got
404 on PUT /issue/SUP-1, logged "issue SUP-1 was deleted; dropped from the index" and a P0 was
no longer tracked, silently. A write's 404 is now confirmed by a read: gone only when the read
says 404 too, else the ticket is quarantined (kept) saying the account cannot edit it.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
import requests

from tierlift.connectors.base import Secret
from tierlift.connectors.errors import TicketError, TicketGone
from tierlift.connectors.jira import JiraConnector, JiraSettings
from tierlift.engine.model import AddTags, InternalNote
from tierlift.sandbox import Sandbox
from tierlift.service.daemon.state import StateStore

from kit import cli, run_once, write_config

NOW = datetime(2026, 11, 2, 15, 0, tzinfo=UTC)
CUSTOMER = {"name": "Carla", "email": "carla@customer.example", "role": "end-user", "token": "tok-carla"}


@pytest.fixture
def sb():
    with Sandbox("jira", tickets=30, seed=7, now=NOW) as sb:
        assert requests.post(sb.url + "/_sandbox/users", json={"users": [CUSTOMER]}, timeout=10).status_code == 200
        yield sb


def connector(sb: Sandbox, email: str = "carla@customer.example", token: str = "tok-carla") -> JiraConnector:
    c = JiraConnector(JiraSettings("jira", sb.url, email, Secret(token), backoff=0.01, retry_attempts=2),
                      sleep=lambda s: None)
    c.open()
    return c


def test_a_write_refused_with_404_on_an_issue_that_reads_is_no_deletion(sb):
    c = connector(sb)
    ticket = c.fetch(["SUP-3"])["SUP-3"]  # the customer's account reads it
    labels = list(sb.store.issues["SUP-3"]["fields"]["labels"])
    with pytest.raises(TicketError, match="issue SUP-3: tierlift's account cannot edit it") as err:
        c.apply(ticket, [AddTags(("tier_l2",)), InternalNote("note")], "e1")
    assert not isinstance(err.value, TicketGone)
    assert sb.store.issues["SUP-3"]["fields"]["labels"] == labels
    c.close()


def test_a_write_whose_issue_is_deleted_meanwhile_is_still_gone(sb):
    c = connector(sb, "bot@example.com", "good-token")
    ticket = c.fetch(["SUP-3"])["SUP-3"]
    sb.control("POST", "delete_on_write", {"ids": ["SUP-3"]})
    with pytest.raises(TicketGone, match="issue SUP-3 was deleted"):
        c.apply(ticket, [AddTags(("tier_l2",))], "e1")
    c.close()


def customer_desk(sb: Sandbox) -> dict[str, object]:
    return {"name": "hd", "kind": "jira", "url": sb.url, "email": "carla@customer.example",
            "token": "${CARLA_TOKEN}", "policy": "three-tier", "project": "SUP", "first_sync": "full",
            "max_public_replies_per_cycle": 0, "retry_attempts": 2, "max_retry_wait": "2s"}


def test_run_once_with_a_customer_account_keeps_the_p0_quarantined_saying_why(sb, tmp_path):
    config = write_config(tmp_path, [customer_desk(sb)], clock_url=sb.url)
    proc = run_once(config, CARLA_TOKEN="tok-carla")
    assert "SUP-3" in proc.stderr and "p0" in sb.store.issues["SUP-3"]["fields"]["labels"]
    assert "was deleted" not in proc.stderr and "dropped from the index" not in proc.stderr
    assert "issue SUP-3: tierlift's account cannot edit it" in proc.stderr
    assert not [r for r in sb.requests_log() if r["write"] and r["status"] < 300]
    store = StateStore(tmp_path / "state.sqlite3")
    try:
        assert "SUP-3" in store.get("hd", ["SUP-3"])  # still tracked
        assert "SUP-3" in {q.ticket_id for q in store.quarantined("hd")}
    finally:
        store.close()


def line_of(config, text: str) -> int:
    return next(n for n, line in enumerate(config.read_text().splitlines(), 1) if text in line)


def test_check_refuses_a_customer_account_at_its_email(sb, tmp_path):
    config = write_config(tmp_path, [customer_desk(sb)])
    proc = cli("check", "--config", str(config), CARLA_TOKEN="tok-carla")
    assert proc.returncode == 2, proc.stdout + proc.stderr
    out = proc.stdout + proc.stderr
    line = line_of(config, '"email"')
    assert f"{config}:{line}: helpdesks[0].email: the account carla@customer.example is a" \
           " portal-only customer (accountType customer)" in out, out
    assert "credentials accepted" not in out
