"""The composition root: load config, build probers, start scheduler and server, reload, stop.

A reload validates the new config and builds every prober before anything is swapped, so a bad config keeps
the last good one running; checks whose config did not change keep their task, cadence and counters.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import signal
import time
from pathlib import Path

from aiohttp import web

from prober.config import AgentConfig, ConfigError, load_config
from prober.config.models import AgentSection, BasicAuth, Check, JourneyCheck, JourneysSection
from prober.config.page_check import PageCheck
from prober.event_loop import LoopLagMonitor
from prober.exporters.log import RunLogger
from prober.exporters.prometheus import PrometheusExporter
from prober.exporters.status import RunHistory
from prober.journey.devices import device_problem
from prober.journey.pool import WorkerPool
from prober.journey.validation import script_problems
from prober.probers import IN_AGENT_TYPES, ProberDeps, TlsContexts, build_prober
from prober.probing.jobs import build_jobs as probing_jobs
from prober.probing.supervisor import ProbeWorkers, worker_count
from prober.result import Result
from prober.scheduler import Job, RunObserver, Scheduler, run_with_attempts
from prober.server import bound_port, build_app, start_server
from prober.sli_filter import SliFilter
from prober.vantage import Vantage

log = logging.getLogger("prober.agent")

WATCH_PERIOD_S = 2.0
START_TIMEOUT_S = 30.0
"""How long the agent waits at start for its probe workers to take their checks before it says it started."""


def build_jobs(config: AgentConfig, path: Path, pool: WorkerPool) -> tuple[list[Job], list[Job]]:
    """(a job per check of this agent's region and shard, a job per canary); a prober that cannot be built is a
    ConfigError."""
    deps = ProberDeps(TlsContexts(), pool, config.agent.journeys)
    problems: list[str] = []
    built: list[list[Job]] = []
    for section, checks in (("checks", list(enumerate(config.checks))),
                            ("agent.canaries", list(enumerate(config.agent.canaries)))):
        wanted = [(i, c) for i, c in checks if section != "checks" or config.runs_here(c)]
        jobs, failed = probing_jobs([c for _i, c in wanted], deps)
        problems += [f"{path}: {section}[{wanted[j][0]}] ({wanted[j][1].name}): {problem}" for j, problem in failed]
        built.append(jobs)
    if problems:
        raise ConfigError(problems)
    return built[0], built[1]


def browser_check_problems(checks: list[tuple[int, Check]], path: Path) -> list[str]:
    """Import the journey scripts of these (index, check) pairs in a child process, and look up every `device:` in
    Playwright's list (another child); a problem per bad script or device."""
    journeys = [(i, c) for i, c in checks if isinstance(c, JourneyCheck)]
    found = script_problems([check.script for _i, check in journeys])
    problems = [f"{path}: checks[{index}] ({check.name}): script: {problem}"
                for (index, check), problem in zip(journeys, found, strict=True) if problem]
    for index, check in checks:
        device = check.device if isinstance(check, JourneyCheck | PageCheck) else None
        problem = device_problem(device) if device is not None else None
        if problem:
            problems.append(f"{path}: checks[{index}] ({check.name}): device: {problem}")
    return problems


def load(
    path: Path, region: str | None, listen: str | None, pool: WorkerPool
) -> tuple[AgentConfig, tuple[list[Job], list[Job]]]:
    """Load, validate (journey scripts imported in a child) and build the jobs of checks and canaries; raise
    ConfigError naming every problem.

    Blocking (file reads, a child process): the agent calls it in a thread.
    """
    config = load_config(path, region=region, listen=listen)
    problems = browser_check_problems([(i, c) for i, c in enumerate(config.checks) if config.runs_here(c)], path)
    if problems:
        raise ConfigError(problems)
    return config, build_jobs(config, path, pool)


async def check_once(path: Path, name: str, region: str | None = None) -> tuple[Result, Result, str]:
    """Run the named check once, with its attempts, whatever its regions: (final, first attempt, artifacts
    folder). Raises ConfigError or KeyError."""
    config = load_config(path, region=region)
    for index, check in enumerate(config.checks):
        if check.name == name:
            problems = browser_check_problems([(index, check)], path)
            if problems:
                raise ConfigError(problems)
            pool = WorkerPool(config.agent.journeys)
            try:
                deps = ProberDeps(TlsContexts(), pool, config.agent.journeys)
                final, first = await run_with_attempts(Job(check, build_prober(check, deps)))  # counted, always
                return final, first, config.agent.journeys.artifacts.dir
            finally:
                await pool.close()
    raise KeyError(name)


def _restart_only_changes(old: AgentSection, new: AgentSection) -> list[str]:
    """The changed keys that a reload cannot apply (the server and the probe workers are set up once)."""
    pairs = {"agent.listen": (old.listen, new.listen), "agent.web.tls": (old.web.tls, new.web.tls),
             "agent.max_concurrent_runs": (old.max_concurrent_runs, new.max_concurrent_runs),
             "agent.probe_workers": (old.probe_workers, new.probe_workers)}
    return [key for key, (before, after) in pairs.items() if before != after]


def _fingerprint(path: Path) -> bytes:
    try:
        return hashlib.sha256(path.read_bytes()).digest()
    except OSError:
        return b""


class Agent:
    """One running agent; `run()` returns the process exit code."""

    def __init__(self, path: Path, *, region: str | None = None, listen: str | None = None,
                 log_level: str = "info") -> None:
        self.path = path
        self._log_level = log_level
        self._region_override = region
        self._listen_override = listen
        self._stop = asyncio.Event()
        self._reload_lock = asyncio.Lock()
        self._monitor = LoopLagMonitor()
        self.exporter = PrometheusExporter(self._loop_lag_s, self)
        self._run_logger = RunLogger(region or "local")
        self.history = RunHistory()
        self.pool = WorkerPool(JourneysSection())
        self.vantage = Vantage()
        self._sli_filter = SliFilter(self.vantage)
        self._scheduler: Scheduler | None = None  # journeys, in this process (their pool's workers time them)
        self._probers: ProbeWorkers | None = None  # every other check, in probe workers
        self._config: AgentConfig | None = None
        self._fingerprint = b""
        self.runner: web.AppRunner | None = None
        self._pending: set[asyncio.Task[bool]] = set()

    @property
    def ready(self) -> bool:
        return (self._config is not None and self._scheduler is not None and self._scheduler.running
                and self._probers is not None and self._probers.started)

    def _web_auth(self) -> BasicAuth | None:
        return self._config.agent.web.basic_auth if self._config else None

    async def run(self) -> int:
        self._fingerprint = _fingerprint(self.path)
        try:
            config, jobs = await asyncio.to_thread(load, self.path, self._region_override, self._listen_override,
                                                   self.pool)
        except ConfigError as exc:
            log.error("config rejected", extra={"config": str(self.path), "problems": exc.problems})
            return 2
        self._monitor.start()
        observers: list[RunObserver] = [self.exporter, self._run_logger, self.history]
        self._scheduler = Scheduler(observers, config.agent.max_concurrent_runs, self._sli_filter.judge)
        self._probers = ProbeWorkers(worker_count(config.agent.probe_workers), observers, self._sli_filter,
                                     self._log_level)
        try:
            await self._probers.start()
        except OSError as exc:
            log.error("cannot start the probe workers", extra={"error": str(exc)})
            await self._monitor.stop()
            return 2
        app = build_app(self.exporter.render, lambda: self.ready, self._web_auth, self._artifacts_dir, self.history)
        try:
            self.runner = await start_server(app, config.agent.listen, config.agent.web.tls)
        except OSError as exc:
            log.error("cannot listen", extra={"listen": config.agent.listen, "error": str(exc)})
            await self._probers.stop()
            await self._monitor.stop()
            return 2
        self._adopt(config, jobs)
        self.exporter.reload_done(True)
        if not await self._probers.wait_ready(START_TIMEOUT_S):
            log.error("the probe workers did not take their checks in time; they are replaced as they fail",
                      extra={"timeout_s": START_TIMEOUT_S})
        loop = asyncio.get_running_loop()
        loop.add_signal_handler(signal.SIGHUP, self._reload_soon)
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, self._stop.set)
        watcher = asyncio.create_task(self._watch(), name="config-watcher")
        log.info("agent started", extra={"config": str(self.path), "listen": config.agent.listen,
                                         "port": bound_port(self.runner), "region": config.agent.region,
                                         "checks": len(jobs[0]), "shard": config.agent.shard,
                                         "probe_workers": self._probers.count})
        await self._stop.wait()
        log.info("agent stopping: waiting for in-flight runs")
        watcher.cancel()
        await asyncio.gather(self._scheduler.stop(), self._probers.stop())
        await self.vantage.stop()
        await self.pool.close()
        await self._monitor.stop()
        await self.runner.cleanup()
        for sig in (signal.SIGHUP, signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(sig)
        log.info("agent stopped")
        return 0

    def stop(self) -> None:
        self._stop.set()

    def _reload_soon(self) -> None:
        task = asyncio.create_task(self.reload(), name="reload")
        self._pending.add(task)  # keep a reference until done: the loop holds tasks only weakly
        task.add_done_callback(self._pending.discard)

    async def reload(self) -> bool:
        """Load the config again; swap it in if valid, else keep the last good one. Returns success."""
        async with self._reload_lock:
            self._fingerprint = _fingerprint(self.path)
            try:
                config, jobs = await asyncio.to_thread(load, self.path, self._region_override,
                                                       self._listen_override, self.pool)
            except ConfigError as exc:
                self.exporter.reload_done(False)
                log.error("config reload rejected; keeping the last good config",
                          extra={"config": str(self.path), "problems": exc.problems})
                return False
            if self._config is not None and (changed := _restart_only_changes(self._config.agent, config.agent)):
                log.warning("changed keys apply after a restart", extra={"keys": changed})
            self._adopt(config, jobs)
            self.exporter.reload_done(True)
            log.info("config reloaded", extra={"config": str(self.path), "checks": len(jobs[0])})
            return True

    def _artifacts_dir(self) -> str:
        return (self._config.agent.journeys if self._config else JourneysSection()).artifacts.dir

    # the journey pool's figures, for the exporter
    def browser_processes(self) -> int:
        return self.pool.browser_processes()

    def journey_workers(self) -> int:
        return self.pool.worker_count

    def journey_worker_restarts(self) -> dict[str, int]:
        return dict(self.pool.restarts)

    # the vantage point and maintenance windows, for the exporter
    def vantage_healthy(self) -> bool:
        return self.vantage.healthy

    def canary_results(self) -> dict[str, bool]:
        return self.vantage.canary_results()

    def in_maintenance(self, check: str) -> bool:
        return self._sli_filter.in_maintenance(check, time.time())

    # the probe workers, for the exporter
    def probe_workers(self) -> int:
        return self._probers.alive if self._probers else 0

    def probe_worker_restarts(self) -> dict[str, int]:
        return dict(self._probers.restarts) if self._probers else {}

    def _loop_lag_s(self) -> float:
        """The latest of this process's loop lag and each probe worker's."""
        return max(self._monitor.lag_s, self._probers.loop_lag_s() if self._probers else 0.0)

    def _adopt(self, config: AgentConfig, built: tuple[list[Job], list[Job]]) -> None:
        assert self._scheduler is not None and self._probers is not None
        jobs, canaries = built
        checks = [job.check for job in jobs]
        self._config = config
        self.pool.configure(config.agent.journeys)
        self._run_logger.region = config.agent.region
        self._sli_filter.configure(config, checks)
        self.vantage.configure(canaries)
        self.exporter.configure(config.agent.region, config.agent.labels, checks,
                                phase_histograms=config.agent.metrics.phase_histograms,
                                maintained=self._sli_filter.maintained)
        self.history.configure(config.agent.region, checks)
        self._scheduler.apply([job for job in jobs if job.check.type in IN_AGENT_TYPES])
        # the probers built here proved the checks valid; each worker builds its own share again
        self._probers.assign([job.check for job in jobs if job.check.type not in IN_AGENT_TYPES],
                             config.agent.max_concurrent_runs)

    async def _watch(self) -> None:
        """Reload when the file's content changes (polling: works on every filesystem and ConfigMap)."""
        while True:
            await asyncio.sleep(WATCH_PERIOD_S)
            if _fingerprint(self.path) != self._fingerprint:
                await self.reload()
