"""The names of Playwright's device descriptors ("iPhone 13", "Pixel 7"), for checking a config's `device:`.

They ship inside Playwright's driver, so listing them starts it: in a throwaway child (like the scripts'
validation), once per process (until it succeeds), and only when some check names a device.
`python -m prober.journey.devices` prints them as a JSON list.
"""

from __future__ import annotations

import asyncio
import difflib
import functools
import json
import subprocess
import sys

LIST_TIMEOUT_S = 60.0


async def _names() -> list[str]:
    from playwright.async_api import async_playwright  # only in the child: the agent never loads the driver

    async with async_playwright() as playwright:
        return sorted(playwright.devices)


class DeviceListError(Exception):
    """Playwright's devices could not be listed; the message says why."""


@functools.cache  # a failure raises, so it is not cached: the next config load tries again
def _listed() -> tuple[str, ...]:
    try:
        done = subprocess.run([sys.executable, "-m", "prober.journey.devices"], capture_output=True,
                              timeout=LIST_TIMEOUT_S, check=False, stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired:
        raise DeviceListError(f"listing Playwright's devices took longer than {LIST_TIMEOUT_S:g}s") from None
    try:
        names = json.loads(done.stdout.decode().strip().splitlines()[-1])
    except (ValueError, IndexError):
        raise DeviceListError(f"listing Playwright's devices failed (exit code {done.returncode})") from None
    return tuple(str(name) for name in names)


def device_names() -> tuple[str, ...] | str:
    """Every device name this Playwright knows (listed once per process), or why they could not be listed."""
    try:
        return _listed()
    except DeviceListError as exc:
        return str(exc)


def device_problem(name: str) -> str | None:
    """None if `name` is a device Playwright knows; else what is wrong, with the nearest names."""
    names = device_names()
    if isinstance(names, str):
        return names
    if name in names:
        return None
    near = difflib.get_close_matches(name, names, n=4, cutoff=0.5)
    hint = f"; did you mean {', '.join(repr(n) for n in near)}?" if near else ""
    return f"unknown device {name!r} (Playwright's device names, e.g. 'iPhone 13', 'Pixel 7', 'Desktop Chrome'){hint}"


if __name__ == "__main__":
    print(json.dumps(asyncio.run(_names())))
