"""Journeys: what script authors import (`journey`, `Journey`), and the machinery that runs their scripts.

Only `api` and `http_client` are imported by scripts; the agent's process imports `pool` (which never imports
Playwright); `worker` is the child process that imports scripts and owns the browser.
"""

from prober.journey.api import Journey, journey
from prober.journey.http_client import HttpResponse, HttpStatusError

__all__ = ["HttpResponse", "HttpStatusError", "Journey", "journey"]
