"""What `prober report` reads from Prometheus: the agents' counters over a period, as increments per step.

It asks Prometheus' HTTP API for the raw cumulative counters of every series (query_range, one value per
step) and takes the differences itself, a counter reset (an agent restart) counting its new value: exact counts
with no rate() extrapolation at the period's edges. Then it sums the series by (check, region).
"""

from __future__ import annotations

import json
import math
import urllib.error
import urllib.parse
import urllib.request
from collections import defaultdict
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from prober.config.models import AgentConfig
from prober.slo.rules import check_matcher, le_matcher

MAX_POINTS = 10_000
"""Prometheus refuses more than 11,000 points per series per query; the step grows to stay under."""
TIMEOUT_S = 60.0
CHECKS_PER_QUERY = 200
"""Checks named in one query: keeps its URL a few KB long. A query that still loads more samples than the server's
--query.max-samples allows (50 million by default: 10,000 points of 5,000 series) is asked again in halves."""

Key = tuple[str, str]  # (check, region)


class PrometheusError(Exception):
    """Prometheus could not be reached or refused a query; the message says which and why."""


class TooManySamplesError(PrometheusError):
    """Prometheus refused a query that would load more samples than its --query.max-samples."""


class UnanchoredError(Exception):
    """A series that a history already held has no sample where a refresh begins: the increment at the end of
    its gap counts from a sample before the refresh, so only a whole fetch has it right."""


@dataclass
class Counts:
    """Increments of one (check, region) per step: runs, successes, runs within the latency threshold."""

    runs: list[float]
    successes: list[float]
    within: list[float] | None = None  # None: the check has no latency threshold
    failures_by_reason: dict[str, list[float]] = field(default_factory=dict)
    duration_sum_s: list[float] | None = None  # the duration histogram's _sum and _count, when fetched
    duration_count: list[float] | None = None


@dataclass
class History:
    """The counters of every check and region over [start, end), in steps of `step_s` (step i ends at
    start + (i + 1) * step_s)."""

    start: float
    end: float
    step_s: float
    counts: dict[Key, Counts]

    @property
    def steps(self) -> int:
        return round((self.end - self.start) / self.step_s)

    def step_end(self, index: int) -> float:
        return self.start + (index + 1) * self.step_s

    def of_checks(self, checks: Iterable[str]) -> list[Counts]:
        """The counts of these checks, every region."""
        wanted = set(checks)
        return [counts for (check, _region), counts in self.counts.items() if check in wanted]


class PrometheusClient:
    """The few calls of Prometheus' HTTP API the report needs (standard library only: the CLI is synchronous)."""

    def __init__(self, base_url: str, timeout_s: float = TIMEOUT_S) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout_s = timeout_s

    def query_range(self, expr: str, start: float, end: float, step_s: float) -> list[dict[str, Any]]:
        """The series of `expr` sampled at start, start + step, ... end; a range of more points than Prometheus
        answers at once is asked in pieces and joined, series by series."""
        pieces = [self._query_range(expr, begin, min(end, begin + (MAX_POINTS - 1) * step_s), step_s)
                  for begin in _piece_starts(start, end, step_s)]
        if len(pieces) == 1:
            return pieces[0]
        joined: dict[str, dict[str, Any]] = {}
        for piece in pieces:
            for one in piece:
                key = json.dumps(one["metric"], sort_keys=True)
                kept = joined.setdefault(key, {"metric": one["metric"], "values": []})
                last = kept["values"][-1][0] if kept["values"] else None
                kept["values"] += [v for v in one["values"] if last is None or v[0] > last]  # pieces share an end
        return list(joined.values())

    def _query_range(self, expr: str, start: float, end: float, step_s: float) -> list[dict[str, Any]]:
        params = urllib.parse.urlencode({"query": expr, "start": f"{start:.3f}", "end": f"{end:.3f}",
                                         "step": f"{step_s:g}"})
        url = f"{self.base_url}/api/v1/query_range?{params}"
        try:
            with urllib.request.urlopen(url, timeout=self.timeout_s) as response:
                answer = json.loads(response.read())
        except urllib.error.HTTPError as exc:
            error = _error_of(exc)
            kind = TooManySamplesError if "too many samples" in error else PrometheusError
            raise kind(f"{self.base_url}: {expr}: {error}") from None
        except (OSError, ValueError) as exc:
            raise PrometheusError(f"{self.base_url}: cannot query: {exc}") from None
        if answer.get("status") != "success":
            raise PrometheusError(f"{self.base_url}: {expr}: {answer.get('error', 'failed')}")
        return list(answer["data"]["result"])


def _piece_starts(start: float, end: float, step_s: float) -> list[float]:
    span = (MAX_POINTS - 1) * step_s
    count = max(1, math.ceil((end - start) / span - 1e-9))
    return [start + i * span for i in range(count)]


def _error_of(exc: urllib.error.HTTPError) -> str:
    try:
        return str(json.loads(exc.read()).get("error", exc))
    except ValueError:
        return str(exc)


def step_for(start: float, end: float, wanted_s: float) -> float:
    """The wanted step, or a longer whole-minute one that keeps a query under Prometheus' point limit."""
    return max(wanted_s, math.ceil((end - start) / MAX_POINTS / 60) * 60)


def increments(values: Iterable[tuple[float, str]], start: float, step_s: float, steps: int) -> list[float]:
    """Per-step increments of one cumulative counter from its query_range values (a reset counts the new value;
    a step with no sample adds nothing, and the increment shows once samples resume)."""
    out = [0.0] * steps
    previous: float | None = None
    for timestamp, text in values:
        value = float(text)
        index = round((timestamp - start) / step_s) - 1  # the step that ends at this sample's time
        if previous is not None and 0 <= index < steps:
            out[index] += value - previous if value >= previous else value
        previous = value
    return out


def increments_by(series: list[dict[str, Any]], start: float, step_s: float, steps: int,
                  labels: Sequence[str] = ("check", "region")) -> dict[tuple[str, ...], list[float]]:
    """Per-step increments of query_range series, each counter differenced on its own (so one agent's reset
    stays its own), then summed by the values of `labels` (a missing label reads "")."""
    summed: dict[tuple[str, ...], list[float]] = defaultdict(lambda: [0.0] * steps)
    for one in series:
        key = tuple(one["metric"].get(label, "") for label in labels)
        for i, value in enumerate(increments(one["values"], start, step_s, steps)):
            summed[key][i] += value
    return summed


def fetch(client: PrometheusClient, config: AgentConfig, start: float, end: float, step_s: float,
          durations: bool = False, anchored: Collection[tuple[str, ...]] = ()) -> History:
    """The counters of every check of `config` over [start, end) (with `durations`, the duration histogram's
    sum and count too); raises PrometheusError. The step grows to stay under Prometheus' point limit unless
    `durations` (then the range is asked in pieces: the caller's step is kept). A series of a key (check,
    region[, reason]) in `anchored` that has no sample at `start` raises UnanchoredError (see history_refresh.py)."""
    if not durations:
        step_s = step_for(start, end, step_s)
    steps = round((end - start) / step_s)
    names = [check.name for check in config.checks]
    if not names:
        return History(start, end, step_s, {})

    def counter(metric: str, extra: str | None = None, of: Sequence[str] = names,
                matcher: str = "") -> dict[tuple[str, ...], list[float]]:
        # values at start, start + step, ... end: the one at `start` is what the first step counts from
        labels = ("check", "region", *((extra,) if extra else ()))
        series = [one for first in range(0, len(of), CHECKS_PER_QUERY)
                  for one in _series_of(client, metric, f'job="{config.rules.job}", {matcher}',
                                        of[first:first + CHECKS_PER_QUERY], start, end, step_s)]
        for one in series:
            if float(one["values"][0][0]) > start + step_s / 2 and \
                    tuple(one["metric"].get(label, "") for label in labels) in anchored:
                raise UnanchoredError(f"{metric}{one['metric']} has no sample at the start")
        return increments_by(series, start, step_s, steps, labels)

    runs = counter("prober_check_runs_total")
    successes = counter("prober_check_successes_total")
    failures = counter("prober_check_failures_total", "reason")
    by_threshold: dict[float, list[str]] = defaultdict(list)  # checks that share a threshold share its queries
    for check in config.checks:
        if check.slo is not None and check.slo.latency is not None:
            by_threshold[check.slo.latency.threshold].append(check.name)
    within: dict[tuple[str, ...], list[float]] = {}
    for threshold, of in by_threshold.items():
        within.update(counter("prober_check_duration_seconds_bucket", None, of, f'le=~"{le_matcher(threshold)}", '))
    sums = counter("prober_check_duration_seconds_sum") if durations else {}
    runs_timed = counter("prober_check_duration_seconds_count") if durations else {}
    counts: dict[Key, Counts] = {}
    for key, run_steps in runs.items():
        name, region = key
        counts[(name, region)] = Counts(
            runs=run_steps, successes=successes.get(key, [0.0] * steps), within=within.get(key),
            failures_by_reason={reason: values for (c, r, reason), values in failures.items()
                                if (c, r) == (name, region)},
            duration_sum_s=sums.get(key, [0.0] * steps) if durations else None,
            duration_count=runs_timed.get(key, [0.0] * steps) if durations else None)
    return History(start, end, step_s, counts)


def _series_of(client: PrometheusClient, metric: str, matchers: str, names: Sequence[str], start: float, end: float,
               step_s: float) -> list[dict[str, Any]]:
    """query_range of `metric`{`matchers`, these checks}; asked again in halves while Prometheus says it would load
    too many samples (a single check's series that are still too many: its error stands)."""
    try:
        return client.query_range(f"{metric}{{{matchers}{check_matcher(names)}}}", start, end, step_s)
    except TooManySamplesError:
        if len(names) == 1:
            raise
    half = len(names) // 2
    return [*_series_of(client, metric, matchers, names[:half], start, end, step_s),
            *_series_of(client, metric, matchers, names[half:], start, end, step_s)]

