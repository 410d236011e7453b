"""One `type: page` run inside a journey worker: load a URL without a script and judge the page and every element.

A fresh context (the journeys' isolation, emulation and artifacts), `goto(url, wait_until="load")` timed from the
navigation's start to the load event, a fixed settle for late elements (never `networkidle`, which a page with a
long poll never reaches), the web vitals, then the first failure in the order of `PageExpect`'s keys. The run is
bounded by the check's timeout. Returns a Result for every outcome; raises only on the worker's own bugs.
"""

from __future__ import annotations

import asyncio
import dataclasses
import re
import shutil
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from playwright.async_api import BrowserContext, Page
from playwright.async_api import Error as PlaywrightError
from playwright.async_api import TimeoutError as PlaywrightTimeoutError

from prober.http.status import status_matches
from prober.journey import artifacts
from prober.journey.browser import BrowserOwner, BrowserUnavailableError
from prober.journey.protocol import SETUP_BUDGET_S, RunRequest
from prober.journey.redact import Redactor
from prober.journey.resources import Parties, ResourceRecorder
from prober.journey.run import RunState, close_run, open_page, reason_for, write_artifacts
from prober.result import (
    Failure,
    JourneyOutcome,
    PageOutcome,
    PageResource,
    Party,
    Reason,
    ResourceOutcome,
    Result,
    Vital,
    cap_detail,
)

SETTLE_RESERVE_S = 1.5
"""Left of the timeout after the settle, for the vitals, selector and title: a settle never times a loaded page out."""
SIZES_BUDGET_S = 1.0
"""Bound on waiting for the transfer sizes still being looked up when the run ends."""
LISTED_IN_DETAIL = 3
VITAL_BOUNDS = ((Vital.LCP, "max_lcp_s", "max_lcp"), (Vital.TTFB, "max_ttfb_s", "max_ttfb"),
                (Vital.CLS, "max_cls", "max_cls"))
NET_ERROR = re.compile(r"net::ERR_[A-Z0-9_]+")


@dataclasses.dataclass(frozen=True)
class PageSpec:
    """What a page run loads and expects: `PageCheck.page_spec()` (validated at config load), typed."""

    url: str
    settle_s: float
    first_party: tuple[str, ...]
    status: tuple[str, ...]
    selector: str | None
    title_regex: re.Pattern[str] | None
    max_failed_resources: int | None
    max_failed_third_party_resources: int | None
    max_lcp_s: float | None
    max_ttfb_s: float | None
    max_cls: float | None
    max_duration_s: float | None

    @classmethod
    def parse(cls, spec: Mapping[str, Any]) -> PageSpec:
        title = spec.get("title_regex")
        return cls(
            url=str(spec["url"]), settle_s=float(spec.get("settle_s", 0.0)),
            first_party=tuple(str(d) for d in spec.get("first_party", [])),
            status=tuple(str(p) for p in spec.get("status", ["2xx"])), selector=spec.get("selector"),
            title_regex=re.compile(title) if title is not None else None,
            max_failed_resources=spec.get("max_failed_resources"),
            max_failed_third_party_resources=spec.get("max_failed_third_party_resources"),
            max_lcp_s=spec.get("max_lcp_s"), max_ttfb_s=spec.get("max_ttfb_s"), max_cls=spec.get("max_cls"),
            max_duration_s=spec.get("max_duration_s"),
        )


@dataclasses.dataclass
class PageLoad:
    """What the timed part of a run saw, filled in as it goes (a timeout leaves the rest unset)."""

    duration_s: float = 0.0  # navigation start to the load event, or to the failure
    loaded: bool = False
    status: int | None = None
    selector_visible: bool | None = None
    title: str = ""


async def run_page(request: RunRequest, owner: BrowserOwner) -> Result:
    """Load `request.page` once; every failure of the page, its elements or the browser is a failed Result."""
    return await PageRun(request, owner).run()


class PageRun:
    """One page run: what it opened and what it has seen, from the context's opening to the Result."""

    def __init__(self, request: RunRequest, owner: BrowserOwner) -> None:
        assert request.page is not None
        self.request, self.owner = request, owner
        self.spec = PageSpec.parse(request.page)
        self.redactor = Redactor(request.secrets)
        self.state = RunState(request, self.redactor, owner)
        self.recorder = ResourceRecorder(Parties(self.spec.url, self.spec.first_party))
        self.load = PageLoad()
        self.context: BrowserContext | None = None
        self.har: Path | None = None

    async def run(self) -> Result:
        self.har = await _har_scratch(self.request)
        try:
            return await self._run()
        finally:  # a run cancelled or failed before its HAR was kept or dropped leaves no temporary folder behind
            if self.har is not None:
                shutil.rmtree(self.har.parent, ignore_errors=True)  # gone already, or one small file

    async def _run(self) -> Result:
        started_at = time.time()
        failure = await self._open_and_load()
        load, state = self.load, self.state
        if load.status is None:  # the load did not finish: the document may still have answered
            load.status = self.recorder.document_status
        outcome, document = await self.recorder.outcome(load.status, load.title, SIZES_BUDGET_S)
        failed = FailedElements.of(outcome, document)
        if failure is None:
            failure = judge(self.spec, load, failed, _last_vitals(state))
        reason, detail = failure or (Reason.OK, _passed_detail(load, outcome, failed))
        if state.browser_lost() and reason is not Reason.INTERNAL:
            reason, detail = Reason.BROWSER_CRASH, f"the browser or page crashed during the run ({detail})"
        written = await self._keep_artifacts(reason is Reason.OK)
        return Result(
            check=self.request.check, ok=reason is Reason.OK, reason=reason, duration_s=load.duration_s,
            started_at=started_at, status_code=load.status, detail=cap_detail(self.redactor.text(detail)),
            journey=JourneyOutcome(run_id=self.request.run_id, page_loads=tuple(state.loads.values()),
                                   page_events=dict(state.events), artifacts=tuple(written)),
            protocol=outcome,
        )

    async def _open_and_load(self) -> Failure | None:
        """The failure of opening or loading the page, or None once it has loaded and settled."""
        request = self.request
        try:
            async with asyncio.timeout(SETUP_BUDGET_S):
                tracing = request.trace and request.artifacts_when != "never"
                self.context, page = await open_page(self.owner, self.state, tracing, self.har)
            self.recorder.attach(page)
            await _load(page, self.spec, self.state, self.load, request.timeout_s)
        except BrowserUnavailableError as exc:
            return Reason.INTERNAL, str(exc)
        except (TimeoutError, PlaywrightTimeoutError):
            if self.context is None:
                return Reason.INTERNAL, f"browser or page did not open within {SETUP_BUDGET_S:g}s"
            return Reason.TIMEOUT, _timeout_detail(request.timeout_s, self.load, self.recorder)
        except PlaywrightError as exc:
            return _playwright_failure(exc, self.state, self.load, self.context is not None)
        return None

    async def _keep_artifacts(self, ok: bool) -> list[str]:
        """The journeys' artifacts, then the HAR (written as the context closes) beside them, or deleted."""
        request = self.request
        written = await write_artifacts(request, self.state, self.context, ok, self.redactor)
        await close_run(self.context, None)
        if self.har is None:
            return written
        folder = artifacts.run_dir(request.artifacts_dir, request.check, request.run_id)
        keep = bool(written) and artifacts.wanted(request.artifacts_when, ok)  # then the run's folder exists
        try:
            if await asyncio.to_thread(artifacts.keep_har, self.har, folder if keep else None):
                written.append(f"{request.check}/{request.run_id}/{artifacts.HAR}")
        except OSError as exc:
            print(f"prober worker: HAR of {request.check} run {request.run_id} not kept: {exc.__class__.__name__}",
                  flush=True)
        return written


async def _load(page: Page, spec: PageSpec, state: RunState, load: PageLoad, timeout_s: float) -> None:
    """Navigate, settle, read the vitals, the selector and the title, all within `timeout_s`."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    async with asyncio.timeout_at(deadline):
        start = time.perf_counter()
        try:
            response = await page.goto(spec.url, wait_until="load")
        finally:
            load.duration_s = time.perf_counter() - start
        load.loaded = True
        load.status = response.status if response is not None else None
        # a fixed wait for elements added after the load event; cut short so that it never times out a page
        await asyncio.sleep(max(0.0, min(spec.settle_s, deadline - loop.time() - SETTLE_RESERVE_S)))
        await state.read_vitals()
        if spec.selector is not None:
            load.selector_visible = await page.locator(spec.selector).filter(visible=True).count() > 0
        load.title = await page.title()


@dataclasses.dataclass(frozen=True)
class FailedElements:
    """The elements that failed to load, beyond the document (whose own answer `status` judges: a 404 page that
    the check expects is no failed element)."""

    counts: Mapping[Party, int]
    listed: tuple[PageResource, ...]  # in start order, of the run's listed resources

    @classmethod
    def of(cls, outcome: PageOutcome, document: PageResource | None) -> FailedElements:
        counts = {party: outcome.failed(party) for party in Party}
        if document is not None and document.outcome is ResourceOutcome.FAILED:
            counts[document.party] -= 1
        listed = tuple(r for r in outcome.resources if r.outcome is ResourceOutcome.FAILED and r is not document)
        return cls(counts, listed)

    def count(self, party: Party | None = None) -> int:
        return sum(n for p, n in self.counts.items() if party is None or p is party)

    def text(self, party: Party | None = None) -> str:
        """The first few by URL, with why: `http://host/x.png (HTTP 404), ...`."""
        failed = [r for r in self.listed if party is None or r.party is party]
        shown = ", ".join(f"{r.url} ({r.error})" for r in failed[:LISTED_IN_DETAIL])
        return shown + (", ..." if self.count(party) > LISTED_IN_DETAIL else "")


def judge(spec: PageSpec, load: PageLoad, failed: FailedElements, vitals: Mapping[Vital, float]) -> Failure | None:
    """The first unmet expectation of a page that loaded: status, selector, title, failed elements, vitals."""
    if load.status is None or not status_matches(load.status, spec.status):
        return Reason.HTTP_STATUS, f"status {load.status} not in {', '.join(spec.status)}"
    if spec.selector is not None and not load.selector_visible:
        return Reason.ASSERTION, f"selector {spec.selector!r} not visible"
    if spec.title_regex is not None and not spec.title_regex.search(load.title):
        return Reason.ASSERTION, f"title {load.title!r} does not match {spec.title_regex.pattern!r}"
    for party, bound in ((Party.FIRST, spec.max_failed_resources),
                         (Party.THIRD, spec.max_failed_third_party_resources)):
        count = failed.count(party)
        if bound is not None and count > bound:
            return Reason.ASSERTION, (f"{count} {party.value}-party element{'' if count == 1 else 's'} failed: "
                                      f"{failed.text(party)}")
    for vital, key, name in VITAL_BOUNDS:
        bound_value: float | None = getattr(spec, key)
        if bound_value is None:
            continue
        value = vitals.get(vital)
        if value is None:
            return Reason.SLOW, f"{vital.value.upper()} not measured ({name} {_vital_text(vital, bound_value)})"
        if value > bound_value:
            return Reason.SLOW, (f"{vital.value.upper()} {_vital_text(vital, value)} > "
                                 f"{name} {_vital_text(vital, bound_value)}")
    if spec.max_duration_s is not None and load.duration_s > spec.max_duration_s:
        return Reason.SLOW, f"loaded in {load.duration_s:.3f}s (max_duration: {spec.max_duration_s:g}s)"
    return None


def _vital_text(vital: Vital, value: float) -> str:
    return f"{value:.3f}" if vital is Vital.CLS else f"{value:.2f}s"


def _passed_detail(load: PageLoad, outcome: PageOutcome, failed: FailedElements) -> str:
    elements = sum(t.count for t in outcome.totals)
    detail = f"loaded in {load.duration_s:.2f}s: {elements} elements"
    if outcome.unfinished:
        detail += f", {outcome.unfinished} still loading"
    if failed.count():  # within the bounds, yet worth naming
        detail += f", {failed.count()} failed: {failed.text()}"
    return detail


def _timeout_detail(timeout_s: float, load: PageLoad, recorder: ResourceRecorder) -> str:
    if load.loaded:
        return f"timed out after {timeout_s:g}s (the page loaded in {load.duration_s:.2f}s)"
    pending = recorder.unfinished_urls()
    detail = f"the page did not load within {timeout_s:g}s"
    if pending:
        detail += f"; still loading: {', '.join(pending[:LISTED_IN_DETAIL])}" + (
            ", ..." if len(pending) > LISTED_IN_DETAIL else "")
    return detail


def _playwright_failure(exc: PlaywrightError, state: RunState, load: PageLoad, opened: bool) -> Failure:
    if reason_for(exc, True, state.browser_lost()) is Reason.BROWSER_CRASH:
        return Reason.BROWSER_CRASH, f"the browser or page crashed: {state.describe(exc)}"
    if not opened:
        return Reason.INTERNAL, f"could not open a page: {state.describe(exc)}"
    if not load.loaded:  # the navigation itself failed: refused, DNS, reset, a bad certificate, ...
        code = NET_ERROR.search(str(exc))
        return Reason.NAVIGATION, f"navigation failed: {code.group() if code else state.describe(exc)}"
    return Reason.ASSERTION, state.describe(exc)  # an invalid selector, say


def _last_vitals(state: RunState) -> dict[Vital, float]:
    """The vitals of the run's latest page load (a page that navigates itself has several)."""
    return state.loads[max(state.loads)] if state.loads else {}


async def _har_scratch(request: RunRequest) -> Path | None:
    if request.artifacts_when == "never":
        return None
    try:
        return await asyncio.to_thread(artifacts.har_scratch)
    except OSError:
        return None  # no temporary space: the run goes on without a HAR
