"""What every check type shares: the frozen model base, bounded names, file paths, client TLS and CheckBase.

Each type's own model (`prober/config/<type>_check.py`, or models.py for http and journey) subclasses CheckBase;
models.py joins them into the `Check` union.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints, ValidationInfo

from prober.config.maintenance import MaintenanceWindow
from prober.config.slo import Slo
from prober.config.units import Duration


def _bounded_name(value: str) -> str:
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,62}", value):
        raise ValueError(f"expected 1-63 characters of letters, digits, '_', '.', '-' (got {value!r})")
    return value


CheckName = Annotated[str, AfterValidator(_bounded_name)]
RegionName = Annotated[str, AfterValidator(_bounded_name)]

LABEL_NAME_RE = r"^[a-zA-Z_][a-zA-Z0-9_]*$"
RESERVED_LABELS = frozenset({"check", "region", "reason", "phase", "step", "le", "job", "instance", "quantile",
                             "type", "party", "outcome", "vital", "kind", "version", "cipher", "serving_status"})
"""prober's own labels (and Prometheus'): neither agent nor check labels may take these names."""
MAX_CHECK_LABELS = 4
LabelValue = Annotated[str, StringConstraints(max_length=128)]


def label_names_problem(names: list[str]) -> str | None:
    """What is wrong with these names as extra Prometheus labels of prober's series, or None."""
    for name in names:
        if not re.match(LABEL_NAME_RE, name) or name.startswith("__"):
            return f"label name {name!r} is not a valid Prometheus label name"
        if name in RESERVED_LABELS:
            return f"label name {name!r} is reserved for prober's own labels"
    return None


def bounded_labels(most: int, what: str) -> AfterValidator:
    """A validator of extra labels: at most `most` (`what` names them in the error), names valid and not ours."""
    def check(value: dict[str, str]) -> dict[str, str]:
        if len(value) > most:
            raise ValueError(f"at most {most} {what} (got {len(value)})")
        problem = label_names_problem(list(value))
        if problem:
            raise ValueError(problem)
        return value
    return AfterValidator(check)


CheckLabels = Annotated[dict[str, LabelValue], bounded_labels(MAX_CHECK_LABELS, "labels per check")]


def _status_pattern(value: str) -> str:
    if not re.fullmatch(r"[1-5]xx|[1-5][0-9][0-9]", value):
        raise ValueError(f"expected a status code such as 200 or a class such as 2xx (got {value!r})")
    return value


StatusPattern = Annotated[str, AfterValidator(_status_pattern)]
"""An HTTP status code (`200`) or class (`2xx`) that a check accepts."""


def status_as_text(value: object) -> object:
    """`status: [200, 2xx]` as written in YAML: numbers become text before validation."""
    if isinstance(value, list):
        return [str(v) if isinstance(v, int) and not isinstance(v, bool) else v for v in value]
    return value


def resolve_file(value: str, info: ValidationInfo) -> str:
    """Resolve a path relative to agent.yaml's folder and require that the file exists."""
    base = (info.context or {}).get("base_dir", Path.cwd())
    path = (Path(base) / value).resolve()
    if not path.is_file():
        raise ValueError(f"file not found: {path}")
    return str(path)


FilePath = Annotated[str, AfterValidator(resolve_file)]


def _host_port(value: str) -> str:
    """`host:port` or `[v6 address]:port`, port 1-65535."""
    host, sep, port = value.rpartition(":")
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    if not sep or not host or not port.isdigit() or not 1 <= int(port) <= 65535 or any(c in host for c in "/[] "):
        raise ValueError(f"expected host:port such as 'db.example.com:5432' or '[::1]:6379' (got {value!r})")
    return value


HostPort = Annotated[str, AfterValidator(_host_port)]
"""A target of the socket check types: `host:port` (`[::1]:6379` for an IPv6 address)."""


def split_host_port(target: str) -> tuple[str, int]:
    """('db.example.com', 5432) from a validated HostPort; an IPv6 address loses its brackets."""
    host, _sep, port = target.rpartition(":")
    return host.strip("[]"), int(port)


IpFamily = Literal["auto", "ip4", "ip6"]


class Frozen(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ClientTls(Frozen):
    """How a check's client speaks TLS: a CA to trust beyond the system's, a client certificate (mTLS), or none
    verified at all (`insecure`); `server_name` is the SNI and the name the certificate must match."""

    ca_file: FilePath | None = None
    cert_file: FilePath | None = None
    key_file: FilePath | None = None
    insecure: bool = False
    server_name: str | None = None


class CheckBase(Frozen):
    """The keys of every check: its name, cadence, bounds, SLO, regions, maintenance windows and labels (the loader
    fills `interval`, `timeout` and `attempts` from `defaults`)."""

    name: CheckName
    interval: Duration = Field(gt=0)
    timeout: Duration = Field(gt=0)
    attempts: int = Field(ge=1, le=10)
    slo: Slo | None = None
    regions: list[RegionName] | None = Field(default=None, min_length=1)
    maintenance: list[MaintenanceWindow] = Field(default_factory=list)
    labels: CheckLabels = Field(default_factory=dict)
    """Up to four labels on every series of this check (`site: rival_a`, `group: competitors`): values come from
    the config, so they are bounded; comparisons group by them."""

    @property
    def max_duration_s(self) -> float | None:
        """The `expect.max_duration` of types that have one: a duration bucket as the SLO threshold is."""
        return None
