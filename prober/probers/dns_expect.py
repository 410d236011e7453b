"""The expectations of a dns check over an answer: its rcode first, then its records (text, count, TTLs).

An answer's records are those of the answer section whose type is the queried type; the CNAMEs on the way to
them are not (a query of `www` type A is about addresses; query type CNAME to check the alias itself). A
record's text is its rdata in presentation format, as `dig +short` prints it: `192.0.2.1`, `2001:db8::1`,
`10 mail.example.com.` (names absolute, with the trailing dot), `"v=spf1 -all"` (TXT strings quoted),
`0 issue "letsencrypt.org"`. Patterns are searched in that text (`re.search`, as blackbox_exporter's regexps);
`answers_in` compares it exactly.
"""

from __future__ import annotations

from dataclasses import dataclass

import dns.message
import dns.rdatatype

from prober.config.dns_check import DnsExpect
from prober.result import Failure, Reason

RCODE_MEANINGS = {
    "NXDOMAIN": "the name does not exist",
    "SERVFAIL": "the server failed to answer",
    "REFUSED": "the server refused the query",
    "FORMERR": "the server could not parse the query",
    "NOTIMP": "the server does not implement this kind of query",
    "NOTAUTH": "the server is not authoritative for the zone",
    "NOTZONE": "the name is not in the zone",
    "YXDOMAIN": "a name that should not exist does",
}
_LISTED_RECORDS = 5  # how many answers a detail names before it says "…"
_LISTED_CHARS = 80  # of each (a TXT record may be kilobytes)



@dataclass(frozen=True, slots=True)
class AnswerRecord:
    """One record of the answer: its rdata text (as `dig +short` prints it) and its TTL in seconds."""

    text: str
    ttl: int


def answer_records(response: dns.message.Message, rdtype: dns.rdatatype.RdataType) -> list[AnswerRecord]:
    """The answer section's records of the queried type, in the order the server sent them."""
    return [AnswerRecord(rdata.to_text(), rrset.ttl)
            for rrset in response.answer if rrset.rdtype == rdtype for rdata in rrset]


def describe_rcode(rcode: str) -> str:
    """'NXDOMAIN (the name does not exist)'; a code without a common meaning is its name alone."""
    meaning = RCODE_MEANINGS.get(rcode)
    return f"{rcode} ({meaning})" if meaning else rcode


def listed(records: list[AnswerRecord]) -> str:
    """The records' texts for a detail: 'none', or the first few, comma-separated."""
    if not records:
        return "none"
    texts = [_shortened(record.text) for record in records[:_LISTED_RECORDS]]
    return ", ".join(texts) + (", …" if len(records) > _LISTED_RECORDS else "")


def _shortened(text: str) -> str:
    return text if len(text) <= _LISTED_CHARS else text[: _LISTED_CHARS - 1] + "…"


def rcode_failure(expect: DnsExpect, rcode: str) -> Failure | None:
    """`dns` when the rcode is not one of `expect.rcode`."""
    if rcode in expect.rcode:
        return None
    return Reason.DNS, f"rcode {describe_rcode(rcode)}, expected {' or '.join(expect.rcode)}"


def answers_failure(expect: DnsExpect, records: list[AnswerRecord]) -> Failure | None:
    """`assertion` for the first expectation on the records that fails, in the order of the keys."""
    return (_count_failure(expect, records) or _regex_failure(expect, records) or _set_failure(expect, records)
            or _ttl_failure(expect, records))


def _count_failure(expect: DnsExpect, records: list[AnswerRecord]) -> Failure | None:
    if len(records) >= expect.min_answers:
        return None
    detail = f"{len(records)} answers, expected at least {expect.min_answers} (answers: {listed(records)})"
    return Reason.ASSERTION, detail


def _regex_failure(expect: DnsExpect, records: list[AnswerRecord]) -> Failure | None:
    for pattern in expect.answer_regex:
        if not any(pattern.search(record.text) for record in records):
            return Reason.ASSERTION, f"no answer matches /{pattern.pattern}/ (answers: {listed(records)})"
    for pattern in expect.answer_not_regex:
        for record in records:
            if pattern.search(record.text):
                detail = f"answer {_shortened(record.text)} matches /{pattern.pattern}/ (answer_not_regex)"
                return Reason.ASSERTION, detail
    return None


def _set_failure(expect: DnsExpect, records: list[AnswerRecord]) -> Failure | None:
    if not expect.answers_in:
        return None
    allowed = set(expect.answers_in)
    surprises = [record for record in records if record.text not in allowed]
    if not surprises:
        return None
    detail = f"answer {_shortened(surprises[0].text)} is not in answers_in (answers: {listed(records)})"
    return Reason.ASSERTION, detail


def _ttl_failure(expect: DnsExpect, records: list[AnswerRecord]) -> Failure | None:
    for record in records:
        about = f"answer {_shortened(record.text)} has ttl {record.ttl}s"
        if expect.min_ttl is not None and record.ttl < expect.min_ttl:
            return Reason.ASSERTION, f"{about}, below min_ttl {expect.min_ttl:g}s"
        if expect.max_ttl is not None and record.ttl > expect.max_ttl:
            return Reason.ASSERTION, f"{about}, above max_ttl {expect.max_ttl:g}s"
    return None
