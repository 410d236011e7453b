"""One TCP connection of the probe client, TLS over it when asked, whose every read says when its bytes arrived.

Why not an asyncio transport: a transport hands a protocol its bytes when the event loop gets round to them, so a
probe timed on the loop's clock reads every moment the loop was busy (another probe's parsing, a reload, the OS
running another process) as the target's latency. On Linux this connection asks the kernel to stamp each
received segment (SO_TIMESTAMPNS) and reads with recvmsg, so `received_at` is when the answer reached this host,
not when the loop looked: the time to first byte and the transfer are the network's and the target's alone.
Elsewhere `received_at` is the moment of the read, as with a transport.

It drives an asyncio.Protocol as a transport would (connection_made, data_received, eof_received,
connection_lost) and offers the part of a transport that the client uses: write, close, abort,
get_extra_info("ssl_object"). TLS runs over memory BIOs, as asyncio's own SSL transport does.
"""

from __future__ import annotations

import asyncio
import errno
import os
import socket
import ssl
import time

from prober.http import receive_stamps, send_stamps

READ_SIZE = 256 * 1024
LAST_WORD_READS = 16  # what a failed write reads of what the peer had sent: an alert, an answer, at most 4 MiB


class Connection:
    """A connected socket and the protocol it feeds; `open` makes one, `start_tls` puts TLS over it."""

    def __init__(self, loop: asyncio.AbstractEventLoop, sock: socket.socket, protocol: asyncio.Protocol,
                 timestamps: bool, sent_stamps: bool = False) -> None:
        self._loop = loop
        self._sock = sock
        self._protocol = protocol
        self._timestamps = timestamps
        self._sent_stamps = sent_stamps
        self._cmsg_space = send_stamps.RECEIVE_CMSG_SPACE if sent_stamps else receive_stamps.CMSG_SPACE
        self._unsent = bytearray()
        self._closed = False
        self._tls: ssl.SSLObject | None = None
        self._incoming = ssl.MemoryBIO()
        self._outgoing = ssl.MemoryBIO()
        self._handshake: asyncio.Future[None] | None = None
        self._heard: asyncio.Future[None] | None = None  # what server_verdict awaits: the server's next record
        self.received_at = 0.0
        """perf_counter time at which the bytes of the latest read reached this host (the kernel's stamp)."""
        self.sent_at: float | None = None
        """perf_counter time at which the latest `write` left this host (the kernel's stamp), None without one."""
        protocol.connection_made(self)  # type: ignore[arg-type]
        loop.add_reader(sock.fileno(), self._on_readable)

    @classmethod
    async def open(cls, loop: asyncio.AbstractEventLoop, address: str, port: int,
                   protocol: asyncio.Protocol) -> Connection:
        """A TCP connection to `address` (an IP) and `port`; raises OSError as `socket.connect` does."""
        sock = socket.socket(socket.AF_INET6 if ":" in address else socket.AF_INET, socket.SOCK_STREAM)
        try:
            sock.setblocking(False)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)  # a request is one write: send it now
            timestamps = receive_stamps.enable(sock)
            sent_stamps = timestamps and send_stamps.enable(sock)
            await _connected(loop, sock, (address, port))
        except BaseException:
            sock.close()
            raise
        return cls(loop, sock, protocol, timestamps, sent_stamps)

    async def start_tls(self, context: ssl.SSLContext, server_hostname: str | None) -> None:
        """A TLS handshake over this connection; raises ssl.SSLError (SSLEOFError if the peer closes during it)."""
        self._tls = context.wrap_bio(self._incoming, self._outgoing, server_hostname=server_hostname)
        self._handshake = self._loop.create_future()
        self._step_handshake()
        await self._handshake

    async def server_verdict(self, within_s: float) -> None:
        """After a TLS 1.3 handshake, wait up to `within_s` for the server's first record (its session tickets, or
        the alert that rejects our client certificate): raises the ssl.SSLError (or OSError) of an alert or a broken
        connection; returns when anything else arrives, the server closes, or the time is up (nothing to say).

        Why: a TLS 1.3 client finishes its handshake before the server has read the client's certificate, so a
        server that requires one (mTLS) says no only in its next record; TLS 1.2 says it within the handshake.
        """
        if self._closed or self._tls is None:
            return
        heard = self._heard = self._loop.create_future()
        if self._incoming.pending:  # records that came with the handshake's last flight: read them now
            self._decrypt()
            self._hear(None)
        try:
            await asyncio.wait({heard}, timeout=within_s)
        finally:
            self._heard = None
            heard.cancel()  # a no-op once it is done
        if not heard.cancelled():
            heard.result()  # raises the alert's error

    def _hear(self, exc: OSError | None) -> None:
        if self._heard is not None and not self._heard.done():
            if exc is None:
                self._heard.set_result(None)
            else:
                self._heard.set_exception(exc)

    def deliver_pending(self) -> None:
        """Hand the protocol the TLS records that arrived with the handshake's last flight: no read decrypts them
        otherwise, and a server that speaks first (a TLS 1.2 banner in the segment of its Finished) then waits."""
        if self._tls is not None and not self._closed and self._incoming.pending:
            self._decrypt()

    # the part of a transport that the client uses
    def write(self, data: bytes) -> None:
        self.sent_at = None
        if self._closed:
            return
        if self._tls is not None:
            self._tls.write(data)
            data = self._outgoing.read()
        self._send(data)

    def close(self) -> None:
        self._shut(None)

    abort = close  # nothing is ever left to flush that a probe still needs

    def is_closing(self) -> bool:
        return self._closed

    def get_extra_info(self, name: str) -> ssl.SSLObject | None:
        return self._tls if name == "ssl_object" else None

    # reading
    def _on_readable(self) -> None:
        if self._sent_stamps:
            self._take_sent_stamp()  # a stamp that came after its send: read, so the error queue wakes no one
        try:
            data = self._receive()
        except (BlockingIOError, InterruptedError):
            return
        except OSError as exc:
            self._lose(exc)
            return
        self._deliver(data)

    def _receive(self) -> bytes:
        if self._timestamps:
            data, ancillary, _, _ = self._sock.recvmsg(READ_SIZE, self._cmsg_space)
            self.received_at = receive_stamps.arrival(ancillary)
        else:
            data = self._sock.recv(READ_SIZE)
            self.received_at = time.perf_counter()
        return data

    def _deliver(self, data: bytes) -> None:
        if not data:
            self._end()
        elif self._tls is None:
            self._protocol.data_received(data)
        else:
            self._incoming.write(data)
            if self._handshake is not None and not self._handshake.done():
                self._step_handshake()
            else:
                self._decrypt()
                self._hear(None)

    def _decrypt(self) -> None:
        assert self._tls is not None
        while not self._closed:
            try:
                chunk = self._tls.read(READ_SIZE)
            except ssl.SSLWantReadError:
                break
            except ssl.SSLZeroReturnError:  # the peer's close_notify
                self._end()
                return
            except ssl.SSLError as exc:
                self._lose(exc)
                return
            if not chunk:
                self._end()
                return
            self._protocol.data_received(chunk)
        if self._outgoing.pending:  # a post-handshake message (TLS 1.3 key update) to answer
            self._send(self._outgoing.read())

    def _step_handshake(self) -> None:
        assert self._tls is not None and self._handshake is not None
        try:
            self._tls.do_handshake()
        except ssl.SSLWantReadError:
            pass
        except ssl.SSLError as exc:
            self._handshake.set_exception(exc)
        else:
            self._handshake.set_result(None)
        if self._outgoing.pending:
            self._send(self._outgoing.read())

    def _end(self) -> None:
        """The peer closed its side: what the protocol makes of it, then the connection is closed."""
        if self._handshake is not None and not self._handshake.done():
            self._handshake.set_exception(ssl.SSLEOFError("the server closed the connection during the TLS handshake"))
        elif not self._closed:
            self._protocol.eof_received()
        self._shut(None)

    def _lose(self, exc: OSError) -> None:
        if self._handshake is not None and not self._handshake.done():
            self._handshake.set_exception(exc)
        self._hear(exc)
        self._shut(exc)

    def _shut(self, exc: OSError | None) -> None:
        if self._closed:
            return
        self._closed = True
        self._hear(None)
        self._loop.remove_reader(self._sock.fileno())
        if self._unsent:
            self._loop.remove_writer(self._sock.fileno())
        self._sock.close()
        self._loop.call_soon(self._protocol.connection_lost, exc)

    # writing
    def _send(self, data: bytes) -> None:
        if self._unsent:
            self._unsent += data
            return
        try:
            sent = self._sock.send(data)
        except (BlockingIOError, InterruptedError):
            sent = 0
        except OSError as exc:
            self._write_failed(exc)
            return
        if sent < len(data):
            self._unsent += data[sent:]
            self._loop.add_writer(self._sock.fileno(), self._on_writable)
        elif self._sent_stamps:
            self._take_sent_stamp()

    def _on_writable(self) -> None:
        try:
            sent = self._sock.send(self._unsent)
        except (BlockingIOError, InterruptedError):
            return
        except OSError as exc:
            self._write_failed(exc)
            return
        del self._unsent[:sent]
        if not self._unsent:
            self._loop.remove_writer(self._sock.fileno())
            if self._sent_stamps:
                self._take_sent_stamp()

    def _write_failed(self, exc: OSError) -> None:
        """A write failed (the peer reset the connection): what the peer sent before it is read first, while the
        socket still holds it, as its last word (a TLS alert refusing the client's certificate under TLS 1.3,
        an answer to a request it would not read); the write's error stands only when there was none."""
        for _ in range(LAST_WORD_READS):
            if self._closed:
                return
            try:
                data = self._receive()
            except OSError:
                break
            self._deliver(data)
        self._lose(exc)

    def _take_sent_stamp(self) -> None:
        wall_ns = send_stamps.read_latest(self._sock)
        if wall_ns is not None:
            self.sent_at = receive_stamps.perf_of_wall_ns(wall_ns)


async def _connected(loop: asyncio.AbstractEventLoop, sock: socket.socket, address: tuple[str, int]) -> None:
    """Connect the non-blocking `sock`; raises OSError as `socket.connect` does. (By hand: uvloop's sock_connect
    costs twice this in CPU, which at 1,000 probes/s is a tenth of a core.)"""
    error = sock.connect_ex(address)
    if error in (errno.EINPROGRESS, errno.EAGAIN):
        writable = loop.create_future()
        loop.add_writer(sock.fileno(), writable.set_result, None)
        try:
            await writable
        finally:
            loop.remove_writer(sock.fileno())
        error = sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
    if error:
        raise OSError(error, os.strerror(error))
