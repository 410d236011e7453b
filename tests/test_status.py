"""Run history for the status page: bounded rings, views without secrets, availability of counted runs."""

from __future__ import annotations

import json
import time

from prober.config.models import HttpCheck, JourneyCheck
from prober.exporters.status import RING_SIZE, RunHistory
from prober.result import Counted, JourneyOutcome, Phase, Reason, Result, StepResult, StepStatus, Vital

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
