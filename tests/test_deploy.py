"""deploy/ validates: kustomize builds each region's overlay, the committed rule files are what `prober rules`
writes today, promtool accepts every Prometheus config, the example agent.yamls load, and docker-compose
mounts files that exist. (The dashboard's queries run against a real Prometheus in test_slo_e2e.py.)"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from prober.cli import main
from prober.config import load_config

DEPLOY = Path(__file__).resolve().parent.parent / "deploy"
REGIONS = ("eu-west", "us-east", "ap-south")
PROMTOOL = shutil.which("promtool") or "/usr/bin/promtool"


def kustomize(path: Path) -> list[dict[str, Any]]:
    kubectl = shutil.which("kubectl")
    assert kubectl, "kubectl is needed to build the kustomizations (.ci/setup installs it)"
    built = subprocess.run([kubectl, "kustomize", str(path)], capture_output=True, text=True, timeout=60, check=False)
    assert built.returncode == 0, built.stderr
    return [doc for doc in yaml.safe_load_all(built.stdout) if doc]


@pytest.mark.parametrize("region", REGIONS)
def test_each_overlay_builds_and_sets_only_its_region(region: str) -> None:
    docs = {(d["kind"], d["metadata"]["name"]): d for d in kustomize(DEPLOY / "kubernetes" / "overlays" / region)}
    assert {kind for kind, _ in docs} == {"ConfigMap", "Deployment", "Service", "ServiceMonitor"}
    assert all(d["metadata"]["namespace"] == f"prober-{region}" for d in docs.values())
    agent = docs[("Deployment", "prober")]["spec"]["template"]["spec"]
    container = agent["containers"][0]
    env = {e["name"]: e.get("value") for e in container["env"]}
    assert env["PROBER_AGENT__REGION"] == region
    assert agent["securityContext"]["runAsNonRoot"] is True
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert container["resources"]["requests"] and container["resources"]["limits"]["memory"]
    config_map = next(d for (kind, name), d in docs.items() if kind == "ConfigMap" and name.startswith("prober-config"))
    mounted = {v["name"]: v for v in agent["volumes"]}["config"]["configMap"]["name"]
    assert mounted == config_map["metadata"]["name"]  # the hashed name kustomize generated


def test_the_rules_kustomization_holds_one_prometheus_rule() -> None:
    docs = kustomize(DEPLOY / "kubernetes" / "rules")
    assert [d["kind"] for d in docs] == ["PrometheusRule"]
    assert docs[0]["spec"]["groups"]


@pytest.mark.parametrize(("config", "rules", "fmt"), [
    ("kubernetes/base/agent.yaml", "kubernetes/rules/prometheusrule.yaml", "prometheus-operator"),
    ("compose/agent.yaml", "compose/rules.yaml", "prometheus"),
    ("../agent.yaml", "prometheus/rules.yaml", "prometheus"),
])
def test_committed_rules_are_what_prober_rules_writes(tmp_path: Path, config: str, rules: str, fmt: str) -> None:
    fresh = tmp_path / "rules.yaml"
    assert main(["rules", "--config", str(DEPLOY / config), "--format", fmt, "--out", str(fresh)]) == 0
    committed = DEPLOY / rules
    assert yaml.safe_load(fresh.read_text()) == yaml.safe_load(committed.read_text()), (
        f"{committed} is stale: prober rules --config deploy/{config} --format {fmt} --out deploy/{rules}")


def test_prometheus_configs_pass_promtool(tmp_path: Path) -> None:
    checked = subprocess.run([PROMTOOL, "check", "config", str(DEPLOY / "prometheus" / "prometheus.yml")],
                             capture_output=True, text=True, timeout=60, check=False)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    compose = tmp_path / "prometheus.yml"  # its rule file is where the compose file mounts it: point at ours
    compose.write_text((DEPLOY / "compose" / "prometheus.yml").read_text().replace(
        "/etc/prometheus/rules.yaml", str(DEPLOY / "compose" / "rules.yaml")))
    agent_mode = DEPLOY / "prometheus" / "agent-mode.yml"
    for args in (["check", "config", str(compose)], ["check", "config", "--agent", str(agent_mode)]):
        checked = subprocess.run([PROMTOOL, *args], capture_output=True, text=True, timeout=60, check=False)
        assert checked.returncode == 0, checked.stdout + checked.stderr


@pytest.mark.parametrize("config", ["kubernetes/base/agent.yaml", "compose/agent.yaml"])
def test_example_agent_configs_load(config: str) -> None:
    loaded = load_config(DEPLOY / config)
    assert loaded.agent.canaries and any(c.type == "journey" for c in loaded.checks)


def test_compose_mounts_files_that_exist_and_runs_two_regions() -> None:
    compose = yaml.safe_load((DEPLOY / "docker-compose.yaml").read_text())
    services = compose["services"]
    regions = {s["environment"]["PROBER_AGENT__REGION"] for s in services.values()
               if "PROBER_AGENT__REGION" in s.get("environment", {})}
    assert regions == {"eu", "us"}
    for service in services.values():
        for volume in service.get("volumes", []):
            source = volume.split(":")[0]
            assert (DEPLOY / source).exists(), source


def test_dashboard_is_valid_json_with_slo_region_and_journey_panels() -> None:
    board = json.loads((DEPLOY / "grafana" / "prober-slos.json").read_text())
    titles = " ".join(p["title"] for p in board["panels"]).lower()
    for word in ("availability sli", "latency sli", "error budget", "burn rate", "status grid", "http phases",
                 "step timings", "web vitals"):
        assert word in titles, word
    assert {v["name"] for v in board["templating"]["list"]} >= {"datasource", "region", "check", "slo"}
