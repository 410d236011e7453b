"""TLS prober: resolve, connect and handshake on a fresh connection, then check every certificate the server sent.

Why one handshake with OpenSSL's own verification, not a handshake without it and a verifier of our own: a failed
verification still leaves the chain the server sent readable (`prober.http.tls_chain`), so the run can name the
bad certificate ("intermediate CN=Test Intermediate expired 3.0 days ago") and report the chain, while the trust
decision stays exactly the one the HTTP check and every OpenSSL client make (same store, same path building,
same hostname rules). A second verifier (cryptography's, whose web-PKI rules refuse e.g. a leaf without an
authority key identifier that OpenSSL accepts) would fail checks whose users see nothing wrong.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import ssl
import time
from dataclasses import dataclass, field

from prober.config.check_base import split_host_port
from prober.config.tls_check import TlsCheck
from prober.http.client import ConnectFailedError
from prober.http.connection import Connection
from prober.http.tls_chain import client_cert_not_after, soonest_expiry_problem, tls_outcome, verification_failure
from prober.http.tls_contexts import TlsContexts
from prober.reasons import describe
from prober.result import Phase, Reason, Result, TlsOutcome, cap_detail

_FAMILIES = {"auto": socket.AF_UNSPEC, "ip4": socket.AF_INET, "ip6": socket.AF_INET6}
_VERSION_ORDER = {"TLSv1": 10, "TLSv1.1": 11, "TLSv1.2": 12, "TLSv1.3": 13}
_VERDICT_MIN_WAIT_S = 0.5  # how long a TLS 1.3 run waits at least for the server's word on our certificate
_VERDICT_HANDSHAKES = 4.0  # ... or this many times the handshake's own duration, if longer (a far or slow server)


class _ClosedAfterHandshakeError(Exception):
    """The server hung up right after a TLS 1.3 handshake, before any session ticket: how some servers (asyncio's
    among them) refuse a client certificate, without an alert."""

    def __str__(self) -> str:
        return ("the server closed the connection right after the TLS 1.3 handshake, before any session ticket "
                "(did it refuse our client certificate?)")


class _Quiet(asyncio.Protocol):
    """The protocol of a connection that only shakes hands: the server sends no data we read."""


@dataclass
class _Attempt:
    """What one run saw so far: its phases, where it is, and its TLS session once the handshake began."""

    start: float
    phases: dict[Phase, float] = field(default_factory=dict)
    stage: str = "start"
    tls_object: ssl.SSLObject | None = None
    ended_at: float | None = None  # when the handshake completed


class TlsProber:
    """Probes one `type: tls` check. Built once per config load; each run opens and closes its own connection."""

    grace_s = 0.0

    def __init__(self, check: TlsCheck, tls_contexts: TlsContexts) -> None:
        self.check = check
        self._host, self._port = split_host_port(check.target)
        self._family = _FAMILIES[check.ip_family]
        self._context = tls_contexts.get(check.tls)  # verifying unless `insecure`: the one the HTTP check uses
        self._server_hostname = check.tls.server_name or self._host  # SNI (not for an IP) and the name verified
        self._client_not_after = client_cert_not_after(check.tls.cert_file)

    async def probe(self) -> Result:
        started_at = time.time()
        attempt = _Attempt(start=time.perf_counter())
        try:
            async with asyncio.timeout(self.check.timeout):
                await self._handshake(attempt)
        except TimeoutError:
            if attempt.ended_at is None:  # else the deadline came while the server's word was awaited: none came
                detail = f"no handshake within {self.check.timeout:g}s (during {attempt.stage})"
                return self._result(attempt, started_at, Reason.TIMEOUT, detail)
        except socket.gaierror as exc:
            return self._result(attempt, started_at, Reason.DNS, describe(exc))
        except ConnectFailedError as exc:
            return self._result(attempt, started_at, Reason.CONNECT, str(exc))
        except ssl.SSLCertVerificationError as exc:
            outcome = self._outcome(attempt)
            detail = verification_failure(exc, outcome.chain if outcome else (), time.time())
            return self._result(attempt, started_at, Reason.TLS, detail, outcome)
        except _ClosedAfterHandshakeError as exc:
            return self._result(attempt, started_at, Reason.TLS, str(exc), self._outcome(attempt))
        except OSError as exc:  # ssl.SSLError: a failed handshake, an alert; or the connection broke during it
            return self._result(attempt, started_at, Reason.TLS, _tls_error(exc), self._outcome(attempt))
        outcome = self._outcome(attempt)
        assert outcome is not None  # the handshake completed
        reason, detail = self._judge(outcome, attempt)
        return self._result(attempt, started_at, reason, detail, outcome)

    async def _handshake(self, attempt: _Attempt) -> None:
        """Resolve, connect and shake hands, timing each phase, then close; raises what a step failed with."""
        loop = asyncio.get_running_loop()
        addresses = await self._addresses(loop, attempt)
        attempt.stage = "connect"
        connect_start = time.perf_counter()
        connection = await self._connect(loop, addresses)
        try:
            attempt.phases[Phase.CONNECT] = time.perf_counter() - connect_start
            attempt.stage = "TLS handshake"
            tls_start = time.perf_counter()
            try:
                await connection.start_tls(self._context, self._server_hostname)
            finally:
                attempt.tls_object = connection.get_extra_info("ssl_object")
            attempt.ended_at = time.perf_counter()
            attempt.phases[Phase.TLS] = attempt.ended_at - tls_start
            if attempt.tls_object is not None and attempt.tls_object.version() == "TLSv1.3":
                attempt.stage = "the server's answer to the handshake"
                wait_s = max(_VERDICT_MIN_WAIT_S, _VERDICT_HANDSHAKES * attempt.phases[Phase.TLS])
                await connection.server_verdict(min(wait_s, self._left(attempt)))
                if connection.is_closing() and not _has_ticket(attempt.tls_object):
                    raise _ClosedAfterHandshakeError
        finally:
            connection.close()

    async def _addresses(self, loop: asyncio.AbstractEventLoop, attempt: _Attempt) -> list[str]:
        """The target's addresses in resolver order (the host itself when it is an IP: no DNS phase)."""
        if _is_ip(self._host):
            return [self._host]
        attempt.stage = "DNS"
        dns_start = time.perf_counter()
        infos = await loop.getaddrinfo(self._host, self._port, family=self._family, type=socket.SOCK_STREAM)
        attempt.phases[Phase.DNS] = time.perf_counter() - dns_start
        return list(dict.fromkeys(str(info[4][0]) for info in infos))

    async def _connect(self, loop: asyncio.AbstractEventLoop, addresses: list[str]) -> Connection:
        """A TCP connection to the first address that accepts one; ConnectFailedError when none does."""
        errors: list[str] = []
        for address in addresses:
            try:
                return await Connection.open(loop, address, self._port, _Quiet())
            except OSError as exc:
                errors.append(exc.strerror or str(exc))
        raise ConnectFailedError(f"refused or unreachable on port {self._port}: {'; '.join(errors) or 'no address'}")

    def _left(self, attempt: _Attempt) -> float:
        return max(0.0, attempt.start + self.check.timeout - time.perf_counter())

    def _outcome(self, attempt: _Attempt) -> TlsOutcome | None:
        """The session and the chain the server sent; None when no certificate came (the handshake failed early)."""
        if attempt.tls_object is None:
            return None
        outcome = tls_outcome(attempt.tls_object, self._client_not_after)
        return outcome if outcome.chain or attempt.ended_at is not None else None

    def _judge(self, outcome: TlsOutcome, attempt: _Attempt) -> tuple[Reason, str]:
        """The first unmet expectation of a completed handshake (OpenSSL verified the chain unless `insecure`)."""
        expect = self.check.expect
        if expect.min_version is not None and _VERSION_ORDER.get(outcome.version, 0) < _VERSION_ORDER[
                expect.min_version]:
            return Reason.ASSERTION, f"negotiated {outcome.version}, min_version {expect.min_version}"
        expiring = soonest_expiry_problem(outcome.chain, outcome.client_cert_not_after, expect.cert_min_days,
                                          time.time())
        if expiring is not None:
            return Reason.ASSERTION, expiring
        duration = (attempt.ended_at or time.perf_counter()) - attempt.start
        if expect.max_duration is not None and duration > expect.max_duration:
            return Reason.SLOW, f"took {duration:.3f}s (max_duration: {expect.max_duration:g}s)"
        return Reason.OK, f"{outcome.version} {outcome.cipher}, {len(outcome.chain)} certificates"

    def _result(self, attempt: _Attempt, started_at: float, reason: Reason, detail: str,
                outcome: TlsOutcome | None = None) -> Result:
        # a completed handshake ends the run's time there: waiting for the server's word on it, and closing,
        # are not the target's latency; a failed one lasted until now
        ended = attempt.ended_at if attempt.ended_at is not None and reason is not Reason.TLS else time.perf_counter()
        return Result(
            check=self.check.name, ok=reason is Reason.OK, reason=reason, duration_s=ended - attempt.start,
            started_at=started_at, phases=dict(attempt.phases),
            cert_not_after=outcome.earliest_not_after if outcome is not None else None,
            detail=cap_detail(detail), protocol=outcome,
        )


def _tls_error(exc: OSError) -> str:
    """describe(exc), but "SSLEOFError: the server closed ..." for an error made of one message (not "('...',)")."""
    if len(exc.args) == 1 and isinstance(exc.args[0], str):
        return f"{exc.__class__.__name__}: {exc.args[0]}"
    return describe(exc)


def _has_ticket(tls_object: ssl.SSLObject) -> bool:
    session = tls_object.session
    return session is not None and session.has_ticket


def _is_ip(host: str) -> bool:
    with contextlib.suppress(OSError):
        socket.inet_pton(socket.AF_INET6 if ":" in host else socket.AF_INET, host)
        return True
    return False
