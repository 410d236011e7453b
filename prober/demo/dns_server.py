"""The demo's DNS server: authoritative for `shop.demo.` over UDP and TCP on one port, so `type: dns` runs offline.

The zone is fixed (see `build_zone`; TTL 60 s): names in it answer with their records (a CNAME is followed once,
inside the zone), names it lacks answer NXDOMAIN and names outside it REFUSED. It is bounded and never stops on
garbage: an unparsable packet gets no answer (there is no id to answer to), a UDP answer fits the size the client
asked for (512 bytes without EDNS, truncated with TC), a TCP message is at most `MAX_QUERY_BYTES`, a TCP
connection is idle at most `TCP_IDLE_TIMEOUT_S`, answers at most `MAX_QUERIES_PER_CONNECTION` queries, and at
most `MAX_TCP_CONNECTIONS` are open at once.
"""

from __future__ import annotations

import asyncio
import struct
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import cast

import dns.exception
import dns.flags
import dns.message
import dns.name
import dns.opcode
import dns.rcode
import dns.rdataclass
import dns.rdatatype
import dns.rrset

ORIGIN = dns.name.from_text("shop.demo.")
TTL_S = 60
MAX_QUERY_BYTES = 4096  # a query is one question and maybe an OPT record: far below this
UDP_ANSWER_BYTES_NO_EDNS = 512  # RFC 1035's limit for a client that did not say more
UDP_ANSWER_BYTES_MAX = 4096
TCP_ANSWER_BYTES_MAX = 65535
TCP_IDLE_TIMEOUT_S = 10.0
MAX_QUERIES_PER_CONNECTION = 100
MAX_TCP_CONNECTIONS = 64
BIND_ATTEMPTS_ON_FREE_PORT = 5

Zone = Mapping[dns.name.Name, Mapping[dns.rdatatype.RdataType, dns.rrset.RRset]]


def build_zone(http_port: int) -> Zone:
    """The records of `shop.demo.`; the SRV record names the shop's real HTTP port (8080 by default)."""
    records = [
        ("shop.demo.", "SOA", "ns.shop.demo. hostmaster.shop.demo. 1 3600 600 86400 60"),
        ("shop.demo.", "NS", "ns.shop.demo."),
        ("shop.demo.", "A", "127.0.0.1"),
        ("shop.demo.", "AAAA", "::1"),
        ("shop.demo.", "MX", "10 mail.shop.demo."),
        ("shop.demo.", "TXT", '"v=spf1 -all"'),
        ("www.shop.demo.", "CNAME", "shop.demo."),
        ("_http._tcp.shop.demo.", "SRV", f"0 0 {http_port} shop.demo."),
        # the targets of NS and MX exist, so following them does not end in NXDOMAIN
        ("ns.shop.demo.", "A", "127.0.0.1"),
        ("mail.shop.demo.", "A", "127.0.0.1"),
    ]
    zone: dict[dns.name.Name, dict[dns.rdatatype.RdataType, dns.rrset.RRset]] = {}
    for owner, rdtype, text in records:
        rrset = dns.rrset.from_text(owner, TTL_S, "IN", rdtype, text)
        zone.setdefault(rrset.name, {})[rrset.rdtype] = rrset
    return zone


def answer(wire: bytes, zone: Zone, *, transport: str) -> bytes | None:
    """The answer to one query in wire format, or None for a packet that is not a query (never raises on garbage).

    `transport` is "udp" (the answer fits the client's EDNS payload size, else is truncated with TC) or "tcp".
    """
    try:
        query = dns.message.from_wire(wire)
    except (dns.exception.DNSException, ValueError, UnicodeError):
        return None
    if query.flags & dns.flags.QR:
        return None  # an answer sent to us: answering it could start a loop
    response = dns.message.make_response(query)
    if query.opcode() != dns.opcode.QUERY:
        response.set_rcode(dns.rcode.NOTIMP)
    elif len(query.question) != 1:
        response.set_rcode(dns.rcode.FORMERR)
    else:
        _resolve(query.question[0], zone, response)
    return response.to_wire(max_size=_answer_limit(query, transport), prefer_truncation=True)


def _answer_limit(query: dns.message.Message, transport: str) -> int:
    if transport == "tcp":
        return TCP_ANSWER_BYTES_MAX
    if query.edns < 0:
        return UDP_ANSWER_BYTES_NO_EDNS
    return max(UDP_ANSWER_BYTES_NO_EDNS, min(query.payload, UDP_ANSWER_BYTES_MAX))


def _resolve(question: dns.rrset.RRset, zone: Zone, response: dns.message.Message) -> None:
    qname, qtype = question.name, question.rdtype
    if question.rdclass != dns.rdataclass.IN or not qname.is_subdomain(ORIGIN):
        response.set_rcode(dns.rcode.REFUSED)  # not our zone: an authoritative server does not recurse
        return
    response.flags |= dns.flags.AA
    node = zone.get(qname)
    if node is None:
        # a name that only has names below it (`_tcp.shop.demo.`) exists, with no data (RFC 8020)
        if not any(name.is_subdomain(qname) for name in zone):
            response.set_rcode(dns.rcode.NXDOMAIN)
        response.authority.append(zone[ORIGIN][dns.rdatatype.SOA])
        return
    found = _records(node, qtype, zone)
    response.answer.extend(found)
    if not found:
        response.authority.append(zone[ORIGIN][dns.rdatatype.SOA])  # NODATA: the SOA gives the negative TTL


def _records(
    node: Mapping[dns.rdatatype.RdataType, dns.rrset.RRset], qtype: dns.rdatatype.RdataType, zone: Zone
) -> list[dns.rrset.RRset]:
    if qtype == dns.rdatatype.ANY:
        return list(node.values())
    if qtype in node:
        return [node[qtype]]
    cname = node.get(dns.rdatatype.CNAME)
    if cname is None:
        return []
    target = zone.get(cname[0].target, {})  # one hop: the zone has no CNAME chains
    return [cname, target[qtype]] if qtype in target else [cname]


class _UdpDns(asyncio.DatagramProtocol):
    """Answers each datagram on its own; a datagram that is not a query is dropped."""

    def __init__(self, zone: Zone) -> None:
        self._zone = zone
        self._transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # a datagram endpoint's transport; asyncio's selector transport does not subclass DatagramTransport
        self._transport = cast(asyncio.DatagramTransport, transport)

    def datagram_received(self, data: bytes, addr: tuple[str | int, ...]) -> None:
        if len(data) > MAX_QUERY_BYTES or self._transport is None:
            return
        reply = answer(data, self._zone, transport="udp")
        if reply is not None:
            self._transport.sendto(reply, addr)

    def error_received(self, exc: Exception) -> None:
        pass  # an ICMP error for a client that left: the next datagram is served as usual


@dataclass
class _TcpDns:
    """Serves length-prefixed queries on each connection, bounded in size, count, idle time and connections."""

    zone: Zone
    connections: set[asyncio.Task[None]] = field(default_factory=set)

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        if task is None or len(self.connections) >= MAX_TCP_CONNECTIONS:
            writer.close()
            return
        self.connections.add(task)
        try:
            await self._serve(reader, writer)
        except (asyncio.IncompleteReadError, ConnectionError, TimeoutError):
            pass  # the client left, stalled or sent a cut message: this connection ends, the server goes on
        finally:
            self.connections.discard(task)
            writer.close()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        for _ in range(MAX_QUERIES_PER_CONNECTION):
            async with asyncio.timeout(TCP_IDLE_TIMEOUT_S):
                (length,) = struct.unpack("!H", await reader.readexactly(2))
                if length > MAX_QUERY_BYTES:
                    return
                wire = await reader.readexactly(length)
            reply = answer(wire, self.zone, transport="tcp")
            if reply is None:
                return  # garbage: the rest of the stream cannot be trusted to be framed
            writer.write(struct.pack("!H", len(reply)) + reply)
            async with asyncio.timeout(TCP_IDLE_TIMEOUT_S):
                await writer.drain()

    def close_all(self) -> None:
        for task in list(self.connections):
            task.cancel()


@dataclass
class DnsServer:
    """A running DNS server: `host`/`port` it bound (UDP and TCP alike); `close()` stops both."""

    host: str
    port: int
    _udp: asyncio.DatagramTransport
    _tcp: asyncio.Server
    _tcp_dns: _TcpDns

    async def close(self) -> None:
        self._udp.close()
        self._tcp.close()
        self._tcp_dns.close_all()  # an idle client must not hold the shutdown for TCP_IDLE_TIMEOUT_S
        await self._tcp.wait_closed()


async def start_dns(host: str, port: int, *, http_port: int) -> DnsServer:
    """Bind UDP and TCP on host:port (port 0: one free port for both) and serve; raises OSError if it cannot bind."""
    zone = build_zone(http_port)
    loop = asyncio.get_running_loop()
    # with port 0 the port free for UDP may be taken for TCP: pick another a few times before giving up
    attempts = BIND_ATTEMPTS_ON_FREE_PORT if port == 0 else 1
    for attempt in range(attempts):
        udp, _ = await loop.create_datagram_endpoint(lambda: _UdpDns(zone), local_addr=(host, port))
        bound_host, bound_port = udp.get_extra_info("sockname")[:2]
        tcp_dns = _TcpDns(zone)
        try:
            tcp = await asyncio.start_server(tcp_dns.handle, bound_host, bound_port)
        except OSError:
            udp.close()
            if attempt + 1 == attempts:
                raise
            continue
        return DnsServer(str(bound_host), int(bound_port), udp, tcp, tcp_dns)
    raise AssertionError("unreachable: the last attempt returns or raises")
