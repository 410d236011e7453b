"""The site's Statuspage-shaped API (prober/site/statuspage_api.py), rendered from the sample snapshot whose
figures tests/site_snapshot.py knows: field names and types as Statuspage's public API v2 returns them, the
statuses per service and region, the unresolved incident, the maintenance ahead and in progress, and a stale site
that never says all is well."""

from __future__ import annotations

import dataclasses
import json
import re
from typing import Any

import pytest

from prober.site.model import Impact, IncidentState, Snapshot, Status
from prober.site.statuspage_api import api_files, iso_time, page_status
from tests.site_snapshot import AT, ONGOING_START, PAST_END, sample_snapshot

PATHS = {f"api/v2/{name}.json" for name in (
    "summary", "status", "components", "incidents", "incidents/unresolved", "scheduled-maintenances",
    "scheduled-maintenances/upcoming", "scheduled-maintenances/active")}
# Statuspage's field names (a real summary.json's, and the API v2 documentation's)
PAGE_FIELDS = {"id", "name", "url", "time_zone", "updated_at"}
COMPONENT_FIELDS = {"id", "name", "status", "created_at", "updated_at", "position", "description", "showcase",
                    "start_date", "group_id", "page_id", "group", "only_show_if_degraded"}
INCIDENT_FIELDS = {"id", "name", "status", "created_at", "updated_at", "monitoring_at", "resolved_at", "impact",
                   "shortlink", "started_at", "page_id", "incident_updates", "components"}
UPDATE_FIELDS = {"id", "status", "body", "incident_id", "created_at", "updated_at", "display_at",
                 "affected_components"}
MAINTENANCE_FIELDS = INCIDENT_FIELDS | {"scheduled_for", "scheduled_until"}
TIME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}(Z|[+-]\d\d:\d\d)$")
ID = re.compile(r"^[a-z0-9]{12}$")


def documents(snapshot: Snapshot) -> dict[str, Any]:
    return {path: json.loads(text) for path, text in api_files(snapshot).items()}


def doc(path: str, snapshot: Snapshot | None = None) -> Any:
    return json.loads(api_files(snapshot or sample_snapshot())[f"api/v2/{path}.json"])


def statuses(components: list[dict[str, Any]]) -> dict[str, str]:
    return {c["name"]: c["status"] for c in components}


def test_every_document_is_there_and_parses_with_the_page() -> None:
    docs = documents(sample_snapshot())
    assert set(docs) == PATHS
    for document in docs.values():
        assert document["page"] == docs["api/v2/summary.json"]["page"]
    page = docs["api/v2/status.json"]["page"]
    assert set(page) == PAGE_FIELDS
    assert page["name"] == "Demo Shop status"
    assert page["url"] == "https://status.example.com"  # Statuspage's: no trailing slash
    assert page["time_zone"] == "Europe/Berlin"
    assert page["updated_at"] == "2026-11-30T13:00:00.000+01:00"  # fresh at AT (12:00 UTC), Berlin time
    assert ID.match(page["id"])
    assert list(docs["api/v2/summary.json"]) == ["page", "components", "incidents", "scheduled_maintenances",
                                                 "status"]


def test_the_summary_says_the_checkout_outage_like_statuspage() -> None:
    status = doc("status")["status"]
    # Checkout is in a major outage, Search up, Home page in maintenance: one service of three down
    assert status == {"indicator": "major", "description": "Partial System Outage"}
    assert doc("summary")["status"] == status


def test_components_are_groups_of_regions_with_their_statuses() -> None:
    components = doc("components")["components"]
    assert len(components) == 3 + 3 * 3
    assert statuses(components) == {
        "Checkout": "major_outage",
        "Checkout — Europe (Frankfurt)": "major_outage",
        "Checkout — US East": "partial_outage",
        "Checkout — Asia Pacific (Singapore)": "operational",
        "Search": "operational",
        "Search — Europe (Frankfurt)": "operational",
        "Search — US East": "operational",
        "Search — Asia Pacific (Singapore)": "operational",
        "Home page": "under_maintenance",
        "Home page — Europe (Frankfurt)": "under_maintenance",
        "Home page — US East": "operational",
        "Home page — Asia Pacific (Singapore)": "unknown",  # no runs lately: never operational
    }
    by_id = {c["id"]: c for c in components}
    assert len(by_id) == len(components)
    for component in components:
        expected = COMPONENT_FIELDS | ({"components"} if component["group"] else set())
        assert set(component) == expected, component["name"]
        assert ID.match(component["id"])
        assert TIME.match(component["created_at"]) and TIME.match(component["updated_at"])
        assert isinstance(component["position"], int) and isinstance(component["showcase"], bool)
        assert component["only_show_if_degraded"] is False
        if component["group"]:
            assert component["group_id"] is None
            children = [by_id[i] for i in component["components"]]
            assert [c["position"] for c in children] == [1, 2, 3]
            assert all(c["group_id"] == component["id"] for c in children)
            assert all(c["name"].startswith(component["name"] + " — ") for c in children)
        else:
            assert by_id[component["group_id"]]["group"] is True
    checkout = next(c for c in components if c["name"] == "Checkout")
    assert checkout["description"] == "Putting things in the basket and paying for them"
    assert next(c for c in components if c["name"] == "Search")["description"] is None
    late = next(c for c in components if c["name"] == "Home page — Asia Pacific (Singapore)")
    assert late["start_date"] == "2026-11-01"  # its first day with runs (60 of the 90 days had none)


def test_unresolved_is_the_ongoing_incident_only() -> None:
    (incident,) = doc("incidents/unresolved")["incidents"]
    assert set(incident) == INCIDENT_FIELDS
    assert incident["id"] == "checkout-2026-11-30-1000"
    assert incident["name"] == "Payments fail in Europe and the US"
    assert (incident["status"], incident["impact"]) == ("identified", "major")
    assert incident["started_at"] == incident["created_at"] == iso_time(ONGOING_START, "Europe/Berlin")
    assert incident["started_at"] == "2026-11-30T11:00:00.000+01:00"
    assert incident["updated_at"] == "2026-11-30T12:30:00.000+01:00"  # its newest update
    assert incident["resolved_at"] is None and incident["monitoring_at"] is None
    assert incident["shortlink"] == "https://status.example.com/incidents/checkout-2026-11-30-1000.html"
    assert [c["name"] for c in incident["components"]] == ["Checkout — Europe (Frankfurt)", "Checkout — US East"]
    updates = incident["incident_updates"]
    assert [u["status"] for u in updates] == ["identified", "investigating"]  # newest first
    assert updates[0]["body"] == "The payment provider's API answers 503."  # plain text, no HTML
    for update in updates:
        assert set(update) == UPDATE_FIELDS
        assert update["incident_id"] == incident["id"] and ID.match(update["id"])
        assert update["created_at"] == update["display_at"] == update["updated_at"]
    assert updates[1]["created_at"] == "2026-11-30T11:05:00.000+01:00"
    first = {c["name"]: (c["old_status"], c["new_status"]) for c in updates[1]["affected_components"]}
    assert first == {"Checkout — Europe (Frankfurt)": ("operational", "major_outage"),
                     "Checkout — US East": ("operational", "partial_outage")}
    assert doc("summary")["incidents"] == [incident]


def test_incidents_lists_all_three_with_their_times() -> None:
    incidents = doc("incidents")["incidents"]
    assert [i["id"] for i in incidents] == ["checkout-2026-11-30-1000", "search-2026-11-03-1000",
                                            "note-slow-images"]
    past = incidents[1]
    assert (past["status"], past["impact"]) == ("resolved", "minor")
    assert past["resolved_at"] == past["updated_at"] == iso_time(PAST_END, "Europe/Berlin")
    assert past["resolved_at"] == "2026-11-03T11:45:00.000+01:00"
    assert [c["name"] for c in past["components"]] == ["Search — Asia Pacific (Singapore)"]
    note = incidents[2]
    assert [c["name"] for c in note["components"]] == ["Home page"]  # a note names no region: the service
    assert note["incident_updates"][0]["body"] == "The image CDN is fast again."
    assert note["incident_updates"][0]["affected_components"][0]["new_status"] == "operational"  # resolved
    assert note["resolved_at"] == "2026-10-24T13:00:00.000+02:00"  # summer time in Berlin then
    for incident in incidents:
        assert set(incident) == INCIDENT_FIELDS
        for key in ("created_at", "updated_at", "started_at"):
            assert TIME.match(incident[key])


def test_maintenance_upcoming_is_the_database_upgrade_and_active_the_weekly_deploy() -> None:
    (upcoming,) = doc("scheduled-maintenances/upcoming")["scheduled_maintenances"]
    (active,) = doc("scheduled-maintenances/active")["scheduled_maintenances"]
    assert (upcoming["name"], upcoming["status"]) == ("Database upgrade", "scheduled")
    assert upcoming["scheduled_for"] == "2026-12-03T13:00:00.000+01:00"
    assert upcoming["scheduled_until"] == "2026-12-03T15:00:00.000+01:00"
    assert len(upcoming["components"]) == 9  # all three services in all three regions
    assert (active["name"], active["status"]) == ("Weekly deploy", "in_progress")
    assert active["scheduled_for"] == iso_time(AT - 600, "Europe/Berlin")
    assert [c["name"] for c in active["components"]] == [
        "Home page — Europe (Frankfurt)", "Home page — US East", "Home page — Asia Pacific (Singapore)"]
    for window in (upcoming, active):
        assert set(window) == MAINTENANCE_FIELDS
        assert window["impact"] == "maintenance" and window["incident_updates"] == []
    everything = doc("scheduled-maintenances")["scheduled_maintenances"]
    assert [m["name"] for m in everything] == ["Weekly deploy", "Database upgrade"]
    assert doc("summary")["scheduled_maintenances"] == everything


def test_a_stale_site_claims_nothing_is_operational() -> None:
    stale = sample_snapshot(stale=True)
    docs = documents(stale)
    status = docs["api/v2/status.json"]["status"]
    assert status["indicator"] == "unknown"
    assert "operational" not in status["description"].lower()
    for path in ("summary", "components"):
        components = docs[f"api/v2/{path}.json"]["components"]
        assert set(statuses(components).values()) == {"unknown"}
    text = "".join(api_files(stale).values())
    assert "All Systems Operational" not in text
    assert "Prometheus" not in text  # the stale reason may name internal hosts: never published
    assert docs["api/v2/status.json"]["page"]["updated_at"] == iso_time(AT - 5400, "Europe/Berlin")  # last fresh


def test_ids_are_stable_across_renders_and_public_renames() -> None:
    assert api_files(sample_snapshot()) == api_files(sample_snapshot())
    renamed = sample_snapshot()
    services = tuple(dataclasses.replace(s, name=s.name.upper(), regions=tuple(
        dataclasses.replace(r, name=f"Region {r.region}") for r in s.regions)) for s in renamed.services)
    renamed = dataclasses.replace(renamed, services=services)
    before = [c["id"] for c in doc("components")["components"]]
    after = doc("components", renamed)["components"]
    assert [c["id"] for c in after] == before
    assert after[1]["name"] == "CHECKOUT — Region eu"
    assert len(set(before)) == len(before)


def test_no_check_name_and_no_url_means_no_links() -> None:
    text = "".join(api_files(sample_snapshot()).values())
    for check in ("shop_checkout", "shop_payment", "search_api", "home_page"):
        assert check not in text  # public names only
    bare = dataclasses.replace(sample_snapshot(), url=None)
    docs = documents(bare)
    assert docs["api/v2/summary.json"]["page"]["url"] is None
    assert all(i["shortlink"] is None for i in docs["api/v2/incidents.json"]["incidents"])
    assert ID.match(docs["api/v2/summary.json"]["page"]["id"])


def test_chinese_names_stay_readable_in_the_json() -> None:
    snapshot = sample_snapshot(lang="zh")
    services = (dataclasses.replace(snapshot.services[0], name="结账"), *snapshot.services[1:])
    text = api_files(dataclasses.replace(snapshot, services=services))["api/v2/components.json"]
    assert "结账 — Europe (Frankfurt)" in text  # UTF-8, not \\u escapes
    assert json.loads(text)["components"][0]["name"] == "结账"


def with_statuses(*values: Status) -> Snapshot:
    snapshot = sample_snapshot()
    services = tuple(dataclasses.replace(s, status=v) for s, v in zip(snapshot.services, values, strict=True))
    return dataclasses.replace(snapshot, services=services, incidents=())


@pytest.mark.parametrize(("values", "expected"), [
    ((Status.OPERATIONAL,) * 3, ("none", "All Systems Operational")),
    ((Status.MAJOR,) * 3, ("critical", "Major System Outage")),
    ((Status.MAJOR, Status.OPERATIONAL, Status.DEGRADED), ("major", "Partial System Outage")),
    ((Status.PARTIAL,) * 3, ("major", "Partial System Outage")),
    ((Status.PARTIAL, Status.OPERATIONAL, Status.OPERATIONAL), ("minor", "Minor Service Outage")),
    ((Status.DEGRADED, Status.OPERATIONAL, Status.MAINTENANCE), ("minor", "Partially Degraded Service")),
    ((Status.MAINTENANCE, Status.OPERATIONAL, Status.OPERATIONAL), ("maintenance", "Service Under Maintenance")),
    ((Status.UNKNOWN, Status.OPERATIONAL, Status.OPERATIONAL), ("unknown", "Status Unknown: no current data")),
])
def test_the_page_status_blends_the_services(values: tuple[Status, ...], expected: tuple[str, str]) -> None:
    assert page_status(with_statuses(*values)) == expected


def test_an_unresolved_incident_raises_the_indicator_a_resolved_one_does_not() -> None:
    snapshot = sample_snapshot()
    ongoing = dataclasses.replace(snapshot.incidents[0], impact=Impact.MINOR, state=IncidentState.MONITORING)
    calm = with_statuses(*(Status.OPERATIONAL,) * 3)
    assert page_status(dataclasses.replace(calm, incidents=(ongoing,))) == ("minor", "Minor Service Outage")
    resolved = dataclasses.replace(ongoing, state=IncidentState.RESOLVED, end=AT)
    assert page_status(dataclasses.replace(calm, incidents=(resolved,)))[0] == "none"
    # a worse component status is kept
    assert page_status(dataclasses.replace(with_statuses(Status.MAJOR, *(Status.MAJOR,) * 2),
                                           incidents=(ongoing,)))[0] == "critical"


def test_times_are_in_the_site_timezone_with_its_offset() -> None:
    assert iso_time(AT, "Europe/Berlin") == "2026-11-30T13:00:00.000+01:00"
    assert iso_time(AT, "UTC") == "2026-11-30T12:00:00.000Z"
    assert iso_time(AT + 0.25, "Asia/Shanghai") == "2026-11-30T20:00:00.250+08:00"
    utc = dataclasses.replace(sample_snapshot(), timezone="UTC")
    assert doc("summary", utc)["page"]["updated_at"] == "2026-11-30T12:00:00.000Z"
