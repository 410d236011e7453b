"""A report as JSON (for scripts) or Markdown (for a ticket or a wiki)."""

from __future__ import annotations

import json
import time
from typing import Any

from prober.report.analysis import Ratio, Report


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
    }
    return json.dumps(doc, indent=2) + "\n"


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


def _yes(met: bool | None) -> str:
    return "n/a" if met is None else ("yes" if met else "**no**")
