"""The status site's incidents as HTML: an ongoing one in full on the front page, a past one as a line, each on
a page of its own with all its updates, and the history of the days shown, month by month."""

from __future__ import annotations

import datetime as dt
from html import escape

from prober.site import i18n
from prober.site.html_view import View
from prober.site.model import Incident, Update


def _when(view: View, incident: Incident) -> str:
    """`Started Nov 30, 2026 11:00 CET · ongoing for 2 h`, or the span it lasted and how long."""
    if incident.end is None:
        return (f'{view.html("incident.started", time=view.time(incident.start))} · '
                f'{view.html("incident.so_far", duration=view.duration(view.snap.at - incident.start))}')
    lasted = view.html("incident.lasted", duration=view.duration(incident.end - incident.start))
    return f"{view.span(incident.start, incident.end)} · {lasted}"


def _tags(view: View, incident: Incident) -> str:
    state = escape(i18n.state_text(view.lang, incident.state))
    impact = escape(i18n.impact_text(view.lang, incident.impact))
    return (f'<span class="tag state-{incident.state.value}">{state}</span>'
            f'<span class="tag impact">{impact}</span>')


def _where(view: View, incident: Incident) -> str:
    parts = []
    if incident.services:
        parts.append(view.text("incident.affected", services=i18n.join(view.lang, _names(view, incident.services))))
    if incident.regions:
        regions = [view.snap.region_names.get(r, r) for r in incident.regions]
        parts.append(view.text("incident.regions", regions=i18n.join(view.lang, regions)))
    return " · ".join(parts)


def _names(view: View, ids: tuple[str, ...]) -> list[str]:
    names = {s.id: s.name for s in view.snap.services}
    return [names.get(i, i) for i in ids]


def updates(view: View, items: tuple[Update, ...]) -> str:
    """Updates newest first, each its state, its time and its (already safe) HTML."""
    if not items:
        return f'<p class="quiet">{view.text("incident.no_updates")}</p>'
    rows = "".join(
        f'<li class="update"><div class="update-when"><b>{escape(i18n.state_text(view.lang, u.state))}</b>'
        f"{view.time(u.at)}</div><div class=\"update-body\">{u.html}</div></li>"
        for u in sorted(items, key=lambda u: u.at, reverse=True))
    return f'<ol class="updates">{rows}</ol>'


def ongoing_card(view: View, incident: Incident) -> str:
    """An incident in progress, in full."""
    return (f'<article class="card incident impact-{incident.impact.value}" data-incident="{escape(incident.id)}">'
            f'<div class="incident-head"><h3><a href="{view.incident_href(incident.id)}">{escape(incident.title)}</a>'
            f'</h3><div class="tags">{_tags(view, incident)}</div></div>'
            f'<p class="meta">{_when(view, incident)}</p><p class="meta">{_where(view, incident)}</p>'
            f"{updates(view, incident.updates)}</article>")


def past_line(view: View, incident: Incident) -> str:
    """A past incident as one entry of a list: its title (linked to its page), when and where."""
    return (f'<li class="past impact-{incident.impact.value}" data-incident="{escape(incident.id)}">'
            f'<a href="{view.incident_href(incident.id)}">{escape(incident.title)}</a>'
            f'<div class="tags">{_tags(view, incident)}</div>'
            f'<p class="meta">{_when(view, incident)}</p><p class="meta">{_where(view, incident)}</p></li>')


def incident_body(view: View, incident: Incident) -> str:
    """The page of one incident: everything about it, all its updates."""
    return (f'<article class="card incident impact-{incident.impact.value}" data-incident="{escape(incident.id)}">'
            f'<h1>{escape(incident.title)}</h1><div class="tags">{_tags(view, incident)}</div>'
            f'<p class="meta">{_when(view, incident)}</p><p class="meta">{_where(view, incident)}</p>'
            f'<h2>{view.text("section.updates")}</h2>{updates(view, incident.updates)}</article>')


def history_body(view: View) -> str:
    """Every incident of the days shown under its month (newest first), months without one said so."""
    snap = view.snap
    by_month: dict[tuple[int, int], list[Incident]] = {month: [] for month in _months(view)}
    for incident in sorted(snap.incidents, key=lambda i: i.start, reverse=True):
        moment = i18n.local(incident.start, snap.timezone)
        by_month.setdefault((moment.year, moment.month), []).append(incident)
    sections = []
    for (year, month), incidents in sorted(by_month.items(), reverse=True):
        items = ("".join(past_line(view, i) for i in incidents) if incidents
                 else f'<li class="quiet">{view.text("history.month_none")}</li>')
        sections.append(f'<section class="month"><h2>{escape(i18n.format_month(year, month, view.lang))}</h2>'
                        f'<ul class="past-list">{items}</ul></section>')
    return (f'<h1>{view.text("section.history")}</h1>'
            f'<p class="lede">{view.text("history.intro", days=str(snap.day_count))}</p>{"".join(sections)}')


def _months(view: View) -> list[tuple[int, int]]:
    """The months the days shown touch, from the snapshot's day back `day_count` days."""
    last = i18n.local(view.snap.at, view.snap.timezone).date()
    days = (last - dt.timedelta(days=back) for back in range(max(view.snap.day_count, 1)))
    return list(dict.fromkeys((day.year, day.month) for day in days))
