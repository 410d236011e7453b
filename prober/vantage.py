"""The health of this agent's own vantage point, from its canaries (targets that should always answer).

A region whose own network or DNS is broken is not evidence that the service is down. The canaries run on
their own cadence; a failed run asks for a fresh round before it is judged (one round at a time, shared by
every run that asks), so a vantage outage is seen before its failures are counted. The vantage is unhealthy
while every canary fails; with no canaries it is always healthy.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Sequence

from prober.result import Result
from prober.scheduler import Job, attempt

log = logging.getLogger("prober.vantage")

FRESH_S = 2.0
"""A canary round that finished this recently answers `confirm()` without another round."""


class Vantage:
    """Runs the canaries; says whether the vantage point is healthy now and whether it was during a run."""

    def __init__(self) -> None:
        self._jobs: Sequence[Job] = ()
        self._last: dict[str, Result] = {}
        self._healthy = True
        self._unhealthy_until = 0.0  # unix time the last unhealthy period was last seen (inf while it lasts)
        self._round: asyncio.Task[bool] | None = None
        self._round_done_at = 0.0
        self._loop_task: asyncio.Task[None] | None = None

    @property
    def enabled(self) -> bool:
        return bool(self._jobs)

    @property
    def healthy(self) -> bool:
        return self._healthy

    def canary_results(self) -> dict[str, bool]:
        """The last outcome of each canary by name (for the exporter)."""
        return {name: result.ok for name, result in self._last.items()}

    def configure(self, jobs: Sequence[Job]) -> None:
        """Adopt the canaries of a (re)loaded config and (re)start their loop."""
        if [job.check for job in jobs] == [job.check for job in self._jobs]:
            return
        self._jobs = jobs
        names = {job.check.name for job in jobs}
        self._last = {name: result for name, result in self._last.items() if name in names}
        if self._loop_task is not None:
            self._loop_task.cancel()
            self._loop_task = None
        if not jobs:
            self._set_healthy(True)
            return
        self._loop_task = asyncio.create_task(self._loop(), name="canaries")

    async def stop(self) -> None:
        for task in (self._loop_task, self._round):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task

    def unhealthy_since(self, unix_time: float) -> bool:
        """Whether the vantage was unhealthy at any moment from `unix_time` until now."""
        return not self._healthy or self._unhealthy_until >= unix_time

    async def confirm(self) -> bool:
        """A fresh answer: run a round now (or join the one running) unless one just finished; True if healthy."""
        if not self._jobs:
            return True
        if self._round is None and time.monotonic() - self._round_done_at < FRESH_S:
            return self._healthy
        if self._round is None:
            self._round = asyncio.create_task(self._run_round(), name="canary-round")
        return await asyncio.shield(self._round)

    async def _loop(self) -> None:
        interval = min(job.check.interval for job in self._jobs)
        while True:
            await self.confirm()
            await asyncio.sleep(interval)

    async def _run_round(self) -> bool:
        try:
            results = await asyncio.gather(*(attempt(job) for job in self._jobs))
            for result in results:
                self._last[result.check] = result
            self._set_healthy(any(result.ok for result in results))
            return self._healthy
        finally:
            self._round = None
            self._round_done_at = time.monotonic()

    def _set_healthy(self, healthy: bool) -> None:
        now = time.time()
        if not self._healthy:
            self._unhealthy_until = now
        if healthy != self._healthy:
            if healthy:
                log.warning("vantage healthy again: a canary answers; runs count toward the SLIs")
            else:
                log.warning("vantage unhealthy: every canary failed; runs end inconclusive",
                            extra={"canaries": {r.check: r.reason.value for r in self._last.values()}})
        self._healthy = healthy
