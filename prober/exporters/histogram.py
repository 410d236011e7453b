"""A fixed-bucket histogram that the exporter owns: observe is a bisect and an increment."""

from __future__ import annotations

import bisect
from collections.abc import Iterable

CHECK_DURATION_BUCKETS_S = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)
PHASE_BUCKETS_S = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
WEB_VITAL_BUCKETS_S = (0.025, 0.05, 0.1, 0.2, 0.5, 0.8, 1.0, 1.8, 2.5, 3.0, 4.0, 6.0, 10.0, 20.0)
"""Seconds; includes web.dev's good/poor bounds: TTFB 0.8/1.8, FCP 1.8/3, LCP 2.5/4, INP 0.2/0.5."""
CLS_BUCKETS = (0.001, 0.01, 0.05, 0.1, 0.15, 0.25, 0.5, 1.0)
"""Unitless; includes web.dev's good/poor bounds for CLS: 0.1/0.25."""
RTT_BUCKETS_S = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0)
"""ICMP round trips: a loopback or LAN reply falls in the first bucket, a slower one than 1 s in +Inf."""
SCHEDULE_LAG_BUCKETS_S = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5, 1.0, 5.0)


def buckets_with(base: Iterable[float], extra: Iterable[float | None]) -> tuple[float, ...]:
    """`base` plus every given extra bound (an SLO threshold, a max_duration), sorted and unique."""
    return tuple(sorted({*base, *(e for e in extra if e is not None and e > 0)}))


class Histogram:
    """Counts per upper bound (`le`, inclusive) plus +Inf, and the sum of observed values."""

    __slots__ = ("bounds", "counts", "total")

    def __init__(self, bounds: tuple[float, ...]) -> None:
        self.bounds = bounds
        self.counts = [0] * (len(bounds) + 1)
        self.total = 0.0

    def observe(self, value: float) -> None:
        self.counts[bisect.bisect_left(self.bounds, value)] += 1
        self.total += value

    def add(self, count: int, total: float) -> None:
        """`count` observations summing to `total`, at once: only for a summary (a histogram without bounds)."""
        assert not self.bounds, "a histogram's observations need their own buckets"
        self.counts[0] += count
        self.total += total
