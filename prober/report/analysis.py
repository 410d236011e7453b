"""The numbers of a report, from the counters of a period: SLIs against objectives, error budgets, worst days,
incidents with MTTR and MTBF, and SLA credits. Pure functions over a History: no I/O.

Definitions (the report prints them too):
- availability: successful runs / runs; latency: runs within the check's threshold / runs (pooled over the
  member checks and regions of an SLO);
- error budget consumed: (1 - SLI) / (1 - objective), over the report's period;
- a region is failing a check during a step when more than half of that step's runs failed there; an incident
  is a stretch of consecutive failing steps in at least `incident_regions` regions; MTTR is the mean incident
  duration, MTBF the time outside incidents divided by the number of incidents.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from prober.config.models import AgentConfig
from prober.report.history import Counts, History
from prober.slo.objectives import Objective, Sli, objectives

if TYPE_CHECKING:  # comparison.py builds on this module's Ratio
    from prober.report.comparison import Comparison

DAY_S = 86400.0
WORST_DAYS = 3


@dataclass(frozen=True)
class Ratio:
    good: float
    total: float

    @property
    def value(self) -> float | None:
        return self.good / self.total if self.total else None


@dataclass(frozen=True)
class DayValue:
    day: str  # YYYY-MM-DD (UTC)
    ratio: Ratio


@dataclass(frozen=True)
class SloResult:
    slo: str
    sli: str
    target: float  # ratio, e.g. 0.995
    measured: Ratio
    days: tuple[DayValue, ...]

    @property
    def met(self) -> bool | None:
        value = self.measured.value
        return None if value is None else value >= self.target

    @property
    def budget_consumed(self) -> float | None:
        value = self.measured.value
        return None if value is None else (1 - value) / (1 - self.target)

    @property
    def worst_days(self) -> list[DayValue]:
        """Up to three days with the lowest SLI, among those below 100%."""
        measured = [d for d in self.days if d.ratio.value is not None and d.ratio.value < 1]  # bad days only
        return sorted(measured, key=lambda d: (d.ratio.value, d.day))[:WORST_DAYS]


@dataclass(frozen=True)
class CheckRegionResult:
    check: str
    region: str
    availability: Ratio
    latency: Ratio | None
    days: tuple[DayValue, ...]


@dataclass(frozen=True)
class Incident:
    check: str
    start: float
    end: float
    regions: tuple[str, ...]
    reason: str  # the reason of most failed runs during the incident

    @property
    def duration_s(self) -> float:
        return self.end - self.start


@dataclass(frozen=True)
class SlaResult:
    name: str
    target: float  # percent
    measured: Ratio
    credit_percent: float | None  # None when there were no runs

    @property
    def met(self) -> bool | None:
        value = self.measured.value
        return None if value is None else value * 100 >= self.target


@dataclass(frozen=True)
class Report:
    start: float
    end: float
    generated_at: float
    incident_regions: int
    slos: tuple[SloResult, ...]
    checks: tuple[CheckRegionResult, ...]
    incidents: tuple[Incident, ...]
    slas: tuple[SlaResult, ...]
    comparison: Comparison | None = None  # --compare LABEL=VALUE

    @property
    def mttr_s(self) -> float | None:
        return sum(i.duration_s for i in self.incidents) / len(self.incidents) if self.incidents else None

    @property
    def mtbf_s(self) -> float | None:
        if not self.incidents:
            return None
        down = sum(i.duration_s for i in self.incidents)
        return (self.end - self.start - down) / len(self.incidents)


def _day(unix_time: float) -> str:
    return time.strftime("%Y-%m-%d", time.gmtime(unix_time))


def _pooled(counts: Iterable[Counts], sli: Sli, history: History) -> tuple[Ratio, tuple[DayValue, ...]]:
    """The SLI of several (check, region) counts pooled, over the whole period and per UTC day."""
    good_by_day: dict[str, float] = {}
    total_by_day: dict[str, float] = {}
    for c in counts:
        good_steps = c.successes if sli is Sli.AVAILABILITY else c.within
        if good_steps is None:  # no threshold bucket in Prometheus: no latency SLI (never a 0% one)
            continue
        for index, (good, total) in enumerate(zip(good_steps, c.runs, strict=True)):
            day = _day(history.step_end(index) - history.step_s)
            good_by_day[day] = good_by_day.get(day, 0.0) + good
            total_by_day[day] = total_by_day.get(day, 0.0) + total
    days = tuple(DayValue(day, Ratio(good_by_day[day], total_by_day[day])) for day in sorted(total_by_day))
    return Ratio(sum(good_by_day.values()), sum(total_by_day.values())), days


def _slo_result(objective: Objective, history: History) -> SloResult:
    measured, days = _pooled(history.of_checks(m.check for m in objective.members), objective.sli, history)
    return SloResult(objective.slo, objective.sli.value, objective.target, measured, days)


def incidents(history: History, min_regions: int) -> list[Incident]:
    """Stretches of steps during which a check failed (most runs of the step) in `min_regions` or more regions."""
    by_check: dict[str, dict[str, Counts]] = {}
    for (check, region), counts in history.counts.items():
        by_check.setdefault(check, {})[region] = counts
    found: list[Incident] = []
    for check, regions in sorted(by_check.items()):
        open_at: int | None = None
        involved: set[str] = set()
        for index in range(history.steps + 1):
            failing = {region for region, c in regions.items()
                       if index < history.steps and c.runs[index] > 0
                       and (c.runs[index] - c.successes[index]) * 2 > c.runs[index]}
            if len(failing) >= min_regions:
                if open_at is None:
                    open_at, involved = index, set()
                involved |= failing
            elif open_at is not None:
                found.append(_incident(check, regions, involved, open_at, index, history))
                open_at = None
    return sorted(found, key=lambda i: (i.start, i.check))


def _incident(check: str, regions: dict[str, Counts], involved: set[str], first: int, after_last: int,
              history: History) -> Incident:
    reasons: dict[str, float] = {}
    for region in involved:
        for reason, steps in regions[region].failures_by_reason.items():
            reasons[reason] = reasons.get(reason, 0.0) + sum(steps[first:after_last])
    reason = max(sorted(reasons), key=lambda r: reasons[r]) if reasons else "unknown"
    return Incident(check, history.step_end(first) - history.step_s, history.step_end(after_last - 1),
                    tuple(sorted(involved)), reason)


def analyse(config: AgentConfig, history: History, incident_regions: int,
            comparison: Comparison | None = None) -> Report:
    """Every number of the report for `config`'s SLOs, checks and SLAs over the history's period (and the
    comparison, computed apart from its own counters, carried along)."""
    checks = []
    for (check, region), counts in sorted(history.counts.items()):
        availability, days = _pooled([counts], Sli.AVAILABILITY, history)
        latency = _pooled([counts], Sli.LATENCY, history)[0] if counts.within is not None else None
        checks.append(CheckRegionResult(check, region, availability, latency, days))
    slas = []
    for sla in config.sla:
        measured, _days = _pooled(history.of_checks(sla.checks), Sli.AVAILABILITY, history)
        value = measured.value
        slas.append(SlaResult(sla.name, sla.target, measured, None if value is None else sla.credit_for(value * 100)))
    return Report(
        start=history.start, end=history.end, generated_at=time.time(), incident_regions=incident_regions,
        slos=tuple(_slo_result(o, history) for o in objectives(config)), checks=tuple(checks),
        incidents=tuple(incidents(history, incident_regions)), slas=tuple(slas), comparison=comparison,
    )
