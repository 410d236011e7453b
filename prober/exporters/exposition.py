"""The wire formats of /metrics: Prometheus text 0.0.4 and OpenMetrics 1.0, for exactly what prober exports.

Both formats share their sample lines (counters' samples end in `_total` in both); they differ in the family
headers (OpenMetrics names a counter family without `_total`), in exemplars (OpenMetrics only) and in the
closing `# EOF`. So the exporter renders sample lines once, caches them per check, and writes either format
around them. A generic writer (prometheus_client's) costs ~40 µs a line; an agent with 10,000 checks exports
hundreds of thousands of lines per scrape. The tests parse what this writes with prometheus_client's strict
OpenMetrics parser, with its text parser, and with `promtool check metrics`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import accumulate
from typing import Literal

TEXT_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
OPENMETRICS_CONTENT_TYPE = "application/openmetrics-text; version=1.0.0; charset=utf-8"
EOF = "# EOF\n"

MetricType = Literal["counter", "gauge", "histogram", "summary"]


def wants_openmetrics(accept: str | None) -> bool:
    """Whether the scraper's Accept header asks for OpenMetrics (Prometheus puts it first, with a q of 1)."""
    if not accept:
        return False
    for part in accept.split(","):
        media, _, params = part.partition(";")
        if media.strip() == "application/openmetrics-text":
            q = next((p.split("=", 1)[1] for p in params.split(";") if p.strip().startswith("q=")), "1")
            try:
                if float(q) > 0:
                    return True
            except ValueError:
                continue
    return False


def escape_label_value(value: str) -> str:
    """A label value inside double quotes: backslash, double quote and newline escaped (both formats)."""
    if "\\" in value or '"' in value or "\n" in value:
        return value.replace("\\", r"\\").replace("\n", r"\n").replace('"', r"\"")
    return value


def label_pairs(pairs: list[tuple[str, str]]) -> str:
    """`a="x",b="y"`: the inside of a label set, values escaped."""
    return ",".join(f'{name}="{escape_label_value(value)}"' for name, value in pairs)


def number(value: float) -> str:
    """A sample value: integers as integers, floats as Python's shortest round-tripping repr."""
    if isinstance(value, int):
        return str(value)
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    if math.isnan(value):
        return "NaN"
    return repr(value)


def format_le(bound: float) -> str:
    """The `le` label value of a bucket bound (`0.5`, `1.0`, `+Inf`), as Prometheus' own clients spell it."""
    if bound == float("inf"):
        return "+Inf"
    return repr(float(bound))


@dataclass(frozen=True)
class Family:
    """One metric family: its name (without `_total` for counters), type and HELP text."""

    name: str
    type: MetricType
    help: str

    def header(self, openmetrics: bool) -> str:
        """The HELP and TYPE lines of the family in the given format."""
        text_name = self.name + "_total" if self.type == "counter" and not openmetrics else self.name
        help_text = self.help.replace("\\", r"\\").replace("\n", r"\n")
        if openmetrics:
            help_text = help_text.replace('"', r"\"")
        return f"# HELP {text_name} {help_text}\n# TYPE {text_name} {self.type}\n"

    @property
    def sample(self) -> str:
        """The name of the family's plain samples (`x_total` for counters, `x` for gauges)."""
        return self.name + "_total" if self.type == "counter" else self.name


def exemplar(labels: list[tuple[str, str]], value: float, unix_time: float) -> str:
    """An OpenMetrics exemplar suffix for a counter sample: ` # {run_id="..."} 1.0 1732500000.123`."""
    return f" # {{{label_pairs(labels)}}} {number(float(value))} {unix_time:.3f}"


def histogram_prefixes(name: str, labels: str, bounds: tuple[float, ...]) -> list[str]:
    """The line prefixes of one histogram: its buckets (+Inf included), `_count` and `_sum`; of a summary
    without quantiles (`_count` and `_sum` only) when it has no bounds. Built once per series and kept."""
    les = [*bounds, float("inf")] if bounds else []
    return [*(f'{name}_bucket{{{labels},le="{format_le(b)}"}} ' for b in les),
            f"{name}_count{{{labels}}} ", f"{name}_sum{{{labels}}} "]


def histogram_lines(prefixes: list[str], counts: Sequence[int], total: float) -> str:
    """The lines of one histogram (or summary) from its per-bucket counts (+Inf last) and the sum of values."""
    cumulative = list(accumulate(counts))
    tail = f"{prefixes[-2]}{cumulative[-1]}\n{prefixes[-1]}{number(total)}\n"
    if len(prefixes) == 2:  # a summary: _count and _sum only
        return tail
    return "".join([f"{p}{c}\n" for p, c in zip(prefixes, cumulative, strict=False)]) + tail  # buckets first
