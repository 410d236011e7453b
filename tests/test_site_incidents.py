"""Notes merged with the detected incidents: overlap within 30 minutes, the counters' word on when, the note's
on what, notes alone, two notes for one incident, and the order shown."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from prober.site.incidents import merge_incidents
from prober.site.model import Impact, Incident, IncidentState, Update
from prober.site.notes import Note


def utc(day: int, hour: int, minute: int = 0, month: int = 11) -> float:
    return dt.datetime(2026, month, day, hour, minute, tzinfo=dt.UTC).timestamp()



def detected(service: str, start: float, end: float | None, impact: Impact = Impact.MINOR) -> Incident:
    updates = [Update(start, IncidentState.INVESTIGATING, "<p>Detected.</p>", "Detected.")]
    if end is not None:
        updates.insert(0, Update(end, IncidentState.RESOLVED, "<p>Recovered.</p>", "Recovered."))
    return Incident(id=f"{service}-{start:.0f}", title=f"{service} fails", services=(service,), regions=("eu",),
                    start=start, end=end, state=IncidentState.INVESTIGATING if end is None else IncidentState.RESOLVED,
                    impact=impact, reason="timeout", updates=tuple(updates), detected=True, noted=False)


def note(name: str, start: float, end: float | None = None, state: IncidentState = IncidentState.IDENTIFIED,
         services: tuple[str, ...] = ("checkout",), impact: Impact | None = None,
         updates: tuple[float, ...] = ()) -> Note:
    written = tuple(Update(at, state, f"<p>{name} {at:.0f}</p>", f"{name} {at:.0f}") for at in sorted(updates)[::-1])
    return Note(f"note-{name}", Path(f"status/{name}.md"), f"{name} title", start, end, services, state, impact,
                written)


T = utc(30, 10)


def test_a_note_overlapping_a_detected_incident_merges_into_it() -> None:
    found = detected("checkout", T, T + 3600, Impact.MINOR)
    written = note("pay", T + 600, T + 4000, IncidentState.RESOLVED, ("checkout", "search"), Impact.MAJOR,
                   updates=(T + 900, T + 3700))
    [merged] = merge_incidents([found], [written])
    assert (merged.id, merged.regions, merged.reason, merged.start, merged.end) == (found.id, ("eu",), "timeout",
                                                                                   T, T + 3600)
    assert (merged.title, merged.state, merged.impact) == ("pay title", IncidentState.RESOLVED, Impact.MAJOR)
    assert merged.services == ("checkout", "search")
    assert [u.at for u in merged.updates] == [T + 3700, T + 3600, T + 900, T]
    assert (merged.detected, merged.noted) == (True, True)


def test_the_higher_impact_wins_either_way() -> None:
    [merged] = merge_incidents([detected("checkout", T, T + 60, Impact.MAJOR)], [note("a", T, T + 60,
                                                                                     impact=Impact.MINOR)])
    assert merged.impact is Impact.MAJOR
    [merged] = merge_incidents([detected("checkout", T, T + 60, Impact.MAJOR)], [note("a", T, T + 60)])
    assert merged.impact is Impact.MAJOR


@pytest.mark.parametrize(("offset_s", "merges"), [(-29 * 60, True), (-31 * 60, False), (3600 + 29 * 60, True),
                                                   (3600 + 31 * 60, False)])
def test_a_note_may_start_up_to_30_minutes_off(offset_s: float, merges: bool) -> None:
    found = detected("checkout", T, T + 3600)
    written = note("pay", T + offset_s, T + offset_s, IncidentState.RESOLVED)
    by_id = {i.id: i for i in merge_incidents([found], [written])}
    assert by_id[found.id].noted is merges
    assert ("note-pay" in by_id) is not merges


def test_a_note_must_share_a_service() -> None:
    incidents = merge_incidents([detected("checkout", T, T + 3600)], [note("s", T, T + 3600, services=("search",))])
    assert {(i.id, i.detected, i.noted) for i in incidents} == {(f"checkout-{T:.0f}", True, False),
                                                               ("note-s", False, True)}


def test_ongoing_spans_are_open_ended() -> None:
    found = detected("checkout", T, None)
    written = note("later", T + 6 * 3600, None)  # long after the detection started: it is still going on
    [merged] = merge_incidents([found], [written])
    assert (merged.end, merged.state, merged.noted) == (None, IncidentState.IDENTIFIED, True)
    old = detected("checkout", T - 86400, T - 86400 + 600)
    [first, second] = merge_incidents([old], [note("new", T, None)])
    assert (first.id, first.detected, second.noted) == ("note-new", False, False)


def test_counters_still_failing_beat_a_resolved_note() -> None:
    [merged] = merge_incidents([detected("checkout", T, None)], [note("pay", T, T + 600, IncidentState.RESOLVED)])
    assert (merged.end, merged.state) == (None, IncidentState.MONITORING)
    [merged] = merge_incidents([detected("checkout", T, None)], [note("pm", T, None, IncidentState.POSTMORTEM)])
    assert (merged.end, merged.state) == (None, IncidentState.MONITORING)


def test_a_note_alone_is_an_incident_of_its_own() -> None:
    ongoing, done, resolved = merge_incidents([], [
        note("ongoing", T), note("done", T - 7200, T - 3600, IncidentState.RESOLVED, impact=Impact.NONE),
        note("resolved", T - 86400, None, IncidentState.RESOLVED, updates=(T - 86400 + 60, T - 86400 + 900))])
    assert (ongoing.id, ongoing.end, ongoing.detected, ongoing.noted, ongoing.regions) == ("note-ongoing", None,
                                                                                          False, True, ())
    assert (ongoing.impact, ongoing.reason, ongoing.title) == (Impact.MINOR, None, "ongoing title")
    assert (done.end, done.impact) == (T - 3600, Impact.NONE)
    assert resolved.end == T - 86400 + 900  # resolved without an end: at its newest update


def test_two_notes_for_one_incident_the_first_by_start_claims_it() -> None:
    found = detected("checkout", T, T + 3600)
    late, early = note("late", T + 600, T + 3600), note("early", T - 600, T + 3600)
    incidents = merge_incidents([found], [late, early])
    by_id = {i.id: i for i in incidents}
    assert by_id[found.id].title == "early title"
    assert (by_id["note-late"].detected, by_id["note-late"].noted) == (False, True)
    assert len(incidents) == 2


def test_a_note_takes_the_incident_it_overlaps_most() -> None:
    short, long = detected("checkout", T, T + 600), detected("checkout", T + 1200, T + 7200)
    incidents = merge_incidents([short, long], [note("pay", T, T + 7200)])
    assert {i.id: i.noted for i in incidents} == {short.id: False, long.id: True}


def test_ongoing_first_then_newest_first() -> None:
    incidents = merge_incidents(
        [detected("checkout", T - 86400, T - 86000), detected("search", T - 3600, None),
         detected("checkout", T - 7200, T - 7000)],
        [note("open", T - 2 * 86400, None, services=("home-page",)),
         note("monitoring", T - 3 * 86400, T - 3 * 86400 + 60, IncidentState.MONITORING, ("home-page",))])
    assert [i.id for i in incidents] == ["search-" + f"{T - 3600:.0f}", "note-open", "note-monitoring",
                                         f"checkout-{T - 7200:.0f}", f"checkout-{T - 86400:.0f}"]
