"""The floor's hands: each act is the REST request a person would make, with their own credentials.

Zendesk: end users write through /requests, agents through PUT /tickets/{id}
(one update carries the comment, the group, the tags and the status, as the
agent UI sends it). Jira: customers create issues and comment through the
Service Management endpoint; agents edit the team field and assignee, add
labels, comment (internal through sd.public.comment) and transition.

Invariant: a failed request raises (the floor records it); nothing here
writes to the store directly except the helpdesk's own trigger (a rule, as a
real helpdesk's trigger is), and `observe` only reads it.
"""

from __future__ import annotations

from typing import Any

import requests

from tierlift.sandbox.users import Person

JIRA_STATUS = {"pending": "31", "hold": "31", "solved": "41", "open": "21"}


class FloorError(RuntimeError):
    pass


class Acts:
    def __init__(self, sb: Any, session: requests.Session, team_field: str):
        self.sb, self.http, self.team_field = sb, session, team_field
        self.zendesk = sb.flavor == "zendesk"

    def _auth(self, p: Person) -> tuple[str, str]:
        return (f"{p.email}/token" if self.zendesk else p.email, p.token or "")

    def _call(self, method: str, path: str, p: Person, body: Any = None) -> Any:
        r = self.http.request(method, self.sb.url + path, json=body, auth=self._auth(p), timeout=30)
        if r.status_code >= 300:
            raise FloorError(f"{method} {path} as {p.email}: {r.status_code} {r.text[:200]}")
        return r.json() if r.content else None

    # --- observing (what the agent UI shows) --------------------------------------------------------
    def observe(self, key: Any) -> tuple[str | None, str]:
        """(team name, status) of a ticket as the helpdesk has it now."""
        data = self.sb.data
        with data.lock:
            if self.zendesk:
                t = data.tickets.live.get(key)
                if t is None:
                    return None, "closed"
                g = data.groups.get(t.get("group_id"))
                return (g["name"] if g else None), t["status"]
            issue = data.issues.live.get(key)
            if issue is None:
                return None, "closed"
            f = issue["fields"]
            team = f.get(self.team_field)
            team = team.get("value") if isinstance(team, dict) else team
            done = f["status"]["statusCategory"]["key"] == "done"
            return team, "solved" if done else ("pending" if f["status"]["name"] == "Waiting for customer" else "open")

    def tags(self, key: Any) -> list[str]:
        """The ticket's tags (Jira: labels) as the agent UI shows them."""
        data = self.sb.data
        with data.lock:
            if self.zendesk:
                t = data.tickets.live.get(key)
                return list(t.get("tags") or []) if t is not None else []
            issue = data.issues.live.get(key)
            return list(issue["fields"].get("labels") or []) if issue is not None else []

    # --- customers --------------------------------------------------------------------------------
    def create(self, customer: Person, subject: str, body: str) -> Any:
        if self.zendesk:
            out = self._call("POST", "/api/v2/requests.json", customer,
                             {"request": {"subject": subject, "comment": {"body": body}}})
            return out["request"]["id"]
        out = self._call("POST", "/rest/api/2/issue", customer, {"fields": {
            "project": {"key": "SUP"}, "summary": subject, "description": body, "issuetype": {"name": "Support"}}})
        return out["key"]

    def customer_comment(self, customer: Person, key: Any, body: str) -> None:
        if self.zendesk:
            self._call("PUT", f"/api/v2/requests/{key}.json", customer, {"request": {"comment": {"body": body}}})
        else:
            self._call("POST", f"/rest/servicedeskapi/request/{key}/comment", customer, {"body": body, "public": True})

    # --- the helpdesk's own trigger ------------------------------------------------------------------
    def trigger(self, key: Any, team: str | None, ack: str) -> None:
        """New-ticket trigger: file it with the entry team (if there is one) and acknowledge it (automated)."""
        data = self.sb.data
        if self.zendesk:
            body: dict[str, Any] = {"comment": {"body": ack, "public": True}}
            if team:
                body["group_id"] = data.group_id(team)
            data.apply_rule(key, "Notify requester and file new tickets", "trigger", body)
        else:
            data.apply_rule(key, {self.team_field: team} if team else {}, comment=ack)

    # --- agents -----------------------------------------------------------------------------------------
    def agent_update(self, agent: Person, key: Any, *, reply: str | None = None, note: str | None = None,
                     team: str | None = None, assignee: Person | None = None, status: str | None = None,
                     add_tags: list[str] | None = None) -> None:
        if self.zendesk:
            self._zendesk_update(agent, key, reply, note, team, assignee, status, add_tags)
        else:
            self._jira_update(agent, key, reply, note, team, assignee, status, add_tags)

    def _zendesk_update(self, agent: Person, key: Any, reply: str | None, note: str | None, team: str | None,
                        assignee: Person | None, status: str | None, add_tags: list[str] | None) -> None:
        body: dict[str, Any] = {}
        if reply or note:
            body["comment"] = {"body": reply or note, "public": bool(reply)}
        if team:
            body["group_id"] = self.sb.data.group_id(team)
            body["assignee_id"] = assignee.uid if assignee else None
        if status:
            body["status"] = status
        if add_tags:
            body["additional_tags"] = add_tags
        self._call("PUT", f"/api/v2/tickets/{key}.json", agent, {"ticket": body})
        if reply and note:
            self._call("PUT", f"/api/v2/tickets/{key}.json", agent, {"ticket": {"comment": {"body": note, "public": False}}})

    def _jira_update(self, agent: Person, key: Any, reply: str | None, note: str | None, team: str | None,
                     assignee: Person | None, status: str | None, add_tags: list[str] | None) -> None:
        fields: dict[str, Any] = {}
        if team:
            fields[self.team_field] = team
            fields["assignee"] = {"accountId": assignee.account} if assignee else None
        update = {"labels": [{"add": t} for t in add_tags]} if add_tags else {}
        if note:
            self._call("POST", f"/rest/api/2/issue/{key}/comment", agent,
                       {"body": note, "properties": [{"key": "sd.public.comment", "value": {"internal": True}}]})
        if fields or update:
            self._call("PUT", f"/rest/api/2/issue/{key}", agent, {"fields": fields, "update": update})
        if reply:
            self._call("POST", f"/rest/servicedeskapi/request/{key}/comment", agent, {"body": reply, "public": True})
        if status:
            self._call("POST", f"/rest/api/2/issue/{key}/transitions", agent, {"transition": {"id": JIRA_STATUS[status]}})
