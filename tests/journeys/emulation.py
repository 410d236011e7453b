"""Test journeys for devices and networks: open the demo shop's home page and say what the page sees.

`what_the_page_sees` writes a JSON object to `params["report"]` (a path the test reads): viewport, user agent,
touch, which of the phone and desktop elements are visible, the product grid's columns, language, timezone, the
position (only when `params["position"]` is true: without the permission the question would wait on a prompt),
the LCP element and, on a phone, whether the menu button opens the links. `open_home` only loads the page, for
its vitals.
"""

import asyncio
import json
from pathlib import Path

from playwright.async_api import Page, expect

from prober.journey import Journey, journey

SEEN_JS = """
async (wantPosition) => {
  const shown = id => {
    const el = document.getElementById(id);
    return !!el && getComputedStyle(el).display !== "none" && el.getClientRects().length > 0;
  };
  const columns = getComputedStyle(document.getElementById("products")).gridTemplateColumns.split(" ").length;
  const position = !wantPosition ? null : await new Promise(resolve => navigator.geolocation.getCurrentPosition(
    p => resolve({latitude: p.coords.latitude, longitude: p.coords.longitude, accuracy: p.coords.accuracy}),
    e => resolve({error: `${e.code} ${e.message}`}), {timeout: 5000}));
  const lcp = await new Promise(resolve => {
    new PerformanceObserver(list => {
      const last = list.getEntries().at(-1);
      resolve(last.element ? last.element.id || last.element.tagName : last.url);
    }).observe({type: "largest-contentful-paint", buffered: true});
    setTimeout(() => resolve(null), 2000);
  });
  return {
    width: innerWidth, height: innerHeight, devicePixelRatio, userAgent: navigator.userAgent,
    uaDataMobile: navigator.userAgentData ? navigator.userAgentData.mobile : null,
    maxTouchPoints: navigator.maxTouchPoints, touchEvents: "ontouchstart" in window,
    coarsePointer: matchMedia("(pointer: coarse)").matches,
    menuButton: shown("menu-button"), navLinks: shown("nav-links"), columns,
    language: navigator.language, timeZone: Intl.DateTimeFormat().resolvedOptions().timeZone,
    offsetMinutes: new Date(Date.UTC(2025, 0, 15, 12)).getTimezoneOffset(),
    price: new Intl.NumberFormat(undefined, {style: "currency", currency: "EUR"}).format(1234.5),
    position, lcpElement: lcp,
  };
}
"""
PAINTED_JS = "() => new Promise(done => requestAnimationFrame(() => requestAnimationFrame(() => done(null))))"


async def _open(page: Page, url: str) -> None:
    await page.goto(url)
    # the load event waited for the hero image; two frames later it is painted and its LCP entry exists
    await expect(page.locator("#hero")).to_be_visible()
    await page.evaluate(PAINTED_JS)


@journey
async def what_the_page_sees(j: Journey) -> None:
    async with j.step("open home"):
        await _open(j.page, j.params["url"])
        await expect(j.page.locator("#api-status")).to_contain_text("in stock")  # the fetch after load came back
    async with j.step("look"):
        seen = await j.page.evaluate(SEEN_JS, bool(j.params.get("position")))
    if seen["menuButton"]:
        async with j.step("open the menu"):
            await j.page.click("#menu-button")
            seen["menuOpensLinks"] = await j.page.locator("#nav-links").is_visible()
            await j.page.click("#menu-button")  # closed again: the screenshot shows the page as it loaded
    async with j.step("report"):
        await asyncio.to_thread(Path(j.params["report"]).write_text, json.dumps(seen), encoding="utf-8")


@journey
async def open_home(j: Journey) -> None:
    async with j.step("open home"):
        await _open(j.page, j.params["url"])
