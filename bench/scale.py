"""Scale benchmark: one real agent with N HTTP checks, scraped by a real Prometheus, beside a truth check.

Each scenario starts `prober run` on a generated agent.yaml: N checks of a loopback target that answers at
once, at the interval that makes the rate (200 or 1,000 probes/s), and a `truth` check (every 250 ms) of a
target of its own that answers 50 ms after each request arrives (at real-time priority where it may, so that
it answers on time however busy the machine is). Debian's Prometheus scrapes the agent every
15 s (or every 2 s: the hard mode) the whole time, asking for OpenMetrics and gzip as it always does. In the
same window, Debian's blackbox_exporter probes the same truth target at the same rate; its timing is its own
`probe_http_duration_seconds{phase="processing"}`, the truth check's is its `ttfb` phase (both: request sent to
first byte). "Timing error" is each one's reading minus 50 ms; "exact" is each reading minus what the target's
own record says it held that request (from the kernel's stamp of the request's arrival to that of its answer's
departure), which takes what lateness the target has left (for both probers alike) out of the comparison and
leaves what each prober's measurement adds.

Figures, per scenario (probe workers x rate x scrape interval), over a window after one full interval of
warm-up: the truth check's false failures and skipped slots, every check's failures and skips, schedule lag
p50/p99 (a run's `started_at` in the log minus its slot on the check's grid), truth's timing error p50/p99
beside blackbox_exporter's, probes/s sustained, CPU per probe (agent and its probe workers), RSS, the CPU the
two targets and Prometheus took, and Prometheus' own scrape durations. Then, per scenario, scrapes made by the
benchmark itself: wall and agent CPU time and bytes, text and OpenMetrics, plain and gzip, and series per check.

    .venv/bin/python bench/scale.py [--checks 1000] [--seconds 60] [--workers 1 auto] [--rates 200 1000]
                                    [--scrapes 15 2] [--json figures.json]

Run it with nothing else on the machine: it prints the load average and the idle-timer lateness first.
"""

from __future__ import annotations

import argparse
import datetime
import gzip
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from common import (
    children_of,
    free_port,
    held_after,
    pct,
    proc_cpu_s,
    proc_status_kib,
    real_time,
    start_blackbox,
    start_target,
    steal_s,
    stop,
    target_record,
    timer_lateness_ms,
)

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
from prober.scheduler import first_offset_s  # noqa: E402 - after the repository is on the path

TRUTH_DELAY_S = 0.050
TRUTH_INTERVAL_S = 0.25  # 180 runs in a 45 s window on each side: enough for a p99 that is not the max
TRUTH_TIMEOUT_S = 0.2
BULK_TIMEOUT_S = 2.0
EARLY_S = 0.005
"""uvloop keeps time in whole milliseconds, so a run can start up to 1 ms before its slot: read as early, not as
an interval late."""
START_TIMEOUT_S = 180.0
OPENMETRICS = "application/openmetrics-text; version=1.0.0"
PROCESSING_RE = re.compile(r'^probe_http_duration_seconds\{phase="processing"\} (\S+)$', re.M)


@dataclass
class Scenario:
    checks: int
    workers: str
    rate: float
    scrape_s: float

    @property
    def interval_s(self) -> float:
        return round(self.checks / self.rate, 3)

    @property
    def name(self) -> str:
        return f"{self.checks} checks, workers {self.workers}, {self.rate:g}/s, scraped every {self.scrape_s:g}s"


@dataclass
class Processes:
    """The processes of one scenario whose CPU is measured, by role."""

    pids: dict[str, list[int]] = field(default_factory=dict)

    def cpu_s(self) -> dict[str, float]:
        return {role: sum(proc_cpu_s(pid) for pid in pids) for role, pids in self.pids.items()}


def _agent_yaml(scenario: Scenario, port: int, bulk_url: str, truth_url: str) -> str:
    interval_ms = round(scenario.interval_s * 1000)
    timeout_ms = min(round(BULK_TIMEOUT_S * 1000), interval_ms)
    lines = ["agent:", f"  listen: 127.0.0.1:{port}", f"  probe_workers: {scenario.workers}", "checks:",
             f"  - {{name: truth, type: http, url: '{truth_url}', interval: {round(TRUTH_INTERVAL_S * 1000)}ms, "
             f"timeout: {round(TRUTH_TIMEOUT_S * 1000)}ms}}"]
    lines += [f"  - {{name: c{i}, type: http, url: '{bulk_url}', interval: {interval_ms}ms, timeout: {timeout_ms}ms}}"
              for i in range(scenario.checks)]
    return "\n".join(lines) + "\n"


def _log_lines(path: Path) -> Iterator[dict[str, Any]]:
    with path.open(encoding="utf-8", errors="replace") as log:
        for raw in log:
            if raw.startswith("{"):
                try:
                    yield json.loads(raw)
                except ValueError:
                    continue


def _wait_started(log: Path, agent: subprocess.Popen[bytes]) -> float:
    """Seconds from now until the agent logs "agent started" (its probe workers have their checks)."""
    begin = time.monotonic()
    while time.monotonic() - begin < START_TIMEOUT_S:
        if agent.poll() is not None:
            raise RuntimeError(f"the agent exited with {agent.returncode}:\n{log.read_text()[-3000:]}")
        if any(line.get("msg") == "agent started" for line in _log_lines(log)):
            return time.monotonic() - begin
        time.sleep(0.2)
    raise RuntimeError("the agent did not start")


def _get(url: str, headers: dict[str, str] | None = None, timeout_s: float = 30.0) -> bytes:
    with urllib.request.urlopen(urllib.request.Request(url, headers=headers or {}), timeout=timeout_s) as response:
        return bytes(response.read())


def _start_prometheus(agent_port: int, scrape_s: float, tmp: Path) -> tuple[subprocess.Popen[bytes], int]:
    port = free_port()
    config = tmp / "prometheus.yml"
    config.write_text(f"global: {{scrape_interval: {scrape_s:g}s, scrape_timeout: {min(10.0, scrape_s):g}s}}\n"
                      "scrape_configs:\n  - job_name: agent\n"
                      f"    static_configs: [{{targets: ['127.0.0.1:{agent_port}']}}]\n")
    data = tmp / "prometheus-data"
    shutil.rmtree(data, ignore_errors=True)
    binary = shutil.which("prometheus") or "/usr/bin/prometheus"
    process = subprocess.Popen([binary, f"--config.file={config}", f"--storage.tsdb.path={data}",
                                f"--web.listen-address=127.0.0.1:{port}", "--log.level=warn"],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if _get(f"http://127.0.0.1:{port}/-/ready", timeout_s=2).startswith(b"Prometheus"):
                return process, port
        except OSError:
            pass
        time.sleep(0.2)
    stop(process)
    raise RuntimeError("prometheus did not become ready")


def _prometheus_value(port: int, query: str) -> float:
    body = _get(f"http://127.0.0.1:{port}/api/v1/query?" + urllib.parse.urlencode({"query": query}))
    result = json.loads(body)["data"]["result"]
    return float(result[0]["value"][1]) if result else float("nan")


def _drive_blackbox(port: int, truth_url: str, until: float, readings: list[tuple[float, float]],
                    failures: list[int]) -> None:
    """Ask blackbox_exporter to probe the truth target once per TRUTH_INTERVAL_S until `until` (wall clock);
    `readings` gets (when it was asked, its processing time) for each probe."""
    query = urllib.parse.urlencode({"module": "http_2xx", "target": truth_url})
    slot = time.time()
    while slot < until:
        time.sleep(max(0.0, slot - time.time()))
        asked = time.time()
        try:
            body = _get(f"http://127.0.0.1:{port}/probe?{query}", timeout_s=5).decode()
        except OSError:
            failures.append(1)
        else:
            processing = PROCESSING_RE.search(body)
            if "\nprobe_success 1" not in body or processing is None:
                failures.append(1)
            else:
                readings.append((asked, float(processing.group(1))))
        slot += TRUTH_INTERVAL_S


def _log_time(line: dict[str, Any]) -> float:
    return datetime.datetime.fromisoformat(line["ts"]).timestamp()


def _runs_in(log: Path, scenario: Scenario, w0: float, w1: float) -> dict[str, Any]:
    """The log's story of the window: lags, truth's timing, failures and skips."""
    lags: list[float] = []
    truth: list[tuple[float, float]] = []  # (started_at, ttfb) of each truth run
    failures: list[str] = []  # what the first few truth failures said
    figures: dict[str, Any] = {"runs": 0, "failed": 0, "inconclusive": 0, "skipped": 0, "truth_runs": 0,
                               "truth_failed": 0, "truth_skipped": 0}
    offsets: dict[str, float] = {}
    for line in _log_lines(log):
        check = line.get("check")
        if not isinstance(check, str):
            continue
        is_truth = check == "truth"
        if line.get("msg") == "run skipped" and w0 <= _log_time(line) < w1:
            figures["skipped"] += line["slots"]
            figures["truth_skipped"] += line["slots"] if is_truth else 0
        if line.get("msg") != "run finished" or not w0 <= line["started_at"] < w1:
            continue
        interval = TRUTH_INTERVAL_S if is_truth else scenario.interval_s
        offset = offsets.setdefault(check, first_offset_s(check, interval))
        lag = (line["started_at"] - offset) % interval
        lags.append(lag - interval if lag > interval - EARLY_S else lag)  # a timer that fired a hair early
        figures["runs"] += 1
        inconclusive = line.get("counted") == "inconclusive"  # failed on time while the agent ran late
        figures["inconclusive"] += 1 if inconclusive else 0
        figures["failed"] += 0 if line["ok"] or inconclusive else 1
        if is_truth:
            figures["truth_runs"] += 1
            figures["truth_failed"] += 0 if line["ok"] or inconclusive else 1
            if not line["ok"] and not inconclusive and len(failures) < 5:
                failures.append(f"{line['reason']}: {line.get('detail', '')}")
            if "ttfb" in line["phases"]:
                truth.append((line["started_at"], line["phases"]["ttfb"]))
    figures.update(lag_p50_ms=pct(lags, 0.5) * 1000, lag_p99_ms=pct(lags, 0.99) * 1000, truth_readings=truth,
                   truth_failures=failures)
    return figures


def _timing_errors(name: str, readings: list[tuple[float, float]], record: Path, within_s: float) -> dict[str, float]:
    """Each reading's error (ms) against the 50 ms the target was asked for, and against what the target's own
    record says it held that request ("exact": what a prober's measurement adds, with the target's lateness out;
    only requests whose both ends the kernel stamped, the others counted as `unstamped`)."""
    held = target_record(record).get(f"/{name}", [])
    errors = [reading - TRUTH_DELAY_S for _, reading in readings]
    found = [(reading, match) for asked, reading in readings if (match := held_after(held, asked, within_s))]
    exact = [reading - seconds for reading, (seconds, stamped) in found if stamped]
    return {"err_p50_ms": pct(errors, 0.5) * 1000, "err_p99_ms": pct(errors, 0.99) * 1000,
            "exact_p50_ms": pct(exact, 0.5) * 1000, "exact_p99_ms": pct(exact, 0.99) * 1000,
            "matched": len(exact), "unstamped": len(found) - len(exact)}


def _own_scrapes(agent_port: int, main_pid: int) -> dict[str, Any]:
    """Scrapes made by the benchmark (Prometheus stopped): each format plain and gzip, 2 s after the last one
    (what changed in 2 s is rendered again) and at once again (cached); agent CPU net of its probing."""
    idle_cpu0, idle_t0 = proc_cpu_s(main_pid), time.monotonic()
    time.sleep(3.0)
    busy_rate = (proc_cpu_s(main_pid) - idle_cpu0) / (time.monotonic() - idle_t0)  # its results, without scrapes
    figures: dict[str, Any] = {}
    for name, accept in (("text", "text/plain"), ("openmetrics", OPENMETRICS)):
        for encoding in ("identity", "gzip"):
            for when in ("after 2s", "cached"):
                time.sleep(2.0 if when == "after 2s" else 0.0)
                cpu0, t0 = proc_cpu_s(main_pid), time.monotonic()
                body = _get(f"http://127.0.0.1:{agent_port}/metrics",
                            {"Accept": accept, "Accept-Encoding": encoding})
                wall = time.monotonic() - t0
                cpu = proc_cpu_s(main_pid) - cpu0 - busy_rate * wall
                figures[f"{name} {encoding} {when}"] = {"wall_ms": wall * 1000, "cpu_ms": max(0.0, cpu) * 1000,
                                                       "bytes": len(body)}
                if encoding == "gzip" and name == "text" and when == "cached":
                    text = gzip.decompress(body).decode()
                    series = [line for line in text.splitlines() if line and not line.startswith("#")]
                    figures["series"] = len(series)
                    figures["series_per_check"] = sum(1 for line in series if 'check="c0"' in line)
    return figures


def run_scenario(scenario: Scenario, seconds: float, bulk_url: str, truth_url: str, tmp: Path,
                 targets: dict[str, int], blackbox: tuple[subprocess.Popen[bytes], int] | None) -> dict[str, Any]:
    port = free_port()
    config = tmp / "agent.yaml"
    config.write_text(_agent_yaml(scenario, port, bulk_url, truth_url + "prober"))
    log = tmp / f"agent-{scenario.workers}-{scenario.rate:g}-{scenario.scrape_s:g}.log"
    with log.open("wb") as out:
        agent = subprocess.Popen([sys.executable, "-m", "prober", "run", "--config", str(config)],
                                 stdout=out, stderr=subprocess.STDOUT, cwd=REPO)
    prometheus: subprocess.Popen[bytes] | None = None
    try:
        start_s = _wait_started(log, agent)
        prometheus, prometheus_port = _start_prometheus(port, scenario.scrape_s, tmp)
        time.sleep(scenario.interval_s + 2.0)  # every check has run once; the first scrapes are done
        processes = Processes({"agent main": [agent.pid], "probe workers": children_of(agent.pid),
                               "prometheus": [prometheus.pid],
                               **{role: [pid] for role, pid in targets.items()}})
        if blackbox is not None:
            processes.pids["blackbox_exporter"] = [blackbox[0].pid]
        cpu0, w0, steal0 = processes.cpu_s(), time.time(), steal_s()
        bb_readings: list[tuple[float, float]] = []
        bb_failures: list[int] = []
        driver = None
        if blackbox is not None:
            driver = threading.Thread(target=_drive_blackbox,
                                      args=(blackbox[1], truth_url + "blackbox", w0 + seconds, bb_readings,
                                            bb_failures))
            driver.start()
        time.sleep(seconds)
        cpu1, w1, steal1 = processes.cpu_s(), time.time(), steal_s()
        rss_kib = {pid: proc_status_kib(pid, "VmRSS") for pid in [agent.pid, *processes.pids["probe workers"]]}
        if driver is not None:
            driver.join(10)
        window = f"{round(w1 - w0)}s"
        scrape = {"scrape_avg_ms": _prometheus_value(prometheus_port,
                                                     f'avg_over_time(scrape_duration_seconds[{window}])') * 1000,
                  "scrape_max_ms": _prometheus_value(prometheus_port,
                                                     f'max_over_time(scrape_duration_seconds[{window}])') * 1000,
                  "scrape_up_min": _prometheus_value(prometheus_port, f"min_over_time(up[{window}])"),
                  "samples_scraped": _prometheus_value(prometheus_port, "scrape_samples_scraped")}
        stop(prometheus)
        prometheus = None
        own = _own_scrapes(port, agent.pid)
    finally:
        if prometheus is not None:
            stop(prometheus)
        stop(agent, timeout_s=30)
    runs = _runs_in(log, scenario, w0, w1)
    record = tmp / "truth.jsonl"
    timing = {**{f"truth_{key}": value for key, value in
                 _timing_errors("prober", runs.pop("truth_readings"), record, TRUTH_TIMEOUT_S).items()},
              **{f"bb_{key}": value for key, value in _timing_errors("blackbox", bb_readings, record, 1.0).items()}}
    elapsed = w1 - w0
    cpu = {role: cpu1[role] - cpu0[role] for role in cpu0}
    return {
        "scenario": scenario.name, "start_s": start_s, "elapsed_s": elapsed, **runs, **timing, **scrape,
        "own_scrapes": own,
        "probes_per_s": runs["runs"] / elapsed,
        "cpu_ms_per_probe": (cpu["agent main"] + cpu["probe workers"]) * 1000 / max(1, runs["runs"]),
        "cpu_share": {role: seconds_ / elapsed for role, seconds_ in cpu.items()},
        "steal_share": (steal1 - steal0) / elapsed,
        "rss_mib": sum(rss_kib.values()) / 1024, "rss_main_mib": rss_kib[agent.pid] / 1024,
        "exit_code": agent.returncode,
        "bb_probes": len(bb_readings) + len(bb_failures), "bb_failed": len(bb_failures),
    }


def _print_scenario(fig: dict[str, Any]) -> None:
    shares = "  ".join(f"{role} {share * 100:.0f}%" for role, share in fig["cpu_share"].items())
    print(f"\n{fig['scenario']}  (started in {fig['start_s']:.1f} s, window {fig['elapsed_s']:.0f} s, "
          f"exit {fig['exit_code']})")
    print(f"  truth: {fig['truth_runs']} runs, {fig['truth_failed']} failed, {fig['truth_skipped']} skipped;  "
          f"all checks: {fig['runs']} runs, {fig['failed']} failed, {fig['inconclusive']} inconclusive, "
          f"{fig['skipped']} skipped")
    for failure in fig["truth_failures"]:
        print(f"    truth failed: {failure}")
    print(f"  probes/s {fig['probes_per_s']:.1f}   CPU/probe {fig['cpu_ms_per_probe']:.3f} ms   "
          f"RSS {fig['rss_mib']:.0f} MiB (main {fig['rss_main_mib']:.0f})")
    print(f"  schedule lag p50/p99 {fig['lag_p50_ms']:.2f} / {fig['lag_p99_ms']:.2f} ms")
    print(f"  timing error p50/p99 against 50 ms: prober {fig['truth_err_p50_ms']:.2f} / "
          f"{fig['truth_err_p99_ms']:.2f} ms   blackbox_exporter {fig['bb_err_p50_ms']:.2f} / "
          f"{fig['bb_err_p99_ms']:.2f} ms")
    print(f"  timing error p50/p99 against the target's own record: prober {fig['truth_exact_p50_ms']:.2f} / "
          f"{fig['truth_exact_p99_ms']:.2f} ms ({fig['truth_matched']} matched, {fig['truth_unstamped']} unstamped)"
          f"   blackbox_exporter {fig['bb_exact_p50_ms']:.2f} / {fig['bb_exact_p99_ms']:.2f} ms ({fig['bb_matched']} "
          f"matched, {fig['bb_unstamped']} unstamped; {fig['bb_probes']} probes, {fig['bb_failed']} failed)")
    print(f"  Prometheus scrapes: avg {fig['scrape_avg_ms']:.0f} ms, max {fig['scrape_max_ms']:.0f} ms, "
          f"{fig['samples_scraped']:.0f} samples, up min {fig['scrape_up_min']:.0f}")
    print(f"  CPU of one core: {shares}  (stolen by the hypervisor, all cores: {fig['steal_share'] * 100:.1f}%)")
    own = fig["own_scrapes"]
    print(f"  own scrapes ({own['series']} series, {own['series_per_check']} per check):")
    for key, value in own.items():
        if isinstance(value, dict):
            print(f"    {key:<30} {value['wall_ms']:8.1f} ms wall {value['cpu_ms']:8.1f} ms CPU "
                  f"{value['bytes'] / 1e6:8.2f} MB")


def print_summary(results: list[dict[str, Any]]) -> None:
    """One line per scenario: what the README quotes."""
    columns = ("probes/s", "truth fail/skip", "all fail/inconcl./skip", "lag p50/p99 ms", "error p50/p99 ms",
               "blackbox ms", "exact p99 ms", "CPU ms/probe", "RSS MiB", "scrape avg/max ms", "steal %")
    widths = [len(column) + 2 for column in columns]
    print(f"\n{'scenario':<40}" + "".join(f"{column:>{width}}" for column, width in zip(columns, widths, strict=True)))
    for fig in results:
        name = fig["scenario"].replace(" checks, workers", ", workers").replace("scraped every ", "scrape ")
        cells = (f"{fig['probes_per_s']:.0f}", f"{fig['truth_failed']}/{fig['truth_skipped']}",
                 f"{fig['failed']}/{fig.get('inconclusive', 0)}/{fig['skipped']}",
                 f"{fig['lag_p50_ms']:.1f}/{fig['lag_p99_ms']:.1f}",
                 f"{fig['truth_err_p50_ms']:.1f}/{fig['truth_err_p99_ms']:.1f}",
                 f"{fig['bb_err_p50_ms']:.1f}/{fig['bb_err_p99_ms']:.1f}",
                 f"{fig['truth_exact_p99_ms']:.1f}/{fig['bb_exact_p99_ms']:.1f}", f"{fig['cpu_ms_per_probe']:.2f}",
                 f"{fig['rss_mib']:.0f}", f"{fig['scrape_avg_ms']:.0f}/{fig['scrape_max_ms']:.0f}",
                 f"{fig['steal_share'] * 100:.1f}")
        print(f"{name:<40}" + "".join(f"{cell:>{width}}" for cell, width in zip(cells, widths, strict=True)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--checks", type=int, default=1000, help="checks besides truth (default %(default)s)")
    parser.add_argument("--seconds", type=float, default=60.0, help="measured window per scenario")
    parser.add_argument("--workers", nargs="+", default=["1", "auto"], help="agent.probe_workers values")
    parser.add_argument("--rates", nargs="+", type=float, default=[200.0, 1000.0], help="probes/s")
    parser.add_argument("--scrapes", nargs="+", type=float, default=[15.0, 2.0], help="Prometheus scrape intervals")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args()

    import uvloop

    load = os.getloadavg()
    lateness = uvloop.run(timer_lateness_ms())
    print(f"command: {' '.join([Path(sys.executable).name, *sys.argv])}")
    print(f"date: {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}  python {platform.python_version()}  "
          f"cores: {os.cpu_count()}  load average before: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")
    print(f"idle timer lateness of this machine, p50/p99: {lateness[0]:.1f} / {lateness[1]:.1f} ms")
    results = []
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        bulk, bulk_url = start_target(tmp / "bulk.port", 0.0)
        truth, truth_url = start_target(tmp / "truth.port", TRUTH_DELAY_S, tmp / "truth.jsonl")
        blackbox = start_blackbox(tmp, TRUTH_TIMEOUT_S)
        print(f"truth target at real-time priority: {'yes' if real_time(truth.pid) else 'no (not permitted)'}")
        try:
            for workers in args.workers:
                for rate in args.rates:
                    for scrape_s in args.scrapes:
                        scenario = Scenario(args.checks, workers, rate, scrape_s)
                        figures = run_scenario(scenario, args.seconds, bulk_url, truth_url, tmp,
                                               {"bulk target": bulk.pid, "truth target": truth.pid}, blackbox)
                        _print_scenario(figures)
                        results.append(figures)
        finally:
            for process in (bulk, truth, *([blackbox[0]] if blackbox else [])):
                stop(process)
    print_summary(results)
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
