"""Event-loop lag: how late the loop wakes a timer, measured by a task that sleeps a fixed period."""

from __future__ import annotations

import asyncio
import time

PERIOD_S = 0.5


class LoopLagMonitor:
    """Measures timer lateness every PERIOD_S; `lag_s` is the latest measurement (0 before the first)."""

    def __init__(self) -> None:
        self.lag_s = 0.0
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._measure(), name="loop-lag-monitor")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)

    async def _measure(self) -> None:
        while True:
            start = time.monotonic()
            await asyncio.sleep(PERIOD_S)
            self.lag_s = max(0.0, time.monotonic() - start - PERIOD_S)
