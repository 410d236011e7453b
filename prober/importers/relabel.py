"""Prometheus' relabelling, as it rewrites a scrape target's labels: the same actions, defaults and Go regexps,
so the importer sees the `__param_target` and `__param_module` Prometheus would send to blackbox_exporter."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

from prober.importers.go_syntax import GoRegexError, expand, python_regex
from prober.importers.yaml_source import Node, Problems, WrongTypeError

_ACTIONS = frozenset({"replace", "keep", "drop", "keepequal", "dropequal", "hashmod", "labelmap", "labeldrop",
                      "labelkeep", "lowercase", "uppercase"})
_NEEDS_TARGET = frozenset({"replace", "hashmod", "lowercase", "uppercase", "keepequal", "dropequal"})
_LABEL_NAME = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*")

Labels = dict[str, str]


@dataclass(frozen=True)
class Rule:
    """One `relabel_configs` entry with Prometheus' defaults filled in; `regex` is anchored at both ends."""

    action: str
    source_labels: tuple[str, ...]
    separator: str
    target_label: str
    regex: re.Pattern[str]
    replacement: str
    modulus: int


def read_rules(node: Node, problems: Problems) -> list[Rule] | None:
    """The rules of a `relabel_configs` list; None (with a problem said) when one cannot be read: a job whose
    relabelling is not understood is skipped rather than imported wrong."""
    rules: list[Rule] = []
    try:
        entries = node.elements()
    except WrongTypeError as exc:
        problems.add(node, str(exc))
        return None
    for entry in entries:
        try:
            rules.append(_rule(entry))
        except (WrongTypeError, GoRegexError) as exc:
            problems.add(entry, str(exc))
            return None
    return rules


def _rule(node: Node) -> Rule:
    node.entries()  # a mapping, or WrongTypeError
    action = node.at("action").text().lower() if node.at("action").present else "replace"
    if action not in _ACTIONS:
        raise WrongTypeError(f"action {action!r} is not a relabelling action")
    target = node.at("target_label").text() if node.at("target_label").present else ""
    if action in _NEEDS_TARGET and not target:
        raise WrongTypeError(f"action {action} needs target_label")
    regex = node.at("regex").text() if node.at("regex").present else "(.*)"
    modulus = node.at("modulus").integer() if node.at("modulus").present else 0
    if action == "hashmod" and modulus <= 0:
        raise WrongTypeError("action hashmod needs a modulus above 0")
    return Rule(
        action=action,
        source_labels=tuple(node.at("source_labels").texts()),
        separator=node.at("separator").text() if node.at("separator").present else ";",
        target_label=target,
        regex=re.compile(f"(?s:{python_regex(regex)})"),  # Prometheus anchors it: ^(?s:regex)$
        replacement=node.at("replacement").text() if node.at("replacement").present else "$1",
        modulus=modulus,
    )


def relabel(labels: Labels, rules: list[Rule]) -> Labels | None:
    """The labels after every rule, in order; None when a keep/drop rule drops the target."""
    current = dict(labels)
    for rule in rules:
        if not _apply(rule, current):
            return None
    return current


def _apply(rule: Rule, labels: Labels) -> bool:
    """Apply one rule in place; False when it drops the target."""
    value = rule.separator.join(labels.get(name, "") for name in rule.source_labels)
    match = rule.regex.fullmatch(value)
    if rule.action == "keep":
        return match is not None
    if rule.action == "drop":
        return match is None
    if rule.action in ("keepequal", "dropequal"):
        return (value == labels.get(rule.target_label, "")) == (rule.action == "keepequal")
    if rule.action == "replace":
        if match is not None:
            target = expand(rule.target_label, match)
            result = expand(rule.replacement, match)
            if _LABEL_NAME.fullmatch(target):
                _set(labels, target, result)
    elif rule.action == "hashmod":
        digest = hashlib.md5(value.encode(), usedforsecurity=False).digest()
        labels[rule.target_label] = str(int.from_bytes(digest[8:], "big") % rule.modulus)  # Go's sum64 of md5
    elif rule.action in ("lowercase", "uppercase"):
        _set(labels, rule.target_label, value.lower() if rule.action == "lowercase" else value.upper())
    else:
        _by_name(rule, labels)
    return True


def _by_name(rule: Rule, labels: Labels) -> None:
    """labelmap, labeldrop and labelkeep: rules over label names rather than values."""
    for name, value in list(labels.items()):
        match = rule.regex.fullmatch(name)
        if rule.action == "labelmap" and match is not None:
            labels[expand(rule.replacement, match)] = value
        elif (rule.action == "labeldrop") == (match is not None) and rule.action != "labelmap":
            del labels[name]


def _set(labels: Labels, name: str, value: str) -> None:
    if value:
        labels[name] = value
    else:
        labels.pop(name, None)  # Prometheus deletes a label set to the empty string
