"""Linux process bookkeeping for journey workers, read from /proc: their trees, their browsers, their memory.

Playwright starts the browser in a session of its own, so a worker's process group does not hold it; a
worker's tree is every descendant by parent pid, plus every member of a session that one of them leads (a
browser whose driver died was re-parented away, but keeps its session id).
"""

from __future__ import annotations

import os
import signal
from dataclasses import dataclass

BROWSER_NAMES = ("chrom", "headless_shell")


@dataclass(frozen=True)
class Proc:
    pid: int
    ppid: int
    sid: int
    name: str


def snapshot() -> dict[int, Proc]:
    """Every process visible now (those that vanish while being read are skipped)."""
    procs: dict[int, Proc] = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/stat", "rb") as stat:
                raw = stat.read().decode(errors="replace")
        except OSError:
            continue
        name = raw[raw.find("(") + 1 : raw.rfind(")")]
        fields = raw[raw.rfind(")") + 2 :].split()
        if fields[0] == "Z":
            continue  # a zombie holds no memory and no browser: only its parent's wait() is missing
        procs[int(entry.name)] = Proc(int(entry.name), int(fields[1]), int(fields[3]), name)
    return procs


def tree(roots: set[int], procs: dict[int, Proc], sessions: set[int]) -> set[int]:
    """`roots`, their descendants, and the members of sessions led by any of them or listed in `sessions`.

    Adds the sessions of every member found to `sessions`, so a later call still finds re-parented orphans.
    """
    children: dict[int, list[int]] = {}
    for proc in procs.values():
        children.setdefault(proc.ppid, []).append(proc.pid)
    found: set[int] = set()
    todo = [pid for pid in roots if pid in procs]
    while todo:
        pid = todo.pop()
        if pid not in found:
            found.add(pid)
            todo += children.get(pid, [])
    sessions |= {procs[pid].sid for pid in found if procs[pid].sid == pid}
    found |= {proc.pid for proc in procs.values() if proc.sid in sessions}
    return found


def is_browser(proc: Proc) -> bool:
    return proc.name.startswith(BROWSER_NAMES)


def kill_tree(roots: set[int], sessions: set[int], rounds: int = 5) -> int:
    """SIGKILL every process of the trees of `roots` (and of `sessions`); returns how many were killed."""
    killed = 0
    for _ in range(rounds):
        members = tree(roots, snapshot(), sessions)
        if not members:
            break
        for pid in members:
            try:
                os.kill(pid, signal.SIGKILL)
                killed += 1
            except (ProcessLookupError, PermissionError):
                pass
    return killed


def pss_bytes(pids: set[int]) -> int:
    """Proportional set size of `pids` together: shared pages are split between the processes sharing them."""
    total = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/smaps_rollup") as rollup:
                for line in rollup:
                    if line.startswith("Pss:"):
                        total += int(line.split()[1]) * 1024
                        break
        except (OSError, ValueError):
            continue
    return total
