"""`type: grpc`: one call of the standard health protocol (grpc.health.v1.Health/Check)."""

from __future__ import annotations

import re
from typing import Literal

from pydantic import Field, field_validator, model_validator

from prober.config.check_base import CheckBase, ClientTls, Frozen, HostPort
from prober.config.units import Duration

_METADATA_KEY = re.compile(r"[a-z0-9_.-]{1,64}")
_METADATA_VALUE = re.compile(r"[\x20-\x7e]{0,4096}")  # gRPC's ASCII metadata: printable characters only


class GrpcExpect(Frozen):
    max_duration: Duration | None = None


class GrpcCheck(CheckBase):
    """A health check of `service` (empty: the whole server) at `target`; `SERVING` passes."""

    type: Literal["grpc"]
    target: HostPort
    service: str = Field(default="", max_length=256)
    tls: bool = False
    tls_config: ClientTls = Field(default_factory=ClientTls)
    metadata: dict[str, str] = Field(default_factory=dict, max_length=32)
    """Sent with the call (an `authorization` token from `${VAR}`, say); keys are lower-case ASCII."""
    expect: GrpcExpect = Field(default_factory=GrpcExpect)

    @property
    def max_duration_s(self) -> float | None:
        return self.expect.max_duration

    @field_validator("metadata")
    @classmethod
    def _ascii_metadata(cls, metadata: dict[str, str]) -> dict[str, str]:
        # gRPC refuses these only when the call is made; here a person reads which key is wrong, at load time
        for key, value in metadata.items():
            if not _METADATA_KEY.fullmatch(key) or key.startswith("grpc-") or key.endswith("-bin"):
                raise ValueError(f"key {key!r}: expected lower-case letters, digits, '_', '.', '-' (not grpc-*, "
                                 "not *-bin)")
            if not _METADATA_VALUE.fullmatch(value):
                raise ValueError(f"key {key!r}: the value must be printable ASCII of at most 4096 characters")
        return metadata

    @model_validator(mode="after")
    def _tls_grpc_can_do(self) -> GrpcCheck:
        tls = self.tls_config
        if not self.tls and tls != ClientTls():
            raise ValueError("tls_config is set but tls is false: the call would go in plain text")
        if tls.insecure:  # grpc's Python client has no switch that skips verifying the server's certificate
            raise ValueError("tls_config.insecure is not supported by type grpc (gRPC always verifies the "
                             "server's certificate): trust its CA with tls_config.ca_file instead")
        if (tls.cert_file is None) != (tls.key_file is None):
            raise ValueError("tls_config: a client certificate needs both cert_file and key_file")
        return self
