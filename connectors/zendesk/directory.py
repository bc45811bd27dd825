"""What the Zendesk connector learns once, at open(): who tierlift is, the groups, the
ticket fields, where each configured note or condition field is read, and the
reverse team map (group or assignee id -> policy team).

Invariants: nothing here is read per cycle (an idle cycle stays one request); a
`fields:` entry that names no field is a problem for `check`, never an exception;
a group of a name that is not a policy team maps to no team.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from tierlift.connectors.base import FieldSource, TeamTarget

Get = Callable[[str], dict[str, Any]]
Pages = Callable[[str, str], list[Mapping[str, Any]]]


class ZendeskDirectory:
    def __init__(self, teams: Mapping[str, TeamTarget], fields: Mapping[str, Any], policy_teams: tuple[str, ...]):
        self.teams, self.fields, self.policy_teams = teams, fields, policy_teams
        self.me: str | None = None  # tierlift's own user id: its comments are never a reply
        self.field_names: dict[int, str] = {}
        self.group_ids: dict[str, str] = {}  # group name -> id
        self.sources: dict[str, tuple[str, str]] = {}  # name -> (organization|user, field key)
        self.problems: list[str] = []
        self.team_by_group: dict[str, str] = {}
        self.team_by_assignee: dict[str, str] = {}

    def load(self, get: Get, pages: Pages) -> None:
        me = (get("/api/v2/users/me.json").get("user") or {}).get("id")
        self.me = str(me) if me is not None else None
        ticket_fields = list(get("/api/v2/ticket_fields.json").get("ticket_fields") or [])
        self.field_names = {f["id"]: str(f.get("title") or f["id"]) for f in ticket_fields if "id" in f}
        self._resolve_fields(ticket_fields, pages)
        self.group_ids = {str(g.get("name")): str(g["id"]) for g in pages("/api/v2/groups.json", "groups") if "id" in g}
        self._map_teams()

    def _resolve_fields(self, ticket_fields: list[Mapping[str, Any]], pages: Pages) -> None:
        """`fields:` entries to what a ticket carries: ticket fields by id or title (the
        list open() reads anyway), organization and user fields by key, title or id
        (their lists are read only when an entry names such a field)."""
        self.sources, self.problems = {}, []
        catalog: dict[str, list[Mapping[str, Any]]] = {"ticket": ticket_fields}
        for name, value in (self.fields or {}).items():
            src = FieldSource.parse(value)
            if src.kind not in catalog:
                plural = f"{src.kind}_fields"
                catalog[src.kind] = pages(f"/api/v2/{plural}.json", plural)
            match = [f for f in catalog[src.kind] if src.key in (str(f.get("id")), str(f.get("key")), str(f.get("title")))]
            if not match:
                self.problems.append(f"field '{name}': the helpdesk has no {src.kind} field '{src.key}'")
            elif src.kind == "ticket":
                self.field_names[match[0]["id"]] = str(name)
            else:
                self.sources[str(name)] = (src.kind, str(match[0].get("key")))

    def _map_teams(self) -> None:
        """Group and assignee ids -> policy team names, the reverse of the connector's
        Reassign: a team without a mapping is the group of its own name."""
        names = self.policy_teams or tuple(self.group_ids)
        self.team_by_group = {self.group_ids[n]: n for n in names if n in self.group_ids}
        self.team_by_assignee = {}
        for team, target in self.teams.items():
            group = target.group or self.group_ids.get(target.group_name or team)
            if target.assignee is not None:
                self.team_by_assignee[str(target.assignee)] = team
            elif group is not None:
                self.team_by_group[str(group)] = team

    def team_of(self, group: str | None, assignee: str | None) -> str | None:
        if assignee is not None and assignee in self.team_by_assignee:
            return self.team_by_assignee[assignee]
        return self.team_by_group.get(group) if group is not None else None
