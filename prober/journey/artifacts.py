"""Failure artifacts of journey runs: where a run's files go, and retention by count and bytes.

Layout: `<dir>/<check>/<run_id>/{screenshot.png,trace.zip,console.log,page.har}` (the HAR of page runs). Run ids
sort by time, so pruning removes the oldest runs first. A write error (a full disk) costs the artifacts, never the
run's result.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

SCREENSHOT = "screenshot.png"
TRACE = "trace.zip"
CONSOLE = "console.log"
HAR = "page.har"
FILES = (SCREENSHOT, TRACE, CONSOLE, HAR)


def run_dir(root: str, check: str, run_id: str) -> Path:
    return Path(root) / check / run_id


def wanted(when: str, ok: bool) -> bool:
    """Whether a run keeps its artifacts: `when` is always | failure | never."""
    return when == "always" or (when == "failure" and not ok)


def har_scratch() -> Path:
    """Where a page run records its HAR until it knows whether to keep it (the browser writes it when the run's
    context closes, after the run's outcome is known): a fresh private temporary folder's `page.har`."""
    return Path(tempfile.mkdtemp(prefix="prober-har-")) / HAR


def keep_har(scratch: Path, folder: Path | None) -> bool:
    """Move the HAR at `scratch` into the run's `folder` (None: not kept); its temporary folder goes either way.
    True when the HAR was kept."""
    kept = False
    try:
        if folder is not None and folder.is_dir() and scratch.is_file():
            shutil.move(scratch, folder / HAR)
            kept = True
    finally:
        shutil.rmtree(scratch.parent, ignore_errors=True)
    return kept


@dataclass(frozen=True)
class Pruned:
    runs_removed: int
    runs_kept: int
    bytes_kept: int


def _size(folder: Path) -> int:
    total = 0
    for entry in os.scandir(folder):
        if entry.is_file(follow_symlinks=False):
            total += entry.stat(follow_symlinks=False).st_size
    return total


def prune(root: str, keep_runs: int, keep_bytes: int) -> Pruned:
    """Remove the oldest run folders until at most `keep_runs` remain, holding at most `keep_bytes`."""
    base = Path(root)
    runs: list[tuple[float, Path, int]] = []
    try:
        for check in base.iterdir():
            if check.is_dir() and not check.is_symlink():
                for run in check.iterdir():
                    if run.is_dir() and not run.is_symlink():
                        runs.append((run.stat().st_mtime, run, _size(run)))
    except OSError:
        return Pruned(0, 0, 0)
    runs.sort(key=lambda item: (item[0], item[1].name))
    total = sum(size for _mtime, _run, size in runs)
    removed = 0
    while runs and (len(runs) > keep_runs or total > keep_bytes):
        _mtime, run, size = runs.pop(0)
        shutil.rmtree(run, ignore_errors=True)
        total -= size
        removed += 1
    return Pruned(removed, len(runs), total)


def resolve(root: str, relative: str) -> Path | None:
    """The artifact file `relative` (check/run_id/file) under `root`, or None if it is not one of ours."""
    parts = relative.split("/")
    if len(parts) != 3 or parts[2] not in FILES or any(p in ("", ".", "..") for p in parts):
        return None
    path = Path(root, *parts)
    try:
        if not path.resolve().is_relative_to(Path(root).resolve()) or not path.is_file():
            return None
    except OSError:
        return None
    return path
