"""Every element a page requested, as the browser loaded it: a recorder attached to a page run's page.

`ResourceRecorder` listens to the page's `request`, `response`, `requestfinished` and `requestfailed` events and
turns each http(s) request into a `PageResource` (prober/result.py): its kind folded into `ResourceType`, its party
by registrable domain (the public-suffix list), its outcome (an answer under 400, or an error or a 4xx/5xx answer),
the browser's own resource timing and its transfer size. A redirected request counts once, as its final request.
Runs in the journey worker only. Bounded: shown URLs lose their query, fragment and credentials and are capped;
the listed resources are capped (the totals count every element); size look-ups are bounded in time.
"""

from __future__ import annotations

import asyncio
import dataclasses
import functools
import ipaddress
import time
from collections.abc import Iterable
from typing import Literal
from urllib.parse import urlsplit

from playwright.async_api import Error as PlaywrightError
from playwright.async_api import Page, Request, ResourceTiming, Response
from publicsuffixlist import PublicSuffixList

from prober.journey.protocol import ERROR_MAX_CHARS, MAX_RESOURCES, TITLE_MAX_CHARS, URL_MAX_CHARS
from prober.result import PageOutcome, PageResource, Party, ResourceOutcome, ResourceTotal, ResourceType

SIZE_LOOKUPS_AT_ONCE = 16
"""`Request.sizes()` calls in flight at once: a page of 2,000 images asks for them in small batches."""

TimingMark = Literal["startTime", "domainLookupStart", "domainLookupEnd", "connectStart", "secureConnectionStart",
                     "connectEnd", "requestStart", "responseStart", "responseEnd"]

RESOURCE_TYPES = {
    "document": ResourceType.DOCUMENT,  # the page and its frames
    "script": ResourceType.SCRIPT,
    "stylesheet": ResourceType.STYLESHEET,
    "image": ResourceType.IMAGE,
    "font": ResourceType.FONT,
    "xhr": ResourceType.XHR,
    "fetch": ResourceType.XHR,
    "media": ResourceType.MEDIA,
}
"""Playwright's `request.resource_type` -> ours; any other (texttrack, eventsource, manifest, ...) is OTHER."""


@functools.cache
def public_suffixes() -> PublicSuffixList:
    """The bundled public-suffix list, parsed once per worker process (it is a big file)."""
    return PublicSuffixList()


def registrable_domain(host: str) -> str:
    """`www.shop.example.co.uk` -> `example.co.uk`; an IP address or a single-label name is its own."""
    host = host.rstrip(".").lower()
    try:
        ipaddress.ip_address(host)
        return host
    except ValueError:
        pass
    if "." not in host:
        return host
    return public_suffixes().privatesuffix(host) or host  # a bare public suffix (`github.io`) is its own


class Parties:
    """Which party a host is, for one page: first when its registrable domain is the page's, or when it is (or
    is under) one of the configured first-party domains."""

    def __init__(self, page_url: str, first_party: Iterable[str]) -> None:
        self._page_domain = registrable_domain(urlsplit(page_url).hostname or "")
        self._first_party = tuple(domain.lower().rstrip(".") for domain in first_party)

    def of(self, host: str) -> Party:
        host = host.rstrip(".").lower()
        if registrable_domain(host) == self._page_domain or any(
            host == domain or host.endswith("." + domain) for domain in self._first_party
        ):
            return Party.FIRST
        return Party.THIRD


def shown_url(url: str) -> str:
    """The URL as logs and the status page show it: no credentials, query or fragment, capped."""
    parts = urlsplit(url)
    netloc = parts.netloc.rpartition("@")[2]  # `user:password@` never leaves the worker
    text = f"{parts.scheme}://{netloc}{parts.path}"
    return text if len(text) <= URL_MAX_CHARS else text[: URL_MAX_CHARS - 1] + "…"


@dataclasses.dataclass(eq=False)
class _Element:
    """One request followed from its start to its end (mutable while the page loads)."""

    request: Request
    type: ResourceType
    party: Party
    url: str
    seen_at: float  # unix time of the `request` event: the start when the browser's timing has none
    status: int | None = None
    outcome: ResourceOutcome | None = None  # None: still loading
    error: str = ""
    ended_at: float | None = None
    size: asyncio.Task[int | None] | None = None

    def start_ms(self) -> float:
        start = self.request.timing["startTime"]
        return start if start > 0 else self.seen_at * 1000.0

    def resource(self, origin_ms: float) -> PageResource:
        timing = self.request.timing
        answered = self.status is not None
        duration = _span(timing, "startTime", "responseEnd")
        if duration is None and self.ended_at is not None:
            duration = round(max(0.0, self.ended_at - self.seen_at), 6)
        tls_started = timing["secureConnectionStart"] >= 0
        return PageResource(
            url=self.url, type=self.type, party=self.party, outcome=self.outcome or ResourceOutcome.FAILED,
            status=self.status, error=self.error, start_s=max(0.0, (self.start_ms() - origin_ms) / 1000.0),
            duration_s=duration, transfer_bytes=self.transfer_bytes(),
            dns_s=_span(timing, "domainLookupStart", "domainLookupEnd"),
            connect_s=_span(timing, "connectStart", "secureConnectionStart" if tls_started else "connectEnd"),
            tls_s=_span(timing, "secureConnectionStart", "connectEnd") if tls_started else None,
            ttfb_s=_span(timing, "requestStart", "responseStart") if answered else None,
            download_s=_span(timing, "responseStart", "responseEnd") if answered else None,
        )

    def transfer_bytes(self) -> int | None:
        size = self.size
        if size is None or not size.done() or size.cancelled():
            return None
        return size.result()


def _is_main_document(request: Request) -> bool:
    try:
        return request.is_navigation_request() and request.frame.parent_frame is None
    except PlaywrightError:
        return False  # a navigation issued before its frame exists (a popup's): not this page's document


def _span(timing: ResourceTiming, start: TimingMark, end: TimingMark) -> float | None:
    """Seconds between two marks of Playwright's resource timing (ms, relative to `startTime`; -1: absent)."""
    begin = 0.0 if start == "startTime" else timing[start]
    finish = timing[end]
    if begin < 0 or finish < 0 or finish < begin:
        return None
    return round((finish - begin) / 1000.0, 6)


class ResourceRecorder:
    """Follows every http(s) element one page requests; `outcome()` reports them once the run is over."""

    def __init__(self, parties: Parties) -> None:
        self._parties = parties
        self._elements: dict[Request, _Element] = {}  # in the order the page requested them
        self._document: _Element | None = None  # the main frame's first navigation (after its redirects)
        self._sizes_at_once = asyncio.Semaphore(SIZE_LOOKUPS_AT_ONCE)

    def attach(self, page: Page) -> None:
        page.on("request", self._on_request)
        page.on("response", self._on_response)
        page.on("requestfinished", self._on_finished)
        page.on("requestfailed", self._on_failed)

    def _on_request(self, request: Request) -> None:
        previous = request.redirected_from
        if previous is not None:  # one element, reported as its final request
            dropped = self._elements.pop(previous, None)
            if dropped is not None and dropped.size is not None:
                dropped.size.cancel()
        parts = urlsplit(request.url)
        if parts.scheme not in ("http", "https"):
            return  # data:, blob:, about: cost no network
        element = _Element(
            request=request, type=RESOURCE_TYPES.get(request.resource_type, ResourceType.OTHER),
            party=self._parties.of(parts.hostname or ""), url=shown_url(request.url), seen_at=time.time(),
        )
        self._elements[request] = element
        if _is_main_document(request) and (self._document is None or self._document.request is previous):
            self._document = element

    def _on_response(self, response: Response) -> None:
        element = self._elements.get(response.request)
        if element is not None:
            element.status = response.status

    def _on_finished(self, request: Request) -> None:
        element = self._elements.get(request)
        if element is None:
            return
        element.ended_at = time.time()
        failed = element.status is not None and element.status >= 400
        element.outcome = ResourceOutcome.FAILED if failed else ResourceOutcome.OK
        element.error = f"HTTP {element.status}" if failed else ""
        if element.status is not None:
            element.size = asyncio.get_running_loop().create_task(self._transfer_bytes(request))

    def _on_failed(self, request: Request) -> None:
        element = self._elements.get(request)
        if element is not None:
            element.ended_at = time.time()
            element.outcome = ResourceOutcome.FAILED
            element.error = (request.failure or "failed")[:ERROR_MAX_CHARS]

    async def _transfer_bytes(self, request: Request) -> int | None:
        async with self._sizes_at_once:
            try:
                sizes = await request.sizes()
            except PlaywrightError:
                return None  # the page or the browser is gone: the size stays unknown
        total = max(0, sizes["responseHeadersSize"]) + max(0, sizes["responseBodySize"])
        return total

    async def outcome(
        self, document_status: int | None, title: str, sizes_budget_s: float
    ) -> tuple[PageOutcome, PageResource | None]:
        """What the page loaded so far, and the document's own element (None when it was never requested).

        Waits up to `sizes_budget_s` for pending size look-ups (a size not known by then is absent), then totals
        every finished element and lists `MAX_RESOURCES` of them."""
        pending = [e.size for e in self._elements.values() if e.size is not None and not e.size.done()]
        if pending:
            _done, late = await asyncio.wait(pending, timeout=sizes_budget_s)
            for task in late:
                task.cancel()
        origin_ms = min((e.start_ms() for e in self._elements.values()), default=0.0)
        resources = {e: e.resource(origin_ms) for e in self._elements.values() if e.outcome is not None}
        listed = list(resources.values())
        outcome = PageOutcome(
            document_status=document_status, title=title[:TITLE_MAX_CHARS],
            resources=tuple(_listed(listed)), totals=tuple(_totals(listed)),
            unfinished=len(self._elements) - len(listed),
        )
        return outcome, resources.get(self._document) if self._document is not None else None

    @property
    def document_status(self) -> int | None:
        """The status the page's document answered with (after redirects), None before (or without) an answer."""
        return self._document.status if self._document is not None else None

    def unfinished_urls(self) -> list[str]:
        """The elements still loading, in the order the page requested them."""
        return [e.url for e in self._elements.values() if e.outcome is None]


def _listed(resources: list[PageResource]) -> list[PageResource]:
    """At most MAX_RESOURCES, in start order: every failed one first in (the failed list), then the others."""
    failed = [r for r in resources if r.outcome is ResourceOutcome.FAILED][:MAX_RESOURCES]
    room = MAX_RESOURCES - len(failed)
    kept = failed + [r for r in resources if r.outcome is ResourceOutcome.OK][:room]
    return sorted(kept, key=lambda r: r.start_s)


def _totals(resources: list[PageResource]) -> list[ResourceTotal]:
    sums: dict[tuple[ResourceType, Party, ResourceOutcome], tuple[int, int, float]] = {}
    for r in resources:
        key = (r.type, r.party, r.outcome)
        count, size, seconds = sums.get(key, (0, 0, 0.0))
        sums[key] = (count + 1, size + (r.transfer_bytes or 0), seconds + (r.duration_s or 0.0))
    return [ResourceTotal(t, p, o, count, size, seconds) for (t, p, o), (count, size, seconds) in sums.items()]
