"""Maintenance windows: recurring and fixed, in their own timezone, across midnight and daylight saving."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from prober.config.maintenance import MaintenanceWindow

BERLIN = ZoneInfo("Europe/Berlin")


def at(text: str, zone: ZoneInfo = BERLIN) -> float:
    return dt.datetime.fromisoformat(text).replace(tzinfo=zone).timestamp()


def test_a_daily_window_across_midnight() -> None:
    window = MaintenanceWindow(start="23:30", duration="1h", timezone="Europe/Berlin")
    assert window.contains(at("2026-11-24T23:30:00"))
    assert window.contains(at("2026-11-25T00:29:59"))
    assert not window.contains(at("2026-11-25T00:30:00"))  # the end is exclusive
    assert not window.contains(at("2026-11-24T23:29:59"))


def test_a_weekly_window_only_on_its_days_and_in_local_time() -> None:
    window = MaintenanceWindow.model_validate({"days": ["sun"], "start": "02:00", "duration": "2h",
                                               "timezone": "Europe/Berlin"})
    assert window.contains(at("2026-11-29T03:00:00"))  # a Sunday
    assert not window.contains(at("2026-11-28T03:00:00"))  # a Saturday
    assert not window.contains(at("2026-11-29T03:00:00", ZoneInfo("UTC")))  # 04:00 in Berlin
    # after the switch to summer time the window is still 02:00-04:00 on Berlin's clocks
    assert window.contains(at("2026-04-05T03:30:00"))
    assert not window.contains(at("2026-04-05T04:00:00"))


def test_a_window_that_began_on_its_day_goes_on_into_the_next() -> None:
    window = MaintenanceWindow.model_validate({"days": ["fri"], "start": "22:00", "duration": "1d"})
    assert window.contains(at("2026-11-28T21:59:00", ZoneInfo("UTC")))  # Saturday, still Friday's window
    assert not window.contains(at("2026-11-28T22:00:00", ZoneInfo("UTC")))


def test_a_fixed_window_in_its_timezone() -> None:
    window = MaintenanceWindow.model_validate({"from": "2026-12-01T22:00:00", "to": "2026-12-02T02:00:00",
                                               "timezone": "Europe/Berlin"})
    assert window.contains(at("2026-12-01T22:00:00"))
    assert window.contains(at("2026-12-02T01:59:00"))
    assert not window.contains(at("2026-12-02T02:00:00"))
    assert not window.contains(at("2026-12-01T22:00:00", ZoneInfo("UTC")) + 86400)


def test_the_occurrences_of_a_weekly_window_ahead_include_the_ongoing_one_and_follow_daylight_saving() -> None:
    window = MaintenanceWindow.model_validate({"days": ["sun"], "start": "02:00", "duration": "2h",
                                               "timezone": "Europe/Berlin"})
    found = window.occurrences(at("2026-10-18T03:00:00"), at("2026-11-02T00:00:00"))
    # ongoing on Oct 18; on Oct 25 Berlin leaves summer time at 03:00 CEST: 02:00 comes twice, the first (CEST,
    # 00:00 UTC) begins the window, which lasts its two hours of real time
    assert found == [(at("2026-10-18T02:00:00"), at("2026-10-18T04:00:00")),
                     (at("2026-10-25T02:00:00"), at("2026-10-25T02:00:00") + 7200),
                     (at("2026-11-01T02:00:00"), at("2026-11-01T04:00:00"))]
    assert dt.datetime.fromtimestamp(found[1][0], tz=ZoneInfo("UTC")).hour == 0
    assert window.occurrences(at("2026-10-18T04:00:00"), at("2026-10-25T01:59:00")) == []  # ended; not begun


def test_a_fixed_window_occurs_once_while_it_has_not_ended() -> None:
    window = MaintenanceWindow.model_validate({"from": "2026-12-03T02:00:00", "to": "2026-12-03T04:00:00",
                                               "timezone": "Asia/Shanghai"})
    shanghai = ZoneInfo("Asia/Shanghai")
    assert window.occurrences(at("2026-11-30T00:00:00", shanghai), at("2026-12-14T00:00:00", shanghai)) == [
        (at("2026-12-03T02:00:00", shanghai), at("2026-12-03T04:00:00", shanghai))]
    assert window.occurrences(at("2026-12-03T04:00:00", shanghai), at("2026-12-14T00:00:00", shanghai)) == []
