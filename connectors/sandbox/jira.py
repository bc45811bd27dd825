"""The Jira flavour: Cloud platform and Service Management endpoints tierlift and `jira` use.

JQL subset (AND-joined): `project = X` / `project in (X, Y)`, `updated >= "yyyy/MM/dd HH:mm"`
(also >, <=, <; interpreted in UTC here), `statusCategory != Done` / `statusCategory in (...)`,
`labels = x` / `labels in (...)`, `key in (A-1, A-2)`, then `ORDER BY updated|key|created ASC|DESC`.
Anything else is a 400 with a Jira-shaped error. Pagination: `nextPageToken`, `isLast`,
maxResults default 50, at most 5,000.

Edits take `update.comment: [{"add": {"body", "properties"}}]` as the API reference
describes (IssueUpdateDetails, Comment.properties), so a comment can ride in the edit.

Speed (a benchmark with 100,000 issues must measure tierlift, not this):
- seeded issues stay compact generator rows until first written (lazy.py);
  results render them without keeping them;
- an index sorted by (updated, key number) serves the poll's shape, `... AND
  updated >= X ORDER BY updated ASC`: candidates start at a bisect and the scan
  stops once the page is full; its nextPageToken is a position in that order,
  not an offset (an issue updated between pages moves to the end, and an
  offset would skip one). Other queries scan every issue, as before.
"""

from __future__ import annotations

import base64
import random
import re
import threading
from bisect import bisect_left, insort
from datetime import UTC, datetime, timedelta
from typing import Any

from tierlift.connectors.sandbox.jira_work import JiraWork
from tierlift.connectors.sandbox.lazy import Lazy
from tierlift.connectors.sandbox.store import TEAMS, SandboxClock, jira_time
from tierlift.connectors.sandbox.users import People, Person

Response = tuple[int, dict[str, Any], dict[str, str]]
STATUSES = {"new": ("To Do", "new"), "open": ("In Progress", "indeterminate"), "pending": ("Waiting for customer", "indeterminate"),
            "hold": ("Waiting for customer", "indeterminate"), "solved": ("Resolved", "done")}
PRIORITIES = {None: "Medium", "low": "Low", "normal": "Medium", "high": "High", "urgent": "Highest"}
CUSTOM = {"customfield_10050": "Plan", "customfield_10051": "ARR", "customfield_10052": "Health score",
          "customfield_10053": "Organization", "customfield_10054": "Refund amount",
          "customfield_10055": "Primary contact", "customfield_10056": "Team"}


def _err(status: int, *messages: str) -> Response:
    return status, {"errorMessages": list(messages), "errors": {}}, {}


def _account(name: str) -> str:
    return "acc-" + re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")


def _number(key: Any) -> int | None:
    """SUP-12 -> 12: the seed (generator row) a key is built from."""
    if isinstance(key, str) and key.startswith("SUP-") and key[4:].isdigit():
        return int(key[4:])
    return None


CHURN_TEXT = "Any news on this? We are still affected."


class JiraData(JiraWork):
    def __init__(self, clock: SandboxClock):
        self.clock = clock
        self.lock = threading.RLock()
        self.base_url = ""
        self.rows: dict[int, dict[str, Any]] = {}  # seeded issues not built yet
        self.issues = Lazy(self.rows, self._build, _number, lambda n: f"SUP-{n}")
        self.order: dict[str, int] = {}
        self.raw: dict[str, dict[str, Any]] = {}
        self.deleted: set[str] = set()
        self.users = {_account(t): {"accountId": _account(t), "displayName": t, "active": True,
                                    "accountType": "atlassian"} for t in TEAMS}
        self.bot = {"accountId": "acc-tierlift-bot", "displayName": "tierlift bot", "active": True,
                    "emailAddress": "bot@example.com", "accountType": "atlassian"}
        self.people = People()
        self._index: list[tuple[float, int, str]] = []  # (updated, key number, key), sorted
        self._at: dict[str, tuple[float, int, str]] = {}
        self._max_n = 0

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
            self.__init__(self.clock)  # type: ignore[misc]
            self.base_url = base_url
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
            self._reindex(key, _row_time(s))

    def _build(self, n: int) -> None:
        with self.lock:
            s = self.rows.pop(n, None)
            if s is not None:
                self.issues.live[f"SUP-{n}"] = self._issue_of(s)

    def _issue_of(self, s: dict[str, Any]) -> dict[str, Any]:
        """The API record of a generator row, fresh on every call."""
        base_url = self.base_url
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
            "id": str(10000 + s["id"]), "key": key, "self": f"{base_url}/rest/api/2/issue/{10000 + s['id']}",
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
                "customfield_10050": {"value": org["plan"].capitalize()} if org else None,
                "customfield_10051": org["arr"] if org else None,
                "customfield_10052": org["health_score"] if org else None,
                "customfield_10053": org["name"] if org else None,
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
        issue = self.issues.live.get(key)
        if issue is not None:
            return issue
        n = _number(key)
        s = self.rows.get(n) if n is not None else None
        return self._issue_of(s) if s is not None else None

    # --- the (updated, key) index ---------------------------------------------------------
    def _reindex(self, key: str, updated: float) -> None:
        old = self._at.pop(key, None)
        if old is not None:
            i = bisect_left(self._index, old)
            if i < len(self._index) and self._index[i] == old:
                del self._index[i]
        entry = (updated, _number(key) or 0, key)
        insort(self._index, entry)
        self._at[key] = entry

    def _rebuild_index(self) -> None:
        entries = [(_parse(i["fields"]["updated"]).timestamp(), _number(k) or 0, k) for k, i in self.issues.live.items()]
        entries += [(_row_time(s), n, f"SUP-{n}") for n, s in self.rows.items()]
        self._index = sorted(entries)
        self._at = {e[2]: e for e in self._index}

    def _comment(self, key: str, n: int, body: str, public: bool, at: datetime, author: dict[str, Any]) -> dict[str, Any]:
        when = jira_time(at)
        return {"id": str(self.order.get(key, 0) * 1000 + n), "body": body, "author": author,
                "created": when, "updated": when, "jsdPublic": public,
                "self": f"{self.base_url}/rest/api/2/issue/{key}/comment/{n}"}

    def _touch(self, issue: dict[str, Any]) -> datetime:
        now = self.clock.now().replace(microsecond=0)
        prev = _parse(issue["fields"]["updated"])
        if now <= prev:
            now = prev + timedelta(seconds=1)
        issue["fields"]["updated"] = jira_time(now)
        if issue.get("key") in self.issues.live:
            self._reindex(issue["key"], now.timestamp())
        return now

    def put_raw(self, raw: dict[str, Any]) -> None:
        with self.lock:
            key = str(raw.get("key") or f"RAW-{len(self.raw) + 1}")
            self.raw[key] = raw

    def delete(self, key: str) -> None:
        with self.lock:
            self.deleted.add(key)

    def get(self, key_or_id: str) -> dict[str, Any] | None:
        if key_or_id in self.deleted:
            return None
        if key_or_id in self.issues:
            return self.issues[key_or_id]
        if key_or_id.isdigit():  # an issue id: 10000 + its number
            key = f"SUP-{int(key_or_id) - 10000}"
            issue = self.issues.get(key) if key not in self.deleted else None
            if issue is not None and issue["id"] == key_or_id:
                return issue
        return self.raw.get(key_or_id)

    def churn(self, count: int, seed: int) -> list[str]:
        """A customer follow-up on `count` open issues picked by `seed` (benchmarks' changes)."""
        with self.lock:
            open_keys = []
            for key in sorted(self.order, key=_number):
                if key in self.deleted:
                    continue
                issue = self.issues.live.get(key)
                done = (issue["fields"]["status"]["statusCategory"]["key"] == "done") if issue is not None else \
                    STATUSES.get(self.rows[self.order[key]]["status"], STATUSES["open"])[1] == "done"
                if not done:
                    open_keys.append(key)
            picked = sorted(random.Random(seed).sample(open_keys, min(count, len(open_keys))), key=_number)
            for key in picked:
                issue = self.issues[key]
                now = self._touch(issue)
                comments = issue["fields"]["comment"]["comments"]
                reporter = issue["fields"]["reporter"]
                comments.append(self._comment(key, len(comments) + 1, CHURN_TEXT, True, now, reporter))
                issue["fields"]["comment"]["total"] = len(comments)
            return picked

    # --- search ----------------------------------------------------------------------
    def search(self, params: dict[str, Any], v3: bool) -> Response:
        jql = str(params.get("jql") or "")
        try:
            match, order = _compile_jql(jql)
        except ValueError as exc:
            return _err(400, f"Error in the JQL Query: {exc}")
        max_results = min(int(params.get("maxResults") or 50), 5000)
        fields = params.get("fields") or ["id"]
        if isinstance(fields, str):
            fields = [f.strip() for f in fields.split(",") if f.strip()]
        expand = str(params.get("expand") or "")
        try:
            token = base64.b64decode(str(params["nextPageToken"])).decode() if params.get("nextPageToken") else ""
            since = _since(jql)
            with self.lock:
                if since is not None and not self.raw and (not token or token.startswith("k:")):
                    page, more = self._search_indexed(match, since, token, max_results)
                else:
                    page, more = self._search_all(match, order, int(token or 0), max_results)
                out = [self._project(i, fields, expand, v3) for i in page]
        except ValueError:
            return _err(400, "The nextPageToken is invalid.")
        body: dict[str, Any] = {"issues": out, "isLast": more is None}
        if more is not None:
            body["nextPageToken"] = base64.b64encode(more.encode()).decode()
        return 200, body, {}

    def _search_all(self, match, order, start: int, max_results: int) -> tuple[list[dict[str, Any]], str | None]:
        """Any query: every issue, matched and sorted; the token is an offset."""
        issues = [i for k in list(self.issues) if k not in self.deleted and (i := self._served(k)) is not None]
        rows = [i for i in issues + list(self.raw.values()) if match(i)]
        rows.sort(key=order)
        more = str(start + max_results) if start + max_results < len(rows) else None
        return rows[start:start + max_results], more

    def _search_indexed(self, match, since: float, token: str, max_results: int) -> tuple[list[dict[str, Any]], str | None]:
        """`... updated >= X ORDER BY updated ASC`: from a bisect, in index order, until the page is full."""
        if len(self._index) != len(self.issues):
            self._rebuild_index()  # an issue was added straight into the dict
        try:
            return self._scan(match, since, token, max_results)
        except _Stale:
            self._rebuild_index()  # an edit went straight into a dict
            return self._scan(match, since, token, max_results)

    def _scan(self, match, since: float, token: str, max_results: int) -> tuple[list[dict[str, Any]], str | None]:
        start: tuple[Any, ...] = (since - 60.0,)  # JQL has minute precision: begin early, match decides
        if token:
            _, ts, n = token.split(":")
            start = (float(ts), int(n), "\uffff")
        page: list[dict[str, Any]] = []
        for i in range(bisect_left(self._index, start), len(self._index)):
            entry = self._index[i]
            issue = self._served(entry[2]) if entry[2] not in self.deleted else None
            if issue is None:
                continue
            if _parse(issue["fields"]["updated"]).timestamp() != entry[0]:
                raise _Stale()
            if not match(issue):
                continue
            if len(page) == max_results:
                last = self._at[page[-1]["key"]]
                return page, f"k:{last[0]!r}:{last[1]}"
            page.append(issue)
        return page, None

    def _project(self, issue: dict[str, Any], fields: list[str], expand: str, v3: bool) -> dict[str, Any]:
        f = issue.get("fields") or {}
        if "*all" in fields or "*navigable" in fields:
            chosen = dict(f)
        else:
            chosen = {k: f.get(k) for k in fields if k not in ("id", "key") and k in f}
        if v3 and isinstance(chosen.get("description"), str):
            chosen["description"] = _adf(chosen["description"])
        out = {"id": issue.get("id"), "key": issue.get("key"), "self": issue.get("self"), "fields": chosen}
        if "changelog" in expand and "changelog" in issue:
            h = issue["changelog"]["histories"]
            out["changelog"] = {"startAt": 0, "maxResults": len(h), "total": len(h), "histories": h}
        return out

    # --- writes ----------------------------------------------------------------------
    def edit(self, key: str, payload: Any, caller: Person | None = None) -> Response:
        """PUT /issue/{key}: fields and update operations as one history by the caller; comments riding along."""
        with self.lock:
            issue = self.get(key)
            if issue is None or key in self.raw:
                return _err(404, "Issue does not exist or you do not have permission to see it.")
            if not isinstance(payload, dict):
                return _err(400, "expected a JSON object")
            f = issue["fields"]
            # update.comment [{"add": Comment}]: a comment riding in the edit (IssueUpdateDetails);
            # its `properties` may carry sd.public.comment {"internal": true}, as on POST .../comment.
            adds = [op.get("add") for op in (payload.get("update") or {}).get("comment", []) if isinstance(op, dict)]
            if any(not isinstance(c, dict) or not c.get("body") for c in adds):
                return 400, {"errorMessages": [], "errors": {"comment": "Comment body can not be empty!"}}, {}
            fields = dict(payload.get("fields") or {})
            labels = list(fields.pop("labels", f["labels"]))
            for op in (payload.get("update") or {}).get("labels", []):
                if "add" in op and op["add"] not in labels:
                    labels.append(op["add"])
                if "remove" in op and op["remove"] in labels:
                    labels.remove(op["remove"])
            error = self._check_fields(fields)
            if error:
                return error
            if "priority" in fields:
                fields["priority"] = {"name": fields["priority"]["name"]}
            items = self._field_items(issue, {"labels": labels, **fields})
            now = self._touch(issue)
            if items:
                self._history(issue, self.user_of(caller), items, now)
            for c in adds:
                self._append_comment(issue, c, servicedesk=False, now=now, caller=caller)
            return 204, {}, {}

    def _check_fields(self, fields: dict[str, Any]) -> Response | None:
        f_names = {"assignee", "priority", "summary", "description", "status"}
        for name, value in fields.items():
            if name == "assignee" and value and value.get("accountId") not in self.users:
                return 400, {"errorMessages": [], "errors": {"assignee": "User does not exist."}}, {}
            if name == "priority" and (not isinstance(value, dict) or value.get("name") not in PRIORITIES.values()):
                return 400, {"errorMessages": [], "errors": {"priority": "Priority name is not valid."}}, {}
            if name == "status":
                return 400, {"errorMessages": [], "errors": {"status": "Field 'status' cannot be set. It is not on the appropriate screen, or unknown."}}, {}
            if name not in CUSTOM and name not in f_names:
                return 400, {"errorMessages": [], "errors": {name: f"Field '{name}' cannot be set."}}, {}
        return None

    def assign(self, key: str, payload: Any, caller: Person | None = None) -> Response:
        return self.edit(key, {"fields": {"assignee": payload if payload and payload.get("accountId") else None}}, caller)

    def add_comment(self, key: str, payload: Any, *, servicedesk: bool, caller: Person | None = None) -> Response:
        with self.lock:
            issue = self.get(key)
            if issue is None or key in self.raw:
                return _err(404, "Issue does not exist or you do not have permission to see it.")
            if not isinstance(payload, dict) or not payload.get("body"):
                return _err(400, "Comment body can not be empty!")
            now = self._touch(issue)
            c = self._append_comment(issue, payload, servicedesk=servicedesk, now=now, caller=caller)
            if caller is not None:
                self.after_customer_comment(issue, caller, now)
            if servicedesk:
                return 201, {"id": c["id"], "body": c["body"], "public": c["jsdPublic"], "author": c["author"],
                             "created": {"iso8601": c["created"]}}, {}
            return 201, c, {}

    def _append_comment(self, issue: dict[str, Any], payload: dict[str, Any], *, servicedesk: bool,
                        now: datetime, caller: Person | None = None) -> dict[str, Any]:
        return self._comment_as(issue, payload, self.user_of(caller), servicedesk=servicedesk, now=now)

    def _comment_as(self, issue: dict[str, Any], payload: dict[str, Any], author: dict[str, Any], *,
                    servicedesk: bool, now: datetime) -> dict[str, Any]:
        body = payload["body"]
        if isinstance(body, dict):  # ADF from v3
            body = _adf_text(body)
        if servicedesk:
            public = bool(payload.get("public", True))
        else:
            public = True
            for prop in payload.get("properties") or []:
                if prop.get("key") == "sd.public.comment" and (prop.get("value") or {}).get("internal"):
                    public = False
        comments = issue["fields"]["comment"]["comments"]
        c = self._comment(issue["key"], len(comments) + 1, body, public, now, author)
        comments.append(c)
        issue["fields"]["comment"]["total"] = len(comments)
        return c

    def route(self, method: str, path: str, query: dict[str, str], payload: Any,
              caller: Person | None = None) -> Response:
        """Dispatch a /rest/... path; `caller` authors writes."""
        caller = caller or self.people.bot
        m = re.fullmatch(r"/rest/api/(2|3)/(.*)", path)
        if m:
            v3, rest = m.group(1) == "3", m.group(2).rstrip("/")
            if rest == "serverInfo":
                return 200, {"baseUrl": self.base_url, "version": "1001.0.0-SNAPSHOT", "versionNumbers": [1001, 0, 0],
                             "deploymentType": "Cloud", "buildNumber": 100289, "serverTitle": "tierlift sandbox"}, {}
            if rest == "myself":
                return 200, self.user_of(caller), {}
            if rest == "issue" and method == "POST":
                return self.create_issue(payload, caller)
            if rest == "field":
                # clauseNames as the real API gives them (the jira library caches on them).
                fields = [{"id": k, "key": k, "name": v, "custom": True, "schema": {"type": "any"},
                           "clauseNames": [f"cf[{k.split('_')[1]}]", v]} for k, v in CUSTOM.items()]
                fields += [{"id": k, "key": k, "name": k.capitalize(), "custom": False, "clauseNames": [k]} for k in
                           ("summary", "description", "status", "priority", "labels", "assignee", "reporter",
                            "created", "updated", "comment", "project", "resolutiondate")]
                return 200, fields, {}  # type: ignore[return-value]
            if rest == "search/jql":
                params = dict(query) if method == "GET" else (payload if isinstance(payload, dict) else {})
                return self.search(params, v3)
            if rest in ("user/search", "user/assignable/search"):
                q = (query.get("query") or query.get("username") or "").lower()
                found = [u for u in self.users.values() if q in u["displayName"].lower()]
                found.sort(key=lambda u: (u["displayName"].lower() != q, u["displayName"]))  # exact match first
                return 200, found, {}  # type: ignore[return-value]
            mi = re.fullmatch(r"issue/([^/]+)(/comment|/assignee|/changelog|/transitions)?", rest)
            if mi:
                key, sub = mi.group(1), mi.group(2)
                if sub is None and method == "GET":
                    with self.lock:
                        issue = self.get(key)
                        if issue is None:
                            return _err(404, "Issue does not exist or you do not have permission to see it.")
                        fields = query.get("fields", "*all").split(",")
                        return 200, self._project(issue, fields, query.get("expand", ""), v3), {}
                if sub is None and method == "PUT":
                    return self.edit(key, payload, caller)
                if sub == "/assignee" and method == "PUT":
                    return self.assign(key, payload, caller)
                if sub == "/transitions":
                    return self.transitions(key, method, payload, caller)
                if sub == "/comment" and method == "POST":
                    return self.add_comment(key, payload, servicedesk=False, caller=caller)
                if sub == "/comment" and method == "GET":
                    with self.lock:
                        issue = self.get(key)
                        if issue is None:
                            return _err(404, "Issue does not exist or you do not have permission to see it.")
                        cs = issue["fields"]["comment"]["comments"]
                        return 200, {"comments": cs, "total": len(cs), "startAt": 0, "maxResults": len(cs)}, {}
                if sub == "/changelog" and method == "GET":
                    with self.lock:
                        issue = self.get(key)
                        if issue is None:
                            return _err(404, "Issue does not exist or you do not have permission to see it.")
                        h = issue["changelog"]["histories"]
                        return 200, {"values": h, "total": len(h), "isLast": True, "startAt": 0, "maxResults": len(h)}, {}
        ms = re.fullmatch(r"/rest/servicedeskapi/request/([^/]+)/comment", path)
        if ms and method == "POST":
            return self.add_comment(ms.group(1), payload, servicedesk=True, caller=caller)
        return _err(404, "Not found")


def _parse(text: str) -> datetime:
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%f%z").astimezone(UTC)


def _adf(text: str) -> dict[str, Any]:
    return {"type": "doc", "version": 1, "content": [{"type": "paragraph", "content": [{"type": "text", "text": text}]}]}


def _adf_text(doc: dict[str, Any]) -> str:
    out: list[str] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if node.get("type") == "text":
                out.append(node.get("text", ""))
            for child in node.get("content", []) or []:
                walk(child)

    walk(doc)
    return "\n".join(out)


_CLAUSE = re.compile(r"\s+AND\s+", re.I)
_SINCE = re.compile(r"(?:^|\s)updated\s*(?:>=|>)\s*[\"']?([0-9/]+(?: [0-9:]+)?)[\"']?", re.I)


def _row_time(s: dict[str, Any]) -> float:
    """A pending row's `updated` as its served issue shows it: Jira times carry no
    sub-second part, so the index must not either (a running clock's instants do)."""
    return _parse(jira_time(s["created_at"])).timestamp()


class _Stale(Exception):
    """An index entry no longer matches its issue."""


def _since(jql: str) -> float | None:
    """The lower bound of `updated >= X` when the query is ordered by updated ascending (the poll's shape)."""
    jql = jql.strip()
    m = re.search(r"\s*ORDER\s+BY\s+(.+)$", jql, re.I)
    text, order = (jql[: m.start()], m.group(1)) if m else (jql, "updated")
    first = order.split(",")[0].split()
    if not first or first[0].lower() != "updated" or (len(first) > 1 and first[1].upper() == "DESC"):
        return None
    if re.search(r"\bOR\b", text, re.I):
        return None
    m = _SINCE.search(text)
    if not m:
        return None
    v = m.group(1)
    return datetime.strptime(v, "%Y/%m/%d %H:%M" if " " in v else "%Y/%m/%d").replace(tzinfo=UTC).timestamp()


def _compile_jql(jql: str):
    text = jql.strip()
    order_key = "updated"
    desc = False
    m = re.search(r"\s*ORDER\s+BY\s+(.+)$", text, re.I)
    if m:
        text = text[: m.start()].strip()
        first = m.group(1).split(",")[0].split()
        order_key = first[0].lower()
        desc = len(first) > 1 and first[1].upper() == "DESC"
        if order_key not in ("updated", "key", "created"):
            raise ValueError(f"ordering by '{order_key}' is not supported here")
    tests = []
    for clause in (c.strip() for c in _CLAUSE.split(text) if c.strip()) if text else []:
        tests.append(_clause(clause))

    def match(issue: dict[str, Any]) -> bool:
        try:
            return all(t(issue) for t in tests)
        except (KeyError, TypeError, ValueError, AttributeError):
            return False

    def order(issue: dict[str, Any]):
        f = issue.get("fields") or {}
        if order_key == "key":
            v: Any = int(str(issue.get("key", "X-0")).rsplit("-", 1)[-1] or 0)
        else:
            v = _parse(f.get(order_key) or "1970-01-01T00:00:00.000+0000").timestamp()
            v = (v, int(str(issue.get("key", "X-0")).rsplit("-", 1)[-1] or 0))
        return tuple(-x for x in v) if desc and isinstance(v, tuple) else (-v if desc else v)

    return match, order


def _values(text: str) -> list[str]:
    return [v.strip().strip('"').strip("'") for v in text.strip().strip("()").split(",") if v.strip()]


def _clause(clause: str):
    m = re.fullmatch(r"(\w+)\s*(=|!=|>=|<=|>|<|in|not in)\s*(.+)", clause, re.I)
    if not m:
        raise ValueError(f"cannot parse '{clause}'")
    field, op, value = m.group(1).lower(), m.group(2).lower(), m.group(3).strip()
    if field == "project":
        vals = set(_values(value))
        return lambda i: ((i.get("fields") or {}).get("project") or {}).get("key") in vals if op in ("=", "in") else \
            ((i.get("fields") or {}).get("project") or {}).get("key") not in vals
    if field in ("updated", "created"):
        v = value.strip('"').strip("'")
        at = datetime.strptime(v, "%Y/%m/%d %H:%M" if " " in v else "%Y/%m/%d").replace(tzinfo=UTC)
        cmp = {">=": lambda a: a >= at, ">": lambda a: a > at, "<=": lambda a: a <= at, "<": lambda a: a < at,
               "=": lambda a: a == at}.get(op)
        if cmp is None:
            raise ValueError(f"operator {op} for {field}")
        return lambda i: cmp(_parse(i["fields"][field]))
    if field == "statuscategory":
        vals = {v.lower() for v in _values(value)}
        names = {"done": "done", "to do": "new", "in progress": "indeterminate"}
        keys = {names.get(v, v) for v in vals}

        def cat(i):
            return i["fields"]["status"]["statusCategory"]["key"]
        return (lambda i: cat(i) in keys) if op in ("=", "in") else (lambda i: cat(i) not in keys)
    if field == "labels":
        vals = set(_values(value))
        if op in ("=", "in"):
            return lambda i: bool(vals & set(i["fields"].get("labels") or []))
        return lambda i: not (vals & set(i["fields"].get("labels") or []))
    if field == "key":
        vals = set(_values(value))
        return (lambda i: i.get("key") in vals) if op in ("=", "in") else (lambda i: i.get("key") not in vals)
    raise ValueError(f"field '{field}' is not supported here")
