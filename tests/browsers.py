"""What browser tests share: a headless Chromium of their own, and a journey worker pool whose runs keep every
artifact (for tests that look at screenshots)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest
from playwright.async_api import Browser, async_playwright

from prober.config.models import JourneysSection
from prober.journey.browser import LAUNCH_ARGS, find_executable
from prober.journey.pool import WorkerPool


@asynccontextmanager
async def headless_chromium() -> AsyncIterator[Browser]:
    """Debian's headless shell, launched as the journey workers launch it, closed at the end."""
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=find_executable("headless_shell", None),
                                                   args=list(LAUNCH_ARGS))
        try:
            yield browser
        finally:
            await browser.close()


def keeping_artifacts(tmp_path_factory: pytest.TempPathFactory, name: str) -> JourneysSection:
    """One worker, two runs at once, every run's screenshot kept in a fresh folder (no trace: faster)."""
    artifacts = tmp_path_factory.mktemp(name)
    return JourneysSection.model_validate(
        {"workers": 1, "runs_per_worker": 2, "artifacts": {"dir": str(artifacts), "when": "always", "trace": False}})


@asynccontextmanager
async def worker_pool(settings: JourneysSection) -> AsyncIterator[WorkerPool]:
    pool = WorkerPool(settings)
    try:
        yield pool
    finally:
        await pool.close()
