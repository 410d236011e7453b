"""The shop's home page: what a `type: page` check and a device emulation look at.

    h1                                   the shop's name ("Demo Shop", "Rival Shop")
    img#hero      /static/img/hero.svg   the largest element: the page's LCP
    ul#products > li.card                one per product: img.thumb (/static/img/product-N.svg), h2 a, .price,
                                         an "Add to cart" form
    p#api-status                         filled after load by shop.js from a fetch of /api/products
    img#partner-badge, script            third party: //OTHER:PORT/static/img/partner.svg and
                                         //OTHER:PORT/static/partner.js, which fills #partner-widget

OTHER is the other loopback name than the one the page was asked for (127.0.0.1 -> localhost, localhost ->
127.0.0.1, anything else -> localhost) on the same port, so the same demo process serves them while a page check
sees another registrable domain: third party, offline. The URLs are scheme-relative: the HTTPS site asks for
them over HTTPS (no mixed content). The layout by viewport (one column and a menu button on a phone, three
columns and the links on a desktop) is shop.css's.
"""

from __future__ import annotations

from collections.abc import Iterable
from html import escape

from aiohttp import web

from prober.demo.brand import HERO_PATH
from prober.demo.store import Product, money

HERO_SIZE = (1200, 450)
THUMB_SIZE = (160, 120)
PARTNER_BADGE_SIZE = (120, 40)


def third_party_origin(request: web.Request) -> str:
    """`//OTHER[:PORT]`: this server under the other loopback name, scheme-relative."""
    host = request.url.host or ""
    other = "127.0.0.1" if host == "localhost" else "localhost"
    port = request.url.explicit_port
    return f"//{other}:{port}" if port else f"//{other}"


def add_form(product: Product, button_id: str = "") -> str:
    """The "Add to cart" form of one product (a plain form POST: it works without JavaScript)."""
    id_attr = f' id="{button_id}"' if button_id else ""
    return (
        f'<form class="inline" method="post" action="/cart/add"><input type="hidden" name="product_id" '
        f'value="{product.id}"><button{id_attr} class="add" data-product-id="{product.id}">Add to cart</button></form>'
    )


def _card(product: Product) -> str:
    width, height = THUMB_SIZE
    return (
        f'<li class="card"><img class="thumb" src="/static/img/product-{product.id}.svg" width="{width}" '
        f'height="{height}" alt="">'
        f'<h2><a href="/products/{product.id}">{escape(product.name)}</a></h2>'
        f'<p class="price">€{money(product.price_cents)}</p>{add_form(product)}</li>'
    )


def _partner(origin: str) -> str:
    width, height = PARTNER_BADGE_SIZE
    return (
        f'<aside id="partner"><img id="partner-badge" src="{origin}/static/img/partner.svg" width="{width}" '
        f'height="{height}" alt="TrustPals partner"><span id="partner-widget"></span></aside>'
        f'<script async src="{origin}/static/partner.js"></script>'
    )


def home_body(shop_name: str, products: Iterable[Product], partner_origin: str) -> str:
    """The home page's `<main>` content."""
    width, height = HERO_SIZE
    cards = "".join(_card(product) for product in products)
    return (
        f'<h1>{escape(shop_name)}</h1>'
        f'<img id="hero" src="{HERO_PATH}" width="{width}" height="{height}" alt="Fresh tea and coffee">'
        f'<ul class="products" id="products">{cards}</ul>'
        '<p id="api-status" role="status"></p>'
        f'{_partner(partner_origin)}'
    )
