"""YAML read for an import: every value carries the file and path it came from, so a message says where."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import yaml

Key = str | int


class ImportFailedError(Exception):
    """The import cannot go on (a file that does not read, no target at all); each problem says where."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


class WrongTypeError(ValueError):
    """A value of the wrong shape; its text names what was expected and what was found."""


@dataclass
class Problems:
    """What a person should read about an import that went through: each line starts with where."""

    lines: list[str] = field(default_factory=list)

    def add(self, node: Node, text: str) -> None:
        self.lines.append(f"{node.where}: {text}")


@dataclass(frozen=True)
class Node:
    """One value of a document and where it is: `blackbox.yml: modules.http_2xx.http.valid_status_codes`."""

    file: str
    path: tuple[Key, ...]
    value: object

    @property
    def where(self) -> str:
        text = ""
        for part in self.path:
            if isinstance(part, int):
                text += f"[{part}]"
            elif part.startswith("["):  # an element with its name: `[2] (blackbox_http)`
                text += part
            else:
                text += f".{part}" if text else part
        return f"{self.file}: {text}" if text else self.file

    @property
    def key(self) -> str:
        """The last key of the path, for comments (`fail_if_ssl`)."""
        return str(self.path[-1]) if self.path else ""

    def named(self, name: str) -> Node:
        """This list element, its name shown where it is: `scrape_configs[2] (blackbox_http)`."""
        *parent, last = self.path
        return Node(self.file, (*parent, f"[{last}] ({name})"), self.value)

    @property
    def present(self) -> bool:
        return self.value is not None

    def at(self, key: Key) -> Node:
        """The child at `key`; its value is None when absent (or when this is not a mapping or list)."""
        value: object = None
        if isinstance(self.value, dict) and isinstance(key, str):
            value = self.value.get(key)
        elif isinstance(self.value, list) and isinstance(key, int) and 0 <= key < len(self.value):
            value = self.value[key]
        return Node(self.file, (*self.path, key), value)

    def entries(self) -> list[tuple[str, Node]]:
        """(key, child) of a mapping, in the file's order; an absent value is an empty mapping."""
        if self.value is None:
            return []
        if not isinstance(self.value, dict):
            raise WrongTypeError(f"expected a mapping (got {_shown(self.value)})")
        return [(str(k), Node(self.file, (*self.path, str(k)), v)) for k, v in self.value.items()]

    def elements(self) -> list[Node]:
        """The children of a list; an absent value is an empty list."""
        if self.value is None:
            return []
        if not isinstance(self.value, list):
            raise WrongTypeError(f"expected a list (got {_shown(self.value)})")
        return [Node(self.file, (*self.path, i), v) for i, v in enumerate(self.value)]

    def text(self) -> str:
        """A scalar as text (Go's YAML reads a number into a string field too)."""
        if isinstance(self.value, bool):
            return "true" if self.value else "false"
        if isinstance(self.value, str | int | float):
            return str(self.value)
        raise WrongTypeError(f"expected text (got {_shown(self.value)})")

    def texts(self) -> list[str]:
        return [element.text() for element in self.elements()]

    def flag(self) -> bool:
        if isinstance(self.value, bool):
            return self.value
        raise WrongTypeError(f"expected true or false (got {_shown(self.value)})")

    def integer(self) -> int:
        if isinstance(self.value, int) and not isinstance(self.value, bool):
            return self.value
        raise WrongTypeError(f"expected an integer (got {_shown(self.value)})")


def _shown(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def load_document(path: Path, label: str, *, json_too: bool = False) -> Node:
    """The document at `path` as a Node named `label`; ImportFailedError when it cannot be read or parsed.

    With `json_too`, a `.json` file is read as JSON (Prometheus' file_sd files are either)."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ImportFailedError([f"{label}: cannot read: {exc.__class__.__name__}: {exc}"]) from None
    if json_too and path.suffix == ".json":
        try:
            return Node(label, (), json.loads(text))
        except ValueError as exc:
            raise ImportFailedError([f"{label}: not valid JSON: {exc}"]) from None
    try:
        return Node(label, (), yaml.safe_load(text))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        raise ImportFailedError([f"{label}: {where}not valid YAML: {getattr(exc, 'problem', exc)}"]) from None
