"""JSON-lines logging: one line per finished run, and the agent's own events in the same shape.

Lines carry the check name, region, outcome and timings; never a header, a parameter or a URL (any of them
may hold a secret from `${VAR}`). Run lines are the agent's busiest output (a thousand a second at scale), so
RunLogger writes them itself, flushed once per event-loop iteration, instead of through `logging`'s records,
caller lookup, locks and a flush per line; the agent's own events go through `logging`, to the same stream.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import sys
import time
from collections.abc import Mapping
from typing import Any, TextIO

from prober.exporters.status import protocol_view
from prober.result import Result

run_log = logging.getLogger("prober.run")

_STANDARD_ATTRS = frozenset(logging.LogRecord("", 0, "", 0, "", None, None).__dict__) | {"message", "asctime"}


def json_line(created: float, level: str, logger: str, msg: str, fields: Mapping[str, Any]) -> str:
    """One log line: ts, level, logger, msg, then `fields`, as a JSON object."""
    ts = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(created)) + f".{int(created % 1 * 1000):03d}Z"
    return json.dumps({"ts": ts, "level": level, "logger": logger, "msg": msg, **fields},
                      default=str, ensure_ascii=False)


class JsonLineFormatter(logging.Formatter):
    """Formats a record as one JSON object per line: ts, level, logger, msg, and any `extra` fields."""

    def format(self, record: logging.LogRecord) -> str:
        fields = {key: value for key, value in record.__dict__.items()
                  if key not in _STANDARD_ATTRS and not key.startswith("_")}
        if record.exc_info and record.exc_info[0] is not None:
            fields["error"] = record.exc_info[0].__name__
            fields["traceback"] = self.formatException(record.exc_info)[-2000:]
        return json_line(record.created, record.levelname.lower(), record.name, record.getMessage(), fields)


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
    """A RunObserver that writes one JSON line per finished run (to `out`, by default the agent's stdout) and
    one per skipped slot (through `logging`: rare)."""

    def __init__(self, region: str, out: TextIO | None = None) -> None:
        self.region = region
        self._out = out
        self._flush_pending = False

    def _write(self, line: str) -> None:
        with contextlib.suppress(OSError, ValueError):  # a closed stdout loses lines, never the agent
            (self._out or sys.stdout).write(line + "\n")
        if self._flush_pending:
            return
        try:
            asyncio.get_running_loop().call_soon(self._flush)
        except RuntimeError:  # no loop: at once
            self._flush()
        else:
            self._flush_pending = True

    def _flush(self) -> None:
        self._flush_pending = False
        with contextlib.suppress(OSError, ValueError):
            (self._out or sys.stdout).flush()

    def run_started(self, check: str, lag_s: float) -> None:
        """Nothing is logged when a run starts; only its end is news."""

    def run_finished(self, result: Result, first_attempt: Result) -> None:
        if not run_log.isEnabledFor(logging.INFO):
            return
        extra: dict[str, Any] = {}
        if result.journey is not None:  # a failed journey's line names its failed step and its artifacts
            extra["run_id"] = result.journey.run_id
            extra["steps"] = {step.name: step.status.value for step in result.journey.steps}
            if result.journey.artifacts:
                extra["artifacts"] = [f"/artifacts/{path}" for path in result.journey.artifacts]
        if result.protocol is not None:  # the chain's days left, a ping's statistics, a DNS answer's rcode
            extra["protocol"] = protocol_view(result.protocol)
        self._write(json_line(
            time.time(), "info", run_log.name, "run finished",
            {
                "check": result.check,
                "region": self.region,
                "ok": result.ok,
                "reason": result.reason.value,
                "started_at": round(result.started_at, 6),
                "duration_s": round(result.duration_s, 6),
                "phases": {phase.value: round(seconds, 6) for phase, seconds in result.phases.items()},
                "status_code": result.status_code,
                "attempts": result.attempts,
                "first_attempt_reason": first_attempt.reason.value,
                "counted": result.counted.value,
                "detail": result.detail,
                **extra,
            },
        ))

    def run_skipped(self, check: str, slots: int) -> None:
        run_log.warning("run skipped", extra={"check": check, "region": self.region, "slots": slots})
