"""Import journey scripts in a child process at config load, so a typo fails the load, not a run at 3 a.m."""

from __future__ import annotations

import json
import subprocess
import sys

VALIDATE_TIMEOUT_S = 60.0


def script_problems(scripts: list[str]) -> list[str | None]:
    """Per script (`file.py` or `file.py:function`): None, or what is wrong with it.

    The scripts run their import-time code in a throwaway child (never in the agent), bounded in time.
    """
    if not scripts:
        return []
    try:
        done = subprocess.run(
            [sys.executable, "-m", "prober.journey.worker", "--validate", *scripts],
            capture_output=True, timeout=VALIDATE_TIMEOUT_S, check=False, stdin=subprocess.DEVNULL,
        )
    except subprocess.TimeoutExpired:
        return [f"importing the journey scripts took longer than {VALIDATE_TIMEOUT_S:g}s"] * len(scripts)
    try:
        problems = json.loads(done.stdout.decode().strip().splitlines()[-1])
        if isinstance(problems, list) and len(problems) == len(scripts):
            return [None if p is None else str(p) for p in problems]
    except (ValueError, IndexError):
        pass
    tail = done.stderr.decode(errors="replace").strip().splitlines()[-1:] or ["no output"]
    return [f"the script check crashed (exit code {done.returncode}): {tail[0][:200]}"] * len(scripts)
