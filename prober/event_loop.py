"""The event loop: run on uvloop where it is installed, and measure how late it wakes a timer (its lag)."""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Coroutine
from typing import Any, TypeVar

T = TypeVar("T")

PERIOD_S = 0.5
RECENT = 512
"""Measurements kept for `late_since` (256 s of them: longer than any run with its attempts)."""


def run_loop(coro: Coroutine[Any, Any, T]) -> T:
    """Run on uvloop where it is installed (less CPU per probe), else on asyncio's own loop."""
    try:
        import uvloop
    except ImportError:  # pragma: no cover - uvloop is a dependency on Linux
        return asyncio.run(coro)
    return uvloop.run(coro)


class LoopLagMonitor:
    """Measures timer lateness every PERIOD_S; `lag_s` is the latest measurement (0 before the first)."""

    def __init__(self) -> None:
        self.lag_s = 0.0
        self._task: asyncio.Task[None] | None = None
        self._due = 0.0  # unix time the pending measurement's timer is due
        self._recent: deque[tuple[float, float]] = deque(maxlen=RECENT)  # (unix time it woke, lag)

    def late_since(self, unix_time: float) -> float:
        """How late, at most, the loop woke its timer since `unix_time`: the measurements that ended since then
        and the pending one, if it is overdue now (the loop is running late at this very moment)."""
        late = max(0.0, time.time() - self._due) if self._due else 0.0
        for woke, lag in reversed(self._recent):
            if woke < unix_time:
                break
            late = max(late, lag)
        return late

    def start(self) -> None:
        self._task = asyncio.create_task(self._measure(), name="loop-lag-monitor")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)

    async def _measure(self) -> None:
        while True:
            start = time.monotonic()
            self._due = time.time() + PERIOD_S
            await asyncio.sleep(PERIOD_S)
            self.lag_s = max(0.0, time.monotonic() - start - PERIOD_S)
            self._recent.append((time.time(), self.lag_s))
