"""`prober rules`: the generated rules pass `promtool check rules`, and `promtool test rules` proves on synthetic
series that each SLI records what it should and each alert fires when it should and stays silent otherwise."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from prober.cli import main
from prober.config import ConfigError, load_config

ROOT = Path(__file__).resolve().parent.parent
SLO_CONFIG = ROOT / "tests" / "slo" / "agent.yaml"
COMPARE_CONFIG = ROOT / "tests" / "slo" / "compare.yaml"
PROMTOOL = shutil.which("promtool") or "/usr/bin/promtool"
EU = {"job": "prober", "region": "eu", "instance": "eu:9470"}
US = {"job": "prober", "region": "us", "instance": "us:9470"}


def generate(tmp_path: Path, config: Path = SLO_CONFIG, fmt: str = "prometheus") -> Path:
    out = tmp_path / ("rules.yaml" if fmt == "prometheus" else f"rules-{fmt}.yaml")
    assert main(["rules", "--config", str(config), "--format", fmt, "--out", str(out), "--interval", "1m"]) == 0
    return out


def promtool(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([PROMTOOL, *args], capture_output=True, text=True, timeout=120, check=False)


def series(name: str, where: dict[str, str], values: str, **labels: str) -> dict[str, str]:
    text = ", ".join(f'{k}="{v}"' for k, v in {**where, **labels}.items())
    return {"series": f"{name}{{{text}}}", "values": values}


def runs(where: dict[str, str], check: str, per_min: int, failed_per_min: float = 0,
         minutes: int = 120) -> list[dict[str, str]]:
    """A check's run and success counters going up so many a minute."""
    return [series("prober_check_runs_total", where, f"0+{per_min}x{minutes}", check=check),
            series("prober_check_successes_total", where, f"0+{per_min - failed_per_min:g}x{minutes}", check=check)]


def near(expr: str, value: float, tolerance: float = 1e-9) -> str:
    """An expression that is 1 where `expr` is within `tolerance` of `value` (rates are floats)."""
    return f"abs({expr} - {value}) < bool {tolerance:g}"


class Rules:
    """The generated rule file, to build promtool's expectations from (labels and rendered annotations)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.alerts = [r for g in yaml.safe_load(path.read_text())["groups"] for r in g["rules"] if "alert" in r]

    def find(self, **static: str) -> dict[str, Any]:
        found = [r for r in self.alerts if all(r["labels"].get(k) == v for k, v in static.items() if k != "alertname")
                 and r["alert"] == static.get("alertname", r["alert"])]
        assert len(found) == 1, (static, [r["alert"] for r in found])
        return found[0]

    def expect(self, series_labels: dict[str, str] | None = None, **static: str) -> dict[str, Any]:
        """The alert promtool must see: the rule's labels plus the series' own, annotations rendered."""
        rule = self.find(**static)
        labels = {**(series_labels or {}), **rule["labels"]}

        def render(text: str) -> str:
            return re.sub(r"\{\{ \$labels\.(\w+) \}\}", lambda m: labels[m.group(1)], text)

        return {"exp_labels": labels, "exp_annotations": {k: render(v) for k, v in rule["annotations"].items()}}


def run_promtool_tests(tmp_path: Path, tests: list[dict[str, Any]], config: Path = SLO_CONFIG) -> None:
    generate(tmp_path, config)
    spec = tmp_path / "tests.yaml"
    spec.write_text(yaml.safe_dump({"rule_files": ["rules.yaml"], "evaluation_interval": "1m", "tests": tests},
                                   sort_keys=False))
    result = promtool("test", "rules", str(spec))
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("config", [ROOT / "agent.yaml", SLO_CONFIG, COMPARE_CONFIG], ids=["default", "slo", "compare"])
def test_generated_rules_pass_promtool_check(tmp_path: Path, config: Path) -> None:
    result = promtool("check", "rules", str(generate(tmp_path, config)))
    assert result.returncode == 0, result.stdout + result.stderr
    assert re.search(r"SUCCESS: \d+ rules found", result.stdout)


def test_prometheus_operator_format_wraps_the_same_groups(tmp_path: Path) -> None:
    plain = yaml.safe_load(generate(tmp_path).read_text())
    wrapped = yaml.safe_load(generate(tmp_path, fmt="prometheus-operator").read_text())
    assert wrapped["apiVersion"] == "monitoring.coreos.com/v1" and wrapped["kind"] == "PrometheusRule"
    assert wrapped["spec"]["groups"] == plain["groups"]
    groups_only = tmp_path / "spec.yaml"
    groups_only.write_text(yaml.safe_dump({"groups": wrapped["spec"]["groups"]}))
    assert promtool("check", "rules", str(groups_only)).returncode == 0


def test_openslo_documents_describe_every_objective(tmp_path: Path) -> None:
    documents = list(yaml.safe_load_all(generate(tmp_path, fmt="openslo").read_text()))
    assert all(d["apiVersion"] == "openslo/v1" for d in documents)
    service = [d for d in documents if d["kind"] == "Service"]
    slos = {d["metadata"]["name"]: d["spec"] for d in documents if d["kind"] == "SLO"}
    assert len(service) == 1
    assert set(slos) == {"shop-checkout-availability", "shop-checkout-latency", "shop-api-availability",
                         "quiet-availability", "nightly-availability", "checkout-works-availability",
                         "cache-availability", "cache-latency", "resolve-availability", "ping-availability",
                         "cert-availability", "health-availability"}  # every check type has its objectives
    group = slos["checkout-works-availability"]
    assert group["objectives"] == [{"displayName": "availability", "target": 0.99}]
    assert group["timeWindow"] == [{"duration": "28d", "isRolling": True}]
    assert group["service"] == service[0]["metadata"]["name"]
    ratio = group["indicator"]["spec"]["ratioMetric"]
    assert ratio["counter"] is True
    assert 'check=~"shop\\\\.checkout|shop_api"' in ratio["good"]["metricSource"]["spec"]["query"]
    latency = slos["shop-checkout-latency"]["indicator"]["spec"]["ratioMetric"]
    assert 'le="0.5"' in latency["good"]["metricSource"]["spec"]["query"]
    assert slos["shop-api-availability"]["timeWindow"][0]["duration"] == "7d"


def test_slis_per_region_across_regions_and_per_group(tmp_path: Path) -> None:
    """1 run in 10 fails in eu, none in us: eu reads 0.1 errors, us 0, the check 0.05, its group the same."""
    run_promtool_tests(tmp_path, [{
        "interval": "1m",
        "input_series": [
            *runs(EU, "shop.checkout", 10, 1),
            *runs(US, "shop.checkout", 10),
            # an agent restart in eu at 30m: the counters start again from 0, and rate() spans the reset
            series("prober_check_runs_total", EU, "0+10x30 0+10x89", check="shop_api"),
            series("prober_check_successes_total", EU, "0+8x30 0+8x89", check="shop_api"),
        ],
        "promql_expr_test": [
            {"expr": near('prober_check_region:availability_error:ratio_rate5m{check="shop.checkout", region="eu"}',
                          0.1), "eval_time": "20m",
             "exp_samples": [{"labels": '{check="shop.checkout", region="eu"}', "value": 1}]},
            {"expr": 'prober_check_region:availability_error:ratio_rate5m{check="shop.checkout", region="us"}',
             "eval_time": "20m",
             "exp_samples": [{"labels": 'prober_check_region:availability_error:ratio_rate5m'
                                        '{check="shop.checkout", region="us"}', "value": 0}]},
            {"expr": near('prober_check:availability_error:ratio_rate1h{check="shop.checkout"}', 0.05),
             "eval_time": "50m", "exp_samples": [{"labels": '{check="shop.checkout"}', "value": 1}]},
            {"expr": near('prober_check:availability_error:ratio_rate5m{check="shop_api"}', 0.2),
             "eval_time": "33m", "exp_samples": [{"labels": '{check="shop_api"}', "value": 1}]},
            {"expr": near('prober_slo:error:ratio_rate30m{slo="checkout_works"}', (1 + 0 + 2) / 30, 0.002),
             # failures / runs a minute; shop_api's reset loses one scrape interval of both counters
             "eval_time": "60m", "exp_samples": [{"labels": '{sli="availability", slo="checkout_works"}', "value": 1}]},
            # no runs at all: no SLI sample (never a 100% good one)
            {"expr": 'prober_check:availability_error:ratio_rate5m{check="no_slo"}', "eval_time": "20m",
             "exp_samples": []},
            {"expr": 'prober_slo:error_budget_remaining:ratio{slo="quiet"}', "eval_time": "20m", "exp_samples": []},
        ],
    }])


def test_latency_sli_counts_runs_over_the_threshold_bucket(tmp_path: Path) -> None:
    """8 of 10 runs within 500ms: the latency error ratio is 0.2, and the 99% latency SLO pages."""
    rules = Rules(generate(tmp_path))
    bucket = "prober_check_duration_seconds_bucket"
    run_promtool_tests(tmp_path, [{
        "interval": "1m",
        "input_series": [
            *runs(EU, "shop.checkout", 10),
            series(bucket, EU, "0+8x120", check="shop.checkout", le="0.5"),
            series(bucket, EU, "0+10x120", check="shop.checkout", le="+Inf"),
        ],
        "promql_expr_test": [
            {"expr": near('prober_check_region:latency_error:ratio_rate5m{check="shop.checkout"}', 0.2),
             "eval_time": "20m", "exp_samples": [{"labels": '{check="shop.checkout", region="eu"}', "value": 1}]},
        ],
        "alert_rule_test": [
            {"eval_time": "20m", "alertname": rules.find(slo="shop.checkout", sli="latency", severity="page")["alert"],
             "exp_alerts": [rules.expect({"slo": "shop.checkout", "sli": "latency"}, slo="shop.checkout",
                                         sli="latency", severity="page")]},
            {"eval_time": "20m",
             "alertname": rules.find(slo="shop.checkout", sli="availability", severity="page")["alert"],
             "exp_alerts": []},
        ],
    }])


def test_burn_rate_alerts_fire_on_fast_burn_and_stay_silent_under_budget(tmp_path: Path) -> None:
    rules = Rules(generate(tmp_path))

    def alert(slo: str, severity: str, firing: bool) -> dict[str, Any]:
        static = {"slo": slo, "sli": "availability", "severity": severity}
        return {"eval_time": "30m", "alertname": rules.find(**static)["alert"],
                "exp_alerts": [rules.expect({"slo": slo, "sli": "availability"}, **static)] if firing else []}

    run_promtool_tests(tmp_path, [{
        "interval": "1m",
        "input_series": [
            # shop.checkout fails 2 runs in 10 in both regions: 40x its 0.5% budget
            *runs(EU, "shop.checkout", 10, 2),
            *runs(US, "shop.checkout", 10, 2),
            # quiet fails 1 run in 200: half its 1% budget, never an alert
            *runs(EU, "quiet", 200, 1),
        ],
        "alert_rule_test": [
            alert("shop.checkout", "page", True), alert("shop.checkout", "ticket", True),
            alert("checkout_works", "page", True),  # the group: 20% errors is over 14.4x its 1% budget too
            alert("quiet", "page", False), alert("quiet", "ticket", False),
        ],
    }])


def test_maintenance_silences_the_burn_rate_alerts(tmp_path: Path) -> None:
    rules = Rules(generate(tmp_path))
    page = {"slo": "nightly", "sli": "availability", "severity": "page"}
    failing = [*runs(EU, "nightly", 10, 5)]
    run_promtool_tests(tmp_path, [
        {"interval": "1m",
         "input_series": [*failing, series("prober_check_in_maintenance", EU, "1x60", check="nightly")],
         "alert_rule_test": [{"eval_time": "30m", "alertname": rules.find(**page)["alert"], "exp_alerts": []}]},
        {"interval": "1m",
         "input_series": [*failing, series("prober_check_in_maintenance", EU, "0x60", check="nightly")],
         "alert_rule_test": [{"eval_time": "30m", "alertname": rules.find(**page)["alert"],
                              "exp_alerts": [rules.expect({"slo": "nightly", "sli": "availability"}, **page)]}]},
    ])


def test_consensus_alert_needs_two_healthy_regions_failing_for_its_duration(tmp_path: Path) -> None:
    rules = Rules(generate(tmp_path))
    name = "ProberCheckFailingFromRegions"
    healthy = [series("prober_agent_vantage_healthy", where, "1x60") for where in (EU, US)]
    failing_both = [series("probe_success", where, "0x60", check="no_slo") for where in (EU, US)]
    run_promtool_tests(tmp_path, [
        {"interval": "1m", "input_series": [*healthy, *failing_both],
         "alert_rule_test": [
             {"eval_time": "3m", "alertname": name, "exp_alerts": []},  # pending: not yet 5m
             {"eval_time": "10m", "alertname": name,
              "exp_alerts": [rules.expect({"check": "no_slo"}, alertname=name)]}]},
        {"interval": "1m",  # one region alone is not a consensus
         "input_series": [*healthy, series("probe_success", EU, "0x60", check="no_slo"),
                          series("probe_success", US, "1x60", check="no_slo")],
         "alert_rule_test": [{"eval_time": "10m", "alertname": name, "exp_alerts": []}]},
        {"interval": "1m",  # us fails, but its vantage point is unhealthy: not evidence
         "input_series": [series("prober_agent_vantage_healthy", EU, "1x60"),
                          series("prober_agent_vantage_healthy", US, "0x60"), *failing_both],
         "alert_rule_test": [{"eval_time": "10m", "alertname": name, "exp_alerts": []}]},
    ])


def test_agent_alerts(tmp_path: Path) -> None:
    rules = Rules(generate(tmp_path))
    cert = "probe_ssl_earliest_cert_expiry"
    run_promtool_tests(tmp_path, [{
        "interval": "1m",
        "input_series": [
            series("prober_build_info", EU, "1x60", version="1", python_version="3.11"),
            series("prober_build_info", US, "1x60", version="1", python_version="3.11"),
            series("up", {"job": "prober", "instance": "eu:9470"}, "1x60"),
            series("up", {"job": "prober", "instance": "us:9470"}, "0x60"),
            series("prober_config_last_reload_successful", EU, "1x60"),
            series("prober_config_last_reload_successful", US, "0x60"),
            series(cert, EU, f"{5 * 86400}x60", check="shop.checkout"),
            series(cert, EU, f"{60 * 86400}x60", check="shop_api"),
            series("prober_check_skipped_total", EU, "0+3x60", check="shop_api"),
            series("prober_check_skipped_total", US, "0x60", check="shop_api"),
            series("prober_agent_vantage_healthy", EU, "1x60"),
            series("prober_agent_vantage_healthy", US, "0x60"),
        ],
        "alert_rule_test": [
            {"eval_time": "15m", "alertname": "ProberRegionAbsent",
             "exp_alerts": [rules.expect({"job": "prober"}, alertname="ProberRegionAbsent", region="ap")]},
            {"eval_time": "15m", "alertname": "ProberAgentDown",
             "exp_alerts": [rules.expect({"job": "prober", "instance": "us:9470"}, alertname="ProberAgentDown")]},
            {"eval_time": "15m", "alertname": "ProberConfigReloadFailed",
             "exp_alerts": [rules.expect(US, alertname="ProberConfigReloadFailed")]},
            {"eval_time": "15m", "alertname": "ProberCertificateExpiringSoon",
             "exp_alerts": [rules.expect({**EU, "check": "shop.checkout"}, alertname="ProberCertificateExpiringSoon")]},
            {"eval_time": "25m", "alertname": "ProberRunsSkipped",
             "exp_alerts": [rules.expect({"region": "eu", "instance": "eu:9470"}, alertname="ProberRunsSkipped")]},
            {"eval_time": "15m", "alertname": "ProberVantageUnhealthy",
             "exp_alerts": [rules.expect(US, alertname="ProberVantageUnhealthy")]},
        ],
    }])


def test_schedule_lag_alert_fires_for_the_lagging_agent_only(tmp_path: Path) -> None:
    """eu starts every run within 100 ms; us starts most runs 1-5 s late: its p90 lag is over 1 s."""
    rules = Rules(generate(tmp_path))
    lag = "prober_schedule_lag_seconds_bucket"
    buckets = {"eu": {"0.1": 10, "1.0": 10, "5.0": 10, "+Inf": 10}, "us": {"0.1": 1, "1.0": 2, "5.0": 10, "+Inf": 10}}
    run_promtool_tests(tmp_path, [{
        "interval": "1m",
        "input_series": [series(lag, where, f"0+{per_min}x60", le=le)
                         for where, region in ((EU, "eu"), (US, "us")) for le, per_min in buckets[region].items()],
        "alert_rule_test": [
            {"eval_time": "8m", "alertname": "ProberScheduleLagging", "exp_alerts": []},  # not yet 10m
            {"eval_time": "25m", "alertname": "ProberScheduleLagging",
             "exp_alerts": [rules.expect({"region": "us", "instance": "us:9470"}, alertname="ProberScheduleLagging")]},
        ],
    }])


def test_every_check_type_has_its_slis_and_icmp_its_packet_loss(tmp_path: Path) -> None:
    """A tcp, dns, icmp, tls and grpc check's SLOs work on the same counters as an http check's; an icmp check's
    loss is a ratio of packet rates (20 of 100 echo requests unanswered a minute: 0.2)."""
    rules = Rules(generate(tmp_path))
    bucket = "prober_check_duration_seconds_bucket"
    run_promtool_tests(tmp_path, [{
        "interval": "1m",
        "input_series": [
            *runs(EU, "cache", 10), series(bucket, EU, "0+9x120", check="cache", le="0.05"),
            series(bucket, EU, "0+10x120", check="cache", le="+Inf"),
            *runs(EU, "resolve", 10, 5), *runs(EU, "ping", 10), *runs(EU, "cert", 10), *runs(EU, "health", 10, 1),
            series("prober_icmp_packets_sent_total", EU, "0+100x120", check="ping"),
            series("prober_icmp_packets_received_total", EU, "0+80x120", check="ping"),
        ],
        "promql_expr_test": [
            {"expr": near('prober_check_region:icmp_packet_loss:ratio_rate5m{check="ping"}', 0.2),
             "eval_time": "20m", "exp_samples": [{"labels": '{check="ping", region="eu"}', "value": 1}]},
            {"expr": near('prober_check_region:latency_error:ratio_rate5m{check="cache"}', 0.1),
             "eval_time": "20m", "exp_samples": [{"labels": '{check="cache", region="eu"}', "value": 1}]},
            {"expr": near('prober_check_region:availability_error:ratio_rate5m{check="health"}', 0.1),
             "eval_time": "20m", "exp_samples": [{"labels": '{check="health", region="eu"}', "value": 1}]},
        ],
        "alert_rule_test": [
            {"eval_time": "20m", "alertname": rules.find(slo="resolve", sli="availability", severity="page")["alert"],
             "exp_alerts": [rules.expect({"slo": "resolve", "sli": "availability"}, slo="resolve",
                                         sli="availability", severity="page")]},
            {"eval_time": "20m", "alertname": rules.find(slo="cert", sli="availability", severity="page")["alert"],
             "exp_alerts": []},
        ],
    }])


# comparisons: rules.group_by [isp] and the checks' labels (tests/slo/compare.yaml) --------------------------------
EU_A = {"job": "prober", "region": "eu", "instance": "eu-a:9470", "isp": "telco_a"}
EU_B = {"job": "prober", "region": "eu", "instance": "eu-b:9470", "isp": "telco_b"}
US_A = {"job": "prober", "region": "us", "instance": "us-a:9470", "isp": "telco_a"}
OURS = {"site": "ours", "group": "competitors"}
RIVAL = {"site": "rival_a", "group": "competitors"}


def labelled(**labels: str) -> str:
    """A promtool label set as `exp_samples` wants it."""
    return "{" + ", ".join(f'{k}="{v}"' for k, v in sorted(labels.items())) + "}"


def buckets(name: str, where: dict[str, str], per_min: dict[str, int], **labels: str) -> list[dict[str, str]]:
    """A histogram's cumulative buckets going up so many a minute (`per_min`: le -> observations at or under)."""
    return [series(name, where, f"0+{count}x120", le=le, **labels) for le, count in per_min.items()]


def test_without_comparisons_the_slis_keep_check_and_region_only(tmp_path: Path) -> None:
    groups = {g["name"]: g["rules"] for g in yaml.safe_load(generate(tmp_path).read_text())["groups"]}
    assert "prober-comparisons" not in groups
    runs_5m = next(r for r in groups["prober-sli"] if r["record"] == "prober_check_region:runs:rate5m")
    assert runs_5m["expr"].startswith("sum by (check, region) (")


@pytest.mark.parametrize(("group_by", "problem"), [
    ("[isp, isp]", "each label once"), ("[region]", "reserved"), ("[2isp]", "not a valid Prometheus label name"),
])
def test_group_by_takes_distinct_label_names_of_agents(tmp_path: Path, group_by: str, problem: str) -> None:
    config = tmp_path / "agent.yaml"
    config.write_text(f"checks: []\nrules: {{group_by: {group_by}}}\n")
    with pytest.raises(ConfigError) as raised:
        load_config(config)
    assert any("group_by" in line and problem in line for line in raised.value.problems), raised.value.problems


def test_slis_split_per_isp_and_keep_the_check_labels(tmp_path: Path) -> None:
    """Two ISPs in eu, one in us. `ours` fails 1 run in 10 through telco_b only, `internal` (no labels) never;
    30% of ours' runs through telco_b are over its 250ms threshold. Each vantage point reads its own truth, the
    check labels select the compared checks, and the pooled SLO stays what the runs say."""
    bucket = "prober_check_duration_seconds_bucket"
    run_promtool_tests(tmp_path, [{
        "interval": "1m",
        "input_series": [
            *runs({**EU_A, **OURS}, "ours", 10), *runs({**EU_B, **OURS}, "ours", 10, 1),
            *runs({**US_A, **OURS}, "ours", 10),
            *runs({**EU_A, **RIVAL}, "rival_a", 4), *runs({**EU_B, **RIVAL}, "rival_a", 4, 2),
            *runs(EU_A, "internal", 10), *runs(EU_B, "internal", 10),
            *buckets(bucket, {**EU_A, **OURS}, {"0.25": 10, "+Inf": 10}, check="ours"),
            *buckets(bucket, {**EU_B, **OURS}, {"0.25": 7, "+Inf": 10}, check="ours"),
        ],
        "promql_expr_test": [
            {"expr": near('prober_check_region:availability_error:ratio_rate5m{check="ours", isp="telco_b"}', 0.1),
             "eval_time": "20m",
             "exp_samples": [{"labels": labelled(check="ours", region="eu", isp="telco_b", **OURS), "value": 1}]},
            {"expr": 'prober_check_region:availability_error:ratio_rate5m{check="ours", region="eu", isp="telco_a"}',
             "eval_time": "20m",
             "exp_samples": [{"labels": "prober_check_region:availability_error:ratio_rate5m"
                                        + labelled(check="ours", region="eu", isp="telco_a", **OURS), "value": 0}]},
            # a check without labels gets none: only the agent's isp beside check and region
            {"expr": 'prober_check_region:availability_error:ratio_rate5m{check="internal", isp="telco_b"}',
             "eval_time": "20m",
             "exp_samples": [{"labels": "prober_check_region:availability_error:ratio_rate5m"
                                        + labelled(check="internal", region="eu", isp="telco_b"), "value": 0}]},
            {"expr": near('prober_check_region:latency_error:ratio_rate5m{check="ours", isp="telco_b"}', 0.3),
             "eval_time": "20m",
             "exp_samples": [{"labels": labelled(check="ours", region="eu", isp="telco_b", **OURS), "value": 1}]},
            # the group label selects the compared checks across regions, and pools the ISPs
            {"expr": near('prober_check:availability_error:ratio_rate1h{group="competitors"}', 1 / 30),
             "eval_time": "90m", "exp_samples": [{"labels": labelled(check="ours", **OURS), "value": 1},
                                                 {"labels": labelled(check="rival_a", **RIVAL), "value": 0}]},
            {"expr": near('prober_check:availability_error:ratio_rate1h{site="rival_a"}', 0.25),
             "eval_time": "90m", "exp_samples": [{"labels": labelled(check="rival_a", **RIVAL), "value": 1}]},
            # the SLO pools every member's runs whatever their labels: 1 failure in 50 runs a minute
            {"expr": near('prober_slo:error:ratio_rate30m{slo="shop_works"}', 1 / 50),
             "eval_time": "60m", "exp_samples": [{"labels": '{sli="availability", slo="shop_works"}', "value": 1}]},
        ],
    }], COMPARE_CONFIG)


def test_comparisons_record_duration_p90_and_lcp_p75_per_vantage_point(tmp_path: Path) -> None:
    """Per minute, ours: 5 runs <= 50ms, 3 more <= 100ms, 2 more <= 250ms: the p90 (the 9th of 10) lies half way
    into (100ms, 250ms], 175ms. rival_a through telco_b: 5 <= 500ms, 5 more <= 1s: 0.9s; its LCP through telco_a:
    2 <= 1.8s, 2 more <= 2.5s: the p75 (the 3rd of 4) is 2.15s, its FCP (never recorded) all <= 1s."""
    duration, vital = "prober_check_duration_seconds_bucket", "prober_browser_web_vital_bucket"
    run_promtool_tests(tmp_path, [{
        "interval": "1m",
        "input_series": [
            *runs({**EU_A, **OURS}, "ours", 10),
            *buckets(duration, {**EU_A, **OURS}, {"0.05": 5, "0.1": 8, "0.25": 10, "+Inf": 10}, check="ours"),
            *runs({**EU_B, **RIVAL}, "rival_a", 10),
            *buckets(duration, {**EU_B, **RIVAL}, {"0.25": 0, "0.5": 5, "1.0": 10, "+Inf": 10}, check="rival_a"),
            *buckets(vital, {**EU_A, **RIVAL}, {"1.8": 2, "2.5": 4, "+Inf": 4}, check="rival_a", vital="lcp"),
            *buckets(vital, {**EU_A, **RIVAL}, {"1.0": 4, "+Inf": 4}, check="rival_a", vital="fcp"),
            # internal ran, then stopped: an hour without runs has no percentile (never a made-up one)
            series(duration, EU_A, "0+10x30 300x90", check="internal", le="+Inf"),
        ],
        "promql_expr_test": [
            {"expr": near('prober_check_region:duration_seconds:p90_rate1h{group="competitors"}', 0.175),
             "eval_time": "90m",
             "exp_samples": [{"labels": labelled(check="ours", region="eu", isp="telco_a", **OURS), "value": 1},
                             {"labels": labelled(check="rival_a", region="eu", isp="telco_b", **RIVAL),
                              "value": 0}]},
            {"expr": near('prober_check_region:duration_seconds:p90_rate1h{site="rival_a"}', 0.9),
             "eval_time": "90m",
             "exp_samples": [{"labels": labelled(check="rival_a", region="eu", isp="telco_b", **RIVAL),
                              "value": 1}]},
            {"expr": near('prober_check_region:duration_seconds:p90_rate1d{check="ours"}', 0.175),
             "eval_time": "110m",
             "exp_samples": [{"labels": labelled(check="ours", region="eu", isp="telco_a", **OURS), "value": 1}]},
            {"expr": 'prober_check_region:duration_seconds:p90_rate1h{check="internal"}', "eval_time": "110m",
             "exp_samples": []},
            {"expr": near("prober_check_region:web_vital_lcp_seconds:p75_rate1h", 2.15), "eval_time": "90m",
             "exp_samples": [{"labels": labelled(check="rival_a", region="eu", isp="telco_a", **RIVAL),
                              "value": 1}]},
        ],
    }], COMPARE_CONFIG)


def test_an_unhealthy_agent_of_one_isp_hides_no_other_isps_failures(tmp_path: Path) -> None:
    """ours fails from eu through telco_a and from us; eu's telco_b agent has lost its canaries. Its own runs
    are no evidence, but telco_a's in eu are: two regions fail, the consensus alert fires."""
    rules = Rules(generate(tmp_path, COMPARE_CONFIG))
    name = "ProberCheckFailingFromRegions"
    run_promtool_tests(tmp_path, [{
        "interval": "1m",
        "input_series": [
            series("prober_agent_vantage_healthy", EU_A, "1x60"), series("prober_agent_vantage_healthy", US_A, "1x60"),
            series("prober_agent_vantage_healthy", EU_B, "0x60"),
            *(series("probe_success", where, "0x60", check="ours", **OURS) for where in (EU_A, US_A, EU_B)),
        ],
        "alert_rule_test": [{"eval_time": "10m", "alertname": name,
                             "exp_alerts": [rules.expect({"check": "ours"}, alertname=name)]}],
    }], COMPARE_CONFIG)
