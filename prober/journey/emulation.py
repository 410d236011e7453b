"""A browser check's emulation applied to its run: the context options of its device, locale, timezone and
position, and its network's latency, throughput and offline state. Runs in the journey worker only.

The spec is `BrowserCheck.emulation()` (prober/config/browser_context.py), already validated at config load.

How the network is emulated, and why not all of it through DevTools' `Network.emulateNetworkConditions`:
Chromium applies that call's latency by holding a response back from the page after it arrived, and its resource
timing records the arrival: `responseStart` (TTFB) does not move, only `responseEnd` does (Chromium 156). So the
latency is added by holding each request of the page for `latency` before it is sent (a Playwright route that
falls back to any other route: the request goes on unchanged), which is what a far-away server costs a user:
the document's TTFB, every element's wait and the LCP grow by it. Offline and the throughput caps stay with
DevTools (they do show in the timings). Both apply to the run's page, not to popups it opens.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from playwright.async_api import Error as PlaywrightError
from playwright.async_api import Page, Route

from prober.journey.browser import BrowserUnavailableError

KBIT_BYTES_PER_S = 1000.0 / 8.0
"""DevTools takes throughput in bytes per second."""
NOT_THROTTLED = -1.0
"""DevTools' value for a throughput that is not capped."""


class UnknownDeviceError(BrowserUnavailableError):
    """The spec names a device this Playwright does not know (config validation looks names up in the same list,
    so only a Playwright changed under a running agent gets here): the run ends `internal`, as without a browser."""


def context_options(spec: Mapping[str, Any], devices: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:
    """Keyword arguments of `Browser.new_context` for this spec (empty: the browser's own defaults).

    A device brings its viewport, screen, user agent, scale factor, touch and mobile flags; its
    `default_browser_type` is Playwright's choice of engine, not an option of a context. Raises UnknownDeviceError.
    """
    options: dict[str, Any] = {}
    device = spec.get("device")
    if device is not None:
        if device not in devices:
            raise UnknownDeviceError(f"Playwright has no device {device!r}")
        options.update({k: v for k, v in devices[device].items() if k != "default_browser_type"})
    if spec.get("locale") is not None:
        options["locale"] = spec["locale"]
    if spec.get("timezone") is not None:
        options["timezone_id"] = spec["timezone"]
    geolocation = spec.get("geolocation")
    if geolocation is not None:
        options["geolocation"] = dict(geolocation)
        options["permissions"] = ["geolocation"]
    return options


async def throttle(page: Page, spec: Mapping[str, Any]) -> None:
    """Throttle `page`'s network as the spec says (nothing without `network`), before its first request."""
    network = spec.get("network")
    if network is None:
        return
    offline = bool(network["offline"])
    download, upload = _bytes_per_s(network.get("download_kbps")), _bytes_per_s(network.get("upload_kbps"))
    if offline or download != NOT_THROTTLED or upload != NOT_THROTTLED:
        session = await page.context.new_cdp_session(page)
        await session.send("Network.emulateNetworkConditions", {
            "offline": offline, "latency": 0, "downloadThroughput": download, "uploadThroughput": upload,
        })
    latency_s = float(network["latency_ms"]) / 1000.0
    if latency_s > 0 and not offline:
        await page.route("**/*", _held_for(latency_s))


def _held_for(latency_s: float) -> Callable[[Route], Awaitable[None]]:
    async def hold(route: Route) -> None:
        await asyncio.sleep(latency_s)
        with contextlib.suppress(PlaywrightError):  # the page closed meanwhile: nothing is left to send
            await route.fallback()  # on to the page's other routes, if any; else sent as it was

    return hold


def _bytes_per_s(kbps: float | None) -> float:
    return NOT_THROTTLED if kbps is None else float(kbps) * KBIT_BYTES_PER_S
