"""`prober site` end to end: ninety days of three regions' counters whose truth this test knows
(tests/site_history.py) are backfilled into Debian's Prometheus; the site's statuses, daily bars, latency,
incidents (detected and written), maintenance, error budget and its Statuspage-shaped summary must be those
values, in English and Chinese; a Prometheus that is down or hangs gives a site that says its data is stale."""

from __future__ import annotations

import json
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from prober.cli import main
from prober.config import load_config
from prober.report.history import Counts, History, PrometheusClient, fetch
from prober.report.history_refresh import RECENT_S
from prober.site.publish import SiteSource
from prober.site.snapshot import SiteOptions, history_range
from tests.browsers import headless_chromium
from tests.processes import REPO, PrometheusProcess, free_port
from tests.site_history import AT, LATE, write_blocks

pytestmark = pytest.mark.slow

SHOTS = REPO / "test-artifacts" / "site"
AT_TEXT = "2026-11-30T04:00:00"  # AT in UTC
MAX_SAMPLES = 30_000
CONFIG = """
agent: {region: eu}
checks:
  - {name: shop_checkout, type: http, url: "http://127.0.0.1:9/checkout", interval: 1m}
  - {name: shop_payment, type: http, url: "http://127.0.0.1:9/pay", interval: 1m}
  - name: search_api
    type: http
    url: http://127.0.0.1:9/search
    interval: 1m
    slo: {latency: {threshold: 500ms, target: 99}}
  - {name: home_page, type: http, url: "http://127.0.0.1:9/", interval: 1m}
  - {name: admin_login, type: http, url: "http://127.0.0.1:9/admin", interval: 1m}  # on no service of the site
slos:
  - {name: checkout_works, checks: [shop_checkout, shop_payment], availability: 99.5}
maintenance:
  - {name: Weekly deploy, timezone: Asia/Shanghai, days: [mon], start: "11:30", duration: 1h, checks: [home_page]}
  - name: Database upgrade
    timezone: Asia/Shanghai
    from: 2026-12-03T02:00:00
    to: 2026-12-03T04:00:00
    checks: [shop_checkout, shop_payment]
rules: {regions: [eu, us, ap], consensus: {min_regions: 2, for: 5m}}
site:
  title: Demo Shop status
  timezone: Asia/Shanghai
  url: https://status.example.com/
  services:
    - {name: Checkout, slo: checkout_works}
    - {name: Search, checks: [search_api], description: Finding products}
    - {name: Home page, checks: [home_page]}
  regions:
    - {id: eu, name: Europe (Frankfurt)}
    - {id: us, name: US East (Virginia)}
    - {id: ap, name: Asia Pacific (Singapore)}
"""
NOTE = """---
title: Payments fail in Europe and the US
start: 2026-11-30T10:05:00
services: [Checkout]
state: identified
impact: major
---
## 2026-11-30T11:30:00 identified
The payment provider answers **503**.

## 2026-11-30T10:05:00 investigating
We are looking into failed payments.
"""
NOTE_ALONE = """---
title: Product images load slowly
start: 2026-11-20T09:00:00
end: 2026-11-20T10:00:00
services: [home-page]
state: resolved
---
## 2026-11-20T10:00:00 resolved
The image CDN is fast again.
"""


@pytest.fixture(scope="module")
def prometheus(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PrometheusProcess]:
    folder = tmp_path_factory.mktemp("site")
    tsdb = write_blocks(folder)
    (folder / "prometheus.yml").write_text("global: {scrape_interval: 1m}\n")
    # a sample limit that a query of all four checks at once exceeds (12 series of runs x 8,641 points: 103,692)
    # and one check's three regions stay under (25,923): the site asks again in halves, as it must to read
    # thousands of checks under Prometheus' default limit of 50 million
    server = PrometheusProcess(folder / "prometheus.yml", tsdb, "--storage.tsdb.retention.time=100y",
                               f"--query.max-samples={MAX_SAMPLES}")
    yield server
    server.stop()


def agent_yaml(tmp_path: Path) -> Path:
    """CONFIG written as tmp_path's agent.yaml."""
    config = tmp_path / "agent.yaml"
    config.write_text(CONFIG)
    return config


def build(tmp_path: Path, prometheus_url: str, *extra: str, out: str = "site") -> Path:
    config = agent_yaml(tmp_path)
    notes = tmp_path / "status"
    notes.mkdir(exist_ok=True)
    (notes / "payments.md").write_text(NOTE)
    (notes / "images.md").write_text(NOTE_ALONE)
    site = tmp_path / out
    assert main(["site", "--config", str(config), "--prometheus", prometheus_url, "--out", str(site),
                 "--notes", str(notes), "--step", "15m", "--at", AT_TEXT, *extra]) == 0
    return site


def summary(site: Path) -> dict[str, Any]:
    return dict(json.loads((site / "api" / "v2" / "summary.json").read_text()))


def components(doc: dict[str, Any]) -> dict[str, str]:
    return {c["name"]: c["status"] for c in doc["components"]}


def test_statuses_incidents_and_maintenance_are_the_known_truth(tmp_path: Path, prometheus: PrometheusProcess) -> None:
    site = build(tmp_path, f"http://127.0.0.1:{prometheus.port}", "--internal")
    doc = summary(site)
    status = components(doc)
    # Checkout: both checks fail in eu and us (2 regions = the consensus): major there and overall; ap is fine
    assert status["Checkout"] == "major_outage"
    assert status["Checkout — Europe (Frankfurt)"] == "major_outage"
    assert status["Checkout — US East (Virginia)"] == "major_outage"
    assert status["Checkout — Asia Pacific (Singapore)"] == "operational"
    # Search: every us run of the last hour over its 500 ms threshold, none failed: degraded there only
    assert status["Search — US East (Virginia)"] == "degraded_performance"
    assert status["Search — Europe (Frankfurt)"] == "operational"
    assert status["Search"] == "degraded_performance"
    # Home page: Monday 11:30-12:30 Shanghai is its weekly deploy, and the site is built at 12:00
    assert status["Home page"] == "under_maintenance"
    assert doc["status"]["indicator"] in ("major", "critical")
    # unresolved: the ongoing Checkout incident, detected at 10:00 and merged with the note written at 10:05
    (ongoing,) = doc["incidents"]
    assert ongoing["name"] == "Payments fail in Europe and the US"
    assert ongoing["status"] == "identified"
    assert ongoing["started_at"].startswith("2026-11-30T10:00:00")  # the counters' start, Shanghai time
    assert [u["status"] for u in ongoing["incident_updates"]][:2] == ["identified", "investigating"]
    incidents = json.loads((site / "api" / "v2" / "incidents.json").read_text())["incidents"]
    names = [i["name"] for i in incidents]
    # the past Search incident: eu and ap together for 45 minutes (the us blip alone is no incident)
    past = next(i for i in incidents if i["started_at"].startswith("2026-11-03T10:00:00"))
    assert past["resolved_at"].startswith("2026-11-03T10:45:00")
    assert "Product images load slowly" in names  # a note alone stands as its own incident
    assert not any(i["started_at"].startswith("2026-10-10") for i in incidents)
    assert len(incidents) == 3
    # maintenance: the weekly deploy now, the database upgrade on Dec 3, the next two weekly deploys
    maintenance = json.loads((site / "api" / "v2" / "scheduled-maintenances.json").read_text())
    starts = sorted(m["scheduled_for"][:16] for m in maintenance["scheduled_maintenances"])
    assert starts == ["2026-11-30T11:30", "2026-12-03T02:00", "2026-12-07T11:30", "2026-12-14T11:30"]

    html = (site / "index.html").read_text()
    for check in ("shop_checkout", "shop_payment", "search_api", "home_page", "127.0.0.1"):
        assert check not in html  # public names only
    assert "Payments fail in Europe and the US" in html
    # the 2026-11-03 bar of Search in eu: 45 of 1,440 runs failed = 96.875%, with the incident's title
    assert re.search(r"Nov 3, 2026[^<]*96\.87", html), "the day's figure is on its bar"
    # Checkout in eu today (midnight to noon): 2 x 720 runs, 2 x 120 failed since 10:00 = 83.33%
    assert re.search(r"Nov 30, 2026[^<]*83\.33", html)
    # over the 90 days (89 whole days and today's 12 hours: 128,880 runs a check): Checkout in eu 240 failed of
    # 257,760 = 99.9069%; Search in eu 45 of 128,880 = 99.9650%, in us (the blip) 30 = 99.9767%; shown truncated
    assert html.count("99.906%") == 2  # eu and us
    assert html.count("99.965%") == 2  # eu and ap
    assert html.count("99.976%") == 1
    # error budget (--internal): 28 days x 1,440 runs x 2 checks x 3 regions = 241,920 runs, 480 failed:
    # 99.8016% against 99.5%: 1 - 0.1984/0.5 = 60.3% of the budget left
    assert re.search(r"60\.3\d?\s*%", html)


def test_latency_days_and_a_late_region(tmp_path: Path, prometheus: PrometheusProcess) -> None:
    site = build(tmp_path, f"http://127.0.0.1:{prometheus.port}")
    html = (site / "index.html").read_text()
    # Checkout's mean run duration over the last 24 h: eu (0.2 + 0.4) / 2 = 300 ms, ap (0.9 + 1.1) / 2 = 1.00 s
    assert "300 ms" in html
    assert "1.00 s" in html or "1.0 s" in html
    # home_page began in ap on Nov 1: the 60 days before have no runs, shown as no data, never as up
    assert LATE[2] > AT - 30 * 86400
    assert html.count("No data") >= 60 or html.lower().count("no data") >= 60
    assert "60.3" not in html  # no error budget without --internal


class RecordingClient(PrometheusClient):
    """The real client, noting the range of every query it sends."""

    def __init__(self, base_url: str) -> None:
        super().__init__(base_url)
        self.ranges: list[tuple[float, float]] = []
        self.exprs: list[str] = []

    def _query_range(self, expr: str, start: float, end: float, step_s: float) -> list[dict[str, Any]]:
        self.ranges.append((start, end))
        self.exprs.append(expr)
        return super()._query_range(expr, start, end, step_s)


def whole(tmp_path: Path, url: str, at: float) -> History:
    """The 90 days as of `at`, read in one go."""
    start, end = history_range(at, 90, "Asia/Shanghai", 900)
    return fetch(PrometheusClient(url), load_config(agent_yaml(tmp_path)), start, end, 900, durations=True)


def rebuilt(tmp_path: Path, url: str, first_at: float) -> tuple[SiteSource, RecordingClient]:
    """A site source built as of `first_at`, then as of AT, its client's ranges of the second build only."""
    client = RecordingClient(url)
    source = SiteSource(load_config(agent_yaml(tmp_path)), client, SiteOptions(), step_s=900, at=first_at)
    source.build()
    client.ranges.clear()
    source.at = AT
    return source, client


def test_a_rebuild_reads_only_its_last_hour_again_and_is_what_a_whole_read_is(
        tmp_path: Path, prometheus: PrometheusProcess) -> None:
    url = f"http://127.0.0.1:{prometheus.port}"
    source, client = rebuilt(tmp_path, url, AT - 1800)
    source.build()
    # the first build ended at AT - 30 min: the second reads from an hour before that (on the 15-minute grid)
    assert client.ranges and all(start >= AT - 1800 - RECENT_S - 900 for start, _ in client.ranges), client.ranges
    assert source.kept == whole(tmp_path, url, AT)
    assert not any("admin_login" in expr for expr in client.exprs)  # a check the site does not show is not read
    # a month later, with a region's check that began in between: still the whole read's numbers
    source, client = rebuilt(tmp_path, url, LATE[2] - 1800)
    source.build()
    assert all(start >= LATE[2] - 1800 - RECENT_S - 900 for start, _ in client.ranges)
    assert source.kept == whole(tmp_path, url, AT)


def test_a_series_with_a_gap_where_the_rebuild_begins_is_read_whole(
        tmp_path: Path, prometheus: PrometheusProcess) -> None:
    # as if home_page had run in ap before Nov 1 and then gone quiet: its first sample after the gap must count
    # from its last one before it, which only a whole read has
    url = f"http://127.0.0.1:{prometheus.port}"
    source, client = rebuilt(tmp_path, url, LATE[2] - 1800)
    assert source.kept is not None and ("home_page", "ap") not in source.kept.counts
    steps = source.kept.steps
    source.kept.counts[("home_page", "ap")] = Counts([0.0] * steps, [0.0] * steps, None, {}, [0.0] * steps,
                                                     [0.0] * steps)
    source.build()
    start = history_range(AT, 90, "Asia/Shanghai", 900)[0]
    assert any(begin == start for begin, _ in client.ranges)  # the whole range, read again
    assert source.kept == whole(tmp_path, url, AT)


def test_chinese_site(tmp_path: Path, prometheus: PrometheusProcess) -> None:
    site = build(tmp_path, f"http://127.0.0.1:{prometheus.port}", "--lang", "zh")
    html = (site / "index.html").read_text()
    assert 'lang="zh-CN"' in html
    assert "严重中断" in html and "维护中" in html
    assert "2026年11月3日" in html


def test_the_pages_render_on_a_desktop_and_a_phone(tmp_path: Path, prometheus: PrometheusProcess) -> None:
    import asyncio

    site = build(tmp_path, f"http://127.0.0.1:{prometheus.port}", "--internal")
    zh = build(tmp_path, f"http://127.0.0.1:{prometheus.port}", "--lang", "zh", out="site-zh")
    SHOTS.mkdir(parents=True, exist_ok=True)

    async def shots() -> list[int]:
        widths = []
        async with headless_chromium() as browser:
            for name, folder, options in (("desktop-en", site, {"viewport": {"width": 1280, "height": 900}}),
                                          ("phone-zh", zh, {"viewport": {"width": 390, "height": 844},
                                                            "device_scale_factor": 3, "is_mobile": True,
                                                            "has_touch": True})):
                context = await browser.new_context(**options)
                page = await context.new_page()
                await page.goto((folder / "index.html").as_uri())
                await page.screenshot(path=str(SHOTS / f"e2e-{name}.png"), full_page=True)
                widths.append(await page.evaluate("document.documentElement.scrollWidth - window.innerWidth"))
                await context.close()
        return widths

    assert asyncio.run(shots()) == [0, 0]  # no horizontal scroll on either


def test_a_prometheus_that_is_down_or_hangs_gives_a_stale_site_never_a_green_one(
        tmp_path: Path, prometheus: PrometheusProcess) -> None:
    site = build(tmp_path, f"http://127.0.0.1:{prometheus.port}")
    assert summary(site)["status"]["indicator"] != "unknown"
    dead = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    build(tmp_path, dead)
    doc = summary(site)
    assert doc["status"]["indicator"] != "none"
    assert "operational" not in components(doc).values()
    html = (site / "index.html").read_text()
    assert "not current" in html
    assert "Nov 30, 2026 12:00" in html  # when it was last fresh: the first build, as of AT

    hanging = socket.socket()
    hanging.bind(("127.0.0.1", 0))
    hanging.listen(8)  # accepts connections and never answers
    try:
        began = time.monotonic()
        build(tmp_path, f"http://127.0.0.1:{hanging.getsockname()[1]}", "--timeout", "1s", out="site-hang")
        assert time.monotonic() - began < 30
    finally:
        hanging.close()
    hung = summary(tmp_path / "site-hang")
    assert "operational" not in components(hung).values()
    assert "No current data" in (tmp_path / "site-hang" / "index.html").read_text()


def test_served_live_and_rewritten_every_interval_until_sigterm(tmp_path: Path, prometheus: PrometheusProcess) -> None:
    config = agent_yaml(tmp_path)
    port = free_port()
    log = tmp_path / "site.log"
    out = tmp_path / "site"
    with log.open("w") as stderr:
        process = subprocess.Popen(
            [sys.executable, "-m", "prober", "site", "--config", str(config), "--prometheus",
             f"http://127.0.0.1:{prometheus.port}", "--listen", f"127.0.0.1:{port}", "--out", str(out),
             "--every", "1s", "--step", "15m"], stdout=subprocess.DEVNULL, stderr=stderr)
    try:
        deadline = time.monotonic() + 60
        page = ""
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=5) as response:
                    page = response.read().decode()
                    break
            except OSError:
                assert process.poll() is None, log.read_text()
                time.sleep(0.3)
        assert "Checkout" in page
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/v2/summary.json", timeout=5) as response:
            assert response.headers["Content-Type"].startswith("application/json")
            assert json.loads(response.read())["page"]["name"] == "Demo Shop status"
        # the folder is written too, and again every second: its index.html is replaced, never left half written
        first = (out / "index.html").stat().st_mtime_ns
        deadline = time.monotonic() + 30
        while (out / "index.html").stat().st_mtime_ns == first and time.monotonic() < deadline:
            time.sleep(0.2)
        assert (out / "index.html").stat().st_mtime_ns != first
        assert (out / "index.html").read_text().rstrip().endswith("</html>")
    finally:
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=20) == 0
