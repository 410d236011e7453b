"""The HTTP check's client: HTTP/1.1, one request per fresh connection, timed phase by phase, nothing shared.

Why not aiohttp (which `j.http` keeps): a probe needs none of a session's pooling or middleware, and aiohttp's
per-request machinery costs about ten times the exchange itself in CPU, which at 1,000 probes/s is the difference
between idle cores and late probes. This client speaks what a probe needs and no more: Content-Length, chunked
and close-delimited bodies, skipped 1xx answers, redirects (with the cookies they set), an HTTP proxy (absolute
form for http, CONNECT for https) and TLS with SNI. Every request says `Connection: close` and every connection
is closed after its answer, so no state lives from one probe to the next.

Failures raise ConnectFailedError, ProtocolError, TooManyRedirectsError, socket.gaierror (DNS), ssl.SSLError
and the body's BodyTooLargeError / BodyDecodingError; `prober.reasons.classify` names each.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import re
import socket
import ssl
import time
from collections.abc import Mapping
from dataclasses import dataclass

from aiohttp import CookieJar
from multidict import CIMultiDict, CIMultiDictProxy
from yarl import URL

from prober.http.body import BodyDecodingError, BodyReader, BodyTooLargeError
from prober.http.connection import Connection
from prober.http.timing import AttemptTiming

MAX_HEAD_BYTES = 64 * 1024  # status line + headers; past it the answer is a protocol error
_REDIRECTS = frozenset({301, 302, 303, 307, 308})
_NO_BODY_STATUSES = frozenset({204, 304})
_STATUS_LINE = re.compile(rb"HTTP/1\.[01] ([1-9]\d\d)(?: ([^\r\n]*))?")
_CHUNK_SIZE = re.compile(rb"[0-9a-fA-F]{1,16}")
_HEADER_NAME = re.compile(rb"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
_DEFAULT_PORTS = {"http": 80, "https": 443}


class ConnectFailedError(Exception):
    """No TCP connection to the target (or the proxy): refused, unreachable, no route."""


class ProtocolError(Exception):
    """The server broke HTTP/1.1: no or a malformed answer, a bad header, a truncated or bad body."""


class TooManyRedirectsError(Exception):
    """More redirects than `max_redirects`."""

    def __init__(self, limit: int) -> None:
        super().__init__(f"more than {limit} redirects")


@dataclass(frozen=True, slots=True)
class Request:
    """What a check sends, built once per config load; `exchange` sends it on a fresh connection each time."""

    method: str
    url: URL
    headers: Mapping[str, str]
    body: bytes | None
    max_body_bytes: int
    follow_redirects: bool = True
    max_redirects: int = 10
    family: int = socket.AF_UNSPEC
    tls_context: ssl.SSLContext | None = None
    server_hostname: str | None = None  # SNI and the name verified, instead of the URL's host
    proxy: URL | None = None


@dataclass(frozen=True, slots=True)
class Response:
    """The final answer: status, headers, the (bounded, decompressed) body and its connection's TLS session."""

    status: int
    headers: CIMultiDictProxy[str]
    body: bytes
    tls_object: ssl.SSLObject | None


async def exchange(request: Request, timing: AttemptTiming) -> Response:
    """Send `request`, follow its redirects, and return the final answer. Bound it with the caller's timeout."""
    method, url, body = request.method, request.url, request.body
    headers = dict(request.headers)
    cookies: CookieJar | None = None  # only when a redirect sets one: most probes never need a jar
    redirects = 0
    while True:
        if cookies is not None:
            sent = [f"{name}={morsel.coded_value}" for name, morsel in cookies.filter_cookies(url).items()]
            configured = request.headers.get("Cookie")
            headers["Cookie"] = "; ".join([configured, *sent] if configured else sent)
        answer = await _hop(request, method, url, headers, body, timing)
        if answer.redirect_to is None:
            return Response(answer.status, CIMultiDictProxy(answer.headers), answer.body, answer.tls_object)
        redirects += 1
        if redirects > request.max_redirects:
            raise TooManyRedirectsError(request.max_redirects)
        set_cookies = answer.headers.getall("Set-Cookie", ())
        if set_cookies:
            cookies = cookies if cookies is not None else CookieJar(unsafe=True)  # unsafe: IP hosts keep cookies
            cookies.update_cookies_from_headers(set_cookies, url)
        target = _redirect_target(url, answer.redirect_to)
        if (answer.status == 303 and method != "HEAD") or (answer.status in (301, 302) and method == "POST"):
            method, body = "GET", None
        if target.origin() != url.origin():  # credentials and a configured Host stay with their origin
            for name in [name for name in headers if name.lower() in ("authorization", "host")]:
                del headers[name]
        url = target


async def exchange_within(request: Request, timing: AttemptTiming, start: float, timeout_s: float) -> Response:
    """`exchange`, bounded by `timeout_s` from `start` (perf_counter time): TimeoutError past it.

    An answer whose last byte reached this host by the deadline (the kernel's stamp) is taken even when this loop
    got to it only after the deadline (a stalled or starved worker wakes to its timer and the answer together): a
    late agent never turns an answer that came in time into a timeout.
    """
    with timing:
        task = asyncio.ensure_future(exchange(request, timing))
    try:
        done, _ = await asyncio.wait({task}, timeout=max(0.0, start + timeout_s - time.perf_counter()))
        if not done:
            await asyncio.sleep(0)  # one more turn of the loop: it reads what had already arrived
        elif task.exception() is not None:
            return await task  # it failed (refused, reset, ...) before the deadline: that is the outcome
        if timing.ended_at is None or timing.ended_at - start > timeout_s:  # no answer by the deadline
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task  # its connection closes before the timeout is reported
            raise TimeoutError
        return await task
    finally:
        task.cancel()  # a no-op once it is done; else the probe itself was cancelled (a stop)


def _redirect_target(url: URL, location: str) -> URL:
    try:
        target = url.join(URL(location))
    except ValueError as exc:
        raise ProtocolError(f"redirect to an invalid location: {exc}") from None
    if target.scheme not in _DEFAULT_PORTS or not target.raw_host:
        raise ProtocolError(f"redirect to a location that is not http(s): scheme {target.scheme!r}")
    return target.with_fragment(None)


@dataclass(frozen=True, slots=True)
class _Answer:
    status: int
    headers: CIMultiDict[str]
    body: bytes
    tls_object: ssl.SSLObject | None
    redirect_to: str | None  # the Location of a redirect that is to be followed


async def _hop(request: Request, method: str, url: URL, headers: Mapping[str, str], body: bytes | None,
               timing: AttemptTiming) -> _Answer:
    loop = asyncio.get_running_loop()
    tls = url.scheme == "https"
    if tls and request.tls_context is None:
        raise ProtocolError("a redirect to https on a check without TLS settings")
    host, port = url.raw_host or "", url.port or _DEFAULT_PORTS[url.scheme]
    server_hostname = request.server_hostname or host
    proxy = request.proxy
    timing.connection_start()
    if proxy is None:
        transport, reader = await _connect(loop, host, port, request.family, timing,
                                           request.tls_context if tls else None, server_hostname)
    else:
        transport, reader = await _connect(loop, proxy.raw_host or "", proxy.port or 80, request.family, timing,
                                           None, None, what="the proxy")
    try:
        if proxy is not None and tls:
            await _tunnel(reader, transport, _authority(url), _proxy_auth(proxy))
            await transport.start_tls(request.tls_context, server_hostname)  # type: ignore[arg-type]
        timing.connection_end()
        tls_object = transport.get_extra_info("ssl_object") if tls else None
        absolute = proxy is not None and not tls
        head = _request_head(method, url, headers, body, _proxy_auth(proxy) if absolute else None, absolute)
        reader.start(head_only=method == "HEAD", follow_redirects=request.follow_redirects,
                     max_body_bytes=request.max_body_bytes, timing=timing)
        timing.headers_sent()  # before the write: the request is on its way during it, whatever runs after it
        transport.write(head + body if body else head)
        if transport.sent_at is not None:  # when it left this host, by the kernel's stamp
            timing.request_left(transport.sent_at)
        answer = await reader.done
        return _Answer(answer.status, answer.headers, answer.body, tls_object, answer.redirect_to)
    finally:
        transport.close()


async def _connect(loop: asyncio.AbstractEventLoop, host: str, port: int, family: int, timing: AttemptTiming,
                   tls_context: ssl.SSLContext | None, server_hostname: str | None,
                   what: str = "the target") -> tuple[Connection, _AnswerReader]:
    """A connection (TLS when given a context) to the first of `host`'s addresses that accepts TCP, in resolver
    order. A failed TLS handshake is final: the next address would present the same certificate."""
    if _is_ip(host):
        addresses = [host]
    else:
        timing.dns_start()
        infos = await loop.getaddrinfo(host, port, family=family, type=socket.SOCK_STREAM)
        timing.dns_end()
        addresses = list(dict.fromkeys(str(info[4][0]) for info in infos))
    errors: list[str] = []
    for address in addresses:
        try:
            return await _connect_to(loop, address, port, tls_context, server_hostname)
        except ssl.SSLError:
            raise
        except OSError as exc:
            errors.append(exc.strerror or str(exc))
    raise ConnectFailedError(f"{what} refused or unreachable on port {port}: {'; '.join(errors) or 'no address'}")


async def _connect_to(loop: asyncio.AbstractEventLoop, address: str, port: int, tls_context: ssl.SSLContext | None,
                      server_hostname: str | None) -> tuple[Connection, _AnswerReader]:
    reader = _AnswerReader()
    connection = await Connection.open(loop, address, port, reader)
    if tls_context is not None:
        try:
            await connection.start_tls(tls_context, server_hostname)
        except BaseException:
            connection.close()
            raise
    return connection, reader


async def _tunnel(reader: _AnswerReader, transport: Connection, authority: str,
                  proxy_auth: str | None) -> None:
    """Ask an HTTP proxy for a CONNECT tunnel to `authority`; the TLS handshake then runs through it."""
    lines = [f"CONNECT {authority} HTTP/1.1", f"Host: {authority}"]
    if proxy_auth:
        lines.append(f"Proxy-Authorization: {proxy_auth}")
    reader.start(head_only=True, follow_redirects=False, max_body_bytes=0, timing=None, keep_open=True)
    transport.write(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1"))
    answer = await reader.done
    if not 200 <= answer.status < 300:
        raise ProtocolError(f"the proxy answered CONNECT with status {answer.status}")
    reader.reset()


def _is_ip(host: str) -> bool:
    try:
        socket.inet_pton(socket.AF_INET6 if ":" in host else socket.AF_INET, host)
    except OSError:
        return False
    return True


def _authority(url: URL) -> str:
    host = url.raw_host or ""
    host = f"[{host}]" if ":" in host else host
    port = url.port or _DEFAULT_PORTS[url.scheme]
    return host if port == _DEFAULT_PORTS[url.scheme] else f"{host}:{port}"


def _proxy_auth(proxy: URL | None) -> str | None:
    if proxy is None or proxy.user is None:
        return None
    return basic_auth(proxy.user, proxy.password or "")


def basic_auth(username: str, password: str) -> str:
    """The `Authorization` value of HTTP basic auth (UTF-8, as RFC 7617 and browsers send it)."""
    return "Basic " + base64.b64encode(f"{username}:{password}".encode()).decode("ascii")


def _request_head(method: str, url: URL, headers: Mapping[str, str], body: bytes | None, proxy_auth: str | None,
                  absolute: bool) -> bytes:
    target = url.raw_path_qs or "/"
    if absolute:
        target = f"{url.scheme}://{_authority(url)}{target}"
    lower = {name.lower(): name for name in headers}
    host = headers[lower["host"]] if "host" in lower else _authority(url)  # a configured Host wins (virtual hosts)
    lines = [f"{method} {target} HTTP/1.1", f"Host: {host}"]
    lines.extend(f"{name}: {value}" for name, value in headers.items() if name.lower() not in ("host", "connection"))
    if "accept" not in lower:
        lines.append("Accept: */*")
    if body is not None or method in ("POST", "PUT", "PATCH"):
        lines.append(f"Content-Length: {len(body or b'')}")
        if body and "content-type" not in lower:
            lines.append("Content-Type: application/octet-stream")
    if proxy_auth:
        lines.append(f"Proxy-Authorization: {proxy_auth}")
    lines.append("Connection: close")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("utf-8")


@dataclass(frozen=True, slots=True)
class _Received:
    status: int
    headers: CIMultiDict[str]
    body: bytes
    redirect_to: str | None


class _AnswerReader(asyncio.Protocol):
    """Parses one answer as its bytes arrive and resolves `done` with it; any fault resolves `done` with an error.

    Framing follows RFC 9112: no body for HEAD, 1xx, 204 and 304; chunked when the last transfer coding says
    so; else Content-Length; else until the server closes.
    """

    def __init__(self) -> None:
        self.transport: Connection | None = None
        self.done: asyncio.Future[_Received] = asyncio.get_running_loop().create_future()
        self._buffer = bytearray()
        self._state = "idle"  # idle | head | length | chunk-size | chunk-data | chunk-end | trailer | close | done
        self._head_only = self._follow = self._keep_open = False
        self._max_body_bytes = 0
        self._timing: AttemptTiming | None = None
        self._status = 0
        self._headers: CIMultiDict[str] = CIMultiDict()
        self._body: BodyReader | None = None
        self._left = 0  # bytes left of a Content-Length body or of the current chunk
        self._received = 0
        self._lost = False
        self._lost_at = 0.0

    def start(self, head_only: bool, follow_redirects: bool, max_body_bytes: int, timing: AttemptTiming | None,
              keep_open: bool = False) -> None:
        self._head_only, self._follow, self._keep_open = head_only, follow_redirects, keep_open
        self._max_body_bytes, self._timing = max_body_bytes, timing
        self._state = "head"
        if self._lost:
            self._fail(ProtocolError("the connection closed before the request was sent"))

    def reset(self) -> None:
        """Ready for the next answer on the same connection (after a CONNECT tunnel is up)."""
        self.done = asyncio.get_running_loop().create_future()
        self._buffer.clear()
        self._state = "idle"
        self._received = 0
        self._body = None

    # asyncio.Protocol
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, Connection)
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        if self._state in ("idle", "done"):
            return
        try:
            self._received += len(data)
            if self._state == "head":
                if self._timing is not None and self._received == len(data):
                    self._timing.response_start(self._arrived())
                self._buffer += data
                self._parse_head()
            elif self._state in ("length", "close"):
                self._take_body(data)
            else:
                self._buffer += data
                self._parse_chunks()
        except Exception as exc:  # a parse fault of any kind is the answer's outcome
            self._fail(exc)

    def eof_received(self) -> bool:
        return False  # let the transport close: connection_lost decides what an early close means

    def connection_lost(self, exc: Exception | None) -> None:
        self._lost_at = self._arrived()  # when the close reached this host: a close-delimited body's end
        self.transport = None
        self._lost = True
        if self._state in ("idle", "done"):  # idle: nothing awaits an answer yet (start() reports the loss)
            return
        if self._state == "close" and exc is None:
            self._finish()
            return
        if self._state == "head":
            what = "before any answer" if not self._received else "in the middle of the answer's head"
        elif self._state == "length":
            what = f"with {self._left} body bytes still to come"
        elif self._state == "close":
            what = "abnormally during the body"
        else:
            what = "in the middle of a chunked body"
        if isinstance(exc, ssl.SSLError):  # a TLS alert (a refused client certificate, under TLS 1.3): tls
            self._fail(exc)
            return
        cause = f" ({exc.__class__.__name__}: {exc})" if exc is not None else ""
        self._fail(ProtocolError(f"the connection closed {what}{cause}"))

    # parsing
    def _parse_head(self) -> None:
        while self._state == "head":
            buffer = self._buffer
            end, sep = buffer.find(b"\r\n\r\n"), 4
            bare = buffer.find(b"\n\n")
            if bare >= 0 and (end < 0 or bare < end):
                end, sep = bare, 2
            if end > MAX_HEAD_BYTES or (end < 0 and len(buffer) > MAX_HEAD_BYTES):
                raise ProtocolError(f"an answer head larger than {MAX_HEAD_BYTES} bytes")
            if end < 0:
                return
            head = bytes(buffer[:end])
            del buffer[: end + sep]
            self._read_head(head)
        if self._state in ("length", "close") and self._buffer:
            rest = bytes(self._buffer)
            self._buffer.clear()
            self._take_body(rest)
        elif self._state.startswith("chunk"):
            self._parse_chunks()

    def _read_head(self, head: bytes) -> None:
        status_line, *lines = head.split(b"\n")
        match = _STATUS_LINE.fullmatch(status_line.rstrip(b"\r"))
        if match is None:
            raise ProtocolError(f"not an HTTP/1.x status line: {status_line[:40]!r}")
        status = int(match[1])
        headers: CIMultiDict[str] = CIMultiDict()
        for raw in lines:
            line = raw.rstrip(b"\r")
            name, colon, value = line.partition(b":")
            if not colon or not _HEADER_NAME.fullmatch(name):
                raise ProtocolError(f"a malformed header line: {line[:40]!r}")
            headers.add(name.decode("ascii"), value.strip(b" \t").decode("latin-1"))
        if 100 <= status < 200:
            if status == 101:
                raise ProtocolError("101 Switching Protocols to a request that asked for no upgrade")
            return  # an interim answer (100 Continue, 103 Early Hints): the final one follows
        self._status, self._headers = status, headers
        location = headers.get("Location")
        if self._follow and status in _REDIRECTS and location:
            self._finish(redirect_to=location)
            return
        if self._head_only or status in _NO_BODY_STATUSES:
            self._finish()
            return
        self._body = BodyReader(headers, self._max_body_bytes)
        codings = ",".join(headers.getall("Transfer-Encoding", ())).lower()
        lengths = {value.strip() for value in ",".join(headers.getall("Content-Length", ())).split(",") if value}
        if codings:
            self._state = "chunk-size" if codings.rsplit(",", 1)[-1].strip() == "chunked" else "close"
        elif lengths:
            if len(lengths) != 1 or not next(iter(lengths)).isdigit():
                raise ProtocolError(f"an invalid Content-Length: {', '.join(sorted(lengths))[:40]}")
            self._left = int(lengths.pop())
            self._state = "length"
            if self._left == 0:
                self._finish()
        else:
            self._state = "close"

    def _take_body(self, data: bytes) -> None:
        assert self._body is not None
        if self._state == "close":
            self._body.feed(data)
            return
        if len(data) > self._left:
            data = data[: self._left]  # bytes past the body are not part of this answer
        self._left -= len(data)
        self._body.feed(data)
        if self._left == 0:
            self._finish()

    def _parse_chunks(self) -> None:
        buffer, body = self._buffer, self._body
        assert body is not None
        while True:
            if self._state == "chunk-data":
                if not buffer:
                    return
                take = min(len(buffer), self._left)
                body.feed(bytes(buffer[:take]))
                del buffer[:take]
                self._left -= take
                if self._left:
                    return
                self._state = "chunk-end"
            if self._state == "chunk-end":
                if not buffer or buffer == b"\r":
                    return
                if buffer.startswith(b"\r\n"):
                    del buffer[:2]
                elif buffer.startswith(b"\n"):
                    del buffer[:1]
                else:
                    raise ProtocolError("a chunk longer than its declared size")
                self._state = "chunk-size"
            end = buffer.find(b"\n")
            if end < 0:
                if len(buffer) > MAX_HEAD_BYTES:
                    raise ProtocolError("a chunk size line or trailer that never ends")
                return
            line = bytes(buffer[:end]).rstrip(b"\r")
            del buffer[: end + 1]
            if self._state == "trailer":
                if not line:
                    self._finish()
                    return
                continue
            size = line.split(b";", 1)[0].strip(b" \t")
            if not _CHUNK_SIZE.fullmatch(size):
                raise ProtocolError(f"an invalid chunk size: {size[:20]!r}")
            self._left = int(size, 16)
            self._state = "chunk-data" if self._left else "trailer"

    def _finish(self, redirect_to: str | None = None) -> None:
        self._state = "done"
        if self._timing is not None and redirect_to is None:
            self._timing.body_end(self._arrived())
        body = self._body.body() if self._body is not None else b""
        if not self.done.done():
            self.done.set_result(_Received(self._status, self._headers, body, redirect_to))
        if not self._keep_open and self.transport is not None:
            self.transport.close()

    def _arrived(self) -> float:
        """When the bytes being parsed reached this host (the kernel's stamp), not when the loop got to them."""
        if self.transport is not None:
            return self.transport.received_at
        return self._lost_at if self._lost else time.perf_counter()

    def _fail(self, exc: Exception) -> None:
        self._state = "done"
        if isinstance(exc, BodyTooLargeError | BodyDecodingError):
            exc.status = self._status
        if not self.done.done():
            self.done.set_exception(exc)
        if self.transport is not None:
            self.transport.abort()
