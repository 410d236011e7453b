"""The agent's side of journeys: a pool of worker processes, each running several journeys at once.

A run goes to the worker with the most free room (a new worker starts while there are fewer than
`workers`); the pool waits for its answer until the journey's timeout plus the worker's own setup and
artifact budgets, then kills the worker's whole tree (browser included) and reports `timeout`. A worker
that dies fails the runs it held and is replaced on the next run. Workers are recycled after
`recycle_after_runs` runs or above `recycle_above_memory` (PSS of the worker and its browser).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import secrets
import sys
import time
from dataclasses import dataclass, field
from typing import Any

from prober.config.models import JourneysSection
from prober.journey import processes
from prober.journey.protocol import ARTIFACTS_BUDGET_S, MAX_LINE_BYTES, SETUP_BUDGET_S, RunRequest, decode_result
from prober.result import JourneyOutcome, Reason, Result, cap_detail

log = logging.getLogger("prober.journey")

ANSWER_GRACE_S = SETUP_BUDGET_S + ARTIFACTS_BUDGET_S + 2.0
"""How long past a journey's timeout the pool waits for the worker's answer before killing the worker."""
START_TIMEOUT_S = 60.0
STOP_TIMEOUT_S = 10.0
MEMORY_CHECK_EVERY = 10


def new_run_id() -> str:
    """Sortable by time, unique enough to name an artifacts folder: `20261125T101500Z-3fa9c1`."""
    return time.strftime("%Y%m%dT%H%M%SZ", time.gmtime()) + "-" + secrets.token_hex(3)


class WorkerLostError(Exception):
    """The worker died or was killed while a run was in it."""


@dataclass(eq=False)
class WorkerProcess:
    process: asyncio.subprocess.Process
    pending: dict[str, asyncio.Future[dict[str, Any]]] = field(default_factory=dict)
    runs: int = 0
    retiring: bool = False
    lost: str = ""
    reader: asyncio.Task[None] | None = None
    sessions: set[int] = field(default_factory=set)  # its own and its browsers' sessions, found as it runs

    @property
    def pid(self) -> int:
        return self.process.pid

    @property
    def alive(self) -> bool:
        return not self.lost and self.process.returncode is None


class WorkerPool:
    """Runs journey requests in worker processes; `close()` stops every worker and its browser."""

    def __init__(self, settings: JourneysSection) -> None:
        self.settings = settings
        self._workers: list[WorkerProcess] = []
        self._room = asyncio.Condition()
        self._orphans: set[int] = set()  # sessions of forgotten workers that may still hold processes
        self.restarts: dict[str, int] = {}
        self._closed = False
        self._stopping: set[asyncio.Task[None]] = set()
        self._starting = 0

    def configure(self, settings: JourneysSection) -> None:
        """Adopt new settings; workers started under other browser settings are retired."""
        if settings.browser != self.settings.browser:
            for worker in self._workers:
                self._retire(worker, "config")
        self.settings = settings

    # running -----------------------------------------------------------------------------------------
    async def run(self, request: RunRequest) -> Result:
        """The Result of `request`; never raises for a failure of the script, worker or browser."""
        started_at = time.time()
        try:
            worker = await self._acquire()
        except (OSError, WorkerLostError, TimeoutError) as exc:
            return _failed(request, Reason.INTERNAL, f"no journey worker: {exc}", started_at)
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        worker.pending[request.run_id] = future
        try:
            assert worker.process.stdin is not None
            worker.process.stdin.write(request.encode())
            await worker.process.stdin.drain()
            async with asyncio.timeout(request.timeout_s + ANSWER_GRACE_S):
                message = await future
            result = decode_result(request.check, message)
        except TimeoutError:
            await self._kill(worker, "hung")
            result = _failed(request, Reason.TIMEOUT, f"the worker gave no answer {ANSWER_GRACE_S:g}s after the "
                             f"{request.timeout_s:g}s timeout: worker and browser killed", started_at)
        except (WorkerLostError, ConnectionError) as exc:
            result = _failed(request, Reason.SCRIPT_ERROR, str(exc), started_at)
        except (KeyError, ValueError, TypeError) as exc:
            result = _failed(request, Reason.INTERNAL, f"malformed answer from the worker: {exc!r}", started_at)
        finally:
            worker.pending.pop(request.run_id, None)
            worker.runs += 1
            await self._after_run(worker)
        return result

    async def _acquire(self) -> WorkerProcess:
        """The live worker with the most room, or a new one; waits while every worker is full."""
        async with self._room:
            while True:
                if self._closed:
                    raise WorkerLostError("the agent is stopping")
                live = [w for w in self._workers if w.alive and not w.retiring]
                free = [w for w in live if len(w.pending) < self.settings.runs_per_worker]
                if free:
                    return min(free, key=lambda w: len(w.pending))
                if len(live) + self._starting < self.settings.workers:
                    self._starting += 1
                    break
                await self._room.wait()
        try:  # outside the lock: a worker takes seconds to start, and stopping ones need the lock to leave
            return await self._start()
        finally:
            self._starting -= 1
            async with self._room:
                self._room.notify_all()

    async def _start(self) -> WorkerProcess:
        browser = self.settings.browser.model_dump(mode="json")
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "prober.journey.worker", json.dumps(browser),
            stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, start_new_session=True,
            limit=MAX_LINE_BYTES,
        )
        worker = WorkerProcess(process, sessions={process.pid})
        assert process.stdout is not None
        try:
            async with asyncio.timeout(START_TIMEOUT_S):
                ready = await process.stdout.readline()
        except TimeoutError:
            await self._kill(worker, "start")
            raise
        if not ready:
            await self._kill(worker, "start")
            raise WorkerLostError(f"worker exited at start (code {process.returncode})")
        self._workers.append(worker)
        worker.reader = asyncio.create_task(self._read(worker), name=f"journey-worker:{process.pid}")
        log.info("journey worker started", extra={"pid": process.pid})
        return worker

    async def _read(self, worker: WorkerProcess) -> None:
        stdout = worker.process.stdout
        assert stdout is not None
        try:
            while line := await stdout.readline():
                message = json.loads(line)
                future = worker.pending.get(str(message.get("id")))
                if future is not None and not future.done():
                    future.set_result(message)
        except (ValueError, OSError, asyncio.LimitOverrunError) as exc:
            log.error("journey worker sent garbage", extra={"pid": worker.pid, "error": exc.__class__.__name__})
        if not worker.lost:
            code = await worker.process.wait()
            worker.lost = f"the journey worker died (exit code {code}) during this run"
            self.restarts["died"] = self.restarts.get("died", 0) + 1
            log.error("journey worker died", extra={"pid": worker.pid, "exit_code": code})
        await asyncio.to_thread(processes.kill_tree, {worker.pid}, worker.sessions)  # its browser must not outlive it
        for future in worker.pending.values():
            if not future.done():
                future.set_exception(WorkerLostError(worker.lost))
        await self._forget(worker)

    async def _after_run(self, worker: WorkerProcess) -> None:
        if worker.alive and not worker.retiring:
            if worker.runs >= self.settings.recycle_after_runs:
                self._retire(worker, "runs")
            elif worker.runs % MEMORY_CHECK_EVERY == 0:
                pss = await asyncio.to_thread(self._pss, worker)
                if pss > self.settings.recycle_above_memory:
                    self._retire(worker, "memory")
        self._stop_if_idle(worker)
        async with self._room:
            self._room.notify_all()

    def _pss(self, worker: WorkerProcess) -> int:
        return processes.pss_bytes(processes.tree({worker.pid}, processes.snapshot(), worker.sessions))

    def _retire(self, worker: WorkerProcess, cause: str) -> None:
        """No new runs for `worker`; it stops once its last run is done."""
        if not worker.retiring:
            worker.retiring = True
            self.restarts[cause] = self.restarts.get(cause, 0) + 1
            log.info("journey worker recycled", extra={"pid": worker.pid, "cause": cause, "runs": worker.runs})
        self._stop_if_idle(worker)

    def _stop_if_idle(self, worker: WorkerProcess) -> None:
        if worker.retiring and not worker.pending and worker.alive:
            worker.lost = "the journey worker was stopped"
            task = asyncio.create_task(self._stop(worker), name=f"journey-worker-stop:{worker.pid}")
            self._stopping.add(task)  # stopped in the background: a run's answer never waits for it
            task.add_done_callback(self._stopping.discard)

    async def _stop(self, worker: WorkerProcess) -> None:
        """Ask the worker to stop (it closes its browser); kill its tree if it does not within the bound."""
        worker.lost = "the journey worker was stopped"
        stdin = worker.process.stdin
        with contextlib.suppress(OSError, RuntimeError):
            if stdin is not None:
                stdin.write(b'{"op": "stop"}\n')
                await stdin.drain()
                stdin.close()
        try:
            async with asyncio.timeout(STOP_TIMEOUT_S):
                await worker.process.wait()
        except TimeoutError:
            pass
        await asyncio.to_thread(processes.kill_tree, {worker.pid}, worker.sessions)
        await self._forget(worker)

    async def _kill(self, worker: WorkerProcess, cause: str) -> None:
        worker.lost = {"hung": "the journey worker was killed: another run in it did not answer",
                       "start": "the journey worker did not start"}.get(cause, "the journey worker was killed")
        self.restarts[cause] = self.restarts.get(cause, 0) + 1
        await asyncio.to_thread(processes.kill_tree, {worker.pid}, worker.sessions)
        with contextlib.suppress(ProcessLookupError):
            await worker.process.wait()
        for future in worker.pending.values():
            if not future.done():
                future.set_exception(WorkerLostError(worker.lost))
        await self._forget(worker)

    async def _forget(self, worker: WorkerProcess) -> None:
        self._orphans |= worker.sessions  # counted (and so visible) while anything in them lives
        if worker in self._workers:
            self._workers.remove(worker)
        async with self._room:
            self._room.notify_all()

    # observing and stopping --------------------------------------------------------------------------
    def browser_processes(self) -> int:
        """Browser processes of this agent's workers, including orphans of dead workers (a leak shows here)."""
        procs = processes.snapshot()
        members: set[int] = set()
        for worker in self._workers:
            members |= processes.tree({worker.pid}, procs, worker.sessions)
        orphans = processes.tree(set(), procs, self._orphans)
        self._orphans = {procs[pid].sid for pid in orphans}  # forget sessions that have emptied
        return sum(1 for pid in members | orphans if processes.is_browser(procs[pid]))

    @property
    def worker_count(self) -> int:
        return sum(1 for w in self._workers if w.alive)

    async def close(self) -> None:
        self._closed = True
        async with self._room:
            self._room.notify_all()
        await asyncio.gather(*(self._stop(w) for w in list(self._workers)), *self._stopping, return_exceptions=True)
        for worker in list(self._workers):
            if worker.reader is not None:
                worker.reader.cancel()


def _failed(request: RunRequest, reason: Reason, detail: str, started_at: float) -> Result:
    return Result(check=request.check, ok=False, reason=reason, duration_s=time.time() - started_at,
                  started_at=started_at, detail=cap_detail(detail), journey=JourneyOutcome(request.run_id))
