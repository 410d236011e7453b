"""A comparison whose truth the tests know, as the agents' counters would have been scraped: our site and a
rival's (check labels `site`, `group: competitors`) and an unlabelled check, probed by three agents (eu through
ISPs telco_a and telco_b, us through telco_a), written as OpenMetrics text for `promtool tsdb
create-blocks-from openmetrics`. tests/test_comparisons_e2e.py (the dashboard) and tests/test_report_compare.py
(the report) assert what these numbers make, each worked out by hand beside its assertion.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

CONFIG = Path(__file__).resolve().parent / "slo" / "compare.yaml"  # the checks below, rules.group_by [isp]


@dataclass(frozen=True)
class Vantage:
    region: str
    isp: str
    instance: str


EU_A = Vantage("eu", "telco_a", "eu-a:9470")
EU_B = Vantage("eu", "telco_b", "eu-b:9470")
US_A = Vantage("us", "telco_a", "us-a:9470")


@dataclass(frozen=True)
class PerMinute:
    """One check through one agent, each minute: runs, failed runs, and per bucket bound (le) the runs (or page
    loads) at or under it, cumulative as Prometheus buckets are."""

    runs: int
    failed: int
    durations: dict[str, int]
    lcp: dict[str, int] = field(default_factory=dict)
    fcp: dict[str, int] = field(default_factory=dict)  # never compared: proves the vital="lcp" filter


CHECK_LABELS = {"ours": {"site": "ours", "group": "competitors"},
                "rival_a": {"site": "rival_a", "group": "competitors"}, "internal": {}}
FAST = {"0.05": 5, "0.1": 8, "0.25": 10, "0.5": 10, "+Inf": 10}
TRUTH: dict[tuple[str, Vantage], PerMinute] = {
    ("ours", EU_A): PerMinute(10, 0, FAST),
    ("ours", EU_B): PerMinute(10, 1, {"0.05": 0, "0.1": 5, "0.25": 8, "0.5": 10, "+Inf": 10}),
    ("ours", US_A): PerMinute(10, 0, FAST),
    ("rival_a", EU_A): PerMinute(4, 1, {"0.25": 0, "0.5": 2, "1.0": 4, "2.5": 4, "+Inf": 4},
                                 lcp={"1.0": 0, "1.8": 2, "2.5": 4, "4.0": 4, "+Inf": 4}, fcp={"1.0": 4, "+Inf": 4}),
    ("rival_a", EU_B): PerMinute(4, 0, {"0.25": 0, "0.5": 0, "1.0": 2, "2.5": 4, "+Inf": 4},
                                 lcp={"1.0": 0, "1.8": 0, "2.5": 1, "4.0": 4, "+Inf": 4}, fcp={"1.0": 4, "+Inf": 4}),
    ("rival_a", US_A): PerMinute(4, 2, {"0.25": 0, "0.5": 1, "1.0": 4, "2.5": 4, "+Inf": 4},
                                 lcp={"1.0": 0, "1.8": 4, "2.5": 4, "4.0": 4, "+Inf": 4}, fcp={"1.0": 4, "+Inf": 4}),
    ("internal", EU_A): PerMinute(10, 0, {"0.05": 10, "+Inf": 10}),
}


def _series(check: str, vantage: Vantage, truth: PerMinute) -> dict[str, list[tuple[str, int]]]:
    """family -> (extra labels, per-minute increase) of each series of one check through one agent."""
    out: dict[str, list[tuple[str, int]]] = defaultdict(list)
    out["prober_check_runs"].append(("", truth.runs))
    out["prober_check_successes"].append(("", truth.runs - truth.failed))
    out["prober_check_failures"].append((',reason="http_status"', truth.failed))
    out["prober_check_duration_seconds_bucket"] += [(f',le="{le}"', n) for le, n in truth.durations.items()]
    for vital, counts in (("lcp", truth.lcp), ("fcp", truth.fcp)):
        out["prober_browser_web_vital_bucket"] += [(f',vital="{vital}",le="{le}"', n) for le, n in counts.items()]
    return out


def openmetrics(start: float, end: float, step_s: int, base: int = 0,
                reset: tuple[str, Vantage, float] | None = None) -> str:
    """Every series sampled every `step_s` from `start` to `end`, starting at `base` (counters of agents that
    ran long before); `reset` = (check, vantage, t): that agent restarts just after its scrape before t, so
    its counters start again from 0 and no run is lost."""
    families: dict[str, list[str]] = defaultdict(list)
    steps = round((end - start) / step_s)
    for (check, vantage), truth in TRUTH.items():
        labels = ",".join(f'{k}="{v}"' for k, v in {
            "job": "prober", "instance": vantage.instance, "check": check, "region": vantage.region,
            "isp": vantage.isp, **CHECK_LABELS[check]}.items())
        restart = round((reset[2] - start) / step_s) if reset and reset[:2] == (check, vantage) else None
        for family, series in _series(check, vantage, truth).items():
            name = family if family.endswith("_bucket") else f"{family}_total"
            for extra, per_min in series:
                per_step = round(per_min * step_s / 60)  # whole runs: steps of whole minutes
                for k in range(steps + 1):
                    value = (k - restart + 1) * per_step if restart is not None and k >= restart else (
                        base + k * per_step)
                    families[family].append(f"{name}{{{labels}{extra}}} {value} {start + k * step_s:.0f}")
    for vantage in (EU_A, EU_B, US_A):  # what the dashboard's isp variable lists
        families["prober_build_info"] += [
            f'prober_build_info{{job="prober",instance="{vantage.instance}",region="{vantage.region}",'
            f'isp="{vantage.isp}",version="1"}} 1 {start + k * step_s:.0f}' for k in range(steps + 1)]
    lines = []
    for family, samples in families.items():
        kind = "unknown" if family.endswith("_bucket") else "gauge" if family == "prober_build_info" else "counter"
        lines += [f"# TYPE {family} {kind}", *samples]
    return "\n".join([*lines, "# EOF"]) + "\n"


def backfill(text: str, folder: Path, *flags: str) -> Path:
    """Write the blocks of `text` into folder/tsdb (returned) with Debian's promtool (and these flags of its)."""
    source, tsdb = folder / "history.om", folder / "tsdb"
    source.write_text(text)
    promtool = shutil.which("promtool") or "/usr/bin/promtool"
    # a new block costs promtool mostly garbage collection: off for these few small blocks
    quick = {**os.environ, "GOGC": "off", "GOMAXPROCS": "1"}
    made = subprocess.run([promtool, "tsdb", "create-blocks-from", "openmetrics", "-q", *flags, str(source),
                           str(tsdb)],
                          capture_output=True, text=True, timeout=120, check=False, env=quick)
    assert made.returncode == 0, made.stderr
    return tsdb
