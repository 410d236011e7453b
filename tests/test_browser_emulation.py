"""Devices and networks of browser checks, end to end: a check's `device`, `network`, `locale`, `timezone` and
`geolocation`, validated by the config models, sent by the real JourneyProber through the real WorkerPool to a
worker's Chromium, and seen by the demo shop's home page (tests/journeys/emulation.py says what the page sees);
and the demo's Rival Shop measured beside it, as a comparison would. The screenshots of the phones and the
desktop land in test-artifacts/browser-emulation/ to look at."""

from __future__ import annotations

import json
import shutil
import struct
import subprocess
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from playwright.async_api import async_playwright

from prober.config.models import JourneyCheck, JourneysSection
from prober.demo.brand import RIVAL_SHOP
from prober.journey.pool import WorkerPool
from prober.probers.journey import JourneyProber
from prober.result import Reason, Result, StepStatus, Vital
from tests.browsers import keeping_artifacts, worker_pool
from tests.processes import REPO, DemoShop

MODULE_LOOP = pytest.mark.asyncio(loop_scope="module")  # the pool's loop: one pool (one browser) for the module

SCRIPT = REPO / "tests" / "journeys" / "emulation.py"
SHOTS = REPO / "test-artifacts" / "browser-emulation"
HERO = REPO / "prober" / "demo" / "static" / "img" / "hero.svg"
LATENCY_S = 0.4
SLOW_3G_LATENCY_S = 2.0


@pytest.fixture(scope="module")
def settings(tmp_path_factory: pytest.TempPathFactory) -> JourneysSection:
    return keeping_artifacts(tmp_path_factory, "emulation-artifacts")


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def pool(settings: JourneysSection) -> AsyncIterator[WorkerPool]:
    async with worker_pool(settings) as pool:
        yield pool


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def devices() -> dict[str, dict[str, Any]]:
    """Playwright's own descriptors, to compare with what the page sees."""
    async with async_playwright() as playwright:
        return {name: dict(playwright.devices[name]) for name in ("iPhone 13", "Pixel 7", "Desktop Chrome")}


def journey_check(name: str, function: str, params: dict[str, Any], **browser: Any) -> JourneyCheck:
    """A journey check as agent.yaml would give it (validated by the same model)."""
    return JourneyCheck.model_validate({
        "name": name, "type": "journey", "script": f"{SCRIPT}:{function}", "interval": "1m", "timeout": "30s",
        "attempts": 1, "params": params, **browser,
    })


async def probe(pool: WorkerPool, settings: JourneysSection, check: JourneyCheck) -> Result:
    return await JourneyProber(check, pool, settings).probe()


@dataclass(frozen=True)
class Seen:
    result: Result
    page: dict[str, Any]
    screenshot: Path


async def what_the_page_sees(pool: WorkerPool, settings: JourneysSection, demo_shop: DemoShop, tmp_path: Path,
                             name: str, **browser: Any) -> Seen:
    report = tmp_path / f"{name}.json"
    params = {"url": demo_shop.url("/"), "report": str(report), "position": "geolocation" in browser}
    result = await probe(pool, settings, journey_check(name, "what_the_page_sees", params, **browser))
    assert result.ok, result.detail
    assert result.journey is not None
    shots = [a for a in result.journey.artifacts if a.endswith("screenshot.png")]
    assert len(shots) == 1, result.journey.artifacts
    return Seen(result, json.loads(report.read_text()), Path(settings.artifacts.dir) / shots[0])


def png_size(path: Path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", path
    width, height = struct.unpack(">II", data[16:24])
    return width, height


def keep_screenshot(seen: Seen, slug: str) -> Path:
    SHOTS.mkdir(parents=True, exist_ok=True)
    kept = SHOTS / f"{slug}.png"
    shutil.copyfile(seen.screenshot, kept)
    print(f"screenshot: {kept}")
    return kept


# ---------------------------------------------------------------------------------------------- devices


@pytest.mark.slow
@MODULE_LOOP
@pytest.mark.parametrize("device", ["iPhone 13", "Pixel 7"])
async def test_a_phone_sees_the_mobile_layout(pool: WorkerPool, settings: JourneysSection, demo_shop: DemoShop,
                                              devices: dict[str, dict[str, Any]], tmp_path: Path,
                                              device: str) -> None:
    seen = await what_the_page_sees(pool, settings, demo_shop, tmp_path, "phone", device=device)
    page, descriptor = seen.page, devices[device]
    assert page["width"] == descriptor["viewport"]["width"] < 700, page
    assert page["userAgent"] == descriptor["user_agent"] and "Mobile" in page["userAgent"]
    assert page["devicePixelRatio"] == descriptor["device_scale_factor"] > 1
    assert page["maxTouchPoints"] > 0 and page["touchEvents"] and page["coarsePointer"], page
    assert page["menuButton"] and not page["navLinks"], page  # the phone layout
    assert page["menuOpensLinks"], page  # and its menu button works
    assert page["columns"] == 1, page
    assert page["lcpElement"] == "hero", page
    # the screenshot is the phone's screen: its viewport at its pixel ratio
    width, height = png_size(seen.screenshot)
    assert (width, height) == (round(page["width"] * page["devicePixelRatio"]),
                               round(page["height"] * page["devicePixelRatio"])), (width, height)
    keep_screenshot(seen, device.lower().replace(" ", "-"))


@pytest.mark.slow
@MODULE_LOOP
@pytest.mark.parametrize("device", ["Desktop Chrome", None])
async def test_a_desktop_sees_the_desktop_layout(pool: WorkerPool, settings: JourneysSection, demo_shop: DemoShop,
                                                 devices: dict[str, dict[str, Any]], tmp_path: Path,
                                                 device: str | None) -> None:
    browser = {"device": device} if device else {}
    seen = await what_the_page_sees(pool, settings, demo_shop, tmp_path, "desktop", **browser)
    page = seen.page
    if device is not None:
        assert page["userAgent"] == devices[device]["user_agent"]
        assert page["width"] == devices[device]["viewport"]["width"]
    assert page["width"] >= 1000 and "Mobile" not in page["userAgent"], page
    assert page["maxTouchPoints"] == 0 and not page["touchEvents"] and not page["coarsePointer"], page
    assert not page["menuButton"] and page["navLinks"], page  # the desktop layout
    assert page["columns"] == 3, page
    assert page["lcpElement"] == "hero", page
    assert png_size(seen.screenshot) == (page["width"], page["height"])
    keep_screenshot(seen, (device or "no-device").lower().replace(" ", "-"))


@pytest.mark.slow
@MODULE_LOOP
async def test_locale_timezone_and_position_are_what_the_page_sees(
    pool: WorkerPool, settings: JourneysSection, demo_shop: DemoShop, tmp_path: Path
) -> None:
    where = {"latitude": 35.6812, "longitude": 139.7671, "accuracy": 25}
    seen = await what_the_page_sees(pool, settings, demo_shop, tmp_path, "tokyo", locale="de-DE",
                                    timezone="Asia/Tokyo", geolocation=where)
    page = seen.page
    assert page["language"] == "de-DE"
    assert "1.234,50" in page["price"], page["price"]  # German number formatting
    assert page["timeZone"] == "Asia/Tokyo" and page["offsetMinutes"] == -9 * 60
    assert page["position"] == where


# ---------------------------------------------------------------------------------------------- networks


async def load_vitals(pool: WorkerPool, settings: JourneysSection, demo_shop: DemoShop, url: str | None = None,
                      **network: Any) -> dict[Vital, float]:
    params = {"url": url or demo_shop.url("/")}
    result = await probe(pool, settings, journey_check("home", "open_home", params, **network))
    assert result.ok, result.detail
    assert result.journey is not None and len(result.journey.page_loads) == 1, result.journey
    vitals = result.journey.page_loads[0]
    assert Vital.TTFB in vitals and Vital.LCP in vitals, vitals
    print(f"{params['url']} {network or 'unthrottled'}: TTFB {vitals[Vital.TTFB]:.3f}s LCP {vitals[Vital.LCP]:.3f}s")
    return vitals


async def best_unthrottled(pool: WorkerPool, settings: JourneysSection, demo_shop: DemoShop) -> dict[Vital, float]:
    """The better of two unthrottled loads of the demo shop: one slowed by a loaded machine would shrink the
    differences the tests assert."""
    runs = [await load_vitals(pool, settings, demo_shop) for _ in range(2)]
    return {vital: min(run[vital] for run in runs) for vital in (Vital.TTFB, Vital.LCP)}


@pytest.mark.slow
@MODULE_LOOP
async def test_latency_adds_to_ttfb_and_lcp_and_slow_3g_adds_more(
    pool: WorkerPool, settings: JourneysSection, demo_shop: DemoShop
) -> None:
    free = await best_unthrottled(pool, settings, demo_shop)
    far = await load_vitals(pool, settings, demo_shop, network={"latency": f"{LATENCY_S * 1000:g}ms"})
    assert far[Vital.TTFB] >= LATENCY_S  # the request was held that long before it was sent
    assert far[Vital.TTFB] - free[Vital.TTFB] >= 0.8 * LATENCY_S, (far, free)
    # the document, then the stylesheet and the hero: at least two waits before the hero is painted
    assert far[Vital.LCP] - free[Vital.LCP] >= 0.8 * 2 * LATENCY_S, (far, free)
    slow_3g = await load_vitals(pool, settings, demo_shop, network="slow_3g")
    assert slow_3g[Vital.TTFB] - far[Vital.TTFB] >= 0.8 * (SLOW_3G_LATENCY_S - LATENCY_S), (slow_3g, far)
    assert slow_3g[Vital.LCP] - far[Vital.LCP] >= 0.8 * 2 * (SLOW_3G_LATENCY_S - LATENCY_S), (slow_3g, far)


@pytest.mark.slow
@MODULE_LOOP
async def test_a_download_cap_delays_the_lcp_by_the_hero_images_transfer(
    pool: WorkerPool, settings: JourneysSection, demo_shop: DemoShop
) -> None:
    down_kbps = 100.0
    free = await best_unthrottled(pool, settings, demo_shop)
    capped = await load_vitals(pool, settings, demo_shop, network={"download_kbps": down_kbps})
    hero_transfer_s = HERO.stat().st_size * 8 / (down_kbps * 1000)  # the hero alone, sharing the cap with nothing
    assert capped[Vital.LCP] - free[Vital.LCP] >= 0.8 * hero_transfer_s, (capped, free, hero_transfer_s)


@pytest.mark.slow
@MODULE_LOOP
async def test_the_rival_shop_is_measurably_slower_than_the_demo_shop(
    pool: WorkerPool, settings: JourneysSection, demo_shop: DemoShop
) -> None:
    ours = await best_unthrottled(pool, settings, demo_shop)
    theirs = await load_vitals(pool, settings, demo_shop, url=demo_shop.rival_url("/"))
    document_s, hero_s = RIVAL_SHOP.document_delay_s, RIVAL_SHOP.hero_delay_s
    assert theirs[Vital.TTFB] >= document_s and theirs[Vital.LCP] >= document_s + hero_s, theirs
    # half the delays at least: part of the hero's wait overlaps rendering work the demo's LCP includes too
    assert theirs[Vital.TTFB] - ours[Vital.TTFB] >= 0.5 * document_s, (theirs, ours)
    assert theirs[Vital.LCP] - ours[Vital.LCP] >= 0.5 * (document_s + hero_s), (theirs, ours)


@pytest.mark.slow
@MODULE_LOOP
async def test_offline_fails_the_navigation(pool: WorkerPool, settings: JourneysSection, demo_shop: DemoShop) -> None:
    check = journey_check("offline", "open_home", {"url": demo_shop.url("/")}, network="offline")
    result = await probe(pool, settings, check)
    assert result.reason is Reason.NAVIGATION, result.detail
    assert "ERR_INTERNET_DISCONNECTED" in result.detail
    assert result.journey is not None
    assert [(s.name, s.status) for s in result.journey.steps] == [("open home", StepStatus.FAILED)]


# ---------------------------------------------------------------------------------------------- validation


def validate(tmp_path: Path, checks: str) -> subprocess.CompletedProcess[str]:
    config = tmp_path / "agent.yaml"
    config.write_text(f"defaults: {{interval: 1m, timeout: 20s}}\nchecks:\n{checks}", encoding="utf-8")
    return subprocess.run([sys.executable, "-m", "prober", "validate", "--config", str(config)],
                          capture_output=True, text=True, cwd=REPO, timeout=120)


def journey_yaml(name: str, extra: str) -> str:
    return f"  - {{name: {name}, type: journey, script: '{SCRIPT}:open_home', params: {{url: 'x'}}, {extra}}}\n"


def test_validate_rejects_an_unknown_device_naming_near_ones_and_accepts_known_ones(tmp_path: Path) -> None:
    bad = validate(tmp_path, journey_yaml("typo", "device: 'iPhone 13 Pro Maxx'")
                   + journey_yaml("fine", "device: 'Pixel 7'"))
    assert bad.returncode == 1, bad.stderr
    problems = [line for line in bad.stderr.splitlines() if "checks[" in line]
    assert len(problems) == 1, bad.stderr  # only the typo
    assert "checks[0] (typo): device: unknown device 'iPhone 13 Pro Maxx'" in problems[0]
    assert "did you mean 'iPhone 13 Pro Max'" in problems[0], problems[0]
    good = validate(tmp_path, journey_yaml("phone", "device: 'iPhone 13'")
                    + journey_yaml("desk", "device: 'Desktop Chrome', network: slow_4g, locale: en-GB, "
                                           "timezone: Europe/London, geolocation: {latitude: 51.5, longitude: 0}"))
    assert good.returncode == 0, good.stderr
    assert "ok: 2 check(s)" in good.stdout


@pytest.mark.parametrize(("extra", "says"), [
    ("timezone: Mars/Olympus_Mons", "timezone: "),
    ("locale: 'english please'", "locale: "),
    ("network: {latency: 400ms, jitter: 5ms}", "jitter"),
    ("network: 5g", "network"),
    ("network: {latency: -1s}", "latency"),
    ("geolocation: {latitude: 91, longitude: 0}", "latitude"),
])
def test_validate_rejects_a_bad_timezone_locale_network_or_position(tmp_path: Path, extra: str, says: str) -> None:
    run = validate(tmp_path, journey_yaml("bad", extra))
    assert run.returncode == 1, run.stdout
    assert "checks[0] (bad)" in run.stderr and says in run.stderr, run.stderr
    assert "Traceback" not in run.stderr
