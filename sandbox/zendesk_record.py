"""Zendesk: the record a change leaves (comments, audits, ticket metric events, the metric set).

Every method runs under ZendeskState's lock (its callers take it).

Invariants:
- every change made through the API is one audit authored by the caller
  (`author_id`), `via` api unless the caller says otherwise (a rule, a web form);
- an audit's Comment event and the comment itself carry the same author, body
  and publicity;
- ticket metric events follow the audits: reply_time is fulfilled by the first
  public comment after creation by an agent (the comment's author) that is
  neither tierlift's own account nor a rule
  (Zendesk's first reply time leaves out bot and automated actions), and the
  metric set's reply_time_in_minutes says the same.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from tierlift.sandbox.store import iso
from tierlift.sandbox.zendesk_state import ZendeskState

API_VIA = {"channel": "api", "source": {"from": {}, "to": {}, "rel": None}}
PAUSED = ("pending", "hold")


def _lower(values: Any) -> set[str]:
    return {str(x).lower() for x in values}


class ZendeskRecord(ZendeskState):
    # --- changes ------------------------------------------------------------------------
    def _apply_changes(self, t: dict[str, Any], body: dict[str, Any]) -> list[dict[str, Any]]:
        """Apply a ticket body's field and tag changes; the audit's Change events."""
        events = []
        for key in ("group_id", "assignee_id", "priority", "status", "subject"):  # an agent may rename a ticket
            if key in body and body[key] != t.get(key):
                events.append({"type": "Change", "field_name": key, "value": body[key], "previous_value": t.get(key)})
                t[key] = body[key]
        before = sorted(t["tags"])
        self._change_tags(t, body)
        if sorted(t["tags"]) != before:
            events.append({"type": "Change", "field_name": "tags", "value": list(t["tags"]), "previous_value": before})
        for cf in body.get("custom_fields", ()):
            for existing in t["custom_fields"]:
                if existing["id"] == cf.get("id"):
                    existing["value"] = cf.get("value")
        return events

    @staticmethod
    def _change_tags(t: dict[str, Any], body: dict[str, Any]) -> None:
        """tags (the whole set), then additional_tags and remove_tags, as one ticket update applies them."""
        if "tags" in body:
            t["tags"] = sorted(_lower(body["tags"]))
        if "additional_tags" in body:
            t["tags"] = sorted(set(t["tags"]) | _lower(body["additional_tags"]))
        if "remove_tags" in body:
            t["tags"] = sorted(set(t["tags"]) - _lower(body["remove_tags"]))

    # --- the record -------------------------------------------------------------------
    def _add_comment(self, tid: int, author: int, body: str, public: bool, now: datetime) -> dict[str, Any]:
        """Append a comment; its audit event (the caller makes the audit)."""
        c = self._comment(tid, author, body, public, now)
        self.comments[tid].append(c)
        return {"type": "Comment", "id": c["id"], "author_id": author, "body": c["body"], "html_body": c["html_body"],
                "plain_body": c["plain_body"], "public": public, "attachments": [], "audit_id": c["audit_id"]}

    def _audit(self, tid: int, author: int, events: list[dict[str, Any]], now: datetime,
               via: dict[str, Any] | None = None) -> dict[str, Any]:
        audit = {"id": tid * 1000 + len(self.audits[tid]) + 1, "ticket_id": tid, "created_at": iso(now),
                 "author_id": author, "metadata": {"system": {}, "custom": {}}, "via": via or API_VIA,
                 "events": [dict(e, id=i + 1) for i, e in enumerate(events)]}
        self.audits[tid].append(audit)
        self.audit_log.append(audit)
        self._measure(tid, author, audit, now)
        return audit

    # --- metrics ------------------------------------------------------------------------
    def _counts_as_reply(self, author: int, via: dict[str, Any]) -> bool:
        person = self.people.get(author)
        return (person is not None and person.is_agent and person is not self.people.bot
                and via.get("channel") != "rule")

    def _metric(self, tid: int, metric: str, kind: str, now: datetime, instance: int = 1) -> None:
        self.metric_events.append({"id": len(self.metric_events) + 1, "ticket_id": tid, "metric": metric,
                                   "instance_id": instance, "type": kind, "time": iso(now)})

    def _measure(self, tid: int, author: int, audit: dict[str, Any], now: datetime) -> None:
        """Metric events and the metric set after an audit."""
        m = self.metrics.get(tid)
        # The ticket's first comment (its description) is no reply, whoever submitted it: first
        # reply time ends at the first public agent comment *after* creation (api-facts.md).
        creating = any(e["type"] == "Create" for e in audit["events"])
        for e in audit["events"]:
            if e["type"] == "Create" and e.get("field_name") == "status":
                for metric in ("reply_time", "agent_work_time", "requester_wait_time", "resolution_time"):
                    self._metric(tid, metric, "activate", now)
            elif e["type"] == "Comment" and m is not None:
                # A reply is the comment author's (an agent posting a customer's mail on their
                # behalf replies to no one); the requester's update is the audit's author's.
                by = e.get("author_id", author)
                reply = e["public"] and not creating and self._counts_as_reply(by, audit["via"])
                self._measure_comment(tid, author, reply, m, now)
            elif e["type"] == "Change" and m is not None:
                self._measure_change(tid, e, m, now)

    def _measure_comment(self, tid: int, author: int, reply: bool, m: dict[str, Any], now: datetime) -> None:
        """A comment: the latest comment time; an agent's public reply (the first fulfils reply_time);
        a requester's comment moves requester_updated_at."""
        at = iso(now)
        m["latest_comment_added_at"] = at
        if reply:
            m["replies"] += 1
            if m["reply_time_in_minutes"]["calendar"] is None:
                created = datetime.fromisoformat(m["created_at"].replace("Z", "+00:00"))
                minutes = int((now - created).total_seconds() // 60)
                m["reply_time_in_minutes"] = {"calendar": minutes, "business": minutes}
                self._metric(tid, "reply_time", "fulfill", now)
        person = self.people.get(author)
        if person is not None and not person.is_agent:
            m["requester_updated_at"] = at

    def _measure_change(self, tid: int, e: dict[str, Any], m: dict[str, Any], now: datetime) -> None:
        at = iso(now)
        field = e.get("field_name")
        if field == "group_id":
            m["group_stations"] = (m.get("group_stations") or 0) + 1
        elif field == "assignee_id":
            m["assignee_stations"] = (m.get("assignee_stations") or 0) + 1
            m["assignee_updated_at"] = at
            m["initially_assigned_at"] = m.get("initially_assigned_at") or at
            m["assigned_at"] = at
        elif field == "status":
            self._measure_status(tid, e.get("value"), e.get("previous_value"), m, now)

    def _measure_status(self, tid: int, value: Any, before: Any, m: dict[str, Any], now: datetime) -> None:
        at = iso(now)
        m["status_updated_at"] = at
        if value in PAUSED and before not in PAUSED:
            self._metric(tid, "agent_work_time", "pause", now)
        elif before in PAUSED and value in ("new", "open"):
            self._metric(tid, "agent_work_time", "activate", now)
        if value == "solved":
            m["solved_at"] = at
            self._metric(tid, "resolution_time", "fulfill", now)
        elif before in ("solved", "closed") and value not in ("solved", "closed"):
            m["reopens"] = (m.get("reopens") or 0) + 1
            m["solved_at"] = None
            self._metric(tid, "resolution_time", "activate", now, instance=1 + m["reopens"])
