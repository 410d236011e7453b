"""DNS prober against real servers on loopback: Debian's knotd with the test's own zones (every query type, NXDOMAIN,
REFUSED, SERVFAIL, truncation), a DNS-over-TLS front for it, a faulty server, dead and silent ports."""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pydantic
import pytest
import uvloop

from prober.config.dns_check import DnsCheck
from prober.http.tls_contexts import TlsContexts
from prober.probers.dns import DnsProber, system_nameserver
from prober.result import DnsOutcome, Phase, Reason, Result
from tests.dns_servers import KnotServer, ServerProcess, free_udp_tcp_port
from tests.tls_certs import Certs

BIG_TXT = " ".join(f'"{chr(97 + i % 26) * 200}"' for i in range(10))  # ~2 KB: over the 1,232-byte EDNS payload
ZONES = {
    "example.test": f"""$ORIGIN example.test.
$TTL 300
@         SOA   ns1 hostmaster 1 3600 600 86400 60
@         NS    ns1
ns1       A     127.0.0.1
www       A     192.0.2.1
www       A     192.0.2.2
www       AAAA  2001:db8::1
alias     CNAME www
@         MX    10 mail
mail      A     192.0.2.25
@         TXT   "v=spf1 -all"
_sip._tcp SRV   10 60 5060 sip
sip       A     192.0.2.5
@         CAA   0 issue "letsencrypt.org"
short 5   A     192.0.2.9
big       TXT   {BIG_TXT}
""",
    "2.0.192.in-addr.arpa": """$ORIGIN 2.0.192.in-addr.arpa.
$TTL 300
@  SOA ns1.example.test. hostmaster.example.test. 1 3600 600 86400 60
@  NS  ns1.example.test.
1  PTR www.example.test.
""",
    "broken.test": "this line is no record: the zone fails to load, so knot answers SERVFAIL for it\n",
}


@pytest.fixture(scope="module")
def knot(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KnotServer]:
    server = KnotServer(tmp_path_factory.mktemp("knot"), ZONES, probe_zone="example.test")
    yield server
    server.stop()


@pytest.fixture(scope="module")
def dot(tmp_path_factory: pytest.TempPathFactory, knot: KnotServer, certs: Certs) -> Iterator[ServerProcess]:
    cert, key = certs.good
    server = ServerProcess(tmp_path_factory.mktemp("dot"), "dot", "--cert", str(cert), "--key", str(key),
                           "--upstream", str(knot.port))
    yield server
    server.stop()


@pytest.fixture(scope="module")
def dot_selfsigned(tmp_path_factory: pytest.TempPathFactory, knot: KnotServer,
                   certs: Certs) -> Iterator[ServerProcess]:
    cert, key = certs.selfsigned
    server = ServerProcess(tmp_path_factory.mktemp("dot-selfsigned"), "dot", "--cert", str(cert), "--key",
                           str(key), "--upstream", str(knot.port))
    yield server
    server.stop()


@pytest.fixture(scope="module")
def fault(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    server = ServerProcess(tmp_path_factory.mktemp("dns-fault"), "fault")
    yield server
    server.stop()


def make_check(server: str | None, query_name: str, **fields: Any) -> DnsCheck:
    fields.setdefault("timeout", "5s")
    return DnsCheck.model_validate({"name": "t", "type": "dns", "server": server, "query_name": query_name,
                                    "interval": "10s", "attempts": 1, **fields})


async def probe(server: str | None, query_name: str, **fields: Any) -> Result:
    return await DnsProber(make_check(server, query_name, **fields), TlsContexts()).probe()


def block_the_loop(seconds: float) -> None:
    """Keep the event loop from running, as the agent's own work (or a busy machine) may."""
    time.sleep(seconds)


def outcome_of(result: Result) -> DnsOutcome:
    assert isinstance(result.protocol, DnsOutcome), result
    return result.protocol


@pytest.mark.parametrize(("query_name", "query_type", "answers"), [
    ("www.example.test", "A", ["192.0.2.1", "192.0.2.2"]),
    ("www.example.test", "AAAA", ["2001:db8::1"]),
    ("alias.example.test", "CNAME", ["www.example.test."]),
    ("example.test", "MX", ["10 mail.example.test."]),
    ("example.test", "TXT", ['"v=spf1 -all"']),
    ("example.test", "NS", ["ns1.example.test."]),
    ("example.test", "SOA", ["ns1.example.test. hostmaster.example.test. 1 3600 600 86400 60"]),
    ("_sip._tcp.example.test", "SRV", ["10 60 5060 sip.example.test."]),
    ("example.test", "CAA", ['0 issue "letsencrypt.org"']),
    ("1.2.0.192.in-addr.arpa", "PTR", ["www.example.test."]),
])
async def test_each_query_type_passes_and_its_answers_match(knot: KnotServer, query_name: str, query_type: str,
                                                            answers: list[str]) -> None:
    result = await probe(knot.server(), query_name, query_type=query_type, expect={
        "answers_in": answers, "min_answers": len(answers), "answer_regex": [f"^{answers[0][:6]}"]})
    assert result.ok, result.detail
    assert result.reason is Reason.OK
    assert outcome_of(result).rcode == "NOERROR"
    assert outcome_of(result).answers == len(answers)
    assert all(answer in result.detail for answer in answers)


async def test_udp_query_times_only_the_query(knot: KnotServer) -> None:
    result = await probe(knot.server(), "www.example.test")
    assert result.ok, result.detail
    assert set(result.phases) == {Phase.QUERY}  # no connect over udp, no dns for an IP
    assert 0 < result.phases[Phase.QUERY] <= result.duration_s < 5
    assert result.detail == "NOERROR, 2 answers: 192.0.2.1, 192.0.2.2"
    assert result.cert_not_after is None
    outcome = outcome_of(result)
    assert (outcome.answers, outcome.authority, outcome.additional) == (2, 0, 0)  # knot answers minimally


async def test_cnames_on_the_way_are_counted_in_the_section_but_not_matched(knot: KnotServer) -> None:
    result = await probe(knot.server(), "alias.example.test",
                         expect={"answers_in": ["192.0.2.1", "192.0.2.2"], "min_answers": 2})
    assert result.ok, result.detail
    assert outcome_of(result).answers == 3  # the CNAME and its target's two addresses


async def test_nxdomain_fails_as_dns_with_a_clear_detail(knot: KnotServer) -> None:
    result = await probe(knot.server(), "nope.example.test")
    assert result.reason is Reason.DNS
    assert not result.ok
    assert result.detail == "rcode NXDOMAIN (the name does not exist), expected NOERROR"
    assert outcome_of(result).rcode == "NXDOMAIN"
    assert outcome_of(result).answers == 0
    assert outcome_of(result).authority == 1  # the SOA that says so


async def test_nxdomain_passes_when_expected(knot: KnotServer) -> None:
    result = await probe(knot.server(), "nope.example.test", expect={"rcode": ["NXDOMAIN"]})
    assert result.ok, result.detail
    assert result.detail.startswith("NXDOMAIN, 0 answers")


async def test_refused_for_a_zone_it_does_not_serve(knot: KnotServer) -> None:
    result = await probe(knot.server(), "www.other.test")  # knot is authoritative only, no recursion
    assert result.reason is Reason.DNS
    assert result.detail == "rcode REFUSED (the server refused the query), expected NOERROR"
    assert outcome_of(result).rcode == "REFUSED"


async def test_servfail_for_a_zone_that_failed_to_load(knot: KnotServer) -> None:
    result = await probe(knot.server(), "broken.test", query_type="SOA", expect={"rcode": ["NOERROR", "NXDOMAIN"]})
    assert result.reason is Reason.DNS
    assert result.detail == "rcode SERVFAIL (the server failed to answer), expected NOERROR or NXDOMAIN"


async def test_answers_in_with_a_surprise_address_fails(knot: KnotServer) -> None:
    result = await probe(knot.server(), "www.example.test", expect={"answers_in": ["192.0.2.1"]})
    assert result.reason is Reason.ASSERTION
    assert result.detail == "answer 192.0.2.2 is not in answers_in (answers: 192.0.2.1, 192.0.2.2)"
    assert outcome_of(result).rcode == "NOERROR"


async def test_min_answers(knot: KnotServer) -> None:
    assert (await probe(knot.server(), "www.example.test", expect={"min_answers": 2})).ok
    result = await probe(knot.server(), "www.example.test", expect={"min_answers": 3})
    assert result.reason is Reason.ASSERTION
    assert result.detail.startswith("2 answers, expected at least 3")
    nodata = await probe(knot.server(), "mail.example.test", query_type="AAAA", expect={"min_answers": 1})
    assert nodata.reason is Reason.ASSERTION  # NOERROR with no record of the type (NODATA)
    assert nodata.detail.startswith("0 answers, expected at least 1 (answers: none)")


async def test_answer_regex_and_not_regex(knot: KnotServer) -> None:
    assert (await probe(knot.server(), "www.example.test", expect={"answer_regex": [r"^192\.0\.2\.2$"]})).ok
    missing = await probe(knot.server(), "www.example.test", expect={"answer_regex": [r"^198\.51\."]})
    assert missing.reason is Reason.ASSERTION
    assert missing.detail.startswith(r"no answer matches /^198\.51\./")
    banned = await probe(knot.server(), "www.example.test", expect={"answer_not_regex": [r"\.2$"]})
    assert banned.reason is Reason.ASSERTION
    assert banned.detail == r"answer 192.0.2.2 matches /\.2$/ (answer_not_regex)"


async def test_ttl_bounds(knot: KnotServer) -> None:
    assert (await probe(knot.server(), "short.example.test", expect={"max_ttl": "10s"})).ok
    low = await probe(knot.server(), "short.example.test", expect={"min_ttl": "1m"})
    assert low.reason is Reason.ASSERTION
    assert low.detail == "answer 192.0.2.9 has ttl 5s, below min_ttl 60s"
    high = await probe(knot.server(), "www.example.test", expect={"min_ttl": "1m", "max_ttl": "2m"})
    assert high.reason is Reason.ASSERTION
    assert high.detail == "answer 192.0.2.1 has ttl 300s, above max_ttl 120s"


async def test_max_duration_fails_as_slow(fault: ServerProcess) -> None:
    result = await probe(fault.server(), "slow.fault.test", query_type="TXT", expect={"max_duration": "100ms"})
    assert result.reason is Reason.SLOW
    assert result.duration_s >= 0.25
    assert result.detail.startswith("took ")
    assert outcome_of(result).rcode == "NOERROR"


async def test_answer_that_came_in_time_is_taken_though_the_loop_was_late(knot: KnotServer) -> None:
    prober = DnsProber(make_check(knot.server(), "www.example.test", timeout="1s"), TlsContexts())
    task = asyncio.ensure_future(prober.probe())
    for _ in range(5):
        await asyncio.sleep(0)  # the probe sends its query: a literal address needs no lookup
    block_the_loop(2.0)  # the agent's own work blocks the loop past the deadline while knot answers
    result = await task
    assert result.ok, result.detail  # judged by the kernel's stamp of the answer, not by when the loop read it
    assert result.duration_s < 1.0


async def test_answer_that_came_late_is_a_timeout_though_the_loop_read_it_with_its_timer(
        fault: ServerProcess) -> None:
    prober = DnsProber(make_check(fault.server(), "slow.fault.test", query_type="TXT", timeout="150ms"),
                       TlsContexts())
    task = asyncio.ensure_future(prober.probe())
    for _ in range(5):
        await asyncio.sleep(0)
    block_the_loop(0.8)  # the answer (300 ms after the query) and the deadline (150 ms) pass while the loop is blocked
    result = await task
    assert result.reason is Reason.TIMEOUT
    assert result.protocol is None


async def test_tcp_transport_times_connect_and_query(knot: KnotServer) -> None:
    result = await probe(knot.server(), "www.example.test", transport="tcp", expect={"min_answers": 2})
    assert result.ok, result.detail
    assert set(result.phases) == {Phase.CONNECT, Phase.QUERY}
    assert result.phases[Phase.CONNECT] + result.phases[Phase.QUERY] <= result.duration_s


async def test_truncated_udp_answer_is_asked_again_over_tcp(knot: KnotServer) -> None:
    result = await probe(knot.server(), "big.example.test", query_type="TXT", expect={"answer_regex": ["^\"a{200}\""]})
    assert result.ok, result.detail
    assert result.detail.startswith("the udp answer was truncated, asked again over tcp: NOERROR, 1 answers: \"aaa")
    assert set(result.phases) == {Phase.CONNECT, Phase.QUERY}  # the udp exchange and the tcp one's
    assert outcome_of(result).answers == 1


async def test_recursion_desired_sets_the_rd_flag(fault: ServerProcess) -> None:
    asked = await probe(fault.server(), "rd.fault.test", query_type="TXT", expect={"answer_regex": ["rd=1"]})
    assert asked.ok, asked.detail
    not_asked = await probe(fault.server(), "rd.fault.test", query_type="TXT", recursion_desired=False,
                            expect={"answer_regex": ["rd=0"]})
    assert not_asked.ok, not_asked.detail


async def test_udp_port_where_nobody_listens_is_connect_at_once() -> None:
    port = free_udp_tcp_port()
    start = time.monotonic()
    result = await probe(f"127.0.0.1:{port}", "www.example.test", timeout="3s")
    # on loopback the kernel's ICMP port unreachable reaches the connected socket: no need to wait out the timeout
    assert time.monotonic() - start < 2.5
    assert result.reason is Reason.CONNECT
    assert "port unreachable" in result.detail
    assert result.protocol is None
    assert Phase.QUERY not in result.phases


async def test_tcp_refused_is_connect() -> None:
    port = free_udp_tcp_port()
    result = await probe(f"127.0.0.1:{port}", "www.example.test", transport="tcp")
    assert result.reason is Reason.CONNECT
    assert "Connection refused" in result.detail
    assert not result.phases


async def test_server_that_never_answers_times_out_within_the_bound() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as silent:  # bound, never read
        silent.bind(("127.0.0.1", 0))
        server = f"127.0.0.1:{silent.getsockname()[1]}"
        start = time.monotonic()
        result = await probe(server, "www.example.test", timeout="700ms")
        elapsed = time.monotonic() - start
    assert result.reason is Reason.TIMEOUT
    assert result.detail == f"no answer from {server} within 0.7s (waiting for the answer over udp)"
    assert 0.69 <= elapsed < 3.0  # never early; late only by this VM's timer wake-up
    assert result.protocol is None
    assert not result.phases  # a query that never ended is no measure


async def test_garbage_answer_is_protocol(fault: ServerProcess) -> None:
    result = await probe(fault.server(), "garbage.fault.test")
    assert result.reason is Reason.PROTOCOL
    assert result.detail.startswith(f"malformed answer from {fault.server()}")


async def test_answer_under_another_id_is_protocol(fault: ServerProcess) -> None:
    result = await probe(fault.server(), "wrong-id.fault.test")
    assert result.reason is Reason.PROTOCOL
    assert "does not match the query" in result.detail


@pytest.mark.parametrize("mode", ["close", "half"])
async def test_tcp_connection_closed_before_a_whole_answer_is_protocol(fault: ServerProcess, mode: str) -> None:
    result = await probe(fault.server(), f"{mode}.fault.test", transport="tcp")
    assert result.reason is Reason.PROTOCOL
    assert "closed the connection before answering" in result.detail
    assert Phase.CONNECT in result.phases and Phase.QUERY not in result.phases


async def test_silent_tcp_server_times_out_waiting_for_the_answer(fault: ServerProcess) -> None:
    result = await probe(fault.server(), "silent.fault.test", transport="tcp", timeout="500ms")
    assert result.reason is Reason.TIMEOUT
    assert result.detail.endswith("(waiting for the answer over tcp)")


async def test_dns_over_tls(dot: ServerProcess, certs: Certs) -> None:
    result = await probe(dot.server(), "www.example.test", transport="tls", tls={"ca_file": str(certs.ca_cert)},
                         expect={"answers_in": ["192.0.2.1", "192.0.2.2"]})
    assert result.ok, result.detail
    assert set(result.phases) == {Phase.CONNECT, Phase.TLS, Phase.QUERY}
    assert result.cert_not_after is not None and result.cert_not_after > time.time() + 80 * 86400


async def test_dns_over_tls_checks_the_name_in_the_certificate(dot: ServerProcess, certs: Certs) -> None:
    result = await probe(dot.server(), "www.example.test", transport="tls",
                         tls={"ca_file": str(certs.ca_cert), "server_name": "dns.example.net"})
    assert result.reason is Reason.TLS
    assert "certificate verify failed" in result.detail
    assert Phase.TLS not in result.phases and Phase.QUERY not in result.phases


async def test_dns_over_tls_with_an_untrusted_certificate_is_tls(dot_selfsigned: ServerProcess, certs: Certs) -> None:
    result = await probe(dot_selfsigned.server(), "www.example.test", transport="tls",
                         tls={"ca_file": str(certs.ca_cert)})
    assert result.reason is Reason.TLS
    assert result.detail.startswith(f"TLS with {dot_selfsigned.server()} failed: certificate verify failed")
    insecure = await probe(dot_selfsigned.server(), "www.example.test", transport="tls", tls={"insecure": True})
    assert insecure.ok, insecure.detail


async def test_dns_over_tls_to_a_plain_dns_port_is_tls(knot: KnotServer) -> None:
    result = await probe(knot.server(), "www.example.test", transport="tls", tls={"insecure": True}, timeout="2s")
    assert result.reason is Reason.TLS  # knot reads the ClientHello as a query of a bad length and hangs up
    assert result.detail.endswith("failed: the server closed the connection during the TLS handshake")
    assert result.protocol is None


async def test_ipv6_server_over_udp_and_tcp(knot: KnotServer) -> None:
    if not knot.ipv6:
        pytest.skip("no IPv6 loopback here")
    for transport in ("udp", "tcp"):
        result = await probe(f"[::1]:{knot.port}", "www.example.test", query_type="AAAA", transport=transport,
                             expect={"answers_in": ["2001:db8::1"], "min_answers": 1})
        assert result.ok, result.detail
        assert Phase.QUERY in result.phases


async def test_server_given_by_name_is_resolved_first(knot: KnotServer) -> None:
    result = await probe(f"localhost:{knot.port}", "www.example.test", ip_family="ip4")
    assert result.ok, result.detail
    assert set(result.phases) == {Phase.DNS, Phase.QUERY}


async def test_server_name_that_does_not_resolve_is_dns() -> None:
    result = await probe("no-such-host.invalid", "www.example.test")
    assert result.reason is Reason.DNS
    assert result.detail.startswith("server no-such-host.invalid does not resolve")
    assert result.protocol is None


def test_runs_on_uvloop(knot: KnotServer, dot: ServerProcess, certs: Certs) -> None:
    """The probe workers run on uvloop: the same sockets, readers and TLS work there."""
    async def runs() -> list[Result]:
        return [await probe(knot.server(), "www.example.test"),
                await probe(knot.server(), "big.example.test", query_type="TXT"),
                await probe(dot.server(), "www.example.test", transport="tls", tls={"ca_file": str(certs.ca_cert)}),
                await probe(f"127.0.0.1:{free_udp_tcp_port()}", "www.example.test", timeout="2s")]

    udp, truncated, tls, dead = uvloop.run(runs())
    assert udp.ok and truncated.ok and tls.ok, (udp.detail, truncated.detail, tls.detail)
    assert Phase.TLS in tls.phases
    assert dead.reason is Reason.CONNECT


async def test_system_resolver_is_read_from_resolv_conf_once(tmp_path: Path) -> None:
    resolv_conf = tmp_path / "resolv.conf"
    resolv_conf.write_text("# written by the test\nsearch example.test\nnameserver not-an-ip\n"
                           "nameserver 127.0.0.9 ; first valid one\nnameserver 127.0.0.10\n")
    prober = DnsProber(make_check(None, "www.example.test", timeout="1s"), TlsContexts(), resolv_conf)
    resolv_conf.write_text("nameserver 127.0.0.11\n")  # read at build time, never at probe time
    result = await prober.probe()
    assert "the system resolver 127.0.0.9" in result.detail
    assert result.duration_s < 3


def test_system_nameserver_defaults_to_localhost(tmp_path: Path) -> None:
    assert system_nameserver(tmp_path / "missing") == "127.0.0.1"
    (tmp_path / "empty").write_text("options edns0\n")
    assert system_nameserver(tmp_path / "empty") == "127.0.0.1"
    (tmp_path / "v6").write_text("nameserver ::1\n")
    assert system_nameserver(tmp_path / "v6") == "::1"


@pytest.mark.parametrize("server", ["dns.example:0", "dns.example:port", "[::1", "[203.0.113.1]:53", "::1x:53",
                                    "a b", ""])
def test_bad_server_is_rejected(server: str) -> None:
    with pytest.raises(pydantic.ValidationError):
        make_check(server, "www.example.test")


def test_bad_query_name_is_rejected() -> None:
    with pytest.raises(pydantic.ValidationError, match="not a DNS name"):
        make_check("127.0.0.1", "x" * 64 + ".example.test")


@pytest.mark.parametrize(("server", "port"), [("192.0.2.53", 53), ("[2001:db8::53]:5353", 5353), ("2001:db8::53", 853)])
def test_server_forms_and_default_ports(server: str, port: int) -> None:
    check = make_check(server, "www.example.test", transport="tls" if port == 853 else "udp", tls={"insecure": True})
    assert DnsProber(check, TlsContexts())._port == port
