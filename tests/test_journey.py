"""Journeys end to end: real worker processes, real Chromium (Debian's headless shell), the real demo shop and
hostile pages from the fault server, all on loopback. One pool (and so one browser) serves the module."""

from __future__ import annotations

import asyncio
import io
import json
import logging
import os
import signal
import socket
import time
import zipfile
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio

from prober.config.models import JourneyCheck, JourneysSection
from prober.exporters.log import RunLogger
from prober.exporters.prometheus import PrometheusExporter
from prober.journey import processes
from prober.journey.pool import WorkerPool, new_run_id
from prober.journey.protocol import RunRequest
from prober.probers.journey import JourneyProber
from prober.result import PageEvent, Reason, Result, StepStatus, Vital
from tests.fault_server import FaultServer
from tests.processes import DemoShop, browser_pids

pytestmark = [pytest.mark.asyncio(loop_scope="module"), pytest.mark.slow]  # real Chromium: seconds per test

JOURNEYS = Path(__file__).parent / "journeys"
STEPS = str(JOURNEYS / "steps.py")
HOSTILE = str(JOURNEYS / "hostile.py")
SECRET = "hunter2-Sekr1t"


@pytest.fixture(scope="module")
def artifacts_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("artifacts")


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def pool() -> AsyncIterator[WorkerPool]:
    pool = WorkerPool(JourneysSection(workers=1, runs_per_worker=4))
    yield pool
    await pool.close()


def request(script: str, function: str, params: dict[str, Any], artifacts_dir: Path, *, timeout_s: float = 10.0,
            when: str = "failure", secrets: list[str] | None = None, fail_on_page_error: bool = False,
            check: str = "j") -> RunRequest:
    return RunRequest(run_id=new_run_id(), check=check, script=script, function=function, params=params,
                      secrets=secrets or [], timeout_s=timeout_s, fail_on_page_error=fail_on_page_error,
                      artifacts_dir=str(artifacts_dir), artifacts_when=when, trace=True)


def steps(result: Result) -> list[tuple[str, StepStatus]]:
    assert result.journey is not None
    return [(s.name, s.status) for s in result.journey.steps]


async def test_a_green_browser_journey_with_vitals(pool: WorkerPool, demo_shop: DemoShop, artifacts_dir: Path) -> None:
    result = await pool.run(request(STEPS, "green", {"base_url": demo_shop.url("")}, artifacts_dir))
    assert result.ok, result.detail
    assert steps(result) == [("open shop", StepStatus.OK), ("search", StepStatus.OK), ("type", StepStatus.OK)]
    assert result.journey is not None and result.journey.artifacts == ()  # nothing written for a pass
    loads = result.journey.page_loads
    assert len(loads) == 2  # the home page and the search results
    for load in loads:
        assert 0 < load[Vital.TTFB] < 5 and 0 < load[Vital.FCP] < 10, load
        assert load[Vital.LCP] >= load[Vital.FCP] and 0 <= load[Vital.CLS] < 0.1, load
    assert 0 < loads[1][Vital.INP] < 5  # clicks and keys on the results page (no navigation after them)
    assert 0 < result.duration_s < 10


async def test_a_failed_step_ends_the_journey_and_later_steps_are_not_run(
    pool: WorkerPool, demo_shop: DemoShop, artifacts_dir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    result = await pool.run(request(STEPS, "hard_failure", {"base_url": demo_shop.url("")}, artifacts_dir))
    assert result.reason is Reason.STEP_FAILED
    assert steps(result) == [("open shop", StepStatus.OK), ("find the unicorn", StepStatus.FAILED),
                             ("never reached", StepStatus.NOT_RUN)]
    assert "find the unicorn" in result.detail and "Unicorn Shop" in result.detail
    assert result.journey is not None
    folder = artifacts_dir / "j" / result.journey.run_id
    assert sorted(p.name for p in folder.iterdir()) == ["console.log", "screenshot.png", "trace.zip"]
    assert (folder / "screenshot.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert any(name.endswith(".trace") for name in zipfile.ZipFile(folder / "trace.zip").namelist())


async def test_a_soft_step_failure_goes_on_but_fails_the_run(
    pool: WorkerPool, demo_shop: DemoShop, artifacts_dir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    result = await pool.run(request(STEPS, "soft_failure", {"base_url": demo_shop.url("")}, artifacts_dir))
    assert steps(result) == [("open shop", StepStatus.OK), ("optional banner", StepStatus.SOFT_FAILED),
                             ("still runs", StepStatus.OK)]
    assert result.reason is Reason.STEP_FAILED and "(soft)" in result.detail


async def test_an_error_outside_any_step_is_a_script_error(pool: WorkerPool, artifacts_dir: Path) -> None:
    result = await pool.run(request(STEPS, "outside_steps", {}, artifacts_dir))
    assert result.reason is Reason.SCRIPT_ERROR and "outside any step" in result.detail
    assert steps(result)[0] == ("fine", StepStatus.OK)


async def test_a_script_that_raises_at_import(pool: WorkerPool, tmp_path: Path, artifacts_dir: Path) -> None:
    script = tmp_path / "broken.py"
    script.write_text("import os\nraise RuntimeError('broken at import')\n")
    result = await pool.run(request(str(script), None, {}, artifacts_dir))  # type: ignore[arg-type]
    assert result.reason is Reason.SCRIPT_ERROR
    assert "broken.py (line 2): RuntimeError: broken at import" in result.detail


@pytest.mark.parametrize("function", ["blocks", "busy"])
async def test_a_script_that_blocks_its_worker_costs_one_run(
    pool: WorkerPool, demo_shop: DemoShop, artifacts_dir: Path, function: str
) -> None:
    """time.sleep(3600) or a busy loop: interrupted within seconds; a run beside it in the same worker passes."""
    start = time.monotonic()
    blocked, beside = await asyncio.gather(
        pool.run(request(HOSTILE, function, {}, artifacts_dir, timeout_s=20)),
        pool.run(request(STEPS, "green", {"base_url": demo_shop.url("")}, artifacts_dir, timeout_s=20)),
    )
    assert blocked.reason is Reason.SCRIPT_ERROR and "blocked" in blocked.detail
    assert beside.ok, beside.detail
    assert time.monotonic() - start < 20


async def test_a_page_that_never_finishes_loading_times_out_with_a_screenshot(
    pool: WorkerPool, fault: FaultServer, artifacts_dir: Path
) -> None:
    result = await pool.run(request(HOSTILE, "never_loads", {"base_url": fault.url("")}, artifacts_dir,
                                    timeout_s=3))
    assert result.reason is Reason.TIMEOUT and "'open'" in result.detail
    assert 2.9 < result.duration_s < 6
    assert result.journey is not None
    assert any(a.endswith("screenshot.png") for a in result.journey.artifacts)


async def test_chinese_pages_render_with_a_cjk_font(pool: WorkerPool, artifacts_dir: Path) -> None:
    result = await pool.run(request(HOSTILE, "cjk", {}, artifacts_dir))
    assert result.ok, result.detail


async def test_a_refused_navigation(pool: WorkerPool, artifacts_dir: Path) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        closed_port = sock.getsockname()[1]
    result = await pool.run(request(HOSTILE, "refused", {"closed_url": f"http://127.0.0.1:{closed_port}/?token=x"},
                                    artifacts_dir))
    assert result.reason is Reason.NAVIGATION and "ERR_CONNECTION_REFUSED" in result.detail
    assert "token" not in result.detail and "<url>" in result.detail  # URLs never reach the detail


async def test_page_errors_are_counted_and_fail_the_run_only_when_asked(
    pool: WorkerPool, fault: FaultServer, artifacts_dir: Path
) -> None:
    params = {"base_url": fault.url("")}
    counted = await pool.run(request(HOSTILE, "throws", params, artifacts_dir))
    assert counted.ok, counted.detail
    assert counted.journey is not None
    # console errors: the page's console.error and Chromium's own "Failed to load resource" for the image
    assert counted.journey.page_events == {PageEvent.UNCAUGHT_EXCEPTION: 1, PageEvent.CONSOLE_ERROR: 2,
                                           PageEvent.FAILED_REQUEST: 1}
    failed = await pool.run(request(HOSTILE, "throws", params, artifacts_dir, fail_on_page_error=True))
    assert failed.reason is Reason.ASSERTION and "3 page error(s) (fail_on_page_error)" in failed.detail
    assert failed.journey is not None
    console = artifacts_dir / failed.journey.artifacts[1]
    assert "page exploded" in console.read_text() and "console says no" in console.read_text()


async def test_layout_shift_shows_in_cls(pool: WorkerPool, fault: FaultServer, artifacts_dir: Path) -> None:
    result = await pool.run(request(HOSTILE, "shifts", {"base_url": fault.url("")}, artifacts_dir))
    assert result.ok and result.journey is not None
    assert result.journey.page_loads[0][Vital.CLS] > 0.01  # 0 on the demo pages, which do not shift


async def test_secrets_are_absent_from_detail_logs_metrics_and_artifacts(
    pool: WorkerPool, demo_shop: DemoShop, artifacts_dir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    result = await pool.run(request(STEPS, "secret_in_failure", {"base_url": demo_shop.url(""), "password": SECRET},
                                    artifacts_dir, secrets=[SECRET], check="secretive"))
    assert result.reason is Reason.STEP_FAILED
    assert SECRET not in result.detail and "<redacted>" in result.detail
    exporter = PrometheusExporter(lambda: 0.0)
    exporter.configure("local", {}, [])
    log = io.StringIO()
    caplog.set_level(logging.INFO, logger="prober.run")  # as the agent runs it
    RunLogger("local", log).run_finished(result, result)
    assert json.loads(log.getvalue())["check"] == "secretive" and SECRET not in log.getvalue()
    assert SECRET not in exporter.render(None)[0].decode()
    assert result.journey is not None and len(result.journey.artifacts) == 3
    for artifact in result.journey.artifacts:
        path = artifacts_dir / artifact
        if path.suffix == ".zip":
            with zipfile.ZipFile(path) as trace:
                for name in trace.namelist():
                    assert SECRET.encode() not in trace.read(name), name
        else:
            assert SECRET.encode() not in path.read_bytes(), artifact
    assert "typed <redacted>" in (artifacts_dir / result.journey.artifacts[1]).read_text()


async def test_an_http_only_journey_starts_no_browser(demo_shop: DemoShop, artifacts_dir: Path) -> None:
    pool = WorkerPool(JourneysSection())
    try:
        params = {"base_url": demo_shop.url("").rstrip("/"), "username": "demo", "password": "demo"}
        script = str(Path(__file__).parent.parent / "checks" / "shop_api_order.py")
        result = await pool.run(request(script, None, params, artifacts_dir))  # type: ignore[arg-type]
        assert result.ok, result.detail
        assert result.journey is not None and result.journey.requests == 4 and result.status_code == 200
        assert result.phases and all(seconds > 0 for seconds in result.phases.values())
        assert pool.browser_processes() == 0 and pool.worker_count == 1
    finally:
        await pool.close()


async def test_a_crashing_interpreter_costs_one_run_and_a_new_worker(
    pool: WorkerPool, demo_shop: DemoShop, artifacts_dir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    died = pool.restarts.get("died", 0)
    crashed = await pool.run(request(HOSTILE, "exits", {}, artifacts_dir))
    assert crashed.reason is Reason.SCRIPT_ERROR and "exit code 3" in crashed.detail
    assert pool.restarts["died"] == died + 1
    again = await pool.run(request(STEPS, "green", {"base_url": demo_shop.url("")}, artifacts_dir))
    assert again.ok, again.detail


async def test_the_browser_killed_mid_run(pool: WorkerPool, fault: FaultServer, artifacts_dir: Path) -> None:
    run = asyncio.create_task(pool.run(request(HOSTILE, "waits", {"base_url": fault.url(""), "wait_s": 8},
                                               artifacts_dir, timeout_s=15)))
    browser_pid = None
    deadline = time.monotonic() + 20
    while browser_pid is None and time.monotonic() < deadline:
        await asyncio.sleep(0.2)
        mains = _browser_mains(pool)
        browser_pid = mains[0] if mains else None
    assert browser_pid is not None, "no browser found"
    for _ in range(100):  # up to 20 s: a slow VM takes seconds to open the page
        if _renderers(pool):
            break
        await asyncio.sleep(0.2)
    await asyncio.sleep(1.5)  # the page is open and the step waits
    os.kill(browser_pid, signal.SIGKILL)
    result = await run
    assert result.reason is Reason.BROWSER_CRASH, (result.reason, result.detail)
    again = await pool.run(request(HOSTILE, "trivial", {}, artifacts_dir))
    assert again.ok, again.detail
    deadline = time.monotonic() + 10  # the dead browser's helpers follow it: none is left behind
    while any(p.sid == browser_pid for p in processes.snapshot().values()):
        assert time.monotonic() < deadline, "processes of the killed browser outlived it"
        await asyncio.sleep(0.2)


def _worker_pids(pool: WorkerPool) -> set[int]:
    return {w.pid for w in pool._workers}


def _renderers(pool: WorkerPool) -> list[int]:
    """The pool's renderer processes: one exists once a page is open."""
    found = []
    for pid in processes.tree(_worker_pids(pool), processes.snapshot(), set()):
        try:
            if b"--type=renderer" in Path(f"/proc/{pid}/cmdline").read_bytes():
                found.append(pid)
        except OSError:
            continue  # gone meanwhile
    return found


def _browser_mains(pool: WorkerPool) -> list[int]:
    """The browsers' main processes: a browser process whose parent is not a browser."""
    procs = processes.snapshot()
    members = processes.tree(_worker_pids(pool), procs, set())
    return [p for p in members if processes.is_browser(procs[p])
            and not processes.is_browser(procs.get(procs[p].ppid, procs[p]))]


async def test_artifacts_are_pruned_by_count(tmp_path: Path, demo_shop: DemoShop) -> None:
    from prober.journey.artifacts import prune

    for i in range(5):
        run = tmp_path / "c" / f"2026112{i}T000000Z-00000{i}"
        run.mkdir(parents=True)
        (run / "console.log").write_text("x" * 1000)
        os.utime(run, (1_700_000_000 + i, 1_700_000_000 + i))
    pruned = prune(str(tmp_path), keep_runs=3, keep_bytes=1 << 30)
    assert (pruned.runs_removed, pruned.runs_kept) == (2, 3)
    assert sorted(p.name[-1] for p in (tmp_path / "c").iterdir()) == ["2", "3", "4"]
    pruned = prune(str(tmp_path), keep_runs=100, keep_bytes=1500)
    assert pruned.runs_kept == 1 and pruned.bytes_kept == 1000


async def test_the_journey_prober_prunes_artifacts_after_failed_runs(
    pool: WorkerPool, demo_shop: DemoShop, tmp_path: Path
) -> None:
    settings = JourneysSection(artifacts={"dir": str(tmp_path), "keep_runs": 2})
    check = JourneyCheck(name="pruned", type="journey", script=f"{STEPS}:hard_failure", interval="1m", timeout="10s",
                         attempts=1, params={"base_url": demo_shop.url("")})
    prober = JourneyProber(check, pool, settings)
    run_ids = []
    for _ in range(3):
        result = await prober.probe()
        assert result.reason is Reason.STEP_FAILED and result.journey is not None
        run_ids.append(result.journey.run_id)
    assert sorted(p.name for p in (tmp_path / "pruned").iterdir()) == sorted(run_ids[1:])  # the oldest went


async def test_a_full_artifacts_disk_costs_artifacts_never_the_run(pool: WorkerPool, demo_shop: DemoShop,
                                                                    tmp_path: Path) -> None:
    not_a_dir = tmp_path / "file"
    not_a_dir.write_text("a file where the artifacts folder should be")
    result = await pool.run(request(STEPS, "hard_failure", {"base_url": demo_shop.url("")}, not_a_dir))
    assert result.reason is Reason.STEP_FAILED
    assert result.journey is not None and result.journey.artifacts == ()


async def test_no_browser_process_outlives_the_pool(demo_shop: DemoShop, artifacts_dir: Path) -> None:
    pool = WorkerPool(JourneysSection(workers=1, runs_per_worker=2))
    result = await pool.run(request(STEPS, "green", {"base_url": demo_shop.url("")}, artifacts_dir))
    assert result.ok
    assert pool.browser_processes() >= 2  # the browser's main process and at least one helper
    sessions = set().union(*(w.sessions for w in pool._workers))
    await pool.close()
    procs = processes.snapshot()
    assert not [p for p in processes.tree(set(), procs, sessions) if processes.is_browser(procs[p])]


async def test_a_reload_that_changes_the_browser_replaces_the_workers(artifacts_dir: Path) -> None:
    pool = WorkerPool(JourneysSection())
    try:
        assert (await pool.run(request(HOSTILE, "trivial", {}, artifacts_dir))).ok
        first = _worker_pids(pool)
        pool.configure(JourneysSection(runs_per_worker=2))  # limits only: the worker stays
        assert (await pool.run(request(HOSTILE, "trivial", {}, artifacts_dir))).ok
        assert _worker_pids(pool) == first
        pool.configure(JourneysSection(browser={"args": ["--lang=fr"]}))
        assert (await pool.run(request(HOSTILE, "trivial", {}, artifacts_dir))).ok
        assert pool.restarts == {"config": 1}
        deadline = time.monotonic() + 15  # the retired worker stops in the background
        while first & _worker_pids(pool):
            assert time.monotonic() < deadline
            await asyncio.sleep(0.2)
    finally:
        await pool.close()



@pytest.mark.slow
async def test_a_hundred_runs_leak_no_browser_process(artifacts_dir: Path) -> None:
    """100 runs, 4 at a time, with the worker recycled every 30 runs: browsers stay bounded and all go at the end."""
    before = browser_pids()
    pool = WorkerPool(JourneysSection(workers=1, runs_per_worker=4, recycle_after_runs=30))
    peak = 0
    try:
        for batch in range(25):
            results = await asyncio.gather(*(pool.run(request(HOSTILE, "trivial", {}, artifacts_dir))
                                             for _ in range(4)))
            assert all(r.ok for r in results), [r.detail for r in results if not r.ok]
            peak = max(peak, pool.browser_processes())
            if batch == 0:  # four runs that started together on a fresh worker share one browser launch
                assert len(_browser_mains(pool)) == 1
        assert pool.restarts.get("runs", 0) == 3
        assert 2 <= peak <= 30  # a draining worker's browser and its replacement's overlap for a moment
    finally:
        await pool.close()
    assert not browser_pids() - before  # other tests' browsers may come and go; none of this pool's stays
