"""Jira: what the helpdesk holds (issues, users, raw and deleted keys) and the
(updated, key) index; the base of every Jira mixin.

Invariants:
- one re-entrant lock guards all of it (the server is threaded);
- seeded issues stay compact generator rows until first written (lazy.py);
  a read renders them without keeping them (`_served`);
- the index holds (updated, key number, key) for every issue, sorted; every
  change made through these methods moves `updated` forward, strictly (even on
  a frozen clock), and its entry with it (`_touch`); an edit made straight
  into a dict is caught by the search that meets it (jira_reads.py).
"""

from __future__ import annotations

import re
from bisect import bisect_left, insort
from datetime import datetime, timedelta
from typing import Any

from tierlift.sandbox.jql import parse_time
from tierlift.sandbox.lazy import Lazy
from tierlift.sandbox.store import TEAMS, SeededState, jira_time
from tierlift.sandbox.users import People

STATUSES = {"new": ("To Do", "new"), "open": ("In Progress", "indeterminate"), "pending": ("Waiting for customer", "indeterminate"),
            "hold": ("Waiting for customer", "indeterminate"), "solved": ("Resolved", "done")}
PRIORITIES = {None: "Medium", "low": "Low", "normal": "Medium", "high": "High", "urgent": "Highest"}
CUSTOM = {"customfield_10050": "Plan", "customfield_10051": "ARR", "customfield_10052": "Health score",
          "customfield_10053": "Organization", "customfield_10054": "Refund amount",
          "customfield_10055": "Primary contact", "customfield_10056": "Team"}
TEAM_FIELD = "customfield_10056"
SELECT = "com.atlassian.jira.plugin.system.customfieldtypes:select"
TEXT = "com.atlassian.jira.plugin.system.customfieldtypes:textfield"
IndexEntry = tuple[float, int, str]  # (updated, key number, key)


def _account(name: str) -> str:
    return "acc-" + re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")


def key_number(key: Any) -> int | None:
    """SUP-12 -> 12: the seed (generator row) a key is built from."""
    if isinstance(key, str) and key.startswith("SUP-") and key[4:].isdigit():
        return int(key[4:])
    return None


def row_time(s: dict[str, Any]) -> float:
    """A pending row's `updated` as its served issue shows it: Jira times carry no
    sub-second part, so the index must not either (a running clock's instants do)."""
    return parse_time(jira_time(s["created_at"])).timestamp()


def adf(text: str) -> dict[str, Any]:
    return {"type": "doc", "version": 1, "content": [{"type": "paragraph", "content": [{"type": "text", "text": text}]}]}


def adf_text(doc: dict[str, Any]) -> str:
    """The text of an Atlassian Document Format document (v3 bodies), paragraphs joined by newlines."""
    out: list[str] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if node.get("type") == "text":
                out.append(node.get("text", ""))
            for child in node.get("content", []) or []:
                walk(child)

    walk(doc)
    return "\n".join(out)


def _custom_fields(org: dict[str, Any] | None) -> dict[str, Any]:
    """The organization's custom fields of an issue (None without an organization)."""
    return {
        "customfield_10050": {"value": org["plan"].capitalize()} if org else None,
        "customfield_10051": org["arr"] if org else None,
        "customfield_10052": org["health_score"] if org else None,
        "customfield_10053": org["name"] if org else None,
    }


class JiraState(SeededState):
    def _reset(self, base_url: str) -> None:
        super()._reset(base_url)
        self.issues = Lazy(self.rows, self._build, key_number, lambda n: f"SUP-{n}")
        self.order: dict[str, int] = {}
        self.raw: dict[str, dict[str, Any]] = {}
        self.deleted: set[str] = set()
        # Keys an issue had before a move (old key -> the key it moved to): reads by an old key
        # answer with the moved issue, as Jira redirects them (jira_work.move_issue).
        self.moved: dict[str, str] = {}
        self.projects: dict[str, str] = {"SUP": "Support"}  # key -> name (GET /project/{key})
        self.users: dict[str, dict[str, Any]] = {_account(t): {"accountId": _account(t), "displayName": t, "active": True,
                                    "accountType": "atlassian"} for t in TEAMS}
        self.bot: dict[str, Any] = {"accountId": "acc-tierlift-bot", "displayName": "tierlift bot", "active": True,
                    "emailAddress": "bot@example.com", "accountType": "atlassian", "timeZone": "UTC"}
        self.people = People()
        # The Team field (customfield_10056): free text (None), or a single select list
        # with these options; the edit then takes {"value"} or {"id"} of one, as Jira does.
        self.team_options: list[str] | None = None
        self._index: list[IndexEntry] = []  # sorted
        self._at: dict[str, IndexEntry] = {}
        self._max_n = 0

    def option_id(self, value: str) -> str:
        """The id Jira gives a select option of the Team field (customFieldOption)."""
        return str(10100 + (self.team_options or []).index(value))

    def team_field_meta(self) -> dict[str, Any]:
        """The Team field's FieldMetadata as editmeta gives it (IssueUpdateMetadata.fields)."""
        custom_id = int(TEAM_FIELD.split("_")[1])
        meta: dict[str, Any] = {"required": False, "name": CUSTOM[TEAM_FIELD], "key": TEAM_FIELD,
                                "operations": ["set"], "schema": {"type": "string", "custom": TEXT, "customId": custom_id}}
        if self.team_options is not None:
            meta["schema"] = {"type": "option", "custom": SELECT, "customId": custom_id}
            meta["allowedValues"] = [{"self": f"{self.base_url}/rest/api/2/customFieldOption/{self.option_id(v)}",
                                      "value": v, "id": self.option_id(v), "disabled": False}
                                     for v in self.team_options]
        return meta

    def add_issue(self, subject: str, description: str, created_at: datetime, *, tags: list[str] | None = None,
                  status: str = "open", org: dict[str, Any] | None = None) -> str:
        """A new issue in the seeded shape (for rehearsals and tests); returns its key."""
        with self.lock:
            n = max(self._max_n, max(self.order.values(), default=0)) + 1
            self._add({"id": n, "subject": subject, "description": description, "tags": tags or [],
                       "created_at": created_at, "status": status, "org": org, "comments": [],
                       "priority": "normal", "refund": None})
            return f"SUP-{n}"

    def load(self, scenarios: list[dict[str, Any]], base_url: str) -> None:
        with self.lock:
            self._reset(base_url)
            for u in [*self.users.values(), self.bot]:
                u["self"] = f"{base_url}/rest/api/2/user?accountId={u['accountId']}"
            for s in scenarios:
                self._add(s, index=False)
            self._rebuild_index()

    def _add(self, s: dict[str, Any], index: bool = True) -> None:
        """Keep a generator row as a pending issue (built on first write)."""
        n = s["id"]
        key = f"SUP-{n}"
        self.rows[n] = s
        self.order[key] = n
        self._max_n = max(self._max_n, n)
        if index:
            self._reindex(key, row_time(s))
            self._changed(key, "created")

    def _build(self, n: int) -> None:
        with self.lock:
            s = self.rows.pop(n, None)
            if s is not None:
                self.issues.live[f"SUP-{n}"] = self._issue_of(s)

    def _issue_of(self, s: dict[str, Any]) -> dict[str, Any]:
        """The API record of a generator row, fresh on every call."""
        key = f"SUP-{s['id']}"
        created: datetime = s["created_at"]
        at = jira_time(created)
        org = s["org"]
        name, cat = STATUSES.get(s["status"], STATUSES["open"])
        comments = []
        for n, c in enumerate(s["comments"], 1):
            when = created + timedelta(minutes=c.get("after", 1))
            comments.append(self._comment(key, n, c["body"], c["public"], when,
                                          {"accountId": "acc-agent", "displayName": "Agent Smith"}))
        return {
            "id": str(10000 + s["id"]), "key": key, "self": f"{self.base_url}/rest/api/2/issue/{10000 + s['id']}",
            "fields": {
                "summary": s["subject"], "description": s["description"],
                "status": {"name": name, "statusCategory": {"key": cat, "name": name}},
                "priority": {"name": PRIORITIES.get(s["priority"], "Medium")},
                "labels": list(s["tags"]), "assignee": None,
                "reporter": {"accountId": f"cust-{s['id']}", "displayName": f"Customer {s['id']}",
                             "emailAddress": f"customer{s['id']}@example.org"},
                "created": at, "updated": at,
                "project": {"key": "SUP", "name": "Support"},
                "comment": {"comments": comments, "total": len(comments), "maxResults": len(comments), "startAt": 0},
                **_custom_fields(org),
                "customfield_10054": s["refund"],
                "customfield_10055": org["primary_contact"] if org else None,
                "customfield_10056": None,
                "resolutiondate": jira_time(created + timedelta(hours=1)) if cat == "done" else None,
            },
            "changelog": {"histories": [{"id": "1", "created": at,
                                         "items": [{"field": "status", "fromString": None, "toString": name}]}]},
        }

    def _served(self, key: str) -> dict[str, Any] | None:
        """An issue as a read serves it, without building a pending one for keeps."""
        issue: dict[str, Any] | None = self.issues.live.get(key)
        if issue is not None:
            return issue
        n = key_number(key)
        s = self.rows.get(n) if n is not None else None
        return self._issue_of(s) if s is not None else None

    # --- the (updated, key) index ---------------------------------------------------------
    def _reindex(self, key: str, updated: float) -> None:
        self._unindex(key)
        entry = (updated, key_number(key) or 0, key)
        insort(self._index, entry)
        self._at[key] = entry

    def _unindex(self, key: str) -> None:
        old = self._at.pop(key, None)
        if old is not None:
            i = bisect_left(self._index, old)
            if i < len(self._index) and self._index[i] == old:
                del self._index[i]

    def _rebuild_index(self) -> None:
        entries = [(parse_time(i["fields"]["updated"]).timestamp(), key_number(k) or 0, k)
                   for k, i in self.issues.live.items()]
        entries += [(row_time(s), n, f"SUP-{n}") for n, s in self.rows.items()]
        self._index = sorted(entries)
        self._at = {e[2]: e for e in self._index}

    def _comment(self, key: str, n: int, body: str, public: bool, at: datetime, author: dict[str, Any]) -> dict[str, Any]:
        when = jira_time(at)
        return {"id": str(self.order.get(key, 0) * 1000 + n), "body": body, "author": author,
                "created": when, "updated": when, "jsdPublic": public,
                "self": f"{self.base_url}/rest/api/2/issue/{key}/comment/{n}"}

    def _touch(self, issue: dict[str, Any]) -> datetime:
        now = self.clock.now().replace(microsecond=0)
        prev = parse_time(issue["fields"]["updated"])
        if now <= prev:
            now = prev + timedelta(seconds=1)
        issue["fields"]["updated"] = jira_time(now)
        if issue.get("key") in self.issues.live:
            self._reindex(issue["key"], now.timestamp())
        self._changed(issue.get("key"), "updated")
        return now

    # --- issues -----------------------------------------------------------------------
    def put_raw(self, raw: dict[str, Any]) -> None:
        with self.lock:
            key = str(raw.get("key") or f"RAW-{len(self.raw) + 1}")
            self.raw[key] = raw

    def delete(self, key: str) -> None:
        with self.lock:
            self.deleted.add(key)

    def get(self, key_or_id: str) -> dict[str, Any] | None:
        for _ in range(len(self.moved)):  # an old key: the issue under the key it moved to
            if key_or_id not in self.moved:
                break
            key_or_id = self.moved[key_or_id]
        if key_or_id in self.deleted:
            return None
        if key_or_id in self.issues:
            found: dict[str, Any] = self.issues[key_or_id]
            return found
        if key_or_id.isdigit():  # an issue id: 10000 + its number
            key = f"SUP-{int(key_or_id) - 10000}"
            issue: dict[str, Any] | None = self.issues.get(key) if key not in self.deleted else None
            if issue is None and key in self.moved:  # moved since: the id stays
                issue = self.get(key)
            if issue is not None and issue["id"] == key_or_id:
                return issue
        raw: dict[str, Any] | None = self.raw.get(key_or_id)
        return raw

    def _is_open(self, key: str) -> bool:
        issue = self.issues.live.get(key)
        if issue is not None:
            return bool(issue["fields"]["status"]["statusCategory"]["key"] != "done")
        return STATUSES.get(self.rows[self.order[key]]["status"], STATUSES["open"])[1] != "done"
