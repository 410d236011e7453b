"""Tests for prober.demo: the Demo Shop's pages, JSON API, failure helpers, session cap and CLI, on loopback."""

from __future__ import annotations

import asyncio
import re
import sys
import time
from collections.abc import AsyncIterator

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from prober.demo.app import SESSION_COOKIE, SESSIONS, build_app

Client = TestClient[web.Request, web.Application]


@pytest.fixture
async def client() -> AsyncIterator[Client]:
    async with TestClient(TestServer(build_app())) as c:
        yield c


async def _token(client: Client) -> str:
    resp = await client.post("/api/login", json={"username": "demo", "password": "demo"})
    assert resp.status == 200
    token = (await resp.json())["token"]
    assert isinstance(token, str)
    return token


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def test_home_lists_products_with_add_buttons(client: Client) -> None:
    resp = await client.get("/")
    assert resp.status == 200
    assert resp.content_type == "text/html"
    html = await resp.text()
    assert "<title>Home · Demo Shop</title>" in html
    assert 'name="viewport"' in html
    assert html.count("Add to cart") == 4
    assert "绿茶 Green tea" in html
    assert 'href="/login"' in html
    assert 'href="/cart"' in html
    assert "http://" not in html
    assert "https://" not in html


async def test_product_page_has_add_button_and_unknown_is_404(client: Client) -> None:
    resp = await client.get("/products/1")
    assert resp.status == 200
    html = await resp.text()
    assert 'id="add"' in html
    assert "绿茶 Green tea" in html
    assert (await client.get("/products/999")).status == 404


async def test_login_page_has_form_fields(client: Client) -> None:
    html = await (await client.get("/login")).text()
    for element_id in ("username", "password", "login"):
        assert f'id="{element_id}"' in html


async def test_form_login_sets_cookie_and_redirects_home(client: Client) -> None:
    resp = await client.post("/login", data={"username": "demo", "password": "demo"}, allow_redirects=False)
    assert resp.status == 303
    assert resp.headers["Location"] == "/"
    assert SESSION_COOKIE in resp.cookies
    html = await (await client.get("/")).text()
    assert "Signed in as demo" in html


async def test_form_login_wrong_password_is_401_with_error(client: Client) -> None:
    resp = await client.post("/login", data={"username": "demo", "password": "nope"}, allow_redirects=False)
    assert resp.status == 401
    assert SESSION_COOKIE not in resp.cookies
    html = await resp.text()
    assert re.search(r'id="error"[^>]*>Invalid username or password<', html)


async def test_env_password_is_accepted_as_well(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DEMO_SHOP_PASSWORD", "s3cret")
    async with TestClient(TestServer(build_app())) as c:
        for password in ("s3cret", "demo"):
            resp = await c.post("/api/login", json={"username": "demo", "password": password})
            assert resp.status == 200, password
        resp = await c.post("/api/login", json={"username": "demo", "password": "other"})
        assert resp.status == 401


async def test_browser_flow_add_then_buy_with_form_and_with_fetch(client: Client) -> None:
    resp = await client.post("/cart/add", data={"product_id": "1"}, allow_redirects=False)
    assert resp.status == 303
    assert resp.headers["Location"] == "/cart"
    cart = await (await client.get("/cart")).text()
    assert "绿茶 Green tea" in cart
    assert 'id="buy"' in cart
    assert 'id="msg"' in cart
    assert "Cart (1)" in cart

    done = await client.post("/checkout")
    assert done.status == 200
    assert re.search(r'id="msg"[^>]*>Thanks for your order<', await done.text())

    empty = await client.post("/checkout", headers={"Accept": "application/json"})
    assert empty.status == 400
    assert await empty.json() == {"error": "cart is empty"}

    await client.post("/cart/add", data={"product_id": "2"})
    ordered = await client.post("/checkout", headers={"Accept": "application/json"})
    assert ordered.status == 200
    body = await ordered.json()
    assert body["status"] == "ordered"
    assert body["order_id"]


async def test_health_and_products(client: Client) -> None:
    assert await (await client.get("/api/health")).json() == {"status": "ok", "version": "1"}
    products = (await (await client.get("/api/products")).json())["products"]
    assert 3 <= len(products) <= 5
    assert products[0] == {"id": 1, "name": "绿茶 Green tea", "price": 4.5}


async def test_api_login_cart_checkout(client: Client) -> None:
    token = await _token(client)
    resp = await client.post("/api/cart", json={"product_id": 1, "qty": 2}, headers=_bearer(token))
    assert resp.status == 200
    cart = await resp.json()
    assert cart["items"] == [{"product_id": 1, "name": "绿茶 Green tea", "price": 4.5, "qty": 2}]
    assert cart["total"] == 9.0
    assert (await (await client.get("/api/cart", headers=_bearer(token))).json()) == cart

    resp = await client.post("/api/checkout", headers=_bearer(token))
    assert resp.status == 200
    order = await resp.json()
    assert order["status"] == "ordered"
    assert isinstance(order["order_id"], str)
    assert order["order_id"]
    assert (await (await client.get("/api/cart", headers=_bearer(token))).json())["items"] == []


async def test_api_login_wrong_password_is_401(client: Client) -> None:
    resp = await client.post("/api/login", json={"username": "demo", "password": "wrong"})
    assert resp.status == 401
    assert await resp.json() == {"error": "invalid credentials"}
    assert (await client.post("/api/login", data="not json")).status == 400


@pytest.mark.parametrize(
    ("method", "path"), [("GET", "/api/cart"), ("POST", "/api/cart"), ("POST", "/api/checkout")]
)
@pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer not-a-token"}, {"Authorization": "Basic x"}])
async def test_api_without_valid_token_is_401(client: Client, method: str, path: str, headers: dict[str, str]) -> None:
    resp = await client.request(method, path, json={"product_id": 1, "qty": 1}, headers=headers)
    assert resp.status == 401
    assert "error" in await resp.json()


async def test_api_checkout_empty_cart_is_400(client: Client) -> None:
    resp = await client.post("/api/checkout", headers=_bearer(await _token(client)))
    assert resp.status == 400
    assert await resp.json() == {"error": "cart is empty"}


@pytest.mark.parametrize("body", [{"product_id": 99}, {"product_id": "1"}, {"product_id": 1, "qty": 0}, [1]])
async def test_api_cart_rejects_bad_items(client: Client, body: object) -> None:
    resp = await client.post("/api/cart", json=body, headers=_bearer(await _token(client)))
    assert resp.status == 400


async def test_slow_waits_at_least_ms(client: Client) -> None:
    started = time.monotonic()
    resp = await client.get("/slow", params={"ms": "150"})
    elapsed_s = time.monotonic() - started
    assert resp.status == 200
    assert elapsed_s >= 0.15
    assert "Answered after 150 ms" in await resp.text()
    assert (await client.get("/slow", params={"ms": "-1"})).status == 400


@pytest.mark.parametrize("code", [200, 404, 418, 500, 503, 599])
async def test_status_answers_with_code(client: Client, code: int) -> None:
    assert (await client.get(f"/status/{code}")).status == code


async def test_status_refuses_out_of_range(client: Client) -> None:
    assert (await client.get("/status/101")).status == 400
    assert (await client.get("/status/600")).status == 400
    assert (await client.get("/status/abc")).status == 404


async def test_session_store_stays_bounded_and_evicts_oldest() -> None:
    app = build_app(max_sessions=5)
    async with TestClient(TestServer(app)) as c:
        tokens = [await _token(c) for _ in range(12)]
        assert len(app[SESSIONS]) == 5
        assert (await c.get("/api/cart", headers=_bearer(tokens[0]))).status == 401
        assert (await c.get("/api/cart", headers=_bearer(tokens[-1]))).status == 200
        for _ in range(5):  # anonymous browser carts count against the same cap
            c.session.cookie_jar.clear()
            await c.post("/cart/add", data={"product_id": "1"})
        assert len(app[SESSIONS]) == 5


async def test_cli_serves_and_exits_on_sigterm() -> None:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "prober.demo", "--listen", "127.0.0.1:0",
        # the other listeners' default ports may be taken (`./dev run`, another test): see test_demo_services.py
        "--tls-listen", "off", "--dns-listen", "off", "--grpc-listen", "off", "--rival-listen", "off",
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )
    try:
        assert proc.stdout is not None
        line = (await asyncio.wait_for(proc.stdout.readline(), timeout=20)).decode()
        match = re.fullmatch(r"demo shop listening on http://127\.0\.0\.1:(\d+)\n", line)
        assert match, line
        port = int(match.group(1))
        assert port > 0
        async with aiohttp.ClientSession() as http, http.get(f"http://127.0.0.1:{port}/api/health") as resp:
            assert resp.status == 200
            assert await resp.json() == {"status": "ok", "version": "1"}
        proc.terminate()
        _, stderr = await asyncio.wait_for(proc.communicate(), timeout=10)
        assert proc.returncode == 0, stderr.decode()
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
