"""The main process's side of probing: probe workers started, given their share of the checks, watched, replaced.

Each check belongs to one worker by a stable hash of its name, so a reload moves no check and an unchanged
check keeps its cadence in its worker. What workers report is replayed to the agent's observers (metrics, log,
status page) after the SLI filter has judged each finished run, in order per check. A worker that dies, or
whose loop stops answering for HANG_AFTER_S, is killed and replaced; its in-flight runs end as `internal`, the
slots its checks miss until the new worker runs them are counted as skipped, and `restarts` counts it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import os
import sys
import time
import zlib
from collections.abc import Coroutine, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from prober.config.models import MAX_PROBE_WORKERS, Check
from prober.probing.protocol import (
    DEFINE_BATCH,
    Applied,
    Assign,
    Define,
    Finished,
    FrameError,
    Heartbeat,
    Skipped,
    Started,
    Stop,
    ToWorker,
    frame,
    read_frame,
)
from prober.result import Reason, Result
from prober.scheduler import BACKSTOP_GRACE_S, RunObserver, grid_slots
from prober.sli_filter import SliFilter

log = logging.getLogger("prober.probing")

HANG_AFTER_S = 10.0
"""A worker whose loop sends nothing for this long is stuck (its heartbeat comes every 0.5 s): killed, replaced."""
WATCH_PERIOD_S = 1.0
STOP_GRACE_S = 5.0
"""How long past the longest check's timeout a stopping worker may take before it is killed."""
EXIT_AFTER_EOF_S = 5.0
RESTART_BACKOFF_MAX_S = 30.0
STABLE_AFTER_S = 60.0
"""A worker that dies sooner than this after its start, twice or more in a row, is restarted after a backoff
(1 s, 2 s, 4 s, ... 30 s): a worker that cannot live is not restarted in a busy loop."""


def worker_count(setting: int | str, cgroup_cpu_max: Path = Path("/sys/fs/cgroup/cpu.max")) -> int:
    """`agent.probe_workers` as a number: `auto` is the cores this process may use, its CPU affinity capped by
    its cgroup's CPU quota (a pod's CPU limit), at least 1 and at most MAX_PROBE_WORKERS."""
    if isinstance(setting, int):
        return setting
    cores = len(os.sched_getaffinity(0))
    with contextlib.suppress(OSError, ValueError):
        quota, period = cgroup_cpu_max.read_text().split()
        if quota != "max":
            cores = min(cores, math.ceil(int(quota) / int(period)))
    return max(1, min(MAX_PROBE_WORKERS, cores))


def worker_of(name: str, count: int) -> int:
    """The probe worker (0..count-1) that runs the check named `name`: stable in every process and restart."""
    return zlib.crc32(b"worker:" + name.encode()) % count  # salted: independent of shards and time offsets


@dataclass(eq=False)
class _Worker:
    index: int
    process: asyncio.subprocess.Process | None = None
    reader: asyncio.Task[None] | None = None
    in_flight: dict[str, float] = field(default_factory=dict)  # check -> unix time its run started
    quiet_ticks: int = 0
    loop_lag_s: float = 0.0
    ready: bool = False
    killed_for: str = ""
    started_at: float = 0.0  # monotonic
    heard_at: float = 0.0  # unix time of the last frame
    quick_deaths: int = 0  # deaths in a row, each within STABLE_AFTER_S of its start
    gap_from: float | None = None  # unix time from which its checks' slots went unrun (after a loss)
    given: dict[str, Check] = field(default_factory=dict)  # what its process holds: only changes are sent


class ProbeWorkers:
    """`count` probe workers; `assign` gives them the checks, `stop` drains them. Never raises for a worker's
    death: that ends as `internal` runs and a restart."""

    def __init__(self, count: int, observers: Sequence[RunObserver], sli: SliFilter, log_level: str = "info") -> None:
        self.count = count
        self.restarts: dict[str, int] = {}
        self._observers = observers
        self._sli = sli
        self._log_level = log_level
        self._workers = [_Worker(i) for i in range(count)]
        self._checks: dict[str, Check] = {}
        self._shares: list[tuple[Check, ...]] = [() for _ in range(count)]
        self._max_concurrent_runs = 1
        self._judging: dict[str, asyncio.Task[None]] = {}
        self._background: set[asyncio.Task[None]] = set()
        self._watchdog: asyncio.Task[None] | None = None
        self._stopping = False
        self._all_ready = asyncio.Event()

    # figures for the exporter ---------------------------------------------------------------------------
    @property
    def alive(self) -> int:
        return sum(1 for w in self._workers if w.process is not None and w.process.returncode is None)

    @property
    def started(self) -> bool:
        """Every worker once had its share at the same time (the agent's readiness): it stays true while a
        replaced worker starts, so that one worker's death does not take the agent out of its Service."""
        return self._all_ready.is_set()

    @property
    def ready(self) -> bool:
        """Every worker now runs its share (false while a replacement starts)."""
        return all(w.ready for w in self._workers)

    def loop_lag_s(self) -> float:
        """The latest of the workers' last loop-lag measurements."""
        return max((w.loop_lag_s for w in self._workers), default=0.0)

    def pids(self) -> list[int]:
        return [w.process.pid for w in self._workers if w.process is not None and w.process.returncode is None]

    # lifecycle ----------------------------------------------------------------------------------------
    async def start(self) -> None:
        """Start every worker (they wait for `assign`)."""
        await asyncio.gather(*(self._spawn(w) for w in self._workers))
        self._watchdog = asyncio.create_task(self._watch(), name="probe-worker-watchdog")

    def assign(self, checks: Sequence[Check], max_concurrent_runs: int) -> None:
        """Give each worker its share of `checks` (it starts new ones, replaces changed ones, stops removed ones)
        and an even share of the concurrency bound."""
        self._checks = {check.name: check for check in checks}
        self._max_concurrent_runs = max(1, -(-max_concurrent_runs // self.count))
        shares: list[list[Check]] = [[] for _ in range(self.count)]
        for check in checks:
            shares[worker_of(check.name, self.count)].append(check)
        self._shares = [tuple(share) for share in shares]
        for worker in self._workers:
            self._assign(worker)

    async def wait_ready(self, timeout_s: float) -> bool:
        """Wait until every worker has taken its share; False when that took longer than `timeout_s`."""
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(timeout_s):
                await self._all_ready.wait()
        return self.ready

    async def stop(self) -> None:
        """Stop scheduling; wait for in-flight runs (each bounded by its timeout), then for the workers to exit."""
        self._stopping = True
        if self._watchdog is not None:
            self._watchdog.cancel()
        for worker in self._workers:
            self._send(worker, Stop())
        bound = max((c.timeout for c in self._checks.values()), default=0.0) + BACKSTOP_GRACE_S + STOP_GRACE_S
        readers = [w.reader for w in self._workers if w.reader is not None]
        if readers:
            _done, late = await asyncio.wait(readers, timeout=bound)
            for worker in self._workers:
                if worker.reader in late:
                    worker.killed_for = "stop"
                    self._kill(worker)
            if late:
                await asyncio.wait(late, timeout=STOP_GRACE_S)
        await asyncio.gather(*self._judging.values(), *self._background, return_exceptions=True)

    # one worker -----------------------------------------------------------------------------------------
    async def _spawn(self, worker: _Worker) -> None:
        loop = asyncio.get_running_loop()
        read_fd, write_fd = os.pipe()
        try:
            process = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "prober.probing", "--events-fd", str(write_fd),
                "--parent", str(os.getpid()), "--log-level", self._log_level,
                stdin=asyncio.subprocess.PIPE, pass_fds=(write_fd,), start_new_session=True,
            )
        except OSError:
            os.close(read_fd)
            raise
        finally:
            os.close(write_fd)
        events = asyncio.StreamReader(limit=1 << 20)
        await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(events),
                                     os.fdopen(read_fd, "rb", buffering=0))
        worker.process, worker.ready, worker.killed_for, worker.given = process, False, "", {}
        worker.quiet_ticks, worker.started_at, worker.heard_at = 0, time.monotonic(), time.time()
        worker.reader = asyncio.create_task(self._read(worker, process, events), name=f"probe-worker:{worker.index}")
        log.info("probe worker started", extra={"worker": worker.index, "pid": process.pid})

    def _assign(self, worker: _Worker) -> None:
        """Send the worker what is new or changed in its share, a few checks per frame, then the share by name:
        a reload that changes nothing sends names only, and one that changes everything never makes the worker
        decode and build thousands of checks between two turns of the loop that times its probes."""
        share = self._shares[worker.index]
        changed = [check for check in share if worker.given.get(check.name) != check]
        defines = [Define(tuple(changed[i:i + DEFINE_BATCH])) for i in range(0, len(changed), DEFINE_BATCH)]
        if self._send(worker, *defines, Assign(tuple(check.name for check in share), self._max_concurrent_runs)):
            worker.given = {check.name: check for check in share}

    def _send(self, worker: _Worker, *messages: ToWorker) -> bool:
        """Write each message as its own frame; False when the worker is dead or dying (its replacement gets the
        latest share)."""
        process = worker.process
        if process is None or process.stdin is None or process.returncode is not None:
            return False
        try:
            process.stdin.write(b"".join(frame([message]) for message in messages))
        except (ConnectionError, RuntimeError):
            return False  # dying: its reader sees it and replaces it
        self._in_background(self._drain(process.stdin))
        return True

    @staticmethod
    async def _drain(stdin: asyncio.StreamWriter) -> None:
        with contextlib.suppress(ConnectionError, RuntimeError):
            await stdin.drain()

    def _in_background(self, coro: Coroutine[Any, Any, None]) -> None:
        task = asyncio.create_task(coro)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def _read(self, worker: _Worker, process: asyncio.subprocess.Process, events: asyncio.StreamReader) -> None:
        try:
            while (messages := await read_frame(events)) is not None:
                worker.quiet_ticks, worker.heard_at = 0, time.time()
                for message in messages:
                    self._on(worker, message)
        except FrameError as exc:
            log.error("probe worker sent garbage; killing it", extra={"worker": worker.index, "error": str(exc)})
            worker.killed_for = worker.killed_for or "died"
        try:  # a worker closes its end as it exits; one that lingers past that is of no more use
            async with asyncio.timeout(EXIT_AFTER_EOF_S):
                code = await process.wait()
        except TimeoutError:
            with contextlib.suppress(ProcessLookupError):
                process.kill()
            code = await process.wait()
        self._lost(worker, code)

    def _on(self, worker: _Worker, message: object) -> None:
        if isinstance(message, Finished):
            worker.in_flight.pop(message.final.check, None)
            self._finished(message.final, message.first_attempt)
        elif isinstance(message, Started):
            worker.in_flight[message.check] = time.time()
            for observer in self._observers:
                observer.run_started(message.check, message.lag_s)
        elif isinstance(message, Skipped):
            for observer in self._observers:
                observer.run_skipped(message.check, message.slots)
        elif isinstance(message, Heartbeat):
            worker.loop_lag_s = message.loop_lag_s
        elif isinstance(message, Applied):
            self._applied(worker, message)

    def _applied(self, worker: _Worker, message: Applied) -> None:
        worker.ready = True
        if self.ready:
            self._all_ready.set()
        if message.problems:
            log.error("probe worker could not build every prober; it keeps its last checks",
                      extra={"worker": worker.index, "problems": list(message.problems)})
            worker.given = {}  # it holds none of the new share: the next assignment sends every check again
        if worker.gap_from is not None:  # slots missed while no worker ran these checks: skipped, not lost
            for check in self._shares[worker.index]:
                slots = grid_slots(check.name, check.interval, worker.gap_from, message.at)
                if slots:
                    for observer in self._observers:
                        observer.run_skipped(check.name, slots)
            worker.gap_from = None

    def _lost(self, worker: _Worker, code: int) -> None:
        """The worker's process is gone: end its in-flight runs as `internal`, then replace it (unless stopping)."""
        cause = worker.killed_for or ("" if self._stopping else "died")
        now = time.time()
        what = {"hung": f"was killed: its loop answered nothing for {HANG_AFTER_S:g}s",
                "start": f"was killed: it did not start within {HANG_AFTER_S:g}s",
                "stop": "was killed: it did not stop in time"}.get(cause, f"ended (exit code {code})")
        for check, started_at in worker.in_flight.items():
            lost = Result(check=check, ok=False, reason=Reason.INTERNAL, duration_s=max(0.0, now - started_at),
                          started_at=started_at, detail=f"the probe worker {what} during this run")
            self._finished(lost, lost)
        worker.gap_from = min(worker.heard_at, now) if cause == "hung" else now
        if worker.in_flight:  # a run that started after the last heartbeat has its slot run (as internal)
            worker.gap_from = max(worker.gap_from, *worker.in_flight.values())
        worker.in_flight.clear()
        worker.process, worker.reader = None, None
        if self._stopping:
            if cause or code != 0:
                log.warning(f"probe worker {what} while stopping", extra={"worker": worker.index})
            return
        worker.ready = False
        self.restarts[cause] = self.restarts.get(cause, 0) + 1
        quick = time.monotonic() - worker.started_at < STABLE_AFTER_S
        worker.quick_deaths = worker.quick_deaths + 1 if quick else 0
        backoff_s = 0.0 if worker.quick_deaths <= 1 else min(2.0 ** (worker.quick_deaths - 2), RESTART_BACKOFF_MAX_S)
        log.error(f"probe worker {what}; replacing it", extra={"worker": worker.index, "cause": cause,
                  "exit_code": code, "restart_in_s": backoff_s})
        self._in_background(self._restart(worker, backoff_s))

    async def _restart(self, worker: _Worker, backoff_s: float) -> None:
        await asyncio.sleep(backoff_s)
        while not self._stopping:
            try:
                await self._spawn(worker)
            except OSError as exc:
                log.error("cannot start a probe worker", extra={"worker": worker.index, "error": str(exc)})
                await asyncio.sleep(RESTART_BACKOFF_MAX_S)
                continue
            self._assign(worker)
            if self._stopping:  # stop() began while it started: it has no Stop of its own yet
                self._send(worker, Stop())
            return

    def _kill(self, worker: _Worker) -> None:
        if worker.process is not None and worker.process.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                worker.process.kill()

    async def _watch(self) -> None:
        """Kill a worker whose loop went quiet: counted in ticks of this loop, so a stall of the main process
        itself (a large scrape) never reads as a worker's."""
        hang_ticks = round(HANG_AFTER_S / WATCH_PERIOD_S)
        while True:
            await asyncio.sleep(WATCH_PERIOD_S)
            for worker in self._workers:
                if worker.process is None or worker.killed_for:
                    continue
                worker.quiet_ticks += 1
                if worker.quiet_ticks >= hang_ticks:
                    worker.killed_for = "hung" if worker.ready else "start"
                    log.error("probe worker is stuck; killing it", extra={"worker": worker.index,
                              "pid": worker.process.pid, "quiet_s": worker.quiet_ticks * WATCH_PERIOD_S})
                    self._kill(worker)

    # results ------------------------------------------------------------------------------------------
    def _finished(self, final: Result, first_attempt: Result) -> None:
        """Judge the run (maintenance, vantage) and hand it to the observers, in order per check."""
        check = self._checks.get(final.check)
        pending = self._judging.get(final.check)
        judged = self._sli.judge_now(check, final) if check is not None and pending is None else final
        if check is not None and (pending is not None or judged is None):
            task = asyncio.create_task(self._judge_later(check, final, first_attempt, pending))
            self._judging[final.check] = task
            task.add_done_callback(lambda done: self._judging.pop(final.check, None)
                                   if self._judging.get(final.check) is done else None)
            return
        assert judged is not None
        for observer in self._observers:
            observer.run_finished(judged, first_attempt)

    async def _judge_later(self, check: Check, final: Result, first_attempt: Result,
                           before: asyncio.Task[None] | None) -> None:
        judged = await self._sli.judge(check, final)  # a failed run waits for a fresh canary round
        if before is not None:
            await before  # the check's earlier run reaches the observers first
        for observer in self._observers:
            observer.run_finished(judged, first_attempt)
