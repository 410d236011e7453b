"""The messages between the agent and a journey worker: one JSON object per line, each way.

Agent -> worker (stdin): `RunRequest`s and `{"op": "stop"}`. Worker -> agent (a private pipe, never the
script's stdout): `{"op": "ready"}` once, then one result per request. Both sides import only this module
to agree on the shape.

A page run's result carries `"page": {"document_status", "title", "unfinished", "resources": [[url, type, party,
outcome, status, error, start_s, duration_s, transfer_bytes, dns_s, connect_s, tls_s, ttfb_s, download_s], ...],
"totals": [[type, party, outcome, count, transfer_bytes, duration_s], ...]}` (absent times and sizes are null).
"""

from __future__ import annotations

import dataclasses
import json
from typing import Any

from prober.result import (
    DETAIL_MAX_CHARS,
    JourneyOutcome,
    PageEvent,
    PageOutcome,
    PageResource,
    Party,
    Phase,
    Reason,
    ResourceOutcome,
    ResourceTotal,
    ResourceType,
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
MAX_RESOURCES = 100
"""Elements listed in a page run's result (the waterfall and the failed list); its totals count every one."""
MAX_TOTALS = len(ResourceType) * len(Party) * len(ResourceOutcome)
URL_MAX_CHARS = 200
ERROR_MAX_CHARS = 100
TITLE_MAX_CHARS = 200


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
    emulation: dict[str, Any] = dataclasses.field(default_factory=dict)  # BrowserCheck.emulation()
    page: dict[str, Any] | None = None  # PageCheck.page_spec(): a page run instead of a script (script is "")

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
    if isinstance(result.protocol, PageOutcome):
        message["page"] = _encode_page(result.protocol)
    return json.dumps(message).encode() + b"\n"


def _encode_page(page: PageOutcome) -> dict[str, Any]:
    return {
        "document_status": page.document_status, "title": page.title, "unfinished": page.unfinished,
        "resources": [[r.url, r.type.value, r.party.value, r.outcome.value, r.status, r.error, r.start_s, r.duration_s,
                       r.transfer_bytes, r.dns_s, r.connect_s, r.tls_s, r.ttfb_s, r.download_s]
                      for r in page.resources],
        "totals": [[t.type.value, t.party.value, t.outcome.value, t.count, t.transfer_bytes, t.duration_s]
                   for t in page.totals],
    }


def _decode_page(page: dict[str, Any]) -> PageOutcome:
    """The PageOutcome of a page run's message: enums parsed, lists and strings capped; raises on a malformed one."""
    resources = tuple(_decode_resource(row) for row in page.get("resources", [])[:MAX_RESOURCES])
    totals = tuple(
        ResourceTotal(ResourceType(kind), Party(party), ResourceOutcome(outcome), int(count), int(size), float(seconds))
        for kind, party, outcome, count, size, seconds in page.get("totals", [])[:MAX_TOTALS]
    )
    return PageOutcome(
        document_status=_int_or_none(page.get("document_status")), title=str(page.get("title", ""))[:TITLE_MAX_CHARS],
        resources=resources, totals=totals, unfinished=int(page.get("unfinished", 0)),
    )


def _decode_resource(row: list[Any]) -> PageResource:
    url, kind, party, outcome, status, error, start, duration, size, dns, connect, tls, ttfb, download = row
    return PageResource(
        str(url)[:URL_MAX_CHARS], ResourceType(kind), Party(party), ResourceOutcome(outcome), _int_or_none(status),
        str(error)[:ERROR_MAX_CHARS], float(start), _float_or_none(duration), _int_or_none(size),
        _float_or_none(dns), _float_or_none(connect), _float_or_none(tls), _float_or_none(ttfb),
        _float_or_none(download),
    )


def _int_or_none(value: Any) -> int | None:
    return None if value is None else int(value)


def _float_or_none(value: Any) -> float | None:
    return None if value is None else float(value)


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
        protocol=_decode_page(message["page"]) if message.get("page") is not None else None,
    )
