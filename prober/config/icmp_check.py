"""`type: icmp`: N echo requests per run, spaced, with their round trips and loss."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from prober.config.check_base import CheckBase, Frozen
from prober.config.units import Duration


class IcmpExpect(Frozen):
    max_loss: float | None = Field(default=None, ge=0, le=1)
    """The share of echo requests that may go unanswered (0.2: one of five); unset, a run fails only when none
    is answered."""
    max_rtt: Duration | None = None
    """The slowest reply's round trip may not exceed this (reason `slow`)."""


class IcmpCheck(CheckBase):
    """`packets` echo requests to `target` (a host name or address), one every `packet_interval`."""

    type: Literal["icmp"]
    target: str = Field(min_length=1, max_length=253)
    ip_family: Literal["ip4", "ip6"] = "ip4"
    packets: int = Field(default=5, ge=1, le=100)
    packet_interval: Duration = Field(default=1.0, ge=0.01)
    payload_bytes: int = Field(default=56, ge=0, le=1472)
    expect: IcmpExpect = Field(default_factory=IcmpExpect)

    @model_validator(mode="after")
    def _fits_in_timeout(self) -> IcmpCheck:
        if (self.packets - 1) * self.packet_interval >= self.timeout:
            raise ValueError(f"{self.packets} packets {self.packet_interval:g}s apart do not fit in the timeout "
                             f"({self.timeout:g}s): raise timeout or lower packets or packet_interval")
        return self
