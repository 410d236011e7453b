"""The ICMP echo socket of the icmp prober: which kind this process may open, and echo requests and replies on it.

Two kinds of socket can ping. An unprivileged ICMP datagram socket (`SOCK_DGRAM`, `IPPROTO_ICMP[V6]`) is allowed
when one of the process's groups is in `net.ipv4.ping_group_range` (that sysctl rules IPv6 too); the kernel sets
the echo identifier itself and hands the socket only the replies to it. A raw socket (`SOCK_RAW`) needs root or
CAP_NET_RAW and sees every echo reply the host receives, after the IPv4 header: there we pick a random identifier
per run and keep only replies that carry it, come from the target and echo this run's token.

Every reply is matched on its sequence number and on the run's random token at the start of the payload, so
replies of concurrent runs (of this or another process) are never mixed up. Arrival times are the kernel's
receive stamps (SO_TIMESTAMPNS), not the moment the event loop read them.
"""

from __future__ import annotations

import dataclasses
import errno
import os
import random
import socket
import struct
import sys
import time
from enum import StrEnum

from prober.http import receive_stamps

_ICMP_ECHO_REQUEST, _ICMP_ECHO_REPLY = 8, 0
_ICMP6_ECHO_REQUEST, _ICMP6_ECHO_REPLY = 128, 129
_IP_RECVTTL, _IP_TTL = 12, 2  # Linux <linux/in.h>; Python 3.11 names neither
_IPV6_RECVHOPLIMIT, _IPV6_HOPLIMIT = 51, 52  # Linux <linux/in6.h>
_SOL_RAW, _ICMP_FILTER = 255, 1  # a raw IPv4 socket's filter: a set bit drops that ICMP type in the kernel
_ICMP6_FILTER = 1  # at IPPROTO_ICMPV6: 256 bits, a set bit drops that ICMPv6 type
_HEADER = struct.Struct("!BBHHH")  # type, code, checksum, identifier, sequence
_TOKEN_BYTES = 8
_READ_BYTES = 2048  # an IPv4 header (60 at most), the ICMP header and the largest payload we send (1472)
_ANCILLARY_BYTES = 256  # a timestamp and a hop limit
_READS_PER_WAKEUP = 64  # then give the loop back: a flood of other traffic on a raw socket must not starve it


SockAddr = tuple[str, int] | tuple[str, int, int, int]
"""An IPv4 or IPv6 socket address, as getaddrinfo gives it."""


class SocketKind(StrEnum):
    """How the prober pings: an unprivileged ICMP datagram socket or a raw one."""

    DGRAM = "dgram"
    RAW = "raw"


_SOCKET_TYPES = {SocketKind.DGRAM: socket.SOCK_DGRAM, SocketKind.RAW: socket.SOCK_RAW}
_NOT_PERMITTED = (errno.EACCES, errno.EPERM)


class NoIcmpSocketError(Exception):
    """No kind of ICMP socket may be opened here; the message says what the process needs."""


def choose_kind(family: socket.AddressFamily, only: SocketKind | None = None) -> SocketKind:
    """The kind of ICMP socket this process may open for `family`: a datagram socket if permitted, else a raw one
    (or only `only`). Opens and closes a socket of each kind it tries.

    Raises NoIcmpSocketError when neither is permitted (or the family is not supported here).
    """
    for kind in (only,) if only is not None else (SocketKind.DGRAM, SocketKind.RAW):
        try:
            _new_socket(family, kind).close()
        except OSError as exc:
            if exc.errno not in _NOT_PERMITTED:
                raise NoIcmpSocketError(f"no ICMP socket: {exc.strerror or exc} ({family.name})") from exc
            continue
        return kind
    raise NoIcmpSocketError(f"no ICMP socket: needs CAP_NET_RAW or net.ipv4.ping_group_range including gid "
                            f"{os.getegid()}")


def _new_socket(family: socket.AddressFamily, kind: SocketKind) -> socket.socket:
    proto = socket.IPPROTO_ICMPV6 if family == socket.AF_INET6 else socket.IPPROTO_ICMP
    return socket.socket(family, _SOCKET_TYPES[kind], proto)


@dataclasses.dataclass(frozen=True, slots=True)
class EchoRequest:
    """When an echo request left: perf_counter and wall-clock (ns) times read just before `sendto`."""

    sent_at: float
    sent_wall_ns: int

    def round_trip(self, reply: EchoReply) -> float:
        """The round trip of `reply` to this request, in seconds.

        Both ends on the wall clock, the kernel's stamp against the reading before `sendto`: one clock has no
        conversion error (mapping a stamp onto perf_counter errs by microseconds on a loaded machine, as much as
        a loopback round trip). A wall-clock step is caught by the bounds: not below 0, not past the read.
        """
        read_s = reply.read_at - self.sent_at
        if reply.stamp_wall_ns is None:
            return max(read_s, 0.0)
        return min(max((reply.stamp_wall_ns - self.sent_wall_ns) / 1e9, 0.0), max(read_s, 0.0))


@dataclasses.dataclass(frozen=True, slots=True)
class EchoReply:
    """One echo reply of this run: its sequence number, the kernel's receive stamp (wall clock, ns; None when
    it gave none), when the prober read it (perf_counter) and its TTL / hop limit when the kernel said it."""

    sequence: int
    stamp_wall_ns: int | None
    read_at: float
    hop_limit: int | None


class EchoSocket:
    """A non-blocking ICMP socket for one run to one address: sends echo requests, reads back this run's replies.

    Its identifier (raw sockets) and token are random per socket; `send` raises OSError as `sendto` does; `read`
    never raises for a fault of the network (an error while reading is kept in `read_error`).
    """

    def __init__(self, family: socket.AddressFamily, kind: SocketKind, address: SockAddr, payload_bytes: int) -> None:
        self.family = family
        self.kind = kind
        self.sock = _new_socket(family, kind)
        try:
            self._configure()
        except OSError:
            self.sock.close()
            raise
        self._address = address
        self._target = socket.inet_pton(family, address[0].partition("%")[0])
        self._identifier = random.getrandbits(16)  # a datagram socket's is the kernel's: it overwrites this one
        token = os.urandom(_TOKEN_BYTES)
        self._payload = (token + bytes(i & 0xFF for i in range(max(payload_bytes - _TOKEN_BYTES, 0))))[:payload_bytes]
        self._token = self._payload[:_TOKEN_BYTES]  # shorter when the payload is: then id and sequence must do
        self.read_error: OSError | None = None

    def _configure(self) -> None:
        sock, v6 = self.sock, self.family == socket.AF_INET6
        sock.setblocking(False)
        receive_stamps.enable(sock)
        if v6:
            sock.setsockopt(socket.IPPROTO_IPV6, _IPV6_RECVHOPLIMIT, 1)
        else:
            sock.setsockopt(socket.IPPROTO_IP, _IP_RECVTTL, 1)
        if self.kind is SocketKind.RAW:
            # the kernel drops other ICMP types before they wake us: only echo replies pass
            if v6:
                words = [0xFFFFFFFF] * 8
                words[_ICMP6_ECHO_REPLY >> 5] &= ~(1 << (_ICMP6_ECHO_REPLY & 31))
                sock.setsockopt(socket.IPPROTO_ICMPV6, _ICMP6_FILTER, struct.pack("=8I", *words))
            else:
                sock.setsockopt(_SOL_RAW, _ICMP_FILTER, struct.pack("=I", ~(1 << _ICMP_ECHO_REPLY) & 0xFFFFFFFF))

    def close(self) -> None:
        self.sock.close()

    def send(self, sequence: int) -> EchoRequest:
        """Send echo request `sequence` (0-65535); returns when it left. Raises OSError as `sendto` does."""
        v6 = self.family == socket.AF_INET6
        kind = _ICMP6_ECHO_REQUEST if v6 else _ICMP_ECHO_REQUEST
        packet = _HEADER.pack(kind, 0, 0, self._identifier, sequence) + self._payload
        if not v6 and self.kind is SocketKind.RAW:  # the kernel sums the others (datagram, and ICMPv6 always)
            packet = packet[:2] + struct.pack("!H", internet_checksum(packet)) + packet[4:]
        request = EchoRequest(time.perf_counter(), time.time_ns())
        self.sock.sendto(packet, self._address)
        return request

    def read(self) -> list[EchoReply]:
        """The replies of this run that are waiting in the socket (at most a bounded number per call)."""
        replies = []
        for _ in range(_READS_PER_WAKEUP):
            try:
                data, ancillary, _flags, source = self.sock.recvmsg(_READ_BYTES, _ANCILLARY_BYTES)
            except (BlockingIOError, InterruptedError):
                break
            except OSError as exc:  # an ICMP error the kernel reported on the socket: kept, the run goes on
                self.read_error = exc
                break
            reply = self._match(data, ancillary, source, time.perf_counter())
            if reply is not None:
                replies.append(reply)
        return replies

    def _match(self, data: bytes, ancillary: list[tuple[int, int, bytes]], source: SockAddr,
               read_at: float) -> EchoReply | None:
        if self.kind is SocketKind.RAW and self.family == socket.AF_INET and data:
            data = data[(data[0] & 0x0F) * 4:]  # a raw IPv4 socket reads the IP header too
        if len(data) < _HEADER.size:
            return None
        kind, _code, _sum, identifier, sequence = _HEADER.unpack_from(data)
        reply_kind = _ICMP6_ECHO_REPLY if self.family == socket.AF_INET6 else _ICMP_ECHO_REPLY
        if kind != reply_kind or not data[_HEADER.size:].startswith(self._token):
            return None
        if self.kind is SocketKind.RAW and (identifier != self._identifier or not self._from_target(source)):
            return None  # another process's ping (or another run's) to any host
        return EchoReply(sequence, receive_stamps.stamp_wall_ns(ancillary), read_at, _hop_limit(ancillary))

    def _from_target(self, source: SockAddr) -> bool:
        try:
            return socket.inet_pton(self.family, source[0].partition("%")[0]) == self._target
        except (OSError, ValueError):
            return False


def _hop_limit(ancillary: list[tuple[int, int, bytes]]) -> int | None:
    for level, kind, data in ancillary:
        if (level, kind) in ((socket.IPPROTO_IP, _IP_TTL), (socket.IPPROTO_IPV6, _IPV6_HOPLIMIT)) and len(data) >= 4:
            return int.from_bytes(data[:4], sys.byteorder, signed=True)
    return None


def internet_checksum(packet: bytes) -> int:
    """The Internet checksum (RFC 1071) of `packet` with its checksum field zero."""
    if len(packet) % 2:
        packet += b"\0"
    total = sum(int.from_bytes(packet[i:i + 2], "big") for i in range(0, len(packet), 2))
    total = (total >> 16) + (total & 0xFFFF)
    total += total >> 16
    return ~total & 0xFFFF
