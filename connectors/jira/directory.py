"""What the Jira connector learns once, at open(): tierlift's own account, the issue
field ids of each configured note or condition field, and the reverse team map
(team field value or assignee -> policy team).

Invariants: nothing here is read per cycle; the account's profile time zone is read with
the account, because the site reads a JQL date in it; a `fields:` entry that names no field
is a problem for `check`, never an exception; Jira keeps a customer's data in issue
fields, so organization.X and user.X entries are refused by name.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from datetime import UTC, tzinfo
from typing import Any
from urllib.parse import quote
from zoneinfo import ZoneInfo

from tierlift.connectors.base import FieldSource, TeamTarget
from tierlift.connectors.errors import TicketError
from tierlift.connectors.jira.mapping import FIELD_DEFAULTS

Read = Callable[[str], Any]
log = logging.getLogger("tierlift.jira")


class JiraDirectory:
    def __init__(self, teams: Mapping[str, TeamTarget], fields: Mapping[str, str], team_field: str | None,
                 policy_teams: tuple[str, ...]):
        self.teams, self.configured, self.team_field, self.policy_teams = teams, fields, team_field, policy_teams
        self.me: str | None = None  # tierlift's own accountId: its comments are never a reply
        self.account_type: str | None = None  # atlassian (an agent), customer (portal only), app
        self.zone: tzinfo = UTC  # the account's profile time zone: the site reads JQL dates in it
        self.notes: list[str] = []  # what `check` tells about the zone
        self.fields: dict[str, str] = dict(FIELD_DEFAULTS)  # name -> issue field id
        self.problems: list[str] = []
        self.team_by_value: dict[str, str] = {}
        self.team_by_account: dict[str, str] = {}
        self.unmapped: set[str] = set()  # team field values already said to map to no team

    def load(self, read: Read) -> None:
        myself = read("/rest/api/2/myself") or {}
        self.me = myself.get("accountId")
        self.account_type = myself.get("accountType")
        self._resolve_fields(read)
        self.zone = self._zone(myself.get("timeZone"))
        self.team_by_value, self.team_by_account = {}, {}
        for team, target in self.teams.items():
            if target.assignee:
                self.team_by_account[str(target.assignee)] = team
            if self.team_field:
                self.team_by_value[str(target.group or target.group_name or team)] = team
        if self.team_field:
            for team in self.policy_teams:
                self.team_by_value.setdefault(team, team)

    def _zone(self, name: Any) -> tzinfo:
        if not name or name == "UTC":
            self.notes = []
            return UTC
        try:
            zone = ZoneInfo(str(name))
        except (ValueError, KeyError):  # ZoneInfoNotFoundError is a KeyError
            self.notes = [f"problem: the account's time zone '{name}' is not known on this machine (install"
                          f" tzdata): its searches are written in UTC, which the site reads in '{name}'"]
            return UTC
        self.notes = [f"the account's time zone is {name}: its searches are written in it, as the site reads them"]
        return zone

    def _resolve_fields(self, read: Read) -> None:
        """`fields:` entries to issue field ids: an id (customfield_10050) as is, a name
        through /rest/api/2/field (read only when some entry needs it)."""
        self.fields, self.problems = dict(FIELD_DEFAULTS), []
        catalog: list[Mapping[str, Any]] | None = None
        for name, value in (self.configured or {}).items():
            src = FieldSource.parse(value)
            if src.kind != "ticket":
                self.problems.append(f"field '{name}': Jira has no {src.kind} fields; name the issue field that"
                                     f" holds it (ticket.NAME or its id, e.g. customfield_10050)")
                continue
            if catalog is None:
                catalog = [f for f in read("/rest/api/2/field") or [] if isinstance(f, Mapping)]
            found = _field_id(catalog, src.key)
            if found is not None:
                self.fields[str(name)] = found
            else:
                self.problems.append(f"field '{name}': the helpdesk has no issue field '{src.key}'")

    def team_of(self, value: str | None, account: str | None, display: str | None) -> str | None:
        """The reverse of the connector's Reassign: team field value, then a mapped account,
        then (without a team field) the user whose display name is the team's."""
        if value is not None and value in self.team_by_value:
            return self.team_by_value[value]
        if value is not None and self.team_field and self.team_by_value and value not in self.unmapped:
            # A person set the team field to a value no team of the configuration maps (a team
            # made in Jira since, a look-alike option): read as no team, so a move to it is no
            # move. Said once per value, where it was silent (QA, a Jira admin).
            self.unmapped.add(value)
            log.warning("the %s value %r on an issue maps to no team of the configuration: read as no team;"
                        " map it under the helpdesk's teams: (%s)", self.team_field, value,
                        ", ".join(sorted(self.team_by_value)))
        if account is not None and account in self.team_by_account:
            return self.team_by_account[account]
        if self.team_field or display is None:
            return None
        return self._team_named(display)

    def _team_named(self, display: str) -> str | None:
        """The team a user's display name is, when no account mapping says otherwise."""
        if display in self.teams and self.teams[display].assignee:
            return None  # this team was mapped to another account
        return display if not self.policy_teams or display in self.policy_teams else None


def account_problems(email: str, account_type: Any) -> list[tuple[str, str]]:
    """The account `check` refuses (configuration key, why): a portal-only customer (accountType
    customer in GET /myself) reads issues, but Jira answers every edit and note of theirs 404."""
    if account_type != "customer":
        return []
    return [("email", f"the account {email} is a portal-only customer (accountType customer): tierlift edits"
                      " issues and writes internal notes, which needs a Jira Service Management agent account;"
                      " sign in with an agent's email and API token")]


def project_problems(read: Read, project: str | None) -> list[tuple[str, str]]:
    """The configured `project` when the site has none of that key (configuration key, why): GET
    /rest/api/2/project/{key} answers 404 (no such project, or one the account may not browse)."""
    if not project:
        return []
    try:
        read(f"/rest/api/2/project/{quote(project, safe='')}")
    except TicketError as exc:
        if exc.status != 404:
            raise
        return [("project", f"the site has no project {project} (GET /rest/api/2/project/{project} answered 404:"
                            " no such key, or this account may not browse it); its issues are never read")]
    return []


def _field_id(catalog: list[Mapping[str, Any]], key: str) -> str | None:
    """The id of the first issue field whose id, key or name is `key`."""
    match = [f for f in catalog if key in (str(f.get("id")), str(f.get("key")), str(f.get("name")))]
    return str(match[0]["id"]) if match else None
