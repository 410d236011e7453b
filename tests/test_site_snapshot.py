"""The status site's rules on hand-made counters: a region's status from its last runs, the consensus of regions
for a major outage and for an incident, unknown without data (never operational), maintenance, and days in the
site's timezone."""

from __future__ import annotations

import datetime as dt
from typing import Any

from prober.config.models import AgentConfig
from prober.report.history import Counts, History
from prober.site.model import Freshness, IncidentState, Status
from prober.site.snapshot import SiteOptions, history_range, snapshot

STEP = 300.0
AT = dt.datetime(2026, 11, 30, 12, 0, tzinfo=dt.UTC).timestamp()
RUNS = 5.0  # per step


def config(maintenance: list[dict[str, str]] | None = None, **site: Any) -> AgentConfig:
    return AgentConfig.model_validate({
        "maintenance": maintenance or [],
        "checks": [{"name": name, "type": "http", "url": f"http://127.0.0.1:9/{name}", "interval": "1m",
                    "timeout": "5s", "attempts": 1} for name in ("web", "api")],
        "slos": [{"name": "shop", "checks": ["web", "api"], "availability": 99.5}],
        "rules": {"regions": ["eu", "us", "ap"], "consensus": {"min_regions": 2, "for": "5m"}},
        "site": {"days": 7, **site},
    })


def history(cfg: AgentConfig, failing: dict[tuple[str, str], int], regions: tuple[str, ...] = ("eu", "us", "ap"),
            quiet: set[tuple[str, str]] | None = None) -> History:
    """Every check runs RUNS times a step in `regions`; (check, region) in `failing` fails its last N steps;
    those in `quiet` have not run in the last 3 steps."""
    start, end = history_range(AT, cfg.site.days, cfg.site.timezone, STEP)
    steps = round((end - start) / STEP)
    counts = {}
    for region in regions:
        for check in ("web", "api"):
            runs = [RUNS] * steps
            if quiet and (check, region) in quiet:
                runs[-3:] = [0.0, 0.0, 0.0]
            bad = failing.get((check, region), 0)
            successes = [r if i < steps - bad else 0.0 for i, r in enumerate(runs)]
            failures = [r - s for r, s in zip(runs, successes, strict=True)]
            counts[(check, region)] = Counts(runs, successes, None, {"timeout": failures} if bad else {},
                                             [r * 0.1 for r in runs], list(runs))
    return History(start, end, STEP, counts)


def build(cfg: AgentConfig, hist: History | None, stale: str | None = None) -> Any:
    return snapshot(cfg, hist, AT, Freshness(AT, stale), options=SiteOptions())


def statuses(snap: Any) -> dict[str, Status]:
    (service,) = snap.services
    return {"all": service.status, **{r.region: r.status for r in service.regions}}


def test_one_region_failing_is_a_partial_outage_and_no_incident() -> None:
    cfg = config()
    snap = build(cfg, history(cfg, {("web", "eu"): 2, ("api", "eu"): 2}))
    assert statuses(snap) == {"all": Status.PARTIAL, "eu": Status.MAJOR, "us": Status.OPERATIONAL,
                              "ap": Status.OPERATIONAL}
    assert snap.incidents == ()


def test_two_regions_failing_make_a_major_outage_and_an_ongoing_incident() -> None:
    cfg = config()
    snap = build(cfg, history(cfg, {("web", "eu"): 3, ("api", "eu"): 3, ("web", "us"): 2}))
    # eu: both checks fail; us: one of two. A major outage in one region only: partial overall (the
    # consensus asks two), but the service fails in two regions: an incident
    assert statuses(snap) == {"all": Status.PARTIAL, "eu": Status.MAJOR, "us": Status.PARTIAL,
                              "ap": Status.OPERATIONAL}
    (incident,) = snap.incidents
    assert incident.end is None and incident.state is IncidentState.INVESTIGATING
    assert incident.regions == ("eu", "us")
    assert incident.start == AT - 2 * STEP  # when both regions failed: eu's third step back is eu alone
    assert incident.reason == "timeout"


def test_a_majority_of_regions_is_capped_by_the_regions_that_report() -> None:
    cfg = config(regions=[{"id": "eu", "name": "Europe"}])
    snap = build(cfg, history(cfg, {("web", "eu"): 1, ("api", "eu"): 1}, regions=("eu",)))
    assert statuses(snap) == {"all": Status.MAJOR, "eu": Status.MAJOR}
    assert len(snap.incidents) == 1


def test_no_recent_runs_is_unknown_never_operational() -> None:
    cfg = config()
    snap = build(cfg, history(cfg, {}, quiet={("web", "ap"), ("api", "ap")}))
    assert statuses(snap)["ap"] is Status.UNKNOWN
    assert statuses(snap)["all"] is Status.OPERATIONAL  # the others report, and they are fine
    nothing = build(cfg, None, stale="Prometheus did not answer")
    assert set(statuses(nothing).values()) == {Status.UNKNOWN}
    assert all(day.availability is None for r in nothing.services[0].regions for day in r.days)


def test_a_stale_history_keeps_its_days_but_claims_no_status() -> None:
    cfg = config()
    snap = build(cfg, history(cfg, {}), stale="Prometheus refused")
    assert set(statuses(snap).values()) == {Status.UNKNOWN}
    assert snap.services[0].regions[0].days[-2].availability == 1.0


def test_every_check_in_maintenance_is_under_maintenance_and_the_next_windows_are_listed() -> None:
    cfg = config([{"name": "deploy", "start": "11:30", "duration": "1h"}], services=[{"name": "Shop", "slo": "shop"}])
    snap = build(cfg, history(cfg, {("web", "eu"): 1}))
    assert set(statuses(snap).values()) == {Status.MAINTENANCE}
    assert [m.ongoing(AT) for m in snap.maintenance][:2] == [True, False]
    assert len(snap.maintenance) == 15  # today's and the next 14 days' (site.maintenance_ahead_days)
    assert snap.maintenance[0].services == ("shop",)


def test_days_are_the_sites_timezone_days() -> None:
    cfg = config(timezone="Asia/Shanghai")
    snap = build(cfg, history(cfg, {}))
    days = snap.services[0].regions[0].days
    assert len(days) == 7
    assert days[-1].date == "2026-11-30"  # 20:00 in Shanghai
    # today in Shanghai began at 16:00 UTC the day before: 20 hours of 12 steps of 5 runs, 2 checks
    assert days[-1].runs == 20 * 12 * RUNS * 2
    assert days[-1].mean_duration_s == 0.1
