"""The sandbox's JQL subset, compiled to a match and a sort key over issue records.

AND-joined clauses: `project = X` / `project in (X, Y)`, `updated >= "yyyy/MM/dd HH:mm"`
(also >, <=, <, =; `created` too; read in the searching account's profile time zone, as Jira
reads a JQL date without a zone), `statusCategory != Done` /
`statusCategory in (...)`, `labels = x` / `labels in (...)`, `key in (A-1, A-2)`, then
`ORDER BY updated|key|created ASC|DESC`. Anything else raises ValueError, which the
search answers as a 400 with a Jira-shaped error.

Invariants: a clause that meets a record without the field it tests does not match
(never raises); `since` names the lower bound only for the poll's shape
(`... updated >= X ORDER BY updated ASC`, no OR), the one the index serves.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime, tzinfo
from typing import Any

Issue = dict[str, Any]
Match = Callable[[Issue], bool]
Order = Callable[[Issue], Any]

_CLAUSE = re.compile(r"\s+AND\s+", re.I)
_SINCE = re.compile(r"(?:^|\s)updated\s*(?:>=|>)\s*[\"']?([0-9/]+(?: [0-9:]+)?)[\"']?", re.I)
_ORDER = re.compile(r"\s*ORDER\s+BY\s+(.+)$", re.I)
_CATEGORIES = {"done": "done", "to do": "new", "in progress": "indeterminate"}


def parse_time(text: str) -> datetime:
    """A Jira timestamp (2024-01-02T03:04:05.000+0000) as an aware UTC datetime."""
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%f%z").astimezone(UTC)


def _jql_time(value: str, zone: tzinfo) -> datetime:
    """A JQL date in `zone`; a wall time the clocks went back over is read as its later instant,
    the reading that would hide changes from a poller (Jira does not say which it takes)."""
    at = datetime.strptime(value, "%Y/%m/%d %H:%M" if " " in value else "%Y/%m/%d")
    return at.replace(tzinfo=zone, fold=1)


def since(jql: str, zone: tzinfo = UTC) -> float | None:
    """The lower bound of `updated >= X` when the query is ordered by updated ascending (the poll's shape)."""
    jql = jql.strip()
    m = _ORDER.search(jql)
    text, order = (jql[: m.start()], m.group(1)) if m else (jql, "updated")
    first = order.split(",")[0].split()
    if not first or first[0].lower() != "updated" or (len(first) > 1 and first[1].upper() == "DESC"):
        return None
    if re.search(r"\bOR\b", text, re.I):
        return None
    m = _SINCE.search(text)
    if not m:
        return None
    return _jql_time(m.group(1), zone).timestamp()


def compile_jql(jql: str, zone: tzinfo = UTC) -> tuple[Match, Order]:
    """A query's match and sort key; its dates are read in `zone` (the searching account's)."""
    text = jql.strip()
    order_key = "updated"
    desc = False
    m = _ORDER.search(text)
    if m:
        text = text[: m.start()].strip()
        first = m.group(1).split(",")[0].split()
        order_key = first[0].lower()
        desc = len(first) > 1 and first[1].upper() == "DESC"
        if order_key not in ("updated", "key", "created"):
            raise ValueError(f"ordering by '{order_key}' is not supported here")
    tests = [_clause(c, zone) for c in (c.strip() for c in _CLAUSE.split(text) if c.strip())] if text else []

    def match(issue: Issue) -> bool:
        try:
            return all(t(issue) for t in tests)
        except (KeyError, TypeError, ValueError, AttributeError):
            return False

    return match, _order(order_key, desc)


def named_keys(jql: str) -> list[str]:
    """The issue keys a query names in `key = X` / `key in (...)`, in order: Jira refuses a
    search naming one it does not have (api-facts: "does not exist for field 'key'")."""
    text = jql.strip()
    m = _ORDER.search(text)
    text = text[: m.start()] if m else text
    keys: list[str] = []
    for clause in _CLAUSE.split(text):
        found = re.fullmatch(r"\s*(?:key|issuekey)\s*(=|in|!=|not in)\s*(.+)", clause, re.I)
        if found:
            keys += [k for k in _values(found.group(2)) if k not in keys]
    return keys


def _key_number(issue: Issue) -> int:
    return int(str(issue.get("key", "X-0")).rsplit("-", 1)[-1] or 0)


def _order(order_key: str, desc: bool) -> Order:
    def order(issue: Issue) -> Any:
        f = issue.get("fields") or {}
        if order_key == "key":
            n = _key_number(issue)
            return -n if desc else n
        v = (parse_time(f.get(order_key) or "1970-01-01T00:00:00.000+0000").timestamp(), _key_number(issue))
        return tuple(-x for x in v) if desc else v

    return order


def _values(text: str) -> list[str]:
    return [v.strip().strip('"').strip("'") for v in text.strip().strip("()").split(",") if v.strip()]


def _positive(op: str) -> bool:
    return op in ("=", "in")


def _project(field: str, op: str, value: str) -> Match:
    vals = set(_values(value))
    positive = _positive(op)
    return lambda i: (((i.get("fields") or {}).get("project") or {}).get("key") in vals) == positive


def _time(field: str, op: str, value: str, zone: tzinfo = UTC) -> Match:
    at = _jql_time(value.strip('"').strip("'"), zone)
    compare: dict[str, Callable[[datetime], bool]] = {
        ">=": lambda a: a >= at, ">": lambda a: a > at, "<=": lambda a: a <= at, "<": lambda a: a < at,
        "=": lambda a: a == at}
    cmp = compare.get(op)
    if cmp is None:
        raise ValueError(f"operator {op} for {field}")
    return lambda i: cmp(parse_time(i["fields"][field]))


def _status_category(field: str, op: str, value: str) -> Match:
    keys = {_CATEGORIES.get(v, v) for v in (v.lower() for v in _values(value))}
    positive = _positive(op)
    return lambda i: (i["fields"]["status"]["statusCategory"]["key"] in keys) == positive


def _labels(field: str, op: str, value: str) -> Match:
    vals = set(_values(value))
    positive = _positive(op)
    return lambda i: bool(vals & set(i["fields"].get("labels") or [])) == positive


def _key(field: str, op: str, value: str) -> Match:
    vals = set(_values(value))
    positive = _positive(op)
    return lambda i: (i.get("key") in vals) == positive


# field (lower case) -> the compiler of its clause
FIELDS: dict[str, Callable[[str, str, str], Match]] = {
    "project": _project, "updated": _time, "created": _time, "statuscategory": _status_category,
    "labels": _labels, "key": _key,
}


def _clause(clause: str, zone: tzinfo) -> Match:
    m = re.fullmatch(r"(\w+)\s*(=|!=|>=|<=|>|<|in|not in)\s*(.+)", clause, re.I)
    if not m:
        raise ValueError(f"cannot parse '{clause}'")
    field, op, value = m.group(1).lower(), m.group(2).lower(), m.group(3).strip()
    compile_clause = FIELDS.get(field)
    if compile_clause is None:
        raise ValueError(f"field '{field}' is not supported here")
    if compile_clause is _time:
        return _time(field, op, value, zone)
    return compile_clause(field, op, value)
