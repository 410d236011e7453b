"""The Prober protocol: built once per config load from a check, then probed many times."""

from __future__ import annotations

from typing import Protocol

from prober.result import Result


class Prober(Protocol):
    """Runs one attempt of one check.

    `probe` returns a Result for every fault of the target and bounds itself by the check's timeout; it raises
    only on the agent's own bugs, which the scheduler turns into `Reason.INTERNAL`. `grace_s` is how long past
    the check's timeout it may take to write up a failed run (a journey's screenshot and trace).
    """

    grace_s: float

    async def probe(self) -> Result: ...
