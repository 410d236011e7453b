"""The wire side of one dns attempt: one query over UDP, TCP or TLS, each read stamped by the kernel.

Why not `dns.asyncquery`: its UDP socket is not connected, so the ICMP port unreachable of a port nobody listens
on is never heard and a dead server reads as a timeout; and it stamps an answer when the event loop gets to it,
so a busy loop (other probes, a reload) reads as the server's latency. Here UDP goes over a connected socket read
with recvmsg and the kernel's receive stamp (SO_TIMESTAMPNS), and TCP and TLS over
`prober.http.connection.Connection`, which stamps its reads the same way. dnspython builds and parses the
messages (`prober.probers.dns`); this module only moves their bytes and times them.
"""

from __future__ import annotations

import asyncio
import socket
import ssl
import time
from dataclasses import dataclass
from typing import Any

from prober.http import receive_stamps
from prober.http.connection import Connection
from prober.result import Phase

MAX_MESSAGE_BYTES = 65535  # a DNS message's limit over any transport (TCP's 2-byte length prefix, a datagram)


@dataclass(frozen=True, slots=True)
class TlsTarget:
    """How to speak DNS-over-TLS to the server: the check's context and the name its certificate must match."""

    context: ssl.SSLContext
    server_hostname: str | None


class Attempt:
    """What one attempt has reached: its phases, where it is now (for a failure's reason and a timeout's detail),
    over which transport, and when the latest answer reached this host (the kernel's stamp)."""

    __slots__ = ("arrived_at", "deadline", "phases", "stage", "tls_object", "transport", "truncated")

    def __init__(self, deadline: float, transport: str) -> None:
        self.deadline = deadline
        """perf_counter time by which the answer must have reached this host."""
        self.phases: dict[Phase, float] = {}
        self.stage: Phase | None = None  # None before anything started: resolving, connecting, querying
        self.transport = transport  # "udp", "tcp" or "tls"; "tcp" after a truncated udp answer
        self.truncated = False  # a udp answer came truncated (TC) and the query was asked again over tcp
        self.arrived_at: float | None = None
        """When the answer being waited for reached this host; None while none has."""
        self.tls_object: ssl.SSLObject | None = None

    def mark(self, phase: Phase, began: float, ended: float | None = None) -> None:
        """Add a phase that completed (a failed one is never recorded: it is no measure of the server)."""
        ended = time.perf_counter() if ended is None else ended
        self.phases[phase] = self.phases.get(phase, 0.0) + max(ended - began, 0.0)

    def answered_by(self, deadline: float) -> bool:
        """True when the answer being waited for reached this host by `deadline`, though the loop saw it later."""
        return self.stage is Phase.QUERY and self.arrived_at is not None and self.arrived_at <= deadline

    def ensure_time_left(self) -> None:
        """Raise TimeoutError when the deadline has passed: nothing new is started after it (the TCP retry of a
        truncated answer that reached this host in time, but that the loop read late)."""
        if time.perf_counter() >= self.deadline:
            raise TimeoutError


async def query_udp(attempt: Attempt, family: int, sockaddr: tuple[Any, ...], wire: bytes) -> bytes:
    """Send `wire` in one datagram and return the first datagram that comes back.

    Raises OSError for what the kernel reports on the connected socket (ConnectionRefusedError for an ICMP port
    unreachable); never returns more than MAX_MESSAGE_BYTES.
    """
    loop = asyncio.get_running_loop()
    attempt.stage, attempt.arrived_at = Phase.QUERY, None
    sock = socket.socket(family, socket.SOCK_DGRAM)
    try:
        sock.setblocking(False)
        stamps = receive_stamps.enable(sock)
        sock.connect(sockaddr)  # instant for UDP; connected, the socket hears ICMP errors and nobody else's datagrams
        answer: asyncio.Future[bytes] = loop.create_future()
        loop.add_reader(sock.fileno(), _read_datagram, sock, stamps, answer, attempt)
        try:
            sent_at = time.perf_counter()
            sock.send(wire)
            data = await answer
        finally:
            loop.remove_reader(sock.fileno())
            answer.cancel()  # a no-op once it is done
    finally:
        sock.close()
    attempt.mark(Phase.QUERY, sent_at, attempt.arrived_at)
    return data


def _read_datagram(sock: socket.socket, stamps: bool, answer: asyncio.Future[bytes], attempt: Attempt) -> None:
    try:
        if stamps:
            data, ancillary, _flags, _address = sock.recvmsg(MAX_MESSAGE_BYTES, receive_stamps.CMSG_SPACE)
            arrived_at = receive_stamps.arrival(ancillary)
        else:
            data, arrived_at = sock.recv(MAX_MESSAGE_BYTES), time.perf_counter()
    except (BlockingIOError, InterruptedError):
        return
    except OSError as exc:
        if not answer.done():
            answer.set_exception(exc)
        return
    if not answer.done():
        attempt.arrived_at = arrived_at
        answer.set_result(data)


async def query_stream(attempt: Attempt, address: str, port: int, wire: bytes, tls: TlsTarget | None) -> bytes:
    """Open a fresh connection (TLS over it with `tls`), send `wire` length-prefixed, return the first answer.

    Raises OSError while connecting, ssl.SSLError in the handshake (or after it, an alert), EOFError or OSError
    when the connection ends before a whole answer came; an answer is at most MAX_MESSAGE_BYTES by its framing.
    """
    loop = asyncio.get_running_loop()
    reader = _FramedAnswer(loop, attempt)
    attempt.stage, attempt.arrived_at = Phase.CONNECT, None
    began = time.perf_counter()
    # fresh connection per run: we measure what a resolver pays to reach the server, not a warm pool
    connection = await Connection.open(loop, address, port, reader)
    attempt.mark(Phase.CONNECT, began)
    try:
        if tls is not None:
            attempt.stage = Phase.TLS
            began = time.perf_counter()
            await connection.start_tls(tls.context, tls.server_hostname)
            attempt.mark(Phase.TLS, began)
            attempt.tls_object = connection.get_extra_info("ssl_object")
        attempt.stage = Phase.QUERY
        sent_at = time.perf_counter()
        connection.write(len(wire).to_bytes(2, "big") + wire)
        data = await reader.answer
    finally:
        connection.close()
        reader.answer.cancel()  # a no-op once it is done
    attempt.mark(Phase.QUERY, sent_at, attempt.arrived_at)
    return data


class _FramedAnswer(asyncio.Protocol):
    """Reads one length-prefixed DNS message (RFC 1035 4.2.2) off a Connection; bytes past it are dropped."""

    def __init__(self, loop: asyncio.AbstractEventLoop, attempt: Attempt) -> None:
        self._attempt = attempt
        self._connection: Connection | None = None
        self._buffer = bytearray()
        self.answer: asyncio.Future[bytes] = loop.create_future()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, Connection)
        self._connection = transport

    def data_received(self, data: bytes) -> None:
        if self.answer.done():
            return
        self._buffer += data
        if len(self._buffer) < 2:
            return
        end = 2 + int.from_bytes(self._buffer[:2], "big")  # at most 2 + 65535: the buffer is bounded by framing
        if len(self._buffer) >= end:
            connection = self._connection
            self._attempt.arrived_at = connection.received_at if connection is not None else time.perf_counter()
            self.answer.set_result(bytes(self._buffer[2:end]))

    def eof_received(self) -> bool:
        return False  # let the connection close: connection_lost settles the answer

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.answer.done():
            came = f" after {len(self._buffer)} bytes" if self._buffer else ""
            self.answer.set_exception(exc or EOFError(f"the server closed the connection before answering{came}"))
