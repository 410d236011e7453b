"""ICMP prober: `packets` echo requests to one address, spaced, with each reply's round trip and the share lost.

A run's `duration_s` is the mean round trip of its replies (what the check's duration histogram and an SLO latency
threshold mean for icmp), or the run's wall time when no reply came. Round trips run from the moment just before
`sendto` to the kernel's receive stamp of the reply, so a busy event loop does not inflate them.
"""

from __future__ import annotations

import asyncio
import errno
import logging
import math
import random
import socket
import time

from prober.config.icmp_check import IcmpCheck
from prober.probers.icmp_socket import EchoRequest, EchoSocket, NoIcmpSocketError, SockAddr, SocketKind, choose_kind
from prober.reasons import describe
from prober.result import Phase, PingOutcome, Reason, Result, cap_detail

log = logging.getLogger("prober.icmp")

_FAMILIES = {"ip4": socket.AF_INET, "ip6": socket.AF_INET6}
_LOCAL_SEND_FAULTS = (errno.EAGAIN, errno.ENOBUFS)  # this host's queue was full: the agent's fault, not the path's


class IcmpProber:
    """Probes one `type: icmp` check. Built once per config load, when it also chooses its kind of socket.

    `socket_kind` forces one kind (tests); by default an unprivileged datagram socket when the process may open
    one, else a raw one. When neither is permitted, every run fails as `internal` saying what is missing. Each
    run has a socket of its own. An IP literal as `target` sets the family itself (`ip_family` is for names).
    """

    grace_s = 0.0

    def __init__(self, check: IcmpCheck, socket_kind: SocketKind | None = None) -> None:
        self.check = check
        self._literal = _literal_address(check.target)
        self._family = self._literal[0] if self._literal is not None else _FAMILIES[check.ip_family]
        self.socket_kind: SocketKind | None = None
        """The kind of socket this prober pings with; None when it may open none (see `no_socket`)."""
        self.no_socket = ""
        try:
            self.socket_kind = choose_kind(self._family, socket_kind)
        except NoIcmpSocketError as exc:
            self.no_socket = str(exc)
            log.warning("check %s: %s; every run fails as reason internal", check.name, exc)

    async def probe(self) -> Result:
        started_at, start = time.time(), time.perf_counter()
        deadline = start + self.check.timeout
        if self.socket_kind is None:
            return self._result(Reason.INTERNAL, started_at, start, detail=self.no_socket)
        phases: dict[Phase, float] = {}
        if self._literal is not None:
            address = self._literal[1]
        else:
            try:
                address = await self._resolve(deadline)
            except TimeoutError:
                return self._result(Reason.TIMEOUT, started_at, start, detail=f"{self.check.target} did not resolve "
                                    f"within {self.check.timeout:g}s (during dns)")
            except OSError as exc:  # socket.gaierror, or no address of the family
                return self._result(Reason.DNS, started_at, start, detail=describe(exc))
            phases[Phase.DNS] = time.perf_counter() - start
        try:
            echo = EchoSocket(self._family, self.socket_kind, address, self.check.payload_bytes)
        except OSError as exc:  # out of file descriptors, say: the agent's environment
            return self._result(Reason.INTERNAL, started_at, start, phases, detail=f"ICMP socket: {describe(exc)}")
        try:
            exchange = _Exchange(echo, self.check, deadline)
            await exchange.run()
        finally:
            echo.close()
        return self._judge(exchange, started_at, start, phases)

    async def _resolve(self, deadline: float) -> SockAddr:
        """The first address of the check's family for its target; raises OSError, or TimeoutError at `deadline`."""
        loop = asyncio.get_running_loop()
        async with asyncio.timeout(deadline - time.perf_counter()):
            infos = await loop.getaddrinfo(self.check.target, None, family=self._family, type=socket.SOCK_DGRAM)
        if not infos:
            raise OSError(f"no {self.check.ip_family} address for {self.check.target}")
        return _port_zero(infos[0][4])

    def _judge(self, exchange: _Exchange, started_at: float, start: float, phases: dict[Phase, float]) -> Result:
        check = self.check
        rtts = tuple(exchange.rtts_s.values())
        sent = exchange.sent
        outcome = PingOutcome(sent=sent, rtts_s=rtts, hop_limit=exchange.hop_limit)
        short = f" (only {sent} of {check.packets} sent before the deadline)" if sent < check.packets else ""
        lost = sent - len(rtts)
        if exchange.send_error is not None:
            reason = Reason.INTERNAL if exchange.send_error.errno in _LOCAL_SEND_FAULTS else Reason.CONNECT
            detail = f"sending echo request {sent + 1}/{check.packets} failed: {describe(exchange.send_error)}"
        elif not rtts:
            reason, detail = Reason.TIMEOUT, f"0/{sent} replies within {check.timeout:g}s{short}"
            if exchange.read_error is not None:
                detail += f" ({describe(exchange.read_error)})"
        elif check.expect.max_loss is not None and lost / sent > check.expect.max_loss:
            reason = Reason.PACKET_LOSS
            detail = (f"{lost}/{sent} lost ({lost / sent * 100:.0f}%), max_loss {check.expect.max_loss * 100:g}%"
                      f"{short}, {_summary(rtts)}")
        elif check.expect.max_rtt is not None and max(rtts) > check.expect.max_rtt:
            reason = Reason.SLOW
            detail = (f"slowest reply {max(rtts) * 1000:.3f} ms > max_rtt {check.expect.max_rtt * 1000:g} ms, "
                      f"{len(rtts)}/{sent} replies, {_summary(rtts)}")
        else:
            reason, detail = Reason.OK, f"{len(rtts)}/{sent} replies{short}, {_summary(rtts)}"
        return self._result(reason, started_at, start, phases, outcome, detail)

    def _result(self, reason: Reason, started_at: float, start: float, phases: dict[Phase, float] | None = None,
                outcome: PingOutcome | None = None, detail: str = "") -> Result:
        # the mean round trip is the run's duration; without a reply, the run's wall time
        rtts = outcome.rtts_s if outcome is not None else ()
        duration = sum(rtts) / len(rtts) if rtts else time.perf_counter() - start
        return Result(check=self.check.name, ok=reason is Reason.OK, reason=reason, duration_s=duration,
                      started_at=started_at, phases=phases or {}, detail=cap_detail(detail), protocol=outcome)


class _Exchange:
    """The echo requests of one run, sent on schedule, and their replies read as they come until `deadline`.

    Sequence numbers start at a random number per run; a reply stamped after the deadline counts as lost.
    """

    def __init__(self, echo: EchoSocket, check: IcmpCheck, deadline: float) -> None:
        self._echo = echo
        self._packets = check.packets
        self._interval_s = check.packet_interval
        self._deadline = deadline
        self._first_sequence = random.getrandbits(16)
        self._requests: dict[int, EchoRequest] = {}  # sequence -> when it was sent
        self.rtts_s: dict[int, float] = {}  # sequence -> round trip, in the order the replies arrived
        self.hop_limit: int | None = None
        self.send_error: OSError | None = None
        self._all_answered: asyncio.Future[None] | None = None

    @property
    def sent(self) -> int:
        return len(self._requests)

    @property
    def read_error(self) -> OSError | None:
        return self._echo.read_error

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        self._all_answered = loop.create_future()
        fd = self._echo.sock.fileno()
        loop.add_reader(fd, self._on_readable)
        try:
            await self._send_all()
            remaining = self._deadline - time.perf_counter()
            if self.send_error is None and remaining > 0:
                await asyncio.wait([self._all_answered], timeout=remaining)
            # replies the kernel stamped before the deadline while the loop was busy elsewhere still count
            self._on_readable()
        finally:
            loop.remove_reader(fd)

    async def _send_all(self) -> None:
        first = time.perf_counter()
        for index in range(self._packets):
            # on a schedule from the first send, so a late wake-up does not push every later packet
            delay = first + index * self._interval_s - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            if time.perf_counter() >= self._deadline:
                return
            sequence = (self._first_sequence + index) & 0xFFFF
            try:
                self._requests[sequence] = self._echo.send(sequence)
            except OSError as exc:  # network or host unreachable, or a local firewall: no later packet would go
                self.send_error = exc
                return

    def _on_readable(self) -> None:
        for reply in self._echo.read():
            request = self._requests.get(reply.sequence)
            if request is None or reply.sequence in self.rtts_s:
                continue  # not one of ours, or a duplicate
            rtt = request.round_trip(reply)
            if request.sent_at + rtt > self._deadline:
                continue  # it reached this host after the run's wait ended: lost
            self.rtts_s[reply.sequence] = rtt
            if reply.hop_limit is not None:
                self.hop_limit = reply.hop_limit
        answered = self._all_answered
        if answered is not None and not answered.done() and len(self.rtts_s) == self._packets:
            answered.set_result(None)


def _literal_address(target: str) -> tuple[socket.AddressFamily, SockAddr] | None:
    """The family and address of `target` when it is an IP address (no lookup happens), else None."""
    try:
        infos = socket.getaddrinfo(target, None, socket.AF_UNSPEC, socket.SOCK_DGRAM, 0, socket.AI_NUMERICHOST)
    except (socket.gaierror, UnicodeError):
        return None
    family, _type, _proto, _name, address = infos[0]
    return family, _port_zero(address)


def _port_zero(address: SockAddr | tuple[int, bytes]) -> SockAddr:
    """The address with port 0, as ICMP sockets expect; raises OSError for one that is not IPv4 or IPv6."""
    if not isinstance(address[0], str):  # (int, bytes): an IPv6 address to a Python built without IPv6
        raise OSError(f"not an IP address: {address!r}")
    if len(address) == 4:
        return address[0], 0, address[2], address[3]
    return address[0], 0


def _summary(rtts_s: tuple[float, ...]) -> str:
    """ping's summary of the round trips, in milliseconds: `rtt min/avg/max/mdev 0.041/0.052/0.070/0.010 ms`."""
    mean = sum(rtts_s) / len(rtts_s)
    mdev = math.sqrt(max(sum(rtt * rtt for rtt in rtts_s) / len(rtts_s) - mean * mean, 0.0))
    return (f"rtt min/avg/max/mdev {min(rtts_s) * 1000:.3f}/{mean * 1000:.3f}/{max(rtts_s) * 1000:.3f}/"
            f"{mdev * 1000:.3f} ms")
