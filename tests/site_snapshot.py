"""A status site's Snapshot whose every figure the renderers' tests know: three services in three regions over
90 days, an ongoing incident (detected and written about), a past one, a note alone, maintenance ahead and the
error budgets. `tests/test_site_*.py` render it; the end-to-end test computes its own from a real Prometheus."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping

from prober.site.model import (
    Budget,
    Day,
    Freshness,
    Impact,
    Incident,
    IncidentState,
    Maintenance,
    RegionView,
    ServiceView,
    Snapshot,
    Status,
    Update,
)

TZ = "Europe/Berlin"
AT = dt.datetime(2026, 11, 30, 12, 0, tzinfo=dt.UTC).timestamp()  # 13:00 in Berlin
DAYS = 90
REGIONS = {"eu": "Europe (Frankfurt)", "us": "US East", "ap": "Asia Pacific (Singapore)"}
ONGOING_START = AT - 2 * 3600  # Checkout fails in eu and us since 10:00 UTC
PAST_START = dt.datetime(2026, 11, 3, 10, 0, tzinfo=dt.UTC).timestamp()  # Search: 45 minutes in ap
PAST_END = PAST_START + 45 * 60


def _midnights() -> list[tuple[str, float]]:
    zone = dt.timezone(dt.timedelta(hours=1))  # Berlin in winter, for the fixture's own arithmetic
    last = dt.datetime.fromtimestamp(AT, tz=zone).date()
    first = last - dt.timedelta(days=DAYS - 1)
    return [((first + dt.timedelta(days=i)).isoformat(),
             dt.datetime.combine(first + dt.timedelta(days=i), dt.time(), tzinfo=zone).timestamp())
            for i in range(DAYS)]


def _days(failed_on: Mapping[str, tuple[float, tuple[str, ...]]], no_runs_before: int = 0) -> tuple[Day, ...]:
    """1,440 runs a day (one a minute), all ok but `failed_on[date] = (failed, incident ids)`; the first
    `no_runs_before` days have no runs at all (the region came later)."""
    days = []
    for index, (date, start) in enumerate(_midnights()):
        if index < no_runs_before:
            days.append(Day(date, start, 0.0, 0.0, None, ()))
            continue
        failed, incidents = failed_on.get(date, (0.0, ()))
        days.append(Day(date, start, 1440.0, 1440.0 - failed, 0.120, incidents))
    return tuple(days)


TODAY = _midnights()[-1][0]
PAST_DAY = "2026-11-03"


def sample_snapshot(lang: str = "en", stale: bool = False) -> Snapshot:
    checkout_now = {TODAY: (120.0, ("checkout-2026-11-30-1000",))}
    checkout = ServiceView(
        id="checkout", name="Checkout", description="Putting things in the basket and paying for them",
        checks=("shop_checkout", "shop_payment"), status=Status.MAJOR,
        regions=(
            RegionView("eu", REGIONS["eu"], Status.MAJOR, _days(checkout_now), 0.180, AT),
            RegionView("us", REGIONS["us"], Status.PARTIAL, _days(checkout_now), 0.210, AT),
            RegionView("ap", REGIONS["ap"], Status.OPERATIONAL, _days({}), 0.350, AT),
        ),
        budgets=(Budget("checkout_works", "availability", 0.995, 28 * 86400.0, 0.9990),
                 Budget("checkout_works", "latency", 0.99, 28 * 86400.0, 0.9850)),
    )
    search = ServiceView(
        id="search", name="Search", description="", checks=("search_api",), status=Status.OPERATIONAL,
        regions=(
            RegionView("eu", REGIONS["eu"], Status.OPERATIONAL, _days({}), 0.045, AT),
            RegionView("us", REGIONS["us"], Status.OPERATIONAL, _days({}), 0.060, AT),
            RegionView("ap", REGIONS["ap"], Status.OPERATIONAL,
                       _days({PAST_DAY: (45.0, ("search-2026-11-03-1000",))}), 0.090, AT),
        ),
        budgets=(),
    )
    home = ServiceView(
        id="home-page", name="Home page", description="", checks=("home_page",), status=Status.MAINTENANCE,
        regions=(
            RegionView("eu", REGIONS["eu"], Status.MAINTENANCE, _days({}), 1.250, AT),
            RegionView("us", REGIONS["us"], Status.OPERATIONAL, _days({}), 1.400, AT),
            RegionView("ap", REGIONS["ap"], Status.UNKNOWN, _days({}, no_runs_before=60), None, None),
        ),
        budgets=(),
    )
    ongoing = Incident(
        id="checkout-2026-11-30-1000", title="Payments fail in Europe and the US",
        services=("checkout",), regions=("eu", "us"), start=ONGOING_START, end=None,
        state=IncidentState.IDENTIFIED, impact=Impact.MAJOR, reason="http_status",
        updates=(
            Update(AT - 1800, IncidentState.IDENTIFIED, "<p>The payment provider's API answers <strong>503</strong>."
                   "</p>", "The payment provider's API answers 503."),
            Update(ONGOING_START + 300, IncidentState.INVESTIGATING, "<p>We are looking into failed payments.</p>",
                   "We are looking into failed payments."),
        ),
        detected=True, noted=True)
    past = Incident(
        id="search-2026-11-03-1000", title="Search unavailable in Asia Pacific (Singapore)",
        services=("search",), regions=("ap",), start=PAST_START, end=PAST_END,
        state=IncidentState.RESOLVED, impact=Impact.MINOR, reason="timeout", updates=(),
        detected=True, noted=False)
    note_only = Incident(
        id="note-slow-images", title="Product images load slowly", services=("home-page",), regions=(),
        start=PAST_START - 10 * 86400, end=PAST_START - 10 * 86400 + 3600, state=IncidentState.RESOLVED,
        impact=Impact.MINOR, reason=None,
        updates=(Update(PAST_START - 10 * 86400 + 3600, IncidentState.RESOLVED,
                        "<p>The image CDN is fast again.</p>", "The image CDN is fast again."),),
        detected=False, noted=True)
    maintenance = (
        Maintenance("home-page-maintenance-1", "Weekly deploy", ("home-page",), AT - 600, AT + 3000),
        Maintenance("all-db-upgrade", "Database upgrade", ("checkout", "search", "home-page"),
                    AT + 3 * 86400, AT + 3 * 86400 + 7200),
    )
    freshness = Freshness(AT - 5400, "Prometheus did not answer in 20 s") if stale else Freshness(AT, None)
    return Snapshot(
        title="Demo Shop status", description="What our customers get, measured from three regions",
        url="https://status.example.com/", timezone=TZ, lang=lang, at=AT, generated_at=AT + 2,
        freshness=freshness, services=(checkout, search, home), incidents=(ongoing, past, note_only),
        maintenance=maintenance, region_names=dict(REGIONS), day_count=DAYS)
