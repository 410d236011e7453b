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
    PACKET_LOSS = "packet_loss"  # icmp: more echo requests went unanswered than `expect.max_loss` allows
    STEP_FAILED = "step_failed"  # an assertion or Playwright error inside a journey step
    NAVIGATION = "navigation"  # a page that did not load (network error, DNS, refused) during a journey
    SCRIPT_ERROR = "script_error"  # the journey script's own fault: outside any step, import error, blocked loop
    BROWSER_CRASH = "browser_crash"
    INTERNAL = "internal"  # the agent's own fault (or its environment's), never the target's


class Phase(StrEnum):
    """The phases of a run, in order; a phase that did not happen is absent, never 0.

    http: dns, connect, tls, ttfb, transfer; tcp: dns, connect, tls, ttfb (the first byte the server sent);
    tls: dns, connect, tls; dns: dns (a server given by name), connect and tls (tcp and tls
    transports), query; grpc: query (the health call); icmp:
    dns (its round trips have their own histogram).
    """

    DNS = "dns"
    CONNECT = "connect"
    TLS = "tls"
    TTFB = "ttfb"
    TRANSFER = "transfer"
    QUERY = "query"  # a DNS query or a gRPC health check: the request sent to its answer received


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


Failure = tuple[Reason, str]
"""An unmet expectation: the run's reason and its detail."""


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
    cert_not_after: float | None = None  # unix time of the earliest expiry across the chain the server sent
    detail: str = ""
    attempts: int = 1
    journey: JourneyOutcome | None = None
    protocol: ProtocolOutcome | None = None
    counted: Counted = Counted.SLI

    def with_attempts(self, attempts: int) -> Result:
        return dataclasses.replace(self, attempts=attempts)

    def counted_as(self, counted: Counted) -> Result:
        return dataclasses.replace(self, counted=counted)


@dataclasses.dataclass(frozen=True, slots=True)
class Certificate:
    """One certificate the server sent: whom it names, who issued it, and when it is valid (unix times)."""

    subject: str
    issuer: str
    not_before: float
    not_after: float


@dataclasses.dataclass(frozen=True, slots=True)
class TlsOutcome:
    """The TLS session of a run (http, tcp, tls): version, cipher and the chain the server sent, leaf first.

    `client_cert_not_after` is the expiry of the client certificate this check presented (mTLS), if any.
    """

    version: str  # "TLSv1.3"
    cipher: str
    chain: tuple[Certificate, ...] = ()
    client_cert_not_after: float | None = None

    @property
    def earliest_not_after(self) -> float | None:
        """The earliest expiry across the chain (blackbox_exporter's probe_ssl_earliest_cert_expiry)."""
        return min((cert.not_after for cert in self.chain), default=None)


@dataclasses.dataclass(frozen=True, slots=True)
class DnsOutcome:
    """The answer of a dns check's query: its rcode and the records in each section."""

    rcode: str  # "NOERROR", "NXDOMAIN", ...
    answers: int
    authority: int
    additional: int


@dataclasses.dataclass(frozen=True, slots=True)
class PingOutcome:
    """The echo requests of an icmp run: how many were sent, each reply's round trip, the last reply's hop limit."""

    sent: int
    rtts_s: tuple[float, ...] = ()
    hop_limit: int | None = None

    @property
    def received(self) -> int:
        return len(self.rtts_s)


@dataclasses.dataclass(frozen=True, slots=True)
class GrpcOutcome:
    """A grpc health check's answer: the call's status code and, when it answered, the serving status."""

    status_code: int  # grpc.StatusCode's number: 0 OK, 14 UNAVAILABLE, ...
    serving_status: str | None = None  # "SERVING", "NOT_SERVING", "SERVICE_UNKNOWN", "UNKNOWN"


class ResourceType(StrEnum):
    """The kind of an element a page requested (Playwright's resource types, folded into a bounded set)."""

    DOCUMENT = "document"  # the page itself, and its frames
    SCRIPT = "script"
    STYLESHEET = "stylesheet"
    IMAGE = "image"
    FONT = "font"
    XHR = "xhr"  # xhr and fetch
    MEDIA = "media"
    OTHER = "other"


class Party(StrEnum):
    """Whether an element came from the page's own registrable domain (or a configured first-party one)."""

    FIRST = "first"
    THIRD = "third"


class ResourceOutcome(StrEnum):
    """How an element's load ended: an answer under 400, or an error or a 4xx/5xx answer."""

    OK = "ok"
    FAILED = "failed"


@dataclasses.dataclass(frozen=True, slots=True)
class PageResource:
    """One element a page requested: where from (no query string, capped), what it is and how its load went.

    Times are seconds; `start_s` from the navigation's start; the phases come from the browser's own resource
    timing (absent when the connection was reused or the phase did not happen); `transfer_bytes` counts headers
    and the encoded body as received.
    """

    url: str
    type: ResourceType
    party: Party
    outcome: ResourceOutcome
    status: int | None = None
    error: str = ""  # why it failed: `net::ERR_CONNECTION_REFUSED`, `HTTP 404`
    start_s: float = 0.0
    duration_s: float | None = None
    transfer_bytes: int | None = None
    dns_s: float | None = None
    connect_s: float | None = None
    tls_s: float | None = None
    ttfb_s: float | None = None
    download_s: float | None = None


@dataclasses.dataclass(frozen=True, slots=True)
class ResourceTotal:
    """The elements of one (type, party, outcome) in a page run: how many, bytes and seconds summed."""

    type: ResourceType
    party: Party
    outcome: ResourceOutcome
    count: int
    transfer_bytes: int = 0
    duration_s: float = 0.0


@dataclasses.dataclass(frozen=True, slots=True)
class PageOutcome:
    """What a page run loaded: `totals` over every element that finished, `resources` the first of them in
    start order (capped: the waterfall and the failed list), `unfinished` the elements still loading at the end
    (counted nowhere else)."""

    document_status: int | None = None
    title: str = ""
    resources: tuple[PageResource, ...] = ()
    totals: tuple[ResourceTotal, ...] = ()
    unfinished: int = 0

    def failed(self, party: Party | None = None) -> int:
        """Elements that failed to load, of one party or of both."""
        return sum(t.count for t in self.totals
                   if t.outcome is ResourceOutcome.FAILED and (party is None or t.party is party))


ProtocolOutcome = TlsOutcome | DnsOutcome | PingOutcome | GrpcOutcome | PageOutcome
"""What a run measured beyond its phases (a journey's steps and vitals are in `JourneyOutcome`; a page run has
both)."""


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
