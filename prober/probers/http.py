"""HTTP prober: one request on a fresh connection, timed phase by phase, bounded in time, size and redirects."""

from __future__ import annotations

import asyncio
import socket
import ssl
import time

import aiohttp
from cryptography import x509
from yarl import URL

from prober import __version__
from prober.config.models import HttpCheck
from prober.probers.http_body import BodyDecodingError, BodyTooLargeError, read_body
from prober.probers.http_expect import check_body, check_certificate, status_matches
from prober.probers.http_timing import AttemptTiming, trace_config
from prober.probers.reasons import classify, describe
from prober.probers.tls import TlsContexts
from prober.result import Reason, Result, cap_detail

_FAMILIES = {"auto": socket.AF_UNSPEC, "ip4": socket.AF_INET, "ip6": socket.AF_INET6}
_NO_TIMEOUTS = aiohttp.ClientTimeout()  # the prober's own asyncio.timeout is the one and only bound
_TRACE = trace_config()


class HttpProber:
    """Probes one `type: http` check. Built once per config load; never shares a connection between runs."""

    grace_s = 0.0

    def __init__(self, check: HttpCheck, tls_contexts: TlsContexts) -> None:
        self.check = check
        self._url = URL(check.url)
        self._ssl = tls_contexts.get(check.tls) if self._needs_tls() else None
        headers = {"User-Agent": f"prober/{__version__}", "Accept-Encoding": "gzip, deflate"}
        headers.update(check.headers)
        if check.bearer_token is not None:
            headers["Authorization"] = f"Bearer {check.bearer_token}"
        if check.basic_auth is not None:
            headers["Authorization"] = aiohttp.encode_basic_auth(check.basic_auth.username,
                                                                 check.basic_auth.password or "")
        self._headers = headers
        self._data = check.body.encode() if check.body is not None else None

    def _needs_tls(self) -> bool:
        # a plain-http URL may still redirect to https, so any check that follows redirects gets a context
        return self._url.scheme == "https" or self.check.follow_redirects

    async def probe(self) -> Result:
        started_at = time.time()
        start = time.perf_counter()
        timing = AttemptTiming()
        try:
            async with asyncio.timeout(self.check.timeout):
                with timing:
                    result = await self._exchange(timing, started_at, start)
        except TimeoutError:
            return self._result(Reason.TIMEOUT, started_at, start, timing,
                                detail=f"no answer within {self.check.timeout:g}s (during {timing.stage()})")
        except (aiohttp.ClientError, OSError, ValueError) as exc:
            return self._result(classify(exc), started_at, start, timing, detail=describe(exc))
        return result

    async def _exchange(self, timing: AttemptTiming, started_at: float, start: float) -> Result:
        check = self.check
        # fresh connector per attempt: we measure a new user's DNS + connect + TLS, not a warm pool
        connector = aiohttp.TCPConnector(
            force_close=True, use_dns_cache=False, family=_FAMILIES[check.ip_family], limit=0,
            ssl=self._ssl if self._ssl is not None else True,
        )
        async with aiohttp.ClientSession(
            connector=connector, timeout=_NO_TIMEOUTS, trace_configs=[_TRACE],
            auto_decompress=False, cookie_jar=aiohttp.CookieJar(unsafe=True),
        ) as session, session.request(
            check.method, self._url, headers=self._headers, data=self._data,
            allow_redirects=check.follow_redirects, max_redirects=check.max_redirects,
            proxy=check.proxy, server_hostname=check.tls.server_name, trace_request_ctx=timing,
        ) as response:
            cert_not_after = _cert_not_after(timing.tls_object)
            status = response.status
            try:
                body = b"" if check.method == "HEAD" else await read_body(response, check.max_body_bytes)
            except BodyTooLargeError as exc:
                timing.body_end()
                return self._result(Reason.TOO_LARGE, started_at, start, timing, status, cert_not_after,
                                    str(exc))
            except BodyDecodingError as exc:
                return self._result(Reason.PROTOCOL, started_at, start, timing, status, cert_not_after,
                                    str(exc))
            timing.body_end()
        failure = None
        if not status_matches(status, check.expect.status):
            failure = Reason.HTTP_STATUS, f"status {status} not in {', '.join(check.expect.status)}"
        failure = failure or check_body(check.expect, response.headers, body)
        failure = failure or check_certificate(check.expect, cert_not_after)
        duration = time.perf_counter() - start
        if failure is None and check.expect.max_duration is not None and duration > check.expect.max_duration:
            failure = Reason.SLOW, f"took {duration:.3f}s (max_duration: {check.expect.max_duration:g}s)"
        reason, detail = failure or (Reason.OK, f"status {status}")
        return self._result(reason, started_at, start, timing, status, cert_not_after, detail)

    def _result(
        self, reason: Reason, started_at: float, start: float, timing: AttemptTiming,
        status: int | None = None, cert_not_after: float | None = None, detail: str = "",
    ) -> Result:
        return Result(
            check=self.check.name, ok=reason is Reason.OK, reason=reason,
            duration_s=time.perf_counter() - start, started_at=started_at, phases=timing.phases(),
            status_code=status, cert_not_after=cert_not_after, detail=cap_detail(detail),
        )


def _cert_not_after(tls_object: ssl.SSLObject | None) -> float | None:
    """The leaf certificate's expiry (unix time) of the connection that gave the final response."""
    der = tls_object.getpeercert(binary_form=True) if tls_object is not None else None
    if not der:
        return None
    return x509.load_der_x509_certificate(der).not_valid_after_utc.timestamp()
