"""Prometheus exporter: the golden metric catalogue, SLO buckets, cumulative counters, OpenMetrics."""

from __future__ import annotations

import os
import time
from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families

from prober.config.dns_check import DnsCheck
from prober.config.grpc_check import GrpcCheck
from prober.config.icmp_check import IcmpCheck
from prober.config.models import Check, HttpCheck, JourneyCheck
from prober.config.page_check import PageCheck
from prober.config.tcp_check import TcpCheck
from prober.config.tls_check import TlsCheck
from prober.exporters.check_series import MAX_STEP_LABELS
from prober.exporters.prometheus import PrometheusExporter
from prober.result import (
    Certificate,
    Counted,
    DnsOutcome,
    GrpcOutcome,
    JourneyOutcome,
    PageEvent,
    PageOutcome,
    Party,
    Phase,
    PingOutcome,
    Reason,
    ResourceOutcome,
    ResourceTotal,
    ResourceType,
    Result,
    StepResult,
    StepStatus,
    TlsOutcome,
    Vital,
)

GOLDEN = Path(__file__).parent / "golden" / "metrics.txt"


def check(name: str, threshold: str = "300ms", interval: str = "30s") -> HttpCheck:
    return HttpCheck(name=name, type="http", url="http://127.0.0.1/", interval=interval, timeout="5s", attempts=2,
                     slo={"availability": 99.9, "latency": {"threshold": threshold, "target": 99}},
                     expect={"max_duration": "2s"})


def result(name: str, reason: Reason = Reason.OK, duration: float = 0.12, attempts: int = 1) -> Result:
    return Result(check=name, ok=reason is Reason.OK, reason=reason, duration_s=duration, started_at=time.time(),
                  phases={Phase.DNS: 0.001, Phase.CONNECT: 0.002, Phase.TLS: 0.01, Phase.TTFB: 0.05,
                          Phase.TRANSFER: 0.003},
                  status_code=200 if reason is Reason.OK else 503, cert_not_after=1.8e9, attempts=attempts)


class AgentFigures:
    """What the agent hands the exporter beyond runs: pool figures, vantage, canaries, maintenance."""

    def browser_processes(self) -> int:
        return 3

    def journey_workers(self) -> int:
        return 1

    def journey_worker_restarts(self) -> dict[str, int]:
        return {"runs": 2, "died": 1}

    def vantage_healthy(self) -> bool:
        return False

    def canary_results(self) -> dict[str, bool]:
        return {"dns": False}

    def in_maintenance(self, check: str) -> bool:
        return check == "shop_home"

    def probe_workers(self) -> int:
        return 2

    def probe_worker_restarts(self) -> dict[str, int]:
        return {"died": 1}


def journey_check(name: str = "shop_checkout") -> JourneyCheck:
    return JourneyCheck.model_construct(name=name, type="journey", script="/x.py", params={}, secret_params=[],
                                        fail_on_page_error=False, interval=60.0, timeout=30.0, attempts=1,
                                        slo=None, regions=None)


def journey_result(name: str = "shop_checkout", reason: Reason = Reason.OK, run_id: str = "r1",
                   steps: tuple[StepResult, ...] | None = None) -> Result:
    if steps is None:
        failed = StepStatus.OK if reason is Reason.OK else StepStatus.FAILED
        steps = (StepResult("open shop", StepStatus.OK, 0.4), StepResult("buy", failed, 1.5),
                 StepResult("pay", StepStatus.OK if reason is Reason.OK else StepStatus.NOT_RUN,
                            0.2 if reason is Reason.OK else None))
    outcome = JourneyOutcome(run_id=run_id, steps=steps,
                             page_loads=({Vital.TTFB: 0.05, Vital.FCP: 0.3, Vital.LCP: 0.3, Vital.CLS: 0.02},),
                             page_events={PageEvent.CONSOLE_ERROR: 2})
    return Result(check=name, ok=reason is Reason.OK, reason=reason, duration_s=2.1, started_at=time.time(),
                  journey=outcome)


def page_check(name: str = "home_page") -> PageCheck:
    return PageCheck.model_validate({"name": name, "type": "page", "url": "http://127.0.0.1:8080/", "interval": "1m",
                                     "timeout": "20s", "attempts": 1, "labels": {"site": "ours", "group": "shops"},
                                     "slo": {"availability": 99.5, "latency": {"threshold": "3s", "target": 90}}})


def page_result(name: str = "home_page", failed_images: int = 0) -> Result:
    """A page run that loaded a document, a stylesheet, a script, three images (one third-party) and a fetch."""
    first, third, ok, failed = Party.FIRST, Party.THIRD, ResourceOutcome.OK, ResourceOutcome.FAILED
    totals = [ResourceTotal(ResourceType.DOCUMENT, first, ok, 1, 4000, 0.05),
              ResourceTotal(ResourceType.STYLESHEET, first, ok, 1, 2000, 0.01),
              ResourceTotal(ResourceType.SCRIPT, first, ok, 1, 3000, 0.01),
              ResourceTotal(ResourceType.IMAGE, first, ok, 2, 20000, 0.04),
              ResourceTotal(ResourceType.IMAGE, third, ok, 1, 1000, 0.02),
              ResourceTotal(ResourceType.XHR, first, ok, 1, 500, 0.005)]
    if failed_images:
        totals.append(ResourceTotal(ResourceType.IMAGE, first, failed, failed_images, 300, 0.01))
    outcome = JourneyOutcome(run_id="p1", page_loads=({Vital.TTFB: 0.05, Vital.FCP: 0.2, Vital.LCP: 0.4,
                                                       Vital.CLS: 0.0},))
    return Result(check=name, ok=not failed_images, reason=Reason.ASSERTION if failed_images else Reason.OK,
                  duration_s=0.6, started_at=time.time(), status_code=200, journey=outcome,
                  protocol=PageOutcome(document_status=200, title="Demo Shop", totals=tuple(totals)))


def protocol_checks() -> list[Check]:
    """One check of each protocol type, each with an SLO latency threshold off the default buckets."""
    common = {"interval": "30s", "timeout": "10s", "attempts": 1,
              "slo": {"availability": 99.9, "latency": {"threshold": "300ms", "target": 99}}}
    return [
        TcpCheck.model_validate({"name": "redis", "type": "tcp", "target": "127.0.0.1:6379", "tls": True, **common}),
        TlsCheck.model_validate({"name": "cert", "type": "tls", "target": "127.0.0.1:443", **common}),
        DnsCheck.model_validate({"name": "resolve", "type": "dns", "query_name": "example.com", **common}),
        IcmpCheck.model_validate({"name": "ping", "type": "icmp", "target": "127.0.0.1",
                                  "expect": {"max_rtt": "300ms"}, **common}),
        GrpcCheck.model_validate({"name": "health", "type": "grpc", "target": "127.0.0.1:50051", **common}),
    ]


def protocol_result(name: str) -> Result:
    """A passing run of one of `protocol_checks()`, with what its type measures."""
    chain = (Certificate("CN=leaf", "CN=ca", 1.7e9, 1.9e9), Certificate("CN=ca", "CN=root", 1.6e9, 1.8e9))
    tls = TlsOutcome(version="TLSv1.3", cipher="TLS_AES_256_GCM_SHA384", chain=chain, client_cert_not_after=2.0e9)
    connected = {Phase.CONNECT: 0.0002, Phase.TLS: 0.004}
    runs = {
        "redis": Result(check=name, ok=True, reason=Reason.OK, duration_s=0.01, started_at=time.time(),
                        phases={**connected, Phase.TTFB: 0.001}, cert_not_after=1.8e9,
                        protocol=TlsOutcome("TLSv1.3", "TLS_AES_256_GCM_SHA384", chain)),
        "cert": Result(check=name, ok=True, reason=Reason.OK, duration_s=0.01, started_at=time.time(),
                       phases={Phase.DNS: 0.001, **connected}, cert_not_after=1.8e9, protocol=tls),
        "resolve": Result(check=name, ok=True, reason=Reason.OK, duration_s=0.003, started_at=time.time(),
                          phases={Phase.QUERY: 0.003}, protocol=DnsOutcome("NOERROR", 2, 1, 0)),
        "ping": Result(check=name, ok=True, reason=Reason.OK, duration_s=0.0004, started_at=time.time(),
                       protocol=PingOutcome(sent=5, rtts_s=(0.0003, 0.0004, 0.0005, 0.0004), hop_limit=64)),
        "health": Result(check=name, ok=True, reason=Reason.OK, duration_s=0.02, started_at=time.time(),
                         phases={Phase.QUERY: 0.002}, protocol=GrpcOutcome(0, "SERVING")),
    }
    return runs[name]


def fed_exporter() -> PrometheusExporter:
    exporter = PrometheusExporter(lambda: 0.002, AgentFigures())
    exporter.configure("eu-west-1", {"provider": "aws"},
                       [check("shop_home"), journey_check(), page_check(), *protocol_checks()],
                       maintained=["shop_home", "shop_checkout"])
    for page_run in (page_result(), page_result(failed_images=2)):
        exporter.run_started(page_run.check, 0.001)
        exporter.run_finished(page_run, page_run)
    for protocol_check in protocol_checks():
        run = protocol_result(protocol_check.name)
        exporter.run_started(protocol_check.name, 0.001)
        exporter.run_finished(run, run)
    exporter.run_started("shop_checkout", 0.001)
    exporter.run_finished(journey_result(), journey_result())
    failed = journey_result(reason=Reason.STEP_FAILED, run_id="20261125T100000Z-abc123")
    exporter.run_started("shop_checkout", 0.001)
    exporter.run_finished(failed, failed)
    exporter.reload_done(True)
    exporter.run_started("shop_home", 0.003)
    exporter.run_finished(result("shop_home"), result("shop_home"))
    exporter.run_started("shop_home", 0.001)
    exporter.run_finished(result("shop_home", attempts=2), result("shop_home", Reason.CONNECT))
    exporter.run_started("shop_home", 0.001)
    exporter.run_finished(result("shop_home", Reason.HTTP_STATUS, attempts=2), result("shop_home", Reason.HTTP_STATUS))
    exporter.run_skipped("shop_home", 2)
    return exporter


def scrape(exporter: PrometheusExporter, accept: str | None = None) -> str:
    body, _ = exporter.render(accept)
    return body.decode()


def catalogue(text: str) -> str:
    lines = set()
    for family in text_string_to_metric_families(text):
        labels = sorted({k for s in family.samples for k in s.labels if k != "le"})
        lines.add(f"{family.name} {family.type} [{','.join(labels)}] {family.documentation}")
    return "\n".join(sorted(lines)) + "\n"


def test_golden_catalogue_of_every_metric() -> None:
    """A change to any metric's name, type, HELP or labels must change tests/golden/metrics.txt with it."""
    found = catalogue(scrape(fed_exporter()))
    if os.environ.get("PROBER_UPDATE_GOLDEN"):
        GOLDEN.write_text(found)
    assert found == GOLDEN.read_text()


def sample(text: str, name: str, **labels: str) -> float:
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            if s.name == name and all(s.labels.get(k) == v for k, v in labels.items()):
                return float(s.value)
    raise AssertionError(f"no sample {name} {labels}")


def test_counters_gauges_and_labels() -> None:
    text = scrape(fed_exporter())
    common = {"check": "shop_home", "region": "eu-west-1", "provider": "aws"}
    assert sample(text, "prober_check_runs_total", **common) == 3
    assert sample(text, "prober_check_attempts_total", **common) == 5
    assert sample(text, "prober_check_failures_total", reason="http_status", **common) == 1
    assert sample(text, "prober_check_first_attempt_failures_total", reason="connect", **common) == 1
    assert sample(text, "prober_check_skipped_total", **common) == 2
    assert sample(text, "probe_success", **common) == 0
    assert sample(text, "probe_http_status_code", **common) == 503
    assert sample(text, "probe_http_duration_seconds", phase="processing", **common) == 0.05
    assert sample(text, "probe_ssl_earliest_cert_expiry", **common) == 1.8e9
    assert sample(text, "prober_check_phase_duration_seconds_count", phase="ttfb", **common) == 3
    assert sample(text, "prober_schedule_lag_seconds_count", region="eu-west-1") == 12
    assert sample(text, "prober_config_last_reload_successful", region="eu-west-1") == 1
    assert sample(text, "prober_checks_configured", region="eu-west-1") == 8
    assert sample(text, "prober_runs_in_flight", region="eu-west-1") == 0
    assert "_created" not in text


def test_duration_buckets_include_the_slo_threshold_and_max_duration() -> None:
    text = scrape(fed_exporter())
    common = {"check": "shop_home", "region": "eu-west-1"}
    assert sample(text, "prober_check_duration_seconds_bucket", le="0.3", **common) == 3
    assert sample(text, "prober_check_duration_seconds_bucket", le="2.0", **common) == 3
    assert sample(text, "prober_check_duration_seconds_bucket", le="0.1", **common) == 0


def test_a_reload_keeps_counters_and_drops_removed_checks() -> None:
    exporter = fed_exporter()
    exporter.configure("eu-west-1", {"provider": "aws"}, [check("shop_home"), check("new_check")])
    exporter.reload_done(False)
    text = scrape(exporter)
    assert sample(text, "prober_check_runs_total", check="shop_home") == 3
    assert sample(text, "prober_check_runs_total", check="new_check") == 0
    assert sample(text, "prober_config_last_reload_successful") == 0
    exporter.configure("eu-west-1", {}, [check("new_check", threshold="700ms")])
    exporter.run_started("shop_home", 0.0)
    exporter.run_finished(result("shop_home"), result("shop_home"))  # in flight when it was removed
    text = scrape(exporter)
    assert 'check="shop_home"' not in text
    assert sample(text, "prober_check_duration_seconds_bucket", check="new_check", le="0.7") == 0


def test_openmetrics_when_the_scraper_asks_for_it() -> None:
    exporter = fed_exporter()
    body, content_type = exporter.render("application/openmetrics-text; version=1.0.0; charset=utf-8")
    assert content_type.startswith("application/openmetrics-text")
    assert body.decode().endswith("# EOF\n")
    assert b"_created" not in body
    _, plain_type = exporter.render("text/plain")
    assert plain_type.startswith("text/plain; version=0.0.4")


def test_journey_steps_vitals_and_page_events() -> None:
    text = scrape(fed_exporter())
    labels = {"check": "shop_checkout", "region": "eu-west-1"}
    assert sample(text, "prober_step_duration_seconds_count", step="buy", **labels) == 2
    assert sample(text, "prober_step_failures_total", step="buy", **labels) == 1
    assert sample(text, "prober_step_failures_total", step="open shop", **labels) == 0
    # a step that did not run is neither timed nor counted as failed
    assert sample(text, "prober_step_duration_seconds_count", step="pay", **labels) == 1
    assert sample(text, "prober_browser_web_vital_count", vital="lcp", **labels) == 2
    assert sample(text, "prober_browser_web_vital_bucket", vital="cls", le="0.05", **labels) == 2
    assert sample(text, "prober_browser_web_vital_bucket", vital="lcp", le="0.2", **labels) == 0
    assert sample(text, "prober_browser_page_events_total", kind="console_error", **labels) == 4
    assert sample(text, "prober_browser_processes", region="eu-west-1") == 3
    assert sample(text, "prober_journey_worker_restarts_total", cause="died") == 1


def test_step_labels_are_capped() -> None:
    exporter = PrometheusExporter(lambda: 0.0)
    exporter.configure("local", {}, [journey_check("many")])
    for i in range(MAX_STEP_LABELS + 10):
        steps = (StepResult(f"step {i}", StepStatus.OK, 0.1),)
        exporter.run_finished(journey_result("many", steps=steps), journey_result("many", steps=steps))
    text = scrape(exporter)
    step_names = {s.labels["step"] for f in text_string_to_metric_families(text) for s in f.samples
                  if s.name == "prober_step_duration_seconds_count"}
    assert len(step_names) == MAX_STEP_LABELS + 1
    assert sample(text, "prober_step_duration_seconds_count", step="_other") == 10


def test_failure_counter_carries_the_run_id_as_an_openmetrics_exemplar() -> None:
    text = scrape(fed_exporter(), "application/openmetrics-text; version=1.0.0")
    line = next(x for x in text.splitlines() if x.startswith("prober_check_failures_total{")
                and 'check="shop_checkout"' in x)
    assert '# {run_id="20261125T100000Z-abc123"} 1.0' in line


def test_inconclusive_and_maintenance_runs_stay_out_of_the_slis() -> None:
    exporter = fed_exporter()
    before = scrape(exporter)
    for counted in (Counted.INCONCLUSIVE, Counted.MAINTENANCE, Counted.INCONCLUSIVE):
        failed = result("shop_home", Reason.CONNECT).counted_as(counted)
        exporter.run_started("shop_home", 0.001)
        exporter.run_finished(failed, failed)
    text = scrape(exporter)
    for name, labels in (("prober_check_runs_total", {}), ("prober_check_duration_seconds_count", {}),
                         ("prober_check_failures_total", {"reason": "http_status"})):
        assert sample(text, name, check="shop_home", **labels) == sample(before, name, check="shop_home", **labels)
    assert "reason=\"connect\"" not in text.split("prober_check_failures_total")[1].split("# HELP")[0]
    assert sample(text, "prober_check_inconclusive_total", check="shop_home") == 2
    assert sample(text, "prober_check_maintenance_runs_total", check="shop_home") == 1
    assert sample(text, "probe_success", check="shop_home") == 0  # the last run is still the last run
    assert sample(text, "prober_check_in_maintenance", check="shop_home") == 1
    assert sample(text, "prober_check_in_maintenance", check="shop_checkout") == 0
    exporter.configure("eu-west-1", {"provider": "aws"}, [check("shop_home")])  # no windows now: no gauge
    assert "prober_check_in_maintenance" not in scrape(exporter)
    assert sample(text, "prober_agent_vantage_healthy") == 0
    assert sample(text, "prober_canary_success", canary="dns") == 0


def series_of(exporter: PrometheusExporter, name: str) -> int:
    text = scrape(exporter)
    return sum(1 for f in text_string_to_metric_families(text) for s in f.samples if s.labels.get("check") == name)


def test_series_per_check_type_are_pinned() -> None:
    """The README's series table: change it with these numbers (users pay for every series)."""
    plain = HttpCheck(name="plain", type="http", url="http://127.0.0.1/", interval="30s", timeout="10s", attempts=1)
    https = HttpCheck(name="https", type="http", url="https://127.0.0.1/", interval="30s", timeout="10s", attempts=1,
                      slo={"availability": 99.9, "latency": {"threshold": "300ms", "target": 99}})
    journey = journey_check("journey")
    plain_run = Result(check="plain", ok=True, reason=Reason.OK, duration_s=0.01, started_at=time.time(),
                       phases={Phase.CONNECT: 0.001, Phase.TTFB: 0.005, Phase.TRANSFER: 0.001}, status_code=200)
    for phase_histograms, expected in ((False, {"plain": 31, "https": 39, "journey": 94}),
                                       (True, {"plain": 76, "https": 114, "journey": 136})):
        exporter = PrometheusExporter(lambda: 0.0)
        exporter.configure("eu", {}, [plain, https, journey], phase_histograms=phase_histograms)
        exporter.run_finished(plain_run, plain_run)
        exporter.run_finished(result("https"), result("https"))
        exporter.run_finished(journey_result("journey"), journey_result("journey"))
        assert {name: series_of(exporter, name) for name in expected} == expected, phase_histograms
        # each distinct failure reason adds its failures and first-attempt failures series
        failed = result("https", Reason.CONNECT)
        exporter.run_finished(failed, failed)
        assert series_of(exporter, "https") == expected["https"] + 2


def test_series_of_a_page_check_are_pinned() -> None:
    """The README's series table for a page check: the SLI counters, the duration histogram, the document's status,
    its vitals and, per element type it loaded, the element counters and the bytes and seconds summaries."""
    for phase_histograms in (False, True):  # a page has no phases nor steps: the option costs it nothing
        exporter = PrometheusExporter(lambda: 0.0)
        exporter.configure("eu", {}, [page_check()], phase_histograms=phase_histograms)
        exporter.run_finished(page_result(), page_result())
        # 6 SLI counters, the duration (11 default buckets under its 20s timeout, its 3s threshold, +Inf, count,
        # sum), 3 last-run gauges, ttfb/fcp/lcp (14 buckets, +Inf, count, sum) and cls (8 + 3), 6 element counters,
        # 5 element types x 2 summaries x (sum, count)
        expected = 6 + 15 + 3 + 3 * 17 + 11 + 6 + 5 * 2 * 2
        assert series_of(exporter, "home_page") == expected == 112
        failed = page_result(failed_images=1)
        exporter.run_finished(failed, failed)
        assert series_of(exporter, "home_page") == expected + 1 + 2  # failed images; failures by reason (2)


def test_what_a_page_check_exports_with_its_labels() -> None:
    text = scrape(fed_exporter())
    page = {"check": "home_page", "region": "eu-west-1", "provider": "aws", "site": "ours", "group": "shops"}
    assert sample(text, "prober_page_resources_total", type="image", party="first", outcome="ok", **page) == 4
    assert sample(text, "prober_page_resources_total", type="image", party="first", outcome="failed", **page) == 2
    assert sample(text, "prober_page_resources_total", type="image", party="third", outcome="ok", **page) == 2
    assert sample(text, "prober_page_resource_transfer_bytes_count", type="image", **page) == 8
    assert sample(text, "prober_page_resource_transfer_bytes_sum", type="image", **page) == 2 * 21000 + 300
    assert sample(text, "prober_page_resource_duration_seconds_sum", type="document", **page) == 0.1
    assert sample(text, "prober_browser_web_vital_count", vital="lcp", **page) == 2
    assert sample(text, "probe_http_status_code", **page) == 200
    assert sample(text, "prober_check_failures_total", reason="assertion", **page) == 1
    assert sample(text, "prober_check_duration_seconds_bucket", le="3.0", **page) == 2  # its SLO threshold
    # the check's labels are on every series of that check, and only there
    lines = [line for line in text.splitlines() if 'check="home_page"' in line]
    assert lines and all('site="ours"' in line and 'group="shops"' in line for line in lines)
    assert not any('site="ours"' in line for line in text.splitlines() if 'check="home_page"' not in line)


def test_series_of_each_protocol_type_are_pinned() -> None:
    """The README's series table for tcp, tls, dns, icmp and grpc checks (with an SLO threshold off the default
    buckets), after a passing run: every SLI counter, the duration histogram, and the type's gauges."""
    checks = protocol_checks()
    for phase_histograms, expected in (
            (False, {"redis": 29, "cert": 32, "resolve": 28, "ping": 40, "health": 30}),  # cert: a client cert
            (True, {"redis": 74, "cert": 77, "resolve": 43, "ping": 40, "health": 45})):
        exporter = PrometheusExporter(lambda: 0.0)
        exporter.configure("eu", {}, checks, phase_histograms=phase_histograms)
        for protocol_check in checks:
            run = protocol_result(protocol_check.name)
            exporter.run_finished(run, run)
        assert {c.name: series_of(exporter, c.name) for c in checks} == expected, phase_histograms
        assert phase_histograms or max(expected.values()) <= 40  # by default the budget of an HTTPS check holds


def test_what_each_protocol_type_exports() -> None:
    text = scrape(fed_exporter())
    region = {"region": "eu-west-1", "provider": "aws"}
    assert sample(text, "probe_ssl_earliest_cert_expiry", check="redis", **region) == 1.8e9  # the chain's earliest
    assert sample(text, "probe_tls_version_info", check="cert", version="TLSv1.3", **region) == 1
    assert sample(text, "probe_tls_cipher_info", check="cert", cipher="TLS_AES_256_GCM_SHA384", **region) == 1
    assert sample(text, "prober_tls_client_cert_expiry_timestamp_seconds", check="cert", **region) == 2.0e9
    assert "probe_tls_version_info{check=\"redis\"" not in text  # version and cipher: tls checks only
    assert sample(text, "probe_dns_answer_rrs", check="resolve", **region) == 2
    assert sample(text, "probe_dns_authority_rrs", check="resolve", **region) == 1
    assert sample(text, "probe_dns_duration_seconds", check="resolve", phase="request", **region) == 0.003
    assert sample(text, "prober_icmp_packets_sent_total", check="ping", **region) == 5
    assert sample(text, "prober_icmp_packets_received_total", check="ping", **region) == 4
    assert sample(text, "prober_icmp_rtt_seconds_count", check="ping", **region) == 4
    assert sample(text, "prober_icmp_rtt_seconds_bucket", check="ping", le="0.3", **region) == 4  # max_rtt bucket
    assert sample(text, "probe_icmp_duration_seconds", check="ping", phase="rtt", **region) == 0.0004
    assert sample(text, "probe_icmp_reply_hop_limit", check="ping", **region) == 64
    assert sample(text, "probe_grpc_status_code", check="health", **region) == 0
    assert sample(text, "probe_grpc_healthcheck_response", check="health", serving_status="SERVING", **region) == 1
    assert sample(text, "probe_grpc_healthcheck_response", check="health", serving_status="NOT_SERVING",
                  **region) == 0
    assert sample(text, "prober_check_phase_duration_seconds_sum", check="health", phase="query", **region) == 0.002


def test_icmp_packets_of_runs_kept_out_of_the_slis_are_not_counted() -> None:
    exporter = PrometheusExporter(lambda: 0.0)
    exporter.configure("eu", {}, protocol_checks())
    run = protocol_result("ping")
    exporter.run_finished(run, run)
    exporter.run_finished(run.counted_as(Counted.INCONCLUSIVE), run)
    text = scrape(exporter)
    assert sample(text, "prober_icmp_packets_sent_total", check="ping") == 5
    assert sample(text, "prober_icmp_rtt_seconds_count", check="ping") == 4


def test_a_page_checks_vital_bounds_are_buckets_of_its_vitals() -> None:
    bounded = PageCheck.model_validate({**page_check().model_dump(exclude={"expect"}),
                                        "expect": {"max_lcp": "1200ms", "max_cls": 0.2}})
    exporter = PrometheusExporter(lambda: 0.0)
    exporter.configure("eu", {}, [bounded])
    exporter.run_finished(page_result(), page_result())
    text = scrape(exporter)
    assert sample(text, "prober_browser_web_vital_bucket", vital="lcp", le="1.2") == 1  # LCP 0.4s
    assert sample(text, "prober_browser_web_vital_bucket", vital="cls", le="0.2") == 1
    exporter.configure("eu", {}, [page_check()])  # the bound is gone: so is its bucket, from the next load
    exporter.run_finished(page_result(), page_result())
    text = scrape(exporter)
    assert 'le="1.2"' not in text and sample(text, "prober_browser_web_vital_count", vital="lcp") == 1
