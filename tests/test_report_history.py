"""Counting runs from counters sampled at steps: resets, gaps, and Prometheus' point limit."""

from __future__ import annotations

from prober.report.history import MAX_POINTS, increments, step_for


def test_increments_count_resets_as_their_new_value_and_gaps_when_samples_resume() -> None:
    values = [(0.0, "10"), (60.0, "15"), (120.0, "3"), (180.0, "8"), (300.0, "20")]  # reset at 120, gap at 240
    assert increments(values, start=0.0, step_s=60.0, steps=5) == [5.0, 3.0, 5.0, 0.0, 12.0]


def test_the_first_sample_is_what_the_period_counts_from() -> None:
    assert increments([(0.0, "1000"), (60.0, "1001")], start=0.0, step_s=60.0, steps=1) == [1.0]
    assert increments([(60.0, "7")], start=0.0, step_s=60.0, steps=1) == [0.0]  # nothing to count from


def test_the_step_grows_to_stay_under_prometheus_point_limit() -> None:
    assert step_for(0, 31 * 86400, 300) == 300
    year = 365 * 86400
    assert year / step_for(0, year, 300) <= MAX_POINTS
