"""The dashboard's "Comparisons" row on a real Prometheus: the last three hours of three agents' counters (two ISPs
in eu, one in us; tests/comparison_history.py) are backfilled into Debian's Prometheus, which evaluates the
rules `prober rules` writes for tests/slo/compare.yaml (`rules.group_by: [isp]`, checks labelled `site` and
`group`). Every query of the row's panels, its variables set as a user would pick them, must give the
availability, duration p90 and LCP p75 that those counts make per region, per ISP and per vantage point; the
comparison variables list the label values there are."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from typing import Any

import pytest

from prober.cli import main
from tests.comparison_history import CONFIG, backfill, openmetrics
from tests.processes import REPO, PrometheusProcess

pytestmark = pytest.mark.slow

DASHBOARD = REPO / "deploy" / "grafana" / "prober-slos.json"
ROW = "Comparisons: competitors, regions, ISPs"
PICKED = {"job": "prober", "group": "competitors", "site": ".*", "region": ".*", "isp": ".*"}
# Counters of agents that ran long before the window: rate() extrapolates every series alike (the same sample
# times, none near zero), so ratios and percentiles of rates are those of the counts.
BASE = 100_000

# per minute (tests/comparison_history.py): ours 10 runs through each agent, 1 failing through telco_b; its
# buckets (50ms, 100ms, 250ms, 500ms, +Inf) hold 5, 8, 10, 10, 10 runs (telco_a) and 0, 5, 8, 10, 10 (telco_b):
# p90 (the 9th of 10) half way into (100ms, 250ms] and (250ms, 500ms]. rival_a 4 runs, failing 1 (eu telco_a),
# 0 (eu telco_b), 2 (us); buckets (250ms, 500ms, 1s, 2.5s, +Inf) 0, 2, 4, 4, 4 / 0, 0, 2, 4, 4 / 0, 1, 4, 4, 4:
# p90 (the 3.6th of 4) 0.8 into (0.5s, 1s], 0.8 into (1s, 2.5s], 2.6/3 into (0.5s, 1s]; LCP buckets (1s, 1.8s,
# 2.5s, 4s, +Inf) 0, 2, 4, 4, 4 / 0, 0, 1, 4, 4 / 0, 4, 4, 4, 4: p75 (the 3rd of 4) 1/2 into (1.8s, 2.5s],
# 2/3 into (2.5s, 4s], 3/4 into (1s, 1.8s].
AVAILABILITY = {("ours", "eu", "telco_a"): 1.0, ("ours", "eu", "telco_b"): 0.9, ("ours", "us", "telco_a"): 1.0,
                ("rival_a", "eu", "telco_a"): 0.75, ("rival_a", "eu", "telco_b"): 1.0,
                ("rival_a", "us", "telco_a"): 0.5}
P90 = {("ours", "eu", "telco_a"): 0.175, ("ours", "eu", "telco_b"): 0.375, ("ours", "us", "telco_a"): 0.175,
       ("rival_a", "eu", "telco_a"): 0.9, ("rival_a", "eu", "telco_b"): 2.2,
       ("rival_a", "us", "telco_a"): 0.5 + 0.5 * 2.6 / 3}
LCP = {("rival_a", "eu", "telco_a"): 2.15, ("rival_a", "eu", "telco_b"): 3.5, ("rival_a", "us", "telco_a"): 1.6}
PER_REGION = {("ours", "eu"): 19 / 20, ("ours", "us"): 1.0, ("rival_a", "eu"): 7 / 8, ("rival_a", "us"): 2 / 4}
PER_ISP = {("ours", "telco_a"): 1.0, ("ours", "telco_b"): 0.9, ("rival_a", "telco_a"): 5 / 8,
           ("rival_a", "telco_b"): 1.0}


@pytest.fixture(scope="module")
def prometheus(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PrometheusProcess]:
    folder = tmp_path_factory.mktemp("comparisons")
    assert main(["rules", "--config", str(CONFIG), "--out", str(folder / "rules.yaml"), "--interval", "1s"]) == 0
    # up to two minutes ago: Prometheus records the rules after the backfilled blocks, never inside them
    end = (int(time.time()) // 60 - 2) * 60
    tsdb = backfill(openmetrics(end - 3 * 3600, end, 60, base=BASE), folder)
    (folder / "prometheus.yml").write_text("global: {evaluation_interval: 1s}\nrule_files: [rules.yaml]\n")
    server = PrometheusProcess(folder / "prometheus.yml", tsdb)
    try:
        for recorded in ("prober_check_region:web_vital_lcp_seconds:p75_rate1d",
                         "prober_check_region:duration_seconds:p90_rate1d",
                         "prober_check_region:availability_error:ratio_rate1d"):
            server.wait_for(f"count({recorded})", lambda n: n >= 3, timeout_s=60)
        yield server
    finally:
        server.stop()


def comparison_panels() -> dict[str, dict[str, Any]]:
    """The panels of the Comparisons row by title: those after the row, up to the next row."""
    panels = json.loads(DASHBOARD.read_text())["panels"]
    start = next(i for i, p in enumerate(panels) if p["type"] == "row" and p["title"] == ROW)
    found = {}
    for panel in panels[start + 1:]:
        if panel["type"] == "row":
            break
        found[panel["title"]] = panel
    return found


def picked(expr: str, **choice: str) -> str:
    values = {**PICKED, **choice}
    return re.sub(r"\$\{?(\w+)\}?", lambda m: values[m.group(1)], expr)


def results(prom: PrometheusProcess, target: dict[str, Any], labels: tuple[str, ...],
            **choice: str) -> dict[tuple[str, ...], float]:
    return {tuple(s["metric"].get(label, "") for label in labels): float(s["value"][1])
            for s in prom.query(picked(target["expr"], **choice))}


def assert_near(found: dict[tuple[str, ...], float], expected: dict[tuple[str, ...], float]) -> None:
    assert found.keys() == expected.keys(), found
    for key, value in expected.items():
        assert found[key] == pytest.approx(value, rel=1e-6), key


def panel(title_start: str) -> dict[str, Any]:
    matches = [p for title, p in comparison_panels().items() if title.startswith(title_start)]
    assert len(matches) == 1, (title_start, list(comparison_panels()))
    return matches[0]


def test_availability_side_by_side_per_region_and_per_isp(prometheus: PrometheusProcess) -> None:
    """Pooled from the recorded rates: a region's ISPs together, an ISP's regions together; `internal`, outside
    the group, is not there."""
    per_region = panel("Comparison: availability per region")["targets"][0]
    assert_near(results(prometheus, per_region, ("site", "region")), PER_REGION)
    per_isp = panel("Comparison: availability per ISP")["targets"][0]
    assert_near(results(prometheus, per_isp, ("site", "isp")), PER_ISP)
    # picking one ISP and one site narrows the panel to them
    assert_near(results(prometheus, per_isp, ("site", "isp"), isp="telco_b", site="rival_a"),
                {("rival_a", "telco_b"): 1.0})


def test_duration_p90_and_lcp_p75_per_vantage_point(prometheus: PrometheusProcess) -> None:
    vantage = ("site", "region", "isp")
    assert_near(results(prometheus, panel("Comparison: check duration p90")["targets"][0], vantage), P90)
    lcp = panel("Comparison: LCP p75")["targets"][0]
    assert_near(results(prometheus, lcp, vantage), LCP)  # browser checks only: ours has no page loads
    assert_near(results(prometheus, lcp, vantage, region="us"), {("rival_a", "us", "telco_a"): 1.6})


def test_the_side_by_side_table_over_a_day(prometheus: PrometheusProcess) -> None:
    """Its three instant queries, merged by Grafana on their common labels: one row per check and vantage point."""
    table = panel("Comparison side by side")
    assert all(t.get("instant") and t.get("format") == "table" for t in table["targets"])
    assert table["transformations"][0]["id"] == "merge"
    vantage = ("site", "region", "isp")
    availability, p90, lcp = (results(prometheus, t, vantage) for t in table["targets"])
    assert_near(availability, AVAILABILITY)
    assert_near(p90, P90)
    assert_near(lcp, LCP)


def test_every_query_of_the_row_ran(prometheus: PrometheusProcess) -> None:
    """No panel of the row is left unproven: each target of each is one of those the tests above asserted."""
    titles = sorted(comparison_panels())
    assert titles == sorted([
        "Comparison: availability per region (1h)", "Comparison: availability per ISP (1h)",
        "Comparison: check duration p90 per region and ISP (1h)", "Comparison: LCP p75 per region and ISP (1h)",
        "Comparison side by side, last day: availability, duration p90, LCP p75"])
    targets = sum(len(p["targets"]) for p in comparison_panels().values())
    assert targets == 7
    for p in comparison_panels().values():
        for target in p["targets"]:
            assert prometheus.query(picked(target["expr"])), (p["title"], target["expr"])  # data, not just a parse


def test_the_comparison_variables_list_the_label_values_there_are(prometheus: PrometheusProcess) -> None:
    """Grafana's label_values(selector, label), asked of Prometheus' series API as Grafana asks it."""
    variables = {v["name"]: v for v in json.loads(DASHBOARD.read_text())["templating"]["list"]}
    expected = {"group": ["competitors"], "site": ["ours", "rival_a"], "isp": ["telco_a", "telco_b"]}
    for name, values in expected.items():
        variable = variables[name]
        assert variable["includeAll"] and variable["allValue"] == ".*"
        match = re.fullmatch(r"label_values\((.+), (\w+)\)", variable["query"]["query"])
        assert match and match.group(2) == name, variable
        answer = prometheus.api(f"label/{name}/values", **{"match[]": picked(match.group(1), region=".*")})
        assert answer["status"] == "success" and answer["data"] == values, (name, answer)
