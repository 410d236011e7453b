"""The site's public API in the shape of Atlassian Statuspage's API v2 (`api/v2/summary.json`, `status.json`,
`components.json`, `incidents.json`, `incidents/unresolved.json`, `scheduled-maintenances.json` and its
`upcoming.json` and `active.json`), so the widgets, bots and chat integrations that read a Statuspage page read
this site unchanged. Static files: every document is rendered from one Snapshot.

How the site's model maps onto Statuspage's:
- each service is a group component (`group: true`, `components`: its children's ids) and each (service, region)
  a component named `<service> — <region's public name>` with `group_id`; ids are 12 lower-case letters and
  digits, like Statuspage's, derived from the service's and region's ids (never from names, so renaming a region
  in `site:` keeps them);
- component statuses are the model's (Statuspage's five words), plus `unknown` where the site has no current data
  (a region without recent runs, or every component while the data is stale). `unknown` is not one of
  Statuspage's words, deliberately: any of them would be a guess, and `operational` a false one; clients that
  map Statuspage values treat an unknown one as unknown, and a strict client fails loudly rather than showing
  a service up;
- `status.indicator`/`description` blend the services' statuses as Statuspage describes its top-level status
  (e.g. one service in a major outage among others: `major`, "Partial System Outage"; every service: `critical`,
  "Major System Outage"), raised to the impact of any unresolved incident. While the data is stale the site
  never claims all is well: the indicator is `unknown` (outside Statuspage's none|minor|major|critical|maintenance;
  the clients we read, e.g. menu-bar status apps and vendor-outage correlators, map an unrecognised indicator to
  "unknown", and those that test `indicator == "none"` see trouble), with "Status Unknown: data not current"
  (never the reason itself: it may name internal hosts). Descriptions stay in English, as Statuspage's do:
  clients match them as strings;
- times are ISO 8601 with milliseconds in the site's timezone with its offset (`2026-11-30T13:00:00.000+01:00`,
  `Z` at a zero offset), as Statuspage writes them in a page's `time_zone`;
- an update's `affected_components` says the transition its state implies (the model keeps no per-update component
  statuses): the first update from operational, a resolved one back to it, the others to the component's status
  now while the incident is unresolved, or to the status its impact stands for once it is resolved;
- lists are bounded like Statuspage's: the 50 most recent incidents and maintenances.
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Sequence

from prober.site import i18n
from prober.site.feed import incident_page, site_link
from prober.site.model import (
    ACTIVE_STATES,
    SEVERITY,
    Impact,
    Incident,
    IncidentState,
    Maintenance,
    RegionView,
    ServiceView,
    Snapshot,
    Status,
)

API = "api/v2/"
MAX_LISTED = 50
UNKNOWN = "unknown"
STALE_DESCRIPTION = "Status Unknown: data not current"
NO_DATA_DESCRIPTION = "Status Unknown: no current data"
INDICATOR_RANK = {"none": 0, "maintenance": 1, UNKNOWN: 2, "minor": 3, "major": 4, "critical": 5}
IMPACT_INDICATOR = {Impact.NONE: ("none", "All Systems Operational"), Impact.MINOR: ("minor", "Minor Service Outage"),
                    Impact.MAJOR: ("major", "Partial System Outage"),
                    Impact.CRITICAL: ("critical", "Major System Outage")}
ROLLUP = {  # the worst service status -> (indicator, description) when every service has it, and when some do
    Status.MAJOR: (("critical", "Major System Outage"), ("major", "Partial System Outage")),
    Status.PARTIAL: (("major", "Partial System Outage"), ("minor", "Minor Service Outage")),
    Status.DEGRADED: (("minor", "Degraded System Service"), ("minor", "Partially Degraded Service")),
    Status.UNKNOWN: ((UNKNOWN, NO_DATA_DESCRIPTION), (UNKNOWN, NO_DATA_DESCRIPTION)),
    Status.MAINTENANCE: (("maintenance", "Service Under Maintenance"), ("maintenance", "Service Under Maintenance")),
    Status.OPERATIONAL: (("none", "All Systems Operational"), ("none", "All Systems Operational")),
}
IMPACT_COMPONENT_STATUS = {Impact.NONE: "operational", Impact.MINOR: "partial_outage", Impact.MAJOR: "major_outage",
                           Impact.CRITICAL: "major_outage"}

Json = dict[str, object]


def api_files(snapshot: Snapshot) -> dict[str, str]:
    """Relative path -> JSON text of every document of the API."""
    api = _Api(snapshot)
    incidents = [api.incident(i) for i in snapshot.incidents[:MAX_LISTED]]
    unresolved = [api.incident(i) for i in snapshot.incidents if i.state in ACTIVE_STATES]
    maintenances = [api.maintenance(m) for m in snapshot.maintenance[:MAX_LISTED]]
    upcoming = [m for m in maintenances if m["status"] == "scheduled"]
    active = [m for m in maintenances if m["status"] == "in_progress"]
    indicator, description = page_status(snapshot)
    status = {"indicator": indicator, "description": description}
    page, components = api.page, api.components
    documents: dict[str, Json] = {
        "summary.json": {"page": page, "components": components, "incidents": unresolved,
                         "scheduled_maintenances": maintenances, "status": status},
        "status.json": {"page": page, "status": status},
        "components.json": {"page": page, "components": components},
        "incidents.json": {"page": page, "incidents": incidents},
        "incidents/unresolved.json": {"page": page, "incidents": unresolved},
        "scheduled-maintenances.json": {"page": page, "scheduled_maintenances": maintenances},
        "scheduled-maintenances/upcoming.json": {"page": page, "scheduled_maintenances": upcoming},
        "scheduled-maintenances/active.json": {"page": page, "scheduled_maintenances": active},
    }
    return {API + name: json.dumps(document, ensure_ascii=False, separators=(",", ":"))
            for name, document in documents.items()}


def page_status(snapshot: Snapshot) -> tuple[str, str]:
    """`(indicator, description)` of the whole page: `unknown` while the data is stale, else the services'
    statuses blended as Statuspage does, raised to the impact of the worst unresolved incident."""
    if snapshot.freshness.stale:
        return UNKNOWN, STALE_DESCRIPTION
    statuses = [s.status for s in snapshot.services]
    worst = max(statuses, key=SEVERITY.__getitem__, default=Status.OPERATIONAL)
    every, some = ROLLUP[worst]
    indicator, description = every if all(s is worst for s in statuses) else some
    for incident in snapshot.incidents:
        raised = IMPACT_INDICATOR[incident.impact]
        if incident.state in ACTIVE_STATES and INDICATOR_RANK[raised[0]] > INDICATOR_RANK[indicator]:
            indicator, description = raised
    return indicator, description


def iso_time(unix_time: float, timezone: str) -> str:
    """Statuspage's time format: `2026-11-30T13:00:00.000+01:00` in `timezone`, `Z` for a zero offset."""
    text = i18n.local(unix_time, timezone).isoformat(timespec="milliseconds")
    return text.removesuffix("+00:00") + "Z" if text.endswith("+00:00") else text


def stable_id(*parts: str) -> str:
    """A Statuspage-like id: 12 lower-case letters and digits, always the same for the same parts."""
    digest = hashlib.sha256("\x1f".join(parts).encode()).digest()
    return base64.b32encode(digest).decode().lower()[:12]


class _Api:
    """The documents' parts for one snapshot: its page, its components (each once, by id) and the incidents and
    maintenances that refer to them."""

    def __init__(self, snapshot: Snapshot) -> None:
        self.snapshot = snapshot
        self.page_id = stable_id("page", snapshot.url or snapshot.title)
        fresh_at = snapshot.freshness.fresh_at
        self.page: Json = {"id": self.page_id, "name": snapshot.title,
                           "url": snapshot.url.rstrip("/") if snapshot.url else None,
                           "time_zone": snapshot.timezone,
                           "updated_at": self.time(fresh_at if fresh_at is not None else snapshot.generated_at)}
        self.groups: dict[str, Json] = {}
        self.leaves: dict[tuple[str, str], Json] = {}
        self.components: list[Json] = []
        for position, service in enumerate(snapshot.services, 1):
            children = [self._leaf(service, region, index) for index, region in enumerate(service.regions, 1)]
            group = self._group(service, position, children)
            self.groups[service.id] = group
            self.leaves.update({(service.id, r.region): c for r, c in zip(service.regions, children, strict=True)})
            self.components += [group, *children]

    def time(self, unix_time: float) -> str:
        return iso_time(unix_time, self.snapshot.timezone)

    def status(self, status: Status) -> str:
        return UNKNOWN if self.snapshot.freshness.stale else status.value

    def _leaf(self, service: ServiceView, region: RegionView, position: int) -> Json:
        created, updated, start_date = self._times(region)
        return {"id": stable_id("component", service.id, region.region), "name": f"{service.name} — {region.name}",
                "status": self.status(region.status), "created_at": self.time(created),
                "updated_at": self.time(updated), "position": position, "description": None, "showcase": True,
                "start_date": start_date, "group_id": stable_id("group", service.id), "page_id": self.page_id,
                "group": False, "only_show_if_degraded": False}

    def _group(self, service: ServiceView, position: int, children: Sequence[Json]) -> Json:
        times = [self._times(r) for r in service.regions]
        created = min((t[0] for t in times), default=self.snapshot.at)
        updated = max((t[1] for t in times), default=created)
        return {"id": stable_id("group", service.id), "name": service.name, "status": self.status(service.status),
                "created_at": self.time(created), "updated_at": self.time(updated), "position": position,
                "description": service.description or None, "showcase": False,
                "start_date": min((t[2] for t in times if t[2] is not None), default=None), "group_id": None,
                "page_id": self.page_id, "group": True, "only_show_if_degraded": False,
                "components": [c["id"] for c in children]}

    def _times(self, region: RegionView) -> tuple[float, float, str | None]:
        """A region component's (created, updated, start_date): its first day with runs (or the first shown),
        and its last run (or when the data was last current)."""
        first = next((d for d in region.days if d.runs), region.days[0] if region.days else None)
        created = first.start if first is not None else self.snapshot.at
        candidates = (region.last_run_at, self.snapshot.freshness.fresh_at, self.snapshot.generated_at)
        updated = next(t for t in candidates if t is not None)
        return created, max(created, updated), first.date if first is not None else None

    def affected(self, services: Sequence[str], regions: Sequence[str]) -> list[Json]:
        """The components of `services` in `regions` (each service as a whole, its group, without regions)."""
        found: list[Json] = []
        for service in services:
            if not regions and service in self.groups:
                found.append(self.groups[service])
            found += [self.leaves[(service, r)] for r in regions if (service, r) in self.leaves]
        return found

    def incident(self, incident: Incident) -> Json:
        components = self.affected(incident.services, incident.regions)
        return {"id": incident.id, "name": incident.title, "status": incident.state.value,
                "created_at": self.time(incident.start), "updated_at": self.time(incident.updated_at),
                "monitoring_at": self._first_at(incident, (IncidentState.MONITORING,)),
                "resolved_at": self._resolved_at(incident), "impact": incident.impact.value,
                "shortlink": site_link(self.snapshot, incident_page(incident)) if self.snapshot.url else None,
                "started_at": self.time(incident.start), "page_id": self.page_id,
                "incident_updates": self._updates(incident, components), "components": components}

    def _updates(self, incident: Incident, components: Sequence[Json]) -> list[Json]:
        """Newest first. An update's `affected_components` give the transition its state implies: the first from
        operational, a resolved one back to it, the others to the component's status now while the incident is
        unresolved (the best knowledge there is) or, once resolved, the status its impact stands for."""
        impacted = [str(c["status"]) if incident.state in ACTIVE_STATES else IMPACT_COMPONENT_STATUS[incident.impact]
                    for c in components]
        updates: list[Json] = []
        before = [Status.OPERATIONAL.value] * len(components)
        for update in reversed(incident.updates):  # oldest first, to chain each update's transition
            after = impacted if update.state in ACTIVE_STATES else [Status.OPERATIONAL.value] * len(components)
            at = self.time(update.at)
            updates.append({
                "id": stable_id("update", incident.id, repr(update.at), update.state.value),
                "status": update.state.value, "body": update.text, "incident_id": incident.id, "created_at": at,
                "updated_at": at, "display_at": at,
                "affected_components": [{"code": c["id"], "name": c["name"], "old_status": old, "new_status": new}
                                        for c, old, new in zip(components, before, after, strict=True)]})
            before = after
        return updates[::-1]

    def _first_at(self, incident: Incident, states: Sequence[IncidentState]) -> str | None:
        times = [u.at for u in incident.updates if u.state in states]
        return self.time(min(times)) if times else None

    def _resolved_at(self, incident: Incident) -> str | None:
        if incident.state in ACTIVE_STATES:
            return None
        if incident.end is not None:
            return self.time(incident.end)
        return self._first_at(incident, (IncidentState.RESOLVED, IncidentState.POSTMORTEM)) or \
            self.time(incident.updated_at)

    def maintenance(self, window: Maintenance) -> Json:
        """A maintenance window as Statuspage's scheduled maintenance: `in_progress` while it runs, else
        `scheduled`. Planned in agent.yaml, it has no time of its own creation: its start stands for it."""
        components = [self.leaves[(s, r)] for s in window.services for r in self.snapshot.region_names
                      if (s, r) in self.leaves]
        start = self.time(window.start)
        return {"id": window.id, "name": window.name,
                "status": "in_progress" if window.ongoing(self.snapshot.at) else "scheduled",
                "created_at": start, "updated_at": start, "monitoring_at": None, "resolved_at": None,
                "impact": "maintenance", "shortlink": self.page["url"], "started_at": start,
                "page_id": self.page_id, "incident_updates": [], "components": components,
                "scheduled_for": start, "scheduled_until": self.time(window.end)}
