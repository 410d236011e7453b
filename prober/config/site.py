"""The `site:` block of agent.yaml: what `prober site` publishes — which services, under which public names, in
what order, for which regions — and in which timezone. A service is an `slos:` group or a list of checks; the
site never shows a check's URL or target, only these names."""

from __future__ import annotations

from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator

from prober.config.check_base import CheckName, RegionName
from prober.config.maintenance import timezone_name

PublicName = Annotated[str, Field(min_length=1, max_length=80)]


class _Frozen(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class SiteService(_Frozen):
    """One service on the site: the checks of an `slos:` group (`slo`) or the `checks` listed, under `name`."""

    name: PublicName
    description: str = Field(default="", max_length=300)
    slo: str | None = None
    checks: list[CheckName] = Field(default_factory=list)

    @model_validator(mode="after")
    def _one_source(self) -> SiteService:
        if (self.slo is None) == (not self.checks):
            raise ValueError("set either slo (an slos: group's name) or checks (a list of check names)")
        return self


class SiteRegion(_Frozen):
    """A region as the site names it: `id` is the agents' `agent.region`, `name` what readers see."""

    id: RegionName
    name: PublicName


class SiteConfig(_Frozen):
    """What `prober site` shows. Empty `services`: every `slos:` group, then every check in no group, each under
    its own name. Empty `regions`: `rules.regions`, then any other region the counters name, by id."""

    title: PublicName = "Service status"
    description: str = Field(default="", max_length=300)
    timezone: Annotated[str, AfterValidator(timezone_name)] = "UTC"
    url: str | None = Field(default=None, pattern=r"^https?://")
    """The site's public address, for the feed's and the API's links (relative links without it)."""
    days: int = Field(default=90, ge=7, le=366)
    services: list[SiteService] = Field(default_factory=list, max_length=200)
    regions: list[SiteRegion] = Field(default_factory=list, max_length=100)
    error_budget: bool = False
    """Show each SLO's error budget left (an internal view; `prober site --internal` turns it on too)."""
    maintenance_ahead_days: int = Field(default=14, ge=1, le=90)

    @model_validator(mode="after")
    def _unique(self) -> SiteConfig:
        for what, names in (("services", [s.name for s in self.services]),
                            ("regions", [r.id for r in self.regions])):
            twice = sorted({n for n in names if names.count(n) > 1})
            if twice:
                raise ValueError(f"{what}: each once (twice: {', '.join(twice)})")
        return self
