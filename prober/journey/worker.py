"""The journey worker: a child process that imports scripts, owns one browser and runs journeys and page checks
concurrently.

`python -m prober.journey.worker '<browser config JSON>'` speaks `protocol` over stdin and a private copy of
stdout (the script's own prints go to stderr). It exits when told to stop or when stdin closes (the agent is
gone), closing its browser. A watchdog thread interrupts a script that blocks the event loop, so one
`time.sleep(3600)` costs that run, not the others in this worker.

`python -m prober.journey.worker --validate file.py[:function] ...` imports each script and prints a JSON
list of problems: how `prober validate` and config loads catch a typo before the first run.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
import threading
import time
from collections.abc import Callable
from types import FrameType
from typing import Any, BinaryIO, TextIO

from prober.journey.browser import BrowserOwner
from prober.journey.loader import ScriptCache, ScriptError
from prober.journey.page_run import run_page
from prober.journey.protocol import MAX_LINE_BYTES, RunRequest, encode_result
from prober.journey.redact import Redactor
from prober.journey.run import ScriptBlockedError, run_journey
from prober.result import Reason, Result

BLOCK_LIMIT_S = 2.0
"""How long a script may hold the worker's event loop before it is interrupted."""
HEARTBEAT_S = 0.2


class Watchdog:
    """Interrupts the main thread (with ScriptBlockedError) when the event loop stops beating."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._beat = time.monotonic()
        self._main = threading.main_thread().ident
        self.interruptions = 0

    def start(self) -> None:
        signal.signal(signal.SIGUSR1, self._interrupt)
        self._tick()
        threading.Thread(target=self._watch, name="watchdog", daemon=True).start()

    def _tick(self) -> None:
        self._beat = time.monotonic()
        self._loop.call_later(HEARTBEAT_S, self._tick)

    def _watch(self) -> None:
        while True:
            time.sleep(HEARTBEAT_S)
            if time.monotonic() - self._beat > BLOCK_LIMIT_S and self._main is not None:
                self._beat = time.monotonic()  # one interruption per BLOCK_LIMIT_S of blocking
                signal.pthread_kill(self._main, signal.SIGUSR1)

    def _interrupt(self, _signum: int, _frame: FrameType | None) -> None:
        self.interruptions += 1
        raise ScriptBlockedError


class RedactingStream:
    """sys.stdout/sys.stderr of the worker: what scripts print reaches the agent's stderr with every secret
    param of every journey this worker has run replaced by `<redacted>`."""

    MAX_SECRETS = 1000

    def __init__(self, target: TextIO) -> None:
        self._target = target
        self._secrets: set[str] = set()
        self._redactor = Redactor([])

    def learn(self, secrets: list[str]) -> None:
        if not set(secrets) <= self._secrets and len(self._secrets) < self.MAX_SECRETS:
            self._secrets |= set(secrets)
            self._redactor = Redactor(sorted(self._secrets))

    def write(self, text: str) -> int:
        self._target.write(self._redactor.text(text))
        return len(text)

    def flush(self) -> None:
        self._target.flush()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._target, name)


class Worker:
    def __init__(self, browser: dict[str, Any], out: BinaryIO, streams: list[RedactingStream]) -> None:
        self._streams = streams
        self._owner = BrowserOwner(browser.get("kind", "headless_shell"), browser.get("executable"),
                                   list(browser.get("args", [])))
        self._scripts = ScriptCache()
        self._out = out
        self._tasks: set[asyncio.Task[None]] = set()

    def _send(self, line: bytes) -> None:
        try:
            self._out.write(line)
            self._out.flush()
        except BrokenPipeError:
            pass  # the agent is gone; stdin's EOF ends the worker

    async def serve(self) -> None:
        loop = asyncio.get_running_loop()
        Watchdog(loop).start()
        reader = asyncio.StreamReader(limit=MAX_LINE_BYTES)
        await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
        self._send(b'{"op": "ready"}\n')
        while True:
            try:
                line = await reader.readline()
            except ScriptBlockedError:
                continue  # landed in our own loop after a script's block ended: nothing to interrupt
            if not line:
                break  # the agent is gone
            message = json.loads(line)
            if message.get("op") == "stop":
                break
            request = RunRequest.decode(message)
            for stream in self._streams:
                stream.learn(request.secrets)
            task = asyncio.create_task(self._run(request))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        if self._tasks:
            await asyncio.wait(self._tasks)
        await self._owner.close()

    async def _run(self, request: RunRequest) -> None:
        started_at = time.time()
        try:
            if request.page is not None:
                result = await run_page(request, self._owner)
            else:
                result = await run_journey(request, self._owner, self._scripts)
        except (Exception, ScriptBlockedError) as exc:  # the worker's own bug: still one answer per request
            result = Result(check=request.check, ok=False, reason=Reason.INTERNAL, duration_s=0.0,
                            started_at=started_at, detail=f"worker error: {exc.__class__.__name__}")
        self._send(encode_result(request.run_id, result))


def validate(scripts: list[str]) -> list[str | None]:
    """Per script: None, or the problem of a script that does not import or does not name exactly one journey."""
    cache = ScriptCache()
    problems: list[str | None] = []
    for script in scripts:
        path, _, function = script.partition(":")
        try:
            cache.load(path, function or None)
            problems.append(None)
        except ScriptError as exc:
            problems.append(str(exc))
    return problems


def main(argv: list[str], run: Callable[[Any], Any] = asyncio.run) -> int:
    protocol_out = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)  # a script's print() must never reach the protocol pipe
    if argv[:1] == ["--validate"]:
        protocol_out.write(json.dumps(validate(argv[1:])).encode() + b"\n")
        protocol_out.flush()
        return 0
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the agent stops us by message, EOF, or SIGKILL
    streams = [RedactingStream(sys.stdout), RedactingStream(sys.stderr)]
    sys.stdout, sys.stderr = streams
    run(Worker(json.loads(argv[0]) if argv else {}, protocol_out, streams).serve())
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
