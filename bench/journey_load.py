"""Journey benchmark: throughput and memory of the worker pool, and its overhead over bare Playwright.

    .venv/bin/python bench/journey_load.py [--runs 30] [--long 500]

Prints, on this machine, with Debian's chromium-headless-shell:
- per-run cost of a fresh context + page on a warm browser (bare Playwright, no prober) and of launching a
  browser per run (as cloudprober and Checkly do), median and p95;
- prober's cost per run through the pool (dispatch, context, page, init script, vitals, result), with and
  without the retain-on-failure trace, and its overhead over the bare calls;
- journeys per minute at 1, 4 and 8 concurrent runs in one worker, and the PSS of the worker and its browser;
- PSS after 50 runs and after `--long` runs, to show growth.
The trivial journey renders one small page with `set_content` (no network), so what is measured is the
machinery, not a target.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

from playwright.async_api import async_playwright

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from prober.config.models import JourneysSection
from prober.journey import processes
from prober.journey.browser import LAUNCH_ARGS, find_executable
from prober.journey.pool import WorkerPool, new_run_id
from prober.journey.protocol import RunRequest

SCRIPT = '''
from prober.journey import Journey, journey


@journey
async def trivial(j: Journey) -> None:
    async with j.step("render"):
        await j.page.set_content("<h1>hello</h1><p>a trivial journey</p>")
'''
CONTENT = "<h1>hello</h1><p>a trivial journey</p>"


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def ms(values: list[float]) -> str:
    return f"median {statistics.median(values) * 1000:7.1f} ms   p95 {pct(values, 0.95) * 1000:7.1f} ms"


async def bare(runs: int) -> tuple[list[float], list[float]]:
    path = find_executable("headless_shell", None)
    warm, cold = [], []
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=path, args=list(LAUNCH_ARGS))
        for _ in range(runs + 3):
            start = time.perf_counter()
            context = await browser.new_context()
            page = await context.new_page()
            await page.set_content(CONTENT)
            await context.close()
            warm.append(time.perf_counter() - start)
        await browser.close()
        for _ in range(max(5, runs // 3)):
            start = time.perf_counter()
            browser = await playwright.chromium.launch(executable_path=path, args=list(LAUNCH_ARGS))
            page = await (await browser.new_context()).new_page()
            await page.set_content(CONTENT)
            await browser.close()
            cold.append(time.perf_counter() - start)
    return warm[3:], cold


def request(script: Path, artifacts: Path, trace: bool) -> RunRequest:
    return RunRequest(run_id=new_run_id(), check="bench", script=str(script), function=None, params={}, secrets=[],
                      timeout_s=30, fail_on_page_error=False, artifacts_dir=str(artifacts), artifacts_when="failure",
                      trace=trace)


def pool_pss(pool: WorkerPool) -> int:
    procs = processes.snapshot()
    return processes.pss_bytes(processes.tree({w.pid for w in pool._workers}, procs, set()))


async def sequential(pool: WorkerPool, script: Path, artifacts: Path, runs: int, trace: bool) -> list[float]:
    times = []
    for _ in range(runs + 3):
        start = time.perf_counter()
        result = await pool.run(request(script, artifacts, trace))
        assert result.ok, result.detail
        times.append(time.perf_counter() - start)
    return times[3:]


async def drive(pool: WorkerPool, script: Path, artifacts: Path, width: int, runs: int,
                after_run: Callable[[int], Awaitable[None]]) -> float:
    """`runs` trivial journeys, `width` at a time; `after_run(n)` after the n-th. Returns the seconds taken.

    A failed run is printed (with the pool's worker restarts so far), never hidden."""
    done = 0

    async def loop() -> None:
        nonlocal done
        while done < runs:
            done += 1
            number = done
            result = await pool.run(request(script, artifacts, False))
            if not result.ok:
                print(f"  run {number} FAILED: {result.reason.value}: {result.detail} (restarts: {pool.restarts})")
            await after_run(number)

    start = time.perf_counter()
    await asyncio.gather(*(loop() for _ in range(width)))
    return time.perf_counter() - start


async def concurrent(script: Path, artifacts: Path, width: int, runs: int) -> tuple[float, int]:
    """Journeys per minute at `width` concurrent runs in one worker, and the peak PSS of worker and browser."""
    pool = WorkerPool(JourneysSection(workers=1, runs_per_worker=width, recycle_after_runs=100_000))
    peak = 0

    async def sample(number: int) -> None:
        nonlocal peak
        if number % width == 0:
            peak = max(peak, await asyncio.to_thread(pool_pss, pool))

    try:
        await pool.run(request(script, artifacts, False))  # start the worker and its browser
        elapsed = await drive(pool, script, artifacts, width, runs, sample)
        return runs / elapsed * 60, peak
    finally:
        await pool.close()


async def growth(script: Path, artifacts: Path, long_runs: int) -> tuple[int, int]:
    """PSS of worker and browser after 50 runs and after `long_runs`, 4 at a time."""
    pool = WorkerPool(JourneysSection(workers=1, runs_per_worker=4, recycle_after_runs=100_000))
    at_50 = 0

    async def sample(number: int) -> None:
        nonlocal at_50
        if number == 50:
            at_50 = await asyncio.to_thread(pool_pss, pool)

    try:
        await drive(pool, script, artifacts, 4, long_runs, sample)
        await asyncio.sleep(1)
        return at_50, await asyncio.to_thread(pool_pss, pool)
    finally:
        await pool.close()


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--long", type=int, default=500)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        script = Path(tmp) / "trivial.py"
        script.write_text(SCRIPT)
        artifacts = Path(tmp) / "artifacts"
        warm, cold = await bare(args.runs)
        print(f"bare Playwright, warm browser, context+page+close   {ms(warm)}")
        print(f"bare Playwright, browser launched per run           {ms(cold)}")
        pool = WorkerPool(JourneysSection(workers=1, runs_per_worker=1))
        try:
            plain = await sequential(pool, script, artifacts, args.runs, trace=False)
            traced = await sequential(pool, script, artifacts, args.runs, trace=True)
        finally:
            await pool.close()
        print(f"prober pool, no trace                                {ms(plain)}")
        print(f"prober pool, retain-on-failure trace                 {ms(traced)}")
        over = statistics.median(plain) - statistics.median(warm)
        print(f"prober overhead over bare (median, no trace)         {over * 1000:7.1f} ms   goal < 100 ms")
        for width in (1, 4, 8):
            per_minute, peak = await concurrent(script, artifacts, width, max(20, width * 10))
            print(f"{width} concurrent: {per_minute:6.0f} journeys/min ({per_minute / 60:4.1f}/s)   "
                  f"PSS worker+browser {peak / 2**20:5.0f} MiB")
        at_50, at_long = await growth(script, artifacts, args.long)
        print(f"PSS after 50 runs {at_50 / 2**20:5.0f} MiB, after {args.long} runs {at_long / 2**20:5.0f} MiB "
              f"({(at_long / at_50 - 1) * 100:+.0f}%; goal <= +10%)")


if __name__ == "__main__":
    asyncio.run(main())
