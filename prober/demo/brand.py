"""Which shop an app is: the Demo Shop, or the slower "Rival Shop" a comparison puts beside it.

Both serve the same pages; a brand gives the name, the colours and the extra waits that make the rival measurably
slower: its HTML pages answer `document_delay_s` later and its hero image `hero_delay_s` later, so its TTFB and
LCP are larger by about those figures (and its check duration with them).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from aiohttp import web

from prober.demo.store import SESSION_COOKIE

HERO_PATH = "/static/img/hero.svg"
NOT_PAGES = ("/static/", "/api/", "/demo/")
"""Path prefixes that are not HTML pages (the document delay is not added to them)."""


@dataclass(frozen=True)
class Brand:
    name: str
    header_colour: str
    accent_colour: str
    session_cookie: str = SESSION_COOKIE
    """Its own cookie: browsers share cookies between the ports of one host, and the two shops' sessions differ."""
    document_delay_s: float = 0.0
    hero_delay_s: float = 0.0

    def delay_s(self, path: str) -> float:
        """How much longer than the shop's own time an answer for `path` waits."""
        if path == HERO_PATH:
            return self.hero_delay_s
        return 0.0 if path.startswith(NOT_PAGES) else self.document_delay_s


DEMO_SHOP = Brand(name="Demo Shop", header_colour="#1f2933", accent_colour="#0b6e4f")
RIVAL_SHOP = Brand(name="Rival Shop", header_colour="#5b2a86", accent_colour="#b4418e", session_cookie="rival_session",
                   document_delay_s=0.150, hero_delay_s=0.300)

BRAND = web.AppKey("brand", Brand)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@web.middleware
async def brand_delay(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Wait the brand's extra delay for this path before answering (nothing for the Demo Shop)."""
    delay_s = request.app[BRAND].delay_s(request.path)
    if delay_s > 0:
        await asyncio.sleep(delay_s)
    return await handler(request)
