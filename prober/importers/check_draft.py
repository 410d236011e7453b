"""A check being written from a blackbox module (its keys, the comments that go with them, the reasons it must be
written commented out) and what every module type maps alike: options in turn, tls_config, ip protocol, regexps."""

from __future__ import annotations

import ipaddress
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

from prober.importers.go_syntax import GoRegexError, python_regex
from prober.importers.scrape_targets import ProbeTarget
from prober.importers.yaml_source import Node, Problems, WrongTypeError

NO_EQUIVALENT = "no prober equivalent"
IP_OPTIONS = frozenset({"preferred_ip_protocol", "ip_protocol_fallback"})
"""Read together by `ip_family`, after the other options."""
_SHOWN_MAX = 60
_SET = object()  # an option that is set, its value not worth showing


@dataclass
class Draft:
    """An agent.yaml check under construction; `comments` maps a dotted key (`expect.headers`, `""` for the
    check itself) to the comment lines written above it."""

    data: dict[str, object] = field(default_factory=dict)
    comments: dict[str, list[str]] = field(default_factory=dict)
    disabled: list[str] = field(default_factory=list)

    def put(self, path: str, value: object) -> None:
        *parents, last = path.split(".")
        node = self.data
        for part in parents:
            child = node.setdefault(part, {})
            assert isinstance(child, dict)
            node = child
        node[last] = value

    def get(self, path: str) -> object:
        node: object = self.data
        for part in path.split("."):
            node = node.get(part) if isinstance(node, dict) else None
        return node

    def comment(self, text: str, at: str = "") -> None:
        self.comments.setdefault(at, []).append(text)

    def no_equivalent(self, key: str, why: str = "", value: object = _SET, at: str = "") -> None:
        """`blackbox: fail_if_ssl (no prober equivalent)`, with why and the value when they help; nothing for an
        option set to false or left empty, which asks for nothing."""
        if value is False or value is None or value == "" or value == [] or value == {}:
            return
        text = f"blackbox: {key} ({NO_EQUIVALENT})"
        if why:
            text += f": {why}"
        if isinstance(value, str | int | float) and not isinstance(value, bool) and len(repr(value)) <= _SHOWN_MAX:
            text += f" (was {value!r})"
        self.comment(text, at)

    def disable(self, reason: str) -> None:
        self.disabled.append(reason)


@dataclass
class Mapping:
    """One module's probe section being mapped onto one check."""

    draft: Draft
    section: Node
    target: ProbeTarget
    files_dir: Path
    problems: Problems

    def regexps(self, node: Node, label: str) -> list[str]:
        """The Python form of each Go regexp of a list; one that has none is left out, with a comment."""
        patterns = []
        for element in node.elements():
            text = element.text()
            try:
                patterns.append(python_regex(text))
            except GoRegexError as exc:
                self.draft.comment(f"blackbox: {label} /{text}/ not carried over: {exc}")
                self.problems.add(element, f"{exc}: left out")
        return patterns

    def file(self, node: Node) -> str:
        """An absolute file name (a relative one is taken from blackbox.yml's folder); a file missing here
        disables the check, which would not load."""
        path = Path(node.text())
        if not path.is_absolute():
            path = (self.files_dir / path).resolve()
        if not path.is_file():
            self.draft.disable(f"{node.where}: file {path} not found on this machine")
        return str(path)


Handler = Callable[[Mapping, Node], None]


def map_options(mapping: Mapping, handlers: dict[str, Handler], no_equivalent: dict[str, str],
                read_elsewhere: frozenset[str] = frozenset()) -> None:
    """Each option of the section in the file's order: mapped by its handler, or a comment saying why not."""
    try:
        entries = mapping.section.entries()
    except WrongTypeError as exc:
        mapping.problems.add(mapping.section, f"{exc}: the module's options are ignored")
        mapping.draft.comment(f"blackbox: {mapping.section.key}: {exc} (ignored)")
        return
    for key, node in entries:
        if key in handlers:
            guarded(mapping, node, partial(handlers[key], mapping, node))
        elif key in no_equivalent:
            mapping.draft.no_equivalent(key, no_equivalent[key], node.value)
        elif key not in read_elsewhere:
            mapping.draft.comment(f"blackbox: {key} (not an option this importer knows: ignored)")


def guarded(mapping: Mapping, node: Node, read: Callable[[], object]) -> None:
    """Run `read`; a value of the wrong shape becomes a problem (said where) and a comment, never a crash."""
    try:
        read()
    except WrongTypeError as exc:
        mapping.problems.add(node, f"{exc}: ignored")
        mapping.draft.comment(f"blackbox: {node.key}: {exc} (ignored)")


def client_tls(mapping: Mapping, node: Node, at: str) -> dict[str, object]:
    """A prober `tls` block (ClientTls) from a blackbox `tls_config`; comments go above `at`."""
    tls: dict[str, object] = {}
    for key, child in node.entries():
        if key == "insecure_skip_verify":
            if child.flag():
                tls["insecure"] = True
        elif key in ("ca_file", "cert_file", "key_file"):
            tls[key] = mapping.file(child)
        elif key == "server_name":
            tls["server_name"] = child.text()
        elif key in ("min_version", "max_version"):
            mapping.draft.no_equivalent(f"tls_config.{key}", "prober's client takes Python's TLS defaults",
                                        child.value, at)
        else:
            mapping.draft.no_equivalent(f"tls_config.{key}", "", child.value, at)
    return tls


def ip_family(mapping: Mapping, *, auto: bool = True) -> str | None:
    """prober's `ip_family` from blackbox's preferred_ip_protocol and ip_protocol_fallback; None for prober's
    default when nothing is set. With fallback (blackbox's default) either family may answer: `auto`; without
    it, only the preferred one (blackbox's default ip6). Without `auto` (icmp): an address's own family, else the
    preferred one, else ip4. A comment says what was chosen from what."""
    preferred_node = mapping.section.at("preferred_ip_protocol")
    fallback_node = mapping.section.at("ip_protocol_fallback")
    try:
        preferred = preferred_node.text() if preferred_node.present else ""
        fallback = fallback_node.flag() if fallback_node.present else True
    except WrongTypeError as exc:
        mapping.problems.add(mapping.section, f"preferred_ip_protocol / ip_protocol_fallback: {exc}: ignored")
        mapping.draft.comment(f"blackbox: preferred_ip_protocol / ip_protocol_fallback: {exc} (ignored)")
        return None
    family = "ip6" if preferred in ("", "ip6") else "ip4"  # blackbox reads anything but ip6 as ip4
    if not fallback:
        chosen = family
    elif auto:
        chosen = "auto"
    else:
        chosen = _address_family(mapping.target.target) or (family if preferred else "ip4")
    if not (preferred_node.present or fallback_node.present):
        return None if auto else chosen
    said = f"preferred_ip_protocol {preferred or 'ip6 (default)'}, ip_protocol_fallback {str(fallback).lower()}"
    mapping.draft.comment(f"blackbox: {said}: ip_family {chosen}", "ip_family")
    return chosen


def _address_family(host: str) -> str | None:
    try:
        return "ip6" if ipaddress.ip_address(host.strip("[]")).version == 6 else "ip4"
    except ValueError:
        return None
