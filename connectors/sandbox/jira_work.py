"""Jira: what people do to issues through the API, and the changelog it leaves.

Mixed into JiraData (jira.py), which owns the issues; every method runs under its lock.

Invariants:
- the author of a comment or a changelog history is the caller (users.py);
  tierlift's own account is `acc-tierlift-bot`, customers are accountType
  "customer", the sandbox's automation rules "Automation for Jira" (accountType
  "app"), as JSM shows them;
- every field change made through an edit, an assignment or a transition is
  one history with items shaped as the real changelog (field, fieldtype,
  fieldId, from, fromString, to, toString): labels as space-joined lists,
  assignee by accountId and display name, the team field by value, status by
  id and name;
- a customer's comment on an issue waiting for the customer, or resolved,
  moves it back to In Progress: a separate history by the automation user
  (JSM's "transition on comment" rule);
- a comment is customer-visible (`jsdPublic`) unless made internal through
  the `sd.public.comment` property or `public: false` on the Service
  Management endpoint.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from tierlift.connectors.sandbox.users import Person

Response = tuple[int, dict[str, Any], dict[str, str]]
AUTOMATION = {"accountId": "acc-automation-for-jira", "displayName": "Automation for Jira", "active": True,
              "accountType": "app"}
# status name -> (id, category key); the transitions the sandbox's workflow offers go to any of them.
WORKFLOW = {"To Do": ("1", "new"), "In Progress": ("3", "indeterminate"),
            "Waiting for customer": ("10001", "indeterminate"), "Resolved": ("5", "done")}
TRANSITIONS = {"11": "To Do", "21": "In Progress", "31": "Waiting for customer", "41": "Resolved"}
TEAM_FIELD = "customfield_10056"


def _err(status: int, *messages: str) -> Response:
    return status, {"errorMessages": list(messages), "errors": {}}, {}


class JiraWork:
    # Provided by JiraData.
    lock: Any
    base_url: str
    people: Any
    users: dict[str, dict[str, Any]]
    bot: dict[str, Any]

    # --- people -----------------------------------------------------------------------
    def add_person(self, person: Person) -> dict[str, Any]:
        with self.lock:
            self.people.add(person)
            rec = {"accountId": person.account, "displayName": person.name, "active": True,
                   "emailAddress": person.email, "accountType": "customer" if person.role == "end-user" else "atlassian",
                   "self": f"{self.base_url}/rest/api/2/user?accountId={person.account}"}
            self.users[person.account] = rec
            return rec

    def user_of(self, caller: Person | None) -> dict[str, Any]:
        if caller is None or caller is self.people.bot:
            return self.bot
        return self.users.get(caller.account) or self.add_person(caller)

    # --- the changelog ------------------------------------------------------------------
    def _history(self, issue: dict[str, Any], author: dict[str, Any], items: list[dict[str, Any]],
                 now: datetime) -> None:
        from tierlift.connectors.sandbox.store import jira_time

        histories = issue["changelog"]["histories"]
        histories.append({"id": str(int(issue["id"]) * 100 + len(histories) + 1), "author": author,
                          "created": jira_time(now), "items": items})

    @staticmethod
    def _item(field: str, before: Any, after: Any, *, field_id: str | None = None, fieldtype: str = "jira",
              ids: tuple[Any, Any] = (None, None)) -> dict[str, Any]:
        return {"field": field, "fieldtype": fieldtype, "fieldId": field_id or field, "from": ids[0],
                "fromString": before, "to": ids[1], "toString": after}

    def _set_status(self, issue: dict[str, Any], name: str) -> dict[str, Any] | None:
        """Move to a workflow status; the changelog item (None: already there)."""
        f = issue["fields"]
        before = f["status"]["name"]
        if before == name:
            return None
        sid, cat = WORKFLOW[name]
        f["status"] = {"name": name, "id": sid, "statusCategory": {"key": cat, "name": name}}
        if cat == "done":
            f["resolutiondate"] = f["updated"]
        elif WORKFLOW.get(before, ("", ""))[1] == "done":
            f["resolutiondate"] = None
        return self._item("status", before, name, ids=(WORKFLOW.get(before, ("",))[0] or None, sid))

    # --- endpoints ------------------------------------------------------------------------
    def create_issue(self, payload: Any, caller: Person) -> Response:
        """POST /issue: {"fields": {project, summary, description, issuetype, labels, reporter, ...}}."""
        fields = (payload or {}).get("fields") if isinstance(payload, dict) else None
        if not isinstance(fields, dict) or not fields.get("summary"):
            return 400, {"errorMessages": [], "errors": {"summary": "You must specify a summary of the issue."}}, {}
        if ((fields.get("project") or {}).get("key") or "SUP") != "SUP":
            return 400, {"errorMessages": [], "errors": {"project": "valid project is required"}}, {}
        with self.lock:
            now = self.clock.now().replace(microsecond=0)  # type: ignore[attr-defined]
            reporter_id = (fields.get("reporter") or {}).get("accountId") if caller.is_agent else None
            reporter_person = self.people.by_account.get(reporter_id) if reporter_id else caller
            person = reporter_person or caller
            desc = fields.get("description") or ""
            if isinstance(desc, dict):
                from tierlift.connectors.sandbox.jira import _adf_text

                desc = _adf_text(desc)
            key = self.add_issue(str(fields["summary"]), str(desc), now,  # type: ignore[attr-defined]
                                 tags=sorted(set(fields.get("labels") or [])), status="new",
                                 org=person.extra.get("org"))
            issue = self.issues[key]  # type: ignore[attr-defined]
            issue["fields"]["reporter"] = self.user_of(person)
            issue["changelog"]["histories"].clear()  # created through the API: no history yet
            for name, value in fields.items():
                if name.startswith("customfield_") and name in issue["fields"]:
                    issue["fields"][name] = value
            if isinstance(fields.get("assignee"), dict):
                issue["fields"]["assignee"] = self.users.get(fields["assignee"].get("accountId"))
            return 201, {"id": issue["id"], "key": key, "self": issue["self"]}, {}

    def transitions(self, key: str, method: str, payload: Any, caller: Person) -> Response:
        """GET /issue/{key}/transitions, POST {"transition": {"id"}} (a history by the caller)."""
        with self.lock:
            issue = self.get(key)  # type: ignore[attr-defined]
            if issue is None or key in self.raw:  # type: ignore[attr-defined]
                return _err(404, "Issue does not exist or you do not have permission to see it.")
            if method == "GET":
                return 200, {"transitions": [
                    {"id": tid, "name": name, "hasScreen": False, "isGlobal": True, "isInitial": False,
                     "isAvailable": True, "isConditional": False,
                     "to": {"name": name, "id": WORKFLOW[name][0],
                            "statusCategory": {"key": WORKFLOW[name][1], "name": name}}}
                    for tid, name in TRANSITIONS.items()]}, {}
            tid = str(((payload or {}).get("transition") or {}).get("id") or "") if isinstance(payload, dict) else ""
            if tid not in TRANSITIONS:
                return 400, {"errorMessages": [f"Transition id '{tid}' is not valid for this issue."], "errors": {}}, {}
            item = self._set_status(issue, TRANSITIONS[tid])
            now = self._touch(issue)  # type: ignore[attr-defined]
            if item is not None:
                self._history(issue, self.user_of(caller), [item], now)
            return 204, {}, {}

    def after_customer_comment(self, issue: dict[str, Any], caller: Person, now: datetime) -> None:
        """JSM's transition-on-comment automation: a customer's reply reopens a waiting or resolved issue."""
        if caller.is_agent:
            return
        name = issue["fields"]["status"]["name"]
        if name in ("Waiting for customer", "Resolved") or issue["fields"]["status"]["statusCategory"]["key"] == "done":
            item = self._set_status(issue, "In Progress")
            if item is not None:
                self._history(issue, AUTOMATION, [item], now)

    def apply_rule(self, key: str, fields: dict[str, Any], status: str | None = None,
                   comment: str | None = None, public: bool = True) -> None:
        """An automation rule acting on an issue (author: Automation for Jira)."""
        with self.lock:
            issue = self.get(key)  # type: ignore[attr-defined]
            if issue is None:
                return
            now = self._touch(issue)  # type: ignore[attr-defined]
            items = self._field_items(issue, fields)
            if status:
                item = self._set_status(issue, status)
                items += [item] if item else []
            if items:
                self._history(issue, AUTOMATION, items, now)
            if comment:
                self._comment_as(issue, {"body": comment, "public": public}, AUTOMATION, servicedesk=True, now=now)

    def _field_items(self, issue: dict[str, Any], fields: dict[str, Any]) -> list[dict[str, Any]]:
        """Set plain fields (labels, the team field, assignee); their changelog items."""
        f = issue["fields"]
        items = []
        for name, value in fields.items():
            if name == "labels":
                before = " ".join(f["labels"])
                f["labels"] = sorted(set(value))
                if " ".join(f["labels"]) != before:
                    items.append(self._item("labels", before, " ".join(f["labels"])))
            elif name == "assignee":
                old = f.get("assignee") or {}
                f["assignee"] = self.users.get((value or {}).get("accountId")) if value else None
                new = f["assignee"] or {}
                if old.get("accountId") != new.get("accountId"):
                    items.append(self._item("assignee", old.get("displayName"), new.get("displayName"),
                                            ids=(old.get("accountId"), new.get("accountId"))))
            elif f.get(name) != value:
                from tierlift.connectors.sandbox.jira import CUSTOM

                before = f.get(name)
                f[name] = value
                items.append(self._item(CUSTOM.get(name, name), _text(before), _text(value), field_id=name,
                                        fieldtype="custom" if name.startswith("customfield_") else "jira"))
        return items


def _text(value: Any) -> str | None:
    if isinstance(value, dict):
        return str(value.get("value") or value.get("name") or "")
    return None if value is None else str(value)
