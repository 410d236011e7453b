"""Scheduler: stable offsets, no self-overlap, skipped slots counted, no catch-up burst, attempts, bounds."""

from __future__ import annotations

import asyncio
import itertools
import math
import time
from collections import Counter
from collections.abc import AsyncIterator, Callable

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from prober.config.models import HttpCheck
from prober.http.tls_contexts import TlsContexts
from prober.probers.http import HttpProber
from prober.result import Reason, Result
from prober.scheduler import Job, Scheduler, first_offset_s, run_with_attempts


class Recorder:
    """A RunObserver that keeps everything it is told."""

    def __init__(self) -> None:
        self.started: list[tuple[str, float, float]] = []
        self.finished: list[tuple[Result, Result, float]] = []
        self.skipped: Counter[str] = Counter()
        self.in_flight: Counter[str] = Counter()
        self.max_in_flight = 0
        self.max_in_flight_per_check: Counter[str] = Counter()

    def run_started(self, check: str, lag_s: float) -> None:
        self.started.append((check, lag_s, time.monotonic()))
        self.in_flight[check] += 1
        self.max_in_flight = max(self.max_in_flight, sum(self.in_flight.values()))
        self.max_in_flight_per_check[check] = max(self.max_in_flight_per_check[check], self.in_flight[check])

    def run_finished(self, result: Result, first_attempt: Result) -> None:
        self.in_flight[result.check] -= 1
        self.finished.append((result, first_attempt, time.monotonic()))

    def run_skipped(self, check: str, slots: int) -> None:
        self.skipped[check] += slots


@pytest.fixture
async def target() -> AsyncIterator[TestServer]:
    hits: Counter[str] = Counter()

    async def delay(request: web.Request) -> web.Response:
        await asyncio.sleep(int(request.match_info["ms"]) / 1000)
        return web.Response(text="ok")

    async def flaky(request: web.Request) -> web.Response:
        key = request.match_info["key"]
        hits[key] += 1
        return web.Response(status=503 if hits[key] <= 2 else 200, text=str(hits[key]))

    app = web.Application()
    app.router.add_get("/delay/{ms}", delay)
    app.router.add_get("/flaky/{key}", flaky)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    yield server
    await server.close()


def http_job(name: str, url: str, interval: str, timeout: str, attempts: int = 1) -> Job:
    check = HttpCheck(name=name, type="http", url=url, interval=interval, timeout=timeout, attempts=attempts)
    return Job(check, HttpProber(check, TlsContexts()))


def test_offsets_are_stable_and_spread() -> None:
    names = [f"check_{i}" for i in range(1000)]
    offsets = [first_offset_s(n, 30.0) for n in names]
    assert offsets == [first_offset_s(n, 30.0) for n in names]
    assert all(0 <= o < 30 for o in offsets)
    per_second = Counter(int(o) for o in offsets)
    assert len(per_second) == 30
    assert max(per_second.values()) < 3 * 1000 / 30  # no second gets more than 3x its fair share



async def until(condition: Callable[[], bool], more_s: float = 5.0) -> None:
    """Wait up to `more_s` longer for what a starved VM (its loop stalled for a second or two) delays."""
    for _ in range(round(more_s / 0.1)):
        if condition():
            return
        await asyncio.sleep(0.1)

async def test_runs_stay_on_their_grid_and_every_slot_is_run_or_skipped(target: TestServer) -> None:
    recorder = Recorder()
    scheduler = Scheduler([recorder], max_concurrent_runs=10)
    begin = time.monotonic()
    scheduler.apply([http_job("cadence", str(target.make_url("/delay/1")), "200ms", "200ms")])
    await asyncio.sleep(2.1)
    await until(lambda: len(recorder.started) >= 3)
    await scheduler.stop()
    stopped = time.monotonic()
    # due time of each run = start - lag; due times sit on one 200 ms grid
    dues = [t - lag for _, lag, t in recorder.started]
    steps = [(b - a) / 0.2 for a, b in itertools.pairwise(dues)]
    assert len(dues) >= 3
    assert all(abs(step - round(step)) < 0.25 and round(step) >= 1 for step in steps), steps
    # every slot between the first and the last run was run or counted as skipped; none counted twice
    skipped = recorder.skipped["cadence"]
    assert len(steps) + skipped >= sum(round(step) for step in steps)
    assert len(dues) + skipped <= (stopped - begin) / 0.2 + 1
    assert all(lag >= 0 for _, lag, _ in recorder.started)


async def test_a_check_never_overlaps_itself_and_counts_skipped_slots(target: TestServer) -> None:
    recorder = Recorder()
    scheduler = Scheduler([recorder], max_concurrent_runs=10)
    # three attempts of 50 ms and two backoffs (100 ms, 200 ms) overrun a 100 ms interval
    scheduler.apply([http_job("overrun", str(target.make_url("/delay/1000")), "100ms", "50ms", attempts=3)])
    await asyncio.sleep(3.0)
    await scheduler.stop()
    assert recorder.max_in_flight_per_check["overrun"] == 1
    assert len(recorder.finished) >= 2
    assert all(r.reason is Reason.TIMEOUT and r.attempts == 3 for r, _, _ in recorder.finished)
    # each run takes >= 450 ms, so every run after the first skipped at least two slots
    assert recorder.skipped["overrun"] >= 2 * (len(recorder.finished) - 1)


async def test_no_burst_of_catch_up_runs_after_the_loop_stalls(target: TestServer) -> None:
    recorder = Recorder()
    scheduler = Scheduler([recorder], max_concurrent_runs=10)
    scheduler.apply([http_job("stall", str(target.make_url("/delay/1")), "100ms", "100ms")])
    await asyncio.sleep(0.6)
    await until(lambda: len(recorder.started) >= 1)
    before = len(recorder.started)
    time.sleep(1.0)  # noqa: ASYNC251 - block the event loop on purpose: ten slots pass
    unblocked = time.monotonic()
    await asyncio.sleep(0.25)
    await scheduler.stop()
    after_stall = [t for _, _, t in recorder.started if t >= unblocked]
    assert before >= 1
    # a catch-up burst would start ten runs at once; without one, the 250 ms after the stall hold the one late
    # slot (the latest that passed, run at once) plus the grid's slots in them: at most ceil(250 / 100) = 3 more
    assert len([t for t in after_stall if t < unblocked + 0.25]) <= 1 + math.ceil(0.25 / 0.1)
    assert recorder.skipped["stall"] >= 8


async def test_attempts_retry_until_success_and_count_every_try(target: TestServer) -> None:
    job = http_job("flaky", str(target.make_url("/flaky/a")), "10s", "2s", attempts=3)
    final, first = await run_with_attempts(job)
    assert final.ok and final.attempts == 3
    assert first.reason is Reason.HTTP_STATUS


async def test_attempts_stop_at_the_configured_count(target: TestServer) -> None:
    job = http_job("flaky", str(target.make_url("/flaky/b")), "10s", "2s", attempts=2)
    final, first = await run_with_attempts(job)
    assert not final.ok and final.attempts == 2 and final.reason is Reason.HTTP_STATUS
    assert first.reason is Reason.HTTP_STATUS


async def test_global_concurrency_bound(target: TestServer) -> None:
    recorder = Recorder()
    scheduler = Scheduler([recorder], max_concurrent_runs=2)
    url = str(target.make_url("/delay/300"))
    scheduler.apply([http_job(f"c{i}", url, "1s", "1s") for i in range(6)])
    await asyncio.sleep(2.2)
    await until(lambda: len(recorder.finished) >= 6)
    await scheduler.stop()
    assert recorder.max_in_flight == 2
    assert len(recorder.finished) >= 6


class RaisingProber:
    """A prober with a bug: it raises."""

    grace_s = 0.0

    async def probe(self) -> Result:
        raise RuntimeError("bug")


class OverrunningProber:
    """A prober with a bug: it ignores its timeout."""

    grace_s = 0.0

    async def probe(self) -> Result:
        await asyncio.sleep(30)
        raise AssertionError("unreachable")


@pytest.mark.parametrize(
    ("prober", "detail"),
    [(RaisingProber(), "prober raised RuntimeError"), (OverrunningProber(), "prober overran its 0.2s timeout")],
)
async def test_a_buggy_prober_costs_one_internal_result(prober: object, detail: str) -> None:
    check = HttpCheck(name="buggy", type="http", url="http://127.0.0.1:1/", interval="1s", timeout="200ms", attempts=1)
    start = time.monotonic()
    final, _ = await run_with_attempts(Job(check, prober))  # type: ignore[arg-type]
    assert final.reason is Reason.INTERNAL and detail in final.detail
    assert time.monotonic() - start < 5.0  # timeout + 1 s grace, plus this VM's late timer wake-ups


async def test_apply_keeps_unchanged_checks_and_replaces_changed_ones(target: TestServer) -> None:
    scheduler = Scheduler([Recorder()], max_concurrent_runs=10)
    url = str(target.make_url("/delay/1"))
    scheduler.apply([http_job("same", url, "1s", "1s"), http_job("changed", url, "1s", "1s")])
    tasks = dict(scheduler._tasks)
    ending = scheduler.apply([http_job("same", url, "1s", "1s"), http_job("changed", url, "2s", "1s")])
    assert scheduler._tasks["same"][2] is tasks["same"][2]
    assert scheduler._tasks["changed"][2] is not tasks["changed"][2]
    assert ending == [tasks["changed"][2]]
    await scheduler.stop()
    assert all(task.done() for _, _, task in scheduler._tasks.values())
