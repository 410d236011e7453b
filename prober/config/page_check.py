"""`type: page`: load one URL in the journeys' browser, no script, and judge the page and every element it loaded."""

from __future__ import annotations

import re
from typing import Literal

from pydantic import Field, field_validator
from yarl import URL

from prober.config.browser_context import BrowserCheck
from prober.config.check_base import Frozen, StatusPattern, status_as_text
from prober.config.units import Duration


class PageExpect(Frozen):
    """What a good page load looks like; the run's reason is the first that fails, in the order of these keys:
    `status` (http_status), `selector`, `title_regex`, the failed-element bounds (assertion), the vitals (slow)."""

    status: list[StatusPattern] = Field(default_factory=lambda: ["2xx"], min_length=1)
    """Of the document (after redirects)."""
    selector: str | None = Field(default=None, min_length=1, max_length=500)
    """Visible once the page has loaded and settled."""
    title_regex: re.Pattern[str] | None = None
    max_failed_resources: int | None = Field(default=0, ge=0)
    """First-party elements that may fail to load (an error or a 4xx/5xx answer); null: no bound."""
    max_failed_third_party_resources: int | None = Field(default=None, ge=0)
    max_lcp: Duration | None = None
    max_ttfb: Duration | None = None
    max_cls: float | None = Field(default=None, ge=0)
    max_duration: Duration | None = None
    """Of the load: navigation start to the load event."""

    @field_validator("status", mode="before")
    @classmethod
    def _status_as_text(cls, value: object) -> object:
        return status_as_text(value)


class PageCheck(BrowserCheck):
    """A page as a user's browser gets it: the document, then every script, stylesheet, image, font, xhr, media.

    A run navigates a fresh context to `url`, waits for the load event and then `settle` more (for late
    elements: never `networkidle`, which a page with a long poll never reaches). Its duration is the load's.
    Elements on the registrable domain of `url` (or of a `first_party` domain) are first party.
    """

    type: Literal["page"]
    url: str
    settle: Duration = Field(default=0.5, ge=0, le=30)
    first_party: list[str] = Field(default_factory=list, max_length=20)
    """More domains whose elements count as first party (your CDN, say): each with every name under it."""
    expect: PageExpect = Field(default_factory=PageExpect)

    @property
    def max_duration_s(self) -> float | None:
        return self.expect.max_duration

    @field_validator("url")
    @classmethod
    def _page_url(cls, value: str) -> str:
        try:
            url = URL(value)
        except ValueError as exc:
            raise ValueError(f"not a URL: {exc}") from None
        if url.scheme not in ("http", "https") or not url.host:
            raise ValueError(f"expected an http or https URL with a host (got {value!r})")
        return value

    @field_validator("first_party")
    @classmethod
    def _domains(cls, value: list[str]) -> list[str]:
        for domain in value:
            if not re.fullmatch(r"[a-zA-Z0-9]([a-zA-Z0-9.-]{0,251}[a-zA-Z0-9])?", domain):
                raise ValueError(f"expected a domain such as 'cdn.example.net' (got {domain!r})")
        return [domain.lower() for domain in value]

    def page_spec(self) -> dict[str, object]:
        """What the journey worker needs to run this page (plain JSON; see `prober/journey/page_run.py`)."""
        expect = self.expect
        return {
            "url": self.url, "settle_s": self.settle, "first_party": list(self.first_party),
            "status": list(expect.status), "selector": expect.selector,
            "title_regex": expect.title_regex.pattern if expect.title_regex else None,
            "max_failed_resources": expect.max_failed_resources,
            "max_failed_third_party_resources": expect.max_failed_third_party_resources,
            "max_lcp_s": expect.max_lcp, "max_ttfb_s": expect.max_ttfb, "max_cls": expect.max_cls,
            "max_duration_s": expect.max_duration,
        }
