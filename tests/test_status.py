"""Run history for the status page: bounded rings, views without secrets, availability of counted runs."""

from __future__ import annotations

import io
import json
import logging
import time

from prober.config.models import HttpCheck, JourneyCheck
from prober.config.page_check import PageCheck
from prober.exporters.log import RunLogger, run_log
from prober.exporters.status import RING_SIZE, RunHistory
from prober.result import (
    Counted,
    JourneyOutcome,
    PageOutcome,
    PageResource,
    Party,
    Phase,
    Reason,
    ResourceOutcome,
    ResourceTotal,
    ResourceType,
    Result,
    StepResult,
    StepStatus,
    Vital,
)
from prober.status_page import check_html
from tests.test_exporter_prometheus import protocol_checks, protocol_result

HOME = HttpCheck(name="shop_home", type="http", url="http://127.0.0.1/?token=SECRET-IN-URL", interval="30s",
                 timeout="5s", attempts=1, headers={"Authorization": "Bearer SECRET-HEADER"},
                 slo={"availability": 99.9})
CHECKOUT = JourneyCheck.model_construct(name="shop_checkout", type="journey", script="/checks/shop_checkout.py",
                                        params={"password": "SECRET-PARAM"}, secret_params=["password"],
                                        fail_on_page_error=False, interval=60.0, timeout=30.0, attempts=1, slo=None,
                                        regions=None, maintenance=[])


def http_run(ok: bool = True, counted: Counted = Counted.SLI) -> Result:
    return Result(check="shop_home", ok=ok, reason=Reason.OK if ok else Reason.HTTP_STATUS, duration_s=0.05,
                  started_at=time.time(), phases={Phase.CONNECT: 0.001, Phase.TTFB: 0.04}, status_code=200,
                  counted=counted)


def journey_run() -> Result:
    outcome = JourneyOutcome(
        run_id="20261125T100000Z-abc123",
        steps=(StepResult("open shop", StepStatus.OK, 0.4), StepResult("pay", StepStatus.FAILED, 0.5,
                                                                        "expected <b>Thanks</b>"),
               StepResult("read back", StepStatus.NOT_RUN)),
        page_loads=({Vital.TTFB: 0.02, Vital.LCP: 0.3, Vital.CLS: 0.01},),
        artifacts=("shop_checkout/20261125T100000Z-abc123/screenshot.png",
                   "shop_checkout/20261125T100000Z-abc123/trace.zip"))
    return Result(check="shop_checkout", ok=False, reason=Reason.STEP_FAILED, duration_s=1.2, started_at=time.time(),
                  journey=outcome)


def fed_history() -> RunHistory:
    history = RunHistory()
    history.configure("eu", [HOME, CHECKOUT])
    for run in (http_run(), http_run(ok=False), http_run(), http_run(ok=False, counted=Counted.INCONCLUSIVE)):
        history.run_finished(run, run)
    history.run_finished(journey_run(), journey_run())
    return history


def test_views_lead_with_failing_checks_and_hold_no_secret() -> None:
    history = fed_history()
    checks = history.checks()
    assert [c["name"] for c in checks] == ["shop_checkout", "shop_home"]
    home = history.check("shop_home")
    assert home is not None
    assert home["availability"] == 2 / 3  # the inconclusive run is kept out, like in the SLIs
    assert [r["ok"] for r in home["runs"]] == [False, True, False, True]  # newest first
    assert home["runs"][0]["counted"] == "inconclusive"
    text = json.dumps([checks, home, history.check("shop_checkout")])
    assert "SECRET" not in text


def test_rings_are_bounded_and_follow_the_config() -> None:
    history = fed_history()
    for _ in range(RING_SIZE * 3):
        history.run_finished(http_run(), http_run())
    home = history.check("shop_home")
    assert home is not None and len(home["runs"]) == RING_SIZE and home["kept_runs"] == RING_SIZE
    history.configure("eu", [HOME])  # a reload that removes the journey
    assert history.check("shop_checkout") is None
    assert history.check("shop_home") is not None and len(history.check("shop_home")["runs"]) == RING_SIZE


def test_a_protocol_runs_view_and_page_show_what_it_measured() -> None:
    history = RunHistory()
    history.configure("eu", protocol_checks())
    runs = {check.name: protocol_result(check.name) for check in protocol_checks()}
    for run in runs.values():
        history.run_finished(run, run)
    cert = history.check("cert")
    assert cert is not None
    chain = cert["last"]["protocol"]["chain"]
    assert [c["subject"] for c in chain] == ["CN=leaf", "CN=ca"]
    assert chain[1]["days_left"] == round((1.8e9 - time.time()) / 86400, 1)
    page = check_html(cert)
    assert "CN=ca" in page and "TLSv1.3" in page and "TLS_AES_256_GCM_SHA384" in page
    ping = history.check("ping")
    assert ping is not None
    stats = ping["last"]["protocol"]
    assert (stats["sent"], stats["received"], stats["loss"]) == (5, 4, 0.2)
    assert (stats["rtt_min_s"], stats["rtt_max_s"]) == (0.0003, 0.0005)
    assert abs(stats["rtt_mdev_s"] - 0.0000707) < 1e-6
    assert "4/5" in check_html(ping) and "20.0%" in check_html(ping)
    resolve = history.check("resolve")
    assert resolve is not None and "NOERROR" in check_html(resolve)
    health = history.check("health")
    assert health is not None and "SERVING" in check_html(health)

    out = io.StringIO()
    run_log.setLevel(logging.INFO)
    try:
        RunLogger("eu", out).run_finished(runs["ping"], runs["ping"])
    finally:
        run_log.setLevel(logging.NOTSET)
    line = json.loads(out.getvalue())
    assert line["protocol"]["received"] == 4 and line["check"] == "ping"


def failed_page_run() -> Result:
    """A page run with 150 elements, two first-party images failed, one of them with a hostile URL."""
    first, third, ok, failed = Party.FIRST, Party.THIRD, ResourceOutcome.OK, ResourceOutcome.FAILED
    resources = [PageResource("http://127.0.0.1:8080/", ResourceType.DOCUMENT, first, ok, 200, start_s=0.0,
                              duration_s=0.05, transfer_bytes=4000, ttfb_s=0.04, download_s=0.01),
                 PageResource("http://127.0.0.1:8080/static/img/hero.svg", ResourceType.IMAGE, first, failed, 404,
                              "HTTP 404", 0.06, 0.01, 300),
                 PageResource('http://127.0.0.1:8080/<script>alert("x")</script>.png', ResourceType.IMAGE, first,
                              failed, None, "net::ERR_CONNECTION_REFUSED", 0.07, 0.002),
                 *(PageResource(f"http://localhost:8080/static/img/{i}.svg", ResourceType.IMAGE, third, ok, 200,
                                start_s=0.1, duration_s=0.02, transfer_bytes=900) for i in range(147))]
    totals = (ResourceTotal(ResourceType.DOCUMENT, first, ok, 1, 4000, 0.05),
              ResourceTotal(ResourceType.IMAGE, first, failed, 2, 300, 0.012),
              ResourceTotal(ResourceType.IMAGE, third, ok, 147, 147 * 900, 147 * 0.02))
    outcome = PageOutcome(document_status=200, title="Demo Shop", resources=tuple(resources[:100]), totals=totals,
                          unfinished=1)
    return Result(check="home_page", ok=False, reason=Reason.ASSERTION, duration_s=0.4, started_at=time.time(),
                  status_code=200, detail="2 first-party elements failed: http://127.0.0.1:8080/static/img/hero.svg",
                  journey=JourneyOutcome("20261203T100000Z-abcdef", artifacts=("home_page/r/page.har",)),
                  protocol=outcome)


def test_a_page_runs_view_log_line_and_page_list_its_elements() -> None:
    check = PageCheck.model_validate({"name": "home_page", "type": "page", "url": "http://127.0.0.1:8080/?k=secret",
                                      "interval": "1m", "timeout": "20s", "attempts": 1,
                                      "labels": {"site": "ours"}})
    history = RunHistory()
    history.configure("eu", [check])
    run = failed_page_run()
    history.run_finished(run, run)
    view = history.check("home_page")
    assert view is not None and view["labels"] == {"site": "ours"}
    summary = view["last"]["protocol"]
    assert (summary["elements"], summary["failed_first_party"], summary["failed_third_party"]) == (150, 2, 0)
    assert summary["by_type"] == {"document": 1, "image": 149} and summary["unfinished"] == 1
    assert summary["failed"][0]["url"] == "http://127.0.0.1:8080/static/img/hero.svg"
    assert len(view["last"]["waterfall"]) == 100  # the capped list; the counts above are whole
    assert "waterfall" not in view["runs"][0]  # only the last run's view carries it
    html = check_html(view)
    assert "Waterfall of the last run" in html and "hero.svg" in html and "HTTP 404" in html
    assert "<script>alert" not in html and "&lt;script&gt;" in html  # every value escaped
    assert "secret" not in json.dumps(view) and "Steps" not in html
    assert 'href="/artifacts/home_page/r/page.har"' in html

    out = io.StringIO()
    run_log.setLevel(logging.INFO)
    try:
        RunLogger("eu", out).run_finished(run, run)
    finally:
        run_log.setLevel(logging.NOTSET)
    line = json.loads(out.getvalue())
    assert line["protocol"]["failed"][1]["error"] == "net::ERR_CONNECTION_REFUSED"
    assert "waterfall" not in line and len(out.getvalue()) < 4000  # a log line stays small
