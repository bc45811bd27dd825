"""Zendesk: what people do to tickets through the API, and the record it leaves.

Every method here runs under ZendeskState's lock.

Invariants:
- a trigger or automation (apply_rule) is authored by -1 with `via`
  {"channel": "rule", "source": {"rel": "trigger"|"automation"}}, as real
  audits show it (zendesk_record.py keeps the audits and the metrics);
- agents write through /tickets, end users through /requests: a /tickets
  write by an end user (an update, update_many, the tags endpoint) is a 403 with
  `forbidden()`'s body, as in Zendesk, whose reference allows those to agents only;
- the ticket events and metric events exports list what was made through the
  API (seeded tickets enter them once written); the ticket events export is
  for admins only and, as the cursor export, never returns the last minute;
  audits are cursor paginated
  (page[size], page[after]) like the real endpoint, or whole without them;
- a ValueError in one of these endpoints (a bad number or cursor) is a 400.
"""

from __future__ import annotations

import base64
from datetime import datetime
from typing import Any
from urllib.parse import quote

from tierlift.sandbox.router import Call, Response, Router
from tierlift.sandbox.users import AUTOMATION_ID, Person
from tierlift.sandbox.zendesk_record import ZendeskRecord


def _err(status: int, error: str, description: str = "") -> Response:
    return status, {"error": error, "description": description or error}, {}


def forbidden() -> Response:
    """Zendesk's answer to a caller whose role may not use an endpoint (an end user on an
    "Allowed For: Agents" one, an agent on an admins' one)."""
    return _err(403, "Forbidden", "You do not have access to this page. Please contact the account owner of this help desk "
                "for further help.")


def _int(query: dict[str, str], key: str, default: int) -> int:
    try:
        return int(query.get(key, default))
    except ValueError:
        raise ValueError(f"{key} must be a number") from None


def _cursor(pos: int) -> str:
    return base64.b64encode(f"o:{pos}".encode()).decode()


def _uncursor(text: str) -> int:
    try:
        kind, _, pos = base64.b64decode(text).decode().partition(":")
        if kind != "o":
            raise ValueError
        return int(pos)
    except Exception:
        raise ValueError("cursor is invalid") from None



def web_via() -> dict[str, Any]:
    return {"channel": "web", "source": {"from": {}, "to": {}, "rel": None}}


class ZendeskWork(ZendeskRecord):
    # --- creating tickets ---------------------------------------------------------------
    def _requester(self, body: dict[str, Any], caller: Person) -> int:
        if isinstance(body.get("requester_id"), int) and self.people.get(body["requester_id"]):
            uid: int = body["requester_id"]
            return uid
        req = body.get("requester")
        if isinstance(req, dict) and req.get("email"):
            known = self.people.by_email.get(str(req["email"]).lower())
            if known is not None:
                return known.uid
            person = Person(self.people.next_id(), str(req.get("name") or req["email"]), str(req["email"]), "end-user")
            self.add_person(person)
            return person.uid
        return caller.uid

    def create_ticket(self, body: dict[str, Any], caller: Person, via: dict[str, Any] | None = None) -> Response:
        """POST /tickets (agents) and POST /requests (end users): one Create audit with the first comment."""
        comment: dict[str, Any] = body["comment"] if isinstance(body.get("comment"), dict) else {}
        text = comment.get("body") or comment.get("html_body") or body.get("description")
        if not text:
            return 422, {"error": "RecordInvalid", "description": "Record validation errors",
                         "details": {"base": [{"description": "Description: cannot be blank"}]}}, {}
        with self.lock:
            now = self.clock.now().replace(microsecond=0)
            requester = self._requester(body, caller)
            person = self.people.get(requester)
            tid = self._new_ticket(body, str(text), requester, now)
            t = self.tickets[tid]
            events = [self._add_comment(tid, requester if person and not person.is_agent else caller.uid, str(text),
                                        bool(comment.get("public", True)), now)]
            events += [{"type": "Create", "field_name": k, "value": t.get(k)} for k in
                       ("subject", "requester_id", "group_id", "assignee_id", "priority", "tags", "status")]
            audit = self._audit(tid, caller.uid, events, now, via)
            return 201, {"ticket": dict(t), "audit": audit}, {"Location": f"{self.base_url}/api/v2/tickets/{tid}.json"}

    def _new_ticket(self, body: dict[str, Any], text: str, requester: int, now: datetime) -> int:
        """A ticket built for keeps from a create body, with no history yet (the caller audits it)."""
        person = self.people.get(requester)
        org = person.extra.get("org") if person is not None else None
        tags = sorted({str(x).lower() for x in body.get("tags") or []})
        tid = self.add_ticket(str(body.get("subject") or text[:60]), text, now, tags=tags,
                              status=str(body.get("status") or "new"), org=org if isinstance(org, dict) else None)
        t = self.tickets[tid]  # built for keeps: it has a history from now on
        t["requester_id"] = t["submitter_id"] = requester
        self.users.live.pop(100000 + tid, None)  # the seeded requester stand-in: the real one is `requester`
        self.comments[tid].clear()
        for key in ("group_id", "assignee_id", "priority"):
            if key in body:
                t[key] = body[key]
        if body.get("custom_fields"):
            self._apply_changes(t, {"custom_fields": body["custom_fields"]})
        m = self.metrics[tid]
        m["reopens"], m["replies"], m["reply_time_in_minutes"] = 0, 0, {"calendar": None, "business": None}
        self.audits[tid].clear()
        return tid

    def request_comment(self, tid: int, body: Any, caller: Person) -> Response:
        """PUT /requests/{id}: the requester's public comment; it reopens a pending or solved ticket."""
        with self.lock:
            t = self.tickets.get(tid) if tid not in self.deleted else None
            if t is None or t.get("requester_id") != caller.uid and not caller.is_agent:
                return _err(404, "RecordNotFound", "Not found")
            comment = ((body or {}).get("request") or {}).get("comment") if isinstance(body, dict) else None
            if not isinstance(comment, dict) or not comment.get("body"):
                return _err(422, "RecordInvalid", "comment body is required")
            if t["status"] == "closed":
                return _err(422, "RecordInvalid", "Status: closed prevents ticket update")
            now = self._touch(t)
            events = [self._add_comment(tid, caller.uid, str(comment["body"]), True, now)]
            if t["status"] in ("pending", "hold", "solved"):
                events.append({"type": "Change", "field_name": "status", "value": "open", "previous_value": t["status"]})
                t["status"] = "open"
            self._audit(tid, caller.uid, events, now, web_via())
            return 200, {"request": self._request_of(t)}, {}

    def _request_of(self, t: dict[str, Any]) -> dict[str, Any]:
        return {"id": t["id"], "url": f"{self.base_url}/api/v2/requests/{t['id']}.json", "subject": t["subject"],
                "description": t["description"], "status": t["status"], "priority": t["priority"],
                "requester_id": t["requester_id"], "organization_id": t["organization_id"],
                "created_at": t["created_at"], "updated_at": t["updated_at"], "group_id": t["group_id"],
                "assignee_id": t["assignee_id"], "is_public": True, "via": t["via"]}

    def apply_rule(self, tid: int, title: str, rel: str, body: dict[str, Any]) -> dict[str, Any] | None:
        """A trigger or automation firing on a ticket: changes (and a comment) authored by -1."""
        with self.lock:
            t = self.tickets.get(tid) if tid not in self.deleted else None
            if t is None:
                return None
            events = self._apply_changes(t, body)
            now = self._touch(t)
            comment = body.get("comment")
            if isinstance(comment, dict) and comment.get("body"):
                events.insert(0, self._add_comment(tid, AUTOMATION_ID, str(comment["body"]),
                                                   bool(comment.get("public", True)), now))
            via = {"channel": "rule", "source": {"to": {}, "from": {"id": 360000000000 + len(title), "title": title},
                                                 "rel": rel}}
            return self._audit(tid, AUTOMATION_ID, events, now, via)

    # --- reading the record --------------------------------------------------------------
    def list_audits(self, tid: int, query: dict[str, str]) -> Response:
        """GET /tickets/{id}/audits: cursor paginated (page[size], page[after]; 100 at most) or whole."""
        with self.lock:
            if not self._exists(tid):  # as list_comments: a ticket put in raw has audits too
                return _err(404, "RecordNotFound", "Not found")
            au = list(self.audits.get(tid, []))
        if "page[size]" not in query and "page[after]" not in query:
            return 200, {"audits": au, "next_page": None, "previous_page": None, "count": len(au)}, {}
        size = max(1, min(_int(query, "page[size]", 100), 100))
        start = _uncursor(query["page[after]"]) if query.get("page[after]") else 0
        page = au[start:start + size]
        end = start + len(page)
        link = f"{self.base_url}/api/v2/tickets/{tid}/audits.json?page%5Bsize%5D={size}"
        after, before = _cursor(end), _cursor(start)
        return 200, {"audits": page, "meta": {"has_more": end < len(au), "after_cursor": after, "before_cursor": before},
                     "links": {"next": f"{link}&page%5Bafter%5D={quote(after)}",
                               "prev": f"{link}&page%5Bbefore%5D={quote(before)}"}}, {}

    def ticket_events(self, query: dict[str, str]) -> Response:
        """GET /incremental/ticket_events (time based): one event per audit, oldest first, 1,000 a page,
        never one made in the last minute of helpdesk time (as the cursor export)."""
        if "start_time" not in query:
            return _err(400, "InvalidValue", "start_time is required")
        start = _int(query, "start_time", 0)
        comments = "comment_events" in query.get("include", "")
        with self.lock:
            horizon = self.clock.now().timestamp() - 60
            rows = sorted((a for a in self.audit_log if start <= _ts(a["created_at"]) <= horizon),
                          key=lambda a: (a["created_at"], a["id"]))
        page = rows[:1000]
        end_time = _ts(page[-1]["created_at"]) if page else start
        events = [_ticket_event(a, comments) for a in page]
        return 200, {"ticket_events": events, "count": len(events), "end_of_stream": len(rows) <= 1000,
                     "end_time": end_time,
                     "next_page": f"{self.base_url}/api/v2/incremental/ticket_events.json?start_time={end_time}"}, {}

    def ticket_metric_events(self, query: dict[str, str]) -> Response:
        """GET /incremental/ticket_metric_events: cursor (page[size] <= 100) or time based (start_time)."""
        if "start_time" not in query:
            return _err(400, "InvalidValue", "start_time is required")
        start = _int(query, "start_time", 0)
        with self.lock:
            rows = [e for e in self.metric_events if _ts(e["time"]) >= start]
        if "page[size]" in query or "page[after]" in query:
            return self._metric_events_cursor(rows, query, start)
        page = rows[:1000]
        end_time = _ts(page[-1]["time"]) if page else start
        return 200, {"ticket_metric_events": page, "count": len(page), "end_time": end_time,
                     "next_page": f"{self.base_url}/api/v2/incremental/ticket_metric_events.json?start_time={end_time}"}, {}

    def _metric_events_cursor(self, rows: list[dict[str, Any]], query: dict[str, str], start: int) -> Response:
        size = max(1, min(_int(query, "page[size]", 100), 100))
        at = _uncursor(query["page[after]"]) if query.get("page[after]") else 0
        page = rows[at:at + size]
        after = _cursor(at + len(page))
        link = f"{self.base_url}/api/v2/incremental/ticket_metric_events.json?start_time={start}&page%5Bsize%5D={size}"
        return 200, {"ticket_metric_events": page,
                     "meta": {"has_more": at + len(page) < len(rows), "after_cursor": after, "before_cursor": _cursor(at)},
                     "links": {"next": f"{link}&page%5Bafter%5D={quote(after)}", "prev": None}}, {}

    # --- endpoints ------------------------------------------------------------------------
    def route_work(self, call: Call) -> Response | None:
        """The endpoints of this module (None: not one of them)."""
        try:
            return WORK_ROUTES.dispatch(self, call)
        except ValueError as exc:
            return _err(400, "InvalidPaginationParameter" if "cursor" in str(exc) else "InvalidValue", str(exc))

    def _get_me(self, call: Call) -> Response:
        with self.lock:
            return 200, {"user": self.users[call.caller.uid]}, {}

    def _get_users(self, call: Call) -> Response:
        ids = [int(i) for i in call.query.get("ids", "").split(",") if i.strip().isdigit()]
        with self.lock:
            return 200, {"users": [self.users[i] for i in ids if i in self.users]}, {}

    def _get_user(self, call: Call) -> Response:
        with self.lock:
            user = self.users.get(call.number("uid"))
        return (200, {"user": user}, {}) if user else _err(404, "RecordNotFound", "Not found")

    def _post_ticket(self, call: Call) -> Response:
        body = call.payload if isinstance(call.payload, dict) else {}
        if not call.caller.is_agent:
            return forbidden()
        if not isinstance(body.get("ticket"), dict):
            return _err(400, "InvalidValue", "expected {\"ticket\": {...}}")
        return self.create_ticket(body["ticket"], call.caller)

    def _post_request(self, call: Call) -> Response:
        body = call.payload if isinstance(call.payload, dict) else {}
        if not isinstance(body.get("request"), dict):
            return _err(400, "InvalidValue", "expected {\"request\": {...}}")
        status, out, headers = self.create_ticket({**body["request"], "requester_id": call.caller.uid}, call.caller,
                                                  web_via())
        return status, ({"request": self._request_of(out["ticket"])} if status == 201 else out), headers

    def _put_request(self, call: Call) -> Response:
        return self.request_comment(call.number("tid"), call.payload, call.caller)

    def _get_audits(self, call: Call) -> Response:
        return self.list_audits(call.number("tid"), call.query)

    def _get_ticket_events(self, call: Call) -> Response:
        if call.caller.role != "admin":  # "Allowed For: Admins" (the OpenAPI file)
            return forbidden()
        return self.ticket_events(call.query)

    def _get_metric_events(self, call: Call) -> Response:
        return self.ticket_metric_events(call.query)


# Paths are under /api/v2/, without the .json suffix (zendesk.py strips both).
WORK_ROUTES = Router(
    ("GET", r"users/me", ZendeskWork._get_me),
    ("GET", r"users/show_many", ZendeskWork._get_users),
    ("GET", r"users/(?P<uid>\d+)", ZendeskWork._get_user),
    ("POST", r"tickets", ZendeskWork._post_ticket),
    ("POST", r"requests", ZendeskWork._post_request),
    ("PUT", r"requests/(?P<tid>\d+)", ZendeskWork._put_request),
    ("GET", r"tickets/(?P<tid>\d+)/audits", ZendeskWork._get_audits),
    ("GET", r"incremental/ticket_events", ZendeskWork._get_ticket_events),
    ("GET", r"incremental/ticket_metric_events", ZendeskWork._get_metric_events),
)


def _ts(text: str) -> int:
    return int(datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp())


def _child_event(a: dict[str, Any], e: dict[str, Any], via: str) -> dict[str, Any]:
    """One audit event as a child event of an incremental ticket event."""
    child: dict[str, Any] = {"id": a["id"] * 100 + e["id"], "via": via, "via_reference_id": None}
    if e["type"] == "Comment":
        child.update({k: v for k, v in e.items() if k != "id"}, created_at=a["created_at"], event_type="Comment")
        return child
    child.update({e.get("field_name") or "value": e.get("value"), "event_type": e["type"]})
    if e["type"] == "Change":
        child["previous_value"] = e.get("previous_value")
    if e.get("field_name") == "tags":
        before, after = set(e.get("previous_value") or []), set(e.get("value") or [])
        child.update(added_tags=sorted(after - before), removed_tags=sorted(before - after))
    return child


def _ticket_event(a: dict[str, Any], comments: bool) -> dict[str, Any]:
    """One audit as an incremental ticket event (child events; comments only with the sideload)."""
    via = a["via"]
    name = "Web form" if via.get("channel") == "web" else "Rule" if via.get("channel") == "rule" else "API"
    children = [_child_event(a, e, name) for e in a["events"] if comments or e["type"] != "Comment"]
    has_comment = [e for e in a["events"] if e["type"] == "Comment"]
    return {"id": a["id"], "ticket_id": a["ticket_id"], "timestamp": _ts(a["created_at"]),
            "created_at": a["created_at"], "updater_id": a["author_id"], "via": name, "system": {},
            "event_type": "Audit", "merged_ticket_ids": [], "child_events": children,
            "comment_present": bool(has_comment), "comment_public": any(e["public"] for e in has_comment)}
