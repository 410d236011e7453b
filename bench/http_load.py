"""HTTP load benchmark: prober's CPU per probe, probes/s, memory, schedule lag and timing error, with peers.

One loopback target process answers every request after exactly 50 ms. Three workloads probe it at the same
rate for the same time, each in its own process so that its CPU and peak RSS are its own:

- prober: the agent's real machinery (HttpProber per check, Scheduler, PrometheusExporter, a JSON log line per
  run) under uvloop, N checks whose interval makes the rate;
- blackbox_exporter: Debian's prometheus-blackbox-exporter, its /probe requested at the rate (a new
  connection per probe, as we do); its own process's CPU is measured, not the driver's;
- bare: a minimal uvloop + aiohttp loop, a fresh connection per GET, nothing timed or exported (the floor).

Read "CPU ms/probe" as the cost of one probe; the ratios compare prober with each peer in the same run.
Timing error = prober's measured time-to-first-byte minus the target's 50 ms.

    .venv/bin/python bench/http_load.py [--rate 200] [--seconds 20]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from common import (
    pct,
    proc_cpu_s,
    proc_status_kib,
    start_blackbox,
    start_target,
    stop,
    timer_lateness_ms,
)

TARGET_DELAY_S = 0.050
PROBE_TIMEOUT_S = 2.0  # prober's and blackbox_exporter's; generous, so that a late VM timer is not a failure


# -- workloads (each runs in its own process and prints one JSON line) -----------------------------------------
def _cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


async def _workload_prober(url: str, rate: float, seconds: float) -> dict[str, Any]:
    from prober.config.models import HttpCheck
    from prober.exporters.log import RunLogger, configure_logging
    from prober.exporters.prometheus import PrometheusExporter
    from prober.http.tls_contexts import TlsContexts
    from prober.probers.http import HttpProber
    from prober.result import Phase, Result
    from prober.scheduler import Job, Scheduler

    configure_logging()  # the agent's own logging, with its JSON line per run, written to /dev/null
    handler = logging.getLogger().handlers[0]
    assert isinstance(handler, logging.StreamHandler)
    devnull = open(os.devnull, "w")  # noqa: SIM115, ASYNC230 - once, for the process
    handler.setStream(devnull)

    checks_n = max(1, round(rate * PROBE_TIMEOUT_S))  # interval = timeout, so the checks make the rate
    interval_ms = round(checks_n / rate * 1000)
    checks = [HttpCheck(name=f"c{i}", type="http", url=url, interval=f"{interval_ms}ms",
                        timeout=f"{round(PROBE_TIMEOUT_S * 1000)}ms", attempts=1) for i in range(checks_n)]
    lags: list[float] = []
    ttfb_errors: list[float] = []
    done = {"ok": 0, "failed": 0}

    class Figures:
        def run_started(self, check: str, lag_s: float) -> None:
            lags.append(lag_s)

        def run_finished(self, result: Result, first_attempt: Result) -> None:
            done["ok" if result.ok else "failed"] += 1
            if Phase.TTFB in result.phases:
                ttfb_errors.append(result.phases[Phase.TTFB] - TARGET_DELAY_S)

        def run_skipped(self, check: str, slots: int) -> None:
            pass

    exporter = PrometheusExporter(lambda: 0.0)
    exporter.configure("bench", {}, checks)
    tls = TlsContexts()
    scheduler = Scheduler([exporter, RunLogger("bench", devnull), Figures()], max_concurrent_runs=10_000)
    jobs = [Job(check, HttpProber(check, tls)) for check in checks]  # built once per load, not per probe
    cpu0, t0 = _cpu_s(), time.monotonic()
    scheduler.apply(jobs)
    await asyncio.sleep(seconds)
    await scheduler.stop()
    exporter.render(None)
    elapsed, cpu = time.monotonic() - t0, _cpu_s() - cpu0
    probes = done["ok"] + done["failed"]
    return {
        "probes": probes, "failed": done["failed"], "elapsed_s": elapsed, "cpu_s": cpu,
        "peak_rss_kib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
        "lag_p50_ms": pct(lags, 0.5) * 1000, "lag_p99_ms": pct(lags, 0.99) * 1000,
        "timing_err_p50_ms": pct(ttfb_errors, 0.5) * 1000, "timing_err_p99_ms": pct(ttfb_errors, 0.99) * 1000,
    }


async def _open_loop(rate: float, seconds: float, one: Any) -> tuple[int, int, float]:
    """Start `one()` at `rate` per second for `seconds` (open loop); return (ok, failed, elapsed)."""
    results = {"ok": 0, "failed": 0}
    tasks: set[asyncio.Task[None]] = set()

    async def run() -> None:
        try:
            results["ok" if await one() else "failed"] += 1
        except Exception:
            results["failed"] += 1

    loop = asyncio.get_running_loop()
    start = loop.time()
    total = int(rate * seconds)
    for i in range(total):
        delay = start + i / rate - loop.time()
        if delay > 0:
            await asyncio.sleep(delay)
        task = asyncio.create_task(run())
        tasks.add(task)
        task.add_done_callback(tasks.discard)
    if tasks:
        await asyncio.wait(tasks)
    return results["ok"], results["failed"], loop.time() - start


async def _workload_bare(url: str, rate: float, seconds: float) -> dict[str, Any]:
    import aiohttp

    async def one() -> bool:
        connector = aiohttp.TCPConnector(force_close=True, limit=0)
        async with aiohttp.ClientSession(connector=connector) as session, session.get(url) as response:
            await response.read()
            return response.status == 200

    cpu0 = _cpu_s()
    ok, failed, elapsed = await _open_loop(rate, seconds, one)
    return {"probes": ok + failed, "failed": failed, "elapsed_s": elapsed, "cpu_s": _cpu_s() - cpu0,
            "peak_rss_kib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss}


async def _workload_blackbox_driver(url: str, rate: float, seconds: float, exporter_port: int) -> dict[str, Any]:
    import aiohttp

    probe_url = f"http://127.0.0.1:{exporter_port}/probe"
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as session:

        async def one() -> bool:
            async with session.get(probe_url, params={"module": "http_2xx", "target": url}) as response:
                return "\nprobe_success 1" in await response.text()

        ok, failed, elapsed = await _open_loop(rate, seconds, one)
    return {"probes": ok + failed, "failed": failed, "elapsed_s": elapsed}


# -- orchestration --------------------------------------------------------------------------------------------
def _child(args: list[str]) -> dict[str, Any]:
    out = subprocess.run([sys.executable, __file__, *args], capture_output=True, text=True, timeout=600)
    if out.returncode != 0:
        raise RuntimeError(f"workload {args[:2]} failed:\n{out.stderr[-2000:]}")
    return dict(json.loads(out.stdout.strip().splitlines()[-1]))


def _run_blackbox(url: str, rate: float, seconds: float, tmp: Path) -> dict[str, Any] | None:
    started = start_blackbox(tmp, PROBE_TIMEOUT_S)
    if started is None:
        return None
    exporter, port = started
    try:
        cpu0 = proc_cpu_s(exporter.pid)
        figures = _child(["--workload", "blackbox", "--url", url, "--rate", str(rate), "--seconds", str(seconds),
                          "--exporter-port", str(port)])
        figures["cpu_s"] = proc_cpu_s(exporter.pid) - cpu0
        figures["peak_rss_kib"] = proc_status_kib(exporter.pid, "VmHWM")
        return figures
    finally:
        stop(exporter)


def _print_table(results: dict[str, dict[str, Any] | None], args: argparse.Namespace,
                 lateness: tuple[float, float]) -> None:
    print(f"command: {' '.join([Path(sys.executable).name, *sys.argv])}")
    print(f"date: {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}  python {platform.python_version()}  "
          f"uvloop: yes  cores: {os.cpu_count()}  rate: {args.rate}/s  seconds: {args.seconds}")
    print(f"idle timer lateness of this machine, p50/p99: {lateness[0]:.1f} / {lateness[1]:.1f} ms")
    print(f"{'workload':<18}{'probes/s':>10}{'failed':>8}{'CPU ms/probe':>14}{'peak RSS MiB':>14}")
    cpu_per_probe: dict[str, float] = {}
    for name, fig in results.items():
        if fig is None:
            print(f"{name:<18}  (not installed)")
            continue
        per_probe = fig["cpu_s"] * 1000 / max(1, fig["probes"])
        cpu_per_probe[name] = per_probe
        print(f"{name:<18}{fig['probes'] / fig['elapsed_s']:>10.1f}{fig['failed']:>8}{per_probe:>14.3f}"
              f"{fig['peak_rss_kib'] / 1024:>14.1f}")
    prober = results["prober"]
    assert prober is not None
    print(f"prober schedule lag p50/p99: {prober['lag_p50_ms']:.2f} / {prober['lag_p99_ms']:.2f} ms;  "
          f"timing error (ttfb - 50 ms) p50/p99: {prober['timing_err_p50_ms']:.2f} / "
          f"{prober['timing_err_p99_ms']:.2f} ms")
    for peer in ("blackbox_exporter", "bare aiohttp"):
        if peer in cpu_per_probe:
            print(f"prober CPU/probe vs {peer}: {cpu_per_probe['prober'] / cpu_per_probe[peer]:.2f}x")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rate", type=float, default=200.0, help="probes per second (default %(default)s)")
    parser.add_argument("--seconds", type=float, default=20.0, help="per workload (default %(default)s)")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    parser.add_argument("--workload", choices=["prober", "bare", "blackbox"], help=argparse.SUPPRESS)
    parser.add_argument("--url", help=argparse.SUPPRESS)
    parser.add_argument("--exporter-port", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()

    import uvloop

    if args.workload:
        work = {
            "prober": lambda: _workload_prober(args.url, args.rate, args.seconds),
            "bare": lambda: _workload_bare(args.url, args.rate, args.seconds),
            "blackbox": lambda: _workload_blackbox_driver(args.url, args.rate, args.seconds, args.exporter_port),
        }[args.workload]
        print(json.dumps(uvloop.run(work())))
        return

    lateness = uvloop.run(timer_lateness_ms())
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        target, url = start_target(tmp / "target.port", TARGET_DELAY_S)
        try:
            workload = ["--url", url, "--rate", str(args.rate), "--seconds", str(args.seconds)]
            results: dict[str, dict[str, Any] | None] = {
                "prober": _child(["--workload", "prober", *workload]),
                "blackbox_exporter": _run_blackbox(url, args.rate, args.seconds, tmp),
                "bare aiohttp": _child(["--workload", "bare", *workload]),
            }
        finally:
            stop(target)
    _print_table(results, args, lateness)
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
