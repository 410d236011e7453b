"""TCP prober: one fresh connection (TLS on connect if asked), then the check's expect / send / starttls steps.

Timed phase by phase (dns, connect, tls, ttfb), bounded by the check's timeout as a whole and each `expect` by
`max_read_bytes`. It reads through `prober.http.connection.Connection`, whose kernel receive stamps let the time
to first byte, the end of the run and the timeout be judged by when the bytes reached this host, not by when a
busy event loop got to them.
"""

from __future__ import annotations

import asyncio
import codecs
import contextlib
import ipaddress
import re
import socket
import ssl
import time
from dataclasses import dataclass

from prober.config.check_base import split_host_port
from prober.config.tcp_check import TcpCheck
from prober.http.connection import Connection
from prober.http.tls_chain import client_cert_not_after, tls_outcome
from prober.http.tls_contexts import TlsContexts
from prober.reasons import describe
from prober.result import Phase, Reason, Result, TlsOutcome, cap_detail

_FAMILIES = {"auto": socket.AF_UNSPEC, "ip4": socket.AF_INET, "ip6": socket.AF_INET6}
_PREVIEW_CHARS = 60


class _TargetError(Exception):
    """A fault of the target found during a run: the reason it stands for and a sentence for the detail."""

    def __init__(self, reason: Reason, detail: str) -> None:
        super().__init__(detail)
        self.reason = reason
        self.detail = detail


@dataclass(frozen=True, slots=True)
class _Step:
    """One step of `query_response`, ready to run: its number (1-based), pattern, bytes to send, upgrade."""

    number: int
    expect: re.Pattern[str] | None
    send: bytes | None
    starttls: bool

    def expect_only(self) -> bool:
        return self.expect is not None and self.send is None and not self.starttls


class _Reader(asyncio.Protocol):
    """Collects what the server sends as text and settles the waiting `expect` on a match, a limit or the end.

    Text left after a match is kept for the next expect (a server may send two answers in one segment). Each
    expect may read `max_read_bytes`, counting what was left over for it; bytes past that are dropped.
    """

    def __init__(self, max_read_bytes: int) -> None:
        self._max_read_bytes = max_read_bytes
        self._connection: Connection | None = None
        self._decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self._text = ""
        self._bytes = 0  # bytes behind `_text`
        self._overflow = False
        self._waiter: asyncio.Future[None] | None = None
        self._pattern: re.Pattern[str] | None = None
        self._step = 0
        self._closed = False
        self._lost_exc: Exception | None = None
        self.first_byte_at: float | None = None
        """perf_counter time at which the first byte the server sent reached this host."""
        self.matched_at: float | None = None
        """When the bytes that completed the latest expect's match reached this host."""

    def expect(self, pattern: re.Pattern[str], step: int) -> asyncio.Future[None]:
        """A future resolved when `pattern` matches; its exception is a `_TargetError` (EOF, limit, connection lost)."""
        self._pattern, self._step, self.matched_at = pattern, step, None
        self._waiter = asyncio.get_running_loop().create_future()
        self._settle()
        return self._waiter

    def discard(self) -> None:
        """Forget what came before a STARTTLS upgrade: plaintext sent before it must never pass for TLS text."""
        self._decoder.reset()
        self._text, self._bytes, self._overflow = "", 0, False

    def lost(self) -> str:
        return f" ({describe(self._lost_exc)})" if self._lost_exc is not None else ""

    # asyncio.Protocol, driven by Connection
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, Connection)
        self._connection = transport

    def data_received(self, data: bytes) -> None:
        if self.first_byte_at is None:
            self.first_byte_at = self._arrived()
        room = self._max_read_bytes - self._bytes
        if len(data) > room:
            data, self._overflow = data[:room], True
        self._bytes += len(data)
        self._text += self._decoder.decode(data)
        self._settle()

    def eof_received(self) -> bool:
        return False  # let the connection close: connection_lost settles a waiting expect

    def connection_lost(self, exc: Exception | None) -> None:
        self._closed, self._lost_exc = True, exc
        self._text += self._decoder.decode(b"", final=True)
        self._settle()

    def _settle(self) -> None:
        waiter, pattern = self._waiter, self._pattern
        if waiter is None or waiter.done() or pattern is None:
            return
        match = pattern.search(self._text)
        if match is not None:
            self.matched_at = self._arrived()
            # after dropped bytes the rest is not what the server sent next: the next expect starts over its limit
            self._text = "" if self._overflow else self._text[match.end():]
            self._bytes = self._max_read_bytes if self._overflow else len(self._text.encode())
            waiter.set_result(None)
        elif self._overflow:
            waiter.set_exception(_TargetError(Reason.ASSERTION, (
                f"more than {self._max_read_bytes} bytes came without a match for /{pattern.pattern}/ "
                f"(step {self._step}, max_read_bytes)")))
        elif self._closed:
            waiter.set_exception(self._ended_failure(pattern))

    def _ended_failure(self, pattern: re.Pattern[str]) -> _TargetError:
        if self._lost_exc is not None:
            # an alert after the handshake is TLS's verdict, e.g. a TLS 1.3 server that rejects our client cert
            reason = Reason.TLS if isinstance(self._lost_exc, ssl.SSLError) else Reason.PROTOCOL
            detail = f"the connection failed during expect /{pattern.pattern}/ of step {self._step}{self.lost()}"
            return _TargetError(reason, detail)
        came = "nothing"
        if self._text:
            preview = self._text[:_PREVIEW_CHARS]
            came = f"{self._bytes} bytes: {preview!r}{'…' if len(self._text) > _PREVIEW_CHARS else ''}"
        detail = f"the server closed the connection before /{pattern.pattern}/ matched (step {self._step})"
        return _TargetError(Reason.ASSERTION, f"{detail}; it sent {came}")

    def _arrived(self) -> float:
        """When the bytes being read reached this host (the kernel's stamp), not when the loop got to them."""
        return self._connection.received_at if self._connection is not None else time.perf_counter()


class _Run:
    """What one run has reached: its phases, where it is (for a timeout's detail), when its latest step ended."""

    __slots__ = ("awaiting_final_expect", "ended_at", "phases", "reader", "stage", "start", "tls_object",
                 "ttfb_from")

    def __init__(self, start: float) -> None:
        self.start = start
        self.phases: dict[Phase, float] = {}
        self.stage = "start"
        self.ended_at = start
        self.ttfb_from: float | None = None
        self.reader: _Reader | None = None
        self.tls_object: ssl.SSLObject | None = None
        self.awaiting_final_expect = False  # the last step is an expect alone and the run waits on it

    def mark(self, phase: Phase, began: float) -> float:
        self.ended_at = time.perf_counter()
        self.phases[phase] = self.phases.get(phase, 0.0) + max(self.ended_at - began, 0.0)
        return self.ended_at

    def answered_by(self, deadline: float) -> bool:
        """True when the final expect's match reached this host by `deadline`, though the loop saw it later."""
        matched_at = self.reader.matched_at if self.reader is not None else None
        return self.awaiting_final_expect and matched_at is not None and matched_at <= deadline

    def all_phases(self) -> dict[Phase, float]:
        phases = dict(self.phases)
        first_byte_at = self.reader.first_byte_at if self.reader is not None else None
        if first_byte_at is not None and self.ttfb_from is not None:
            phases[Phase.TTFB] = max(first_byte_at - self.ttfb_from, 0.0)  # the loop may see connect end late
        return {phase: phases[phase] for phase in Phase if phase in phases}


class TcpProber:
    """Probes one `type: tcp` check. Built once per config load; every run opens and closes its own connection."""

    grace_s = 0.0

    def __init__(self, check: TcpCheck, tls_contexts: TlsContexts) -> None:
        self.check = check
        self._host, self._port = split_host_port(check.target)
        self._host_is_ip = _is_ip(self._host)
        self._family = _FAMILIES[check.ip_family]
        # MULTILINE: `^` and `$` match at each line, as in blackbox_exporter, whose expect reads line by line
        self._steps = tuple(
            _Step(number, re.compile(step.expect.pattern, step.expect.flags | re.MULTILINE)
                  if step.expect is not None else None,
                  step.send.encode() if step.send is not None else None, step.starttls)
            for number, step in enumerate(check.query_response, start=1))
        uses_tls = check.tls or any(step.starttls for step in self._steps)
        self._tls_context = tls_contexts.get(check.tls_config) if uses_tls else None
        self._server_name = check.tls_config.server_name or self._host
        self._client_cert_not_after = client_cert_not_after(check.tls_config.cert_file) if uses_tls else None

    async def probe(self) -> Result:
        started_at = time.time()
        start = time.perf_counter()
        run = _Run(start)
        task = asyncio.ensure_future(self._dialogue(run))
        try:
            failure = await self._within(task, run)
        finally:
            task.cancel()  # a no-op once it is done; else the probe itself was cancelled (a stop)
        outcome = tls_outcome(run.tls_object, self._client_cert_not_after) if run.tls_object is not None else None
        if failure is None:
            duration = run.ended_at - start
            failure = self._chain_failure(outcome) or self._slow_failure(duration)
        else:
            duration = time.perf_counter() - start
        reason, detail = (failure.reason, failure.detail) if failure else (Reason.OK, self._ok_detail(outcome))
        return Result(check=self.check.name, ok=failure is None, reason=reason, duration_s=duration,
                      started_at=started_at, phases=run.all_phases(), detail=cap_detail(detail), protocol=outcome,
                      cert_not_after=outcome.earliest_not_after if outcome is not None else None)

    async def _within(self, task: asyncio.Future[_TargetError | None], run: _Run) -> _TargetError | None:
        """The dialogue's outcome, or a timeout when it did not end within the check's timeout from its start.

        An answer whose bytes reached this host by the deadline (the kernel's stamp) is taken even when the loop
        got to it later: a late agent never turns an answer that came in time into a timeout.
        """
        timeout_s = self.check.timeout
        deadline = run.start + timeout_s
        done, _ = await asyncio.wait({task}, timeout=max(0.0, deadline - time.perf_counter()))
        if done:
            return task.result()
        await asyncio.sleep(0)  # one more turn of the loop: it reads what had already arrived
        in_time = run.ended_at <= deadline if task.done() and task.result() is None else run.answered_by(deadline)
        if in_time:
            return await task
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task  # its connection closes before the timeout is reported
        return _TargetError(Reason.TIMEOUT, f"no answer within {timeout_s:g}s (during {run.stage})")

    async def _dialogue(self, run: _Run) -> _TargetError | None:
        """Connect, then run the steps in order; a fault of the target is returned, never raised."""
        try:
            connection = await self._connect(run)
        except _TargetError as failure:
            return failure
        try:
            for step in self._steps:
                await self._step(connection, step, run)
        except _TargetError as failure:
            return failure
        finally:
            connection.close()
        return None

    async def _connect(self, run: _Run) -> Connection:
        """A connection to the first of the host's addresses that accepts TCP, TLS over it if `tls`."""
        loop = asyncio.get_running_loop()
        addresses = [self._host] if self._host_is_ip else await self._resolve(loop, run)
        run.stage = "connect"
        began = time.perf_counter()
        errors: list[str] = []
        for address in addresses:
            reader = _Reader(self.check.max_read_bytes)
            try:
                connection = await Connection.open(loop, address, self._port, reader)
            except OSError as exc:
                errors.append(f"{address}: {exc.strerror or exc}")
                continue
            run.reader = reader
            run.ttfb_from = run.mark(Phase.CONNECT, began)
            if self.check.tls:
                try:  # a failed handshake is final: the next address would present the same certificate
                    await self._handshake(connection, run, "the TLS handshake")
                except BaseException:
                    connection.close()
                    raise
                run.ttfb_from = run.ended_at
            return connection
        raise _TargetError(Reason.CONNECT, f"refused or unreachable on port {self._port}: {'; '.join(errors)}")

    async def _resolve(self, loop: asyncio.AbstractEventLoop, run: _Run) -> list[str]:
        run.stage = "DNS"
        began = time.perf_counter()
        try:
            infos = await loop.getaddrinfo(self._host, self._port, family=self._family, type=socket.SOCK_STREAM)
        except (OSError, UnicodeError) as exc:
            raise _TargetError(Reason.DNS, f"{self._host} does not resolve ({describe(exc)})") from None
        run.mark(Phase.DNS, began)
        addresses = list(dict.fromkeys(str(info[4][0]) for info in infos))
        if not addresses:
            raise _TargetError(Reason.DNS, f"{self._host} has no address of family {self.check.ip_family}")
        return addresses

    async def _handshake(self, connection: Connection, run: _Run, stage: str) -> None:
        assert self._tls_context is not None
        run.stage = stage
        began = time.perf_counter()
        try:
            await connection.start_tls(self._tls_context, self._server_name)
        except OSError as exc:  # ssl.SSLError is an OSError; a reset during the handshake fails it as well
            raise _TargetError(Reason.TLS, f"{stage} failed: {describe(exc)}") from None
        run.mark(Phase.TLS, began)
        run.tls_object = connection.get_extra_info("ssl_object")
        connection.deliver_pending()  # what the server sent with its last handshake flight (a TLS 1.2 banner)

    async def _step(self, connection: Connection, step: _Step, run: _Run) -> None:
        """One step: read until `expect` matches, write `send`, upgrade to TLS; raises _TargetError."""
        assert run.reader is not None
        if step.expect is not None:
            run.stage = f"expect /{step.expect.pattern}/ of step {step.number}"
            run.awaiting_final_expect = step.number == len(self._steps) and step.expect_only()
            await run.reader.expect(step.expect, step.number)
            run.ended_at = run.reader.matched_at or time.perf_counter()
        if step.send is not None:
            run.stage = f"send of step {step.number}"
            self._send(connection, step.send, step.number, run.reader)
            run.ended_at = time.perf_counter()
        if step.starttls:
            if connection.is_closing():
                detail = f"the connection closed before the starttls of step {step.number}{run.reader.lost()}"
                raise _TargetError(Reason.PROTOCOL, detail)
            run.reader.discard()
            await self._handshake(connection, run, f"starttls of step {step.number}")

    @staticmethod
    def _send(connection: Connection, data: bytes, number: int, reader: _Reader) -> None:
        if connection.is_closing():
            raise _TargetError(Reason.PROTOCOL,
                               f"the connection closed before the send of step {number}{reader.lost()}")
        try:
            connection.write(data)
        except ssl.SSLError as exc:
            raise _TargetError(Reason.PROTOCOL, f"the send of step {number} failed: {describe(exc)}") from None
        if connection.is_closing():  # the write itself failed: reset, or the server had gone
            raise _TargetError(Reason.PROTOCOL, f"the connection failed during the send of step {number}")

    def _chain_failure(self, outcome: TlsOutcome | None) -> _TargetError | None:
        """`cert_min_days` over every certificate the server sent: the one that expires first decides."""
        min_days = self.check.expect.cert_min_days
        if min_days is None or outcome is None or not outcome.chain:
            return None
        cert = min(outcome.chain, key=lambda each: each.not_after)
        days_left = (cert.not_after - time.time()) / 86400
        if days_left >= min_days:
            return None
        detail = f"certificate {cert.subject} expires in {days_left:.1f} days (cert_min_days: {min_days:g})"
        return _TargetError(Reason.ASSERTION, detail)

    def _slow_failure(self, duration_s: float) -> _TargetError | None:
        max_duration = self.check.expect.max_duration
        if max_duration is None or duration_s <= max_duration:
            return None
        return _TargetError(Reason.SLOW, f"took {duration_s:.3f}s (max_duration: {max_duration:g}s)")

    def _ok_detail(self, outcome: TlsOutcome | None) -> str:
        steps = len(self._steps)
        text = f"connected, {steps} step{'s' if steps != 1 else ''} done"
        return f"{text} over {outcome.version}" if outcome is not None else text


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True
