"""A real grpcio server for the grpc prober's tests, run as its own process; `GrpcServer` starts and stops it.

`python -m tests.grpc_server --port-file F [--tls-cert C --tls-key K [--client-ca CA]] [--token T] [--no-health]`
binds 127.0.0.1 on a free port, writes the port to F once it serves, and serves grpc_health's own HealthServicer
until SIGTERM:

- service "" and "shop" are SERVING; "toggle" starts SERVING and flips to NOT_SERVING and back on each SIGUSR1,
  and the server writes the status it now has to F + ".toggle" (the test waits for it, so no sleep is guessed);
- "slow" answers SERVING after SLOW_S; "hang" answers only after HANG_S (longer than any test's timeout) or
  when the client gives up; "weird" answers serving status 7, which grpc.health.v1 does not define (yet);
- every Check appends the caller's address (`ipv4:127.0.0.1:PORT`) to F + ".peers": one line per connection
  proves a fresh connection per call;
- `--client-ca CA` requires a client certificate signed by CA (mTLS);
- `--token T` requires the metadata `authorization: Bearer T` on every call (else UNAUTHENTICATED);
- `--no-health` registers no health service at all (every call is UNIMPLEMENTED).
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import sys
import threading
import time
from collections.abc import Callable
from concurrent import futures
from pathlib import Path
from typing import Any

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc

from tests.server_process import start_reporting_port, stop_by_pid

HANG_S = 60.0
SLOW_S = 0.3
WEIRD_STATUS = 7
STATUS = health_pb2.HealthCheckResponse.ServingStatus  # type: ignore[attr-defined]


class _TestHealth(health.HealthServicer):  # type: ignore[misc]
    """grpc_health's servicer, with services that answer late, never, or with an unknown status, and a record
    of who called."""

    def __init__(self, peers_file: Path) -> None:
        super().__init__()
        self._peers_file = peers_file
        self._peers_lock = threading.Lock()

    def Check(self, request: Any, context: Any) -> Any:  # noqa: N802 - grpc's method name
        with self._peers_lock, self._peers_file.open("a") as peers:
            peers.write(f"{context.peer()}\n")
        if request.service in ("slow", "hang"):
            until = time.monotonic() + (SLOW_S if request.service == "slow" else HANG_S)
            while time.monotonic() < until and context.is_active():  # a client that gave up frees the thread
                time.sleep(0.02)
            request = health_pb2.HealthCheckRequest(service="")
        if request.service == "weird":
            return health_pb2.HealthCheckResponse(status=WEIRD_STATUS)
        return super().Check(request, context)


class _RequireToken(grpc.ServerInterceptor):  # type: ignore[misc]
    """Aborts every call without `authorization: Bearer <token>` as UNAUTHENTICATED."""

    def __init__(self, token: str) -> None:
        self._expected = f"Bearer {token}"

    def intercept_service(self, continuation: Callable[[Any], Any], details: Any) -> Any:
        if dict(details.invocation_metadata).get("authorization") == self._expected:
            return continuation(details)

        def deny(_request: Any, context: Any) -> None:
            context.abort(grpc.StatusCode.UNAUTHENTICATED, "missing or wrong bearer token")

        return grpc.unary_unary_rpc_method_handler(deny)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port-file", type=Path, required=True)
    parser.add_argument("--tls-cert", type=Path)
    parser.add_argument("--tls-key", type=Path)
    parser.add_argument("--client-ca", type=Path)
    parser.add_argument("--token")
    parser.add_argument("--no-health", action="store_true")
    args = parser.parse_args()
    interceptors = [_RequireToken(args.token)] if args.token else []
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=32), interceptors=interceptors)
    servicer = _TestHealth(Path(f"{args.port_file}.peers"))
    if not args.no_health:
        health_pb2_grpc.add_HealthServicer_to_server(servicer, server)
    for service in ("", "shop", "toggle"):
        servicer.set(service, STATUS.SERVING)
    if args.tls_cert:
        credentials = grpc.ssl_server_credentials(
            [(args.tls_key.read_bytes(), args.tls_cert.read_bytes())],
            root_certificates=args.client_ca.read_bytes() if args.client_ca else None,
            require_client_auth=args.client_ca is not None)
        port = server.add_secure_port("127.0.0.1:0", credentials)
    else:
        port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    toggle_file = Path(f"{args.port_file}.toggle")
    serving = True

    def flip(_signum: int, _frame: object) -> None:
        nonlocal serving
        serving = not serving
        servicer.set("toggle", STATUS.SERVING if serving else STATUS.NOT_SERVING)
        _write(toggle_file, "SERVING" if serving else "NOT_SERVING")

    signal.signal(signal.SIGUSR1, flip)
    signal.signal(signal.SIGTERM, lambda _s, _f: os._exit(0))  # a hanging Check thread must not hold the exit
    _write(args.port_file, str(port))
    while True:
        signal.pause()


def _write(path: Path, text: str) -> None:
    """Write atomically: the test polls the file and must never read half of it."""
    partial = path.with_name(path.name + ".partial")
    partial.write_text(text)
    partial.replace(path)


class GrpcServer:
    """The server above as a child process, started in `__init__` (it waits until the port is written) and
    killed by its PID in `stop`."""

    def __init__(self, directory: Path, *args: str, start_timeout_s: float = 20.0) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        self.port_file = directory / "port"
        for stale in (self.port_file, Path(f"{self.port_file}.toggle"), Path(f"{self.port_file}.peers")):
            stale.unlink(missing_ok=True)  # a port file left by an earlier server would name that server's port
        self.process, self.port = start_reporting_port(
            [sys.executable, "-m", "tests.grpc_server", "--port-file", str(self.port_file), *args], self.port_file,
            "grpc test server", start_timeout_s)

    @property
    def target(self) -> str:
        return f"127.0.0.1:{self.port}"

    def peers(self) -> list[str]:
        """The caller's address of every Check so far, in order."""
        peers_file = Path(f"{self.port_file}.peers")
        return peers_file.read_text().splitlines() if peers_file.exists() else []

    def toggle(self, timeout_s: float = 10.0) -> str:
        """Flip service "toggle" (SIGUSR1) and return the status the server now has, once it has it."""
        toggle_file = Path(f"{self.port_file}.toggle")
        before = toggle_file.read_text() if toggle_file.exists() else "SERVING"
        os.kill(self.process.pid, signal.SIGUSR1)
        deadline = time.monotonic() + timeout_s
        while (now := toggle_file.read_text() if toggle_file.exists() else before) == before:
            if time.monotonic() > deadline:
                raise RuntimeError("grpc test server did not toggle")
            time.sleep(0.02)
        return now

    def stop(self) -> None:
        stop_by_pid(self.process)


def closed_port() -> int:
    """A loopback port that nothing listens on (bound, then closed: refused until someone takes it)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


if __name__ == "__main__":
    main()
