"""Probe workers as real processes probing a real loopback server: stable shares, judged runs in order, a
killed or stuck worker replaced (its in-flight run `internal`, its missed slots skipped), drain on stop, a
reassignment that keeps cadence, and no worker outliving the agent."""

from __future__ import annotations

import asyncio
import itertools
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from prober.config.models import AgentConfig, HttpCheck
from prober.probers import TlsContexts
from prober.probers.http import HttpProber
from prober.probing.supervisor import HANG_AFTER_S, ProbeWorkers, worker_count, worker_of
from prober.result import Counted, Reason
from prober.scheduler import Job
from prober.sli_filter import SliFilter
from prober.vantage import Vantage
from tests.fault_server import FaultServer
from tests.processes import REPO
from tests.test_scheduler import Recorder, until
from tests.tls_certs import Certs


def http_check(name: str, url: str, interval: str, timeout: str, **extra: object) -> HttpCheck:
    return HttpCheck.model_validate({"name": name, "type": "http", "url": url, "interval": interval,
                                     "timeout": timeout, "attempts": 1, **extra})


def alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


@pytest.fixture
async def workers() -> AsyncIterator[tuple[ProbeWorkers, Recorder, SliFilter]]:
    recorder = Recorder()
    sli = SliFilter(Vantage())
    probers = ProbeWorkers(2, [recorder], sli)
    await probers.start()
    pids = probers.pids()
    yield probers, recorder, sli
    await probers.stop()
    assert not any(alive(pid) for pid in [*pids, *probers.pids()])


def test_checks_are_split_stably_and_evenly() -> None:
    names = [f"check_{i}" for i in range(3000)]
    shares = Counter(worker_of(n, 3) for n in names)
    assert [worker_of(n, 3) for n in names] == [worker_of(n, 3) for n in names]
    assert set(shares) == {0, 1, 2} and min(shares.values()) > 900


async def test_runs_reach_the_observers_judged(workers: tuple[ProbeWorkers, Recorder, SliFilter],
                                               fault: FaultServer) -> None:
    probers, recorder, sli = workers
    ok = http_check("ok", fault.url("/ok"), "300ms", "250ms")
    planned = http_check("planned", fault.url("/status/503"), "300ms", "250ms",
                         maintenance=[{"name": "now", "from": "2020-01-01T00:00:00", "to": "2099-01-01T00:00:00"}])
    sli.configure(AgentConfig(checks=[ok, planned]), [ok, planned])
    probers.assign([ok, planned], 10)
    assert await probers.wait_ready(30)
    await until(lambda: sum(1 for r, _, _ in recorder.finished if r.check == "planned") >= 2, 10)
    await until(lambda: sum(1 for r, _, _ in recorder.finished if r.check == "ok") >= 2, 10)
    by_check = {r.check: r for r, _, _ in recorder.finished}
    assert by_check["ok"].ok and by_check["ok"].counted is Counted.SLI
    assert by_check["planned"].reason is Reason.HTTP_STATUS and by_check["planned"].counted is Counted.MAINTENANCE
    assert recorder.max_in_flight_per_check["ok"] == 1


async def test_a_failed_run_waiting_for_its_canary_round_is_still_reported_before_the_next(
        fault: FaultServer) -> None:
    recorder = Recorder()
    canary = http_check("canary", fault.url("/delay/700"), "1m", "2s")
    vantage = Vantage()
    vantage.configure([Job(canary, HttpProber(canary, TlsContexts()))])
    sli = SliFilter(vantage)
    flaky = http_check("flaky", fault.url("/flaky/1/ordered"), "250ms", "200ms")  # fails once, then passes
    sli.configure(AgentConfig(checks=[flaky]), [flaky])
    probers = ProbeWorkers(1, [recorder], sli)
    await probers.start()
    try:
        await asyncio.sleep(3.0)  # the canaries' first round is stale (FRESH_S): the failure asks for a fresh one
        probers.assign([flaky], 10)
        await until(lambda: len(recorder.finished) >= 4, 10)
    finally:
        await probers.stop()
        await vantage.stop()
    runs = [r for r, _, _ in recorder.finished]
    assert not runs[0].ok and all(r.ok for r in runs[1:])
    assert [r.started_at for r in runs] == sorted(r.started_at for r in runs)  # in order, the failure first


async def test_a_killed_worker_is_replaced_its_run_ends_internal_and_its_slots_are_skipped(
        fault: FaultServer) -> None:
    recorder = Recorder()
    slow = http_check("slow", fault.url("/delay/1500"), "2s", "1900ms")
    fast = http_check("fast", fault.url("/ok"), "200ms", "150ms")
    probers = ProbeWorkers(1, [recorder], SliFilter(Vantage()))
    await probers.start()
    try:
        probers.assign([slow, fast], 10)
        await until(lambda: recorder.in_flight["slow"] == 1, 10)
        victim = probers.pids()[0]
        os.kill(victim, signal.SIGKILL)
        await until(lambda: any(r.reason is Reason.INTERNAL for r, _, _ in recorder.finished), 5)
        await until(lambda: probers.restarts.get("died") == 1 and probers.ready, 15)
        restarted_at = time.monotonic()
        await until(lambda: any(t > restarted_at and r.check == "fast" for r, _, t in recorder.finished), 5)
    finally:
        await probers.stop()
    assert not alive(victim) and probers.restarts == {"died": 1}
    # the slow run was in flight; so now and then is a fast one (a 1 ms run every 200 ms): each ends internal
    lost = [r for r, _, _ in recorder.finished if r.reason is Reason.INTERNAL]
    assert "slow" in [r.check for r in lost] and len(lost) <= 2, [(r.check, r.detail) for r in lost]
    assert all("the probe worker ended (exit code -9) during this run" in r.detail for r in lost)
    assert set(recorder.in_flight.values()) == {0}  # every start has its end
    # every slot of `fast` from its first run to its last was run or counted skipped, none twice. A slot is a
    # run's start by the worker's clock (its result's started_at) minus its lag: the main's receipt of the start
    # is later by however long the message took, up to half a slot on a loaded machine. Its runs never overlap,
    # so the i-th start is the i-th result (the one lost with the worker included, stamped by the main)
    lags = [lag for c, lag, _ in recorder.started if c == "fast"]
    fast_runs = [r for r, _, _ in recorder.finished if r.check == "fast"]
    assert len(lags) == len(fast_runs)
    dues = sorted(r.started_at - lag for r, lag in zip(fast_runs, lags, strict=True))
    slots = round((dues[-1] - dues[0]) / 0.2) + 1
    assert recorder.skipped["fast"] >= 1
    assert abs(len(dues) + recorder.skipped["fast"] - slots) <= 1, (len(dues), recorder.skipped["fast"], slots)


@pytest.mark.slow
async def test_a_stuck_worker_is_killed_and_replaced(fault: FaultServer) -> None:
    recorder = Recorder()
    probers = ProbeWorkers(1, [recorder], SliFilter(Vantage()))
    await probers.start()
    try:
        probers.assign([http_check("slow", fault.url("/delay/1500"), "2s", "1900ms")], 10)
        await until(lambda: recorder.in_flight["slow"] == 1, 10)
        victim = probers.pids()[0]
        os.kill(victim, signal.SIGSTOP)  # its loop stops: no heartbeat, no result, nothing
        stopped = time.monotonic()
        await until(lambda: probers.restarts.get("hung") == 1, HANG_AFTER_S + 10)
        assert time.monotonic() - stopped >= HANG_AFTER_S - 1.5  # not before its heartbeats were overdue
        await until(lambda: probers.ready and len(recorder.finished) >= 2, 15)
    finally:
        await probers.stop()
    assert not alive(victim)
    first, second = (r for r, _, _ in recorder.finished[:2])
    assert first.reason is Reason.INTERNAL and "answered nothing" in first.detail
    assert second.ok
    assert recorder.skipped["slow"] >= 3  # the slots of its ~10 s of silence


async def test_a_run_that_times_out_while_its_worker_ran_late_is_inconclusive_not_a_failure(
        fault: FaultServer) -> None:
    recorder = Recorder()
    probers = ProbeWorkers(1, [recorder], SliFilter(Vantage()))
    await probers.start()
    try:  # the target answers after 2.5 s, the check gives up at 2 s: every run times out
        probers.assign([http_check("late", fault.url("/delay/2500"), "3s", "2s")], 10)
        await until(lambda: recorder.in_flight["late"] == 1, 10)
        victim = probers.pids()[0]
        os.kill(victim, signal.SIGSTOP)  # the worker's loop stalls for 1 s in the run (half its timeout)
        await asyncio.sleep(1.0)
        os.kill(victim, signal.SIGCONT)
        await until(lambda: len(recorder.finished) >= 2, 15)  # and the next run has no stall
    finally:
        await probers.stop()
    stalled, plain = (r for r, _, _ in recorder.finished[:2])
    assert stalled.reason is Reason.TIMEOUT and stalled.counted is Counted.INCONCLUSIVE, stalled
    assert "inconclusive: the agent ran" in stalled.detail
    assert plain.reason is Reason.TIMEOUT and plain.counted is Counted.SLI, plain  # a real timeout still counts
    assert probers.restarts == {}


async def test_stop_lets_in_flight_runs_finish(fault: FaultServer) -> None:
    recorder = Recorder()
    probers = ProbeWorkers(1, [recorder], SliFilter(Vantage()))
    await probers.start()
    probers.assign([http_check("slow", fault.url("/delay/1200"), "10s", "5s")], 10)
    await until(lambda: recorder.in_flight["slow"] == 1, 15)
    pid = probers.pids()[0]
    await probers.stop()
    assert [(r.ok, r.duration_s >= 1.2) for r, _, _ in recorder.finished] == [(True, True)]
    assert not alive(pid) and probers.restarts == {}


async def test_a_reassignment_keeps_unchanged_checks_on_their_grid(
        workers: tuple[ProbeWorkers, Recorder, SliFilter], fault: FaultServer) -> None:
    probers, recorder, _ = workers
    steady = http_check("steady", fault.url("/ok"), "300ms", "250ms")
    probers.assign([steady], 10)
    await until(lambda: len(recorder.started) >= 3, 10)
    for i in range(3):  # reload three times, adding checks: steady's task goes on untouched
        probers.assign([steady, http_check(f"new{i}", fault.url("/ok"), "300ms", "250ms")], 10)
        await asyncio.sleep(0.35)
    await until(lambda: sum(1 for c, _, _ in recorder.started if c == "new2") >= 1, 5)
    dues = [t - lag for c, lag, t in recorder.started if c == "steady"]
    steps = [(b - a) / 0.3 for a, b in itertools.pairwise(dues)]
    assert all(abs(step - round(step)) < 0.25 and round(step) >= 1 for step in steps), steps  # one grid
    # its one task went on through the reloads: every slot was run or counted skipped (a restarted task would
    # have lost slots without counting them)
    assert sum(round(step) for step in steps) == len(steps) + recorder.skipped["steady"]


async def test_a_check_that_no_longer_builds_in_its_worker_keeps_the_last_one_until_it_builds_again(
        workers: tuple[ProbeWorkers, Recorder, SliFilter], fault: FaultServer, certs: Certs, tmp_path: Path,
        caplog: pytest.LogCaptureFixture) -> None:
    """The worker builds a check's prober from its CA file: one that went bad since the agent read it keeps the
    worker on its last check; once it is good again, the same assignment is sent whole and taken."""
    probers, recorder, _ = workers
    ca_file = tmp_path / "ca.pem"
    ca_file.write_bytes(certs.ca_cert.read_bytes())

    def check(path: str) -> HttpCheck:  # follow_redirects: an http check that may need its TLS settings
        return http_check("a", fault.url(path), "200ms", "150ms", follow_redirects=True,
                          tls={"ca_file": str(ca_file)})

    def outcomes() -> list[bool]:
        return [result.ok for result, _, _ in recorder.finished]

    probers.assign([check("/ok")], 10)
    await until(lambda: len(outcomes()) >= 2, 10)
    ca_file.write_text("not a certificate")
    probers.assign([check("/status/503")], 10)
    await until(lambda: "could not build every prober" in caplog.text, 10)
    assert "could not build every prober" in caplog.text
    runs = len(outcomes())
    await until(lambda: len(outcomes()) >= runs + 2, 10)
    assert len(outcomes()) >= runs + 2 and all(outcomes()), "the last good check runs on"
    ca_file.write_bytes(certs.ca_cert.read_bytes())
    probers.assign([check("/status/503")], 10)  # unchanged for the agent: the worker still gets it whole
    await until(lambda: outcomes()[-2:] == [False, False], 10)
    assert outcomes()[-2:] == [False, False]  # the 503s of the check it now runs
    problems = [problem for record in caplog.records for problem in getattr(record, "problems", [])]
    assert problems and all(problem.startswith("a: tls: cannot load") for problem in problems), problems


def test_workers_do_not_outlive_a_killed_agent(tmp_path: Path) -> None:
    """The agent dies by SIGKILL (no cleanup at all): its workers die with it, even one whose loop is stuck."""
    script = tmp_path / "agent.py"
    script.write_text(
        "import asyncio, os, signal, sys\n"
        "from prober.probing.supervisor import ProbeWorkers\n"
        "from prober.sli_filter import SliFilter\n"
        "from prober.vantage import Vantage\n"
        "async def main():\n"
        "    probers = ProbeWorkers(2, [], SliFilter(Vantage()))\n"
        "    await probers.start()\n"
        "    probers.assign([], 10)\n"
        "    assert await probers.wait_ready(30)\n"
        "    os.kill(probers.pids()[0], signal.SIGSTOP)\n"
        "    print(*probers.pids(), flush=True)\n"
        "    await asyncio.sleep(60)\n"
        "asyncio.run(main())\n")
    agent = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, text=True, cwd=REPO)
    try:
        assert agent.stdout is not None
        pids = [int(p) for p in agent.stdout.readline().split()]
        assert len(pids) == 2 and all(alive(p) for p in pids)
    finally:
        os.kill(agent.pid, signal.SIGKILL)
        agent.wait(10)
        if agent.stdout is not None:
            agent.stdout.close()
    deadline = time.monotonic() + 10
    while any(alive(p) for p in pids) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not any(alive(p) for p in pids)


def test_auto_is_the_cores_this_process_may_use_capped_by_its_cgroup_quota(tmp_path: Path) -> None:
    cores = len(os.sched_getaffinity(0))
    cpu_max = tmp_path / "cpu.max"
    assert worker_count(3, cpu_max) == 3
    assert worker_count("auto", cpu_max) == cores  # no cgroup file: the affinity
    cpu_max.write_text("max 100000\n")
    assert worker_count("auto", cpu_max) == cores
    cpu_max.write_text("50000 100000\n")  # half a core (a pod's `limits.cpu: 500m`)
    assert worker_count("auto", cpu_max) == 1
    cpu_max.write_text(f"{(cores + 4) * 100000} 100000\n")
    assert worker_count("auto", cpu_max) == cores
