"""`type: dns`: one query to the system resolver or a given server, over UDP, TCP or TLS, checked answer by answer."""

from __future__ import annotations

import ipaddress
import re
from typing import Annotated, Literal

import dns.exception
import dns.name
from pydantic import AfterValidator, Field, model_validator

from prober.config.check_base import CheckBase, ClientTls, Frozen, IpFamily
from prober.config.units import Duration

QueryType = Literal["A", "AAAA", "CNAME", "MX", "TXT", "NS", "SOA", "SRV", "CAA", "PTR"]
Rcode = Literal["NOERROR", "FORMERR", "SERVFAIL", "NXDOMAIN", "NOTIMP", "REFUSED", "YXDOMAIN", "YXRRSET",
                "NXRRSET", "NOTAUTH", "NOTZONE"]


def split_server(value: str) -> tuple[str, int | None]:
    """(host, port) of a `server`: `ns1.example.com`, `192.0.2.53:5353`, `2001:db8::53`, `[2001:db8::53]:5353`;
    the port is None where it is left to the transport's default. Raises ValueError for anything else."""
    port_text: str | None = None
    if value.startswith("["):
        host, bracket, rest = value[1:].partition("]")
        if not bracket or not _is_ip6(host) or (rest and not rest.startswith(":")):
            raise ValueError(f"expected [v6 address] or [v6 address]:port (got {value!r})")
        port_text = rest[1:] if rest else None
    elif value.count(":") > 1:  # a bare IPv6 address: its colons are not a port
        host = value
        if not _is_ip6(host):
            raise ValueError(f"not an IPv6 address (got {value!r}); write [address]:port to give a port")
    else:
        host, colon, port = value.partition(":")
        port_text = port if colon else None
    if not host or any(char in host for char in "/[] @"):
        raise ValueError(f"expected host, host:port or [v6]:port (got {value!r})")
    if port_text is None:
        return host, None
    if not port_text.isdigit() or not 1 <= int(port_text) <= 65535:
        raise ValueError(f"port must be 1-65535 (got {value!r})")
    return host, int(port_text)


def _is_ip6(text: str) -> bool:
    try:
        return isinstance(ipaddress.ip_address(text), ipaddress.IPv6Address)
    except ValueError:
        return False


def _server(value: str) -> str:
    split_server(value)
    return value


def _query_name(value: str) -> str:
    """A name dnspython can put in a query: labels of at most 63 octets, 255 in all."""
    try:
        dns.name.from_text(value)
    except dns.exception.DNSException as exc:
        raise ValueError(f"not a DNS name ({exc})") from None
    return value


Server = Annotated[str, AfterValidator(_server)]
QueryName = Annotated[str, AfterValidator(_query_name)]


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
    query_name: QueryName = Field(min_length=1, max_length=253)
    query_type: QueryType = "A"
    server: Server | None = None
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
