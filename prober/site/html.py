"""The status site's HTML pages from a Snapshot: the front page a customer reads (banner, ongoing incidents,
services by region with their daily bars, maintenance, past incidents), a page per incident and the history.

Plain HTML with one inline stylesheet and inline SVG: no script, no external file, so any static host serves
it and it reads the same on a phone, a desktop and paper. Every text comes through `i18n` and every text from
the snapshot is escaped, except an Update's html, which the notes already made safe."""

from __future__ import annotations

import dataclasses
from html import escape

from prober.site import i18n
from prober.site.html_incidents import history_body, incident_body, ongoing_card, past_line
from prober.site.html_services import legend, service_card
from prober.site.html_style import CSS
from prober.site.html_view import View, incident_path
from prober.site.model import Maintenance, ServiceView, Snapshot, Status

__all__ = ["incident_path", "render_pages"]

FEED = "history.atom"
SUMMARY = "api/v2/summary.json"
HISTORY = "history.html"


def render_pages(snapshot: Snapshot) -> dict[str, str]:
    """Relative path -> HTML text of every page: `index.html`, `history.html` and `incidents/<id>.html` for
    each incident. Pure: reads only the snapshot; a language it does not know reads in English."""
    if snapshot.lang not in i18n.LANGS:
        snapshot = dataclasses.replace(snapshot, lang="en")
    top, below = View(snapshot), View(snapshot, root="../")
    history_title = f"{i18n.text(snapshot.lang, 'section.history')} · {snapshot.title}"
    pages = {"index.html": _page(top, snapshot.title, _index(top)),
             HISTORY: _page(top, history_title, history_body(top), front=False)}
    for incident in snapshot.incidents:
        pages[incident_path(incident.id)] = _page(below, f"{incident.title} · {snapshot.title}",
                                                  incident_body(below, incident), front=False)
    return pages


def _page(view: View, title: str, body: str, front: bool = True) -> str:
    snap = view.snap
    if front:
        head = (f'<h1 class="site">{escape(snap.title)}</h1>'
                + (f'<p class="lede">{escape(snap.description)}</p>' if snap.description else ""))
    else:
        head = f'<a class="site" href="{view.href("index.html")}">← {escape(snap.title)}</a>'
    description = f'<meta name="description" content="{escape(snap.description)}">' if snap.description else ""
    return ("<!doctype html>\n"
            f'<html lang="{i18n.HTML_LANGS.get(snap.lang, snap.lang)}"><head><meta charset="utf-8">'
            '<meta name="viewport" content="width=device-width, initial-scale=1">'
            f"<title>{escape(title)}</title>{description}"
            f'<link rel="alternate" type="application/atom+xml" href="{view.href(FEED)}" '
            f'title="{view.text("footer.feed")}"><style>{CSS}</style></head>'
            f'<body><div class="page"><header class="top">{head}</header><main>{body}</main>'
            f"{_footer(view)}</div></body></html>\n")


def _index(view: View) -> str:
    snap = view.snap
    ongoing = snap.ongoing
    ongoing_ids = {i.id for i in ongoing}
    past = [i for i in snap.incidents if i.id not in ongoing_ids]
    parts = [_banner(view), _maintenance_notice(view)]
    if ongoing:
        parts.append(f'<section class="ongoing"><h2>{view.text("section.ongoing")}</h2>'
                     f'{"".join(ongoing_card(view, i) for i in ongoing)}</section>')
    parts.append(f'<section class="services"><h2>{view.text("section.services")}</h2>{legend(view)}'
                 f'{"".join(service_card(view, s) for s in snap.services)}</section>')
    parts.append(_maintenance_section(view))
    listed = ("".join(past_line(view, i) for i in sorted(past, key=lambda i: i.start, reverse=True)) if past
              else f'<li class="quiet">{view.text("incidents.none", days=str(snap.day_count))}</li>')
    parts.append(f'<section class="past-incidents"><h2>{view.text("section.past")}</h2>'
                 f'<ul class="past-list">{listed}</ul>'
                 f'<p class="more"><a href="{view.href(HISTORY)}">{view.text("history.link")} →</a></p></section>')
    return "".join(parts)


def _banner(view: View) -> str:
    """What a reader must know first: stale data, what is affected where, maintenance, or all is well."""
    snap = view.snap
    if snap.freshness.stale:
        reason = (snap.freshness.stale_reason or "").strip().rstrip(".")
        since = (view.html("banner.stale_since", time=view.time(snap.freshness.fresh_at))
                 if snap.freshness.fresh_at is not None else view.text("banner.never_fresh"))
        return (f'<div class="banner b-unknown" role="status"><p class="headline">'
                f'{view.text("banner.stale", reason=reason)}</p><p>{since}</p></div>')
    affected = [s for s in snap.services if s.status not in (Status.OPERATIONAL, Status.MAINTENANCE)]
    if affected:
        lines = "".join(f"<li>{_affected(view, s)}</li>" for s in affected)
        return (f'<div class="banner b-{snap.status.value}" role="status">'
                f'<p class="headline">{view.text("banner.issues")}</p><ul>{lines}</ul></div>')
    if snap.status is Status.MAINTENANCE or _ongoing_maintenance(snap):
        return (f'<div class="banner b-under_maintenance" role="status"><p class="headline">'
                f'{view.text("banner.maintenance")}</p>{_maintenance_items(view)}</div>')
    return (f'<div class="banner b-operational" role="status"><p class="headline">'
            f'{view.text("banner.operational")}</p></div>')


def _affected(view: View, service: ServiceView) -> str:
    """`Checkout: Major outage in Europe (Frankfurt), US East`: the regions where it is not operational."""
    where = [r.name for r in service.regions if r.status not in (Status.OPERATIONAL, Status.MAINTENANCE)]
    regions = where or [r.name for r in service.regions]
    return view.text("banner.affected", service=service.name, status=i18n.status_text(view.lang, service.status),
                     regions=i18n.join(view.lang, regions))


def _ongoing_maintenance(snap: Snapshot) -> list[Maintenance]:
    return [m for m in snap.maintenance if m.ongoing(snap.at)]


def _maintenance_items(view: View) -> str:
    items = "".join(
        f'<li>{view.html("maintenance.until", name=escape(m.name), time=view.time(m.end))} · '
        f'{view.text("incident.affected", services=i18n.join(view.lang, _service_names(view, m)))}</li>'
        for m in _ongoing_maintenance(view.snap))
    return f"<ul>{items}</ul>" if items else ""


def _maintenance_notice(view: View) -> str:
    """Maintenance in progress, when the banner itself is about something else."""
    snap = view.snap
    if not _ongoing_maintenance(snap) or not (snap.freshness.stale or _banner_is_about_issues(snap)):
        return ""
    return (f'<div class="notice" role="status"><b>{view.text("banner.maintenance")}</b>'
            f"{_maintenance_items(view)}</div>")


def _banner_is_about_issues(snap: Snapshot) -> bool:
    return any(s.status not in (Status.OPERATIONAL, Status.MAINTENANCE) for s in snap.services)


def _service_names(view: View, maintenance: Maintenance) -> list[str]:
    names = {s.id: s.name for s in view.snap.services}
    return [names.get(i, i) for i in maintenance.services]


def _maintenance_section(view: View) -> str:
    """Every window in progress or ahead: its name, when (in the site's timezone) and what it touches."""
    snap = view.snap
    if not snap.maintenance:
        return ""
    cards = []
    for window in snap.maintenance:
        state = "maintenance.in_progress" if window.ongoing(snap.at) else "maintenance.scheduled"
        services = i18n.join(view.lang, _service_names(view, window))
        cards.append(
            f'<article class="card maintenance" data-maintenance="{escape(window.id)}">'
            f'<div class="incident-head"><h3>{escape(window.name)}</h3><div class="tags"><span class="tag">'
            f'{view.text(state)}</span></div></div><p class="meta">{view.span(window.start, window.end)}</p>'
            f'<p class="meta">{view.text("incident.affected", services=services)}</p></article>')
    return f'<section class="maintenance-list"><h2>{view.text("section.maintenance")}</h2>{"".join(cards)}</section>'


def _footer(view: View) -> str:
    snap = view.snap
    data = (view.html("footer.data_at", time=view.time(snap.freshness.fresh_at))
            if snap.freshness.fresh_at is not None else view.text("footer.data_never"))
    links = [(HISTORY, "history.link"), (FEED, "footer.feed"), (SUMMARY, "footer.api")]
    nav = "".join(f'<a href="{view.href(path)}">{view.text(key)}</a>' for path, key in links)
    return (f'<footer class="bottom"><p>{view.html("footer.generated", time=view.time(snap.generated_at))} · '
            f'{data}</p><p>{view.text("footer.timezone", timezone=snap.timezone)}</p><nav>{nav}</nav></footer>')
