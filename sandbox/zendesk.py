"""The Zendesk flavour: the parts of the Support API tierlift and zenpy use.

The data is split by responsibility, one mixin per module, all on one object:
zendesk_state.py (what the helpdesk holds, the export index), zendesk_rows.py
(API records of generator rows), zendesk_record.py (audits and metrics),
zendesk_reads.py (export, side-loads, search), zendesk_work.py (creating
tickets, requests, rules, the audit and event exports), and this module (ticket
updates, tags, churn, and the route tables).

Behaviours that matter:
- a ticket update with safe_update answers 409 when updated_stamp is stale;
- every change appends to the ticket's comments and audits and moves
  updated_at / generated_timestamp forward (strictly, even on a frozen clock);
- a 404 for a path no table routes is InvalidEndpoint, as Zendesk answers.

Speed (so that benchmarks with 100,000 tickets measure tierlift, not this):
seeded tickets stay generator rows until first written, the export is a bisect
in a sorted index, search keeps its ids until the next change (see the modules).
"""

from __future__ import annotations

import random
from typing import Any

from tierlift.sandbox.router import Call, Response, Router
from tierlift.sandbox.store import iso
from tierlift.sandbox.users import Person
from tierlift.sandbox.zendesk_reads import READ_ROUTES, ZendeskReads
from tierlift.sandbox.zendesk_rows import REQUESTER
from tierlift.sandbox.zendesk_state import OPEN
from tierlift.sandbox.zendesk_work import ZendeskWork, forbidden, web_via

__all__ = ["CHURN_TEXT", "OPEN", "REQUESTER", "ZendeskData"]
CHURN_TEXT = "Any news on this? We are still affected."
PRIORITIES = (None, "low", "normal", "high", "urgent")


def _err(status: int, error: str, description: str = "") -> Response:
    return status, {"error": error, "description": description or error}, {}


def _update_items(query: dict[str, str], payload: Any) -> list[tuple[Any, dict[str, Any]]] | None:
    """update_many's (id, PUT body) pairs: {"tickets": [{"id", ...}]}, or ?ids= with one {"ticket"}."""
    if isinstance(payload, dict) and isinstance(payload.get("tickets"), list):
        return [(t.get("id"), {"ticket": {k: v for k, v in t.items() if k != "id"}})
                for t in payload["tickets"] if isinstance(t, dict)]
    if isinstance(payload, dict) and isinstance(payload.get("ticket"), dict) and query.get("ids"):
        return [(int(i), payload) for i in query["ids"].split(",") if i.strip().isdigit()]
    return None


def _job_result(tid: Any, status: int, out: dict[str, Any]) -> dict[str, Any]:
    ok = status == 200
    return {"id": tid, "action": "update", "success": ok, "status": "Updated" if ok else "Failed",
            **({} if ok else {"errors": str(out.get("description") or out.get("error"))})}


class ZendeskData(ZendeskWork, ZendeskReads):
    def update(self, tid: int, payload: Any, caller: Person | None = None) -> Response:
        """PUT /tickets/{id}: changes and a comment, authored by the caller (one audit)."""
        caller = caller or self.people.bot
        with self.lock:
            t = self.tickets.get(tid)
            refused = self._refuse_update(tid, t, payload, caller)
            if refused is not None or t is None:
                return refused or _err(404, "RecordNotFound", "Not found")
            body = payload["ticket"]
            events = self._apply_changes(t, body)
            now = self._touch(t)
            comment = body.get("comment")
            if isinstance(comment, dict) and (comment.get("body") or comment.get("html_body")):
                author: int = comment["author_id"] if isinstance(comment.get("author_id"), int) else caller.uid
                text: Any = comment.get("body") or comment.get("html_body")
                events.insert(0, self._add_comment(tid, author, text, bool(comment.get("public", True)), now))
            audit = self._audit(tid, caller.uid, events, now)
            return 200, {"ticket": dict(t), "audit": audit}, {}

    def _refuse_update(self, tid: int, t: dict[str, Any] | None, payload: Any, caller: Person) -> Response | None:
        """Why a ticket update is refused, in the order Zendesk checks (None: go ahead)."""
        if t is None or tid in self.deleted:
            return _err(404, "RecordNotFound", "Not found")
        if not caller.is_agent:
            return forbidden()
        if not isinstance(payload, dict) or not isinstance(payload.get("ticket"), dict):
            return _err(400, "InvalidValue", "expected {\"ticket\": {...}}")
        body = payload["ticket"]
        if body.get("safe_update") and "updated_stamp" in body and body["updated_stamp"] != t["updated_at"]:
            return 409, {"error": "UpdateConflict",
                         "description": "Safe Update prevented the update due to outdated ticket data. Please fetch the latest ticket data and try again."}, {}
        if body.get("priority", t["priority"]) not in PRIORITIES:
            return 422, {"error": "RecordInvalid", "description": "Record validation errors",
                         "details": {"priority": [{"description": "Priority: is not valid"}]}}, {}
        return None

    def update_many(self, query: dict[str, str], payload: Any, caller: Person | None = None) -> Response:
        """PUT /tickets/update_many: {"tickets": [{"id", ...}]} (each its own change) or
        ?ids=1,2 with {"ticket": {...}} (one change for all), up to 100 tickets.
        Applied at once; reported as Zendesk does, through a job status. Agents only."""
        if caller is not None and not caller.is_agent:
            return forbidden()
        items = _update_items(query, payload)
        if items is None:
            return _err(400, "InvalidValue", "expected {\"tickets\": [...]} or ?ids= with {\"ticket\": {...}}")
        if len(items) > 100:
            return _err(400, "TooManyValues", "update_many takes at most 100 tickets")
        results = []
        for tid, body in items:
            status, out, _ = self.update(tid, body, caller) if isinstance(tid, int) else (404, {}, {})
            results.append(_job_result(tid, status, out))
        with self.lock:
            jid = f"V3-sandbox{len(self.jobs) + 1:08d}"
            self.jobs[jid] = {"id": jid, "url": f"{self.base_url}/api/v2/job_statuses/{jid}.json",
                              "total": len(items), "progress": len(items), "status": "completed", "message": "Completed",
                              "results": results}
            return 200, {"job_status": {**self.jobs[jid], "status": "queued", "progress": None, "message": None,
                                        "results": None}}, {}

    def job_status(self, jid: str) -> Response:
        with self.lock:
            job = self.jobs.get(jid)
        return (200, {"job_status": job}, {}) if job else _err(404, "RecordNotFound", "Not found")

    def tags(self, tid: int, method: str, payload: Any, caller: Person | None = None) -> Response:
        """/tickets/{id}/tags: GET lists, PUT adds, POST replaces, DELETE removes; agents only
        (an end user changes nothing of a ticket but through /requests)."""
        if caller is not None and not caller.is_agent:
            return forbidden()
        with self.lock:
            t = self.tickets.get(tid)
            if t is None or tid in self.deleted:
                return _err(404, "RecordNotFound", "Not found")
            tags = {str(x).lower() for x in (payload or {}).get("tags", [])}
            current = set(t["tags"])
            new = current | tags if method == "PUT" else tags if method == "POST" else current - tags
            if method != "GET" and new != current:
                t["tags"] = sorted(new)
                now = self._touch(t)
                self._audit(tid, (caller or self.people.bot).uid, [{
                    "type": "Change", "field_name": "tags", "value": sorted(new), "previous_value": sorted(current)}], now)
            return 200, {"tags": t["tags"]}, {}

    def churn(self, count: int, seed: int, ids: list[Any] | None = None) -> list[int]:
        """A customer follow-up on `count` open tickets picked by `seed` (benchmarks' changes),
        or on the open ones of `ids` (a second follow-up on the same tickets)."""
        with self.lock:
            open_ids = self._search_ids(True)
            if ids is not None:
                wanted = {int(i) for i in ids}
                picked = [tid for tid in open_ids if tid in wanted]
            else:
                picked = sorted(random.Random(seed).sample(open_ids, min(count, len(open_ids))))
            for tid in picked:
                self._follow_up(tid)
            return picked

    def _follow_up(self, tid: int) -> None:
        """The requester's "any news?" comment: an audit by them; it reopens a pending ticket."""
        t = self.tickets[tid]
        now = self._touch(t)
        c = self._comment(tid, t["requester_id"], CHURN_TEXT, True, now)
        self.comments[tid].append(c)
        events = [{"type": "Comment", "id": c["id"], "body": c["body"], "public": True,
                   "author_id": t["requester_id"]}]
        m = self.metrics.get(tid)
        if t["status"] == "pending":  # a customer's answer reopens a pending ticket
            events.append({"type": "Change", "field_name": "status", "value": "open", "previous_value": "pending"})
            t["status"] = "open"
            if m:
                m["status_updated_at"] = iso(now)
        if m:
            m["requester_updated_at"] = m["latest_comment_added_at"] = iso(now)
        # Written through the web form, as a requester does: in the audits and in the ticket
        # events export (the connector's follow-up stream reads it there).
        audit = {"id": tid * 1000 + len(self.audits[tid]) + 1, "ticket_id": tid, "created_at": iso(now),
                 "author_id": t["requester_id"], "via": web_via(),
                 "events": [dict(e, id=i + 1) for i, e in enumerate(events)]}
        self.audits[tid].append(audit)
        self.audit_log.append(audit)

    # --- endpoints ------------------------------------------------------------------------
    def route(self, method: str, parts: list[str], query: dict[str, str], payload: Any,
              caller: Person | None = None) -> Response:
        """Dispatch /api/v2/... (parts without the prefix and the .json suffix); `caller` authors writes."""
        call = Call(method, "/".join(parts), query, payload, caller or self.people.bot)
        return (self.route_work(call) or READ_ROUTES.dispatch(self, call) or WRITE_ROUTES.dispatch(self, call)
                or _err(404, "InvalidEndpoint", "Not found"))

    def _put_update_many(self, call: Call) -> Response:
        return self.update_many(call.query, call.payload, call.caller)

    def _get_job_status(self, call: Call) -> Response:
        return self.job_status(call.params["jid"])

    def _put_ticket(self, call: Call) -> Response:
        return self.update(call.number("tid"), call.payload, call.caller)

    def _any_tags(self, call: Call) -> Response:
        return self.tags(call.number("tid"), call.method, call.payload, call.caller)


# Paths are under /api/v2/, without the .json suffix; reads and work have their own tables.
WRITE_ROUTES = Router(
    ("PUT", r"tickets/update_many", ZendeskData._put_update_many),
    ("GET", r"job_statuses/(?P<jid>[^/]+)", ZendeskData._get_job_status),
    ("PUT", r"tickets/(?P<tid>\d+)", ZendeskData._put_ticket),
    ("*", r"tickets/(?P<tid>\d+)/tags", ZendeskData._any_tags),
)
