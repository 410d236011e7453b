"""Phase timing of one HTTP attempt, summed over redirects.

The probe client (`prober.http.client`) calls the hooks itself; for `j.http`, aiohttp's tracing hooks feed them
(`trace_config`), where aiohttp reports DNS and "connection created" (TCP + TLS together). Either way the TCP/TLS
split comes from `TimedSSLContext.wrap_bio`, called the moment the TCP connection is up and the TLS handshake
begins. The probe client passes the first and last byte's arrival as the kernel stamped it
(`prober.http.connection`), so a busy event loop does not lengthen the ttfb and transfer phases.
A phase that did not happen is never recorded, so no phase is ever observed as 0.
"""

from __future__ import annotations

import contextvars
import ssl
import time
from types import SimpleNamespace
from typing import Any

import aiohttp

from prober.result import Phase

_current: contextvars.ContextVar[AttemptTiming | None] = contextvars.ContextVar("prober_attempt_timing", default=None)


class AttemptTiming:
    """Monotonic marks of one attempt; `phases()` turns them into durations in seconds."""

    __slots__ = (
        "_conn_start", "_dns_end", "_dns_start", "_first_byte", "_hop_sent", "_sums", "_tls_start", "_token",
        "ended_at", "hops", "tls_object",
    )

    def __init__(self) -> None:
        self._sums: dict[Phase, float] = {}
        self._conn_start: float | None = None
        self._dns_start: float | None = None
        self._dns_end: float | None = None
        self._tls_start: float | None = None
        self._hop_sent: float | None = None
        self._first_byte: float | None = None
        self.hops = 0
        self.ended_at: float | None = None
        """When the final answer's last byte arrived: the end of the exchange, before any assertion runs."""
        self.tls_object: ssl.SSLObject | None = None  # the latest hop's TLS session: its certificate is read
        self._token: contextvars.Token[AttemptTiming | None] | None = None

    def __enter__(self) -> AttemptTiming:
        self._token = _current.set(self)
        return self

    def __exit__(self, *exc: object) -> None:
        if self._token is not None:
            _current.reset(self._token)

    def _add(self, phase: Phase, seconds: float) -> None:
        self._sums[phase] = self._sums.get(phase, 0.0) + max(seconds, 0.0)

    # hooks, in the order they fire for each hop (each hop opens a new connection)
    def connection_start(self) -> None:
        self._conn_start = time.perf_counter()
        self._dns_start = self._dns_end = self._tls_start = None

    def dns_start(self) -> None:
        self._dns_start = time.perf_counter()

    def dns_end(self) -> None:
        self._dns_end = time.perf_counter()
        if self._dns_start is not None:
            self._add(Phase.DNS, self._dns_end - self._dns_start)

    def tls_start(self) -> None:
        self._tls_start = time.perf_counter()

    def connection_end(self) -> None:
        now = time.perf_counter()
        tcp_from = self._dns_end or self._conn_start or now
        if self._tls_start is not None:
            self._add(Phase.CONNECT, self._tls_start - tcp_from)
            self._add(Phase.TLS, now - self._tls_start)
        else:
            self._add(Phase.CONNECT, now - tcp_from)

    def headers_sent(self) -> None:
        self._hop_sent = time.perf_counter()

    def request_left(self, at: float) -> None:
        """The kernel's stamp of when the request left this host (perf_counter time): it replaces the reading
        taken before the write, never moving it earlier (a worker preempted before its send would read late)."""
        if self._hop_sent is not None:
            self._hop_sent = max(self._hop_sent, at)

    def response_start(self, at: float | None = None) -> None:
        """The first byte of an answer arrived (`at`: when it reached this host, perf_counter time)."""
        self.hops += 1
        self._first_byte = at if at is not None else time.perf_counter()
        if self._hop_sent is not None:
            self._add(Phase.TTFB, self._first_byte - self._hop_sent)

    def body_end(self, at: float | None = None) -> None:
        """The answer's last byte arrived (`at`, as for response_start)."""
        self.ended_at = at if at is not None else time.perf_counter()
        if self._first_byte is not None:
            self._add(Phase.TRANSFER, self.ended_at - self._first_byte)

    def phases(self) -> dict[Phase, float]:
        return {phase: self._sums[phase] for phase in Phase if phase in self._sums}

    def stage(self, at: float | None = None) -> str:
        """Where the attempt was at `at` (perf_counter time, by default now): for the detail of a timeout, at its
        deadline. A mark after it does not count: a late loop that reads, past the deadline, an answer that came
        after it was still waiting for the first byte when time ran out, not in the transfer."""

        def by(mark: float | None) -> bool:
            return mark is not None and (at is None or mark <= at)

        if by(self._first_byte):
            return "transfer"
        if by(self._hop_sent):
            return "waiting for the response (ttfb)"
        if by(self._tls_start):
            return "TLS handshake"
        if by(self._dns_start) and not by(self._dns_end):
            return "DNS"
        if by(self._conn_start):
            return "connect"
        return "start"


class TimedSSLContext(ssl.SSLContext):
    """An SSLContext that marks when the TLS handshake of the current attempt begins."""

    def wrap_bio(self, *args: Any, **kwargs: Any) -> ssl.SSLObject:
        timing = _current.get()
        if timing is not None:
            timing.tls_start()
        tls_object = super().wrap_bio(*args, **kwargs)
        if timing is not None:
            timing.tls_object = tls_object
        return tls_object


def _hook(method: str) -> Any:
    async def hook(_session: aiohttp.ClientSession, ctx: SimpleNamespace, _params: object) -> None:
        timing = ctx.trace_request_ctx
        if isinstance(timing, AttemptTiming):
            getattr(timing, method)()

    return hook


def trace_config() -> aiohttp.TraceConfig:
    """A TraceConfig that feeds the AttemptTiming passed as `trace_request_ctx`."""
    config = aiohttp.TraceConfig()
    config.on_connection_create_start.append(_hook("connection_start"))
    config.on_dns_resolvehost_start.append(_hook("dns_start"))
    config.on_dns_resolvehost_end.append(_hook("dns_end"))
    config.on_connection_create_end.append(_hook("connection_end"))
    config.on_request_headers_sent.append(_hook("headers_sent"))
    config.on_request_end.append(_hook("response_start"))
    config.on_request_redirect.append(_hook("response_start"))
    config.freeze()
    return config
