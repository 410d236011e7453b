"""`prober report --compare LABEL=VALUE`: the checks whose `labels:` hold that value (`group=competitors`) side
by side over the period: availability, duration p90 and, for browser checks, LCP p75, for every vantage point
together, per region, and per value of each agent label of `rules.group_by` (`isp` when it names none).

The runs are counted as the rest of the report counts them (exact increments of each raw counter, a reset
counting its new value), and each percentile comes from the period's increments of the histogram's buckets,
interpolated inside its bucket as Prometheus' histogram_quantile() does: a month's p90 is the month's, never an
average of hourly ones. A vantage point without runs has no row, never a 100% one.
"""

from __future__ import annotations

import math
import re
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from itertools import accumulate

from prober.config.check_base import LABEL_NAME_RE
from prober.config.models import AgentConfig
from prober.report.analysis import Ratio
from prober.report.history import PrometheusClient, increments_by, step_for
from prober.slo.rules import BROWSER_TYPES, check_matcher

ALL, REGION = "all", "region"
"""The views that every comparison has: every vantage point pooled, and per region."""
DEFAULT_GROUP_BY = ("isp",)
DURATION_QUANTILE, LCP_QUANTILE = 0.9, 0.75

Key = tuple[str, ...]  # (check, region, *group_by values)


class NothingToCompareError(Exception):
    """No check of the config carries the label value that --compare asks for; the message lists what there is."""


@dataclass(frozen=True)
class LabelSelector:
    """`group=competitors`: a check label's name and the value that the compared checks have."""

    label: str
    value: str

    @classmethod
    def parse(cls, text: str) -> LabelSelector:
        """Raises ValueError on anything but LABEL=VALUE with a valid label name."""
        name, sep, value = text.partition("=")
        if not sep or not value or not re.match(LABEL_NAME_RE, name):
            raise ValueError(f"expected LABEL=VALUE such as group=competitors (got {text!r})")
        return cls(name, value)

    def __str__(self) -> str:
        return f"{self.label}={self.value}"


@dataclass(frozen=True)
class ComparedCheck:
    name: str
    site: str | None  # its `site` label, the name a reader knows it by
    browser: bool  # a page or journey check: its page loads have an LCP


@dataclass(frozen=True)
class ComparisonRow:
    check: ComparedCheck
    vantage: str  # the region or agent label value of the row's view ("" for the whole, or agents without it)
    availability: Ratio
    duration_p90_s: float | None
    lcp_p75_s: float | None  # browser checks with page loads only


@dataclass(frozen=True)
class ComparisonView:
    by: str  # ALL, REGION or an agent label name
    rows: tuple[ComparisonRow, ...]


@dataclass(frozen=True)
class Comparison:
    selector: LabelSelector
    checks: tuple[ComparedCheck, ...]
    views: tuple[ComparisonView, ...]


@dataclass(frozen=True)
class Totals:
    """The period's increments per (check, region, *group_by): runs, successes, and per bucket (`le` last)."""

    runs: Mapping[Key, float]
    successes: Mapping[Key, float]
    durations: Mapping[Key, float]
    lcp: Mapping[Key, float]


def compared_checks(config: AgentConfig, selector: LabelSelector) -> tuple[ComparedCheck, ...]:
    """The checks whose label matches, in config order; raises NothingToCompareError when none does."""
    found = tuple(ComparedCheck(c.name, c.labels.get("site"), c.type in BROWSER_TYPES) for c in config.checks
                  if c.labels.get(selector.label) == selector.value)
    if not found:
        values = sorted({c.labels[selector.label] for c in config.checks if selector.label in c.labels})
        have = f"the values of {selector.label} are {', '.join(values)}" if values else (
            f"no check has a {selector.label!r} label")
        raise NothingToCompareError(f"--compare {selector}: no check has that label value ({have})")
    return found


def group_by(config: AgentConfig) -> tuple[str, ...]:
    """The agent labels a comparison splits by: `rules.group_by`, or `isp`."""
    return tuple(config.rules.group_by) or DEFAULT_GROUP_BY


def fetch_comparison(client: PrometheusClient, config: AgentConfig, selector: LabelSelector, start: float,
                     end: float, step_s: float) -> Comparison:
    """The comparison over [start, end); raises NothingToCompareError, or PrometheusError from the client."""
    checks = compared_checks(config, selector)
    labels = ("check", "region", *group_by(config))
    step_s = step_for(start, end, step_s)
    steps = round((end - start) / step_s)
    sel = f'job="{config.rules.job}", {check_matcher(c.name for c in checks)}'

    def totals(expr: str, extra: tuple[str, ...] = ()) -> dict[Key, float]:
        series = client.query_range(expr, start, end, step_s)
        return {key: sum(values) for key, values in
                increments_by(series, start, step_s, steps, (*labels, *extra)).items()}

    lcp = totals(f'prober_browser_web_vital_bucket{{{sel}, vital="lcp"}}', ("le",)) if any(
        c.browser for c in checks) else {}
    found = Totals(runs=totals(f"prober_check_runs_total{{{sel}}}"),
                   successes=totals(f"prober_check_successes_total{{{sel}}}"),
                   durations=totals(f"prober_check_duration_seconds_bucket{{{sel}}}", ("le",)), lcp=lcp)
    return compare(selector, checks, group_by(config), found)


def compare(selector: LabelSelector, checks: Sequence[ComparedCheck], labels: Sequence[str],
            totals: Totals) -> Comparison:
    """The views of `totals` (keys: check, region, *labels): all, per region, per label that some agent has."""
    views = [ComparisonView(ALL, _rows(checks, totals, None)), ComparisonView(REGION, _rows(checks, totals, 1))]
    for index, label in enumerate(labels, start=2):
        if any(key[index] for key in totals.runs):  # no agent has the label: no view of it
            views.append(ComparisonView(label, _rows(checks, totals, index)))
    return Comparison(selector, tuple(checks), tuple(views))


def _rows(checks: Sequence[ComparedCheck], totals: Totals, position: int | None) -> tuple[ComparisonRow, ...]:
    """One row per vantage value (the key's `position`, or one for all) and check, sorted by vantage."""

    def vantage(key: Key) -> str:
        return "" if position is None else key[position]

    def pooled(counts: Mapping[Key, float]) -> dict[tuple[str, str], float]:
        out: dict[tuple[str, str], float] = defaultdict(float)
        for key, value in counts.items():
            out[(key[0], vantage(key))] += value
        return out

    def pooled_buckets(counts: Mapping[Key, float]) -> dict[tuple[str, str], dict[float, float]]:
        out: dict[tuple[str, str], dict[float, float]] = defaultdict(lambda: defaultdict(float))
        for key, value in counts.items():
            out[(key[0], vantage(key))][float(key[-1])] += value  # `le` is the key's last label
        return out

    runs, successes = pooled(totals.runs), pooled(totals.successes)
    durations, lcp = pooled_buckets(totals.durations), pooled_buckets(totals.lcp)
    order = {check.name: index for index, check in enumerate(checks)}
    rows = []
    # no runs somewhere in the period: no row there (never a 100% one)
    measured = sorted((where, order[name]) for (name, where), count in runs.items() if count > 0 and name in order)
    for where, index in measured:
        check = checks[index]
        key = (check.name, where)
        rows.append(ComparisonRow(
            check, where, Ratio(successes.get(key, 0.0), runs[key]),
            bucket_quantile(DURATION_QUANTILE, durations.get(key, {})),
            bucket_quantile(LCP_QUANTILE, lcp.get(key, {})) if check.browser else None))
    return tuple(rows)


def bucket_quantile(q: float, buckets: Mapping[float, float]) -> float | None:
    """The q-quantile (0 < q < 1) of a classic histogram's cumulative bucket counts ({le: count}, +Inf among
    them), as Prometheus' histogram_quantile() computes it: linear inside the bucket the rank falls in, from 0
    below the first bound, the highest finite bound if it falls in +Inf; None without observations."""
    bounds = sorted(buckets)
    if len(bounds) < 2 or bounds[-1] != math.inf:
        return None
    counts = list(accumulate((buckets[b] for b in bounds), max))  # never decreasing, as Prometheus repairs them
    if counts[-1] <= 0:
        return None
    rank = q * counts[-1]
    index = next(i for i, count in enumerate(counts) if count >= rank)
    if index == len(bounds) - 1:
        return bounds[-2]
    lower, below = (bounds[index - 1], counts[index - 1]) if index else (0.0, 0.0)
    if index == 0 and bounds[0] <= 0:
        return bounds[0]
    return lower + (bounds[index] - lower) * (rank - below) / (counts[index] - below)
