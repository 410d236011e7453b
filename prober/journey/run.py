"""One journey run inside a worker: fresh context and page, the script under its timeout, steps, page events,
web vitals and failure artifacts. Returns a Result for every outcome; raises only on the worker's own bugs."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import aiohttp
from playwright.async_api import BrowserContext, ConsoleMessage, Frame, Page, Request
from playwright.async_api import Error as PlaywrightError

from prober.journey import artifacts, emulation
from prober.journey.api import Journey, NestedStepError
from prober.journey.browser import BrowserOwner, BrowserUnavailableError
from prober.journey.http_client import HttpStatusError, JourneyHttp, RequestLog
from prober.journey.loader import LoadedJourney, ScriptCache, ScriptError
from prober.journey.protocol import ARTIFACTS_BUDGET_S, MAX_PAGE_LOADS, MAX_STEPS, SETUP_BUDGET_S, RunRequest
from prober.journey.redact import Redactor
from prober.journey.vitals import INIT_JS, READ_JS, REPORT_BINDING, parse_reading
from prober.reasons import classify, describe, strip_urls
from prober.result import (
    JourneyOutcome,
    PageEvent,
    Reason,
    Result,
    StepResult,
    StepStatus,
    Vital,
    cap_detail,
)

READ_BUDGET_S = 1.0
CONSOLE_MAX_LINES = 1000
CONSOLE_MAX_CHARS = 1000


class ScriptBlockedError(BaseException):
    """Raised into a script that blocked the worker's event loop (`time.sleep`, a busy loop).

    A BaseException, so that a script's `except Exception` does not swallow it.
    """


def _closed(exc: BaseException) -> bool:
    text = str(exc)
    return "has been closed" in text or "Target crashed" in text or "Browser closed" in text


def reason_for(exc: BaseException, in_step: bool, browser_gone: bool) -> Reason:
    """The bounded reason a script's exception stands for (the one place for journeys)."""
    if isinstance(exc, ScriptBlockedError | NestedStepError):
        return Reason.SCRIPT_ERROR
    if isinstance(exc, PlaywrightError):
        if browser_gone or _closed(exc):
            return Reason.BROWSER_CRASH
        if "net::ERR_" in str(exc) or "navigating to" in str(exc):
            return Reason.NAVIGATION
    if not in_step:
        return Reason.SCRIPT_ERROR
    if isinstance(exc, HttpStatusError):
        return Reason.HTTP_STATUS
    if isinstance(exc, aiohttp.ClientError | OSError):
        return classify(exc)
    return Reason.STEP_FAILED


class RunState:
    """What one run has seen so far; it is the `StepHooks` of the run's Journey."""

    def __init__(self, request: RunRequest, redactor: Redactor, owner: BrowserOwner) -> None:
        self.request, self.redactor, self.owner = request, redactor, owner
        self.page: Page | None = None
        self.steps: list[StepResult] = []
        self.current: tuple[str, float] | None = None
        self.failure: tuple[Reason, str] | None = None  # the first failed step's
        self.soft_failure: tuple[Reason, str] | None = None
        self.events: dict[PageEvent, int] = {}
        self.first_page_error = ""
        self.console: list[str] = []
        self.loads: dict[float, dict[Vital, float]] = {}
        self.crashed = False  # the page's renderer crashed
        self.read_since_navigation = False  # the last reading is current: the run's end need not read again

    # StepHooks ----------------------------------------------------------------------------------------
    def step_started(self, name: str) -> None:
        self.current = (name, time.perf_counter())

    async def step_ended(self, name: str, soft: bool, exc: BaseException | None) -> bool:
        started = self.current[1] if self.current else time.perf_counter()
        duration = time.perf_counter() - started
        self.current = None
        if exc is None:
            self._record(StepResult(name, StepStatus.OK, duration))
            await self.read_vitals()
            return False
        if isinstance(exc, asyncio.CancelledError):  # the journey's timeout (or the worker stopping)
            self._record(StepResult(name, StepStatus.FAILED, duration, "timed out in this step"))
            self.failure = self.failure or (Reason.TIMEOUT, f"timed out in step {name!r}")
            return False
        reason = reason_for(exc, True, self.browser_lost())
        detail = self.describe(exc)
        swallow = soft and isinstance(exc, Exception)
        self._record(StepResult(name, StepStatus.SOFT_FAILED if swallow else StepStatus.FAILED, duration,
                                f"{reason.value}: {detail}"))
        if swallow:
            self.soft_failure = self.soft_failure or (reason, f"step {name!r} (soft): {detail}")
        else:
            self.failure = self.failure or (reason, f"step {name!r}: {detail}")
        await self.read_vitals()
        return swallow

    def _record(self, step: StepResult) -> None:
        if len(self.steps) < MAX_STEPS:
            self.steps.append(step)

    def describe(self, exc: BaseException) -> str:
        if isinstance(exc, ScriptBlockedError):
            return "the script blocked its worker's event loop (time.sleep or a busy loop in async code?)"
        if isinstance(exc, PlaywrightError):
            text = strip_urls(f"{exc.__class__.__name__}: {exc.message}")
        else:
            text = describe(exc)
        # Playwright appends a call log and the expect() diff on later lines: the first lines say what failed
        return cap_detail(self.redactor.text(" ".join(text.splitlines()[:3])))

    # page events and vitals ---------------------------------------------------------------------------
    def watch(self, page: Page) -> None:
        self.page = page
        page.on("pageerror", self._on_page_error)
        page.on("console", self._on_console)
        page.on("requestfailed", self._on_request_failed)
        page.on("crash", self._on_crash)
        page.on("framenavigated", self._on_navigated)

    def _on_crash(self, _page: Page) -> None:
        self.crashed = True

    def _on_navigated(self, frame: Frame) -> None:
        if frame.parent_frame is None:
            self.read_since_navigation = False

    def browser_lost(self) -> bool:
        """Whether this run's page crashed or the browser went away under it."""
        return self.page is not None and (self.crashed or not self.owner.connected())

    def _count(self, event: PageEvent) -> None:
        self.events[event] = self.events.get(event, 0) + 1

    def _log(self, line: str) -> None:
        if len(self.console) < CONSOLE_MAX_LINES:
            self.console.append(self.redactor.text(line[:CONSOLE_MAX_CHARS]))

    def _on_page_error(self, error: PlaywrightError) -> None:
        self._count(PageEvent.UNCAUGHT_EXCEPTION)
        text = f"{error.name}: {error.message}" if error.name else error.message
        self.first_page_error = self.first_page_error or text
        self._log(f"[uncaught] {text}")

    def _on_console(self, message: ConsoleMessage) -> None:
        if message.type == "error":
            self._count(PageEvent.CONSOLE_ERROR)
            self.first_page_error = self.first_page_error or f"console error: {message.text}"
        self._log(f"[{message.type}] {message.text}")

    def _on_request_failed(self, request: Request) -> None:
        self._count(PageEvent.FAILED_REQUEST)
        self._log(f"[request failed] {request.method} {request.url} {request.failure or ''}")

    async def read_vitals(self, only_if_stale: bool = False) -> None:
        page = self.page
        if page is None or page.is_closed() or (only_if_stale and self.read_since_navigation):
            return
        try:
            async with asyncio.timeout(READ_BUDGET_S):
                reading = parse_reading(await page.evaluate(READ_JS))
        except (PlaywrightError, TimeoutError):
            return  # mid-navigation or gone: the next reading gets this load
        self._keep(reading)
        self.read_since_navigation = True

    def on_report(self, _source: object, raw: object) -> None:
        """A page's last reading, sent from its `pagehide` (it is being left)."""
        self._keep(parse_reading(raw))

    def _keep(self, reading: tuple[float, dict[Vital, float]] | None) -> None:
        if reading is not None and (reading[0] in self.loads or len(self.loads) < MAX_PAGE_LOADS):
            self.loads[reading[0]] = reading[1]

    def not_run(self, declared: tuple[str, ...]) -> list[StepResult]:
        seen = {step.name for step in self.steps}
        return [StepResult(name, StepStatus.NOT_RUN) for name in declared if name not in seen]


async def open_page(
    owner: BrowserOwner, state: RunState, trace: bool, har_path: Path | None = None
) -> tuple[BrowserContext, Page]:
    """A fresh context, emulating the check's device, locale, timezone and position, and its page, throttled to
    the check's network, watched by `state`; `har_path` records the context's requests as a HAR there."""
    browser = await owner.browser()
    options = emulation.context_options(state.request.emulation, owner.devices())
    if har_path is not None:
        options.update(record_har_path=str(har_path), record_har_content="omit")
    context = await browser.new_context(**options)
    try:
        await context.expose_binding(REPORT_BINDING, state.on_report)
        await context.add_init_script(INIT_JS)
        if trace:
            await context.tracing.start(screenshots=True, snapshots=True)
        page = await context.new_page()
        await emulation.throttle(page, state.request.emulation)
    except BaseException:
        await context.close()
        raise
    timeout_ms = state.request.timeout_s * 1000
    page.set_default_timeout(timeout_ms)
    page.set_default_navigation_timeout(timeout_ms)
    state.watch(page)
    return context, page


async def run_journey(request: RunRequest, owner: BrowserOwner, scripts: ScriptCache) -> Result:
    """Run `request` once; every failure of the script, the page or the browser is a failed Result."""
    started_at = time.time()
    redactor = Redactor(request.secrets)
    state = RunState(request, redactor, owner)
    log = RequestLog()
    http = JourneyHttp(log)
    context: BrowserContext | None = None
    loaded: LoadedJourney | None = None
    duration = 0.0
    try:
        loaded = scripts.load(request.script, request.function)
        if loaded.uses_browser:
            async with asyncio.timeout(SETUP_BUDGET_S):
                context, _page = await open_page(owner, state, request.trace and request.artifacts_when != "never")
        start = time.perf_counter()
        try:
            async with asyncio.timeout(request.timeout_s):
                await loaded.function(Journey(request.params, http, state.page, state))
        finally:
            duration = time.perf_counter() - start
        await state.read_vitals(only_if_stale=True)  # a step's end read it already, unless the page moved on
        outcome = state.failure or state.soft_failure
        if outcome is None and request.fail_on_page_error:
            errors = state.events.get(PageEvent.UNCAUGHT_EXCEPTION, 0) + state.events.get(PageEvent.CONSOLE_ERROR, 0)
            if errors:
                outcome = Reason.ASSERTION, f"{errors} page error(s) (fail_on_page_error): {state.first_page_error}"
        reason, detail = outcome or (Reason.OK, f"{len(state.steps)} steps passed")
        if state.browser_lost() and reason in (Reason.OK, Reason.STEP_FAILED):  # a script that never noticed
            reason, detail = Reason.BROWSER_CRASH, f"the browser or page crashed during the run ({detail})"
    except ScriptError as exc:
        reason, detail = Reason.SCRIPT_ERROR, str(exc)
    except BrowserUnavailableError as exc:
        reason, detail = Reason.INTERNAL, str(exc)
    except TimeoutError:
        if loaded is not None and duration == 0.0:  # the setup budget ran out, not the journey's timeout
            reason, detail = Reason.INTERNAL, f"browser or page did not open within {SETUP_BUDGET_S:g}s"
        else:
            reason, detail = state.failure or (Reason.TIMEOUT, f"timed out after {request.timeout_s:g}s")
            detail = f"{detail} ({request.timeout_s:g}s)" if state.failure else detail
    except Exception as exc:  # a hard step failure propagates here; otherwise the script failed outside steps
        if state.failure is not None:
            reason, detail = state.failure
        else:
            reason = reason_for(exc, False, state.browser_lost())
            detail = f"outside any step: {state.describe(exc)}"
    except ScriptBlockedError as exc:
        reason, detail = state.failure or (Reason.SCRIPT_ERROR, state.describe(exc))
    steps = [*state.steps, *state.not_run(loaded.declared_steps if loaded else ())][:MAX_STEPS]
    written = await write_artifacts(request, state, context, reason is Reason.OK, redactor)
    await close_run(context, http)
    outcome_data = JourneyOutcome(
        run_id=request.run_id, steps=tuple(steps), page_loads=tuple(state.loads.values()),
        page_events=dict(state.events), requests=log.requests, artifacts=tuple(written),
    )
    return Result(
        check=request.check, ok=reason is Reason.OK, reason=reason, duration_s=duration, started_at=started_at,
        phases=dict(log.phases), status_code=log.last_status, detail=cap_detail(redactor.text(detail)),
        journey=outcome_data,
    )


async def write_artifacts(
    request: RunRequest, state: RunState, context: BrowserContext | None, ok: bool, redactor: Redactor
) -> list[str]:
    """Screenshot, trace and console log of the run, when wanted (paths relative to the artifacts directory, in
    the run's folder); a write error costs only the artifacts."""
    wanted = artifacts.wanted(request.artifacts_when, ok)
    tracing = context is not None and request.trace and request.artifacts_when != "never"
    written: list[str] = []
    folder = artifacts.run_dir(request.artifacts_dir, request.check, request.run_id)
    relative = f"{request.check}/{request.run_id}"
    try:
        async with asyncio.timeout(ARTIFACTS_BUDGET_S):
            if wanted:
                await asyncio.to_thread(folder.mkdir, parents=True, exist_ok=True)
                page = state.page
                if page is not None and not page.is_closed():
                    await page.screenshot(path=folder / artifacts.SCREENSHOT, timeout=3000)
                    written.append(f"{relative}/{artifacts.SCREENSHOT}")
                if state.console or page is not None:
                    text = "\n".join(state.console) + ("\n" if state.console else "")
                    await asyncio.to_thread((folder / artifacts.CONSOLE).write_text, text, encoding="utf-8")
                    written.append(f"{relative}/{artifacts.CONSOLE}")
            if tracing and context is not None:
                if wanted:
                    path = folder / artifacts.TRACE
                    await context.tracing.stop(path=path)
                    await asyncio.to_thread(redactor.zip_file, str(path))
                    written.append(f"{relative}/{artifacts.TRACE}")
                else:
                    await context.tracing.stop()
    except (OSError, PlaywrightError, TimeoutError) as exc:
        print(f"prober worker: artifacts of {request.check} run {request.run_id} incomplete: "
              f"{exc.__class__.__name__}", flush=True)
    return written


async def close_run(context: BrowserContext | None, http: JourneyHttp | None) -> None:
    """Close what a run opened, bounded in time; a context recording a HAR writes it now."""
    try:
        async with asyncio.timeout(5):
            if http is not None:
                await http.close()
            if context is not None:
                await context.close()
    except (PlaywrightError, TimeoutError, OSError):
        pass  # a browser that is gone has no context left to close

