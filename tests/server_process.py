"""Start a test's own server as a process that reports the port it bound, and stop any process by its PID.

Stdlib only: the servers (tests/fault_server.py, tests/dns_servers.py, ...) import it in their own process too.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent


def start_reporting_port(args: list[str], port_file: Path, what: str, timeout_s: float = 10.0,
                         **popen: Any) -> tuple[subprocess.Popen[bytes], int]:
    """Start `args` in its own session (from the repository, so `-m tests.x` works) and wait until it has
    written the port it bound to `port_file`; fail the test naming `what` when it exits or takes too long."""
    port_file.unlink(missing_ok=True)  # a file left by an earlier server would name that server's port
    process = subprocess.Popen(args, start_new_session=True, cwd=popen.pop("cwd", REPO), **popen)
    deadline = time.monotonic() + timeout_s
    while not port_file.exists():
        if process.poll() is not None or time.monotonic() > deadline:
            stop_by_pid(process)
            raise AssertionError(f"{what} did not start (exit code {process.returncode})")
        time.sleep(0.02)
    return process, int(port_file.read_text())


def stop_by_pid(process: subprocess.Popen[Any], timeout_s: float = 10.0) -> int:
    """SIGTERM, then SIGKILL after `timeout_s`; returns the exit code."""
    if process.poll() is None:
        os.kill(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout_s)
        except subprocess.TimeoutExpired:
            os.kill(process.pid, signal.SIGKILL)
            process.wait(5)
    assert process.returncode is not None
    return process.returncode


def has_ipv6_loopback() -> bool:
    """Whether ::1 can be bound here (a container may have IPv6 off)."""
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_DGRAM) as sock:
            sock.bind(("::1", 0))
    except OSError:
        return False
    return True
