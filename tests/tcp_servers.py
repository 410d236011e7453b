"""Servers for the tcp prober's tests, each its own process stopped by PID: Debian's redis-server, and a small
dialogue server with one mode per way a target can speak.

`python -m tests.tcp_servers --mode MODE --port-file F [--cert C --key K] [--client-ca CA]` binds 127.0.0.1 on a
free port, writes the port to F and serves until SIGTERM. Modes:
  banner         sends `SSH-2.0-test\\r\\n` at once, then waits for the client to go
  late-banner    the same banner after 300 ms
  silent         accepts and never speaks
  flood          sends 1 MiB of `x` at once
  reset          sends `hi\\r\\n`; at the client's first bytes, resets the connection (RST)
  starttls       `220 ready`; on `STARTTLS` answers `220 go ahead`, upgrades to TLS, sends `250 secure` and closes
  starttls-inject  as starttls, but `250 injected` follows `220 go ahead` in plaintext, in the same write
  tls            TLS on connect, then `hello tls\\r\\n` and waits
  mtls           as tls, but requires a client certificate signed by --client-ca (and sends the alert if none)
  tls12-coalesced  TLS 1.2 on connect; its last handshake flight and `220 tls12 ready` leave in one segment
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import signal
import socket
import ssl
import struct
import subprocess
import sys
import threading
import time
from pathlib import Path

from tests.processes import free_port
from tests.server_process import start_reporting_port, stop_by_pid

BANNER = b"SSH-2.0-test\r\n"


class RedisServer:
    """Debian's redis-server on a free loopback port, without persistence; stopped by its PID."""

    def __init__(self) -> None:
        self.port = free_port()
        self.process = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
             "--daemonize", "no"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
        )
        deadline = time.monotonic() + 15
        while not self._answers():
            assert self.process.poll() is None, "redis-server exited"
            assert time.monotonic() < deadline, "redis-server did not answer PING"
            time.sleep(0.05)

    def _answers(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=2) as sock:
                sock.sendall(b"PING\r\n")
                return sock.recv(64).startswith(b"+PONG")
        except OSError:
            return False

    def stop(self) -> None:
        stop_by_pid(self.process, 5)


class DialogueServer:
    """Starts this file in one mode as a process and stops it by PID."""

    def __init__(self, directory: Path, mode: str, tls: tuple[Path, Path] | None = None,
                 client_ca: Path | None = None) -> None:
        port_file = directory / f"tcp-{mode}-{time.monotonic_ns()}.port"
        args = [sys.executable, "-m", "tests.tcp_servers", "--mode", mode, "--port-file", str(port_file)]
        if tls is not None:
            args += ["--cert", str(tls[0]), "--key", str(tls[1])]
        if client_ca is not None:
            args += ["--client-ca", str(client_ca)]
        self.process, self.port = start_reporting_port(args, port_file, f"dialogue server {mode}", 15)

    def target(self, host: str = "127.0.0.1") -> str:
        return f"{host}:{self.port}"

    def stop(self) -> None:
        stop_by_pid(self.process, 5)


# the server side, in its own process
async def _until_gone(reader: asyncio.StreamReader) -> None:
    with contextlib.suppress(ConnectionError):
        while await reader.read(4096):
            pass


async def _starttls(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, tls: ssl.SSLContext,
                    inject: bool) -> None:
    writer.write(b"220 ready\r\n")
    line = await reader.readline()
    if line.strip().upper() != b"STARTTLS":
        writer.write(b"500 what\r\n")
        return
    writer.write(b"220 go ahead\r\n250 injected\r\n" if inject else b"220 go ahead\r\n")
    await writer.drain()
    await writer.start_tls(tls)
    writer.write(b"250 secure\r\n")
    await writer.drain()


async def _reset(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    writer.write(b"hi\r\n")
    await reader.read(1)
    sock = writer.get_extra_info("socket")
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    writer.transport.abort()


async def _handle(mode: str, tls: ssl.SSLContext | None, reader: asyncio.StreamReader,
                  writer: asyncio.StreamWriter) -> None:
    try:
        if mode == "banner":
            writer.write(BANNER)
        elif mode == "late-banner":
            await asyncio.sleep(0.3)
            writer.write(BANNER)
        elif mode == "flood":
            writer.write(b"x" * (1 << 20))
        elif mode == "tls":
            writer.write(b"hello tls\r\n")
        elif mode == "reset":
            await _reset(reader, writer)
            return
        elif mode in ("starttls", "starttls-inject"):
            assert tls is not None
            await _starttls(reader, writer, tls, inject=mode == "starttls-inject")
            return
        await writer.drain()
        await _until_gone(reader)  # silent, and every mode that waits for the client to go
    except (ConnectionError, ssl.SSLError):
        pass
    finally:
        with contextlib.suppress(Exception):
            writer.close()


def _bio_server(sock: socket.socket, context: ssl.SSLContext, banner: bytes) -> None:
    """TLS over memory BIOs, by hand: the last handshake flight and `banner` leave in one send, and a failed
    handshake's alert is sent before the close (asyncio's server drops it)."""
    incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
    tls = context.wrap_bio(incoming, outgoing, server_side=True)
    with sock:
        while True:
            try:
                tls.do_handshake()
                break
            except ssl.SSLWantReadError:
                if outgoing.pending:
                    sock.sendall(outgoing.read())
                data = sock.recv(65536)
                if not data:
                    return
                incoming.write(data)
            except ssl.SSLError:
                if outgoing.pending:
                    sock.sendall(outgoing.read())  # the alert
                return
        tls.write(banner)
        sock.sendall(outgoing.read())
        with contextlib.suppress(OSError):
            while sock.recv(4096):
                pass


def _serve_blocking(port_file: Path, context: ssl.SSLContext, banner: bytes) -> None:
    listener = socket.create_server(("127.0.0.1", 0))
    _publish(port_file, listener.getsockname()[1])
    signal.signal(signal.SIGTERM, lambda *_: os._exit(0))
    while True:
        sock, _ = listener.accept()
        threading.Thread(target=_bio_server, args=(sock, context, banner), daemon=True).start()


def _publish(port_file: Path, port: int) -> None:
    tmp = port_file.with_suffix(".tmp")
    tmp.write_text(str(port))
    tmp.rename(port_file)


async def _serve(mode: str, port_file: Path, tls: ssl.SSLContext | None) -> None:
    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await _handle(mode, tls, reader, writer)

    server = await asyncio.start_server(handle, "127.0.0.1", 0, ssl=tls if mode == "tls" else None)
    _publish(port_file, server.sockets[0].getsockname()[1])
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    async with server:
        await stop.wait()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--mode", required=True)
    parser.add_argument("--port-file", type=Path, required=True)
    parser.add_argument("--cert")
    parser.add_argument("--key")
    parser.add_argument("--client-ca")
    args = parser.parse_args()
    tls = None
    if args.cert:
        tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        tls.load_cert_chain(args.cert, args.key)
    if args.mode == "tls12-coalesced":
        assert tls is not None
        tls.maximum_version = ssl.TLSVersion.TLSv1_2
        _serve_blocking(args.port_file, tls, b"220 tls12 ready\r\n")
    elif args.mode == "mtls":
        assert tls is not None and args.client_ca
        tls.verify_mode = ssl.CERT_REQUIRED
        tls.load_verify_locations(args.client_ca)
        _serve_blocking(args.port_file, tls, b"hello tls\r\n")
    else:
        asyncio.run(_serve(args.mode, args.port_file, tls))


if __name__ == "__main__":
    main()
