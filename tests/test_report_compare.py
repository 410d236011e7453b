"""`prober report --compare group=competitors` end to end: a day of three agents' counters (two ISPs in eu, one
in us; tests/comparison_history.py) is backfilled into Debian's Prometheus, and the comparison table of every
format must hold the availability, duration p90 and LCP p75 that those counts make, for all vantage points, per
region and per ISP; the HTML renders in Chromium."""

from __future__ import annotations

import datetime as dt
import json
import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from prober.cli import main
from prober.report.comparison import bucket_quantile
from tests.browsers import headless_chromium
from tests.comparison_history import CONFIG, EU_A, backfill, openmetrics
from tests.processes import REPO, PrometheusProcess

START = dt.datetime(2026, 10, 1, tzinfo=dt.UTC).timestamp()
END = dt.datetime(2026, 10, 2, tzinfo=dt.UTC).timestamp()
MINUTES = 24 * 60
SHOTS = REPO / "test-artifacts" / "report"

# (view, vantage, check) -> (availability, duration p90 s, LCP p75 s), from tests/comparison_history.py's minute:
# ours: 10 runs through each agent, 1 failing through telco_b; buckets (50ms, 100ms, 250ms, 500ms, +Inf) hold
#   5, 8, 10, 10, 10 runs (telco_a) and 0, 5, 8, 10, 10 (telco_b). eu pools 5, 13, 18, 20, 20: its p90, the 18th
#   of 20, ends the 250ms bucket; all pool 10, 21, 28, 30, 30: the 27th is 6/7 into (100ms, 250ms].
# rival_a: 4 runs each, failing 1 (eu telco_a), 0 (eu telco_b), 2 (us); buckets (250ms, 500ms, 1s, 2.5s, +Inf)
#   0, 2, 4, 4, 4 / 0, 0, 2, 4, 4 / 0, 1, 4, 4, 4; LCP buckets (1s, 1.8s, 2.5s, 4s, +Inf) 0, 2, 4, 4, 4 /
#   0, 0, 1, 4, 4 / 0, 4, 4, 4, 4. E.g. telco_a pools 0, 3, 8, 8, 8: its p90, the 7.2th of 8, is 4.2/5 into
#   (0.5s, 1s]: 0.92s; its LCP p75, the 6th of 8, ends the 1.8s bucket.
EXPECTED = {  # + the runs a minute behind each row
    ("all", "", "ours"): (29 / 30, 0.1 + 0.15 * 6 / 7, None, 30),
    ("all", "", "rival_a"): (9 / 12, 1.6, 2.5, 12),
    ("region", "eu", "ours"): (19 / 20, 0.25, None, 20),
    ("region", "eu", "rival_a"): (7 / 8, 1.9, 3.0, 8),
    ("region", "us", "ours"): (1.0, 0.175, None, 10),
    ("region", "us", "rival_a"): (2 / 4, 0.5 + 0.5 * 2.6 / 3, 1.6, 4),
    ("isp", "telco_a", "ours"): (1.0, 0.175, None, 20),
    ("isp", "telco_a", "rival_a"): (5 / 8, 0.92, 1.8, 8),
    ("isp", "telco_b", "ours"): (9 / 10, 0.375, None, 10),
    ("isp", "telco_b", "rival_a"): (1.0, 2.2, 3.5, 4),
}


@pytest.fixture(scope="module")
def prometheus(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PrometheusProcess]:
    folder = tmp_path_factory.mktemp("compare")
    # eu's telco_a agent restarts at noon: its counters start again from 0, and no run is lost
    tsdb = backfill(openmetrics(START, END, 300, reset=("ours", EU_A, START + 43200)), folder)
    (folder / "prometheus.yml").write_text("global: {scrape_interval: 1m}\n")
    server = PrometheusProcess(folder / "prometheus.yml", tsdb, "--storage.tsdb.retention.time=100y")
    yield server
    server.stop()


def report(tmp_path: Path, prometheus: PrometheusProcess, fmt: str, *extra: str) -> str:
    out = tmp_path / f"report.{fmt}"
    assert main(["report", "--config", str(CONFIG), "--prometheus", f"http://127.0.0.1:{prometheus.port}",
                 "--from", "2026-10-01", "--to", "2026-10-02", "--format", fmt, "--out", str(out),
                 "--compare", "group=competitors", *extra]) == 0
    return out.read_text()


@pytest.mark.slow
def test_comparison_numbers_are_the_known_truth(tmp_path: Path, prometheus: PrometheusProcess) -> None:
    comparison: dict[str, Any] = json.loads(report(tmp_path, prometheus, "json"))["comparison"]
    assert (comparison["label"], comparison["value"]) == ("group", "competitors")
    assert comparison["checks"] == [{"check": "ours", "site": "ours", "browser": False},
                                    {"check": "rival_a", "site": "rival_a", "browser": True}]  # not `internal`
    assert [view["by"] for view in comparison["views"]] == ["all", "region", "isp"]
    found = {(view["by"], row["vantage"], row["check"]): row for view in comparison["views"] for row in view["rows"]}
    assert set(found) == set(EXPECTED)
    for (by, vantage, check), (availability, p90, lcp, runs) in EXPECTED.items():
        row = found[(by, vantage, check)]
        assert row["site"] == check
        assert row["availability"]["total"] == runs * MINUTES, (by, vantage, check)
        assert row["availability"]["value"] == pytest.approx(availability), (by, vantage, check)
        assert row["duration_p90_s"] == pytest.approx(p90), (by, vantage, check)
        assert (row["lcp_p75_s"] is None) if lcp is None else row["lcp_p75_s"] == pytest.approx(lcp)
    # the percentile of all vantage points is the one Prometheus' histogram_quantile() gives for the day's buckets
    ours_p90, rival_lcp = EXPECTED[("all", "", "ours")][1], EXPECTED[("all", "", "rival_a")][2]
    for quantile, selector, expected in (
            (0.9, 'prober_check_duration_seconds_bucket{check="ours"}', ours_p90),
            (0.75, 'prober_browser_web_vital_bucket{check="rival_a", vital="lcp"}', rival_lcp)):
        expr = f"histogram_quantile({quantile}, sum by (le) (increase({selector}[1d])))"
        answer = prometheus.api("query", query=expr, time=f"{END:.0f}")
        assert float(answer["data"]["result"][0]["value"][1]) == pytest.approx(expected), selector
    # the rows of a view are sorted by vantage, the compared checks in config order within it
    assert [(r["vantage"], r["check"]) for r in comparison["views"][2]["rows"]] == [
        ("telco_a", "ours"), ("telco_a", "rival_a"), ("telco_b", "ours"), ("telco_b", "rival_a")]


@pytest.mark.slow
def test_without_compare_there_is_no_comparison(tmp_path: Path, prometheus: PrometheusProcess) -> None:
    out = tmp_path / "plain.json"
    assert main(["report", "--config", str(CONFIG), "--prometheus", f"http://127.0.0.1:{prometheus.port}",
                 "--from", "2026-10-01", "--to", "2026-10-02", "--format", "json", "--out", str(out)]) == 0
    doc = json.loads(out.read_text())
    assert doc["comparison"] is None
    # the rest of the report pools the ISPs of a region: (check, region) as ever
    checks = {(c["check"], c["region"]): c["availability"] for c in doc["checks"]}
    assert checks[("ours", "eu")]["total"] == 20 * MINUTES and checks[("ours", "eu")]["value"] == pytest.approx(0.95)


@pytest.mark.slow
def test_markdown_comparison(tmp_path: Path, prometheus: PrometheusProcess) -> None:
    text = report(tmp_path, prometheus, "markdown")
    assert "## Comparison: group=competitors" in text
    assert "### Per isp\n\n| isp | check | site | availability | duration p90 | LCP p75 | runs |" in text
    assert "| all | ours | ours | 96.667% | 229 ms | n/a | 43200 |" in text
    assert "| eu | rival_a | rival_a | 87.500% | 1.90 s | 3.00 s | 11520 |" in text
    assert "| telco_b | ours | ours | 90.000% | 375 ms | n/a | 14400 |" in text
    assert text.index("## Comparison") < text.index("## Checks by region")


@pytest.mark.slow
async def test_html_comparison_renders(tmp_path: Path, prometheus: PrometheusProcess) -> None:
    html = report(tmp_path, prometheus, "html", "--title", "Competitors: 1 October 2026")
    assert "<script" not in html and "src=" not in html  # it stands alone, as the rest of the report
    SHOTS.mkdir(parents=True, exist_ok=True)
    async with headless_chromium() as browser:
        page = await browser.new_page(viewport={"width": 1100, "height": 1400})
        await page.goto((tmp_path / "report.html").as_uri())
        tables = page.locator("table.comparison")
        assert [await tables.nth(i).get_attribute("data-by") for i in range(await tables.count())] == [
            "all", "region", "isp"]
        telco_a = page.locator("table.comparison[data-by='isp'] tbody tr").nth(1)
        assert (await telco_a.inner_text()).split("\t") == [
            "telco_a", "rival_a", "rival_a", "62.500%", "920 ms", "1.80 s", "11520"]
        await page.screenshot(path=str(SHOTS / "comparison.png"), full_page=True)
    assert (SHOTS / "comparison.png").stat().st_size > 20_000


def test_a_label_value_no_check_has_is_an_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Said before any query (nothing listens on port 9 here)."""
    args = ["report", "--config", str(CONFIG), "--prometheus", "http://127.0.0.1:9", "--from", "2026-10-01",
            "--to", "2026-10-02"]
    assert main([*args, "--compare", "group=nobody"]) == 1
    assert "--compare group=nobody: no check has that label value (the values of group are competitors)" in (
        capsys.readouterr().err)
    assert main([*args, "--compare", "tier=gold"]) == 1
    assert "no check has a 'tier' label" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exited:
        main([*args, "--compare", "competitors"])
    assert exited.value.code == 2
    assert "expected LABEL=VALUE such as group=competitors (got 'competitors')" in capsys.readouterr().err


@pytest.mark.parametrize(("q", "buckets", "expected"), [
    (0.5, {0.1: 2, 0.2: 4, math.inf: 4}, 0.1),  # the 2nd of 4 ends the first bucket
    (0.75, {0.1: 2, 0.2: 4, math.inf: 4}, 0.15),  # half way into (0.1, 0.2]
    (0.25, {0.1: 2, 0.2: 4, math.inf: 4}, 0.05),  # the first bucket starts at 0
    (0.9, {0.1: 2, 0.2: 4, math.inf: 10}, 0.2),  # in +Inf: the highest finite bound, as Prometheus says
    (0.5, {0.1: 0, 0.2: 0, math.inf: 0}, None),  # no observations: no percentile (never 0)
    (0.5, {math.inf: 4}, None),  # no finite bound to say anything with
    (0.5, {0.1: 0}, None),  # no +Inf: not a histogram
    (0.75, {0.1: 2, 0.2: 1, 0.5: 4, math.inf: 4}, 0.35),  # a bucket below its predecessor reads as it: 2, 2, 4
])
def test_bucket_quantile_interpolates_as_histogram_quantile(q: float, buckets: dict[float, float],
                                                            expected: float | None) -> None:
    found = bucket_quantile(q, buckets)
    assert found == expected if expected is None else found == pytest.approx(expected)
