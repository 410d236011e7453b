"""Objectives in agent.yaml: a check's `slo:`, the `slos:` that group checks into user-facing SLOs, the options
of the rules that `prober rules` generates from them, and the `sla:` contracts that `prober report` prices."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, field_validator

from prober.config.units import Duration

DEFAULT_WINDOW_S = 28 * 86400.0
MAX_GROUP_BY = 8
"""As many as an agent may have labels (agent.labels)."""


class _Frozen(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class LatencySlo(_Frozen):
    """`target` percent of runs finish within `threshold` (always a bucket bound of the duration histogram)."""

    threshold: Duration = Field(gt=0)
    target: float = Field(gt=0, lt=100)


class Slo(_Frozen):
    """Objectives of one check over a rolling `window`: availability and latency, each in percent of runs."""

    availability: float | None = Field(default=None, gt=0, lt=100)
    latency: LatencySlo | None = None
    window: Duration = Field(default=DEFAULT_WINDOW_S, ge=3600)


class GroupLatencySlo(_Frozen):
    """`target` percent of the member checks' runs finish within each check's own `slo.latency.threshold`."""

    target: float = Field(gt=0, lt=100)


class SloGroup(_Frozen):
    """A user-facing SLO over several checks ("checkout works"): their runs pooled, across regions."""

    name: str = Field(pattern=r"^[a-zA-Z][a-zA-Z0-9_]{0,62}$")
    description: str = Field(default="", max_length=200)
    checks: list[str] = Field(min_length=1)
    availability: float | None = Field(default=None, gt=0, lt=100)
    latency: GroupLatencySlo | None = None
    window: Duration = Field(default=DEFAULT_WINDOW_S, ge=3600)


class ConsensusRule(_Frozen):
    """Alert when a check fails from `min_regions` or more regions for `for_` (damps one vantage's flukes)."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    min_regions: int = Field(default=2, ge=1, le=100)
    for_: Duration = Field(default=300.0, alias="for", gt=0)


class RulesConfig(_Frozen):
    """Options of `prober rules`: where agents run, how alerts behave, what they carry."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    regions: list[str] = Field(default_factory=list)
    """The regions where agents run: each gets an agent-absent alert (regions in checks' `regions:` are added)."""
    job: str = Field(default="prober", min_length=1)
    consensus: ConsensusRule = Field(default_factory=ConsensusRule)
    absent_for: Duration = Field(default=300.0, gt=0)
    cert_expiry_days: float = Field(default=14.0, gt=0)
    labels: dict[str, str] = Field(default_factory=dict)
    """Extra labels on every alert (team, service) for routing in Alertmanager."""
    runbook_url: str | None = None
    group_by: list[str] = Field(default_factory=list, max_length=MAX_GROUP_BY)
    """Agent labels (agent.labels, e.g. `isp`) that the SLI recording rules keep beside check and region, so an
    SLI splits per ISP; the checks' own `labels:` are kept anyway (they add no series)."""

    @field_validator("group_by")
    @classmethod
    def _label_names(cls, value: list[str]) -> list[str]:
        # imported here: check_base imports this module for `Slo`
        from prober.config.check_base import label_names_problem

        problem = label_names_problem(value)
        if problem:
            raise ValueError(problem)
        if len(set(value)) < len(value):
            raise ValueError(f"each label once (got {value})")
        return value


class CreditTier(_Frozen):
    """Below `below` percent availability, the customer is owed `credit` percent of the period's fee."""

    below: float = Field(gt=0, le=100)
    credit: float = Field(gt=0, le=100)


class Sla(_Frozen):
    """A contract over several checks: their runs pooled across regions, measured against `target`."""

    name: str = Field(pattern=r"^[a-zA-Z][a-zA-Z0-9_]{0,62}$")
    checks: list[str] = Field(min_length=1)
    target: float = Field(gt=0, lt=100)
    credits: list[CreditTier] = Field(default_factory=list)

    def credit_for(self, availability_percent: float) -> float:
        """The credit owed (percent of the fee) at a measured availability: the largest tier that applies."""
        return max((tier.credit for tier in self.credits if availability_percent < tier.below), default=0.0)
