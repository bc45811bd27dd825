"""Zendesk: the reads (the cursor export and its side-loads, tickets, comments, search, fields).

Invariants:
- the cursor export returns tickets ordered by generated_timestamp, never
  ones updated in the last minute of helpdesk time, with absolute after_url;
- a page renders pending generator rows (zendesk_rows.py) without keeping them,
  side-loads included;
- a page that meets a stale index entry (a timestamp edited straight into a
  dict, as tests do) rebuilds the index and reads again;
- search keeps the sorted ids of open tickets until the next change:
  100 per page, 1,000 results at most (page 11 is a 422).
"""

from __future__ import annotations

import base64
import math
from bisect import bisect_right
from typing import Any
from urllib.parse import quote

from tierlift.sandbox import zendesk_rows as rows_
from tierlift.sandbox.router import Call, Response, Router
from tierlift.sandbox.store import REFUND_FIELD, SEVERITY_FIELD
from tierlift.sandbox.zendesk_rows import requester_seed
from tierlift.sandbox.zendesk_state import Entry, ZendeskState, _number

Row = dict[str, Any]
TICKET_FIELDS = [
    {"id": REFUND_FIELD, "type": "decimal", "title": "refund_amount", "active": True},
    {"id": SEVERITY_FIELD, "type": "tagger", "title": "severity", "active": True,
     "custom_field_options": [{"name": s.upper(), "value": s} for s in ("p0", "p1", "p2", "p3")]}]


def _err(status: int, error: str, description: str = "") -> Response:
    return status, {"error": error, "description": description or error}, {}


def _export_start(query: dict[str, str], now: float) -> tuple[tuple[float, int] | None, Response | None]:
    """Where an export page starts (after the cursor's (timestamp, id), or at start_time), or the 400."""
    if "cursor" in query:
        try:
            ts_s, _, id_s = base64.b64decode(query["cursor"]).decode().partition("||")
            return (float(ts_s), int(id_s.rstrip("|") or 0)), None
        except Exception:
            return None, _err(400, "InvalidPaginationParameter", "cursor is invalid")
    if "start_time" not in query:
        return None, _err(400, "InvalidValue", "start_time or cursor is required")
    try:
        start = int(query["start_time"])
    except ValueError:
        return None, _err(400, "InvalidValue", "start_time must be a unix time")
    if start > now - 60:
        return None, _err(400, "InvalidValue", "start_time is too recent; it must be at least one minute in the past")
    return (start - 0.5, 0), None


class ZendeskReads(ZendeskState):
    # --- the export ---------------------------------------------------------------------
    def export(self, query: dict[str, str]) -> Response:
        """GET /api/v2/incremental/tickets/cursor.json"""
        with self.lock:
            per_page = min(int(query.get("per_page", 1000)), 1000)
            pos, refused = _export_start(query, self.clock.now().timestamp())
            if pos is None:
                return refused or _err(400, "InvalidValue")
            horizon = self.clock.now().timestamp() - 60  # the last minute is never returned
            page, end = self._page(pos, horizon, per_page)
            last = page[-1][:2] if page else pos
            cursor = base64.b64encode(f"{last[0]:.1f}||{last[1]}|".encode()).decode()
            records = [self._record(e) for e in page]
            tickets = [dict(t) if s is None else t for t, s in records if t is not None]
            rows = {s["id"]: s for _, s in records if s is not None}
            body: dict[str, Any] = {
                "tickets": tickets,
                "after_url": f"{self.base_url}/api/v2/incremental/tickets/cursor.json?cursor={quote(cursor)}&per_page={per_page}",
                "after_cursor": cursor, "before_url": None, "before_cursor": None, "end_of_stream": end,
            }
            self._sideload(body, tickets, query.get("include", ""), rows)
            return 200, body, {}

    def _page(self, pos: tuple[float, int], horizon: float, per_page: int) -> tuple[list[Entry], bool]:
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

    def _record(self, entry: Entry) -> tuple[Row | None, Row | None]:
        """(ticket as served, its pending row if it is not built) for an index entry."""
        source, key = entry[2], entry[3]
        if source == 1:
            return self.raw.get(key), None
        t = self.tickets.live.get(key)
        if t is not None:
            return t, None
        s = self.rows.get(key)
        return (rows_.ticket_of(s, self.base_url), s) if s is not None else (None, None)

    @staticmethod
    def _stale(entry: Entry, t: Row | None) -> bool:
        return t is None or _number(t.get("generated_timestamp")) != entry[0]

    # --- side-loads ---------------------------------------------------------------------
    def _sideload(self, body: dict[str, Any], tickets: list[Row], include: str, rows: dict[int, Row] | None = None) -> None:
        """Sideloads; `rows` are the pending generator rows of tickets on the page (rendered, not kept)."""
        wanted = {w.strip() for w in include.split(",") if w.strip()}
        if "organizations" in wanted:
            org_ids = {t.get("organization_id") for t in tickets}
            body["organizations"] = [self.orgs[o] for o in org_ids if o in self.orgs]
        if "users" in wanted:
            body["users"] = self._sideload_users(tickets)
        if "groups" in wanted:
            body["groups"] = list(self.groups.values())
        if "metric_sets" in wanted:
            body["metric_sets"] = self._sideload_metrics(tickets, rows or {})

    def _sideload_users(self, tickets: list[Row]) -> list[Row]:
        uids = {u for t in tickets for u in (t.get("requester_id"), t.get("assignee_id"), t.get("submitter_id"))}
        users = []
        for u in uids:
            user = self.users.live.get(u)
            seed = requester_seed(u)
            if user is None and seed is not None and seed in self.rows:
                user = rows_.requester_of(self.rows[seed], self.base_url)
            if user is not None:
                users.append(user)
        return users

    def _sideload_metrics(self, tickets: list[Row], rows: dict[int, Row]) -> list[Row]:
        metrics = []
        for t in tickets:
            i: Any = t.get("id")
            m = self.metrics.live.get(i)
            s = (rows.get(i) or self.rows.get(i)) if m is None else None  # a pending row: render it
            if s is not None:
                m = rows_.metric_of(s, self.base_url)
            if m is not None:
                metrics.append(m)
        return metrics

    # --- tickets and comments -------------------------------------------------------------
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

    def list_comments(self, tid: int) -> Response:
        with self.lock:
            if not self._exists(tid):
                return _err(404, "RecordNotFound", "Not found")
            cs = self.comments.get(tid, [])
            return 200, {"comments": cs, "next_page": None, "previous_page": None, "count": len(cs)}, {}

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

    def customer_fields(self, kind: str) -> Response:
        """GET /organization_fields or /user_fields: one field per key the records carry
        (the seeded organizations' plan, arr, health_score, primary_contact)."""
        with self.lock:
            records = list(self.orgs.values()) if kind == "organization_fields" else list(self.users.live.values())
            keys = sorted({k for r in records for k in (r.get(kind) or {})})
        types = {"plan": "dropdown", "arr": "decimal", "health_score": "integer"}
        base = 360000000300 if kind == "organization_fields" else 360000000400
        fields = [{"id": base + i, "url": f"{self.base_url}/api/v2/{kind}/{base + i}.json", "key": k,
                   "title": k.replace("_", " ").capitalize(), "type": types.get(k, "text"), "active": True,
                   "position": i, "description": "", "raw_title": k.replace("_", " ").capitalize(),
                   "created_at": "2024-01-01T00:00:00Z", "updated_at": "2024-01-01T00:00:00Z"}
                  for i, k in enumerate(keys)]
        return 200, {kind: fields, "next_page": None, "previous_page": None, "count": len(fields)}, {}

    # --- endpoints ------------------------------------------------------------------------
    def _get_export(self, call: Call) -> Response:
        return self.export(call.query)

    def _get_show_many(self, call: Call) -> Response:
        return self.show_many(call.query)

    def _get_ticket(self, call: Call) -> Response:
        return self.show(call.number("tid"))

    def _get_comments(self, call: Call) -> Response:
        return self.list_comments(call.number("tid"))

    def _get_groups(self, call: Call) -> Response:
        with self.lock:
            return 200, {"groups": list(self.groups.values()), "next_page": None, "count": len(self.groups)}, {}

    def _get_orgs(self, call: Call) -> Response:
        with self.lock:
            return 200, {"organizations": list(self.orgs.values()), "next_page": None, "count": len(self.orgs)}, {}

    def _get_customer_fields(self, call: Call) -> Response:
        return self.customer_fields(call.params["kind"])

    def _get_ticket_fields(self, call: Call) -> Response:
        return 200, {"ticket_fields": TICKET_FIELDS, "next_page": None, "count": 2}, {}

    def _get_search(self, call: Call) -> Response:
        return self.search(call.query)


# Paths are under /api/v2/, without the .json suffix (zendesk.py strips both).
READ_ROUTES = Router(
    ("GET", r"incremental/tickets/cursor", ZendeskReads._get_export),
    ("GET", r"tickets/show_many", ZendeskReads._get_show_many),
    ("GET", r"tickets/(?P<tid>\d+)", ZendeskReads._get_ticket),
    ("GET", r"tickets/(?P<tid>\d+)/comments", ZendeskReads._get_comments),
    ("GET", r"groups", ZendeskReads._get_groups),
    ("GET", r"organizations", ZendeskReads._get_orgs),
    ("GET", r"(?P<kind>organization_fields|user_fields)", ZendeskReads._get_customer_fields),
    ("GET", r"ticket_fields", ZendeskReads._get_ticket_fields),
    ("GET", r"search", ZendeskReads._get_search),
)
