"""What every page of the status site shares: a Snapshot read in its language and timezone, as escaped HTML
fragments (texts, times, names, status badges, links from a page's folder).

Everything here escapes what it is given: a text from the snapshot never reaches a page raw (only an Update's
html, which the notes already made safe, and the renderers insert that themselves)."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from html import escape

from prober.site import i18n
from prober.site.model import Snapshot, Status
from prober.site.services import slug

_SAFE_ID = re.compile(r"\w[\w.-]*")


def incident_path(incident_id: str) -> str:
    """The incident's page, relative to the site's root: its id when that is a safe file name, else its slug."""
    name = incident_id if _SAFE_ID.fullmatch(incident_id) and len(incident_id) <= 200 else slug(incident_id)[:200]
    return f"incidents/{name}.html"


@dataclass(frozen=True)
class View:
    """A snapshot as one page shows it; `root` leads from the page's folder to the site's root ("" or "../")."""

    snap: Snapshot
    root: str = ""

    @property
    def lang(self) -> str:
        return self.snap.lang

    def text(self, key: str, **values: str) -> str:
        """The text of `key`, its values filled in, escaped."""
        return escape(i18n.text(self.lang, key, **values))

    def html(self, key: str, **fragments: str) -> str:
        """The text of `key`, escaped, with its placeholders filled by HTML fragments (a <time>, a link)."""
        marked = i18n.text(self.lang, key, **{name: f"\x00{name}\x00" for name in fragments})
        filled = escape(marked)
        for name, fragment in fragments.items():
            filled = filled.replace(f"\x00{name}\x00", fragment)
        return filled

    def href(self, path: str) -> str:
        return escape(self.root + path)

    def incident_href(self, incident_id: str) -> str:
        return self.href(incident_path(incident_id))

    def time(self, unix_time: float) -> str:
        """A <time> in the site's timezone."""
        moment = i18n.local(unix_time, self.snap.timezone)
        label = i18n.format_time(unix_time, self.snap.timezone, self.lang)
        return f'<time datetime="{moment.isoformat(timespec="minutes")}">{escape(label)}</time>'

    def span(self, start: float, end: float) -> str:
        """Two moments as one <time> range, e.g. `Dec 3, 2026 13:00 to 15:00 CET` (with an en dash)."""
        iso = dt.datetime.fromtimestamp(start, tz=dt.UTC).isoformat(timespec="minutes")
        label = i18n.format_span(start, end, self.snap.timezone, self.lang)
        return f'<time class="range" datetime="{iso}">{escape(label)}</time>'

    def duration(self, seconds: float) -> str:
        """A duration that never breaks between its number and unit."""
        return f'<span class="nw">{escape(i18n.format_duration(max(seconds, 0.0), self.lang))}</span>'

    def current(self, status: Status) -> Status:
        """A current status as it may be shown: unknown while the data is stale (never operational)."""
        return Status.UNKNOWN if self.snap.freshness.stale else status

    def badge(self, status: Status) -> str:
        """A current status in words, with its colour."""
        shown = self.current(status)
        return f'<span class="status s-{shown.value}">{escape(i18n.status_text(self.lang, shown))}</span>'

    def join(self, items: list[str]) -> str:
        return escape(i18n.join(self.lang, items))

    def service_names(self, ids: tuple[str, ...]) -> str:
        names = {s.id: s.name for s in self.snap.services}
        return self.join([names.get(i, i) for i in ids])

    def region_names(self, ids: tuple[str, ...]) -> str:
        return self.join([self.snap.region_names.get(r, r) for r in ids])
