"""HTTP prober against a real misbehaving server: every reason, phase timing, bounds on time and size."""

from __future__ import annotations

import resource
import time
from collections.abc import Iterator
from typing import Any

import pytest

from prober.config.models import HttpCheck
from prober.http.tls_contexts import TlsContexts
from prober.probers.http import HttpProber
from prober.result import Phase, Reason, Result, TlsOutcome
from tests.fault_server import FaultServer
from tests.tls_certs import Certs
from tests.tls_chain_certs import ChainCerts, make_chain_certs
from tests.tls_chain_servers import ChainServer


async def probe(url: str, **fields: Any) -> Result:
    fields.setdefault("timeout", "5s")
    check = HttpCheck(name="t", type="http", url=url, interval="10s", attempts=1, **fields)
    return await HttpProber(check, TlsContexts()).probe()


async def test_ok_with_phases_that_happened(fault: FaultServer) -> None:
    result = await probe(fault.url("/ok"), expect={"body_contains": ["hello prober"]})
    assert result.ok, result.detail
    assert result.reason is Reason.OK
    assert result.status_code == 200
    assert set(result.phases) == {Phase.CONNECT, Phase.TTFB, Phase.TRANSFER}  # no DNS for an IP, no TLS
    assert result.cert_not_after is None


async def test_dns_phase_when_a_name_is_resolved(fault: FaultServer) -> None:
    result = await probe(fault.url("/ok", host="localhost"), ip_family="ip4")
    assert result.ok, result.detail
    assert Phase.DNS in result.phases


async def test_refused_is_connect_and_observes_no_later_phase() -> None:
    result = await probe("http://127.0.0.1:1/")
    assert result.reason is Reason.CONNECT
    assert not ({Phase.TTFB, Phase.TRANSFER, Phase.TLS} & set(result.phases))


async def test_unresolvable_name_is_dns() -> None:
    result = await probe("http://no-such-host.invalid/")
    assert result.reason is Reason.DNS
    assert Phase.CONNECT not in result.phases


async def test_hang_is_timeout_at_exactly_the_configured_timeout(fault: FaultServer) -> None:
    start = time.monotonic()
    result = await probe(fault.url("/hang"), timeout="700ms")
    elapsed = time.monotonic() - start
    assert result.reason is Reason.TIMEOUT
    assert "ttfb" in result.detail
    assert 0.69 <= elapsed < 3.0  # never early; late only by this VM's timer wake-up


async def test_trickle_is_timeout_during_transfer(fault: FaultServer) -> None:
    result = await probe(fault.url("/trickle"), timeout="1500ms")
    assert result.reason is Reason.TIMEOUT
    assert "transfer" in result.detail


async def test_a_timeout_longer_than_aiohttps_defaults_is_not_capped(fault: FaultServer) -> None:
    result = await probe(fault.url("/delay/1200"), timeout="5s")
    assert result.ok, result.detail
    assert result.phases[Phase.TTFB] >= 1.2


@pytest.mark.parametrize("path", ["/reset", "/close-before-response", "/garbage", "/bad-gzip"])
async def test_broken_exchanges_are_protocol(fault: FaultServer, path: str) -> None:
    result = await probe(fault.url(path))
    assert result.reason is Reason.PROTOCOL, result.detail


async def test_503_is_http_status(fault: FaultServer) -> None:
    result = await probe(fault.url("/status/503"))
    assert result.reason is Reason.HTTP_STATUS
    assert result.status_code == 503
    assert (await probe(fault.url("/status/503"), expect={"status": [503]})).ok


async def test_redirects_are_followed_summed_and_bounded(fault: FaultServer) -> None:
    result = await probe(fault.url("/redirect/3"))
    assert result.ok, result.detail
    assert result.phases[Phase.TTFB] > 0
    assert (await probe(fault.url("/redirect-loop"))).reason is Reason.TOO_MANY_REDIRECTS
    assert (await probe(fault.url("/redirect/3"), max_redirects=2)).reason is Reason.TOO_MANY_REDIRECTS
    not_followed = await probe(fault.url("/redirect/1"), follow_redirects=False, expect={"status": ["3xx"]})
    assert not_followed.ok
    assert not_followed.status_code == 302


@pytest.mark.parametrize("path", ["/big/1073741824", "/chunked-big/1073741824", "/gzip-bomb/1073741824"])
async def test_a_1gb_body_or_gzip_bomb_is_too_large_and_costs_no_memory(fault: FaultServer, path: str) -> None:
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    result = await probe(fault.url(path), max_body_bytes="1MiB")
    assert result.reason is Reason.TOO_LARGE, result.detail
    grown_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - rss_before
    assert grown_kib < 32 * 1024


async def test_a_small_gzip_body_is_decompressed_for_assertions(fault: FaultServer) -> None:
    result = await probe(fault.url("/gzip-bomb/1000"), max_body_bytes="2KiB", expect={"body_regex": ["^\x00+$"]})
    assert result.ok, result.detail


async def test_json_expectations(fault: FaultServer) -> None:
    assert (await probe(fault.url("/json"), expect={"json": {"$.status": "ok", "$.items[1].name": "b",
                                                             "$.meta.count": 2}})).ok
    mismatch = await probe(fault.url("/json-bad"), expect={"json": {"$.status": "ok"}})
    assert mismatch.reason is Reason.ASSERTION
    assert 'JSON $.status is "degraded", expected "ok"' in mismatch.detail
    assert (await probe(fault.url("/json"), expect={"json": {"$.nope": 1}})).reason is Reason.ASSERTION
    assert (await probe(fault.url("/not-json"), expect={"json": {"$.a": 1}})).reason is Reason.ASSERTION
    assert (await probe(fault.url("/json"), expect={"json": {"$.meta.count": True}})).reason is Reason.ASSERTION


async def test_body_and_header_expectations(fault: FaultServer) -> None:
    assert (await probe(fault.url("/headers"), expect={"headers": {"x-test": "^abc-\\d+$"}})).ok
    assert (await probe(fault.url("/headers"), expect={"headers": {"x-test": "^xyz"}})).reason is Reason.ASSERTION
    assert (await probe(fault.url("/ok"), expect={"body_not_regex": ["hello"]})).reason is Reason.ASSERTION
    assert (await probe(fault.url("/ok"), expect={"body_contains": ["nope"]})).reason is Reason.ASSERTION
    assert (await probe(fault.url("/ok"), expect={"body_not_contains": ["hello"]})).reason is Reason.ASSERTION


async def test_slower_than_max_duration_is_slow(fault: FaultServer) -> None:
    result = await probe(fault.url("/delay/300"), expect={"max_duration": "100ms"})
    assert result.reason is Reason.SLOW
    assert "max_duration: 0.1s" in result.detail


async def test_auth_and_headers_reach_the_target(fault: FaultServer, monkeypatch: pytest.MonkeyPatch) -> None:
    basic = await probe(fault.url("/echo-headers"), basic_auth={"username": "u", "password": "p"},
                        expect={"json": {"$.authorization": "Basic dTpw"}})
    assert basic.ok, basic.detail
    bearer = await probe(fault.url("/echo-headers"), bearer_token="tok", headers={"X-Extra": "1"},
                         expect={"json": {"$.authorization": "Bearer tok", "$.x-extra": "1"}})
    assert bearer.ok, bearer.detail


async def test_post_with_body(fault: FaultServer) -> None:
    assert (await probe(fault.url("/ok"), method="POST", body='{"a": 1}')).ok


async def test_tls_phases_and_certificate_expiry(tls_servers: dict[str, FaultServer], certs: Certs) -> None:
    result = await probe(tls_servers["good"].url("/ok", host="localhost"), tls={"ca_file": str(certs.ca_cert)},
                         ip_family="ip4")
    assert result.ok, result.detail
    assert {Phase.DNS, Phase.CONNECT, Phase.TLS, Phase.TTFB, Phase.TRANSFER} <= set(result.phases)
    assert result.cert_not_after is not None
    assert 89 < (result.cert_not_after - time.time()) / 86400 < 91


async def test_expired_and_self_signed_certificates_are_tls(tls_servers: dict[str, FaultServer],
                                                            certs: Certs) -> None:
    for name in ("expired", "selfsigned"):
        result = await probe(tls_servers[name].url("/ok"), tls={"ca_file": str(certs.ca_cert)})
        assert result.reason is Reason.TLS, (name, result.detail)
    # verification is on by default: the system store does not know our test CA either
    assert (await probe(tls_servers["good"].url("/ok"))).reason is Reason.TLS
    insecure = await probe(tls_servers["selfsigned"].url("/ok"), tls={"insecure": True})
    assert insecure.ok, insecure.detail
    assert insecure.cert_not_after is not None  # read even when not verified


async def test_cert_min_days(tls_servers: dict[str, FaultServer], certs: Certs) -> None:
    result = await probe(tls_servers["soon"].url("/ok"), tls={"ca_file": str(certs.ca_cert)},
                         expect={"cert_min_days": 14})
    assert result.reason is Reason.ASSERTION
    assert result.detail in ("leaf CN=localhost expires in 2.9 days (cert_min_days: 14)",
                             "leaf CN=localhost expires in 3.0 days (cert_min_days: 14)"), result.detail


async def test_server_name_overrides_sni_and_verification(tls_servers: dict[str, FaultServer], certs: Certs) -> None:
    wrong = await probe(tls_servers["good"].url("/ok"), tls={"ca_file": str(certs.ca_cert), "server_name": "other"})
    assert wrong.reason is Reason.TLS


def test_tls_phases_under_uvloop_as_the_agent_runs(tls_servers: dict[str, FaultServer], certs: Certs) -> None:
    import uvloop

    result = uvloop.run(probe(tls_servers["good"].url("/ok", host="localhost"),
                              tls={"ca_file": str(certs.ca_cert)}, ip_family="ip4"))
    assert result.ok, result.detail
    assert {Phase.DNS, Phase.CONNECT, Phase.TLS, Phase.TTFB, Phase.TRANSFER} <= set(result.phases)
    assert result.cert_not_after is not None


async def test_requests_go_through_the_configured_proxy(fault: FaultServer) -> None:
    # the name does not resolve: only the proxy (our fault server, in forward-proxy mode) can answer
    result = await probe("http://shop.invalid/echo-headers", proxy=fault.url(""),
                         expect={"json": {"$.x-via-proxy": "shop.invalid"}})
    assert result.ok, result.detail
    refused = await probe("http://shop.invalid/ok", proxy="http://127.0.0.1:1")
    assert refused.reason is Reason.CONNECT


def test_checks_with_the_same_tls_block_share_one_context(certs: Certs) -> None:
    contexts = TlsContexts()
    a = HttpCheck(name="a", type="http", url="https://x/", interval="1s", timeout="1s", attempts=1)
    b = HttpCheck(name="b", type="http", url="https://y/", interval="1s", timeout="1s", attempts=1)
    c = HttpCheck(name="c", type="http", url="https://y/", interval="1s", timeout="1s", attempts=1,
                  tls={"ca_file": str(certs.ca_cert)})
    assert contexts.get(a.tls) is contexts.get(b.tls)
    assert contexts.get(c.tls) is not contexts.get(a.tls)


async def test_details_never_carry_the_url(fault: FaultServer) -> None:
    result = await probe(fault.url("/redirect-loop?token=s3cret"))
    assert result.reason is Reason.TOO_MANY_REDIRECTS
    assert "s3cret" not in result.detail
    refused = await probe("http://127.0.0.1:1/path?token=s3cret", proxy="http://127.0.0.1:1/?key=s3cret")
    assert "s3cret" not in refused.detail


@pytest.fixture(scope="module")
def chain_servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[ChainCerts, dict[str, FaultServer]]]:
    directory = tmp_path_factory.mktemp("chain")
    chain_certs = make_chain_certs(directory)
    servers = {"good": FaultServer(directory, chain_certs.good),
               "expired-intermediate": FaultServer(directory, chain_certs.expired_intermediate)}
    yield chain_certs, servers
    for server in servers.values():
        server.stop()


async def test_chain_expiry_is_the_earliest_of_the_chain_and_cert_min_days_names_the_certificate(
        chain_servers: tuple[ChainCerts, dict[str, FaultServer]]) -> None:
    chain_certs, servers = chain_servers
    tls = {"ca_file": str(chain_certs.root_ca)}
    result = await probe(servers["good"].url("/ok"), tls=tls)
    assert result.ok, result.detail
    # the intermediate expires before the leaf: the chain's earliest expiry is the intermediate's
    assert result.cert_not_after == pytest.approx(chain_certs.good_intermediate_not_after, abs=1)
    assert isinstance(result.protocol, TlsOutcome)
    assert [cert.subject for cert in result.protocol.chain] == ["CN=localhost", "CN=Test Intermediate"]
    assert result.protocol.version.startswith("TLSv1.")
    expiring = await probe(servers["good"].url("/ok"), tls=tls, expect={"cert_min_days": 45})
    assert expiring.reason is Reason.ASSERTION
    assert expiring.detail.startswith("intermediate CN=Test Intermediate expires in "), expiring.detail


async def test_an_expired_intermediate_is_tls_and_named(
        chain_servers: tuple[ChainCerts, dict[str, FaultServer]]) -> None:
    chain_certs, servers = chain_servers
    result = await probe(servers["expired-intermediate"].url("/ok"), tls={"ca_file": str(chain_certs.root_ca)})
    assert result.reason is Reason.TLS
    assert result.detail.startswith("intermediate CN=Test Intermediate expired "), result.detail
    assert result.cert_not_after == pytest.approx(chain_certs.expired_intermediate_not_after, abs=1)


@pytest.fixture(scope="module")
def mtls(tmp_path_factory: pytest.TempPathFactory, certs: Certs) -> Iterator[dict[str, str]]:
    """Two servers that ask for a client certificate signed by the test CA: `refusing` (on blocking sockets)
    sends OpenSSL's alert when it refuses one, as nginx does; `serving` answers HTTP to the clients it accepts.
    Under TLS 1.3 both judge the certificate after the client's handshake has ended, so a refusal comes on the
    client's first read."""
    directory = tmp_path_factory.mktemp("mtls")
    refusing = ChainServer(directory, certs.good, client_ca=certs.ca_cert, blocking=True)
    serving = FaultServer(directory, certs.good, client_ca=certs.ca_cert)
    yield {"refusing": f"https://{refusing.target()}/", "serving": serving.url("/ok")}
    refusing.stop()
    serving.stop()


@pytest.mark.parametrize(("client", "alert"), [(None, "certificate required"), ("selfsigned", "unknown ca")])
async def test_a_refused_client_certificate_is_tls_and_says_the_servers_alert(
        mtls: dict[str, str], certs: Certs, client: str | None, alert: str) -> None:
    tls: dict[str, str] = {"ca_file": str(certs.ca_cert)}
    if client is not None:
        cert, key = getattr(certs, client)
        tls.update(cert_file=str(cert), key_file=str(key))
    refused = await probe(mtls["refusing"], tls=tls)
    assert refused.reason is Reason.TLS, refused.detail
    assert alert in refused.detail
    good = {"cert_file": str(certs.good[0]), "key_file": str(certs.good[1])}
    accepted = await probe(mtls["serving"], tls={**tls, **good})
    assert accepted.ok, accepted.detail
