"""`type: dns`: one query to the system resolver or a given server, over UDP, TCP or TLS, checked answer by answer."""

from __future__ import annotations

import re
from typing import Literal

from pydantic import Field, model_validator

from prober.config.check_base import CheckBase, ClientTls, Frozen, IpFamily
from prober.config.units import Duration

QueryType = Literal["A", "AAAA", "CNAME", "MX", "TXT", "NS", "SOA", "SRV", "CAA", "PTR"]
Rcode = Literal["NOERROR", "FORMERR", "SERVFAIL", "NXDOMAIN", "NOTIMP", "REFUSED", "YXDOMAIN", "YXRRSET",
                "NXRRSET", "NOTAUTH", "NOTZONE"]


class DnsExpect(Frozen):
    """What a good answer looks like; records are matched in their text form (`192.0.2.1`, `10 mail.example.`).

    The first expectation that fails names the reason: an rcode not in `rcode` is `dns`, the rest `assertion`.
    """

    rcode: list[Rcode] = Field(default_factory=lambda: list[Rcode](["NOERROR"]), min_length=1)
    answer_regex: list[re.Pattern[str]] = Field(default_factory=list)
    """Each pattern matches at least one answer record."""
    answer_not_regex: list[re.Pattern[str]] = Field(default_factory=list)
    """No answer record matches any of these."""
    answers_in: list[str] = Field(default_factory=list)
    """Every answer record is one of these (an allowed set: no surprise address)."""
    min_answers: int = Field(default=0, ge=0)
    min_ttl: Duration | None = None
    max_ttl: Duration | None = None
    max_duration: Duration | None = None


class DnsCheck(CheckBase):
    """One query of `query_name` / `query_type`; `server` unset asks the system resolver (/etc/resolv.conf)."""

    type: Literal["dns"]
    query_name: str = Field(min_length=1, max_length=253)
    query_type: QueryType = "A"
    server: str | None = None
    """`host`, `host:port` or `[v6]:port` (port 53, or 853 over tls), or unset for the system resolver."""
    transport: Literal["udp", "tcp", "tls"] = "udp"
    tls: ClientTls = Field(default_factory=ClientTls)
    """DNS-over-TLS settings (`transport: tls`)."""
    ip_family: IpFamily = "auto"
    recursion_desired: bool = True
    expect: DnsExpect = Field(default_factory=DnsExpect)

    @property
    def max_duration_s(self) -> float | None:
        return self.expect.max_duration

    @model_validator(mode="after")
    def _server_for_tls(self) -> DnsCheck:
        if self.transport == "tls" and self.server is None:
            raise ValueError("transport: tls needs a server (the system resolver speaks udp and tcp)")
        return self
