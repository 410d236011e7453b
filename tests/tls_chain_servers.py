"""A TLS server for the tls check's tests, run as its own process: it sends a chain file, may cap its TLS version
and may require a client certificate, and after the handshake waits for the client to close.

`python -m tests.tls_chain_servers --port-file F --cert CHAIN --key KEY [--max-version TLSv1.2] [--client-ca CA]
[--blocking]` binds 127.0.0.1 on a free port, writes the port to F and serves until SIGTERM. Two ways to refuse a
client certificate, both seen in the field: by default an asyncio server, which closes the connection without a
word when the handshake fails; `--blocking`, a thread per connection on blocking sockets, where OpenSSL sends its
alert first (as nginx and most servers do).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
import socket
import ssl
import sys
import threading
import time
from pathlib import Path
from typing import Any

from tests.server_process import start_reporting_port, stop_by_pid

_IDLE_S = 10.0  # a client that never closes is dropped after this


class ChainServer:
    """Starts this file as a process and stops it by PID."""

    def __init__(self, directory: Path, chain: tuple[Path, Path], max_version: str | None = None,
                 client_ca: Path | None = None, blocking: bool = False) -> None:
        port_file = directory / f"tls-{time.monotonic_ns()}.port"
        args = [sys.executable, "-m", "tests.tls_chain_servers", "--port-file", str(port_file), "--cert", str(chain[0]),
                "--key", str(chain[1])]
        if max_version:
            args += ["--max-version", max_version]
        if client_ca:
            args += ["--client-ca", str(client_ca)]
        if blocking:
            args.append("--blocking")
        self.process, self.port = start_reporting_port(args, port_file, "tls server")

    def target(self, host: str = "127.0.0.1") -> str:
        return f"{host}:{self.port}"

    def stop(self) -> None:
        stop_by_pid(self.process, 5)


async def _handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(reader.read(), _IDLE_S)
    except (ConnectionError, ssl.SSLError):
        pass
    finally:
        with contextlib.suppress(Exception):
            writer.close()


def _quiet(loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
    """Failed handshakes are what these tests cause on purpose: nothing to log."""
    if not isinstance(context.get("exception"), ssl.SSLError | ConnectionError):
        loop.default_exception_handler(context)


async def _serve(port_file: Path, tls: ssl.SSLContext) -> None:
    loop = asyncio.get_running_loop()
    loop.set_exception_handler(_quiet)
    server = await asyncio.start_server(_handle, "127.0.0.1", 0, ssl=tls)
    port = server.sockets[0].getsockname()[1]
    tmp = port_file.with_suffix(".tmp")
    tmp.write_text(str(port))
    tmp.rename(port_file)
    stop = asyncio.Event()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    async with server:
        await stop.wait()


def _serve_one(conn: socket.socket, tls: ssl.SSLContext) -> None:
    conn.settimeout(_IDLE_S)
    try:
        with tls.wrap_socket(conn, server_side=True) as wrapped:  # a failed handshake sends OpenSSL's alert
            while wrapped.recv(4096):
                pass
    except (OSError, ssl.SSLError):
        pass
    finally:
        conn.close()


def _serve_blocking(port_file: Path, tls: ssl.SSLContext) -> None:
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    tmp = port_file.with_suffix(".tmp")
    tmp.write_text(str(port))
    tmp.rename(port_file)
    while True:  # until SIGTERM ends the process
        conn, _ = listener.accept()
        threading.Thread(target=_serve_one, args=(conn, tls), daemon=True).start()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port-file", type=Path, required=True)
    parser.add_argument("--cert", required=True)
    parser.add_argument("--key", required=True)
    parser.add_argument("--max-version", choices=["TLSv1.2", "TLSv1.3"])
    parser.add_argument("--client-ca")
    parser.add_argument("--blocking", action="store_true")
    args = parser.parse_args()
    tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    tls.load_cert_chain(args.cert, args.key)
    if args.max_version:
        tls.maximum_version = ssl.TLSVersion[args.max_version.replace("TLSv1.", "TLSv1_")]
    if args.client_ca:
        tls.load_verify_locations(cafile=args.client_ca)
        tls.verify_mode = ssl.CERT_REQUIRED
    if args.blocking:
        _serve_blocking(args.port_file, tls)
    else:
        asyncio.run(_serve(args.port_file, tls))


if __name__ == "__main__":
    main()
