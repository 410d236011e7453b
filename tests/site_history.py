"""Ninety days of three regions' counters whose truth the status site's tests know, as Prometheus would have
scraped them every 15 minutes, written as OpenMetrics text for `promtool tsdb create-blocks-from openmetrics`.
Each check runs once a minute in each region; what differs from "all good" is listed below, and
tests/test_site_e2e.py asserts what the site makes of it, worked out beside each assertion.

Times are Asia/Shanghai (UTC+8, no daylight saving), the site's timezone: its days begin at 16:00 UTC.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from tests.comparison_history import backfill

TZ = dt.timezone(dt.timedelta(hours=8))
STEP = 900
RUNS = 15  # per step: one a minute


def local(month: int, day: int, hour: int = 0, minute: int = 0) -> float:
    return dt.datetime(2026, month, day, hour, minute, tzinfo=TZ).timestamp()


FIRST_DAY = local(9, 2)  # the first of the 90 days shown
AT = local(11, 30, 12)  # the site is built as of Monday 2026-11-30 12:00
REGIONS = ("eu", "us", "ap")
CHECKS = ("shop_checkout", "shop_payment", "search_api", "home_page")
# mean duration of a run, per check and region
DURATION_S = {
    "shop_checkout": {"eu": 0.2, "us": 0.5, "ap": 0.9}, "shop_payment": {"eu": 0.4, "us": 0.7, "ap": 1.1},
    "search_api": {"eu": 0.05, "us": 0.08, "ap": 0.12}, "home_page": {"eu": 1.5, "us": 1.6, "ap": 2.0},
}


@dataclass(frozen=True)
class Outage:
    """Every run of `checks` in `regions` fails with `reason` in [start, end)."""

    checks: tuple[str, ...]
    regions: tuple[str, ...]
    start: float
    end: float
    reason: str


ONGOING = Outage(("shop_checkout", "shop_payment"), ("eu", "us"), AT - 2 * 3600, AT, "http_status")
PAST = Outage(("search_api",), ("eu", "ap"), local(11, 3, 10), local(11, 3, 10, 45), "timeout")
BLIP = Outage(("search_api",), ("us",), local(10, 10, 14), local(10, 10, 14, 30), "connect")  # one region: no incident
OUTAGES = (ONGOING, PAST, BLIP)
SLOW = ("search_api", "us", AT - 3600, AT)  # every run over the 500 ms threshold, none failed
LATE = ("home_page", "ap", local(11, 1))  # this region's agent began probing home_page then
RESET = ("us", local(10, 20))  # the us agent restarts just after that scrape: its counters start again from 0


def _step(check: str, region: str, t: float) -> tuple[int, int, str | None, bool]:
    """The step that ends at t: (runs, failed, reason, within the latency threshold)."""
    for outage in OUTAGES:
        if check in outage.checks and region in outage.regions and outage.start < t <= outage.end:
            return RUNS, RUNS, outage.reason, True
    slow = (check, region) == SLOW[:2] and SLOW[2] < t <= SLOW[3]
    return RUNS, 0, None, not slow


def _samples() -> Iterator[tuple[float, str, str]]:
    """(time, family, sample line) of every series, every step from the step before FIRST_DAY to AT."""
    for region in REGIONS:
        for check in CHECKS:
            labels = f'job="prober",instance="{region}:9470",check="{check}",region="{region}"'
            runs = successes = within = 0
            duration_sum = 0.0
            failures = {o.reason: 0 for o in OUTAGES if check in o.checks and region in o.regions}
            t = FIRST_DAY - STEP
            while t <= AT:
                if (check, region) == LATE[:2] and t < LATE[2]:
                    t += STEP
                    continue
                if (region, t) == (RESET[0], RESET[1]):
                    runs = successes = within = 0
                    duration_sum = 0.0
                    failures = dict.fromkeys(failures, 0)
                elif t >= FIRST_DAY and not ((check, region) == LATE[:2] and t == LATE[2]):
                    n, failed, reason, fast = _step(check, region, t)
                    runs += n
                    successes += n - failed
                    within += n if fast else 0
                    duration_sum += n * DURATION_S[check][region]
                    if reason:
                        failures[reason] += failed
                yield t, "prober_check_runs_total", f"prober_check_runs_total{{{labels}}} {runs} {t:.0f}"
                yield t, "prober_check_successes_total", f"prober_check_successes_total{{{labels}}} {successes} {t:.0f}"
                for reason, count in failures.items():
                    yield t, "prober_check_failures_total", (
                        f'prober_check_failures_total{{{labels},reason="{reason}"}} {count} {t:.0f}')
                yield t, "prober_check_duration_seconds_sum", (
                    f"prober_check_duration_seconds_sum{{{labels}}} {duration_sum:.3f} {t:.0f}")
                yield t, "prober_check_duration_seconds_count", (
                    f"prober_check_duration_seconds_count{{{labels}}} {runs} {t:.0f}")
                if check == "search_api":
                    yield t, "prober_check_duration_seconds_bucket", (
                        f'prober_check_duration_seconds_bucket{{{labels},le="0.5"}} {within} {t:.0f}')
                    yield t, "prober_check_duration_seconds_bucket", (
                        f'prober_check_duration_seconds_bucket{{{labels},le="+Inf"}} {runs} {t:.0f}')
                t += STEP


def write_blocks(folder: Path) -> Path:
    """The TSDB (returned: folder/tsdb) of the 90 days in a few large blocks: Prometheus answers a query over a
    thousand two-hour blocks (promtool's default) a hundred times slower."""
    families: dict[str, list[str]] = defaultdict(list)
    for _t, family, line in _samples():
        families[family].append(line)
    lines = []
    for family, samples in families.items():
        kind = f"{family.removesuffix('_total')} counter" if family.endswith("_total") else f"{family} unknown"
        lines += [f"# TYPE {kind}", *samples]
    return backfill("\n".join([*lines, "# EOF"]) + "\n", folder, "--max-block-duration=744h")
