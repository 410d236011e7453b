"""Check names from a module and a target: readable, bounded (letters, digits, '_', '.', '-', at most 63
characters, as prober's CheckName) and unique within one import."""

from __future__ import annotations

import hashlib
import re

MAX_LENGTH = 63
_NOT_ALLOWED = re.compile(r"[^A-Za-z0-9_.-]+")
_HASH_LENGTH = 8


def check_name(module: str, target: str, taken: set[str]) -> str:
    """`http_2xx.example.com_health` for module http_2xx and target https://example.com/health; a name too long
    or already taken ends in a hash of (module, target) instead. Adds the name to `taken`."""
    readable = f"{_clean(module) or 'module'}.{_clean(re.sub(r'^[a-z]+://', '', target, flags=re.I)) or 'target'}"
    name = readable
    if len(name) > MAX_LENGTH or name in taken:
        digest = hashlib.sha256(f"{module}\0{target}".encode()).hexdigest()
        name = f"{readable[:MAX_LENGTH - _HASH_LENGTH - 1].rstrip('_.-')}-{digest[:_HASH_LENGTH]}"
        serial = 2
        while name in taken:  # two (module, target) pairs with the same hash prefix: practically never
            name = f"{name[:MAX_LENGTH - len(str(serial)) - 1]}-{serial}"
            serial += 1
    taken.add(name)
    return name


def _clean(text: str) -> str:
    """Runs of characters a name cannot hold become one '_'; it starts with a letter or digit, ends with neither
    '_', '.' nor '-'."""
    cleaned = _NOT_ALLOWED.sub("_", text).strip("_.-")
    return cleaned
