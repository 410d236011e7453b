"""The icmp prober against real kernels: loopback here, and a network namespace of this test run behind a veth
pair, where nftables drops a known share of echo requests or a user-space responder answers late, twice or wrong.

Both kinds of socket are tested: raw ones in this (root) process; datagram ones, and a process allowed neither,
in a child process inside a namespace with its own net.ipv4.ping_group_range (and without CAP_NET_RAW).
"""

from __future__ import annotations

import asyncio
import math
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from prober.config.icmp_check import IcmpCheck
from prober.probers.icmp import IcmpProber
from prober.probers.icmp_socket import SocketKind
from prober.result import Phase, PingOutcome, Reason, Result
from tests.icmp_netns import Netns, Responder, VethLink, probe_in
from tests.server_process import has_ipv6_loopback

NO_SOCKET = f"no ICMP socket: needs CAP_NET_RAW or net.ipv4.ping_group_range including gid {os.getegid()}"


def check_dict(target: str = "127.0.0.1", **fields: Any) -> dict[str, Any]:
    base = {"name": "ping", "type": "icmp", "interval": "10s", "timeout": "2s", "attempts": 1, "target": target,
            "packets": 5, "packet_interval": "10ms"}
    return base | fields


def make(target: str = "127.0.0.1", kind: SocketKind | None = None, **fields: Any) -> IcmpProber:
    return IcmpProber(IcmpCheck.model_validate(check_dict(target, **fields)), kind)


def ping(result: Result) -> PingOutcome:
    assert isinstance(result.protocol, PingOutcome)
    return result.protocol


def default_ttl() -> int:
    return int(Path("/proc/sys/net/ipv4/ip_default_ttl").read_text())


needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="raw ICMP sockets and network namespaces need root")
needs_ip6 = pytest.mark.skipif(not has_ipv6_loopback(), reason="this machine has no ::1")


def assert_all_answered(result: Result, packets: int) -> None:
    outcome = ping(result)
    assert (result.ok, result.reason) == (True, Reason.OK), result.detail
    assert outcome.sent == packets and outcome.received == packets
    assert all(0 < rtt < 1.0 for rtt in outcome.rtts_s)  # loopback or a veth: well under a second, never 0
    assert result.duration_s == pytest.approx(sum(outcome.rtts_s) / packets)  # an icmp run's duration: mean rtt
    assert result.detail.startswith(f"{packets}/{packets} replies, rtt min/avg/max/mdev ")
    assert result.detail.endswith(" ms")


@needs_root
@pytest.mark.parametrize("kind", [None, SocketKind.RAW])
async def test_pings_ip4_loopback(kind: SocketKind | None) -> None:
    prober = make(kind=kind)
    assert prober.socket_kind in (SocketKind.DGRAM, SocketKind.RAW)
    result = await prober.probe()
    assert_all_answered(result, 5)
    assert ping(result).hop_limit == default_ttl()
    assert result.phases == {}  # an IP literal is not looked up


@needs_root
@needs_ip6
async def test_pings_ip6_loopback_on_a_raw_socket() -> None:
    result = await make("::1", SocketKind.RAW, ip_family="ip6").probe()
    assert_all_answered(result, 5)
    assert ping(result).hop_limit is not None and 1 <= ping(result).hop_limit <= 255  # type: ignore[operator]


@needs_root
@needs_ip6
async def test_an_ip_literal_sets_the_family() -> None:
    result = await make("::1", SocketKind.RAW).probe()  # ip_family is ip4 by default: it is for names
    assert_all_answered(result, 5)


@needs_root
async def test_a_name_is_resolved_in_a_dns_phase() -> None:
    result = await make("localhost", ip_family="ip4").probe()
    assert_all_answered(result, 5)
    assert set(result.phases) == {Phase.DNS} and 0 < result.phases[Phase.DNS] < 2


@needs_root
@pytest.mark.parametrize("payload_bytes", [0, 7, 1472])
async def test_payload_sizes(payload_bytes: int) -> None:
    # below 8 bytes the token is cut short (then identifier and sequence must do); 1472 fills a 1500-byte MTU
    result = await make(kind=SocketKind.RAW, payload_bytes=payload_bytes).probe()
    assert_all_answered(result, 5)


@needs_root
def test_under_uvloop_as_the_probe_worker_runs() -> None:
    import uvloop

    result = uvloop.run(make(kind=SocketKind.RAW, packets=3).probe())
    assert_all_answered(result, 3)


# -- in a namespace of this test run: datagram sockets, no socket, unreachable, loss, late and wrong replies --


@pytest.fixture(scope="module")
def lone() -> Iterator[Netns]:
    """A namespace with only its loopback: no route anywhere else."""
    if os.geteuid() != 0:
        pytest.skip("network namespaces need root")
    try:
        netns = Netns()
    except (OSError, subprocess.SubprocessError) as exc:
        pytest.skip(f"`ip netns add` failed: {exc}")
    yield netns
    netns.close()


@pytest.fixture(scope="module")
def far() -> Iterator[tuple[Netns, VethLink]]:
    """A namespace behind a veth pair, its nftables rules set by each test."""
    if os.geteuid() != 0:
        pytest.skip("network namespaces need root")
    try:
        netns = Netns()
    except (OSError, subprocess.SubprocessError) as exc:
        pytest.skip(f"`ip netns add` failed: {exc}")
    try:
        link = VethLink(netns)
    except BaseException:
        netns.close()
        raise
    yield netns, link
    link.close()
    netns.close()


@pytest.mark.parametrize("target", ["127.0.0.1", pytest.param("::1", marks=needs_ip6)])
def test_a_datagram_socket_when_ping_group_range_allows_it(lone: Netns, target: str) -> None:
    # the deployment without CAP_NET_RAW: the pod's sysctl lets every group open ICMP datagram sockets
    lone.sysctl("net.ipv4.ping_group_range", "0 2147483647")
    for kind in (None, "dgram"):
        result = probe_in(lone, check_dict(target), kind, without_net_raw=True)
        assert (result["socket_kind"], result["reason"]) == ("dgram", "ok"), result["detail"]
        assert result["protocol"]["sent"] == 5 and len(result["protocol"]["rtts_s"]) == 5
        assert all(0 < rtt < 1.0 for rtt in result["protocol"]["rtts_s"])
        assert 1 <= result["protocol"]["hop_limit"] <= 255


def test_no_permitted_socket_fails_every_run_as_internal(lone: Netns) -> None:
    lone.sysctl("net.ipv4.ping_group_range", "1 0")  # nobody, the kernel's default
    for kind in (None, "raw", "dgram"):
        result = probe_in(lone, check_dict(), kind, without_net_raw=True)
        assert (result["ok"], result["reason"], result["socket_kind"]) == (False, "internal", None)
        assert result["detail"] == NO_SOCKET
        assert result["protocol"] is None
    # with CAP_NET_RAW the same process falls back to a raw socket
    result = probe_in(lone, check_dict())
    assert (result["socket_kind"], result["reason"]) == ("raw", "ok")


def test_an_unreachable_network_is_a_connect_failure(lone: Netns) -> None:
    result = probe_in(lone, check_dict("10.214.0.1"), "raw")  # the namespace has no route but to its loopback
    assert (result["ok"], result["reason"]) == (False, "connect")
    assert result["detail"].startswith("sending echo request 1/5 failed: ") and "unreachable" in result["detail"]
    assert result["protocol"]["sent"] == 0


def test_a_name_that_does_not_resolve(lone: Netns) -> None:
    # inside the namespace the resolver cannot reach its server: the lookup fails at once, and no query leaves
    result = probe_in(lone, check_dict("prober-test.invalid"), "raw")
    assert (result["ok"], result["reason"]) == (False, "dns")
    assert result["detail"].startswith("gaierror: ") and result["phases"] == {}


async def test_everything_dropped_is_a_timeout(far: tuple[Netns, VethLink]) -> None:
    netns, link = far
    netns.set_input_rule("icmp type echo-request drop")
    result = await make(link.netns_address, timeout="1s").probe()
    assert (result.ok, result.reason, result.detail) == (False, Reason.TIMEOUT, "0/5 replies within 1s")
    assert (ping(result).sent, ping(result).rtts_s, ping(result).hop_limit) == (5, (), None)
    assert 0.99 <= result.duration_s < 3  # no reply: the run's wall time, up to its timeout


async def test_random_loss_lies_within_a_binomial_bound(far: tuple[Netns, VethLink]) -> None:
    netns, link = far
    netns.set_input_rule("icmp type echo-request numgen random mod 10 < 3 drop")  # 30%
    # 200 packets: two runs of 100 (the most a run may send), 10 ms apart (the shortest spacing allowed)
    runs = [await make(link.netns_address, packets=100, packet_interval="10ms", timeout="1500ms").probe()
            for _ in range(2)]
    assert [ping(run).sent for run in runs] == [100, 100]
    lost = sum(ping(run).sent - ping(run).received for run in runs)
    assert abs(lost - 60) <= 4.5 * math.sqrt(200 * 0.3 * 0.7), lost  # 60 ± 29
    for run in runs:  # no max_loss: only a run with no reply fails
        assert (run.ok, run.reason) == (True, Reason.OK), run.detail
        assert run.detail.startswith(f"{ping(run).received}/100 replies, rtt min/avg/max/mdev ")
        # the namespace's kernel answers from one hop away: nothing decrements the TTL it sets
        assert ping(run).hop_limit == default_ttl()


async def test_every_fifth_dropped_is_exactly_20_percent_lost(far: tuple[Netns, VethLink]) -> None:
    netns, link = far
    netns.set_input_rule("icmp type echo-request numgen inc mod 5 == 0 drop")
    strict = await make(link.netns_address, packets=20, timeout="1s", expect={"max_loss": 0.1}).probe()
    assert (strict.ok, strict.reason) == (False, Reason.PACKET_LOSS)
    assert strict.detail.startswith("4/20 lost (20%), max_loss 10%, rtt min/avg/max/mdev ")
    assert (ping(strict).sent, ping(strict).received) == (20, 16)
    assert strict.duration_s == pytest.approx(sum(ping(strict).rtts_s) / 16)
    lenient = await make(link.netns_address, packets=20, timeout="1s", expect={"max_loss": 0.25}).probe()
    assert (lenient.ok, lenient.reason, ping(lenient).received) == (True, Reason.OK, 16)
    exact = await make(link.netns_address, packets=20, timeout="1s", expect={"max_loss": 0.2}).probe()
    assert exact.ok, exact.detail  # a loss equal to max_loss is allowed


async def test_concurrent_runs_never_take_each_others_replies(far: tuple[Netns, VethLink]) -> None:
    # raw sockets see every echo reply of the host: a run that gets none must not count another run's
    netns, link = far
    netns.set_input_rule("icmp type echo-request drop")
    dropped, here, also_here = await asyncio.gather(
        make(link.netns_address, SocketKind.RAW, packets=20, timeout="1s").probe(),
        make("127.0.0.1", SocketKind.RAW, packets=20, timeout="1s").probe(),
        make("127.0.0.1", SocketKind.RAW, packets=20, timeout="1s", payload_bytes=0).probe(),
    )
    assert (dropped.reason, ping(dropped).received) == (Reason.TIMEOUT, 0)
    assert_all_answered(here, 20)
    assert_all_answered(also_here, 20)


async def test_the_slowest_reply_over_max_rtt_is_slow(far: tuple[Netns, VethLink]) -> None:
    netns, link = far
    netns.set_input_rule(None)
    responder = Responder(netns, delay_s=0.05)
    try:
        slow = await make(link.netns_address, packets=3, expect={"max_rtt": "20ms"}).probe()
        fine = await make(link.netns_address, packets=3, expect={"max_rtt": "1s"}).probe()
    finally:
        responder.stop()
    assert (slow.ok, slow.reason) == (False, Reason.SLOW)
    assert slow.detail.startswith("slowest reply ") and "> max_rtt 20 ms, 3/3 replies, rtt " in slow.detail
    assert all(0.05 <= rtt < 1.0 for rtt in ping(slow).rtts_s)  # the responder's delay is in every round trip
    assert (fine.ok, ping(fine).received) == (True, 3)


async def test_replies_after_the_deadline_are_lost(far: tuple[Netns, VethLink]) -> None:
    netns, link = far
    netns.set_input_rule(None)
    responder = Responder(netns, delay_s=1.5)
    try:
        result = await make(link.netns_address, packets=3, timeout="1s").probe()
    finally:
        responder.stop()
    assert (result.reason, result.detail, ping(result).received) == (Reason.TIMEOUT, "0/3 replies within 1s", 0)
    assert result.duration_s < 1.4  # it waited until its deadline, not for the late replies


async def test_duplicate_replies_count_once(far: tuple[Netns, VethLink]) -> None:
    netns, link = far
    netns.set_input_rule(None)
    responder = Responder(netns, delay_s=0.0, copies=3)
    try:
        result = await make(link.netns_address, packets=5).probe()
    finally:
        responder.stop()
    assert_all_answered(result, 5)


async def test_replies_with_a_wrong_payload_are_not_ours(far: tuple[Netns, VethLink]) -> None:
    netns, link = far
    netns.set_input_rule(None)
    responder = Responder(netns, delay_s=0.0, corrupt=True)
    try:
        result = await make(link.netns_address, SocketKind.RAW, packets=3, timeout="1s").probe()
    finally:
        responder.stop()
    assert (result.reason, ping(result).received) == (Reason.TIMEOUT, 0)
