"""Which services and regions a status site shows, in its order and under its public names, from agent.yaml's
`site:` block (or, without one, every `slos:` group, then every check in no group)."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from prober.config.models import AgentConfig
from prober.config.slo import SloGroup


@dataclass(frozen=True)
class ServiceSpec:
    id: str
    name: str
    description: str
    checks: tuple[str, ...]
    group: SloGroup | None  # the slos: group it shows, if it is one


def slug(name: str) -> str:
    """A stable id for a public name: lower case letters, digits and '-' (non-ASCII kept, e.g. Chinese names)."""
    text = re.sub(r"[^\w]+", "-", name.strip().lower()).strip("-_")
    return text or "service"


def site_services(config: AgentConfig) -> list[ServiceSpec]:
    """The services in the site's order. Ids are unique (a repeated slug gets -2, -3, ...)."""
    groups = {g.name: g for g in config.slos}
    specs: list[tuple[str, str, tuple[str, ...], SloGroup | None]] = []
    if config.site.services:
        for service in config.site.services:
            group = groups[service.slo] if service.slo is not None else None
            checks = tuple(group.checks) if group is not None else tuple(service.checks)
            specs.append((service.name, service.description or (group.description if group else ""), checks, group))
    else:
        grouped = {name for g in config.slos for name in g.checks}
        specs += [(g.name, g.description, tuple(g.checks), g) for g in config.slos]
        specs += [(c.name, "", (c.name,), None) for c in config.checks if c.name not in grouped]
    seen: dict[str, int] = {}
    services = []
    for name, description, checks, group in specs:
        base = slug(name)
        seen[base] = seen.get(base, 0) + 1
        services.append(ServiceSpec(base if seen[base] == 1 else f"{base}-{seen[base]}", name, description, checks,
                                    group))
    return services


def site_regions(config: AgentConfig, seen: Iterable[str]) -> dict[str, str]:
    """Region id -> public name, in order: the site's own list (only those), or else rules.regions, then any
    other region the counters name (by id). A region listed is shown even without data (as unknown, never up)."""
    if config.site.regions:
        return {r.id: r.name for r in config.site.regions}
    return {region: region for region in [*config.rules.regions, *sorted(set(seen))]}
