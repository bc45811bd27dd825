"""Note and condition fields read from where the helpdesk keeps them (issue 16 item 5).

`fields:` maps a name (plan, arr, health_score, primary_contact, or any other name
a policy's conditions or notes use) to a ticket field, an organization field or
the requester's user field, by id, key or title:

    fields:
      plan: organization.Plan            # Zendesk organization field, by title or key
      health_score: user.health          # the requester's user field (Zendesk)
      refund_amount: ticket.Refund amount
      severity: 360000000102             # a ticket field id, as before

`tierlift check` proves every name exists on the helpdesk (exit 2 otherwise).
Jira keeps customer data in issue fields: ticket fields by id or name there.
"""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, datetime

import pytest
import yaml

from tierlift.connectors.base import Secret
from tierlift.connectors.jira import JiraConnector, JiraSettings
from tierlift.connectors.zendesk import ZendeskConnector, ZendeskSettings
from tierlift.sandbox import Sandbox

NOW = datetime(2026, 11, 2, 19, 0, tzinfo=UTC)


def zendesk(sb: Sandbox, fields: dict) -> ZendeskConnector:
    c = ZendeskConnector(ZendeskSettings("zd", sb.url, "bot@example.com", Secret("t0k3n"), fields=fields))
    c.open()
    return c


def test_zendesk_fields_come_from_organization_user_and_ticket_fields_by_name():
    with Sandbox("zendesk", tickets=30, seed=3, now=NOW) as sb:
        first = zendesk(sb, {})
        tickets = [t for p in first.changes(None) for t in p.tickets if t.organization is not None]
        first.close()
        t0 = tickets[0]
        requester = t0.fields["requester_id"]
        with sb.store.lock:
            sb.store.users[requester]["user_fields"] = {"health": 12, "vip": "gold"}
            raw_org = sb.store.orgs[int(t0.organization.id)]
        c = zendesk(sb, {"plan": "organization.Plan", "arr": "organization.arr", "health_score": "user.health",
                         "csm": "organization.Primary contact", "vip": "user.vip",
                         "refund": "ticket.refund_amount"})
        assert c.check_fields() == []
        got = {t.id: t for p in c.changes(None) for t in p.tickets}[t0.id]
        fields = raw_org["organization_fields"]
        assert got.organization.plan == str(fields["plan"]).lower()
        assert got.organization.arr == float(fields["arr"])
        assert got.organization.health_score == 12.0  # from the requester, not the organization
        assert got.custom_fields["csm"] == fields["primary_contact"] and got.custom_fields["vip"] == "gold"
        assert "refund" in got.custom_fields
        c.close()


def test_zendesk_names_that_do_not_exist_are_listed():
    with Sandbox("zendesk", tickets=5, seed=3, now=NOW) as sb:
        c = zendesk(sb, {"plan": "organization.tier", "vip": "user.vip_level", "refund": "ticket.Refund"})
        assert c.check_fields() == ["field 'plan': the helpdesk has no organization field 'tier'",
                                    "field 'vip': the helpdesk has no user field 'vip_level'",
                                    "field 'refund': the helpdesk has no ticket field 'Refund'"]
        c.close()


def test_jira_fields_by_name_or_id_and_no_organization_fields():
    with Sandbox("jira", tickets=10, seed=3, now=NOW) as sb:
        c = JiraConnector(JiraSettings("j", sb.url, "bot@example.com", Secret("t0k3n"), fields={
            "plan": "ticket.Plan", "arr": "customfield_10051", "csm": "Primary contact",
            "tier": "organization.tier", "nope": "ticket.Nope"}))
        c.open()
        assert c.check_fields() == [
            "field 'tier': Jira has no organization fields; name the issue field that holds it"
            " (ticket.NAME or its id, e.g. customfield_10050)",
            "field 'nope': the helpdesk has no issue field 'Nope'"]
        tickets = [t for p in c.changes(None) for t in p.tickets]
        with_org = [t for t in tickets if t.organization is not None]
        assert with_org and all(t.organization.plan for t in with_org)
        issue = sb.store.issues[with_org[0].id]["fields"]
        assert with_org[0].custom_fields["csm"] == issue["customfield_10055"]
        c.close()


def _check(tmp_path, sb: Sandbox, fields: dict) -> subprocess.CompletedProcess:
    cfg = {"state": {"path": str(tmp_path / "state.sqlite3")}, "poll_interval": "1s",
           "channels": {c: {"kind": "log"} for c in ("pagerduty", "slack_oncall", "slack_channel", "security-alerts",
                                                      "outage-response", "support-escalation", "customer-success")},
           "helpdesks": [{"name": "hd", "kind": "zendesk", "url": sb.url, "email": "bot@example.com",
                          "token": "${SANDBOX_TOKEN}", "policy": "three-tier", "fields": fields}]}
    path = tmp_path / "tierlift.yaml"
    path.write_text(yaml.safe_dump(cfg, sort_keys=False))
    return subprocess.run([sys.executable, "-m", "tierlift.service.cli", "check", "--config", str(path)],
                          capture_output=True, text=True, timeout=120, env={**os.environ, "SANDBOX_TOKEN": "t0k3n"})


@pytest.mark.parametrize("fields, code, says", [
    ({"plan": "organization.Plan", "refund_amount": "ticket.refund_amount"}, 0, "credentials accepted"),
    ({"plan": "organization.tier"}, 2, "helpdesks[0].fields: field 'plan': the helpdesk has no organization field 'tier'"),
    ({"plan": "org.plan"}, 2, "helpdesks[0].fields.plan: expected a field id or SOURCE.NAME"),
])
def test_check_proves_the_field_names_exist(tmp_path, fields, code, says):
    with Sandbox("zendesk", tickets=5, seed=3, now=NOW) as sb:
        proc = _check(tmp_path, sb, fields)
    assert proc.returncode == code, proc.stdout + proc.stderr
    assert says in proc.stdout + proc.stderr
    assert "Traceback" not in proc.stderr
    if code == 2:
        assert f"{tmp_path / 'tierlift.yaml'}:" in proc.stdout + proc.stderr  # FILE:LINE: key
