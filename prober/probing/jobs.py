"""Jobs from checks: each check's prober built once per config load, in the process that will probe it."""

from __future__ import annotations

from collections.abc import Sequence

from prober.config.models import Check
from prober.probers import ProberDeps, build_prober
from prober.scheduler import Job


def build_jobs(checks: Sequence[Check], deps: ProberDeps) -> tuple[list[Job], list[tuple[int, str]]]:
    """A Job per check whose prober builds, and (index, problem) for each that does not (a TLS file that does
    not load: ssl.SSLError is an OSError)."""
    jobs: list[Job] = []
    problems: list[tuple[int, str]] = []
    for index, check in enumerate(checks):
        try:
            jobs.append(Job(check, build_prober(check, deps)))
        except (OSError, ValueError) as exc:
            problems.append((index, f"tls: cannot load: {exc}"))
    return jobs, problems
