"""Run history for the status page: bounded rings, views without secrets, availability of counted runs."""

from __future__ import annotations

import io
import json
import logging
import time

from prober.config.models import HttpCheck, JourneyCheck
from prober.exporters.log import RunLogger, run_log
from prober.exporters.status import RING_SIZE, RunHistory
from prober.result import Counted, JourneyOutcome, Phase, Reason, Result, StepResult, StepStatus, Vital
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
