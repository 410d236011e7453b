"""`type: page` against the demo shop, end to end (issue 12's "done when"): a page check, validated by its
config model and run by the real JourneyProber through the real WorkerPool in Chromium, reports every element
of the demo's home page with its party and outcome; fails naming a first-party image the demo stops serving;
and as a phone on a slow network it sees the phone layout, with the network in its vitals. The phone's and the
desktop's screenshots land in test-artifacts/page-checks/ to look at."""

from __future__ import annotations

import shutil
import urllib.request
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio

from prober.config.models import JourneysSection
from prober.config.page_check import PageCheck
from prober.journey.pool import WorkerPool
from prober.probers.journey import JourneyProber
from prober.result import PageOutcome, Party, Reason, ResourceOutcome, ResourceType, Result, Vital
from tests.browsers import keeping_artifacts, worker_pool
from tests.processes import REPO, DemoShop

pytestmark = pytest.mark.slow
MODULE_LOOP = pytest.mark.asyncio(loop_scope="module")  # one pool (one browser) for the module
SHOTS = REPO / "test-artifacts" / "page-checks"


@pytest.fixture(scope="module")
def settings(tmp_path_factory: pytest.TempPathFactory) -> JourneysSection:
    return keeping_artifacts(tmp_path_factory, "page-artifacts")


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def pool(settings: JourneysSection) -> AsyncIterator[WorkerPool]:
    async with worker_pool(settings) as pool:
        yield pool


def page_check(url: str, **keys: Any) -> PageCheck:
    return PageCheck.model_validate({"name": "home_page", "type": "page", "url": url, "interval": "1m",
                                     "timeout": "30s", "attempts": 1, **keys})


async def run(pool: WorkerPool, settings: JourneysSection, check: PageCheck) -> tuple[Result, PageOutcome]:
    result = await JourneyProber(check, pool, settings).probe()
    assert isinstance(result.protocol, PageOutcome), result
    return result, result.protocol


def screenshot(result: Result, settings: JourneysSection, name: str) -> Path:
    """The run's screenshot, copied to test-artifacts/page-checks/<name>.png."""
    assert result.journey is not None
    shot = next(Path(settings.artifacts.dir, a) for a in result.journey.artifacts if a.endswith(".png"))
    SHOTS.mkdir(parents=True, exist_ok=True)
    return Path(shutil.copyfile(shot, SHOTS / f"{name}.png"))


def png_width(path: Path) -> int:
    return int.from_bytes(path.read_bytes()[16:20], "big")  # the IHDR chunk's width


def post(url: str) -> None:
    with urllib.request.urlopen(urllib.request.Request(url, method="POST"), timeout=5) as answer:
        assert answer.status == 200


@MODULE_LOOP
async def test_the_demo_home_page_reports_every_element_with_its_party_and_outcome(
        pool: WorkerPool, settings: JourneysSection, demo_shop: DemoShop) -> None:
    result, page = await run(pool, settings, page_check(demo_shop.url("/"), expect={"selector": "#hero"}))
    assert result.ok, result.detail
    assert result.status_code == 200 and page.document_status == 200 and "Demo Shop" in page.title
    kinds = {(r.url.split(":", 2)[2].split("/", 1)[1], r.type, r.party, r.outcome) for r in page.resources}
    ok, first, third = ResourceOutcome.OK, Party.FIRST, Party.THIRD
    for element in (("", ResourceType.DOCUMENT, first, ok), ("static/shop.css", ResourceType.STYLESHEET, first, ok),
                    ("static/shop.js", ResourceType.SCRIPT, first, ok),
                    ("static/img/hero.svg", ResourceType.IMAGE, first, ok),
                    ("static/img/product-1.svg", ResourceType.IMAGE, first, ok),
                    ("api/products", ResourceType.XHR, first, ok),
                    ("static/img/partner.svg", ResourceType.IMAGE, third, ok),  # from localhost: another domain
                    ("static/partner.js", ResourceType.SCRIPT, third, ok)):
        assert element in kinds, (element, kinds)
    assert all(r.duration_s is not None and r.transfer_bytes for r in page.resources)
    assert sum(t.count for t in page.totals) == len(page.resources) and page.failed() == 0
    assert result.journey is not None and Vital.LCP in result.journey.page_loads[-1]


@MODULE_LOOP
async def test_a_removed_first_party_image_fails_the_check_naming_it(
        pool: WorkerPool, settings: JourneysSection, demo_shop: DemoShop) -> None:
    post(demo_shop.url("/demo/images/product-2.svg/remove"))
    try:
        result, page = await run(pool, settings, page_check(demo_shop.url("/")))
    finally:
        post(demo_shop.url("/demo/images/product-2.svg/restore"))
    missing = f"{demo_shop.url('/static/img/product-2.svg')}"
    assert result.reason is Reason.ASSERTION and not result.ok
    assert missing in result.detail and "HTTP 404" in result.detail, result.detail
    assert page.failed(Party.FIRST) == 1 and page.failed(Party.THIRD) == 0
    assert [(r.url, r.status) for r in page.resources if r.outcome is ResourceOutcome.FAILED] == [(missing, 404)]
    assert result.journey is not None and any(a.endswith("page.har") for a in result.journey.artifacts)
    healthy, _ = await run(pool, settings, page_check(demo_shop.url("/")))
    assert healthy.ok, healthy.detail  # restored: it passes again


@MODULE_LOOP
async def test_a_phone_on_a_slow_network_sees_the_phone_layout_and_the_network_in_its_vitals(
        pool: WorkerPool, settings: JourneysSection, demo_shop: DemoShop) -> None:
    desktop, _ = await run(pool, settings, page_check(demo_shop.url("/"), device="Desktop Chrome",
                                                      expect={"selector": "#nav-links"}))
    phone, page = await run(pool, settings, page_check(demo_shop.url("/"), device="iPhone 13", network="slow_4g",
                                                       expect={"selector": "#menu-button"}))
    assert desktop.ok and phone.ok, (desktop.detail, phone.detail)  # each saw its own layout's selector
    hidden, _ = await run(pool, settings, page_check(demo_shop.url("/"), device="iPhone 13",
                                                     expect={"selector": "#nav-links"}))
    assert hidden.reason is Reason.ASSERTION and "not visible" in hidden.detail  # the desktop menu is hidden
    assert desktop.journey is not None and phone.journey is not None
    fast, slow = desktop.journey.page_loads[-1], phone.journey.page_loads[-1]
    latency = 0.15  # slow_4g's, added to each request: the document's first byte and the hero behind it
    assert slow[Vital.TTFB] >= latency and slow[Vital.TTFB] - fast[Vital.TTFB] >= 0.8 * latency, (fast, slow)
    assert slow[Vital.LCP] - fast[Vital.LCP] >= 0.8 * latency, (fast, slow)
    assert phone.duration_s > desktop.duration_s
    assert page.failed() == 0
    assert png_width(screenshot(desktop, settings, "desktop")) == 1280
    assert png_width(screenshot(phone, settings, "iphone-13-slow-4g")) == 390 * 3  # its viewport at 3x
