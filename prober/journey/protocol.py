"""The messages between the agent and a journey worker: one JSON object per line, each way.

Agent -> worker (stdin): `RunRequest`s and `{"op": "stop"}`. Worker -> agent (a private pipe, never the
script's stdout): `{"op": "ready"}` once, then one result per request. Both sides import only this module
to agree on the shape.
"""

from __future__ import annotations

import dataclasses
import json
from typing import Any

from prober.result import (
    DETAIL_MAX_CHARS,
    JourneyOutcome,
    PageEvent,
    Phase,
    Reason,
    Result,
    StepResult,
    StepStatus,
    Vital,
    cap_detail,
)

SETUP_BUDGET_S = 15.0
"""Bound on launching the browser (first run of a worker) and opening a context and page."""
ARTIFACTS_BUDGET_S = 8.0
"""Bound on writing a failed run's screenshot, trace and console log, after the journey's timeout."""
MAX_STEPS = 64
MAX_PAGE_LOADS = 32
MAX_LINE_BYTES = 1 << 20


@dataclasses.dataclass(frozen=True)
class RunRequest:
    """One run of one journey, as the worker needs it."""

    run_id: str
    check: str
    script: str
    function: str | None
    params: dict[str, Any]
    secrets: list[str]
    timeout_s: float
    fail_on_page_error: bool
    artifacts_dir: str
    artifacts_when: str  # failure | always | never
    trace: bool

    def encode(self) -> bytes:
        return json.dumps({"op": "run", **dataclasses.asdict(self)}).encode() + b"\n"

    @classmethod
    def decode(cls, message: dict[str, Any]) -> RunRequest:
        fields = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in message.items() if k in fields})


def encode_result(run_id: str, result: Result) -> bytes:
    outcome = result.journey
    message: dict[str, Any] = {
        "op": "result", "id": run_id, "ok": result.ok, "reason": result.reason.value,
        "duration_s": result.duration_s, "started_at": result.started_at, "detail": result.detail,
        "status_code": result.status_code,
        "phases": {phase.value: seconds for phase, seconds in result.phases.items()},
    }
    if outcome is not None:
        message.update(
            steps=[[s.name, s.status.value, s.duration_s, s.detail] for s in outcome.steps],
            page_loads=[{v.value: x for v, x in load.items()} for load in outcome.page_loads],
            page_events={e.value: n for e, n in outcome.page_events.items()},
            requests=outcome.requests, artifacts=list(outcome.artifacts),
        )
    return json.dumps(message).encode() + b"\n"


def decode_result(check: str, message: dict[str, Any]) -> Result:
    """A Result from a worker's message; raises (KeyError, ValueError, TypeError) on a malformed one."""
    steps = tuple(
        StepResult(str(name)[:DETAIL_MAX_CHARS], StepStatus(status), None if d is None else float(d),
                   cap_detail(str(detail)))
        for name, status, d, detail in message.get("steps", [])[:MAX_STEPS]
    )
    loads = tuple({Vital(k): float(v) for k, v in load.items()}
                  for load in message.get("page_loads", [])[:MAX_PAGE_LOADS])
    outcome = JourneyOutcome(
        run_id=str(message["id"]), steps=steps, page_loads=loads,
        page_events={PageEvent(k): int(n) for k, n in message.get("page_events", {}).items()},
        requests=int(message.get("requests", 0)), artifacts=tuple(str(a) for a in message.get("artifacts", [])),
    )
    reason = Reason(message["reason"])
    return Result(
        check=check, ok=reason is Reason.OK, reason=reason, duration_s=float(message["duration_s"]),
        started_at=float(message["started_at"]), detail=cap_detail(str(message.get("detail", ""))),
        phases={Phase(k): float(v) for k, v in message.get("phases", {}).items()},
        status_code=message.get("status_code"), journey=outcome,
    )
