"""The condition language of policies, compiled to plain Python closures.

A condition is YAML data:

    {tag: escalate}                      {tags_any: [p0, p1]}     {tags_all: [a, b]}
    {text: "(?i)\\bsecurity\\b"}          regex on subject + description (+ comments)
                                         (each without the lines it quotes: `own_words`)
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
    {triage: {category: outage, escalate: 0.85, review: 0.5}}   the text classifier (triage.py)

Each key has its own compiler (`_COMPILERS`); text keys match lower-cased
text through `textmatch.py`, which says why that is done with care.

Every condition except `unresolved_for` depends on the ticket's content
alone, so its result is cached per ticket version by the evaluator.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from tierlift.engine.durations import DurationError, parse_duration
from tierlift.engine.errors import ConfigError
from tierlift.engine.model import CLOSED_STATUSES, SEVERITIES, STATUSES, Organization, Ticket
from tierlift.engine.sla import paused_intervals
from tierlift.engine.textmatch import Matcher, keywords_matcher, regex_matcher
from tierlift.engine.triage import (
    CATEGORIES,
    Classifier,
    TriageSpec,
    Verdict,
    combine,
    largest_amount_usd,
)
from tierlift.engine.yamlsrc import Path


class ConditionError(ConfigError):
    """A malformed condition; `path` is relative to the condition's position."""

    def __init__(self, path: Path, message: str):
        super().__init__(message)
        self.path = path


# A line of an earlier message quoted under a reply: `>`, nested `>>`, `> >`, with or without
# a space after it (">50% of our users" or ">= 3" is the writer's own comparison, not a quote).
_QUOTED = re.compile(r"^[ \t]*>(?![\d=])")
# The line a mail client writes above what it quotes ("On Mon, ... Bob <bob@x.com> wrote:",
# "Am ... schrieb Bob <bob@x.com>:", "Le ... a écrit :").
_ATTRIBUTION = re.compile(r"\b(wrote|schrieb|a écrit|escribió|escreveu|ha scritto|schreef)\b[^:\n]{0,80}:\s*$",
                          re.IGNORECASE)


def own_words(body: str) -> str:
    """A message without the lines it quotes from earlier messages (email quoting, `>`), and
    the "... wrote:" line above them: what someone else wrote is not this writer's words (a
    "speak to your manager" quoted from another company's email asked nobody). A message
    that is all quote (a forward with nothing added) is read whole, as it is: its quote is
    what the writer sends."""
    if ">" not in body:
        return body
    lines = body.splitlines()
    quoted = [_QUOTED.match(line) is not None for line in lines]
    if not any(quoted):
        return body
    kept = [line for i, line in enumerate(lines) if not quoted[i] and not _attribution(lines, quoted, i)]
    return "\n".join(kept) if any(line.strip() for line in kept) else body


def _attribution(lines: list[str], quoted: list[bool], i: int) -> bool:
    """Line i introduces a quote: "... wrote:" with the next written line quoted."""
    if _ATTRIBUTION.search(lines[i]) is None:
        return False
    following = next((j for j in range(i + 1, len(lines)) if lines[j].strip()), None)
    return following is not None and quoted[following]


class TicketView:
    """What conditions look at: a ticket plus lazily computed, cached text."""

    __slots__ = ("ticket", "severity", "classifier", "_text", "_subject", "_description", "_comments",
                 "_verdict", "any_amount")

    def __init__(self, ticket: Ticket, severity: str | None = None, classifier: Classifier | None = None,
                 any_amount: bool = False):
        self.ticket = ticket
        self.severity = severity
        self.classifier = classifier
        # A reading's amount test passes whatever the text says: "would this rule fire if the
        # amount a person can read in it were large enough?" (the engine's review question).
        self.any_amount = any_amount
        self._verdict: Verdict | None = None
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
            self._description = own_words(self.ticket.description).lower()
        return self._description

    @property
    def comments(self) -> str:
        if self._comments is None:
            # What the customer's side wrote: tierlift's own notes and automations' comments
            # quote ids, rules and templates (a ticket id "503" is not an HTTP 503), and an
            # agent's words are not a customer's report ("Shall I escalate this to our
            # specialists?" moved a ticket as the customer asking for escalation; an agent
            # who means a move adds the tag). docs/lifecycle.md, "Whose words rules read".
            cs = [c for c in self.ticket.comments or () if not c.automated and not c.by_agent]
            self._comments = "\n".join(own_words(c.body) for c in cs).lower()
        return self._comments

    @property
    def text(self) -> str:
        if self._text is None:
            parts = [self.subject, self.description]
            if self.ticket.comments:
                parts.append(self.comments)
            self._text = "\n".join(parts)
        return self._text

    def _follow_ups(self) -> list[str]:
        """The public comments of people outside the support side, but the description: a
        Zendesk ticket's first comment is its description, and read twice it weighed twice
        (a ticket read with its comments was asked about that a daemon without them was not).
        Each without the lines it quotes (`own_words`)."""
        t = self.ticket
        return [own_words(c.body) for c in t.comments or () if c.public and not c.by_agent and not c.automated
                and c.body.strip() != t.description.strip()]

    @property
    def customer_text(self) -> str:
        """The customer's own words, as written (not lower-cased): subject, description and
        the follow-ups, each without the lines it quotes from earlier messages (`own_words`)."""
        t = self.ticket
        return "\n".join([t.subject, own_words(t.description), *self._follow_ups()])

    def verdict(self) -> Verdict | None:
        """The classifier's reading of the customer's words (None: no classifier given): the
        whole of them, and each follow-up on its own (triage.combine)."""
        if self._verdict is None and self.classifier is not None:
            said = self._follow_ups()
            texts = [self.customer_text, *(s for s in said if s.strip())] if said else [self.customer_text]
            self._verdict = combine([self.classifier.classify(t) for t in texts])
        return self._verdict


Predicate = Callable[[TicketView, datetime], bool]
NextChange = Callable[[TicketView, datetime], datetime | None]


@dataclass(frozen=True)
class Condition:
    test: Predicate
    static: bool  # depends on content only (cacheable per ticket version)
    uses_comments: bool
    describe: str
    # For time-dependent conditions: the next instant the answer may change.
    next_change: NextChange | None = None
    # The triage conditions inside this condition (a review asks about a rule that would
    # fire on a sure reading of one of them).
    triage: tuple[TriageSpec, ...] = ()
    # The parts of a ticket the answer depends on: a ticket that differs from another only
    # elsewhere gets the same answer (the evaluator reuses it after a move). The parts:
    # "tag:<tag>" (whether the ticket carries it); "text" (subject, description, comments,
    # the classifier's reading of them); "field:<name>" (the ticket's own priority, status,
    # group, assignee, requester, subject, reopens); "fields" (the `fields` mapping); "org";
    # "custom" (custom fields) with "custom:<name>" for each one read; "pauses" (the time
    # the ticket spent waiting, read from its status history: evaluate asks for the history
    # where the export's is not whole); "severity" (itself read by the policy's severity map);
    # "*": anything, time included.
    reads: frozenset[str] = frozenset({"*"})


Spec = Mapping[Any, Any]
Compare = Callable[[Any], bool]

_NUMERIC_OPS: dict[str, Callable[[float, float], bool]] = {
    "gt": lambda a, b: a > b,
    "gte": lambda a, b: a >= b,
    "lt": lambda a, b: a < b,
    "lte": lambda a, b: a <= b,
}
_COMPARE_KEYS = ("equals", "in", "gt", "gte", "lt", "lte", "exists", "matches")


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


def _lower(value: Any) -> Any:
    return value.lower() if isinstance(value, str) else value


# --- comparisons: the second key of a field condition ------------------------------


def _compare(spec: Spec, path: Path) -> tuple[Compare, str]:
    """The comparison part of a field condition: equals / in / gt / gte / lt / lte / exists / matches."""
    ops = [k for k in _COMPARE_KEYS if k in spec]
    if len(ops) != 1:
        raise ConditionError(path, "expected exactly one of equals, in, gt, gte, lt, lte, exists, matches")
    op = ops[0]
    return _COMPARATORS.get(op, _numeric)(op, spec[op], path)


def _equals(op: str, arg: Any, path: Path) -> tuple[Compare, str]:
    want = _lower(arg)
    return (lambda v: _lower(v) == want), f"= {arg!r}"


def _one_of(op: str, arg: Any, path: Path) -> tuple[Compare, str]:
    if not isinstance(arg, list):
        raise ConditionError(path + ("in",), "expected a list")
    wanted = {_lower(a) for a in arg}
    return (lambda v: _lower(v) in wanted), f"in {arg!r}"


def _exists(op: str, arg: Any, path: Path) -> tuple[Compare, str]:
    return (lambda v: (v is not None and v != "") == bool(arg)), "exists" if arg else "is empty"


def _matches(op: str, arg: Any, path: Path) -> tuple[Compare, str]:
    rx = _regex(arg, path + ("matches",))
    return (lambda v: isinstance(v, str) and rx(v.lower())), f"matches /{arg}/"


def _numeric(op: str, arg: Any, path: Path) -> tuple[Compare, str]:
    number = _to_number(arg)
    if number is None:
        raise ConditionError(path + (op,), f"expected a number, got {arg!r}")
    cmp = _NUMERIC_OPS[op]

    def numeric(v: Any) -> bool:
        n = _to_number(v)
        return n is not None and cmp(n, number)

    return numeric, f"{op} {arg}"


_COMPARATORS: dict[str, Callable[[str, Any, Path], tuple[Compare, str]]] = {
    "equals": _equals, "in": _one_of, "exists": _exists, "matches": _matches,
}


def _regex(pattern: Any, path: Path) -> Matcher:
    """A matcher over LOWER-CASED text. Case-insensitive by construction."""
    if not isinstance(pattern, str) or not pattern:
        raise ConditionError(path, "expected a regular expression (a non-empty string)")
    try:
        return regex_matcher(pattern)
    except re.error as exc:
        raise ConditionError(path, f"invalid regular expression: {exc}") from None


# --- one compiler per condition key ---------------------------------------------------

_TEXT_SOURCES: dict[str, Callable[[TicketView], str]] = {
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

_ORG_FIELDS: dict[str, Callable[[Organization], Any]] = {
    "plan": lambda o: o.plan,
    "arr": lambda o: o.arr,
    "health_score": lambda o: o.health_score,
    "name": lambda o: o.name,
    "primary_contact": lambda o: o.primary_contact,
}


def _content(test: Predicate, describe: str, reads: str | frozenset[str], uses_comments: bool = False) -> Condition:
    """A condition on the ticket's content alone (cacheable per ticket version)."""
    return Condition(test, True, uses_comments, describe, reads=frozenset({reads}) if isinstance(reads, str) else reads)


def _values(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _tag(key: str, spec: Spec, path: Path) -> Condition:
    tag = str(spec["tag"]).lower()
    _only(spec, path, {"tag"})
    return _content(lambda v, now: tag in v.ticket.tags, f"tag {tag}", "tag:" + tag)


def _tags(key: str, spec: Spec, path: Path) -> Condition:
    _only(spec, path, {key})
    tags = spec[key]
    if not isinstance(tags, list) or not tags:
        raise ConditionError(path + (key,), "expected a non-empty list of tags")
    wanted = frozenset(str(t).lower() for t in tags)
    if key == "tags_any":
        return _content(lambda v, now: not wanted.isdisjoint(v.ticket.tags), f"any tag of {sorted(wanted)}",
                        frozenset("tag:" + t for t in wanted))
    return _content(lambda v, now: wanted <= v.ticket.tags, f"all tags {sorted(wanted)}",
                    frozenset("tag:" + t for t in wanted))


def _text(key: str, spec: Spec, path: Path) -> Condition:
    _only(spec, path, {key})
    source = _TEXT_SOURCES[key]
    match = _regex(spec[key], path + (key,))
    return _content(lambda v, now: match(source(v)), f"{key} matches /{spec[key]}/", "text",
                    uses_comments=key in ("text", "comments"))


def _keywords(key: str, spec: Spec, path: Path) -> Condition:
    _only(spec, path, {"keywords"})
    phrases = spec["keywords"]
    if not isinstance(phrases, list) or not phrases or not all(isinstance(p, str) and p for p in phrases):
        raise ConditionError(path + ("keywords",), "expected a non-empty list of phrases")
    match = keywords_matcher(phrases)
    more = " ..." if len(phrases) > 4 else ""
    return _content(lambda v, now: match(v.text),
                    "text mentions " + ", ".join(repr(p) for p in phrases[:4]) + more, "text", uses_comments=True)


def _field(key: str, spec: Spec, path: Path) -> Condition:
    _only(spec, path, {"field", *_COMPARE_KEYS})
    name = _name(spec, key, path)
    if name in _TICKET_FIELDS:
        getter = _TICKET_FIELDS[name]
        cmp, text = _compare(spec, path)
        return _content(lambda v, now: cmp(getter(v.ticket)), f"{name} {text}", "field:" + name)
    cmp, text = _compare(spec, path)
    return _content(lambda v, now: cmp(v.ticket.fields.get(name)), f"field {name} {text}", "fields")


def _name(spec: Spec, key: str, path: Path) -> str:
    """The field an org or ticket field condition reads (a list or mapping there is refused)."""
    name = spec[key]
    if not isinstance(name, str | int) or isinstance(name, bool):
        raise ConditionError(path + (key,), f"expected a field name, got {type(name).__name__}")
    return str(name)


def _org(key: str, spec: Spec, path: Path) -> Condition:
    _only(spec, path, {"org", *_COMPARE_KEYS})
    name = _name(spec, key, path)
    getter = _ORG_FIELDS.get(name)
    cmp, text = _compare(spec, path)

    def org_test(v: TicketView, now: datetime) -> bool:
        org = v.ticket.organization
        if org is None:
            return False
        return cmp(getter(org) if getter is not None else org.attributes.get(name))

    return _content(org_test, f"organization {name} {text}", "org")


def _plan(key: str, spec: Spec, path: Path) -> Condition:
    _only(spec, path, {"plan"})
    wanted = {str(p).lower() for p in _values(spec["plan"])}

    def plan_test(v: TicketView, now: datetime) -> bool:
        org = v.ticket.organization
        return org is not None and (org.plan or "").lower() in wanted

    return _content(plan_test, f"plan in {sorted(wanted)}", "org")


def _custom_field(key: str, spec: Spec, path: Path) -> Condition:
    _only(spec, path, {"custom_field", *_COMPARE_KEYS})
    name = str(spec["custom_field"])
    cmp, text = _compare(spec, path)
    return _content(lambda v, now: cmp(v.ticket.custom_fields.get(name)), f"custom field {name} {text}",
                    frozenset({"custom", "custom:" + name}))


def _number_in_text(key: str, spec: Spec, path: Path) -> Condition:
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

    return _content(number_test, f"a number in the text /{spec['number_in_text']}/ {text}", "text",
                    uses_comments=True)


def _severity(key: str, spec: Spec, path: Path) -> Condition:
    _only(spec, path, {key})
    wanted = {str(s).upper() for s in _values(spec[key])}
    _known(wanted, SEVERITIES, "severity", path + (key,))
    return _content(lambda v, now: v.severity in wanted, f"severity in {sorted(wanted)}", "severity")


def _status(key: str, spec: Spec, path: Path) -> Condition:
    _only(spec, path, {key})
    wanted = {str(s).lower() for s in _values(spec[key])}
    _known(wanted, STATUSES, "status", path + (key,))
    return _content(lambda v, now: v.ticket.status in wanted, f"status in {sorted(wanted)}", "field:status")


def _known(wanted: set[str], known: tuple[str, ...], what: str, path: Path) -> None:
    """A value no ticket can have makes a condition that never holds, silently: refused."""
    for value in sorted(wanted - set(known)):
        hint = difflib.get_close_matches(value, known, n=1)
        more = f"did you mean {hint[0]}?" if hint else f"expected one of {', '.join(known)}"
        raise ConditionError(path, f"unknown {what} {value!r} ({more})")


def _reopened(key: str, spec: Spec, path: Path) -> Condition:
    _only(spec, path, {"reopened"})
    flag = bool(spec["reopened"])
    return _content(lambda v, now: (v.ticket.reopens > 0) == flag, "reopened" if flag else "never reopened",
                    "field:reopens")


def _unresolved(key: str, spec: Spec, path: Path) -> Condition:
    _only(spec, path, {"unresolved_for"})
    try:
        span = parse_duration(spec["unresolved_for"])
    except DurationError as exc:
        raise ConditionError(path + ("unresolved_for",), str(exc)) from None
    return _unresolved_for(span, spec["unresolved_for"])


def _triage(key: str, spec: Spec, path: Path) -> Condition:
    _only(spec, path, {"triage"})
    t = spec["triage"]
    tp = path + ("triage",)
    if not isinstance(t, Mapping):
        raise ConditionError(tp, "expected {category: ..., escalate: 0.85, review: 0.5}")
    if "other_than" in t:
        _only(t, tp, {"other_than", "escalate"})
        raw = t["other_than"] if isinstance(t["other_than"], list) else [t["other_than"]]
        if not raw or any(c not in CATEGORIES for c in raw):
            raise ConditionError(tp + ("other_than",), f"expected one or a list of {', '.join(CATEGORIES)}")
        other = tuple(str(c) for c in raw)
        triage = TriageSpec("/".join(other), _probability(t, "escalate", tp), other=other)
    else:
        _only(t, tp, {"category", "escalate", "review", "amount_over"})
        if t.get("category") not in CATEGORIES:
            hint = difflib.get_close_matches(str(t.get("category")), CATEGORIES, n=1)
            raise ConditionError(tp + ("category",), f"expected one of {', '.join(CATEGORIES)}, got"
                                 f" {t.get('category')!r}" + (f" (did you mean {hint[0]}?)" if hint else ""))
        triage = TriageSpec(str(t["category"]), _probability(t, "escalate", tp),
                            _probability(t, "review", tp) if "review" in t else None, _amount(t, tp))
    if triage.review is not None and triage.review >= triage.escalate:
        raise ConditionError(tp + ("review",), "the review band starts below `escalate`")

    def triage_test(v: TicketView, now: datetime) -> bool:
        verdict = v.verdict()
        return verdict is not None and triage.score(verdict) >= triage.escalate and amount_ok(triage, v)

    return Condition(triage_test, True, True, triage.describe(), None, (triage,), frozenset({"text"}))


def amount_ok(triage: TriageSpec, v: TicketView) -> bool:
    if triage.amount_over is None or v.any_amount:
        return True
    amount = largest_amount_usd(v.customer_text)
    return amount is not None and amount > triage.amount_over


def _probability(t: Spec, key: str, path: Path) -> float:
    value = t.get(key)
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 < value <= 1:
        raise ConditionError(path + (key,), "expected a probability between 0 and 1 (e.g. 0.85)")
    return float(value)


def _amount(t: Spec, path: Path) -> float | None:
    value = t.get("amount_over")
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
        raise ConditionError(path + ("amount_over",), "expected an amount in US dollars (e.g. 1000)")
    return float(value)


_COMPILERS: dict[str, Callable[[str, Spec, Path], Condition]] = {
    "triage": _triage,
    "tag": _tag, "tags_any": _tags, "tags_all": _tags,
    "text": _text, "subject": _text, "description": _text, "comments": _text,
    "keywords": _keywords, "field": _field, "org": _org, "plan": _plan, "custom_field": _custom_field,
    "number_in_text": _number_in_text, "severity": _severity, "severity_in": _severity,
    "status": _status, "status_in": _status, "reopened": _reopened, "unresolved_for": _unresolved,
}


def compile_condition(spec: Any, path: Path = ()) -> Condition:
    if not isinstance(spec, Mapping):
        raise ConditionError(path, f"expected a condition mapping (e.g. {{tag: escalate}}), got {type(spec).__name__}")
    if not spec:
        raise ConditionError(path, "empty condition")
    for combinator in ("all", "any"):
        if combinator in spec:
            return _compile_combinator(combinator, spec, path)
    if "not" in spec:
        if len(spec) != 1:
            raise ConditionError(path, "'not' must stand alone in its mapping")
        sub = compile_condition(spec["not"], path + ("not",))
        return Condition(lambda v, now: not sub.test(v, now), sub.static, sub.uses_comments,
                         f"NOT ({sub.describe})", sub.next_change, sub.triage, sub.reads)
    key = next(iter(spec))
    compiler = _COMPILERS.get(key)
    if compiler is None:
        raise ConditionError(path + (key,), f"unknown condition '{key}'")
    return compiler(key, spec, path)


def _compile_combinator(combinator: str, spec: Spec, path: Path) -> Condition:
    if len(spec) != 1:
        raise ConditionError(path, f"'{combinator}' must stand alone in its mapping")
    items = spec[combinator]
    if not isinstance(items, list) or not items:
        raise ConditionError(path + (combinator,), "expected a non-empty list of conditions")
    return _combine(combinator, [compile_condition(s, path + (combinator, i)) for i, s in enumerate(items)])


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
        tuple(t for s in subs for t in s.triage),
        frozenset().union(*(s.reads for s in subs)),
    )


def any_of(subs: list[Condition]) -> Condition:
    """One condition that holds when any of `subs` does (a single one is returned as is)."""
    return subs[0] if len(subs) == 1 else _combine("any", subs)


# Time a ticket waits on someone else, or spends solved, is not time it stays unresolved:
# a ticket pending on the customer for a day was escalated "unresolved after 24 hours", and
# its customer told "we have escalated" while support waited for them (QA, a CX lead).
WAITING = frozenset({"pending", "hold"}) | CLOSED_STATUSES


def _unresolved_for(span: timedelta, text: Any) -> Condition:
    def due(t: Ticket, now: datetime) -> datetime | None:
        """When it has been unresolved for `span` (None: waiting or solved now)."""
        if t.status in WAITING:
            return None
        waited = sum((b - max(a, t.created_at) for a, b in paused_intervals(t, WAITING, now) if b > t.created_at),
                     timedelta(0))
        return t.created_at + span + waited

    def test(v: TicketView, now: datetime) -> bool:
        at = due(v.ticket, now)
        return at is not None and now >= at

    def next_change(v: TicketView, now: datetime) -> datetime | None:
        at = due(v.ticket, now)
        return at if at is not None and at > now else None

    return Condition(test, False, False, f"unresolved for {text} since creation (time pending, on hold or solved"
                                         " not counted)", next_change, reads=frozenset({"*", "pauses"}))


def _earliest(fns: list[NextChange]) -> NextChange:
    def earliest(v: TicketView, now: datetime) -> datetime | None:
        times = [t for f in fns if (t := f(v, now)) is not None]
        return min(times) if times else None

    return earliest


def _only(spec: Spec, path: Path, allowed: set[str]) -> None:
    extra = sorted(str(k) for k in spec if k not in allowed)
    if extra:
        raise ConditionError(path + (extra[0],), f"unexpected key '{extra[0]}' in this condition "
                                                 f"(allowed: {', '.join(sorted(allowed))})")
