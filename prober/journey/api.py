"""What a journey script sees: the `@journey` decorator and `Journey` (page, http, params, step).

```python
@journey
async def checkout(j: Journey) -> None:
    async with j.step("open shop"):
        await j.page.goto(j.params["base_url"])
```
The runner owns the rules: a failed step ends the journey unless it is `soft`; steps do not nest.
Nothing here imports Playwright at run time, so the agent's own process can import this module cheaply.
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable, Mapping
from types import MappingProxyType, TracebackType
from typing import TYPE_CHECKING, Any, Protocol, TypeVar, overload

if TYPE_CHECKING:
    from playwright.async_api import Page

    from prober.journey.http_client import JourneyHttp

JOURNEY_ATTR = "__prober_journey__"
JourneyFunction = Callable[["Journey"], Awaitable[None]]
F = TypeVar("F", bound=JourneyFunction)


class JourneyOptions:
    """What `@journey(...)` said; `browser=None` means: decide from whether the script touches `j.page`."""

    def __init__(self, browser: bool | None) -> None:
        self.browser = browser


@overload
def journey(function: F, /) -> F: ...


@overload
def journey(*, browser: bool | None = None) -> Callable[[F], F]: ...


def journey(function: F | None = None, /, *, browser: bool | None = None) -> F | Callable[[F], F]:
    """Mark an `async def name(j: Journey)` as a journey. `browser=True/False` overrides the detection of
    whether it uses `j.page` (needed only when a helper in another module touches the page)."""

    def mark(fn: F) -> F:
        is_async = inspect.iscoroutinefunction(fn)  # (a bool: a TypeGuard here would narrow away F)
        if not is_async:
            raise TypeError(f"@journey needs an async function (got {getattr(fn, '__name__', fn)!r})")
        setattr(fn, JOURNEY_ATTR, JourneyOptions(browser))
        return fn

    return mark(function) if function is not None else mark


class StepHooks(Protocol):
    """The worker's side of `j.step`: timing, outcome, and whether a failure is swallowed (soft)."""

    def step_started(self, name: str) -> None: ...

    async def step_ended(self, name: str, soft: bool, exc: BaseException | None) -> bool: ...


class NestedStepError(RuntimeError):
    """`j.step` inside another `j.step`: steps are a flat sequence."""


class Step:
    """`async with j.step(name)`: times the block; a failure ends the journey unless `soft`."""

    def __init__(self, hooks: StepHooks, name: str, soft: bool, in_step: list[bool]) -> None:
        self._hooks, self._name, self._soft, self._in_step = hooks, name, soft, in_step

    async def __aenter__(self) -> None:
        if self._in_step[0]:
            raise NestedStepError(f"step {self._name!r} started inside another step: steps do not nest")
        self._in_step[0] = True
        self._hooks.step_started(self._name)

    async def __aexit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> bool:
        self._in_step[0] = False
        return await self._hooks.step_ended(self._name, self._soft, exc)


class Journey:
    """The handle a journey function receives.

    - `page`: a fresh Playwright page in a fresh browser context (no cookies or cache from earlier runs);
    - `http`: an HTTP client that records each request's phases (cookies kept within the run);
    - `params`: the check's `params` from agent.yaml, read-only;
    - `step(name, soft=False)`: an async context manager that times and names a part of the journey.
    """

    def __init__(self, params: Mapping[str, Any], http: JourneyHttp, page: Page | None, hooks: StepHooks) -> None:
        self.params: Mapping[str, Any] = MappingProxyType(dict(params))
        self.http = http
        self._page = page
        self._hooks = hooks
        self._in_step = [False]

    @property
    def page(self) -> Page:
        if self._page is None:
            raise RuntimeError(
                "this journey runs without a browser: prober saw no `.page` in its script; "
                "write @journey(browser=True) when a helper module uses j.page"
            )
        return self._page

    def step(self, name: str, soft: bool = False) -> Step:
        if not isinstance(name, str) or not name.strip():
            raise ValueError("a step needs a non-empty name")
        return Step(self._hooks, name.strip(), soft, self._in_step)
