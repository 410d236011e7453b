"""`type: page` runs end to end: real worker processes (one pool for the module), real Chromium and the page test
site (tests/page_site.py) on loopback; and the pieces that need no browser: parties, shown URLs, the protocol."""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import socket
import tempfile
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import pytest_asyncio

from prober.config.models import JourneysSection
from prober.config.page_check import PageCheck
from prober.journey import processes
from prober.journey.browser import BrowserOwner
from prober.journey.page_run import run_page
from prober.journey.pool import WorkerPool, new_run_id
from prober.journey.protocol import MAX_RESOURCES, RunRequest, decode_result, encode_result
from prober.journey.resources import Parties, ResourceRecorder, registrable_domain, shown_url
from prober.probers.journey import JourneyProber
from prober.result import (
    PageOutcome,
    PageResource,
    Party,
    Reason,
    ResourceOutcome,
    ResourceTotal,
    ResourceType,
    Result,
    Vital,
)
from tests.page_site import PageSite


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PageSite]:
    server = PageSite(tmp_path_factory.mktemp("page-site"))
    yield server
    server.stop()


@pytest.fixture(scope="module")
def artifacts_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("artifacts")


@pytest.fixture(scope="module")
def worker_tmp(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """The workers' temporary folder (TMPDIR), where page runs record their HARs until they know to keep them."""
    folder = tmp_path_factory.mktemp("worker-tmp")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("TMPDIR", str(folder))  # the workers start with the environment of the first run
        yield folder


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def pool(worker_tmp: Path) -> AsyncIterator[WorkerPool]:
    pool = WorkerPool(JourneysSection(workers=1, runs_per_worker=4))
    yield pool
    await pool.close()


def page_check(url: str, *, timeout: str = "10s", **keys: Any) -> PageCheck:
    return PageCheck.model_validate({"name": "home_page", "type": "page", "url": url, "interval": "1m",
                                     "timeout": timeout, "attempts": 1, **keys})


def page_request(check: PageCheck, artifacts_dir: Path) -> RunRequest:
    return RunRequest(run_id=new_run_id(), check=check.name, script="", function=None, params={}, secrets=[],
                      timeout_s=check.timeout, fail_on_page_error=False, artifacts_dir=str(artifacts_dir),
                      artifacts_when="failure", trace=True, emulation=check.emulation(), page=check.page_spec())


async def run(pool: WorkerPool, artifacts_dir: Path, url: str, **keys: Any) -> Result:
    return await pool.run(page_request(page_check(url, **keys), artifacts_dir))


def page_of(result: Result) -> PageOutcome:
    assert isinstance(result.protocol, PageOutcome), result
    return result.protocol


def by_path(page: PageOutcome) -> dict[tuple[str, str], PageResource]:
    """Each listed element by (host, path); fails the test when one is listed twice."""
    found: dict[tuple[str, str], PageResource] = {}
    for resource in page.resources:
        parts = urlsplit(resource.url)
        key = (parts.hostname or "", parts.path)
        assert key not in found, f"{resource.url} listed twice"
        found[key] = resource
    return found


def scratch_hars(worker_tmp: Path) -> list[Path]:
    return list(worker_tmp.glob("prober-har-*"))


def artifact_names(result: Result) -> list[str]:
    assert result.journey is not None
    return sorted(Path(a).name for a in result.journey.artifacts)


@pytest.mark.slow
@pytest.mark.asyncio(loop_scope="module")
async def test_every_element_is_reported_with_its_type_party_and_outcome(
    pool: WorkerPool, site: PageSite, artifacts_dir: Path, worker_tmp: Path
) -> None:
    result = await run(pool, artifacts_dir, site.url("/?session=query-secret"), settle="1s")
    assert result.ok, result.detail
    page = page_of(result)
    local, other = "127.0.0.1", "localhost"
    expected = {
        (local, "/"): (ResourceType.DOCUMENT, Party.FIRST, ResourceOutcome.OK),
        (local, "/frame"): (ResourceType.DOCUMENT, Party.FIRST, ResourceOutcome.OK),
        (local, "/static/app.css"): (ResourceType.STYLESHEET, Party.FIRST, ResourceOutcome.OK),
        (local, "/static/app.js"): (ResourceType.SCRIPT, Party.FIRST, ResourceOutcome.OK),
        (local, "/static/font.ttf"): (ResourceType.FONT, Party.FIRST, ResourceOutcome.OK),
        (local, "/static/img/logo.svg"): (ResourceType.IMAGE, Party.FIRST, ResourceOutcome.OK),
        (local, "/static/img/badge.svg"): (ResourceType.IMAGE, Party.FIRST, ResourceOutcome.OK),  # after a 302
        (local, "/slow/photo.svg"): (ResourceType.IMAGE, Party.FIRST, ResourceOutcome.OK),
        (local, "/api/data"): (ResourceType.XHR, Party.FIRST, ResourceOutcome.OK),  # fetch()
        (local, "/api/xhr"): (ResourceType.XHR, Party.FIRST, ResourceOutcome.OK),  # XMLHttpRequest
        (other, "/static/img/partner.svg"): (ResourceType.IMAGE, Party.THIRD, ResourceOutcome.OK),
        (other, "/ad.png"): (ResourceType.IMAGE, Party.THIRD, ResourceOutcome.FAILED),  # a closed port
    }
    listed = by_path(page)
    assert {key: (r.type, r.party, r.outcome) for key, r in listed.items()} == expected  # the redirect counts once
    for resource in listed.values():
        if resource.outcome is ResourceOutcome.OK:
            assert resource.status == 200 and resource.error == "", resource
            assert resource.duration_s is not None and resource.duration_s > 0, resource
            assert resource.transfer_bytes is not None and resource.transfer_bytes > 100, resource  # headers too
            assert resource.ttfb_s is not None and resource.download_s is not None, resource
            assert resource.start_s >= 0
    failed = listed[(other, "/ad.png")]
    assert failed.error == "net::ERR_CONNECTION_REFUSED" and failed.status is None and failed.transfer_bytes is None
    assert listed[(local, "/slow/photo.svg")].ttfb_s >= 0.55  # type: ignore[operator]  # the server waits 0.6 s
    assert listed[(local, "/")].start_s == 0.0 and page.resources[0].type is ResourceType.DOCUMENT
    assert sum(t.count for t in page.totals) == len(expected) and page.unfinished == 0
    assert page.failed(Party.FIRST) == 0 and page.failed(Party.THIRD) == 1
    assert sum(t.transfer_bytes for t in page.totals) == sum(r.transfer_bytes or 0 for r in page.resources)
    assert (page.document_status, page.title, result.status_code) == (200, "Page Site Home", 200)
    assert 0.55 < result.duration_s < 10  # to the load event, which waits for the slow image
    assert "1 failed: http://localhost:" in result.detail and "ad.png (net::ERR_CONNECTION_REFUSED)" in result.detail
    assert result.journey is not None and result.journey.page_loads
    assert {Vital.TTFB, Vital.FCP, Vital.LCP, Vital.CLS} <= set(result.journey.page_loads[-1])
    text = repr(result)
    for secret in ("query-secret", "fetch-secret", "xhr-secret", "frag", "?"):
        assert secret not in text  # no query string or fragment anywhere
    assert result.journey.artifacts == () and not (artifacts_dir / "home_page" / result.journey.run_id).exists()
    assert not scratch_hars(worker_tmp), "a passing run left its HAR behind"


@pytest.mark.slow
@pytest.mark.asyncio(loop_scope="module")
async def test_a_missing_first_party_image_fails_the_run_and_keeps_a_har(
    pool: WorkerPool, site: PageSite, tmp_path: Path, worker_tmp: Path
) -> None:
    settings = JourneysSection(artifacts={"dir": str(tmp_path)})
    result = await JourneyProber(page_check(site.url("/broken")), pool, settings).probe()  # as the agent runs it
    assert result.reason is Reason.ASSERTION
    assert result.detail.startswith(f"2 first-party elements failed: {site.url('/static/img/hero.svg')} (HTTP 404), "
                                    f"{site.url('/static/img/gone.png')} (HTTP 404)"), result.detail
    assert page_of(result).failed(Party.FIRST) == 2 and result.status_code == 200
    assert artifact_names(result) == ["console.log", "page.har", "screenshot.png", "trace.zip"]
    assert result.journey is not None
    folder = tmp_path / "home_page" / result.journey.run_id
    assert (folder / "screenshot.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    entries = json.loads((folder / "page.har").read_text())["log"]["entries"]
    statuses = {urlsplit(e["request"]["url"]).path: e["response"]["status"] for e in entries}
    assert statuses["/static/img/hero.svg"] == 404 and statuses["/broken"] == 200
    assert not any(e["response"]["content"].get("text") for e in entries)  # content omitted
    assert not scratch_hars(worker_tmp)  # moved, not copied


@pytest.mark.slow
@pytest.mark.asyncio(loop_scope="module")
async def test_a_failed_third_party_element_fails_the_run_only_when_bounded(
    pool: WorkerPool, site: PageSite, artifacts_dir: Path
) -> None:
    default, bounded = await asyncio.gather(
        run(pool, artifacts_dir, site.url("/")),
        run(pool, artifacts_dir, site.url("/"), expect={"max_failed_third_party_resources": 0}),
    )
    assert default.ok, default.detail
    assert bounded.reason is Reason.ASSERTION
    assert re.fullmatch(r"1 third-party element failed: http://localhost:\d+/ad.png \(net::ERR_CONNECTION_REFUSED\)",
                        bounded.detail), bounded.detail


@pytest.mark.slow
@pytest.mark.asyncio(loop_scope="module")
async def test_selector_and_title_expectations(
    pool: WorkerPool, site: PageSite, artifacts_dir: Path
) -> None:
    met, hidden, absent, title = await asyncio.gather(
        run(pool, artifacts_dir, site.url("/"), expect={"selector": "#buy", "title_regex": "Site Home$"}),
        run(pool, artifacts_dir, site.url("/"), expect={"selector": "#hidden"}),  # in the page, not visible
        run(pool, artifacts_dir, site.url("/"), expect={"selector": "#unicorn", "title_regex": "Shop"}),
        run(pool, artifacts_dir, site.url("/"), expect={"title_regex": "Shop"}),
    )
    assert met.ok, met.detail
    assert (hidden.reason, hidden.detail) == (Reason.ASSERTION, "selector '#hidden' not visible")
    assert (absent.reason, absent.detail) == (Reason.ASSERTION, "selector '#unicorn' not visible")  # selector first
    assert (title.reason, title.detail) == (Reason.ASSERTION, "title 'Page Site Home' does not match 'Shop'")


@pytest.mark.slow
@pytest.mark.asyncio(loop_scope="module")
async def test_a_page_slow_to_paint_is_slow_over_max_lcp(
    pool: WorkerPool, site: PageSite, artifacts_dir: Path
) -> None:
    bounded, unbounded = await asyncio.gather(
        run(pool, artifacts_dir, site.url("/slow-paint"), expect={"max_lcp": "500ms", "max_ttfb": "5s"}),
        run(pool, artifacts_dir, site.url("/slow-paint"), expect={"max_ttfb": "5s"}),
    )
    assert bounded.reason is Reason.SLOW
    assert re.fullmatch(r"LCP \d+\.\d\ds > max_lcp 0\.50s", bounded.detail), bounded.detail
    assert bounded.journey is not None and bounded.journey.page_loads[-1][Vital.LCP] >= 1.1  # the CSS waits 1.2 s
    assert unbounded.ok, unbounded.detail


@pytest.mark.slow
@pytest.mark.asyncio(loop_scope="module")
async def test_a_refused_page_is_navigation_and_a_404_document_is_http_status(
    pool: WorkerPool, site: PageSite, artifacts_dir: Path
) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        closed_port = sock.getsockname()[1]
    refused, missing, accepted = await asyncio.gather(
        run(pool, artifacts_dir, f"http://127.0.0.1:{closed_port}/?token=query-secret"),
        run(pool, artifacts_dir, site.url("/missing")),
        run(pool, artifacts_dir, site.url("/missing"), expect={"status": [404]}),
    )
    assert (refused.reason, refused.detail) == (Reason.NAVIGATION, "navigation failed: net::ERR_CONNECTION_REFUSED")
    assert refused.status_code is None
    document = page_of(refused).resources[0]
    assert (document.type, document.outcome, document.url) == (ResourceType.DOCUMENT, ResourceOutcome.FAILED,
                                                               f"http://127.0.0.1:{closed_port}/")
    assert (missing.reason, missing.detail, missing.status_code) == (Reason.HTTP_STATUS, "status 404 not in 2xx", 404)
    assert page_of(missing).document_status == 404
    assert accepted.ok, accepted.detail


@pytest.mark.slow
@pytest.mark.asyncio(loop_scope="module")
async def test_a_page_that_never_loads_times_out_and_the_worker_goes_on(
    pool: WorkerPool, site: PageSite, artifacts_dir: Path
) -> None:
    result = await run(pool, artifacts_dir, site.url("/never-loads"), timeout="3s")
    assert result.reason is Reason.TIMEOUT
    assert result.detail == f"the page did not load within 3s; still loading: {site.url('/hang')}"
    assert 2.9 < result.duration_s < 6
    page = page_of(result)
    assert page.unfinished == 1 and result.status_code == 200  # the document answered; its image never did
    assert artifact_names(result) == ["console.log", "page.har", "screenshot.png", "trace.zip"]
    workers = {w.pid for w in pool._workers}
    again = await run(pool, artifacts_dir, site.url("/"))
    assert again.ok, again.detail
    assert {w.pid for w in pool._workers} == workers  # the same worker, still usable


@pytest.mark.slow
@pytest.mark.asyncio(loop_scope="module")
async def test_totals_count_every_element_while_the_list_is_capped(
    pool: WorkerPool, site: PageSite, artifacts_dir: Path
) -> None:
    many, pending = await asyncio.gather(
        run(pool, artifacts_dir, site.url("/many?n=300"), timeout="30s"),
        run(pool, artifacts_dir, site.url("/pending")),
    )
    assert many.ok, many.detail
    page = page_of(many)
    totals = {(t.type, t.party, t.outcome): t for t in page.totals}
    images = totals[(ResourceType.IMAGE, Party.FIRST, ResourceOutcome.OK)]
    assert images.count == 300 and images.transfer_bytes > 300 * 100 and images.duration_s > 0
    assert len(page.resources) == MAX_RESOURCES and page.resources[0].type is ResourceType.DOCUMENT
    starts = [r.start_s for r in page.resources]
    assert starts == sorted(starts)
    assert "?" not in repr(page) and "loaded in" in many.detail and "301 elements" in many.detail
    assert pending.ok, pending.detail
    assert page_of(pending).unfinished == 1 and sum(t.count for t in page_of(pending).totals) == 1  # the document
    assert "1 still loading" in pending.detail


@pytest.mark.slow
@pytest.mark.asyncio(loop_scope="module")
async def test_the_browser_killed_mid_load_is_a_browser_crash(
    pool: WorkerPool, site: PageSite, artifacts_dir: Path
) -> None:
    run_task = asyncio.create_task(run(pool, artifacts_dir, site.url("/never-loads"), timeout="20s"))
    browser = None
    for _ in range(100):  # up to 20 s: a slow machine takes seconds to start the browser
        await asyncio.sleep(0.2)
        browser = browser_main(pool)
        if browser is not None:
            break
    await asyncio.sleep(1.5)  # the page is open and loading: its image never answers
    assert browser is not None, "no browser found"
    os.kill(browser, signal.SIGKILL)
    result = await run_task
    assert result.reason is Reason.BROWSER_CRASH, (result.reason, result.detail)
    assert result.duration_s < 15
    again = await run(pool, artifacts_dir, site.url("/"))  # the worker starts a new browser
    assert again.ok, again.detail


def browser_main(pool: WorkerPool) -> int | None:
    """The main process of the pool's browser: a browser process whose parent is not one."""
    procs = processes.snapshot()
    members = processes.tree({w.pid for w in pool._workers}, procs, set())
    mains = [pid for pid in members if processes.is_browser(procs[pid])
             and not processes.is_browser(procs.get(procs[pid].ppid, procs[pid]))]
    return mains[0] if mains else None


def test_first_party_is_the_registrable_domain_of_the_page_or_a_configured_one() -> None:
    assert registrable_domain("www.shop.example.co.uk") == "example.co.uk"
    assert registrable_domain("127.0.0.1") == "127.0.0.1" and registrable_domain("localhost") == "localhost"
    assert registrable_domain("::1") == "::1" and registrable_domain("github.io") == "github.io"
    parties = Parties("https://www.shop.example.com/home", ["cdn.example.net"])
    assert parties.of("static.example.com") is Party.FIRST and parties.of("EXAMPLE.COM.") is Party.FIRST
    assert parties.of("img.cdn.example.net") is Party.FIRST and parties.of("cdn.example.net") is Party.FIRST
    assert parties.of("example.net") is Party.THIRD and parties.of("notcdn.example.net") is Party.THIRD
    assert parties.of("example.com.evil.org") is Party.THIRD
    loopback = Parties("http://127.0.0.1:8080/", [])
    assert loopback.of("127.0.0.1") is Party.FIRST and loopback.of("localhost") is Party.THIRD
    assert loopback.of("127.0.0.2") is Party.THIRD


def test_shown_urls_drop_credentials_query_and_fragment_and_are_capped() -> None:
    assert shown_url("https://user:pw@shop.example.com:8443/a/b.png?token=x#top") == "https://shop.example.com:8443/a/b.png"
    long = shown_url("https://example.com/" + "a" * 500)
    assert len(long) == 200 and long.endswith("…")


def test_a_page_outcome_crosses_the_protocol_bounded_and_validated() -> None:
    resource = PageResource("http://127.0.0.1/x.png", ResourceType.IMAGE, Party.FIRST, ResourceOutcome.FAILED, 404,
                            "HTTP 404", 0.25, 0.01, 320, None, 0.001, None, 0.005, 0.004)
    outcome = PageOutcome(document_status=200, title="Home", unfinished=2,
                          resources=(resource,) * 150, totals=(ResourceTotal(ResourceType.IMAGE, Party.FIRST,
                                                                             ResourceOutcome.FAILED, 150, 48000, 1.5),))
    result = Result(check="p", ok=False, reason=Reason.ASSERTION, duration_s=1.0, started_at=1.0, status_code=200,
                    protocol=outcome)
    message = json.loads(encode_result("r", result))
    decoded = decode_result("p", message)
    page = page_of(decoded)
    assert page.resources[0] == resource and len(page.resources) == MAX_RESOURCES  # capped on decode
    assert (page.totals, page.unfinished, page.title, page.document_status) == (outcome.totals, 2, "Home", 200)
    message["page"]["resources"][0][0] = "http://x/" + "y" * 1000
    message["page"]["title"] = "t" * 1000
    page = page_of(decode_result("p", message))
    assert len(page.resources[0].url) == 200 and len(page.title) == 200
    for field, bad in ((1, "video"), (2, "fourth"), (3, "meh")):
        broken = json.loads(json.dumps(message))
        broken["page"]["resources"][0][field] = bad
        with pytest.raises(ValueError, match="is not a valid"):
            decode_result("p", broken)
    short = json.loads(json.dumps(message))
    short["page"]["resources"][0] = short["page"]["resources"][0][:5]
    with pytest.raises(ValueError, match="values to unpack"):
        decode_result("p", short)
    assert decode_result("p", json.loads(encode_result("r", result.__class__(
        check="p", ok=True, reason=Reason.OK, duration_s=1.0, started_at=1.0)))).protocol is None


@pytest.mark.slow
@pytest.mark.asyncio(loop_scope="module")
async def test_a_page_run_that_fails_inside_leaves_no_scratch_har(
    site: PageSite, artifacts_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # in this process, with a real browser: the run raises after its HAR folder was made (the worker reports
    # such a run as internal); the folder must go with it, or every such run leaks one into the temp dir
    async def broken(*_args: object) -> None:
        raise RuntimeError("a bug in the resource recorder")

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    monkeypatch.setattr(ResourceRecorder, "outcome", broken)
    owner = BrowserOwner("headless_shell", None, [])
    try:
        with pytest.raises(RuntimeError, match="resource recorder"):
            await run_page(page_request(page_check(site.url("/")), artifacts_dir), owner)
    finally:
        await owner.close()
    assert not scratch_hars(tmp_path)
