"""The status page in real Chromium: load it, follow the failing journey, see its failed step and its
screenshot, on a desktop and on a phone-sized screen. Screenshots of the pages land in test-artifacts/."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio
from playwright.async_api import Browser, expect

from tests.browsers import headless_chromium
from tests.processes import REPO, AgentProcess, DemoShop

pytestmark = pytest.mark.slow

SHOTS = REPO / "test-artifacts" / "status-page"
STEPS = REPO / "tests" / "journeys" / "steps.py"


@pytest_asyncio.fixture
async def browser() -> AsyncIterator[Browser]:
    async with headless_chromium() as browser:
        yield browser


@pytest.fixture
def agent(tmp_path: Path, demo_shop: DemoShop) -> AgentProcess:
    config = tmp_path / "agent.yaml"
    config.write_text(
        "agent:\n  region: eu-west\n  journeys: {artifacts: {dir: art}}\n"
        "checks:\n"
        f"  - {{name: shop_home, type: http, url: '{demo_shop.url('/')}', interval: 2s, timeout: 1s}}\n"
        f"  - name: shop_checkout\n    type: journey\n    script: '{STEPS}:hard_failure'\n"
        f"    params: {{base_url: '{demo_shop.url('').rstrip('/')}'}}\n    interval: 30s\n    timeout: 15s\n"
    )
    return AgentProcess(config)


async def test_two_clicks_from_the_status_page_to_a_failing_steps_screenshot(
    agent: AgentProcess, browser: Browser
) -> None:
    try:
        agent.wait_for_log(lambda x: x.get("msg") == "run finished" and x.get("check") == "shop_checkout",
                           timeout_s=60)
        agent.wait_for_metric("prober_check_runs_total", lambda v: v >= 2, check="shop_home")
        SHOTS.mkdir(parents=True, exist_ok=True)
        base = f"http://127.0.0.1:{agent.port}"
        for name, viewport in (("desktop", {"width": 1280, "height": 900}), ("phone", {"width": 390, "height": 844})):
            page = await browser.new_page(viewport=viewport)  # type: ignore[arg-type]
            await page.goto(base + "/")
            rows = page.locator("tbody tr")
            await expect(rows).to_have_count(2)
            await expect(rows.first).to_contain_text("shop_checkout")  # the failing check leads
            await expect(rows.first.locator(".badge")).to_have_text("failing")
            assert await page.evaluate("document.documentElement.scrollWidth <= window.innerWidth"), name
            await page.screenshot(path=str(SHOTS / f"overview-{name}.png"), full_page=True)

            await page.click("text=shop_checkout")  # click 1: the check
            await expect(page.locator("h2", has_text="Failed step: find the unicorn")).to_be_visible()
            await expect(page.locator(".error")).not_to_be_empty()
            shot = page.locator("img.shot")
            await expect(shot).to_be_visible()
            assert await shot.evaluate("img => img.complete && img.naturalWidth > 100")  # the real screenshot
            await expect(page.locator("a", has_text="trace.zip")).to_have_count(1)
            await expect(page.locator("tbody tr").filter(has_text="never reached")).to_contain_text("not run")
            assert await page.evaluate("document.documentElement.scrollWidth <= window.innerWidth"), name
            await page.screenshot(path=str(SHOTS / f"check-{name}.png"), full_page=True)
            await shot.click()  # click 2: the screenshot itself, served from /artifacts
            assert page.url.endswith("/screenshot.png")
            await page.close()
        assert (SHOTS / "check-phone.png").stat().st_size > 10_000
    finally:
        assert agent.stop() == 0
