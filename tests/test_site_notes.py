"""Incident notes: Markdown files read into safe notes (times in the site's timezone, states, updates newest
first, HTML without scripts or unsafe links), broken files reported where they break while the others load,
and the bounds."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from prober.site.model import Impact, IncidentState
from prober.site.notes import MAX_FILES, MAX_UPDATES, Note, read_notes
from tests.site_snapshot import TZ, sample_snapshot

SERVICES = {key: s.id for s in sample_snapshot().services for key in (s.name, s.id)}
EXAMPLE = """\
---
title: Payments fail in Europe
start: 2026-11-30T10:05:00+01:00     # ISO 8601; without an offset: the site's timezone
end: 2026-11-30T12:40:00+01:00       # optional
services: [Checkout]                 # public names or ids (slugs) of the site's services
state: identified                    # investigating | identified | monitoring | resolved | postmortem
impact: major                        # optional: none | minor | major | critical
---
## 2026-11-30T10:20:00+01:00 identified
The payment provider's API answers **503**. We are [talking to them](https://status.provider.example/).

## 2026-11-30 10:05 investigating
We are looking into failed payments.
"""
GOOD = """\
---
title: Search is slow
start: 2026-11-03 11:00
services: search
state: monitoring
---
Queries take seconds.
"""


def utc(day: int, hour: int, minute: int = 0, month: int = 11) -> float:
    return dt.datetime(2026, month, day, hour, minute, tzinfo=dt.UTC).timestamp()


def write(folder: Path, name: str, text: str) -> Path:
    folder.mkdir(exist_ok=True)
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


def note_text(*updates: str, front: str = "", services: str = "[Checkout]", state: str = "identified") -> str:
    head = f"---\ntitle: Payments fail\nstart: 2026-11-30 10:00\nservices: {services}\nstate: {state}\n{front}---\n"
    return head + "\n".join(updates)


def one(folder: Path, text: str) -> tuple[Note, list[str]]:
    write(folder, "incident.md", text)
    notes, problems = read_notes(folder, SERVICES, TZ)
    assert len(notes) == 1, problems
    return notes[0], problems


# reading


def test_the_example_reads_in_the_sites_timezone(tmp_path: Path) -> None:
    path = write(tmp_path / "status", "payments.md", EXAMPLE)
    notes, problems = read_notes(tmp_path / "status", SERVICES, TZ)
    assert problems == []
    [note] = notes
    assert (note.id, note.path, note.title) == ("note-payments", path, "Payments fail in Europe")
    assert (note.start, note.end) == (utc(30, 9, 5), utc(30, 11, 40))
    assert (note.services, note.state, note.impact) == (("checkout",), IncidentState.IDENTIFIED, Impact.MAJOR)
    newest, oldest = note.updates
    assert (newest.at, newest.state) == (utc(30, 9, 20), IncidentState.IDENTIFIED)
    assert (oldest.at, oldest.state) == (utc(30, 9, 5), IncidentState.INVESTIGATING)  # no offset: Berlin, CET
    assert newest.html == ("<p>The payment provider's API answers <strong>503</strong>. We are "
                           '<a href="https://status.provider.example/" rel="nofollow noopener">talking to them</a>.'
                           "</p>")
    assert newest.text == ("The payment provider's API answers 503. We are talking to them "
                           "(https://status.provider.example/).")
    assert (oldest.html, oldest.text) == ("<p>We are looking into failed payments.</p>",
                                          "We are looking into failed payments.")


def test_summer_time_and_utc_offsets(tmp_path: Path) -> None:
    text = note_text("## 2026-07-01 12:00", "Summer.", "## 2026-07-01T12:30:00Z", "Zulu.")
    note, _ = one(tmp_path, text.replace("2026-11-30 10:00", "2026-07-01T11:00"))
    assert note.start == utc(1, 9, month=7)  # CEST: +02:00
    assert [u.at for u in note.updates] == [utc(1, 12, 30, month=7), utc(1, 10, month=7)]


def test_html_is_safe(tmp_path: Path) -> None:
    body = ("<script>alert('x')</script> <b>bold</b>\n\n[click](javascript:alert(1)) [here](/relative) "
            "<ftp://files.example/> <javascript:alert(2)> ![logo](https://cdn.example/logo.png) "
            "<mailto:ops@example.com> <https://example.com/a>")
    note, _ = one(tmp_path, note_text("## 2026-11-30 10:10", body))
    html = note.updates[0].html
    assert "<script" not in html and "&lt;script&gt;alert('x')&lt;/script&gt;" in html
    assert "<b>" not in html and "&lt;b&gt;bold&lt;/b&gt;" in html
    assert "javascript:" not in html.replace("[click](javascript:alert(1))", "").replace(
        "&lt;javascript:alert(2)&gt;", "")
    assert "<img" not in html
    assert html.count("<a ") == 3
    assert '!<a href="https://cdn.example/logo.png" rel="nofollow noopener">logo</a>' in html  # no images
    assert '<a href="mailto:ops@example.com" rel="nofollow noopener">' in html
    assert '<a href="https://example.com/a" rel="nofollow noopener">' in html
    assert 'href="/relative"' not in html and " here " in html
    assert 'href="ftp:' not in html and "ftp://files.example/" in html


def test_text_before_the_first_heading_is_an_update_at_start(tmp_path: Path) -> None:
    note, _ = one(tmp_path, note_text("We are looking into it.", "", "## 2026-11-30 10:30", "Found it."))
    assert [(u.at, u.state, u.text) for u in note.updates] == [
        (utc(30, 9, 30), IncidentState.IDENTIFIED, "Found it."),  # newest, no state word: the note's state
        (utc(30, 9), IncidentState.INVESTIGATING, "We are looking into it."),
    ]


def test_updates_without_a_state_take_the_one_before(tmp_path: Path) -> None:
    text = note_text("## 2026-11-30 10:00 identified", "a", "## 2026-11-30 10:10", "b", "## 2026-11-30 10:20", "c",
                     state="resolved")
    note, _ = one(tmp_path, text)
    assert [(u.text, u.state) for u in note.updates] == [
        ("c", IncidentState.RESOLVED), ("b", IncidentState.IDENTIFIED), ("a", IncidentState.IDENTIFIED)]


def test_headings_in_code_and_deeper_headings_are_text(tmp_path: Path) -> None:
    body = ["## 2026-11-30 10:10", "Logs:", "```", "## 2026-11-30 10:11 not an update", "```", "### Impact",
            "Some."]
    note, _ = one(tmp_path, note_text(*body))
    [update] = note.updates
    assert "<code>## 2026-11-30 10:11 not an update\n</code>" in update.html
    assert "<h3>Impact</h3>" in update.html
    assert update.text == "Logs:\n## 2026-11-30 10:11 not an update\nImpact\nSome."


def test_services_by_name_id_or_case_and_crlf_with_bom(tmp_path: Path) -> None:
    text = note_text("Text.", services="[checkout, SEARCH, Home page, Checkout]")
    path = tmp_path / "x.md"
    tmp_path.mkdir(exist_ok=True)
    path.write_bytes(b"\xef\xbb\xbf" + text.replace("\n", "\r\n").encode())
    notes, problems = read_notes(tmp_path, SERVICES, TZ)
    assert problems == []
    assert notes[0].services == ("checkout", "search", "home-page")


def test_ids_are_unique_hidden_and_other_files_ignored(tmp_path: Path) -> None:
    write(tmp_path, "a b.md", GOOD)
    write(tmp_path, "a-b.md", GOOD)
    write(tmp_path, ".#a-b.md", "lock file")
    write(tmp_path, "notes.txt", "not a note")
    (tmp_path / "folder.md").mkdir()
    notes, problems = read_notes(tmp_path, SERVICES, TZ)
    assert problems == []
    assert [n.id for n in notes] == ["note-a-b", "note-a-b-2"]
    assert notes[0].impact is None and notes[0].end is None


# broken files


BROKEN = {
    "unknown service": (note_text("x", services="[Checkout, Chekout]"),
                        "line 4: services: unknown service 'Chekout' (known: "),
    "bad time": (GOOD.replace("2026-11-03 11:00", "2026-13-03 11:00"),
                 "line 3: start: not a time: '2026-13-03 11:00' (expected ISO 8601"),
    "date only": (GOOD.replace("2026-11-03 11:00", "2026-11-03"), "line 3: start: not a time: '2026-11-03'"),
    "bad state": (GOOD.replace("monitoring", "fixed"),
                  "line 5: state: unknown state 'fixed' (expected one of: investigating, identified, monitoring,"),
    "bad impact": (note_text("x", front="impact: huge\n"), "line 6: impact: unknown impact 'huge'"),
    "missing title": (GOOD.replace("title: Search is slow\n", ""), "front matter: missing title"),
    "empty title": (GOOD.replace("Search is slow", "''"), "line 2: title: empty"),
    "no front matter": ("# Search is slow\n\nQueries take seconds.\n", "line 1: no front matter"),
    "unclosed front matter": (GOOD.replace("---\nQueries", "Queries"), "line 1: the front matter is not closed"),
    "unknown key": (note_text("x", front="severity: high\n"), "line 6: unknown key 'severity' (expected: title,"),
    "key twice": (note_text("x", front="state: resolved\n"), "line 6: state: given twice"),
    "not yaml": (note_text("x", front="impact: [minor\n"), "line 6: front matter: expected ',' or ']'"),
    "nested too deeply": (GOOD.replace("Search is slow", "[" * 5000), "front matter: nested too deeply"),
    "list as title": (GOOD.replace("Search is slow", "[a, b]"), "line 2: title: expected one value"),
    "end before start": (note_text("x", front="end: 2026-11-30 09:00\n"), "line 6: end: before start"),
    "bad heading time": (note_text("## soon", "x"), "line 7: update heading: not a time: 'soon'"),
    "bad heading state": (note_text("## 2026-11-30 10:10 fixed", "x"), "line 7: update heading: unknown state"),
    "heading with words": (note_text("## 2026-11-30 10:10 identified the cause", "x"),
                           "line 7: update heading: expected '## <time> [state]'"),
    "empty update": (note_text("## 2026-11-30 10:10", "", "## 2026-11-30 10:20", "x"),
                     "line 7: the update has no text"),
}


@pytest.mark.parametrize("kind", sorted(BROKEN))
def test_a_broken_file_is_skipped_with_its_problem(tmp_path: Path, kind: str) -> None:
    text, expected = BROKEN[kind]
    write(tmp_path, "a-good.md", GOOD)
    write(tmp_path, "broken.md", text)
    write(tmp_path, "z-good.md", GOOD)
    notes, problems = read_notes(tmp_path, SERVICES, TZ)
    assert [n.id for n in notes] == ["note-a-good", "note-z-good"]
    [problem] = problems
    assert problem.startswith(f"{tmp_path / 'broken.md'}: {expected}"), problem
    assert len(problem) < 300


def test_not_utf8_says_where(tmp_path: Path) -> None:
    (tmp_path / "latin1.md").write_bytes(GOOD.replace("slow", "lent é").encode("latin-1"))
    write(tmp_path, "good.md", GOOD)
    notes, problems = read_notes(tmp_path, SERVICES, TZ)
    assert [n.id for n in notes] == ["note-good"]
    assert problems == [f"{tmp_path / 'latin1.md'}: line 2: not UTF-8 (byte 26)"]


def test_a_missing_folder_or_timezone_is_a_problem(tmp_path: Path) -> None:
    assert read_notes(tmp_path / "nope", SERVICES, TZ) == ([], [f"{tmp_path / 'nope'}: cannot read the notes folder "
                                                                 "(No such file or directory)"])
    assert read_notes(tmp_path, SERVICES, "Mars/Olympus") == ([], ["notes: unknown timezone 'Mars/Olympus'"])


# bounds


def test_at_most_so_many_files(tmp_path: Path) -> None:
    for index in range(MAX_FILES + 5):
        write(tmp_path, f"n{index:05}.md", GOOD)
    notes, problems = read_notes(tmp_path, SERVICES, TZ)
    assert len(notes) == MAX_FILES
    assert notes[-1].id == f"note-n{MAX_FILES - 1:05}"
    assert problems == [f"{tmp_path}: 1,005 notes: only the first 1,000 by name are read"]


def test_a_file_too_large_is_skipped(tmp_path: Path) -> None:
    write(tmp_path, "big.md", GOOD + "x" * 256 * 1024)
    write(tmp_path, "fits.md", GOOD + "x" * (256 * 1024 - len(GOOD)))
    notes, problems = read_notes(tmp_path, SERVICES, TZ)
    assert [n.id for n in notes] == ["note-fits"]
    assert problems == [f"{tmp_path / 'big.md'}: larger than 256 KiB: skipped"]


def test_only_the_newest_updates_are_kept(tmp_path: Path) -> None:
    updates = [f"## {dt.datetime(2026, 11, 30, 10) + dt.timedelta(minutes=i):%Y-%m-%d %H:%M}\nu{i}\n"
               for i in range(MAX_UPDATES + 10)]
    note, problems = one(tmp_path, note_text(*updates))
    assert len(note.updates) == MAX_UPDATES
    assert (note.updates[0].text, note.updates[-1].text) == (f"u{MAX_UPDATES + 9}", "u10")
    assert problems == [f"{tmp_path / 'incident.md'}: 210 updates: only the newest 200 are shown"]
