"""`prober site`: read the counters, compute the snapshot, render every file and publish them — written into a
folder (each file replaced atomically, files of a previous site that are gone removed) or served live.

A Prometheus that is down, refuses, or answers slower than the timeout never blanks the site: the last good
history is kept (while the process lives) and rendered marked stale, saying since when; without one, every
status reads unknown. The time of the last fresh data survives restarts in the folder's `.site-state.json`.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from aiohttp import web

from prober.config.models import AgentConfig
from prober.report.history import History, PrometheusClient, PrometheusError
from prober.report.history_refresh import refresh
from prober.site.feed import atom_feed, rss_feed
from prober.site.html import render_pages
from prober.site.model import Freshness, Snapshot
from prober.site.notes import read_notes
from prober.site.services import site_services
from prober.site.snapshot import SiteOptions, history_range, snapshot
from prober.site.statuspage_api import api_files

log = logging.getLogger("prober.site")
STATE_FILE = ".site-state.json"
CONTENT_TYPES = {".html": "text/html; charset=utf-8", ".json": "application/json",
                 ".atom": "application/atom+xml", ".rss": "application/rss+xml", ".css": "text/css"}


def site_files(snap: Snapshot) -> dict[str, str]:
    """Every file of the site: its pages, its Statuspage-shaped API and its feeds."""
    return {**render_pages(snap), **api_files(snap), "history.atom": atom_feed(snap), "history.rss": rss_feed(snap)}


@dataclass
class SiteSource:
    """Where a site's data comes from and how it is read: one `build()` per refresh."""

    config: AgentConfig
    client: PrometheusClient
    options: SiteOptions
    step_s: float = 300.0
    notes_dir: Path | None = None
    at: float | None = None  # a fixed moment (tests, replays); None: now
    fresh_at: float | None = None  # when the data was last read whole
    kept: History | None = None  # the last good history, shown stale when Prometheus fails
    problems: list[str] = field(default_factory=list)  # of the last build's notes
    shown: AgentConfig = field(init=False)  # `config` with only the checks its services show: what is read

    def __post_init__(self) -> None:
        names = {name for service in site_services(self.config) for name in service.checks}
        self.shown = self.config.model_copy(update={"checks": [c for c in self.config.checks if c.name in names]})

    def build(self) -> Snapshot:
        """A snapshot as of now (or `at`); never raises for Prometheus' or the notes' faults."""
        at = time.time() if self.at is None else self.at
        start, end = history_range(at, self.config.site.days, self.config.site.timezone, self.step_s)
        stale: str | None = None
        try:
            self.kept = refresh(self.client, self.shown, self.kept, start, end, self.step_s)
            self.fresh_at = at
        except PrometheusError as exc:
            stale = str(exc)
            log.warning("site: data not current: %s", stale)
        notes, self.problems = ([], []) if self.notes_dir is None else read_notes(
            self.notes_dir, _service_keys(self.config), self.config.site.timezone)
        for problem in self.problems:
            log.warning("site: %s", problem)
        return snapshot(self.config, self.kept, at, Freshness(self.fresh_at, stale), notes, self.options,
                        generated_at=time.time())


def _service_keys(config: AgentConfig) -> dict[str, str]:
    """Public names and ids, each to the service's id (what notes may name)."""
    keys: dict[str, str] = {}
    for service in site_services(config):
        keys[service.name] = keys[service.id] = service.id
    return keys


def write_site(folder: Path, files: dict[str, str], fresh_at: float | None) -> None:
    """Write every file (each replaced atomically: a reader sees the old or the new one, never half), index.html
    last; then remove the files of the previous site that this one no longer has."""
    state_path = folder / STATE_FILE
    listed = _state(folder).get("files")
    previous = [name for name in listed if isinstance(name, str)] if isinstance(listed, list) else []
    folder.mkdir(parents=True, exist_ok=True)
    for name in sorted(files, key=lambda n: n == "index.html"):
        _replace(folder / name, files[name])
    for name in previous:
        if name not in files and not Path(name).is_absolute() and ".." not in Path(name).parts:
            with contextlib.suppress(FileNotFoundError):
                (folder / name).unlink()
    _replace(state_path, json.dumps({"fresh_at": fresh_at, "files": sorted(files)}))


def _replace(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    temporary.write_text(text, encoding="utf-8")
    os.replace(temporary, path)


def _state(folder: Path) -> dict[str, object]:
    try:
        state = json.loads((folder / STATE_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return state if isinstance(state, dict) else {}


def last_fresh_at(folder: Path | None) -> float | None:
    """When the site in `folder` last had fresh data (a previous run's), or None."""
    value = _state(folder).get("fresh_at") if folder is not None else None
    return float(value) if isinstance(value, (int, float)) else None


def publish_once(source: SiteSource, out: Path) -> Snapshot:
    snap = source.build()
    write_site(out, site_files(snap), source.fresh_at)
    return snap


async def publish_every(source: SiteSource, every_s: float, out: Path | None,
                        serve: Callable[[dict[str, str]], None] | None = None) -> None:
    """Rebuild every `every_s` (from the start of one build to the next) until cancelled; each build runs in a
    thread, so a slow Prometheus never stops the site being served."""
    while True:
        began = time.monotonic()
        snap = await asyncio.to_thread(source.build)
        files = site_files(snap)
        if out is not None:
            await asyncio.to_thread(write_site, out, files, source.fresh_at)
        if serve is not None:
            serve(files)
        log.info("site: %d file(s), %s%s", len(files), "stale: " if snap.freshness.stale else "fresh",
                 snap.freshness.stale_reason or "")
        await asyncio.sleep(max(0.0, every_s - (time.monotonic() - began)))


class LiveSite:
    """The site served from memory (`--listen`): the files of the last build, replaced whole at once."""

    def __init__(self, every_s: float) -> None:
        self.files: dict[str, str] = {}
        self.max_age_s = int(every_s)

    def update(self, files: dict[str, str]) -> None:
        self.files = files

    async def handle(self, request: web.Request) -> web.Response:
        name = request.match_info["path"] or "index.html"
        if name.endswith("/"):
            name += "index.html"
        text = self.files.get(name)
        if text is None:
            if not self.files:
                return web.Response(status=503, text="the site is being built; try again in a moment\n",
                                    headers={"Retry-After": "5"})
            return web.Response(status=404, text="not found\n")
        content_type = CONTENT_TYPES.get(Path(name).suffix, "application/octet-stream")
        return web.Response(body=text.encode(), headers={"Content-Type": content_type,
                                                          "Cache-Control": f"max-age={self.max_age_s}"})

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_get("/{path:.*}", self.handle)
        return app


async def run_site(source: SiteSource, every_s: float, out: Path | None, listen: str | None) -> None:
    """Publish until SIGTERM/SIGINT (the caller's loop cancels this)."""
    live = LiveSite(every_s) if listen else None
    runner: web.AppRunner | None = None
    if live is not None and listen is not None:
        host, _sep, port = listen.rpartition(":")
        runner = web.AppRunner(live.app(), access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, host or "0.0.0.0", int(port))
        await site.start()
        for address in runner.addresses:  # the port bound when --listen asked for 0
            print(f"prober site: serving on http://{address[0]}:{address[1]}/", file=sys.stderr, flush=True)
    try:
        await publish_every(source, every_s, out, live.update if live is not None else None)
    finally:
        if runner is not None:
            await runner.cleanup()
