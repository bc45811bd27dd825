"""Policies: the seed's `escalation:` YAML plus extension keys, validated into types.

The seed 000 "Escalation Workflow Configuration" block loads unmodified:
string criteria are understood as follows, and `tierlift check` says which
applied to each one.

1. `criteria: {"<text>": <condition> | manual | {manual: {tag: x}}}` gives a
   criterion a machine-checkable meaning (ARCHITECTURE.md, "Where to add").
2. "SLA at N% elapsed without resolution path" is automatic: the current
   tier's first-response (until the first public agent reply) or resolution
   clock has used N% of its target.
3. Anything else is manual: an agent applies the policy's trigger tag
   (`escalate` by default) and the escalation needs its context.

Every problem found is reported (not only the first), as
`FILE:LINE: key.path: what was expected`.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from tierlift.engine import notes
from tierlift.engine.calendar import BusinessCalendar, CalendarError
from tierlift.engine.conditions import Condition, ConditionError, any_of, compile_condition
from tierlift.engine.durations import DurationError, format_business, parse_duration
from tierlift.engine.textmatch import PhraseScanner, pack_phrases
from tierlift.engine.yamlsrc import InvalidFile, Path, Positions, Problem, load

SEVERITIES = ("P0", "P1", "P2", "P3")
_SLA_CRITERION = re.compile(
    r"^\s*SLA\s+(?:at\s+)?(\d{1,3}(?:\.\d+)?)\s*%\s*(?:elapsed|used|consumed)?(?P<rest>.*)$", re.I
)


@dataclass(frozen=True)
class SlaTarget:
    """A target that may depend on the customer's plan or the ticket's severity."""

    default: timedelta | None
    by_key: Mapping[str, timedelta] = field(default_factory=dict)

    def for_ticket(self, plan: str | None, severity: str | None) -> timedelta | None:
        if severity and severity in self.by_key:
            return self.by_key[severity]
        if plan and plan.lower() in self.by_key:
            return self.by_key[plan.lower()]
        return self.default

    def describe(self, day_hours: float = 24.0) -> str:
        """`P1 1 business hour, otherwise 24 business hours (3 business days)` (day_hours: the calendar's)."""
        parts = [f"{k} {format_business(v, day_hours)}" for k, v in self.by_key.items()]
        if self.default is not None:
            text = format_business(self.default, day_hours)
            parts.append(f"otherwise {text}" if parts else text)
        return ", ".join(parts) or "none"


@dataclass(frozen=True)
class TeamChoice:
    team: str
    when: Condition | None = None


@dataclass(frozen=True)
class Rule:
    """A reason to move a ticket up.

    kind: "sla" (a clock crossed `sla_pct`), "condition" (when holds),
    "manual" (an agent applied `tag`), "severity" (an override).
    """

    name: str
    kind: str
    text: str
    when: Condition | None = None
    sla_pct: float = 0.0
    sla_metric: str = "any"  # any | first_response | resolution
    tag: str | None = None
    to: int | None = None  # absolute target tier; None = one level up
    team: str | None = None
    notify: tuple[str, ...] = ()
    requires_context: bool = False
    # A severity rule (outage, security, data loss, P0, P1): routes up from any
    # tier, also when the ping-pong guard froze the ticket.
    severe: bool = False
    # Routes by who the customer is (plan, contract value), not by what was
    # written: never suppressed after a move down, and the tier a
    # de-escalation returns the ticket to (teamflow: enterprise -> L2).
    by_customer: bool = False

    def how(self) -> str:
        if self.kind == "sla":
            metric = {"any": "first-response or resolution", "first_response": "first-response",
                      "resolution": "resolution"}[self.sla_metric]
            return f"automatic: the tier's {metric} clock reaches {self.sla_pct:g}% of its target"
        if self.kind == "manual":
            ctx = " (needs steps taken and customer impact)" if self.requires_context else ""
            return f"manual: an agent adds the tag '{self.tag}'{ctx}"
        if self.kind == "severity":
            return f"severity override: {self.when.describe if self.when else ''}"
        return f"by condition: {self.when.describe if self.when else ''}"


@dataclass(frozen=True)
class Tier:
    level: int
    name: str
    teams: tuple[TeamChoice, ...]
    first_response: SlaTarget
    resolution: SlaTarget
    rules: tuple[Rule, ...]
    calendar: str | None = None
    next_step: str | None = None

    @property
    def default_team(self) -> str:
        return self.teams[-1].team


@dataclass(frozen=True)
class OnCall:
    """A tier's own hours and targets, for every ticket or for some severities (three-tier:
    P0/P1 incidents at L3 are engineering on call, 24x7, 30 minutes)."""

    level: int
    severities: frozenset[str]  # empty: every ticket at the level
    calendar: str | None
    first_response: timedelta | None
    resolution: timedelta | None

    def applies(self, level: int, severity: str | None) -> bool:
        return level == self.level and (not self.severities or severity in self.severities)


@dataclass(frozen=True)
class Routing:
    name: str
    when: Condition
    start_tier: int


@dataclass(frozen=True)
class DeEscalation:
    name: str
    when: Condition
    to: int | None  # None = one level down
    min_stay: timedelta
    remove_tags: tuple[str, ...]


@dataclass(frozen=True)
class UpdateObligation:
    """Public updates at an interval while `when` holds (TeamFlow: 30 min for security)."""

    name: str
    when: Condition
    every: timedelta
    escalate_after: int = 2  # misses before the ticket moves up; 0: reminders only


@dataclass(frozen=True)
class Category:
    """A category with its own response times (seed 003, "Response Time SLAs").

    It applies while `when` holds; the customer promise uses the shortest
    `first_response` of the categories that apply, else the level's target;
    `updates_every` becomes an update obligation.
    """

    name: str
    when: Condition
    first_response: timedelta | None = None
    updates_every: timedelta | None = None
    escalate_after: int = 0  # missed updates before an escalation; 0: reminders only


@dataclass(frozen=True)
class PingPong:
    max_moves: int = 3
    window: timedelta = timedelta(hours=24)
    tag: str = "escalation_frozen"


@dataclass(frozen=True)
class Review:
    """Post-escalation review of top-tier tickets once solved (seed 000; seed 003: RCA in 48 h)."""

    level: int
    within: timedelta
    tag: str = "escalation_review_due"


@dataclass(frozen=True)
class TriageReview:
    """How tierlift asks a person about a ticket whose triage score fell in a review band:
    the tag `<review_tag_prefix><category>` and a note; an agent confirms with the rule's own
    tag `<confirm_tag_prefix><category>` (a pack's rule lists it beside its triage condition)
    or dismisses with `dismissed_tag` (never asked again on that ticket)."""

    review_tag_prefix: str = "triage_review_"
    confirm_tag_prefix: str = "triage_confirm_"
    dismissed_tag: str = "triage_dismissed"
    notify: tuple[str, ...] = ()


@dataclass(frozen=True)
class Template:
    subject: str
    body: str


@dataclass(frozen=True)
class Policy:
    name: str
    source: str
    tiers: Mapping[int, Tier]
    rules: tuple[Rule, ...]  # policy-wide (severity overrides, immediate criteria)
    severity_map: tuple[tuple[str, Condition], ...]
    routing: tuple[Routing, ...]
    de_escalations: tuple[DeEscalation, ...]
    updates: tuple[UpdateObligation, ...]
    ping_pong: PingPong
    calendars: Mapping[str, BusinessCalendar]
    default_calendar: str
    pause_statuses: frozenset[str]
    manual_tag: str
    incomplete_tag: str
    required_context: tuple[str, ...]
    tag_prefix: str
    customer_notification: Template | None
    templates: Mapping[str, Template]
    review: Review | None
    targets: Mapping[str, float]
    # For `tierlift check`: (tier, criterion text, how it is decided).
    explanations: tuple[tuple[int | None, str, str], ...] = ()
    categories: tuple[Category, ...] = ()
    triage: TriageReview = TriageReview()
    on_call: tuple[OnCall, ...] = ()
    # Whose public reply meets a tier's first response: "any_agent" (Zendesk's first
    # reply time) or "tier_team" (only the people of the tier's own teams).
    first_response_by: str = "any_agent"

    @property
    def top_tier(self) -> int:
        return max(self.tiers)

    def calendar_for(self, tier: Tier, severity: str | None = None) -> BusinessCalendar:
        """The tier's calendar; an `on_call` entry for the tier (and severity) has its own."""
        oc = self.on_call_for(tier.level, severity)
        return self.calendars[(oc.calendar if oc else None) or tier.calendar or self.default_calendar]

    def targets_for(self, tier: Tier, plan: str | None,
                    severity: str | None) -> tuple[timedelta | None, timedelta | None]:
        """The tier's first-response and resolution targets for a ticket (`on_call` first)."""
        oc = self.on_call_for(tier.level, severity)
        first = tier.first_response.for_ticket(plan, severity)
        resolution = tier.resolution.for_ticket(plan, severity)
        if oc is not None:
            first, resolution = oc.first_response or first, oc.resolution or resolution
        return first, resolution

    def responders(self, tier: Tier) -> frozenset[str] | None:
        """The teams whose reply meets the tier's first response (None: anyone's)."""
        if self.first_response_by != "tier_team":
            return None
        return frozenset(c.team for c in tier.teams)

    def on_call_for(self, level: int, severity: str | None) -> OnCall | None:
        return next((oc for oc in self.on_call if oc.applies(level, severity)), None)

    def tier_of_team(self, team: str | None) -> int | None:
        """The one tier a team works in; None for a team in no tier or in several."""
        if not team:
            return None
        found = {lv for lv, t in self.tiers.items() if any(c.team == team for c in t.teams)}
        found |= {r.to for r in self.rules if r.team == team and r.to is not None}
        return found.pop() if len(found) == 1 else None

    def tier_tag(self, level: int) -> str:
        return f"{self.tag_prefix}{level}"

    @property
    def tier_tags(self) -> frozenset[str]:
        return frozenset(self.tier_tag(level) for level in range(1, 5))

    @property
    def uses_comments(self) -> bool:
        conds = [r.when for t in self.tiers.values() for r in t.rules if r.when]
        conds += [r.when for r in self.rules if r.when] + [c for _, c in self.severity_map]
        return any(c.uses_comments for c in conds)

    @property
    def teams(self) -> list[str]:
        seen: dict[str, None] = {}
        for tier in self.tiers.values():
            for choice in tier.teams:
                seen[choice.team] = None
        for rule in self.rules:
            if rule.team:
                seen[rule.team] = None
        return list(seen)

    @property
    def channels(self) -> list[str]:
        seen: dict[str, None] = {}
        for rule in self.rules:
            for ch in rule.notify:
                seen[ch] = None
        for tier in self.tiers.values():
            for rule in tier.rules:
                for ch in rule.notify:
                    seen[ch] = None
        for ch in self.triage.notify:
            seen[ch] = None
        return list(seen)


# --- loading -------------------------------------------------------------------

_ROOT: Path = ("escalation",)
SLA_CLOCKS = ("first_response", "resolution")
_TOP_KEYS = {
    "name", "description", "tiers", "severity_overrides", "calendars", "calendar", "criteria",
    "severity", "pause_statuses", "manual_trigger_tag", "incomplete_tag", "required_context",
    "tier_tag_prefix", "routing", "rules", "de_escalation", "updates", "ping_pong", "triage",
    "customer_notification", "notification_templates", "review", "targets", "response_times",
    "sla_clocks", "on_call", "first_response_by",
}
_TIER_KEYS = {"level", "name", "team", "teams", "capabilities", "sla", "escalation_criteria",
              "calendar", "next_step", "description"}
_RULE_KEYS = {"name", "when", "to", "team", "notify", "within", "description", "requires_context",
              "severe", "by_customer"}
_CATEGORY_KEYS = {"name", "when", "rules", "first_response", "updates_every", "escalate_after", "description"}

Spec = Mapping[Any, Any]  # a mapping as YAML gives it
Explanation = tuple[int | None, str, str]  # (tier, criterion text, how it is decided)


class _Collector:
    """Every problem found, in the order found, as `FILE:LINE: key.path: message`."""

    def __init__(self, positions: Positions):
        self.pos = positions
        self.problems: list[Problem] = []
        self.phrases = PhraseScanner()  # one automaton for every phrase of the pack

    def add(self, path: Path, message: str) -> None:
        self.problems.append(self.pos.problem(path, message))

    def unknown_keys(self, data: Spec, allowed: set[str], path: Path) -> None:
        for key in data:
            if key not in allowed:
                hint = difflib.get_close_matches(str(key), sorted(allowed), n=1)
                more = f" (did you mean '{hint[0]}'?)" if hint else f" (expected one of: {', '.join(sorted(allowed))})"
                self.add(path + (key,), f"unknown key '{key}'{more}")

    def condition(self, spec: Any, path: Path) -> Condition | None:
        try:
            with pack_phrases(self.phrases):
                return compile_condition(spec, ())
        except ConditionError as exc:
            self.add(path + exc.path, str(exc))
            return None

    def duration(self, value: Any, path: Path) -> timedelta | None:
        try:
            return parse_duration(value)
        except DurationError as exc:
            self.add(path, str(exc))
            return None


def load_policy_text(text: str, source: str, name: str | None = None) -> Policy:
    """Parse and validate a policy file's text. Raises InvalidFile listing every problem."""
    data, positions = load(text, source)
    return build_policy(data, positions, name)


def build_policy(data: Any, positions: Positions, name: str | None = None) -> Policy:
    """The policy of a loaded YAML document; problems are collected section by section
    in this order, then raised together as InvalidFile."""
    c = _Collector(positions)
    esc = _escalation_block(data, c)
    calendars, default_cal = _calendars(esc, c)
    criteria = _criteria(esc, c)
    tiers = _tiers(esc, c, criteria, calendars)
    levels = set(tiers.by_level)
    severity_map = _severity_map(esc, c)
    rules = _overrides(esc, c, levels) + _rules(esc, c, levels)
    for key in criteria.meanings:
        if key not in tiers.used:
            c.add(_ROOT + ("criteria", key), "this criterion is not used by any tier's escalation_criteria")
    routing = tuple(_routing(esc, c, levels))
    de_escalations = tuple(_de_escalations(esc, c, levels))
    categories = tuple(_categories(esc, c, rules))
    updates = tuple(_updates(esc, c)) + tuple(
        UpdateObligation(f"{k.name}-updates", k.when, k.updates_every, k.escalate_after)
        for k in categories if k.updates_every)
    ping_pong = _ping_pong(esc, c)
    texts = _texts_and_targets(esc, c, levels)
    triage = _triage_review(esc, c)
    on_call = _on_call(esc, c, levels, calendars)
    responders = esc.get("first_response_by", "any_agent")
    if responders not in ("any_agent", "tier_team"):
        c.add(_ROOT + ("first_response_by",), f"expected any_agent or tier_team, got {responders!r}")
    if c.problems:
        raise InvalidFile(c.problems)
    return Policy(
        name=str(esc.get("name") or name or positions.source),
        source=positions.source,
        tiers=tiers.by_level,
        rules=tuple(rules),
        severity_map=severity_map,
        routing=routing,
        de_escalations=de_escalations,
        updates=updates,
        ping_pong=ping_pong,
        calendars=calendars,
        default_calendar=default_cal,
        pause_statuses=texts.pause_statuses,
        on_call=on_call,
        first_response_by=str(responders),
        manual_tag=criteria.manual_tag,
        incomplete_tag=str(esc.get("incomplete_tag", "escalation_incomplete")),
        required_context=criteria.required_context,
        tag_prefix=texts.tag_prefix,
        customer_notification=texts.customer_notification,
        templates=texts.templates,
        review=texts.review,
        targets=texts.targets,
        explanations=tuple(tiers.explanations) + tuple((None, r.text, r.how()) for r in rules),
        categories=categories,
        triage=triage,
    )


def _on_call(esc: Spec, c: _Collector, levels: set[int], calendars: Mapping[str, BusinessCalendar]) -> tuple[OnCall, ...]:
    """`on_call: [{level, severity: [P0, P1], calendar, first_response, resolution}]`."""
    raw = esc.get("on_call") or []
    if not isinstance(raw, list):
        c.add(_ROOT + ("on_call",), "expected a list of {level, severity, calendar, first_response, resolution}")
        return ()
    out = []
    for i, item in enumerate(raw):
        ip = _ROOT + ("on_call", i)
        if not isinstance(item, Mapping):
            c.add(ip, "expected {level, severity, calendar, first_response, resolution}")
            continue
        entry = _on_call_entry(item, c, ip, levels, calendars)
        if entry is not None:
            out.append(entry)
    return tuple(out)


def _on_call_entry(item: Spec, c: _Collector, ip: Path, levels: set[int],
                   calendars: Mapping[str, BusinessCalendar]) -> OnCall | None:
    c.unknown_keys(item, {"level", "severity", "calendar", "first_response", "resolution", "description"}, ip)
    level = item.get("level")
    if level not in levels or isinstance(level, bool):
        c.add(ip + ("level",), f"expected one of the tier levels {sorted(levels)}, got {level!r}")
    sev = item.get("severity", [])
    sev = [sev] if isinstance(sev, str) else sev
    if not isinstance(sev, list) or not set(sev) <= set(SEVERITIES):
        c.add(ip + ("severity",), f"expected severities among {', '.join(SEVERITIES)}")
        sev = []
    cal = item.get("calendar")
    if cal is not None and cal not in calendars:
        c.add(ip + ("calendar",), f"unknown calendar '{cal}' (defined: {', '.join(sorted(calendars))})")
    first = c.duration(item["first_response"], ip + ("first_response",)) if "first_response" in item else None
    res = c.duration(item["resolution"], ip + ("resolution",)) if "resolution" in item else None
    if not isinstance(level, int):
        return None
    return OnCall(level, frozenset(sev), cal if cal in calendars else None, first, res)


def _escalation_block(data: Any, c: _Collector) -> Spec:
    if not isinstance(data, Mapping) or "escalation" not in data:
        c.add((), "expected a mapping with the top-level key 'escalation'")
        raise InvalidFile(c.problems)
    for key in data:
        if key != "escalation":
            c.add((key,), f"unknown top-level key '{key}' (everything goes under 'escalation')")
    esc = data["escalation"]
    if not isinstance(esc, Mapping):
        c.add(_ROOT, "expected a mapping")
        raise InvalidFile(c.problems)
    c.unknown_keys(esc, _TOP_KEYS, _ROOT)
    return esc


@dataclass(frozen=True)
class _Criteria:
    """What every tier's escalation criteria are read with: the `criteria:` meanings,
    the manual trigger tag and the context a manual escalation needs."""

    meanings: Spec
    manual_tag: str
    required_context: tuple[str, ...]
    # The clocks "SLA at N% elapsed without resolution path" watches when its text names
    # neither (`sla_clocks:`; seed 000 gives every tier both targets).
    sla_clocks: frozenset[str] = frozenset(SLA_CLOCKS)

    @property
    def needs_context(self) -> bool:
        return bool(self.required_context)


def _criteria(esc: Spec, c: _Collector) -> _Criteria:
    meanings = esc.get("criteria") or {}
    if not isinstance(meanings, Mapping):
        c.add(_ROOT + ("criteria",), "expected a mapping from criterion text to a condition")
        meanings = {}
    manual_tag = _tag(esc.get("manual_trigger_tag", "escalate"), c, _ROOT + ("manual_trigger_tag",))
    required = esc.get("required_context", ["steps_taken", "customer_impact"])
    if not isinstance(required, list) or not all(isinstance(x, str) for x in required):
        c.add(_ROOT + ("required_context",), "expected a list of context names such as steps_taken")
        required = []
    clocks = esc.get("sla_clocks", list(SLA_CLOCKS))
    if not isinstance(clocks, list) or not clocks or not set(clocks) <= set(SLA_CLOCKS):
        c.add(_ROOT + ("sla_clocks",), "expected a list of clocks: first_response, resolution")
        clocks = list(SLA_CLOCKS)
    return _Criteria(meanings, manual_tag, tuple(required), frozenset(clocks))


@dataclass(frozen=True)
class _Texts:
    pause_statuses: frozenset[str]
    templates: dict[str, Template]
    customer_notification: Template | None
    review: Review | None
    targets: dict[str, float]
    tag_prefix: str


def _texts_and_targets(esc: Spec, c: _Collector, levels: set[int]) -> _Texts:
    """Pause statuses, templates, the customer notification, review, targets and the tag prefix."""
    pause = esc.get("pause_statuses", ["pending", "hold"])
    if not isinstance(pause, list):
        c.add(_ROOT + ("pause_statuses",), "expected a list of statuses, e.g. [pending, hold]")
        pause = []
    templates = _templates(esc.get("notification_templates") or {}, c, _ROOT + ("notification_templates",))
    cust = esc.get("customer_notification")
    customer_notification = None
    if cust is not None:
        customer_notification = _template(cust, c, _ROOT + ("customer_notification",), notes.REPLY_PLACEHOLDERS)
    review = _review(esc, c, levels)
    targets = esc.get("targets") or {}
    if not isinstance(targets, Mapping) or not all(isinstance(v, int | float) for v in targets.values()):
        c.add(_ROOT + ("targets",), "expected a mapping of target names to numbers, e.g. {escalation_rate: 0.05}")
        targets = {}
    prefix = esc.get("tier_tag_prefix", "tier_l")
    if not isinstance(prefix, str) or not re.fullmatch(r"[a-z0-9_:\-]+", prefix):
        c.add(_ROOT + ("tier_tag_prefix",), "expected a lower-case tag prefix such as 'tier_l'")
        prefix = "tier_l"
    return _Texts(frozenset(str(s).lower() for s in pause), templates, customer_notification, review,
                  dict(targets), prefix)


def _tag(value: Any, c: _Collector, path: Path) -> str:
    if not isinstance(value, str) or not re.fullmatch(r"[A-Za-z0-9_:\-./]+", value):
        c.add(path, f"expected a tag (letters, digits, _ - : . /), got {value!r}")
        return "escalate"
    return value.lower()


def _calendars(esc: Spec, c: _Collector) -> tuple[dict[str, BusinessCalendar], str]:
    calendars: dict[str, BusinessCalendar] = {"24x7": BusinessCalendar.always_open()}
    raw = esc.get("calendars") or {}
    if not isinstance(raw, Mapping):
        c.add(_ROOT + ("calendars",), "expected a mapping of calendar names to {timezone, hours, holidays}")
        raw = {}
    for cal_name, spec in raw.items():
        path = _ROOT + ("calendars", cal_name)
        if not isinstance(spec, Mapping):
            c.add(path, "expected {timezone: ..., hours: {...}, holidays: [...]}")
            continue
        try:
            calendars[str(cal_name)] = BusinessCalendar.from_spec(str(cal_name), spec)
        except CalendarError as exc:
            msg = str(exc)
            key = msg.split(":", 1)[0].strip() if ":" in msg else ""
            sub = tuple(key.split(".")) if key and " " not in key else ()
            c.add(path + sub, msg)
    default = esc.get("calendar", "24x7")
    if default not in calendars:
        c.add(_ROOT + ("calendar",), f"unknown calendar '{default}' (defined: {', '.join(sorted(calendars))})")
        default = "24x7"
    return calendars, str(default)


def _sla_target(value: Any, c: _Collector, path: Path) -> SlaTarget:
    if value is None:
        return SlaTarget(None)
    if isinstance(value, Mapping):
        by_key: dict[str, timedelta] = {}
        default = None
        for key, v in value.items():
            d = c.duration(v, path + (key,))
            if d is None:
                continue
            k = str(key)
            if k == "default":
                default = d
            elif k.upper() in SEVERITIES:
                by_key[k.upper()] = d
            else:
                by_key[k.lower()] = d
        return SlaTarget(default, by_key)
    d = c.duration(value, path)
    return SlaTarget(d)


# --- tiers ---------------------------------------------------------------------------


@dataclass
class _Tiers:
    """The tiers read so far, how each criterion is decided, and the `criteria:` texts used."""

    by_level: dict[int, Tier] = field(default_factory=dict)
    explanations: list[Explanation] = field(default_factory=list)
    used: set[str] = field(default_factory=set)


def _tiers(esc: Spec, c: _Collector, criteria: _Criteria, calendars: Mapping[str, BusinessCalendar]) -> _Tiers:
    raw = esc.get("tiers")
    path = _ROOT + ("tiers",)
    out = _Tiers()
    if not isinstance(raw, list) or not raw:
        c.add(path, "expected a list of 2 to 4 tiers")
        return out
    if not 2 <= len(raw) <= 4:
        c.add(path, f"expected 2 to 4 tiers, got {len(raw)}")
    for i, t in enumerate(raw):
        tp = path + (i,)
        if not isinstance(t, Mapping):
            c.add(tp, "expected a tier mapping with level, name, team, sla")
            continue
        c.unknown_keys(t, _TIER_KEYS, tp)
        level = _tier_level(t, c, tp, out.by_level)
        if level is None:
            continue
        teams = _teams(t, c, tp)
        first, resolution = _tier_sla(t, c, tp)
        cal = _tier_calendar(t, c, tp, calendars)
        rules = _TierRules(level, criteria, c).read(t.get("escalation_criteria") or [], tp + ("escalation_criteria",))
        out.explanations += rules.explanations
        out.used |= rules.used
        out.by_level[level] = Tier(level, str(t.get("name") or f"Level {level}"), teams, first, resolution,
                                   tuple(rules.rules), cal, t.get("next_step"))
    if out.by_level and sorted(out.by_level) != list(range(1, len(out.by_level) + 1)):
        c.add(path, f"tier levels must run 1..N without gaps, got {sorted(out.by_level)}")
    return out


def _tier_level(t: Spec, c: _Collector, tp: Path, seen: Mapping[int, Tier]) -> int | None:
    level = t.get("level")
    if not isinstance(level, int) or isinstance(level, bool) or not 1 <= level <= 4:
        c.add(tp + ("level",), f"expected a level from 1 to 4, got {level!r}")
        return None
    if level in seen:
        c.add(tp + ("level",), f"level {level} is defined twice")
        return None
    return level


def _tier_sla(t: Spec, c: _Collector, tp: Path) -> tuple[SlaTarget, SlaTarget]:
    """The tier's first-response and resolution targets."""
    sla = t.get("sla") or {}
    if not isinstance(sla, Mapping):
        c.add(tp + ("sla",), "expected {first_response: 4h, resolution_target: 24h}")
        sla = {}
    for key in sla:
        if key not in ("first_response", "resolution_target", "resolution"):
            c.add(tp + ("sla", key), f"unknown key '{key}' (expected first_response, resolution_target)")
    first = _sla_target(sla.get("first_response"), c, tp + ("sla", "first_response"))
    res_key = "resolution_target" if "resolution_target" in sla else "resolution"
    return first, _sla_target(sla.get(res_key), c, tp + ("sla", res_key))


def _tier_calendar(t: Spec, c: _Collector, tp: Path, calendars: Mapping[str, BusinessCalendar]) -> str | None:
    cal = t.get("calendar")
    if cal is not None and cal not in calendars:
        c.add(tp + ("calendar",), f"unknown calendar '{cal}' (defined: {', '.join(sorted(calendars))})")
        return None
    return cal


def _teams(t: Spec, c: _Collector, tp: Path) -> tuple[TeamChoice, ...]:
    if "teams" not in t:
        team = t.get("team")
        if not isinstance(team, str) or not team.strip():
            c.add(tp + ("team",), "expected a team name")
            return (TeamChoice("unassigned"),)
        return (TeamChoice(team),)
    raw = t["teams"]
    if not isinstance(raw, list) or not raw:
        c.add(tp + ("teams",), "expected a list of {team, when}, the last one without 'when'")
        return (TeamChoice("unassigned"),)
    out = []
    for j, item in enumerate(raw):
        ip = tp + ("teams", j)
        if isinstance(item, str):
            out.append(TeamChoice(item))
            continue
        if not isinstance(item, Mapping) or not isinstance(item.get("team"), str):
            c.add(ip, "expected {team: NAME, when: CONDITION}")
            continue
        c.unknown_keys(item, {"team", "when"}, ip)
        when = c.condition(item["when"], ip + ("when",)) if "when" in item else None
        out.append(TeamChoice(item["team"], when))
    if out and out[-1].when is not None:
        c.add(tp + ("teams",), "the last team must have no 'when' (it receives every other ticket)")
    return tuple(out) or (TeamChoice("unassigned"),)


@dataclass
class _TierRules:
    """One tier's `escalation_criteria` read into rules, with how each is decided.

    Criteria that mean "the agent applies the policy's trigger tag" share one
    manual rule, added after the others.
    """

    level: int
    criteria: _Criteria
    c: _Collector
    rules: list[Rule] = field(default_factory=list)
    explanations: list[Explanation] = field(default_factory=list)
    used: set[str] = field(default_factory=set)
    manual_texts: list[str] = field(default_factory=list)

    def read(self, raw: Any, path: Path) -> _TierRules:
        if not isinstance(raw, list):
            self.c.add(path, "expected a list of criteria")
            return self
        for i, item in enumerate(raw):
            ip = path + (i,)
            if isinstance(item, Mapping):
                self._add(_rule_object(item, self.c, ip, default_name=f"L{self.level}-rule-{i + 1}"))
            elif not isinstance(item, str):
                self.c.add(ip, "expected a criterion text or a rule {name, when, to}")
            elif item in self.criteria.meanings:
                self._named(item)
            elif m := _SLA_CRITERION.match(item):
                self._add(_sla_rule(item, m, self.c, ip, self.criteria.sla_clocks))
            else:
                self.manual_texts.append(item)
        if self.manual_texts:
            rule = Rule("manual", "manual", "; ".join(self.manual_texts), tag=self.criteria.manual_tag,
                        requires_context=self.criteria.needs_context)
            self.rules.append(rule)
            self.explanations += [(self.level, text, rule.how()) for text in self.manual_texts]
        return self

    def _add(self, rule: Rule | None) -> None:
        if rule is not None:
            self.rules.append(rule)
            self.explanations.append((self.level, rule.text, rule.how()))

    def _named(self, text: str) -> None:
        """A criterion given a meaning under `criteria:`: a condition, or manual with its own tag."""
        self.used.add(text)
        meaning = self.criteria.meanings[text]
        cp = _ROOT + ("criteria", text)
        if not (meaning == "manual" or (isinstance(meaning, Mapping) and "manual" in meaning)):
            when = self.c.condition(meaning, cp)
            self._add(Rule(_slug(text), "condition", text, when=when) if when is not None else None)
            return
        tag = self.criteria.manual_tag
        if isinstance(meaning, Mapping) and isinstance(meaning["manual"], Mapping):
            tag = _tag(meaning["manual"].get("tag", tag), self.c, cp + ("manual", "tag"))
        if tag == self.criteria.manual_tag:
            self.manual_texts.append(text)
        else:
            self._add(Rule(_slug(text), "manual", text, tag=tag, requires_context=self.criteria.needs_context))


def _sla_rule(text: str, m: re.Match[str], c: _Collector, ip: Path, clocks: frozenset[str]) -> Rule | None:
    """"SLA at N% elapsed ...": the tier's clock named in the rest of the text, else the
    pack's `sla_clocks` (both by default)."""
    pct = float(m.group(1))
    if not 0 < pct <= 100:
        c.add(ip, f"SLA share must be between 0 and 100%, got {pct:g}%")
        return None
    rest = m.group("rest").lower()
    metric = "first_response" if "first response" in rest else "resolution" if "resolution target" in rest else "any"
    if metric == "any" and len(clocks) == 1:
        [metric] = clocks
    return Rule(f"sla-{pct:g}pct", "sla", text, sla_pct=pct, sla_metric=metric)


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:48] or "rule"


# --- rules -----------------------------------------------------------------------------


def _rule_object(item: Spec, c: _Collector, ip: Path, default_name: str, levels: set[int] | None = None) -> Rule | None:
    c.unknown_keys(item, _RULE_KEYS, ip)
    if "when" not in item:
        c.add(ip, "a rule needs 'when' (a condition)")
        return None
    when = c.condition(item["when"], ip + ("when",))
    to = _rule_target(item.get("to"), c, ip + ("to",), levels)
    notify = _channels(item.get("notify") or [], c, ip + ("notify",))
    if "within" in item:
        c.duration(item["within"], ip + ("within",))
    flags = {key: _flag(item, key, c, ip) for key in ("severe", "by_customer", "requires_context")}
    name = str(item.get("name") or default_name)
    if when is None:
        return None
    return Rule(_slug(name), "condition", str(item.get("description") or name), when=when, to=to,
                team=item.get("team"), notify=notify, requires_context=flags["requires_context"],
                severe=flags["severe"], by_customer=flags["by_customer"])


def _rule_target(to: Any, c: _Collector, path: Path, levels: set[int] | None) -> int | None:
    """A rule's `to`: an existing level (any int when the levels are not known yet), or None."""
    if to is None:
        return None
    if not isinstance(to, int) or isinstance(to, bool) or (levels is not None and to not in levels):
        c.add(path, f"expected an existing tier level{f' {sorted(levels)}' if levels else ''}, got {to!r}")
        return None
    return to


def _channels(notify: Any, c: _Collector, path: Path) -> tuple[str, ...]:
    if isinstance(notify, str):
        notify = [notify]
    if not isinstance(notify, list) or not all(isinstance(n, str) for n in notify):
        c.add(path, "expected a channel name or a list of them")
        return ()
    return tuple(notify)


def _flag(item: Spec, key: str, c: _Collector, ip: Path) -> bool:
    """A true/false key of a rule; anything but `true` reads as false (and is reported)."""
    value = item.get(key, False)
    if not isinstance(value, bool):
        c.add(ip + (key,), f"expected true or false, got {value!r}")
    return value is True


def _severity_map(esc: Spec, c: _Collector) -> tuple[tuple[str, Condition], ...]:
    raw = esc.get("severity")
    if raw is None:
        # Default: tags p0..p3 (seed 000, "Severity-Based Triggers").
        return tuple((s, compile_condition({"tag": s.lower()})) for s in SEVERITIES)
    if not isinstance(raw, Mapping):
        c.add(_ROOT + ("severity",), "expected a mapping such as {P0: {tag: p0}}")
        return ()
    out = []
    for key, spec in raw.items():
        sev = str(key).upper()
        if sev not in SEVERITIES:
            c.add(_ROOT + ("severity", key), f"expected one of {', '.join(SEVERITIES)}, got '{key}'")
            continue
        cond = c.condition(spec, _ROOT + ("severity", key))
        if cond:
            out.append((sev, cond))
    out.sort(key=lambda p: p[0])
    return tuple(out)


def _overrides(esc: Spec, c: _Collector, levels: set[int]) -> list[Rule]:
    raw = esc.get("severity_overrides") or []
    path = _ROOT + ("severity_overrides",)
    if not isinstance(raw, list):
        c.add(path, "expected a list of {severity, route_to, notification}")
        return []
    rules = []
    for i, o in enumerate(raw):
        op = path + (i,)
        if not isinstance(o, Mapping):
            c.add(op, "expected {severity: P0, route_to: 3, notification: pagerduty}")
            continue
        c.unknown_keys(o, {"severity", "description", "route_to", "notification", "team"}, op)
        sev = str(o.get("severity", "")).upper()
        if sev not in SEVERITIES:
            c.add(op + ("severity",), f"expected one of {', '.join(SEVERITIES)}, got {o.get('severity')!r}")
            continue
        to = o.get("route_to")
        if not isinstance(to, int) or isinstance(to, bool) or to not in levels:
            c.add(op + ("route_to",), f"expected an existing tier level {sorted(levels)}, got {to!r}")
            continue
        note = o.get("notification")
        notify = tuple([note] if isinstance(note, str) else note or [])
        when = compile_condition({"severity": sev})
        rules.append(Rule(f"severity-{sev.lower()}", "severity", f"{sev}: {o.get('description', '')}".strip(": "),
                          when=when, to=to, team=o.get("team"), notify=notify, severe=sev in ("P0", "P1")))
    return rules


def _rules(esc: Spec, c: _Collector, levels: set[int]) -> list[Rule]:
    raw = esc.get("rules") or []
    path = _ROOT + ("rules",)
    if not isinstance(raw, list):
        c.add(path, "expected a list of rules {name, when, to, team, notify}")
        return []
    out = []
    for i, item in enumerate(raw):
        if not isinstance(item, Mapping):
            c.add(path + (i,), "expected a rule {name, when, to, team, notify}")
            continue
        if "to" not in item:
            c.add(path + (i,), "a policy-wide rule needs 'to' (the tier it routes to)")
            continue
        rule = _rule_object(item, c, path + (i,), f"rule-{i + 1}", levels)
        if rule:
            out.append(rule)
    return out


def _items(esc: Spec, key: str, c: _Collector, shape: str, item_shape: str | None = None
           ) -> Iterator[tuple[int, Path, Spec]]:
    """The mappings of the list under `key`, with their index and path; what is not one is reported."""
    raw = esc.get(key) or []
    path = _ROOT + (key,)
    if not isinstance(raw, list):
        c.add(path, f"expected a list of {shape}")
        return
    for i, item in enumerate(raw):
        if not isinstance(item, Mapping):
            c.add(path + (i,), f"expected {item_shape or shape}")
            continue
        yield i, path + (i,), item


def _routing(esc: Spec, c: _Collector, levels: set[int]) -> Iterator[Routing]:
    for i, ip, item in _items(esc, "routing", c, "{name, when, start_tier}"):
        c.unknown_keys(item, {"name", "when", "start_tier"}, ip)
        start = item.get("start_tier")
        if not isinstance(start, int) or start not in levels:
            c.add(ip + ("start_tier",), f"expected an existing tier level {sorted(levels)}, got {start!r}")
            continue
        when = c.condition(item.get("when"), ip + ("when",))
        if when:
            yield Routing(_slug(str(item.get("name") or f"routing-{i + 1}")), when, start)


def _de_escalations(esc: Spec, c: _Collector, levels: set[int]) -> Iterator[DeEscalation]:
    for i, ip, item in _items(esc, "de_escalation", c, "{name, when, to, min_stay}"):
        c.unknown_keys(item, {"name", "when", "to", "min_stay", "remove_tags", "description"}, ip)
        to = item.get("to")
        if to is not None and (not isinstance(to, int) or to not in levels):
            c.add(ip + ("to",), f"expected an existing tier level {sorted(levels)}, got {to!r}")
            continue
        stay = c.duration(item.get("min_stay", "1h"), ip + ("min_stay",))
        when = c.condition(item.get("when"), ip + ("when",))
        if when and stay is not None:
            yield DeEscalation(_slug(str(item.get("name") or f"de-escalation-{i + 1}")), when, to, stay,
                               tuple(str(t).lower() for t in _removed_tags(item)))


def _removed_tags(item: Spec) -> list[Any]:
    """The tags a move down removes: as given, else the tag of a `{tag: x}` condition."""
    remove = item.get("remove_tags")
    if remove is not None:
        return list(remove)
    spec = item.get("when")
    return [spec["tag"]] if isinstance(spec, Mapping) and set(spec) == {"tag"} else []


def _updates(esc: Spec, c: _Collector) -> Iterator[UpdateObligation]:
    for i, ip, item in _items(esc, "updates", c, "{name, when, every}", "{name, when, every, escalate_after}"):
        c.unknown_keys(item, {"name", "when", "every", "escalate_after", "description"}, ip)
        every = c.duration(item.get("every"), ip + ("every",))
        after = item.get("escalate_after", 2)
        if not isinstance(after, int) or after < 1:
            c.add(ip + ("escalate_after",), "expected a whole number of missed updates (1 or more)")
            after = 2
        when = c.condition(item.get("when"), ip + ("when",))
        if when and every:
            yield UpdateObligation(_slug(str(item.get("name") or f"updates-{i + 1}")), when, every, after)


_CATEGORY_SHAPE = "{name, when or rules, first_response, updates_every}"


def _categories(esc: Spec, c: _Collector, rules: list[Rule]) -> Iterator[Category]:
    """`response_times:` entries; `rules: [name]` reuses policy-wide rules' conditions."""
    by_name = {r.name: r.when for r in rules if r.when is not None}
    for _i, ip, item in _items(esc, "response_times", c, _CATEGORY_SHAPE):
        if not isinstance(item.get("name"), str):
            c.add(ip, f"expected {_CATEGORY_SHAPE}")
            continue
        c.unknown_keys(item, _CATEGORY_KEYS, ip)
        conds = _category_conditions(item, c, ip, by_name)
        first, every, after = _category_times(item, c, ip)
        found = [k for k in conds if k is not None]
        if conds and len(found) == len(conds) and (first or every):
            yield Category(_slug(item["name"]), any_of(found), first, every, after)


def _category_times(item: Spec, c: _Collector, ip: Path) -> tuple[timedelta | None, timedelta | None, int]:
    """first_response, updates_every, and the missed updates before an escalation (0: never)."""
    first = c.duration(item["first_response"], ip + ("first_response",)) if "first_response" in item else None
    every = c.duration(item["updates_every"], ip + ("updates_every",)) if "updates_every" in item else None
    if "first_response" not in item and "updates_every" not in item:
        c.add(ip, "a response time needs first_response or updates_every")
    # Without escalate_after a missed update gets a reminder note only.
    after = item.get("escalate_after", 0)
    if not isinstance(after, int) or isinstance(after, bool) or after < 1 and "escalate_after" in item:
        c.add(ip + ("escalate_after",), "expected a whole number of missed updates (1 or more)")
        after = 0
    return first, every, after


def _category_conditions(item: Spec, c: _Collector, ip: Path, by_name: Mapping[str, Condition]
                         ) -> list[Condition | None]:
    """Its own `when` and the conditions of the rules it names (None where one is invalid)."""
    conds = [c.condition(item["when"], ip + ("when",))] if "when" in item else []
    names = item.get("rules") or []
    if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
        c.add(ip + ("rules",), "expected a list of policy-wide rule names")
        names = []
    for j, n in enumerate(names):
        if n not in by_name:
            c.add(ip + ("rules", j), f"unknown rule '{n}' (policy-wide rules: {', '.join(sorted(by_name))})")
        else:
            conds.append(by_name[n])
    if not conds:
        c.add(ip, "a response time needs 'when' (a condition) or 'rules' (rule names)")
    return conds


def _ping_pong(esc: Spec, c: _Collector) -> PingPong:
    raw = esc.get("ping_pong")
    if raw is None:
        return PingPong()
    path = _ROOT + ("ping_pong",)
    if not isinstance(raw, Mapping):
        c.add(path, "expected {max_moves: 3, window: 24h, tag: escalation_frozen}")
        return PingPong()
    c.unknown_keys(raw, {"max_moves", "window", "tag"}, path)
    moves = raw.get("max_moves", 3)
    if not isinstance(moves, int) or moves < 1:
        c.add(path + ("max_moves",), "expected a whole number of moves (1 or more)")
        moves = 3
    window = c.duration(raw.get("window", "24h"), path + ("window",)) or timedelta(hours=24)
    return PingPong(moves, window, _tag(raw.get("tag", "escalation_frozen"), c, path + ("tag",)))


def _review(esc: Spec, c: _Collector, levels: set[int]) -> Review | None:
    raw = esc.get("review")
    if raw is None:
        return None
    path = _ROOT + ("review",)
    if not isinstance(raw, Mapping):
        c.add(path, "expected {level: 3, within: 48h}")
        return None
    c.unknown_keys(raw, {"level", "within", "tag"}, path)
    level = raw.get("level", max(levels) if levels else 3)
    if level not in levels:
        c.add(path + ("level",), f"expected an existing tier level {sorted(levels)}, got {level!r}")
    within = c.duration(raw.get("within", "48h"), path + ("within",)) or timedelta(hours=48)
    return Review(level, within, _tag(raw.get("tag", "escalation_review_due"), c, path + ("tag",)))


def _triage_review(esc: Spec, c: _Collector) -> TriageReview:
    raw = esc.get("triage")
    if raw is None:
        return TriageReview()
    path = _ROOT + ("triage",)
    if not isinstance(raw, Mapping):
        c.add(path, "expected {review_tag_prefix: triage_review_, dismissed_tag: triage_dismissed, notify: [triage]}")
        return TriageReview()
    c.unknown_keys(raw, {"review_tag_prefix", "confirm_tag_prefix", "dismissed_tag", "notify"}, path)
    return TriageReview(_tag(raw.get("review_tag_prefix", "triage_review_"), c, path + ("review_tag_prefix",)),
                        _tag(raw.get("confirm_tag_prefix", "triage_confirm_"), c, path + ("confirm_tag_prefix",)),
                        _tag(raw.get("dismissed_tag", "triage_dismissed"), c, path + ("dismissed_tag",)),
                        _channels(raw.get("notify", []), c, path + ("notify",)))


def _template(raw: Any, c: _Collector, path: Path,
              allowed: tuple[str, ...] = notes.NOTIFY_PLACEHOLDERS) -> Template | None:
    if isinstance(raw, str):
        raw = {"body": raw}
    if not isinstance(raw, Mapping) or not isinstance(raw.get("body"), str):
        c.add(path, "expected {subject: ..., body: ...}")
        return None
    c.unknown_keys(raw, {"subject", "body"}, path)
    for key in ("subject", "body"):
        _placeholders(str(raw.get(key) or ""), allowed, c, path + (key,))
    return Template(str(raw.get("subject") or ""), raw["body"])


def _placeholders(text: str, allowed: tuple[str, ...], c: _Collector, path: Path) -> None:
    """Every `{name}` is one the text is filled with (notes.*_PLACEHOLDERS)."""
    for name in re.findall(r"(?<!\{)\{(\w*)\}(?!\})", text):
        if name not in allowed:
            hint = difflib.get_close_matches(name, allowed, n=1)
            more = f"did you mean {{{hint[0]}}}?" if hint else f"expected one of {', '.join(sorted(allowed))}"
            c.add(path, f"unknown placeholder {{{name}}} ({more})")


def _templates(raw: Any, c: _Collector, path: Path) -> dict[str, Template]:
    if not isinstance(raw, Mapping):
        c.add(path, "expected a mapping of template names to {subject, body}")
        return {}
    out = {}
    for key, spec in raw.items():
        t = _template(spec, c, path + (key,))
        if t:
            out[str(key)] = t
    return out
