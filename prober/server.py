"""The agent's HTTP endpoints: the status page (/, /checks/{name}) and its JSON API (/api/checks,
/api/checks/{name}), /metrics, /healthz, /readyz, /artifacts/...; all but the health endpoints optionally
behind basic auth, all optionally over TLS.

There is deliberately no endpoint that probes a target on request: the agent probes only what its config says.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import gzip
import hashlib
import hmac
import ssl
from collections.abc import Awaitable, Callable
from typing import Any, Protocol

import bcrypt
from aiohttp import web

from prober.config.models import BasicAuth, ServerTls
from prober.journey.artifacts import resolve
from prober.status_page import check_html, overview_html

MetricsRenderer = Callable[[str | None], tuple[bytes, str]]
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
_VERIFIED_CACHE_MAX = 16
_OPEN_PATHS = frozenset({"/healthz", "/readyz"})

GZIP_LEVEL = 1
"""Fastest: metrics text shrinks ~10x even so, and a 30 MB scrape compresses in a fraction of a second."""
_INLINE_GZIP_BYTES = 64 << 10

_ARTIFACT_TYPES = {".png": "image/png", ".zip": "application/zip", ".log": "text/plain; charset=utf-8",
                   ".har": "application/json"}


class StatusSource(Protocol):
    """The run history the status page shows (exporters.status.RunHistory)."""

    region: str

    def checks(self) -> list[dict[str, Any]]: ...

    def check(self, name: str) -> dict[str, Any] | None: ...


class BasicAuthGuard:
    """Checks `Authorization: Basic` against the configured user; bcrypt results are cached (bounded)."""

    def __init__(self, auth: Callable[[], BasicAuth | None]) -> None:
        self._auth = auth
        self._verified: dict[bytes, None] = {}

    def allows(self, header: str | None) -> bool:
        auth = self._auth()
        if auth is None:
            return True
        if not header or not header.startswith("Basic "):
            return False
        try:
            user, _, password = base64.b64decode(header[6:], validate=True).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError):
            return False
        if not hmac.compare_digest(user.encode(), auth.username.encode()):
            return False
        if auth.password is not None:
            return hmac.compare_digest(password.encode(), auth.password.encode())
        assert auth.password_hash is not None
        key = hashlib.sha256(f"{auth.password_hash}\0{password}".encode()).digest()
        if key in self._verified:
            return True
        try:
            ok = bcrypt.checkpw(password.encode(), auth.password_hash.encode())
        except ValueError:
            return False
        if ok:
            if len(self._verified) >= _VERIFIED_CACHE_MAX:
                self._verified.pop(next(iter(self._verified)))
            self._verified[key] = None
        return ok


def accepts_gzip(accept_encoding: str | None) -> bool:
    """Whether `Accept-Encoding` allows gzip (Prometheus always sends `gzip`); `gzip;q=0` refuses it."""
    for part in (accept_encoding or "").split(","):
        coding, _, params = part.partition(";")
        if coding.strip().lower() in ("gzip", "x-gzip"):
            q = params.strip().removeprefix("q=") if params.strip().startswith("q=") else "1"
            try:
                return float(q) > 0
            except ValueError:
                return False
    return False


def build_app(
    metrics: MetricsRenderer, ready: Callable[[], bool], auth: Callable[[], BasicAuth | None],
    artifacts_dir: Callable[[], str], status: StatusSource,
) -> web.Application:
    """The endpoints app; `ready` says whether config is loaded and the scheduler running; `artifacts_dir` is
    the current config's journey artifacts folder, served read-only under /artifacts/<check>/<run>/<file>."""
    guard = BasicAuthGuard(auth)

    @web.middleware
    async def require_auth(request: web.Request, handler: Handler) -> web.StreamResponse:
        # liveness and readiness stay open: they reveal nothing, and kubelet and HEALTHCHECK carry no password
        if request.path not in _OPEN_PATHS and not guard.allows(request.headers.get("Authorization")):
            return web.Response(status=401, text="unauthorized\n",
                                headers={"WWW-Authenticate": 'Basic realm="prober"'})
        return await handler(request)

    async def metrics_handler(request: web.Request) -> web.Response:
        body, content_type = metrics(request.headers.get("Accept"))
        headers = {"Content-Type": content_type, "Vary": "Accept, Accept-Encoding"}
        if accepts_gzip(request.headers.get("Accept-Encoding")):
            # zlib lets go of the GIL: a large body is compressed in a thread while the loop takes in results
            body = (gzip.compress(body, GZIP_LEVEL, mtime=0) if len(body) < _INLINE_GZIP_BYTES
                    else await asyncio.to_thread(gzip.compress, body, GZIP_LEVEL, mtime=0))
            headers["Content-Encoding"] = "gzip"
        return web.Response(body=body, headers=headers)

    async def healthz(_request: web.Request) -> web.Response:
        return web.Response(text="ok\n")

    async def readyz(_request: web.Request) -> web.Response:
        if ready():
            return web.Response(text="ready\n")
        return web.Response(status=503, text="not ready\n")

    async def artifact(request: web.Request) -> web.StreamResponse:
        path = resolve(artifacts_dir(), request.match_info["path"])
        if path is None:
            raise web.HTTPNotFound(text="no such artifact\n")
        return web.FileResponse(path, headers={"Content-Type": _ARTIFACT_TYPES.get(path.suffix, "text/plain"),
                                               "X-Content-Type-Options": "nosniff"})

    async def index(_request: web.Request) -> web.Response:
        return web.Response(text=overview_html(status.checks(), status.region), content_type="text/html")

    async def check_page(request: web.Request) -> web.Response:
        view = status.check(request.match_info["name"])
        if view is None:
            raise web.HTTPNotFound(text="no such check on this agent\n")
        return web.Response(text=check_html(view), content_type="text/html")

    async def api_checks(_request: web.Request) -> web.Response:
        return web.json_response({"region": status.region, "checks": status.checks()})

    async def api_check(request: web.Request) -> web.Response:
        view = status.check(request.match_info["name"])
        if view is None:
            return web.json_response({"error": "no such check on this agent"}, status=404)
        return web.json_response(view)

    app = web.Application(middlewares=[require_auth])
    app.router.add_get("/metrics", metrics_handler)
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
    app.router.add_get("/artifacts/{path:.+}", artifact)
    app.router.add_get("/", index)
    app.router.add_get("/checks/{name}", check_page)
    app.router.add_get("/api/checks", api_checks)
    app.router.add_get("/api/checks/{name}", api_check)
    return app


async def start_server(app: web.Application, listen: str, tls: ServerTls | None) -> web.AppRunner:
    """Serve `app` on `listen` (host:port); the caller cleans the returned runner up on stop."""
    host, _, port = listen.rpartition(":")
    ssl_context = None
    if tls is not None:
        ssl_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ssl_context.load_cert_chain(tls.cert_file, tls.key_file)
    runner = web.AppRunner(app, access_log=None, handle_signals=False)
    await runner.setup()
    site = web.TCPSite(runner, host.strip("[]") or None, int(port), ssl_context=ssl_context)
    await site.start()
    return runner


def bound_port(runner: web.AppRunner) -> int:
    """The port actually bound (useful with `:0`)."""
    for address in runner.addresses:
        if isinstance(address, tuple):
            return int(address[1])
    raise RuntimeError("server has no TCP address")
