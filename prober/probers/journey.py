"""Journey prober: hands each run to the worker pool and prunes artifacts after runs that wrote some."""

from __future__ import annotations

import asyncio

from prober.config.models import JourneyCheck, JourneysSection
from prober.journey import artifacts
from prober.journey.pool import ANSWER_GRACE_S, WorkerPool, new_run_id
from prober.journey.protocol import RunRequest
from prober.result import Result


class JourneyProber:
    """Probes one `type: journey` check. Built once per config load; the pool outlives it."""

    grace_s = ANSWER_GRACE_S + 1.0  # the pool's own bound comes first; the scheduler's backstop after it

    def __init__(self, check: JourneyCheck, pool: WorkerPool, settings: JourneysSection) -> None:
        self.check = check
        self._pool = pool
        self._artifacts = settings.artifacts

    async def probe(self) -> Result:
        check, art = self.check, self._artifacts
        request = RunRequest(
            run_id=new_run_id(), check=check.name, script=check.script_path, function=check.function,
            params=dict(check.params), secrets=check.secrets(), timeout_s=check.timeout,
            fail_on_page_error=check.fail_on_page_error, artifacts_dir=art.dir, artifacts_when=art.when,
            trace=art.trace,
        )
        result = await self._pool.run(request)
        if result.journey is not None and result.journey.artifacts:
            await asyncio.to_thread(artifacts.prune, art.dir, art.keep_runs, art.keep_bytes)
        return result
