"""`type: tls`: a handshake only, checking every certificate of the chain the server sends."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from prober.config.check_base import CheckBase, ClientTls, Frozen, HostPort, IpFamily
from prober.config.units import Duration


class TlsExpect(Frozen):
    """What a good handshake looks like; the certificate rules apply to every certificate the server sent."""

    min_version: Literal["TLSv1", "TLSv1.1", "TLSv1.2", "TLSv1.3"] | None = None
    cert_min_days: float | None = Field(default=None, ge=0)
    """Every certificate of the chain (and the client certificate, with mTLS) is valid this many days more."""
    max_duration: Duration | None = None


class TlsCheck(CheckBase):
    """A TCP connection to `target` and a TLS handshake over it, then closed."""

    type: Literal["tls"]
    target: HostPort
    ip_family: IpFamily = "auto"
    tls: ClientTls = Field(default_factory=ClientTls)
    expect: TlsExpect = Field(default_factory=TlsExpect)

    @property
    def max_duration_s(self) -> float | None:
        return self.expect.max_duration
