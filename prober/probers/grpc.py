"""gRPC prober: one grpc.health.v1 Health/Check call on a fresh channel, bounded by the check's timeout.

grpc's objects (typed for mypy by typeshed's stubs only) stay inside this module; what leaves it (`Result`,
`GrpcOutcome`) is plain data. Nothing of grpc's C core is made in `__init__` (the agent builds probers in its main
process too, to validate a load, and starts its probe workers from it): a channel and its credentials exist only
inside one `probe`, in the probe worker's loop (grpc.aio on uvloop), and are closed before it returns.
"""

from __future__ import annotations

import asyncio
import dataclasses
import re
import time
from pathlib import Path

import grpc
import grpc.aio
from cryptography import x509
from cryptography.hazmat.primitives.serialization import load_pem_private_key
from grpc_health.v1 import health_pb2

from prober import __version__
from prober.config.grpc_check import GrpcCheck
from prober.http.tls_contexts import TlsContexts
from prober.reasons import strip_urls
from prober.result import GrpcOutcome, Phase, Reason, Result, cap_detail

SERVING_STATUS_NAMES = {0: "UNKNOWN", 1: "SERVING", 2: "NOT_SERVING", 3: "SERVICE_UNKNOWN"}
"""grpc.health.v1's HealthCheckResponse.ServingStatus, by number."""
MAX_RESPONSE_BYTES = 4096
"""A health answer is a few bytes; a bigger one fails as RESOURCE_EXHAUSTED (reason `too_large`)."""
DETAILS_MAX_CHARS = 240
"""grpc's status details are the server's (or grpc core's) text: kept short in `detail`."""
CALL_SLACK_S = 0.25
"""grpc's own deadline ends the call; asyncio's comes this much later, in case grpc's did not fire."""
HEALTH_CHECK_METHOD = "/grpc.health.v1.Health/Check"
"""The method health_pb2_grpc.HealthStub calls, named here so that the call is typed end to end."""
_DEADLINE_EXCEEDED = grpc.StatusCode.DEADLINE_EXCEEDED
_SETTLED = (grpc.ChannelConnectivity.READY, grpc.ChannelConnectivity.TRANSIENT_FAILURE,
            grpc.ChannelConnectivity.SHUTDOWN)
_TLS_WORDS = ("handshake", "ssl", "tls", "certificate", "tsi_", "verification")
_NO_ADDRESS_CONNECTED = re.compile(r"^failed to connect to all addresses; last error: (?:[A-Z_]+: )?")
_DNS_WORDS = ("resolving", "dns resolution", "domain name not found")


@dataclasses.dataclass(frozen=True, slots=True)
class _PemFiles:
    """What the check's `tls_config` names, read once per config load (None: the system's roots, no client cert)."""

    root_certificates: bytes | None
    private_key: bytes | None
    certificate_chain: bytes | None


@dataclasses.dataclass(slots=True)
class _Call:
    """How one attempt went: whether the channel became ready, the call's status, and when it ended."""

    ready: bool = False
    code: grpc.StatusCode | None = None  # None: no call was made (timed out connecting) or grpc raised
    details: str = ""
    serving_status: int | None = None
    query_s: float | None = None  # sent to answered, on a ready channel; None when there was no answer
    ended_at: float | None = None  # perf_counter when the call returned (the channel's close is ours)
    internal: bool = False  # grpc raised something other than a call's status: the agent's fault


class GrpcProber:
    """Probes one `type: grpc` check. Built once per config load; a new channel (a new user's DNS lookup, TCP
    connect, TLS and HTTP/2 handshakes) for each attempt, never a pooled one."""

    grace_s = 0.0

    def __init__(self, check: GrpcCheck, tls_contexts: TlsContexts) -> None:
        """Reads and checks the TLS files of `tls_config` (OSError, ValueError for one that does not load);
        `tls_contexts` is unused: grpc brings its own TLS stack (BoringSSL), not Python's ssl."""
        del tls_contexts
        self.check = check
        self._target = f"dns:///{check.target}"  # never read as another resolver's scheme (`ipv4:`, `unix:`)
        self._pem = _read_pem_files(check) if check.tls else None
        self._options: list[tuple[str, str | int]] = [
            ("grpc.use_local_subchannel_pool", 1),  # no connection shared with another check's channel
            ("grpc.enable_retries", 0),  # one call per attempt: the scheduler owns retries
            ("grpc.service_config_disable_resolution", 1),  # no DNS TXT lookup for a service config
            ("grpc.max_receive_message_length", MAX_RESPONSE_BYTES),
            ("grpc.primary_user_agent", f"prober/{__version__}"),
        ]
        if check.tls and check.tls_config.server_name:
            self._options.append(("grpc.ssl_target_name_override", check.tls_config.server_name))
        self._metadata = tuple(check.metadata.items())

    async def probe(self) -> Result:
        """One health call; a Result for every fault of the target, never a grpc exception."""
        started_at = time.time()
        start = time.perf_counter()
        channel = self._channel()
        try:
            call = await self._call(channel, start + self.check.timeout)
        finally:
            await channel.close()
        ended_at = call.ended_at if call.ended_at is not None else time.perf_counter()
        reason, detail = self._judge(call, ended_at - start)
        return Result(
            check=self.check.name, ok=reason is Reason.OK, reason=reason, duration_s=ended_at - start,
            started_at=started_at, phases={Phase.QUERY: call.query_s} if call.query_s is not None else {},
            detail=cap_detail(detail),
            protocol=GrpcOutcome(call.code.value[0], _serving_name(call.serving_status))
            if call.code is not None else None,
        )

    def _channel(self) -> grpc.aio.Channel:
        if self._pem is None:
            return grpc.aio.insecure_channel(self._target, options=self._options)
        credentials = grpc.ssl_channel_credentials(
            self._pem.root_certificates, self._pem.private_key, self._pem.certificate_chain)
        return grpc.aio.secure_channel(self._target, credentials, options=self._options)

    async def _call(self, channel: grpc.aio.Channel, deadline: float) -> _Call:
        """Connect, then make the call with what remains of the timeout; the connection's own time is not the
        query's. A channel that cannot connect still gets the call: grpc fails it at once with the reason."""
        call = _Call()
        try:
            async with asyncio.timeout(deadline - time.perf_counter()):
                call.ready = await _connected(channel)
        except TimeoutError:
            return call
        remaining_s = max(deadline - time.perf_counter(), 0.001)
        health_check = channel.unary_unary(
            HEALTH_CHECK_METHOD, request_serializer=health_pb2.HealthCheckRequest.SerializeToString,
            response_deserializer=health_pb2.HealthCheckResponse.FromString)
        request = health_pb2.HealthCheckRequest(service=self.check.service)
        sent = time.perf_counter()
        try:
            async with asyncio.timeout(remaining_s + CALL_SLACK_S):
                response = await health_check(request, timeout=remaining_s, metadata=self._metadata)
        except grpc.aio.AioRpcError as exc:  # the call ended with a status other than OK
            call.code, call.details = exc.code(), exc.details() or ""
        except TimeoutError:
            call.code = _DEADLINE_EXCEEDED
        except (grpc.RpcError, grpc.aio.BaseError) as exc:  # grpc's own trouble, never the target's
            call.details, call.internal = type(exc).__name__, True
        else:
            call.code, call.serving_status = grpc.StatusCode.OK, int(response.status)
        call.ended_at = time.perf_counter()
        if call.ready and call.code not in (None, _DEADLINE_EXCEEDED):
            call.query_s = call.ended_at - sent
        return call

    def _judge(self, call: _Call, duration_s: float) -> tuple[Reason, str]:
        check = self.check
        if call.internal:
            return Reason.INTERNAL, f"grpc raised {call.details} during the call"
        if call.code is None or call.code is _DEADLINE_EXCEEDED:
            during = "" if call.ready else " (while connecting)"
            return Reason.TIMEOUT, f"no answer within {check.timeout:g}s{during}"
        if call.code is not grpc.StatusCode.OK:
            return _judge_status(call.code, _short(call.details), check.service)
        serving = _serving_name(call.serving_status)
        if serving is None:
            return Reason.PROTOCOL, f"serving status {call.serving_status} is not one of grpc.health.v1's"
        if serving != "SERVING":
            return Reason.ASSERTION, f"serving status {serving}{_of(check.service)}"
        if check.expect.max_duration is not None and duration_s > check.expect.max_duration:
            return Reason.SLOW, f"took {duration_s:.3f}s (max_duration: {check.expect.max_duration:g}s)"
        return Reason.OK, f"serving status SERVING{_of(check.service)}"


async def _connected(channel: grpc.aio.Channel) -> bool:
    """Wait until the channel is connected (True) or has failed to (False); unbounded: the caller bounds it."""
    state = channel.get_state(try_to_connect=True)
    while state not in _SETTLED:
        await channel.wait_for_state_change(state)
        state = channel.get_state(try_to_connect=True)  # an IDLE channel connects only when asked
    return state is grpc.ChannelConnectivity.READY


def _judge_status(code: grpc.StatusCode, details: str, service: str) -> tuple[Reason, str]:
    """The reason and detail of a call that ended with a status other than OK (and not its deadline)."""
    name: str = code.name
    if code is grpc.StatusCode.UNAVAILABLE:
        lowered = details.lower()
        if any(word in lowered for word in _DNS_WORDS):
            return Reason.DNS, f"UNAVAILABLE: {details}"
        if any(word in lowered for word in _TLS_WORDS):
            return Reason.TLS, f"UNAVAILABLE: {details}"
        return Reason.CONNECT, f"UNAVAILABLE: {details}"
    if code is grpc.StatusCode.UNIMPLEMENTED:
        return Reason.PROTOCOL, "the server does not implement grpc.health.v1 (UNIMPLEMENTED)"
    if code is grpc.StatusCode.NOT_FOUND:
        return Reason.ASSERTION, f"service {service!r} unknown to the server (NOT_FOUND)"
    if code in (grpc.StatusCode.UNAUTHENTICATED, grpc.StatusCode.PERMISSION_DENIED):
        # the server spoke gRPC and answered: its answer is not the one expected (check the check's metadata)
        return Reason.ASSERTION, f"{name}: {details}" if details else f"the server refused the call ({name})"
    if code is grpc.StatusCode.RESOURCE_EXHAUSTED and "larger than max" in details.lower():
        return Reason.TOO_LARGE, f"the answer is larger than {MAX_RESPONSE_BYTES} bytes"
    return Reason.PROTOCOL, f"status {name}: {details}" if details else f"status {name}"


def _serving_name(number: int | None) -> str | None:
    return SERVING_STATUS_NAMES.get(number) if number is not None else None


def _of(service: str) -> str:
    return f" (service {service!r})" if service else ""


def _short(details: str) -> str:
    """grpc's details text, one line, URLs cut out, at most DETAILS_MAX_CHARS, without the boilerplate before the
    cause ("failed to connect to all addresses; last error: UNKNOWN: ..."), so that the cause is what survives."""
    details = _NO_ADDRESS_CONNECTED.sub("", " ".join(strip_urls(details).split()))
    return details if len(details) <= DETAILS_MAX_CHARS else details[: DETAILS_MAX_CHARS - 1] + "…"


def _read_pem_files(check: GrpcCheck) -> _PemFiles:
    """The files of `tls_config`, parsed once here so that a file that is not PEM fails the load (ValueError)
    rather than every run's handshake."""
    tls = check.tls_config
    roots = Path(tls.ca_file).read_bytes() if tls.ca_file else None
    chain = Path(tls.cert_file).read_bytes() if tls.cert_file else None
    key = Path(tls.key_file).read_bytes() if tls.key_file else None
    if roots is not None:
        x509.load_pem_x509_certificates(roots)
    if chain is not None:
        x509.load_pem_x509_certificates(chain)
    if key is not None:
        load_pem_private_key(key, password=None)
    return _PemFiles(roots, key, chain)
