"""`type: grpc`: one call of the standard health protocol (grpc.health.v1.Health/Check)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from prober.config.check_base import CheckBase, ClientTls, Frozen, HostPort
from prober.config.units import Duration


class GrpcExpect(Frozen):
    max_duration: Duration | None = None


class GrpcCheck(CheckBase):
    """A health check of `service` (empty: the whole server) at `target`; `SERVING` passes."""

    type: Literal["grpc"]
    target: HostPort
    service: str = Field(default="", max_length=256)
    tls: bool = False
    tls_config: ClientTls = Field(default_factory=ClientTls)
    metadata: dict[str, str] = Field(default_factory=dict)
    """Sent with the call (an `authorization` token from `${VAR}`, say); keys are lower-case ASCII."""
    expect: GrpcExpect = Field(default_factory=GrpcExpect)

    @property
    def max_duration_s(self) -> float | None:
        return self.expect.max_duration
