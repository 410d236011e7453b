"""A report as JSON (for scripts) or Markdown (for a ticket or a wiki)."""

from __future__ import annotations

import json
import time
from typing import Any

from prober.report.analysis import Ratio, Report
from prober.report.comparison import ALL, Comparison, ComparisonRow, ComparisonView

COMPARISON_NOTE = ("Availability: successful runs / runs; duration p90: of every run counted toward the SLIs; LCP "
                   "p75: of the page loads of browser checks (page, journey); each over the whole period, its runs "
                   "pooled over the vantage points of the row.")


def percent(ratio: Ratio | float | None, digits: int = 3) -> str:
    value = ratio.value if isinstance(ratio, Ratio) else ratio
    return "n/a" if value is None else f"{value * 100:.{digits}f}%"


def utc(unix_time: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(unix_time))


def duration(seconds: float | None) -> str:
    """A human duration: "45 min", "1 h", "1 h 30 min", "15.5 days"."""
    if seconds is None:
        return "n/a"
    minutes = round(seconds / 60)
    if minutes < 60:
        return f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    if hours >= 48:
        return f"{hours / 24:.1f} days"
    return f"{hours} h {minutes} min" if minutes else f"{hours} h"


def seconds(value: float | None) -> str:
    """A percentile as a reader reads it: "175 ms", "2.20 s"."""
    if value is None:
        return "n/a"
    return f"{value * 1000:.0f} ms" if value < 1 else f"{value:.2f} s"


def view_title(view: ComparisonView) -> str:
    return "All vantage points" if view.by == ALL else f"Per {view.by}"


def vantage(view: ComparisonView, row: ComparisonRow) -> str:
    """The row's region or label value; agents without the label are "(none)"."""
    return "all" if view.by == ALL else row.vantage or "(none)"


def period(report: Report) -> str:
    return f"{utc(report.start)} to {utc(report.end)}"


def _ratio(ratio: Ratio | None) -> dict[str, Any] | None:
    return None if ratio is None else {"value": ratio.value, "good": ratio.good, "total": ratio.total}


def as_json(report: Report) -> str:
    doc = {
        "period": {"from": report.start, "to": report.end}, "generated_at": report.generated_at,
        "slos": [{"slo": s.slo, "sli": s.sli, "target": s.target, "measured": _ratio(s.measured), "met": s.met,
                  "error_budget_consumed": s.budget_consumed,
                  "worst_days": [{"day": d.day, **(_ratio(d.ratio) or {})} for d in s.worst_days]}
                 for s in report.slos],
        "checks": [{"check": c.check, "region": c.region, "availability": _ratio(c.availability),
                    "latency": _ratio(c.latency),
                    "days": [{"day": d.day, **(_ratio(d.ratio) or {})} for d in c.days]} for c in report.checks],
        "incidents": [{"check": i.check, "start": i.start, "end": i.end, "duration_s": i.duration_s,
                       "regions": list(i.regions), "reason": i.reason} for i in report.incidents],
        "incident_regions": report.incident_regions, "mttr_s": report.mttr_s, "mtbf_s": report.mtbf_s,
        "slas": [{"sla": s.name, "target_percent": s.target, "measured": _ratio(s.measured), "met": s.met,
                  "credit_percent": s.credit_percent} for s in report.slas],
        "comparison": None if report.comparison is None else _comparison_json(report.comparison),
    }
    return json.dumps(doc, indent=2) + "\n"


def _comparison_json(comparison: Comparison) -> dict[str, Any]:
    return {
        "label": comparison.selector.label, "value": comparison.selector.value,
        "checks": [{"check": c.name, "site": c.site, "browser": c.browser} for c in comparison.checks],
        "views": [{"by": view.by, "rows": [
            {"vantage": row.vantage, "check": row.check.name, "site": row.check.site,
             "availability": _ratio(row.availability), "duration_p90_s": row.duration_p90_s,
             "lcp_p75_s": row.lcp_p75_s} for row in view.rows]} for view in comparison.views],
    }


def as_markdown(report: Report) -> str:
    lines = [f"# Service level report, {period(report)}", ""]
    if report.slas:
        lines += ["## SLA", "", "| SLA | target | measured | met | credit owed |", "|---|---|---|---|---|"]
        lines += [f"| {s.name} | {s.target:g}% | {percent(s.measured)} | {_yes(s.met)} | "
                  f"{'n/a' if s.credit_percent is None else f'{s.credit_percent:g}%'} |" for s in report.slas]
        lines.append("")
    lines += ["## SLOs", "", "| SLO | SLI | objective | measured | met | error budget consumed | worst days |",
              "|---|---|---|---|---|---|---|"]
    for s in report.slos:
        worst = ", ".join(f"{d.day} ({percent(d.ratio, 2)})" for d in s.worst_days)
        lines.append(f"| {s.slo} | {s.sli} | {s.target * 100:g}% | {percent(s.measured)} | {_yes(s.met)} | "
                     f"{percent(s.budget_consumed, 1)} | {worst} |")
    if report.comparison is not None:
        lines += _comparison_markdown(report.comparison)
    lines += ["", "## Checks by region", "", "| check | region | availability | latency | runs |",
              "|---|---|---|---|---|"]
    lines += [f"| {c.check} | {c.region} | {percent(c.availability)} | {percent(c.latency)} | "
              f"{c.availability.total:.0f} |" for c in report.checks]
    lines += ["", f"## Incidents (failing from {report.incident_regions} or more regions)", "",
              f"{len(report.incidents)} incidents; MTTR {duration(report.mttr_s)}; MTBF {duration(report.mtbf_s)}.",
              ""]
    if report.incidents:
        lines += ["| check | start | end | duration | regions | reason |", "|---|---|---|---|---|---|"]
        lines += [f"| {i.check} | {utc(i.start)} | {utc(i.end)} | {duration(i.duration_s)} | "
                  f"{', '.join(i.regions)} | {i.reason} |" for i in report.incidents]
    return "\n".join(lines) + "\n"


def _comparison_markdown(comparison: Comparison) -> list[str]:
    lines = ["", f"## Comparison: {comparison.selector}", "", COMPARISON_NOTE]
    for view in comparison.views:
        lines += ["", f"### {view_title(view)}", "",
                  f"| {'vantage points' if view.by == ALL else view.by} | check | site | availability | duration p90 | "
                  "LCP p75 | runs |", "|---|---|---|---|---|---|---|"]
        lines += [f"| {vantage(view, r)} | {r.check.name} | {r.check.site or ''} | {percent(r.availability)} | "
                  f"{seconds(r.duration_p90_s)} | {seconds(r.lcp_p75_s)} | {r.availability.total:.0f} |"
                  for r in view.rows]
    return lines


def _yes(met: bool | None) -> str:
    return "n/a" if met is None else ("yes" if met else "**no**")
