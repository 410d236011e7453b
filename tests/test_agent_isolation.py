"""Probing is isolated from serving: an agent with thousands of checks, scraped back to back in both formats
and asked for its status page, measures a 50 ms target exactly and skips none of its slots.

Before probe workers, one such scrape stalled the loop that timed the probes for most of a second: the truth
check read 50 ms + the stall, skipped slots and counted false timeouts.
"""

from __future__ import annotations

import statistics
import threading
import time
import urllib.request
from pathlib import Path

import pytest

from tests.fault_server import FaultServer
from tests.processes import AgentProcess

pytestmark = pytest.mark.slow

CHECKS = 5000
SCRAPE_S = 20.0
TRUTH_INTERVAL_S = 0.5
TRUTH_DELAY_S = 0.050


def scrape_hard(port: int, until: float, accept: str, durations: list[float]) -> None:
    """Scrape /metrics back to back (gzip, as Prometheus does) until `until`, timing each scrape."""
    while time.monotonic() < until:
        request = urllib.request.Request(f"http://127.0.0.1:{port}/metrics",
                                         headers={"Accept": accept, "Accept-Encoding": "gzip"})
        start = time.monotonic()
        with urllib.request.urlopen(request, timeout=30) as response:
            response.read()
        durations.append(time.monotonic() - start)
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/checks", timeout=30) as response:
            response.read()  # the status page's JSON of every check, on the same main process


def test_a_hard_scraped_agent_with_many_checks_measures_a_50ms_target_exactly(
        tmp_path: Path, fault: FaultServer) -> None:
    truth_target = FaultServer(tmp_path)  # its own process: the busy checks' target never delays its answers
    config = tmp_path / "agent.yaml"
    lines = ["agent: {probe_workers: 2}", "checks:",
             f"  - {{name: truth, type: http, url: '{truth_target.url('/delay/50')}', interval: 500ms, "
             "timeout: 400ms}"]
    lines += [f"  - {{name: busy_{i}, type: http, url: '{fault.url('/ok')}', interval: 1m, timeout: 5s}}"
              for i in range(CHECKS)]
    config.write_text("\n".join(lines) + "\n")
    agent = AgentProcess(config)
    try:
        agent.wait_for_metric("prober_checks_configured", lambda v: v == CHECKS + 1)
        agent.wait_for_metric("prober_check_runs_total", lambda v: v >= 2, check="truth")
        runs_before = agent.metric("prober_check_runs_total", check="truth") or 0.0
        begin = time.monotonic()
        until = begin + SCRAPE_S
        durations: list[float] = []
        scrapers = [threading.Thread(target=scrape_hard, args=(agent.port, until, accept, durations))
                    for accept in ("application/openmetrics-text; version=1.0.0", "text/plain")]
        for scraper in scrapers:
            scraper.start()
        for scraper in scrapers:
            scraper.join(SCRAPE_S + 60)
        elapsed = time.monotonic() - begin
        runs_after = agent.metric("prober_check_runs_total", check="truth") or 0.0
        failures = agent.metric("prober_check_failures_total", check="truth")  # any reason
        skipped = agent.metric("prober_check_skipped_total", check="truth")
    finally:
        assert agent.stop() == 0
        truth_target.stop()
    truth = [line for line in agent.lines if line.get("msg") == "run finished" and line.get("check") == "truth"]
    errors = [line["phases"]["ttfb"] - TRUTH_DELAY_S for line in truth if "ttfb" in line["phases"]]
    # the agent was busy serving: scrapes of thousands of checks, back to back, in two threads
    assert len(durations) >= 10 and statistics.median(durations) > 0.05, durations
    # every slot of the truth check ran, none failed, none was skipped
    assert skipped == 0
    assert failures is None and all(line["ok"] for line in truth), [t["detail"] for t in truth if not t["ok"]]
    assert runs_after - runs_before >= elapsed / TRUTH_INTERVAL_S - 2
    # and they measured the target's 50 ms, not the agent's own work. Scraped back to back, a loop that both
    # served and probed would be rendering most of the time, so a run's answer would wait half a scrape on
    # average: the bounds scale with the scrapes this machine made, fast or slow
    scrape_s = statistics.median(durations)
    assert all(error >= 0 for error in errors), min(errors)
    assert statistics.median(errors) < scrape_s / 4, (statistics.median(errors), scrape_s)
    assert statistics.quantiles(errors, n=10)[-1] < scrape_s / 2, (sorted(errors)[-5:], scrape_s)
