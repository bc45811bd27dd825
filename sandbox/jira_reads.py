"""Jira: the reads (JQL search, issues, comments, changelogs, fields, users, server info).

Invariants:
- pagination is `nextPageToken` / `isLast`, maxResults 50 by default and 5,000 at most;
- the poll's shape, `... AND updated >= X ORDER BY updated ASC`, is served from
  the (updated, key) index: candidates start at a bisect and the scan stops
  once the page is full; its token is a position in that order ("k:updated:n"),
  not an offset, so an issue updated between pages moves to the end and none
  is skipped. Other queries scan every issue and the token is an offset;
- a search that meets a stale index entry (an edit straight into a dict)
  rebuilds the index and scans again;
- v3 returns descriptions as ADF documents, v2 as text.
"""

from __future__ import annotations

import base64
from bisect import bisect_left
from datetime import UTC, tzinfo
from typing import Any
from zoneinfo import ZoneInfo

from tierlift.sandbox.jira_state import CUSTOM, PRIORITIES, TEAM_FIELD, JiraState, adf
from tierlift.sandbox.jql import Match, Order, compile_jql, named_keys, parse_time, since
from tierlift.sandbox.router import Call, Response, Router
from tierlift.sandbox.users import Person

Issue = dict[str, Any]
Page = tuple[list[Issue], str | None]  # the issues, and the next token (None: the last page)
NOT_FOUND = "Issue does not exist or you do not have permission to see it."
SYSTEM_FIELDS = ("summary", "description", "status", "priority", "labels", "assignee", "reporter",
                 "created", "updated", "comment", "project", "resolutiondate")


def _err(status: int, *messages: str) -> Response:
    return status, {"errorMessages": list(messages), "errors": {}}, {}


def _field_list(fields: Any) -> Any:
    """`fields` as a list (a comma-joined string, as GET sends it, or the list POST sends)."""
    if isinstance(fields, str):
        return [f.strip() for f in fields.split(",") if f.strip()]
    return fields


def _v3(call: Call) -> bool:
    return call.params.get("v") == "3"


class _Stale(Exception):
    """An index entry no longer matches its issue."""


class JiraReads(JiraState):
    # --- search ----------------------------------------------------------------------
    def search(self, params: dict[str, Any], v3: bool, zone: tzinfo = UTC) -> Response:
        """`zone`: the searching account's profile time zone, in which JQL dates are read."""
        jql = str(params.get("jql") or "")
        try:
            match, order = compile_jql(jql, zone)
        except ValueError as exc:
            return _err(400, f"Error in the JQL Query: {exc}")
        with self.lock:
            unknown = [k for k in named_keys(jql) if self.get(k) is None]
        if unknown:
            return _err(400, *(f"An issue with key '{k}' does not exist for field 'key'." for k in unknown))
        max_results = min(int(params.get("maxResults") or 50), 5000)
        fields = _field_list(params.get("fields") or ["id"])
        expand = str(params.get("expand") or "")
        try:
            token = base64.b64decode(str(params["nextPageToken"])).decode() if params.get("nextPageToken") else ""
            with self.lock:
                page, more = self._search_page(jql, zone, match, order, token, max_results)
                out = [self._project(i, fields, expand, v3) for i in page]
        except ValueError:
            return _err(400, "The nextPageToken is invalid.")
        body: dict[str, Any] = {"issues": out, "isLast": more is None}
        if more is not None:
            body["nextPageToken"] = base64.b64encode(more.encode()).decode()
        return 200, body, {}

    def _search_page(self, jql: str, zone: tzinfo, match: Match, order: Order, token: str, max_results: int) -> Page:
        lower = since(jql, zone)
        if lower is not None and not self.raw and (not token or token.startswith("k:")):
            return self._search_indexed(match, lower, token, max_results)
        return self._search_all(match, order, int(token or 0), max_results)

    def _search_all(self, match: Match, order: Order, start: int, max_results: int) -> Page:
        """Any query: every issue, matched and sorted; the token is an offset."""
        issues = [i for k in list(self.issues) if k not in self.deleted and (i := self._served(k)) is not None]
        rows = [i for i in issues + [r for k, r in self.raw.items() if k not in self.deleted] if match(i)]
        rows.sort(key=order)
        more = str(start + max_results) if start + max_results < len(rows) else None
        return rows[start:start + max_results], more

    def _search_indexed(self, match: Match, lower: float, token: str, max_results: int) -> Page:
        """`... updated >= X ORDER BY updated ASC`: from a bisect, in index order, until the page is full."""
        if len(self._index) != len(self.issues):
            self._rebuild_index()  # an issue was added straight into the dict
        try:
            return self._scan(match, lower, token, max_results)
        except _Stale:
            self._rebuild_index()  # an edit went straight into a dict
            return self._scan(match, lower, token, max_results)

    def _scan(self, match: Match, lower: float, token: str, max_results: int) -> Page:
        start: tuple[Any, ...] = (lower - 60.0,)  # JQL has minute precision: begin early, match decides
        if token:
            _, ts, n = token.split(":")
            start = (float(ts), int(n), "\uffff")
        page: list[Issue] = []
        for i in range(bisect_left(self._index, start), len(self._index)):
            entry = self._index[i]
            issue = self._served(entry[2]) if entry[2] not in self.deleted else None
            if issue is None:
                continue
            if parse_time(issue["fields"]["updated"]).timestamp() != entry[0]:
                raise _Stale()
            if not match(issue):
                continue
            if len(page) == max_results:
                last = self._at[page[-1]["key"]]
                return page, f"k:{last[0]!r}:{last[1]}"
            page.append(issue)
        return page, None

    def _project(self, issue: Issue, fields: list[str], expand: str, v3: bool) -> Issue:
        f = issue.get("fields") or {}
        if "*all" in fields or "*navigable" in fields:
            chosen = dict(f)
        else:
            chosen = {k: f.get(k) for k in fields if k not in ("id", "key") and k in f}
        if v3 and isinstance(chosen.get("description"), str):
            chosen["description"] = adf(chosen["description"])
        out = {"id": issue.get("id"), "key": issue.get("key"), "self": issue.get("self"), "fields": chosen}
        if "changelog" in expand and "changelog" in issue:
            h = issue["changelog"]["histories"]
            out["changelog"] = {"startAt": 0, "maxResults": len(h), "total": len(h), "histories": h}
        return out

    # --- endpoints ------------------------------------------------------------------------
    def _server_info(self, call: Call) -> Response:
        return 200, {"baseUrl": self.base_url, "version": "1001.0.0-SNAPSHOT", "versionNumbers": [1001, 0, 0],
                     "deploymentType": "Cloud", "buildNumber": 100289, "serverTitle": "tierlift sandbox"}, {}

    def _fields(self, call: Call) -> Response:
        # clauseNames as the real API gives them (the jira library caches on them).
        fields = [{"id": k, "key": k, "name": v, "custom": True,
                   "schema": self.team_field_meta()["schema"] if k == TEAM_FIELD else {"type": "any"},
                   "clauseNames": [f"cf[{k.split('_')[1]}]", v]} for k, v in CUSTOM.items()]
        fields += [{"id": k, "key": k, "name": k.capitalize(), "custom": False, "clauseNames": [k]}
                   for k in SYSTEM_FIELDS]
        return 200, fields, {}

    def _editmeta(self, call: Call) -> Response:
        """GET /issue/{key}/editmeta: the fields an edit may set (IssueUpdateMetadata), the
        Team field's options among them when it is a select list."""
        with self.lock:
            issue = self.get(call.params["key"])
            if issue is None:
                return _err(404, NOT_FOUND)
            fields: dict[str, Any] = {
                k: {"required": k == "summary", "name": k.capitalize(), "key": k, "operations": ["set"],
                    "schema": {"type": "string", "system": k}} for k in ("summary", "description")}
            fields["labels"] = {"required": False, "name": "Labels", "key": "labels", "operations": ["add", "set", "remove"],
                                "schema": {"type": "array", "items": "string", "system": "labels"}}
            fields["priority"] = {"required": False, "name": "Priority", "key": "priority", "operations": ["set"],
                                  "schema": {"type": "priority", "system": "priority"},
                                  "allowedValues": [{"name": n} for n in dict.fromkeys(PRIORITIES.values())]}
            fields[TEAM_FIELD] = self.team_field_meta()
            return 200, {"fields": fields}, {}

    def _search(self, call: Call) -> Response:
        payload = call.payload
        params = dict(call.query) if call.method == "GET" else (payload if isinstance(payload, dict) else {})
        return self.search(params, _v3(call), self._zone_of(call.caller))

    def _zone_of(self, caller: Person | None) -> tzinfo:
        """The caller's profile time zone (tierlift's account when the caller is not a person)."""
        account = self.bot if caller is None or caller is self.people.bot else self.users.get(caller.account) or {}
        try:
            return ZoneInfo(str(account.get("timeZone") or "UTC"))
        except (ValueError, KeyError):  # a zone this machine does not know: read as UTC
            return UTC

    def _user_search(self, call: Call) -> Response:
        q = (call.query.get("query") or call.query.get("username") or "").lower()
        found = [u for u in self.users.values() if q in u["displayName"].lower()]
        found.sort(key=lambda u: (u["displayName"].lower() != q, u["displayName"]))  # exact match first
        return 200, found, {}

    def _get_user(self, call: Call) -> Response:
        # GET /rest/api/3/user?accountId=...: the account, or 404 as Jira answers an unknown one.
        account = call.query.get("accountId", "")
        found = [u for u in self.users.values() if u.get("accountId") == account]
        if not found:
            return _err(404, "Specified user does not exist or you do not have required permissions")
        return 200, found[0], {}

    def _get_issue(self, call: Call) -> Response:
        with self.lock:
            issue = self.get(call.params["key"])
            if issue is None:
                return _err(404, NOT_FOUND)
            fields = call.query.get("fields", "*all").split(",")
            return 200, self._project(issue, fields, call.query.get("expand", ""), _v3(call)), {}

    def _get_project(self, call: Call) -> Response:
        """GET /project/{key}: the project (Project in the reference, its main fields), or 404
        as Jira answers a key that names no project (or one the caller may not browse)."""
        key = call.params["key"]
        with self.lock:
            names = dict(self.projects)
        found = [(n, k) for n, k in enumerate(names, 10000) if key in (k, str(n))]
        if not found:
            return _err(404, f"No project could be found with key '{key}'.")
        pid, pkey = found[0]
        return 200, {"self": f"{self.base_url}/rest/api/2/project/{pid}", "id": str(pid), "key": pkey,
                     "name": names[pkey], "projectTypeKey": "service_desk", "simplified": False, "style": "classic",
                     "isPrivate": False}, {}

    def _get_comments(self, call: Call) -> Response:
        with self.lock:
            issue = self.get(call.params["key"])
            if issue is None:
                return _err(404, NOT_FOUND)
            cs = issue["fields"]["comment"]["comments"]
            return 200, {"comments": cs, "total": len(cs), "startAt": 0, "maxResults": len(cs)}, {}

    def _get_changelog(self, call: Call) -> Response:
        with self.lock:
            issue = self.get(call.params["key"])
            if issue is None:
                return _err(404, NOT_FOUND)
            h = issue["changelog"]["histories"]
            return 200, {"values": h, "total": len(h), "isLast": True, "startAt": 0, "maxResults": len(h)}, {}


API = r"/rest/api/(?P<v>2|3)/"  # then the endpoint; trailing slashes are ignored
READ_ROUTES = Router(
    ("*", API + r"serverInfo/*", JiraReads._server_info),
    ("*", API + r"field/*", JiraReads._fields),
    ("*", API + r"search/jql/*", JiraReads._search),
    ("*", API + r"user/(?:assignable/)?search/*", JiraReads._user_search),
    ("GET", API + r"user/*", JiraReads._get_user),
    ("GET", API + r"issue/(?P<key>[^/]+)/*", JiraReads._get_issue),
    ("GET", API + r"issue/(?P<key>[^/]+)/comment/*", JiraReads._get_comments),
    ("GET", API + r"issue/(?P<key>[^/]+)/changelog/*", JiraReads._get_changelog),
    ("GET", API + r"issue/(?P<key>[^/]+)/editmeta/*", JiraReads._editmeta),
    ("GET", API + r"project/(?P<key>[^/]+)/*", JiraReads._get_project),
)
