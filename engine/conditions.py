"""The condition language of policies, compiled to plain Python closures.

A condition is YAML data:

    {tag: escalate}                      {tags_any: [p0, p1]}     {tags_all: [a, b]}
    {text: "(?i)\\bsecurity\\b"}          regex on subject + description (+ comments)
    {subject: ...} {description: ...} {comments: ...}
    {keywords: [data breach, outage]}    whole-word phrases, case-insensitive
    {field: priority, equals: urgent}    ticket fields: priority status group assignee
                                         requester type channel (in / equals / gt...)
    {org: plan, equals: enterprise}      organization: plan arr health_score name ...
    {custom_field: refund_amount, gt: 1000}
    {number_in_text: "refund[^$]{0,40}\\$([\\d,.]+)", gt: 1000}
    {severity: P1}  {severity_in: [P0, P1]}  {status: pending}  {status_in: [...]}
    {reopened: true}   {plan: enterprise}   {unresolved_for: 24h}
    {all: [...]} {any: [...]} {not: {...}}

Why the care over text: a policy runs its text conditions on every changed
ticket, and Python's `re` with `(?i)` costs ~56 us per pattern on 1 KB. Text
is lower-cased once per ticket version; keyword lists and regexes that are
plain alternations of literals run as substring checks, and a general regex
runs only when a literal it requires is present.

Every condition except `unresolved_for` depends on the ticket's content
alone, so its result is cached per ticket version by the evaluator.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from tierlift.engine.durations import DurationError, parse_duration
from tierlift.engine.errors import ConfigError
from tierlift.engine.model import CLOSED_STATUSES, Ticket


class ConditionError(ConfigError):
    """A malformed condition; `path` is relative to the condition's position."""

    def __init__(self, path: tuple, message: str):
        super().__init__(message)
        self.path = path


class TicketView:
    """What conditions look at: a ticket plus lazily computed, cached text."""

    __slots__ = ("ticket", "severity", "_text", "_subject", "_description", "_comments")

    def __init__(self, ticket: Ticket, severity: str | None = None):
        self.ticket = ticket
        self.severity = severity
        self._text: str | None = None
        self._subject: str | None = None
        self._description: str | None = None
        self._comments: str | None = None

    @property
    def subject(self) -> str:
        if self._subject is None:
            self._subject = self.ticket.subject.lower()
        return self._subject

    @property
    def description(self) -> str:
        if self._description is None:
            self._description = self.ticket.description.lower()
        return self._description

    @property
    def comments(self) -> str:
        if self._comments is None:
            # What people wrote: tierlift's own notes and automations' comments quote ids,
            # rules and templates (a ticket id "503" is not an HTTP 503).
            cs = [c for c in self.ticket.comments or () if not c.automated]
            self._comments = "\n".join(c.body for c in cs).lower()
        return self._comments

    @property
    def text(self) -> str:
        if self._text is None:
            parts = [self.subject, self.description]
            if self.ticket.comments:
                parts.append(self.comments)
            self._text = "\n".join(parts)
        return self._text


Predicate = Callable[[TicketView, datetime], bool]


@dataclass(frozen=True)
class Condition:
    test: Predicate
    static: bool  # depends on content only (cacheable per ticket version)
    uses_comments: bool
    describe: str
    # For time-dependent conditions: the next instant the answer may change.
    next_change: Callable[[TicketView, datetime], datetime | None] | None = None


_NUMERIC_OPS = {
    "gt": lambda a, b: a > b,
    "gte": lambda a, b: a >= b,
    "lt": lambda a, b: a < b,
    "lte": lambda a, b: a <= b,
}
_WORD = re.compile(r"\w")


def _to_number(value: Any) -> float | None:
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        cleaned = value.replace(",", "").replace("$", "").strip()
        try:
            return float(cleaned)
        except ValueError:
            return None
    return None


def _compare(spec: Mapping, path: tuple) -> tuple[Callable[[Any], bool], str]:
    """The comparison part of a field condition: equals / in / gt / gte / lt / lte / exists."""
    ops = [k for k in ("equals", "in", "gt", "gte", "lt", "lte", "exists", "matches") if k in spec]
    if len(ops) != 1:
        raise ConditionError(path, "expected exactly one of equals, in, gt, gte, lt, lte, exists, matches")
    op = ops[0]
    arg = spec[op]
    if op == "equals":
        want = arg.lower() if isinstance(arg, str) else arg

        def eq(v: Any) -> bool:
            return (v.lower() if isinstance(v, str) else v) == want

        return eq, f"= {arg!r}"
    if op == "in":
        if not isinstance(arg, list):
            raise ConditionError(path + ("in",), "expected a list")
        wanted = {a.lower() if isinstance(a, str) else a for a in arg}
        return (lambda v: (v.lower() if isinstance(v, str) else v) in wanted), f"in {arg!r}"
    if op == "exists":
        return (lambda v: (v is not None and v != "") == bool(arg)), "exists" if arg else "is empty"
    if op == "matches":
        rx = _compile_regex(arg, path + ("matches",))
        return (lambda v: isinstance(v, str) and rx(v.lower())), f"matches /{arg}/"
    number = _to_number(arg)
    if number is None:
        raise ConditionError(path + (op,), f"expected a number, got {arg!r}")
    cmp = _NUMERIC_OPS[op]

    def numeric(v: Any) -> bool:
        n = _to_number(v)
        return n is not None and cmp(n, number)

    return numeric, f"{op} {arg}"


# --- text -------------------------------------------------------------------


def _literal_alternatives(pattern: str) -> tuple[list[str], bool] | None:
    """If `pattern` is `\\b(a|b|c)\\b` or `a|b|c` of plain literals, return them.

    The bool says whether whole-word boundaries are required. Such patterns
    are by far the most common in policies, and substring search on
    lower-cased text is ~25x faster than `re` with IGNORECASE.
    """
    body = pattern
    words = False
    if body.startswith(r"\b") and body.endswith(r"\b"):
        body, words = body[2:-2], True
    if body.startswith("(") and body.endswith(")"):
        body = body[1:-1]
        if body.startswith("?:"):
            body = body[2:]
    if "(" in body or ")" in body:
        return None
    alts = body.split("|")
    out = []
    for alt in alts:
        # Only letters, digits, spaces and a few safe escapes.
        lit = alt.replace(r"\ ", " ").replace(r"\s", " ").replace(r"\-", "-").replace(r"\.", ".")
        if not lit or re.search(r"[\\\[\]{}*+?^$.|]", lit.replace(".", "")):
            return None
        if "." in alt and r"\." not in alt:
            return None
        out.append(lit)
    return out, words


def _word_hit(text: str, lit: str) -> bool:
    start = text.find(lit)
    while start != -1:
        end = start + len(lit)
        before_ok = start == 0 or not _WORD.match(text[start - 1]) or not _WORD.match(lit[0])
        after_ok = end == len(text) or not _WORD.match(text[end]) or not _WORD.match(lit[-1])
        if before_ok and after_ok:
            return True
        start = text.find(lit, start + 1)
    return False


def keywords_matcher(phrases: list[str], words: bool = True) -> Callable[[str], bool]:
    lits = tuple(p.lower() for p in phrases)
    if words:
        def match(text: str) -> bool:
            for lit in lits:  # a loop, not any() over a generator: this runs on every ticket
                if lit in text and _word_hit(text, lit):
                    return True
            return False

        return match
    return lambda text: any(lit in text for lit in lits)


def _compile_regex(pattern: Any, path: tuple) -> Callable[[str], bool]:
    """A matcher over LOWER-CASED text. Case-insensitive by construction."""
    if not isinstance(pattern, str) or not pattern:
        raise ConditionError(path, "expected a regular expression (a non-empty string)")
    bare = pattern[4:] if pattern.startswith("(?i)") else pattern
    lits = _literal_alternatives(bare)
    if lits is not None:
        return keywords_matcher(lits[0], lits[1])
    # The text is already lower-case: without upper-case literals, IGNORECASE
    # only costs time (about 3x on 1 KB).
    flags = re.IGNORECASE if re.search(r"[A-Z]", re.sub(r"\\.", "", bare)) else 0
    try:
        rx = re.compile(bare.lower() if not flags else bare, flags)
    except re.error as exc:
        raise ConditionError(path, f"invalid regular expression: {exc}") from None
    required = _required_literals(bare)
    if required:
        # Every match contains these: skip the regex when they are absent.
        passes = _prefilter(required)
        return lambda text: passes(text) and rx.search(text) is not None
    return lambda text: rx.search(text) is not None


def _required_literals(pattern: str) -> list[list[list[str]]] | None:
    """What every match contains, as a cheap prefilter: per top-level alternative,
    groups of literals such that a match holds one literal of EACH group.

    A group is the alternative's longest literal run of 3+ characters, or a
    subpattern of alternatives that each have one (`(down|offline|unreachable)`).
    None when some alternative has neither (then the regex always runs).
    """
    try:
        from re import _parser as sre  # type: ignore[attr-defined]

        parsed = sre.parse(pattern)
    except Exception:
        return None
    items = [it for it in parsed if it[0] is not sre.AT]  # \b and anchors match no text
    while len(items) == 1 and items[0][0] is sre.SUBPATTERN:
        items = [it for it in items[0][1][-1] if it[0] is not sre.AT]
    branches = [items]
    if len(items) == 1 and items[0][0] is sre.BRANCH:
        branches = [[it for it in b if it[0] is not sre.AT] for b in items[0][1][1]]
    out: list[list[list[str]]] = []
    for branch in branches:
        groups = [[run] for run in (_longest_run(branch, sre),) if len(run) >= 3]
        groups += [g for g in (_group_literals(op, arg, sre) for op, arg in branch) if g]
        if not groups:
            return None
        out.append(groups)
    return out


def _prefilter(required: list[list[list[str]]]) -> Callable[[str], bool]:
    def passes(text: str) -> bool:
        for groups in required:  # any alternative...
            for lits in groups:  # ...whose every group has a literal in the text
                for lit in lits:
                    if lit in text:
                        break
                else:
                    break
            else:
                return True
        return False

    return passes


def _longest_run(seq, sre) -> str:
    best, run = "", ""
    for op, arg in seq:
        if op is sre.LITERAL:
            run += chr(arg)
            best = max(best, run, key=len)
        else:
            run = ""
    return best.lower()


def _group_literals(op, arg, sre) -> list[str] | None:
    """`(a|b|c)` where every alternative holds a literal run of 3+ characters."""
    if op is not sre.SUBPATTERN:
        return None
    inner = [it for it in arg[-1] if it[0] is not sre.AT]
    if len(inner) != 1 or inner[0][0] is not sre.BRANCH:
        return None
    lits = [_longest_run([it for it in alt if it[0] is not sre.AT], sre) for alt in inner[0][1][1]]
    return lits if all(len(x) >= 3 for x in lits) else None


_TEXT_SOURCES = {
    "text": lambda v: v.text,
    "subject": lambda v: v.subject,
    "description": lambda v: v.description,
    "comments": lambda v: v.comments,
}

_TICKET_FIELDS: dict[str, Callable[[Ticket], Any]] = {
    "priority": lambda t: t.priority,
    "status": lambda t: t.status,
    "group": lambda t: t.group,
    "assignee": lambda t: t.assignee,
    "requester": lambda t: t.requester,
    "subject": lambda t: t.subject,
}

_ORG_FIELDS: dict[str, Callable[[Any], Any]] = {
    "plan": lambda o: o.plan,
    "arr": lambda o: o.arr,
    "health_score": lambda o: o.health_score,
    "name": lambda o: o.name,
    "primary_contact": lambda o: o.primary_contact,
}


def compile_condition(spec: Any, path: tuple = ()) -> Condition:
    if not isinstance(spec, Mapping):
        raise ConditionError(path, f"expected a condition mapping (e.g. {{tag: escalate}}), got {type(spec).__name__}")
    if not spec:
        raise ConditionError(path, "empty condition")

    for combinator in ("all", "any"):
        if combinator in spec:
            if len(spec) != 1:
                raise ConditionError(path, f"'{combinator}' must stand alone in its mapping")
            items = spec[combinator]
            if not isinstance(items, list) or not items:
                raise ConditionError(path + (combinator,), "expected a non-empty list of conditions")
            subs = [compile_condition(s, path + (combinator, i)) for i, s in enumerate(items)]
            return _combine(combinator, subs)
    if "not" in spec:
        if len(spec) != 1:
            raise ConditionError(path, "'not' must stand alone in its mapping")
        sub = compile_condition(spec["not"], path + ("not",))
        return Condition(lambda v, now: not sub.test(v, now), sub.static, sub.uses_comments,
                         f"NOT ({sub.describe})", sub.next_change)

    key = next(iter(spec))
    if key == "tag":
        tag = str(spec["tag"]).lower()
        _only(spec, path, {"tag"})
        return Condition(lambda v, now: tag in v.ticket.tags, True, False, f"tag {tag}")
    if key in ("tags_any", "tags_all"):
        _only(spec, path, {key})
        tags = spec[key]
        if not isinstance(tags, list) or not tags:
            raise ConditionError(path + (key,), "expected a non-empty list of tags")
        wanted = frozenset(str(t).lower() for t in tags)
        if key == "tags_any":
            return Condition(lambda v, now: not wanted.isdisjoint(v.ticket.tags), True, False,
                             f"any tag of {sorted(wanted)}")
        return Condition(lambda v, now: wanted <= v.ticket.tags, True, False, f"all tags {sorted(wanted)}")
    if key in _TEXT_SOURCES:
        _only(spec, path, {key})
        source = _TEXT_SOURCES[key]
        match = _compile_regex(spec[key], path + (key,))
        return Condition(lambda v, now: match(source(v)), True, key in ("text", "comments"),
                         f"{key} matches /{spec[key]}/")
    if key == "keywords":
        _only(spec, path, {"keywords"})
        phrases = spec["keywords"]
        if not isinstance(phrases, list) or not phrases or not all(isinstance(p, str) and p for p in phrases):
            raise ConditionError(path + ("keywords",), "expected a non-empty list of phrases")
        match = keywords_matcher(phrases)
        return Condition(lambda v, now: match(v.text), True, True,
                         "text mentions " + ", ".join(repr(p) for p in phrases[:4])
                         + (" ..." if len(phrases) > 4 else ""))
    if key == "field":
        _only(spec, path, {"field", "equals", "in", "gt", "gte", "lt", "lte", "exists", "matches"})
        name = spec["field"]
        if name in _TICKET_FIELDS:
            getter = _TICKET_FIELDS[name]
            cmp, text = _compare(spec, path)
            return Condition(lambda v, now: cmp(getter(v.ticket)), True, False, f"{name} {text}")
        cmp, text = _compare(spec, path)
        return Condition(lambda v, now: cmp(v.ticket.fields.get(name)), True, False, f"field {name} {text}")
    if key == "org":
        _only(spec, path, {"org", "equals", "in", "gt", "gte", "lt", "lte", "exists", "matches"})
        name = spec["org"]
        getter = _ORG_FIELDS.get(name) or (lambda o, n=name: o.attributes.get(n))
        cmp, text = _compare(spec, path)

        def org_test(v: TicketView, now: datetime) -> bool:
            org = v.ticket.organization
            return org is not None and cmp(getter(org))

        return Condition(org_test, True, False, f"organization {name} {text}")
    if key == "plan":
        _only(spec, path, {"plan"})
        plans = spec["plan"] if isinstance(spec["plan"], list) else [spec["plan"]]
        wanted = {str(p).lower() for p in plans}

        def plan_test(v: TicketView, now: datetime) -> bool:
            org = v.ticket.organization
            return org is not None and (org.plan or "").lower() in wanted

        return Condition(plan_test, True, False, f"plan in {sorted(wanted)}")
    if key == "custom_field":
        _only(spec, path, {"custom_field", "equals", "in", "gt", "gte", "lt", "lte", "exists", "matches"})
        name = str(spec["custom_field"])
        cmp, text = _compare(spec, path)
        return Condition(lambda v, now: cmp(v.ticket.custom_fields.get(name)), True, False,
                         f"custom field {name} {text}")
    if key == "number_in_text":
        _only(spec, path, {"number_in_text", "gt", "gte", "lt", "lte"})
        try:
            rx = re.compile(spec["number_in_text"], re.IGNORECASE)
        except (re.error, TypeError) as exc:
            raise ConditionError(path + ("number_in_text",), f"invalid regular expression: {exc}") from None
        if rx.groups < 1:
            raise ConditionError(path + ("number_in_text",), "the expression needs one group that captures the number")
        cmp, text = _compare(spec, path)

        def number_test(v: TicketView, now: datetime) -> bool:
            return any(cmp(m.group(1)) for m in rx.finditer(v.text))

        return Condition(number_test, True, True, f"a number in the text /{spec['number_in_text']}/ {text}")
    if key in ("severity", "severity_in"):
        _only(spec, path, {key})
        vals = spec[key] if isinstance(spec[key], list) else [spec[key]]
        wanted = {str(s).upper() for s in vals}
        return Condition(lambda v, now: v.severity in wanted, True, False, f"severity in {sorted(wanted)}")
    if key in ("status", "status_in"):
        _only(spec, path, {key})
        vals = spec[key] if isinstance(spec[key], list) else [spec[key]]
        wanted = {str(s).lower() for s in vals}
        return Condition(lambda v, now: v.ticket.status in wanted, True, False, f"status in {sorted(wanted)}")
    if key == "reopened":
        _only(spec, path, {"reopened"})
        flag = bool(spec["reopened"])
        return Condition(lambda v, now: (v.ticket.reopens > 0) == flag, True, False,
                         "reopened" if flag else "never reopened")
    if key == "unresolved_for":
        _only(spec, path, {"unresolved_for"})
        try:
            span = parse_duration(spec["unresolved_for"])
        except DurationError as exc:
            raise ConditionError(path + ("unresolved_for",), str(exc)) from None
        return _unresolved_for(span, spec["unresolved_for"])
    raise ConditionError(path + (key,), f"unknown condition '{key}'")


def _combine(combinator: str, subs: list[Condition]) -> Condition:
    tests = tuple(s.test for s in subs)
    # Plain loops, not all()/any() over a generator: conditions run for every
    # ticket of a first sync, and the generator frames cost a fifth of the time.
    if combinator == "all":
        def test(v: TicketView, now: datetime) -> bool:
            for t in tests:
                if not t(v, now):
                    return False
            return True
    else:
        def test(v: TicketView, now: datetime) -> bool:
            for t in tests:
                if t(v, now):
                    return True
            return False
    changes = [s.next_change for s in subs if s.next_change]
    return Condition(
        test,
        all(s.static for s in subs),
        any(s.uses_comments for s in subs),
        (" AND " if combinator == "all" else " OR ").join(f"({s.describe})" for s in subs),
        _earliest(changes) if changes else None,
    )


def any_of(subs: list[Condition]) -> Condition:
    """One condition that holds when any of `subs` does (a single one is returned as is)."""
    return subs[0] if len(subs) == 1 else _combine("any", subs)


def _unresolved_for(span: timedelta, text: Any) -> Condition:
    def test(v: TicketView, now: datetime) -> bool:
        t = v.ticket
        return t.status not in CLOSED_STATUSES and now - t.created_at >= span

    def next_change(v: TicketView, now: datetime) -> datetime | None:
        t = v.ticket
        due = t.created_at + span
        return due if t.status not in CLOSED_STATUSES and due > now else None

    return Condition(test, False, False, f"unresolved for {text} since creation", next_change)


def _earliest(fns: list) -> Callable[[TicketView, datetime], datetime | None]:
    def earliest(v: TicketView, now: datetime) -> datetime | None:
        times = [t for f in fns if (t := f(v, now)) is not None]
        return min(times) if times else None

    return earliest


def _only(spec: Mapping, path: tuple, allowed: set[str]) -> None:
    extra = sorted(str(k) for k in spec if k not in allowed)
    if extra:
        raise ConditionError(path + (extra[0],), f"unexpected key '{extra[0]}' in this condition "
                                                 f"(allowed: {', '.join(sorted(allowed))})")
