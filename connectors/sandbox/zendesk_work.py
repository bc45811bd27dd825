"""Zendesk: what people do to tickets through the API, and the record it leaves.

Mixed into ZendeskData (zendesk.py), which owns the tickets, comments, audits,
metric sets and users; every method here runs under its lock.

Invariants:
- every change made through the API is one audit authored by the caller
  (`author_id`), `via` api; a trigger or automation (apply_rule) is authored by
  -1 with `via` {"channel": "rule", "source": {"rel": "trigger"|"automation"}},
  as real audits show it;
- an audit's Comment event and the comment itself carry the same author, body
  and publicity; agents write through /tickets, end users through /requests
  (a /tickets write by an end user is a 403, as in Zendesk);
- ticket metric events follow the audits: reply_time is fulfilled by the first
  public comment of an agent that is neither tierlift's own account nor a rule
  (Zendesk's first reply time leaves out bot and automated actions), and the
  metric set's reply_time_in_minutes says the same;
- the ticket events and metric events exports list what was made through the
  API (seeded tickets enter them once written); audits are cursor paginated
  (page[size], page[after]) like the real endpoint, or whole without them.
"""

from __future__ import annotations

import base64
from datetime import datetime
from typing import Any
from urllib.parse import quote

from tierlift.connectors.sandbox.store import iso
from tierlift.connectors.sandbox.users import AUTOMATION_ID, Person

Response = tuple[int, dict[str, Any], dict[str, str]]
API_VIA = {"channel": "api", "source": {"from": {}, "to": {}, "rel": None}}
PAUSED = ("pending", "hold")


def _err(status: int, error: str, description: str = "") -> Response:
    return status, {"error": error, "description": description or error}, {}


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


class ZendeskWork:
    # Provided by ZendeskData.
    lock: Any
    base_url: str
    people: Any
    tickets: Any
    comments: Any
    audits: Any
    metrics: Any
    users: Any
    groups: dict[int, dict[str, Any]]
    deleted: set[int]
    audit_log: list[dict[str, Any]]
    metric_events: list[dict[str, Any]]

    # --- people -----------------------------------------------------------------------
    def add_person(self, person: Person) -> dict[str, Any]:
        """Register a user (agent with a team = member of that group) and its API record."""
        with self.lock:
            self.people.add(person)
            user = self._user(person.uid, person.name, person.email, person.role)  # type: ignore[attr-defined]
            gid = self.group_id(person.team) if person.team else None
            user["default_group_id"] = gid
            user["organization_id"] = person.extra.get("organization_id")
            self.users.live[person.uid] = user
            return user

    def group_id(self, team: str | None) -> int | None:
        return next((g for g, rec in self.groups.items() if rec["name"] == team), None)

    # --- the record -------------------------------------------------------------------
    def _add_comment(self, tid: int, author: int, body: str, public: bool, now: datetime) -> dict[str, Any]:
        """Append a comment; its audit event (the caller makes the audit)."""
        c = self._comment(tid, author, body, public, now)  # type: ignore[attr-defined]
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
        at = iso(now)
        for e in audit["events"]:
            if e["type"] == "Create" and e.get("field_name") == "status":
                for metric in ("reply_time", "agent_work_time", "requester_wait_time", "resolution_time"):
                    self._metric(tid, metric, "activate", now)
            elif e["type"] == "Comment":
                if m is not None:
                    m["latest_comment_added_at"] = at
                if e["public"] and self._counts_as_reply(author, audit["via"]) and m is not None:
                    m["replies"] += 1
                    if m["reply_time_in_minutes"]["calendar"] is None:
                        created = datetime.fromisoformat(m["created_at"].replace("Z", "+00:00"))
                        minutes = int((now - created).total_seconds() // 60)
                        m["reply_time_in_minutes"] = {"calendar": minutes, "business": minutes}
                        self._metric(tid, "reply_time", "fulfill", now)
                person = self.people.get(author)
                if m is not None and person is not None and not person.is_agent:
                    m["requester_updated_at"] = at
            elif e["type"] == "Change" and m is not None:
                self._measure_change(tid, e, m, now)

    def _measure_change(self, tid: int, e: dict[str, Any], m: dict[str, Any], now: datetime) -> None:
        at = iso(now)
        field, value, before = e.get("field_name"), e.get("value"), e.get("previous_value")
        if field == "group_id":
            m["group_stations"] = (m.get("group_stations") or 0) + 1
        elif field == "assignee_id":
            m["assignee_stations"] = (m.get("assignee_stations") or 0) + 1
            m["assignee_updated_at"] = at
            m["initially_assigned_at"] = m.get("initially_assigned_at") or at
            m["assigned_at"] = at
        elif field == "status":
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

    # --- creating tickets ---------------------------------------------------------------
    def _requester(self, body: dict[str, Any], caller: Person) -> int:
        if isinstance(body.get("requester_id"), int) and self.people.get(body["requester_id"]):
            return body["requester_id"]
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
        comment = body.get("comment") if isinstance(body.get("comment"), dict) else {}
        text = comment.get("body") or comment.get("html_body") or body.get("description")
        if not text:
            return 422, {"error": "RecordInvalid", "description": "Record validation errors",
                         "details": {"base": [{"description": "Description: cannot be blank"}]}}, {}
        with self.lock:
            now = self.clock.now().replace(microsecond=0)  # type: ignore[attr-defined]
            requester = self._requester(body, caller)
            person = self.people.get(requester)
            org = person.extra.get("org") if person is not None else None
            tags = sorted({str(x).lower() for x in body.get("tags") or []})
            tid = self.add_ticket(str(body.get("subject") or text[:60]), str(text), now, tags=tags,  # type: ignore[attr-defined]
                                  status=str(body.get("status") or "new"), org=org)
            t = self.tickets[tid]  # built for keeps: it has a history from now on
            t["requester_id"] = t["submitter_id"] = requester
            self.users.live.pop(100000 + tid, None)  # the seeded requester stand-in: the real one is `requester`
            self.comments[tid].clear()
            for key in ("group_id", "assignee_id", "priority"):
                if key in body:
                    t[key] = body[key]
            if body.get("custom_fields"):
                self._apply_changes(t, {"custom_fields": body["custom_fields"]})  # type: ignore[attr-defined]
            m = self.metrics[tid]
            m["reopens"], m["replies"], m["reply_time_in_minutes"] = 0, 0, {"calendar": None, "business": None}
            self.audits[tid].clear()
            events = [self._add_comment(tid, requester if person and not person.is_agent else caller.uid, str(text),
                                        bool(comment.get("public", True)), now)]
            events += [{"type": "Create", "field_name": k, "value": t.get(k)} for k in
                       ("subject", "requester_id", "group_id", "assignee_id", "priority", "tags", "status")]
            audit = self._audit(tid, caller.uid, events, now, via)
            return 201, {"ticket": dict(t), "audit": audit}, {"Location": f"{self.base_url}/api/v2/tickets/{tid}.json"}

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
            now = self._touch(t)  # type: ignore[attr-defined]
            events = [self._add_comment(tid, caller.uid, str(comment["body"]), True, now)]
            if t["status"] in ("pending", "hold", "solved"):
                events.append({"type": "Change", "field_name": "status", "value": "open", "previous_value": t["status"]})
                t["status"] = "open"
            self._audit(tid, caller.uid, events, now, {"channel": "web", "source": {"from": {}, "to": {}, "rel": None}})
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
            events = self._apply_changes(t, body)  # type: ignore[attr-defined]
            now = self._touch(t)  # type: ignore[attr-defined]
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
        """GET /incremental/ticket_events (time based): one event per audit, oldest first, 1,000 a page."""
        if "start_time" not in query:
            return _err(400, "InvalidValue", "start_time is required")
        start = _int(query, "start_time", 0)
        comments = "comment_events" in query.get("include", "")
        with self.lock:
            rows = sorted((a for a in self.audit_log if _ts(a["created_at"]) >= start),
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
            size = max(1, min(_int(query, "page[size]", 100), 100))
            at = _uncursor(query["page[after]"]) if query.get("page[after]") else 0
            page = rows[at:at + size]
            after = _cursor(at + len(page))
            link = f"{self.base_url}/api/v2/incremental/ticket_metric_events.json?start_time={start}&page%5Bsize%5D={size}"
            return 200, {"ticket_metric_events": page,
                         "meta": {"has_more": at + len(page) < len(rows), "after_cursor": after, "before_cursor": _cursor(at)},
                         "links": {"next": f"{link}&page%5Bafter%5D={quote(after)}", "prev": None}}, {}
        page = rows[:1000]
        end_time = _ts(page[-1]["time"]) if page else start
        return 200, {"ticket_metric_events": page, "count": len(page), "end_time": end_time,
                     "next_page": f"{self.base_url}/api/v2/incremental/ticket_metric_events.json?start_time={end_time}"}, {}

    def route_work(self, method: str, parts: list[str], query: dict[str, str], payload: Any,
                   caller: Person) -> Response | None:
        """The endpoints of this module (None: not one of them)."""
        try:
            return self._route_work(method, parts, query, payload, caller)
        except ValueError as exc:
            return _err(400, "InvalidPaginationParameter" if "cursor" in str(exc) else "InvalidValue", str(exc))

    def _route_work(self, method: str, parts: list[str], query: dict[str, str], payload: Any,
                    caller: Person) -> Response | None:
        body = payload if isinstance(payload, dict) else {}
        if parts == ["users", "me"] and method == "GET":
            with self.lock:
                return 200, {"user": self.users[caller.uid]}, {}
        if parts == ["users", "show_many"] and method == "GET":
            ids = [int(i) for i in query.get("ids", "").split(",") if i.strip().isdigit()]
            with self.lock:
                return 200, {"users": [self.users[i] for i in ids if i in self.users]}, {}
        if len(parts) == 2 and parts[0] == "users" and parts[1].isdigit() and method == "GET":
            with self.lock:
                user = self.users.get(int(parts[1]))
            return (200, {"user": user}, {}) if user else _err(404, "RecordNotFound", "Not found")
        if parts == ["tickets"] and method == "POST":
            if not caller.is_agent:
                return _err(403, "Forbidden", "You do not have access to this page.")
            if not isinstance(body.get("ticket"), dict):
                return _err(400, "InvalidValue", "expected {\"ticket\": {...}}")
            return self.create_ticket(body["ticket"], caller)
        if parts == ["requests"] and method == "POST":
            if not isinstance(body.get("request"), dict):
                return _err(400, "InvalidValue", "expected {\"request\": {...}}")
            status, out, headers = self.create_ticket({**body["request"], "requester_id": caller.uid}, caller,
                                                      {"channel": "web", "source": {"from": {}, "to": {}, "rel": None}})
            return status, ({"request": self._request_of(out["ticket"])} if status == 201 else out), headers
        if len(parts) == 2 and parts[0] == "requests" and parts[1].isdigit() and method == "PUT":
            return self.request_comment(int(parts[1]), payload, caller)
        if len(parts) == 3 and parts[0] == "tickets" and parts[1].isdigit() and parts[2] == "audits" and method == "GET":
            return self.list_audits(int(parts[1]), query)
        if parts == ["incremental", "ticket_events"] and method == "GET":
            return self.ticket_events(query)
        if parts == ["incremental", "ticket_metric_events"] and method == "GET":
            return self.ticket_metric_events(query)
        return None


def _ts(text: str) -> int:
    return int(datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp())


def _ticket_event(a: dict[str, Any], comments: bool) -> dict[str, Any]:
    """One audit as an incremental ticket event (child events; comments only with the sideload)."""
    via = a["via"]
    name = "Web form" if via.get("channel") == "web" else "Rule" if via.get("channel") == "rule" else "API"
    children: list[dict[str, Any]] = []
    for e in a["events"]:
        child: dict[str, Any] = {"id": a["id"] * 100 + e["id"], "via": name, "via_reference_id": None}
        if e["type"] == "Comment":
            if not comments:
                continue
            child.update({k: v for k, v in e.items() if k != "id"}, created_at=a["created_at"], event_type="Comment")
        else:
            child.update({e.get("field_name") or "value": e.get("value"), "event_type": e["type"]})
            if e["type"] == "Change":
                child["previous_value"] = e.get("previous_value")
            if e.get("field_name") == "tags":
                before, after = set(e.get("previous_value") or []), set(e.get("value") or [])
                child.update(added_tags=sorted(after - before), removed_tags=sorted(before - after))
        children.append(child)
    has_comment = [e for e in a["events"] if e["type"] == "Comment"]
    return {"id": a["id"], "ticket_id": a["ticket_id"], "timestamp": _ts(a["created_at"]),
            "created_at": a["created_at"], "updater_id": a["author_id"], "via": name, "system": {},
            "event_type": "Audit", "merged_ticket_ids": [], "child_events": children,
            "comment_present": bool(has_comment), "comment_public": any(e["public"] for e in has_comment)}
