"""TLS prober against real TLS servers on loopback, each sending a chain: every certificate checked and named."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from prober.config.tls_check import TlsCheck
from prober.http.tls_contexts import TlsContexts
from prober.probers.tls import TlsProber
from prober.result import Phase, Reason, Result, TlsOutcome
from tests.tls_chain_certs import ChainCerts, make_chain_certs
from tests.tls_chain_servers import ChainServer

DAY_S = 86400


@pytest.fixture(scope="module")
def chain_certs(tmp_path_factory: pytest.TempPathFactory) -> ChainCerts:
    return make_chain_certs(tmp_path_factory.mktemp("chain-certs"))


@pytest.fixture(scope="module")
def servers(tmp_path_factory: pytest.TempPathFactory, chain_certs: ChainCerts) -> Iterator[dict[str, ChainServer]]:
    directory: Path = tmp_path_factory.mktemp("tls-servers")
    started = {
        "good": ChainServer(directory, chain_certs.good),
        "expired-intermediate": ChainServer(directory, chain_certs.expired_intermediate),
        "future-leaf": ChainServer(directory, chain_certs.future_leaf),
        "untrusted": ChainServer(directory, chain_certs.untrusted),
        "tls12": ChainServer(directory, chain_certs.good, max_version="TLSv1.2"),
        "mtls": ChainServer(directory, chain_certs.good, client_ca=chain_certs.root_ca),
        "mtls-alert": ChainServer(directory, chain_certs.good, client_ca=chain_certs.root_ca, blocking=True),
        "mtls12": ChainServer(directory, chain_certs.good, max_version="TLSv1.2", client_ca=chain_certs.root_ca),
    }
    yield started
    for server in started.values():
        server.stop()


async def probe(target: str, **fields: Any) -> Result:
    fields.setdefault("timeout", "5s")
    check = TlsCheck.model_validate({"name": "t", "type": "tls", "target": target, "interval": "10s",
                                     "attempts": 1, **fields})
    return await TlsProber(check, TlsContexts()).probe()


def trusting(chain_certs: ChainCerts, **tls: Any) -> dict[str, Any]:
    return {"ca_file": str(chain_certs.root_ca), **tls}


def tls_of(result: Result) -> TlsOutcome:
    assert isinstance(result.protocol, TlsOutcome), result
    return result.protocol


async def test_good_chain_reports_session_and_earliest_expiry(servers: dict[str, ChainServer],
                                                              chain_certs: ChainCerts) -> None:
    result = await probe(servers["good"].target(), tls=trusting(chain_certs))
    assert result.ok, result.detail
    assert set(result.phases) == {Phase.CONNECT, Phase.TLS}  # an IP target: no DNS
    tls = tls_of(result)
    assert tls.version == "TLSv1.3"
    assert tls.cipher.startswith("TLS_")
    assert [cert.subject for cert in tls.chain] == ["CN=localhost", "CN=Test Intermediate"]
    assert tls.chain[1].issuer == "CN=Test Root CA"
    assert tls.client_cert_not_after is None
    # the intermediate expires before the leaf: the chain's earliest expiry is its, not the leaf's
    assert result.cert_not_after == pytest.approx(chain_certs.good_intermediate_not_after, abs=1)
    assert tls.chain[0].not_after == pytest.approx(chain_certs.good_leaf_not_after, abs=1)
    assert 0 < result.duration_s < 5


async def test_a_name_is_resolved_and_matched(servers: dict[str, ChainServer], chain_certs: ChainCerts) -> None:
    result = await probe(servers["good"].target("localhost"), ip_family="ip4", tls=trusting(chain_certs))
    assert result.ok, result.detail
    assert set(result.phases) == {Phase.DNS, Phase.CONNECT, Phase.TLS}


async def test_expired_intermediate_under_a_valid_leaf_is_named(servers: dict[str, ChainServer],
                                                                chain_certs: ChainCerts) -> None:
    result = await probe(servers["expired-intermediate"].target(), tls=trusting(chain_certs))
    assert result.reason is Reason.TLS
    assert result.detail in ("intermediate CN=Test Intermediate expired 3.0 days ago",
                             "intermediate CN=Test Intermediate expired 3.1 days ago"), result.detail
    # the chain is still reported, and its earliest expiry is in the past
    assert [cert.subject for cert in tls_of(result).chain] == ["CN=localhost", "CN=Test Intermediate"]
    assert result.cert_not_after == pytest.approx(chain_certs.expired_intermediate_not_after, abs=1)
    assert result.cert_not_after is not None and result.cert_not_after < time.time()
    assert Phase.TLS not in result.phases  # the handshake did not complete


async def test_a_leaf_not_valid_yet_is_named(servers: dict[str, ChainServer], chain_certs: ChainCerts) -> None:
    result = await probe(servers["future-leaf"].target(), tls=trusting(chain_certs))
    assert result.reason is Reason.TLS
    assert result.detail.startswith("leaf CN=localhost not valid until "), result.detail
    assert result.detail.endswith(" days from now")
    assert len(tls_of(result).chain) == 2


async def test_hostname_mismatch_is_tls(servers: dict[str, ChainServer], chain_certs: ChainCerts) -> None:
    result = await probe(servers["good"].target(), tls=trusting(chain_certs, server_name="other.example"))
    assert result.reason is Reason.TLS
    assert "Hostname mismatch" in result.detail and "other.example" in result.detail, result.detail
    assert len(tls_of(result).chain) == 2


async def test_untrusted_root_is_tls_and_insecure_accepts_it(servers: dict[str, ChainServer],
                                                             chain_certs: ChainCerts) -> None:
    result = await probe(servers["untrusted"].target(), tls=trusting(chain_certs))
    assert result.reason is Reason.TLS
    assert result.detail.startswith("certificate verify failed: "), result.detail
    assert tls_of(result).chain[1].issuer == "CN=Untrusted Root CA"
    # the system store does not know our test root either
    assert (await probe(servers["good"].target())).reason is Reason.TLS
    insecure = await probe(servers["untrusted"].target(), tls={"insecure": True})
    assert insecure.ok, insecure.detail
    assert len(tls_of(insecure).chain) == 2
    assert insecure.cert_not_after is not None


async def test_insecure_still_applies_cert_min_days(servers: dict[str, ChainServer]) -> None:
    result = await probe(servers["expired-intermediate"].target(), tls={"insecure": True},
                         expect={"cert_min_days": 1})
    assert result.reason is Reason.ASSERTION
    assert result.detail.startswith("intermediate CN=Test Intermediate expired "), result.detail


async def test_cert_min_days_names_the_intermediate_while_the_leaf_is_fine(servers: dict[str, ChainServer],
                                                                           chain_certs: ChainCerts) -> None:
    # the leaf has 60 days left, the intermediate 30
    result = await probe(servers["good"].target(), tls=trusting(chain_certs), expect={"cert_min_days": 45})
    assert result.reason is Reason.ASSERTION
    assert result.detail.startswith("intermediate CN=Test Intermediate expires in "), result.detail
    assert result.detail.endswith(" days (cert_min_days: 45)")
    assert (await probe(servers["good"].target(), tls=trusting(chain_certs), expect={"cert_min_days": 20})).ok


async def test_min_version_not_met_is_assertion(servers: dict[str, ChainServer], chain_certs: ChainCerts) -> None:
    result = await probe(servers["tls12"].target(), tls=trusting(chain_certs), expect={"min_version": "TLSv1.3"})
    assert result.reason is Reason.ASSERTION
    assert result.detail == "negotiated TLSv1.2, min_version TLSv1.3"
    assert tls_of(result).version == "TLSv1.2"
    assert (await probe(servers["tls12"].target(), tls=trusting(chain_certs),
                        expect={"min_version": "TLSv1.2"})).ok


@pytest.mark.parametrize("server", ["mtls", "mtls-alert", "mtls12"])
async def test_mtls_with_and_without_the_client_certificate(servers: dict[str, ChainServer], chain_certs: ChainCerts,
                                                            server: str) -> None:
    cert, key = chain_certs.client
    with_cert = await probe(servers[server].target(), tls=trusting(chain_certs, cert_file=str(cert),
                                                                     key_file=str(key)))
    assert with_cert.ok, with_cert.detail
    assert tls_of(with_cert).client_cert_not_after == pytest.approx(chain_certs.client_not_after, abs=1)
    # TLS 1.3 finishes the client's handshake before the server reads its certificate: its "no" comes after
    without = await probe(servers[server].target(), tls=trusting(chain_certs))
    assert without.reason is Reason.TLS, without.detail
    if server == "mtls-alert":  # OpenSSL's alert says why
        assert "certificate required" in without.detail, without.detail
    elif server == "mtls":  # closed without a word after a TLS 1.3 handshake
        assert "right after the TLS 1.3 handshake" in without.detail, without.detail
    assert len(tls_of(without).chain) == 2  # the server's chain came before its "no"


async def test_cert_min_days_applies_to_the_client_certificate(servers: dict[str, ChainServer],
                                                               chain_certs: ChainCerts) -> None:
    cert, key = chain_certs.client
    result = await probe(servers["mtls"].target(), tls=trusting(chain_certs, cert_file=str(cert), key_file=str(key)),
                         expect={"cert_min_days": 25})  # the client certificate has 20 days left, the chain more
    assert result.reason is Reason.ASSERTION
    assert result.detail.startswith("client certificate expires in "), result.detail


async def test_refused_unresolvable_and_slow(servers: dict[str, ChainServer], chain_certs: ChainCerts) -> None:
    refused = await probe("127.0.0.1:1")
    assert refused.reason is Reason.CONNECT
    assert refused.protocol is None and Phase.TLS not in refused.phases
    unresolvable = await probe("no-such-host.invalid:443")
    assert unresolvable.reason is Reason.DNS
    assert Phase.CONNECT not in unresolvable.phases
    slow = await probe(servers["good"].target(), tls=trusting(chain_certs), expect={"max_duration": "1ms"})
    assert slow.reason in (Reason.SLOW, Reason.OK)  # a handshake of under 1 ms on loopback is possible
    if slow.reason is Reason.SLOW:
        assert "max_duration: 0.001s" in slow.detail


async def test_a_server_that_never_answers_the_handshake_is_timeout() -> None:
    # a listening socket that never accepts: the kernel completes the TCP handshake, nobody speaks TLS
    with socket.create_server(("127.0.0.1", 0)) as listener:
        port = listener.getsockname()[1]
        start = time.monotonic()
        result = await probe(f"127.0.0.1:{port}", timeout="600ms")
        elapsed = time.monotonic() - start
    assert result.reason is Reason.TIMEOUT
    assert "TLS handshake" in result.detail
    assert 0.59 <= elapsed < 3.0
    assert Phase.CONNECT in result.phases and Phase.TLS not in result.phases


def test_under_uvloop_as_the_agent_runs(servers: dict[str, ChainServer], chain_certs: ChainCerts) -> None:
    import uvloop

    result = uvloop.run(probe(servers["good"].target("localhost"), ip_family="ip4", tls=trusting(chain_certs)))
    assert result.ok, result.detail
    assert set(result.phases) == {Phase.DNS, Phase.CONNECT, Phase.TLS}
    cert, key = chain_certs.client
    rejected = uvloop.run(probe(servers["mtls"].target(), tls=trusting(chain_certs)))
    assert rejected.reason is Reason.TLS
    accepted = uvloop.run(probe(servers["mtls"].target(), tls=trusting(chain_certs, cert_file=str(cert),
                                                                       key_file=str(key))))
    assert accepted.ok, accepted.detail
