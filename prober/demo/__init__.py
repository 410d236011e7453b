"""Demo Shop: a tiny offline shop on loopback for prober's example checks and browser journeys."""

from prober.demo.app import build_app, serve

__all__ = ["build_app", "serve"]
