"""Which label `tierlift triage learn` takes from a closed ticket's record, judged from what learn
prints, on tickets the real daemon escalated in the Zendesk sandbox (teamflow).

QA (a support team on teamflow): a refund tierlift escalated after an earlier review had been
dismissed, and a legal threat that reached the CEO before an agent tagged it dismissed, were
both taught as "none"; and every escalation by a rule of two categories (security-incident:
security and data loss; legal-compliance: legal and GDPR) was left out without a word.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import requests

from tierlift.engine.model import Comment, Ticket
from tierlift.sandbox import Sandbox
from tierlift.service.daemon.policies import load_policy
from tierlift.service.tools.triage_learn import TWO_CATEGORIES, labelled, rule_categories

from kit import cli, helpdesk, run_once, write_config

NOW = datetime(2026, 11, 2, 15, 0, tzinfo=UTC)
BOT = ("bot@example.com/token", "sandbox-token-7f3e2a91")
AGENT = ("ana@floor.example/token", "tok-ana")
CUSTOMER = ("carla@customer.example/token", "tok-carla")
LEGAL = ("Dear Custodian of Records, attached please find a subpoena duces tecum issued by the District "
         "Court of Travis County in the matter of Hollis v. Reyes Contracting LLC. Our attorneys will file "
         "for legal action if the records are not produced within ten days.")
SECURITY = ("Good morning, I just got three 'new sign-in' alerts for our admin account from an IP in Bucharest. "
            "Nobody here has been to Romania. When I logged in the payout bank account had been changed to one "
            "I don't recognise. Someone broke into our account and is stealing our money.")
REFUND = ("Our annual renewal went through twice on 11 March, once on the company Amex and once on the backup "
          "Visa. Both charges are for $4,788.00. We want a refund of one of them, $4,788, as soon as possible.")


def zendesk(sb: Sandbox, method: str, path: str, auth: tuple[str, str] = BOT, **kw: Any) -> Any:
    r = requests.request(method, sb.url + path, auth=auth, timeout=10, **kw)
    assert r.status_code in (200, 201), r.text
    return r.json()


def labels(out: str) -> dict[str, int]:
    """The per-label counts of learn's first line: "... 153 labelled closed tickets (none 54, ...)"."""
    found = re.search(r"labelled closed tickets \(([^)]*)\)", out)
    assert found, out
    return {k: int(n) for k, n in (part.rsplit(" ", 1) for part in found.group(1).split(", "))}


def learn(config: Path) -> str:
    r = cli("triage", "learn", "--config", str(config), "--since", "200d")
    assert r.returncode == 0, r.stderr
    return r.stdout


def test_escalations_are_taught_as_their_category_whatever_review_was_dismissed(tmp_path: Path):
    with Sandbox("zendesk", tickets=0, history=150, now=NOW) as sb:
        sb.add_person({"name": "Ana L1", "email": "ana@floor.example", "role": "agent", "token": "tok-ana",
                       "team": "support-generalists"})
        sb.add_person({"name": "Carla", "email": "carla@customer.example", "role": "end-user", "token": "tok-carla"})
        config = write_config(tmp_path, [helpdesk(sb, policy="teamflow")], clock_url=sb.url)
        before = labels(learn(config))
        ids = {}
        for name, text in (("legal", LEGAL), ("security", SECURITY), ("refund", REFUND)):
            ids[name] = zendesk(sb, "POST", "/api/v2/requests.json", CUSTOMER,
                                json={"request": {"subject": f"About our account ({name})",
                                                  "comment": {"body": text}}})["request"]["id"]
        sb.clock.advance(timedelta(minutes=2))
        done = run_once(config)
        assert done.returncode == 0, done.stderr
        for name, tid in ids.items():
            ticket = zendesk(sb, "GET", f"/api/v2/tickets/{tid}.json")["ticket"]
            assert not {"tier_l1"} & set(ticket["tags"]), (name, ticket["tags"])  # tierlift escalated each
            # An agent dismisses a review (the legal threat: after it reached the CEO; the
            # refund: as a review of earlier words left it) and solves the ticket.
            tags = sorted({*ticket["tags"], "triage_dismissed"} if name != "security" else ticket["tags"])
            zendesk(sb, "PUT", f"/api/v2/tickets/{tid}.json", AGENT,
                    json={"ticket": {"tags": tags, "status": "solved"}})
        sb.clock.advance(timedelta(minutes=2))
        after_out = learn(config)
        after = labels(after_out)
        grew = {k: after.get(k, 0) - before.get(k, 0) for k in {*before, *after}}
        assert {k: n for k, n in grew.items() if n} == {"legal": 1, "security": 1, "refund": 1}, after_out
        assert "left out" not in after_out


def _escalated(rule: str, note: str, tags: set[str], *, down: bool = False) -> Ticket:
    marker = f"[tierlift escalation=abcdef123456 from=1 to=4 rule={rule} at=2026-11-01T10:00:00Z]"
    comments = [Comment("tierlift", f"{note}\n\n{marker}", False, NOW - timedelta(days=1))]
    if down:
        comments.append(Comment("tierlift", "[tierlift escalation=fedcba654321 from=4 to=1 rule=human-move "
                                "at=2026-11-01T12:00:00Z by=ana human]", False, NOW - timedelta(hours=20)))
    return Ticket("9", "Hello", "Please call me back about the thing we discussed.", "solved", NOW - timedelta(days=2),
                  NOW, tags=frozenset(tags), comments=tuple(comments))


def test_a_rule_of_two_categories_is_labelled_by_what_its_note_read_or_left_out_saying_why():
    policy = load_policy("teamflow")
    rules = rule_categories(policy)
    assert set(rules["legal-compliance"]) == {"legal", "gdpr_erasure"}
    read = "Escalated L1 -> L4 by tierlift: Legal (triage: gdpr_erasure 0.91 (shipped): \"erase\" -- words: erase)"
    assert labelled(_escalated("legal-compliance", read, {"tier_l4"}), policy, rules) == ("gdpr_erasure", "")
    # A bland text the note does not read: nothing says which of the two it was.
    assert labelled(_escalated("legal-compliance", "Escalated", {"tier_l4"}), policy, rules) == (None, TWO_CATEGORIES)
    # Moved back down by a person, then dismissed: the escalation was not what the ticket was.
    assert labelled(_escalated("legal-compliance", read, {"tier_l1", "triage_dismissed"}, down=True),
                    policy, rules) == ("none", "")
