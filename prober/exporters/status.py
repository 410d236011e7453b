"""Run history for the status page and its JSON API: the last runs of each check, in a bounded ring.

A RunObserver like the other exporters. Memory is bounded by `RING_SIZE` runs per configured check; a check
removed by a reload loses its history. What it hands out is plain JSON-able data, never a URL, header or
parameter of a check (any of which may hold a secret): only names, reasons, timings, steps and artifact paths.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Sequence
from typing import Any

from prober.config.models import Check, JourneyCheck
from prober.config.units import format_duration
from prober.result import (
    Counted,
    DnsOutcome,
    GrpcOutcome,
    PageOutcome,
    PageResource,
    Party,
    PingOutcome,
    ProtocolOutcome,
    ResourceOutcome,
    Result,
    TlsOutcome,
)

RING_SIZE = 60
"""Runs kept per check: the sparkline's width and the window of the page's availability."""
MAX_FAILED_SHOWN = 10
"""Failed elements of a page run named in its log line and its view (their count is always whole)."""


def element_view(resource: PageResource) -> dict[str, Any]:
    """One element of a page run as JSON: its URL (no query string), kind, party, outcome and timings."""
    return {"url": resource.url, "type": resource.type.value, "party": resource.party.value,
            "outcome": resource.outcome.value, "status": resource.status, "error": resource.error,
            "start_s": resource.start_s, "duration_s": resource.duration_s,
            "transfer_bytes": resource.transfer_bytes, "dns_s": resource.dns_s, "connect_s": resource.connect_s,
            "tls_s": resource.tls_s, "ttfb_s": resource.ttfb_s, "download_s": resource.download_s}


def _page_view(outcome: PageOutcome) -> dict[str, Any]:
    failed = [r for r in outcome.resources if r.outcome is ResourceOutcome.FAILED]
    by_type: dict[str, int] = {}
    for total in outcome.totals:
        by_type[total.type.value] = by_type.get(total.type.value, 0) + total.count
    return {"kind": "page", "document_status": outcome.document_status, "title": outcome.title,
            "elements": sum(by_type.values()), "by_type": by_type,
            "failed_first_party": outcome.failed(Party.FIRST), "failed_third_party": outcome.failed(Party.THIRD),
            "transfer_bytes": sum(t.transfer_bytes for t in outcome.totals), "unfinished": outcome.unfinished,
            "failed": [{"url": r.url, "type": r.type.value, "party": r.party.value, "error": r.error}
                       for r in failed[:MAX_FAILED_SHOWN]]}


def protocol_view(outcome: ProtocolOutcome, now: float | None = None) -> dict[str, Any]:
    """What a protocol check's run measured beyond its phases, as JSON (the status page and the run's log line):
    the TLS session and each certificate's days left, a DNS answer's rcode and record counts, an icmp run's
    packets and round-trip statistics (ping's min/avg/max/mdev), a grpc call's status, a page's elements by type
    and its failed ones (the waterfall of every element is `run_view`'s)."""
    now = time.time() if now is None else now
    if isinstance(outcome, TlsOutcome):
        return {"kind": "tls", "version": outcome.version, "cipher": outcome.cipher,
                "chain": [{"subject": c.subject, "issuer": c.issuer, "not_before": c.not_before,
                           "not_after": c.not_after, "days_left": round((c.not_after - now) / 86400, 1)}
                          for c in outcome.chain],
                "client_cert_not_after": outcome.client_cert_not_after}
    if isinstance(outcome, DnsOutcome):
        return {"kind": "dns", "rcode": outcome.rcode, "answers": outcome.answers, "authority": outcome.authority,
                "additional": outcome.additional}
    if isinstance(outcome, PingOutcome):
        rtts = outcome.rtts_s
        mean = sum(rtts) / len(rtts) if rtts else None
        return {"kind": "icmp", "sent": outcome.sent, "received": outcome.received,
                "loss": round(1 - outcome.received / outcome.sent, 4) if outcome.sent else None,
                "rtt_min_s": min(rtts, default=None), "rtt_avg_s": mean, "rtt_max_s": max(rtts, default=None),
                "rtt_mdev_s": (sum((r - mean) ** 2 for r in rtts) / len(rtts)) ** 0.5 if mean is not None else None,
                "hop_limit": outcome.hop_limit}
    if isinstance(outcome, PageOutcome):
        return _page_view(outcome)
    assert isinstance(outcome, GrpcOutcome)
    return {"kind": "grpc", "status_code": outcome.status_code, "serving_status": outcome.serving_status}


def run_view(result: Result, waterfall: bool = False) -> dict[str, Any]:
    """One run as JSON: what the status page and `/api/checks/{name}` show; with `waterfall`, a page run's every
    element (kept to the last run's view: 60 runs of 100 elements would make the API heavy)."""
    view: dict[str, Any] = {
        "started_at": result.started_at,
        "ok": result.ok,
        "reason": result.reason.value,
        "counted": result.counted.value,
        "duration_s": round(result.duration_s, 6),
        "attempts": result.attempts,
        "detail": result.detail,
        "phases": {phase.value: round(seconds, 6) for phase, seconds in result.phases.items()},
        "status_code": result.status_code,
    }
    if result.protocol is not None:
        view["protocol"] = protocol_view(result.protocol)
        if waterfall and isinstance(result.protocol, PageOutcome):
            view["waterfall"] = [element_view(r) for r in result.protocol.resources]
    journey = result.journey
    if journey is not None:
        view["journey"] = {
            "run_id": journey.run_id,
            "steps": [{"name": s.name, "status": s.status.value, "duration_s": s.duration_s, "detail": s.detail}
                      for s in journey.steps],
            "page_loads": [{vital.value: value for vital, value in load.items()} for load in journey.page_loads],
            "page_events": {event.value: count for event, count in journey.page_events.items()},
            "artifacts": [f"/artifacts/{path}" for path in journey.artifacts],
        }
    return view


class RunHistory:
    """Keeps the last `RING_SIZE` finished runs of each configured check."""

    def __init__(self) -> None:
        self._checks: dict[str, Check] = {}
        self._runs: dict[str, deque[Result]] = {}
        self.region = "local"

    def configure(self, region: str, checks: Sequence[Check]) -> None:
        self.region = region
        self._checks = {check.name: check for check in checks}
        self._runs = {name: self._runs.get(name, deque(maxlen=RING_SIZE)) for name in self._checks}

    # RunObserver ---------------------------------------------------------------------------------------
    def run_started(self, check: str, lag_s: float) -> None:
        """Only finished runs are history."""

    def run_finished(self, result: Result, first_attempt: Result) -> None:
        ring = self._runs.get(result.check)
        if ring is not None:
            ring.append(result)

    def run_skipped(self, check: str, slots: int) -> None:
        """Skipped slots show in /metrics, not in the run history."""

    # views ---------------------------------------------------------------------------------------------
    def checks(self) -> list[dict[str, Any]]:
        """Every check of this agent, most troubled first: status, last run, availability of the kept runs."""
        views = [self._summary(name) for name in self._checks]
        order = {"failing": 0, "pending": 1, "ok": 2}
        return sorted(views, key=lambda v: (order[v["status"]], v["name"]))

    def check(self, name: str) -> dict[str, Any] | None:
        """One check with its kept runs, newest first; None for a check this agent does not run."""
        if name not in self._checks:
            return None
        return {**self._summary(name), "runs": [run_view(r) for r in reversed(self._runs[name])]}

    def _summary(self, name: str) -> dict[str, Any]:
        check, runs = self._checks[name], self._runs[name]
        last = runs[-1] if runs else None
        counted = [r for r in runs if r.counted is Counted.SLI]
        slo = check.slo
        return {
            "name": name,
            "type": check.type,
            "region": self.region,
            "interval": format_duration(check.interval),
            "timeout": format_duration(check.timeout),
            "status": "pending" if last is None else ("ok" if last.ok else "failing"),
            "last": run_view(last, waterfall=True) if last is not None else None,
            "availability": (sum(r.ok for r in counted) / len(counted)) if counted else None,
            "kept_runs": len(runs),
            "sparkline": [{"ok": r.ok, "duration_s": round(r.duration_s, 6), "counted": r.counted.value}
                          for r in runs],
            "slo": slo.model_dump(mode="json") if slo is not None else None,
            "script": check.script_path.rsplit("/", 1)[-1] if isinstance(check, JourneyCheck) else None,
            "labels": dict(check.labels),
            "now": time.time(),
        }
