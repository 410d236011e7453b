"""The report's words for numbers: durations as a reader would say them."""

from __future__ import annotations

import pytest

from prober.report.text import duration


@pytest.mark.parametrize(("seconds", "said"), [
    (None, "n/a"), (40, "1 min"), (2700, "45 min"), (3600, "1 h"), (5400, "1 h 30 min"),
    (47 * 3600, "47 h"), (15.5 * 86400, "15.5 days"),
])
def test_durations_read_as_a_person_would_say_them(seconds: float | None, said: str) -> None:
    assert duration(seconds) == said
