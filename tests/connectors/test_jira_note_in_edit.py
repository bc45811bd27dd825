"""Jira with note_in_edit: the internal note rides in the issue edit, one request per escalation.

Against the sandbox, which applies `update.comment` adds with their
properties as the API reference describes; whether a live JSM site keeps the
note internal on this path is not verified (hence the option is off by
default, see the connector's docstring).
"""

from __future__ import annotations

from datetime import UTC, datetime

from tierlift.connectors.base import Secret
from tierlift.connectors.jira import JiraConnector, JiraSettings
from tierlift.engine.marker import format_marker
from tierlift.engine.model import AddTags, InternalNote, PublicReply, Reassign
from tierlift.sandbox import Sandbox

NOW = datetime(2026, 11, 2, 19, 0, tzinfo=UTC)


def escalation(esc_id: str, reply: bool = False):
    actions = [Reassign("support-specialists"), AddTags(("tier_l2",)),
               InternalNote("Escalated in one edit\n" + format_marker(esc_id, 1, 2, "edit", NOW))]
    return actions + ([PublicReply("Your request moved to our specialists.")] if reply else [])


def test_the_note_lands_internal_with_the_labels_in_one_write_and_the_reply_in_a_second():
    with Sandbox("jira", tickets=10, seed=3, now=NOW) as sb:
        c = JiraConnector(JiraSettings("jira", sb.url, "bot@example.com", Secret("t"), note_in_edit=True))
        c.open()
        t = next(t for p in c.changes(None) for t in p.tickets if not t.is_closed)
        sb.reset_log()
        assert c.apply(t, escalation("abcabcabcabc"), "abcabcabcabc").writes == 1
        assert [(r["method"], r["path"]) for r in sb.requests_log() if r["write"]] == \
            [("PUT", f"/rest/api/2/issue/{t.id}")]
        issue = sb.store.issues[t.id]
        notes = [x for x in issue["fields"]["comment"]["comments"] if "one edit" in x["body"]]
        assert len(notes) == 1 and notes[0]["jsdPublic"] is False
        assert "tier_l2" in issue["fields"]["labels"] and c.find_marker(t.id, "abcabcabcabc")

        other = next(x for p in c.changes(None) for x in p.tickets if not x.is_closed and x.id != t.id)
        sb.reset_log()
        assert c.apply(other, escalation("defdefdefdef", reply=True), "defdefdefdef").writes == 2
        comments = sb.store.issues[other.id]["fields"]["comment"]["comments"]
        assert [x["jsdPublic"] for x in comments if x["author"]["accountId"] == "acc-tierlift-bot"] == [False, True]
        c.close()
