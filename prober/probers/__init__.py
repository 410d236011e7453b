"""Probers, one module per check type, and the literal registry that builds one from a check."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from prober.config.dns_check import DnsCheck
from prober.config.grpc_check import GrpcCheck
from prober.config.icmp_check import IcmpCheck
from prober.config.models import Check, HttpCheck, JourneyCheck, JourneysSection
from prober.config.page_check import PageCheck
from prober.config.tcp_check import TcpCheck
from prober.config.tls_check import TlsCheck
from prober.http.tls_contexts import TlsContexts
from prober.journey.pool import WorkerPool
from prober.probers.base import Prober
from prober.probers.dns import DnsProber
from prober.probers.grpc import GrpcProber
from prober.probers.http import HttpProber
from prober.probers.icmp import IcmpProber
from prober.probers.journey import JourneyProber
from prober.probers.tcp import TcpProber
from prober.probers.tls import TlsProber


@dataclass(frozen=True)
class ProberDeps:
    """What the probers of one config load share: TLS contexts (per load) and the journey pool (per agent)."""

    tls_contexts: TlsContexts
    pool: WorkerPool | None  # None in a probe worker, which never runs journeys
    journeys: JourneysSection


def _http(check: Check, deps: ProberDeps) -> Prober:
    assert isinstance(check, HttpCheck)
    return HttpProber(check, deps.tls_contexts)


def _journey(check: Check, deps: ProberDeps) -> Prober:
    assert isinstance(check, JourneyCheck | PageCheck) and deps.pool is not None
    return JourneyProber(check, deps.pool, deps.journeys)


def _tcp(check: Check, deps: ProberDeps) -> Prober:
    assert isinstance(check, TcpCheck)
    return TcpProber(check, deps.tls_contexts)


def _dns(check: Check, deps: ProberDeps) -> Prober:
    assert isinstance(check, DnsCheck)
    return DnsProber(check, deps.tls_contexts)


def _grpc(check: Check, deps: ProberDeps) -> Prober:
    assert isinstance(check, GrpcCheck)
    return GrpcProber(check, deps.tls_contexts)


def _icmp(check: Check, deps: ProberDeps) -> Prober:
    assert isinstance(check, IcmpCheck)
    return IcmpProber(check)


def _tls(check: Check, deps: ProberDeps) -> Prober:
    assert isinstance(check, TlsCheck)
    return TlsProber(check, deps.tls_contexts)


REGISTRY: dict[str, Callable[[Check, ProberDeps], Prober]] = {
    "http": _http,
    "journey": _journey,
    "page": _journey,  # a page is a run in the journeys' browser, without a script
    "tcp": _tcp,
    "dns": _dns,
    "grpc": _grpc,
    "icmp": _icmp,
    "tls": _tls,
}
"""Check type -> prober factory; adding a type adds one line here."""

IN_AGENT_TYPES = frozenset({"journey", "page"})
"""Types probed in the agent's main process: a journey's (or page's) prober hands its run to the agent's journey
pool (whose workers time it). Every other type is probed in a probe worker, apart from the agent's own work."""


def build_prober(check: Check, deps: ProberDeps) -> Prober:
    """Build the prober for `check` (once per config load; it is probed many times).

    Raises OSError/ValueError for a TLS file that does not load.
    """
    return REGISTRY[check.type](check, deps)


__all__ = ["Prober", "ProberDeps", "TlsContexts", "build_prober"]
