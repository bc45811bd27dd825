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
import html
import io
import json
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from tierlift.engine.durations import format_span, parse_duration
from tierlift.engine.policy import Policy
from tierlift.engine.serialize import ticket_from_dict
from tierlift.engine.sla import business_elapsed, paused_intervals

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
    rate: float = 0.0
    rate_target: float | None = None
    by_tier_change: dict[str, int] = field(default_factory=dict)
    by_rule: dict[str, int] = field(default_factory=dict)
    by_group: dict[str, int] = field(default_factory=dict)
    by_category: dict[str, int] = field(default_factory=dict)
    by_assignee: dict[str, int] = field(default_factory=dict)  # the ticket's assignee when it was escalated
    by_agent: dict[str, int] = field(default_factory=dict)  # who applied manual escalations ("unknown" if unrecorded)
    escalated: list[dict[str, Any]] = field(default_factory=list)  # ticket, move, rule, category, at, url
    time_to_escalate: dict[str, float | None] = field(default_factory=dict)  # seconds: median, p90
    escalation_to_resolution: dict[str, float | None] = field(default_factory=dict)
    sla: dict[str, dict[str, dict[str, float | int | None]]] = field(default_factory=dict)
    sla_target: float | None = None
    de_escalations: int = 0
    frozen: int = 0
    refused: int = 0
    quarantined: int = 0
    dry_run_decisions: int = 0
    reviews_pending: list[dict[str, Any]] = field(default_factory=list)
    reviews_overdue: list[dict[str, Any]] = field(default_factory=list)
    weekly: list[dict[str, Any]] = field(default_factory=list)

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
                 link: Callable[[str], str] | None = None) -> Report:
    rep = Report(helpdesk, policy.name, since, until, rate_target=policy.targets.get("escalation_rate"),
                 sla_target=policy.targets.get("sla_compliance"))
    entries = {e.ticket_id: e for e in store.entries(helpdesk)}
    seen = {tid for tid, e in entries.items() if e.updated_at >= since or e.created_at >= since}
    intents = [i for i in store.intents(helpdesk, since=since) if i.created_at <= until]
    real = [i for i in intents if not i.dry_run and i.status == "done"]
    rep.dry_run_decisions = sum(1 for i in intents if i.dry_run)
    moves = [i for i in real if i.kind in MOVE_KINDS and i.tier_after > i.tier_before]
    seen |= {i.ticket_id for i in real}
    rep.tickets_seen = len(seen)
    rep.escalations = len(moves)
    rep.escalated_tickets = len({i.ticket_id for i in moves})
    rep.rate = rep.escalated_tickets / rep.tickets_seen if rep.tickets_seen else 0.0
    rep.by_tier_change = dict(Counter(f"L{i.tier_before}->L{i.tier_after}" for i in moves).most_common())
    rep.by_rule = dict(Counter(i.rule or "-" for i in moves).most_common())
    rep.by_group = dict(Counter(i.team or "-" for i in moves).most_common())
    kinds = categories(policy)
    rep.by_category = dict(Counter(kinds.get(i.rule, "other") for i in moves).most_common())
    rep.by_agent = dict(Counter(actor_of(i) for i in moves if kinds.get(i.rule) == "manual").most_common(10))
    rep.escalated = [{"ticket": i.ticket_id, "move": f"L{i.tier_before}->L{i.tier_after}", "rule": i.rule,
                      "category": kinds.get(i.rule, "other"), "at": i.created_at.isoformat(),
                      "url": link(i.ticket_id) if link else None}
                     for i in sorted(moves, key=lambda i: i.created_at)]
    assignees: Counter[str] = Counter()
    to_escalate, to_resolve = [], []
    for i in moves:
        e = entries.get(i.ticket_id)
        snap = json.loads(e.snapshot) if e else {}
        assignees[snap.get("assignee") or "(unassigned)"] += 1
        if e:
            to_escalate.append((i.created_at - e.created_at).total_seconds())
            if e.solved_at and e.solved_at >= i.created_at:
                to_resolve.append((e.solved_at - i.created_at).total_seconds())
    rep.by_assignee = dict(assignees.most_common(10))
    rep.time_to_escalate = {"median": _pct(to_escalate, 0.5), "p90": _pct(to_escalate, 0.9), "n": len(to_escalate)}
    rep.escalation_to_resolution = {"median": _pct(to_resolve, 0.5), "p90": _pct(to_resolve, 0.9), "n": len(to_resolve)}
    rep.de_escalations = sum(1 for i in real if i.kind == "de-escalate")
    rep.frozen = len({i.ticket_id for i in real if i.kind == "frozen"})
    rep.refused = len({i.ticket_id for i in real if i.kind == "refused"})
    rep.quarantined = len(store.quarantined(helpdesk))
    rep.sla = _sla(policy, [entries[t] for t in seen if t in entries], until)
    _reviews(rep, policy, real, entries, until)
    rep.weekly = _weekly(seen, entries, real, since, until)
    return rep


def _sla(policy: Policy, entries: Iterable, until: datetime) -> dict:
    """Per tier (where the ticket is now) and metric: met / breached / pending, from creation."""
    out: dict[str, dict[str, dict[str, float | int | None]]] = {}
    counts: dict[tuple[int, str], Counter[str]] = defaultdict(Counter)
    for e in entries:
        try:
            t = ticket_from_dict(json.loads(e.snapshot))
        except (ValueError, KeyError, TypeError):
            continue
        tier = policy.tiers.get(e.tier) or policy.tiers[1]
        start_tier = policy.tiers[1]
        cal = policy.calendar_for(start_tier)
        plan = t.organization.plan if t.organization else None
        pauses = paused_intervals(t, policy.pause_statuses, until)
        targets = (("first_response", start_tier.first_response.for_ticket(plan, None), t.first_reply_at),
                   ("resolution", tier.resolution.for_ticket(plan, None), t.solved_at if t.is_closed else None))
        for metric, target, stop in targets:
            if not target:
                continue
            used = business_elapsed(cal, t.created_at, stop or until, pauses)
            if used > target:
                outcome = "breached"
            elif stop is not None:
                outcome = "met"
            else:
                outcome = "pending"
            counts[(e.tier, metric)][outcome] += 1
    for (tier, metric), c in sorted(counts.items()):
        decided = c["met"] + c["breached"]
        out.setdefault(f"L{tier}", {})[metric] = {
            "met": c["met"], "breached": c["breached"], "pending": c["pending"],
            "compliance": c["met"] / decided if decided else None,
        }
    return out


def _reviews(rep: Report, policy: Policy, real, entries, until: datetime) -> None:
    if policy.review is None:
        return
    for i in real:
        if i.kind != "review":
            continue
        e = entries.get(i.ticket_id)
        solved = (e.solved_at if e else None) or i.created_at
        deadline = solved + policy.review.within
        tags = set(json.loads(e.snapshot).get("tags", [])) if e else set()
        if e and policy.review.tag not in tags:
            continue  # reviewed: someone removed the tag
        row = {"ticket": i.ticket_id, "tier": i.tier_before, "deadline": deadline.isoformat()}
        (rep.reviews_overdue if deadline < until else rep.reviews_pending).append(row)


def _weekly(seen, entries, real, since, until) -> list[dict[str, Any]]:
    weeks: dict[str, Counter[str]] = defaultdict(Counter)
    week = since
    while week <= until:
        weeks[_week(week)]  # every week appears, even an empty one
        week += timedelta(days=7)
    weeks[_week(until)]
    for tid in seen:
        e = entries.get(tid)
        if e:
            weeks[_week(max(e.created_at, since))]["tickets"] += 1
    for i in real:
        w = weeks[_week(i.created_at)]
        if i.kind in MOVE_KINDS and i.tier_after > i.tier_before:
            w["escalations"] += 1
        elif i.kind == "de-escalate":
            w["de_escalations"] += 1
        elif i.kind == "frozen":
            w["frozen"] += 1
        elif i.kind == "refused":
            w["refused"] += 1
    rows = []
    for w in sorted(weeks):
        c = weeks[w]
        rows.append({"week": w, "tickets": c["tickets"], "escalations": c["escalations"],
                     "rate": c["escalations"] / c["tickets"] if c["tickets"] else None,
                     "de_escalations": c["de_escalations"], "frozen": c["frozen"], "refused": c["refused"]})
    return rows


# --- rendering ---------------------------------------------------------------------


def _d(seconds: float | None) -> str:
    # Creation to escalation is wall-clock time, printed in words like every duration.
    return format_span(timedelta(seconds=seconds)) if seconds is not None else "-"


def _p(x: float | None) -> str:
    return f"{x * 100:.1f}%" if x is not None else "-"


def _rate(x: float | None) -> str:
    return _p(x) if x is not None else "no data"  # a week without tickets has no rate


def render_table(rep: Report) -> str:
    w = []
    w.append(f"tierlift report: {rep.helpdesk} (policy {rep.policy})")
    w.append(f"{rep.since:%Y-%m-%d} to {rep.until:%Y-%m-%d}".ljust(40))
    w.append("=" * 78)
    target = f" (target < {_p(rep.rate_target)})" if rep.rate_target is not None else ""
    w.append(f"tickets seen {rep.tickets_seen:>8}   escalated tickets {rep.escalated_tickets:>6}   escalations {rep.escalations:>6}")
    w.append(f"escalation rate {_p(rep.rate)}{target}")
    w.append(f"time to escalate     median {_d(rep.time_to_escalate.get('median')):>18}   p90 {_d(rep.time_to_escalate.get('p90')):>18}")
    w.append(f"escalation->resolved median {_d(rep.escalation_to_resolution.get('median')):>18}   p90 {_d(rep.escalation_to_resolution.get('p90')):>18}")
    w.append(f"de-escalations {rep.de_escalations}   frozen {rep.frozen}   refused (no context) {rep.refused}"
             f"   quarantined {rep.quarantined}")
    for title, data in (("by tier change", rep.by_tier_change), ("by rule", rep.by_rule),
                        ("by category (criterion kind)", rep.by_category), ("by group", rep.by_group),
                        ("by agent (who applied manual escalations)", rep.by_agent),
                        ("by assignee when escalated", rep.by_assignee)):
        w.append("")
        w.append(title)
        if not data:
            w.append("  (none)")
        for k, v in list(data.items())[:10]:
            w.append(f"  {k[:60]:<60} {v:>8}")
    w.append("")
    target = f" (target > {_p(rep.sla_target)})" if rep.sla_target is not None else ""
    w.append(f"SLA compliance from creation{target}")
    w.append(f"  {'tier':<6}{'metric':<16}{'met':>8}{'breached':>10}{'pending':>9}{'compliance':>12}")
    for tier, metrics in rep.sla.items():
        for metric, c in metrics.items():
            w.append(f"  {tier:<6}{metric:<16}{c['met']:>8}{c['breached']:>10}{c['pending']:>9}{_p(c['compliance']):>12}")
    w.append("")
    w.append(f"post-escalation reviews: {len(rep.reviews_pending)} pending, {len(rep.reviews_overdue)} overdue")
    for r in rep.reviews_overdue[:10]:
        w.append(f"  overdue: ticket {r['ticket']} (L{r['tier']}), due {r['deadline'][:16]}")
    w.append("")
    w.append("week-by-week")
    w.append(f"  {'week':<10}{'tickets':>9}{'escalated':>11}{'rate':>9}{'de-esc':>8}{'frozen':>8}{'refused':>9}")
    for r in rep.weekly:
        w.append(f"  {r['week']:<10}{r['tickets']:>9}{r['escalations']:>11}{_rate(r['rate']):>9}{r['de_escalations']:>8}"
                 f"{r['frozen']:>8}{r['refused']:>9}")
    w.append("")
    w.append(f"escalated tickets ({len(rep.escalated)})")
    for r in rep.escalated[:50]:
        w.append(f"  {r['at'][:16].replace('T', ' ')}  {r['ticket']:<12} {r['move']:<7} {r['rule'][:24]:<24} {r['category']}")
        if r["url"]:
            w.append(f"    {r['url']}")
    if len(rep.escalated) > 50:
        w.append(f"  ... and {len(rep.escalated) - 50} more (--format json lists them all)")
    if rep.dry_run_decisions:
        w.append("")
        w.append(f"(dry-run decisions in the period, not counted above: {rep.dry_run_decisions})")
    return "\n".join(line.rstrip() for line in w) + "\n"


def _svg(fig) -> str:
    buf = io.StringIO()
    fig.savefig(buf, format="svg", bbox_inches="tight")
    import matplotlib.pyplot as plt

    plt.close(fig)
    text = buf.getvalue()
    return text[text.index("<svg"):]


def render_html(*reports: Report) -> str:
    """One self-contained page (inline SVG charts, no script, no link) for one or more helpdesks."""
    esc = html.escape
    title = ", ".join(r.helpdesk for r in reports)
    sections = "\n".join(_html_section(r) for r in reports)
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<title>tierlift report: {esc(title)}</title>
<style>
body {{ font-family: system-ui, sans-serif; margin: 2em; color: #222; max-width: 60em; }}
.kpis {{ display: flex; gap: 1.5em; flex-wrap: wrap; }}
.kpi {{ border: 1px solid #ddd; border-radius: 6px; padding: .8em 1.2em; }}
.kpi b {{ display: block; font-size: 1.6em; }}
figure {{ margin: 1.5em 0; }} figcaption {{ font-weight: 600; margin-bottom: .4em; }}
pre {{ background: #f6f6f6; padding: 1em; overflow-x: auto; }}
table {{ border-collapse: collapse; margin: .5em 0 1.5em; }}
th, td {{ text-align: left; padding: .25em .9em .25em 0; border-bottom: 1px solid #eee; }}
</style></head><body>
{sections}
</body></html>
"""


def _barh(plt, title: str, data: dict[str, int], color: str, *, xlabel: str = "escalations"):
    """A horizontal bar chart with each bar's value written at its end."""
    names = list(data)[:12][::-1]
    fig, ax = plt.subplots(figsize=(7, max(1.6, 0.42 * len(names) + 0.8)))
    bars = ax.barh(names, [data[n] for n in names], color=color)
    ax.bar_label(bars, padding=3)
    ax.xaxis.get_major_locator().set_params(integer=True)
    ax.set_xlabel(xlabel)
    ax.set_title(title)
    ax.margins(x=0.12)
    return _svg(fig)


def _weekly_charts(plt, rep: Report) -> list[tuple[str, str]]:
    # Numeric positions with week labels: both charts share one x axis, gaps included.
    weeks, x = [r["week"] for r in rep.weekly], list(range(len(rep.weekly)))
    esc = [r["escalations"] for r in rep.weekly]
    fig, ax = plt.subplots(figsize=(7, 3))
    ax.bar(x, esc, color="#c0392b", label="escalations")
    bars = ax.bar(x, [r["de_escalations"] for r in rep.weekly], bottom=esc, color="#2980b9", label="de-escalations")
    ax.bar_label(bars, labels=[str(r["escalations"] + r["de_escalations"]) for r in rep.weekly], padding=2)
    ax.set_xticks(x, weeks, rotation=45)
    ax.yaxis.get_major_locator().set_params(integer=True)
    ax.set_title("Escalations per week")
    ax.margins(y=0.18)
    ax.legend()
    out = [("Escalations per week", _svg(fig))]
    fig, ax = plt.subplots(figsize=(7, 3))
    rates = [r["rate"] * 100 if r["rate"] is not None else float("nan") for r in rep.weekly]
    ax.plot(x, rates, marker="o", color="#c0392b", label="escalation rate")
    top = max([v for v in rates if v == v] + [(rep.rate_target or 0) * 100, 1.0]) * 1.25
    for i, r in enumerate(rep.weekly):
        if r["rate"] is not None:
            ax.annotate(f"{r['rate'] * 100:.1f}%", (i, r["rate"] * 100), textcoords="offset points", xytext=(0, 7),
                        ha="center", fontsize=8)
        else:  # no tickets that week: no rate, said in words halfway up
            ax.text(i, top / 2, "no data", ha="center", va="center", fontsize=8, color="#777", rotation=90)
    if rep.rate_target is not None:
        ax.axhline(rep.rate_target * 100, color="grey", linestyle="--", label="target")
    ax.set_xticks(x, weeks, rotation=45)
    ax.set_xlim(-0.5, len(x) - 0.5)
    ax.set_ylim(0, top)
    ax.set_ylabel("% of tickets")
    ax.set_title("Escalation rate against target")
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0))
    out.append(("Escalation rate (a week without tickets has no rate: no data)", _svg(fig)))
    return out


def _sla_chart(plt, rep: Report) -> list[tuple[str, str]]:
    labels, values = [], []
    for tier, metrics in rep.sla.items():
        for metric, c in metrics.items():
            if c["compliance"] is not None:
                labels.append(f"{tier} {metric.replace('_', ' ')}")
                values.append(c["compliance"] * 100)
    if not labels:
        return []
    fig, ax = plt.subplots(figsize=(7, max(2.0, 0.45 * len(labels))))
    bars = ax.barh(labels, values, color="#27ae60")
    ax.bar_label(bars, labels=[f"{v:.0f}%" for v in values], padding=3)
    if rep.sla_target is not None:
        ax.axvline(rep.sla_target * 100, color="grey", linestyle="--")
    ax.set_xlim(0, 112)
    ax.set_title("SLA compliance from creation (%)")
    return [("SLA compliance", _svg(fig))]


def _tickets_table(rep: Report) -> str:
    esc = html.escape
    if not rep.escalated:
        return "<p>No escalations in the period.</p>"
    rows = []
    for r in rep.escalated:
        ticket = (f'<a href="{esc(r["url"])}">{esc(r["ticket"])}</a>' if r["url"] else esc(r["ticket"]))
        rows.append(f"<tr><td>{esc(r['at'][:16].replace('T', ' '))}</td><td>{ticket}</td><td>{esc(r['move'])}</td>"
                    f"<td>{esc(r['rule'])}</td><td>{esc(r['category'])}</td></tr>")
    return ("<table><thead><tr><th>escalated (UTC)</th><th>ticket</th><th>move</th><th>rule</th><th>category</th>"
            "</tr></thead><tbody>" + "".join(rows) + "</tbody></table>")


def _html_section(rep: Report) -> str:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    charts = _weekly_charts(plt, rep)
    for title, data, color in (("Escalations by rule", rep.by_rule, "#8e44ad"),
                               ("Escalations by category (criterion kind)", rep.by_category, "#d35400"),
                               ("Manual escalations by agent", rep.by_agent, "#16a085")):
        if data:
            charts.append((title, _barh(plt, title, data, color)))
        else:
            charts.append((title, "<p>No escalations of this kind in the period.</p>"))
    charts += _sla_chart(plt, rep)
    esc = html.escape
    table = esc(render_table(rep))
    figures = "\n".join(f'<figure><figcaption>{esc(t)}</figcaption>{svg}</figure>' for t, svg in charts)
    unknown = rep.by_agent.get(UNKNOWN_AGENT, 0)
    agent_note = (f"<p>{unknown} manual escalation(s) without a recorded agent: the journal names who applied "
                  "the tag once the helpdesk's audit data is read.</p>") if unknown else ""
    return f"""<section>
<h1>Escalations: {esc(rep.helpdesk)}</h1>
<p>Policy <b>{esc(rep.policy)}</b>, {rep.since:%Y-%m-%d} to {rep.until:%Y-%m-%d}.</p>
<div class="kpis">
<div class="kpi"><b>{rep.tickets_seen}</b>tickets seen</div>
<div class="kpi"><b>{rep.escalations}</b>escalations</div>
<div class="kpi"><b>{_p(rep.rate)}</b>escalation rate{(' (target &lt; ' + _p(rep.rate_target) + ')') if rep.rate_target is not None else ''}</div>
<div class="kpi"><b>{_d(rep.time_to_escalate.get('median'))}</b>median time to escalate</div>
<div class="kpi"><b>{len(rep.reviews_overdue)}</b>overdue reviews</div>
</div>
{figures}
{agent_note}
<h2 id="escalated-tickets">Escalated tickets</h2>
{_tickets_table(rep)}
<h2>All figures</h2>
<pre>{table}</pre>
</section>"""


def parse_since(text: str, now: datetime) -> datetime:
    try:
        return now - parse_duration(text)
    except ValueError:
        dt = datetime.fromisoformat(text.replace("Z", "+00:00"))
        return dt if dt.tzinfo else dt.replace(tzinfo=UTC)


def report_command(config_path: Path, *, helpdesk: str | None, since: str, fmt: str, out: str | None,
                   now: datetime | None = None, shadow: str | None = None) -> int:
    import sys

    from tierlift.engine.yamlsrc import InvalidFile, Problem
    from tierlift.service.daemon.config import load_config
    from tierlift.service.daemon.state import StateStore
    from tierlift.service.ops.links import ticket_url

    cfg = load_config(config_path)
    now = now or datetime.now(UTC)
    try:
        start = parse_since(since, now)
    except ValueError:
        raise InvalidFile([Problem("--since", None, "", f"expected a duration such as 30d or an ISO date, got {since!r}")]) from None
    selected = [h for h in cfg.helpdesks if helpdesk in (None, h.name)]
    if not selected:
        raise InvalidFile([Problem(str(config_path), None, "", f"no helpdesk named {helpdesk!r}")])
    if not cfg.state_path.exists():
        print(f"no state at {cfg.state_path}: the daemon has not run yet", file=sys.stderr)
        return 1
    if shadow is not None:
        return _shadow_command(cfg, config_path, shadow, helpdesk, start, now, fmt, out)
    store = StateStore(cfg.state_path)
    try:
        reports = [build_report(store, h.name, h.policy, since=start, until=now,
                                link=functools.partial(ticket_url, h.kind, h.url)) for h in selected]
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


def _emit(text: str, out: str | None) -> None:
    import sys

    if out:
        Path(out).write_text(text, encoding="utf-8")
        print(f"report written to {out}", file=sys.stderr)
    else:
        sys.stdout.write(text)


def _shadow_command(cfg, config_path: Path, shadow: str, live: str | None, start: datetime, now: datetime,
                    fmt: str, out: str | None) -> int:
    """`report --shadow NAME`: the dry-run helpdesk NAME against its live twin."""
    from tierlift.engine.yamlsrc import InvalidFile, Problem
    from tierlift.service.daemon.state import StateStore
    from tierlift.service.tools import shadow as shadow_mod

    by_name = {h.name: h for h in cfg.helpdesks}
    sh = by_name.get(shadow)
    if sh is None:
        raise InvalidFile([Problem(str(config_path), None, "", f"--shadow: no helpdesk named {shadow!r}")])
    if live is None:  # the live entry on the same helpdesk
        twins = [h for h in cfg.helpdesks if h.url == sh.url and h.name != sh.name and not h.dry_run]
        if len(twins) != 1:
            raise InvalidFile([Problem(str(config_path), None, "", f"--shadow {shadow}: name the live helpdesk with"
                                       f" --helpdesk ({len(twins)} live entries share its url)")])
        live = twins[0].name
    lv = by_name[live]
    store = StateStore(cfg.state_path)
    try:
        c = shadow_mod.compare(store, lv.name, sh.name, live_policy=lv.policy.name, shadow_policy=sh.policy.name,
                               since=start, until=now)
    finally:
        store.close()
    if fmt == "html":
        raise InvalidFile([Problem("--format", None, "", "the shadow comparison is a table or JSON")])
    _emit(json.dumps(c.to_dict(), indent=2) + "\n" if fmt == "json" else shadow_mod.render(c), out)
    return 0
