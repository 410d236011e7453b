"""deploy/ validates: kustomize builds each region's overlay, the sharded StatefulSet and the status site, every
built document passes the Kubernetes JSON schemas, the committed rule files are what `prober rules` writes today,
promtool accepts every Prometheus config, the example agent.yamls load (sharded too), and docker-compose mounts
files that exist. (The dashboard's queries run against a real Prometheus in test_slo_e2e.py.)"""

from __future__ import annotations

import json
import shutil
import subprocess
from collections import Counter
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

from prober.cli import _parser, main
from prober.config import load_config
from prober.site.services import site_services

DEPLOY = Path(__file__).resolve().parent.parent / "deploy"
REGIONS = ("eu-west", "us-east", "ap-south")
PROMTOOL = shutil.which("promtool") or "/usr/bin/promtool"
KUSTOMIZATIONS = (*(f"overlays/{region}" for region in REGIONS), "rules", "sharded", "site")
# the oldest Kubernetes the manifests need (the pod-index label of the sharded StatefulSet) and the newest
# whose schemas the pinned kubernetes-validate ships, so neither a too new field nor a removed API passes
SCHEMA_VERSIONS = ("1.28", kubernetes_validate.latest_version())
# prometheus-operator's CRDs: kubernetes-validate ships the built-in kinds only
CRDS = {("monitoring.coreos.com/v1", "ServiceMonitor"), ("monitoring.coreos.com/v1", "PrometheusRule")}
SHARD_INDEX_FIELD = "metadata.labels['apps.kubernetes.io/pod-index']"


def kustomize(path: Path) -> list[dict[str, Any]]:
    kubectl = shutil.which("kubectl")
    assert kubectl, "kubectl is needed to build the kustomizations (.ci/setup installs it)"
    built = subprocess.run([kubectl, "kustomize", str(path)], capture_output=True, text=True, timeout=60, check=False)
    assert built.returncode == 0, built.stderr
    return [doc for doc in yaml.safe_load_all(built.stdout) if doc]


def by_kind_and_name(docs: list[dict[str, Any]]) -> dict[tuple[str, str], dict[str, Any]]:
    return {(d["kind"], d["metadata"]["name"]): d for d in docs}


def assert_agent_pod_is_locked_down(pod: dict[str, Any], docs: dict[tuple[str, str], dict[str, Any]]) -> None:
    """The agent's pod spec: non-root, read-only root fs, probes, resources, the generated ConfigMap mounted."""
    container = pod["containers"][0]
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert container["resources"]["requests"] and container["resources"]["limits"]["memory"]
    config_map = next(d for (kind, name), d in docs.items() if kind == "ConfigMap" and name.startswith("prober-config"))
    mounted = {v["name"]: v for v in pod["volumes"]}["config"]["configMap"]["name"]
    assert mounted == config_map["metadata"]["name"]  # the hashed name kustomize generated


@pytest.mark.parametrize("region", REGIONS)
def test_each_overlay_builds_and_sets_only_its_region(region: str) -> None:
    docs = by_kind_and_name(kustomize(DEPLOY / "kubernetes" / "overlays" / region))
    assert {kind for kind, _ in docs} == {"ConfigMap", "Deployment", "Service", "ServiceMonitor"}
    assert all(d["metadata"]["namespace"] == f"prober-{region}" for d in docs.values())
    agent = docs[("Deployment", "prober")]["spec"]["template"]["spec"]
    env = {e["name"]: e.get("value") for e in agent["containers"][0]["env"]}
    assert env["PROBER_AGENT__REGION"] == region
    assert_agent_pod_is_locked_down(agent, docs)


def test_the_sharded_kustomization_runs_the_agent_as_a_statefulset_of_shards() -> None:
    docs = by_kind_and_name(kustomize(DEPLOY / "kubernetes" / "sharded"))
    assert ("Deployment", "prober") not in docs
    assert [name for kind, name in docs if kind == "Deployment"] == ["prober-demo-shop"]
    shards = docs[("StatefulSet", "prober")]["spec"]
    assert shards["podManagementPolicy"] == "Parallel"
    pod = shards["template"]["spec"]
    assert_agent_pod_is_locked_down(pod, docs)
    env = pod["containers"][0]["env"]
    names = [e["name"] for e in env]
    by_name = {e["name"]: e for e in env}
    assert by_name["PROBER_AGENT__REGION"]["value"] == "eu-west"
    assert by_name["PROBER_SHARD_INDEX"]["valueFrom"]["fieldRef"]["fieldPath"] == SHARD_INDEX_FIELD
    # $(VAR) expands only variables defined earlier in the list
    assert names.index("PROBER_SHARD_INDEX") < names.index("PROBER_AGENT__SHARD")
    assert by_name["PROBER_AGENT__SHARD"]["value"] == f"$(PROBER_SHARD_INDEX)/{shards['replicas']}"
    assert shards["replicas"] > 1
    headless = docs[("Service", shards["serviceName"])]["spec"]
    assert headless["clusterIP"] == "None"
    labels = shards["template"]["metadata"]["labels"]
    assert shards["selector"]["matchLabels"].items() <= labels.items()
    assert headless["selector"].items() <= labels.items()
    # the ServiceMonitor scrapes each pod once: through one Service that selects the shards and has its port
    monitor = docs[("ServiceMonitor", "prober")]["spec"]
    ports = {e["port"] for e in monitor["endpoints"]}
    scraped = [d["spec"] for (kind, _), d in docs.items() if kind == "Service"
               and monitor["selector"]["matchLabels"].items() <= d["metadata"].get("labels", {}).items()
               and ports & {p.get("name") for p in d["spec"].get("ports", [])}]
    assert len(scraped) == 1 and scraped[0]["selector"].items() <= labels.items()
    # the pod template is the base Deployment's plus the shard: the copy in sharded/ must not drift from it
    region = by_kind_and_name(kustomize(DEPLOY / "kubernetes" / "overlays" / "eu-west"))
    expected = region[("Deployment", "prober")]["spec"]["template"]
    unsharded = json.loads(json.dumps(shards["template"]))
    unsharded["spec"]["containers"][0]["env"] = [e for e in env if e["name"] not in
                                                 ("PROBER_SHARD_INDEX", "PROBER_AGENT__SHARD")]
    assert unsharded == expected


def test_each_shard_of_the_base_agent_yaml_runs_its_own_checks(monkeypatch: pytest.MonkeyPatch) -> None:
    """The shard value each pod of the sharded StatefulSet gets is one the agent accepts, and the shards
    together run every check exactly once."""
    docs = by_kind_and_name(kustomize(DEPLOY / "kubernetes" / "sharded"))
    shards = docs[("StatefulSet", "prober")]["spec"]
    env = {e["name"]: e for e in shards["template"]["spec"]["containers"][0]["env"]}
    region = env["PROBER_AGENT__REGION"]["value"]
    agent_yaml = DEPLOY / "kubernetes" / "base" / "agent.yaml"
    every_check = [c.name for c in load_config(agent_yaml, region=region).checks
                   if c.regions is None or region in c.regions]
    ran: Counter[str] = Counter()
    for index in range(shards["replicas"]):
        shard = env["PROBER_AGENT__SHARD"]["value"].replace("$(PROBER_SHARD_INDEX)", str(index))
        monkeypatch.setenv("PROBER_AGENT__SHARD", shard)
        config = load_config(agent_yaml, region=region)
        assert config.agent.shard_of == (index, shards["replicas"])
        ran.update(c.name for c in config.checks if config.runs_here(c))
    assert every_check and ran == Counter(every_check)  # each exactly once, none left out


def test_the_site_kustomization_serves_the_status_site_of_the_base_agent_yaml() -> None:
    """One Deployment of `prober site` and its Service, with the base's agent.yaml and nothing else of the base."""
    docs = by_kind_and_name(kustomize(DEPLOY / "kubernetes" / "site"))
    assert sorted(kind for kind, _ in docs) == ["ConfigMap", "Deployment", "Service"]
    site = docs[("Deployment", "prober-site")]["spec"]
    pod = site["template"]["spec"]
    container = pod["containers"][0]
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    assert container["command"][-2:] == ["prober", "site"]
    args = container["args"]
    parsed = _parser().parse_args(["site", *args])  # flags the CLI takes (argparse exits on any other)
    assert parsed.every == 60 and parsed.prometheus.startswith("http://")
    port = {p["name"]: p["containerPort"] for p in container["ports"]}["http"]
    assert args[args.index("--listen") + 1] == f"0.0.0.0:{port}"
    assert container["readinessProbe"]["httpGet"] == {"path": "/", "port": "http"}  # 503 until the first build
    assert "tcpSocket" in container["livenessProbe"]  # a long first build is not a dead process
    # the mounted ConfigMap is the base's agent.yaml, at the path --config names
    config_map = next(d for (kind, _), d in docs.items() if kind == "ConfigMap")
    assert {v["name"]: v for v in pod["volumes"]}["config"]["configMap"]["name"] == config_map["metadata"]["name"]
    mount = {m["name"]: m for m in container["volumeMounts"]}["config"]["mountPath"]
    assert args[args.index("--config") + 1] == f"{mount}/agent.yaml"
    agent_yaml = DEPLOY / "kubernetes" / "base" / "agent.yaml"
    assert config_map["data"]["agent.yaml"] == agent_yaml.read_text()
    assert site_services(load_config(agent_yaml))  # a site with services to show
    # its Service reaches the pod by the port's name
    service = docs[("Service", "prober-site")]["spec"]
    assert service["selector"].items() <= site["template"]["metadata"]["labels"].items()
    assert site["selector"]["matchLabels"].items() <= site["template"]["metadata"]["labels"].items()
    assert [p["targetPort"] for p in service["ports"]] == ["http"]


@pytest.mark.parametrize("version", SCHEMA_VERSIONS)
@pytest.mark.parametrize("kustomization", KUSTOMIZATIONS)
def test_every_built_document_passes_the_kubernetes_schemas(kustomization: str, version: str) -> None:
    """Strict: an unknown field (a typo such as readOnlyRootFileSystem) fails like a wrong type. The schemas
    ship in the package, so nothing is downloaded."""
    problems = []
    for doc in kustomize(DEPLOY / "kubernetes" / kustomization):
        where = f"{kustomization}: {doc['kind']} {doc['metadata']['name']}"
        if (doc["apiVersion"], doc["kind"]) in CRDS:
            continue  # skipped by kind: no schema ships for a CRD
        try:
            kubernetes_validate.validate(doc, version, strict=True)
        except kubernetes_validate.ValidationError as exc:
            problems.append(f"{where}: {'.'.join(map(str, exc.path))}: {exc.message}")
        except kubernetes_validate.SchemaNotFoundError as exc:
            problems.append(f"{where}: {exc.message}")  # a kind of ours without a schema is a failure, not a skip
    assert not problems, "\n".join(problems)


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
    site = services["status-site"]
    assert site["entrypoint"][-1] == "site" and "--prometheus" in site["command"]


def test_dashboard_is_valid_json_with_slo_region_and_journey_panels() -> None:
    board = json.loads((DEPLOY / "grafana" / "prober-slos.json").read_text())
    titles = " ".join(p["title"] for p in board["panels"]).lower()
    for word in ("availability sli", "latency sli", "error budget", "burn rate", "status grid", "phases, mean",
                 "step timings", "web vitals", "icmp packet loss", "icmp round trip", "dns answers", "grpc serving"):
        assert word in titles, word
    assert {v["name"] for v in board["templating"]["list"]} >= {"datasource", "region", "check", "slo"}


def test_dashboard_has_a_comparisons_row_with_its_variables() -> None:
    """Comparison variables with All (which must match series without the label too), and a row whose panels
    filter by all of them (their numbers are asserted in test_comparisons_e2e.py)."""
    board = json.loads((DEPLOY / "grafana" / "prober-slos.json").read_text())
    variables = {v["name"]: v for v in board["templating"]["list"]}
    for name in ("group", "site", "isp"):
        assert variables[name]["includeAll"] and variables[name]["allValue"] == ".*", name
        assert variables[name]["query"]["query"].startswith("label_values("), name
    titles = [p["title"] for p in board["panels"]]
    row = titles.index("Comparisons: competitors, regions, ISPs")
    after = board["panels"][row + 1:]
    panels = after[:next((i for i, p in enumerate(after) if p["type"] == "row"), len(after))]
    assert len(panels) == 5 and all(p["title"].startswith("Comparison") for p in panels)
    for panel in panels:
        for target in panel["targets"]:
            for matcher in ('group=~"$group"', 'site=~"$site"', 'region=~"$region"', 'isp=~"$isp"'):
                assert matcher in target["expr"], (panel["title"], matcher)
    ids = [p["id"] for p in board["panels"]]
    assert len(ids) == len(set(ids))
    bottom = max(p["gridPos"]["y"] + p["gridPos"]["h"] for p in board["panels"][:row])
    assert board["panels"][row]["gridPos"]["y"] >= bottom  # below every other panel, overlapping none
