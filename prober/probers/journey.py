"""Browser prober (journeys and pages): hands each run to the journey worker pool and prunes artifacts after runs
that wrote some."""

from __future__ import annotations

import asyncio

from prober.config.models import JourneyCheck, JourneysSection
from prober.config.page_check import PageCheck
from prober.journey import artifacts
from prober.journey.pool import ANSWER_GRACE_S, WorkerPool, new_run_id
from prober.journey.protocol import RunRequest
from prober.result import Result


class JourneyProber:
    """Probes one `type: journey` or `type: page` check. Built once per config load; the pool outlives it."""

    grace_s = ANSWER_GRACE_S + 1.0  # the pool's own bound comes first; the scheduler's backstop after it

    def __init__(self, check: JourneyCheck | PageCheck, pool: WorkerPool, settings: JourneysSection) -> None:
        self.check = check
        self._pool = pool
        self._artifacts = settings.artifacts

    async def probe(self) -> Result:
        check, art = self.check, self._artifacts
        journey = check if isinstance(check, JourneyCheck) else None
        request = RunRequest(
            run_id=new_run_id(), check=check.name, script=journey.script_path if journey else "",
            function=journey.function if journey else None, params=dict(journey.params) if journey else {},
            secrets=journey.secrets() if journey else [], timeout_s=check.timeout,
            fail_on_page_error=journey.fail_on_page_error if journey else False, artifacts_dir=art.dir,
            artifacts_when=art.when, trace=art.trace, emulation=check.emulation(),
            page=check.page_spec() if isinstance(check, PageCheck) else None,
        )
        result = await self._pool.run(request)
        if result.journey is not None and result.journey.artifacts:
            await asyncio.to_thread(artifacts.prune, art.dir, art.keep_runs, art.keep_bytes)
        return result
