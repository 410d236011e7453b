"""Probers, one module per check type, and the literal registry that builds one from a check."""

from __future__ import annotations

from prober.config.models import Check
from prober.probers.base import Prober
from prober.probers.http import HttpProber
from prober.probers.tls import TlsContexts

REGISTRY = {"http": HttpProber}
"""Check type -> prober class; adding a type adds one line here."""


def build_prober(check: Check, tls_contexts: TlsContexts) -> Prober:
    """Build the prober for `check` (once per config load; it is probed many times).

    `tls_contexts` is shared by every prober of one load. Raises OSError/ValueError for a TLS file that does
    not load.
    """
    return REGISTRY[check.type](check, tls_contexts)


__all__ = ["Prober", "TlsContexts", "build_prober"]
