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
from prober.config.models import BasicAuth, JourneyCheck, JourneysSection
from prober.exporters.log import RunLogger
from prober.exporters.prometheus import PrometheusExporter
from prober.exporters.status import RunHistory
from prober.journey.pool import WorkerPool
from prober.journey.validation import script_problems
from prober.loop_monitor import LoopLagMonitor
from prober.probers import ProberDeps, TlsContexts, build_prober
from prober.result import Result
from prober.scheduler import Job, Scheduler, run_with_attempts
from prober.server import bound_port, build_app, start_server
from prober.sli_filter import SliFilter
from prober.vantage import Vantage

log = logging.getLogger("prober.agent")

WATCH_PERIOD_S = 2.0


def build_jobs(config: AgentConfig, path: Path, pool: WorkerPool) -> tuple[list[Job], list[Job]]:
    """(a job per check of this agent's region and shard, a job per canary); a prober that cannot be built is a
    ConfigError."""
    jobs: list[Job] = []
    canaries: list[Job] = []
    problems: list[str] = []
    deps = ProberDeps(TlsContexts(), pool, config.agent.journeys)
    wanted = [(f"checks[{i}]", c, jobs) for i, c in enumerate(config.checks) if config.runs_here(c)]
    wanted += [(f"agent.canaries[{i}]", c, canaries) for i, c in enumerate(config.agent.canaries)]
    for where, check, into in wanted:
        try:
            into.append(Job(check, build_prober(check, deps)))
        except (OSError, ValueError) as exc:  # ssl.SSLError is an OSError: a CA or key file that does not load
            problems.append(f"{path}: {where} ({check.name}): tls: cannot load: {exc}")
    if problems:
        raise ConfigError(problems)
    return jobs, canaries


def journey_script_problems(config: AgentConfig, path: Path, only_here: bool = True) -> list[str]:
    """Import every journey script (of this region's checks) in a child process; a problem per bad script."""
    journeys = [(i, c) for i, c in enumerate(config.checks)
                if isinstance(c, JourneyCheck) and (config.runs_here(c) or not only_here)]
    found = script_problems([check.script for _i, check in journeys])
    return [f"{path}: checks[{index}] ({check.name}): script: {problem}"
            for (index, check), problem in zip(journeys, found, strict=True) if problem]


def load(
    path: Path, region: str | None, listen: str | None, pool: WorkerPool
) -> tuple[AgentConfig, tuple[list[Job], list[Job]]]:
    """Load, validate (journey scripts imported in a child) and build the jobs of checks and canaries; raise
    ConfigError naming every problem.

    Blocking (file reads, a child process): the agent calls it in a thread.
    """
    config = load_config(path, region=region, listen=listen)
    problems = journey_script_problems(config, path)
    if problems:
        raise ConfigError(problems)
    return config, build_jobs(config, path, pool)


async def check_once(path: Path, name: str, region: str | None = None) -> tuple[Result, Result, str]:
    """Run the named check once, with its attempts, whatever its regions: (final, first attempt, artifacts
    folder). Raises ConfigError or KeyError."""
    config = load_config(path, region=region)
    for index, check in enumerate(config.checks):
        if check.name == name:
            if isinstance(check, JourneyCheck):
                problems = script_problems([check.script])
                if problems[0]:
                    raise ConfigError([f"{path}: checks[{index}] ({name}): script: {problems[0]}"])
            pool = WorkerPool(config.agent.journeys)
            try:
                deps = ProberDeps(TlsContexts(), pool, config.agent.journeys)
                final, first = await run_with_attempts(Job(check, build_prober(check, deps)))  # counted, always
                return final, first, config.agent.journeys.artifacts.dir
            finally:
                await pool.close()
    raise KeyError(name)


def _fingerprint(path: Path) -> bytes:
    try:
        return hashlib.sha256(path.read_bytes()).digest()
    except OSError:
        return b""


class Agent:
    """One running agent; `run()` returns the process exit code."""

    def __init__(self, path: Path, *, region: str | None = None, listen: str | None = None) -> None:
        self.path = path
        self._region_override = region
        self._listen_override = listen
        self._stop = asyncio.Event()
        self._reload_lock = asyncio.Lock()
        self._monitor = LoopLagMonitor()
        self.exporter = PrometheusExporter(lambda: self._monitor.lag_s, self)
        self._run_logger = RunLogger(region or "local")
        self.history = RunHistory()
        self.pool = WorkerPool(JourneysSection())
        self.vantage = Vantage()
        self._sli_filter = SliFilter(self.vantage)
        self._scheduler: Scheduler | None = None
        self._config: AgentConfig | None = None
        self._fingerprint = b""
        self.runner: web.AppRunner | None = None
        self._pending: set[asyncio.Task[bool]] = set()

    @property
    def ready(self) -> bool:
        return self._config is not None and self._scheduler is not None and self._scheduler.running

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
        self._scheduler = Scheduler([self.exporter, self._run_logger, self.history], config.agent.max_concurrent_runs,
                                    self._sli_filter.judge)
        app = build_app(self.exporter.render, lambda: self.ready, self._web_auth, self._artifacts_dir, self.history)
        try:
            self.runner = await start_server(app, config.agent.listen, config.agent.web.tls)
        except OSError as exc:
            log.error("cannot listen", extra={"listen": config.agent.listen, "error": str(exc)})
            await self._monitor.stop()
            return 2
        self._adopt(config, jobs)
        self.exporter.reload_done(True)
        loop = asyncio.get_running_loop()
        loop.add_signal_handler(signal.SIGHUP, self._reload_soon)
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, self._stop.set)
        watcher = asyncio.create_task(self._watch(), name="config-watcher")
        log.info("agent started", extra={"config": str(self.path), "listen": config.agent.listen,
                                         "port": bound_port(self.runner), "region": config.agent.region,
                                         "checks": len(jobs[0]), "shard": config.agent.shard})
        await self._stop.wait()
        log.info("agent stopping: waiting for in-flight runs")
        watcher.cancel()
        await self._scheduler.stop()
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
            old = self._config
            if old is not None and (old.agent.listen, old.agent.web.tls, old.agent.max_concurrent_runs) != (
                config.agent.listen, config.agent.web.tls, config.agent.max_concurrent_runs
            ):
                log.warning("agent.listen, agent.web.tls and agent.max_concurrent_runs apply after a restart")
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

    def _adopt(self, config: AgentConfig, built: tuple[list[Job], list[Job]]) -> None:
        assert self._scheduler is not None
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
        self._scheduler.apply(jobs)

    async def _watch(self) -> None:
        """Reload when the file's content changes (polling: works on every filesystem and ConfigMap)."""
        while True:
            await asyncio.sleep(WATCH_PERIOD_S)
            if _fingerprint(self.path) != self._fingerprint:
                await self.reload()
