"""blackbox_exporter's `dns` probe options as a prober `type: dns` check.

blackbox matches its answer patterns against whole RR lines (`name<TAB>ttl<TAB>class<TAB>type<TAB>rdata`);
prober matches each answer's rdata (`192.0.2.1`). A pattern whose parts are tab-separated keeps its rdata part,
a leading `.*` (which stood for the name, ttl, class and type) is dropped; any other pattern is kept as written,
with a comment saying it was written against whole lines.
"""

from __future__ import annotations

from prober.importers.check_draft import IP_OPTIONS, Handler, Mapping, client_tls, guarded, ip_family, map_options
from prober.importers.go_syntax import GoRegexError, python_regex
from prober.importers.yaml_source import Node

_QUERY_TYPES = frozenset({"A", "AAAA", "CNAME", "MX", "TXT", "NS", "SOA", "SRV", "CAA", "PTR"})
_RCODES = frozenset({"NOERROR", "FORMERR", "SERVFAIL", "NXDOMAIN", "NOTIMP", "REFUSED", "YXDOMAIN", "YXRRSET",
                     "NXRRSET", "NOTAUTH", "NOTZONE"})
_RR_FIELDS = 5  # name, ttl, class, type, rdata
_NOT_ANSWERS = "prober checks the answer section only"
_NO_EQUIVALENT = {
    "source_ip_address": "",
    "validate_authority_rrs": _NOT_ANSWERS,
    "validate_additional_rrs": _NOT_ANSWERS,
}
_READ_AFTER = IP_OPTIONS | {"transport_protocol", "dns_over_tls", "tls_config"}
_EVERY = "^(?!(?s:.*)(?:{}))"  # matches a record that the pattern does not match


def map_dns(mapping: Mapping) -> None:
    """Fill the draft's dns keys: the target is the server asked, the module says what is asked."""
    mapping.draft.put("server", mapping.target.target)
    if not mapping.section.at("query_name").present:
        mapping.draft.disable(f"{mapping.section.where}: no query_name (blackbox refuses the module)")
    map_options(mapping, _HANDLERS, _NO_EQUIVALENT, _READ_AFTER)
    if mapping.draft.get("query_type") is None and not mapping.section.at("query_type").present:
        _any_as_a(mapping)
    guarded(mapping, mapping.section, lambda: _transport(mapping))
    family = ip_family(mapping)
    if family is not None:
        mapping.draft.put("ip_family", family)


def _query_name(mapping: Mapping, node: Node) -> None:
    mapping.draft.put("query_name", node.text())


def _query_type(mapping: Mapping, node: Node) -> None:
    query_type = node.text().upper()
    if query_type == "ANY":
        _any_as_a(mapping)
    elif query_type in _QUERY_TYPES:
        mapping.draft.put("query_type", query_type)
    else:
        mapping.draft.no_equivalent("query_type", f"prober asks {', '.join(sorted(_QUERY_TYPES))}", node.value)
        mapping.draft.disable(f"{node.where}: query type {query_type} is not one prober asks")


def _any_as_a(mapping: Mapping) -> None:
    mapping.draft.put("query_type", "A")
    mapping.draft.comment("blackbox: query_type ANY (blackbox's default): prober has no ANY (many servers refuse "
                          "it, RFC 8482): asks A", "query_type")


def _query_class(mapping: Mapping, node: Node) -> None:
    if node.text().upper() != "IN":
        mapping.draft.no_equivalent("query_class", "prober asks class IN", node.value)


def _recursion(mapping: Mapping, node: Node) -> None:
    mapping.draft.put("recursion_desired", node.flag())


def _rcodes(mapping: Mapping, node: Node) -> None:
    rcodes = [text.upper() for text in node.texts()]
    kept = [rcode for rcode in rcodes if rcode in _RCODES]
    if len(kept) < len(rcodes):
        mapping.draft.no_equivalent(f"valid_rcodes {sorted(set(rcodes) - set(kept))}", "not rcodes prober names")
    if kept:
        mapping.draft.put("expect.rcode", kept)


def _transport(mapping: Mapping) -> None:
    """transport_protocol (udp, tcp) and dns_over_tls (over tcp) as prober's one `transport`."""
    section = mapping.section
    protocol = section.at("transport_protocol").text().lower() if section.at("transport_protocol").present else "udp"
    over_tls = section.at("dns_over_tls").flag() if section.at("dns_over_tls").present else False
    if protocol not in ("udp", "tcp"):
        mapping.draft.disable(f"{section.at('transport_protocol').where}: {protocol!r} is neither udp nor tcp")
        return
    if over_tls and protocol != "tcp":
        mapping.draft.disable(f"{section.at('dns_over_tls').where}: DNS over TLS needs transport_protocol tcp "
                              "(blackbox fails the probe)")
    transport = "tls" if over_tls else protocol
    if transport != "udp":
        mapping.draft.put("transport", transport)
    if section.at("tls_config").present:
        tls = client_tls(mapping, section.at("tls_config"), "tls")
        if not over_tls:
            mapping.draft.comment("blackbox: tls_config left out: blackbox uses it only with dns_over_tls")
        elif tls:
            mapping.draft.put("tls", tls)


def _answers(mapping: Mapping, node: Node) -> None:
    for key, child in node.entries():
        label = f"validate_answer_rrs.{key}"
        if key not in _COMBINE:
            mapping.draft.comment(f"blackbox: {label} (not an option this importer knows: ignored)")
            continue
        patterns = [_rdata_regex(mapping, element, label) for element in child.elements()]
        kept = [p for p in patterns if p is not None]  # one left out has its comment
        if kept:
            _COMBINE[key](mapping, kept, label)


def _rdata_regex(mapping: Mapping, node: Node, label: str) -> str | None:
    """The Python pattern for the rdata of a whole-line Go pattern, with a comment on how it was moved."""
    written = node.text()
    pattern, how = _rdata_pattern(written)
    try:
        translated = python_regex(pattern)
    except GoRegexError as exc:
        mapping.draft.comment(f"blackbox: {label} /{written}/ not carried over: {exc}", "expect")
        return None
    if how:
        mapping.draft.comment(f"blackbox: {label} /{written}/: {how}", "expect")
    return translated


def _rdata_pattern(pattern: str) -> tuple[str, str]:
    """(the pattern for an answer's rdata, how it was moved from a whole-line pattern)."""
    parts = _tab_separated(pattern)
    if len(parts) == _RR_FIELDS:
        rdata = parts[-1]
        moved = rdata[2:] if rdata.startswith(".*") else "^" + rdata  # right after the tab: the rdata's start
        return moved, f"only its rdata part is kept: /{moved}/"
    if len(parts) == 1:
        rest = pattern[1:] if pattern.startswith("^.*") else pattern
        if rest.startswith(".*") and "^" not in rest and len(rest) > 2:
            return rest[2:], f"the leading .* (the line's name, ttl, class and type) is dropped: /{rest[2:]}/"
    return pattern, ("kept as written, but it was written against whole RR lines (name ttl class type rdata); "
                     "prober matches each answer's rdata: review it")


def _tab_separated(pattern: str) -> list[str]:
    """The pattern split at its tabs, written as a tab character or as `\\t`."""
    parts, current, pos = [], "", 0
    while pos < len(pattern):
        if pattern[pos] == "\t" or pattern.startswith("\\t", pos):
            parts.append(current)
            current = ""
            pos += 1 if pattern[pos] == "\t" else 2
        elif pattern[pos] == "\\":
            current += pattern[pos:pos + 2]
            pos += 2
        else:
            current += pattern[pos]
            pos += 1
    return [*parts, current]


def _fail_if_matches(mapping: Mapping, patterns: list[str], _label: str) -> None:
    _extend(mapping, "expect.answer_not_regex", patterns)


def _fail_if_not_matches(mapping: Mapping, patterns: list[str], label: str) -> None:
    """Every answer must match every pattern (and there must be one): no answer may fail to match."""
    _extend(mapping, "expect.answer_not_regex", [_EVERY.format(p) for p in patterns])
    mapping.draft.put("expect.min_answers", 1)
    mapping.draft.comment(f"blackbox: {label}: every answer must match: answer_not_regex ^(?!...) catches one "
                          "that does not", "expect")


def _fail_if_none_matches(mapping: Mapping, patterns: list[str], _label: str) -> None:
    """Some answer must match one of the patterns: one answer_regex, the patterns as alternatives."""
    _extend(mapping, "expect.answer_regex", [patterns[0] if len(patterns) == 1 else
                                             "|".join(f"(?:{p})" for p in patterns)])


def _fail_if_all_match(mapping: Mapping, patterns: list[str], label: str) -> None:
    """Fails when every answer matches every pattern: some answer must miss one of them."""
    _extend(mapping, "expect.answer_regex", ["|".join(_EVERY.format(p) for p in patterns)])
    mapping.draft.comment(f"blackbox: {label}: some answer must not match: answer_regex ^(?!...)", "expect")


def _extend(mapping: Mapping, path: str, patterns: list[str]) -> None:
    existing = mapping.draft.get(path)
    mapping.draft.put(path, [*(existing if isinstance(existing, list) else []), *patterns])


_COMBINE = {
    "fail_if_matches_regexp": _fail_if_matches,
    "fail_if_not_matches_regexp": _fail_if_not_matches,
    "fail_if_none_matches_regexp": _fail_if_none_matches,
    "fail_if_all_match_regexp": _fail_if_all_match,
}

_HANDLERS: dict[str, Handler] = {
    "query_name": _query_name,
    "query_type": _query_type,
    "query_class": _query_class,
    "recursion_desired": _recursion,
    "valid_rcodes": _rcodes,
    "validate_answer_rrs": _answers,
}
