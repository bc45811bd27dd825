"""The policy file's shape, declared: a pydantic model per mapping of `escalation:`.

Each value is refused by its own validator in the pack author's words (`Invalid`), and
`engine/filemodel.py` turns every refusal into `FILE:LINE: key.path: message`, all of
them at once. What a key refers to elsewhere in the file (a tier level, a calendar, a
criterion text, a policy-wide rule) is read first, leniently, into `Refs`, the
validation context: a reference is checked against what the file defines even where the
defining entry has problems of its own. `engine/policy.py` turns the validated model into
the engine's frozen dataclasses.
"""

from __future__ import annotations

import difflib
import re
import string
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Annotated, Any, ClassVar, TypeGuard, TypeVar, cast

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainValidator,
    ValidationError,
    ValidationInfo,
    ValidatorFunctionWrapHandler,
    WrapValidator,
    model_validator,
)
from pydantic_core import InitErrorDetails

from tierlift.engine import notes
from tierlift.engine.calendar import BusinessCalendar, CalendarError
from tierlift.engine.conditions import Condition, ConditionError, compile_condition
from tierlift.engine.filemodel import Invalid, boolean, unknown_plain
from tierlift.engine.filemodel import duration as _duration
from tierlift.engine.model import SEVERITIES, STATUSES
from tierlift.engine.yamlsrc import Path, Positions, dotted

SLA_CLOCKS = ("first_response", "resolution")
# The report draws escalation_rate and sla_compliance; teamflow also states its CSAT target.
TARGETS = ("csat_escalated", "escalation_rate", "sla_compliance")
SLA_CRITERION = re.compile(
    r"^\s*SLA\s+(?:at\s+)?(\d{1,3}(?:\.\d+)?)\s*%\s*(?:elapsed|used|consumed)?(?P<rest>.*)$", re.I
)
Found = list[tuple[Path, str]]  # problems at key paths below the value checked
T = TypeVar("T")


def slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:48] or "rule"


# --- what references point at, read before validation ---------------------------------------------
def _misspelt(data: Mapping[Any, Any], key: str) -> Any:
    """The value under a near miss of `key` (`escalation_criterai`), else None: the misspelt key
    is one problem (with its did-you-mean), and what it lists is not "not used" as well."""
    near = [k for k in data if isinstance(k, str) and difflib.get_close_matches(k, [key], n=1, cutoff=0.8)]
    return data[near[0]] if near else None


@dataclass(frozen=True)
class Refs:
    """The names a policy defines: its tier levels, calendars, criterion texts (and those
    a tier uses) and policy-wide rules. The validation context of every model here."""

    levels: frozenset[int] = frozenset()
    built: Mapping[str, BusinessCalendar] = field(default_factory=dict)  # the calendars that are valid
    named: frozenset[str] = frozenset()  # every calendar defined, valid or not (a reference to one is no problem)
    criteria: frozenset[str] = frozenset()
    used: frozenset[str] = frozenset()
    rules: frozenset[str] = frozenset()
    teams: Mapping[int, tuple[str, ...]] = field(default_factory=dict)  # by level, where readable
    severities: frozenset[str] = frozenset(SEVERITIES)  # those the severity map can set
    notified: frozenset[str] = frozenset()  # the channels rules notify, and the names of those rules
    silent: frozenset[str] = frozenset()  # the names of the rules that notify no channel
    lines: Positions | None = None  # where each key of `escalation:` is, to name a line in a message
    listed: frozenset[str] = frozenset()  # every criterion text a tier lists, defined or not

    @property
    def calendars(self) -> frozenset[str]:
        return frozenset(self.built) | self.named | {"24x7"}

    @classmethod
    def scan(cls, esc: Mapping[Any, Any], lines: Positions | None = None) -> Refs:
        levels: list[int] = []
        criteria = esc.get("criteria")
        texts = frozenset(criteria) if isinstance(criteria, Mapping) else frozenset()
        used: set[str] = set()
        listed: set[str] = set()
        teams: dict[int, tuple[str, ...]] = {}
        tiers = _mappings(esc.get("tiers"))
        for t in tiers:
            level = t.get("level")
            if _whole(level) and 1 <= level <= 4 and level not in levels:
                levels.append(level)
                listed |= _listed(t)
                used |= {c for c in listed if c in texts}
                teams[level] = _teams_of(t)
        if len(levels) < len(tiers) <= 4:
            # A tier whose level cannot be read or is written twice is said at its level; the
            # others' references are checked against the levels the tiers are meant to have
            # (1..N, as they must run), not against the readable ones alone (QA: one bad
            # level gave seven messages telling the author to move correct lines).
            levels = sorted(set(levels) | set(range(1, len(tiers) + 1)))
        raw = esc.get("calendars")
        named = frozenset(str(k) for k in raw) if isinstance(raw, Mapping) else frozenset()
        return cls(frozenset(levels), _valid_calendars(raw), named, texts, frozenset(used),
                   _rule_names(esc, frozenset(levels)), {lv: ts for lv, ts in teams.items() if ts},
                   _defined_severities(esc.get("severity")), *_notifying(esc), lines, frozenset(listed))

    def where(self, path: Path) -> str:
        line = self.lines.line(path) if self.lines is not None else None
        return f"line {line}" if line else dotted(path)

    def severity_problem(self, severity: str) -> str | None:
        """A severity the policy's severity map never sets: a condition or override on it never holds."""
        if severity in self.severities:
            return None
        return (f"severity '{severity}' is not defined in this policy's severity: (defined:"
                f" {', '.join(sorted(self.severities)) or 'none'}), so no ticket has it")

    def team_problem(self, team: Any, level: int, what: str) -> str | None:
        """Why `team` cannot own a ticket a rule (`what`) moves to `level`, or None. The
        team a rule names is the one the ticket is assigned to at that tier: a team the
        tier does not list passed, and quarantined every ticket the rule matched ("maps
        to no Zendesk group"), or showed another tier's group owning the ticket."""
        own = self.teams.get(level)
        if not own or (isinstance(team, str) and team in own):
            return None
        listed = f"team{'s' if len(own) > 1 else ''}: {', '.join(sorted(own))}"
        has = f"L{level}, where this {what} moves the ticket, has the {listed}"
        if not isinstance(team, str) or not team.strip():
            return f"expected a team name ({has})"
        elsewhere = sorted(lv for lv, ts in self.teams.items() if team in ts)
        if elsewhere:  # the helpdesk showed that tier's group owning a ticket tagged for this one
            at = " and ".join(f"L{lv}" for lv in elsewhere)
            return f"team '{team}' works at {at}, not at L{level}, where this {what} moves the ticket (L{level}'s {listed})"
        hint = difflib.get_close_matches(team, own, n=1)
        return f"unknown team '{team}' ({f'did you mean {hint[0]!r}? ' if hint else self._near(team)}{has})"

    def _near(self, team: str) -> str:
        """A team of another tier close to a misspelt name (QA: 'incident-comand' for L4's
        team, named at L3, got no hint), as the start of a message, or ''."""
        near = difflib.get_close_matches(team, sorted({t for ts in self.teams.values() for t in ts}), n=1)
        if not near:
            return ""
        at = " and ".join(f"L{lv}" for lv, ts in sorted(self.teams.items()) if near[0] in ts)
        return f"did you mean {near[0]!r}? it works at {at}; "


def _teams_of(tier: Mapping[Any, Any]) -> tuple[str, ...]:
    """The teams a tier lists (`team:`, or each of `teams:`), as far as they can be read."""
    if "teams" in tier:
        listed = tier["teams"] if isinstance(tier["teams"], list) else []
        names = [t if isinstance(t, str) else t.get("team") if isinstance(t, Mapping) else None for t in listed]
        return tuple(n for n in names if isinstance(n, str))
    return (tier["team"],) if isinstance(tier.get("team"), str) else ()


def _named_rules(esc: Mapping[Any, Any]) -> list[tuple[Path, str, Any]]:
    """Each rule the file names, as far as it can be read: (where its name is, the name the
    engine gives it, its `notify:`). Severity overrides are `severity-p0`...; a rule
    without a name is `rule-N` (policy-wide) or `L1-rule-N` (a tier's)."""
    out: list[tuple[Path, str, Any]] = [
        (("severity_overrides", i, "severity"), f"severity-{str(o.get('severity')).lower()}", o.get("notification"))
        for i, o in _indexed(esc.get("severity_overrides")) if "severity" in o]
    out += [_named(("rules", i), r, f"rule-{i + 1}") for i, r in _indexed(esc.get("rules"))]
    for j, t in _indexed(esc.get("tiers")):
        out += [_named(("tiers", j, "escalation_criteria", i), r, f"L{t.get('level')}-rule-{i + 1}")
                for i, r in _indexed(t.get("escalation_criteria"))]
    return out


def _indexed(raw: Any) -> list[tuple[int, Mapping[Any, Any]]]:
    """The mappings of a list, with their indexes in it."""
    return [(i, x) for i, x in enumerate(raw) if isinstance(x, Mapping)] if isinstance(raw, list) else []


def _named(at: Path, rule: Mapping[Any, Any], default: str) -> tuple[Path, str, Any]:
    return (*at, "name") if "name" in rule else at, slug(str(rule.get("name") or default)), rule.get("notify")


def _listed(tier: Mapping[Any, Any]) -> set[str]:
    """The criterion texts a tier lists (under its key, or a misspelling of it)."""
    said = tier.get("escalation_criteria", _misspelt(tier, "escalation_criteria"))
    return {c for c in said if isinstance(c, str)} if isinstance(said, list) else set()


def _notifying(esc: Mapping[Any, Any]) -> tuple[frozenset[str], frozenset[str]]:
    """What a notification template may be keyed by (engine/evaluate.py looks one up by the
    rule's name, then by the channel): the channels rules notify and the names of those
    rules; and the names of the rules that notify nothing (a template for one is never sent)."""
    notified: set[str] = set()
    named = _named_rules(esc)
    for _at, name, raw in named:
        channels = {c for c in ([raw] if isinstance(raw, str) else raw if isinstance(raw, list) else [])
                    if isinstance(c, str)}
        notified |= channels | ({name} if raw else set())  # a `notify:` of its own is reported at its line
    return frozenset(notified), frozenset(name for _at, name, _n in named) - notified


def _defined_severities(raw: Any) -> frozenset[str]:
    """The severities `severity:` maps (every one when absent, or when it cannot be read)."""
    if not isinstance(raw, Mapping):
        return frozenset(SEVERITIES)
    return frozenset(str(k).upper() for k in raw if str(k).upper() in SEVERITIES)


def _mappings(raw: Any) -> list[Mapping[Any, Any]]:
    return [x for x in raw if isinstance(x, Mapping)] if isinstance(raw, list) else []


def _whole(value: Any) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool)


def _valid_calendars(raw: Any) -> dict[str, BusinessCalendar]:
    """The calendars that build, for the references to them read first; a calendar that
    does not build is left out here and reported at its own line by its model."""
    built = {}
    for name, spec in raw.items() if isinstance(raw, Mapping) else ():
        try:
            if isinstance(spec, Mapping):
                built[str(name)] = BusinessCalendar.from_spec(str(name), spec)
        except CalendarError:
            pass
    return built


def _rule_names(esc: Mapping[Any, Any], levels: frozenset[int]) -> frozenset[str]:
    """The policy-wide rules a `response_times` entry may name: severity overrides and rules."""
    names = {f"severity-{str(o.get('severity')).lower()}" for o in _mappings(esc.get("severity_overrides"))
             if str(o.get("severity", "")).upper() in SEVERITIES and _whole(o.get("route_to"))
             and o.get("route_to") in levels}
    names |= {slug(str(r.get("name") or f"rule-{i + 1}")) for i, r in enumerate(esc.get("rules") or [])
              if isinstance(r, Mapping) and "to" in r and "when" in r} if isinstance(esc.get("rules"), list) else set()
    return frozenset(names)


def refs_of(info: ValidationInfo) -> Refs:
    return info.context if isinstance(info.context, Refs) else Refs()


# --- values ---------------------------------------------------------------------------------------
def _condition(value: Any, refs: Refs | None = None) -> Condition:
    """A condition (engine/conditions.py), and what it names checked against the policy."""
    try:
        cond = compile_condition(value, ())
    except ConditionError as exc:
        raise Invalid(str(exc), exc.path) from None
    found = _named_in_condition(value, refs or Refs(), ())
    if found:
        raise Invalid.of(found)
    return cond


def _condition_in(value: Any, info: ValidationInfo) -> Condition:
    return _condition(value, refs_of(info))


def _named_in_condition(spec: Any, refs: Refs, path: Path) -> Found:
    """The values of a compiled condition that no ticket of this policy can have."""
    found: Found = []
    for key, sub in spec.items() if isinstance(spec, Mapping) else ():
        if key in ("all", "any") and isinstance(sub, list):
            for i, item in enumerate(sub):
                found += _named_in_condition(item, refs, (*path, key, i))
        elif key == "not":
            found += _named_in_condition(sub, refs, (*path, key))
        else:
            found += _named_value(key, sub, refs, (*path, key))
    return found


def _named_value(key: Any, value: Any, refs: Refs, path: Path) -> Found:
    """A severity the policy never sets; a tag no ticket can carry."""
    if key in ("severity", "severity_in"):
        wanted = sorted({str(s).upper() for s in (value if isinstance(value, list) else [value])})
        return [(path, said) for said in map(refs.severity_problem, wanted) if said]
    if key == "tag" and isinstance(value, str) and _spaced(value):
        return [(path, _spaced(value))]
    if key in ("tags_any", "tags_all") and isinstance(value, list):
        return [((*path, i), _spaced(t)) for i, t in enumerate(value) if isinstance(t, str) and _spaced(t)]
    return []


def _spaced(tag: str) -> str:
    """Why a tag a condition names can be on no ticket: it has a space (`{tag: wants specialist}`)."""
    if not re.search(r"\s", tag):
        return ""
    joined = re.sub(r"\s+", "_", tag.strip())
    hint = f" (did you mean {joined}?)" if joined else ""
    return f"a tag cannot contain spaces (Zendesk tags and Jira labels have none), got {tag!r}{hint}"


def _tag(value: Any) -> str:
    if not isinstance(value, str) or not re.fullmatch(r"[A-Za-z0-9_:\-./]+", value):
        raise Invalid(f"expected a tag (letters, digits, _ - : . /), got {value!r}")
    return value.lower()


def _channels(value: Any) -> tuple[str, ...]:
    value = [value] if isinstance(value, str) else value or []
    if not isinstance(value, list | tuple) or not all(isinstance(n, str) for n in value):
        raise Invalid("expected a channel name or a list of them")
    return tuple(value)


def _missed_updates(value: Any) -> int:
    if not _whole(value) or value < 1:
        raise Invalid("expected a whole number of missed updates (1 or more)")
    return int(value)


def _calendar(value: Any, info: ValidationInfo) -> str | None:
    known = refs_of(info).calendars
    if value is not None and (not isinstance(value, str) or value not in known):
        raise Invalid(f"unknown calendar '{value}' (defined: {', '.join(sorted(known))})")
    return value


def _existing_level(value: Any, info: ValidationInfo) -> int:
    levels = refs_of(info).levels
    if not _whole(value) or value not in levels:
        raise Invalid(f"expected an existing tier level {sorted(levels)}, got {value!r}")
    return int(value)


def _target_level(value: Any, info: ValidationInfo) -> int | None:
    """A policy-wide rule's `to`: an existing level, or none (one level up)."""
    levels = refs_of(info).levels
    if value is not None and (not _whole(value) or value not in levels):
        raise Invalid(f"expected an existing tier level{f' {sorted(levels)}' if levels else ''}, got {value!r}")
    return value


def _list_of(message: str) -> BeforeValidator:
    """A list (an absent or empty key: none); anything else is refused with `message`."""
    def check(value: Any) -> Any:
        value = value or []
        if not isinstance(value, list):
            raise Invalid(message)
        return value
    return BeforeValidator(check)


def _mapping_of(message: str) -> BeforeValidator:
    def check(value: Any) -> Any:
        value = value or {}
        if not isinstance(value, Mapping):
            raise Invalid(message)
        return value
    return BeforeValidator(check)


def _one_of(checks: Mapping[Any, Any], check: Callable[[Any], T]) -> tuple[dict[Any, T], Found]:
    """Every value of a mapping checked: the good ones, and the problems at their keys."""
    good: dict[Any, T] = {}
    found: Found = []
    for key, value in checks.items():
        try:
            good[key] = check(value)
        except Invalid as exc:
            found += [((key, *sub), message) for sub, message in exc.found]
    return good, found


def _name(value: Any) -> str | None:
    """A name written in the file (a rule's, a tier's, the policy's): text. QA: `name: [a, b]`
    and `name: 42` were taken, and the engine spelt them as whatever str() made of them."""
    if value is None:
        return None  # absent or written empty: the name by place (`rule-2`)
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        raise Invalid(f"expected a name (text), got the number {value!r}: quote it (name: '{value}') or spell it")
    if not isinstance(value, str):
        raise Invalid(f"expected a name (text), got {value!r}")
    if not value.strip():
        raise Invalid("expected a name, got empty text")
    return value


Name = Annotated[str | None, PlainValidator(_name)]
Cond = Annotated[Condition, PlainValidator(_condition_in)]
Duration = Annotated[timedelta, PlainValidator(_duration)]
# None when the key is absent; a key written empty (`within:`) is checked, and refused, like any value.
MaybeDuration = Annotated[timedelta | None, PlainValidator(_duration)]
MaybeCond = Annotated[Condition | None, PlainValidator(_condition_in)]
Tag = Annotated[str, PlainValidator(_tag)]
Channels = Annotated[tuple[str, ...], PlainValidator(_channels)]
Flag = Annotated[bool, PlainValidator(boolean)]
CalendarRef = Annotated[str | None, PlainValidator(_calendar)]
Level = Annotated[int, PlainValidator(_existing_level)]
def _default(value: Any) -> Any:
    """A default the key's validator checks like a written value."""
    return Field(default=value, validate_default=True)


# --- the models ------------------------------------------------------------------------------------
def with_more(exc: ValidationError, own: Found) -> ValidationError:
    """pydantic's errors of a value plus problems found on the value as a whole."""
    errors = [cast(InitErrorDetails, {k: e[k] for k in ("type", "loc", "input", "ctx") if k in e})
              for e in exc.errors(include_url=False)]
    errors.append({"type": "value_error", "loc": (), "input": None, "ctx": {"error": Invalid.of(own)}})
    return ValidationError.from_exception_data(exc.title, errors)


def checked(value: Any, handler: ValidatorFunctionWrapHandler, own: Found) -> Any:
    """`handler(value)`, its errors reported together with `own`."""
    try:
        out = handler(value)
    except ValidationError as exc:
        if own:
            raise with_more(exc, own) from None
        raise
    if own:
        raise Invalid.of(own)
    return out


class Entry(BaseModel):
    """A mapping of the policy: its keys are the model's fields, nothing else."""

    model_config = ConfigDict(extra="forbid", frozen=True, arbitrary_types_allowed=True)
    shape: ClassVar[str] = "expected a mapping"

    @classmethod
    def unknown_key(cls, key: str) -> str:
        return unknown_plain(key, sorted(cls.model_fields))

    @classmethod
    def whole(cls, data: Mapping[Any, Any], refs: Refs) -> Found:
        """Problems of the entry as a whole (a key needs another); raise Invalid to stop there."""
        return []

    @model_validator(mode="wrap")
    @classmethod
    def _entry(cls, data: Any, handler: ValidatorFunctionWrapHandler, info: ValidationInfo) -> Any:
        if not isinstance(data, Mapping):
            raise Invalid(cls.shape)
        # pydantic passes over a key that is not text (YAML reads `5:`, `null:` and `on:` so).
        odd: Found = [((key,), cls.unknown_key(str(key))) for key in data if not isinstance(key, str)]
        return checked({k: v for k, v in data.items() if isinstance(k, str)}, handler,
                       odd + cls.whole(data, refs_of(info)))


class RuleSpec(Entry):
    """A rule: `{name, when, to, team, notify, ...}` (in a tier's escalation_criteria)."""

    name: Name = None
    description: Any = None
    when: Cond
    to: Annotated[int | None, PlainValidator(_target_level)] = None  # above the rule's tier (TierSpec.whole)
    team: Any = None
    notify: Channels = ()
    within: MaybeDuration = None
    requires_context: Flag = False
    severe: Flag = False
    by_customer: Flag = False
    next_step: Any = None  # the escalation note's suggested_next_step for what this rule moves

    @classmethod
    def whole(cls, data: Mapping[Any, Any], refs: Refs) -> Found:
        if "when" not in data:  # nothing else of the rule is read
            unknown = [((k,), cls.unknown_key(str(k))) for k in data if k not in cls.model_fields]
            raise Invalid.of([*unknown, ((), "a rule needs 'when' (a condition)")])
        return []


class PolicyRuleSpec(RuleSpec):
    """A policy-wide rule: it names the tier it routes to."""

    shape: ClassVar[str] = "expected a rule {name, when, to, team, notify}"
    to: Annotated[int | None, PlainValidator(_target_level)] = None

    @classmethod
    def whole(cls, data: Mapping[Any, Any], refs: Refs) -> Found:
        if "to" not in data:
            raise Invalid("a policy-wide rule needs 'to' (the tier it routes to)")
        found = super().whole(data, refs)
        to = data["to"]
        said = refs.team_problem(data["team"], to, "rule") if "team" in data and _whole(to) else None
        if _whole(to) and refs.levels and to == min(refs.levels):  # it holds only where the ticket already is
            found.append((("to",), f"a policy-wide rule moves tickets up only: to L{to}, the lowest tier, it"
                                   " never moves one (a move down is a de_escalation entry)"))
        return found + ([(("team",), said)] if said else [])


def _criterion(value: Any, info: ValidationInfo) -> str | RuleSpec:
    """A tier's criterion: a text (given a meaning, "SLA at N%", or manual) or a rule."""
    if isinstance(value, Mapping):
        return RuleSpec.model_validate(value, context=info.context)
    if not isinstance(value, str):
        raise Invalid("expected a criterion text or a rule {name, when, to}")
    m = SLA_CRITERION.match(value)
    if value in refs_of(info).criteria:
        return value
    if m and not 0 < float(m.group(1)) <= 100:
        raise Invalid(f"SLA share must be more than 0% and at most 100%, got {float(m.group(1)):g}%")
    if m is None and re.match(r"\s*SLA\b", value, re.I):
        # Read as manual, "SLA at 90 percent elapsed" silently lost its automatic escalation (QA).
        raise Invalid(f"'{value}' is not read as an SLA trigger (write it as \"SLA at N% elapsed ...\", the share"
                      " with %); a manual criterion that starts with SLA is given its meaning under criteria:"
                      f" {{'{value}': manual}}")
    return value


def _sla_target(value: Any) -> tuple[timedelta | None, dict[str, timedelta]]:
    """A target: one duration, or durations by severity, plan and `default`."""
    if value is None:
        return None, {}
    if not isinstance(value, Mapping):
        return _duration(value), {}
    good, found = _one_of(value, _duration)
    if found:
        raise Invalid.of(found)
    if value and "default" not in value:  # `{basic: 8h, gold: 2h}` left every other plan without the SLA
        written = ", ".join(f"{k}: {v}" for k, v in value.items())
        raise Invalid(f"expected 'default' beside {', '.join(map(str, value))}: without it a ticket of any other"
                      f" plan or severity has no target here (e.g. {{{written}, default: {next(iter(value.values()))}}})")
    by_key = {str(k).upper() if str(k).upper() in SEVERITIES else str(k).lower(): d
              for k, d in good.items() if str(k) != "default"}
    return next((d for k, d in good.items() if str(k) == "default"), None), by_key


SlaSpec = Annotated[tuple[timedelta | None, dict[str, timedelta]], PlainValidator(_sla_target)]


class TierSla(Entry):
    shape: ClassVar[str] = "expected {first_response: 4h, resolution_target: 24h}"
    first_response: SlaSpec = (None, {})
    resolution_target: SlaSpec | None = None
    resolution: SlaSpec = (None, {})

    @classmethod
    def unknown_key(cls, key: str) -> str:
        # `resolution` is read too (an older spelling), but not offered (QA: `first_responce`
        # listed the keys instead of the closest one, as every other misspelt key gets).
        hint = difflib.get_close_matches(key, ["first_response", "resolution_target"], n=1)
        return f"unknown key '{key}' " + (f"(did you mean '{hint[0]}'?)" if hint
                                          else "(expected first_response, resolution_target)")


def _rule_list(value: Any, info: ValidationInfo) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(n, str) for n in value):
        raise Invalid("expected a list of policy-wide rule names")
    known = refs_of(info).rules
    found: Found = [((j,), f"unknown rule '{n}' (policy-wide rules: {', '.join(sorted(known))})")
                    for j, n in enumerate(value) if n not in known]
    if found:
        raise Invalid.of(found)
    return tuple(value)


class TeamSpec(Entry):
    """A tier's team and the tickets it takes: `when` (a condition) or `rules` (policy-wide
    rules whose conditions also choose it: an outage that climbs to L4 by its missed updates
    goes to the CTO although its words name no CTO keyword)."""

    shape: ClassVar[str] = "expected {team: NAME, when: CONDITION}"
    team: str
    when: MaybeCond = None
    rules: Annotated[tuple[str, ...], PlainValidator(_rule_list)] = ()

    @classmethod
    def whole(cls, data: Mapping[Any, Any], refs: Refs) -> Found:
        if not isinstance(data.get("team"), str):
            raise Invalid(cls.shape)
        return []


def _team_list(value: Any, handler: ValidatorFunctionWrapHandler) -> Any:
    """`[{team, when}, ..., {team}]`: a name alone is a team for every ticket; the last
    readable entry takes every other ticket, so it has no `when`."""
    if not isinstance(value, list) or not value:
        raise Invalid("expected a list of {team, when}, the last one without 'when'")
    value = [{"team": v} if isinstance(v, str) else v for v in value]
    readable = [v for v in value if isinstance(v, Mapping) and isinstance(v.get("team"), str)]
    chooses = [k for k in ("when", "rules") if readable and k in readable[-1]]
    last = f"the last team must have no '{chooses[0]}' (it receives every other ticket)" if chooses else ""
    return checked(value, handler, [((), last)] if chooses else [])


def _tier_level(value: Any) -> int:
    if not _whole(value) or not 1 <= value <= 4:
        raise Invalid(f"expected a level from 1 to 4, got {value!r}")
    return int(value)


class TierSpec(Entry):
    shape: ClassVar[str] = "expected a tier mapping with level, name, team, sla"
    level: Annotated[int, PlainValidator(_tier_level)] = _default(None)
    name: Name = None
    description: Any = None
    team: Any = None
    teams: Annotated[list[TeamSpec] | None, WrapValidator(_team_list)] = None
    capabilities: Any = None
    sla: Annotated[TierSla | None, BeforeValidator(lambda v: v or None)] = None
    escalation_criteria: Annotated[list[Annotated[str | RuleSpec, PlainValidator(_criterion)]],
                                   _list_of("expected a list of criteria")] = []
    calendar: CalendarRef = None
    next_step: Any = None

    @classmethod
    def whole(cls, data: Mapping[Any, Any], refs: Refs) -> Found:
        team = data.get("team")
        found: Found = []
        if "teams" not in data and (not isinstance(team, str) or not team.strip()):
            found.append((("team",), "expected a team name"))
        level, criteria = data.get("level"), data.get("escalation_criteria")
        if not _whole(level) or not isinstance(criteria, list):
            return found
        top = level == max(refs.levels, default=0)
        for i, c in enumerate(criteria):
            if top and not (isinstance(c, Mapping) and "to" in c):  # `check` explained it as working
                found.append((("escalation_criteria", i), f"L{level} is the top tier: there is no tier above it"
                              " for this criterion to move a ticket to (put it on a lower tier)"))
            found += [(("escalation_criteria", i, *at), said) for at, said in _tier_rule(c, level, refs)]
        return found


def _tier_rule(rule: Any, level: int, refs: Refs) -> Found:
    """A tier's rule moves up from its tier: to `to`, else one level up, and to a team of that tier."""
    if not isinstance(rule, Mapping):
        return []
    to = rule.get("to", level + 1)
    if _whole(to) and to in refs.levels and to <= level:  # it once acted as "one tier up", silently
        return [(("to",), f"a tier's rule escalates: expected a level above L{level}, got {to}")]
    said = refs.team_problem(rule["team"], to, "rule") if "team" in rule and _whole(to) else None
    return [(("team",), said)] if said else []


def _tiers(value: Any, handler: ValidatorFunctionWrapHandler, info: ValidationInfo) -> Any:
    """2 to 4 tiers, each level once, levels 1..N."""
    if not isinstance(value, list) or not value:
        raise Invalid("expected a list of 2 to 4 tiers")
    own: Found = [] if 2 <= len(value) <= 4 else [((), f"expected 2 to 4 tiers, got {len(value)}")]
    seen: set[int] = set()
    for i, t in enumerate(value):
        level = t.get("level") if isinstance(t, Mapping) else None
        if not _whole(level):
            continue
        if level in seen:
            own.append(((i, "level"), f"level {level} is defined twice"))
        seen.add(level)
    levels = sorted(refs_of(info).levels)
    if levels and levels != list(range(1, len(levels) + 1)):
        own.append(((), f"tier levels must run 1..N without gaps, got {levels}"))
    return checked(value, handler, own)


def _severity(value: Any) -> str:
    sev = str("" if value is None else value).upper()
    if sev not in SEVERITIES:
        raise Invalid(f"expected one of {', '.join(SEVERITIES)}, got {value!r}")
    return sev


class OverrideSpec(Entry):
    shape: ClassVar[str] = "expected {severity: P0, route_to: 3, notification: pagerduty}"
    severity: Annotated[str, PlainValidator(_severity)] = _default(None)
    description: Any = None
    route_to: Level = _default(None)
    notification: Channels = ()
    team: Any = None

    @classmethod
    def whole(cls, data: Mapping[Any, Any], refs: Refs) -> Found:
        to, severity = data.get("route_to"), str(data.get("severity")).upper()
        said = refs.team_problem(data["team"], to, "override") if "team" in data and _whole(to) else None
        undefined = refs.severity_problem(severity) if severity in SEVERITIES else None
        return [((key,), m) for key, m in (("severity", undefined), ("team", said)) if m]


def _severity_map(value: Any) -> tuple[tuple[str, Condition], ...]:
    """`severity: {P0: CONDITION, ...}`; none: the tags p0..p3 (seed 000, "Severity-Based Triggers")."""
    if value is None:
        return tuple((s, compile_condition({"tag": s.lower()})) for s in SEVERITIES)
    if not isinstance(value, Mapping):
        raise Invalid("expected a mapping such as {P0: {tag: p0}}")

    def one(spec: tuple[Any, Any]) -> tuple[str, Condition]:
        key, cond = spec
        if str(key).upper() not in SEVERITIES:
            raise Invalid(f"expected one of {', '.join(SEVERITIES)}, got '{key}'")
        return str(key).upper(), _condition(cond)

    good, found = _one_of({k: (k, v) for k, v in value.items()}, one)
    if found:
        raise Invalid.of(found)
    return tuple(sorted(good.values(), key=lambda p: p[0]))


class ManualMeaning(Entry):
    """A criterion an agent decides, with its own tag (`{manual: {tag: x}}`)."""

    tag: Tag | None = None


def _meaning(value: Any, refs: Refs) -> Condition | ManualMeaning:
    if value == "manual":
        return ManualMeaning()
    if isinstance(value, Mapping) and "manual" in value:
        own = value["manual"]
        if not isinstance(own, Mapping) or "tag" not in own:
            return ManualMeaning()
        try:
            return ManualMeaning(tag=_tag(own["tag"]))
        except Invalid as exc:
            raise Invalid(str(exc), ("manual", "tag")) from None
    return _condition(value, refs)


def _nearest_used(key: Any, used: Any) -> str:
    """" (did you mean ...?)" naming the tier criterion a misspelt key was meant for (QA, a
    new adopter: "Customer request escalation" got no hint of "Customer requests escalation")."""
    near = difflib.get_close_matches(str(key), [str(u) for u in used], n=1, cutoff=0.75)
    return f" (did you mean '{near[0]}', which a tier lists?)" if near else ""


def _criteria(value: Any, info: ValidationInfo) -> dict[str, Condition | ManualMeaning]:
    """`criteria: {"<text>": CONDITION | manual | {manual: {tag: x}}}`, each used by a tier."""
    value = value or {}
    if not isinstance(value, Mapping):
        raise Invalid("expected a mapping from criterion text to a condition")
    good, found = _one_of(value, lambda v: _meaning(v, refs_of(info)))
    used = refs_of(info).used
    listed = refs_of(info).listed - set(value)
    found += [((key,), "this criterion is not used by any tier's escalation_criteria" + _nearest_used(key, listed))
              for key in value if key not in used]
    if found:
        raise Invalid.of(found)
    return {str(k): v for k, v in good.items()}


class RoutingSpec(Entry):
    shape: ClassVar[str] = "expected {name, when, start_tier}"
    name: Name = None
    when: Cond = _default(None)
    start_tier: Level = _default(None)


def _level_below_top(value: Any, info: ValidationInfo) -> int | None:
    """A de-escalation's `to`: an existing level below the top one (nothing moves down to it)."""
    if value is None:
        return None
    level, levels = _existing_level(value, info), refs_of(info).levels
    if level == max(levels):
        raise Invalid(f"a de-escalation moves down: expected a level below the top tier L{level}, got {value!r}")
    return level


class DeEscalationSpec(Entry):
    shape: ClassVar[str] = "expected {name, when, to, min_stay}"
    name: Name = None
    description: Any = None
    when: Cond = _default(None)
    to: Annotated[int | None, PlainValidator(_level_below_top)] = None
    min_stay: Duration = _default("1h")
    remove_tags: Any = None

    @model_validator(mode="before")
    @classmethod
    def _removes_its_tag(cls, data: Any) -> Any:
        """The tags a move down removes: as given, else the tag of a `{tag: x}` condition."""
        if not isinstance(data, Mapping) or "remove_tags" in data:
            return data
        spec = data.get("when")
        return {**data, "remove_tags": [spec["tag"]] if isinstance(spec, Mapping) and set(spec) == {"tag"} else []}


class UpdateSpec(Entry):
    shape: ClassVar[str] = "expected {name, when, every, escalate_after}"
    name: Name = None
    description: Any = None
    when: Cond = _default(None)
    every: Duration = _default(None)
    escalate_after: Annotated[int, PlainValidator(_missed_updates)] = 2
    remind: Channels = ()  # the channels a missed update's reminder goes to, beside its note


CATEGORY_SHAPE = "{name, when or rules, first_response, updates_every}"


class CategorySpec(Entry):
    """`response_times:` entries; `rules: [name]` reuses policy-wide rules' conditions."""

    shape: ClassVar[str] = f"expected {CATEGORY_SHAPE}"
    name: str
    description: Any = None
    when: MaybeCond = None
    rules: Annotated[tuple[str, ...], PlainValidator(_rule_list)] = ()
    first_response: MaybeDuration = None
    updates_every: MaybeDuration = None
    # Without escalate_after a missed update gets a reminder note only.
    escalate_after: Annotated[int, PlainValidator(_missed_updates)] = 0
    # The channels a missed update's reminder goes to, beside its internal note: at night
    # nobody reads a note on a ticket nobody is updating (issue 26).
    remind: Channels = ()

    @classmethod
    def whole(cls, data: Mapping[Any, Any], refs: Refs) -> Found:
        if not isinstance(data.get("name"), str):
            raise Invalid(cls.shape)
        names = data.get("rules")
        # A `rules:` list whose names are wrong is said at those names, not also as missing.
        named = isinstance(names, list) and any(isinstance(n, str) for n in names)
        found: Found = []
        if "when" not in data and not named:
            found.append(((), "a response time needs 'when' (a condition) or 'rules' (rule names)"))
        if "first_response" not in data and "updates_every" not in data:
            found.append(((), "a response time needs first_response or updates_every"))
        return found


def _moves(value: Any) -> int:
    if not isinstance(value, int) or value < 1:
        raise Invalid("expected a whole number of moves (1 or more)")
    return value


class PingPongSpec(Entry):
    shape: ClassVar[str] = "expected {max_moves: 3, window: 24h, tag: escalation_frozen}"
    max_moves: Annotated[int, PlainValidator(_moves)] = 3
    window: Duration = timedelta(hours=24)
    tag: Tag = "escalation_frozen"


class TemplateSpec(Entry):
    """A notification: `{subject, body}` (a text alone is the body); `{name}` placeholders
    are those the text is filled with (notes.*_PLACEHOLDERS)."""

    shape: ClassVar[str] = "expected {subject: ..., body: ...}"
    placeholders: ClassVar[tuple[str, ...]] = notes.NOTIFY_PLACEHOLDERS
    texts: ClassVar[tuple[str, ...]] = ("subject", "body")
    subject: Any = None
    body: str

    @model_validator(mode="before")
    @classmethod
    def _text_is_body(cls, data: Any) -> Any:
        return {"body": data} if isinstance(data, str) else data

    @classmethod
    def whole(cls, data: Mapping[Any, Any], refs: Refs) -> Found:
        if not isinstance(data.get("body"), str):
            raise Invalid(cls.shape)
        found: Found = []
        for key in cls.texts:
            found += [((key,), m) for m in _placeholders(str(data.get(key) or ""), cls.placeholders)]
        return found


class ReplyTemplateSpec(TemplateSpec):
    """The customer reply of a move up; `routed`, the one of a new ticket routed straight to
    a tier by the customer's plan or account (without it, such a customer gets no reply: a
    how-to question from an enterprise customer was told "We have escalated ...", QA);
    `returned`, the one of a move back up into a tier the ticket was at before (without it,
    the body's: a customer whose fix did not hold got the first email again word for word, QA)."""

    placeholders: ClassVar[tuple[str, ...]] = notes.REPLY_PLACEHOLDERS
    texts: ClassVar[tuple[str, ...]] = ("subject", "body", "routed", "returned")
    routed: str | None = None
    returned: str | None = None
    # `{tier_name}` as the customer reads it, by level: a tier's own name is the team's word
    # for it ("Engineering / Executive", "Management"; QA, a CX lead). Unnamed: its name.
    tier_names: dict[int, str] = {}

    @classmethod
    def whole(cls, data: Mapping[Any, Any], refs: Refs) -> Found:
        found = super().whole(data, refs)
        names = data.get("tier_names")
        if names is None:
            return found
        if not isinstance(names, Mapping):
            return [*found, (("tier_names",), "expected a mapping of tier levels to names, as {3: engineering}")]
        for level, name in names.items():
            if not _whole(level) or (refs.levels and level not in refs.levels):
                levels = ", ".join(str(v) for v in sorted(refs.levels))
                found.append((("tier_names", level), f"expected a tier level ({levels}), got {level!r}"))
            elif not isinstance(name, str) or not name.strip():
                found.append((("tier_names", level), "expected the name a customer reads for the tier"))
        return found


def _placeholders(text: str, allowed: tuple[str, ...]) -> list[str]:
    """Every `{...}` of a text as `str.format` reads it must be a plain name the text is
    filled with. An attribute or index (`{subject.upper}`) reached the customer as
    Python's own text ("<built-in method upper ...>"); a conversion or format
    (`{requester:d}`) made the whole reply go out unfilled."""
    try:
        fields = [(name, conv, spec) for _text, name, spec, conv in string.Formatter().parse(text) if name is not None]
    except ValueError as exc:
        return [f"unbalanced braces ({exc}); write {{{{ or }}}} for a brace itself"]
    out = []
    for name, conv, spec in fields:
        plain = re.match(r"\w*", name).group()  # type: ignore[union-attr]  # \w* always matches
        if plain != name or conv or spec:
            out.append(f"placeholder {{{name}{'!' + conv if conv else ''}{':' + spec if spec else ''}}}: only a plain"
                       f" name is filled, as {{{plain or 'subject'}}}")
        elif name not in allowed:
            hint = difflib.get_close_matches(name, allowed, n=1)
            more = f"did you mean {{{hint[0]}}}?" if hint else f"expected one of {', '.join(sorted(allowed))}"
            out.append(f"unknown placeholder {{{name}}} ({more})")
    return out


def _review_level(value: Any, info: ValidationInfo) -> int:
    """The level reviewed (absent: the top tier's, `None` here)."""
    levels = refs_of(info).levels
    level = (max(levels) if levels else 3) if value is _TOP else value
    if not isinstance(level, int) or level not in levels:
        raise Invalid(f"expected an existing tier level {sorted(levels)}, got {level!r}")
    return int(level)


_TOP = object()  # review.level not written


class ReviewSpec(Entry):
    shape: ClassVar[str] = "expected {level: 3, within: 48h}"
    level: Annotated[int, PlainValidator(_review_level)] = _default(_TOP)
    within: Duration = timedelta(hours=48)
    tag: Tag = "escalation_review_due"


class TriageSpec(Entry):
    shape: ClassVar[str] = ("expected {review_tag_prefix: triage_review_, dismissed_tag: triage_dismissed,"
                            " notify: [triage]}")
    review_tag_prefix: Tag = _default("triage_review_")
    confirm_tag_prefix: Tag = _default("triage_confirm_")
    dismissed_tag: Tag = _default("triage_dismissed")
    notify: Channels = ()


def _severities(value: Any, info: ValidationInfo) -> frozenset[str]:
    value = [value] if isinstance(value, str) else value
    if not isinstance(value, list) or not all(isinstance(s, str) and s in SEVERITIES for s in value):
        wrong = next((s for s in value if not (isinstance(s, str) and s in SEVERITIES)), value) \
            if isinstance(value, list) else value
        raise Invalid(f"expected severities among {', '.join(SEVERITIES)}, got {wrong!r}")
    refs = refs_of(info)
    undefined = next((m for s in value if (m := refs.severity_problem(s)) is not None), None)
    if undefined:  # an on-call entry for it would never apply
        raise Invalid(undefined)
    return frozenset(value)


def _on_call_level(value: Any, info: ValidationInfo) -> int:
    levels = refs_of(info).levels
    if not _whole(value) or value not in levels:
        raise Invalid(f"expected one of the tier levels {sorted(levels)}, got {value!r}")
    return int(value)


class OnCallSpec(Entry):
    """A tier's own hours and targets, for every ticket or for some severities (and the
    tickets some rules moved into the tier)."""

    shape: ClassVar[str] = "expected {level, severity, rules, calendar, first_response, resolution}"
    level: Annotated[int, PlainValidator(_on_call_level)] = _default(None)
    description: Any = None
    severity: Annotated[frozenset[str], PlainValidator(_severities)] = frozenset()
    rules: Annotated[tuple[str, ...], PlainValidator(_rule_list)] = ()
    calendar: CalendarRef = None
    first_response: MaybeDuration = None
    resolution: MaybeDuration = None


def _calendars(value: Any, info: ValidationInfo) -> dict[str, BusinessCalendar]:
    """`calendars: {NAME: {timezone, hours, holidays}}` (built once, while `Refs` were read)."""
    value = value or {}
    built = refs_of(info).built
    if not isinstance(value, Mapping):
        raise Invalid("expected a mapping of calendar names to {timezone, hours, holidays}")

    def one(spec: tuple[str, Any]) -> BusinessCalendar:
        name, raw = spec
        if name in built:
            return built[name]
        if not isinstance(raw, Mapping):
            raise Invalid("expected {timezone: ..., hours: {...}, holidays: [...]}")
        try:
            return BusinessCalendar.from_spec(name, raw)
        except CalendarError as exc:
            msg = str(exc)  # "hours.mon: ..." names the key to blame: the problem is put there
            key, _, said = msg.partition(":")
            if key and " " not in key.strip() and said:
                raise Invalid(said.strip(), tuple(key.strip().split("."))) from None
            raise Invalid(msg) from None

    good, found = _one_of({k: (str(k), v) for k, v in value.items()}, one)
    if found:
        raise Invalid.of(found)
    return {"24x7": BusinessCalendar.always_open(), **{str(k): v for k, v in good.items()}}


def _string_list(message: str) -> PlainValidator:
    def check(value: Any) -> tuple[str, ...]:
        if not isinstance(value, list) or not all(isinstance(x, str) for x in value):
            raise Invalid(message)
        return tuple(value)
    return PlainValidator(check)


def _sla_clocks(value: Any) -> frozenset[str]:
    if not isinstance(value, list) or not value or not all(isinstance(c, str) and c in SLA_CLOCKS for c in value):
        raise Invalid("expected a list of clocks: first_response, resolution")
    return frozenset(value)


def _pause_statuses(value: Any) -> frozenset[str]:
    """Statuses whose time the SLA clocks do not count. A misspelt one ("pendng") once
    paused nothing, silently: a ticket waiting on its customer was escalated."""
    if not isinstance(value, list):
        raise Invalid("expected a list of statuses, e.g. [pending, hold]")
    statuses = frozenset(str(s).lower() for s in value)
    for status in sorted(statuses - set(STATUSES)):
        hint = difflib.get_close_matches(status, STATUSES, n=1)
        raise Invalid(f"unknown status {status!r} ({f'did you mean {hint[0]}?' if hint else ''}"
                      f" the statuses are {', '.join(STATUSES)}; a Jira status is mapped onto them by the"
                      f" helpdesk's status_map)".replace("( ", "("))
    return statuses


def _targets(value: Any) -> dict[str, float]:
    """Report targets, each a share between 0 and 1 (`escalation_rate: 150` or `.nan` once
    passed and drew a target line off the chart)."""
    value = value or {}
    if not isinstance(value, Mapping):
        raise Invalid("expected a mapping of target names to numbers, e.g. {escalation_rate: 0.05}")
    unknown = [((k,), unknown_plain(str(k), list(TARGETS))) for k in value if k not in TARGETS]
    if unknown:  # `escalaton_rate: 0.5` was kept, and the report drew no target line
        raise Invalid.of(unknown)
    words = [((k,), f"expected a share between 0 and 1 (0.05 for 5%), got {v!r}") for k, v in value.items()
             if not isinstance(v, int | float)]
    if words:  # QA: `escalation_rate: ten` was "expected a mapping ...", the key not named
        raise Invalid.of(words)
    for k, v in value.items():
        if isinstance(v, bool) or not 0 <= v <= 1:  # NaN fails both comparisons
            raise Invalid(f"{k}: expected a share between 0 and 1 (0.05 for 5%), got {v!r}")
    return {str(k): v for k, v in value.items()}


def _tag_prefix(value: Any) -> str:
    if not isinstance(value, str) or not re.fullmatch(r"[a-z0-9_:\-]+", value):
        raise Invalid("expected a lower-case tag prefix such as 'tier_l'")
    return value


def _responders(value: Any) -> str:
    if value not in ("any_agent", "tier_team"):
        raise Invalid(f"expected any_agent or tier_team, got {value!r}")
    return str(value)


def _calendar_ref(value: Any, info: ValidationInfo) -> str:
    """The default calendar: one defined (`24x7` when the key is absent)."""
    known = refs_of(info).calendars
    if not isinstance(value, str) or value not in known:
        raise Invalid(f"unknown calendar '{value}' (defined: {', '.join(sorted(known))})")
    return value


def _template_names(raw: Any, refs: Refs) -> Found:
    """Each notification template keyed by a channel a rule notifies or a notifying rule's
    name: a misspelt one (`ops_chatt:`) was kept and never sent, the default text went out."""
    found: Found = []
    for key in raw if isinstance(raw, Mapping) else ():
        name = str(key)
        if name in refs.notified:
            continue
        if name in refs.silent:
            found.append((("notification_templates", key), f"rule '{name}' notifies no channel, so this template"
                          " is never sent"))
            continue
        hint = difflib.get_close_matches(name, sorted(refs.notified), n=1)
        known = ", ".join(sorted(refs.notified))
        more = (f"did you mean '{hint[0]}'?" if hint else f"a template is keyed by a channel a rule notifies, or by"
                f" the name of a rule that notifies: {known}" if known else "no rule notifies a channel")
        found.append((("notification_templates", key), f"unknown channel or rule '{name}' ({more})"))
    return found


def _other_names(esc: Mapping[Any, Any]) -> list[tuple[Path, str, Any]]:
    """The names the engine gives what is not a rule entry: each `criteria:` text, each SLA
    share the tiers name ("SLA at 90% ..." is `sla-90pct`, one name however many tiers list
    it) and each de-escalation."""
    out: list[tuple[Path, str, Any]] = []
    criteria = esc.get("criteria")
    out += [(("criteria", key), slug(str(key)), None) for key in (criteria if isinstance(criteria, Mapping) else ())]
    shares: set[str] = set()
    for j, t in _indexed(esc.get("tiers")):
        texts = t.get("escalation_criteria")
        for i, text in enumerate(texts if isinstance(texts, list) else ()):
            m = SLA_CRITERION.match(text) if isinstance(text, str) else None
            name = f"sla-{float(m.group(1)):g}pct" if m else None
            if name is not None and name not in shares and not (isinstance(criteria, Mapping) and text in criteria):
                shares.add(name)
                out.append((("tiers", j, "escalation_criteria", i), name, None))
    out += [_named(("de_escalation", i), d, f"de-escalation-{i + 1}") for i, d in _indexed(esc.get("de_escalation"))]
    return out


def _names_twice(esc: Mapping[Any, Any], refs: Refs) -> Found:
    """A rule's name is how notes, history, report, templates and `response_times[].rules`
    refer to it: two rules named alike (two `vip`) were both accepted, and so were a rule, a
    criterion, an SLA share or a de-escalation that the engine names alike (QA)."""
    first: dict[str, Path] = {}
    found: Found = []
    named = _named_rules(esc) + _other_names(esc)
    for at, name, _notify in sorted(named, key=lambda r: refs.lines.line(r[0]) or 0 if refs.lines else 0):
        if name in first:
            found.append((at, f"a rule named '{name}' is already defined at {refs.where(first[name])} (notes, history,"
                              " reports and response_times[].rules tell rules apart by name)"))
        first.setdefault(name, at)
    return found


class Escalation(Entry):
    """The `escalation:` block: the seed's keys and tierlift's extensions."""

    @classmethod
    def whole(cls, data: Mapping[Any, Any], refs: Refs) -> Found:
        return _template_names(data.get("notification_templates"), refs) + _names_twice(data, refs)

    name: Name = None
    description: Any = None
    calendars: Annotated[dict[str, BusinessCalendar], PlainValidator(_calendars)] = _default(None)
    calendar: Annotated[str, PlainValidator(_calendar_ref)] = "24x7"
    criteria: Annotated[dict[str, Condition | ManualMeaning], PlainValidator(_criteria)] = _default(None)
    manual_trigger_tag: Tag = _default("escalate")
    required_context: Annotated[tuple[str, ...], _string_list(
        "expected a list of context names such as steps_taken")] = ("steps_taken", "customer_impact")
    sla_clocks: Annotated[frozenset[str], PlainValidator(_sla_clocks)] = frozenset(SLA_CLOCKS)
    tiers: Annotated[list[TierSpec], WrapValidator(_tiers)] = _default(None)
    severity: Annotated[tuple[tuple[str, Condition], ...], PlainValidator(_severity_map)] = _default(None)
    severity_overrides: Annotated[list[OverrideSpec], _list_of(
        "expected a list of {severity, route_to, notification}")] = []
    rules: Annotated[list[PolicyRuleSpec], _list_of("expected a list of rules {name, when, to, team, notify}")] = []
    routing: Annotated[list[RoutingSpec], _list_of("expected a list of {name, when, start_tier}")] = []
    de_escalation: Annotated[list[DeEscalationSpec], _list_of("expected a list of {name, when, to, min_stay}")] = []
    response_times: Annotated[list[CategorySpec], _list_of(f"expected a list of {CATEGORY_SHAPE}")] = []
    updates: Annotated[list[UpdateSpec], _list_of("expected a list of {name, when, every}")] = []
    ping_pong: PingPongSpec | None = None
    pause_statuses: Annotated[frozenset[str], PlainValidator(_pause_statuses)] = frozenset({"pending", "hold"})
    notification_templates: Annotated[dict[Any, TemplateSpec], _mapping_of(
        "expected a mapping of template names to {subject, body}")] = {}
    customer_notification: ReplyTemplateSpec | None = None
    review: ReviewSpec | None = None
    targets: Annotated[dict[str, float], PlainValidator(_targets)] = {}
    tier_tag_prefix: Annotated[str, PlainValidator(_tag_prefix)] = "tier_l"
    triage: TriageSpec | None = None
    on_call: Annotated[list[OnCallSpec], _list_of(
        "expected a list of {level, severity, calendar, first_response, resolution}")] = []
    first_response_by: Annotated[str, PlainValidator(_responders)] = "any_agent"
    incomplete_tag: Any = "escalation_incomplete"
