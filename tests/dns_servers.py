"""DNS servers for the dns prober's tests, each its own process stopped by PID: Debian's knotd (authoritative)
with the test's zones, a DNS-over-TLS front for it (knot 3.2 serves no DoT), and a faulty server.

`python -m tests.dns_servers dot --port-file F --cert C --key K --upstream PORT` terminates TLS on a free
127.0.0.1 port and passes each connection's bytes to knot's TCP port. `python -m tests.dns_servers fault
--port-file F` answers on one free port over UDP and TCP by the first label of the query name:
  garbage       a datagram with the query's ID and bytes that are no DNS message
  wrong-id      a good answer under another ID
  silent        nothing at all
  slow          a good answer (TXT "slow") after 300 ms
  rd            TXT "rd=1" or "rd=0": whether the query asked for recursion
  close (tcp)   closes the connection without answering
  half (tcp)    sends the length prefix and half the message, then closes
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
import socket
import ssl
import subprocess
import sys
import time
from pathlib import Path
from typing import cast

import dns.exception
import dns.flags
import dns.message
import dns.query
import dns.rcode
import dns.rrset

from tests.server_process import has_ipv6_loopback, start_reporting_port, stop_by_pid

REPO = Path(__file__).resolve().parent.parent


def free_udp_tcp_port(ipv6: bool = False) -> int:
    """A port free on 127.0.0.1 (and ::1 with `ipv6`) for both UDP and TCP now (knot binds them all and cannot
    report what it bound)."""
    while True:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
            udp.bind(("127.0.0.1", 0))
            port = int(udp.getsockname()[1])
            if _bindable(port, ipv6):
                return port


def _bindable(port: int, ipv6: bool) -> bool:
    addresses = [(socket.AF_INET, "127.0.0.1", socket.SOCK_STREAM)]
    if ipv6:
        addresses += [(socket.AF_INET6, "::1", socket.SOCK_DGRAM), (socket.AF_INET6, "::1", socket.SOCK_STREAM)]
    for family, address, kind in addresses:
        with socket.socket(family, kind) as sock:
            try:
                sock.bind((address, port))
            except OSError:
                return False
    return True


class KnotServer:
    """Debian's knotd in the foreground on a free loopback port, serving `zones` (domain -> zone file text)
    from `directory`; its run and storage directories are there too. Stopped by its PID."""

    def __init__(self, directory: Path, zones: dict[str, str], probe_zone: str) -> None:
        self.directory = directory
        self.ipv6 = has_ipv6_loopback()  # knot listens on [::1] too where it can
        for folder in ("run", "db"):
            (directory / folder).mkdir(exist_ok=True)
        zone_lines = []
        for domain, text in zones.items():
            path = directory / f"{domain}.zone"
            path.write_text(text)
            zone_lines.append(f"  - domain: {domain}\n    file: {path}\n")
        for _try in range(3):  # another process may take the free port before knot binds it
            self.port = free_udp_tcp_port(self.ipv6)
            listen = f"[127.0.0.1@{self.port}, ::1@{self.port}]" if self.ipv6 else f"127.0.0.1@{self.port}"
            config = directory / "knot.conf"
            config.write_text(
                f"server:\n    listen: {listen}\n    rundir: {directory / 'run'}\n"
                # few threads: the machine is shared, and each worker must be up before the tests begin
                "    udp-workers: 2\n    tcp-workers: 2\n    background-workers: 1\n"
                f"log:\n  - target: stderr\n    any: info\n"
                f"database:\n    storage: {directory / 'db'}\n"
                "zone:\n" + "".join(zone_lines))
            self.log = directory / "knotd.log"
            with self.log.open("wb") as log:
                self.process = subprocess.Popen(["knotd", "-c", str(config)], stdout=log, stderr=log,
                                                start_new_session=True)
            if self._wait_answering(probe_zone):
                return
            stop_by_pid(self.process, 5)
        raise AssertionError(f"knotd did not answer: {self.log.read_text()[-2000:]}")

    def _wait_answering(self, zone: str) -> bool:
        """True once knot answered 8 queries in a row, each from a new source port (its UDP workers share the port
        by SO_REUSEPORT, each hashed a part of the sources: every worker must be answering)."""
        deadline = time.monotonic() + 15
        answered = 0
        while answered < 8 and time.monotonic() < deadline:
            if self.process.poll() is not None:
                return False
            try:
                answer = dns.query.udp(dns.message.make_query(zone, "SOA"), "127.0.0.1", timeout=0.3, port=self.port)
            except (OSError, dns.exception.DNSException):
                answered = 0
                time.sleep(0.05)
                continue
            answered = answered + 1 if answer.rcode() == dns.rcode.NOERROR and answer.answer else 0
        return answered >= 8

    def server(self) -> str:
        return f"127.0.0.1:{self.port}"

    def stop(self) -> None:
        stop_by_pid(self.process, 5)


class ServerProcess:
    """`python -m tests.dns_servers MODE ...` on a free loopback port, stopped by its PID."""

    def __init__(self, directory: Path, *args: str) -> None:
        port_file = directory / f"dns-{time.monotonic_ns()}.port"
        self.process, self.port = start_reporting_port(
            [sys.executable, "-m", "tests.dns_servers", *args, "--port-file", str(port_file)], port_file,
            "dns test server")

    def server(self) -> str:
        return f"127.0.0.1:{self.port}"

    def stop(self) -> None:
        stop_by_pid(self.process, 5)


# the server side, run as `python -m tests.dns_servers`

def _publish(port_file: Path, port: int) -> None:
    tmp = port_file.with_suffix(".tmp")
    tmp.write_text(str(port))
    tmp.rename(port_file)


async def _until_sigterm() -> None:
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    await stop.wait()


async def _serve_dot(port_file: Path, context: ssl.SSLContext, upstream: int) -> None:
    async def pipe(source: asyncio.StreamReader, sink: asyncio.StreamWriter) -> None:
        with contextlib.suppress(OSError):
            while data := await source.read(65536):
                sink.write(data)
                await sink.drain()
        sink.close()

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            up_reader, up_writer = await asyncio.open_connection("127.0.0.1", upstream)
        except OSError:
            writer.close()
            return
        await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer), return_exceptions=True)

    server = await asyncio.start_server(handle, "127.0.0.1", 0, ssl=context)
    _publish(port_file, server.sockets[0].getsockname()[1])
    async with server:
        await _until_sigterm()


def _fault_answer(wire: bytes, over_tcp: bool) -> tuple[float, bytes | None]:
    """(delay in seconds, the bytes to send or None for no answer) for a query."""
    query = dns.message.from_wire(wire)
    mode = _mode(wire)
    response = dns.message.make_response(query)
    name = query.question[0].name
    if mode == "garbage":
        return 0.0, wire[:2] + b"\x81\x80 this is no dns message at all"
    if mode == "silent" or (mode == "close" and over_tcp):
        return 0.0, None
    if mode == "wrong-id":
        response.id = (query.id + 1) % 65536
    elif mode == "slow":
        response.answer.append(dns.rrset.from_text(name, 60, "IN", "TXT", '"slow"'))
        return 0.3, response.to_wire()
    elif mode == "rd":
        rd = 1 if query.flags & dns.flags.RD else 0
        response.answer.append(dns.rrset.from_text(name, 60, "IN", "TXT", f'"rd={rd}"'))
    elif mode == "half" and over_tcp:
        answer = response.to_wire()
        return 0.0, len(answer).to_bytes(2, "big") + answer[: len(answer) // 2]
    answer = response.to_wire()
    return 0.0, (len(answer).to_bytes(2, "big") + answer) if over_tcp else answer


def _mode(wire: bytes) -> str:
    return dns.message.from_wire(wire).question[0].name.labels[0].decode()


class _FaultDatagrams(asyncio.DatagramProtocol):
    def __init__(self) -> None:
        self.answering: set[asyncio.Task[None]] = set()  # held until done: the loop keeps only weak references

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.DatagramTransport, transport)

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        task = asyncio.ensure_future(self._answer(data, addr))
        self.answering.add(task)
        task.add_done_callback(self.answering.discard)

    async def _answer(self, data: bytes, addr: tuple[str, int]) -> None:
        delay, answer = _fault_answer(data, over_tcp=False)
        await asyncio.sleep(delay)
        if answer is not None:
            self.transport.sendto(answer, addr)


async def _fault_stream(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        length = int.from_bytes(await reader.readexactly(2), "big")
        wire = await reader.readexactly(length)
        delay, answer = _fault_answer(wire, over_tcp=True)
        await asyncio.sleep(delay)
        if answer is not None:
            writer.write(answer)
            await writer.drain()
        elif delay == 0 and _mode(wire) == "silent":
            await reader.read()  # until the client goes
    except (OSError, asyncio.IncompleteReadError):
        pass
    finally:
        writer.close()


async def _serve_fault(port_file: Path) -> None:
    loop = asyncio.get_running_loop()
    while True:
        transport, _ = await loop.create_datagram_endpoint(_FaultDatagrams, local_addr=("127.0.0.1", 0))
        port = transport.get_extra_info("sockname")[1]
        try:
            server = await asyncio.start_server(_fault_stream, "127.0.0.1", port)
        except OSError:  # the TCP side of this port is taken: another one
            transport.close()
            continue
        break
    _publish(port_file, port)
    async with server:
        await _until_sigterm()
    transport.close()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("mode", choices=("dot", "fault"))
    parser.add_argument("--port-file", type=Path, required=True)
    parser.add_argument("--cert")
    parser.add_argument("--key")
    parser.add_argument("--upstream", type=int)
    args = parser.parse_args()
    if args.mode == "dot":
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(args.cert, args.key)
        asyncio.run(_serve_dot(args.port_file, context, args.upstream))
    else:
        asyncio.run(_serve_fault(args.port_file))


if __name__ == "__main__":
    main()
