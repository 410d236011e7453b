"""The default agent.yaml goes green offline: every check of it, one of each type, against the demo shop."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.processes import REPO, AgentProcess, DemoShop

pytestmark = pytest.mark.slow


def test_every_check_of_the_default_agent_yaml_goes_green_against_the_demo(tmp_path: Path,
                                                                            demo_shop: DemoShop) -> None:
    text = (REPO / "agent.yaml").read_text()
    for default, port in ((8080, demo_shop.port), (8443, demo_shop.tls_port), (8053, demo_shop.dns_port),
                          (8081, demo_shop.grpc_port), (8082, demo_shop.rival_port)):  # this test's demo: free ports
        text = text.replace(f"127.0.0.1:{default}", f"127.0.0.1:{port}").replace(f"localhost:{default}",
                                                                                f"localhost:{port}")
    text = text.replace("script: checks/", f"script: {REPO}/checks/")
    config = tmp_path / "agent.yaml"
    config.write_text(text)
    agent = AgentProcess(config)
    try:
        names = [line.split("name:", 1)[1].split()[0] for line in text.splitlines()
                 if line.strip().startswith("- name:") and "type:" not in line]
        types = {"tcp", "dns", "icmp", "tls", "grpc", "http", "journey", "page"}
        assert all(f"type: {kind}" in text for kind in types)
        for name in names:
            if name == "shop_works":  # the SLO group, not a check
                continue
            agent.wait_for_metric("prober_check_runs_total", lambda v: v >= 1, timeout_s=90, check=name)
            assert agent.metric("probe_success", check=name) == 1, [
                line for line in agent.lines if line.get("check") == name][-1:]
        assert agent.metric("probe_tls_version_info", check="demo_tls", version="TLSv1.3") == 1
        assert agent.metric("prober_icmp_packets_received_total", check="loopback_ping") >= 3
        assert agent.metric("probe_dns_answer_rrs", check="demo_dns") == 1
        assert agent.metric("probe_grpc_healthcheck_response", check="demo_grpc_health",
                            serving_status="SERVING") == 1
        for page in ("home_page", "rival_home_page"):  # first- and third-party elements, all loaded
            for party in ("first", "third"):
                assert agent.metric("prober_page_resources_total", check=page, type="image", party=party,
                                    outcome="ok") >= 1
        assert agent.metric("prober_check_runs_total", check="rival_home_page", site="rival_shop",
                            group="shops") >= 1
    finally:
        assert agent.stop() == 0
