"""Jira: the record a change leaves (users, comments, changelog histories).

Every method runs under JiraState's lock (its callers take it).

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

from tierlift.sandbox.jira_state import CUSTOM, JiraState, adf_text
from tierlift.sandbox.store import jira_time
from tierlift.sandbox.users import Person

AUTOMATION = {"accountId": "acc-automation-for-jira", "displayName": "Automation for Jira", "active": True,
              "accountType": "app"}
# status name -> (id, category key); the transitions the sandbox's workflow offers go to any of them.
WORKFLOW = {"To Do": ("1", "new"), "In Progress": ("3", "indeterminate"),
            "Waiting for customer": ("10001", "indeterminate"), "Resolved": ("5", "done")}


def _text(value: Any) -> str | None:
    if isinstance(value, dict):
        return str(value.get("value") or value.get("name") or "")
    return None if value is None else str(value)


def _public(payload: dict[str, Any], servicedesk: bool) -> bool:
    """Customer-visible: `public` on the Service Management endpoint, else unless marked internal."""
    if servicedesk:
        return bool(payload.get("public", True))
    internal = [prop for prop in payload.get("properties") or []
                if prop.get("key") == "sd.public.comment" and (prop.get("value") or {}).get("internal")]
    return not internal


class JiraRecord(JiraState):
    # --- people -----------------------------------------------------------------------
    def add_person(self, person: Person) -> dict[str, Any]:
        with self.lock:
            self.people.add(person)
            rec = {"accountId": person.account, "displayName": person.name, "active": True,
                   "emailAddress": person.email, "accountType": "customer" if person.role == "end-user" else "atlassian",
                   "timeZone": "UTC",
                   "self": f"{self.base_url}/rest/api/2/user?accountId={person.account}"}
            self.users[person.account] = rec
            return rec

    def user_of(self, caller: Person | None) -> dict[str, Any]:
        if caller is None or caller is self.people.bot:
            return self.bot
        return self.users.get(caller.account) or self.add_person(caller)

    # --- comments -----------------------------------------------------------------------
    def _comment_as(self, issue: dict[str, Any], payload: dict[str, Any], author: dict[str, Any], *,
                    servicedesk: bool, now: datetime) -> dict[str, Any]:
        body = payload["body"]
        if isinstance(body, dict):  # ADF from v3
            body = adf_text(body)
        comments = issue["fields"]["comment"]["comments"]
        c = self._comment(issue["key"], len(comments) + 1, body, _public(payload, servicedesk), now, author)
        comments.append(c)
        issue["fields"]["comment"]["total"] = len(comments)
        return c

    def _append_comment(self, issue: dict[str, Any], payload: dict[str, Any], *, servicedesk: bool,
                        now: datetime, caller: Person | None = None) -> dict[str, Any]:
        return self._comment_as(issue, payload, self.user_of(caller), servicedesk=servicedesk, now=now)

    def after_customer_comment(self, issue: dict[str, Any], caller: Person, now: datetime) -> None:
        """JSM's transition-on-comment automation: a customer's reply reopens a waiting or resolved issue."""
        if caller.is_agent:
            return
        name = issue["fields"]["status"]["name"]
        if name in ("Waiting for customer", "Resolved") or issue["fields"]["status"]["statusCategory"]["key"] == "done":
            item = self._set_status(issue, "In Progress")
            if item is not None:
                self._history(issue, AUTOMATION, [item], now)

    # --- the changelog ------------------------------------------------------------------
    def _history(self, issue: dict[str, Any], author: dict[str, Any], items: list[dict[str, Any]],
                 now: datetime) -> None:
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
                items += self._assignee_item(f, value)
            elif f.get(name) != value:
                before = f.get(name)
                f[name] = value
                items.append(self._item(CUSTOM.get(name, name), _text(before), _text(value), field_id=name,
                                        fieldtype="custom" if name.startswith("customfield_") else "jira"))
        return items

    def _assignee_item(self, f: dict[str, Any], value: Any) -> list[dict[str, Any]]:
        old = f.get("assignee") or {}
        account = (value or {}).get("accountId")
        f["assignee"] = self.users.get(account) if value and isinstance(account, str) else None
        new = f["assignee"] or {}
        if old.get("accountId") == new.get("accountId"):
            return []
        return [self._item("assignee", old.get("displayName"), new.get("displayName"),
                           ids=(old.get("accountId"), new.get("accountId")))]
