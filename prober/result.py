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
    INTERNAL = "internal"  # the agent's own fault (or its environment's), never the target's


class Phase(StrEnum):
    """The phases of an HTTP exchange, in order; a phase that did not happen is absent, never 0."""

    DNS = "dns"
    CONNECT = "connect"
    TLS = "tls"
    TTFB = "ttfb"
    TRANSFER = "transfer"


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

    def with_attempts(self, attempts: int) -> Result:
        return dataclasses.replace(self, attempts=attempts)
