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

The file's shape is declared in `engine/policy_file.py` (pydantic models, each value's
validator in the pack author's words); every problem found is reported (not only the
first), in the order of the file, as `FILE:LINE: key.path: what was expected`. This
module holds the engine's own types, small frozen dataclasses, and turns the validated
file into them.
"""

from __future__ import annotations

import difflib
import hashlib
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, replace
from datetime import timedelta
from functools import cached_property
from typing import Any

from pydantic import ValidationError

from tierlift.engine.calendar import BusinessCalendar
from tierlift.engine.conditions import Condition, any_of, compile_condition
from tierlift.engine.durations import format_business
from tierlift.engine.filemodel import problems_of
from tierlift.engine.model import SEVERITIES
from tierlift.engine.policy_file import (
    SLA_CLOCKS,
    SLA_CRITERION,
    Escalation,
    ManualMeaning,
    PingPongSpec,
    Refs,
    ReplyTemplateSpec,
    RuleSpec,
    TemplateSpec,
    TierSla,
    TriageSpec,
    slug,
)
from tierlift.engine.textmatch import PhraseScanner, pack_phrases
from tierlift.engine.yamlsrc import InvalidFile, Path, Positions, Problem, load

__all__ = ["SEVERITIES", "SLA_CLOCKS", "Policy", "Rule", "Template", "Tier", "UpdateObligation", "build_policy",
           "load_policy_text"]


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
    next_step: str | None = None  # what the receiving tier should do first (the note's suggested_next_step)

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
    severities: frozenset[str]  # empty (and no rules): every ticket at the level
    calendar: str | None
    first_response: timedelta | None
    resolution: timedelta | None
    # The rules whose moves into the level bring it on call too (three-tier: an outage read
    # from the customer's words is an incident before anyone tags it P0).
    rules: frozenset[str] = frozenset()

    def applies(self, level: int, severity: str | None, rule: str | None = None) -> bool:
        if level != self.level:
            return False
        if not self.severities and not self.rules:
            return True
        return severity in self.severities or (rule is not None and rule in self.rules)


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
    # The rules whose conditions `when` reuses (a category's `rules:`): once one of them moved
    # the ticket, the duty holds until the incident is settled, whatever later words read.
    rules: tuple[str, ...] = ()
    remind: tuple[str, ...] = ()  # channels a reminder goes to, beside its note


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
    rules: tuple[str, ...] = ()  # the policy-wide rules whose conditions `when` reuses
    remind: tuple[str, ...] = ()  # channels a missed update's reminder goes to


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
    or dismisses with `dismissed_tag` (never asked again about the words it was asked about: only
    the customer's words written since may ask again)."""

    review_tag_prefix: str = "triage_review_"
    confirm_tag_prefix: str = "triage_confirm_"
    dismissed_tag: str = "triage_dismissed"
    notify: tuple[str, ...] = ()


@dataclass(frozen=True)
class Template:
    subject: str
    body: str
    # A customer reply's: the text for a new ticket routed straight to a tier (nothing was
    # escalated from the customer's view; None: no reply), and the tiers' names it shows.
    routed: str | None = None
    tier_names: Mapping[int, str] = field(default_factory=dict)
    # The text of a move up into a tier the ticket was at before (it came back down since):
    # None, the body's.
    returned: str | None = None


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
    # The policy text's digest: the daemon decides an index kept under another text again.
    digest: str = ""

    @property
    def top_tier(self) -> int:
        return max(self.tiers)

    def calendar_for(self, tier: Tier, severity: str | None = None, rule: str | None = None) -> BusinessCalendar:
        """The tier's calendar; an `on_call` entry for the tier (and severity, or the rule
        that moved the ticket into it) has its own."""
        oc = self.on_call_for(tier.level, severity, rule)
        return self.calendars[(oc.calendar if oc else None) or tier.calendar or self.default_calendar]

    def targets_for(self, tier: Tier, plan: str | None, severity: str | None,
                    rule: str | None = None) -> tuple[timedelta | None, timedelta | None]:
        """The tier's first-response and resolution targets for a ticket (`on_call` first)."""
        oc = self.on_call_for(tier.level, severity, rule)
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

    def on_call_for(self, level: int, severity: str | None, rule: str | None = None) -> OnCall | None:
        return next((oc for oc in self.on_call if oc.applies(level, severity, rule)), None)

    def tier_of_team(self, team: str | None) -> int | None:
        """The one tier a team works in; None for a team in no tier or in several."""
        return self._team_tiers.get(team) if team else None

    @cached_property
    def _team_tiers(self) -> dict[str, int]:
        """Each team that works in exactly one tier, and that tier (worked out once: every
        evaluation asks, and the sets were a few percent of a wake-up)."""
        found: dict[str, set[int]] = {}
        for lv, t in self.tiers.items():
            for c in t.teams:
                found.setdefault(c.team, set()).add(lv)
        for r in self.rules:
            if r.team and r.to is not None:
                found.setdefault(r.team, set()).add(r.to)
        return {team: next(iter(levels)) for team, levels in found.items() if len(levels) == 1}

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
    def conditions(self) -> list[Condition]:
        """Every condition of the policy: rules, team choices, severities, routing, de-escalations, updates."""
        conds = [r.when for t in self.tiers.values() for r in t.rules if r.when]
        conds += [c.when for t in self.tiers.values() for c in t.teams if c.when]
        conds += [r.when for r in self.rules if r.when] + [c for _, c in self.severity_map]
        conds += [x.when for x in self.routing] + [x.when for x in self.de_escalations]
        return conds + [x.when for x in self.updates]

    @property
    def custom_fields_read(self) -> frozenset[str]:
        """The custom fields a condition of the policy reads (`custom_field: NAME`): what a
        helpdesk's `fields:` must map for those conditions to see a value."""
        return frozenset(r[len("custom:"):] for c in self.conditions for r in c.reads if r.startswith("custom:"))

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
        for ob in self.updates:
            for ch in ob.remind:
                seen[ch] = None
        return list(seen)


# --- from the declared file (engine/policy_file.py) to the engine's types ------------------

Explanation = tuple[int | None, str, str]  # (tier, criterion text, how it is decided)


def load_policy_text(text: str, source: str, name: str | None = None) -> Policy:
    """Parse and validate a policy file's text. Raises InvalidFile listing every problem."""
    data, positions = load(text, source)
    return replace(build_policy(data, positions, name), digest=hashlib.sha256(text.encode()).hexdigest()[:16])


def build_policy(data: Any, positions: Positions, name: str | None = None) -> Policy:
    """The policy of a loaded YAML document; every problem is raised together as InvalidFile,
    in the order of the file's lines."""
    esc = read_escalation(data, positions)
    rules = _overrides(esc) + [_rule(r, f"rule-{i + 1}") for i, r in enumerate(esc.rules)]
    tiers = _Tiers.read(esc, {r.name: r.when for r in rules if r.when is not None})
    categories = tuple(_categories(esc, rules))
    return Policy(
        name=str(esc.name or name or positions.source),
        source=positions.source,
        tiers=tiers.by_level,
        rules=tuple(rules),
        severity_map=esc.severity,
        explanations=tuple(tiers.explanations) + tuple((None, r.text, r.how()) for r in rules),
        categories=categories,
        **_moves(esc, categories),
        **_settings(esc),
    )


def _moves(esc: Escalation, categories: tuple[Category, ...]) -> dict[str, Any]:
    """Routing at creation, moves down, and the update duties (with those of the categories)."""
    updates = tuple(UpdateObligation(slug(str(u.name or f"updates-{i + 1}")), u.when, u.every, u.escalate_after,
                                     remind=tuple(u.remind)) for i, u in enumerate(esc.updates))
    updates += tuple(UpdateObligation(f"{k.name}-updates", k.when, k.updates_every, k.escalate_after, k.rules, k.remind)
                     for k in categories if k.updates_every)
    return {
        "routing": tuple(Routing(slug(str(r.name or f"routing-{i + 1}")), r.when, r.start_tier)
                         for i, r in enumerate(esc.routing)),
        "de_escalations": tuple(DeEscalation(slug(str(d.name or f"de-escalation-{i + 1}")), d.when, d.to,
                                             d.min_stay, tuple(str(t).lower() for t in d.remove_tags or ()))
                                for i, d in enumerate(esc.de_escalation)),
        "updates": updates,
    }


def _settings(esc: Escalation) -> dict[str, Any]:
    """Calendars, tags, texts, the guard, review, triage and targets."""
    pp, triage = esc.ping_pong or PingPongSpec(), esc.triage or TriageSpec()
    return {
        "calendars": esc.calendars, "default_calendar": esc.calendar, "pause_statuses": esc.pause_statuses,
        "on_call": tuple(OnCall(o.level, o.severity, o.calendar, o.first_response, o.resolution, frozenset(o.rules))
                         for o in esc.on_call),
        "first_response_by": esc.first_response_by, "manual_tag": esc.manual_trigger_tag,
        "incomplete_tag": str(esc.incomplete_tag), "required_context": esc.required_context,
        "tag_prefix": esc.tier_tag_prefix, "targets": esc.targets,
        "customer_notification": _template(esc.customer_notification) if esc.customer_notification else None,
        "templates": {str(k): _template(t) for k, t in esc.notification_templates.items()},
        "review": Review(esc.review.level, esc.review.within, esc.review.tag) if esc.review else None,
        "ping_pong": PingPong(pp.max_moves, pp.window, pp.tag),
        "triage": TriageReview(triage.review_tag_prefix, triage.confirm_tag_prefix, triage.dismissed_tag,
                               triage.notify),
    }


def read_escalation(data: Any, positions: Positions) -> Escalation:
    """The document's `escalation:` block validated, or InvalidFile with every problem."""
    root: Path = ("escalation",)
    if not isinstance(data, Mapping) or "escalation" not in data:
        near = [k for k in data if isinstance(k, str) and difflib.get_close_matches(k, ["escalation"], n=1)] \
            if isinstance(data, Mapping) else []
        if near:  # `escalaton:` is named where it stands, as a misspelt key is everywhere else
            raise InvalidFile([positions.problem((near[0],), f"unknown top-level key '{near[0]}'"
                                                 " (did you mean 'escalation'?)")])
        raise InvalidFile([positions.problem((), "expected a mapping with the top-level key 'escalation'")])
    problems = [positions.problem((key,), f"unknown top-level key '{key}' (everything goes under 'escalation')")
                for key in data if key != "escalation"]
    esc = data["escalation"]
    if not isinstance(esc, Mapping):
        raise InvalidFile(_in_file_order([*problems, positions.problem(root, "expected a mapping")]))
    try:
        with pack_phrases(PhraseScanner()):  # one automaton for every phrase of the pack
            model = Escalation.model_validate(esc, context=Refs.scan(esc, positions.sub(root)))
    except ValidationError as exc:
        problems += problems_of(exc, positions, Escalation, root)
    if problems:
        raise InvalidFile(_in_file_order(problems))
    return model


def _in_file_order(problems: list[Problem]) -> list[Problem]:
    return sorted(problems, key=lambda p: p.line or 0)


def _template(spec: TemplateSpec) -> Template:
    if isinstance(spec, ReplyTemplateSpec):
        return Template(str(spec.subject or ""), spec.body, spec.routed, dict(spec.tier_names), spec.returned)
    return Template(str(spec.subject or ""), spec.body)


def _sla(spec: tuple[timedelta | None, dict[str, timedelta]]) -> SlaTarget:
    return SlaTarget(*spec)


def _rule(spec: RuleSpec, default_name: str) -> Rule:
    name = str(spec.name or default_name)
    return Rule(slug(name), "condition", str(spec.description or name), when=spec.when, to=spec.to,
                team=spec.team, notify=spec.notify, requires_context=spec.requires_context,
                severe=spec.severe, by_customer=spec.by_customer,
                next_step=str(spec.next_step) if spec.next_step else None)


def _overrides(esc: Escalation) -> list[Rule]:
    """Severity overrides (seed 000): routes a P0..P3 ticket to a tier from any tier."""
    out = []
    for o in esc.severity_overrides:
        out.append(Rule(f"severity-{o.severity.lower()}", "severity", f"{o.severity}: {o.description or ''}".strip(": "),
                        when=compile_condition({"severity": o.severity}), to=o.route_to, team=o.team, notify=o.notification,
                        severe=o.severity in ("P0", "P1")))
    return out


def _categories(esc: Escalation, rules: list[Rule]) -> Iterator[Category]:
    """`response_times:` entries, with the conditions of the policy-wide rules they name."""
    by_name = {r.name: r.when for r in rules if r.when is not None}
    for k in esc.response_times:
        conds = ([k.when] if k.when is not None else []) + [by_name[n] for n in k.rules if n in by_name]
        if conds:
            yield Category(slug(k.name), any_of(conds), k.first_response, k.updates_every, k.escalate_after,
                           tuple(n for n in k.rules if n in by_name), tuple(k.remind))


def _chooses(when: Condition | None, names: tuple[str, ...], rule_when: Mapping[str, Condition]) -> Condition | None:
    """A team's condition: its own `when`, or any of the policy-wide rules it names (described
    by their names: `check` would otherwise spell each rule out again)."""
    named = [n for n in names if n in rule_when]
    if not named:
        return when
    conds = ([when] if when is not None else []) + [rule_when[n] for n in named]
    said = f"the conditions of {', '.join(named)}"
    return replace(any_of(conds), describe=f"({when.describe}) OR {said}" if when is not None else said)


@dataclass
class _Tiers:
    """The tiers, how each criterion is decided (for `tierlift check`)."""

    by_level: dict[int, Tier] = field(default_factory=dict)
    explanations: list[Explanation] = field(default_factory=list)

    @classmethod
    def read(cls, esc: Escalation, rule_when: Mapping[str, Condition]) -> _Tiers:
        """`rule_when`: the policy-wide rules' conditions, by name (a team's `rules:`)."""
        out = cls()
        for t in esc.tiers:
            if t.level in out.by_level:
                continue
            sla = t.sla or TierSla()
            teams = (tuple(TeamChoice(c.team, _chooses(c.when, c.rules, rule_when)) for c in t.teams)
                     if t.teams is not None else (TeamChoice(str(t.team)),))
            rules = _TierRules(t.level, esc).read(t.escalation_criteria)
            out.explanations += rules.explanations
            resolution = sla.resolution_target if sla.resolution_target is not None else sla.resolution
            out.by_level[t.level] = Tier(t.level, str(t.name or f"Level {t.level}"), teams, _sla(sla.first_response),
                                         _sla(resolution), tuple(rules.rules), t.calendar, t.next_step)
        return out


@dataclass
class _TierRules:
    """One tier's `escalation_criteria` read into rules, with how each is decided.

    Criteria that mean "the agent applies the policy's trigger tag" share one
    manual rule, added after the others.
    """

    level: int
    esc: Escalation
    rules: list[Rule] = field(default_factory=list)
    explanations: list[Explanation] = field(default_factory=list)
    manual_texts: list[str] = field(default_factory=list)

    def read(self, criteria: list[str | RuleSpec]) -> _TierRules:
        for i, item in enumerate(criteria):
            if isinstance(item, RuleSpec):
                self._add(_rule(item, f"L{self.level}-rule-{i + 1}"))
            elif item in self.esc.criteria:
                self._named(item)
            elif m := SLA_CRITERION.match(item):
                self._add(_sla_rule(item, m, self.esc.sla_clocks))
            else:
                self.manual_texts.append(item)
        if self.manual_texts:
            rule = Rule("manual", "manual", "; ".join(self.manual_texts), tag=self.esc.manual_trigger_tag,
                        requires_context=bool(self.esc.required_context))
            self.rules.append(rule)
            self.explanations += [(self.level, text, rule.how()) for text in self.manual_texts]
        return self

    def _add(self, rule: Rule) -> None:
        self.rules.append(rule)
        self.explanations.append((self.level, rule.text, rule.how()))

    def _named(self, text: str) -> None:
        """A criterion given a meaning under `criteria:`: a condition, or manual with its own tag."""
        meaning = self.esc.criteria[text]
        if not isinstance(meaning, ManualMeaning):
            self._add(Rule(slug(text), "condition", text, when=meaning))
        elif meaning.tag is None or meaning.tag == self.esc.manual_trigger_tag:
            self.manual_texts.append(text)
        else:
            self._add(Rule(slug(text), "manual", text, tag=meaning.tag,
                           requires_context=bool(self.esc.required_context)))


def _sla_rule(text: str, m: re.Match[str], clocks: frozenset[str]) -> Rule:
    """"SLA at N% elapsed ...": the tier's clock named in the rest of the text, else the
    pack's `sla_clocks` (both by default)."""
    pct = float(m.group(1))
    rest = m.group("rest").lower()
    metric = "first_response" if "first response" in rest else "resolution" if "resolution target" in rest else "any"
    if metric == "any" and len(clocks) == 1:
        [metric] = clocks
    return Rule(f"{CLOCK_RULE_PREFIXES[0]}{pct:g}pct", "sla", text, sla_pct=pct, sla_metric=metric)


# The names of the moves a clock makes (an SLA threshold, an update duty missed), not a
# ticket's content: "sla-75pct", "update-missed-security-updates".
CLOCK_RULE_PREFIXES = ("sla-", "update-missed-")


def by_clock(rule: str | None) -> bool:
    """Whether a decision's rule is a clock's (time passed) rather than what the ticket says."""
    return rule is not None and rule.startswith(CLOCK_RULE_PREFIXES)
