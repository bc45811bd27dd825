"""The Zendesk flavour: the parts of the Support API tierlift and zenpy use.

Shapes follow the real recorded responses in ../shared/reference/ (every key
of a recorded ticket, with the same JSON types). Behaviours that matter:
- the cursor export returns tickets ordered by generated_timestamp, never
  ones updated in the last minute of helpdesk time, with absolute after_url;
- a ticket update with safe_update answers 409 when updated_stamp is stale;
- every change appends to the ticket's comments and audits and moves
  updated_at / generated_timestamp forward (strictly, even on a frozen clock).
"""

from __future__ import annotations

import base64
import threading
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import quote

from tierlift.connectors.sandbox.store import REFUND_FIELD, SEVERITY_FIELD, TEAMS, SandboxClock, iso

Response = tuple[int, dict[str, Any], dict[str, str]]


def _err(status: int, error: str, description: str = "") -> Response:
    return status, {"error": error, "description": description or error}, {}


class ZendeskData:
    def __init__(self, clock: SandboxClock):
        self.clock = clock
        self.lock = threading.RLock()
        self.tickets: dict[int, dict[str, Any]] = {}
        self.raw: dict[int, dict[str, Any]] = {}  # poison tickets, served as they are
        self.comments: dict[int, list[dict[str, Any]]] = {}
        self.audits: dict[int, list[dict[str, Any]]] = {}
        self.metrics: dict[int, dict[str, Any]] = {}
        self.orgs: dict[int, dict[str, Any]] = {}
        self.users: dict[int, dict[str, Any]] = {}
        self.groups: dict[int, dict[str, Any]] = {}
        self.deleted: set[int] = set()
        self.bot_id = 1

    # --- seeding ------------------------------------------------------------------
    def load(self, scenarios: list[dict[str, Any]], base_url: str) -> None:
        with self.lock:
            self.__init__(self.clock)  # type: ignore[misc]
            self.base_url = base_url
            now = self.clock.now()
            self.users[1] = self._user(1, "tierlift bot", "bot@example.com", "admin")
            for i, team in enumerate(TEAMS):
                gid = 360000001000 + i
                self.groups[gid] = {"id": gid, "url": f"{base_url}/api/v2/groups/{gid}.json", "name": team,
                                    "description": "", "default": False, "deleted": False, "is_public": True,
                                    "created_at": iso(now - timedelta(days=400)), "updated_at": iso(now - timedelta(days=400))}
            for s in scenarios:
                self._load_one(s, base_url)

    def _user(self, uid: int, name: str, email: str, role: str) -> dict[str, Any]:
        return {"id": uid, "url": f"{getattr(self, 'base_url', '')}/api/v2/users/{uid}.json", "name": name,
                "email": email, "role": role, "active": True, "organization_id": None, "time_zone": "UTC"}

    def _load_one(self, s: dict[str, Any], base_url: str) -> None:
        tid = s["id"]
        created: datetime = s["created_at"]
        org = s["org"]
        if org and org["id"] not in self.orgs:
            self.orgs[org["id"]] = {
                "id": org["id"], "url": f"{base_url}/api/v2/organizations/{org['id']}.json", "name": org["name"],
                "domain_names": [], "details": "", "notes": "", "group_id": None, "shared_tickets": False,
                "shared_comments": False, "tags": [org["plan"]], "external_id": None,
                "created_at": iso(created - timedelta(days=300)), "updated_at": iso(created - timedelta(days=30)),
                "organization_fields": {"plan": org["plan"], "arr": org["arr"], "health_score": org["health_score"],
                                        "primary_contact": org["primary_contact"]}}
        requester = 100000 + tid
        self.users[requester] = self._user(requester, f"Customer {tid}", f"customer{tid}@example.org", "end-user")
        self.users[requester]["organization_id"] = org["id"] if org else None
        status = s["status"]
        t = {
            "url": f"{base_url}/api/v2/tickets/{tid}.json", "id": tid, "external_id": None,
            "via": {"channel": "email", "source": {"from": {}, "to": {}, "rel": None}},
            "created_at": iso(created), "updated_at": iso(created), "generated_timestamp": int(created.timestamp()),
            "type": None, "subject": s["subject"], "raw_subject": s["subject"], "description": s["description"],
            "priority": s["priority"], "status": status, "recipient": None, "requester_id": requester,
            "submitter_id": requester, "assignee_id": None, "organization_id": org["id"] if org else None,
            "group_id": None, "collaborator_ids": [], "follower_ids": [], "email_cc_ids": [], "forum_topic_id": None,
            "problem_id": None, "has_incidents": False, "is_public": True, "due_at": None, "tags": list(s["tags"]),
            # Custom field values come back as strings (decimal fields too), per the API's schema.
            "custom_fields": [{"id": REFUND_FIELD, "value": None if s["refund"] is None else f"{s['refund']:.1f}"},
                              {"id": SEVERITY_FIELD, "value": s["severity"]}],
            "satisfaction_rating": None, "sharing_agreement_ids": [], "custom_status_id": 1,
            "fields": [{"id": REFUND_FIELD, "value": None if s["refund"] is None else f"{s['refund']:.1f}"},
                       {"id": SEVERITY_FIELD, "value": s["severity"]}],
            "followup_ids": [], "ticket_form_id": 360000000001, "brand_id": 360000000001, "allow_channelback": False,
            "allow_attachments": True, "from_messaging_channel": False,
        }
        self.tickets[tid] = t
        self.comments[tid] = [self._comment(tid, requester, s["description"], True, created)]
        first_reply = None
        for c in s["comments"]:
            at = created + timedelta(minutes=c.get("after", 1))
            self.comments[tid].append(self._comment(tid, self.bot_id + 1 if c["by_agent"] else requester, c["body"],
                                                    c["public"], at))
            if c["public"] and c["by_agent"] and first_reply is None:
                first_reply = at
        self.users.setdefault(2, self._user(2, "Agent Smith", "agent@example.com", "agent"))
        self.audits[tid] = [{"id": tid * 1000, "ticket_id": tid, "created_at": iso(created), "author_id": requester,
                             "events": [{"id": tid * 1000 + 1, "type": "Create", "field_name": "status", "value": status}]}]
        minutes = int((first_reply - created).total_seconds() // 60) if first_reply else None
        self.metrics[tid] = {
            "id": 500000 + tid, "ticket_id": tid, "url": f"{base_url}/api/v2/ticket_metrics/{500000 + tid}.json",
            "group_stations": 1, "assignee_stations": 1, "reopens": s["reopens"], "replies": 1 if first_reply else 0,
            "assignee_updated_at": None, "requester_updated_at": iso(created), "status_updated_at": iso(created),
            "initially_assigned_at": None, "assigned_at": None, "solved_at": iso(created + timedelta(hours=1)) if status == "solved" else None,
            "latest_comment_added_at": iso(created),
            "reply_time_in_minutes": {"calendar": minutes, "business": minutes},
            "first_resolution_time_in_minutes": {"calendar": None, "business": None},
            "full_resolution_time_in_minutes": {"calendar": None, "business": None},
            "agent_wait_time_in_minutes": {"calendar": None, "business": None},
            "requester_wait_time_in_minutes": {"calendar": None, "business": None},
            "on_hold_time_in_minutes": {"calendar": None, "business": None},
            "created_at": iso(created), "updated_at": iso(created),
        }

    def _comment(self, tid: int, author: int, body: str, public: bool, at: datetime) -> dict[str, Any]:
        n = len(self.comments.get(tid, [])) + 1
        return {"id": tid * 10000 + n, "type": "Comment", "author_id": author, "body": body,
                "html_body": f"<p>{body}</p>", "plain_body": body, "public": public, "attachments": [],
                "audit_id": tid * 1000 + n, "via": {"channel": "api"}, "created_at": iso(at), "metadata": {}}

    # --- helpers ---------------------------------------------------------------------
    def _touch(self, t: dict[str, Any]) -> datetime:
        """Advance updated_at strictly, even when the clock is frozen."""
        now = self.clock.now().replace(microsecond=0)
        prev = datetime.fromisoformat(t["updated_at"].replace("Z", "+00:00"))
        if now <= prev:
            now = prev + timedelta(seconds=1)
        t["updated_at"] = iso(now)
        t["generated_timestamp"] = int(now.timestamp())
        return now

    def ticket(self, tid: int) -> dict[str, Any] | None:
        if tid in self.deleted:
            return None
        return self.raw.get(tid) or self.tickets.get(tid)

    def add_ticket(self, subject: str, description: str, created_at: datetime, *, tags: list[str] | None = None,
                   status: str = "open", org: dict[str, Any] | None = None) -> int:
        """A new ticket in the seeded shape (for rehearsals and tests); returns its id."""
        with self.lock:
            tid = max([*self.tickets, 0]) + 1
            self._load_one({"id": tid, "subject": subject, "description": description, "tags": tags or [],
                            "created_at": created_at, "status": status, "org": org, "comments": [],
                            "priority": "normal", "refund": None, "severity": None, "reopens": 0}, self.base_url)
            return tid

    def put_raw(self, raw: dict[str, Any]) -> None:
        with self.lock:
            tid = raw.get("id")
            key = tid if isinstance(tid, int) else -(len(self.raw) + 1)
            raw = dict(raw)
            raw.setdefault("generated_timestamp", int(self.clock.now().timestamp()) - 120)
            self.raw[key] = raw

    def delete(self, tid: int) -> None:
        with self.lock:
            self.deleted.add(tid)
            t = self.tickets.get(tid)
            if t:
                t["status"] = "deleted"
                self._touch(t)

    # --- handlers ------------------------------------------------------------------
    def export(self, query: dict[str, str]) -> Response:
        """GET /api/v2/incremental/tickets/cursor.json"""
        with self.lock:
            per_page = min(int(query.get("per_page", 1000)), 1000)
            if "cursor" in query:
                try:
                    ts_s, _, id_s = base64.b64decode(query["cursor"]).decode().partition("||")
                    pos = (float(ts_s), int(id_s.rstrip("|") or 0))
                except Exception:
                    return _err(400, "InvalidPaginationParameter", "cursor is invalid")
            elif "start_time" in query:
                try:
                    start = int(query["start_time"])
                except ValueError:
                    return _err(400, "InvalidValue", "start_time must be a unix time")
                if start > self.clock.now().timestamp() - 60:
                    return _err(400, "InvalidValue", "start_time is too recent; it must be at least one minute in the past")
                pos = (start - 0.5, 0)
            else:
                return _err(400, "InvalidValue", "start_time or cursor is required")
            horizon = self.clock.now().timestamp() - 60  # the last minute is never returned
            rows = []
            for key, t in list(self.tickets.items()) + list(self.raw.items()):
                gts = t.get("generated_timestamp")
                if not isinstance(gts, int | float):
                    gts = 0
                if gts > horizon:
                    continue
                ident = key if key in self.tickets else (t.get("id") if isinstance(t.get("id"), int) else key)
                if (gts, ident) > pos:
                    rows.append(((gts, ident), key, t))
            rows.sort(key=lambda r: r[0])
            page = rows[:per_page]
            end = len(rows) <= per_page
            last = page[-1][0] if page else pos
            cursor = base64.b64encode(f"{last[0]:.1f}||{last[1]}|".encode()).decode()
            tickets = [self._out(t) for _, _, t in page]
            body: dict[str, Any] = {
                "tickets": tickets,
                "after_url": f"{self.base_url}/api/v2/incremental/tickets/cursor.json?cursor={quote(cursor)}&per_page={per_page}",
                "after_cursor": cursor, "before_url": None, "before_cursor": None, "end_of_stream": end,
            }
            self._sideload(body, tickets, query.get("include", ""))
            return 200, body, {}

    def _out(self, t: dict[str, Any]) -> dict[str, Any]:
        return dict(t)

    def _sideload(self, body: dict[str, Any], tickets: list[dict[str, Any]], include: str) -> None:
        wanted = {w.strip() for w in include.split(",") if w.strip()}
        ids = [t.get("id") for t in tickets]
        if "organizations" in wanted:
            org_ids = {t.get("organization_id") for t in tickets}
            body["organizations"] = [self.orgs[o] for o in org_ids if o in self.orgs]
        if "users" in wanted:
            uids = {u for t in tickets for u in (t.get("requester_id"), t.get("assignee_id"), t.get("submitter_id"))}
            body["users"] = [self.users[u] for u in uids if u in self.users]
        if "groups" in wanted:
            body["groups"] = list(self.groups.values())
        if "metric_sets" in wanted:
            body["metric_sets"] = [self.metrics[i] for i in ids if i in self.metrics]

    def show(self, tid: int) -> Response:
        with self.lock:
            t = self.ticket(tid)
            if t is None:
                return _err(404, "RecordNotFound", "Not found")
            return 200, {"ticket": self._out(t)}, {}

    def show_many(self, query: dict[str, str]) -> Response:
        with self.lock:
            try:
                ids = [int(x) for x in query.get("ids", "").split(",") if x]
            except ValueError:
                return _err(400, "InvalidValue", "ids must be numbers")
            tickets = [self._out(t) for i in ids[:100] if (t := self.ticket(i)) is not None]
            body: dict[str, Any] = {"tickets": tickets, "next_page": None, "previous_page": None, "count": len(tickets)}
            self._sideload(body, tickets, query.get("include", ""))
            return 200, body, {}

    def update(self, tid: int, payload: Any) -> Response:
        with self.lock:
            t = self.tickets.get(tid)
            if t is None or tid in self.deleted:
                return _err(404, "RecordNotFound", "Not found")
            if not isinstance(payload, dict) or not isinstance(payload.get("ticket"), dict):
                return _err(400, "InvalidValue", "expected {\"ticket\": {...}}")
            body = payload["ticket"]
            if body.get("safe_update") and "updated_stamp" in body and body["updated_stamp"] != t["updated_at"]:
                return 409, {"error": "UpdateConflict",
                             "description": "Safe Update prevented the update due to outdated ticket data. Please fetch the latest ticket data and try again."}, {}
            priority = body.get("priority", t["priority"])
            if priority not in (None, "low", "normal", "high", "urgent"):
                return 422, {"error": "RecordInvalid", "description": "Record validation errors",
                             "details": {"priority": [{"description": "Priority: is not valid"}]}}, {}
            events = []
            for key in ("group_id", "assignee_id", "priority", "status"):
                if key in body and body[key] != t.get(key):
                    events.append({"type": "Change", "field_name": key, "value": body[key], "previous_value": t.get(key)})
                    t[key] = body[key]
            if "tags" in body:
                tags = sorted({str(x).lower() for x in body["tags"]})
                if tags != sorted(t["tags"]):
                    events.append({"type": "Change", "field_name": "tags", "value": tags, "previous_value": t["tags"]})
                    t["tags"] = tags
            for key in ("additional_tags", "remove_tags"):
                if key in body:
                    tags = set(t["tags"])
                    tags = tags | set(body[key]) if key == "additional_tags" else tags - set(body[key])
                    t["tags"] = sorted(tags)
            if "custom_fields" in body:
                for cf in body["custom_fields"]:
                    for existing in t["custom_fields"]:
                        if existing["id"] == cf.get("id"):
                            existing["value"] = cf.get("value")
            now = self._touch(t)
            comment = body.get("comment")
            if isinstance(comment, dict) and (comment.get("body") or comment.get("html_body")):
                c = self._comment(tid, self.bot_id, comment.get("body") or comment.get("html_body"),
                                  bool(comment.get("public", True)), now)
                self.comments[tid].append(c)
                events.append({"type": "Comment", "id": c["id"], "body": c["body"], "public": c["public"],
                               "author_id": self.bot_id})
                m = self.metrics.get(tid)
                if m and c["public"]:
                    m["replies"] += 1
            audit = {"id": tid * 1000 + len(self.audits[tid]) + 1, "ticket_id": tid, "created_at": iso(now),
                     "author_id": self.bot_id, "events": [dict(e, id=i + 1) for i, e in enumerate(events)]}
            self.audits[tid].append(audit)
            return 200, {"ticket": self._out(t), "audit": audit}, {}

    def tags(self, tid: int, method: str, payload: Any) -> Response:
        with self.lock:
            t = self.tickets.get(tid)
            if t is None or tid in self.deleted:
                return _err(404, "RecordNotFound", "Not found")
            tags = {str(x).lower() for x in (payload or {}).get("tags", [])}
            current = set(t["tags"])
            new = current | tags if method == "PUT" else tags if method == "POST" else current - tags
            if method != "GET" and new != current:
                t["tags"] = sorted(new)
                self._touch(t)
            return 200, {"tags": t["tags"]}, {}

    def list_comments(self, tid: int) -> Response:
        with self.lock:
            if self.ticket(tid) is None:
                return _err(404, "RecordNotFound", "Not found")
            cs = self.comments.get(tid, [])
            return 200, {"comments": cs, "next_page": None, "previous_page": None, "count": len(cs)}, {}

    def list_audits(self, tid: int) -> Response:
        with self.lock:
            if self.ticket(tid) is None:
                return _err(404, "RecordNotFound", "Not found")
            au = self.audits.get(tid, [])
            return 200, {"audits": au, "next_page": None, "previous_page": None, "count": len(au)}, {}

    def search(self, query: dict[str, str]) -> Response:
        """GET /api/v2/search.json: 100 per page, 1,000 results at most (page 11 is a 422)."""
        with self.lock:
            q = query.get("query", "")
            page = int(query.get("page", 1))
            per_page = min(int(query.get("per_page", 100)), 100)
            if page * per_page > 1000:
                return 422, {"error": "invalid", "description": "Invalid search: Requested response size was greater than Search Response Limits"}, {}
            want_open = "status<solved" in q.replace(" ", "")
            rows = [t for t in self.tickets.values() if t["id"] not in self.deleted
                    and (not want_open or t["status"] in ("new", "open", "pending", "hold"))]
            rows.sort(key=lambda t: t["id"])
            chunk = rows[(page - 1) * per_page: page * per_page]
            nxt = page + 1 if page * per_page < min(len(rows), 1000) else None
            return 200, {"results": [dict(self._out(t), result_type="ticket") for t in chunk], "count": len(rows),
                         "next_page": f"{self.base_url}/api/v2/search.json?query={quote(q)}&page={nxt}&per_page={per_page}" if nxt else None,
                         "previous_page": None}, {}

    def route(self, method: str, parts: list[str], query: dict[str, str], payload: Any) -> Response:
        """Dispatch /api/v2/... (parts without the prefix and the .json suffix)."""
        if parts == ["incremental", "tickets", "cursor"] and method == "GET":
            return self.export(query)
        if parts == ["tickets", "show_many"] and method == "GET":
            return self.show_many(query)
        if parts and parts[0] == "tickets" and len(parts) >= 2 and parts[1].isdigit():
            tid = int(parts[1])
            if len(parts) == 2:
                if method == "GET":
                    return self.show(tid)
                if method == "PUT":
                    return self.update(tid, payload)
            if len(parts) == 3 and parts[2] == "tags":
                return self.tags(tid, method, payload)
            if len(parts) == 3 and parts[2] == "comments" and method == "GET":
                return self.list_comments(tid)
            if len(parts) == 3 and parts[2] == "audits" and method == "GET":
                return self.list_audits(tid)
        if parts == ["groups"] and method == "GET":
            with self.lock:
                return 200, {"groups": list(self.groups.values()), "next_page": None, "count": len(self.groups)}, {}
        if parts == ["organizations"] and method == "GET":
            with self.lock:
                return 200, {"organizations": list(self.orgs.values()), "next_page": None, "count": len(self.orgs)}, {}
        if parts == ["ticket_fields"] and method == "GET":
            return 200, {"ticket_fields": [
                {"id": REFUND_FIELD, "type": "decimal", "title": "refund_amount", "active": True},
                {"id": SEVERITY_FIELD, "type": "tagger", "title": "severity", "active": True,
                 "custom_field_options": [{"name": s.upper(), "value": s} for s in ("p0", "p1", "p2", "p3")]}],
                "next_page": None, "count": 2}, {}
        if parts == ["users", "me"] and method == "GET":
            with self.lock:
                return 200, {"user": self.users[1]}, {}
        if parts == ["search"] and method == "GET":
            return self.search(query)
        return _err(404, "InvalidEndpoint", "Not found")
