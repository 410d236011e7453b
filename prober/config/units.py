"""Durations as Prometheus writes them (`500ms`, `30s`, `1m30s`) and byte sizes (`1MiB`, `512KB`)."""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import BeforeValidator, PlainSerializer

_DURATION_UNITS_MS = {
    "ms": 1, "s": 1000, "m": 60_000, "h": 3_600_000, "d": 86_400_000, "w": 604_800_000, "y": 31_536_000_000,
}
_DURATION_RE = re.compile(r"(\d+)(ms|s|m|h|d|w|y)")
_SIZE_UNITS = {
    "": 1, "b": 1,
    "kb": 10**3, "mb": 10**6, "gb": 10**9,
    "kib": 2**10, "mib": 2**20, "gib": 2**30,
}
_SIZE_RE = re.compile(r"(\d+)\s*([a-z]*)")


def parse_duration(value: object) -> float:
    """Parse `1m30s`-style text to seconds; raise ValueError naming what was expected."""
    if isinstance(value, bool) or not isinstance(value, str):
        raise ValueError(f"expected a duration such as '500ms', '30s' or '1m' (got {value!r})")
    text = value.strip()
    pos, total_ms = 0, 0
    for match in _DURATION_RE.finditer(text):
        if match.start() != pos:
            break
        total_ms += int(match.group(1)) * _DURATION_UNITS_MS[match.group(2)]
        pos = match.end()
    if pos == 0 or pos != len(text):
        raise ValueError(f"expected a duration such as '500ms', '30s' or '1m' (got {value!r})")
    return total_ms / 1000  # integer milliseconds first, so 500ms is exactly 0.5 (a histogram bucket bound)


def format_duration(seconds: float) -> str:
    """The shortest Prometheus-style spelling of a duration (used in rules and messages)."""
    ms = round(seconds * 1000)
    if ms % 1000:
        return f"{ms}ms"
    s = ms // 1000
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if s and s % size == 0:
            return f"{s // size}{unit}"
    return f"{s}s"


def parse_size(value: object) -> int:
    """Parse `1MiB`-style text (or a plain integer) to bytes."""
    if isinstance(value, bool):
        raise ValueError(f"expected a size such as '1MiB' or 65536 (got {value!r})")
    if isinstance(value, int):
        if value < 0:
            raise ValueError(f"expected a non-negative size (got {value!r})")
        return value
    if isinstance(value, str):
        match = _SIZE_RE.fullmatch(value.strip().lower())
        if match and match.group(2) in _SIZE_UNITS:
            return int(match.group(1)) * _SIZE_UNITS[match.group(2)]
    raise ValueError(f"expected a size such as '1MiB' or 65536 (got {value!r})")


Duration = Annotated[float, BeforeValidator(parse_duration), PlainSerializer(format_duration)]
"""Seconds, written in YAML as Prometheus durations."""

ByteSize = Annotated[int, BeforeValidator(parse_size)]
"""Bytes, written in YAML as `1MiB`, `512KB` or a plain integer."""
