"""Jira: what people and rules do to issues through the API (create, transition, automation).

Every method runs under JiraState's lock; jira_record.py keeps the changelog
and states its invariants.
"""

from __future__ import annotations

from typing import Any

from tierlift.sandbox.jira_record import AUTOMATION, WORKFLOW, JiraRecord
from tierlift.sandbox.jira_state import adf_text
from tierlift.sandbox.router import Call, Response, Router
from tierlift.sandbox.users import Person

MOVER = {"accountId": "acc-agent", "displayName": "Agent Smith", "active": True, "accountType": "atlassian"}
TRANSITIONS = {"11": "To Do", "21": "In Progress", "31": "Waiting for customer", "41": "Resolved"}
TEAM_FIELD = "customfield_10056"
NOT_FOUND = "Issue does not exist or you do not have permission to see it."


def _err(status: int, *messages: str) -> Response:
    return status, {"errorMessages": list(messages), "errors": {}}, {}


def hidden_from(caller: Person | None) -> bool:
    """A portal-only customer: no Browse projects, Edit issues or Transition issues permission,
    so the platform API's issue endpoints answer them 404 NOT_FOUND ("the issue is not found or
    the user does not have permission to view it", the reference's 404 of edit, comment and
    transitions). Customers create requests and comment through /rest/servicedeskapi."""
    return caller is not None and not caller.is_agent


def _transition_list() -> list[dict[str, Any]]:
    return [{"id": tid, "name": name, "hasScreen": False, "isGlobal": True, "isInitial": False,
             "isAvailable": True, "isConditional": False,
             "to": {"name": name, "id": WORKFLOW[name][0], "statusCategory": {"key": WORKFLOW[name][1], "name": name}}}
            for tid, name in TRANSITIONS.items()]


class JiraWork(JiraRecord):
    def create_issue(self, payload: Any, caller: Person) -> Response:
        """POST /issue: {"fields": {project, summary, description, issuetype, labels, reporter, ...}}."""
        fields = (payload or {}).get("fields") if isinstance(payload, dict) else None
        if not isinstance(fields, dict) or not fields.get("summary"):
            return 400, {"errorMessages": [], "errors": {"summary": "You must specify a summary of the issue."}}, {}
        if ((fields.get("project") or {}).get("key") or "SUP") != "SUP":
            return 400, {"errorMessages": [], "errors": {"project": "valid project is required"}}, {}
        with self.lock:
            key = self._new_issue(fields, caller)
            issue = self.issues[key]
            for name, value in fields.items():
                if name.startswith("customfield_") and name in issue["fields"]:
                    issue["fields"][name] = value
            if isinstance(fields.get("assignee"), dict):
                issue["fields"]["assignee"] = self.users.get(fields["assignee"].get("accountId"))
            return 201, {"id": issue["id"], "key": key, "self": issue["self"]}, {}

    def _new_issue(self, fields: dict[str, Any], caller: Person) -> str:
        """The issue built for keeps, reported by the caller (or whom an agent names), with no history yet."""
        now = self.clock.now().replace(microsecond=0)
        reporter_id = (fields.get("reporter") or {}).get("accountId") if caller.is_agent else None
        reporter_person = self.people.by_account.get(reporter_id) if reporter_id else caller
        person = reporter_person or caller
        desc = fields.get("description") or ""
        if isinstance(desc, dict):
            desc = adf_text(desc)
        org = person.extra.get("org")
        key = self.add_issue(str(fields["summary"]), str(desc), now, tags=sorted(set(fields.get("labels") or [])),
                             status="new", org=org if isinstance(org, dict) else None)
        issue = self.issues[key]
        issue["fields"]["reporter"] = self.user_of(person)
        issue["changelog"]["histories"].clear()  # created through the API: no history yet
        return key

    def transitions(self, key: str, method: str, payload: Any, caller: Person) -> Response:
        """GET /issue/{key}/transitions, POST {"transition": {"id"}} (a history by the caller)."""
        with self.lock:
            issue = self.get(key)
            if issue is None or key in self.raw or hidden_from(caller):
                return _err(404, NOT_FOUND)
            if method == "GET":
                return 200, {"transitions": _transition_list()}, {}
            tid = str(((payload or {}).get("transition") or {}).get("id") or "") if isinstance(payload, dict) else ""
            if tid not in TRANSITIONS:
                return 400, {"errorMessages": [f"Transition id '{tid}' is not valid for this issue."], "errors": {}}, {}
            item = self._set_status(issue, TRANSITIONS[tid])
            now = self._touch(issue)
            if item is not None:
                self._history(issue, self.user_of(caller), [item], now)
            return 204, {}, {}

    def apply_rule(self, key: str, fields: dict[str, Any], status: str | None = None,
                   comment: str | None = None, public: bool = True) -> None:
        """An automation rule acting on an issue (author: Automation for Jira)."""
        with self.lock:
            issue = self.get(key)
            if issue is None:
                return
            now = self._touch(issue)
            items = self._field_items(issue, fields)
            if status:
                item = self._set_status(issue, status)
                items += [item] if item else []
            if items:
                self._history(issue, AUTOMATION, items, now)
            if comment:
                self._comment_as(issue, {"body": comment, "public": public}, AUTOMATION, servicedesk=True, now=now)

    def move_issue(self, key: str, project: str, by: dict[str, Any] | None = None) -> str:
        """A person moves an issue to `project` (SUP itself: out and back): its new key is the next
        of that project, its id stays, one history by `by` (an agent) records the 'Key' and
        'project' items, and the old key keeps answering reads and writes with the moved issue,
        as Jira redirects an old key. Returns the new key (KeyError: no such issue)."""
        with self.lock:
            issue = self.get(key)
            if issue is None or key in self.raw:
                raise KeyError(key)
            old = str(issue["key"])
            issue = self.issues[old]  # built for keeps
            if project == "SUP":
                n = self._max_n = max(self._max_n, max(self.order.values(), default=0)) + 1
                new = f"SUP-{n}"
            else:
                taken = [k for k in [*self.issues.live, *self.moved] if k.startswith(f"{project}-")]
                new = f"{project}-{len(taken) + 1}"
            self.projects.setdefault(project, project.capitalize())
            before = dict(issue["fields"].get("project") or {"key": "SUP", "name": "Support"})
            del self.issues.live[old]
            self._unindex(old)
            self.order[new] = self.order.pop(old, 0)
            self.moved[old] = new
            issue["key"] = new
            issue["fields"]["project"] = {"key": project, "name": self.projects[project]}
            self.issues.live[new] = issue
            now = self._touch(issue)
            items = [self._item("Key", old, new)]
            if before.get("key") != project:
                items.append(self._item("project", before.get("name"), self.projects[project],
                                        ids=(before.get("key"), project)))
            self._history(issue, by or MOVER, items, now)
            return new

    # --- endpoints ------------------------------------------------------------------------
    def _get_myself(self, call: Call) -> Response:
        return 200, self.user_of(call.caller), {}

    def _post_issue(self, call: Call) -> Response:
        return self.create_issue(call.payload, call.caller)

    def _any_transitions(self, call: Call) -> Response:
        return self.transitions(call.params["key"], call.method, call.payload, call.caller)


# Full paths: a trailing slash is allowed here, one only (as before the tables).
WORK_ROUTES = Router(
    ("GET", r"/rest/api/(?:2|3)/myself/?", JiraWork._get_myself),
    ("POST", r"/rest/api/(?:2|3)/issue/?", JiraWork._post_issue),
    ("*", r"/rest/api/(?:2|3)/issue/(?P<key>[^/]+)/transitions/?", JiraWork._any_transitions),
)
