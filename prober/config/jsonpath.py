"""The small JSONPath subset that `expect.json` accepts: `$.a.b[0]['c d']`, child keys and list indexes only."""

from __future__ import annotations

import re

_TOKEN_RE = re.compile(r"\.([A-Za-z_][A-Za-z0-9_-]*)|\[(-?\d+)\]|\['([^']*)'\]|\[\"([^\"]*)\"\]")

PathStep = str | int
MISSING = object()
"""Returned by `lookup` when the path does not exist in the document."""


def parse_path(path: str) -> tuple[PathStep, ...]:
    """Parse a path to its steps; raise ValueError saying what is supported."""
    if not path.startswith("$"):
        raise ValueError(f"JSONPath must start with '$' (got {path!r})")
    steps: list[PathStep] = []
    pos = 1
    while pos < len(path):
        match = _TOKEN_RE.match(path, pos)
        if match is None:
            raise ValueError(
                f"unsupported JSONPath {path!r} at offset {pos}: use .key, ['key'] or [index]"
            )
        key, index, quoted, dquoted = match.groups()
        if index is not None:
            steps.append(int(index))
        else:
            steps.append(next(s for s in (key, quoted, dquoted) if s is not None))
        pos = match.end()
    return tuple(steps)


def lookup(document: object, steps: tuple[PathStep, ...]) -> object:
    """The value at `steps`, or `MISSING` when any step does not exist."""
    node = document
    for step in steps:
        if isinstance(step, int) and isinstance(node, list) and -len(node) <= step < len(node):
            node = node[step]
        elif isinstance(step, str) and isinstance(node, dict) and step in node:
            node = node[step]
        else:
            return MISSING
    return node

