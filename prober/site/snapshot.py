"""The status site's numbers, from the agents' counters: pure functions from a History (prober/report/history.py,
exact run counts per step) and agent.yaml to a Snapshot. No I/O.

Rules (the README says them too):
- a check fails in a region when more than half of its runs there failed over the last `rules.consensus.for`
  (at least two of its intervals); it is slow when more than half were over its `slo.latency.threshold`;
- a service in a region: major outage when every check of it that has data fails there, partial outage when
  some do, degraded when one is slow, under maintenance when all its checks are in a maintenance window, unknown
  when none has run lately (never operational without data);
- a service overall: major outage when it is so in `incident_regions` regions (the alerts' consensus; at most the
  regions that report), else its worst region short of that as a partial outage;
- an incident is a stretch of steps during which the service failed (any of its checks, most runs of the step)
  in `incident_regions` regions or more, as `prober report` detects them per check;
- a day is a calendar day in the site's timezone; its availability is the service's runs pooled over its
  checks in that region.
"""

from __future__ import annotations

import bisect
import datetime as dt
import math
from collections.abc import Sequence
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from prober.config.models import AgentConfig
from prober.report.history import Counts, History
from prober.site import i18n
from prober.site.incidents import merge_incidents
from prober.site.model import (
    Budget,
    Day,
    Freshness,
    Impact,
    Incident,
    IncidentState,
    Maintenance,
    RegionView,
    ServiceView,
    Snapshot,
    Status,
    Update,
)
from prober.site.notes import Note
from prober.site.services import ServiceSpec, site_regions, site_services, slug
from prober.slo.objectives import Sli, objectives

DAY_S = 86400.0


@dataclass(frozen=True)
class SiteOptions:
    lang: str = "en"
    error_budget: bool = False
    incident_regions: int | None = None  # None: rules.consensus.min_regions


def day_starts(at: float, days: int, timezone: str) -> list[tuple[str, float]]:
    """(YYYY-MM-DD, unix time of its local midnight) of the `days` days ending with the one `at` falls in."""
    zone = ZoneInfo(timezone)
    today = dt.datetime.fromtimestamp(at, tz=zone).date()
    first = today - dt.timedelta(days=days - 1)
    return [((first + dt.timedelta(days=i)).isoformat(),
             dt.datetime.combine(first + dt.timedelta(days=i), dt.time(), tzinfo=zone).timestamp())
            for i in range(days)]


def history_range(at: float, days: int, timezone: str, step_s: float) -> tuple[float, float]:
    """[start, end) of the counters a site as of `at` reads: from the first day's midnight to the last whole
    step before `at`."""
    start = day_starts(at, days, timezone)[0][1]
    return start, start + math.floor((at - start) / step_s) * step_s


@dataclass
class _Pooled:
    """One service's counts in one region, its checks summed per step (None: no check has data there)."""

    runs: list[float]
    successes: list[float]
    duration_sum_s: list[float]
    duration_count: list[float]


def _pool(counts: Sequence[Counts], steps: int) -> _Pooled | None:
    if not counts:
        return None
    pooled = _Pooled([0.0] * steps, [0.0] * steps, [0.0] * steps, [0.0] * steps)
    for c in counts:
        for i in range(steps):
            pooled.runs[i] += c.runs[i]
            pooled.successes[i] += c.successes[i]
            pooled.duration_sum_s[i] += c.duration_sum_s[i] if c.duration_sum_s else 0.0
            pooled.duration_count[i] += c.duration_count[i] if c.duration_count else 0.0
    return pooled


def _failing(c: Counts, first: int, last: int) -> bool:
    runs = sum(c.runs[first:last])
    return runs > 0 and (runs - sum(c.successes[first:last])) * 2 > runs


class _Site:
    """The computation of one snapshot (the inputs held, the parts derived one method each)."""

    def __init__(self, config: AgentConfig, history: History, at: float, options: SiteOptions) -> None:
        self.config, self.history, self.at, self.options = config, history, at, options
        self.services = site_services(config)
        self.region_names = site_regions(config, {region for _check, region in history.counts})
        self.checks = {c.name: c for c in config.checks}
        self.days = day_starts(at, config.site.days, config.site.timezone)
        self.day_starts = [start for _date, start in self.days]
        self.step_days = [self._day_index(history.step_end(i) - history.step_s) for i in range(history.steps)]
        reporting = {region for (_c, region), counts in history.counts.items() if region in self.region_names
                     and any(counts.runs)}
        wanted = options.incident_regions or config.rules.consensus.min_regions
        self.min_regions = max(1, min(wanted, len(reporting) or 1))

    def _day_index(self, unix_time: float) -> int:
        """The index of the day `unix_time` falls in, -1 before the first."""
        return bisect.bisect_right(self.day_starts, unix_time) - 1

    def counts(self, service: ServiceSpec, region: str) -> list[tuple[str, Counts]]:
        return [(name, self.history.counts[(name, region)]) for name in service.checks
                if (name, region) in self.history.counts]

    def in_maintenance(self, check: str) -> bool:
        found = self.checks.get(check)
        return found is not None and any(w.contains(self.at) for w in self.config.maintenance_of(found))

    def recent_steps(self, check: str) -> int:
        """How many of the last steps judge a check now: the consensus window, at least two of its intervals."""
        found = self.checks.get(check)
        interval = found.interval if found is not None else 0.0
        window_s = max(self.config.rules.consensus.for_, 2 * interval, self.history.step_s)
        return min(self.history.steps, math.ceil(window_s / self.history.step_s - 1e-9))

    def region_status(self, service: ServiceSpec, region: str) -> Status:
        judged = [(name, c) for name, c in self.counts(service, region) if not self.in_maintenance(name)]
        if not judged and all(self.in_maintenance(name) for name in service.checks):
            return Status.MAINTENANCE
        known, failing, slow = 0, 0, 0
        end = self.history.steps
        for name, c in judged:
            first = end - self.recent_steps(name)
            runs = sum(c.runs[first:end])
            if runs <= 0:
                continue
            known += 1
            failing += _failing(c, first, end)
            if c.within is not None and (runs - sum(c.within[first:end])) * 2 > runs:
                slow += 1
        if not known:
            return Status.UNKNOWN
        if failing:
            return Status.MAJOR if failing == known else Status.PARTIAL
        return Status.DEGRADED if slow else Status.OPERATIONAL

    def service_status(self, statuses: Sequence[Status]) -> Status:
        """Over the regions: major only where the consensus of regions holds; a region without data does not
        hide the others' verdict (it shows unknown in its own row)."""
        present = set(statuses)
        if sum(s is Status.MAJOR for s in statuses) >= self.min_regions:
            return Status.MAJOR
        for worst, shown in ((Status.MAJOR, Status.PARTIAL), (Status.PARTIAL, Status.PARTIAL),
                             (Status.DEGRADED, Status.DEGRADED), (Status.MAINTENANCE, Status.MAINTENANCE),
                             (Status.OPERATIONAL, Status.OPERATIONAL)):
            if worst in present:
                return shown
        return Status.UNKNOWN

    def region_view(self, service: ServiceSpec, region: str, incidents: Sequence[Incident]) -> RegionView:
        steps = self.history.steps
        pooled = _pool([c for _name, c in self.counts(service, region)], steps)
        day_runs = [0.0] * len(self.days)
        day_ok = [0.0] * len(self.days)
        day_sum = [0.0] * len(self.days)
        day_count = [0.0] * len(self.days)
        last_run_at: float | None = None
        latency_sum = latency_count = 0.0
        if pooled is not None:
            for i, day in enumerate(self.step_days):
                if day < 0:
                    continue
                day_runs[day] += pooled.runs[i]
                day_ok[day] += pooled.successes[i]
                day_sum[day] += pooled.duration_sum_s[i]
                day_count[day] += pooled.duration_count[i]
                if pooled.runs[i] > 0:
                    last_run_at = self.history.step_end(i)
                if self.history.step_end(i) > self.history.end - DAY_S:
                    latency_sum += pooled.duration_sum_s[i]
                    latency_count += pooled.duration_count[i]
        days = []
        for index, (date, start) in enumerate(self.days):
            end = self.days[index + 1][1] if index + 1 < len(self.days) else math.inf
            touched = tuple(i.id for i in incidents if service.id in i.services
                            and (not i.regions or region in i.regions)
                            and i.start < end and (i.end is None or i.end > start))
            days.append(Day(date, start, day_runs[index], day_ok[index],
                            day_sum[index] / day_count[index] if day_count[index] else None, touched))
        return RegionView(region, self.region_names[region], self.region_status(service, region), tuple(days),
                          latency_sum / latency_count if latency_count else None, last_run_at)

    def budgets(self, service: ServiceSpec) -> tuple[Budget, ...]:
        names = {service.group.name} if service.group is not None else set(service.checks)
        found = []
        for objective in objectives(self.config):
            if objective.slo not in names:
                continue
            first = max(0, self.history.steps - round(objective.window_s / self.history.step_s))
            good = total = 0.0
            for member in objective.members:
                for (check, _region), c in self.history.counts.items():
                    if check != member.check:
                        continue
                    steps = c.successes if objective.sli is Sli.AVAILABILITY else c.within
                    if steps is None:
                        continue
                    good += sum(steps[first:])
                    total += sum(c.runs[first:])
            found.append(Budget(objective.slo, objective.sli.value, objective.target, objective.window_s,
                                good / total if total else None))
        return tuple(found)

    def detected(self, service: ServiceSpec) -> list[Incident]:
        """The service's incidents: stretches of steps failing in `min_regions` regions or more."""
        lang = self.options.lang
        per_region = {region: self.counts(service, region) for region in self.region_names}
        found: list[Incident] = []
        open_at: int | None = None
        involved: set[str] = set()
        reasons: dict[str, float] = {}
        whole = False
        for index in range(self.history.steps + 1):
            failing: set[str] = set()
            all_checks = 0
            if index < self.history.steps:
                for region, counts in per_region.items():
                    down = [name for name, c in counts if _failing(c, index, index + 1)]
                    if down:
                        failing.add(region)
                        all_checks += len(down) == len(counts)
            if len(failing) >= self.min_regions:
                if open_at is None:
                    open_at, involved, reasons, whole = index, set(), {}, False
                involved |= failing
                whole = whole or all_checks >= self.min_regions
                for region in failing:
                    for _name, c in per_region[region]:
                        for reason, steps in c.failures_by_reason.items():
                            reasons[reason] = reasons.get(reason, 0.0) + steps[index]
            elif open_at is not None:
                ongoing = index == self.history.steps
                start = self.history.step_end(open_at) - self.history.step_s
                end = None if ongoing else self.history.step_end(index - 1)
                regions = tuple(r for r in self.region_names if r in involved)
                most = max(sorted(reasons), key=lambda r: reasons[r]) if reasons else None
                found.append(self._incident(service, regions, start, end, most, whole, lang))
                open_at = None
        return found

    def _incident(self, service: ServiceSpec, regions: tuple[str, ...], start: float, end: float | None,
                  reason: str | None, whole: bool, lang: str) -> Incident:
        where = ", ".join(self.region_names[r] for r in regions)
        detail = i18n.text(lang, "incident.detected", regions=where, reason=i18n.reason_text(lang, reason))
        updates = [Update(start, IncidentState.INVESTIGATING, f"<p>{_escape(detail)}</p>", detail)]
        if end is not None:
            recovered = i18n.text(lang, "incident.recovered")
            updates.insert(0, Update(end, IncidentState.RESOLVED, f"<p>{_escape(recovered)}</p>", recovered))
        return Incident(
            id=f"{service.id}-{dt.datetime.fromtimestamp(start, tz=dt.UTC):%Y%m%d-%H%M}",
            title=i18n.text(lang, "incident.detected_title", service=service.name, regions=where),
            services=(service.id,), regions=regions, start=start, end=end,
            state=IncidentState.RESOLVED if end is not None else IncidentState.INVESTIGATING,
            impact=Impact.MAJOR if whole else Impact.MINOR, reason=reason, updates=tuple(updates),
            detected=True, noted=False)

    def maintenance(self) -> tuple[Maintenance, ...]:
        """Windows ongoing at `at` or starting within `site.maintenance_ahead_days`, each once with every service
        it touches."""
        until = self.at + self.config.site.maintenance_ahead_days * DAY_S
        by_window: dict[tuple[str, float, float], set[str]] = {}
        for check in self.config.checks:
            touched = {s.id for s in self.services if check.name in s.checks}
            if not touched:
                continue
            for window in self.config.maintenance_of(check):
                for begin, end in window.occurrences(self.at, until):
                    by_window.setdefault((window.name, begin, end), set()).update(touched)
        order = [s.id for s in self.services]
        return tuple(
            Maintenance(f"{slug(name)}-{dt.datetime.fromtimestamp(begin, tz=dt.UTC):%Y%m%d-%H%M}", name,
                        tuple(s for s in order if s in services), begin, end)
            for (name, begin, end), services in sorted(by_window.items(), key=lambda item: (item[0][1], item[0][0])))


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _in_days(incident: Incident, first_day: float) -> bool:
    return incident.ongoing or incident.end is None or incident.end > first_day


def snapshot(config: AgentConfig, history: History | None, at: float, freshness: Freshness,
             notes: Sequence[Note] = (), options: SiteOptions = SiteOptions(), generated_at: float | None = None,
             ) -> Snapshot:
    """The site as of `at`. Without a history (Prometheus could not be read and nothing earlier is kept), every
    service shows unknown in every region, with no bars of data, never operational."""
    empty = History(*history_range(at, config.site.days, config.site.timezone, 300.0), 300.0, {})
    site = _Site(config, history if history is not None else empty, at, options)
    detected = [incident for service in site.services for incident in site.detected(service)]
    incidents = tuple(i for i in merge_incidents(detected, notes) if _in_days(i, site.days[0][1]))
    services = []
    for service in site.services:
        regions = tuple(site.region_view(service, region, incidents) for region in site.region_names)
        status = site.service_status([r.status for r in regions])
        if history is None or freshness.stale:
            regions = tuple(_unknown(r) for r in regions)
            status = Status.UNKNOWN
        services.append(ServiceView(service.id, service.name, service.description, service.checks, status, regions,
                                    site.budgets(service) if options.error_budget else ()))
    return Snapshot(
        title=config.site.title, description=config.site.description, url=config.site.url,
        timezone=config.site.timezone, lang=options.lang, at=at, generated_at=at if generated_at is None else
        generated_at, freshness=freshness, services=tuple(services), incidents=incidents,
        maintenance=site.maintenance(), region_names=dict(site.region_names), day_count=config.site.days)


def _unknown(region: RegionView) -> RegionView:
    return RegionView(region.region, region.name, Status.UNKNOWN, region.days, region.latency_s, region.last_run_at)
