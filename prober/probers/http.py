"""HTTP prober: one request on a fresh connection, timed phase by phase, bounded in time, size and redirects."""

from __future__ import annotations

import socket
import ssl
import time

from yarl import URL

from prober import __version__
from prober.config.models import HttpCheck
from prober.http.body import BodyDecodingError, BodyTooLargeError
from prober.http.client import (
    ConnectFailedError,
    ProtocolError,
    Request,
    TooManyRedirectsError,
    basic_auth,
    exchange_within,
)
from prober.http.status import status_matches
from prober.http.timing import AttemptTiming
from prober.http.tls_chain import client_cert_not_after, tls_outcome, verification_failure
from prober.http.tls_contexts import TlsContexts
from prober.probers.http_expect import check_body, check_certificate
from prober.reasons import classify, describe
from prober.result import Reason, Result, TlsOutcome, cap_detail

_FAMILIES = {"auto": socket.AF_UNSPEC, "ip4": socket.AF_INET, "ip6": socket.AF_INET6}


class HttpProber:
    """Probes one `type: http` check. Built once per config load; never shares a connection between runs."""

    grace_s = 0.0

    def __init__(self, check: HttpCheck, tls_contexts: TlsContexts) -> None:
        self.check = check
        url = URL(check.url)
        # a plain-http URL may still redirect to https, so any check that follows redirects gets a context
        needs_tls = url.scheme == "https" or check.follow_redirects
        headers = {"User-Agent": f"prober/{__version__}", "Accept-Encoding": "gzip, deflate"}
        headers.update(check.headers)
        if check.bearer_token is not None:
            headers["Authorization"] = f"Bearer {check.bearer_token}"
        if check.basic_auth is not None:
            headers["Authorization"] = basic_auth(check.basic_auth.username, check.basic_auth.password or "")
        self._request = Request(
            method=check.method, url=url, headers=headers,
            body=check.body.encode() if check.body is not None else None,
            max_body_bytes=check.max_body_bytes, follow_redirects=check.follow_redirects,
            max_redirects=check.max_redirects, family=_FAMILIES[check.ip_family],
            tls_context=tls_contexts.get(check.tls) if needs_tls else None, server_hostname=check.tls.server_name,
            proxy=URL(check.proxy) if check.proxy is not None else None,
        )
        self._client_not_after = client_cert_not_after(check.tls.cert_file) if needs_tls else None

    async def probe(self) -> Result:
        started_at = time.time()
        start = time.perf_counter()
        timing = AttemptTiming()
        try:
            response = await exchange_within(self._request, timing, start, self.check.timeout)
        except TimeoutError:
            return self._result(Reason.TIMEOUT, started_at, start, timing,
                                detail=f"no answer within {self.check.timeout:g}s "
                                       f"(during {timing.stage(start + self.check.timeout)})")
        except BodyTooLargeError as exc:
            timing.body_end()
            return self._result(Reason.TOO_LARGE, started_at, start, timing, exc.status, detail=str(exc))
        except BodyDecodingError as exc:
            return self._result(Reason.PROTOCOL, started_at, start, timing, exc.status, detail=str(exc))
        except ssl.SSLCertVerificationError as exc:  # the chain stays readable: name its bad certificate
            outcome = self._outcome(timing.tls_object)
            detail = verification_failure(exc, outcome.chain if outcome else (), time.time())
            return self._result(Reason.TLS, started_at, start, timing, detail=detail, outcome=outcome)
        except (ConnectFailedError, ProtocolError, TooManyRedirectsError, OSError, ValueError) as exc:
            return self._result(classify(exc), started_at, start, timing, detail=describe(exc))
        check = self.check
        status, body = response.status, response.body
        outcome = self._outcome(response.tls_object)
        failure = None
        if not status_matches(status, check.expect.status):
            failure = Reason.HTTP_STATUS, f"status {status} not in {', '.join(check.expect.status)}"
        failure = failure or check_body(check.expect, response.headers, body)
        failure = failure or check_certificate(check.expect, outcome)
        duration = _ended(timing) - start
        if failure is None and check.expect.max_duration is not None and duration > check.expect.max_duration:
            failure = Reason.SLOW, f"took {duration:.3f}s (max_duration: {check.expect.max_duration:g}s)"
        reason, detail = failure or (Reason.OK, f"status {status}")
        return self._result(reason, started_at, start, timing, status, detail, outcome)

    def _outcome(self, tls_object: ssl.SSLObject | None) -> TlsOutcome | None:
        """The TLS session of the final answer's connection (None over plain http or before any certificate)."""
        if tls_object is None:
            return None
        outcome = tls_outcome(tls_object, self._client_not_after)
        return outcome if outcome.chain else None

    def _result(
        self, reason: Reason, started_at: float, start: float, timing: AttemptTiming,
        status: int | None = None, detail: str = "", outcome: TlsOutcome | None = None,
    ) -> Result:
        return Result(
            check=self.check.name, ok=reason is Reason.OK, reason=reason,
            duration_s=_ended(timing) - start, started_at=started_at, phases=timing.phases(),
            status_code=status, cert_not_after=outcome.earliest_not_after if outcome is not None else None,
            detail=cap_detail(detail), protocol=outcome,
        )


def _ended(timing: AttemptTiming) -> float:
    """When the exchange ended: the final answer's last byte as it arrived, or now when there was none (a run
    that failed or timed out lasted until now). The assertions over the body are the agent's time, not the target's."""
    return timing.ended_at if timing.ended_at is not None else time.perf_counter()
