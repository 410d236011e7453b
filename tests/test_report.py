"""`prober report` end to end: a month of agent counters whose true values this test knows is backfilled into
Debian's Prometheus (`promtool tsdb create-blocks-from openmetrics`); the report's availability, latency,
worst days, incidents, MTTR/MTBF and SLA credit must be those values, and its HTML must render in Chromium."""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from prober.cli import main
from tests.browsers import headless_chromium
from tests.processes import REPO, PrometheusProcess

pytestmark = pytest.mark.slow

START = dt.datetime(2026, 10, 1, tzinfo=dt.UTC).timestamp()
END = dt.datetime(2026, 11, 1, tzinfo=dt.UTC).timestamp()
STEP = 300
RUNS_PER_STEP = 5  # one run a minute, scraped every 5 minutes
DAY = 86400
SHOTS = REPO / "test-artifacts" / "report"


def at(day: int, hour: int, minute: int = 0) -> float:
    return dt.datetime(2026, 10, day, hour, minute, tzinfo=dt.UTC).timestamp()


# (region, from, to, reason): every run in [from, to) fails
OUTAGES = [
    ("eu", at(3, 10), at(3, 11), "http_status"), ("us", at(3, 10), at(3, 11), "http_status"),
    ("eu", at(10, 14), at(10, 15, 30), "timeout"),
    ("eu", at(20, 2), at(20, 2, 30), "connect"), ("us", at(20, 2), at(20, 2, 30), "connect"),
]
SLOW = ("eu", at(15, 12), at(15, 13))  # every run over the 500ms threshold
RESET = ("eu", at(25, 0))  # the eu agent restarts: its counters start again from 0
FAILED = {"eu": 60 + 90 + 30, "us": 60 + 30}
RUNS = 31 * 24 * 60  # per region


def openmetrics() -> list[str]:
    """The month as an agent would have been scraped every 5 minutes: one OpenMetrics text per day (promtool
    writes a block per 2 hours and reads its whole input for each, so one month-long file takes minutes)."""
    days = round((END - START) / DAY)
    families: list[dict[str, list[str]]] = [
        {"prober_check_runs": [], "prober_check_successes": [], "prober_check_failures": [],
         "prober_check_duration_seconds_bucket": []} for _ in range(days)]
    for region in ("eu", "us"):
        labels = f'job="prober",instance="{region}:9470",check="shop",region="{region}"'
        runs = successes = within = 0
        failures = {reason: 0 for r, *_x, reason in OUTAGES if r == region}
        t = START - STEP
        while t <= END:
            if RESET[0] == region and t == RESET[1]:  # restarted just after the last scrape: nothing is lost
                runs = successes = within = 0
                failures = dict.fromkeys(failures, 0)
            day = families[min(max(int((t - START) // DAY), 0), days - 1)]
            if t >= START:  # the runs of the step that ends at t
                runs += RUNS_PER_STEP
                outage = next((reason for r, a, b, reason in OUTAGES if r == region and a < t <= b), None)
                if outage:
                    failures[outage] += RUNS_PER_STEP
                else:
                    successes += RUNS_PER_STEP
                if not (SLOW[0] == region and SLOW[1] < t <= SLOW[2]):
                    within += RUNS_PER_STEP
            day["prober_check_runs"].append(f"prober_check_runs_total{{{labels}}} {runs} {t:.0f}")
            day["prober_check_successes"].append(f"prober_check_successes_total{{{labels}}} {successes} {t:.0f}")
            for reason, count in failures.items():
                day["prober_check_failures"].append(
                    f'prober_check_failures_total{{{labels},reason="{reason}"}} {count} {t:.0f}')
            day["prober_check_duration_seconds_bucket"].append(
                f'prober_check_duration_seconds_bucket{{{labels},le="0.5"}} {within} {t:.0f}')
            t += STEP
    texts = []
    for day_families in families:
        lines = []
        for family, samples in day_families.items():
            kind = "unknown" if family.endswith("_bucket") else "counter"
            lines += [f"# TYPE {family} {kind}", *samples]
        texts.append("\n".join([*lines, "# EOF"]) + "\n")
    return texts


CONFIG = """
agent: {region: eu}
checks:
  - name: shop
    type: http
    url: http://127.0.0.1:9/
    slo: {availability: 99.9, latency: {threshold: 500ms, target: 99}}
slos:
  - {name: shop_works, checks: [shop], availability: 99.5}
sla:
  - name: shop_contract
    checks: [shop]
    target: 99.9
    credits: [{below: 99.9, credit: 10}, {below: 99, credit: 25}]
rules: {regions: [eu, us], consensus: {min_regions: 2, for: 5m}}
"""


@pytest.fixture(scope="module")
def prometheus(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PrometheusProcess]:
    folder = tmp_path_factory.mktemp("report")
    tsdb = folder / "tsdb"
    promtool = shutil.which("promtool") or "/usr/bin/promtool"
    # a new block costs promtool mostly garbage collection: off for a day's 12 blocks (about 150 MB)
    quick = {**os.environ, "GOGC": "off", "GOMAXPROCS": "1"}
    for number, text in enumerate(openmetrics()):
        source = folder / f"day-{number}.om"
        source.write_text(text)
        made = subprocess.run([promtool, "tsdb", "create-blocks-from", "openmetrics", "-q", str(source), str(tsdb)],
                              capture_output=True, text=True, timeout=60, check=False, env=quick)
        assert made.returncode == 0, made.stderr
    (folder / "prometheus.yml").write_text("global: {scrape_interval: 1m}\n")
    server = PrometheusProcess(folder / "prometheus.yml", tsdb, "--storage.tsdb.retention.time=100y")
    yield server
    server.stop()


def report(tmp_path: Path, prometheus: PrometheusProcess, fmt: str, *extra: str) -> str:
    config = tmp_path / "agent.yaml"
    config.write_text(CONFIG)
    out = tmp_path / f"report.{fmt}"
    assert main(["report", "--config", str(config), "--prometheus", f"http://127.0.0.1:{prometheus.port}",
                 "--from", "2026-10-01", "--to", "2026-11-01", "--format", fmt, "--out", str(out), *extra]) == 0
    return out.read_text()


def test_report_numbers_are_the_known_truth(tmp_path: Path, prometheus: PrometheusProcess) -> None:
    doc = json.loads(report(tmp_path, prometheus, "json"))
    checks = {(c["check"], c["region"]): c for c in doc["checks"]}
    for region in ("eu", "us"):
        availability = checks[("shop", region)]["availability"]
        assert (availability["total"], availability["total"] - availability["good"]) == (RUNS, FAILED[region])
    assert checks[("shop", "eu")]["latency"]["value"] == pytest.approx(1 - 60 / RUNS)
    assert checks[("shop", "us")]["latency"]["value"] == 1.0
    slos = {(s["slo"], s["sli"]): s for s in doc["slos"]}
    shop = slos[("shop", "availability")]
    truth = 1 - (FAILED["eu"] + FAILED["us"]) / (2 * RUNS)
    assert shop["measured"]["value"] == pytest.approx(truth)
    assert shop["met"] is False and shop["error_budget_consumed"] == pytest.approx((1 - truth) / 0.001)
    assert [d["day"] for d in shop["worst_days"]] == ["2026-10-03", "2026-10-10", "2026-10-20"]
    assert [d["day"] for d in slos[("shop", "latency")]["worst_days"]] == ["2026-10-15"]  # only bad days
    assert slos[("shop_works", "availability")]["met"] is True  # 99.5% objective
    # incidents: failing in both regions twice, 60 and 30 minutes
    assert [(i["start"], i["duration_s"], i["regions"], i["reason"]) for i in doc["incidents"]] == [
        (at(3, 10), 3600, ["eu", "us"], "http_status"), (at(20, 2), 1800, ["eu", "us"], "connect")]
    assert doc["mttr_s"] == 2700 and doc["mtbf_s"] == (END - START - 5400) / 2
    assert doc["slas"] == [{"sla": "shop_contract", "target_percent": 99.9, "met": False, "credit_percent": 10,
                            "measured": shop["measured"]}]
    # with one region enough, eu's own outage on the 10th is an incident too
    single = json.loads(report(tmp_path, prometheus, "json", "--incident-regions", "1"))
    assert [(i["start"], i["duration_s"], i["reason"]) for i in single["incidents"]][1] == (
        at(10, 14), 5400, "timeout")


def test_markdown_report(tmp_path: Path, prometheus: PrometheusProcess) -> None:
    text = report(tmp_path, prometheus, "markdown")
    assert "| shop_contract | 99.9% | 99.698% | **no** | 10% |" in text
    assert "2 incidents; MTTR 45 min" in text


async def test_html_report_stands_alone_and_renders(tmp_path: Path, prometheus: PrometheusProcess) -> None:
    html = report(tmp_path, prometheus, "html", "--title", "Shop: October 2026")
    assert "<script" not in html and "src=" not in html and 'href="http' not in html  # it stands alone
    SHOTS.mkdir(parents=True, exist_ok=True)
    async with headless_chromium() as browser:
        page = await browser.new_page(viewport={"width": 1100, "height": 1400})
        await page.goto((tmp_path / "report.html").as_uri())
        assert await page.title() == "Shop: October 2026"
        assert await page.locator("svg[aria-label='availability per day']").count() == 1
        burn_downs = page.locator("svg[aria-label='error budget burn-down']")
        assert await burn_downs.count() == 3
        assert "-202%" in (await burn_downs.first.text_content() or "")  # shop: 302% of its budget consumed
        assert "10%" in await page.locator("table").first.inner_text()  # the credit owed
        await page.screenshot(path=str(SHOTS / "report.png"), full_page=True)
    assert (SHOTS / "report.png").stat().st_size > 20_000
