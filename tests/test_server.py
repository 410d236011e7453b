"""Endpoints: the status page and its API, /metrics, /healthz, /readyz, /artifacts, and basic auth with a plain
or bcrypt password."""

from __future__ import annotations

import gzip
import json
import ssl
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import aiohttp
import bcrypt
import pytest
from aiohttp.test_utils import TestServer

from prober.config.models import BasicAuth, ServerTls
from prober.exporters.status import RunHistory
from prober.server import BasicAuthGuard, bound_port, build_app, start_server
from tests.test_status import fed_history
from tests.tls_certs import Certs

Factory = Callable[[BasicAuth | None, bool], TestServer]


@pytest.fixture
def artifacts(tmp_path: Path) -> Path:
    run = tmp_path / "artifacts" / "shop_checkout" / "20261125T100000Z-abc123"
    run.mkdir(parents=True)
    (run / "screenshot.png").write_bytes(b"\x89PNG fake")
    (run / "console.log").write_text("[error] boom\n")
    (tmp_path / "artifacts" / "secret.txt").write_text("not an artifact")
    return tmp_path / "artifacts"


@pytest.fixture
async def serve(artifacts: Path) -> AsyncIterator[Callable[[BasicAuth | None, bool], TestServer]]:
    servers: list[TestServer] = []

    def factory(auth: BasicAuth | None, ready: bool) -> TestServer:
        app = build_app(lambda accept: (b"prober_up 1\n", "text/plain; version=0.0.4"), lambda: ready, lambda: auth,
                        lambda: str(artifacts), fed_history())
        server = TestServer(app, host="127.0.0.1")
        servers.append(server)
        return server

    yield factory
    for server in servers:
        await server.close()


async def get(server: TestServer, path: str, auth: tuple[str, str] | None = None) -> tuple[int, str]:
    await server.start_server()
    headers = {"Authorization": aiohttp.encode_basic_auth(*auth)} if auth else {}
    async with aiohttp.ClientSession() as session, session.get(server.make_url(path), headers=headers) as response:
        return response.status, (await response.read()).decode(errors="replace")


async def test_endpoints_without_auth(serve: Factory) -> None:
    server = serve(None, True)
    assert await get(server, "/metrics") == (200, "prober_up 1\n")
    assert await get(server, "/healthz") == (200, "ok\n")
    assert await get(server, "/readyz") == (200, "ready\n")


async def test_not_ready_until_config_and_scheduler_are_up(serve: Factory) -> None:
    server = serve(None, False)
    assert await get(server, "/readyz") == (503, "not ready\n")
    assert (await get(server, "/healthz"))[0] == 200


async def test_there_is_no_endpoint_that_probes_on_request(serve: Factory) -> None:
    server = serve(None, True)
    assert (await get(server, "/probe?target=http://127.0.0.1:1/"))[0] == 404


async def test_artifacts_are_served_and_nothing_else(serve: Factory) -> None:
    server = serve(None, True)
    assert await get(server, "/artifacts/shop_checkout/20261125T100000Z-abc123/console.log") == (200, "[error] boom\n")
    assert (await get(server, "/artifacts/shop_checkout/20261125T100000Z-abc123/screenshot.png"))[0] == 200
    for path in ("/artifacts/secret.txt", "/artifacts/shop_checkout/20261125T100000Z-abc123/../../secret.txt",
                 "/artifacts/shop_checkout/%2E%2E/x/console.log", "/artifacts/shop_checkout/nope/trace.zip"):
        assert (await get(server, path))[0] == 404, path


async def test_artifacts_are_behind_the_same_auth(serve: Factory) -> None:
    server = serve(BasicAuth(username="prom", password="s3cret"), True)
    path = "/artifacts/shop_checkout/20261125T100000Z-abc123/console.log"
    assert (await get(server, path))[0] == 401
    assert (await get(server, path, ("prom", "s3cret")))[0] == 200


async def test_basic_auth_with_password_from_env(serve: Factory) -> None:
    server = serve(BasicAuth(username="prom", password="s3cret"), True)
    assert (await get(server, "/metrics"))[0] == 401
    assert (await get(server, "/metrics", ("prom", "wrong")))[0] == 401
    assert (await get(server, "/metrics", ("other", "s3cret")))[0] == 401
    assert (await get(server, "/healthz"))[0] == 200  # liveness and readiness stay open for kubelet
    assert (await get(server, "/readyz"))[0] == 200
    assert await get(server, "/metrics", ("prom", "s3cret")) == (200, "prober_up 1\n")


def test_bcrypt_hash_is_checked_and_cached() -> None:
    hashed = bcrypt.hashpw(b"s3cret", bcrypt.gensalt(rounds=4)).decode()
    guard = BasicAuthGuard(lambda: BasicAuth(username="prom", password_hash=hashed))
    good = aiohttp.encode_basic_auth("prom", "s3cret")
    bad = aiohttp.encode_basic_auth("prom", "nope")
    assert guard.allows(good)
    assert guard.allows(good)  # served from the bounded cache
    assert not guard.allows(bad)
    assert not guard.allows("Basic !!!not-base64")
    assert not guard.allows(None)
    for i in range(40):
        guard.allows(aiohttp.encode_basic_auth("prom", f"guess{i}"))
    assert len(guard._verified) <= 16


async def test_endpoints_over_tls(certs: Certs) -> None:
    app = build_app(lambda accept: (b"prober_up 1\n", "text/plain"), lambda: True, lambda: None, lambda: "/nonexistent",
                    RunHistory())
    runner = await start_server(app, "127.0.0.1:0", ServerTls(cert_file=str(certs.good[0]),
                                                              key_file=str(certs.good[1])))
    try:
        port = bound_port(runner)
        context = ssl.create_default_context(cafile=str(certs.ca_cert))
        async with aiohttp.ClientSession() as session, session.get(
            f"https://localhost:{port}/metrics", ssl=context
        ) as response:
            assert response.status == 200
            assert await response.text() == "prober_up 1\n"
    finally:
        await runner.cleanup()


async def test_status_page_and_api(serve: Factory) -> None:
    server = serve(None, True)
    status, text = await get(server, "/api/checks")
    assert status == 200
    listing = json.loads(text)
    assert listing["region"] == "eu" and [c["name"] for c in listing["checks"]] == ["shop_checkout", "shop_home"]
    status, text = await get(server, "/api/checks/shop_checkout")
    view = json.loads(text)
    assert status == 200 and view["status"] == "failing"
    assert view["runs"][0]["journey"]["steps"][1] == {"name": "pay", "status": "failed", "duration_s": 0.5,
                                                     "detail": "expected <b>Thanks</b>"}
    assert (await get(server, "/api/checks/nope"))[0] == 404
    status, page = await get(server, "/")
    assert status == 200 and 'href="/checks/shop_checkout"' in page and "failing" in page
    status, page = await get(server, "/checks/shop_checkout")
    assert status == 200 and "Failed step: pay" in page
    assert "expected &lt;b&gt;Thanks&lt;/b&gt;" in page and "<b>Thanks</b>" not in page  # escaped
    assert 'src="/artifacts/shop_checkout/20261125T100000Z-abc123/screenshot.png"' in page
    assert (await get(server, "/checks/nope"))[0] == 404


async def test_status_page_is_behind_the_same_auth(serve: Factory) -> None:
    server = serve(BasicAuth(username="prom", password="s3cret"), True)
    for path in ("/", "/checks/shop_home", "/api/checks", "/api/checks/shop_home"):
        assert (await get(server, path))[0] == 401, path
        assert (await get(server, path, ("prom", "s3cret")))[0] == 200, path


@pytest.mark.parametrize("size", [12, 1 << 20])  # compressed on the loop, and in a thread
async def test_metrics_are_gzipped_when_the_scraper_asks(artifacts: Path, size: int) -> None:
    body = (b"prober_up 1\n" * (size // 12 + 1))[:size]
    app = build_app(lambda accept: (body, "text/plain; version=0.0.4"), lambda: True, lambda: None,
                    lambda: str(artifacts), fed_history())
    async with TestServer(app, host="127.0.0.1") as server, aiohttp.ClientSession(auto_decompress=False) as session:
        for accept_encoding, compressed in (("gzip", True), ("deflate, gzip;q=0.5", True), ("gzip;q=0", False),
                                            ("identity", False)):
            async with session.get(server.make_url("/metrics"), headers={"Accept-Encoding": accept_encoding}) as r:
                raw = await r.read()
                assert (r.headers.get("Content-Encoding") == "gzip") is compressed, accept_encoding
                assert (gzip.decompress(raw) if compressed else raw) == body
                if compressed and size > 1000:
                    assert len(raw) < size / 10
