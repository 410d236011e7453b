"""What a status site shows, as pure data: every service's status per region now, its daily availability, its
latency, the incidents (detected and written), the maintenance ahead and, when the data is not current, since
when. `prober/site/snapshot.py` computes it from the counters; the renderers (html, Statuspage API, Atom) only
read it, so each number on every page comes from one place."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Status(StrEnum):
    """A service's state in a region, in Statuspage's component vocabulary, plus `unknown` (no current data:
    never shown as operational)."""

    OPERATIONAL = "operational"
    DEGRADED = "degraded_performance"  # runs succeed, but too many are over the latency threshold
    PARTIAL = "partial_outage"  # some of the service's checks fail here, or it fails in fewer regions than consensus
    MAJOR = "major_outage"  # every check of the service fails here
    MAINTENANCE = "under_maintenance"
    UNKNOWN = "unknown"


SEVERITY = {Status.OPERATIONAL: 0, Status.MAINTENANCE: 1, Status.UNKNOWN: 2, Status.DEGRADED: 3,
            Status.PARTIAL: 4, Status.MAJOR: 5}
"""Worst first when a service's regions are summed up (max of this)."""


class IncidentState(StrEnum):
    """Statuspage's incident states."""

    INVESTIGATING = "investigating"
    IDENTIFIED = "identified"
    MONITORING = "monitoring"
    RESOLVED = "resolved"
    POSTMORTEM = "postmortem"


ACTIVE_STATES = frozenset({IncidentState.INVESTIGATING, IncidentState.IDENTIFIED, IncidentState.MONITORING})


class Impact(StrEnum):
    NONE = "none"
    MINOR = "minor"
    MAJOR = "major"
    CRITICAL = "critical"


@dataclass(frozen=True)
class Day:
    """One day (in the site's timezone) of a service in a region: its runs pooled over the service's checks."""

    date: str  # YYYY-MM-DD, the site's timezone
    start: float  # unix time of the day's local midnight
    runs: float
    successes: float
    mean_duration_s: float | None  # None: no run that day
    incidents: tuple[str, ...]  # ids of incidents that touched this service and region that day

    @property
    def availability(self) -> float | None:
        """successes / runs, or None when nothing ran (never read as 100%)."""
        return self.successes / self.runs if self.runs else None


@dataclass(frozen=True)
class RegionView:
    region: str  # the agents' agent.region
    name: str  # as the site names it
    status: Status
    days: tuple[Day, ...]  # oldest first, exactly the site's `days`
    latency_s: float | None  # mean run duration over the last 24 hours, None without runs
    last_run_at: float | None  # end of the last step with a run

    @property
    def availability(self) -> float | None:
        """Over all the days shown."""
        runs = sum(d.runs for d in self.days)
        return sum(d.successes for d in self.days) / runs if runs else None


@dataclass(frozen=True)
class Budget:
    """An SLO's error budget over its window, ending now."""

    slo: str
    sli: str  # availability | latency
    target: float  # ratio, e.g. 0.995
    window_s: float
    measured: float | None  # the SLI over the window, None without runs

    @property
    def left(self) -> float | None:
        """1 - consumed: 1.0 is untouched, 0 spent, below 0 overspent; None without runs."""
        return None if self.measured is None else 1 - (1 - self.measured) / (1 - self.target)


@dataclass(frozen=True)
class ServiceView:
    id: str  # a slug of the name: stable across runs (URLs, API ids)
    name: str
    description: str
    checks: tuple[str, ...]  # never shown on the public pages; the API's ids derive from names, not these
    status: Status  # over its regions: major only where the consensus of regions holds
    regions: tuple[RegionView, ...]
    budgets: tuple[Budget, ...]  # empty unless the error-budget view is on


@dataclass(frozen=True)
class Update:
    at: float
    state: IncidentState
    html: str  # rendered from Markdown; safe (no raw HTML from notes)
    text: str  # the same as plain text (feeds, chat)


@dataclass(frozen=True)
class Incident:
    """An incident as the site shows it: detected from the counters, written in a note, or both merged."""

    id: str  # stable: derived from its first service and start
    title: str
    services: tuple[str, ...]  # service ids
    regions: tuple[str, ...]  # region ids where the counters saw it (empty for a note alone)
    start: float
    end: float | None  # None: ongoing
    state: IncidentState
    impact: Impact
    reason: str | None  # the reason of most failed runs (detected), e.g. "timeout"
    updates: tuple[Update, ...]  # newest first
    detected: bool  # the counters saw it
    noted: bool  # a person wrote about it

    @property
    def duration_s(self) -> float | None:
        return None if self.end is None else self.end - self.start

    @property
    def ongoing(self) -> bool:
        """Not over: the counters still see it (no end), or people still work on it."""
        return self.end is None or self.state in ACTIVE_STATES

    @property
    def updated_at(self) -> float:
        """When it last changed: the latest of its start, its updates and its end."""
        return max([self.start, *(u.at for u in self.updates), *([] if self.end is None else [self.end])])


@dataclass(frozen=True)
class Maintenance:
    """A planned maintenance window, ongoing or ahead."""

    id: str
    name: str
    services: tuple[str, ...]  # service ids
    start: float
    end: float

    def ongoing(self, at: float) -> bool:
        return self.start <= at < self.end


@dataclass(frozen=True)
class Freshness:
    """Whether the data is current. `stale_reason` is None when it is; `fresh_at` is when it last was
    (None: never, as far as this site knows)."""

    fresh_at: float | None
    stale_reason: str | None

    @property
    def stale(self) -> bool:
        return self.stale_reason is not None


@dataclass(frozen=True)
class Snapshot:
    """Everything one rendering of the site shows, as of `at`."""

    title: str
    description: str
    url: str | None  # public base URL, or None (relative links)
    timezone: str
    lang: str  # en | zh
    at: float  # the moment the site describes
    generated_at: float
    freshness: Freshness
    services: tuple[ServiceView, ...]
    incidents: tuple[Incident, ...]  # newest first: ongoing, then past (within the days shown)
    maintenance: tuple[Maintenance, ...]  # ongoing and ahead, soonest first
    region_names: dict[str, str]  # region id -> public name, in the site's order
    day_count: int

    @property
    def ongoing(self) -> tuple[Incident, ...]:
        return tuple(i for i in self.incidents if i.ongoing)

    @property
    def status(self) -> Status:
        """The whole site's worst service status (unknown when stale)."""
        if self.freshness.stale:
            return Status.UNKNOWN
        return max((s.status for s in self.services), key=SEVERITY.__getitem__, default=Status.OPERATIONAL)
