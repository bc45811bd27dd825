"""Escalation reports: the metrics both seeds ask teams to review monthly.

Computed from the journal and the ticket index only (no helpdesk calls):
- escalations by tier change, rule, category (the rule's criterion kind:
  sla, condition, manual, severity, routing), group (receiving team),
  assignee, and agent: who applied a manual escalation, as the journal
  records it (the decision's actor or the note's `escalated_by`), "unknown"
  where it does not (seed 000: "by tier, category, and agent");
- the escalated tickets, each with its link in the helpdesk;
- the escalation rate as a share of tickets seen, against the policy's
  target (seed 003: < 5%); a week without tickets has no rate ("no data"),
  never 0%;
- time from creation to escalation and from escalation to resolution;
- SLA compliance per tier and metric, measured from the ORIGINAL creation
  time (seed 000, pitfall 4), in the policy's business hours;
- de-escalations, frozen (ping-pong) tickets, refused manual escalations,
  quarantined tickets; L3 escalations awaiting their post-escalation review;
- the week-by-week trend of each.
Formats: a table for an 80-column terminal, JSON for dashboards, and one
self-contained HTML page with inline SVG charts (matplotlib).
"""

from __future__ import annotations

import functools
import importlib.util
import json
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from tierlift.engine.durations import format_elapsed, parse_duration, parse_instant
from tierlift.engine.policy import Policy
from tierlift.engine.serialize import ticket_from_dict
from tierlift.engine.sla import business_elapsed, paused_intervals
from tierlift.service.daemon.golive import FIRST_SYNC_DETAIL
from tierlift.service.tools.report_triage import render as render_triage
from tierlift.service.tools.report_triage import triage_reviews

MOVE_KINDS = ("escalate", "route")


@dataclass
class Report:
    helpdesk: str
    policy: str
    since: datetime
    until: datetime
    tickets_seen: int = 0
    escalated_tickets: int = 0
    escalations: int = 0
    rate: float | None = None  # None: no ticket in the window, "no data" (a 0.0% read as a good week)
    rate_target: float | None = None
    by_tier_change: dict[str, int] = field(default_factory=dict)
    by_rule: dict[str, int] = field(default_factory=dict)
    by_group: dict[str, int] = field(default_factory=dict)
    by_category: dict[str, int] = field(default_factory=dict)
    # The escalated tickets' assignee as the state last read them (not at the escalation: QA
    # read "when escalated" and saw the figure change after a later de-escalation).
    by_assignee: dict[str, int] = field(default_factory=dict)
    by_agent: dict[str, int] = field(default_factory=dict)  # who applied manual escalations ("unknown" if unrecorded)
    escalated: list[dict[str, Any]] = field(default_factory=list)  # ticket, move, rule, category, at, url
    time_to_escalate: dict[str, float | None] = field(default_factory=dict)  # seconds: median, p90
    escalation_to_resolution: dict[str, float | None] = field(default_factory=dict)
    sla: dict[str, dict[str, dict[str, float | int | None]]] = field(default_factory=dict)
    sla_target: float | None = None
    csat_target: float | None = None  # the policy's csat_escalated: stated, not measured (see render_table)
    de_escalations: int = 0
    frozen: int = 0
    refused: int = 0
    human_moves: int = 0  # moves people made that tierlift recorded (no escalation of its own)
    by_mover: dict[str, int] = field(default_factory=dict)  # who made them
    quarantined: int = 0
    dry_run_decisions: int = 0
    dry_run: bool = False  # the entry writes nothing: its figures above are not its own decisions
    beside_live: bool = False  # a dry run with a live entry beside it (`report --shadow` compares them)
    reviews_pending: list[dict[str, Any]] = field(default_factory=list)
    reviews_overdue: list[dict[str, Any]] = field(default_factory=list)
    weekly: list[dict[str, Any]] = field(default_factory=list)
    triage_reviews: dict[str, dict[str, int]] = field(default_factory=dict)  # category -> asked, confirmed ...

    def to_dict(self) -> dict[str, Any]:
        d = dict(self.__dict__)
        d["since"] = self.since.isoformat()
        d["until"] = self.until.isoformat()
        return d


def _pct(values: list[float], q: float) -> float | None:
    if not values:
        return None
    values = sorted(values)
    k = (len(values) - 1) * q
    lo, hi = int(k), min(int(k) + 1, len(values) - 1)
    return values[lo] + (values[hi] - values[lo]) * (k - lo)


def _week(dt: datetime) -> str:
    y, w, _ = dt.isocalendar()
    return f"{y}-W{w:02d}"


UNKNOWN_AGENT = "unknown"


def categories(policy: Policy) -> dict[str, str]:
    """Rule name -> its criterion kind (sla, condition, manual, severity, routing)."""
    out = {r.name: "routing" for r in policy.routing}
    for rule in [*policy.rules, *(r for t in policy.tiers.values() for r in t.rules)]:
        out.setdefault(rule.name, rule.kind)
    return out


def actor_of(intent) -> str:
    """Who applied a manual escalation, as the journal recorded it; "unknown" until it does.

    Read from the intent's own actor (when the store records one), the decision's
    `actor`, or the note's `escalated_by` line when it names a person, not tierlift.
    """
    actor = getattr(intent, "actor", None)
    if actor:
        return str(actor)
    try:
        decision = json.loads(intent.decision or "{}")
    except ValueError:
        return UNKNOWN_AGENT
    if decision.get("actor"):
        return str(decision["actor"])
    for action in decision.get("actions", []):
        for line in str(action.get("body", "")).splitlines() if action.get("type") == "internal_note" else ():
            if line.strip().startswith("escalated_by:"):
                raw = line.split(":", 1)[1].strip()
                try:
                    who = str(json.loads(raw))
                except ValueError:
                    who = raw
                return who if who and not who.startswith("tierlift") else UNKNOWN_AGENT
    return UNKNOWN_AGENT


def build_report(store, helpdesk: str, policy: Policy, *, since: datetime, until: datetime,
                 link: Callable[[str], str] | None = None, dry_run: bool = False,
                 team_of: Mapping[str, str] | None = None) -> Report:
    """`team_of`: an assignee (a Jira account id) -> the configuration's team it stands for."""
    rep = Report(helpdesk, policy.name, since, until, rate_target=policy.targets.get("escalation_rate"),
                 sla_target=policy.targets.get("sla_compliance"), csat_target=policy.targets.get("csat_escalated"),
                 dry_run=dry_run)
    entries = {e.ticket_id: e for e in store.entries(helpdesk)}
    real = [i for i in store.intents(helpdesk, since=since) if i.created_at <= until and i.status == "done"]
    rep.dry_run_decisions = sum(1 for i in store.plans(helpdesk, since=since) if i.created_at <= until)
    seen = _seen(entries, real, since, until)
    rep.tickets_seen = len(seen)
    _breakdowns(rep, [i for i in real if _is_escalation(i)],
                categories(policy), link, entries, team_of)
    _other_outcomes(rep, real)
    rep.quarantined = len(store.quarantined(helpdesk))
    rep.sla = _sla(policy, [entries[t] for t in seen if t in entries], until)
    # A review flagged before the window can fall due in it (QA: "--since 7d" said 0 overdue
    # with two reviews due inside the week): every review the journal keeps is read.
    flagged = [i for i in store.intents(helpdesk) if i.kind == "review" and i.created_at <= until and i.status == "done"]
    _reviews(rep, policy, flagged, entries, until)
    rep.weekly = _weekly(seen, entries, real, since, until)
    rep.triage_reviews = triage_reviews(policy, real, entries)
    return rep


def _seen(entries: dict, real: list, since: datetime, until: datetime) -> set[str]:
    """The tickets of the period: indexed ones that existed by `until` and were touched since
    `since`, and every one tierlift acted on in it. A ticket created after a closed window was
    counted in it (QA: "0 of 200 tickets seen" for a week before most of them existed)."""
    seen = {tid for tid, e in entries.items()
            if e.created_at <= until and (e.updated_at >= since or e.created_at >= since)}
    return seen | {i.ticket_id for i in real}


def _breakdowns(rep: Report, moves: list, kinds: dict[str, str], link: Callable[[str], str] | None,
                entries: dict, team_of: Mapping[str, str] | None) -> None:
    """How many escalations, and split by tier change, rule, team, criterion kind and (manual) agent."""
    rep.escalations = len(moves)
    rep.escalated_tickets = len({i.ticket_id for i in moves})
    rep.rate = rep.escalated_tickets / rep.tickets_seen if rep.tickets_seen else None
    rep.by_tier_change = dict(Counter(f"L{i.tier_before}->L{i.tier_after}" for i in moves).most_common())
    rep.by_rule = dict(Counter(i.rule or "-" for i in moves).most_common())
    rep.by_group = dict(Counter(i.team or "-" for i in moves).most_common())
    rep.by_category = dict(Counter(kinds.get(i.rule, "other") for i in moves).most_common())
    # A manual escalation's agent, and the agent who confirmed a triage review (the note's
    # escalated_by names them; QA: such escalations were left out of this count).
    asked = [(i, actor_of(i)) for i in moves]
    rep.by_agent = dict(Counter(who for i, who in asked if kinds.get(i.rule) == "manual"
                                or who != UNKNOWN_AGENT).most_common(10))
    rep.escalated = [{"ticket": i.ticket_id, "move": f"L{i.tier_before}->L{i.tier_after}", "rule": i.rule,
                      "category": kinds.get(i.rule, "other"), "at": i.created_at.isoformat(),
                      "url": link(i.ticket_id) if link else None}
                     for i in sorted(moves, key=lambda i: i.created_at)]
    _timings(rep, moves, entries, team_of)


def _timings(rep: Report, moves: list, entries: dict, team_of: Mapping[str, str] | None) -> None:
    """Assignees of the escalated tickets, creation -> escalation and escalation -> resolution."""
    assignees: Counter[str] = Counter()
    to_escalate: list[float] = []
    to_resolve: list[float] = []
    counted: set[str] = set()
    backlog = 0
    for i in moves:
        e = entries.get(i.ticket_id)
        if i.ticket_id not in counted:  # tickets, not escalations (QA: 27 for a team holding 5)
            counted.add(i.ticket_id)
            snap = json.loads(e.snapshot) if e else {}
            # QA (a support-ops lead): a Jira team read "acc-engineering-oncall", its account id.
            who = snap.get("assignee") or "(unassigned)"
            team = (team_of or {}).get(who)
            assignees[f"{team} ({who})" if team else who] += 1
        if e and (i.detail or "").startswith(FIRST_SYNC_DETAIL):
            backlog += 1  # QA: the backlog's age read as tierlift's "time to escalate" (2 days 6 hours)
        elif e:
            to_escalate.append((i.created_at - e.created_at).total_seconds())
            if e.solved_at and e.solved_at >= i.created_at:
                to_resolve.append((e.solved_at - i.created_at).total_seconds())
    rep.by_assignee = dict(assignees.most_common(10))
    rep.time_to_escalate = {"median": _pct(to_escalate, 0.5), "p90": _pct(to_escalate, 0.9), "n": len(to_escalate),
                            "first_sync_left_out": backlog}
    rep.escalation_to_resolution = {"median": _pct(to_resolve, 0.5), "p90": _pct(to_resolve, 0.9), "n": len(to_resolve)}


def _other_outcomes(rep: Report, real: list) -> None:
    rep.de_escalations = sum(1 for i in real if i.kind == "de-escalate")
    rep.frozen = len({i.ticket_id for i in real if i.kind == "frozen"})
    rep.refused = len({i.ticket_id for i in real if i.kind == "refused"})
    # QA (reports): an agent's move to another tier's team was in history and /metrics, not here
    # ("track escalation rates by tier, category, and agent", seed 000).
    moved = [i for i in real if i.kind == "human-move"]
    rep.human_moves = len(moved)
    rep.by_mover = dict(Counter(actor_of(i) for i in moved).most_common())


def _sla(policy: Policy, entries: Iterable, until: datetime) -> dict:
    """Met / breached / pending, from creation: the ticket's first reply against the first
    tier's target (a row of L1's: it once stood in the row of the tier the ticket is at now,
    so "L2 first_response" read as L2's own clock while it measured L1's), and the
    resolution against the target of the tier the ticket is at now (its row)."""
    out: dict[str, dict[str, dict[str, float | int | None]]] = {}
    counts: dict[tuple[int, str], Counter[str]] = defaultdict(Counter)
    first = policy.tiers[1]
    for e in entries:
        try:
            t = ticket_from_dict(json.loads(e.snapshot))
        except (ValueError, KeyError, TypeError):
            continue
        tier = policy.tiers.get(e.tier) or first
        plan = t.organization.plan if t.organization else None
        pauses = paused_intervals(t, policy.pause_statuses, until)
        targets = ((first, "first_response", first.first_response.for_ticket(plan, None), t.first_reply_at),
                   (tier, "resolution", tier.resolution.for_ticket(plan, None), t.solved_at if t.is_closed else None))
        for row, metric, target, stop in targets:
            if target:
                used_by = _outcome(policy.calendar_for(row), t.created_at, stop, until, pauses)
                counts[(row.level, metric)][used_by(target)] += 1
    counts[(1, "first_response")]
    for level in policy.tiers:  # every tier has its resolution row, "no data" where no ticket is at it
        counts[(level, "resolution")]
    for (level, metric), c in sorted(counts.items()):
        decided = c["met"] + c["breached"]
        out.setdefault(f"L{level}", {})[metric] = {
            "met": c["met"], "breached": c["breached"], "pending": c["pending"],
            "compliance": c["met"] / decided if decided else None,
        }
    return out


def _outcome(cal: Any, created: datetime, stop: datetime | None, until: datetime,
             pauses: Any) -> Callable[[timedelta], str]:
    """Met, breached or pending against a target, as the window's end sees it: a stop after
    the window is pending in it."""
    stop = stop if stop is not None and stop <= until else None
    used = business_elapsed(cal, created, stop or until, pauses)
    return lambda target: "breached" if used > target else "met" if stop is not None else "pending"


def _reviews(rep: Report, policy: Policy, real, entries, until: datetime) -> None:
    if policy.review is None:
        return
    latest = {i.ticket_id: i for i in sorted(real, key=lambda i: i.created_at) if i.kind == "review"}
    for i in latest.values():  # one row a ticket (a review flagged twice was listed twice)
        e = entries.get(i.ticket_id)
        solved = (e.solved_at if e else None) or i.created_at
        deadline = solved + policy.review.within
        tags = set(json.loads(e.snapshot).get("tags", [])) if e else set()
        if e and policy.review.tag not in tags:
            continue  # reviewed: someone removed the tag
        row = {"ticket": i.ticket_id, "tier": i.tier_before, "deadline": deadline.isoformat()}
        (rep.reviews_overdue if deadline < until else rep.reviews_pending).append(row)


def _weekly(seen, entries, real, since, until) -> list[dict[str, Any]]:
    """Week by week, with the card's one definition of the escalation rate: of the tickets
    seen (each in the week it came in, or the period's first week), the share escalated at
    least once. `escalations` counts the moves made in the week, de-escalations apart."""
    weeks: dict[str, Counter[str]] = defaultdict(Counter)
    week = since
    while week <= until:
        weeks[_week(week)]  # every week appears, even an empty one
        week += timedelta(days=7)
    weeks[_week(until)]
    first_act: dict[str, datetime] = {}
    escalated: set[str] = set()
    for i in real:
        first_act[i.ticket_id] = min(first_act.get(i.ticket_id, i.created_at), i.created_at)
        if _is_escalation(i):
            escalated.add(i.ticket_id)
    for tid in seen:
        e = entries.get(tid)
        w = weeks[_week(max(e.created_at, since) if e else first_act[tid])]
        w["tickets"] += 1
        w["escalated"] += tid in escalated
    for i in real:
        w = weeks[_week(i.created_at)]
        if _is_escalation(i):
            w["escalations"] += 1
        elif i.kind == "de-escalate":
            w["de_escalations"] += 1
        elif i.kind == "frozen":
            w["frozen"] += 1
        elif i.kind == "refused":
            w["refused"] += 1
    rows = []
    for week in sorted(weeks):
        c = weeks[week]
        rows.append({"week": week, "tickets": c["tickets"], "escalated": c["escalated"],
                     "rate": c["escalated"] / c["tickets"] if c["tickets"] else None,
                     "escalations": c["escalations"], "de_escalations": c["de_escalations"],
                     "frozen": c["frozen"], "refused": c["refused"]})
    return rows


def _is_escalation(i) -> bool:
    return i.kind in MOVE_KINDS and i.tier_after > i.tier_before


# --- rendering ---------------------------------------------------------------------


def _d(seconds: float | None) -> str:
    # Creation to escalation is wall-clock time, in calendar words (`1 day 9 hours`).
    return format_elapsed(timedelta(seconds=seconds)) if seconds is not None else "-"


def _p(x: float | None) -> str:
    return f"{x * 100:.1f}%" if x is not None else "-"


def escalations_of(rep: Report) -> str:
    """`48 escalations of 26 tickets`: moves up, and the tickets they moved (one may climb twice)."""
    return f"{rep.escalations} escalation{'s' if rep.escalations != 1 else ''} of {rep.escalated_tickets}" \
        f" ticket{'s' if rep.escalated_tickets != 1 else ''}"


def _rate(x: float | None) -> str:
    return _p(x) if x is not None else "no data"  # a week without tickets has no rate


def _csat(rep: Report) -> list[str]:
    """The policy's satisfaction target, said to be unmeasured: tierlift reads no satisfaction
    ratings, and a target the report drew nothing for would read as met."""
    if rep.csat_target is None:
        return []
    return ["", f"customer satisfaction of escalated tickets (target > {_p(rep.csat_target)}): not measured by"
                " tierlift;", "  the helpdesk's own satisfaction ratings of the escalated tickets tell it"]


def _rate_lines(rep: Report, target: str) -> list[str]:
    """The escalation rate; a dry run's is not measured: it writes nothing, and its card read
    "0 escalations, rate 0.0%" beside the live entry's (QA, a new adopter)."""
    if rep.dry_run and rep.beside_live:
        return [f"escalation rate not measured: a dry run writes nothing ({rep.dry_run_decisions} decisions planned in"
                f" the period; `tierlift report --shadow {rep.helpdesk}` compares them with the live entry)"]
    if rep.dry_run:  # QA (going live): the hint named `report --shadow`, which has no live entry to compare with here
        return [f"escalation rate not measured: a dry run writes nothing ({rep.dry_run_decisions} decisions planned in"
                " the period; `tierlift status` counts them and `tierlift history TICKET` shows each; `report"
                " --shadow` compares a dry-run entry with a live entry beside it on the same helpdesk)"]
    return [f"escalation rate {_rate(rep.rate)}{target}: {rep.escalated_tickets} of {rep.tickets_seen}"
            " tickets seen were escalated"]


def render_table(rep: Report) -> str:
    w = []
    w.append(f"tierlift report: {rep.helpdesk} (policy {rep.policy})")
    w.append(f"{rep.since:%Y-%m-%d} to {rep.until:%Y-%m-%d}".ljust(40))
    w.append("=" * 78)
    target = f" (target < {_p(rep.rate_target)})" if rep.rate_target is not None else ""
    w.append(f"tickets seen {rep.tickets_seen}   {escalations_of(rep)}")
    w += _rate_lines(rep, target)
    w.append(f"time to escalate     median {_d(rep.time_to_escalate.get('median')):>18}   p90 {_d(rep.time_to_escalate.get('p90')):>18}")
    w.append(f"escalation->resolved median {_d(rep.escalation_to_resolution.get('median')):>18}   p90 {_d(rep.escalation_to_resolution.get('p90')):>18}")
    w.append("  (per escalation, wall clock: the ticket's creation to each move up,")
    w.append("   and each move up to the ticket's solve)")
    w += _backlog_lines(rep)
    w.append(f"de-escalations {rep.de_escalations}   frozen {rep.frozen}   refused (no context) {rep.refused}"
             f"   quarantined {rep.quarantined}")
    w.append(f"moves by people {rep.human_moves} (to another tier's team: recorded, not escalations)")
    for title, data in (("by tier change", rep.by_tier_change), ("by rule", rep.by_rule),
                        ("by category (criterion kind)", rep.by_category), ("by group", rep.by_group),
                        ("by agent (who applied manual escalations or confirmed a review)", rep.by_agent),
                        ("by the escalated tickets' assignee now", rep.by_assignee),
                        ("moves by people, by who made them", rep.by_mover)):
        w.append("")
        w.append(title)
        if not data:
            w.append("  (none)")
        for k, v in list(data.items())[:10]:
            w.append(f"  {k[:60]:<60} {v:>8}")
        if len(data) > 10:  # the table kept ten and said nothing: its sums disagreed with JSON (QA)
            rest = list(data.values())[10:]
            w.append(f"  {f'... and {len(rest)} more (--format json lists them)':<60} {sum(rest):>8}")
    w.append("")
    target = f" (target > {_p(rep.sla_target)})" if rep.sla_target is not None else ""
    w.append(f"SLA compliance from creation{target}")
    w.append("  (first_response: the ticket's first reply, against L1's target; resolution:")
    w.append("  against the target of the tier the ticket is at now)")
    w.append(f"  {'tier':<6}{'metric':<16}{'met':>8}{'breached':>10}{'pending':>9}{'compliance':>12}")
    for tier, metrics in rep.sla.items():
        for metric, c in metrics.items():
            w.append(f"  {tier:<6}{metric:<16}{c['met']:>8}{c['breached']:>10}{c['pending']:>9}{_rate(c['compliance']):>12}")
    w += _csat(rep)
    w.append("")
    w.append(f"post-escalation reviews: {len(rep.reviews_pending)} pending, {len(rep.reviews_overdue)} overdue")
    for r in rep.reviews_overdue[:10]:
        w.append(f"  overdue: ticket {r['ticket']} (L{r['tier']}), due {r['deadline'][:16]}")
    w += _weekly_rows(rep)
    w.append("")
    w.append(f"escalated tickets ({len(rep.escalated)})")
    for r in rep.escalated[:50]:
        w.append(f"  {r['at'][:16].replace('T', ' ')}  {r['ticket']:<12} {r['move']:<7} {r['rule'][:24]:<24} {r['category']}")
        if r["url"]:
            w.append(f"    {r['url']}")
    if len(rep.escalated) > 50:
        w.append(f"  ... and {len(rep.escalated) - 50} more (--format json lists them all)")
    w.extend(render_triage(rep.triage_reviews))
    if rep.dry_run_decisions:
        w.append("")
        w.append(f"(dry-run decisions in the period, not counted above: {rep.dry_run_decisions})")
    return "\n".join(line.rstrip() for line in w) + "\n"


def _backlog_lines(rep: Report) -> list[str]:
    n = rep.time_to_escalate.get("first_sync_left_out")
    return [f"  ({n} escalation(s) of a quiet first sync left out:",
            "   their creation to the move is the backlog's age, not tierlift's)"] if n else []


def _weekly_rows(rep: Report) -> list[str]:
    w = ["", "week-by-week", "  (rate: share of the week's tickets escalated; escalations: moves up)",
         f"  {'week':<10}{'tickets':>8}{'escalated':>10}{'rate':>9}{'escalations':>12}{'de-esc':>8}{'frozen':>7}"
         f"{'refused':>8}"]
    for r in rep.weekly:
        w.append(f"  {r['week']:<10}{r['tickets']:>8}{r['escalated']:>10}{_rate(r['rate']):>9}{r['escalations']:>12}"
                 f"{r['de_escalations']:>8}{r['frozen']:>7}{r['refused']:>8}")
    return w


def render_html(*reports: Report) -> str:
    """One self-contained page (inline SVG charts, no script, no link) for one or more helpdesks."""
    from tierlift.service.tools.report_html import render_page

    return render_page(*reports)


def _until(text: str | None, start: datetime, now: datetime) -> datetime:
    """The report's end: now, or `--until` (a duration ago, or an ISO date or instant)."""
    from tierlift.engine.yamlsrc import InvalidFile, Problem

    if text is None:
        return now
    try:
        end = parse_since(text, now)
    except ValueError:
        raise InvalidFile([Problem("--until", None, "", f"expected a duration such as 7d or an ISO date, got {text!r}")]) from None
    if end > now or end <= start:
        raise InvalidFile([Problem("--until", None, "", f"{text!r} is not between the report's start"
                                   f" ({start.astimezone(UTC):%Y-%m-%d %H:%M} UTC) and now"
                                   f" ({now.astimezone(UTC):%Y-%m-%d %H:%M} UTC)")])
    return end


def parse_since(text: str, now: datetime) -> datetime:
    try:
        return now - parse_duration(text)
    except ValueError:
        return parse_instant(text)


def report_command(config_path: Path, *, helpdesk: str | None, since: str, fmt: str, out: str | None,
                   now: datetime | None = None, shadow: str | None = None, until: str | None = None) -> int:
    import sys

    from tierlift.engine.yamlsrc import InvalidFile, Problem
    from tierlift.service.daemon.config import load_config
    from tierlift.service.daemon.dryrun import live_siblings
    from tierlift.service.daemon.state import describe, open_store, state_exists
    from tierlift.service.ops.links import ticket_url

    cfg = load_config(config_path, read_secrets=False)  # the state only: no helpdesk is asked
    if now is None:  # the daemon's clock: the sandbox's under `clock: {follow: URL}`
        from tierlift.service.tools.clock import tool_now

        now = tool_now(cfg)
    try:
        start = parse_since(since, now)
    except ValueError:
        raise InvalidFile([Problem("--since", None, "", f"expected a duration such as 30d or an ISO date, got {since!r}")]) from None
    if start > now:  # it printed "2999-01-01 to 2026-11-02" and an empty report, exit 0
        raise InvalidFile([Problem("--since", None, "", f"{since!r} is after the report's end, now"
                                   f" ({now.astimezone(UTC):%Y-%m-%d %H:%M} UTC)")])
    now = _until(until, start, now)  # a closed week (QA: no --until, every window ended now)
    selected = [h for h in cfg.helpdesks if helpdesk in (None, h.name)]
    if not selected:
        raise InvalidFile([Problem(str(config_path), None, "", f"no helpdesk named {helpdesk!r}")])
    _say_pruned(cfg.journal_retention, start, now)
    _charts_drawable(fmt, shadow)
    pair = _shadow_pair(cfg, shadow, helpdesk) if shadow is not None else None  # arguments before the state
    if not state_exists(cfg):
        print(f"no state at {describe(cfg)}: the daemon has not run yet", file=sys.stderr)
        return 1
    if pair is not None:
        return _shadow_command(cfg, pair[0], pair[1], start, now, fmt, out)
    store = open_store(cfg, migrate=False)
    try:
        reports = [replace(build_report(store, h.name, h.policy, since=start, until=now, dry_run=h.dry_run,
                                        link=functools.partial(ticket_url, h.kind, h.url),
                                        team_of=_teams_by_account(h)),
                           beside_live=bool(live_siblings(cfg.helpdesks, h))) for h in selected]
    finally:
        store.close()
    if fmt == "json":
        text = json.dumps([r.to_dict() for r in reports], indent=2, default=str) + "\n"
    elif fmt == "html":
        text = render_html(*reports)
    else:
        text = "\n".join(render_table(r) for r in reports)
    _emit(text, out)
    return 0


def _teams_by_account(hd: Any) -> dict[str, str]:
    """The configuration's teams by the assignee (a Jira account id) each assigns to."""
    return {t.assignee: team for team, t in hd.teams.items() if t.assignee}


def _say_pruned(retention: timedelta, start: datetime, now: datetime) -> None:
    """On stderr, when the report starts before what the journal keeps: the figures before it
    would read as "not escalated", silently."""
    import sys

    from tierlift.engine.durations import format_span

    kept = now - retention
    if start < kept:
        print(f"report: the journal keeps {format_span(retention)} (journal_retention): escalations before"
              f" {kept.astimezone(UTC):%Y-%m-%d} were pruned, so a ticket escalated before then counts as not"
              " escalated", file=sys.stderr)


def _emit(text: str, out: str | None) -> None:
    import sys

    if out:
        Path(out).write_text(text, encoding="utf-8")
        print(f"report written to {out}", file=sys.stderr)
    else:
        sys.stdout.write(text)


def _shadow_pair(cfg, shadow: str, live: str | None) -> tuple[Any, Any]:
    """(shadow, live) entries for `report --shadow NAME [--helpdesk LIVE]`: NAME a dry_run
    entry, LIVE (given, else the only one) a live entry on the same helpdesk url. Unchecked,
    `--shadow live --helpdesk shadow` printed a comparison built backwards, an entry was
    compared with itself, and `--shadow live` alone said "0 live entries share its url"."""
    from tierlift.engine.yamlsrc import InvalidFile, Problem

    by_name = {h.name: h for h in cfg.helpdesks}
    dry = ", ".join(h.name for h in cfg.helpdesks if h.dry_run) or "none"
    sh = by_name.get(shadow)
    if sh is None or not sh.dry_run:
        what = f"no helpdesk named {shadow!r}" if sh is None else f"{shadow!r} is a live entry, not a dry_run one"
        raise InvalidFile([Problem("--shadow", None, "", f"{what} (the dry_run entries: {dry})")])
    return sh, _live_twin(cfg, sh, by_name[live] if live is not None else None, dry)


def _live_twin(cfg, sh, lv, dry: str):
    """The live entry on the shadow's url: `lv` (--helpdesk) checked, else the only one."""
    from tierlift.engine.yamlsrc import InvalidFile, Problem

    twins = [h for h in cfg.helpdesks if h.url == sh.url and not h.dry_run]  # one at most: the config sees to it
    if lv is None and not twins:
        raise InvalidFile([Problem("--shadow", None, "", f"no live entry shares the url of {sh.name!r} ({sh.url}):"
                                   " nothing to compare it with")])
    if lv is None:
        return twins[0]
    if lv.name not in {h.name for h in twins}:
        why = "a dry_run entry too" if lv.dry_run else f"on another helpdesk ({lv.url}, not {sh.url})"
        raise InvalidFile([Problem("--helpdesk", None, "", f"{lv.name!r} is {why}: --shadow {sh.name} is compared"
                                   f" with a live entry on its url (the dry_run entries: {dry})")])
    return lv


def _charts_drawable(fmt: str, shadow: str | None) -> None:
    """The HTML report's charts need matplotlib (the `report` extra): it ended in
    "ModuleNotFoundError: No module named 'matplotlib'" (QA, a new adopter)."""
    from tierlift.engine.yamlsrc import InvalidFile, Problem

    if fmt == "html" and shadow is None and importlib.util.find_spec("matplotlib") is None:
        raise InvalidFile([Problem("--format", None, "", "the HTML report draws its charts with matplotlib, which is"
                                   " not installed: install tierlift with its report extra (from the checkout:"
                                   " .venv/bin/pip install '.[report]'), or use --format table or json")])


def _shadow_command(cfg, sh, lv, start: datetime, now: datetime, fmt: str, out: str | None) -> int:
    """`report --shadow NAME`: the dry-run helpdesk NAME against its live twin."""
    from tierlift.engine.yamlsrc import InvalidFile, Problem
    from tierlift.service.daemon.state import open_store
    from tierlift.service.tools import shadow as shadow_mod
    from tierlift.service.tools.policytools import compared_names

    if fmt == "html":
        raise InvalidFile([Problem("--format", None, "", "the shadow comparison is a table or JSON")])
    store = open_store(cfg, migrate=False)
    try:
        # By file where the names are the same (an edited copy of a pack keeps the pack's name:
        # "policy three-tier" for three-tier-edit.yaml, QA going live).
        live_named, shadow_named = compared_names(lv.policy, sh.policy, apart=None)
        c = shadow_mod.compare(store, lv.name, sh.name, live_policy=live_named, shadow_policy=shadow_named,
                               since=start, until=now)
    finally:
        store.close()
    _emit(json.dumps(c.to_dict(), indent=2) + "\n" if fmt == "json" else shadow_mod.render(c), out)
    return 0
