"""Which finished runs count toward the SLIs: planned maintenance and an unhealthy vantage point do not.

The scheduler asks this filter about every run before the exporters see it. A run that started inside one of
its check's maintenance windows is counted as `maintenance`; one during which this agent's own vantage point
was unhealthy (every canary failing) as `inconclusive`. Neither touches the SLI counters, so planned work
does not burn the error budget and a broken region does not read as a broken service.
"""

from __future__ import annotations

import time

from prober.config.maintenance import MaintenanceWindow
from prober.config.models import AgentConfig, Check
from prober.result import Counted, Result
from prober.vantage import Vantage


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
