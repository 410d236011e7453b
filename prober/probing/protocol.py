"""The one boundary between the agent's main process and its probe workers: typed messages in framed pickles.

Main -> worker, on the worker's stdin: `Define` (checks that are new or changed for this worker, a few per frame),
`Assign` (its whole share by name, and its share of `max_concurrent_runs`), `Stop`.
Worker -> main, on a private pipe: batches of `Started`, `Finished`, `Skipped`, `Heartbeat` and `Applied`.
A frame is a 4-byte big-endian length and a pickled list of messages. Pickle is safe here because both ends
are this package from the same install and nothing else writes to these pipes; it is also the cheapest way
across (a Result and its enums round-trip in a few microseconds).
"""

from __future__ import annotations

import asyncio
import pickle
import struct
from dataclasses import dataclass

from prober.config.models import Check
from prober.result import Result

_LENGTH = struct.Struct(">I")
MAX_FRAME_BYTES = 256 << 20
"""A bound on one frame (an Assign of 10,000 names is ~100 KB): a corrupt length never allocates more."""
DEFINE_BATCH = 50
"""Checks per Define frame. A worker decodes a frame and builds its probers between two turns of the event loop
that times its probes, so that work must stay small (~3 ms for 50 here; 5,000 in one go stalled it 0.3 s)."""


@dataclass(frozen=True, slots=True)
class Define:
    """Checks that are new to the worker or changed since it last had them: it builds their probers and holds
    them for the next Assign."""

    checks: tuple[Check, ...]


@dataclass(frozen=True, slots=True)
class Assign:
    """The worker's whole share of the checks, by name: each was defined since the last Assign or is one it runs
    unchanged. It starts new ones, replaces changed ones, stops removed ones."""

    names: tuple[str, ...]
    max_concurrent_runs: int


@dataclass(frozen=True, slots=True)
class Stop:
    """Stop scheduling, let in-flight runs end within their timeouts, report them, exit."""


@dataclass(frozen=True, slots=True)
class Started:
    check: str
    lag_s: float


@dataclass(frozen=True, slots=True)
class Finished:
    final: Result
    first_attempt: Result


@dataclass(frozen=True, slots=True)
class Skipped:
    check: str
    slots: int


@dataclass(frozen=True, slots=True)
class Heartbeat:
    """Sent every HEARTBEAT_S by a worker whose event loop runs; `loop_lag_s` is how late its timer woke."""

    loop_lag_s: float


@dataclass(frozen=True, slots=True)
class Applied:
    """The answer to an Assign: empty `problems` when every prober was built and scheduled; `at` is the unix
    time just before the scheduler took the checks (their first slots come after it)."""

    problems: tuple[str, ...]
    at: float


ToWorker = Define | Assign | Stop
FromWorker = Started | Finished | Skipped | Heartbeat | Applied

HEARTBEAT_S = 0.5


def frame(messages: list[ToWorker] | list[FromWorker]) -> bytes:
    body = pickle.dumps(messages, protocol=pickle.HIGHEST_PROTOCOL)
    return _LENGTH.pack(len(body)) + body


class FrameError(Exception):
    """The other end sent something that is not a frame of this protocol."""


async def read_frame(reader: asyncio.StreamReader) -> list[object] | None:
    """The next frame's messages, or None at end of stream. Raises FrameError on a malformed frame."""
    try:
        header = await reader.readexactly(_LENGTH.size)
    except asyncio.IncompleteReadError as exc:
        if exc.partial:
            raise FrameError("stream ended inside a frame header") from None
        return None
    (length,) = _LENGTH.unpack(header)
    if length > MAX_FRAME_BYTES:
        raise FrameError(f"frame of {length} bytes")
    try:
        messages = pickle.loads(await reader.readexactly(length))
    except asyncio.IncompleteReadError:
        raise FrameError("stream ended inside a frame") from None
    except Exception as exc:  # unpickling can raise nearly anything on garbage
        raise FrameError(f"frame does not unpickle: {exc.__class__.__name__}") from None
    if not isinstance(messages, list):
        raise FrameError("frame is not a list of messages")
    return messages
