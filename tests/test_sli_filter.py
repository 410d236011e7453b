"""Which runs count toward the SLIs: canaries (a real loopback target) and maintenance windows decide."""

from __future__ import annotations

import time

from prober.config.models import AgentConfig, HttpCheck
from prober.probers import TlsContexts
from prober.probers.http import HttpProber
from prober.result import Counted, Reason, Result
from prober.scheduler import Job
from prober.sli_filter import SliFilter, judged_for_overload
from prober.vantage import Vantage
from tests.fault_server import FaultServer


def http_check(name: str, url: str, **extra: object) -> HttpCheck:
    return HttpCheck.model_validate({"name": name, "type": "http", "url": url, "interval": "1m", "timeout": "2s",
                                     "attempts": 1, **extra})


def run(check: str, ok: bool) -> Result:
    return Result(check=check, ok=ok, reason=Reason.OK if ok else Reason.CONNECT, duration_s=0.1,
                  started_at=time.time() - 0.1)


async def judged(fault: FaultServer, canary_path: str, ok: bool) -> tuple[Result, Vantage]:
    canary = http_check("canary", fault.url(canary_path))
    vantage = Vantage()
    vantage.configure([Job(canary, HttpProber(canary, TlsContexts()))])
    sli = SliFilter(vantage)
    check = http_check("shop", fault.url("/ok"))
    sli.configure(AgentConfig(checks=[check]), [check])
    try:
        return await sli.judge(check, run("shop", ok)), vantage
    finally:
        await vantage.stop()


async def test_a_failure_with_a_healthy_canary_counts(fault: FaultServer) -> None:
    result, vantage = await judged(fault, "/ok", ok=False)
    assert result.counted is Counted.SLI and vantage.healthy
    assert vantage.canary_results() == {"canary": True}


async def test_a_failure_while_every_canary_fails_is_inconclusive(fault: FaultServer) -> None:
    result, vantage = await judged(fault, "/status/503", ok=False)
    assert result.counted is Counted.INCONCLUSIVE and not vantage.healthy
    assert vantage.canary_results() == {"canary": False}


async def test_a_success_during_a_vantage_outage_is_inconclusive_too(fault: FaultServer) -> None:
    canary = http_check("canary", fault.url("/status/503"))
    vantage = Vantage()
    vantage.configure([Job(canary, HttpProber(canary, TlsContexts()))])
    try:
        assert not await vantage.confirm()  # the outage is seen
        sli = SliFilter(vantage)
        check = http_check("shop", fault.url("/ok"))
        sli.configure(AgentConfig(checks=[check]), [check])
        assert (await sli.judge(check, run("shop", ok=True))).counted is Counted.INCONCLUSIVE
    finally:
        await vantage.stop()


async def test_a_run_in_a_maintenance_window_counts_apart(fault: FaultServer) -> None:
    check = http_check("shop", fault.url("/ok"), maintenance=[{"start": "00:00", "duration": "1d"}])
    other = http_check("other", fault.url("/ok"))
    sli = SliFilter(Vantage())
    sli.configure(AgentConfig(checks=[check, other]), [check, other])
    assert (await sli.judge(check, run("shop", ok=False))).counted is Counted.MAINTENANCE
    assert (await sli.judge(other, run("other", ok=False))).counted is Counted.SLI
    assert sli.in_maintenance("shop", time.time()) and not sli.in_maintenance("other", time.time())


def test_only_failures_on_time_while_the_agent_ran_late_are_inconclusive() -> None:
    timed_out = Result(check="shop", ok=False, reason=Reason.TIMEOUT, duration_s=2.0, started_at=time.time() - 2,
                       detail="no answer within 2s (during ttfb)")
    late = judged_for_overload(timed_out, timeout_s=2.0, loop_late_s=0.2)
    assert late.counted is Counted.INCONCLUSIVE and late.reason is Reason.TIMEOUT
    assert late.detail == "no answer within 2s (during ttfb); inconclusive: the agent ran 200ms late during this run"
    assert judged_for_overload(timed_out, timeout_s=2.0, loop_late_s=0.19) is timed_out  # under a tenth: counts
    refused = run("shop", ok=False)  # a refused connection is the target's answer, however late the agent ran
    assert judged_for_overload(refused, timeout_s=2.0, loop_late_s=5.0) is refused
    passed = run("shop", ok=True)
    assert judged_for_overload(passed, timeout_s=2.0, loop_late_s=5.0) is passed
