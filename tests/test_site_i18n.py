"""The status site's two languages: the same keys and placeholders in both, every status and state named, and
its dates, times (summer and winter time in Europe/Berlin), durations and figures as readers see them."""

# ruff: noqa: RUF001 -- the pages' own en dashes and Chinese full-width punctuation

from __future__ import annotations

import datetime as dt
from string import Formatter

import pytest

from prober.result import Reason
from prober.site import i18n
from prober.site.model import Impact, IncidentState, Status

BERLIN = "Europe/Berlin"


def utc(year: int, month: int, day: int, hour: int, minute: int) -> float:
    return dt.datetime(year, month, day, hour, minute, tzinfo=dt.UTC).timestamp()


def placeholders(template: str) -> set[str]:
    return {name for _text, name, _spec, _conv in Formatter().parse(template) if name is not None}


def test_both_languages_have_the_same_keys_and_placeholders() -> None:
    assert set(i18n.TEXTS) == set(i18n.LANGS) == {"en", "zh"}
    english, chinese = i18n.TEXTS["en"], i18n.TEXTS["zh"]
    assert set(english) == set(chinese)
    for key, template in english.items():
        assert placeholders(template) == placeholders(chinese[key]), key
        assert chinese[key] != template, key  # translated, not copied


def test_every_status_state_and_impact_has_words() -> None:
    for lang in i18n.LANGS:
        for status in Status:
            assert i18n.status_text(lang, status)
        for state in IncidentState:
            assert i18n.state_text(lang, state)
        for impact in Impact:
            assert i18n.impact_text(lang, impact)
    assert i18n.status_text("en", Status.UNKNOWN) == "No current data"  # never "operational"
    assert i18n.status_text("zh", Status.MAJOR) == "严重中断"


def test_texts_fill_their_placeholders() -> None:
    assert i18n.text("en", "banner.affected", service="Checkout", status="Major outage",
                     regions=i18n.join("en", ["Europe", "US East"])) == "Checkout: Major outage in Europe, US East"
    assert i18n.text("zh", "banner.affected", service="结账", status="严重中断",
                     regions=i18n.join("zh", ["欧洲", "美国东部"])) == "结账：严重中断，影响区域：欧洲、美国东部"
    assert i18n.text("en", "incident.detected_title", service="Search", regions="Asia") == "Search unavailable in Asia"
    with pytest.raises(KeyError):
        i18n.text("en", "no.such.key")


@pytest.mark.parametrize(("moment", "lang", "expected"), [
    (utc(2026, 7, 1, 10, 0), "en", "Jul 1, 2026 12:00 CEST"),  # summer: UTC+2
    (utc(2026, 11, 30, 12, 0), "en", "Nov 30, 2026 13:00 CET"),  # winter: UTC+1
    (utc(2026, 7, 1, 10, 0), "zh", "2026年7月1日 12:00 (CEST)"),
    (utc(2026, 11, 30, 12, 0), "zh", "2026年11月30日 13:00 (CET)"),
    (utc(2026, 10, 25, 0, 30), "en", "Oct 25, 2026 02:30 CEST"),  # the clocks go back at 03:00 CEST ...
    (utc(2026, 10, 25, 1, 30), "en", "Oct 25, 2026 02:30 CET"),  # ... so 02:30 happens twice: the zone tells
])
def test_format_time_in_the_sites_timezone(moment: float, lang: str, expected: str) -> None:
    assert i18n.format_time(moment, BERLIN, lang) == expected


def test_format_span() -> None:
    start = utc(2026, 12, 3, 12, 0)
    assert i18n.format_span(start, start + 7200, BERLIN, "en") == "Dec 3, 2026 13:00 – 15:00 CET"
    assert i18n.format_span(start, start + 7200, BERLIN, "zh") == "2026年12月3日 13:00 – 15:00 (CET)"
    assert i18n.format_span(start, start + 86400, BERLIN, "en") == "Dec 3, 2026 13:00 CET – Dec 4, 2026 13:00 CET"
    across = utc(2026, 10, 25, 0, 0)  # 02:00 CEST to 02:00 CET the same night: both zones said
    assert i18n.format_span(across, across + 3600, BERLIN, "en") == "Oct 25, 2026 02:00 CEST – Oct 25, 2026 02:00 CET"


def test_format_date_and_month() -> None:
    assert i18n.format_date("2026-11-03", "en") == "Nov 3, 2026"
    assert i18n.format_date("2026-11-03", "zh") == "2026年11月3日"
    assert i18n.format_month(2026, 9, "en") == "September 2026"
    assert i18n.format_month(2026, 9, "zh") == "2026年9月"


@pytest.mark.parametrize(("seconds", "en", "zh"), [
    (8100, "2 h 15 min", "2小时15分钟"), (7200, "2 h", "2小时"), (2700, "45 min", "45分钟"), (30, "30 s", "30秒"),
    (0, "0 s", "0秒"), (89.6, "1 min", "1分钟"),
])
def test_format_duration(seconds: float, en: str, zh: str) -> None:
    assert i18n.format_duration(seconds, "en") == en
    assert i18n.format_duration(seconds, "zh") == zh


@pytest.mark.parametrize(("seconds", "expected"), [
    (0.180, "180 ms"), (0.045, "45 ms"), (0.9996, "1.00 s"), (1.25, "1.25 s"), (12.34, "12.3 s"), (None, "—"),
    (float("nan"), "—"),
])
def test_format_latency(seconds: float | None, expected: str) -> None:
    assert i18n.format_latency(seconds) == expected


@pytest.mark.parametrize(("successes", "runs", "expected"), [
    (1395, 1440, "96.875%"),  # exact
    (1439, 1440, "99.93%"),  # 99.93055...: truncated, trailing zero dropped
    (129_480, 129_600, "99.907%"),  # 99.90740...: not rounded up to 99.908
    (999_999, 1_000_000, "99.999%"),
    (9_999_999, 10_000_000, "99.999%"),  # one failure in ten million is still not 100%
    (1440, 1440, "100%"),
    (1368, 1440, "95%"),  # 0.95 * 100_000 is 94999.99... in floats: exact arithmetic says 95
    (0, 10, "0%"),
    (11, 10, "100%"),  # a counter glitch never reads above 100%
    (0, 0, "—"),  # no runs: no figure, never 100%
])
def test_format_availability(successes: float, runs: float, expected: str) -> None:
    assert i18n.format_availability(successes, runs) == expected


@pytest.mark.parametrize(("left", "expected"), [
    (1 - (1 - 0.999) / (1 - 0.995), "80%"),  # 0.79999999999999982 in floats
    (1.0, "100%"), (0.12345, "12.3%"), (-0.5, "-50%"), (-0.0004, "-0.1%"), (0.0, "0%"),
])
def test_format_budget_truncates_down(left: float, expected: str) -> None:
    assert i18n.format_budget(left) == expected


def test_every_failure_reason_has_words_in_both_languages() -> None:
    for reason in Reason:
        if reason is not Reason.OK:
            assert i18n.reason_text("en", reason.value) != i18n.text("en", "reason.unknown"), reason
            assert i18n.reason_text("zh", reason.value) != i18n.text("zh", "reason.unknown"), reason
    assert i18n.reason_text("en", "made_up") == "unknown"
