"""DNS prober: one query per attempt over UDP (asked again over TCP when truncated), TCP or TLS, checked answer
by answer, bounded by the check's timeout from the attempt's start.

Phases: dns (resolving the server's name, when `server` is a name), connect (tcp, tls, and the TCP retry of a
truncated udp answer), tls (DNS-over-TLS handshake), query (the query sent to its answer received; a truncated
udp answer's exchange and the TCP retry's are summed). The query carries EDNS0 with a 1,232-byte UDP payload, as
resolvers have since DNS flag day 2020, so an answer larger than that comes truncated and is asked again over TCP
within the same timeout, as a resolver does; the detail says so. Answers are read by `prober.probers.dns_exchange`,
whose kernel receive stamps let the query phase, the end of the run and the timeout be judged by when the answer
reached this host, not by when a busy event loop got to it.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import socket
import ssl
import time
from pathlib import Path
from typing import Any

import dns.exception
import dns.flags
import dns.message
import dns.name
import dns.rcode
import dns.rdatatype
import dns.rrset

from prober.config.dns_check import DnsCheck, split_server
from prober.http.tls_chain import tls_outcome
from prober.http.tls_contexts import TlsContexts
from prober.probers.dns_exchange import Attempt, TlsTarget, query_stream, query_udp
from prober.probers.dns_expect import answer_records, answers_failure, listed, rcode_failure
from prober.reasons import describe
from prober.result import DnsOutcome, Phase, Reason, Result, cap_detail

RESOLV_CONF = Path("/etc/resolv.conf")
DEFAULT_NAMESERVER = "127.0.0.1"  # glibc's (and Go's) choice when resolv.conf names none
EDNS_PAYLOAD_BYTES = 1232  # DNS flag day 2020: no answer is fragmented on any path
_DEFAULT_PORTS = {"udp": 53, "tcp": 53, "tls": 853}
_FAMILIES = {"auto": socket.AF_UNSPEC, "ip4": socket.AF_INET, "ip6": socket.AF_INET6}
_STAGES = {None: "before the query", Phase.DNS: "resolving the server's name", Phase.CONNECT: "connecting over tcp",
           Phase.TLS: "in the TLS handshake"}
SockAddr = tuple[Any, ...]  # as socket.getaddrinfo gives it: (address, port) or (address, port, flow, scope)


class _TargetError(Exception):
    """A fault of the target found during a run: the reason it stands for and a sentence for the detail."""

    def __init__(self, reason: Reason, detail: str) -> None:
        super().__init__(detail)
        self.reason = reason
        self.detail = detail


class DnsProber:
    """Probes one `type: dns` check. Built once per config load (resolv.conf is read here, never at probe time);
    every run asks a fresh query (a new ID) on a fresh socket or connection."""

    grace_s = 0.0

    def __init__(self, check: DnsCheck, tls_contexts: TlsContexts, resolv_conf: Path = RESOLV_CONF) -> None:
        self.check = check
        if check.server is None:
            host, port = system_nameserver(resolv_conf), None
            self._server_label = f"the system resolver {host}"
        else:
            host, port = split_server(check.server)
            self._server_label = check.server
        self._host = host
        self._port = port or _DEFAULT_PORTS[check.transport]
        self._socket_type = socket.SOCK_DGRAM if check.transport == "udp" else socket.SOCK_STREAM
        self._numeric = _numeric_address(host, self._port, self._socket_type)
        self._family = _FAMILIES[check.ip_family]
        self._qname = dns.name.from_text(check.query_name)
        self._qtype = dns.rdatatype.RdataType.make(check.query_type)
        self._flags = int(dns.flags.RD) if check.recursion_desired else 0
        self._tls = (TlsTarget(tls_contexts.get(check.tls), check.tls.server_name or host)
                     if check.transport == "tls" else None)

    async def probe(self) -> Result:
        started_at = time.time()
        start = time.perf_counter()
        attempt = Attempt(start + self.check.timeout, self.check.transport)
        query = dns.message.make_query(self._qname, self._qtype, use_edns=0, payload=EDNS_PAYLOAD_BYTES,
                                       flags=self._flags)
        task = asyncio.ensure_future(self._answer(query, attempt))
        try:
            answer = await self._within(task, attempt)
        finally:
            task.cancel()  # a no-op once it is done; else the probe itself was cancelled (a stop)
        if isinstance(answer, _TargetError):
            return self._result(answer.reason, answer.detail, started_at, time.perf_counter() - start, attempt)
        ended_at = attempt.arrived_at if attempt.arrived_at is not None else time.perf_counter()
        return self._judged(answer, started_at, ended_at - start, attempt)

    async def _within(self, task: asyncio.Future[dns.message.Message | _TargetError],
                      attempt: Attempt) -> dns.message.Message | _TargetError:
        """The answer, or a timeout when none came within the check's timeout from the attempt's start.

        The kernel's stamp of the answer decides, not when the loop got to it: an answer that reached this host by
        the deadline is taken though a late agent read it after, and one that came later is a timeout though the
        loop saw it before its timer.
        """
        done, _ = await asyncio.wait({task}, timeout=max(0.0, attempt.deadline - time.perf_counter()))
        if not done:
            await asyncio.sleep(0)  # one more turn of the loop: it reads what had already arrived
            if not (task.done() or attempt.answered_by(attempt.deadline)):
                return await self._cancelled(task, attempt)
        answer = await task  # bounded: nothing new starts past the deadline (Attempt.ensure_time_left)
        if isinstance(answer, dns.message.Message) and (attempt.arrived_at or 0.0) > attempt.deadline:
            return self._timeout(attempt)
        return answer

    async def _cancelled(self, task: asyncio.Future[dns.message.Message | _TargetError],
                         attempt: Attempt) -> _TargetError:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task  # its socket closes before the timeout is reported
        return self._timeout(attempt)

    async def _answer(self, query: dns.message.Message, attempt: Attempt) -> dns.message.Message | _TargetError:
        """The server's answer to `query`; a fault of the target is returned, never raised."""
        try:
            return await self._exchange(query, attempt)
        except _TargetError as failure:
            return failure
        except TimeoutError:  # a TCP connect that timed out in the kernel, or a retry past the deadline
            return self._timeout(attempt)
        except (OSError, EOFError, dns.exception.DNSException) as exc:  # ssl.SSLError is an OSError
            return self._failure(exc, attempt)

    async def _exchange(self, query: dns.message.Message, attempt: Attempt) -> dns.message.Message:
        family, sockaddr = self._numeric or await self._resolve(attempt)
        wire = query.to_wire()
        if self.check.transport == "udp":
            try:
                return _parsed(query, await query_udp(attempt, family, sockaddr, wire), udp=True)
            except dns.message.Truncated:
                attempt.truncated, attempt.transport = True, "tcp"
                attempt.ensure_time_left()
        answer = await query_stream(attempt, str(sockaddr[0]), int(sockaddr[1]), wire, self._tls)
        return _parsed(query, answer, udp=False)

    async def _resolve(self, attempt: Attempt) -> tuple[int, SockAddr]:
        """The first address of the server's name of the check's ip_family (the system's preference order)."""
        attempt.stage = Phase.DNS
        began = time.perf_counter()
        loop = asyncio.get_running_loop()
        try:
            infos = await loop.getaddrinfo(self._host, self._port, family=self._family, type=self._socket_type)
        except (OSError, UnicodeError) as exc:
            raise _TargetError(Reason.DNS, f"server {self._host} does not resolve ({describe(exc)})") from None
        if not infos:
            raise _TargetError(Reason.DNS, f"server {self._host} has no address of family {self.check.ip_family}")
        attempt.mark(Phase.DNS, began)
        family, _type, _proto, _canonname, sockaddr = infos[0]
        return int(family), tuple(sockaddr)

    def _judged(self, response: dns.message.Message, started_at: float, duration_s: float,
                attempt: Attempt) -> Result:
        """The Result of an answer: its rcode, then its records, then how long it took, decide."""
        expect = self.check.expect
        rcode = dns.rcode.to_text(response.rcode())
        records = answer_records(response, self._qtype)
        failure = rcode_failure(expect, rcode) or answers_failure(expect, records)
        if failure is None and expect.max_duration is not None and duration_s > expect.max_duration:
            failure = Reason.SLOW, f"took {duration_s:.3f}s (max_duration: {expect.max_duration:g}s)"
        reason, detail = failure or (Reason.OK, f"{rcode}, {len(records)} answers: {listed(records)}")
        outcome = DnsOutcome(rcode=rcode, answers=_records_in(response.answer),
                             authority=_records_in(response.authority), additional=_records_in(response.additional))
        return self._result(reason, detail, started_at, duration_s, attempt, outcome)

    def _result(self, reason: Reason, detail: str, started_at: float, duration_s: float, attempt: Attempt,
                outcome: DnsOutcome | None = None) -> Result:
        if attempt.truncated:  # first: a long detail is cut at its end
            detail = f"the udp answer was truncated, asked again over tcp: {detail}"
        tls = tls_outcome(attempt.tls_object) if attempt.tls_object is not None else None
        return Result(check=self.check.name, ok=reason is Reason.OK, reason=reason, duration_s=duration_s,
                      started_at=started_at, phases={p: attempt.phases[p] for p in Phase if p in attempt.phases},
                      detail=cap_detail(detail), protocol=outcome,
                      cert_not_after=tls.earliest_not_after if tls is not None else None)

    def _timeout(self, attempt: Attempt) -> _TargetError:
        stage = _STAGES.get(attempt.stage, f"waiting for the answer over {attempt.transport}")
        return _TargetError(Reason.TIMEOUT,
                            f"no answer from {self._server_label} within {self.check.timeout:g}s ({stage})")

    def _failure(self, exc: OSError | EOFError | dns.exception.DNSException, attempt: Attempt) -> _TargetError:
        """The reason of an exception, by where the attempt was when it came."""
        server = self._server_label
        if attempt.stage is Phase.CONNECT and isinstance(exc, OSError):
            return _TargetError(Reason.CONNECT, f"no tcp connection to {server}: {exc.strerror or describe(exc)}")
        if attempt.stage is Phase.TLS or isinstance(exc, ssl.SSLError):
            return _TargetError(Reason.TLS, f"TLS with {server} failed: {_tls_text(exc)}")
        if isinstance(exc, dns.exception.DNSException):
            return _TargetError(Reason.PROTOCOL, f"malformed answer from {server} ({describe(exc)})")
        if attempt.transport == "udp" and isinstance(exc, OSError):
            # a connected UDP socket reports the ICMP error of the query's datagram (port unreachable: refused)
            text = "port unreachable (nobody listens)" if isinstance(exc, ConnectionRefusedError) else exc.strerror
            return _TargetError(Reason.CONNECT, f"{server} over udp: {text or describe(exc)}")
        if isinstance(exc, EOFError):
            return _TargetError(Reason.PROTOCOL, f"{server}: {exc}")
        return _TargetError(Reason.PROTOCOL,
                            f"the connection to {server} failed before the answer: {exc.strerror or describe(exc)}")


def _parsed(query: dns.message.Message, wire: bytes, *, udp: bool) -> dns.message.Message:
    """The answer in `wire`; raises dns.message.Truncated for a truncated udp answer, DNSException for a malformed
    one, and _TargetError(protocol) for one that does not answer `query` (another ID, question or opcode)."""
    response = dns.message.from_wire(wire, raise_on_truncation=udp)
    if not query.is_response(response):
        detail = (f"the answer does not match the query (id {response.id}, question "
                  f"{' '.join(str(q) for q in response.question) or 'empty'}; asked id {query.id})")
        raise _TargetError(Reason.PROTOCOL, detail)
    return response


def _records_in(section: list[dns.rrset.RRset]) -> int:
    return sum(len(rrset) for rrset in section)


def _tls_text(exc: BaseException) -> str:
    if isinstance(exc, ssl.SSLCertVerificationError) and exc.verify_message:
        return f"certificate verify failed: {exc.verify_message}"
    if isinstance(exc, ssl.SSLError) and len(exc.args) == 1 and isinstance(exc.args[0], str):
        return exc.args[0]  # raised by our own Connection with a sentence (a close during the handshake)
    return describe(exc)


def _numeric_address(host: str, port: int, socket_type: int) -> tuple[int, SockAddr] | None:
    """(family, sockaddr) of an IP address (a scoped `fe80::1%eth0` too), None for a name to resolve per run."""
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return None
    # numeric: no lookup happens, so this may run outside the loop
    (family, _type, _proto, _canonname, sockaddr), *_ = socket.getaddrinfo(
        host, port, type=socket_type, flags=socket.AI_NUMERICHOST)
    return int(family), tuple(sockaddr)


def system_nameserver(resolv_conf: Path) -> str:
    """The first `nameserver` of resolv.conf that is an IP address, as the C library reads it; 127.0.0.1 when the
    file names none or cannot be read (as glibc and Go do)."""
    try:
        text = resolv_conf.read_text(errors="replace")
    except OSError:
        return DEFAULT_NAMESERVER
    for line in text.splitlines():
        words = line.split("#", 1)[0].split(";", 1)[0].split()
        if len(words) >= 2 and words[0] == "nameserver":
            try:
                ipaddress.ip_address(words[1])
            except ValueError:
                continue
            return words[1]
    return DEFAULT_NAMESERVER
