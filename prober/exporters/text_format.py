"""The Prometheus text exposition format (0.0.4), written for the metric families prober exports.

prometheus_client's writer is generic (escaping schemes, UTF-8 metric names, timestamps) and costs ~40 µs a
line on a small VM; an agent with hundreds of checks exports tens of thousands of lines per scrape, on the
same event loop that schedules probes. This writer handles exactly what we export (counters, gauges,
histograms with legacy names, no timestamps) and is checked against prometheus_client's parser in tests.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

from prometheus_client.core import Metric

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


def _escape(value: str) -> str:
    if "\\" in value or '"' in value or "\n" in value:
        return value.replace("\\", r"\\").replace("\n", r"\n").replace('"', r"\"")
    return value


def _number(value: float) -> str:
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    return repr(float(value))


def render_text(families: Iterable[Metric]) -> bytes:
    """The families in the text format, one HELP and TYPE line each, then their samples."""
    out: list[str] = []
    label_cache: dict[tuple[tuple[str, str], ...], str] = {}
    for family in families:
        name = family.name + "_total" if family.type == "counter" else family.name
        help_text = family.documentation.replace("\\", r"\\").replace("\n", r"\n")
        out.append(f"# HELP {name} {help_text}\n")
        out.append(f"# TYPE {name} {family.type}\n")
        for sample in family.samples:
            key = tuple(sample.labels.items())
            labels = label_cache.get(key)
            if labels is None:
                labels = label_cache[key] = ",".join(f'{k}="{_escape(v)}"' for k, v in sorted(key))
            out.append(f"{sample.name}{{{labels}}} {_number(sample.value)}\n" if labels
                       else f"{sample.name} {_number(sample.value)}\n")
    return "".join(out).encode()
