"""What `check` proves about a Jira helpdesk's teams: each mapped assignee is an account;
with a team field (`team_field:`), each policy team's value is one the field takes;
without one, a user has the team's display name.

The field's options are read from the edit metadata of one issue in scope
(GET /rest/api/2/issue/{key}/editmeta, IssueUpdateMetadata.fields[id].allowedValues):
it needs only the permissions tierlift already writes with (browse and edit issues),
where the field context's option list (/field/{id}/context/{id}/option) needs a Jira
administrator. It is also the question that matters: what an edit of an issue in
scope may set.

- A select list (allowedValues given): a team whose value is no enabled option is a
  problem, named with the field and its options.
- The field missing from the edit screen of an issue that shows other fields: a problem
  (every move would be refused).
- A free-text field, or no issue in scope to read, or a field kind without a value list
  (an Atlassian team picker): not a problem, but not proven either; `check` says so.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from tierlift.connectors.base import TeamTarget
from tierlift.connectors.errors import TicketError

Read = Callable[[str, Mapping[str, Any]], Any]


@dataclass
class TeamFieldCheck:
    problems: list[str] = field(default_factory=list)
    unproven: list[str] = field(default_factory=list)
    is_option: bool = False  # a select list: an edit sets it as {"value": ...}
    # What no move may be written to until the mapping is fixed: a team -> why, or None ->
    # why for every team (a field tierlift cannot set).
    held: dict[str | None, str] = field(default_factory=dict)

    def hold(self, team: str | None, problem: str) -> None:
        self.problems.append(problem)
        self.held.setdefault(team, problem)


def check_teams(teams: Sequence[str], targets: Mapping[str, TeamTarget], team_field: str | None, read: Read,
                account: Callable[[str], str | None], scope: str) -> TeamFieldCheck:
    """Problems and caveats for these policy teams; `account(team)`: the user of that display name."""
    first, values = TeamFieldCheck(), {}
    for team in teams:
        target = targets.get(team) or TeamTarget()
        if target.assignee and not _found(read, "/rest/api/2/user", {"accountId": target.assignee}):
            first.hold(team, f"team '{team}': assignee {target.assignee} is no Jira account")
        if team_field:
            values[team] = str(target.group or target.group_name or team)  # what the connector writes
        elif not target.assignee and not account(team):
            first.hold(team, f"team '{team}' maps to no Jira user with that display name")
    if not team_field:
        return first
    found = check_team_field(read, scope, team_field, values)
    found.problems[:0] = first.problems
    found.held = {**first.held, **found.held}
    return found


def check_team_field(read: Read, scope: str, team_field: str, values: Mapping[str, str]) -> TeamFieldCheck:
    """`values`: policy team -> the text tierlift writes into the field for it."""
    out = TeamFieldCheck()
    meta = _field_meta(read, scope, team_field, out)
    if meta is None:
        return out
    name = f"{meta.get('name') or team_field} ({team_field})"
    allowed = meta.get("allowedValues")
    if not isinstance(allowed, list):
        kind = _object(meta.get("schema")).get("type")
        what = "takes free text" if kind == "string" else f"is of type {kind} with no list of values"
        out.unproven.append(f"team field {name} {what}: any value is accepted, so check cannot prove"
                            " the teams' values (a misspelt one is written as is)")
        return out
    out.is_option = True
    options = [str(o.get("value") or o.get("name")) for o in allowed if isinstance(o, Mapping) and not o.get("disabled")]
    for team, value in values.items():
        if value not in options:
            out.hold(team, f"team '{team}': '{value}' is no option of the Jira field {name}"
                           f" (its options: {', '.join(options) or 'none'})")
    return out


def _field_meta(read: Read, scope: str, team_field: str, out: TeamFieldCheck) -> Mapping[str, Any] | None:
    """The team field's FieldMetadata in the edit metadata of the issue in scope updated last,
    or None with why added to `out` (a problem, or a caveat when there is nothing to read)."""
    found = _object(read("/rest/api/2/search/jql", {"jql": f"{scope} ORDER BY updated DESC", "maxResults": 1,
                                                    "fields": "key"}))
    keys = [str(i["key"]) for i in found.get("issues") or [] if isinstance(i, Mapping) and i.get("key")]
    if not keys:
        out.unproven.append(f"team field {team_field}: no issue in scope to read its edit screen from,"
                            " so the teams' values are not proven")
        return None
    fields = _object(_object(read(f"/rest/api/2/issue/{keys[0]}/editmeta", {})).get("fields"))
    meta = fields.get(team_field)
    if isinstance(meta, Mapping):
        return meta
    if fields:
        out.hold(None, f"team field {team_field} is not on the edit screen of {keys[0]}:"
                       " tierlift cannot set it, so every move would be refused")
    else:
        out.unproven.append(f"team field {team_field}: {keys[0]} shows no editable field to tierlift,"
                            " so the teams' values are not proven")
    return None


def _object(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _found(read: Read, path: str, params: Mapping[str, Any]) -> bool:
    """True when the read finds the record, False on a 404."""
    try:
        return bool(read(path, params))
    except TicketError as exc:
        if exc.status == 404:
            return False
        raise
