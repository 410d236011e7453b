"""Which finished runs count toward the SLIs: planned maintenance and an unhealthy vantage point do not.

The scheduler asks this filter about every run before the exporters see it. A run that started inside one of
its check's maintenance windows is counted as `maintenance`; one during which this agent's own vantage point
was unhealthy (every canary failing) as `inconclusive`, and so is a run that failed on time while the agent
itself ran late (`judged_for_overload`, applied by the probe worker that timed it). None of them touches the
SLI counters, so planned work does not burn the error budget, and neither a broken region nor an overloaded
agent reads as a broken service.
"""

from __future__ import annotations

import dataclasses
import time

from prober.config.maintenance import MaintenanceWindow
from prober.config.models import AgentConfig, Check
from prober.result import Counted, Reason, Result, cap_detail
from prober.vantage import Vantage

OVERLOAD_SHARE = 0.1
"""A run that failed on time is inconclusive when the loop that timed it ran this share of its timeout late."""
TIMED_REASONS = frozenset({Reason.TIMEOUT, Reason.SLOW})


def judged_for_overload(result: Result, timeout_s: float, loop_late_s: float) -> Result:
    """`result`, inconclusive if it failed on time (timeout, slow) while the event loop that timed it woke a
    timer `loop_late_s` late, at least OVERLOAD_SHARE of the check's timeout: the agent's own work, not the
    target, may have spent the time that failed it. Any other result is returned as it is."""
    if result.ok or result.reason not in TIMED_REASONS or loop_late_s < OVERLOAD_SHARE * timeout_s:
        return result
    detail = f"{result.detail}; inconclusive: the agent ran {loop_late_s * 1000:.0f}ms late during this run"
    return dataclasses.replace(result, counted=Counted.INCONCLUSIVE, detail=cap_detail(detail))


class SliFilter:
    """Decides `Result.counted`; also answers the exporter's "is this check in maintenance now?"."""

    def __init__(self, vantage: Vantage) -> None:
        self.vantage = vantage
        self._windows: dict[str, list[MaintenanceWindow]] = {}

    def configure(self, config: AgentConfig, checks: list[Check]) -> None:
        self._windows = {check.name: windows for check in checks if (windows := config.maintenance_of(check))}

    @property
    def maintained(self) -> list[str]:
        """The checks that have maintenance windows."""
        return list(self._windows)

    def in_maintenance(self, check: str, unix_time: float) -> bool:
        return any(window.contains(unix_time) for window in self._windows.get(check, ()))

    def judge_now(self, check: Check, result: Result) -> Result | None:
        """`result` marked as counted, inconclusive or maintenance; None when it needs a fresh canary round
        first (a failed run while canaries are configured): then `judge` answers."""
        if self.in_maintenance(check.name, result.started_at) or self.in_maintenance(check.name, time.time()):
            return result.counted_as(Counted.MAINTENANCE)
        if result.counted is not Counted.SLI:  # already judged where it was timed
            return result
        if self.vantage.enabled and not result.ok:
            return None
        return self._vantage_judged(result)

    async def judge(self, check: Check, result: Result) -> Result:
        """`result` marked as counted, inconclusive or maintenance; a failed run first gets a fresh canary
        round (bounded by the canaries' timeout), so a vantage outage is seen before its failures count."""
        judged = self.judge_now(check, result)
        if judged is not None:
            return judged
        await self.vantage.confirm()
        return self._vantage_judged(result)

    def _vantage_judged(self, result: Result) -> Result:
        if self.vantage.enabled and self.vantage.unhealthy_since(result.started_at):
            return result.counted_as(Counted.INCONCLUSIVE)
        return result
