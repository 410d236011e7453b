"""TCP prober against real servers on loopback: Debian's redis-server, a banner, STARTTLS, TLS, silence, floods,
resets and refused ports; every reason, phase and the TLS outcome."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509

from prober.config.tcp_check import TcpCheck
from prober.http.tls_contexts import TlsContexts
from prober.probers.tcp import TcpProber
from prober.result import Phase, Reason, Result, TlsOutcome
from tests.processes import free_port
from tests.tcp_servers import DialogueServer, RedisServer
from tests.tls_certs import Certs

DAY_S = 86400


async def probe(target: str, **fields: Any) -> Result:
    fields.setdefault("timeout", "5s")
    check = TcpCheck.model_validate({"name": "t", "type": "tcp", "target": target, "interval": "10s",
                                     "attempts": 1, **fields})
    return await TcpProber(check, TlsContexts()).probe()


def not_after(cert_file: Path) -> float:
    return x509.load_pem_x509_certificate(cert_file.read_bytes()).not_valid_after_utc.timestamp()


@pytest.fixture(scope="module")
def redis() -> Iterator[RedisServer]:
    server = RedisServer()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def servers(tmp_path_factory: pytest.TempPathFactory, certs: Certs) -> Iterator[dict[str, DialogueServer]]:
    directory = tmp_path_factory.mktemp("tcp")
    chain = directory / "good-then-soon.pem"  # a chain whose second certificate expires first
    chain.write_bytes(certs.good[0].read_bytes() + certs.soon[0].read_bytes())
    started = {
        "banner": DialogueServer(directory, "banner"),
        "late-banner": DialogueServer(directory, "late-banner"),
        "silent": DialogueServer(directory, "silent"),
        "flood": DialogueServer(directory, "flood"),
        "reset": DialogueServer(directory, "reset"),
        "starttls": DialogueServer(directory, "starttls", certs.good),
        "starttls-inject": DialogueServer(directory, "starttls-inject", certs.good),
        "tls-good": DialogueServer(directory, "tls", certs.good),
        "tls-soon": DialogueServer(directory, "tls", certs.soon),
        "tls-selfsigned": DialogueServer(directory, "tls", certs.selfsigned),
        "tls-chain": DialogueServer(directory, "tls", (chain, certs.good[1])),
        "tls12-coalesced": DialogueServer(directory, "tls12-coalesced", certs.good),
        "tls-mtls": DialogueServer(directory, "mtls", certs.good, client_ca=certs.ca_cert),
    }
    yield started
    for server in started.values():
        server.stop()


def trusting(certs: Certs, **tls_config: Any) -> dict[str, Any]:
    return {"ca_file": str(certs.ca_cert), **tls_config}


async def test_redis_ping_pong_passes_with_connect_and_ttfb(redis: RedisServer) -> None:
    result = await probe(f"127.0.0.1:{redis.port}", query_response=[{"send": "PING\r\n"}, {"expect": r"^\+PONG"}])
    assert result.ok, result.detail
    assert result.reason is Reason.OK
    assert set(result.phases) == {Phase.CONNECT, Phase.TTFB}  # no DNS for an IP, no TLS
    assert result.protocol is None and result.cert_not_after is None
    assert 0 < result.duration_s < 5


async def test_redis_steps_run_in_order_and_match_line_by_line(redis: RedisServer) -> None:
    result = await probe(f"127.0.0.1:{redis.port}", query_response=[
        {"send": "PING\r\n"}, {"expect": r"^\+PONG\r$"},
        {"send": "ECHO prober-step-two\r\n"}, {"expect": r"^prober-step-two\r$"},
    ])
    assert result.ok, result.detail


async def test_redis_expect_that_never_matches_is_assertion_at_eof_not_a_timeout(redis: RedisServer) -> None:
    started = time.monotonic()
    result = await probe(f"127.0.0.1:{redis.port}", timeout="20s",
                         query_response=[{"send": "PING\r\nQUIT\r\n"}, {"expect": r"^\+NOPE"}])
    assert result.reason is Reason.ASSERTION, result.detail
    assert r"/^\+NOPE/" in result.detail and "+PONG" in result.detail and "step 2" in result.detail
    assert time.monotonic() - started < 10  # the server's close ended it, not the 20 s timeout


async def test_a_banner_by_name_has_dns_connect_and_ttfb(servers: dict[str, DialogueServer]) -> None:
    result = await probe(servers["banner"].target("localhost"), ip_family="ip4",
                         query_response=[{"expect": r"^SSH-2\.0-"}])
    assert result.ok, result.detail
    assert set(result.phases) == {Phase.DNS, Phase.CONNECT, Phase.TTFB}
    assert all(seconds >= 0 for seconds in result.phases.values())


async def test_a_late_banner_times_its_wait_as_ttfb_and_fails_max_duration(
        servers: dict[str, DialogueServer]) -> None:
    result = await probe(servers["late-banner"].target(), query_response=[{"expect": "^SSH-"}],
                         expect={"max_duration": "100ms"})
    assert result.reason is Reason.SLOW, result.detail
    assert "max_duration" in result.detail
    assert result.phases[Phase.TTFB] >= 0.25  # the server waits 300 ms before it speaks
    assert result.duration_s >= result.phases[Phase.TTFB]


async def test_starttls_upgrades_and_reports_the_session(servers: dict[str, DialogueServer], certs: Certs) -> None:
    result = await probe(servers["starttls"].target(), tls_config=trusting(certs), query_response=[
        {"expect": "^220 ", "send": "STARTTLS\r\n"},
        {"expect": "^220 go ahead", "starttls": True},
        {"expect": "^250 secure"},
    ])
    assert result.ok, result.detail
    assert set(result.phases) == {Phase.CONNECT, Phase.TLS, Phase.TTFB}
    outcome = result.protocol
    assert isinstance(outcome, TlsOutcome)
    assert outcome.version.startswith("TLSv1.")
    assert outcome.chain[0].subject == "CN=localhost" and outcome.chain[0].issuer == "CN=prober test CA"
    assert outcome.client_cert_not_after is None
    assert result.cert_not_after == pytest.approx(not_after(certs.good[0]))


async def test_starttls_never_takes_plaintext_sent_before_the_handshake(servers: dict[str, DialogueServer],
                                                                        certs: Certs) -> None:
    result = await probe(servers["starttls-inject"].target(), tls_config=trusting(certs), query_response=[
        {"expect": "^220 ", "send": "STARTTLS\r\n"},
        {"expect": "^220 go ahead", "starttls": True},
        {"expect": "^250 injected"},  # came in plaintext before the upgrade: must not match after it
    ])
    assert not result.ok
    assert result.reason in (Reason.ASSERTION, Reason.TLS), result.detail  # TLS if it came in its own segment


async def test_a_silent_server_is_a_timeout_within_the_check_timeout(servers: dict[str, DialogueServer]) -> None:
    started = time.monotonic()
    result = await probe(servers["silent"].target(), timeout="700ms", query_response=[{"expect": "^220"}])
    elapsed = time.monotonic() - started
    assert result.reason is Reason.TIMEOUT
    assert "within 0.7s" in result.detail and "expect /^220/ of step 1" in result.detail
    assert Phase.TTFB not in result.phases
    assert 0.69 <= elapsed < 3.0  # never early; late only by this machine's timer wake-up


async def test_a_refused_port_is_connect_with_no_later_phase() -> None:
    result = await probe(f"127.0.0.1:{free_port()}", query_response=[{"expect": "^x"}])
    assert result.reason is Reason.CONNECT
    assert "refused" in result.detail.lower()
    assert result.phases == {}


async def test_a_flood_is_bounded_by_max_read_bytes(servers: dict[str, DialogueServer]) -> None:
    result = await probe(servers["flood"].target(), timeout="20s", max_read_bytes="4KiB",
                         query_response=[{"expect": "never"}])
    assert result.reason is Reason.ASSERTION, result.detail
    assert "more than 4096 bytes" in result.detail
    assert result.duration_s < 10


async def test_a_reset_mid_dialogue_is_protocol(servers: dict[str, DialogueServer]) -> None:
    result = await probe(servers["reset"].target(), query_response=[
        {"expect": "^hi", "send": "hello\r\n"}, {"expect": "^never"}])
    assert result.reason is Reason.PROTOCOL, result.detail
    assert "step 2" in result.detail


async def test_tls_on_connect_with_an_untrusted_certificate_is_tls(servers: dict[str, DialogueServer],
                                                                   certs: Certs) -> None:
    result = await probe(servers["tls-selfsigned"].target(), tls=True, tls_config=trusting(certs),
                         query_response=[{"expect": "^hello"}])
    assert result.reason is Reason.TLS, result.detail
    assert "certificate" in result.detail.lower()
    assert result.protocol is None and Phase.TLS not in result.phases


async def test_insecure_skips_verification(servers: dict[str, DialogueServer]) -> None:
    result = await probe(servers["tls-selfsigned"].target(), tls=True, tls_config={"insecure": True},
                         query_response=[{"expect": "^hello tls"}])
    assert result.ok, result.detail
    assert isinstance(result.protocol, TlsOutcome) and result.protocol.chain


async def test_tls_on_connect_with_a_trusted_certificate(servers: dict[str, DialogueServer], certs: Certs) -> None:
    result = await probe(servers["tls-good"].target(), tls=True, tls_config=trusting(certs),
                         query_response=[{"expect": "^hello tls"}], expect={"cert_min_days": 30})
    assert result.ok, result.detail
    assert set(result.phases) == {Phase.CONNECT, Phase.TLS, Phase.TTFB}
    assert isinstance(result.protocol, TlsOutcome)
    assert result.cert_not_after == pytest.approx(not_after(certs.good[0]))


async def test_server_name_is_the_name_verified(servers: dict[str, DialogueServer], certs: Certs) -> None:
    wrong = await probe(servers["tls-good"].target(), tls=True, tls_config=trusting(certs, server_name="other.test"))
    right = await probe(servers["tls-good"].target(), tls=True, tls_config=trusting(certs, server_name="localhost"))
    assert wrong.reason is Reason.TLS, wrong.detail
    assert right.ok, right.detail


async def test_cert_min_days_fails_on_a_certificate_that_expires_soon(servers: dict[str, DialogueServer],
                                                                      certs: Certs) -> None:
    result = await probe(servers["tls-soon"].target(), tls=True, tls_config=trusting(certs),
                         expect={"cert_min_days": 7})
    assert result.reason is Reason.ASSERTION, result.detail
    days_left = re.search(r"certificate CN=localhost expires in ([\d.]+) days", result.detail)
    assert days_left is not None and 2.5 <= float(days_left[1]) <= 3.0  # 3 days less the test's age


async def test_cert_min_days_looks_at_every_certificate_of_the_chain(servers: dict[str, DialogueServer],
                                                                     certs: Certs) -> None:
    result = await probe(servers["tls-chain"].target(), tls=True, tls_config=trusting(certs),
                         expect={"cert_min_days": 7})
    assert result.reason is Reason.ASSERTION, result.detail  # the leaf has 90 days; the second cert has 3
    assert isinstance(result.protocol, TlsOutcome) and len(result.protocol.chain) == 2
    assert result.cert_not_after == pytest.approx(not_after(certs.soon[0]))
    assert result.cert_not_after < result.protocol.chain[0].not_after - 80 * DAY_S


async def test_data_in_the_handshakes_last_segment_is_read(servers: dict[str, DialogueServer],
                                                           certs: Certs) -> None:
    result = await probe(servers["tls12-coalesced"].target(), tls=True, tls_config=trusting(certs),
                         timeout="3s", query_response=[{"expect": "^220 tls12 ready"}])
    assert result.ok, result.detail
    assert isinstance(result.protocol, TlsOutcome) and result.protocol.version == "TLSv1.2"


async def test_a_server_that_rejects_our_missing_client_certificate_is_tls(servers: dict[str, DialogueServer],
                                                                          certs: Certs) -> None:
    result = await probe(servers["tls-mtls"].target(), tls=True, tls_config=trusting(certs),
                         query_response=[{"expect": "^hello tls"}])
    assert result.reason is Reason.TLS, result.detail  # in the handshake (TLS 1.2) or in its next record (1.3)


async def test_a_client_certificate_is_presented_and_its_expiry_reported(servers: dict[str, DialogueServer],
                                                                         certs: Certs) -> None:
    client = {"cert_file": str(certs.good[0]), "key_file": str(certs.good[1])}
    result = await probe(servers["tls-mtls"].target(), tls=True, tls_config=trusting(certs, **client),
                         query_response=[{"expect": "^hello tls"}])
    assert result.ok, result.detail
    assert isinstance(result.protocol, TlsOutcome)
    assert result.protocol.client_cert_not_after == pytest.approx(not_after(certs.good[0]))
