"""A probe worker: a child process that runs the scheduler over its share of the checks and does nothing else.

`python -m prober.probing --events-fd N --parent PID`. It reads `Assign`/`Stop` frames on stdin and sends what its
scheduler reports on fd N, batched once per event-loop iteration, so its loop is busy only with probing: the
scrapes, logs, status page and reloads of the agent happen in the main process, and a probe's clock never waits
for them. It stops when told (after its in-flight runs end), when stdin ends (the agent is gone), and, on
Linux, is killed with the agent even if its loop is stuck (prober.probing.__main__).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import os
import signal
import sys
import time

from prober.config.models import Check, JourneysSection
from prober.event_loop import LoopLagMonitor, run_loop
from prober.exporters.log import configure_logging
from prober.probers import ProberDeps, TlsContexts
from prober.probing.jobs import build_jobs
from prober.probing.protocol import (
    DEFINE_BATCH,
    HEARTBEAT_S,
    Applied,
    Assign,
    Define,
    Finished,
    FromWorker,
    Heartbeat,
    Skipped,
    Started,
    Stop,
    frame,
    read_frame,
)
from prober.result import Result
from prober.scheduler import Job, Scheduler
from prober.sli_filter import judged_for_overload

FLUSH_TIMEOUT_S = 10.0


class _Pipe(asyncio.Protocol):
    """The events pipe's protocol: it only needs to know when the agent's end is gone."""

    def __init__(self) -> None:
        self.closed = asyncio.get_running_loop().create_future()

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.closed.done():
            self.closed.set_result(None)


class EventSender:
    """A RunObserver that sends what the scheduler reports to the agent, one frame per loop iteration; a run
    that failed on time while this loop ran late goes as inconclusive (sli_filter.judged_for_overload)."""

    def __init__(self, transport: asyncio.WriteTransport, monitor: LoopLagMonitor) -> None:
        self._transport = transport
        self._monitor = monitor
        self._batch: list[FromWorker] = []
        self._loop = asyncio.get_running_loop()
        self.timeouts: dict[str, float] = {}
        """Each assigned check's timeout."""

    def send(self, message: FromWorker) -> None:
        if not self._batch:
            self._loop.call_soon(self.flush)
        self._batch.append(message)

    def flush(self) -> None:
        if self._batch and not self._transport.is_closing():
            self._transport.write(frame(self._batch))  # never blocks: the transport buffers what the pipe cannot
        self._batch = []

    def run_started(self, check: str, lag_s: float) -> None:
        self.send(Started(check, lag_s))

    def run_finished(self, result: Result, first_attempt: Result) -> None:
        late_s = self._monitor.late_since(result.started_at) if not result.ok else 0.0
        self.send(Finished(judged_for_overload(result, self.timeouts.get(result.check, 0.0), late_s),
                           first_attempt))

    def run_skipped(self, check: str, slots: int) -> None:
        self.send(Skipped(check, slots))


class _HeldJobs:
    """The jobs built from what the agent defined, by check name, until an Assign takes them."""

    def __init__(self) -> None:
        self._jobs: dict[str, Job] = {}
        self._broken: dict[str, str] = {}  # name -> why its prober did not build, until it is defined again
        self._deps = ProberDeps(TlsContexts(), None, JourneysSection())  # TLS files are read again each round

    async def define(self, checks: tuple[Check, ...]) -> None:
        jobs, problems = build_jobs(checks, self._deps)
        for job in jobs:
            self._jobs[job.check.name] = job
            self._broken.pop(job.check.name, None)
        for index, problem in problems:
            self._jobs.pop(checks[index].name, None)
            self._broken[checks[index].name] = problem
        await asyncio.sleep(0)  # a turn of the loop between two frames of a big reload

    def take(self, names: tuple[str, ...]) -> tuple[list[Job], tuple[str, ...]]:
        """The jobs of `names` and what stops any of them; the held jobs become exactly these."""
        problems = tuple(f"{name}: {self._broken.get(name, 'never defined')}" for name in names
                         if name not in self._jobs)
        self._jobs = {name: self._jobs[name] for name in names if name in self._jobs}
        self._broken = {name: self._broken[name] for name in names if name in self._broken}
        self._deps = ProberDeps(TlsContexts(), None, JourneysSection())
        return [self._jobs[name] for name in names if name in self._jobs], problems


async def _heartbeat(sender: EventSender, monitor: LoopLagMonitor) -> None:
    while True:
        sender.send(Heartbeat(monitor.lag_s))
        await asyncio.sleep(HEARTBEAT_S)


async def serve(events_fd: int) -> None:
    """Probe what the agent assigns until it says stop or goes away."""
    loop = asyncio.get_running_loop()
    commands = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(commands), sys.stdin.buffer)
    transport, pipe = await loop.connect_write_pipe(_Pipe, os.fdopen(events_fd, "wb", buffering=0))
    monitor = LoopLagMonitor()
    monitor.start()
    sender = EventSender(transport, monitor)
    heartbeat = asyncio.create_task(_heartbeat(sender, monitor), name="heartbeat")
    held = _HeldJobs()
    scheduler: Scheduler | None = None
    try:
        while (messages := await read_frame(commands)) is not None:
            for message in messages:
                if isinstance(message, Define):
                    await held.define(message.checks)
                elif isinstance(message, Assign):
                    if scheduler is None:
                        scheduler = Scheduler([sender], message.max_concurrent_runs)
                    applied_at = time.time()
                    jobs, problems = held.take(message.names)
                    if not problems:  # the agent built them all a moment ago: a file must have changed since
                        await scheduler.apply_in_steps(jobs, DEFINE_BATCH)
                        sender.timeouts = {job.check.name: job.check.timeout for job in jobs}
                        gc.freeze()  # the jobs live until the next reload: no collection walks them mid-probe
                    sender.send(Applied(problems, applied_at))
                elif isinstance(message, Stop):
                    if scheduler is not None:
                        await scheduler.stop()
                    return
    finally:
        heartbeat.cancel()
        await monitor.stop()
        sender.flush()
        transport.close()  # writes what is buffered first
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(FLUSH_TIMEOUT_S):
                await pipe.closed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="prober.probing.worker")
    parser.add_argument("--events-fd", type=int, required=True)
    parser.add_argument("--parent", type=int, required=True, help="the agent's pid (read by __main__)")
    parser.add_argument("--log-level", default="info")
    args = parser.parse_args(argv)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the agent stops us by message, by EOF, or with SIGKILL
    configure_logging(args.log_level)  # our own rare lines (a prober that raised) join the agent's stdout
    run_loop(serve(args.events_fd))
    return 0


