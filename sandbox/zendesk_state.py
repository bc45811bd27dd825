"""Zendesk: what the helpdesk holds (tickets, comments, audits, metric sets, users,
groups, organizations) and the export's order; the base of every Zendesk mixin.

Invariants:
- one re-entrant lock guards all of it: the server is threaded and a test may
  read the store while the daemon writes through the API;
- seeded tickets stay compact generator rows until first written (lazy.py);
  a read renders them without keeping the result (`_served`);
- the export keeps its order as a sorted index of (generated_timestamp, id,
  source 0 ticket / 1 raw, key), updated on every change made through these
  methods (`_touch`), so a page is a bisect and a slice, not a sort of every
  ticket; edits made straight to the dicts (tests do that) are caught when a
  page meets a stale entry (zendesk_reads.py), and the index is rebuilt;
- every change moves updated_at / generated_timestamp forward, strictly, even
  on a frozen clock, and bumps `version` (search's cache key).
"""

from __future__ import annotations

from bisect import bisect_right, insort
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

from tierlift.sandbox import zendesk_rows as rows_
from tierlift.sandbox.lazy import Lazy
from tierlift.sandbox.store import TEAMS, SeededState, iso
from tierlift.sandbox.users import People, Person
from tierlift.sandbox.zendesk_rows import REQUESTER, requester_seed

OPEN = ("new", "open", "pending", "hold")
Entry = tuple[Any, ...]  # (generated_timestamp, id, source, key)


def _number(value: Any) -> Any:
    """A JSON number as the export orders it (anything else, booleans included, sorts as 0)."""
    return value if isinstance(value, int | float) and not isinstance(value, bool) else 0


class ZendeskState(SeededState):
    def _reset(self, base_url: str) -> None:
        super()._reset(base_url)
        self.tickets = Lazy(self.rows, self._build)
        self.comments = Lazy(self.rows, self._build)
        self.audits = Lazy(self.rows, self._build)
        self.metrics = Lazy(self.rows, self._build)
        self.users = Lazy(self.rows, self._build, requester_seed, lambda s: REQUESTER + s)
        self.raw: dict[int, dict[str, Any]] = {}  # poison tickets, served as they are
        self.orgs: dict[int, dict[str, Any]] = {}
        self.groups: dict[int, dict[str, Any]] = {}
        self.deleted: set[int] = set()
        self.bot_id = 1
        self.version = 0  # bumped by every change made through these methods
        self._order: list[Entry] = []  # the export order, sorted
        self._at: dict[tuple[int, int], Entry] = {}
        self._max_id = 0
        self._open: tuple[int, bool, list[int]] | None = None  # (version, open only, ids) for search
        self.jobs: dict[str, dict[str, Any]] = {}  # update_many job statuses
        self.people = People()
        self.audit_log: list[dict[str, Any]] = []  # every audit made through the API, in order (ticket events)
        self.metric_events: list[dict[str, Any]] = []  # ticket metric events, in order

    # --- seeding ------------------------------------------------------------------
    def load(self, scenarios: list[dict[str, Any]], base_url: str) -> None:
        with self.lock:
            self._reset(base_url)
            now = self.clock.now()
            self.users.live[1] = self._user(1, "tierlift bot", "bot@example.com", "admin")
            self.add_person(Person(2, "Agent Smith", "agent@example.com", "agent", token="agent-token"))
            for i, team in enumerate(TEAMS):
                gid = 360000001000 + i
                self.groups[gid] = rows_.group_record(base_url, gid, team, now)
            for s in scenarios:
                self._register(s, index=False)
            self._rebuild_index()

    # --- people -----------------------------------------------------------------------
    def add_person(self, person: Person) -> dict[str, Any]:
        """Register a user (agent with a team = member of that group) and its API record."""
        with self.lock:
            self.people.add(person)
            user = self._user(person.uid, person.name, person.email, person.role)
            gid = self.group_id(person.team) if person.team else None
            user["default_group_id"] = gid
            user["organization_id"] = person.extra.get("organization_id")
            self.users.live[person.uid] = user
            return user

    def group_id(self, team: str | None) -> int | None:
        return next((g for g, rec in self.groups.items() if rec["name"] == team), None)

    def _user(self, uid: int, name: str, email: str, role: str) -> dict[str, Any]:
        return rows_.user_record(self.base_url, uid, name, email, role)

    def _register(self, s: dict[str, Any], index: bool = True) -> None:
        """Keep a generator row as a pending ticket (built on first write)."""
        tid = s["id"]
        org = s["org"]
        if org and org["id"] not in self.orgs:
            self.orgs[org["id"]] = rows_.org_record(self.base_url, org, s["created_at"])
        self.rows[tid] = s
        self._max_id = max(self._max_id, tid)
        if index:
            self._index(0, tid, int(s["created_at"].timestamp()), tid)
            self.version += 1
            self._changed(tid, "created")

    def _build(self, tid: int) -> None:
        """Make a pending ticket's records for keeps (lazy.py calls this)."""
        with self.lock:
            s = self.rows.pop(tid, None)
            if s is None:
                return
            self.tickets.live[tid] = rows_.ticket_of(s, self.base_url)
            comments = rows_.seed_comments(s, self.bot_id + 1)
            self.comments.live[tid] = comments
            self.audits.live[tid] = rows_.seed_audits(s, comments)
            self.metrics.live[tid] = rows_.metric_of(s, self.base_url)
            self.users.live[REQUESTER + tid] = rows_.requester_of(s, self.base_url)

    def _comment(self, tid: int, author: int, body: str, public: bool, at: datetime, n: int | None = None) -> dict[str, Any]:
        if n is None:
            n = len(self.comments.get(tid, [])) + 1
        return rows_.comment_record(tid, author, body, public, at, n)

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

    def _entries(self) -> Iterator[Entry]:
        for tid, t in self.tickets.live.items():
            yield (t.get("generated_timestamp") or 0, tid, 0, tid)
        for tid, s in self.rows.items():
            yield (int(s["created_at"].timestamp()), tid, 0, tid)
        for key, t in self.raw.items():
            ident = t.get("id") if isinstance(t.get("id"), int) and not isinstance(t.get("id"), bool) else key
            yield (_number(t.get("generated_timestamp")), ident, 1, key)

    def _rebuild_index(self) -> None:
        self._order = sorted(self._entries())
        self._at = {(e[2], e[3]): e for e in self._order}

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
        self._changed(t.get("id"), "updated")
        return now

    # --- tickets ----------------------------------------------------------------------
    def ticket(self, tid: int) -> dict[str, Any] | None:
        if tid in self.deleted:
            return None
        t: dict[str, Any] | None = self.raw.get(tid) or self.tickets.get(tid)
        return t

    def _served(self, tid: int) -> dict[str, Any] | None:
        """A ticket as a read serves it, without building a pending one for keeps."""
        if tid in self.deleted:
            return None
        t = self.raw.get(tid) or self.tickets.live.get(tid)
        if t is not None:
            return dict(t)
        s = self.rows.get(tid)
        return rows_.ticket_of(s, self.base_url) if s is not None else None

    def _exists(self, tid: int) -> bool:
        return tid not in self.deleted and (tid in self.raw or tid in self.tickets)

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
            ident = tid if isinstance(tid, int) and not isinstance(tid, bool) else key
            self._index(1, key, _number(raw.get("generated_timestamp")), ident)
            self.version += 1

    def delete(self, tid: int) -> None:
        with self.lock:
            self.deleted.add(tid)
            t = self.tickets.get(tid)
            if t:
                t["status"] = "deleted"
                self._touch(t)
            self.version += 1

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
