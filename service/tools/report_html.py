"""The report as one self-contained HTML page: inline SVG charts (matplotlib), no script, no link
but the tickets' own links in the helpdesk. Every bar carries its value; a week without
tickets is drawn and written as "no data", never as a 0% rate.
"""

from __future__ import annotations

import html
import io

from tierlift.service.tools.report import (
    UNKNOWN_AGENT,
    Report,
    _d,
    _p,
    escalations_of,
    render_table,
)


def _svg(fig) -> str:
    buf = io.StringIO()
    fig.savefig(buf, format="svg", bbox_inches="tight")
    import matplotlib.pyplot as plt

    plt.close(fig)
    text = buf.getvalue()
    return text[text.index("<svg"):]


def render_page(*reports: Report) -> str:
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


def _side_by_side(ax, x: list[int], rep: Report) -> None:
    """Escalations and de-escalations side by side, each with its own value: a
    de-escalation is not an escalation (stacked, a week read 49 against the card's 48)."""
    up = ax.bar([i - 0.2 for i in x], [r["escalations"] for r in rep.weekly], width=0.4, color="#c0392b",
                label="escalations")
    down = ax.bar([i + 0.2 for i in x], [r["de_escalations"] for r in rep.weekly], width=0.4, color="#2980b9",
                  label="de-escalations")
    for bars in (up, down):
        ax.bar_label(bars, labels=[str(int(b.get_height())) if b.get_height() else "" for b in bars], padding=2)


def _weekly_charts(plt, rep: Report) -> list[tuple[str, str]]:
    # Numeric positions with week labels: both charts share one x axis, gaps included.
    weeks, x = [r["week"] for r in rep.weekly], list(range(len(rep.weekly)))
    fig, ax = plt.subplots(figsize=(7, 3))
    _side_by_side(ax, x, rep)
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
    ax.set_ylabel("% of the week's tickets escalated")
    ax.set_title("Escalation rate against target")
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0))
    out.append(("Escalation rate (a week without tickets has no rate: no data)", _svg(fig)))
    return out


def _sla_chart(plt, rep: Report) -> list[tuple[str, str]]:
    labels, values = [], []
    for tier, metrics in rep.sla.items():  # every tier, "no data" where none was decided
        for metric, c in metrics.items():
            labels.append(f"{tier} {metric.replace('_', ' ')}")
            values.append(c["compliance"] * 100 if c["compliance"] is not None else None)
    if not labels:
        return []
    fig, ax = plt.subplots(figsize=(7, max(2.0, 0.45 * len(labels))))
    bars = ax.barh(labels, [v or 0.0 for v in values], color="#27ae60")
    ax.bar_label(bars, labels=[f"{v:.0f}%" if v is not None else "no data" for v in values], padding=3)
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
                               ("Escalations an agent asked for or confirmed", rep.by_agent, "#16a085")):
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
<div class="kpi"><b>{escalations_of(rep)}</b>escalations (moves up) of the tickets they moved</div>
<div class="kpi"><b>{"dry run" if rep.dry_run else _p(rep.rate) if rep.rate is not None else "no data"}</b>escalation rate{(' (target &lt; ' + _p(rep.rate_target) + ')') if rep.rate_target is not None else ''}</div>
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
