"""The real probe worker process (`prober.probing`: its uvloop loop, scheduler and event pipe) running grpc checks
for a test, spoken to over its own frame protocol; started and killed by its PID.

Until the registry has its `grpc` line, the worker is started through a two-line bootstrap that adds it (the
line the integrator adds is the same call); once the registry has it, the bootstrap adds nothing.
"""

from __future__ import annotations

import os
import pickle
import select
import signal
import struct
import subprocess
import sys
import time
from collections.abc import Sequence

from prober.config.models import Check
from prober.probing.protocol import Assign, Define, Finished, Stop, frame
from prober.result import Result
from tests.processes import REPO

_BOOTSTRAP = (
    "import runpy, prober.probers as probers\n"
    "from prober.probers.grpc import GrpcProber\n"
    "probers.REGISTRY.setdefault('grpc', lambda check, deps: GrpcProber(check, deps.tls_contexts))\n"
    "runpy.run_module('prober.probing', run_name='__main__', alter_sys=True)\n"
)
_LENGTH = struct.Struct(">I")


def runs_in_probe_worker(checks: Sequence[Check], runs_each: int, timeout_s: float) -> dict[str, list[Result]]:
    """Run `checks` in one real probe worker until each has finished `runs_each` runs (or `timeout_s` passed):
    the final Result of each run, by check name, in order."""
    read_fd, write_fd = os.pipe()
    worker = subprocess.Popen(
        [sys.executable, "-c", _BOOTSTRAP, "--events-fd", str(write_fd), "--parent", str(os.getpid())],
        stdin=subprocess.PIPE, pass_fds=(write_fd,), start_new_session=True, cwd=REPO)
    os.close(write_fd)
    assert worker.stdin is not None
    finished: dict[str, list[Result]] = {check.name: [] for check in checks}
    try:
        worker.stdin.write(frame([Define(tuple(checks))]) + frame([Assign(tuple(finished), len(checks))]))
        worker.stdin.flush()
        events = _Events(read_fd)
        deadline = time.monotonic() + timeout_s
        while any(len(runs) < runs_each for runs in finished.values()) and time.monotonic() < deadline:
            for message in events.read(deadline):
                if isinstance(message, Finished):
                    finished[message.final.check].append(message.final)
        worker.stdin.write(frame([Stop()]))
        worker.stdin.close()
        worker.wait(timeout_s)
    finally:
        if worker.poll() is None:
            os.kill(worker.pid, signal.SIGKILL)
            worker.wait(5)
        os.close(read_fd)
    return finished


class _Events:
    """Frames read from the worker's events pipe, without blocking past a deadline."""

    def __init__(self, fd: int) -> None:
        self._fd = fd
        self._buffer = b""

    def read(self, deadline: float) -> list[object]:
        """The messages of the frames that arrived by `deadline` (maybe none)."""
        ready, _, _ = select.select([self._fd], [], [], max(0.0, deadline - time.monotonic()))
        if ready:
            chunk = os.read(self._fd, 1 << 16)
            if not chunk:
                raise RuntimeError("the probe worker closed its events pipe")
            self._buffer += chunk
        messages: list[object] = []
        while len(self._buffer) >= _LENGTH.size:
            (length,) = _LENGTH.unpack_from(self._buffer)
            if len(self._buffer) < _LENGTH.size + length:
                break
            body = self._buffer[_LENGTH.size:_LENGTH.size + length]
            self._buffer = self._buffer[_LENGTH.size + length:]
            messages.extend(pickle.loads(body))  # our own child's frames (prober.probing.protocol)
        return messages
