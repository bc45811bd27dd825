"""Policies: the seed's `escalation:` YAML plus extension keys, validated into types.

The seed 000 "Escalation Workflow Configuration" block loads unmodified:
string criteria are understood as follows, and `tierlift check` says which
applied to each one.

1. `criteria: {"<text>": <condition> | manual | {manual: {tag: x}}}` gives a
   criterion a machine-checkable meaning (DESIGN.md, "Policy YAML").
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
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from tierlift.engine.calendar import BusinessCalendar, CalendarError
from tierlift.engine.conditions import Condition, ConditionError, any_of, compile_condition
from tierlift.engine.durations import DurationError, format_business, parse_duration
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

    @property
    def top_tier(self) -> int:
        return max(self.tiers)

    def calendar_for(self, tier: Tier) -> BusinessCalendar:
        return self.calendars[tier.calendar or self.default_calendar]

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
        return list(seen)


# --- loading -------------------------------------------------------------------

_TOP_KEYS = {
    "name", "description", "tiers", "severity_overrides", "calendars", "calendar", "criteria",
    "severity", "pause_statuses", "manual_trigger_tag", "incomplete_tag", "required_context",
    "tier_tag_prefix", "routing", "rules", "de_escalation", "updates", "ping_pong",
    "customer_notification", "notification_templates", "review", "targets", "response_times",
}
_TIER_KEYS = {"level", "name", "team", "teams", "capabilities", "sla", "escalation_criteria",
              "calendar", "next_step", "description"}
_RULE_KEYS = {"name", "when", "to", "team", "notify", "within", "description", "requires_context",
              "severe", "by_customer"}
_CATEGORY_KEYS = {"name", "when", "rules", "first_response", "updates_every", "escalate_after", "description"}


class _Collector:
    def __init__(self, positions: Positions):
        self.pos = positions
        self.problems: list[Problem] = []

    def add(self, path: Path, message: str) -> None:
        self.problems.append(self.pos.problem(path, message))

    def unknown_keys(self, data: Mapping, allowed: set[str], path: Path) -> None:
        for key in data:
            if key not in allowed:
                hint = difflib.get_close_matches(str(key), sorted(allowed), n=1)
                more = f" (did you mean '{hint[0]}'?)" if hint else f" (expected one of: {', '.join(sorted(allowed))})"
                self.add(path + (key,), f"unknown key '{key}'{more}")

    def condition(self, spec: Any, path: Path) -> Condition | None:
        try:
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


def _escalation_block(data: Any, c: _Collector) -> Mapping:
    if not isinstance(data, Mapping) or "escalation" not in data:
        c.add((), "expected a mapping with the top-level key 'escalation'")
        raise InvalidFile(c.problems)
    for key in data:
        if key != "escalation":
            c.add((key,), f"unknown top-level key '{key}' (everything goes under 'escalation')")
    esc = data["escalation"]
    if not isinstance(esc, Mapping):
        c.add(("escalation",), "expected a mapping")
        raise InvalidFile(c.problems)
    c.unknown_keys(esc, _TOP_KEYS, ("escalation",))
    return esc


def build_policy(data: Any, positions: Positions, name: str | None = None) -> Policy:
    c = _Collector(positions)
    esc = _escalation_block(data, c)
    root: Path = ("escalation",)
    calendars, default_cal = _calendars(esc, c, root)
    criteria = esc.get("criteria") or {}
    if not isinstance(criteria, Mapping):
        c.add(root + ("criteria",), "expected a mapping from criterion text to a condition")
        criteria = {}
    manual_tag = _tag(esc.get("manual_trigger_tag", "escalate"), c, root + ("manual_trigger_tag",))
    required = esc.get("required_context", ["steps_taken", "customer_impact"])
    if not isinstance(required, list) or not all(isinstance(x, str) for x in required):
        c.add(root + ("required_context",), "expected a list of context names such as steps_taken")
        required = []
    explanations: list[tuple[int | None, str, str]] = []
    used_criteria: set[str] = set()
    tiers = _tiers(esc, c, root, criteria, manual_tag, bool(required), explanations, used_criteria, calendars)
    levels = set(tiers)
    severity_map = _severity_map(esc, c, root)
    rules = _overrides(esc, c, root, levels, severity_map)
    rules += _rules(esc, c, root, levels)
    for rule in rules:
        explanations.append((None, rule.text, rule.how()))
    for key in criteria:
        if key not in used_criteria:
            c.add(root + ("criteria", key), "this criterion is not used by any tier's escalation_criteria")
    routing = tuple(_routing(esc, c, root, levels))
    de_esc = tuple(_de_escalations(esc, c, root, levels))
    categories = tuple(_categories(esc, c, root, rules))
    updates = tuple(_updates(esc, c, root)) + tuple(
        UpdateObligation(f"{k.name}-updates", k.when, k.updates_every, k.escalate_after)
        for k in categories if k.updates_every)
    ping_pong = _ping_pong(esc, c, root)
    pause, templates, customer_notification, review, targets, prefix = _texts_and_targets(esc, c, root, levels)
    if c.problems:
        raise InvalidFile(c.problems)
    return Policy(
        name=str(esc.get("name") or name or positions.source),
        source=positions.source,
        tiers=tiers,
        rules=tuple(rules),
        severity_map=severity_map,
        routing=routing,
        de_escalations=de_esc,
        updates=updates,
        ping_pong=ping_pong,
        calendars=calendars,
        default_calendar=default_cal,
        pause_statuses=frozenset(str(s).lower() for s in pause),
        manual_tag=manual_tag,
        incomplete_tag=str(esc.get("incomplete_tag", "escalation_incomplete")),
        required_context=tuple(required),
        tag_prefix=prefix,
        customer_notification=customer_notification,
        templates=templates,
        review=review,
        targets=dict(targets),
        explanations=tuple(explanations),
        categories=categories,
    )


def _texts_and_targets(esc: Mapping, c: _Collector, root: Path, levels: set[int]) -> tuple:
    """Pause statuses, templates, the customer notification, review, targets and the tag prefix."""
    pause = esc.get("pause_statuses", ["pending", "hold"])
    if not isinstance(pause, list):
        c.add(root + ("pause_statuses",), "expected a list of statuses, e.g. [pending, hold]")
        pause = []
    templates = _templates(esc.get("notification_templates") or {}, c, root + ("notification_templates",))
    cust = esc.get("customer_notification")
    customer_notification = None
    if cust is not None:
        customer_notification = _template(cust, c, root + ("customer_notification",))
    review = _review(esc, c, root, levels)
    targets = esc.get("targets") or {}
    if not isinstance(targets, Mapping) or not all(isinstance(v, int | float) for v in targets.values()):
        c.add(root + ("targets",), "expected a mapping of target names to numbers, e.g. {escalation_rate: 0.05}")
        targets = {}
    prefix = esc.get("tier_tag_prefix", "tier_l")
    if not isinstance(prefix, str) or not re.fullmatch(r"[a-z0-9_:\-]+", prefix):
        c.add(root + ("tier_tag_prefix",), "expected a lower-case tag prefix such as 'tier_l'")
        prefix = "tier_l"
    return pause, templates, customer_notification, review, targets, prefix


def _tag(value: Any, c: _Collector, path: Path) -> str:
    if not isinstance(value, str) or not re.fullmatch(r"[A-Za-z0-9_:\-./]+", value):
        c.add(path, f"expected a tag (letters, digits, _ - : . /), got {value!r}")
        return "escalate"
    return value.lower()


def _calendars(esc: Mapping, c: _Collector, root: Path) -> tuple[dict[str, BusinessCalendar], str]:
    calendars: dict[str, BusinessCalendar] = {"24x7": BusinessCalendar.always_open()}
    raw = esc.get("calendars") or {}
    if not isinstance(raw, Mapping):
        c.add(root + ("calendars",), "expected a mapping of calendar names to {timezone, hours, holidays}")
        raw = {}
    for cal_name, spec in raw.items():
        path = root + ("calendars", cal_name)
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
        c.add(root + ("calendar",), f"unknown calendar '{default}' (defined: {', '.join(sorted(calendars))})")
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


def _tiers(esc, c, root, criteria, manual_tag, needs_ctx, explanations, used, calendars) -> dict[int, Tier]:
    raw = esc.get("tiers")
    path = root + ("tiers",)
    if not isinstance(raw, list) or not raw:
        c.add(path, "expected a list of 2 to 4 tiers")
        return {}
    if not 2 <= len(raw) <= 4:
        c.add(path, f"expected 2 to 4 tiers, got {len(raw)}")
    tiers: dict[int, Tier] = {}
    for i, t in enumerate(raw):
        tp = path + (i,)
        if not isinstance(t, Mapping):
            c.add(tp, "expected a tier mapping with level, name, team, sla")
            continue
        c.unknown_keys(t, _TIER_KEYS, tp)
        level = t.get("level")
        if not isinstance(level, int) or isinstance(level, bool) or not 1 <= level <= 4:
            c.add(tp + ("level",), f"expected a level from 1 to 4, got {level!r}")
            continue
        if level in tiers:
            c.add(tp + ("level",), f"level {level} is defined twice")
            continue
        teams = _teams(t, c, tp)
        sla = t.get("sla") or {}
        if not isinstance(sla, Mapping):
            c.add(tp + ("sla",), "expected {first_response: 4h, resolution_target: 24h}")
            sla = {}
        for key in sla:
            if key not in ("first_response", "resolution_target", "resolution"):
                c.add(tp + ("sla", key), f"unknown key '{key}' (expected first_response, resolution_target)")
        first = _sla_target(sla.get("first_response"), c, tp + ("sla", "first_response"))
        res_key = "resolution_target" if "resolution_target" in sla else "resolution"
        resolution = _sla_target(sla.get(res_key), c, tp + ("sla", res_key))
        cal = t.get("calendar")
        if cal is not None and cal not in calendars:
            c.add(tp + ("calendar",), f"unknown calendar '{cal}' (defined: {', '.join(sorted(calendars))})")
            cal = None
        rules = _tier_rules(t.get("escalation_criteria") or [], c, tp + ("escalation_criteria",),
                            level, criteria, manual_tag, needs_ctx, explanations, used, root)
        tiers[level] = Tier(level, str(t.get("name") or f"Level {level}"), teams, first, resolution,
                            tuple(rules), cal, t.get("next_step"))
    if tiers and sorted(tiers) != list(range(1, len(tiers) + 1)):
        c.add(path, f"tier levels must run 1..N without gaps, got {sorted(tiers)}")
    return tiers


def _teams(t: Mapping, c: _Collector, tp: Path) -> tuple[TeamChoice, ...]:
    if "teams" in t:
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
    team = t.get("team")
    if not isinstance(team, str) or not team.strip():
        c.add(tp + ("team",), "expected a team name")
        return (TeamChoice("unassigned"),)
    return (TeamChoice(team),)


def _tier_rules(raw, c, path, level, criteria, manual_tag, needs_ctx, explanations, used, root) -> list[Rule]:
    if not isinstance(raw, list):
        c.add(path, "expected a list of criteria")
        return []
    rules: list[Rule] = []
    manual_texts: list[str] = []
    for i, item in enumerate(raw):
        ip = path + (i,)
        if isinstance(item, Mapping):
            rule = _rule_object(item, c, ip, default_name=f"L{level}-rule-{i + 1}")
            if rule:
                rules.append(rule)
                explanations.append((level, rule.text, rule.how()))
            continue
        if not isinstance(item, str):
            c.add(ip, "expected a criterion text or a rule {name, when, to}")
            continue
        text = item
        if text in criteria:
            used.add(text)
            meaning = criteria[text]
            cp = root + ("criteria", text)
            if meaning == "manual" or (isinstance(meaning, Mapping) and "manual" in meaning):
                tag = manual_tag
                if isinstance(meaning, Mapping) and isinstance(meaning["manual"], Mapping):
                    tag = _tag(meaning["manual"].get("tag", manual_tag), c, cp + ("manual", "tag"))
                if tag == manual_tag:
                    manual_texts.append(text)
                else:
                    rule = Rule(_slug(text), "manual", text, tag=tag, requires_context=needs_ctx)
                    rules.append(rule)
                    explanations.append((level, text, rule.how()))
                continue
            when = c.condition(meaning, cp)
            if when is not None:
                rule = Rule(_slug(text), "condition", text, when=when)
                rules.append(rule)
                explanations.append((level, text, rule.how()))
            continue
        m = _SLA_CRITERION.match(text)
        if m:
            pct = float(m.group(1))
            if not 0 < pct <= 100:
                c.add(ip, f"SLA share must be between 0 and 100%, got {pct:g}%")
                continue
            rest = m.group("rest").lower()
            metric = "first_response" if "first response" in rest else "resolution" if "resolution target" in rest else "any"
            rule = Rule(f"sla-{pct:g}pct", "sla", text, sla_pct=pct, sla_metric=metric)
            rules.append(rule)
            explanations.append((level, text, rule.how()))
            continue
        manual_texts.append(text)
    if manual_texts:
        rule = Rule("manual", "manual", "; ".join(manual_texts), tag=manual_tag, requires_context=needs_ctx)
        rules.append(rule)
        for text in manual_texts:
            explanations.append((level, text, rule.how()))
    return rules


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:48] or "rule"


def _rule_object(item: Mapping, c: _Collector, ip: Path, default_name: str, levels: set[int] | None = None) -> Rule | None:
    c.unknown_keys(item, _RULE_KEYS, ip)
    if "when" not in item:
        c.add(ip, "a rule needs 'when' (a condition)")
        return None
    when = c.condition(item["when"], ip + ("when",))
    to = item.get("to")
    if to is not None and (not isinstance(to, int) or isinstance(to, bool) or (levels is not None and to not in levels)):
        c.add(ip + ("to",), f"expected an existing tier level{f' {sorted(levels)}' if levels else ''}, got {to!r}")
        to = None
    notify = item.get("notify") or []
    if isinstance(notify, str):
        notify = [notify]
    if not isinstance(notify, list) or not all(isinstance(n, str) for n in notify):
        c.add(ip + ("notify",), "expected a channel name or a list of them")
        notify = []
    if "within" in item:
        c.duration(item["within"], ip + ("within",))
    flags = {}
    for key in ("severe", "by_customer", "requires_context"):
        flags[key] = item.get(key, False)
        if not isinstance(flags[key], bool):
            c.add(ip + (key,), f"expected true or false, got {flags[key]!r}")
    name = str(item.get("name") or default_name)
    if when is None:
        return None
    return Rule(_slug(name), "condition", str(item.get("description") or name), when=when, to=to,
                team=item.get("team"), notify=tuple(notify), requires_context=flags["requires_context"] is True,
                severe=flags["severe"] is True, by_customer=flags["by_customer"] is True)


def _severity_map(esc: Mapping, c: _Collector, root: Path) -> tuple[tuple[str, Condition], ...]:
    raw = esc.get("severity")
    if raw is None:
        # Default: tags p0..p3 (DESIGN.md, "Severity overrides").
        return tuple((s, compile_condition({"tag": s.lower()})) for s in SEVERITIES)
    if not isinstance(raw, Mapping):
        c.add(root + ("severity",), "expected a mapping such as {P0: {tag: p0}}")
        return ()
    out = []
    for key, spec in raw.items():
        sev = str(key).upper()
        if sev not in SEVERITIES:
            c.add(root + ("severity", key), f"expected one of {', '.join(SEVERITIES)}, got '{key}'")
            continue
        cond = c.condition(spec, root + ("severity", key))
        if cond:
            out.append((sev, cond))
    out.sort(key=lambda p: p[0])
    return tuple(out)


def _overrides(esc: Mapping, c: _Collector, root: Path, levels: set[int], sev_map) -> list[Rule]:
    raw = esc.get("severity_overrides") or []
    path = root + ("severity_overrides",)
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


def _rules(esc: Mapping, c: _Collector, root: Path, levels: set[int]) -> list[Rule]:
    raw = esc.get("rules") or []
    path = root + ("rules",)
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


def _routing(esc, c, root, levels):
    raw = esc.get("routing") or []
    path = root + ("routing",)
    if not isinstance(raw, list):
        c.add(path, "expected a list of {name, when, start_tier}")
        return
    for i, item in enumerate(raw):
        ip = path + (i,)
        if not isinstance(item, Mapping):
            c.add(ip, "expected {name, when, start_tier}")
            continue
        c.unknown_keys(item, {"name", "when", "start_tier"}, ip)
        start = item.get("start_tier")
        if not isinstance(start, int) or start not in levels:
            c.add(ip + ("start_tier",), f"expected an existing tier level {sorted(levels)}, got {start!r}")
            continue
        when = c.condition(item.get("when"), ip + ("when",))
        if when:
            yield Routing(_slug(str(item.get("name") or f"routing-{i + 1}")), when, start)


def _de_escalations(esc, c, root, levels):
    raw = esc.get("de_escalation") or []
    path = root + ("de_escalation",)
    if not isinstance(raw, list):
        c.add(path, "expected a list of {name, when, to, min_stay}")
        return
    for i, item in enumerate(raw):
        ip = path + (i,)
        if not isinstance(item, Mapping):
            c.add(ip, "expected {name, when, to, min_stay}")
            continue
        c.unknown_keys(item, {"name", "when", "to", "min_stay", "remove_tags", "description"}, ip)
        to = item.get("to")
        if to is not None and (not isinstance(to, int) or to not in levels):
            c.add(ip + ("to",), f"expected an existing tier level {sorted(levels)}, got {to!r}")
            continue
        stay = c.duration(item.get("min_stay", "1h"), ip + ("min_stay",))
        when = c.condition(item.get("when"), ip + ("when",))
        remove = item.get("remove_tags")
        if remove is None:
            spec = item.get("when")
            remove = [spec["tag"]] if isinstance(spec, Mapping) and set(spec) == {"tag"} else []
        if when and stay is not None:
            yield DeEscalation(_slug(str(item.get("name") or f"de-escalation-{i + 1}")), when, to, stay,
                               tuple(str(t).lower() for t in remove))


def _updates(esc, c, root):
    raw = esc.get("updates") or []
    path = root + ("updates",)
    if not isinstance(raw, list):
        c.add(path, "expected a list of {name, when, every}")
        return
    for i, item in enumerate(raw):
        ip = path + (i,)
        if not isinstance(item, Mapping):
            c.add(ip, "expected {name, when, every, escalate_after}")
            continue
        c.unknown_keys(item, {"name", "when", "every", "escalate_after", "description"}, ip)
        every = c.duration(item.get("every"), ip + ("every",))
        after = item.get("escalate_after", 2)
        if not isinstance(after, int) or after < 1:
            c.add(ip + ("escalate_after",), "expected a whole number of missed updates (1 or more)")
            after = 2
        when = c.condition(item.get("when"), ip + ("when",))
        if when and every:
            yield UpdateObligation(_slug(str(item.get("name") or f"updates-{i + 1}")), when, every, after)


def _categories(esc: Mapping, c: _Collector, root: Path, rules: list[Rule]):
    """`response_times:` entries; `rules: [name]` reuses policy-wide rules' conditions."""
    raw = esc.get("response_times") or []
    path = root + ("response_times",)
    if not isinstance(raw, list):
        c.add(path, "expected a list of {name, when or rules, first_response, updates_every}")
        return
    by_name = {r.name: r for r in rules if r.when is not None}
    for i, item in enumerate(raw):
        ip = path + (i,)
        if not isinstance(item, Mapping) or not isinstance(item.get("name"), str):
            c.add(ip, "expected {name, when or rules, first_response, updates_every}")
            continue
        c.unknown_keys(item, _CATEGORY_KEYS, ip)
        conds = [c.condition(item["when"], ip + ("when",))] if "when" in item else []
        names = item.get("rules") or []
        if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
            c.add(ip + ("rules",), "expected a list of policy-wide rule names")
            names = []
        for j, n in enumerate(names):
            if n not in by_name:
                c.add(ip + ("rules", j), f"unknown rule '{n}' (policy-wide rules: {', '.join(sorted(by_name))})")
            else:
                conds.append(by_name[n].when)
        if not conds:
            c.add(ip, "a response time needs 'when' (a condition) or 'rules' (rule names)")
        first = c.duration(item["first_response"], ip + ("first_response",)) if "first_response" in item else None
        every = c.duration(item["updates_every"], ip + ("updates_every",)) if "updates_every" in item else None
        if "first_response" not in item and "updates_every" not in item:
            c.add(ip, "a response time needs first_response or updates_every")
        # Without escalate_after a missed update gets a reminder note only.
        after = item.get("escalate_after", 0)
        if not isinstance(after, int) or isinstance(after, bool) or after < 1 and "escalate_after" in item:
            c.add(ip + ("escalate_after",), "expected a whole number of missed updates (1 or more)")
            after = 0
        if conds and all(conds) and (first or every):
            yield Category(_slug(item["name"]), any_of(conds), first, every, after)  # type: ignore[arg-type]


def _ping_pong(esc, c, root) -> PingPong:
    raw = esc.get("ping_pong")
    if raw is None:
        return PingPong()
    path = root + ("ping_pong",)
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


def _review(esc, c, root, levels) -> Review | None:
    raw = esc.get("review")
    if raw is None:
        return None
    path = root + ("review",)
    if not isinstance(raw, Mapping):
        c.add(path, "expected {level: 3, within: 48h}")
        return None
    c.unknown_keys(raw, {"level", "within", "tag"}, path)
    level = raw.get("level", max(levels) if levels else 3)
    if level not in levels:
        c.add(path + ("level",), f"expected an existing tier level {sorted(levels)}, got {level!r}")
    within = c.duration(raw.get("within", "48h"), path + ("within",)) or timedelta(hours=48)
    return Review(level, within, _tag(raw.get("tag", "escalation_review_due"), c, path + ("tag",)))


def _template(raw: Any, c: _Collector, path: Path) -> Template | None:
    if isinstance(raw, str):
        return Template("", raw)
    if not isinstance(raw, Mapping) or not isinstance(raw.get("body"), str):
        c.add(path, "expected {subject: ..., body: ...}")
        return None
    c.unknown_keys(raw, {"subject", "body"}, path)
    return Template(str(raw.get("subject") or ""), raw["body"])


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
