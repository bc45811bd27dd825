"""The Zendesk flavour: the parts of the Support API tierlift and zenpy use.

Shapes follow the real recorded responses in ../shared/reference/ (every key
of a recorded ticket, with the same JSON types). Behaviours that matter:
- the cursor export returns tickets ordered by generated_timestamp, never
  ones updated in the last minute of helpdesk time, with absolute after_url;
- a ticket update with safe_update answers 409 when updated_stamp is stale;
- every change appends to the ticket's comments and audits and moves
  updated_at / generated_timestamp forward (strictly, even on a frozen clock).

Speed (so that benchmarks with 100,000 tickets measure tierlift, not this):
- seeded tickets stay compact generator rows until first written (lazy.py);
  a page renders them without keeping the result;
- the export keeps its order as a sorted index of (generated_timestamp, id),
  updated on every change, so a page is a bisect and a slice, not a sort of
  every ticket. Edits made straight to the dicts (tests do that) are caught
  when a page meets a stale entry, and the index is rebuilt;
- search keeps the sorted ids of open tickets until the next change.
"""

from __future__ import annotations

import base64
import math
import random
import threading
from bisect import bisect_right, insort
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import quote

from tierlift.connectors.sandbox.lazy import Lazy
from tierlift.connectors.sandbox.store import REFUND_FIELD, SEVERITY_FIELD, TEAMS, SandboxClock, iso
from tierlift.connectors.sandbox.users import People, Person
from tierlift.connectors.sandbox.zendesk_work import ZendeskWork

Response = tuple[int, dict[str, Any], dict[str, str]]
REQUESTER = 100000  # a seeded ticket's requester is user REQUESTER + ticket id
OPEN = ("new", "open", "pending", "hold")
NONE_PAIR = {"calendar": None, "business": None}
CHURN_TEXT = "Any news on this? We are still affected."


def _err(status: int, error: str, description: str = "") -> Response:
    return status, {"error": error, "description": description or error}, {}


def _requester_seed(uid: Any) -> int | None:
    return uid - REQUESTER if isinstance(uid, int) and uid > REQUESTER else None


class ZendeskData(ZendeskWork):
    def __init__(self, clock: SandboxClock):
        self.clock = clock
        self.lock = threading.RLock()
        self.base_url = ""
        self.rows: dict[int, dict[str, Any]] = {}  # seeded tickets not built yet
        self.tickets = Lazy(self.rows, self._build)
        self.comments = Lazy(self.rows, self._build)
        self.audits = Lazy(self.rows, self._build)
        self.metrics = Lazy(self.rows, self._build)
        self.users = Lazy(self.rows, self._build, _requester_seed, lambda s: REQUESTER + s)
        self.raw: dict[int, dict[str, Any]] = {}  # poison tickets, served as they are
        self.orgs: dict[int, dict[str, Any]] = {}
        self.groups: dict[int, dict[str, Any]] = {}
        self.deleted: set[int] = set()
        self.bot_id = 1
        self.version = 0  # bumped by every change made through these methods
        # The export order: (generated_timestamp, id, source 0 ticket / 1 raw, key), sorted.
        self._order: list[tuple[Any, ...]] = []
        self._at: dict[tuple[int, int], tuple[Any, ...]] = {}
        self._max_id = 0
        self._open: tuple[int, bool, list[int]] | None = None  # (version, open only, ids) for search
        self.jobs: dict[str, dict[str, Any]] = {}  # update_many job statuses
        self.people = People()
        self.audit_log: list[dict[str, Any]] = []  # every audit made through the API, in order (ticket events)
        self.metric_events: list[dict[str, Any]] = []  # ticket metric events, in order

    # --- seeding ------------------------------------------------------------------
    def load(self, scenarios: list[dict[str, Any]], base_url: str) -> None:
        with self.lock:
            self.__init__(self.clock)  # type: ignore[misc]
            self.base_url = base_url
            now = self.clock.now()
            self.users.live[1] = self._user(1, "tierlift bot", "bot@example.com", "admin")
            self.add_person(Person(2, "Agent Smith", "agent@example.com", "agent", token="agent-token"))
            for i, team in enumerate(TEAMS):
                gid = 360000001000 + i
                self.groups[gid] = {"id": gid, "url": f"{base_url}/api/v2/groups/{gid}.json", "name": team,
                                    "description": "", "default": False, "deleted": False, "is_public": True,
                                    "created_at": iso(now - timedelta(days=400)), "updated_at": iso(now - timedelta(days=400))}
            for s in scenarios:
                self._register(s, index=False)
            self._rebuild_index()

    def _user(self, uid: int, name: str, email: str, role: str) -> dict[str, Any]:
        return {"id": uid, "url": f"{self.base_url}/api/v2/users/{uid}.json", "name": name,
                "email": email, "role": role, "active": True, "organization_id": None, "time_zone": "UTC"}

    def _register(self, s: dict[str, Any], index: bool = True) -> None:
        """Keep a generator row as a pending ticket (built on first write)."""
        tid = s["id"]
        org = s["org"]
        if org and org["id"] not in self.orgs:
            created = s["created_at"]
            self.orgs[org["id"]] = {
                "id": org["id"], "url": f"{self.base_url}/api/v2/organizations/{org['id']}.json", "name": org["name"],
                "domain_names": [], "details": "", "notes": "", "group_id": None, "shared_tickets": False,
                "shared_comments": False, "tags": [org["plan"]], "external_id": None,
                "created_at": iso(created - timedelta(days=300)), "updated_at": iso(created - timedelta(days=30)),
                "organization_fields": {"plan": org["plan"], "arr": org["arr"], "health_score": org["health_score"],
                                        "primary_contact": org["primary_contact"]}}
        self.rows[tid] = s
        self._max_id = max(self._max_id, tid)
        if index:
            self._index(0, tid, int(s["created_at"].timestamp()), tid)
            self.version += 1

    def _build(self, tid: int) -> None:
        """Make a pending ticket's records for keeps (lazy.py calls this)."""
        with self.lock:
            s = self.rows.pop(tid, None)
            if s is None:
                return
            self.tickets.live[tid] = self._ticket_of(s)
            comments, _ = self._seed_comments(s)
            self.comments.live[tid] = comments
            self.audits.live[tid] = [self._seed_audit(s)]
            self.metrics.live[tid] = self._metric_of(s)
            self.users.live[REQUESTER + tid] = self._requester_of(s)

    # Builders: the API records of a generator row, fresh on every call.
    def _ticket_of(self, s: dict[str, Any]) -> dict[str, Any]:
        tid = s["id"]
        created: datetime = s["created_at"]
        at = iso(created)
        org = s["org"]
        requester = REQUESTER + tid
        refund = None if s["refund"] is None else f"{s['refund']:.1f}"
        return {
            "url": f"{self.base_url}/api/v2/tickets/{tid}.json", "id": tid, "external_id": None,
            "via": {"channel": "email", "source": {"from": {}, "to": {}, "rel": None}},
            "created_at": at, "updated_at": at, "generated_timestamp": int(created.timestamp()),
            "type": None, "subject": s["subject"], "raw_subject": s["subject"], "description": s["description"],
            "priority": s["priority"], "status": s["status"], "recipient": None, "requester_id": requester,
            "submitter_id": requester, "assignee_id": None, "organization_id": org["id"] if org else None,
            "group_id": None, "collaborator_ids": [], "follower_ids": [], "email_cc_ids": [], "forum_topic_id": None,
            "problem_id": None, "has_incidents": False, "is_public": True, "due_at": None, "tags": list(s["tags"]),
            # Custom field values come back as strings (decimal fields too), per the API's schema.
            "custom_fields": [{"id": REFUND_FIELD, "value": refund}, {"id": SEVERITY_FIELD, "value": s["severity"]}],
            "satisfaction_rating": None, "sharing_agreement_ids": [], "custom_status_id": 1,
            "fields": [{"id": REFUND_FIELD, "value": refund}, {"id": SEVERITY_FIELD, "value": s["severity"]}],
            "followup_ids": [], "ticket_form_id": 360000000001, "brand_id": 360000000001, "allow_channelback": False,
            "allow_attachments": True, "from_messaging_channel": False,
        }

    def _requester_of(self, s: dict[str, Any]) -> dict[str, Any]:
        tid = s["id"]
        user = self._user(REQUESTER + tid, f"Customer {tid}", f"customer{tid}@example.org", "end-user")
        user["organization_id"] = s["org"]["id"] if s["org"] else None
        return user

    @staticmethod
    def _first_reply(s: dict[str, Any]) -> datetime | None:
        for c in s["comments"]:
            if c["public"] and c["by_agent"]:
                return s["created_at"] + timedelta(minutes=c.get("after", 1))
        return None

    def _seed_comments(self, s: dict[str, Any]) -> tuple[list[dict[str, Any]], datetime | None]:
        tid, created = s["id"], s["created_at"]
        requester = REQUESTER + tid
        out = [self._comment(tid, requester, s["description"], True, created, n=1)]
        for c in s["comments"]:
            at = created + timedelta(minutes=c.get("after", 1))
            out.append(self._comment(tid, self.bot_id + 1 if c["by_agent"] else requester, c["body"], c["public"], at,
                                     n=len(out) + 1))
        return out, self._first_reply(s)

    @staticmethod
    def _seed_audit(s: dict[str, Any]) -> dict[str, Any]:
        tid = s["id"]
        return {"id": tid * 1000, "ticket_id": tid, "created_at": iso(s["created_at"]), "author_id": REQUESTER + tid,
                "events": [{"id": tid * 1000 + 1, "type": "Create", "field_name": "status", "value": s["status"]}]}

    def _metric_of(self, s: dict[str, Any]) -> dict[str, Any]:
        tid, created = s["id"], s["created_at"]
        at = iso(created)
        first_reply = self._first_reply(s)
        minutes = int((first_reply - created).total_seconds() // 60) if first_reply else None
        return {
            "id": 500000 + tid, "ticket_id": tid, "url": f"{self.base_url}/api/v2/ticket_metrics/{500000 + tid}.json",
            "group_stations": 1, "assignee_stations": 1, "reopens": s["reopens"], "replies": 1 if first_reply else 0,
            "assignee_updated_at": None, "requester_updated_at": at, "status_updated_at": at,
            "initially_assigned_at": None, "assigned_at": None,
            "solved_at": iso(created + timedelta(hours=1)) if s["status"] == "solved" else None,
            "latest_comment_added_at": at,
            "reply_time_in_minutes": {"calendar": minutes, "business": minutes},
            "first_resolution_time_in_minutes": dict(NONE_PAIR),
            "full_resolution_time_in_minutes": dict(NONE_PAIR),
            "agent_wait_time_in_minutes": dict(NONE_PAIR),
            "requester_wait_time_in_minutes": dict(NONE_PAIR),
            "on_hold_time_in_minutes": dict(NONE_PAIR),
            "created_at": at, "updated_at": at,
        }

    def _comment(self, tid: int, author: int, body: str, public: bool, at: datetime, n: int | None = None) -> dict[str, Any]:
        if n is None:
            n = len(self.comments.get(tid, [])) + 1
        return {"id": tid * 10000 + n, "type": "Comment", "author_id": author, "body": body,
                "html_body": f"<p>{body}</p>", "plain_body": body, "public": public, "attachments": [],
                "audit_id": tid * 1000 + n, "via": {"channel": "api"}, "created_at": iso(at), "metadata": {}}

    # --- the export index ---------------------------------------------------------------
    def _index(self, source: int, key: int, gts: Any, ident: Any) -> None:
        old = self._at.pop((source, key), None)
        if old is not None:
            i = bisect_right(self._order, old) - 1
            if i >= 0 and self._order[i] == old:
                del self._order[i]
        entry = (gts if isinstance(gts, int | float) else 0, ident, source, key)
        insort(self._order, entry)
        self._at[(source, key)] = entry

    def _entries(self):
        for tid, t in self.tickets.live.items():
            yield (t.get("generated_timestamp") or 0, tid, 0, tid)
        for tid, s in self.rows.items():
            yield (int(s["created_at"].timestamp()), tid, 0, tid)
        for key, t in self.raw.items():
            gts = t.get("generated_timestamp")
            ident = t.get("id") if isinstance(t.get("id"), int) and not isinstance(t.get("id"), bool) else key
            yield (gts if isinstance(gts, int | float) and not isinstance(gts, bool) else 0, ident, 1, key)

    def _rebuild_index(self) -> None:
        self._order = sorted(self._entries())
        self._at = {(e[2], e[3]): e for e in self._order}

    def _record(self, entry: tuple[Any, ...]) -> tuple[dict[str, Any] | None, dict[str, Any] | None]:
        """(ticket as served, its pending row if it is not built) for an index entry."""
        source, key = entry[2], entry[3]
        if source == 1:
            return self.raw.get(key), None
        t = self.tickets.live.get(key)
        if t is not None:
            return t, None
        s = self.rows.get(key)
        return (self._ticket_of(s), s) if s is not None else (None, None)

    def _stale(self, entry: tuple[Any, ...], t: dict[str, Any] | None) -> bool:
        if t is None:
            return True
        gts = t.get("generated_timestamp")
        return (gts if isinstance(gts, int | float) and not isinstance(gts, bool) else 0) != entry[0]

    def _touch(self, t: dict[str, Any]) -> datetime:
        """Advance updated_at strictly, even when the clock is frozen."""
        now = self.clock.now().replace(microsecond=0)
        prev = datetime.fromisoformat(t["updated_at"].replace("Z", "+00:00"))
        if now <= prev:
            now = prev + timedelta(seconds=1)
        t["updated_at"] = iso(now)
        t["generated_timestamp"] = int(now.timestamp())
        if t.get("id") in self.tickets.live:
            self._index(0, t["id"], t["generated_timestamp"], t["id"])
        self.version += 1
        return now

    def ticket(self, tid: int) -> dict[str, Any] | None:
        if tid in self.deleted:
            return None
        return self.raw.get(tid) or self.tickets.get(tid)

    def _served(self, tid: int) -> dict[str, Any] | None:
        """A ticket as a read serves it, without building a pending one for keeps."""
        if tid in self.deleted:
            return None
        t = self.raw.get(tid) or self.tickets.live.get(tid)
        if t is not None:
            return dict(t)
        s = self.rows.get(tid)
        return self._ticket_of(s) if s is not None else None

    def add_ticket(self, subject: str, description: str, created_at: datetime, *, tags: list[str] | None = None,
                   status: str = "open", org: dict[str, Any] | None = None) -> int:
        """A new ticket in the seeded shape (for rehearsals and tests); returns its id."""
        with self.lock:
            tid = max(self._max_id, max(self.tickets.live, default=0)) + 1
            self._register({"id": tid, "subject": subject, "description": description, "tags": tags or [],
                            "created_at": created_at, "status": status, "org": org, "comments": [],
                            "priority": "normal", "refund": None, "severity": None, "reopens": 0})
            return tid

    def put_raw(self, raw: dict[str, Any]) -> None:
        with self.lock:
            tid = raw.get("id")
            key = tid if isinstance(tid, int) else -(len(self.raw) + 1)
            raw = dict(raw)
            raw.setdefault("generated_timestamp", int(self.clock.now().timestamp()) - 120)
            self.raw[key] = raw
            gts = raw.get("generated_timestamp")
            ident = tid if isinstance(tid, int) and not isinstance(tid, bool) else key
            self._index(1, key, gts if isinstance(gts, int | float) and not isinstance(gts, bool) else 0, ident)
            self.version += 1

    def delete(self, tid: int) -> None:
        with self.lock:
            self.deleted.add(tid)
            t = self.tickets.get(tid)
            if t:
                t["status"] = "deleted"
                self._touch(t)
            self.version += 1

    def churn(self, count: int, seed: int) -> list[int]:
        """A customer follow-up on `count` open tickets picked by `seed` (benchmarks' changes)."""
        with self.lock:
            open_ids = self._search_ids(True)
            picked = sorted(random.Random(seed).sample(open_ids, min(count, len(open_ids))))
            for tid in picked:
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
                self.audits[tid].append({"id": tid * 1000 + len(self.audits[tid]) + 1, "ticket_id": tid,
                                         "created_at": iso(now), "author_id": t["requester_id"],
                                         "events": [dict(e, id=i + 1) for i, e in enumerate(events)]})
            return picked

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
            page, end = self._page(pos, horizon, per_page)
            last = page[-1][:2] if page else pos
            cursor = base64.b64encode(f"{last[0]:.1f}||{last[1]}|".encode()).decode()
            records = [self._record(e) for e in page]
            tickets = [dict(t) if s is None else t for t, s in records]  # type: ignore[arg-type]
            rows = {s["id"]: s for _, s in records if s is not None}
            body: dict[str, Any] = {
                "tickets": tickets,
                "after_url": f"{self.base_url}/api/v2/incremental/tickets/cursor.json?cursor={quote(cursor)}&per_page={per_page}",
                "after_cursor": cursor, "before_url": None, "before_cursor": None, "end_of_stream": end,
            }
            self._sideload(body, tickets, query.get("include", ""), rows)
            return 200, body, {}

    def _page(self, pos: tuple[float, int], horizon: float, per_page: int) -> tuple[list[tuple[Any, ...]], bool]:
        """Index entries after `pos` up to `horizon`: at most per_page, and whether that is all."""
        for attempt in (0, 1):
            if len(self._order) != len(self.tickets) + len(self.raw):
                self._rebuild_index()  # a ticket was added straight into the dicts
            lo = bisect_right(self._order, (pos[0], pos[1], math.inf))
            hi = bisect_right(self._order, (horizon, math.inf))
            page = self._order[lo:min(hi, lo + per_page)] if hi > lo else []
            if attempt == 0 and any(self._stale(e, self._record(e)[0]) for e in page if e[2] == 1 or e[3] in self.tickets.live):
                self._rebuild_index()  # a timestamp was edited straight into a dict
                continue
            return page, hi - lo <= per_page
        return [], True

    def _sideload(self, body: dict[str, Any], tickets: list[dict[str, Any]], include: str,
                  rows: dict[int, dict[str, Any]] | None = None) -> None:
        """Sideloads; `rows` are the pending generator rows of tickets on the page (rendered, not kept)."""
        wanted = {w.strip() for w in include.split(",") if w.strip()}
        rows = rows or {}
        if "organizations" in wanted:
            org_ids = {t.get("organization_id") for t in tickets}
            body["organizations"] = [self.orgs[o] for o in org_ids if o in self.orgs]
        if "users" in wanted:
            uids = {u for t in tickets for u in (t.get("requester_id"), t.get("assignee_id"), t.get("submitter_id"))}
            users = []
            for u in uids:
                user = self.users.live.get(u)
                seed = _requester_seed(u)
                if user is None and seed is not None and seed in self.rows:
                    user = self._requester_of(self.rows[seed])
                if user is not None:
                    users.append(user)
            body["users"] = users
        if "groups" in wanted:
            body["groups"] = list(self.groups.values())
        if "metric_sets" in wanted:
            metrics = []
            for t in tickets:
                i = t.get("id")
                m = self.metrics.live.get(i)
                if m is None and i in rows:
                    m = self._metric_of(rows[i])
                elif m is None and i in self.rows:
                    m = self._metric_of(self.rows[i])
                if m is not None:
                    metrics.append(m)
            body["metric_sets"] = metrics

    def show(self, tid: int) -> Response:
        with self.lock:
            t = self._served(tid)
            if t is None:
                return _err(404, "RecordNotFound", "Not found")
            return 200, {"ticket": t}, {}

    def show_many(self, query: dict[str, str]) -> Response:
        with self.lock:
            try:
                ids = [int(x) for x in query.get("ids", "").split(",") if x]
            except ValueError:
                return _err(400, "InvalidValue", "ids must be numbers")
            tickets = [t for i in ids[:100] if (t := self._served(i)) is not None]
            body: dict[str, Any] = {"tickets": tickets, "next_page": None, "previous_page": None, "count": len(tickets)}
            self._sideload(body, tickets, query.get("include", ""))
            return 200, body, {}

    def update(self, tid: int, payload: Any, caller: Person | None = None) -> Response:
        """PUT /tickets/{id}: changes and a comment, authored by the caller (one audit)."""
        caller = caller or self.people.bot
        with self.lock:
            t = self.tickets.get(tid)
            if t is None or tid in self.deleted:
                return _err(404, "RecordNotFound", "Not found")
            if not caller.is_agent:
                return _err(403, "Forbidden", "You do not have access to this page. Please contact the account owner of this help desk for further help.")
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
            events = self._apply_changes(t, body)
            now = self._touch(t)
            comment = body.get("comment")
            if isinstance(comment, dict) and (comment.get("body") or comment.get("html_body")):
                author = comment.get("author_id") if isinstance(comment.get("author_id"), int) else caller.uid
                events.insert(0, self._add_comment(tid, author, comment.get("body") or comment.get("html_body"),
                                                   bool(comment.get("public", True)), now))
            audit = self._audit(tid, caller.uid, events, now)
            return 200, {"ticket": dict(t), "audit": audit}, {}

    def _apply_changes(self, t: dict[str, Any], body: dict[str, Any]) -> list[dict[str, Any]]:
        """Apply a ticket body's field and tag changes; the audit's Change events."""
        events = []
        for key in ("group_id", "assignee_id", "priority", "status"):
            if key in body and body[key] != t.get(key):
                events.append({"type": "Change", "field_name": key, "value": body[key], "previous_value": t.get(key)})
                t[key] = body[key]
        before = sorted(t["tags"])
        if "tags" in body:
            t["tags"] = sorted({str(x).lower() for x in body["tags"]})
        for key in ("additional_tags", "remove_tags"):
            if key in body:
                tags = set(t["tags"])
                tags = tags | {str(x).lower() for x in body[key]} if key == "additional_tags" else tags - {str(x).lower() for x in body[key]}
                t["tags"] = sorted(tags)
        if sorted(t["tags"]) != before:
            events.append({"type": "Change", "field_name": "tags", "value": list(t["tags"]), "previous_value": before})
        if "custom_fields" in body:
            for cf in body["custom_fields"]:
                for existing in t["custom_fields"]:
                    if existing["id"] == cf.get("id"):
                        existing["value"] = cf.get("value")
        return events

    def update_many(self, query: dict[str, str], payload: Any, caller: Person | None = None) -> Response:
        """PUT /tickets/update_many: {"tickets": [{"id", ...}]} (each its own change) or
        ?ids=1,2 with {"ticket": {...}} (one change for all), up to 100 tickets.
        Applied at once; reported as Zendesk does, through a job status."""
        if isinstance(payload, dict) and isinstance(payload.get("tickets"), list):
            items = [(t.get("id"), {"ticket": {k: v for k, v in t.items() if k != "id"}})
                     for t in payload["tickets"] if isinstance(t, dict)]
        elif isinstance(payload, dict) and isinstance(payload.get("ticket"), dict) and query.get("ids"):
            items = [(int(i), payload) for i in query["ids"].split(",") if i.strip().isdigit()]
        else:
            return _err(400, "InvalidValue", "expected {\"tickets\": [...]} or ?ids= with {\"ticket\": {...}}")
        if len(items) > 100:
            return _err(400, "TooManyValues", "update_many takes at most 100 tickets")
        results = []
        for tid, body in items:
            status, out, _ = self.update(tid, body, caller) if isinstance(tid, int) else (404, {}, {})
            results.append({"id": tid, "action": "update", "success": status == 200,
                            "status": "Updated" if status == 200 else "Failed",
                            **({} if status == 200 else {"errors": str(out.get("description") or out.get("error"))})})
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

    def _exists(self, tid: int) -> bool:
        return tid not in self.deleted and (tid in self.raw or tid in self.tickets)

    def list_comments(self, tid: int) -> Response:
        with self.lock:
            if not self._exists(tid):
                return _err(404, "RecordNotFound", "Not found")
            cs = self.comments.get(tid, [])
            return 200, {"comments": cs, "next_page": None, "previous_page": None, "count": len(cs)}, {}

    def _search_ids(self, open_only: bool) -> list[int]:
        """Ids of tickets (open ones, or all), not deleted, in id order; kept until the next change."""
        cached = self._open
        if cached is not None and cached[0] == self.version and cached[1] == open_only:
            return cached[2]
        ids = [tid for tid, t in self.tickets.live.items() if not open_only or t["status"] in OPEN]
        ids += [tid for tid, s in self.rows.items() if not open_only or s["status"] in OPEN]
        ids = sorted(tid for tid in ids if tid not in self.deleted)
        self._open = (self.version, open_only, ids)
        return ids

    def search(self, query: dict[str, str]) -> Response:
        """GET /api/v2/search.json: 100 per page, 1,000 results at most (page 11 is a 422)."""
        with self.lock:
            q = query.get("query", "")
            page = int(query.get("page", 1))
            per_page = min(int(query.get("per_page", 100)), 100)
            if page * per_page > 1000:
                return 422, {"error": "invalid", "description": "Invalid search: Requested response size was greater than Search Response Limits"}, {}
            ids = self._search_ids("status<solved" in q.replace(" ", ""))
            chunk = [t for i in ids[(page - 1) * per_page: page * per_page] if (t := self._served(i)) is not None]
            nxt = page + 1 if page * per_page < min(len(ids), 1000) else None
            return 200, {"results": [dict(t, result_type="ticket") for t in chunk], "count": len(ids),
                         "next_page": f"{self.base_url}/api/v2/search.json?query={quote(q)}&page={nxt}&per_page={per_page}" if nxt else None,
                         "previous_page": None}, {}

    def route(self, method: str, parts: list[str], query: dict[str, str], payload: Any,
              caller: Person | None = None) -> Response:
        """Dispatch /api/v2/... (parts without the prefix and the .json suffix); `caller` authors writes."""
        caller = caller or self.people.bot
        work = self.route_work(method, parts, query, payload, caller)
        if work is not None:
            return work
        if parts == ["incremental", "tickets", "cursor"] and method == "GET":
            return self.export(query)
        if parts == ["tickets", "update_many"] and method == "PUT":
            return self.update_many(query, payload, caller)
        if len(parts) == 2 and parts[0] == "job_statuses" and method == "GET":
            return self.job_status(parts[1])
        if parts == ["tickets", "show_many"] and method == "GET":
            return self.show_many(query)
        if parts and parts[0] == "tickets" and len(parts) >= 2 and parts[1].isdigit():
            tid = int(parts[1])
            if len(parts) == 2:
                if method == "GET":
                    return self.show(tid)
                if method == "PUT":
                    return self.update(tid, payload, caller)
            if len(parts) == 3 and parts[2] == "tags":
                return self.tags(tid, method, payload, caller)
            if len(parts) == 3 and parts[2] == "comments" and method == "GET":
                return self.list_comments(tid)
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
        if parts == ["search"] and method == "GET":
            return self.search(query)
        return _err(404, "InvalidEndpoint", "Not found")
