"""Write an agent.yaml by hand, so comments sit next to the keys they explain: block style, each text quoted only
when it must be, every `$` doubled (the loader reads `${VAR}` and `$$` in every value)."""

from __future__ import annotations

import re
from dataclasses import dataclass

import yaml

_PLAIN = re.compile(r"[A-Za-z0-9_./][A-Za-z0-9_./:@+=?&%~-]*")
_ESCAPES = {'"': '\\"', "\\": "\\\\", "\n": "\\n", "\r": "\\r", "\t": "\\t"}
_PLAIN_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_.-]*")
_INDENT = 2


@dataclass(frozen=True)
class WrittenCheck:
    """A check to write: its data, comments by dotted key (`""` above the check), and whether it is written
    commented out (with the reasons why above it)."""

    data: dict[str, object]
    comments: dict[str, list[str]]
    disabled_because: list[str]


def render(header: list[str], checks: list[WrittenCheck], footer: list[str]) -> str:
    """The whole document: header comments, `checks:` (`[]` when none is active), footer comments."""
    lines = [_comment(line, 0) for line in header]
    active = [check for check in checks if not check.disabled_because]
    lines.append("checks:" if active else "checks: []")
    for check in checks:
        body = _item(check.data, _INDENT, "", check.comments)
        if check.disabled_because:
            lines.append(_comment("check written commented out by the import:", _INDENT))
            lines += [_comment(f"  {reason}", _INDENT) for reason in check.disabled_because]
            lines += [" " * _INDENT + "# " + line[_INDENT:] for line in body]
        else:
            lines += body
    lines += [_comment(line, 0) for line in footer]
    return "\n".join(lines) + "\n"


def _comment(text: str, indent: int) -> str:
    """One comment line; a tab or other control character in it (from a pattern) is shown escaped."""
    shown = "".join(char if char.isprintable() else _double_quoted_char(char) for char in text)
    return " " * indent + "# " + shown if shown else " " * indent + "#"


def _item(value: object, indent: int, path: str, comments: dict[str, list[str]]) -> list[str]:
    """A list element at `indent` (its `- ` there), with the comments anchored at `path` above it."""
    lines = [_comment(text, indent) for text in comments.get(path, [])]
    if isinstance(value, dict) and value:
        body: list[str] = []
        for key, child in value.items():
            body += _entry(key, child, indent + _INDENT, _join(path, key), comments)
        first = next(i for i, line in enumerate(body) if not line.lstrip().startswith("#"))
        body[first] = " " * indent + "- " + body[first][indent + _INDENT:]
        return lines + body
    if isinstance(value, list) and value:
        raise TypeError("a list directly in a list is not written")
    return [*lines, " " * indent + "- " + _inline(value)]


def _entry(key: str, value: object, indent: int, path: str, comments: dict[str, list[str]]) -> list[str]:
    lines = [_comment(text, indent) for text in comments.get(path, [])]
    head = " " * indent + _key(key) + ":"
    if isinstance(value, dict) and value:
        lines.append(head)
        for child_key, child in value.items():
            lines += _entry(child_key, child, indent + _INDENT, _join(path, child_key), comments)
    elif isinstance(value, list) and value:
        lines.append(head)
        for index, element in enumerate(value):
            lines += _item(element, indent + _INDENT, f"{path}[{index}]", comments)
    else:
        lines.append(f"{head} {_inline(value)}")
    return lines


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def _key(key: str) -> str:
    return key if _PLAIN_KEY.fullmatch(key) else _quoted(key)


def _inline(value: object) -> str:
    """A scalar (or an empty list or mapping) as YAML reads it back exactly."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        text = repr(value)
        return text if "." in text or "e" in text or "inf" in text or "nan" in text else text + ".0"
    if isinstance(value, list):
        return "[]"
    if isinstance(value, dict):
        return "{}"
    if isinstance(value, str):
        return text_value(value)
    raise TypeError(f"cannot write {type(value).__name__}")


def text_value(text: str) -> str:
    """A string value for the loader: `$` doubled, then plain, single- or double-quoted as it needs."""
    escaped = text.replace("$", "$$")
    if _PLAIN.fullmatch(escaped) and not escaped.endswith(":") and yaml.safe_load(escaped) == escaped:
        return escaped
    return _quoted(escaped)


def _quoted(text: str) -> str:
    if text.isprintable():  # no newline, tab or other control: single quotes keep backslashes as they are
        return "'" + text.replace("'", "''") + "'"
    return '"' + "".join(_double_quoted_char(char) for char in text) + '"'


def _double_quoted_char(char: str) -> str:
    if char in _ESCAPES:
        return _ESCAPES[char]
    if char.isprintable():
        return char
    code = ord(char)
    if code <= 0xFF:
        return f"\\x{code:02x}"
    return f"\\u{code:04x}" if code <= 0xFFFF else f"\\U{code:08x}"
