"""Demo Shop: a tiny offline shop for trying prober's HTTP checks and browser journeys on loopback.

It serves HTML pages (home, product, login, cart with a `#buy` button), a JSON API (health, products,
token login, cart, checkout) and helpers for showing failures: `/slow?ms=N`, `/status/{code}` and the switch
that takes an image away (`prober/demo/static_files.py`). The home page is a realistic page for page checks
and device emulation (`prober/demo/home_page.py`); a `Brand` makes the same app the slower "Rival Shop"
(`prober/demo/brand.py`). Everything is in memory; sessions (browser cookies and API tokens alike) live in one
store capped at `max_sessions` entries that evicts the least recently used, so a probe hammering the shop never
grows memory without bound. Nothing comes from the Internet: CSS, JS and images come from `static/`, read once
when the app is built, and the home page's third-party elements from this same server under its other loopback
name.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import os
import ssl
from collections.abc import Callable
from dataclasses import dataclass
from html import escape

from aiohttp import web

from prober.demo.brand import BRAND, DEMO_SHOP, Brand, brand_delay
from prober.demo.home_page import add_form, home_body, third_party_origin
from prober.demo.static_files import add_static_routes
from prober.demo.store import (
    MAX_BODY_BYTES,
    MAX_QTY_PER_LINE,
    MAX_SESSIONS_DEFAULT,
    MAX_SLOW_MS,
    PASSWORD_DEFAULT,
    PRODUCTS,
    USERNAME,
    Session,
    SessionStore,
    add_to_cart,
    cart_json,
    checkout,
    money,
    search,
)
from prober.demo.store import (
    SESSION_COOKIE as SESSION_COOKIE,  # the Demo Shop's cookie, imported from here by tests
)


@dataclass(frozen=True)
class Assets:
    passwords: tuple[str, ...]


SESSIONS = web.AppKey("sessions", SessionStore)
ASSETS = web.AppKey("assets", Assets)


def _order_json(order_id: str | None) -> web.Response:
    if order_id is None:
        return web.json_response({"error": "cart is empty"}, status=400)
    return web.json_response({"status": "ordered", "order_id": order_id})


def _password_ok(assets: Assets, username: str, password: str) -> bool:
    # compare_digest on every candidate: the answer's timing does not tell which part was wrong
    user_ok = hmac.compare_digest(username.encode(), USERNAME.encode())
    pass_ok = [hmac.compare_digest(password.encode(), candidate.encode()) for candidate in assets.passwords]
    return user_ok and any(pass_ok)


# ---------------------------------------------------------------------------------------------- HTML pages


def _browser_session(request: web.Request) -> Session | None:
    return request.app[SESSIONS].get(request.cookies.get(request.app[BRAND].session_cookie))


def _page(request: web.Request, title: str, body: str, *, status: int = 200, script: str = "") -> web.Response:
    """A whole HTML page around `body`; `script` names a file of static/ the page runs as well."""
    brand = request.app[BRAND]
    page_script = f'<script defer src="/static/{script}"></script>' if script else ""
    session = _browser_session(request)
    count = sum(session.cart.values()) if session else 0
    who = (
        f'<span id="user">Signed in as {escape(session.username)}</span>'
        if session and session.username
        else '<a href="/login">Log in</a>'
    )
    html = f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{escape(title)} · {escape(brand.name)}</title><link rel="stylesheet" href="/static/shop.css">
<link rel="icon" href="data:,">
<style>:root{{--brand:{brand.header_colour};--accent:{brand.accent_colour}}}</style>
<script defer src="/static/shop.js"></script>{page_script}</head>
<body><header><a class="brand" href="/">{escape(brand.name)}</a>
<form id="search" action="/search" role="search"><input id="q" name="q" type="search" aria-label="Search"
 value="{escape(request.query.get("q", "")[:100]) if request.path == "/search" else ""}">
<button id="go">Search</button></form>
<button id="menu-button" type="button" aria-controls="nav-links" aria-expanded="false">☰ Menu</button>
<nav id="nav-links"><a href="/cart">Cart ({count})</a>{who}</nav></header>
<main>{body}</main></body></html>
"""
    return web.Response(text=html, status=status, content_type="text/html")


def _see_other(location: str) -> web.Response:
    return web.Response(status=303, headers={"Location": location})


async def home(request: web.Request) -> web.Response:
    name = request.app[BRAND].name
    return _page(request, "Home", home_body(name, PRODUCTS.values(), third_party_origin(request)))


async def product_page(request: web.Request) -> web.Response:
    product = PRODUCTS.get(int(request.match_info["id"]))
    if product is None:
        return _page(request, "Not found", '<h1>Not found</h1><p>No such product.</p>', status=404)
    body = (
        f'<h1 id="name">{escape(product.name)}</h1><p>{escape(product.description)}</p>'
        f'<p class="price" id="price">€{money(product.price_cents)}</p>{add_form(product, "add")}'
    )
    return _page(request, product.name, body)


async def search_page(request: web.Request) -> web.Response:
    query = request.query.get("q", "")[:100]
    found = search(query)
    items = "".join(f'<li class="result"><a href="/products/{p.id}">{escape(p.name)}</a> '
                    f'<span class="price">€{money(p.price_cents)}</span></li>' for p in found)
    body = (f'<h1>Search</h1><p id="count">{len(found)} result{"" if len(found) == 1 else "s"} for '
            f'“{escape(query)}”</p><ul id="results">{items}</ul>')
    return _page(request, "Search", body)


def _login_form(error: str = "") -> str:
    err = f'<p id="error" class="error" role="alert">{escape(error)}</p>' if error else ""
    return (
        f'<h1>Log in</h1>{err}<form method="post" action="/login">'
        '<label for="username">Username</label><input id="username" name="username" autocomplete="username">'
        '<label for="password">Password</label>'
        '<input id="password" name="password" type="password" autocomplete="current-password">'
        '<p><button id="login" type="submit">Log in</button></p></form>'
    )


async def login_page(request: web.Request) -> web.Response:
    return _page(request, "Log in", _login_form())


async def login_submit(request: web.Request) -> web.Response:
    form = await request.post()
    username, password = str(form.get("username", "")), str(form.get("password", ""))
    if not _password_ok(request.app[ASSETS], username, password):
        return _page(request, "Log in", _login_form("Invalid username or password"), status=401)
    store = request.app[SESSIONS]
    old_id = request.cookies.get(request.app[BRAND].session_cookie)
    old = store.get(old_id)
    # a fresh id on login (no session fixation); the anonymous cart comes along
    session_id = store.create(Session(username=username, cart=dict(old.cart) if old else {}))
    if old_id and old:
        store.drop(old_id)
    response = _see_other("/")
    response.set_cookie(request.app[BRAND].session_cookie, session_id, httponly=True, samesite="Lax", path="/")
    return response


async def cart_add(request: web.Request) -> web.Response:
    form = await request.post()
    raw_id = str(form.get("product_id", ""))
    if not raw_id.isdigit() or int(raw_id) not in PRODUCTS:
        return _page(request, "Not found", "<h1>Not found</h1><p>No such product.</p>", status=404)
    store = request.app[SESSIONS]
    session = _browser_session(request)
    response = _see_other("/cart")
    if session is None:
        session = Session()
        cookie = request.app[BRAND].session_cookie
        response.set_cookie(cookie, store.create(session), httponly=True, samesite="Lax", path="/")
    add_to_cart(session, int(raw_id), 1)
    return response


async def cart_page(request: web.Request) -> web.Response:
    session = _browser_session(request) or Session()
    rows = "".join(
        f"<tr><td>{escape(PRODUCTS[pid].name)}</td><td>{qty}</td>"
        f"<td>€{money(PRODUCTS[pid].price_cents * qty)}</td></tr>"
        for pid, qty in session.cart.items()
    )
    total = sum(PRODUCTS[pid].price_cents * qty for pid, qty in session.cart.items())
    body = (
        '<h1>Your cart</h1><table><thead><tr><th>Item</th><th>Qty</th><th>Price</th></tr></thead>'
        f'<tbody id="items">{rows}</tbody></table><p>Total: €<span id="total">{money(total)}</span></p>'
        '<form id="checkout" method="post" action="/checkout"><button id="buy" type="submit">Buy now</button></form>'
        '<p id="msg" role="status"></p><p id="order"></p>'
    )
    return _page(request, "Cart", body, script="cart.js")


async def checkout_submit(request: web.Request) -> web.Response:
    """Form POST (HTML answer) or the cart page's fetch with `Accept: application/json` (JSON answer)."""
    session = _browser_session(request)
    order_id = checkout(session) if session else None
    if "application/json" in request.headers.get("Accept", ""):
        return _order_json(order_id)
    if order_id is None:
        return _page(request, "Cart", '<h1>Your cart</h1><p id="msg" class="error">Your cart is empty</p>', status=400)
    body = f'<h1>Order placed</h1><p id="msg">Thanks for your order</p><p id="order">Order {order_id}</p>'
    return _page(request, "Order placed", body)


# ---------------------------------------------------------------------------------------------- JSON API


def _bearer_session(request: web.Request) -> Session | None:
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer":
        return None
    return request.app[SESSIONS].get(token.strip())


def _unauthorized() -> web.Response:
    return web.json_response(
        {"error": "missing or invalid token"}, status=401, headers={"WWW-Authenticate": 'Bearer realm="demo-shop"'}
    )


async def _json_object(request: web.Request) -> dict[str, object] | None:
    try:
        data = await request.json()
    except (json.JSONDecodeError, UnicodeDecodeError):
        return None
    return data if isinstance(data, dict) else None


async def api_health(request: web.Request) -> web.Response:
    return web.json_response({"status": "ok", "version": "1"})


async def api_products(request: web.Request) -> web.Response:
    products = [{"id": p.id, "name": p.name, "price": p.price_cents / 100} for p in PRODUCTS.values()]
    return web.json_response({"products": products})


async def api_login(request: web.Request) -> web.Response:
    data = await _json_object(request)
    if data is None:
        return web.json_response({"error": "body must be a JSON object"}, status=400)
    username, password = data.get("username"), data.get("password")
    assets = request.app[ASSETS]
    if not (isinstance(username, str) and isinstance(password, str) and _password_ok(assets, username, password)):
        return web.json_response({"error": "invalid credentials"}, status=401)
    return web.json_response({"token": request.app[SESSIONS].create(Session(username=username))})


async def api_cart_get(request: web.Request) -> web.Response:
    session = _bearer_session(request)
    return _unauthorized() if session is None else web.json_response(cart_json(session))


async def api_cart_add(request: web.Request) -> web.Response:
    session = _bearer_session(request)
    if session is None:
        return _unauthorized()
    data = await _json_object(request)
    if data is None:
        return web.json_response({"error": "body must be a JSON object"}, status=400)
    product_id, qty = data.get("product_id"), data.get("qty", 1)
    if type(product_id) is not int or product_id not in PRODUCTS:
        return web.json_response({"error": "unknown product"}, status=400)
    if type(qty) is not int or not 1 <= qty <= MAX_QTY_PER_LINE:
        return web.json_response({"error": f"qty must be an integer from 1 to {MAX_QTY_PER_LINE}"}, status=400)
    add_to_cart(session, product_id, qty)
    return web.json_response(cart_json(session))


async def api_checkout(request: web.Request) -> web.Response:
    session = _bearer_session(request)
    if session is None:
        return _unauthorized()
    return _order_json(checkout(session))


async def api_order(request: web.Request) -> web.Response:
    session = _bearer_session(request)
    if session is None:
        return _unauthorized()
    order = session.orders.get(request.match_info["order_id"])
    return web.json_response(order) if order else web.json_response({"error": "no such order"}, status=404)


# ---------------------------------------------------------------------------------------------- failure helpers


async def slow(request: web.Request) -> web.Response:
    """Answer after `ms` milliseconds (0 to 10,000; larger values are capped)."""
    raw = request.query.get("ms", "0")
    if not raw.isdigit():
        return web.json_response({"error": "ms must be a non-negative integer"}, status=400)
    delay_ms = min(int(raw), MAX_SLOW_MS)
    await asyncio.sleep(delay_ms / 1000)
    return _page(request, "Slow", f'<h1>Slow page</h1><p id="slept">Answered after {delay_ms} ms</p>')


async def status(request: web.Request) -> web.Response:
    """Answer with the status in the path, 200 to 599 (1xx are not final answers, so they are refused)."""
    code = int(request.match_info["code"])
    if not 200 <= code <= 599:
        return web.json_response({"error": "code must be from 200 to 599"}, status=400)
    if code in (204, 304):
        return web.Response(status=code)
    return web.json_response({"status": code}, status=code)


def build_app(
    *, max_sessions: int = MAX_SESSIONS_DEFAULT, password: str | None = None, brand: Brand = DEMO_SHOP
) -> web.Application:
    """The shop (`brand`: the Demo Shop or the Rival Shop) as an aiohttp app; reads its static files and
    `DEMO_SHOP_PASSWORD` once, here.

    `demo`/`demo` always logs in; `password` (default: the env var, if set) is accepted as well.
    """
    extra = password if password is not None else os.environ.get("DEMO_SHOP_PASSWORD")
    passwords = (PASSWORD_DEFAULT, extra) if extra else (PASSWORD_DEFAULT,)
    app = web.Application(client_max_size=MAX_BODY_BYTES, middlewares=[brand_delay])
    app[SESSIONS] = SessionStore(max_sessions)
    app[ASSETS] = Assets(passwords=passwords)
    app[BRAND] = brand
    add_static_routes(app)
    app.router.add_get("/", home)
    app.router.add_get(r"/products/{id:\d{1,9}}", product_page)
    app.router.add_get("/login", login_page)
    app.router.add_post("/login", login_submit)
    app.router.add_get("/cart", cart_page)
    app.router.add_post("/cart/add", cart_add)
    app.router.add_post("/checkout", checkout_submit)
    app.router.add_get("/api/health", api_health)
    app.router.add_get("/api/products", api_products)
    app.router.add_post("/api/login", api_login)
    app.router.add_get("/api/cart", api_cart_get)
    app.router.add_post("/api/cart", api_cart_add)
    app.router.add_post("/api/checkout", api_checkout)
    app.router.add_get(r"/api/orders/{order_id:ord-[0-9a-f]{12}}", api_order)
    app.router.add_get("/search", search_page)
    app.router.add_get("/slow", slow)
    app.router.add_get(r"/status/{code:\d{3}}", status)
    return app


async def start_site(
    runner: web.AppRunner, host: str, port: int, *, ssl_context: ssl.SSLContext | None = None
) -> tuple[str, int]:
    """Add a (TLS) site on host:port to a set-up runner and start it; returns the address it bound (port 0 → real).

    Raises OSError when the address cannot be bound. One runner can hold several sites: they share one shop.
    """
    bound_before = len(runner.addresses)
    site = web.TCPSite(runner, host, port, ssl_context=ssl_context)
    await site.start()
    bound_host, bound_port = runner.addresses[bound_before][:2]  # sites list their sockets in the order they started
    return str(bound_host), int(bound_port)


async def serve(host: str, port: int, *, ready: Callable[[str, int], None] | None = None) -> None:
    """Serve the shop on host:port until cancelled; `ready(host, port)` gets the bound address (port 0 → real)."""
    runner = web.AppRunner(build_app(), access_log=None)
    await runner.setup()
    try:
        bound_host, bound_port = await start_site(runner, host, port)
        if ready is not None:
            ready(bound_host, bound_port)
        await asyncio.Event().wait()
    finally:
        await runner.cleanup()
