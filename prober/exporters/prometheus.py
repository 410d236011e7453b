"""Prometheus exporter: the agent's own counters, histograms and gauges, and /metrics in both formats.

It keeps state per check name, so a reload that keeps a check keeps its cumulative counters; only a check
removed from the config loses its series. Each check's sample lines are cached until it runs again
(exporters.check_series), so a scrape renders only what changed. Every metric and its HELP text is listed in
tests/golden/metrics.txt: change both together.
"""

from __future__ import annotations

import platform
import time
from collections.abc import Callable, Collection, Mapping
from typing import Protocol

from prober import __version__
from prober.config.models import Check
from prober.exporters.check_series import FAILURES, IN_MAINTENANCE, CheckSeries, check_families
from prober.exporters.exposition import (
    EOF,
    OPENMETRICS_CONTENT_TYPE,
    TEXT_CONTENT_TYPE,
    Family,
    histogram_lines,
    histogram_prefixes,
    label_pairs,
    number,
    wants_openmetrics,
)
from prober.exporters.histogram import SCHEDULE_LAG_BUCKETS_S, Histogram
from prober.result import Result

VANTAGE = Family("prober_agent_vantage_healthy", "gauge",
                 "Whether this agent's vantage point is healthy (1: a canary answers, or no canaries are configured) "
                 "or not (0: runs end inconclusive).")
CANARY = Family("prober_canary_success", "gauge", "Whether the canary's last run succeeded (1) or not (0).")
BROWSERS = Family("prober_browser_processes", "gauge",
                  "Browser processes of this agent's journey workers, orphans of dead workers included: a leak "
                  "shows here first.")
JOURNEY_WORKERS = Family("prober_journey_workers", "gauge", "Journey worker processes running now.")
JOURNEY_RESTARTS = Family("prober_journey_worker_restarts", "counter",
                          "Journey workers replaced, by cause: runs or memory (recycled), config, died, hung (killed "
                          "past a timeout), start. Cumulative.")
PROBE_WORKERS = Family("prober_probe_workers", "gauge", "Probe worker processes running now.")
PROBE_RESTARTS = Family("prober_probe_worker_restarts", "counter",
                        "Probe workers replaced, by cause: died, hung (its loop answered nothing for 10 s), start. "
                        "Their in-flight runs ended as reason internal. Cumulative.")
SCHEDULE_LAG = Family("prober_schedule_lag_seconds", "histogram",
                      "Delay between a run's scheduled time and its start, in seconds.")
LOOP_LAG = Family("prober_event_loop_lag_seconds", "gauge",
                  "How late the agent's event loops (the main process's and each probe worker's) woke a timer at "
                  "their last measurement, the latest of them, in seconds.")
IN_FLIGHT = Family("prober_runs_in_flight", "gauge", "Runs in progress now.")
CONFIGURED = Family("prober_checks_configured", "gauge", "Checks this agent runs in its region under the loaded "
                    "config.")
RELOAD_OK = Family("prober_config_last_reload_successful", "gauge",
                   "Whether the last config load or reload succeeded (1) or not (0).")
RELOAD_TS = Family("prober_config_last_reload_success_timestamp_seconds", "gauge",
                   "Unix time of the last successful config load or reload.")
BUILD_INFO = Family("prober_build_info", "gauge", "Always 1; labelled with the agent's version and Python version.")


class AgentState(Protocol):
    """What the agent knows beyond runs: its journey pool, its vantage point, its maintenance windows."""

    def browser_processes(self) -> int: ...

    def journey_workers(self) -> int: ...

    def journey_worker_restarts(self) -> dict[str, int]: ...

    def vantage_healthy(self) -> bool: ...

    def canary_results(self) -> dict[str, bool]: ...

    def in_maintenance(self, check: str) -> bool: ...

    def probe_workers(self) -> int: ...

    def probe_worker_restarts(self) -> dict[str, int]: ...


class PrometheusExporter:
    """A RunObserver that keeps what runs found, and renders it as Prometheus text or OpenMetrics."""

    def __init__(self, loop_lag_s: Callable[[], float], agent: AgentState | None = None) -> None:
        self._loop_lag_s = loop_lag_s
        self._agent = agent
        self._series: dict[str, CheckSeries] = {}
        self._maintained: list[CheckSeries] = []
        self._families = check_families(False)
        self._base: list[tuple[str, str]] = [("region", "local")]
        self._base_labels = label_pairs(self._base)
        self._schedule_lag = Histogram(SCHEDULE_LAG_BUCKETS_S)
        self._in_flight = 0
        self._reload_ok = 0
        self._reload_success_ts = 0.0

    # configuration -------------------------------------------------------------------------------------
    def configure(self, region: str, static_labels: Mapping[str, str], checks: list[Check], *,
                  phase_histograms: bool = False, maintained: Collection[str] = ()) -> None:
        """Adopt a newly loaded config: labels (the agent's, then each check's own), buckets, the set of checks that
        have series, and which of them have maintenance windows (only those export `prober_check_in_maintenance`)."""
        self._base = [("region", region), *sorted(static_labels.items())]
        self._base_labels = label_pairs(self._base)
        self._families = check_families(phase_histograms)
        wanted = {check.name: check for check in checks}
        for name in list(self._series):
            if name not in wanted:
                del self._series[name]
        for name, check in wanted.items():
            labels = [("check", name), *self._base, *sorted(check.labels.items())]  # the check's own last
            series = self._series.get(name)
            if series is None:
                self._series[name] = CheckSeries(check, labels, phase_histograms)
            else:
                series.relabel(check, labels, phase_histograms)
        self._maintained = [self._series[name] for name in maintained if name in self._series]
        for series in self._maintained:
            series.in_maintenance = f"{IN_MAINTENANCE.sample}{{{series.labels}}} "

    def reload_done(self, ok: bool) -> None:
        self._reload_ok = 1 if ok else 0
        if ok:
            self._reload_success_ts = time.time()

    # RunObserver ---------------------------------------------------------------------------------------
    def run_started(self, check: str, lag_s: float) -> None:
        self._in_flight += 1
        self._schedule_lag.observe(max(lag_s, 0.0))

    def run_finished(self, result: Result, first_attempt: Result) -> None:
        self._in_flight -= 1
        series = self._series.get(result.check)
        if series is not None:  # None: the check was removed while this run was in flight
            series.finished(result, first_attempt)

    def run_skipped(self, check: str, slots: int) -> None:
        series = self._series.get(check)
        if series is not None:
            series.skipped_slots(slots)

    # exposition ----------------------------------------------------------------------------------------
    def render(self, accept: str | None) -> tuple[bytes, str]:
        """The exposition body and its content type, OpenMetrics when the scraper asks for it."""
        openmetrics = wants_openmetrics(accept)
        out: list[str] = []
        series = list(self._series.values())
        lines = [s.lines() for s in series]
        for index, family in enumerate(self._families):
            if family is IN_MAINTENANCE:
                assert self._agent is not None or not self._maintained
                body = "".join(f"{s.in_maintenance}{1 if self._agent.in_maintenance(s.check.name) else 0}\n"
                               for s in self._maintained) if self._agent is not None else ""
            elif family is FAILURES and openmetrics:
                body = "".join(s.failures_openmetrics() for s in series)
            else:
                body = "".join([check_lines[index] for check_lines in lines])
            if body:
                out += (family.header(openmetrics), body)
        out += self._agent_lines(openmetrics)
        if openmetrics:
            out.append(EOF)
        return "".join(out).encode(), OPENMETRICS_CONTENT_TYPE if openmetrics else TEXT_CONTENT_TYPE

    def _agent_lines(self, openmetrics: bool) -> list[str]:
        base = self._base_labels
        out: list[str] = []

        def one(family: Family, value: float, extra: str = "") -> None:
            out.append(family.header(openmetrics))
            out.append(f"{family.sample}{{{base}{extra}}} {number(value)}\n")

        def by(family: Family, label: str, values: Mapping[str, float]) -> None:
            out.append(family.header(openmetrics))
            out.extend(f'{family.sample}{{{base},{label}="{key}"}} {number(value)}\n'
                       for key, value in sorted(values.items()))

        agent = self._agent
        if agent is not None:
            one(VANTAGE, 1 if agent.vantage_healthy() else 0)
            by(CANARY, "canary", {name: 1 if ok else 0 for name, ok in agent.canary_results().items()})
            one(BROWSERS, agent.browser_processes())
            one(JOURNEY_WORKERS, agent.journey_workers())
            by(JOURNEY_RESTARTS, "cause", agent.journey_worker_restarts())
            one(PROBE_WORKERS, agent.probe_workers())
            by(PROBE_RESTARTS, "cause", agent.probe_worker_restarts())
        out.append(SCHEDULE_LAG.header(openmetrics))
        out.append(histogram_lines(histogram_prefixes(SCHEDULE_LAG.name, base, SCHEDULE_LAG_BUCKETS_S),
                                   self._schedule_lag.counts, self._schedule_lag.total))
        one(LOOP_LAG, self._loop_lag_s())
        one(IN_FLIGHT, self._in_flight)
        one(CONFIGURED, len(self._series))
        one(RELOAD_OK, self._reload_ok)
        one(RELOAD_TS, self._reload_success_ts)
        one(BUILD_INFO, 1, f',{label_pairs([("version", __version__), ("python_version", platform.python_version())])}')
        return out
