"""JSON-lines logging: one line per finished run, and the agent's own events in the same shape.

Lines carry the check name, region, outcome and timings; never a header, a parameter or a URL (any of them
may hold a secret from `${VAR}`).
"""

from __future__ import annotations

import json
import logging
import sys
import time
from typing import Any

from prober.result import Result

run_log = logging.getLogger("prober.run")

_STANDARD_ATTRS = frozenset(logging.LogRecord("", 0, "", 0, "", None, None).__dict__) | {"message", "asctime"}


class JsonLineFormatter(logging.Formatter):
    """Formats a record as one JSON object per line: ts, level, logger, msg, and any `extra` fields."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created)) + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        for key, value in record.__dict__.items():
            if key not in _STANDARD_ATTRS and not key.startswith("_"):
                line[key] = value
        if record.exc_info and record.exc_info[0] is not None:
            line["error"] = record.exc_info[0].__name__
            line["traceback"] = self.formatException(record.exc_info)[-2000:]
        return json.dumps(line, default=str, ensure_ascii=False)


def configure_logging(level: str = "info") -> None:
    """Send every log record of the process to stdout as JSON lines."""
    # fields we never print; computing them per record costs more than the JSON line itself
    logging.logThreads = False
    logging.logProcesses = False
    logging.logMultiprocessing = False
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(JsonLineFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())


class RunLogger:
    """A RunObserver that writes one JSON line per finished run and one per skipped slot."""

    def __init__(self, region: str) -> None:
        self.region = region

    def run_started(self, check: str, lag_s: float) -> None:
        """Nothing is logged when a run starts; only its end is news."""

    def run_finished(self, result: Result, first_attempt: Result) -> None:
        extra: dict[str, Any] = {}
        if result.journey is not None:  # a failed journey's line names its failed step and its artifacts
            extra["run_id"] = result.journey.run_id
            extra["steps"] = {step.name: step.status.value for step in result.journey.steps}
            if result.journey.artifacts:
                extra["artifacts"] = [f"/artifacts/{path}" for path in result.journey.artifacts]
        run_log.info(
            "run finished",
            extra={
                "check": result.check,
                "region": self.region,
                "ok": result.ok,
                "reason": result.reason.value,
                "duration_s": round(result.duration_s, 6),
                "phases": {phase.value: round(seconds, 6) for phase, seconds in result.phases.items()},
                "status_code": result.status_code,
                "attempts": result.attempts,
                "first_attempt_reason": first_attempt.reason.value,
                "counted": result.counted.value,
                "detail": result.detail,
                **extra,
            },
        )

    def run_skipped(self, check: str, slots: int) -> None:
        run_log.warning("run skipped", extra={"check": check, "region": self.region, "slots": slots})
