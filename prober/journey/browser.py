"""The browser of one worker: found on PATH (or at a configured path), launched on first need, relaunched
after a crash, closed with the worker. Runs in the worker process only."""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
from collections.abc import Mapping
from typing import Any

from playwright.async_api import Browser, Playwright, async_playwright

EXECUTABLES = {
    # Debian's /usr/bin/chromium-headless-shell is a shell wrapper that does not exec: the real binary first,
    # so that the browser is Playwright's own child and no extra shell sits in every worker
    "headless_shell": ("/usr/lib/chromium/chromium-headless-shell", "chromium-headless-shell"),
    "chromium": ("chromium", "chromium-browser", "/usr/lib/chromium/chromium"),
}
# no network chatter of Chromium's own (updates, sync, field trials): a probe sends only the journey's traffic
LAUNCH_ARGS = (
    "--no-sandbox",  # the worker is already an unprivileged, isolated process; containers rarely allow userns
    "--disable-gpu",
    "--disable-dev-shm-usage",  # containers' /dev/shm is small
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--mute-audio",
)


class BrowserUnavailableError(Exception):
    """No browser executable was found, or it did not start."""


def find_executable(kind: str, executable: str | None) -> str:
    """The browser binary: `executable` (a path, or a name on PATH), else Debian's binary for `kind`."""
    candidates = (executable,) if executable else EXECUTABLES[kind]
    for candidate in candidates:
        found = candidate if os.sep in candidate and os.access(candidate, os.X_OK) else shutil.which(candidate)
        if found:
            return found
    raise BrowserUnavailableError(f"no browser: {' or '.join(candidates)} not found (install Debian's "
                                  f"chromium-headless-shell, or set agent.journeys.browser.executable)")


class BrowserOwner:
    """One long-lived browser; `browser()` launches it on first use and again after it died."""

    def __init__(self, kind: str, executable: str | None, extra_args: list[str]) -> None:
        self._kind, self._executable, self._extra_args = kind, executable, extra_args
        self._playwright: Playwright | None = None
        self._browser: Browser | None = None
        self._launching = asyncio.Lock()  # runs that start together share one launch, never two browsers
        self.launches = 0

    @property
    def started(self) -> bool:
        return self._browser is not None

    def connected(self) -> bool:
        return self._browser is not None and self._browser.is_connected()

    async def browser(self) -> Browser:
        if self._browser is not None and self._browser.is_connected():
            return self._browser
        async with self._launching:
            if self._browser is not None and self._browser.is_connected():
                return self._browser
            return await self._launch()

    async def _launch(self) -> Browser:
        path = find_executable(self._kind, self._executable)
        if self._playwright is None:
            self._playwright = await async_playwright().start()
        try:
            self._browser = await self._playwright.chromium.launch(
                executable_path=path, args=[*LAUNCH_ARGS, *self._extra_args], handle_sigint=False,
                handle_sigterm=False, handle_sighup=False, timeout=30_000,
            )
        except Exception as exc:
            raise BrowserUnavailableError(f"browser did not start: {exc.__class__.__name__}: "
                                          f"{str(exc).splitlines()[0] if str(exc) else ''}") from None
        self.launches += 1
        return self._browser

    def devices(self) -> Mapping[str, Mapping[str, Any]]:
        """Playwright's device descriptors by name (after the first `browser()`, which starts Playwright)."""
        return self._playwright.devices if self._playwright is not None else {}

    async def close(self) -> None:
        if self._browser is not None:
            with contextlib.suppress(Exception):  # already gone: nothing to close
                await self._browser.close()
        if self._playwright is not None:
            await self._playwright.stop()
