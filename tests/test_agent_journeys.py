"""The agent running journeys beside HTTP checks: metrics, log lines naming artifacts, /artifacts, hostile
scripts that cost one run each while the other checks keep their cadence, and no browser left at exit."""

from __future__ import annotations

import time
import urllib.request
from pathlib import Path

import pytest

from tests.fault_server import FaultServer
from tests.processes import REPO, AgentProcess, DemoShop, browser_pids

pytestmark = pytest.mark.slow

HOSTILE = REPO / "tests" / "journeys" / "hostile.py"



def test_journeys_in_the_agent(tmp_path: Path, demo_shop: DemoShop, fault: FaultServer) -> None:
    before = browser_pids()
    config = tmp_path / "agent.yaml"
    config.write_text(
        "agent:\n  region: eu\n  journeys: {workers: 1, runs_per_worker: 4, artifacts: {dir: art}}\n"
        "checks:\n"
        f"  - {{name: home, type: http, url: '{demo_shop.url('/')}', interval: 1s, timeout: 500ms}}\n"
        f"  - name: shop\n    type: journey\n    script: {REPO / 'checks' / 'shop_checkout.py'}\n"
        f"    params: {{base_url: '{demo_shop.url('').rstrip('/')}', username: demo, password: '${{SHOP_PW}}'}}\n"
        "    interval: 30s\n    timeout: 25s\n    slo: {availability: 99, latency: {threshold: 8s, target: 90}}\n"
        f"  - {{name: stuck, type: journey, script: '{HOSTILE}:blocks', interval: 30s, timeout: 20s}}\n"
        f"  - name: never\n    type: journey\n    script: '{HOSTILE}:never_loads'\n"
        f"    params: {{base_url: '{fault.url('').rstrip('/')}'}}\n    interval: 30s\n    timeout: 3s\n"
    )
    agent = AgentProcess(config, env={"SHOP_PW": "demo"})
    try:
        started = time.monotonic()
        agent.wait_for_metric("probe_success", lambda v: v == 1, timeout_s=60, check="shop")
        assert agent.metric("prober_step_duration_seconds_count", check="shop", step="check out") == 1
        assert agent.metric("prober_browser_web_vital_count", check="shop", vital="lcp") is not None
        # the journeys' first slots are on their 30 s grids: started in the 1.9 s between stuck's and shop's,
        # the agent runs shop first and stuck a grid later
        agent.wait_for_metric("prober_check_failures_total", lambda v: v == 1, timeout_s=45, check="stuck",
                              reason="script_error")
        agent.wait_for_metric("prober_check_failures_total", lambda v: v == 1, timeout_s=30, check="never",
                              reason="timeout")
        assert (agent.metric("prober_browser_processes") or 0) >= 2
        # a hanging and a blocking journey cost their runs; the 500 ms http check kept its cadence
        elapsed = time.monotonic() - started
        runs = agent.metric("prober_check_runs_total", check="home") or 0
        assert runs >= elapsed * 0.6, (runs, elapsed)
        # this 2-core VM wakes timers late while Chromium renders: a few 1 s slots may be skipped, not a stall
        assert (agent.metric("prober_check_skipped_total", check="home") or 0) <= runs * 0.25

        line = agent.wait_for_log(lambda x: x.get("msg") == "run finished" and x.get("check") == "never")
        assert line["reason"] == "timeout" and line["steps"] == {"open": "failed"}
        screenshot = next(a for a in line["artifacts"] if a.endswith("screenshot.png"))
        status, _ = agent.get(screenshot)
        assert status == 200
        assert (tmp_path / "art" / "never" / line["run_id"] / "trace.zip").is_file()
        request = urllib.request.Request(f"http://127.0.0.1:{agent.port}/metrics",
                                         headers={"Accept": "application/openmetrics-text; version=1.0.0"})
        with urllib.request.urlopen(request, timeout=5) as response:
            text = response.read().decode()
        assert f'# {{run_id="{line["run_id"]}"}}' in text  # the failure counter's exemplar links to the run
    finally:
        assert agent.stop(timeout_s=60) == 0
    assert not any("demo" in str(x.get("params", "")) for x in agent.lines)
    assert not browser_pids() - before  # the agent's workers took their browsers with them
