"""Incident notes: the Markdown files people write during an incident (`prober site --notes status/`), read
safely into `Note`s (prober/site/incidents.py merges them with the incidents the counters detected).

A note is a `---` front matter (title, start, end, services, state, impact) then updates, each under a heading
`## <time> [state]`. Its Markdown becomes safe HTML: no raw HTML, no images, links only http, https and mailto
(with rel="nofollow noopener"); every update also has a plain-text version for feeds and chat.

Reading is bounded (`MAX_FILES` files, `MAX_FILE_BYTES` each, `MAX_UPDATES` updates each) and never raises: a
broken file is skipped with a problem that says where ("status/x.md: line 3: start: ..."), the others load."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml
from markdown_it import MarkdownIt
from markdown_it.token import Token

from prober.site.model import Impact, IncidentState, Update
from prober.site.services import slug

MAX_FILES = 1000
MAX_FILE_BYTES = 256 * 1024
MAX_UPDATES = 200
MAX_TITLE_CHARS = 200

KEYS = ("title", "start", "end", "services", "state", "impact")
REQUIRED = ("title", "start", "services", "state")
LINK_SCHEMES = ("http://", "https://", "mailto:")

E = TypeVar("E", IncidentState, Impact)
_NULL_TAG = "tag:yaml.org,2002:null"
_TIME = re.compile(r"\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?([Zz]|[+-]\d{2}(:?\d{2})?)?")
_CLOCK = re.compile(r"\d{2}:\d{2}(:\d{2}(\.\d+)?)?([Zz]|[+-]\d{2}(:?\d{2})?)?")
_HEADING = re.compile(r" {0,3}##(?:[ \t]+(?P<rest>.*?))?[ \t]*")
_FENCE = re.compile(r" {0,3}(```|~~~)")


@dataclass(frozen=True)
class Note:
    """One incident as a person wrote it. `end` None: not said (ongoing unless the state is resolved or
    postmortem)."""

    id: str  # "note-" + slug of the file's stem: stable while the file keeps its name
    path: Path
    title: str
    start: float
    end: float | None
    services: tuple[str, ...]  # service ids
    state: IncidentState
    impact: Impact | None  # None: not said
    updates: tuple[Update, ...]  # newest first


class _NoteError(Exception):
    """Why a note cannot be read; caught in `read_notes` and turned into a problem, never raised out."""

    def __init__(self, line: int | None, message: str) -> None:
        super().__init__(message)
        self.line = line
        self.message = message


@dataclass(frozen=True)
class _Heading:
    """`## <time> [state]`: `state` None when the heading gave none."""

    line: int
    at: float
    state: IncidentState | None


@dataclass(frozen=True)
class _Section:
    """An update as written, before its state is settled."""

    at: float
    state: IncidentState | None
    body: str


def read_notes(folder: Path, services: Mapping[str, str], timezone: str) -> tuple[list[Note], list[str]]:
    """The notes in `folder` (its `*.md` files, by name; hidden files are ignored) and the problems found.
    `services` maps public names and ids to ids; times without an offset are in `timezone`. Never raises: a
    missing folder or a broken file is a problem; at most `MAX_FILES` files are read (a problem says when
    more were there)."""
    try:
        zone = ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError):
        return [], [f"notes: unknown timezone {_quote(timezone)}"]
    try:
        paths = sorted(p for p in folder.iterdir()
                       if p.suffix.lower() == ".md" and not p.name.startswith(".") and p.is_file())
    except OSError as exc:
        return [], [f"{folder}: cannot read the notes folder ({exc.strerror or type(exc).__name__})"]
    problems: list[str] = []
    if len(paths) > MAX_FILES:
        problems.append(f"{folder}: {len(paths):,} notes: only the first {MAX_FILES:,} by name are read")
        paths = paths[:MAX_FILES]
    reader = _Reader(services, zone)
    notes: list[Note] = []
    ids: dict[str, int] = {}
    for path in paths:
        base = f"note-{slug(path.stem)}"
        ids[base] = ids.get(base, 0) + 1
        note_id = base if ids[base] == 1 else f"{base}-{ids[base]}"
        try:
            note, cut = reader.note(path, note_id)
        except _NoteError as broken:
            where = f"line {broken.line}: " if broken.line is not None else ""
            problems.append(f"{path}: {where}{broken.message}")
            continue
        notes.append(note)
        problems += [f"{path}: {message}" for message in cut]
    return notes, problems


class _Reader:
    """Reads one note at a time with the site's services, timezone and Markdown renderer."""

    def __init__(self, services: Mapping[str, str], zone: ZoneInfo) -> None:
        self.services = services
        self.folded = {key.casefold(): value for key, value in services.items()}
        self.zone = zone
        self.markdown = MarkdownIt("commonmark", {"html": False}).enable("strikethrough").disable("image")

    def note(self, path: Path, note_id: str) -> tuple[Note, list[str]]:
        """The note in `path`, and what was cut from it; `_NoteError` when it cannot be shown."""
        lines = _lines(path)
        if not lines or lines[0].strip() != "---":
            raise _NoteError(1, "no front matter: a note begins with a line '---', then title, start, services, "
                                "state, then a line '---'")
        close = next((i for i, line in enumerate(lines[1:], 1) if line.strip() in ("---", "...")), None)
        if close is None:
            raise _NoteError(1, "the front matter is not closed by a line '---'")
        fields = _front_matter("\n".join(lines[1:close]))
        title = self.title(fields)
        start = self.time(fields, "start")
        end = self.time(fields, "end") if "end" in fields else None
        if end is not None and end < start:
            raise _NoteError(fields["end"].start_mark.line + 2, "end: before start")
        state = _choice(fields, "state", IncidentState)
        impact = _choice(fields, "impact", Impact) if "impact" in fields else None
        sections, cut = self.sections(lines[close + 1:], close + 2, start)
        note = Note(note_id, path, title, start, end, self.service_ids(fields), state, impact,
                    self.updates(sections, state))
        return note, cut

    def title(self, fields: Mapping[str, yaml.Node]) -> str:
        title = _scalar(fields, "title").strip()
        if not title:
            raise _NoteError(fields["title"].start_mark.line + 2, "title: empty")
        if len(title) > MAX_TITLE_CHARS:
            raise _NoteError(fields["title"].start_mark.line + 2, f"title: longer than {MAX_TITLE_CHARS} characters")
        return title

    def time(self, fields: Mapping[str, yaml.Node], key: str) -> float:
        text = _scalar(fields, key).strip()
        at = _parse_time(text, self.zone)
        if at is None:
            raise _NoteError(fields[key].start_mark.line + 2, f"{key}: {_time_problem(text, self.zone)}")
        return at

    def service_ids(self, fields: Mapping[str, yaml.Node]) -> tuple[str, ...]:
        """The ids of `services:`, a list or one name, each a public name or an id (exact, else in any case)."""
        node = fields["services"]
        items: list[yaml.Node] = [node] if isinstance(node, yaml.ScalarNode) else list(node.value)
        if not items or not all(isinstance(item, yaml.ScalarNode) for item in items):
            raise _NoteError(node.start_mark.line + 2, "services: expected a list of service names, e.g. [Checkout]")
        ids: list[str] = []
        for item in items:
            name = str(item.value).strip()
            found = self.services.get(name) or self.folded.get(name.casefold())
            if found is None:
                known = ", ".join(sorted(self.services)[:10]) or "none"
                raise _NoteError(item.start_mark.line + 2, f"services: unknown service {_quote(name)} (known: {known})")
            if found not in ids:
                ids.append(found)
        return tuple(ids)

    def sections(self, lines: Sequence[str], first_line: int, start: float) -> tuple[list[_Section], list[str]]:
        """The updates under `## <time> [state]` headings (not inside fenced code), plus any text before the
        first heading as an update at `start`; the newest `MAX_UPDATES` are kept (the second value says when
        some were cut)."""
        sections: list[_Section] = []
        heading: _Heading | None = None  # None: the text before the first heading
        body: list[str] = []
        fence: str | None = None
        for number, line in enumerate(lines, first_line):
            fence_mark = _FENCE.match(line)
            if fence_mark is not None:
                fence = fence_mark.group(1) if fence is None else None if fence_mark.group(1) == fence else fence
            match = _HEADING.fullmatch(line) if fence is None else None
            if match is None:
                body.append(line)
                continue
            _close(sections, heading, body, start)
            heading, body = self.heading(match.group("rest") or "", number), []
        _close(sections, heading, body, start)
        if len(sections) <= MAX_UPDATES:
            return sections, []
        kept = sorted(sections, key=lambda s: s.at)[-MAX_UPDATES:]
        return kept, [f"{len(sections)} updates: only the newest {MAX_UPDATES} are shown"]

    def heading(self, rest: str, line: int) -> _Heading:
        """`<time> [state]` of an update heading; the time may be "YYYY-MM-DD HH:MM" (two words)."""
        words = rest.split()
        if len(words) >= 2 and not _TIME.fullmatch(words[0]) and _CLOCK.fullmatch(words[1]):
            words = [f"{words[0]} {words[1]}", *words[2:]]
        if not words or len(words) > 2:
            raise _NoteError(line, f"update heading: expected '## <time> [state]' (got {_quote(rest)})")
        at = _parse_time(words[0], self.zone)
        if at is None:
            raise _NoteError(line, f"update heading: {_time_problem(words[0], self.zone)}")
        if len(words) == 1:
            return _Heading(line, at, None)
        try:
            return _Heading(line, at, IncidentState(words[1].lower()))
        except ValueError:
            raise _NoteError(line, f"update heading: unknown state {_quote(words[1])} "
                                   f"(expected one of: {', '.join(IncidentState)})") from None

    def updates(self, sections: Sequence[_Section], state: IncidentState) -> tuple[Update, ...]:
        """Newest first. An update whose heading names no state takes the note's state when it is the newest,
        else the state of the update before it (the oldest: investigating)."""
        ordered = sorted(sections, key=lambda s: s.at)
        previous = IncidentState.INVESTIGATING
        updates: list[Update] = []
        for index, section in enumerate(ordered):
            newest = index == len(ordered) - 1
            previous = section.state or (state if newest else previous)
            html, text = self.render(section.body)
            updates.append(Update(section.at, previous, html, text))
        return tuple(reversed(updates))

    def render(self, source: str) -> tuple[str, str]:
        """Safe HTML and plain text of one update's Markdown."""
        tokens = self.markdown.parse(source)
        for token in tokens:
            if token.children is not None:
                token.children = _safe_links(token.children)
        return self.markdown.renderer.render(tokens, self.markdown.options, {}).strip(), _plain(tokens)


def _close(sections: list[_Section], heading: _Heading | None, body: Sequence[str], start: float) -> None:
    """Adds the update that ends here. Text before the first heading is optional; under a heading it is not."""
    text = "\n".join(body).strip()
    if heading is None:
        if text:
            sections.append(_Section(start, None, text))
    elif text:
        sections.append(_Section(heading.at, heading.state, text))
    else:
        raise _NoteError(heading.line, "the update has no text")


def _lines(path: Path) -> list[str]:
    """The file's lines, read at most `MAX_FILE_BYTES`; `_NoteError` when unreadable, too large or not UTF-8."""
    try:
        with path.open("rb") as file:
            data = file.read(MAX_FILE_BYTES + 1)
    except OSError as exc:
        raise _NoteError(None, f"cannot read ({exc.strerror or type(exc).__name__})") from None
    if len(data) > MAX_FILE_BYTES:
        raise _NoteError(None, f"larger than {MAX_FILE_BYTES // 1024} KiB: skipped")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[:exc.start].count(b"\n") + 1
        raise _NoteError(line, f"not UTF-8 (byte {exc.start})") from None
    return text.replace("\r\n", "\n").replace("\r", "\n").split("\n")


def _front_matter(source: str) -> dict[str, yaml.Node]:
    """Key -> YAML node of the front matter (which starts on the file's line 2), checked for unknown,
    repeated and missing keys. Nodes, not values: every value is read as the text written (no YAML dates)."""
    try:
        root = yaml.compose(source, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as exc:
        line = exc.problem_mark.line + 2 if exc.problem_mark is not None else None
        raise _NoteError(line, f"front matter: {exc.problem or 'not YAML'}") from None
    except yaml.YAMLError:
        raise _NoteError(None, "front matter: not YAML") from None
    except RecursionError:  # PyYAML composes recursively: "[[[[..." must not take the site down
        raise _NoteError(None, "front matter: nested too deeply") from None
    if root is None:
        root = yaml.MappingNode("tag:yaml.org,2002:map", [])
    if not isinstance(root, yaml.MappingNode):
        raise _NoteError(2, "front matter: expected 'key: value' lines")
    fields: dict[str, yaml.Node] = {}
    seen: set[str] = set()
    for key_node, value_node in root.value:
        key = str(key_node.value)
        line = key_node.start_mark.line + 2
        if key not in KEYS:
            raise _NoteError(line, f"unknown key {_quote(key)} (expected: {', '.join(KEYS)})")
        if key in seen:
            raise _NoteError(line, f"{key}: given twice")
        seen.add(key)
        if not (isinstance(value_node, yaml.ScalarNode) and value_node.tag == _NULL_TAG):
            fields[key] = value_node
    missing = [key for key in REQUIRED if key not in fields]
    if missing:
        raise _NoteError(None, f"front matter: missing {', '.join(missing)}")
    return fields


def _scalar(fields: Mapping[str, yaml.Node], key: str) -> str:
    node = fields[key]
    if not isinstance(node, yaml.ScalarNode):
        raise _NoteError(node.start_mark.line + 2, f"{key}: expected one value")
    return str(node.value)


def _choice(fields: Mapping[str, yaml.Node], key: str, kind: type[E]) -> E:
    text = _scalar(fields, key).strip()
    try:
        return kind(text.lower())
    except ValueError:
        raise _NoteError(fields[key].start_mark.line + 2, f"{key}: unknown {key} {_quote(text)} "
                                                        f"(expected one of: {', '.join(kind)})") from None


def _parse_time(text: str, zone: ZoneInfo) -> float | None:
    """Unix time of an ISO 8601 date and time ("T" or a space between; seconds optional), in `zone` without an
    offset; None when it is not one."""
    if not _TIME.fullmatch(text):
        return None
    try:
        moment = dt.datetime.fromisoformat(text.upper())
    except ValueError:
        return None
    return (moment if moment.tzinfo is not None else moment.replace(tzinfo=zone)).timestamp()


def _time_problem(text: str, zone: ZoneInfo) -> str:
    return (f"not a time: {_quote(text)} (expected ISO 8601, e.g. 2026-11-30T10:05:00+01:00, or "
            f"YYYY-MM-DD HH:MM in {zone.key})")


def _quote(text: str, limit: int = 60) -> str:
    return repr(text if len(text) <= limit else text[:limit] + "…")


def _safe_links(children: list[Token]) -> list[Token]:
    """Links to http, https and mailto get rel="nofollow noopener"; any other link becomes its text."""
    kept: list[Token] = []
    dropped = 0  # nesting of dropped links (markdown-it never nests links, but be safe)
    for token in children:
        if token.type == "link_open":
            if str(token.attrGet("href") or "").lower().startswith(LINK_SCHEMES) and not dropped:
                token.attrSet("rel", "nofollow noopener")
                kept.append(token)
            else:
                dropped += 1
            continue
        if token.type == "link_close" and dropped:
            dropped -= 1
            continue
        kept.append(token)
    return kept


def _plain(tokens: Sequence[Token]) -> str:
    """One line per paragraph, heading and list item ("- " before an item); a link's address follows its
    text in parentheses when the two differ."""
    lines: list[str] = []
    prefix = ""
    for token in tokens:
        if token.type == "list_item_open":
            prefix = "- "
        elif token.type == "inline":
            lines.append(prefix + _inline_text(token.children or []))
            prefix = ""
        elif token.type in ("code_block", "fence"):
            lines.append(token.content.rstrip("\n"))
    return "\n".join(line for line in lines if line.strip())


def _inline_text(children: Sequence[Token]) -> str:
    parts: list[str] = []
    href: str | None = None
    label_at = 0
    for token in children:
        if token.type in ("text", "code_inline"):
            parts.append(token.content)
        elif token.type == "softbreak":
            parts.append(" ")
        elif token.type == "hardbreak":
            parts.append("\n")
        elif token.type == "link_open":
            href, label_at = str(token.attrGet("href") or ""), len(parts)
        elif token.type == "link_close" and href is not None:
            label = "".join(parts[label_at:])
            if label not in (href, href.removeprefix("mailto:")):
                parts.append(f" ({href})")
            href = None
    return "".join(parts)
