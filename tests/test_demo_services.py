"""Tests for the demo's DNS, gRPC health and TLS listeners, queried for real on loopback in a real demo process."""

from __future__ import annotations

import contextlib
import datetime
import os
import re
import signal
import socket
import ssl
import struct
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import dns.flags
import dns.message
import dns.opcode
import dns.query
import dns.rcode
import dns.rdatatype
import grpc
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from grpc_health.v1 import health_pb2, health_pb2_grpc

from prober.demo import tls_cert
from tests.processes import REPO, DemoShop

HOST = "127.0.0.1"
QUERY_TIMEOUT_S = 5.0
SERVING = health_pb2.HealthCheckResponse.SERVING


@pytest.fixture(scope="module")
def demo() -> Iterator[DemoShop]:
    shop = DemoShop()
    yield shop
    shop.stop()


def _query(demo: DemoShop, name: str, rdtype: str, transport: str, **make: object) -> dns.message.Message:
    query = dns.message.make_query(name, rdtype, **make)  # type: ignore[arg-type]
    ask = dns.query.udp if transport == "udp" else dns.query.tcp
    return ask(query, HOST, port=demo.dns_port, timeout=QUERY_TIMEOUT_S)


def _answers(response: dns.message.Message) -> list[str]:
    return [f"{rrset.name} {rrset.ttl} {dns.rdatatype.to_text(rrset.rdtype)} {rdata}"
            for rrset in response.answer for rdata in rrset]


def _still_answers(demo: DemoShop) -> None:
    assert demo.process.poll() is None, "the demo died"
    assert _answers(_query(demo, "shop.demo.", "A", "udp")) == ["shop.demo. 60 A 127.0.0.1"]


# ---------------------------------------------------------------------------------------------- DNS


@pytest.mark.parametrize("transport", ["udp", "tcp"])
@pytest.mark.parametrize(("name", "rdtype", "expected"), [
    ("shop.demo.", "A", ["shop.demo. 60 A 127.0.0.1"]),
    ("shop.demo.", "AAAA", ["shop.demo. 60 AAAA ::1"]),
    ("www.shop.demo.", "CNAME", ["www.shop.demo. 60 CNAME shop.demo."]),
    ("shop.demo.", "MX", ["shop.demo. 60 MX 10 mail.shop.demo."]),
    ("shop.demo.", "TXT", ['shop.demo. 60 TXT "v=spf1 -all"']),
    ("shop.demo.", "NS", ["shop.demo. 60 NS ns.shop.demo."]),
    ("shop.demo.", "SOA", ["shop.demo. 60 SOA ns.shop.demo. hostmaster.shop.demo. 1 3600 600 86400 60"]),
    ("mail.shop.demo.", "A", ["mail.shop.demo. 60 A 127.0.0.1"]),
])
def test_dns_answers_each_record_type_authoritatively(
    demo: DemoShop, transport: str, name: str, rdtype: str, expected: list[str]
) -> None:
    response = _query(demo, name, rdtype, transport)
    assert response.rcode() == dns.rcode.NOERROR
    assert response.flags & dns.flags.AA
    assert _answers(response) == expected


@pytest.mark.parametrize("transport", ["udp", "tcp"])
def test_dns_srv_names_the_shops_real_http_port(demo: DemoShop, transport: str) -> None:
    response = _query(demo, "_http._tcp.shop.demo.", "SRV", transport)
    assert _answers(response) == [f"_http._tcp.shop.demo. 60 SRV 0 0 {demo.port} shop.demo."]


@pytest.mark.parametrize("transport", ["udp", "tcp"])
def test_dns_follows_the_cname_inside_the_zone(demo: DemoShop, transport: str) -> None:
    response = _query(demo, "www.shop.demo.", "A", transport)
    assert _answers(response) == ["www.shop.demo. 60 CNAME shop.demo.", "shop.demo. 60 A 127.0.0.1"]


@pytest.mark.parametrize("transport", ["udp", "tcp"])
def test_dns_unknown_name_in_the_zone_is_nxdomain_with_the_soa(demo: DemoShop, transport: str) -> None:
    response = _query(demo, "nope.shop.demo.", "A", transport)
    assert response.rcode() == dns.rcode.NXDOMAIN
    assert response.flags & dns.flags.AA
    assert response.answer == []
    assert [dns.rdatatype.to_text(rrset.rdtype) for rrset in response.authority] == ["SOA"]


@pytest.mark.parametrize(("name", "rdtype"), [("shop.demo.", "SRV"), ("_tcp.shop.demo.", "A")])
def test_dns_name_without_that_type_is_nodata_not_nxdomain(demo: DemoShop, name: str, rdtype: str) -> None:
    response = _query(demo, name, rdtype, "udp")
    assert response.rcode() == dns.rcode.NOERROR
    assert response.answer == []
    assert [dns.rdatatype.to_text(rrset.rdtype) for rrset in response.authority] == ["SOA"]


@pytest.mark.parametrize("transport", ["udp", "tcp"])
@pytest.mark.parametrize("name", ["example.com.", "demo.", "shop.demo.example."])
def test_dns_names_outside_the_zone_are_refused(demo: DemoShop, transport: str, name: str) -> None:
    response = _query(demo, name, "A", transport)
    assert response.rcode() == dns.rcode.REFUSED
    assert not response.flags & dns.flags.AA
    assert response.answer == []


def test_dns_answers_edns_queries_and_not_other_opcodes(demo: DemoShop) -> None:
    with_edns = _query(demo, "shop.demo.", "A", "udp", use_edns=0, payload=1232)
    assert with_edns.edns == 0
    assert _answers(with_edns) == ["shop.demo. 60 A 127.0.0.1"]
    notify = dns.message.make_query("shop.demo.", "SOA")
    notify.set_opcode(dns.opcode.NOTIFY)
    response = dns.query.udp(notify, HOST, port=demo.dns_port, timeout=QUERY_TIMEOUT_S)
    assert response.rcode() == dns.rcode.NOTIMP


def _garbage_datagrams() -> list[bytes]:
    valid = dns.message.make_query("shop.demo.", "A").to_wire()
    answer = dns.message.make_response(dns.message.make_query("shop.demo.", "A")).to_wire()
    return [b"", b"\x00", b"garbage", os.urandom(12), valid[:-3], valid + os.urandom(20), answer,
            os.urandom(1200), b"\xff" * 9000]


def test_dns_garbage_over_udp_gets_no_answer_and_does_not_stop_the_server(demo: DemoShop) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.settimeout(0.5)
        for packet in _garbage_datagrams():
            sock.sendto(packet, (HOST, demo.dns_port))
        with pytest.raises(TimeoutError):  # none of them is a query: nothing comes back
            sock.recvfrom(65535)
    _still_answers(demo)


def _tcp_exchange(demo: DemoShop, payload: bytes) -> bytes:
    """Send raw bytes on a fresh TCP connection and read until the server closes it (or 5 s pass)."""
    with socket.create_connection((HOST, demo.dns_port), timeout=QUERY_TIMEOUT_S) as sock:
        sock.sendall(payload)
        received = b""
        while chunk := sock.recv(65535):
            received += chunk
        return received


def test_dns_garbage_over_tcp_closes_only_that_connection(demo: DemoShop) -> None:
    garbage = b"\x00\x07garbage"
    oversized = struct.pack("!H", 60000) + os.urandom(100)  # a length above the cap: dropped before it is read
    assert _tcp_exchange(demo, garbage) == b""
    assert _tcp_exchange(demo, oversized) == b""
    # a half-sent message ends the connection when the client leaves; the server goes on
    with socket.create_connection((HOST, demo.dns_port), timeout=QUERY_TIMEOUT_S) as sock:
        sock.sendall(b"\x00\x30\x12")
    assert _answers(_query(demo, "shop.demo.", "AAAA", "tcp")) == ["shop.demo. 60 AAAA ::1"]
    _still_answers(demo)


def test_dns_tcp_answers_several_queries_on_one_connection(demo: DemoShop) -> None:
    queries = [dns.message.make_query(name, "A") for name in ("shop.demo.", "nope.shop.demo.", "example.com.")]
    with socket.create_connection((HOST, demo.dns_port), timeout=QUERY_TIMEOUT_S) as sock:
        for query in queries:
            dns.query.send_tcp(sock, query)
        rcodes = [dns.query.receive_tcp(sock, time.time() + QUERY_TIMEOUT_S)[0].rcode() for _ in queries]
    assert rcodes == [dns.rcode.NOERROR, dns.rcode.NXDOMAIN, dns.rcode.REFUSED]


# ---------------------------------------------------------------------------------------------- gRPC health


@pytest.fixture
def health(demo: DemoShop) -> Iterator[Any]:  # grpc's generated stub is untyped
    with grpc.insecure_channel(f"{HOST}:{demo.grpc_port}") as channel:
        yield health_pb2_grpc.HealthStub(channel)


@pytest.mark.parametrize("service", ["", "shop"])
def test_grpc_health_is_serving(health: Any, service: str) -> None:
    request = health_pb2.HealthCheckRequest(service=service)
    assert health.Check(request, timeout=QUERY_TIMEOUT_S).status == SERVING


def test_grpc_health_of_an_unknown_service_is_not_found(health: Any) -> None:
    request = health_pb2.HealthCheckRequest(service="payments")
    with pytest.raises(grpc.RpcError) as raised:
        health.Check(request, timeout=QUERY_TIMEOUT_S)
    assert raised.value.code() == grpc.StatusCode.NOT_FOUND


# ---------------------------------------------------------------------------------------------- TLS


def _unverified() -> ssl.SSLContext:
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    return context


def test_tls_serves_the_shops_home_page(demo: DemoShop) -> None:
    with urllib.request.urlopen(demo.https_url("/"), context=_unverified(), timeout=QUERY_TIMEOUT_S) as response:
        assert response.status == 200
        assert "Add to cart" in response.read().decode()


def test_tls_and_http_are_one_shop_with_one_set_of_sessions(demo: DemoShop) -> None:
    login = urllib.request.Request(demo.url("/api/login"), data=b'{"username": "demo", "password": "demo"}',
                                   headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(login, timeout=QUERY_TIMEOUT_S) as response:
        token = re.search(r'"token": "([^"]+)"', response.read().decode())
    assert token
    cart = urllib.request.Request(demo.https_url("/api/cart"), headers={"Authorization": f"Bearer {token[1]}"})
    with urllib.request.urlopen(cart, context=_unverified(), timeout=QUERY_TIMEOUT_S) as response:
        assert response.status == 200


def _peer_certificate(demo: DemoShop) -> tuple[x509.Certificate, str | None]:
    with socket.create_connection((HOST, demo.tls_port), timeout=QUERY_TIMEOUT_S) as raw, \
            _unverified().wrap_socket(raw, server_hostname="localhost") as tls:
        der = tls.getpeercert(binary_form=True)
        assert der is not None
        return x509.load_der_x509_certificate(der), tls.version()


def test_tls_certificate_is_self_signed_for_localhost_and_valid_about_90_days(demo: DemoShop) -> None:
    cert, version = _peer_certificate(demo)
    assert version in ("TLSv1.2", "TLSv1.3")
    assert cert.issuer == cert.subject
    days_left = (cert.not_valid_after_utc - datetime.datetime.now(datetime.UTC)).total_seconds() / 86400
    assert 89 < days_left <= 90
    assert cert.not_valid_before_utc <= datetime.datetime.now(datetime.UTC)
    names = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert names.get_values_for_type(x509.DNSName) == ["localhost"]
    assert {str(ip) for ip in names.get_values_for_type(x509.IPAddress)} == {"127.0.0.1", "::1"}


def test_tls_certificate_is_not_trusted_by_a_verifying_client(demo: DemoShop) -> None:
    with pytest.raises(urllib.error.URLError) as raised:
        urllib.request.urlopen(demo.https_url("/"), timeout=QUERY_TIMEOUT_S)
    assert isinstance(raised.value.reason, ssl.SSLCertVerificationError)


def _handshake(server_context: ssl.SSLContext) -> str | None:
    """A real TLS handshake between a client and `server_context` over memory buffers; returns the version."""
    client_in, client_out, server_in, server_out = (ssl.MemoryBIO() for _ in range(4))
    client = _unverified().wrap_bio(client_in, client_out, server_hostname="localhost")
    server = server_context.wrap_bio(server_in, server_out, server_side=True)
    for _ in range(10):  # a handshake takes two or three round trips
        for side in (client, server):
            with contextlib.suppress(ssl.SSLWantReadError):
                side.do_handshake()
        server_in.write(client_out.read())
        client_in.write(server_out.read())
    return client.version()


@pytest.mark.parametrize("load", [tls_cert._load_from_memory, tls_cert._load_from_temporary_folder])
def test_tls_key_loads_from_memory_or_a_temporary_folder_that_is_removed(
    load: Callable[[ssl.SSLContext, bytes, bytes], None], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))  # the fallback's folder goes where the test can see
    key = ec.generate_private_key(ec.SECP256R1())
    cert_pem = tls_cert.self_signed_certificate(key).public_bytes(serialization.Encoding.PEM)
    key_pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    load(context, cert_pem, key_pem)
    assert _handshake(context) in ("TLSv1.2", "TLSv1.3")
    assert list(tmp_path.iterdir()) == []


# ---------------------------------------------------------------------------------------------- the process


def _demo_command(**listen: str) -> list[str]:
    flags = {"listen": "127.0.0.1:0", "tls_listen": "off", "dns_listen": "off", "grpc_listen": "off",
             "rival_listen": "off", **listen}
    return [sys.executable, "-m", "prober.demo",
            *(part for key, value in flags.items() for part in (f"--{key.replace('_', '-')}", value))]


def test_sigterm_exits_0_within_seconds_with_clients_still_connected() -> None:
    shop = DemoShop()
    try:
        with socket.create_connection((HOST, shop.dns_port), timeout=QUERY_TIMEOUT_S), \
                grpc.insecure_channel(f"{HOST}:{shop.grpc_port}") as channel:
            # an idle DNS-over-TCP client and an open Watch stream: neither may hold the shutdown
            stub: Any = health_pb2_grpc.HealthStub(channel)
            watch = stub.Watch(
                health_pb2.HealthCheckRequest(service="shop"), timeout=30)
            assert next(watch).status == SERVING
            started = time.monotonic()
            os.kill(shop.process.pid, signal.SIGTERM)
            assert shop.process.wait(timeout=10) == 0
            assert time.monotonic() - started < 8
            watch.cancel()
    finally:
        shop.stop()  # kills it by PID if the SIGTERM did not end it


def test_off_disables_listeners_and_only_the_shop_line_is_printed() -> None:
    process = subprocess.Popen(_demo_command(), stdout=subprocess.PIPE, text=True, cwd=REPO,
                               start_new_session=True)
    try:
        assert process.stdout is not None
        assert re.fullmatch(r"demo shop listening on http://127\.0\.0\.1:\d+\n", process.stdout.readline())
        os.kill(process.pid, signal.SIGTERM)
        rest, _ = process.communicate(timeout=10)
        assert process.returncode == 0
        assert rest == ""
    finally:
        if process.poll() is None:
            os.kill(process.pid, signal.SIGKILL)
            process.wait(5)


@pytest.fixture
def taken_port() -> Iterator[int]:
    """A loopback port held for TCP and UDP alike while the test runs."""
    with socket.socket() as tcp, socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
        tcp.bind((HOST, 0))
        tcp.listen()
        port = tcp.getsockname()[1]
        try:
            udp.bind((HOST, port))
        except OSError:
            pytest.skip("the port taken for TCP is in use for UDP by someone else")  # rare; nothing to assert
        yield port


@pytest.mark.parametrize(("flag", "what"), [("tls_listen", "tls"), ("dns_listen", "dns"), ("grpc_listen", "grpc")])
def test_a_port_in_use_exits_2_naming_the_listener(taken_port: int, flag: str, what: str) -> None:
    run = subprocess.run(_demo_command(**{flag: f"{HOST}:{taken_port}"}), capture_output=True, text=True,
                         cwd=REPO, timeout=30)
    assert run.returncode == 2
    assert f"demo shop: cannot listen on {HOST}:{taken_port} ({what}):" in run.stderr
    assert "Traceback" not in run.stderr


@pytest.mark.parametrize("value", ["8053", "127.0.0.1:99999", "on"])
def test_a_bad_listen_address_exits_2(value: str) -> None:
    run = subprocess.run(_demo_command(dns_listen=value), capture_output=True, text=True, cwd=REPO, timeout=30)
    assert run.returncode == 2
    assert "--dns-listen" in run.stderr
