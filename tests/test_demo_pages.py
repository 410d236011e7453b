"""Tests for the demo shop's home page as page checks see it (prober/demo/home_page.py), its static files and the
switch that takes an image away (static_files.py), and the slower Rival Shop (brand.py, `--rival-listen`)."""

from __future__ import annotations

import re
import subprocess
import sys
import time
import urllib.request
from collections.abc import AsyncIterator
from html.parser import HTMLParser

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from prober.demo.app import SESSION_COOKIE, build_app
from prober.demo.brand import RIVAL_SHOP
from tests.processes import REPO, DemoShop

Client = TestClient[web.Request, web.Application]


@pytest.fixture
async def client() -> AsyncIterator[Client]:
    async with TestClient(TestServer(build_app())) as c:
        yield c


@pytest.fixture
async def rival() -> AsyncIterator[Client]:
    async with TestClient(TestServer(build_app(brand=RIVAL_SHOP))) as c:
        yield c


class Elements(HTMLParser):
    """The URLs a page makes the browser load (scripts, stylesheets, images) and the ids it has."""

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []
        self.ids: set[str] = set()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        if found.get("id"):
            self.ids.add(str(found["id"]))
        if tag in ("img", "script") and found.get("src"):
            self.urls.append(str(found["src"]))
        if tag == "link" and found.get("rel") == "stylesheet" and found.get("href"):
            self.urls.append(str(found["href"]))


def elements(html: str) -> Elements:
    parser = Elements()
    parser.feed(html)
    return parser


async def home(client: Client, host: str | None = None) -> Elements:
    headers = {"Host": f"{host}:{client.port}"} if host else {}
    resp = await client.get("/", headers=headers)
    assert resp.status == 200
    return elements(await resp.text())


async def test_home_page_has_the_layouts_elements_and_its_own_images(client: Client) -> None:
    page = await home(client)
    assert {"menu-button", "nav-links", "hero", "products", "api-status", "partner-badge", "partner-widget"} <= page.ids
    first_party = [url for url in page.urls if url.startswith("/") and not url.startswith("//")]
    assert first_party == ["/static/shop.css", "/static/shop.js", "/static/img/hero.svg",
                           *(f"/static/img/product-{n}.svg" for n in range(1, 5))]
    for url in first_party:
        resp = await client.get(url)
        assert resp.status == 200, url
        assert resp.content_type in ("text/css", "text/javascript", "image/svg+xml"), url
        assert len(await resp.read()) > 100, url


@pytest.mark.parametrize(("asked_as", "third_party"), [("127.0.0.1", "localhost"), ("localhost", "127.0.0.1"),
                                                       ("shop.example", "localhost")])
async def test_third_party_elements_use_the_other_loopback_name_on_the_same_port(
    client: Client, asked_as: str, third_party: str
) -> None:
    page = await home(client, asked_as)
    others = [url for url in page.urls if url.startswith("//")]
    origin = f"//{third_party}:{client.port}"
    assert others == [f"{origin}/static/img/partner.svg", f"{origin}/static/partner.js"]
    for url in others:  # the same server answers them (the Host is the browser's business)
        assert (await client.get(url.removeprefix(origin))).status == 200


async def test_a_removed_image_is_404_until_restored_and_the_page_still_asks_for_it(client: Client) -> None:
    assert (await client.get("/static/img/hero.svg")).status == 200
    resp = await client.post("/demo/images/hero.svg/remove")
    assert resp.status == 200 and await resp.json() == {"removed": ["hero.svg"]}
    assert (await client.get("/static/img/hero.svg")).status == 404
    assert (await client.get("/static/img/product-1.svg")).status == 200  # only that one
    assert "/static/img/hero.svg" in (await home(client)).urls
    listed = await (await client.get("/demo/images")).json()
    assert listed == {"images": ["hero.svg", "partner.svg", *(f"product-{n}.svg" for n in range(1, 5))],
                      "removed": ["hero.svg"]}
    resp = await client.post("/demo/images/hero.svg/restore")
    assert resp.status == 200 and await resp.json() == {"removed": []}
    assert (await client.get("/static/img/hero.svg")).status == 200


@pytest.mark.parametrize("name", ["nope.svg", "shop.css", "..%2Fshop.css"])
async def test_the_switch_knows_only_images(client: Client, name: str) -> None:
    assert (await client.post(f"/demo/images/{name}/remove")).status == 404
    assert (await client.get("/static/shop.css")).status == 200
    assert (await client.get("/static/nope.css")).status == 404


async def test_the_rival_is_another_shop_slower_by_its_delays(client: Client, rival: Client) -> None:
    html = await (await rival.get("/")).text()
    assert "<title>Home · Rival Shop</title>" in html and "<h1>Rival Shop</h1>" in html
    assert f"--brand:{RIVAL_SHOP.header_colour}" in html
    # the same structure (the third-party URLs name each server's own port)
    assert [url.replace(str(rival.port), "PORT") for url in (await home(rival)).urls] == [
        url.replace(str(client.port), "PORT") for url in (await home(client)).urls]
    for path, delay_s in (("/", RIVAL_SHOP.document_delay_s), ("/static/img/hero.svg", RIVAL_SHOP.hero_delay_s)):
        started = time.monotonic()
        assert (await rival.get(path)).status == 200
        assert time.monotonic() - started >= delay_s, path
    added = await rival.post("/cart/add", data={"product_id": "1"}, allow_redirects=False)
    assert RIVAL_SHOP.session_cookie in added.cookies and SESSION_COOKIE not in added.cookies  # apart in a browser
    started = time.monotonic()
    assert (await rival.get("/api/health")).status == 200
    assert (await rival.get("/static/shop.css")).status == 200  # only the document and the hero wait
    assert time.monotonic() - started < RIVAL_SHOP.document_delay_s + 5  # generous: a loaded machine


def test_the_demo_process_serves_the_rival_on_its_own_port(demo_shop: DemoShop) -> None:
    with urllib.request.urlopen(demo_shop.rival_url("/"), timeout=10) as response:
        assert "<h1>Rival Shop</h1>" in response.read().decode()
    with urllib.request.urlopen(demo_shop.url("/"), timeout=10) as response:
        assert "<h1>Demo Shop</h1>" in response.read().decode()
    assert demo_shop.rival_port not in (demo_shop.port, demo_shop.tls_port)


def test_a_rival_port_in_use_exits_2_naming_it(demo_shop: DemoShop) -> None:
    run = subprocess.run(
        [sys.executable, "-m", "prober.demo", "--listen", "127.0.0.1:0", "--tls-listen", "off", "--dns-listen", "off",
         "--grpc-listen", "off", "--rival-listen", f"127.0.0.1:{demo_shop.rival_port}"],
        capture_output=True, text=True, cwd=REPO, timeout=30,
    )
    assert run.returncode == 2
    assert re.search(rf"cannot listen on 127\.0\.0\.1:{demo_shop.rival_port} \(rival\):", run.stderr), run.stderr
    assert "Traceback" not in run.stderr
