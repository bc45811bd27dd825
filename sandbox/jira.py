"""The Jira flavour: Cloud platform and Service Management endpoints tierlift and `jira` use.

The data is split by responsibility, one mixin per module, all on one object:
jira_state.py (what the helpdesk holds, the (updated, key) index), jql.py (the
JQL subset), jira_record.py (users, comments, the changelog), jira_reads.py
(search and reads), jira_work.py (create, transitions, automation), and this
module (edits, assignment, comments, churn, and the route tables).

Edits take `update.comment: [{"add": {"body", "properties"}}]` as the API reference
describes (IssueUpdateDetails, Comment.properties), so a comment can ride in the edit.
A path no table routes is a 404 with a Jira-shaped error.

A portal-only customer (an end user) comments through /rest/servicedeskapi; the platform's
edit, assignee, transitions and comment answer them 404 as Jira does (jira_work.hidden_from).

Speed (a benchmark with 100,000 issues must measure tierlift, not this): seeded
issues stay generator rows until first written, and the poll's query is served
from a sorted index (see jira_reads.py).
"""

from __future__ import annotations

import json
import random
from typing import Any

from tierlift.sandbox.jira_reads import READ_ROUTES, JiraReads
from tierlift.sandbox.jira_state import CUSTOM, PRIORITIES, STATUSES, TEAM_FIELD, key_number
from tierlift.sandbox.jira_work import NOT_FOUND, WORK_ROUTES, JiraWork, hidden_from
from tierlift.sandbox.router import Call, Response, Router
from tierlift.sandbox.users import Person

__all__ = ["CHURN_TEXT", "CUSTOM", "PRIORITIES", "STATUSES", "JiraData"]
CHURN_TEXT = "Any news on this? We are still affected."
EDITABLE = {"assignee", "priority", "summary", "description", "status"}


def _err(status: int, *messages: str) -> Response:
    return status, {"errorMessages": list(messages), "errors": {}}, {}


def _field_error(name: str, message: str) -> Response:
    return 400, {"errorMessages": [], "errors": {name: message}}, {}


COMMENT_CHARS = 32_767  # Jira refuses a longer comment body (400, errors.comment)
TOO_LONG = f"The entered text is too long. It exceeds the allowed limit of {COMMENT_CHARS:,} characters."


def _too_long(body: Any) -> bool:
    """A comment body over Jira's limit: a string's characters, an ADF document's as JSON text."""
    return len(body if isinstance(body, str) else json.dumps(body)) > COMMENT_CHARS


def _comment_adds(update: dict[str, Any]) -> list[dict[str, Any]] | None:
    """update.comment [{"add": Comment}]: comments riding in the edit (IssueUpdateDetails); their
    `properties` may carry sd.public.comment {"internal": true}, as on POST .../comment. None: one has no body."""
    adds: list[Any] = [op.get("add") for op in update.get("comment", []) if isinstance(op, dict)]
    if any(not isinstance(c, dict) or not c.get("body") for c in adds):
        return None
    return adds


def _labels_after(current: list[str], fields: dict[str, Any], update: dict[str, Any]) -> list[str]:
    """The labels an edit leaves: `fields.labels` (popped: it is not checked as a field), then update ops."""
    labels = list(fields.pop("labels", current))
    for op in update.get("labels", []):
        if "add" in op and op["add"] not in labels:
            labels.append(op["add"])
        if "remove" in op and op["remove"] in labels:
            labels.remove(op["remove"])
    return labels


class JiraData(JiraWork, JiraReads):
    # --- writes ----------------------------------------------------------------------
    def edit(self, key: str, payload: Any, caller: Person | None = None) -> Response:
        """PUT /issue/{key}: fields and update operations as one history by the caller; comments riding along.
        A customer cannot edit (hidden_from)."""
        with self.lock:
            issue = self.get(key)
            if issue is None or key in self.raw or hidden_from(caller):
                return _err(404, NOT_FOUND)
            if not isinstance(payload, dict):
                return _err(400, "expected a JSON object")
            update = payload.get("update") or {}
            adds = _comment_adds(update)
            if adds is None:
                return _field_error("comment", "Comment body can not be empty!")
            if any(_too_long(c["body"]) for c in adds):
                return _field_error("comment", TOO_LONG)
            fields = dict(payload.get("fields") or {})
            labels = _labels_after(issue["fields"]["labels"], fields, update)
            error = self._check_fields(fields)
            if error:
                return error
            if "priority" in fields:
                fields["priority"] = {"name": fields["priority"]["name"]}
            if isinstance(fields.get(TEAM_FIELD), dict):  # a select option, stored as Jira serves it
                fields[TEAM_FIELD] = self._option(fields[TEAM_FIELD])
            items = self._field_items(issue, {"labels": labels, **fields})
            now = self._touch(issue)
            if items:
                self._history(issue, self.user_of(caller), items, now)
            for c in adds:
                self._append_comment(issue, c, servicedesk=False, now=now, caller=caller)
            return 204, {}, {}

    def _check_fields(self, fields: dict[str, Any]) -> Response | None:
        for name, value in fields.items():
            if name == "assignee" and value and value.get("accountId") not in self.users:
                return _field_error("assignee", "User does not exist.")
            if name == "priority" and (not isinstance(value, dict) or value.get("name") not in PRIORITIES.values()):
                return _field_error("priority", "Priority name is not valid.")
            if name == "status":
                return _field_error("status", "Field 'status' cannot be set. It is not on the appropriate screen, or unknown.")
            if name not in CUSTOM and name not in EDITABLE:
                return _field_error(name, f"Field '{name}' cannot be set.")
            error = self._team_error(value) if name == TEAM_FIELD and value is not None else None
            if error:
                return _field_error(name, error)
        return None

    def _team_error(self, value: Any) -> str | None:
        """Why a value cannot go into the Team field (None: it can): a select list takes an
        option, free text (no options) a string only, as Jira answers for a textfield."""
        if self.team_options is not None:
            return self._option_error(value)
        return None if isinstance(value, str) else "Operation value must be a string"

    def _option(self, value: dict[str, Any]) -> dict[str, Any]:
        """The Team field's option an edit names by id (if given) or value, as an issue shows it;
        the value was checked by _option_error, so one matches."""
        options: list[dict[str, Any]] = self.team_field_meta().get("allowedValues", [])
        if "id" in value:
            return next(o for o in options if o["id"] == str(value["id"]))
        return next(o for o in options if o["value"] == value.get("value"))

    def _option_error(self, value: Any) -> str | None:
        """Why a value cannot go into the Team field as a select list (None: it can): an
        option is set by {"value"} or {"id"}, as Jira's edit takes it."""
        options = self.team_options or []
        if not isinstance(value, dict) or not ({"value", "id"} & value.keys()):
            return "Could not find valid 'id' or 'value' in the Parent Option object."
        if "id" in value and str(value["id"]) not in {self.option_id(o) for o in options}:
            return f"Option id '{value['id']}' is not valid"
        if "value" in value and value["value"] not in options:
            return f"Option value '{value['value']}' is not valid"
        return None

    def assign(self, key: str, payload: Any, caller: Person | None = None) -> Response:
        return self.edit(key, {"fields": {"assignee": payload if payload and payload.get("accountId") else None}}, caller)

    def add_comment(self, key: str, payload: Any, *, servicedesk: bool, caller: Person | None = None) -> Response:
        """POST a comment: a customer's goes through the servicedesk API (the platform's is hidden_from them)."""
        with self.lock:
            issue = self.get(key)
            if issue is None or key in self.raw or not servicedesk and hidden_from(caller):
                return _err(404, NOT_FOUND)
            if not isinstance(payload, dict) or not payload.get("body"):
                return _err(400, "Comment body can not be empty!")
            if _too_long(payload["body"]):
                return _field_error("comment", TOO_LONG)
            now = self._touch(issue)
            c = self._append_comment(issue, payload, servicedesk=servicedesk, now=now, caller=caller)
            if caller is not None:
                self.after_customer_comment(issue, caller, now)
            if servicedesk:
                return 201, {"id": c["id"], "body": c["body"], "public": c["jsdPublic"], "author": c["author"],
                             "created": {"iso8601": c["created"]}}, {}
            return 201, c, {}

    def churn(self, count: int, seed: int, ids: list[Any] | None = None) -> list[str]:
        """A customer follow-up on `count` open issues picked by `seed` (benchmarks' changes),
        or on the open ones of `ids` (keys)."""
        with self.lock:
            open_keys = [key for key in sorted(self.order, key=lambda k: key_number(k) or 0)
                         if key not in self.deleted and self._is_open(key)]
            if ids is not None:
                wanted = {str(i) for i in ids}
                picked = [key for key in open_keys if key in wanted]
            else:
                picked = sorted(random.Random(seed).sample(open_keys, min(count, len(open_keys))),
                                key=lambda k: key_number(k) or 0)
            for key in picked:
                issue = self.issues[key]
                now = self._touch(issue)
                comments = issue["fields"]["comment"]["comments"]
                reporter = issue["fields"]["reporter"]
                comments.append(self._comment(key, len(comments) + 1, CHURN_TEXT, True, now, reporter))
                issue["fields"]["comment"]["total"] = len(comments)
            return picked

    # --- endpoints ------------------------------------------------------------------------
    def route(self, method: str, path: str, query: dict[str, str], payload: Any,
              caller: Person | None = None) -> Response:
        """Dispatch a /rest/... path; `caller` authors writes."""
        call = Call(method, path, query, payload, caller or self.people.bot)
        return (WORK_ROUTES.dispatch(self, call) or READ_ROUTES.dispatch(self, call)
                or WRITE_ROUTES.dispatch(self, call) or _err(404, "Not found"))

    def _put_issue(self, call: Call) -> Response:
        """With `returnIssue=true` the issue comes back (200) "with fields edited in this request",
        in Get issue's format with its `expand` (the reference's Edit issue); 204 without."""
        status, body, headers = self.edit(call.params["key"], call.payload, call.caller)
        if status != 204 or call.query.get("returnIssue") != "true":
            return status, body, headers
        edited = [*(call.payload.get("fields") or {}), *(call.payload.get("update") or {})]
        with self.lock:
            issue = self.get(call.params["key"])
            return 200, self._project(issue or {}, edited, call.query.get("expand", ""),
                                      call.params.get("v") == "3"), headers

    def _put_assignee(self, call: Call) -> Response:
        return self.assign(call.params["key"], call.payload, call.caller)

    def _post_comment(self, call: Call) -> Response:
        return self.add_comment(call.params["key"], call.payload, servicedesk=False, caller=call.caller)

    def _post_request_comment(self, call: Call) -> Response:
        return self.add_comment(call.params["key"], call.payload, servicedesk=True, caller=call.caller)


API = r"/rest/api/(?P<v>2|3)/"  # then the endpoint; trailing slashes are ignored
WRITE_ROUTES = Router(
    ("PUT", API + r"issue/(?P<key>[^/]+)/*", JiraData._put_issue),
    ("PUT", API + r"issue/(?P<key>[^/]+)/assignee/*", JiraData._put_assignee),
    ("POST", API + r"issue/(?P<key>[^/]+)/comment/*", JiraData._post_comment),
    ("POST", r"/rest/servicedeskapi/request/(?P<key>[^/]+)/comment", JiraData._post_request_comment),
)
