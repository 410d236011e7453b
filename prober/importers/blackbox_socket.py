"""blackbox_exporter's `tcp`, `grpc` and `icmp` probe options as prober `tcp`, `grpc` and `icmp` checks."""

from __future__ import annotations

import re

from prober.importers.check_draft import IP_OPTIONS, Handler, Mapping, client_tls, guarded, ip_family, map_options
from prober.importers.go_syntax import GoRegexError, has_references, python_regex, unescape_dollars
from prober.importers.yaml_source import Node

_MAX_PAYLOAD_BYTES = 1472  # prober's bound: one unfragmented IPv4 packet on a 1500-byte link
_STEP_KEYS = frozenset({"expect", "expect_bytes", "send", "starttls", "labels"})
_TCP_NO_EQUIVALENT = {"source_ip_address": ""}
_ICMP_NO_EQUIVALENT = {
    "ttl": "prober sends with the system's TTL",
    "dont_fragment": "prober's echo requests leave fragmentation to the system",
    "source_ip_address": "",
}


def map_tcp(mapping: Mapping) -> None:
    """A connection to the target (host:port), then the module's query_response dialogue."""
    target = mapping.target.target
    if not _valid_port(_split(target)[1]):
        mapping.draft.disable(f"{mapping.target.where}: target {target!r} is not host:port (blackbox fails it too)")
    mapping.draft.put("target", target)
    map_options(mapping, _TCP_HANDLERS, _TCP_NO_EQUIVALENT, IP_OPTIONS)
    if mapping.target.hostname and mapping.draft.get("tls_config.server_name") is None:
        mapping.draft.put("tls_config.server_name", mapping.target.hostname)  # blackbox's `hostname` parameter
    family = ip_family(mapping)
    if family is not None:
        mapping.draft.put("ip_family", family)


def _tls(mapping: Mapping, node: Node) -> None:
    mapping.draft.put("tls", node.flag())


def _tcp_tls_config(mapping: Mapping, node: Node) -> None:
    tls = client_tls(mapping, node, "tls_config")
    if tls:
        mapping.draft.put("tls_config", tls)


def _query_response(mapping: Mapping, node: Node) -> None:
    steps = [step for index, element in enumerate(node.elements())
             if (step := _step(mapping, element, f"query_response[{index}]")) is not None]
    if steps:
        mapping.draft.put("query_response", steps)


def _step(mapping: Mapping, node: Node, label: str) -> dict[str, object] | None:
    """One expect / send / starttls step; blackbox appends a newline to each send, prober sends as written."""
    step: dict[str, object] = {}
    expect, expect_bytes, send = node.at("expect"), node.at("expect_bytes"), node.at("send")
    if expect.present and expect_bytes.present:
        mapping.draft.disable(f"{node.where}: expect and expect_bytes together (blackbox refuses the module)")
    if expect.present:
        step["expect"] = _expect(mapping, expect, label)
    elif expect_bytes.present:
        step["expect"] = re.escape(expect_bytes.text())
        mapping.draft.comment(f"blackbox: {label}.expect_bytes: matched as an escaped pattern on the text read",
                              label)
    if send.present:
        text = send.text()
        if expect.present and has_references(text):
            mapping.draft.no_equivalent(f"{label}.send", "blackbox filled ${1} / $name from the expect's match; "
                                        "prober sends the text as written, so this step will likely fail: adapt it",
                                        at=label)
        elif expect.present:
            text = unescape_dollars(text)  # Go's Expand of a text without references: $$ is $
        step["send"] = text + "\n"
    if node.at("starttls").present and node.at("starttls").flag():
        step["starttls"] = True
    if node.at("labels").present:
        mapping.draft.no_equivalent(f"{label}.labels", "probe_expect_info", at=label)
    for key, _child in node.entries():
        if key not in _STEP_KEYS:
            mapping.draft.comment(f"blackbox: {label}.{key} (not an option this importer knows: ignored)", label)
    if not step:
        mapping.draft.comment(f"blackbox: {label}: an empty step (blackbox does nothing with it): left out")
        return None
    return step


def _expect(mapping: Mapping, node: Node, label: str) -> str:
    written = node.text()
    try:
        translated = python_regex(written)
    except GoRegexError as exc:
        mapping.draft.disable(f"{node.where}: /{written}/ {exc}")
        return written
    if translated != written:
        why = (" (Go repeats an assertion: `^+` is `^`; a literal + is written \\+)"
               if any(f"(?:{a})" in translated for a in ("^", "$", "\\b", "\\B", "\\A", "\\Z")) else "")
        mapping.draft.comment(f"blackbox: {label}.expect /{written}/ (Go) is /{translated}/ in Python{why}", label)
    return translated


def map_grpc(mapping: Mapping) -> None:
    """A health check of the module's service at the target (`host:port`, a URL's scheme dropped)."""
    tls_node = mapping.section.at("tls")
    tls = tls_node.flag() if tls_node.present and isinstance(tls_node.value, bool) else False
    mapping.draft.put("target", _grpc_target(mapping, tls))
    map_options(mapping, _GRPC_HANDLERS, {}, IP_OPTIONS | {"tls_config"})
    if any(mapping.section.at(key).present for key in IP_OPTIONS):
        mapping.draft.no_equivalent("preferred_ip_protocol / ip_protocol_fallback",
                                    "prober's grpc check takes the addresses in the resolver's order")
    guarded(mapping, mapping.section.at("tls_config"), lambda: _grpc_tls(mapping, tls))


def _grpc_tls(mapping: Mapping, tls: bool) -> None:
    config = mapping.section.at("tls_config")
    if config.present:
        tls_block = client_tls(mapping, config, "tls_config")
        if not tls:
            mapping.draft.comment("blackbox: tls_config left out: tls is false, so blackbox does not use it")
        elif tls_block.pop("insecure", False):
            mapping.draft.no_equivalent("tls_config.insecure_skip_verify", "prober's gRPC client always verifies "
                                        "the certificate: trust its CA with tls_config.ca_file", at="tls_config")
            mapping.draft.disable(f"{config.at('insecure_skip_verify').where}: not verifying the certificate is "
                                  "not possible in prober's grpc check")
        if tls and tls_block:
            mapping.draft.put("tls_config", tls_block)


def _grpc_target(mapping: Mapping, tls: bool) -> str:
    """blackbox accepts a URL or host[:port] and dials port 443 (tls) or 80 without one."""
    target = re.sub(r"^https?://", "", mapping.target.target, flags=re.IGNORECASE).rstrip("/")
    host, port = _split(target)
    if port is not None:
        return target
    default = 443 if tls else 80
    mapping.draft.comment(f"blackbox: target {mapping.target.target!r} has no port: blackbox dials {default}",
                          "target")
    return f"[{host}]:{default}" if ":" in host else f"{host}:{default}"


def _service(mapping: Mapping, node: Node) -> None:
    mapping.draft.put("service", node.text())


def _metadata(mapping: Mapping, node: Node) -> None:
    metadata: dict[str, object] = {}
    for key, value in node.entries():
        values = value.texts() if isinstance(value.value, list) else [value.text()]
        if len(values) > 1:
            mapping.draft.comment(f"blackbox: metadata {key}: {len(values)} values joined with ','", "metadata")
        metadata[key.lower()] = ",".join(values)  # gRPC metadata keys are lower-case
    mapping.draft.put("metadata", metadata)


def map_icmp(mapping: Mapping) -> None:
    """One echo request to the target, as blackbox sends (prober's default is 5, which also measures loss)."""
    mapping.draft.put("target", mapping.target.target.strip("[]"))
    mapping.draft.put("packets", 1)
    map_options(mapping, _ICMP_HANDLERS, _ICMP_NO_EQUIVALENT, IP_OPTIONS)
    family = ip_family(mapping, auto=False)
    if family is not None and (family != "ip4" or any(mapping.section.at(k).present for k in IP_OPTIONS)):
        mapping.draft.put("ip_family", family)


def _payload_size(mapping: Mapping, node: Node) -> None:
    size = node.integer()
    if not 0 <= size <= _MAX_PAYLOAD_BYTES:
        mapping.draft.comment(f"blackbox: payload_size {size}: prober sends 0 to {_MAX_PAYLOAD_BYTES} bytes",
                              "payload_bytes")
    mapping.draft.put("payload_bytes", max(0, min(size, _MAX_PAYLOAD_BYTES)))


def _split(target: str) -> tuple[str, str | None]:
    """(host, port text or None when there is none) as Go's net.SplitHostPort reads `host:port`, `[v6]:port`."""
    if target.startswith("["):
        host, _bracket, rest = target[1:].partition("]")
        return host, rest[1:] if rest.startswith(":") else None
    if target.count(":") == 1:
        host, _colon, port = target.partition(":")
        return host, port
    return target, None


def _valid_port(port: str | None) -> bool:
    return port is not None and port.isdigit() and 0 < int(port) < 65536


_TCP_HANDLERS: dict[str, Handler] = {"tls": _tls, "tls_config": _tcp_tls_config, "query_response": _query_response}
_GRPC_HANDLERS: dict[str, Handler] = {"service": _service, "tls": _tls, "metadata": _metadata}
_ICMP_HANDLERS: dict[str, Handler] = {"payload_size": _payload_size}
