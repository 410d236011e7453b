"""The shape of agent.yaml: frozen pydantic models, unknown keys rejected, durations in Prometheus style."""

from __future__ import annotations

import re
import zlib
from pathlib import Path
from typing import Annotated, Literal

from pydantic import (
    AfterValidator,
    ConfigDict,
    Field,
    ValidationInfo,
    field_validator,
)
from yarl import URL

from prober.config.browser_context import BrowserCheck
from prober.config.check_base import (
    CheckBase,
    ClientTls,
    FilePath,
    Frozen,
    LabelValue,
    RegionName,
    StatusPattern,
    bounded_labels,
    resolve_file,
    status_as_text,
)
from prober.config.dns_check import DnsCheck
from prober.config.grpc_check import GrpcCheck
from prober.config.icmp_check import IcmpCheck
from prober.config.jsonpath import parse_path
from prober.config.maintenance import MaintenanceWindow
from prober.config.page_check import PageCheck
from prober.config.site import SiteConfig
from prober.config.slo import RulesConfig, Sla, SloGroup
from prober.config.tcp_check import TcpCheck
from prober.config.tls_check import TlsCheck
from prober.config.units import ByteSize, Duration

MAX_STATIC_LABELS = 8
MAX_SHARDS = 1024
MAX_PROBE_WORKERS = 64


class BasicAuth(Frozen):
    """Credentials; `password` usually comes from `${VAR}`, `password_hash` is bcrypt (server side only)."""

    username: str = Field(min_length=1)
    password: str | None = None
    password_hash: str | None = None


class ServerTls(Frozen):
    cert_file: FilePath
    key_file: FilePath


class WebConfig(Frozen):
    """Protection of the agent's own endpoints (/metrics, /healthz, /readyz)."""

    basic_auth: BasicAuth | None = None
    tls: ServerTls | None = None

    @field_validator("basic_auth")
    @classmethod
    def _one_password(cls, value: BasicAuth | None) -> BasicAuth | None:
        if value is not None and (value.password is None) == (value.password_hash is None):
            raise ValueError("set exactly one of password (e.g. '${PROBER_WEB_PASSWORD}') or password_hash (bcrypt)")
        return value


def _resolve_dir(value: str, info: ValidationInfo) -> str:
    """Resolve a directory relative to agent.yaml's folder; it need not exist yet."""
    base = (info.context or {}).get("base_dir", Path.cwd())
    return str((Path(base) / value).resolve())


DirPath = Annotated[str, AfterValidator(_resolve_dir)]


class BrowserConfig(Frozen):
    """The browser of journeys: Debian's headless shell by default; found on PATH unless `executable` is a path."""

    kind: Literal["headless_shell", "chromium"] = "headless_shell"
    executable: str | None = None
    args: list[str] = Field(default_factory=list)


class ArtifactsConfig(Frozen):
    """Where failed (or all) journey runs leave their screenshot, trace and console log, and how many are kept."""

    dir: DirPath = "artifacts"
    when: Literal["failure", "always", "never"] = "failure"
    trace: bool = True
    keep_runs: int = Field(default=200, ge=1, le=100_000)
    keep_bytes: ByteSize = Field(default=512 << 20, ge=1 << 20)


class JourneysSection(Frozen):
    """How journeys run: worker processes, each owning one browser and running several journeys at once.

    `runs_per_worker: 1` isolates every run in its own process at the cost of a browser per concurrent run.
    """

    workers: int = Field(default=1, ge=1, le=32)
    runs_per_worker: int = Field(default=4, ge=1, le=64)
    recycle_after_runs: int = Field(default=500, ge=1)
    recycle_above_memory: ByteSize = Field(default=1 << 30, ge=64 << 20)
    browser: BrowserConfig = Field(default_factory=BrowserConfig)
    artifacts: ArtifactsConfig = Field(default_factory=ArtifactsConfig)


class Defaults(Frozen):
    """Values every check inherits unless it sets its own."""

    interval: Duration = 30.0
    timeout: Duration = 10.0
    attempts: int = Field(default=1, ge=1, le=10)


JsonScalar = str | int | float | bool | None


class HttpExpect(Frozen):
    """What a good answer looks like; the first expectation that fails names the run's reason."""

    status: list[StatusPattern] = Field(default_factory=lambda: ["2xx"], min_length=1)
    body_contains: list[str] = Field(default_factory=list)
    body_not_contains: list[str] = Field(default_factory=list)
    body_regex: list[re.Pattern[str]] = Field(default_factory=list)
    body_not_regex: list[re.Pattern[str]] = Field(default_factory=list)
    json_: dict[str, JsonScalar] = Field(default_factory=dict, alias="json")
    headers: dict[str, re.Pattern[str]] = Field(default_factory=dict)
    max_duration: Duration | None = None
    cert_min_days: float | None = Field(default=None, ge=0)

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    @field_validator("status", mode="before")
    @classmethod
    def _status_as_text(cls, value: object) -> object:
        return status_as_text(value)

    @field_validator("json_")
    @classmethod
    def _json_paths(cls, value: dict[str, JsonScalar]) -> dict[str, JsonScalar]:
        for path in value:
            parse_path(path)
        return value


class HttpCheck(CheckBase):
    """One HTTP request per attempt on a fresh connection, checked against `expect`."""

    type: Literal["http"]
    url: str
    method: Literal["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"] = "GET"
    headers: dict[str, str] = Field(default_factory=dict)
    body: str | None = None
    expect: HttpExpect = Field(default_factory=HttpExpect)
    tls: ClientTls = Field(default_factory=ClientTls)
    ip_family: Literal["auto", "ip4", "ip6"] = "auto"
    follow_redirects: bool = True
    max_redirects: int = Field(default=10, ge=0, le=30)
    max_body_bytes: ByteSize = Field(default=1 << 20, ge=0, le=1 << 30)
    proxy: str | None = None
    basic_auth: BasicAuth | None = None
    bearer_token: str | None = None

    @property
    def max_duration_s(self) -> float | None:
        return self.expect.max_duration

    @field_validator("url", "proxy")
    @classmethod
    def _http_url(cls, value: str | None) -> str | None:
        if value is None:
            return None
        try:
            url = URL(value)
        except ValueError as exc:
            raise ValueError(f"not a URL: {exc}") from None
        if url.scheme not in ("http", "https"):
            raise ValueError(f"scheme must be http or https (got {value!r})")
        if not url.host:
            raise ValueError(f"URL has no host (got {value!r})")
        return value

    @field_validator("basic_auth")
    @classmethod
    def _client_password(cls, value: BasicAuth | None) -> BasicAuth | None:
        if value is not None and (value.password is None or value.password_hash is not None):
            raise ValueError("a check's basic_auth needs password (e.g. '${SHOP_PASSWORD}'), not password_hash")
        return value


def _resolve_script(value: str, info: ValidationInfo) -> str:
    """`file.py` or `file.py:function`, the file relative to agent.yaml's folder; returns the absolute form."""
    file, sep, function = value.partition(":")
    if sep and not function.isidentifier():
        raise ValueError(f"expected file.py or file.py:function (got {value!r})")
    if not file.endswith(".py"):
        raise ValueError(f"a journey script is a .py file (got {value!r})")
    path = resolve_file(file, info)
    return f"{path}:{function}" if sep else path


JourneyParam = str | int | float | bool


class JourneyCheck(BrowserCheck):
    """A journey script run in a worker process: browser steps (`j.page`) and/or HTTP calls (`j.http`).

    `params` from `${VAR}` are secret: never logged, exported, or left in artifacts (`secret_params` names more).
    """

    type: Literal["journey"]
    script: Annotated[str, AfterValidator(_resolve_script)]
    params: dict[str, JourneyParam] = Field(default_factory=dict)
    secret_params: list[str] = Field(default_factory=list)
    fail_on_page_error: bool = False

    @property
    def script_path(self) -> str:
        return self.script.partition(":")[0]

    @property
    def function(self) -> str | None:
        return self.script.partition(":")[2] or None

    def secrets(self) -> list[str]:
        """The values to redact from everything a run writes: every secret param as text, longest first."""
        values = {str(self.params[name]) for name in self.secret_params if name in self.params}
        return sorted((v for v in values if len(v) >= 3), key=len, reverse=True)


Check = Annotated[HttpCheck | JourneyCheck | PageCheck | TcpCheck | DnsCheck | IcmpCheck | TlsCheck | GrpcCheck,
                  Field(discriminator="type")]
"""Every check type: a discriminated union on `type`."""


class MetricsSection(Frozen):
    """What /metrics exports beyond the lean default (the README's table prices each option in series)."""

    phase_histograms: bool = False
    """HTTP phases and journey steps as histograms (percentiles); by default they are sums and counts."""


class AgentSection(Frozen):
    region: RegionName = "local"
    listen: str = "127.0.0.1:9470"
    labels: Annotated[dict[str, LabelValue], bounded_labels(MAX_STATIC_LABELS, "static labels")] = Field(
        default_factory=dict)
    max_concurrent_runs: int = Field(default=256, ge=1, le=10_000)
    probe_workers: Literal["auto"] | int = "auto"
    """Processes that probe (every check type but journeys): `auto` is one per core this process may use."""
    web: WebConfig = Field(default_factory=WebConfig)
    metrics: MetricsSection = Field(default_factory=MetricsSection)
    journeys: JourneysSection = Field(default_factory=JourneysSection)
    shard: str | None = None
    """`index/count` (0-based, e.g. `2/4`): run only the checks whose stable hash falls in this shard."""
    canaries: list[HttpCheck] = Field(default_factory=list, max_length=8)
    """Targets that should always answer from here: while all of them fail, runs end inconclusive."""

    @field_validator("probe_workers", mode="before")
    @classmethod
    def _probe_workers(cls, value: object) -> object:
        if isinstance(value, str) and value.isdigit():  # from PROBER_AGENT__PROBE_WORKERS
            value = int(value)
        if value == "auto" or (isinstance(value, int) and not isinstance(value, bool)
                               and 1 <= value <= MAX_PROBE_WORKERS):
            return value
        raise ValueError(f"expected auto or a number of processes from 1 to {MAX_PROBE_WORKERS} (got {value!r})")

    @field_validator("shard")
    @classmethod
    def _shard(cls, value: str | None) -> str | None:
        if value is None:
            return None
        index, sep, count = value.partition("/")
        if not (sep and index.isdigit() and count.isdigit() and 0 <= int(index) < int(count) <= MAX_SHARDS):
            raise ValueError(f"expected index/count, 0 <= index < count <= {MAX_SHARDS}, e.g. '2/4' (got {value!r})")
        return value

    @property
    def shard_of(self) -> tuple[int, int]:
        """(index, count); (0, 1) without sharding."""
        if self.shard is None:
            return 0, 1
        index, _sep, count = self.shard.partition("/")
        return int(index), int(count)

    @field_validator("listen")
    @classmethod
    def _host_port(cls, value: str) -> str:
        return listen_address(value)


class AgentConfig(Frozen):
    """A whole agent.yaml, validated. `checks` holds every check, including those for other regions."""

    agent: AgentSection = Field(default_factory=AgentSection)
    defaults: Defaults = Field(default_factory=Defaults)
    checks: list[Check] = Field(default_factory=list)
    slos: list[SloGroup] = Field(default_factory=list)
    maintenance: list[MaintenanceWindow] = Field(default_factory=list)
    rules: RulesConfig = Field(default_factory=RulesConfig)
    sla: list[Sla] = Field(default_factory=list)
    site: SiteConfig = Field(default_factory=SiteConfig)

    def runs_here(self, check: Check) -> bool:
        """Whether this agent runs `check`: its region is listed (or the check has no `regions`) and the check's
        stable hash falls in this agent's shard."""
        if check.regions is not None and self.agent.region not in check.regions:
            return False
        index, count = self.agent.shard_of
        return count == 1 or shard_of_check(check.name, count) == index

    def maintenance_of(self, check: Check) -> list[MaintenanceWindow]:
        """The windows that apply to `check`: its own and the top-level ones that name it (or every check)."""
        shared = [w for w in self.maintenance if not w.checks or check.name in w.checks]
        return [*check.maintenance, *shared]


def listen_address(value: str) -> str:
    """`value` if it is an address to listen on, `host:port` (port 0-65535; an empty host: every interface), else
    a ValueError (the agent's `listen`, and `prober site --listen`)."""
    _host, sep, port = value.rpartition(":")
    if not sep or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise ValueError(f"expected host:port such as '127.0.0.1:9470' (got {value!r})")
    return value


def shard_of_check(name: str, count: int) -> int:
    """The shard (0..count-1) that runs the check named `name`: a stable hash, the same in every process."""
    return zlib.crc32(b"shard:" + name.encode()) % count  # salted: independent of the check's time offset
