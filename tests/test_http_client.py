"""The HTTP check's own HTTP/1.1 client against a real server that sends exactly the bytes each case needs."""

from __future__ import annotations

import asyncio
import json
import socket
import time

import pytest
from yarl import URL

from prober.config.models import HttpCheck
from prober.http import receive_stamps, send_stamps
from prober.http.body import BodyTooLargeError
from prober.http.client import ProtocolError, Request, Response, exchange, exchange_within
from prober.http.timing import AttemptTiming
from prober.http.tls_contexts import TlsContexts
from prober.probers.http import HttpProber
from prober.reasons import classify
from prober.result import Phase, Reason
from tests.fault_server import FaultServer
from tests.tls_certs import Certs


async def fetch(url: str, **fields: object) -> Response:
    fields.setdefault("method", "GET")
    fields.setdefault("headers", {"Authorization": "Bearer secret"})
    fields.setdefault("body", None)
    fields.setdefault("max_body_bytes", 1 << 20)
    request = Request(url=URL(url), **fields)  # type: ignore[arg-type]
    async with asyncio.timeout(5):
        return await exchange(request, AttemptTiming())


@pytest.mark.parametrize("path", ["/chunked-ext", "/early-hints", "/bare-lf", "/until-close"])
async def test_every_framing_of_a_body_reads_the_same_body(fault: FaultServer, path: str) -> None:
    response = await fetch(fault.url(path))
    assert response.status == 200
    assert response.body == b"hello prober"


@pytest.mark.parametrize(("path", "words"), [
    ("/truncated", "95 body bytes still to come"),
    ("/truncated-chunked", "chunked body"),
    ("/bad-chunk-size", "invalid chunk size"),
    ("/two-lengths", "invalid Content-Length"),
    ("/bad-header", "malformed header"),
    ("/huge-head", "head larger than"),
    ("/garbage", "status line"),
    ("/close-before-response", "before any answer"),
])
async def test_a_broken_answer_is_a_protocol_error_that_says_what_broke(fault: FaultServer, path: str,
                                                                        words: str) -> None:
    with pytest.raises(ProtocolError, match=words) as caught:
        await fetch(fault.url(path))
    assert classify(caught.value) is Reason.PROTOCOL


async def test_head_reads_no_body_even_when_the_server_announces_one(fault: FaultServer) -> None:
    response = await fetch(fault.url("/big/100000"), method="HEAD")
    assert response.status == 200
    assert response.body == b""


async def test_a_303_after_a_post_is_followed_with_a_get_without_the_body(fault: FaultServer) -> None:
    response = await fetch(fault.url("/see-other"), method="POST", body=b'{"a": 1}')
    assert json.loads(response.body)[":method"] == "GET"
    assert "content-length" not in json.loads(response.body)


async def test_cookies_set_on_a_redirect_are_sent_on_the_next_hop(fault: FaultServer) -> None:
    response = await fetch(fault.url("/cookie-redirect"))
    assert json.loads(response.body)["cookie"] == "session=s1"


async def test_credentials_do_not_follow_a_redirect_to_another_origin(fault: FaultServer) -> None:
    same = await fetch(fault.url("/redirect/1"), headers={"Authorization": "Bearer secret"})
    assert same.status == 200
    elsewhere = json.loads((await fetch(fault.url("/to-localhost"), family=socket.AF_INET)).body)
    assert "authorization" not in elsewhere
    assert elsewhere["host"] == f"localhost:{fault.port}"


async def test_a_configured_host_header_is_the_one_sent(fault: FaultServer) -> None:
    response = await fetch(fault.url("/echo-headers"), headers={"host": "shop.example"})
    assert json.loads(response.body)["host"] == "shop.example"


async def test_a_too_large_body_keeps_the_status_it_came_with(fault: FaultServer) -> None:
    with pytest.raises(BodyTooLargeError) as caught:
        await fetch(fault.url("/chunked-big/10000000"), max_body_bytes=1000)
    assert caught.value.status == 200


async def test_https_through_a_proxy_tunnels_with_connect(fault: FaultServer, tls_servers: dict[str, FaultServer],
                                                          certs: Certs) -> None:
    # the name does not resolve here: only the proxy's tunnel (to 127.0.0.1) reaches the TLS server
    check = HttpCheck(name="t", type="http", url=f"https://shop.invalid:{tls_servers['good'].port}/ok",
                      interval="10s", timeout="5s", attempts=1, proxy=fault.url(""),
                      tls={"ca_file": str(certs.ca_cert), "server_name": "localhost"})
    result = await HttpProber(check, TlsContexts()).probe()
    assert result.ok, result.detail
    assert {Phase.CONNECT, Phase.TLS, Phase.TTFB} <= set(result.phases)
    assert result.cert_not_after is not None


LOOP_BLOCK_S = 1.0


@pytest.mark.parametrize("scheme", ["http", "https"])
async def test_an_answer_that_arrives_while_the_loop_is_blocked_is_timed_by_its_arrival(
        fault: FaultServer, tls_servers: dict[str, FaultServer], certs: Certs, scheme: str) -> None:
    # the target answers 50 ms after the request; this loop is stuck for a second from the moment it is sent,
    # so a client timed by the loop would read a second; the kernel's receive stamps read the target's 50 ms
    server = fault if scheme == "http" else tls_servers["good"]
    check = HttpCheck(name="t", type="http", url=f"{scheme}://127.0.0.1:{server.port}/delay/50", interval="10s",
                      timeout="5s", attempts=1, tls={"ca_file": str(certs.ca_cert), "server_name": "localhost"})
    request = Request(method="GET", url=URL(check.url), headers={}, body=None, max_body_bytes=1 << 20,
                      tls_context=TlsContexts().get(check.tls) if scheme == "https" else None,
                      server_hostname="localhost")
    timing = AttemptTiming()
    with timing:
        answer = asyncio.create_task(exchange(request, timing))
    async with asyncio.timeout(5):
        while timing.stage() != "waiting for the response (ttfb)":  # noqa: ASYNC110 - no event to wait on
            await asyncio.sleep(0.001)
        sent = time.perf_counter()
        time.sleep(LOOP_BLOCK_S)  # noqa: ASYNC251 - blocking the loop is what this test is about
        response = await answer
    assert response.status == 200
    assert 0.050 <= timing.phases()[Phase.TTFB] < LOOP_BLOCK_S / 2, timing.phases()
    assert timing.ended_at is not None and timing.ended_at - sent < LOOP_BLOCK_S / 2


@pytest.mark.parametrize(("delay_ms", "answered"), [(50, True), (300, False)])
async def test_an_answer_in_time_is_taken_though_the_loop_reads_it_after_the_deadline(
        fault: FaultServer, delay_ms: int, answered: bool) -> None:
    # a 100 ms bound; the loop is stuck 400 ms from the moment the request is sent, so it wakes to its deadline
    # and the answer together: the answer that arrived at 50 ms is the run's, the one due at 300 ms a timeout
    request = Request(method="GET", url=URL(fault.url(f"/delay/{delay_ms}")), headers={}, body=None,
                      max_body_bytes=1 << 20)
    timing = AttemptTiming()
    start = time.perf_counter()
    answer = asyncio.create_task(exchange_within(request, timing, start, 0.1))
    async with asyncio.timeout(5):
        while timing.stage() != "waiting for the response (ttfb)":  # noqa: ASYNC110 - no event to wait on
            await asyncio.sleep(0.001)
        time.sleep(0.4)  # noqa: ASYNC251 - blocking the loop is what this test is about
        if answered:
            response = await answer
            assert response.body == b"ok"
            assert timing.ended_at is not None and timing.ended_at - start < 0.1
        else:
            with pytest.raises(TimeoutError):
                await answer
            # read after the deadline, the whole answer came after it too: time ran out waiting for its first byte
            assert timing.stage() == "transfer"
            assert timing.stage(start + 0.1) == "waiting for the response (ttfb)"


async def test_without_kernel_receive_stamps_the_answer_is_timed_when_read(
        fault: FaultServer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(receive_stamps, "AVAILABLE", False)  # as on a system without SO_TIMESTAMPNS
    timing = AttemptTiming()
    request = Request(method="GET", url=URL(fault.url("/delay/50")), headers={}, body=None, max_body_bytes=1 << 20)
    async with asyncio.timeout(5):
        response = await exchange(request, timing)
    assert response.body == b"ok"
    assert 0.050 <= timing.phases()[Phase.TTFB] < 5


STALL_BEFORE_SEND_S = 0.2


@pytest.mark.parametrize("send_stamps_on", [True, False])
async def test_a_worker_preempted_between_its_clock_and_its_send_times_the_request_by_the_kernels_send_stamp(
        fault: FaultServer, monkeypatch: pytest.MonkeyPatch, send_stamps_on: bool) -> None:
    # the worker reads the clock for "request sent", then waits 200 ms before its write reaches the kernel (as a
    # preempted process would); the kernel's stamp of the send leaves the target's 50 ms; without it, the
    # reading before the write stands and the stall is in the ttfb (never under the truth, so never a fast lie)
    real_headers_sent = AttemptTiming.headers_sent

    def preempted(self: AttemptTiming) -> None:
        real_headers_sent(self)
        time.sleep(STALL_BEFORE_SEND_S)

    monkeypatch.setattr(AttemptTiming, "headers_sent", preempted)
    if not send_stamps_on:
        monkeypatch.setattr(send_stamps, "enable", lambda sock: False)  # as where SO_TIMESTAMPING fails
    timing = AttemptTiming()
    request = Request(method="GET", url=URL(fault.url("/delay/50")), headers={}, body=None, max_body_bytes=1 << 20)
    async with asyncio.timeout(5):
        response = await exchange(request, timing)
    assert response.body == b"ok"
    ttfb = timing.phases()[Phase.TTFB]
    if send_stamps_on:
        assert 0.050 <= ttfb < 0.050 + STALL_BEFORE_SEND_S / 2, ttfb
    else:
        assert ttfb >= 0.050 + STALL_BEFORE_SEND_S, ttfb


def test_a_send_stamp_never_moves_the_request_earlier_than_the_reading_before_its_write() -> None:
    timing = AttemptTiming()
    timing.headers_sent()
    timing.request_left(time.perf_counter() - 1.0)  # a stamp placed before the write began: kept out
    timing.response_start(time.perf_counter())
    assert timing.phases()[Phase.TTFB] < 0.5


def test_a_kernel_stamp_is_placed_right_though_the_process_is_preempted_while_reading_the_clocks(
        monkeypatch: pytest.MonkeyPatch) -> None:
    real_time_ns = time.time_ns
    stalls = [0.005]

    def preempted_time_ns() -> int:  # the first wall-clock reading comes 5 ms after the perf_counter one before it
        if stalls:
            time.sleep(stalls.pop())
        return real_time_ns()

    stamp_ns, stamp_perf = real_time_ns(), time.perf_counter()
    monkeypatch.setattr(receive_stamps.time, "time_ns", preempted_time_ns)
    placed = receive_stamps.perf_of_wall_ns(stamp_ns)
    assert not stalls
    assert abs(placed - stamp_perf) < 0.001, placed - stamp_perf


async def test_https_without_a_tls_context_is_protocol() -> None:
    with pytest.raises(ProtocolError, match="without TLS settings"):
        await fetch("https://127.0.0.1:1/")
