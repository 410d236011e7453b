"""What blackbox_exporter and Prometheus write in Go's syntaxes, read in Python's: RE2 regexps as `re` patterns,
`$1` / `${name}` replacement templates, Go durations (`1.5s`) and Base2Bytes sizes (`10MB` is 10 MiB there)."""

from __future__ import annotations

import re
import warnings

_POSIX_CLASSES = {
    "alnum": "0-9A-Za-z", "alpha": "A-Za-z", "ascii": "\\x00-\\x7f", "blank": "\\t ", "cntrl": "\\x00-\\x1f\\x7f",
    "digit": "0-9", "graph": "!-~", "lower": "a-z", "print": " -~", "punct": "!-/:-@\\[-`{-~",
    "space": "\\t\\n\\v\\f\\r ", "upper": "A-Z", "word": "0-9A-Za-z_", "xdigit": "0-9A-Fa-f",
}
_ASSERTIONS = frozenset({"^", "$", "\\b", "\\B", "\\A", "\\Z"})
_REPEAT = re.compile(r"[*+?]|\{\d+(?:,\d*)?\}")
_LEADING_FLAGS = re.compile(r"\(\?([imsU]+(?:-[imsU]*)?)\)")
_GO_DURATION = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|μs|ms|s|m|h)")
_GO_DURATION_UNITS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "μs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}
_SIZE = re.compile(r"(\d+(?:\.\d+)?)([KMGTPE]i?)?B?", re.IGNORECASE)
_SIZE_POWERS = {"": 0, "k": 1, "m": 2, "g": 3, "t": 4, "p": 5, "e": 6}
_NAME_CHAR = re.compile(r"\w")


class GoRegexError(ValueError):
    """A Go regexp that Python's `re` cannot say the same way (its text says what)."""


def python_regex(pattern: str) -> str:
    """The `re` form of a Go (RE2) regexp, matching the same texts; raises GoRegexError when there is none."""
    flags, body = _leading_flags(pattern)
    try:
        text = "".join(_Translator(body).atoms())
    except GoRegexError:
        raise
    except ValueError as exc:  # a malformed \x{...}
        raise GoRegexError(f"not a Go regexp: {exc}") from None
    if flags:
        text = f"(?{flags}:{text})"  # a scoped group: Python allows global flags only at the very start
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # e.g. "possible nested set": Python would one day read it differently
        try:
            re.compile(text)
        except (re.error, FutureWarning) as exc:
            raise GoRegexError(f"not understood by Python's re: {exc}") from None
    return text


def _leading_flags(pattern: str) -> tuple[str, str]:
    match = _LEADING_FLAGS.match(pattern)
    if not match:
        return "", pattern
    if "U" in match.group(1):
        raise GoRegexError("flag U (ungreedy) has no Python equivalent")
    return match.group(1), pattern[match.end():]


class _Translator:
    """One pass over a Go pattern, atom by atom, rewriting what Python spells otherwise."""

    def __init__(self, pattern: str) -> None:
        self.text = pattern
        self.pos = 0
        self.out: list[str] = []

    def atoms(self) -> list[str]:
        while self.pos < len(self.text):
            char = self.text[self.pos]
            repeat = _REPEAT.match(self.text, self.pos)
            if repeat and self.out and self.out[-1] in _ASSERTIONS:
                # Go repeats an assertion (`^+OK` is `^OK`); Python refuses a bare one, not one in a group
                self.out[-1] = f"(?:{self.out[-1]})"
            if char == "\\":
                self._escape()
            elif char == "[":
                self._char_class()
            elif char == "(":
                self._group()
            else:
                self.out.append(char)
                self.pos += 1
        return self.out

    def _escape(self) -> None:
        if self.pos + 1 >= len(self.text):
            raise GoRegexError("trailing backslash")
        letter = self.text[self.pos + 1]
        self.pos += 2
        if letter == "Q":
            end = self.text.find("\\E", self.pos)
            literal = self.text[self.pos:] if end < 0 else self.text[self.pos:end]
            self.pos = len(self.text) if end < 0 else end + 2
            self.out.append(re.escape(literal))
        elif letter == "z":
            self.out.append("\\Z")  # Go's \z (end of text) is Python's \Z
        elif letter in "pP":
            raise GoRegexError(f"Unicode classes (\\{letter}...) have no Python re equivalent")
        elif letter == "C":
            raise GoRegexError("\\C (any byte) has no Python equivalent")
        elif letter == "x" and self.text.startswith("{", self.pos):
            end = self.text.index("}", self.pos)
            self.out.append(re.escape(chr(int(self.text[self.pos + 1:end], 16))))
            self.pos = end + 1
        elif letter.isdigit():
            self.out.append(re.escape(chr(self._octal(letter))))
        else:
            self.out.append("\\" + letter)

    def _octal(self, first: str) -> int:
        """Go reads `\\0`, `\\12`, `\\123` as octal codes; a lone `\\1` (a backreference) is an error there."""
        digits = first
        while len(digits) < 3 and self.pos < len(self.text) and self.text[self.pos] in "01234567":
            digits += self.text[self.pos]
            self.pos += 1
        if first != "0" and len(digits) == 1:
            raise GoRegexError(f"\\{first} is a backreference, which Go does not have")
        return int(digits, 8)

    def _char_class(self) -> None:
        out = ["["]
        self.pos += 1
        if self.text.startswith("^", self.pos):
            out.append("^")
            self.pos += 1
        first = True
        while True:
            if self.pos >= len(self.text):
                raise GoRegexError("missing closing ]")
            char = self.text[self.pos]
            if char == "]" and not first:
                self.pos += 1
                break
            first = False
            if char == "[" and self.text.startswith("[:", self.pos):
                end = self.text.find(":]", self.pos + 2)
                name = self.text[self.pos + 2:end] if end > 0 else ""
                if name not in _POSIX_CLASSES:
                    raise GoRegexError(f"character class [:{name}:] not translated")
                out.append(_POSIX_CLASSES[name])
                self.pos = end + 2
            elif char == "\\":
                saved, self.out = self.out, []
                self._escape()
                out.extend(self.out)
                self.out = saved
            elif char in "[]&~|":
                out.append("\\" + char)  # literal in Go's class; Python reads some of them as set operations
                self.pos += 1
            else:
                out.append(char)
                self.pos += 1
        out.append("]")
        self.out.append("".join(out))

    def _group(self) -> None:
        rest = self.text[self.pos:]
        if rest.startswith("(?<") and len(rest) > 3 and rest[3] not in "=!":
            self.out.append("(?P<")  # Go 1.22's (?<name>...) is Python's (?P<name>...)
            self.pos += 3
        elif rest.startswith("(?") and not rest.startswith("(?P<") and not rest.startswith("(?:"):
            flags = re.match(r"\(\?([imsU-]*)([:)])", rest)
            if not flags or flags.group(2) == ")":
                raise GoRegexError("flags set inside the pattern (not at its start) are not translated")
            if "U" in flags.group(1):
                raise GoRegexError("flag U (ungreedy) has no Python equivalent")
            self.out.append(flags.group(0))
            self.pos += flags.end()
        else:
            self.out.append("(")
            self.pos += 1


def expand(template: str, match: re.Match[str]) -> str:
    """Go's Regexp.Expand: `$1`, `${1}`, `$name`, `${name}` from `match` (empty when unknown), `$$` a `$`."""
    out: list[str] = []
    pos = 0
    while (dollar := template.find("$", pos)) >= 0:
        out.append(template[pos:dollar])
        name, pos = _reference(template, dollar)
        out.append("$" if name is None else _group_text(match, name))
    out.append(template[pos:])
    return "".join(out)


def has_references(template: str) -> bool:
    """True when Go's Expand would put a matched group into `template` (`$1`, `${name}`)."""
    pos = 0
    while (dollar := template.find("$", pos)) >= 0:
        name, pos = _reference(template, dollar)
        if name is not None:
            return True
    return False


def unescape_dollars(template: str) -> str:
    """A template without references as Go's Expand writes it: `$$` becomes `$`."""
    return template.replace("$$", "$")


def _reference(template: str, dollar: int) -> tuple[str | None, int]:
    """(group name or number, end) of the reference at `template[dollar]`, or (None, _) when it is none."""
    pos = dollar + 1
    if template.startswith("$", pos):
        return None, pos + 1
    braced = template.startswith("{", pos)
    start = pos + 1 if braced else pos
    end = start
    while end < len(template) and _NAME_CHAR.match(template[end]):
        end += 1
    if end == start:
        return None, pos
    if braced:
        if not template.startswith("}", end):
            return None, pos
        return template[start:end], end + 1
    return template[start:end], end


def _group_text(match: re.Match[str], name: str) -> str:
    try:
        value = match.group(int(name) if name.isdigit() else name)
    except IndexError:  # no such group: Go expands it to nothing
        return ""
    return value or ""


def go_duration(text: str) -> float:
    """Seconds of a Go duration (`5s`, `1.5s`, `1m30s`, `500ms`); raises ValueError naming what was expected."""
    pos, total = 0, 0.0
    for match in _GO_DURATION.finditer(text):
        if match.start() != pos:
            break
        total += float(match.group(1)) * _GO_DURATION_UNITS[match.group(2)]
        pos = match.end()
    if pos == 0 or pos != len(text):
        raise ValueError(f"expected a duration such as '5s' or '1m30s' (got {text!r})")
    return total


def base2_bytes(value: object) -> int:
    """Bytes of a blackbox size: an integer, or `10MB` / `10MiB` (both 10 x 2**20, as Go's units.Base2Bytes)."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    match = _SIZE.fullmatch(value.strip()) if isinstance(value, str) else None
    if not match:
        raise ValueError(f"expected a size such as 10MB or 1048576 (got {value!r})")
    power = _SIZE_POWERS[(match.group(2) or "")[:1].lower()]
    return int(float(match.group(1)) * (1 << (10 * power)))
