"""`j.http`: the HTTP client of API journeys, recording each request's phases as the http check does.

One connection pool and cookie jar per run (a user's client keeps its connection and session between calls;
the next run starts cold). Bodies are read whole, bounded by `max_body_bytes`, so a response can be read
again (`text()`, `json()`) without awaiting. Requests' URLs are never recorded: they may carry secrets.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import aiohttp
from multidict import CIMultiDictProxy

from prober import __version__
from prober.http.body import read_body
from prober.http.timing import AttemptTiming, trace_config
from prober.result import Phase

DEFAULT_MAX_BODY_BYTES = 8 << 20
_TRACE = trace_config()


class HttpStatusError(Exception):
    """`response.raise_for_status()` on a 4xx/5xx answer: the run's reason is `http_status`."""

    def __init__(self, method: str, status: int) -> None:
        super().__init__(f"{method} answered {status}")
        self.status = status


@dataclass(frozen=True)
class HttpResponse:
    """A finished response with its whole (bounded, decompressed) body."""

    method: str
    status: int
    headers: CIMultiDictProxy[str]
    body: bytes

    @property
    def ok(self) -> bool:
        return self.status < 400

    def text(self, encoding: str = "utf-8") -> str:
        return self.body.decode(encoding, errors="replace")

    def json(self) -> Any:
        return json.loads(self.body)

    def raise_for_status(self) -> HttpResponse:
        if not self.ok:
            raise HttpStatusError(self.method, self.status)
        return self


@dataclass
class RequestLog:
    """What the run's requests cost, summed: phases, count, and the last status seen."""

    requests: int = 0
    phases: dict[Phase, float] = field(default_factory=dict)
    last_status: int | None = None

    def add(self, timing: AttemptTiming, status: int | None) -> None:
        self.requests += 1
        for phase, seconds in timing.phases().items():
            self.phases[phase] = self.phases.get(phase, 0.0) + seconds
        if status is not None:
            self.last_status = status


class JourneyHttp:
    """`await j.http.get(url)`, `.post(url, json=...)`, ...: each returns an HttpResponse.

    Network failures raise aiohttp's errors (the run's reason then says dns, connect, tls, protocol or
    timeout); a 4xx/5xx is an ordinary response unless the script calls `raise_for_status()`.
    """

    def __init__(self, log: RequestLog, max_body_bytes: int = DEFAULT_MAX_BODY_BYTES) -> None:
        self._log = log
        self._max_body_bytes = max_body_bytes
        self._session: aiohttp.ClientSession | None = None

    def _client(self) -> aiohttp.ClientSession:
        if self._session is None:
            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(use_dns_cache=False, limit=0),
                trace_configs=[_TRACE], auto_decompress=False, cookie_jar=aiohttp.CookieJar(unsafe=True),
                headers={"User-Agent": f"prober/{__version__}", "Accept-Encoding": "gzip, deflate"},
                timeout=aiohttp.ClientTimeout(),  # the journey's timeout is the bound
            )
        return self._session

    async def request(self, method: str, url: str, **kwargs: Any) -> HttpResponse:
        timing = AttemptTiming()
        status: int | None = None
        try:
            with timing:
                async with self._client().request(method, url, trace_request_ctx=timing, **kwargs) as response:
                    status = response.status
                    body = await read_body(response, self._max_body_bytes)
                    timing.body_end()
                    return HttpResponse(method, status, response.headers, body)
        finally:
            self._log.add(timing, status)

    async def get(self, url: str, **kwargs: Any) -> HttpResponse:
        return await self.request("GET", url, **kwargs)

    async def post(self, url: str, **kwargs: Any) -> HttpResponse:
        return await self.request("POST", url, **kwargs)

    async def put(self, url: str, **kwargs: Any) -> HttpResponse:
        return await self.request("PUT", url, **kwargs)

    async def patch(self, url: str, **kwargs: Any) -> HttpResponse:
        return await self.request("PATCH", url, **kwargs)

    async def delete(self, url: str, **kwargs: Any) -> HttpResponse:
        return await self.request("DELETE", url, **kwargs)

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
