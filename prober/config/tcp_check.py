"""`type: tcp`: connect (TLS on connect if asked), then a dialogue of expect / send / starttls steps."""

from __future__ import annotations

import re
from typing import Literal

from pydantic import Field, model_validator

from prober.config.check_base import CheckBase, ClientTls, Frozen, HostPort, IpFamily
from prober.config.units import ByteSize, Duration


class TcpStep(Frozen):
    """One step of the dialogue, done in this order: read until `expect` matches, write `send` as written (YAML
    escapes such as "\\r\\n" included), then upgrade to TLS if `starttls`."""

    expect: re.Pattern[str] | None = None
    send: str | None = None
    starttls: bool = False

    @model_validator(mode="after")
    def _does_something(self) -> TcpStep:
        if self.expect is None and self.send is None and not self.starttls:
            raise ValueError("a step needs expect, send or starttls")
        return self


class TcpExpect(Frozen):
    max_duration: Duration | None = None
    cert_min_days: float | None = Field(default=None, ge=0)
    """Applied to every certificate of the chain the server sent (TLS or STARTTLS runs)."""


class TcpCheck(CheckBase):
    """A TCP connection to `target`, the `steps` of `query_response`, checked against `expect`."""

    type: Literal["tcp"]
    target: HostPort
    ip_family: IpFamily = "auto"
    tls: bool = False
    """TLS as soon as the connection is up (STARTTLS is a step instead)."""
    tls_config: ClientTls = Field(default_factory=ClientTls)
    query_response: list[TcpStep] = Field(default_factory=list, max_length=64)
    max_read_bytes: ByteSize = Field(default=64 << 10, ge=1, le=16 << 20)
    """What one `expect` may read before it gives up (reason `assertion`)."""
    expect: TcpExpect = Field(default_factory=TcpExpect)

    @property
    def max_duration_s(self) -> float | None:
        return self.expect.max_duration

    @model_validator(mode="after")
    def _one_tls(self) -> TcpCheck:
        if self.tls and any(step.starttls for step in self.query_response):
            raise ValueError("starttls upgrades a plain connection: not with tls: true")
        if sum(step.starttls for step in self.query_response) > 1:
            raise ValueError("at most one starttls step")
        if self.expect.cert_min_days is not None and not self.tls and not any(
                step.starttls for step in self.query_response):
            raise ValueError("expect.cert_min_days reads the server's certificates: it needs tls: true or a "
                             "starttls step")
        return self
