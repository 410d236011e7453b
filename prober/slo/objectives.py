"""The SLOs that agent.yaml defines: each check's `slo:` block and each group of `slos:`, as one shape.

An objective pools the runs of its checks across every region; a check's own SLO is an objective with one
member. Latency counts the runs that finished within each member's own threshold.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from prober.config.models import AgentConfig


class Sli(StrEnum):
    AVAILABILITY = "availability"
    LATENCY = "latency"


@dataclass(frozen=True)
class Member:
    check: str
    latency_threshold_s: float | None  # the check's slo.latency.threshold, a bucket bound of its histogram


@dataclass(frozen=True)
class Objective:
    """One SLI of one SLO: `target` is a ratio (0.995), `window_s` the rolling compliance window."""

    slo: str
    sli: Sli
    target: float
    window_s: float
    members: tuple[Member, ...]
    description: str = ""

    @property
    def error_budget(self) -> float:
        return 1.0 - self.target


def objectives(config: AgentConfig) -> list[Objective]:
    """Every objective of the config: checks' own SLOs first (named after the check), then the groups."""
    thresholds = {c.name: (c.slo.latency.threshold if c.slo and c.slo.latency else None) for c in config.checks}
    found: list[Objective] = []
    for check in config.checks:
        if check.slo is None:
            continue
        member = (Member(check.name, thresholds[check.name]),)
        if check.slo.availability is not None:
            found.append(Objective(check.name, Sli.AVAILABILITY, check.slo.availability / 100, check.slo.window,
                                   member))
        if check.slo.latency is not None:
            found.append(Objective(check.name, Sli.LATENCY, check.slo.latency.target / 100, check.slo.window, member))
    for group in config.slos:
        members = tuple(Member(name, thresholds.get(name)) for name in group.checks)
        if group.availability is not None:
            found.append(Objective(group.name, Sli.AVAILABILITY, group.availability / 100, group.window, members,
                                   group.description))
        if group.latency is not None:
            found.append(Objective(group.name, Sli.LATENCY, group.latency.target / 100, group.window, members,
                                   group.description))
    return found
