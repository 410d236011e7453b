"""A report as one standalone HTML file: inline CSS and SVG charts (availability per day per region, error
budget burn-down), no script and no external resource, laid out to print on A4."""

from __future__ import annotations

from html import escape

from prober.report.analysis import CheckRegionResult, DayValue, Report, SloResult
from prober.report.comparison import ALL, Comparison
from prober.report.text import COMPARISON_NOTE, duration, percent, period, seconds, utc, vantage, view_title

COLORS = ("#0969da", "#bf3989", "#1a7f37", "#bc4c00", "#8250df", "#57606a")
_CSS = """
body { font: 14px/1.5 system-ui, -apple-system, "Segoe UI", "Noto Sans", "Noto Sans CJK SC", sans-serif;
       color: #1f2328; max-width: 960px; margin: 2rem auto; padding: 0 1rem; }
h1 { font-size: 1.6rem; margin-bottom: .2rem; } h2 { font-size: 1.2rem; margin-top: 2rem;
     border-bottom: 2px solid #1f2328; padding-bottom: .2rem; } h3 { font-size: 1rem; margin: 1.2rem 0 .4rem; }
.sub { color: #57606a; } table { border-collapse: collapse; width: 100%; margin: .5rem 0; }
th, td { text-align: left; padding: .35rem .5rem; border-bottom: 1px solid #d0d7de; }
th { font-size: .8em; text-transform: uppercase; letter-spacing: .03em; color: #57606a; }
td.num { font-variant-numeric: tabular-nums; text-align: right; white-space: nowrap; }
.met { color: #1a7f37; font-weight: 600; } .missed { color: #cf222e; font-weight: 600; }
.summary { display: grid; grid-template-columns: repeat(auto-fill, minmax(170px, 1fr)); gap: .6rem; }
.tile { border: 1px solid #d0d7de; border-radius: 6px; padding: .6rem .8rem; }
.tile b { display: block; font-size: 1.4em; } .tile span { color: #57606a; font-size: .85em; }
.legend span { margin-right: 1rem; font-size: .85em; } .legend i { display: inline-block; width: .8rem;
  height: .8rem; border-radius: 2px; margin-right: .3rem; vertical-align: middle; }
.notes { color: #57606a; font-size: .85em; }
@media print { body { margin: 0; max-width: none; } h2 { break-after: avoid; } table, svg { break-inside: avoid; } }
"""


def _met(met: bool | None) -> str:
    if met is None:
        return "n/a"
    return '<span class="met">met</span>' if met else '<span class="missed">missed</span>'


def line_chart(series: list[tuple[str, list[DayValue]]], target: float | None, width: int = 900,
               height: int = 220) -> str:
    """Daily availability lines, one per series, on a y axis from the lowest day (or the target) to 100%."""
    values = [d.ratio.value for _name, days in series for d in days if d.ratio.value is not None]
    if not values:
        return '<p class="notes">no runs in this period</p>'
    low = min([*values, *([target] if target is not None else [])])
    low = max(0.0, min(low, 0.999) - (1 - min(low, 0.999)) * 0.1)
    days = sorted({d.day for _name, ds in series for d in ds})
    left, bottom, top = 56, 24, 10
    plot_w, plot_h = width - left - 10, height - bottom - top

    def x(day: str) -> float:
        return left + (days.index(day) / max(len(days) - 1, 1)) * plot_w

    def y(value: float) -> float:
        return top + (1 - (value - low) / (1 - low or 1)) * plot_h

    parts = [f'<svg viewBox="0 0 {width} {height}" width="100%" role="img" aria-label="availability per day">']
    for tick in (low, (low + 1) / 2, 1.0):
        parts.append(f'<line x1="{left}" x2="{width - 10}" y1="{y(tick):.1f}" y2="{y(tick):.1f}" stroke="#d0d7de"/>'
                     f'<text x="{left - 6}" y="{y(tick) + 4:.1f}" font-size="11" text-anchor="end" '
                     f'fill="#57606a">{tick * 100:.2f}%</text>')
    for label_day, anchor in ((days[0], "start"), (days[len(days) // 2], "middle"), (days[-1], "end")):
        parts.append(f'<text x="{x(label_day):.1f}" y="{height - 6}" font-size="11" text-anchor="{anchor}" '
                     f'fill="#57606a">{label_day}</text>')
    if target is not None and target > low:
        parts.append(f'<line x1="{left}" x2="{width - 10}" y1="{y(target):.1f}" y2="{y(target):.1f}" '
                     f'stroke="#cf222e" stroke-dasharray="4 3"/>')
    for index, (_name, series_days) in enumerate(series):
        points = " ".join(f"{x(d.day):.1f},{y(d.ratio.value):.1f}" for d in series_days if d.ratio.value is not None)
        parts.append(f'<polyline points="{points}" fill="none" stroke="{COLORS[index % len(COLORS)]}" '
                     'stroke-width="2"/>')
    parts.append("</svg>")
    legend = "".join(f'<span><i style="background:{COLORS[i % len(COLORS)]}"></i>{escape(name)}</span>'
                     for i, (name, _d) in enumerate(series))
    if target is not None:
        legend += '<span><i style="background:#cf222e"></i>objective</span>'
    return "".join(parts) + f'<div class="legend">{legend}</div>'


def burn_down(slo: SloResult, width: int = 900, height: int = 160) -> str:
    """Error budget left at the end of each day, if the period's runs were the whole window's."""
    total = slo.measured.total
    allowed = (1 - slo.target) * total
    if not allowed or not slo.days:
        return ""
    left, bottom, top = 56, 24, 10
    plot_w, plot_h = width - left - 10, height - bottom - top
    spent, points = 0.0, []
    remaining_by_day = []
    for day in slo.days:
        spent += day.ratio.total - day.ratio.good
        remaining_by_day.append(1 - spent / allowed)
    lowest = min(0.0, *remaining_by_day)
    for index, remaining in enumerate(remaining_by_day):
        px = left + index / max(len(remaining_by_day) - 1, 1) * plot_w
        py = top + (1 - (remaining - lowest) / (1 - lowest)) * plot_h
        points.append(f"{px:.1f},{py:.1f}")
    zero = top + (1 - (0 - lowest) / (1 - lowest)) * plot_h
    labels = [(top + 4, "100%"), (zero + 4, "0%")]
    if lowest < 0:  # overspent: the axis goes on down to the lowest day
        labels.append((top + plot_h + 4, f"{lowest * 100:.0f}%"))
    text = "".join(f'<text x="{left - 6}" y="{label_y:.1f}" font-size="11" text-anchor="end" fill="#57606a">'
                   f"{escape(label)}</text>" for label_y, label in labels)
    dates = (f'<text x="{left}" y="{height - 6}" font-size="11" fill="#57606a">{escape(slo.days[0].day)}</text>'
             f'<text x="{width - 10}" y="{height - 6}" font-size="11" text-anchor="end" fill="#57606a">'
             f"{escape(slo.days[-1].day)}</text>")
    return (f'<svg viewBox="0 0 {width} {height}" width="100%" role="img" aria-label="error budget burn-down">'
            f'<line x1="{left}" x2="{width - 10}" y1="{zero:.1f}" y2="{zero:.1f}" stroke="#cf222e" '
            f'stroke-dasharray="4 3"/>{text}{dates}<polyline points="{" ".join(points)}" fill="none" '
            f'stroke="#0969da" stroke-width="2"/></svg>')


def as_html(report: Report, title: str = "Service level report") -> str:
    met = [s for s in report.slos if s.met]
    body = [f"<h1>{escape(title)}</h1><p class=\"sub\">{escape(period(report))} · generated "
            f"{escape(utc(report.generated_at))} by prober</p>",
            '<div class="summary">'
            f'<div class="tile"><span>SLOs met</span><b>{len(met)} / {len(report.slos)}</b></div>'
            f'<div class="tile"><span>incidents</span><b>{len(report.incidents)}</b></div>'
            f'<div class="tile"><span>MTTR</span><b>{escape(duration(report.mttr_s))}</b></div>'
            f'<div class="tile"><span>MTBF</span><b>{escape(duration(report.mtbf_s))}</b></div></div>']
    if report.slas:
        rows = "".join(
            f"<tr><td>{escape(s.name)}</td><td class=\"num\">{s.target:g}%</td><td class=\"num\">"
            f"{percent(s.measured)}</td><td>{_met(s.met)}</td><td class=\"num\">"
            f"{'n/a' if s.credit_percent is None else f'{s.credit_percent:g}%'}</td></tr>" for s in report.slas)
        body.append("<h2>SLA</h2><table><thead><tr><th>SLA</th><th>target</th><th>measured</th><th></th>"
                    f"<th>credit owed</th></tr></thead><tbody>{rows}</tbody></table>")
    rows = "".join(
        f"<tr><td>{escape(s.slo)}</td><td>{escape(s.sli)}</td><td class=\"num\">{s.target * 100:g}%</td>"
        f"<td class=\"num\">{percent(s.measured)}</td><td>{_met(s.met)}</td>"
        f"<td class=\"num\">{percent(s.budget_consumed, 1)}</td>"
        f"<td>{', '.join(f'{d.day} ({percent(d.ratio, 2)})' for d in s.worst_days)}</td></tr>" for s in report.slos)
    body.append("<h2>SLOs</h2><table><thead><tr><th>SLO</th><th>SLI</th><th>objective</th><th>measured</th><th></th>"
                f"<th>budget consumed</th><th>worst days</th></tr></thead><tbody>{rows}</tbody></table>")
    for slo in report.slos:
        chart = burn_down(slo)
        if chart:
            body.append(f"<h3>Error budget of {escape(slo.slo)} ({escape(slo.sli)})</h3>{chart}")
    if report.comparison is not None:
        body.append(_comparison(report.comparison))
    body.append(_checks(report.checks))
    body.append(_incidents(report))
    body.append('<h2>How to read this</h2><p class="notes">Availability: successful runs / runs. Latency: runs '
                "within the check's threshold / runs. Runs during maintenance windows or while an agent's own "
                "canaries failed are not counted. Error budget consumed: (1 - measured) / (1 - objective) over this "
                "period. A region fails a check during a step when most of that step's runs failed there; an "
                f"incident is a stretch of failing steps in {report.incident_regions} or more regions. MTTR: mean "
                "incident duration; MTBF: time outside incidents / incidents.</p>")
    return (f'<!doctype html><html lang="en"><head><meta charset="utf-8"><title>{escape(title)}</title>'
            '<meta name="viewport" content="width=device-width, initial-scale=1">'
            f"<style>{_CSS}</style></head><body>{''.join(body)}</body></html>\n")


def _checks(checks: tuple[CheckRegionResult, ...]) -> str:
    parts = ["<h2>Checks by region</h2>"]
    rows = "".join(f"<tr><td>{escape(c.check)}</td><td>{escape(c.region)}</td><td class=\"num\">"
                   f"{percent(c.availability)}</td><td class=\"num\">{percent(c.latency)}</td>"
                   f"<td class=\"num\">{c.availability.total:.0f}</td></tr>" for c in checks)
    parts.append("<table><thead><tr><th>check</th><th>region</th><th>availability</th><th>latency</th>"
                 f"<th>runs</th></tr></thead><tbody>{rows}</tbody></table>")
    for check in sorted({c.check for c in checks}):
        series = [(c.region, list(c.days)) for c in checks if c.check == check]
        parts.append(f"<h3>{escape(check)}: availability per day and region</h3>{line_chart(series, None)}")
    return "".join(parts)


def _comparison(comparison: Comparison) -> str:
    """One table per view (all, per region, per agent label), the compared checks side by side in each."""
    parts = [f"<h2>Comparison: {escape(str(comparison.selector))}</h2><p class=\"notes\">{escape(COMPARISON_NOTE)}</p>"]
    for view in comparison.views:
        rows = "".join(
            f"<tr><td>{escape(vantage(view, r))}</td><td>{escape(r.check.name)}</td><td>{escape(r.check.site or '')}"
            f"</td><td class=\"num\">{percent(r.availability)}</td><td class=\"num\">{seconds(r.duration_p90_s)}</td>"
            f"<td class=\"num\">{seconds(r.lcp_p75_s)}</td><td class=\"num\">{r.availability.total:.0f}</td></tr>"
            for r in view.rows)
        head = "vantage points" if view.by == ALL else view.by
        parts.append(f'<h3>{escape(view_title(view))}</h3><table class="comparison" data-by="{escape(view.by)}">'
                     f"<thead><tr><th>{escape(head)}</th><th>check</th><th>site</th><th>availability</th>"
                     f"<th>duration p90</th><th>LCP p75</th><th>runs</th></tr></thead><tbody>{rows}</tbody></table>")
    return "".join(parts)


def _incidents(report: Report) -> str:
    head = (f"<h2>Incidents</h2><p>{len(report.incidents)} incidents (a check failing from "
            f"{report.incident_regions} or more regions); MTTR {escape(duration(report.mttr_s))}, "
            f"MTBF {escape(duration(report.mtbf_s))}.</p>")
    if not report.incidents:
        return head
    rows = "".join(f"<tr><td>{escape(i.check)}</td><td>{escape(utc(i.start))}</td><td>{escape(utc(i.end))}</td>"
                   f"<td class=\"num\">{escape(duration(i.duration_s))}</td><td>{escape(', '.join(i.regions))}</td>"
                   f"<td>{escape(i.reason)}</td></tr>" for i in report.incidents)
    return (head + "<table><thead><tr><th>check</th><th>start</th><th>end</th><th>duration</th><th>regions</th>"
            f"<th>dominant reason</th></tr></thead><tbody>{rows}</tbody></table>")
