"""HTTP status patterns of a check's `expect.status`: codes (`200`) and classes (`2xx`)."""

from __future__ import annotations

from collections.abc import Sequence


def status_matches(status: int, patterns: Sequence[str]) -> bool:
    """True when `status` is one of the codes or classes (`2xx`) in `patterns`."""
    text = str(status)
    return any(text == p or (p.endswith("xx") and text[0] == p[0]) for p in patterns)
