"""The site's incident feeds: `history.atom` (Atom, RFC 4287) and `history.rss` (RSS 2.0), one entry per incident
(ongoing and past), the most recently changed first, each linking to its page and carrying its updates as HTML.

Entry ids are stable across renders: the incident page's absolute URL when the site has a `url`, else a UUID
derived from the site's title and the incident's id. Text is XML-escaped by the serializer, and characters XML 1.0
cannot carry (control characters) are dropped, so a note's odd title never makes the feed unreadable.
"""

from __future__ import annotations

import datetime as dt
import re
import uuid
import xml.etree.ElementTree as ET
from email.utils import format_datetime
from html import escape
from urllib.parse import quote

from prober.site import i18n
from prober.site.html_view import incident_path
from prober.site.model import Incident, Snapshot

ATOM_NS = "http://www.w3.org/2005/Atom"
XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"
LANG_TAGS = {"en": "en", "zh": "zh-CN"}
EN_DASH = "\u2013"  # between a period's start and end
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def site_link(snapshot: Snapshot, path: str) -> str:
    """`path` (relative to the site's root, percent-encoded here) as an absolute URL under `snapshot.url`, or
    as given (relative) when the site has no public URL."""
    quoted = quote(path)
    return quoted if snapshot.url is None else f"{snapshot.url.rstrip('/')}/{quoted}"


def incident_page(incident: Incident) -> str:
    """The incident's page, relative to the site's root (where html.py writes it)."""
    return incident_path(incident.id)


def atom_feed(snapshot: Snapshot) -> str:
    """The Atom feed of the site's incidents (RFC 4287: feed id, title, updated, author, link rel=self; each
    entry id, title, updated, link and its updates as `type="html"` content)."""
    feed = ET.Element("feed", {"xmlns": ATOM_NS, XML_LANG: _lang_tag(snapshot)})
    _add(feed, "id", snapshot.url or _urn(snapshot.title))
    _add(feed, "title", snapshot.title)
    if snapshot.description:
        _add(feed, "subtitle", snapshot.description)
    _add(feed, "updated", _rfc3339(_feed_updated(snapshot)))
    ET.SubElement(feed, "link", rel="self", type="application/atom+xml", href=site_link(snapshot, "history.atom"))
    ET.SubElement(feed, "link", rel="alternate", type="text/html", href=snapshot.url or "index.html")
    author = ET.SubElement(feed, "author")
    _add(author, "name", snapshot.title)
    if snapshot.url:
        _add(author, "uri", snapshot.url)
    _add(feed, "generator", "prober")
    for incident in _newest_first(snapshot):
        entry = ET.SubElement(feed, "entry")
        _add(entry, "id", _entry_id(snapshot, incident))
        _add(entry, "title", entry_title(snapshot, incident))
        ET.SubElement(entry, "link", rel="alternate", type="text/html",
                      href=site_link(snapshot, incident_page(incident)))
        _add(entry, "published", _rfc3339(incident.start))
        _add(entry, "updated", _rfc3339(incident.updated_at))
        _add(entry, "content", entry_html(snapshot, incident)).set("type", "html")
    return _document(feed)


def rss_feed(snapshot: Snapshot) -> str:
    """The same incidents as an RSS 2.0 channel, for readers and chat tools that take only RSS."""
    rss = ET.Element("rss", version="2.0")
    channel = ET.SubElement(rss, "channel")
    _add(channel, "title", snapshot.title)
    _add(channel, "link", snapshot.url or "index.html")
    _add(channel, "description", snapshot.description or snapshot.title)
    _add(channel, "language", _lang_tag(snapshot).lower())
    _add(channel, "lastBuildDate", _rfc822(_feed_updated(snapshot)))
    _add(channel, "generator", "prober")
    for incident in _newest_first(snapshot):
        item = ET.SubElement(channel, "item")
        _add(item, "title", entry_title(snapshot, incident))
        _add(item, "link", site_link(snapshot, incident_page(incident)))
        guid = _add(item, "guid", _entry_id(snapshot, incident))
        guid.set("isPermaLink", "true" if snapshot.url else "false")
        _add(item, "pubDate", _rfc822(incident.updated_at))
        _add(item, "description", entry_html(snapshot, incident))
    return _document(rss)


def entry_title(snapshot: Snapshot, incident: Incident) -> str:
    """`<title> (<state>)`, the state in the site's language."""
    return f"{incident.title} ({i18n.state_text(snapshot.lang, incident.state)})"


def entry_html(snapshot: Snapshot, incident: Incident) -> str:
    """The entry's content: where and when, then each update (newest first) with its time and state. Every text
    is escaped here but `Update.html`, which is already safe HTML."""
    lang, zone = snapshot.lang, snapshot.timezone
    parts = [f"<p>{escape(_where(snapshot, incident))}</p>", f"<p><small>{escape(_period(snapshot, incident))}"
                                                              "</small></p>"]
    for update in incident.updates:
        parts.append(f"<p><small>{escape(i18n.format_time(update.at, zone, lang))}</small><br>"
                     f"<strong>{escape(i18n.state_text(lang, update.state))}</strong></p>{update.html}")
    if not incident.updates:
        parts.append(f"<p><strong>{escape(i18n.state_text(lang, incident.state))}</strong></p>")
    return "\n".join(parts)


def _where(snapshot: Snapshot, incident: Incident) -> str:
    names = {s.id: s.name for s in snapshot.services}
    services = ", ".join(names.get(s, s) for s in incident.services)
    regions = ", ".join(snapshot.region_names.get(r, r) for r in incident.regions)
    return f"{services} — {regions}" if regions else services


def _period(snapshot: Snapshot, incident: Incident) -> str:
    lang, zone = snapshot.lang, snapshot.timezone
    start = i18n.format_time(incident.start, zone, lang)
    if incident.end is None:
        return f"{start} {EN_DASH}"
    return (f"{start} {EN_DASH} {i18n.format_time(incident.end, zone, lang)} "
            f"({i18n.format_duration(incident.end - incident.start, lang)})")


def _newest_first(snapshot: Snapshot) -> list[Incident]:
    return sorted(snapshot.incidents, key=lambda i: i.updated_at, reverse=True)


def _feed_updated(snapshot: Snapshot) -> float:
    changes = [i.updated_at for i in snapshot.incidents]
    if changes:
        return max(changes)
    return snapshot.freshness.fresh_at if snapshot.freshness.fresh_at is not None else snapshot.generated_at


def _entry_id(snapshot: Snapshot, incident: Incident) -> str:
    if snapshot.url:
        return site_link(snapshot, incident_page(incident))
    return _urn(f"{snapshot.title}\x1f{incident.id}")


def _urn(name: str) -> str:
    return uuid.uuid5(uuid.NAMESPACE_URL, f"prober-site:{name}").urn


def _lang_tag(snapshot: Snapshot) -> str:
    return LANG_TAGS.get(snapshot.lang, snapshot.lang)


def _add(parent: ET.Element, tag: str, text: str) -> ET.Element:
    element = ET.SubElement(parent, tag)
    element.text = _NOT_XML.sub("", text)
    return element


def _rfc3339(unix_time: float) -> str:
    return dt.datetime.fromtimestamp(unix_time, tz=dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _rfc822(unix_time: float) -> str:
    return format_datetime(dt.datetime.fromtimestamp(unix_time, tz=dt.UTC), usegmt=True)


def _document(root: ET.Element) -> str:
    ET.indent(root)
    return '<?xml version="1.0" encoding="utf-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"
