"""The agent as a process: goes green on the demo shop, logs JSON, reloads (keeping counters), stops cleanly."""

from __future__ import annotations

import datetime
import os
import signal
import subprocess
import sys
import urllib.parse
from pathlib import Path

import pytest

from tests.processes import REPO, AgentProcess, DemoShop, probe_workers_of

pytestmark = pytest.mark.slow


def write_config(path: Path, shop: DemoShop, *, home_interval: str = "500ms", extra: str = "") -> Path:
    path.write_text(
        "agent: {region: test-region, labels: {provider: loopback}}\n"
        "defaults: {interval: 500ms, timeout: 450ms}\n"
        "checks:\n"
        f"  - name: home\n    type: http\n    url: {shop.url('/')}\n    interval: {home_interval}\n"
        "    headers: {X-Token: '${PROBER_TEST_SECRET}'}\n"
        "    expect: {body_contains: ['Add to cart']}\n"
        "    slo: {availability: 99, latency: {threshold: 150ms, target: 95}}\n"
        f"  - name: health\n    type: http\n    url: {shop.url('/api/health')}\n"
        "    expect: {json: {'$.status': ok}}\n"
        f"{extra}"
    )
    return path


@pytest.fixture
def agent_env() -> dict[str, str]:
    return {"PROBER_TEST_SECRET": "very-secret-value"}


def test_agent_goes_green_and_logs_a_json_line_per_run(tmp_path: Path, demo_shop: DemoShop,
                                                       agent_env: dict[str, str]) -> None:
    agent = AgentProcess(write_config(tmp_path / "agent.yaml", demo_shop), env=agent_env)
    try:
        labels = {"check": "home", "region": "test-region", "provider": "loopback"}
        agent.wait_for_metric("prober_check_runs_total", lambda v: v >= 3, **labels)
        assert agent.metric("probe_success", **labels) == 1
        assert agent.metric("prober_check_duration_seconds_bucket", le="0.15", check="home") is not None
        assert agent.metric("prober_checks_configured") == 2
        assert agent.get("/readyz") == (200, "ready\n")
        run = agent.wait_for_log(lambda line: line.get("msg") == "run finished" and line.get("check") == "health")
        assert run["ok"] is True, run
        assert run["reason"] == "ok"
        assert run["region"] == "test-region"
        assert set(run["phases"]) == {"connect", "ttfb", "transfer"}  # no DNS for an IP, no TLS on http
        finished_at = datetime.datetime.fromisoformat(run["ts"]).timestamp()
        assert finished_at - 1 < run["started_at"] <= finished_at  # unix time the run began: lag is computable
    finally:
        assert agent.stop() == 0
    assert not any("very-secret-value" in str(line) for line in agent.lines)


def test_reload_keeps_counters_and_a_bad_config_keeps_the_last_good_one(
    tmp_path: Path, demo_shop: DemoShop, agent_env: dict[str, str]
) -> None:
    config = write_config(tmp_path / "agent.yaml", demo_shop)
    agent = AgentProcess(config, env=agent_env)
    try:
        before = agent.wait_for_metric("prober_check_runs_total", lambda v: v >= 3, check="home")
        first_ok = agent.metric("prober_config_last_reload_success_timestamp_seconds")
        # changed: home's interval; unchanged: health; added: extra
        write_config(config, demo_shop, home_interval="1s",
                     extra=f"  - {{name: extra, type: http, url: '{demo_shop.url('/api/products')}'}}\n")
        agent.wait_for_metric("prober_checks_configured", lambda v: v == 3)
        assert agent.metric("prober_check_runs_total", check="home") >= before  # never reset by a reload
        assert agent.metric("prober_config_last_reload_success_timestamp_seconds") > first_ok
        agent.wait_for_metric("prober_check_runs_total", lambda v: v >= 1, check="extra")

        config.write_text("checks:\n  - {name: broken, type: http, url: 'htp://x'}\n")
        agent.wait_for_metric("prober_config_last_reload_successful", lambda v: v == 0)
        rejected = agent.wait_for_log(lambda line: line.get("msg", "").startswith("config reload rejected"))
        assert any("checks[0] (broken): url: scheme must be http or https" in p for p in rejected["problems"])
        runs = agent.metric("prober_check_runs_total", check="extra")
        agent.wait_for_metric("prober_check_runs_total", lambda v: v > runs, check="extra")  # still running
        assert agent.metric("prober_checks_configured") == 3

        write_config(config, demo_shop)  # extra removed again
        agent.wait_for_metric("prober_config_last_reload_successful", lambda v: v == 1)
        agent.wait_for_metric("prober_checks_configured", lambda v: v == 2)
        assert agent.metric("prober_check_runs_total", check="extra") is None
    finally:
        assert agent.stop() == 0


def test_sighup_reloads(tmp_path: Path, demo_shop: DemoShop, agent_env: dict[str, str]) -> None:
    config = write_config(tmp_path / "agent.yaml", demo_shop)
    agent = AgentProcess(config, env=agent_env)
    try:
        agent.signal(signal.SIGHUP)
        agent.wait_for_log(lambda line: line.get("msg") == "config reloaded")
        assert agent.metric("prober_config_last_reload_successful") == 1
    finally:
        assert agent.stop() == 0


def test_sigterm_lets_the_in_flight_run_finish_and_exits_0(tmp_path: Path, demo_shop: DemoShop) -> None:
    config = tmp_path / "agent.yaml"
    config.write_text(
        "checks:\n"
        f"  - {{name: slow, type: http, url: '{demo_shop.url('/slow?ms=1500')}', interval: 10s, timeout: 5s}}\n"
    )
    agent = AgentProcess(config)
    agent.wait_for_metric("prober_runs_in_flight", lambda v: v == 1, timeout_s=15)
    agent.signal(signal.SIGTERM)
    assert agent.process.wait(15) == 0
    agent.stop()
    messages = [line.get("msg") for line in agent.lines]
    assert messages.index("run finished") < messages.index("agent stopped")
    finished = next(line for line in agent.lines if line.get("msg") == "run finished")
    assert finished["ok"] is True
    assert finished["duration_s"] >= 1.5


def test_a_broken_config_at_start_exits_2_naming_the_problem(tmp_path: Path) -> None:
    config = tmp_path / "agent.yaml"
    config.write_text("checks:\n  - {name: a, type: http, url: 'http://127.0.0.1:1/', interval: 1x}\n")
    done = subprocess.run([sys.executable, "-m", "prober", "run", "--config", str(config)],
                          capture_output=True, text=True, timeout=30, cwd=REPO)
    assert done.returncode == 2
    assert "checks[0] (a): interval: expected a duration" in done.stdout


def run_cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "prober", *args], capture_output=True, text=True, timeout=120,
                          cwd=REPO, env={**os.environ, **(env or {})})


def test_prober_check_prints_a_readable_result(tmp_path: Path, demo_shop: DemoShop) -> None:
    config = tmp_path / "agent.yaml"
    config.write_text(
        "checks:\n"
        f"  - {{name: home, type: http, url: '{demo_shop.url('/')}'}}\n"
        f"  - {{name: down, type: http, url: '{demo_shop.url('/status/503')}', attempts: 2}}\n"
    )
    ok = run_cli("check", "home", "--config", str(config))
    assert ok.returncode == 0, ok.stderr
    assert "home: OK  reason=ok" in ok.stdout
    assert "status     200" in ok.stdout
    assert "phases     connect" in ok.stdout
    down = run_cli("check", "down", "--config", str(config))
    assert down.returncode == 1
    assert "down: FAILED  reason=http_status" in down.stdout
    assert "attempts=2" in down.stdout
    missing = run_cli("check", "nope", "--config", str(config))
    assert missing.returncode == 2
    assert "no check named 'nope'" in missing.stderr


def test_prober_check_prints_what_a_protocol_check_measured(tmp_path: Path, demo_shop: DemoShop) -> None:
    config = tmp_path / "agent.yaml"
    port = urllib.parse.urlsplit(demo_shop.url("/")).port
    config.write_text(
        "checks:\n"
        f"  - {{name: port, type: tcp, target: '127.0.0.1:{port}', query_response: "
        "[{send: \"GET /api/health HTTP/1.0\\r\\n\\r\\n\"}, {expect: '^HTTP/1.[01] 200'}]}\n"
        "  - {name: ping, type: icmp, target: 127.0.0.1, packets: 3, packet_interval: 50ms}\n"
    )
    tcp = run_cli("check", "port", "--config", str(config))
    assert tcp.returncode == 0, tcp.stdout + tcp.stderr
    assert "port: OK  reason=ok" in tcp.stdout and "ttfb" in tcp.stdout
    ping = run_cli("check", "ping", "--config", str(config))
    assert ping.returncode == 0, ping.stdout + ping.stderr
    assert "ping       3/3 replies, 0% loss, rtt min/avg/max/mdev" in ping.stdout


def test_prober_validate(tmp_path: Path) -> None:
    good = run_cli("validate", "--config", str(REPO / "agent.yaml"))
    assert good.returncode == 0
    assert "ok: 14 check(s)" in good.stdout
    bad = run_cli("validate", "--config", str(REPO / "tests/config/invalid-duplicate-name.yaml"))
    assert bad.returncode == 1
    assert "checks[1] (home): name: duplicate check name" in bad.stderr


def test_prober_validate_imports_journey_scripts_in_a_child(tmp_path: Path) -> None:
    (tmp_path / "broken.py").write_text("from prober.journey import journey\n\nundefined_name.boom()\n")
    (tmp_path / "typo.py").write_text("from prober.journey import journey\n\n@journey\nasync def x(j)\n    pass\n")
    (tmp_path / "two.py").write_text("from prober.journey import journey\n\n@journey\nasync def a(j): pass\n\n"
                                     "@journey\nasync def b(j): pass\n")
    config = tmp_path / "agent.yaml"
    config.write_text(
        "checks:\n"
        "  - {name: broken, type: journey, script: broken.py}\n"
        "  - {name: typo, type: journey, script: typo.py, regions: [elsewhere]}\n"  # validated whatever the region
        "  - {name: two, type: journey, script: two.py}\n"
        "  - {name: picked, type: journey, script: 'two.py:b'}\n"
    )
    bad = run_cli("validate", "--config", str(config))
    assert bad.returncode == 1
    assert "checks[0] (broken): script: broken.py (line 3): NameError: name 'undefined_name'" in bad.stderr
    assert "checks[1] (typo): script: typo.py (line 4): SyntaxError" in bad.stderr
    assert "checks[2] (two): script: two.py: 2 @journey functions (a, b); pick one with `script: two.py:name`" \
        in bad.stderr
    assert "(picked)" not in bad.stderr
    assert "3 problem(s)" in bad.stderr


def test_prober_check_prints_a_journeys_steps(tmp_path: Path, demo_shop: DemoShop) -> None:
    config = tmp_path / "agent.yaml"
    config.write_text(
        "checks:\n"
        f"  - name: api\n    type: journey\n    script: {REPO / 'checks' / 'shop_api_order.py'}\n"
        f"    params: {{base_url: '{demo_shop.url('').rstrip('/')}', username: demo, password: wrong}}\n"
    )
    failed = run_cli("check", "api", "--config", str(config))
    assert failed.returncode == 1, failed.stderr
    assert "api: FAILED  reason=http_status" in failed.stdout
    assert "log in        FAILED" in failed.stdout
    assert "place order   not run" in failed.stdout
    assert "http       1 request(s) via j.http" in failed.stdout


def test_a_secret_printed_by_a_script_is_redacted_from_the_agents_output(tmp_path: Path, demo_shop: DemoShop) -> None:
    config = tmp_path / "agent.yaml"
    config.write_text(
        "checks:\n"
        f"  - name: leaky\n    type: journey\n    script: '{REPO / 'tests/journeys/steps.py'}:secret_in_failure'\n"
        f"    params: {{base_url: '{demo_shop.url('').rstrip('/')}', password: '${{LEAKY_PASSWORD}}'}}\n"
    )
    done = run_cli("check", "leaky", "--config", str(config), env={"LEAKY_PASSWORD": "pw-Zq8-never-shown"})
    assert done.returncode == 1
    assert "the password is <redacted>" in done.stderr  # the script's print() reached stderr, redacted
    assert "pw-Zq8-never-shown" not in done.stdout + done.stderr


def test_maintenance_runs_and_shards_in_a_real_agent(tmp_path: Path, demo_shop: DemoShop,
                                                    agent_env: dict[str, str]) -> None:
    """A check inside its (all-day) maintenance window runs, but counts apart; a shard runs only its checks."""
    config = write_config(tmp_path / "agent.yaml", demo_shop, extra=(
        "maintenance:\n  - {name: all-day, start: '00:00', duration: 1d, checks: [health]}\n"))
    agent = AgentProcess(config, env=agent_env)
    try:
        agent.wait_for_metric("prober_check_maintenance_runs_total", lambda v: v >= 2, check="health")
        assert agent.metric("prober_check_runs_total", check="health") == 0
        assert agent.metric("prober_check_in_maintenance", check="health") == 1
        assert agent.metric("prober_check_in_maintenance", check="home") is None  # no windows: no series
        agent.wait_for_metric("prober_check_runs_total", lambda v: v >= 2, check="home")
        line = agent.wait_for_log(lambda x: x.get("msg") == "run finished" and x.get("check") == "health")
        assert line["counted"] == "maintenance"
    finally:
        assert agent.stop() == 0
    configured = []
    for index in range(2):
        shard = AgentProcess(config, env={**agent_env, "PROBER_AGENT__SHARD": f"{index}/2"})
        try:
            configured.append(shard.wait_for_metric("prober_checks_configured", lambda v: True))
        finally:
            assert shard.stop() == 0
    assert sum(configured) == 2  # each of the two checks in exactly one shard


def test_a_killed_probe_worker_is_replaced_and_counted(tmp_path: Path, demo_shop: DemoShop,
                                                      agent_env: dict[str, str]) -> None:
    config = write_config(tmp_path / "agent.yaml", demo_shop).read_text().replace(
        "agent: {region: test-region,", "agent: {probe_workers: 2, region: test-region,")
    (tmp_path / "agent.yaml").write_text(config)
    agent = AgentProcess(tmp_path / "agent.yaml", env=agent_env)
    try:
        assert agent.metric("prober_probe_workers") == 2
        workers = probe_workers_of(agent.process.pid)
        assert len(workers) == 2
        before = agent.wait_for_metric("prober_check_runs_total", lambda v: v >= 2, check="home")
        os.kill(workers[0], signal.SIGKILL)
        agent.wait_for_metric("prober_probe_worker_restarts_total", lambda v: v == 1, cause="died")
        agent.wait_for_metric("prober_probe_workers", lambda v: v == 2)
        for check in ("home", "health"):  # both go on, whichever worker had them
            agent.wait_for_metric("prober_check_runs_total", lambda v: v >= before + 3, check=check)
        replaced = agent.wait_for_log(lambda line: "replacing it" in line.get("msg", ""))
        assert replaced["cause"] == "died" and replaced["exit_code"] == -9
        assert workers[0] not in probe_workers_of(agent.process.pid)
    finally:
        assert agent.stop() == 0
    assert probe_workers_of(agent.process.pid) == []
