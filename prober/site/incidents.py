"""Incidents as the site shows them: the ones the counters detected, with the notes people wrote about them merged
in, and the notes about nothing detected as incidents of their own."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from prober.site.model import ACTIVE_STATES, Impact, Incident, IncidentState
from prober.site.notes import Note

MATCH_SLACK_S = 30 * 60.0  # people notice an incident before the counters do, or after: a note may start this far off
IMPACT_RANK = {Impact.NONE: 0, Impact.MINOR: 1, Impact.MAJOR: 2, Impact.CRITICAL: 3}
DEFAULT_IMPACT = Impact.MINOR  # a person wrote about it, so something was hurt; `impact: none` must be said


def merge_incidents(detected: Sequence[Incident], notes: Sequence[Note]) -> tuple[Incident, ...]:
    """The detected incidents with the notes written about them merged in, then the notes about nothing
    detected as incidents of their own; ongoing first, then by start, newest first.

    A note belongs to the unclaimed detected incident that shares a service with it and whose span, widened
    by `MATCH_SLACK_S` on both sides, overlaps the note's most (an open end runs on to the latest time known
    here). Notes claim in order of start: a later note for an incident already claimed takes its next best
    match, or stands alone."""
    horizon_s = _horizon(detected, notes)
    claimed: dict[int, Note] = {}
    alone: list[Note] = []
    for note in sorted(notes, key=lambda n: (n.start, n.id)):
        match = _best_match(note, detected, claimed, horizon_s)
        if match is None:
            alone.append(note)
        else:
            claimed[match] = note
    incidents = [_merged(incident, claimed[index]) if index in claimed else incident
                 for index, incident in enumerate(detected)]
    incidents += [_alone(note) for note in alone]
    return tuple(sorted(incidents, key=lambda i: (not i.ongoing, -i.start, i.id)))


def _note_end(note: Note) -> float | None:
    """When a note's incident ended: its `end`, or for one resolved without an end the time of its newest
    update (at `start` at the earliest); None while ongoing."""
    if note.end is not None or note.state in ACTIVE_STATES:
        return note.end
    return max([note.start, *(u.at for u in note.updates)])


def _horizon(detected: Sequence[Incident], notes: Sequence[Note]) -> float:
    """Where open ends stop when overlaps are measured: past every time given."""
    times = [t for i in detected for t in (i.start, i.end) if t is not None]
    times += [t for n in notes for t in (n.start, n.end, *(u.at for u in n.updates)) if t is not None]
    return max(times, default=0.0) + MATCH_SLACK_S


def _best_match(note: Note, detected: Sequence[Incident], claimed: Mapping[int, Note],
                horizon_s: float) -> int | None:
    """The index of the detected incident the note belongs to: the longest overlap, then the nearest start."""
    note_end = _note_end(note)
    note_span = (note.start, horizon_s if note_end is None else note_end)
    best: tuple[tuple[float, float], int] | None = None
    for index, incident in enumerate(detected):
        if index in claimed or not set(note.services) & set(incident.services):
            continue
        end = horizon_s if incident.end is None else incident.end
        low, high = max(note_span[0], incident.start - MATCH_SLACK_S), min(note_span[1], end + MATCH_SLACK_S)
        if low > high:
            continue
        score = (high - low, -abs(incident.start - note.start))
        if best is None or score > best[0]:
            best = (score, index)
    return None if best is None else best[1]


def _merged(incident: Incident, note: Note) -> Incident:
    """The counters say where and when (start, end, regions, reason); the person says what (title, state,
    updates). While the counters still see it failing it is not over: a resolved note shows as monitoring."""
    state = note.state
    if incident.end is None and state not in ACTIVE_STATES:
        state = IncidentState.MONITORING
    impact = max(incident.impact, note.impact or incident.impact, key=IMPACT_RANK.__getitem__)
    services = (*incident.services, *(s for s in note.services if s not in incident.services))
    updates = tuple(sorted((*note.updates, *incident.updates), key=lambda u: -u.at))
    return Incident(id=incident.id, title=note.title, services=services, regions=incident.regions,
                    start=incident.start, end=incident.end, state=state, impact=impact, reason=incident.reason,
                    updates=updates, detected=True, noted=True)


def _alone(note: Note) -> Incident:
    return Incident(id=note.id, title=note.title, services=note.services, regions=(), start=note.start,
                    end=_note_end(note), state=note.state, impact=note.impact or DEFAULT_IMPACT, reason=None,
                    updates=note.updates, detected=False, noted=True)
