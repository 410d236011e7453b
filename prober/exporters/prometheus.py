"""Prometheus exporter: the agent's own counters, histograms and gauges, exported by a Collector.

It keeps state per check name, so a reload that keeps a check keeps its cumulative counters; only a check
removed from the config loses its series. Every metric and its HELP text is listed in
tests/golden/metrics.txt: change both together.
"""

from __future__ import annotations

import logging
import platform
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Protocol

from prometheus_client import CollectorRegistry
from prometheus_client.core import (
    CounterMetricFamily,
    Exemplar,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.exposition import choose_encoder

from prober import __version__
from prober.config.models import Check, HttpCheck
from prober.exporters.histogram import (
    CHECK_DURATION_BUCKETS_S,
    CLS_BUCKETS,
    PHASE_BUCKETS_S,
    SCHEDULE_LAG_BUCKETS_S,
    WEB_VITAL_BUCKETS_S,
    Histogram,
    buckets_with,
    format_le,
)
from prober.exporters.text_format import CONTENT_TYPE as TEXT_CONTENT_TYPE
from prober.exporters.text_format import render_text
from prober.result import Counted, PageEvent, Phase, Reason, Result, StepStatus, Vital

log = logging.getLogger("prober.exporter")

MAX_STEP_LABELS = 32
"""Distinct step names exported per check; a script that makes more (names built from data) shares one
`step="_other"` series for the rest, and a warning says so."""
OTHER_STEP = "_other"

BLACKBOX_PHASES = {
    Phase.DNS: "resolve", Phase.CONNECT: "connect", Phase.TLS: "tls", Phase.TTFB: "processing",
    Phase.TRANSFER: "transfer",
}
"""Our phase names -> blackbox_exporter's `probe_http_duration_seconds{phase}` names."""


def duration_buckets(check: Check) -> tuple[float, ...]:
    """The duration buckets of a check: the defaults plus its SLO latency threshold and max_duration."""
    threshold = check.slo.latency.threshold if check.slo and check.slo.latency else None
    max_duration = check.expect.max_duration if isinstance(check, HttpCheck) else None
    return buckets_with(CHECK_DURATION_BUCKETS_S, (threshold, max_duration))


class AgentState(Protocol):
    """What the agent knows beyond runs: its journey pool, its vantage point, its maintenance windows."""

    def browser_processes(self) -> int: ...

    def journey_workers(self) -> int: ...

    def journey_worker_restarts(self) -> dict[str, int]: ...

    def vantage_healthy(self) -> bool: ...

    def canary_results(self) -> dict[str, bool]: ...

    def in_maintenance(self, check: str) -> bool: ...


@dataclass
class _StepSeries:
    duration: Histogram = field(default_factory=lambda: Histogram(CHECK_DURATION_BUCKETS_S))
    failures: int = 0


@dataclass
class _CheckSeries:
    duration: Histogram
    runs: int = 0
    successes: int = 0
    attempts: int = 0
    skipped: int = 0
    inconclusive: int = 0
    maintenance_runs: int = 0
    failures: dict[Reason, int] = field(default_factory=dict)
    first_attempt_failures: dict[Reason, int] = field(default_factory=dict)
    phases: dict[Phase, Histogram] = field(default_factory=dict)
    steps: dict[str, _StepSeries] = field(default_factory=dict)
    vitals: dict[Vital, Histogram] = field(default_factory=dict)
    page_events: dict[PageEvent, int] = field(default_factory=dict)
    failure_exemplars: dict[Reason, Exemplar] = field(default_factory=dict)
    last: Result | None = None

    def step(self, check: str, name: str) -> _StepSeries:
        series = self.steps.get(name)
        if series is None:
            if len(self.steps) >= MAX_STEP_LABELS:
                if OTHER_STEP not in self.steps:
                    log.warning("too many step names: the rest are exported as step=\"_other\"",
                                extra={"check": check, "max_step_labels": MAX_STEP_LABELS})
                name = OTHER_STEP
            series = self.steps.setdefault(name, _StepSeries())
        return series


class PrometheusExporter:
    """A RunObserver that keeps what runs found, and a prometheus_client Collector that exports it."""

    def __init__(self, loop_lag_s: Callable[[], float], agent: AgentState | None = None) -> None:
        self._loop_lag_s = loop_lag_s
        self._agent = agent
        self._series: dict[str, _CheckSeries] = {}
        self._label_names: list[str] = ["region"]
        self._label_values: list[str] = ["local"]
        self._schedule_lag = Histogram(SCHEDULE_LAG_BUCKETS_S)
        self._in_flight = 0
        self._reload_ok = 0.0
        self._reload_success_ts = 0.0
        self._registry = CollectorRegistry(auto_describe=False)
        self._registry.register(self)

    # configuration -------------------------------------------------------------------------------------
    def configure(self, region: str, static_labels: Mapping[str, str], checks: list[Check]) -> None:
        """Adopt a newly loaded config: labels, buckets, and the set of checks that have series."""
        self._label_names = ["region", *sorted(static_labels)]
        self._label_values = [region, *(static_labels[k] for k in sorted(static_labels))]
        wanted = {check.name: check for check in checks}
        for name in list(self._series):
            if name not in wanted:
                del self._series[name]
        for name, check in wanted.items():
            bounds = duration_buckets(check)
            series = self._series.get(name)
            if series is None:
                self._series[name] = _CheckSeries(duration=Histogram(bounds))
            elif series.duration.bounds != bounds:
                series.duration = Histogram(bounds)  # new buckets cannot inherit old counts

    def reload_done(self, ok: bool) -> None:
        self._reload_ok = 1.0 if ok else 0.0
        if ok:
            self._reload_success_ts = time.time()

    # RunObserver ---------------------------------------------------------------------------------------
    def run_started(self, check: str, lag_s: float) -> None:
        self._in_flight += 1
        self._schedule_lag.observe(max(lag_s, 0.0))

    def run_finished(self, result: Result, first_attempt: Result) -> None:
        self._in_flight -= 1
        series = self._series.get(result.check)
        if series is None:  # the check was removed while this run was in flight
            return
        series.last = result
        if result.counted is Counted.INCONCLUSIVE:  # kept out of every SLI series
            series.inconclusive += 1
            return
        if result.counted is Counted.MAINTENANCE:
            series.maintenance_runs += 1
            return
        series.runs += 1
        series.attempts += result.attempts
        if result.ok:
            series.successes += 1
        else:
            series.failures[result.reason] = series.failures.get(result.reason, 0) + 1
            if result.journey is not None:  # a failure spike links to its artifacts by run id
                series.failure_exemplars[result.reason] = Exemplar({"run_id": result.journey.run_id}, 1.0,
                                                                   result.started_at)
        if not first_attempt.ok:
            reason = first_attempt.reason
            series.first_attempt_failures[reason] = series.first_attempt_failures.get(reason, 0) + 1
        series.duration.observe(result.duration_s)
        for phase, seconds in result.phases.items():
            histogram = series.phases.get(phase)
            if histogram is None:
                histogram = series.phases[phase] = Histogram(PHASE_BUCKETS_S)
            histogram.observe(seconds)
        if result.journey is not None:
            self._journey_finished(series, result)

    def _journey_finished(self, series: _CheckSeries, result: Result) -> None:
        assert result.journey is not None
        for step in result.journey.steps:
            if step.status is StepStatus.NOT_RUN:
                continue
            step_series = series.step(result.check, step.name)
            if step.duration_s is not None:
                step_series.duration.observe(step.duration_s)
            if step.status is not StepStatus.OK:
                step_series.failures += 1
        for load in result.journey.page_loads:
            for vital, value in load.items():
                histogram = series.vitals.get(vital)
                if histogram is None:
                    histogram = series.vitals[vital] = Histogram(CLS_BUCKETS if vital is Vital.CLS
                                                                 else WEB_VITAL_BUCKETS_S)
                histogram.observe(value)
        for event, count in result.journey.page_events.items():
            series.page_events[event] = series.page_events.get(event, 0) + count

    def run_skipped(self, check: str, slots: int) -> None:
        series = self._series.get(check)
        if series is not None:
            series.skipped += slots

    # exposition ----------------------------------------------------------------------------------------
    def render(self, accept: str | None) -> tuple[bytes, str]:
        """The exposition body and its content type, OpenMetrics when the scraper asks for it."""
        encoder, content_type = choose_encoder(accept or "")
        if content_type.startswith("application/openmetrics-text"):
            return encoder(self._registry), content_type
        return render_text(self.collect()), TEXT_CONTENT_TYPE

    def collect(self) -> Iterator[Metric]:
        base_names, base = self._label_names, self._label_values
        names = ["check", *base_names]

        def counter(name: str, doc: str, extra: tuple[str, ...] = ()) -> CounterMetricFamily:
            return CounterMetricFamily(name, doc, labels=[*names, *extra])

        def gauge(name: str, doc: str, extra: tuple[str, ...] = (), agent: bool = False) -> GaugeMetricFamily:
            return GaugeMetricFamily(name, doc, labels=[*(base_names if agent else names), *extra])

        runs = counter("prober_check_runs_total",
                       "Finished runs of the check that count toward its SLIs, each once after its attempts "
                       "(inconclusive and maintenance runs are counted apart). Cumulative.")
        successes = counter("prober_check_successes_total",
                            "Finished runs counted toward the SLIs that succeeded. Cumulative; present from the "
                            "start (0), so rate() sees the first failure however soon it comes.")
        failures = counter("prober_check_failures_total",
                           "Finished runs counted toward the SLIs that failed, by reason of the final attempt. "
                           "Cumulative.",
                           ("reason",))
        first_failures = counter("prober_check_first_attempt_failures_total",
                                 "Runs counted toward the SLIs whose first attempt failed, by its reason, even if a "
                                 "retry passed.",
                                 ("reason",))
        attempts = counter("prober_check_attempts_total", "Attempts made by the check, every retry counted.")
        inconclusive = counter("prober_check_inconclusive_total",
                               "Finished runs kept out of the SLIs because this agent's vantage point was unhealthy "
                               "(every canary failed). Cumulative.")
        maintenance_runs = counter("prober_check_maintenance_runs_total",
                                   "Finished runs kept out of the SLIs because they fell in a maintenance window. "
                                   "Cumulative.")
        in_maintenance = gauge("prober_check_in_maintenance",
                               "Whether the check is inside one of its maintenance windows now (1) or not (0).")
        skipped = counter("prober_check_skipped_total",
                          "Scheduled runs that did not happen: the previous run was still going or the agent "
                          "fell behind. Never caught up later.")
        duration = HistogramMetricFamily("prober_check_duration_seconds",
                                         "Duration of finished runs counted toward the SLIs (the final "
                                         "attempt), in seconds.", labels=names)
        phase_hist = HistogramMetricFamily("prober_http_phase_duration_seconds",
                                           "Duration of each HTTP phase that happened, summed over redirects, "
                                           "in seconds.", labels=[*names, "phase"])
        success = gauge("probe_success", "Whether the last finished run of the check succeeded (1) or not (0).")
        probe_duration = gauge("probe_duration_seconds", "Duration of the last finished run of the check, in seconds.")
        status_code = gauge("probe_http_status_code", "HTTP status code of the last run's final response (0: none).")
        bb_phases = gauge("probe_http_duration_seconds",
                          "Duration of each HTTP phase of the last run, in seconds (blackbox_exporter names).",
                          ("phase",))
        cert_expiry = gauge("probe_ssl_earliest_cert_expiry",
                            "Expiry of the leaf TLS certificate seen by the last TLS run, as a unix timestamp.")
        step_duration = HistogramMetricFamily("prober_step_duration_seconds",
                                              "Duration of each journey step that ran (passed or failed), in "
                                              "seconds.", labels=[*names, "step"])
        step_failures = counter("prober_step_failures_total",
                                "Journey steps that failed (soft failures included). Cumulative.", ("step",))
        vitals = HistogramMetricFamily("prober_browser_web_vital",
                                       "Web vitals of each page load in browser journeys: ttfb, fcp, lcp and inp in "
                                       "seconds, cls unitless (its own buckets).", labels=[*names, "vital"])
        page_events = counter("prober_browser_page_events_total",
                              "Uncaught page exceptions, console errors and failed requests (no response) seen "
                              "by browser journeys. Cumulative.", ("kind",))
        for name, series in self._series.items():
            labels = [name, *base]
            runs.add_metric(labels, series.runs)
            successes.add_metric(labels, series.successes)
            attempts.add_metric(labels, series.attempts)
            skipped.add_metric(labels, series.skipped)
            inconclusive.add_metric(labels, series.inconclusive)
            maintenance_runs.add_metric(labels, series.maintenance_runs)
            if self._agent is not None:
                in_maintenance.add_metric(labels, 1.0 if self._agent.in_maintenance(name) else 0.0)
            for reason, count in series.failures.items():
                failures.add_metric([*labels, reason.value], count, exemplar=series.failure_exemplars.get(reason))
            for step, step_series in series.steps.items():
                step_duration.add_metric([*labels, step], _buckets(step_series.duration),
                                         step_series.duration.total)
                step_failures.add_metric([*labels, step], step_series.failures)
            for vital, histogram in series.vitals.items():
                vitals.add_metric([*labels, vital.value], _buckets(histogram), histogram.total)
            for event, count in series.page_events.items():
                page_events.add_metric([*labels, event.value], count)
            for reason, count in series.first_attempt_failures.items():
                first_failures.add_metric([*labels, reason.value], count)
            duration.add_metric(labels, _buckets(series.duration), series.duration.total)
            for phase, histogram in series.phases.items():
                phase_hist.add_metric([*labels, phase.value], _buckets(histogram), histogram.total)
            last = series.last
            if last is None:
                continue
            success.add_metric(labels, 1.0 if last.ok else 0.0)
            probe_duration.add_metric(labels, last.duration_s)
            status_code.add_metric(labels, float(last.status_code or 0))
            for phase, seconds in last.phases.items():
                bb_phases.add_metric([*labels, BLACKBOX_PHASES[phase]], seconds)
            if last.cert_not_after is not None:
                cert_expiry.add_metric(labels, last.cert_not_after)
        yield from (runs, successes, failures, first_failures, attempts, skipped, inconclusive, maintenance_runs,
                    in_maintenance, duration, phase_hist,
                    success, probe_duration, status_code, bb_phases, cert_expiry,
                    step_duration, step_failures, vitals, page_events)
        if self._agent is not None:
            yield from self._collect_agent_state(gauge, base, base_names)

        lag = HistogramMetricFamily("prober_schedule_lag_seconds",
                                    "Delay between a run's scheduled time and its start, in seconds.",
                                    labels=base_names)
        lag.add_metric(base, _buckets(self._schedule_lag), self._schedule_lag.total)
        yield lag
        for metric_name, doc, value in (
            ("prober_event_loop_lag_seconds", "How late the event loop woke a timer at the last measurement, "
                                              "in seconds.", self._loop_lag_s()),
            ("prober_runs_in_flight", "Runs in progress now.", float(self._in_flight)),
            ("prober_checks_configured", "Checks this agent runs in its region under the loaded config.",
             float(len(self._series))),
            ("prober_config_last_reload_successful", "Whether the last config load or reload succeeded (1) or "
                                                     "not (0).", self._reload_ok),
            ("prober_config_last_reload_success_timestamp_seconds", "Unix time of the last successful config "
                                                                    "load or reload.", self._reload_success_ts),
        ):
            metric = gauge(metric_name, doc, agent=True)
            metric.add_metric(base, value)
            yield metric
        info = gauge("prober_build_info", "Always 1; labelled with the agent's version and Python version.",
                     ("version", "python_version"), agent=True)
        info.add_metric([*base, __version__, platform.python_version()], 1.0)
        yield info

    def _collect_agent_state(
        self, gauge: Callable[..., GaugeMetricFamily], base: list[str], base_names: list[str]
    ) -> Iterator[Metric]:
        agent = self._agent
        assert agent is not None
        vantage = gauge("prober_agent_vantage_healthy", "Whether this agent's vantage point is healthy (1: a canary "
                        "answers, or no canaries are configured) or not (0: runs end inconclusive).", agent=True)
        vantage.add_metric(base, 1.0 if agent.vantage_healthy() else 0.0)
        canaries = gauge("prober_canary_success", "Whether the canary's last run succeeded (1) or not (0).",
                         ("canary",), agent=True)
        for canary, ok in sorted(agent.canary_results().items()):
            canaries.add_metric([*base, canary], 1.0 if ok else 0.0)
        yield from (vantage, canaries)
        browsers = gauge("prober_browser_processes", "Browser processes of this agent's journey workers, orphans "
                         "of dead workers included: a leak shows here first.", agent=True)
        browsers.add_metric(base, float(agent.browser_processes()))
        workers = gauge("prober_journey_workers", "Journey worker processes running now.", agent=True)
        workers.add_metric(base, float(agent.journey_workers()))
        restarts = CounterMetricFamily("prober_journey_worker_restarts_total",
                                       "Journey workers replaced, by cause: runs or memory (recycled), config, "
                                       "died, hung (killed past a timeout), start. Cumulative.",
                                       labels=[*base_names, "cause"])
        for cause, count in sorted(agent.journey_worker_restarts().items()):
            restarts.add_metric([*base, cause], count)
        yield from (browsers, workers, restarts)


def _buckets(histogram: Histogram) -> list[tuple[str, float]]:
    return [(format_le(bound), float(count)) for bound, count in histogram.cumulative()]
