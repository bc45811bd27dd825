"""Offline policy tools: explain (`check --policy`), fixture tests (`test-policy`), what-if (`simulate`)."""

from __future__ import annotations

import difflib
import json
import re
import sys
from collections.abc import Callable, Iterable, Mapping
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TextIO

from tierlift.engine.conditions import TicketView
from tierlift.engine.durations import format_business, format_span, parse_instant
from tierlift.engine.evaluate import Evaluator, apply_decision, severity_of
from tierlift.engine.model import (
    ACTION_TYPES,
    DECISION_KINDS,
    Action,
    AddTags,
    Change,
    Comment,
    Decision,
    Reassign,
    RemoveTags,
    StatusChange,
    Ticket,
)
from tierlift.engine.policy import Policy, Rule
from tierlift.engine.serialize import ticket_from_dict, ticket_to_dict
from tierlift.engine.triage import Classifier, TriageRead, TriageSpec, Verdict
from tierlift.engine.yamlsrc import InvalidFile, Problem, load
from tierlift.service.daemon.cycle import MAX_CASCADE
from tierlift.service.daemon.sourcefile import read_source
from tierlift.service.daemon.triage import classifier_for, shipped_model
from tierlift.service.daemon.writes import fallback_id


def explain(policy: Policy, out: TextIO) -> None:
    out.write(f"policy {policy.name} ({policy.source}): valid\n\n")
    _explain_tiers(policy, out)
    _explain_calendars(policy, out)
    out.write("\nhow each criterion is decided:\n")
    for tier, text, how in policy.explanations:
        where = f"L{tier}" if tier else "all"
        out.write(f"  [{where}] {text}{_rule_named(policy, tier, text)}\n        -> {how}\n")
    _explain_moves(policy, out)
    _explain_response_times(policy, out)
    _explain_people(policy, out)
    _explain_triage(policy, out)
    pp = policy.ping_pong
    times = "once" if pp.max_moves == 1 else f"{pp.max_moves} times"
    out.write(f"\nping-pong guard: a ticket tierlift moved {times} within {format_span(pp.window)} is frozen instead of"
              f" moved again (tag {pp.tag}; a person removes the tag to let escalation resume)\n")
    sev = ", ".join(f"{s} when {c.describe}" for s, c in policy.severity_map)
    out.write(f"severity: {sev}\n")
    out.write(f"pause statuses: {', '.join(sorted(policy.pause_statuses)) or 'none'}\n")
    channels = policy.channels
    if channels:
        out.write(f"notification channels used: {', '.join(channels)}\n")


def _rule_named(policy: Policy, tier: int | None, text: str) -> str:
    """The name a criterion's rule goes by (fixture cases, templates, history and reports use
    it; QA: `check` never showed one), and a word where the name comes from its place."""
    rules = policy.tiers[tier].rules if tier else policy.rules
    name = next((r.name for r in rules if r.text == text), None) or next(
        (r.name for r in rules if r.kind == "manual" and text in r.text.split("; ")), None)
    if name is None:
        return ""
    by_place = re.fullmatch(r"(L\d+-)?rule-\d+", name) is not None
    place = ", named by its place: give it a `name:`, as reordering the rules renames it" if by_place else ""
    return f"  (rule {name}{place})"


DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


def _explain_calendars(policy: Policy, out: TextIO) -> None:
    """Each calendar as read: its zone, its hours by weekday, its holidays (a team checks that
    the holiday it wrote was read, and in which zone the hours run)."""
    out.write("\ncalendars:\n")
    for name, cal in sorted(policy.calendars.items()):
        default = " (the default)" if name == policy.default_calendar else ""
        out.write(f"  {name}{default}: {cal.timezone}; {_week(cal.weekly)}\n")
        if cal.holidays:
            days = sorted(cal.holidays)
            shown = ", ".join(d.isoformat() for d in days[:12]) + (f" and {len(days) - 12} more" if len(days) > 12 else "")
            out.write(f"      holidays: {shown}\n")


def _week(weekly: tuple[tuple[tuple[int, int], ...], ...]) -> str:
    """`Mon-Fri 09:00-18:00` from per-weekday minute ranges; days with the same hours run together."""
    def hours(day: tuple[tuple[int, int], ...]) -> str:
        return ", ".join(f"{s // 60:02d}:{s % 60:02d}-{e // 60:02d}:{e % 60:02d}" for s, e in day) or "closed"
    parts: list[str] = []
    start = 0
    for i in range(1, 8):
        if i == 7 or weekly[i] != weekly[start]:
            days = DAYS[start] if i - 1 == start else f"{DAYS[start]}-{DAYS[i - 1]}"
            parts.append(f"{days} {hours(weekly[start])}")
            start = i
    return "; ".join(parts)


def _explain_triage(policy: Policy, out: TextIO) -> None:
    """Which rules read the customer's words with the model, at what confidence, and what a
    person is asked in the review band."""
    rules = [r for r in (*policy.rules, *(r for t in policy.tiers.values() for r in t.rules))
             if r.when is not None and r.when.triage]
    if not rules:
        return
    model = shipped_model()
    languages = model.figures.get("languages")
    langs = ", ".join(str(x) for x in languages) if isinstance(languages, list) else "see docs/triage.md"
    out.write(f"\ntriage: the model {model.name} (shipped in the wheel; reads {langs}) reads the customer's words:\n")
    for rule in rules:
        specs = rule.when.triage if rule.when else ()
        for spec in specs:
            out.write(f"  {rule.name}: {_triage_line(policy, spec)}\n")
    _explain_unused(model.classes, rules, out)


def _explain_unused(classes: tuple[str, ...], rules: list[Rule], out: TextIO) -> None:
    """The categories the model reads that no criterion acts on (QA: on three-tier, GDPR
    erasures, legal threats and large refunds went unescalated and unreviewed, unsaid)."""
    used = {spec.category for rule in rules for spec in (rule.when.triage if rule.when else ())}
    unused = [c.replace("_", " ") for c in classes if c != "none" and c not in used]
    if unused:
        out.write(f"  not acted on by this pack: {', '.join(unused)} (the model reads them; no criterion here"
                  " escalates or asks about them: such a ticket waits for the SLA clocks)\n")


def _triage_line(policy: Policy, spec: TriageSpec) -> str:
    if spec.category == "none":
        return f"its patterns are silenced where the model reads a plain question (none >= {spec.escalate:.2f})"
    if spec.other:
        return (f"its patterns are silenced where the model is sure the text is about something other than"
                f" {spec.category} (>= {spec.escalate:.2f})")
    t = policy.triage
    amount = f" and the text names more than ${spec.amount_over:,.0f}" if spec.amount_over is not None else ""
    band = ""
    if spec.review is not None:
        channels = ", " + ", ".join(t.notify) if t.notify else ""
        band = (f"; {spec.review:.2f}-{spec.escalate:.2f}: asks a person (tag {t.review_tag_prefix}{spec.category}, "
                f"an internal note{channels}; confirm with {t.confirm_tag_prefix}{spec.category}, "
                f"dismiss with {t.dismissed_tag})")
    return f"{spec.category} at >= {spec.escalate:.2f}{amount} escalates{band}"


def _explain_tiers(policy: Policy, out: TextIO) -> None:
    out.write("tiers:\n")
    for level in sorted(policy.tiers):
        t = policy.tiers[level]
        teams = ", ".join(c.team + (f" (when {c.when.describe})" if c.when else "") for c in t.teams)
        out.write(f"  L{level} {t.name}: {teams}\n")
        day = policy.calendar_for(t).day_hours
        out.write(f"      first response {t.first_response.describe(day)}; resolution {t.resolution.describe(day)};"
                  f" calendar {t.calendar or policy.default_calendar}\n")
        for oc in (o for o in policy.on_call if o.level == level):
            named = sorted(oc.severities) + [f"moved here by {r}" for r in sorted(oc.rules)]
            who = ", ".join(named) or "every ticket"
            first = f"first response {format_span(oc.first_response)}; " if oc.first_response else ""
            out.write(f"      on call ({who}): {first}calendar {oc.calendar or t.calendar or policy.default_calendar}\n")


def _explain_moves(policy: Policy, out: TextIO) -> None:
    """Routing, de-escalation and update obligations: the moves besides the criteria."""
    if policy.routing:
        out.write("\ncustomer-tier routing:\n")
        for r in policy.routing:
            out.write(f"  {r.name}: start at L{r.start_tier} when {r.when.describe}\n")
    if policy.de_escalations:
        out.write("\nde-escalation:\n")
        for d in policy.de_escalations:
            to = f"L{d.to}" if d.to else "one level down"
            out.write(f"  {d.name}: to {to} when {d.when.describe}, after at least {format_span(d.min_stay)}\n")
    for u in policy.updates:
        when = u.when.describe if len(u.when.describe) <= 100 else u.when.describe[:97] + "..."
        out.write(f"\nupdate obligation {u.name}: a public update every {format_span(u.every)} while {when};"
                  f" reminder after one miss, "
                  f"{f'escalation after {u.escalate_after}' if u.escalate_after else 'no escalation'}; none owed"
                  f" while the ticket is paused or solved (that time does not count) or a deployed fix waits to"
                  f" go down\n")


def _explain_response_times(policy: Policy, out: TextIO) -> None:
    if not policy.categories:
        return
    out.write("\nresponse times by category (the customer is promised the earliest that applies, or the"
              " level's first-response target if sooner; a category with public updates counts around the"
              " clock, the others on the receiving level's calendar):\n")
    day_hours = policy.calendars[policy.default_calendar].day_hours
    for k in policy.categories:
        first = k.first_response and (format_span(k.first_response) if k.updates_every
                                      else format_business(k.first_response, day_hours))
        parts = [f"first response {first}"] if first else []
        if k.updates_every:
            parts.append(f"a public update every {format_span(k.updates_every)}")
        out.write(f"  {k.name}: {'; '.join(parts)}\n")


def _sla_clocks_said(policy: Policy) -> str:
    """When the pack's 'SLA at N%' criteria escalate, by the clocks they watch (a pack with
    `sla_clocks: [first_response]` never escalates on the resolution clock: QA found this
    paragraph saying it did, beside the criterion's own line saying it did not)."""
    metrics = {r.sla_metric for t in policy.tiers.values() for r in t.rules if r.kind == "sla"}
    watched = {"first_response", "resolution"} if "any" in metrics else metrics
    first = ("N% of the tier's first-response target elapsed with nobody replying in the\n"
             "  tier since the tier start")
    resolution = "N% of its resolution target\n  elapsed since the tier start without the ticket being solved"
    if not watched:
        return "(this pack has no such criterion)"
    if watched == {"first_response"}:
        return first + " (a replied\n  ticket stays: the pack watches no resolution clock)"
    if watched == {"resolution"}:
        return resolution
    return f"{first}, or, once the tier replied, when {resolution}"


def _explain_people(policy: Policy, out: TextIO) -> None:
    """What counts as a reply, and how people's moves are treated (issue 13)."""
    who = ("a person on the support side" if policy.first_response_by != "tier_team" else
           "a person in one of the tier's own teams (first_response_by: tier_team; Zendesk reads the author's\n"
           "  team from their default group; where the helpdesk does not say it, on Jira and for an agent\n"
           "  without a default group, any person's reply counts)")
    out.write(
        f"\nwhat counts as a reply: the first public comment by {who} made after the\n"
        "  ticket entered its current tier (tier start). tierlift's own comments and automated ones\n"
        "  (triggers, automations, bots) never count; internal notes never count. 'SLA at N% elapsed'\n"
        f"  escalates when {_sla_clocks_said(policy)}; each clock counts the tier's\n"
        "  calendar time (business hours, or 24x7 where the pack says so), pauses excluded. Without\n"
        "  comments loaded, only an L1 ticket that never moved trusts the helpdesk's first reply time:\n"
        "  at any other due threshold tierlift reads the ticket's comments and history first (one read\n"
        "  per due threshold, none on an idle cycle).\n")
    moved = {lv: sorted({c.team for c in t.teams}) for lv, t in sorted(policy.tiers.items())}
    teams = "; ".join(f"L{lv}: {', '.join(ts)}" for lv, ts in moved.items())
    out.write(
        "human moves: when a person (not tierlift, not an automation) assigns the ticket to a team of\n"
        "  another tier, the ticket is at that tier from the moment of the move: tierlift fixes the tier\n"
        "  tags, writes an internal note recording the move and who made it (no reassignment, no\n"
        "  customer reply, no page), starts that tier's clocks at the move, and never undoes it: it\n"
        "  moves again only as any ticket of that tier does (something new, or that tier's SLA clocks).\n"
        f"  Teams by tier: {teams} (a team in several tiers or in none is not read as a move).\n"
        "  The ping-pong guard counts tierlift's own moves only.\n"
        "after a de-escalation or any move a person made: only facts newer than the move -- a later\n"
        "  customer comment, a tag a person added later -- let a content rule move it up again; a\n"
        "  de-escalation returns the ticket to the tier its customer's routing calls for, and a customer\n"
        "  who was answered is not waiting for a first response.\n")
    severe = [r.name for r in policy.rules if r.severe]
    if severe:
        out.write(f"severity rules (from any tier, also on a frozen ticket): {', '.join(severe)}\n")


# --- fixture tests ------------------------------------------------------------------


def _parse_time(value: Any, where: str) -> datetime:
    try:
        return parse_instant(value)
    except ValueError as exc:
        raise ValueError(f"{where}: {exc}") from None


def ticket_from_case(raw: Mapping[str, Any], where: str) -> Ticket:
    d = dict(raw)
    created = _parse_time(d.get("created_at"), f"{where}.created_at")
    d["created_at"] = created.isoformat()
    d["updated_at"] = _parse_time(d.get("updated_at", created), f"{where}.updated_at").isoformat()
    d.setdefault("id", "1")
    d.setdefault("status", "open")
    d.setdefault("version", "1")
    d["tags"] = [str(t).lower() for t in d.get("tags") or ()]
    for key in ("first_reply_at", "solved_at"):
        if d.get(key):
            d[key] = _parse_time(d[key], f"{where}.{key}").isoformat()
    if d.get("comments") is not None:
        d["comments"] = [{**c, "created_at": _parse_time(c.get("created_at"), f"{where}.comments").isoformat(),
                          "public": bool(c.get("public", False))} for c in d["comments"]]
    if d.get("history") is not None:
        d["history"] = [{**c, "at": _parse_time(c.get("at"), f"{where}.history").isoformat()} for c in d["history"]]
    if d.get("status_history"):
        d["status_history"] = [[_parse_time(at, f"{where}.status_history").isoformat(), st]
                               for at, st in d["status_history"]]
    org = d.get("organization")
    if org:
        d["organization"] = {"id": str(org.get("id", "org")), "name": org.get("name", ""), **org}
    return ticket_from_dict(d)


def run_cases(policy: Policy, cases_path: Path, out: TextIO) -> int:
    """Run a policy's fixture cases; print a pytest-like report. Exit code 0, 1 or 2."""
    data, pos = _read_cases(cases_path)
    if isinstance(data, Mapping) and "phrasings" in data:
        return run_phrasings(policy, data, pos, cases_path, out)
    if not isinstance(data, Mapping) or not isinstance(data.get("cases"), list):
        raise InvalidFile([pos.problem(("cases",), "expected a mapping with a list under 'cases' (fixture cases)"
                                                   " or 'phrasings' (a phrasing corpus)")])
    problems = case_problems(data["cases"], pos, policy)
    if problems:
        raise InvalidFile(problems)
    classifier = classifier_for(policy)
    passed = failed = 0
    failures: list[str] = []
    for i, case in enumerate(data["cases"]):
        name = str(case.get("name") or f"case {i + 1}") if isinstance(case, Mapping) else f"case {i + 1}"
        line = pos.line(("cases", i))
        try:
            # Each case its own ticket: an evaluator remembers what a ticket id and version
            # showed, and a copied case with the same id read the earlier case's (QA).
            wrong = _run_case(Evaluator(policy, classifier=classifier), case, f"cases[{i}]")
        except (ValueError, KeyError, TypeError) as exc:
            wrong = [f"bad case: {exc}"]
        if wrong:
            failed += 1
            out.write(f"{cases_path}:{line}: {name} FAILED\n")
            failures.extend(f"  {name}: {p}" for p in wrong)
        else:
            passed += 1
            out.write(f"{cases_path}:{line}: {name} PASSED\n")
    if failures:
        out.write("\nfailures:\n" + "\n".join(failures) + "\n")
    out.write(f"\n{passed} passed, {failed} failed\n")
    return 0 if failed == 0 else 1


_CASE_KEYS = ("name", "description", "ticket", "expect")
_TICKET_KEYS = tuple(ticket_to_dict(Ticket("1", "", "", "open", datetime(2026, 1, 1, tzinfo=UTC),
                                            datetime(2026, 1, 1, tzinfo=UTC))))
_CHANGE_KEYS = ("add_tags", "remove_tags", "status", "comment", "team")
_COMMENT_KEYS = ("body", "created_at", "public", "by_agent", "author", "automated", "team")
_HISTORY_KEYS = ("at", "field", "before", "after", "added", "removed", "author", "automated")
_HISTORY_FIELDS = ("team", "tags", "status")
_ORG_KEYS = ("id", "name", "plan", "arr", "health_score", "primary_contact", "attributes")
_MOVE_KEYS = ("name", "at", "by")
# Keys other tools spell differently, with what a case calls them.
_COMMENT_HINTS = {"text": "did you mean 'body'?", "html_body": "did you mean 'body'?",
                  "customer": "did you mean 'by_agent: false'?"}
_HISTORY_HINTS = {"from": "did you mean 'before'?", "to": "did you mean 'after'?", "value": "did you mean 'after'?",
                  "previous_value": "did you mean 'before'?",
                  "status": "a status change is {at, field: status, before, after}",
                  "tags": "a tag change is {at, field: tags, added, removed}"}
_SIDE = ("a case's comment counts as an agent's unless by_agent: false (a customer's comment);"
         " author names who wrote it, not which side: say by_agent: false or by_agent: true")


def case_problems(cases: list[Any], pos: Any, policy: Policy | None = None) -> list[Problem]:
    """What is wrong with the cases' shape, each at its FILE:LINE: key, before any case runs.

    A misspelt key passed silently (`teir: 2` checked nothing; `expct:` made a case with
    no step, "1 passed") and a malformed case was counted as a failed test (exit 1, "bad
    case: 'ticket'"): both are mistakes in the file, exit 2, as for a configuration. So
    are a comment or history entry the case cannot read, and (with `policy`) a tier, rule
    or team the policy does not have: such a step could never pass."""
    check = _CaseCheck(pos, policy)
    if not cases:  # QA: `cases: []` was "0 passed, 0 failed", exit 0: a test that tests nothing
        check.add(("cases",), "no cases: list at least one {name, ticket, expect}")
    for i, case in enumerate(cases):
        check.case(case, ("cases", i))
    return check.found


def _rule_names(policy: Policy) -> set[str]:
    """Every rule name a decision of the policy can carry."""
    names = {r.name for r in policy.rules} | {r.name for t in policy.tiers.values() for r in t.rules}
    names |= {r.name for r in policy.routing} | {d.name for d in policy.de_escalations}
    names |= {u.name for u in policy.updates} | {f"update-missed-{u.name}" for u in policy.updates}
    return names | {"human-move", "manual", "review"}


def _team_names(policy: Policy) -> set[str]:
    rules = (*policy.rules, *(r for t in policy.tiers.values() for r in t.rules))
    return {c.team for t in policy.tiers.values() for c in t.teams} | {r.team for r in rules if r.team}


class _CaseCheck:
    """The problems of a cases file, gathered all at once (see case_problems)."""

    def __init__(self, pos: Any, policy: Policy | None) -> None:
        self.pos, self.policy = pos, policy
        self.found: list[Problem] = []

    def add(self, where: tuple[Any, ...], message: str) -> None:
        self.found.append(self.pos.problem(where, message))

    def keys(self, value: Any, where: tuple[Any, ...], known: tuple[str, ...], what: str,
             hints: Mapping[str, str] | None = None) -> bool:
        if not isinstance(value, Mapping):
            self.add(where, f"expected {what}")
            return False
        self.found.extend(_unknown_keys(value, where, known, self.pos, hints))
        return True

    def instant(self, value: Any, where: tuple[Any, ...]) -> None:
        try:
            parse_instant(value)
        except (ValueError, TypeError) as exc:
            self.add(where, str(exc))

    def required(self, value: Mapping[str, Any], where: tuple[Any, ...], key: str, what: str) -> bool:
        if value.get(key) is None:
            self.add((*where, key), f"missing ({what})")
            return False
        return True

    def items(self, value: Any, where: tuple[Any, ...], what: str) -> list[Any]:
        """A list's items (none: not given); anything else than a list is a problem."""
        if value is None:
            return []
        if not isinstance(value, list):
            self.add(where, f"expected a list of {what}")
            return []
        return value

    def case(self, case: Any, at: tuple[Any, ...]) -> None:
        if not self.keys(case, at, _CASE_KEYS, "a case {name, ticket, expect}"):
            return
        self.ticket(case.get("ticket"), (*at, "ticket"))
        steps = case.get("expect")
        if not isinstance(steps, list) or not steps:
            self.add((*at, "expect"), "expected a list of steps {at, tier, rule, ...}")
            return
        for j, step in enumerate(steps):
            self.step(step, (*at, "expect", j))
        self.after_creation(case, at)

    def after_creation(self, case: Mapping[str, Any], at: tuple[Any, ...]) -> None:
        """A step before the ticket was created (QA: taken silently): its `at` is a mistake."""
        ticket = case.get("ticket")
        try:
            created = parse_instant(ticket.get("created_at")) if isinstance(ticket, Mapping) else None
        except (ValueError, TypeError):
            return  # said at created_at
        for j, step in enumerate(case.get("expect") or []):
            try:
                when = parse_instant(step.get("at")) if isinstance(step, Mapping) else None
            except (ValueError, TypeError):
                continue
            if created is not None and when is not None and when < created:
                self.add((*at, "expect", j, "at"), f"{when:%Y-%m-%d %H:%M} UTC is before the ticket was created"
                                                   f" ({created:%Y-%m-%d %H:%M} UTC)")

    def ticket(self, t: Any, at: tuple[Any, ...]) -> None:
        if not self.keys(t, at, _TICKET_KEYS, "a ticket mapping {subject, created_at, ...}"):
            return
        self.instant(t.get("created_at"), (*at, "created_at"))
        for key in ("updated_at", "first_reply_at", "solved_at", "tier_since"):
            if t.get(key) is not None:
                self.instant(t[key], (*at, key))
        self.items(t.get("tags"), (*at, "tags"), "tags")
        for k, c in enumerate(self.items(t.get("comments"), (*at, "comments"), "comments {body, created_at, ...}")):
            self.comment(c, (*at, "comments", k))
        for k, h in enumerate(self.items(t.get("history"), (*at, "history"), "changes {at, field, ...}")):
            self.history_entry(h, (*at, "history", k))
        self.rows(t, at)
        if t.get("organization") is not None:
            self.keys(t["organization"], (*at, "organization"), _ORG_KEYS, "an organization {name, plan, arr, ...}")

    def rows(self, t: Mapping[str, Any], at: tuple[Any, ...]) -> None:
        """The ticket's status history and ledger, rows of a snapshot (`tierlift export`)."""
        for k, row in enumerate(self.items(t.get("status_history"), (*at, "status_history"), "[instant, status]")):
            if isinstance(row, list) and len(row) == 2:
                self.instant(row[0], (*at, "status_history", k))
            else:
                self.add((*at, "status_history", k), "expected [instant, status], such as [2026-11-02T14:00:00Z, pending]")
        for k, row in enumerate(self.items(t.get("ledger"), (*at, "ledger"), "tier moves")):
            if isinstance(row, list) and len(row) >= 5:
                self.instant(row[0], (*at, "ledger", k))
            else:
                self.add((*at, "ledger", k), "expected [instant, from tier, to tier, rule, escalation id, ...]")

    def comment(self, c: Any, at: tuple[Any, ...]) -> None:
        if not self.keys(c, at, _COMMENT_KEYS, "a comment {body, created_at, public, by_agent}", _COMMENT_HINTS):
            return
        self.required(c, at, "body", "the comment's text")
        if self.required(c, at, "created_at", "when it was written, an ISO 8601 instant"):
            self.instant(c["created_at"], (*at, "created_at"))
        if "author" in c and "by_agent" not in c:
            self.add((*at, "author"), _SIDE)

    def history_entry(self, h: Any, at: tuple[Any, ...]) -> None:
        if not self.keys(h, at, _HISTORY_KEYS, "a change {at, field, before, after, ...}", _HISTORY_HINTS):
            return
        if self.required(h, at, "at", "when it changed, an ISO 8601 instant"):
            self.instant(h["at"], (*at, "at"))
        if self.required(h, at, "field", f"one of {', '.join(_HISTORY_FIELDS)};"
                                         " a status change is {at, field: status, before, after}"):
            if h["field"] not in _HISTORY_FIELDS:
                self.add((*at, "field"), f"expected one of {', '.join(_HISTORY_FIELDS)}, got {h['field']!r}")

    def step(self, step: Any, at: tuple[Any, ...]) -> None:
        if not self.keys(step, at, ("at", "change", *_STEP_CHECKS), "a step {at, tier, rule, ...}"):
            return
        self.instant(step.get("at"), (*at, "at"))
        if step.get("wake_up") is not None:
            self.instant(step["wake_up"], (*at, "wake_up"))
        for k, change in enumerate(self.items(step.get("change"), (*at, "change"), "changes {add_tags, comment, ...}")):
            self.change(change, (*at, "change", k))
        self.named(step, at)
        if self.policy is not None:
            self.expectation(step, at, self.policy)

    def named(self, step: Mapping[str, Any], at: tuple[Any, ...]) -> None:
        """A decision kind or action type the engine never gives: a step that could never
        pass (QA: `kind: escalated` failed at run time as "got 'none'")."""
        if "kind" in step:
            self.one_of(step["kind"], (*at, "kind"), "decision kind", DECISION_KINDS)
        if "actions" in step:
            for k, a in enumerate(self.items(step["actions"], (*at, "actions"), "action types")):
                self.one_of(a, (*at, "actions", k), "action type", ACTION_TYPES)

    def one_of(self, value: Any, at: tuple[Any, ...], what: str, allowed: tuple[str, ...]) -> None:
        if value in allowed:
            return
        hint = difflib.get_close_matches(str(value), allowed, n=1)
        more = f"did you mean {hint[0]!r}?" if hint else f"one of {', '.join(allowed)}"
        self.add(at, f"unknown {what} {value!r} ({more})")

    def change(self, change: Any, at: tuple[Any, ...]) -> None:
        if not self.keys(change, at, _CHANGE_KEYS, "a change {add_tags, comment, ...}"):
            return
        for key in ("add_tags", "remove_tags"):
            self.items(change.get(key), (*at, key), "tags")
        if "comment" in change:
            self.comment(change["comment"], (*at, "comment"))
        if "team" in change and self.keys(change["team"], (*at, "team"), _MOVE_KEYS, "a move {name, by, at}"):
            self.required(change["team"], (*at, "team"), "name", "the team the person moved the ticket to")
            if self.required(change["team"], (*at, "team"), "at", "when the person moved it, an ISO 8601 instant"):
                self.instant(change["team"]["at"], (*at, "team", "at"))

    def expectation(self, step: Mapping[str, Any], at: tuple[Any, ...], p: Policy) -> None:
        """A tier, rule or team the policy does not have: a step that could never pass."""
        if "tier" in step and step["tier"] not in p.tiers:
            self.add((*at, "tier"), f"no tier {step['tier']!r} in policy {p.name}"
                                    f" (tiers: {', '.join(str(t) for t in sorted(p.tiers))})")
        for key, names in (("rule", _rule_names(p)), ("team", _team_names(p))):
            want = step.get(key)
            if want is not None and want not in names:
                hint = difflib.get_close_matches(str(want), sorted(names), n=1)
                more = f"did you mean {hint[0]!r}?" if hint else f"{key}s: {', '.join(sorted(names))}"
                self.add((*at, key), f"unknown {key} {want!r} in policy {p.name} ({more})")


def _read_cases(cases_path: Path) -> tuple[Any, Any]:
    return load(read_source(cases_path, "file of cases"), str(cases_path))


def _unknown_keys(value: Mapping[Any, Any], where: tuple[Any, ...], known: tuple[str, ...], pos: Any,
                  hints: Mapping[str, str] | None = None) -> list[Problem]:
    """A key not among `known`, with the one it was probably meant to be (`hints`: what a
    key another tool spells was meant as)."""
    found = []
    for k in value:
        if str(k) not in known:
            hint = difflib.get_close_matches(str(k), known, n=1)
            more = f"did you mean {hint[0]!r}?" if hint else f"expected one of {', '.join(known)}"
            more = (hints or {}).get(str(k), more)
            found.append(pos.problem((*where, k), f"unknown key {str(k)!r} ({more})"))
    return found


def _run_case(ev: Evaluator, case: Mapping[str, Any], where: str) -> list[str]:
    ticket = ticket_from_case(case["ticket"], f"{where}.ticket")
    problems = []
    for j, step in enumerate(case.get("expect") or []):
        at = _parse_time(step["at"], f"{where}.expect[{j}].at")
        for k, change in enumerate(step.get("change") or []):
            ticket = _change(ticket, change, f"{where}.expect[{j}].change[{k}]", at)
        d = ev.evaluate(ticket, at)
        if d.needs_comments and (ticket.comments is None or ticket.history is None):
            # What the daemon does: load comments and history, evaluate again.
            ticket = replace(ticket, comments=_loaded_comments(ticket), history=ticket.history or ())
            d = ev.evaluate(ticket, at)
        ticket = apply_decision(ticket, d, at)
        problems += [f"at {at:%Y-%m-%d %H:%M}: {p}" for p in _step_problems(step, d)]
    return problems


def _loaded_comments(ticket: Ticket) -> tuple[Comment, ...]:
    """The comments as the daemon would read them: a case that gives only `first_reply_at`
    has that reply on the ticket (the README's reading: an answered customer is not
    waiting for a first response), not an empty thread that says nobody answered."""
    if ticket.comments is not None:
        return ticket.comments
    if ticket.first_reply_at is None:
        return ()
    return (Comment("agent", "(the first reply, from the case's first_reply_at)", True, ticket.first_reply_at),)


def _step_problems(step: Mapping[str, Any], d: Decision) -> list[str]:
    """What a decision got wrong against one expected step (each key checked only when given)."""
    found = (check(step[key], d) for key, check in _STEP_CHECKS.items() if key in step)
    return [p for p in found if p]


def _check_tier(want: Any, d: Decision) -> str | None:
    if d.tier_after == want:
        return None
    return f"expected tier {want}, got {d.tier_after} ({'; '.join(d.reasons) or 'no reasons'})"


def _check_rule(want: Any, d: Decision) -> str | None:
    return None if d.rule == want else f"expected rule {want!r}, got {d.rule!r}"


def _check_team(want: Any, d: Decision) -> str | None:
    teams = [a.team for a in d.actions if isinstance(a, Reassign)]
    return None if want in teams else f"expected team {want!r}, got {teams or 'no reassignment'}"


def _check_kind(want: Any, d: Decision) -> str | None:
    return None if d.kind == want else f"expected a {want!r} decision, got {d.kind!r}"


def _check_actions(want: Any, d: Decision) -> str | None:
    got = sorted(a.type for a in d.actions)
    return None if got == sorted(want) else f"expected actions {sorted(want)}, got {got}"


def _check_wake_up(want: Any, d: Decision) -> str | None:
    at = _parse_time(want, "wake_up") if want else None
    return None if d.wake_up == at else f"expected wake-up {at}, got {d.wake_up}"


# The order the problems of one step are reported in.
_STEP_CHECKS: dict[str, Callable[[Any, Decision], str | None]] = {
    "tier": _check_tier, "rule": _check_rule, "team": _check_team, "kind": _check_kind,
    "actions": _check_actions, "wake_up": _check_wake_up,
}


def _change(ticket: Ticket, change: Mapping[str, Any], where: str, at: datetime) -> Ticket:
    """The ticket after one change a step makes at `at`."""
    tags = set(ticket.tags) | {str(t).lower() for t in change.get("add_tags", ())}
    tags -= {str(t).lower() for t in change.get("remove_tags", ())}
    kwargs: dict[str, Any] = {"tags": frozenset(tags)}
    if "status" in change:
        kwargs["status"] = change["status"]
        kwargs["status_history"] = _status_history(ticket, str(change["status"]), at)
    if "comment" in change:
        c = change["comment"]
        comment = Comment(c.get("author", "agent"), c["body"], bool(c.get("public", False)),
                          _parse_time(c["created_at"], where), bool(c.get("by_agent", True)),
                          bool(c.get("automated", False)), c.get("team"))
        kwargs["comments"] = (ticket.comments or ()) + (comment,)
    if "team" in change:
        # A person moves the ticket: {team: NAME, by: AUTHOR, at: INSTANT}
        t = change["team"]
        move = Change(_parse_time(t["at"], where), t.get("by", "agent"), "team", ticket.team, t["name"])
        kwargs["team"] = t["name"]
        kwargs["history"] = (ticket.history or ()) + (move,)
    kwargs["version"] = f"{ticket.version}+c"
    return replace(ticket, **kwargs)


def _status_history(ticket: Ticket, status: str, at: datetime) -> tuple[StatusChange, ...]:
    """The status history once a step set `status` at `at`, as the helpdesk records it.

    The status alone changed nothing else: a pause a step made began at the ticket's
    creation (no history: its last update) or was lost once it ended, so test-policy
    escalated on a Friday where the daemon, reading the audits, escalates on the Monday.
    A ticket without a recorded history had its first status since its creation."""
    if status == ticket.status:
        return ticket.status_history
    known = ticket.status_history or (StatusChange(ticket.created_at, ticket.status),)
    return (*known, StatusChange(at, status))


# --- phrasing corpus ----------------------------------------------------------------------

_PHRASE_TIME = datetime(2026, 11, 2, 14, 0, tzinfo=UTC)


def _phrase_ticket(text: str) -> Ticket:
    return Ticket(id="phrase", subject="", description=text, status="open", created_at=_PHRASE_TIME,
                  updated_at=_PHRASE_TIME, version="1")


def _phrase_view(policy: Policy, text: str) -> TicketView:
    """The phrase as a ticket's description, with the severity the policy reads from it."""
    ticket = _phrase_ticket(text)
    return TicketView(ticket, severity_of(ticket, policy))


def _criteria(policy: Policy) -> dict[str, Any]:
    """Every rule with a condition, policy-wide and per tier, by name."""
    found: dict[str, Any] = {r.name: r for r in policy.rules if r.when is not None}
    for tier in policy.tiers.values():
        found.update({r.name: r for r in tier.rules if r.when is not None and r.kind == "condition"})
    return found


def _phrasing_entries(policy: Policy, data: Mapping[str, Any], pos: Any) -> list[tuple[Any, list[str], list[str], int]]:
    """(rule, match, no_match, line) per entry; every problem is reported as FILE:LINE: key: message."""
    rules = _criteria(policy)
    entries, problems = [], []
    raw = data.get("phrasings")
    if not isinstance(raw, list):
        raise InvalidFile([pos.problem(("phrasings",), "expected a list of {rule, match, no_match}")])
    for i, item in enumerate(raw):
        path = ("phrasings", i)
        if isinstance(item, Mapping):  # `matches:` once checked nothing: "0/0 ... PASSED"
            problems += _unknown_keys(item, path, ("rule", "match", "no_match"), pos)
        name = item.get("rule") if isinstance(item, Mapping) else None
        if not isinstance(name, str) or name not in rules:
            problems.append(pos.problem(path + ("rule",), f"unknown rule {name!r} in policy {policy.name}"
                                        f" (rules with a condition: {', '.join(sorted(rules))})"))
            continue
        lists = []
        for key in ("match", "no_match"):
            value = item.get(key) or []
            if not isinstance(value, list) or not all(isinstance(x, str) for x in value):
                problems.append(pos.problem(path + (key,), "expected a list of phrases (strings)"))
                value = []
            lists.append(value)
        entries.append((rules[item["rule"]], lists[0], lists[1], pos.line(path)))
    if problems:
        raise InvalidFile(problems)
    return entries


def run_phrasings(policy: Policy, data: Mapping[str, Any], pos: Any, path: Path, out: TextIO) -> int:
    """Each criterion's hits and misses on its phrasing corpus; exit 1 on any miss.

    A phrase is a ticket's description; a `match` phrase must fire the rule's
    condition, a `no_match` phrase must not.
    """
    misses = 0
    for rule, match, no_match, line in _phrasing_entries(policy, data, pos):
        hit = [t for t in match if rule.when.test(_phrase_view(policy, t), _PHRASE_TIME)]
        false = [t for t in no_match if rule.when.test(_phrase_view(policy, t), _PHRASE_TIME)]
        bad = len(match) - len(hit) + len(false)
        misses += bad
        out.write(f"{path}:{line}: {rule.name}: {len(hit)}/{len(match)} phrasings matched, "
                  f"{len(no_match) - len(false)}/{len(no_match)} near misses rejected"
                  f"{'' if bad else ' PASSED'}\n")
        for t in match:
            if t not in hit:
                out.write(f"    MISSED (should match): {t}\n")
        for t in false:
            out.write(f"    FALSE MATCH (should not match): {t}\n")
    out.write(f"\n{misses} misses\n")
    return 0 if misses == 0 else 1


# --- simulate ---------------------------------------------------------------------------


def decision_row(d: Decision) -> dict[str, Any]:
    out = d.to_dict()
    return {k: out[k] for k in ("ticket", "tier_before", "tier_after", "actions", "reasons", "wake_up")} | {
        "rule": d.rule, "kind": d.kind}


def simulate(policy: Policy, tickets: Iterable[Ticket], now: datetime, *,
             unmet: list[str] | None = None, classifier: Classifier | None = None) -> list[Decision]:
    """Each ticket's decisions at `now`, in ticket order (numbers by value: 2 before 10).
    A ticket is decided again as it would read after each acting decision, as the daemon's
    cycle does (cycle.HelpdeskCycle._cascade): an L1 -> L2 move by an SLA may owe a triage
    review or an L2 -> L3 move at once, and `plan` and `run` show both. A ticket whose
    decision needs the comments its export lacks is decided without them and its id added
    to `unmet` (said once by `say_gaps`); one that cannot be decided without its history
    either is added as an `Undecided`, with what the engine needs it for. `classifier`: the
    one a helpdesk reads with (simulate --config: its accepted refit), else the policy's."""
    ev = Evaluator(policy, classifier=classifier or classifier_for(policy))
    out: list[Decision] = []
    for t in sorted(tickets, key=lambda t: ticket_order(t.id)):
        out += cascade(ev, t, now, unmet)
    return out


def cascade(ev: Evaluator, ticket: Ticket, now: datetime, unmet: list[str] | None = None) -> list[Decision]:
    """One ticket's decisions in one cycle: the first, then one per acting decision's
    outcome, until one acts no more, repeats itself or MAX_CASCADE were made."""
    steps: list[Decision] = []
    acted: set[str] = set()
    for step in range(MAX_CASCADE):
        ticket, d, gap = _decide_without_comments(ev, ticket, now)
        if unmet is not None and not step and gap is not None:
            unmet.append(gap)
        esc_id = d.escalation_id or fallback_id(ticket, d)
        if step and (not d.has_actions or esc_id in acted):
            break  # the ticket's last word is the decision before: nothing more happens
        steps.append(d)
        if not d.has_actions:
            break
        acted.add(esc_id)
        after = apply_decision(ticket, d, now)
        ticket = after if after.version != ticket.version else replace(after, version=f"{after.version}~{step}")
    return steps


class Undecided(str):
    """A ticket id in simulate's `unmet` whose decision needs the history the export lacks
    (Zendesk's audits, Jira's changelog); `why` is what the engine needs it for."""

    why: str

    def __new__(cls, ticket_id: str, why: str) -> Undecided:
        out = super().__new__(cls, ticket_id)
        out.why = why
        return out


def _say_undecided(undecided: list[Undecided], out: TextIO) -> None:
    """The tickets not decided at all: their table row reads like "nothing due, ever"."""
    some = sorted(undecided, key=ticket_order)
    told = "; ".join(f"{u} ({u.why})" for u in some[:10]) + (f"; and {len(some) - 10} more" if len(some) > 10 else "")
    out.write(f"simulate: {len(some)} ticket(s) not decided: {told}. The export carries no status history or audits"
              f" (Zendesk's own export keeps only a ticket's last status change, Jira's needs expand=changelog),"
              f" where a pause that ended, a person's move away and back and who asked for an escalation are:"
              f" what is due on them (in brackets) was not decided and their rows say 'undecided' (the daemon"
              f" reads the history first). `tierlift export` writes it\n")


def _decide_without_comments(ev: Evaluator, ticket: Ticket, now: datetime) -> tuple[Ticket, Decision, str | None]:
    """The decision on what the export carries: a ticket whose decision needs the comments
    it lacks is decided as having none (its id returned), one that needs its history still
    is not decided (an `Undecided` returned)."""
    d = ev.evaluate(ticket, now)
    without = d.needs_comments and ticket.comments is None
    if without:
        ticket = replace(ticket, comments=())
        d = ev.evaluate(ticket, now)
    if d.needs_comments:
        return ticket, d, Undecided(ticket.id, d.reasons[-1] if d.reasons else "")
    return ticket, d, ticket.id if without else None


def say_gaps(export: Any, now: datetime, unmet: list[str], out: TextIO, *, told_me: bool) -> None:
    """What the export could not tell, once: tickets not decided for want of their history
    (`Undecided`), decisions made without comments or history, tierlift's own account
    unknown, and a `--now` before the tickets were created."""
    def few(ids: list[str]) -> str:
        ids = sorted(ids, key=ticket_order)
        return ", ".join(ids[:10]) + (f" and {len(ids) - 10} more" if len(ids) > 10 else "")

    undecided = [u for u in unmet if isinstance(u, Undecided)]
    if undecided:
        _say_undecided(undecided, out)
    unmet = [u for u in unmet if not isinstance(u, Undecided)]
    if unmet:
        out.write(f"simulate: {len(unmet)} ticket(s) decided without their comments, which the export does not"
                  f" carry (a customer's follow-up, a tier's reply, an agent's manual escalation and tierlift's"
                  f" earlier moves are not seen): {few(unmet)}; `tierlift export` writes them\n")
    if export.no_history:
        out.write(f"simulate: {len(export.no_history)} ticket(s) carry comments but no changelog (export with"
                  f" expand=changelog or `tierlift export`): a person's move and who applied a tag cannot be seen,"
                  f" the tier tags decide: {few(export.no_history)}\n")
    if export.kind != "tierlift" and export.me is None:
        why = "not found in the export" if told_me else "unknown (give --me or --config)"
        out.write(f"simulate: tierlift's own account is {why}: its public replies count as a tier's first"
                  " response here, which the daemon never does\n")
    later = [t for t in export.tickets if t.created_at > now]
    if later:
        last = max(t.created_at for t in export.tickets)
        out.write(f"simulate: --now {now:%Y-%m-%d %H:%M} UTC is before {len(later)} of {len(export.tickets)} tickets"
                  f" were created (the last at {last:%Y-%m-%d %H:%M} UTC): their SLA clocks have not started, so only"
                  f" what their tags and words ask now (a P0, a manual escalation, an outage) is decided on them,"
                  f" as the daemon does with a ticket dated ahead of its clock\n")


def ticket_order(ticket_id: str) -> tuple[str, int, str]:
    """Sort key: Jira keys by project then number, Zendesk ids by number."""
    head, _, tail = ticket_id.rpartition("-")
    return (head, int(tail), ticket_id) if tail.isdigit() else (ticket_id, 0, ticket_id)


def print_table(decisions: list[Decision], out: TextIO, *, changed_only: bool = False) -> None:
    shown = [d for d in decisions if d.has_actions or not changed_only]
    # Columns as wide as their longest value: a cut rule name ("update-missed-security-updat")
    # or ticket key named nothing a user could look up.
    tw = max([12, *(len(d.ticket_id) for d in shown)])
    rw = max([28, *(len(d.rule or "-") for d in shown)])
    # The decision's kind as `plan` says it: a refusal, a triage review or a ticket left alone
    # read as the rule having acted, or as an ordinary L1 ticket (QA).
    out.write(f"{'ticket':<{tw}} {'tier':<8} {'kind':<13} {'rule':<{rw}} {'wake-up':<17} actions\n")
    for d in shown:
        kind = "-" if d.kind == "none" else d.kind
        out.write(f"{d.ticket_id:<{tw}} {_tier_move(d):<8} {kind:<13} {d.rule or '-':<{rw}} {_wake(d):<17}"
                  f" {_actions(d)}\n")
    by_ticket = by_ticket_id(decisions)
    moved = sum(1 for ds in by_ticket.values() if ds[0].tier_before != ds[-1].tier_after)
    acted = sum(1 for ds in by_ticket.values() if ds[0].has_actions)
    out.write(f"\n{len(by_ticket)} tickets, {moved} change tier, {acted} with actions\n")


def _tier_move(d: Decision) -> str:
    return f"L{d.tier_before}" + (f"->L{d.tier_after}" if d.tier_after != d.tier_before else "")


def _wake(d: Decision) -> str:
    return d.wake_up.strftime("%Y-%m-%d %H:%M") if d.wake_up else "-"


def _actions(d: Decision) -> str:
    return ",".join(a.type for a in d.actions) or ("undecided (needs the ticket's history)" if d.needs_comments else "-")


def by_ticket_id(decisions: list[Decision]) -> dict[str, list[Decision]]:
    """A simulation's decisions by ticket, each ticket's in the order they were made."""
    out: dict[str, list[Decision]] = {}
    for d in decisions:
        out.setdefault(d.ticket_id, []).append(d)
    return out


def action_signature(a: Action) -> str:
    """What an action does, without its text: a note's body names the policy, so bodies always differ."""
    for name in ("team", "channel", "priority", "flag"):
        if hasattr(a, name):
            return f"{a.type}:{getattr(a, name)}"
    if isinstance(a, AddTags | RemoveTags):
        return f"{a.type}:{','.join(sorted(a.tags))}"
    return a.type


def _side(policy: Policy, ds: list[Decision]) -> dict[str, Any]:
    """What a policy does to one ticket in one cycle: its decisions taken together (an
    L1 -> L2 move and the L2 review that follows it are one treatment)."""
    acting = [d for d in ds if d.has_actions] or ds[:1]
    return {"policy": policy.name, "tier_before": ds[0].tier_before, "tier_after": ds[-1].tier_after,
            "rule": " then ".join(d.rule or "-" for d in acting) if len(acting) > 1 else acting[0].rule,
            "kind": " then ".join(d.kind for d in acting),
            "actions": sorted(action_signature(a) for d in ds for a in d.actions)}


def compare_decisions(a: Policy, b: Policy, da: list[Decision], db: list[Decision]) -> list[dict[str, Any]]:
    """The tickets the two policies treat differently: both sides, and which parts differ."""
    rows = []
    ta, tb = by_ticket_id(da), by_ticket_id(db)
    for ticket, xs in ta.items():
        ys = tb[ticket]
        sa, sb = _side(a, xs), _side(b, ys)
        differs = [k for k in ("tier_after", "rule", "kind", "actions") if sa[k] != sb[k]]
        if not sa["actions"] and not sb["actions"] and sa["tier_after"] == sb["tier_after"]:
            differs = []  # neither acts: a rule named in passing is no difference in treatment
        if differs:
            only_a = sorted(set(sa["actions"]) - set(sb["actions"]))
            only_b = sorted(set(sb["actions"]) - set(sa["actions"]))
            rows.append({"ticket": ticket, "differs": differs, "a": sa, "b": sb,
                         "actions_only_a": only_a, "actions_only_b": only_b})
    return rows


def _acting(da: list[Decision], db: list[Decision]) -> tuple[list[Decision], list[Decision]]:
    """The tickets where either policy would act (`--changed-only` with `--compare`)."""
    ta, tb = by_ticket_id(da), by_ticket_id(db)
    kept = {t for t in ta if ta[t][0].has_actions or tb[t][0].has_actions}
    return [d for d in da if d.ticket_id in kept], [d for d in db if d.ticket_id in kept]


def print_compare(a: Policy, b: Policy, da: list[Decision], db: list[Decision], out: TextIO, *,
                  as_json: bool = False, changed_only: bool = False) -> int:
    if changed_only:
        da, db = _acting(da, db)
    rows = compare_decisions(a, b, da, db)
    na, nb = compared_names(a, b)
    for row in rows:
        row["a"]["policy"], row["b"]["policy"] = na, nb
    if as_json:
        for row in rows:
            out.write(json.dumps(row, ensure_ascii=False) + "\n")
        out.write(json.dumps({"summary": True, "a": na, "b": nb, "tickets": len(by_ticket_id(da)),
                              "different": len(rows)}) + "\n")
        return len(rows)
    for r in rows:
        x, y = r["a"], r["b"]
        out.write(f"ticket {r['ticket']} ({', '.join(r['differs'])} differ):\n")
        for side, only in ((x, r["actions_only_a"]), (y, r["actions_only_b"])):
            extra = f"; only here: {', '.join(only)}" if only and x["actions"] and y["actions"] else ""
            out.write(f"  {side['policy']:<{max(12, len(na), len(nb))}} {_compared_tiers(side)} {side['kind']}"
                      f" ({side['rule'] or 'no rule'}): {', '.join(side['actions']) or 'no action'}{extra}\n")
    out.write(f"\n{len(rows)} of {len(by_ticket_id(da))} tickets treated differently by {na} and {nb}\n")
    return len(rows)


def compared_names(a: Policy, b: Policy, apart: tuple[str, str] | None = ("--policy", "--compare")) -> tuple[str, str]:
    """How the two sides are named: by their policies' names, or by their files where the names
    are the same (an edited copy of a pack keeps the pack's name: QA, a support lead, read "3 of
    4 tickets treated differently by three-tier and three-tier", each row "three-tier")."""
    if a.name != b.name:
        return a.name, b.name
    fa, fb = Path(a.source).name, Path(b.source).name
    if fa != fb:
        return f"{a.name} ({fa})", f"{b.name} ({fb})"
    return (f"{a.name} ({apart[0]})", f"{b.name} ({apart[1]})") if apart else (a.name, b.name)


def _compared_tiers(side: Mapping[str, Any]) -> str:
    """A side's tier move; a ticket left alone at a tier the policy lacks has none (QA, a new
    adopter: "two-tier L1->L1 unknown-tier" for a ticket tagged tier_l3)."""
    if side["kind"] == "unknown-tier":
        return "left alone (its tier tag names a tier this policy does not have):"
    return f"L{side['tier_before']}->L{side['tier_after']}"


def write_json_lines(decisions: list[Decision], out: TextIO = sys.stdout, *, changed_only: bool = False,
                     readings: Mapping[str, Verdict] | None = None) -> None:
    """One decision a line; with `readings` (the whole ticket's, by ticket), each carries what
    the triage model read (`triage`: which text, scores by category, the words and sentence
    that weighed most): the reading the decision was taken on where one decided it (the
    engine's `Decision.read`: a review after a dismissal reads only the words since), else
    the whole ticket's."""
    for d in decisions:
        if changed_only and not d.has_actions:
            continue
        row = decision_row(d)
        # Not decided for want of the ticket's history (Undecided): its empty actions and
        # wake-up are not "nothing due", and a program reading the lines must be able to tell.
        row["undecided"] = bool(d.needs_comments)
        whole = (readings or {}).get(d.ticket_id)
        read = d.read if isinstance(d.read, TriageRead) else TriageRead("whole ticket", whole) if whole else None
        if read is not None:
            v = read.verdict
            row["triage"] = {"read": read.text, "model": v.model, "scores": {k: round(x, 4) for k, x in v.scores.items()},
                             "words": {k: list(w) for k, w in v.words.items()}, "sentence": dict(v.sentence),
                             # a text of a few words: what was read before flattening (it asks, never acts)
                             **({"thin": {k: round(x, 4) for k, x in v.thin.items()}} if v.thin else {})}
        out.write(json.dumps(row, ensure_ascii=False) + "\n")


def triage_readings(policy: Policy, tickets: Iterable[Ticket],
                    classifier: Classifier | None = None) -> dict[str, Verdict]:
    """What the policy's classifier reads in each whole ticket, as the engine reads it (the
    ticket as a whole and each follow-up on its own: TicketView.verdict); empty: the policy
    reads no words. `classifier`: a helpdesk's own (its refit), else the policy's."""
    classifier = classifier or classifier_for(policy)
    if classifier is None:
        return {}
    return {t.id: v for t in tickets if (v := TicketView(t, None, classifier).verdict()) is not None}

