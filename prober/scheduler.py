"""The scheduler: when each check runs, how many run at once, how long a run may take, and its attempts.

One task per check. The first run of a check lands at a fixed offset within its interval, derived from its
name and the wall clock, so 1,000 checks never fire together and a restarted agent resumes the same cadence
instead of firing everything at once. A check never overlaps itself; slots it misses (a run still going, a
stalled event loop) are counted as skipped and never caught up in a burst.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
import zlib
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

from tenacity import AsyncRetrying, retry_if_result, stop_after_attempt, wait_exponential

from prober.config.models import Check
from prober.probers.base import Prober
from prober.result import Reason, Result, cap_detail

log = logging.getLogger("prober.scheduler")

BACKSTOP_GRACE_S = 1.0
"""How long past its timeout a prober may overrun before the scheduler gives up on it (a prober bug)."""


class RunObserver(Protocol):
    """What the scheduler reports; exporters implement it."""

    def run_started(self, check: str, lag_s: float) -> None: ...

    def run_finished(self, result: Result, first_attempt: Result) -> None: ...

    def run_skipped(self, check: str, slots: int) -> None: ...


class _Stop:
    """A stop flag that a sleeping check loop wakes up for (a future, not a cancelled timeout: cheaper)."""

    def __init__(self) -> None:
        self._set = False
        self._waiter: asyncio.Future[None] | None = None

    def set(self) -> None:
        self._set = True
        if self._waiter is not None:
            _resolve(self._waiter)

    def is_set(self) -> bool:
        return self._set

    async def wait_until(self, monotonic_deadline: float) -> bool:
        """Sleep until the deadline or until stopped; True when stopped."""
        delay = monotonic_deadline - time.monotonic()
        if delay > 0 and not self._set:
            loop = asyncio.get_running_loop()
            self._waiter = loop.create_future()
            timer = loop.call_later(delay, _resolve, self._waiter)
            try:
                await self._waiter
            finally:
                timer.cancel()
                self._waiter = None
        return self._set


def _resolve(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)


@dataclass(frozen=True)
class Job:
    """A check with the prober built for it; the unit the scheduler runs."""

    check: Check
    prober: Prober


def first_offset_s(name: str, interval_s: float) -> float:
    """A stable offset of `name` within its interval (the same in every process, region and restart)."""
    return (zlib.crc32(name.encode()) % max(1, round(interval_s * 1000))) / 1000


def grid_slots(name: str, interval_s: float, after: float, until: float) -> int:
    """How many slots of the check's grid fall in the wall-clock span (after, until]: the slots a check misses
    while nothing runs it (its probe worker being replaced)."""
    offset = first_offset_s(name, interval_s)
    return max(0, math.floor((until - offset) / interval_s) - math.floor((after - offset) / interval_s))


async def attempt(job: Job) -> Result:
    """One attempt; a prober that raises or overruns its timeout yields `internal`, never an exception."""
    started_at, start = time.time(), time.perf_counter()
    try:
        async with asyncio.timeout(job.check.timeout + job.prober.grace_s + BACKSTOP_GRACE_S):
            return await job.prober.probe()
    except TimeoutError:
        detail = f"prober overran its {job.check.timeout:g}s timeout by {job.prober.grace_s + BACKSTOP_GRACE_S:g}s"
    except Exception as exc:
        log.exception("prober raised", extra={"check": job.check.name})
        detail = f"prober raised {exc.__class__.__name__}"
    return Result(check=job.check.name, ok=False, reason=Reason.INTERNAL, duration_s=time.perf_counter() - start,
                  started_at=started_at, detail=cap_detail(detail))


async def run_with_attempts(job: Job) -> tuple[Result, Result]:
    """Run up to `attempts` tries with a short backoff; return (final result, first attempt's result).

    Each try is a whole attempt on a fresh connection, bounded by the check's timeout.
    """
    if job.check.attempts == 1:  # the common case costs no retry machinery
        result = await attempt(job)
        return result, result
    results: list[Result] = []

    async def one() -> Result:
        result = await attempt(job)
        results.append(result)
        return result

    retrying = AsyncRetrying(
        stop=stop_after_attempt(job.check.attempts),
        wait=wait_exponential(multiplier=0.1, max=1.0),
        retry=retry_if_result(lambda result: not result.ok),
        retry_error_callback=lambda state: state.outcome.result() if state.outcome else None,
        reraise=True,
    )
    final: Result = await retrying(one)
    return final.with_attempts(len(results)), results[0]


Judge = Callable[[Check, Result], Awaitable[Result]]
"""Decides whether a finished run counts toward the SLIs (`Result.counted`) before observers see it."""


class Scheduler:
    """Runs jobs on their cadence under a global concurrency bound; `apply` swaps jobs in place."""

    def __init__(self, observers: Sequence[RunObserver], max_concurrent_runs: int, judge: Judge | None = None) -> None:
        self._observers = observers
        self._judge = judge
        self._slots = asyncio.Semaphore(max_concurrent_runs)
        self._tasks: dict[str, tuple[Job, _Stop, asyncio.Task[None]]] = {}
        self.running = False

    def apply(self, jobs: Sequence[Job]) -> list[asyncio.Task[None]]:
        """Start new jobs and replace changed ones; unchanged checks keep their task and cadence.

        Returns the tasks of stopped jobs: each ends once its in-flight run (if any) has finished.
        """
        return self._change(self._changes(jobs))

    async def apply_in_steps(self, jobs: Sequence[Job], step_size: int) -> None:
        """`apply`, at most `step_size` checks stopped or started per turn of the loop: the first steps of
        thousands of new tasks (and the wake-ups of as many ending ones) never run between two turns of a loop
        that times probes."""
        changes = self._changes(jobs)
        for i in range(0, len(changes), max(1, step_size)):
            self._change(changes[i:i + step_size])
            await asyncio.sleep(0)

    def _changes(self, jobs: Sequence[Job]) -> list[tuple[str, Job | None]]:
        """(name, None) for each check to stop, (name, job) for each to start or replace."""
        self.running = True
        wanted = {job.check.name: job for job in jobs}
        changes: list[tuple[str, Job | None]] = [(name, None) for name in self._tasks if name not in wanted]
        changes += [(name, job) for name, job in wanted.items()  # a changed one is replaced in a single step
                    if name not in self._tasks or self._tasks[name][0].check != job.check]
        return changes

    def _change(self, changes: list[tuple[str, Job | None]]) -> list[asyncio.Task[None]]:
        ending: list[asyncio.Task[None]] = []
        for name, job in changes:
            if name in self._tasks:
                _, stop, task = self._tasks.pop(name)
                stop.set()
                ending.append(task)
            if job is not None:
                stop = _Stop()
                task = asyncio.create_task(self._run_forever(job, stop), name=f"check:{name}")
                self._tasks[name] = (job, stop, task)
        return ending

    async def stop(self) -> None:
        """Stop scheduling; wait for in-flight runs, each bounded by its own timeout."""
        ending = self.apply([])
        self.running = False
        if ending:
            await asyncio.gather(*ending, return_exceptions=True)

    async def _run_forever(self, job: Job, stop: _Stop) -> None:
        name, interval = job.check.name, job.check.interval
        offset = first_offset_s(name, interval)
        wall = time.time()
        next_wall = math.floor((wall - offset) / interval) * interval + offset + interval
        due = time.monotonic() + (next_wall - wall)
        while not stop.is_set():
            if await stop.wait_until(due):
                return
            lag = time.monotonic() - due
            if lag >= interval:  # the loop stalled past whole slots: skip them, never catch up in a burst
                missed = math.floor(lag / interval)
                self._skipped(name, missed)
                due += missed * interval
            await self._run_once(job, due)
            due += interval
            late = time.monotonic() - due
            if late >= 0:  # the run overran one or more slots: a check never overlaps itself
                missed = math.floor(late / interval) + 1
                self._skipped(name, missed)
                due += missed * interval

    async def _run_once(self, job: Job, due: float) -> None:
        async with self._slots:
            lag_s = time.monotonic() - due  # includes any wait for a concurrency slot
            for observer in self._observers:
                observer.run_started(job.check.name, lag_s)
            final, first = await run_with_attempts(job)
        if self._judge is not None:
            final = await self._judge(job.check, final)
        for observer in self._observers:
            observer.run_finished(final, first)

    def _skipped(self, name: str, slots: int) -> None:
        for observer in self._observers:
            observer.run_skipped(name, slots)
