"""Bringing a History up to date (the status site's every build) by reading only its recent part: 90 days of
every check asked of Prometheus each minute would be the site's whole cost; what came since the last build and
its last hour again is a sliver of it, and joined to the steps already held it is what a whole read gives.
"""

from __future__ import annotations

import math
from collections.abc import Callable

from prober.config.models import AgentConfig
from prober.report.history import Counts, History, Key, PrometheusClient, UnanchoredError, fetch

RECENT_S = 3600.0
"""What a refresh reads again of the history it holds: samples of the last hour may still be coming in late."""


def refresh(client: PrometheusClient, config: AgentConfig, kept: History | None, start: float, end: float,
            step_s: float) -> History:
    """`fetch(..., durations=True)` over [start, end), reading only what came after `kept` (an earlier result on
    the same grid) and its last hour again: the status site's every build, which would otherwise ask Prometheus
    for 90 days of every check each minute. The whole range is read when `kept` does not fit, or when a series
    it held has a gap over where the new part begins."""
    recent_from = _recent_from(kept, start, end, step_s)
    if kept is not None and recent_from is not None:
        known = {(*key, reason) for key, counts in kept.counts.items() for reason in counts.failures_by_reason}
        try:
            recent = fetch(client, config, recent_from, end, step_s, durations=True, anchored={*kept.counts, *known})
        except UnanchoredError:
            pass
        else:
            return joined(kept, recent, start)
    return fetch(client, config, start, end, step_s, durations=True)


def _recent_from(kept: History | None, start: float, end: float, step_s: float) -> float | None:
    """Where a refresh of `kept` to [start, end) begins to read (on the grid), None if `kept` cannot be used."""
    if kept is None or kept.step_s != step_s or not kept.start <= start < kept.end <= end:
        return None
    if abs((start - kept.start) / step_s - round((start - kept.start) / step_s)) > 1e-6:
        return None
    recent_from = kept.start + math.floor((kept.end - RECENT_S - kept.start) / step_s) * step_s
    return recent_from if recent_from > start else None


def joined(older: History, newer: History, start: float) -> History:
    """`older`'s steps from `start` to where `newer` begins, then `newer`'s (both on one grid). A (check, region)
    that `older` alone has and that ran nothing since `start` is dropped: a whole fetch would not have it."""
    first, cut = (round((at - older.start) / older.step_s) for at in (start, newer.start))
    steps_before, steps_after = cut - first, newer.steps

    def join(before: list[float] | None, after: list[float] | None) -> list[float]:
        return [*(before[first:cut] if before is not None else [0.0] * steps_before),
                *(after if after is not None else [0.0] * steps_after)]

    def optional(of: Callable[[Counts], list[float] | None], a: Counts | None,
                 b: Counts | None) -> list[float] | None:
        before, after = of(a) if a else None, of(b) if b else None
        return None if before is None and after is None else join(before, after)

    counts: dict[Key, Counts] = {}
    for key in [*older.counts, *(key for key in newer.counts if key not in older.counts)]:
        a, b = older.counts.get(key), newer.counts.get(key)
        runs = join(a.runs if a else None, b.runs if b else None)
        if b is None and not any(runs):
            continue
        reasons = [*(a.failures_by_reason if a else {}),
                   *(r for r in (b.failures_by_reason if b else {}) if not a or r not in a.failures_by_reason)]
        counts[key] = Counts(
            runs=runs, successes=join(a.successes if a else None, b.successes if b else None),
            within=optional(lambda c: c.within, a, b),
            failures_by_reason={reason: join(a.failures_by_reason.get(reason) if a else None,
                                             b.failures_by_reason.get(reason) if b else None) for reason in reasons},
            duration_sum_s=optional(lambda c: c.duration_sum_s, a, b),
            duration_count=optional(lambda c: c.duration_count, a, b))
    return History(start, newer.end, newer.step_s, counts)
