"""What one run of a check found: pure data shared by probers, the scheduler and the exporters.

Nothing here imports anything else from `prober`; every other module may import this one.
"""

from __future__ import annotations

import dataclasses
from enum import StrEnum

DETAIL_MAX_CHARS = 300


class Reason(StrEnum):
    """Why a run ended as it did: a closed set, because it is a metric label and must never grow from data."""

    OK = "ok"
    DNS = "dns"
    CONNECT = "connect"
    TLS = "tls"
    TIMEOUT = "timeout"
    HTTP_STATUS = "http_status"
    ASSERTION = "assertion"
    SLOW = "slow"
    TOO_LARGE = "too_large"
    TOO_MANY_REDIRECTS = "too_many_redirects"
    PROTOCOL = "protocol"
    STEP_FAILED = "step_failed"  # an assertion or Playwright error inside a journey step
    NAVIGATION = "navigation"  # a page that did not load (network error, DNS, refused) during a journey
    SCRIPT_ERROR = "script_error"  # the journey script's own fault: outside any step, import error, blocked loop
    BROWSER_CRASH = "browser_crash"
    INTERNAL = "internal"  # the agent's own fault (or its environment's), never the target's


class Phase(StrEnum):
    """The phases of an HTTP exchange, in order; a phase that did not happen is absent, never 0."""

    DNS = "dns"
    CONNECT = "connect"
    TLS = "tls"
    TTFB = "ttfb"
    TRANSFER = "transfer"


class StepStatus(StrEnum):
    """How one journey step ended; a failed `soft` step does not end the journey."""

    OK = "ok"
    FAILED = "failed"
    SOFT_FAILED = "soft_failed"
    NOT_RUN = "not_run"


class Vital(StrEnum):
    """Web vitals read from Chromium's Performance APIs; all in seconds except CLS (unitless)."""

    TTFB = "ttfb"
    FCP = "fcp"
    LCP = "lcp"
    CLS = "cls"
    INP = "inp"


class PageEvent(StrEnum):
    """What went wrong on a page without necessarily failing the run (counted per run)."""

    UNCAUGHT_EXCEPTION = "uncaught_exception"
    CONSOLE_ERROR = "console_error"
    FAILED_REQUEST = "failed_request"


class Counted(StrEnum):
    """Whether a finished run counts toward the SLIs, and if not, why (each kind has its own counter)."""

    SLI = "sli"
    INCONCLUSIVE = "inconclusive"  # this agent's vantage was unhealthy (canaries failed) or it ran late itself
    MAINTENANCE = "maintenance"  # it started inside a planned maintenance window


def cap_detail(text: str) -> str:
    """Cut a human-readable detail to a bounded size for logs (details are never metric labels)."""
    text = " ".join(text.split())
    return text if len(text) <= DETAIL_MAX_CHARS else text[: DETAIL_MAX_CHARS - 1] + "…"


@dataclasses.dataclass(frozen=True, slots=True)
class Result:
    """The outcome of one attempt (or, after attempts, of a whole run) of one check.

    `duration_s` is the attempt's wall time; `phases` holds only the phases that happened, summed over
    redirects; `detail` is capped text for logs and the console, never a label.
    """

    check: str
    ok: bool
    reason: Reason
    duration_s: float
    started_at: float  # unix time
    phases: dict[Phase, float] = dataclasses.field(default_factory=dict)
    status_code: int | None = None
    cert_not_after: float | None = None  # unix time of the leaf certificate's expiry, on TLS runs
    detail: str = ""
    attempts: int = 1
    journey: JourneyOutcome | None = None
    counted: Counted = Counted.SLI

    def with_attempts(self, attempts: int) -> Result:
        return dataclasses.replace(self, attempts=attempts)

    def counted_as(self, counted: Counted) -> Result:
        return dataclasses.replace(self, counted=counted)


@dataclasses.dataclass(frozen=True, slots=True)
class StepResult:
    """One `j.step` of a journey run; `duration_s` is None for a step that did not run."""

    name: str
    status: StepStatus
    duration_s: float | None = None
    detail: str = ""


@dataclasses.dataclass(frozen=True, slots=True)
class JourneyOutcome:
    """What a journey run found beyond the common Result fields.

    `page_loads` holds the web vitals of each page load the run saw (a vital that was not measured is absent);
    `artifacts` are paths relative to the artifacts directory, written for this run.
    """

    run_id: str
    steps: tuple[StepResult, ...] = ()
    page_loads: tuple[dict[Vital, float], ...] = ()
    page_events: dict[PageEvent, int] = dataclasses.field(default_factory=dict)
    requests: int = 0
    artifacts: tuple[str, ...] = ()
