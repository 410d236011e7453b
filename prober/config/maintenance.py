"""Maintenance windows: planned work during which runs are counted apart and kept out of the SLIs.

A window is either recurring (`start` time of day, `duration`, optional weekdays) or fixed (`from`, `to`),
always in a named timezone, so "Sundays 02:00-04:00 Berlin time" survives daylight saving changes.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Annotated, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator

from prober.config.units import Duration

Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
WEEKDAYS: tuple[Weekday, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
MAX_RECURRING_S = 7 * 86400


def timezone_name(value: str) -> str:
    """`value` if it is an IANA timezone name known here, else a ValueError."""
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown timezone: expected an IANA name such as 'Europe/Berlin' (got {value!r})") from None
    return value


def _time_of_day(value: str) -> str:
    if not re.fullmatch(r"([01][0-9]|2[0-3]):[0-5][0-9]", value):
        raise ValueError(f"expected a time of day as HH:MM (got {value!r})")
    return value


class MaintenanceWindow(BaseModel):
    """One planned window: recurring (`start` + `duration`, on `days` or every day) or fixed (`from` + `to`).

    `checks` (top-level windows only) limits it to the named checks; empty means every check.
    """

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    name: str = Field(default="maintenance", max_length=63)
    timezone: Annotated[str, AfterValidator(timezone_name)] = "UTC"
    days: list[Weekday] = Field(default_factory=list)
    start: Annotated[str, AfterValidator(_time_of_day)] | None = None
    duration: Duration | None = Field(default=None, gt=0, le=MAX_RECURRING_S)
    from_: dt.datetime | None = Field(default=None, alias="from")
    to: dt.datetime | None = None
    checks: list[str] = Field(default_factory=list)

    @model_validator(mode="after")
    def _one_form(self) -> MaintenanceWindow:
        recurring = self.start is not None or self.duration is not None or bool(self.days)
        fixed = self.from_ is not None or self.to is not None
        if recurring == fixed:
            raise ValueError("set either start and duration (recurring, optionally days) or from and to (fixed)")
        if recurring and (self.start is None or self.duration is None):
            raise ValueError("a recurring window needs both start (HH:MM) and duration")
        if fixed:
            if self.from_ is None or self.to is None:
                raise ValueError("a fixed window needs both from and to")
            if self._aware(self.to) <= self._aware(self.from_):
                raise ValueError("to must be after from")
        return self

    def _aware(self, moment: dt.datetime) -> dt.datetime:
        return moment if moment.tzinfo else moment.replace(tzinfo=ZoneInfo(self.timezone))

    def contains(self, unix_time: float) -> bool:
        """Whether the instant falls inside this window (start inclusive, end exclusive)."""
        zone = ZoneInfo(self.timezone)
        moment = dt.datetime.fromtimestamp(unix_time, tz=zone)
        if self.from_ is not None and self.to is not None:
            return self._aware(self.from_) <= moment < self._aware(self.to)
        assert self.start is not None and self.duration is not None
        hour, minute = (int(part) for part in self.start.split(":"))
        length = dt.timedelta(seconds=self.duration)
        day = moment.date()
        for back in range(int(self.duration // 86400) + 2):  # windows that began on an earlier day and go on
            date = day - dt.timedelta(days=back)
            if self.days and WEEKDAYS[date.weekday()] not in self.days:
                continue
            begin = dt.datetime(date.year, date.month, date.day, hour, minute, tzinfo=zone)
            if begin <= moment < begin + length:
                return True
        return False

    def occurrences(self, after: float, until: float) -> list[tuple[float, float]]:
        """The window's (start, end) instants, as unix times, that end after `after` and begin before `until`
        (an ongoing one included), in order."""
        if self.from_ is not None and self.to is not None:
            begin, end = self._aware(self.from_).timestamp(), self._aware(self.to).timestamp()
            return [(begin, end)] if end > after and begin < until else []
        assert self.start is not None and self.duration is not None
        zone = ZoneInfo(self.timezone)
        hour, minute = (int(part) for part in self.start.split(":"))
        first = dt.datetime.fromtimestamp(after, tz=zone).date() - dt.timedelta(days=int(self.duration // 86400) + 1)
        last = dt.datetime.fromtimestamp(until, tz=zone).date()
        found: list[tuple[float, float]] = []
        date = first
        while date <= last:
            if not self.days or WEEKDAYS[date.weekday()] in self.days:
                begin = dt.datetime(date.year, date.month, date.day, hour, minute, tzinfo=zone).timestamp()
                if begin + self.duration > after and begin < until:
                    found.append((begin, begin + self.duration))
            date += dt.timedelta(days=1)
        return found
