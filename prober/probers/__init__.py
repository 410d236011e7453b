"""Probers, one module per check type, and the literal registry that builds one from a check."""

from __future__ import annotations

from prober.config.models import Check
from prober.probers.base import Prober
from prober.probers.http import HttpProber

REGISTRY = {"http": HttpProber}
"""Check type -> prober class; adding a type adds one line here."""


def build_prober(check: Check) -> Prober:
    """Build the prober for `check` (once per config load; it is probed many times)."""
    return REGISTRY[check.type](check)


__all__ = ["Prober", "build_prober"]
