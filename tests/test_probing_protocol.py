"""The boundary's frames: every message round-trips, and a malformed stream is an error, never a hang."""

from __future__ import annotations

import asyncio
import pickle
import struct
import time

import pytest

from prober.config.models import HttpCheck
from prober.probing.protocol import (
    MAX_FRAME_BYTES,
    Applied,
    Assign,
    Define,
    Finished,
    FrameError,
    Heartbeat,
    Skipped,
    Started,
    Stop,
    frame,
    read_frame,
)
from prober.result import JourneyOutcome, Phase, Reason, Result


def reader_of(data: bytes) -> asyncio.StreamReader:
    reader = asyncio.StreamReader()
    reader.feed_data(data)
    reader.feed_eof()
    return reader


async def test_every_message_round_trips() -> None:
    check = HttpCheck(name="a", type="http", url="https://x/", interval="1s", timeout="1s", attempts=1,
                      expect={"body_regex": ["a+b"]})
    result = Result(check="a", ok=False, reason=Reason.TIMEOUT, duration_s=1.0, started_at=time.time(),
                    phases={Phase.CONNECT: 0.1}, detail="no answer", journey=JourneyOutcome("r1"))
    messages = [Define((check,)), Assign(("a",), 4), Stop(), Started("a", 0.001), Finished(result, result),
                Skipped("a", 2), Heartbeat(0.002), Applied(("a: tls: cannot load",), 1.5)]
    reader = reader_of(frame(messages[:3]) + frame(messages[3:]))
    assert [*(await read_frame(reader) or []), *(await read_frame(reader) or [])] == messages
    assert await read_frame(reader) is None  # a clean end


@pytest.mark.parametrize(("data", "problem"), [
    (b"\x00\x00", "inside a frame header"),
    (struct.pack(">I", 100) + b"short", "inside a frame"),
    (struct.pack(">I", MAX_FRAME_BYTES + 1), "frame of"),
    (struct.pack(">I", 4) + b"junk", "does not unpickle"),
    (struct.pack(">I", len(pickle.dumps(7))) + pickle.dumps(7), "not a list"),
])
async def test_a_malformed_stream_is_a_frame_error(data: bytes, problem: str) -> None:
    with pytest.raises(FrameError, match=problem):
        await read_frame(reader_of(data))
