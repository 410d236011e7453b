"""The status site's pages from a Snapshot whose figures are known (tests/site_snapshot.py): what the banner
says, the 90 bars of each service and region with their colours and tooltips, latency, maintenance, incidents
and their pages, stale data never read as operational, Chinese, escaping, and tags that balance. The slow tests
render the front page in real Chromium on a desktop and a phone (screenshots in test-artifacts/site/)."""

# ruff: noqa: RUF001 -- the pages' own en dashes and Chinese full-width punctuation

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable, Iterator
from html.parser import HTMLParser
from typing import Any

import pytest
from playwright.async_api import Page, async_playwright, expect

from prober.site.html import render_pages
from prober.site.html_services import LEVELS, NO_DATA
from prober.site.html_view import incident_path
from prober.site.model import Freshness, Incident, Snapshot, Status
from tests.browsers import headless_chromium
from tests.processes import REPO
from tests.site_snapshot import PAST_DAY, TODAY, sample_snapshot

SHOTS = REPO / "test-artifacts" / "site"
VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}
SVG_LEAVES = {"rect", "path", "circle", "line", "polyline"}  # written self-closed: <rect .../>


@dataclasses.dataclass
class Node:
    tag: str
    attrs: dict[str, str]
    children: list[Node | str] = dataclasses.field(default_factory=list)

    def text(self) -> str:
        return "".join(c if isinstance(c, str) else c.text() for c in self.children)

    def walk(self) -> Iterator[Node]:
        yield self
        for child in self.children:
            if isinstance(child, Node):
                yield from child.walk()

    def find(self, predicate: Callable[[Node], bool]) -> list[Node]:
        return [node for node in self.walk() if predicate(node)]

    def classes(self) -> set[str]:
        return set(self.attrs.get("class", "").split())


class TreeBuilder(HTMLParser):
    """A page as a tree; every end tag must close the element last opened (the page is well-formed)."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.root = Node("#root", {})
        self.stack = [self.root]
        self.problems: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        node = Node(tag, {k: v or "" for k, v in attrs})
        self.stack[-1].children.append(node)
        if tag not in VOID:
            self.stack.append(node)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag not in SVG_LEAVES and tag not in VOID:
            self.problems.append(f"self-closed <{tag}/>")
        self.stack[-1].children.append(Node(tag, {k: v or "" for k, v in attrs}))

    def handle_endtag(self, tag: str) -> None:
        if tag in VOID:
            self.problems.append(f"</{tag}> of a void element")
        elif len(self.stack) < 2 or self.stack[-1].tag != tag:
            self.problems.append(f"</{tag}> closes <{self.stack[-1].tag}>")
        else:
            self.stack.pop()

    def handle_data(self, data: str) -> None:
        self.stack[-1].children.append(data)


def parse(html: str) -> Node:
    builder = TreeBuilder()
    builder.feed(html)
    builder.close()
    assert not builder.problems, builder.problems[:5]
    assert [n.tag for n in builder.stack] == ["#root"], "unclosed: " + ", ".join(n.tag for n in builder.stack[1:])
    return builder.root


def by_class(name: str, **attrs: str) -> Callable[[Node], bool]:
    return lambda n: name in n.classes() and all(n.attrs.get(f"data-{k}") == v for k, v in attrs.items())


def one(root: Node, predicate: Callable[[Node], bool]) -> Node:
    found = root.find(predicate)
    assert len(found) == 1, len(found)
    return found[0]


def region(root: Node, service: str, region_id: str) -> Node:
    return one(root, by_class("region", service=service, region=region_id))


def cells(block: Node) -> list[tuple[Node, Node]]:
    """(rect, focusable cell) of each day, oldest first."""
    rects = block.find(lambda n: n.tag == "rect" and "data-date" in n.attrs)
    days = block.find(by_class("day"))
    assert len(rects) == len(days)
    return list(zip(rects, days, strict=True))


def the_day(block: Node, date: str) -> tuple[Node, Node]:
    return next((rect, day) for rect, day in cells(block) if rect.attrs["data-date"] == date)


def index(lang: str = "en", stale: bool = False) -> Node:
    return parse(render_pages(sample_snapshot(lang, stale))["index.html"])


def test_the_banner_names_the_major_outage_and_where() -> None:
    banner = one(index(), by_class("banner"))
    assert "b-major_outage" in banner.classes()
    assert "Some services are affected" in banner.text()
    lines = [li.text() for li in banner.find(lambda n: n.tag == "li")]
    assert lines == ["Checkout: Major outage in Europe (Frankfurt), US East"]  # ap works; search and home not
    notice = one(index(), by_class("notice"))  # the home page's deploy is under way as well
    assert "Maintenance in progress" in notice.text() and "Weekly deploy" in notice.text()
    assert "until Nov 30, 2026 13:50 CET" in notice.text() and "Home page" in notice.text()


def test_ninety_bars_per_service_and_region() -> None:
    root = index()
    blocks = root.find(by_class("region"))
    assert len(blocks) == 9
    for block in blocks:
        days = cells(block)
        assert len(days) == 90
        assert days[-1][0].attrs["data-date"] == TODAY
        assert all(day.attrs.get("tabindex") == "0" for _rect, day in days)  # a tap or the keyboard focuses it


def test_a_bad_day_shows_its_figure_and_incident() -> None:
    rect, day = the_day(region(index(), "search", "ap"), PAST_DAY)
    tip = day.text()
    assert "Nov 3, 2026" in tip
    assert "96.875% available" in tip and "1395 of 1440 checks succeeded" in tip  # 45 of 1,440 runs failed
    assert "Search unavailable in Asia Pacific (Singapore)" in tip
    link = one(day, lambda n: n.tag == "a")
    assert link.attrs["href"] == "incidents/search-2026-11-03-1000.html"
    assert rect.attrs["fill"] == LEVELS[2][1]  # >= 95%: orange, not green
    good_rect, good_day = the_day(region(index(), "search", "eu"), PAST_DAY)
    assert good_rect.attrs["fill"] == LEVELS[0][1] and "100% available" in good_day.text()
    assert "No incidents" in good_day.text()
    today_rect, _ = the_day(region(index(), "checkout", "eu"), TODAY)
    assert today_rect.attrs["fill"] == LEVELS[3][1]  # 120 of 1,440 failed today: 91.666%, red


def test_a_day_without_runs_is_grey_and_says_no_data() -> None:
    days = cells(region(index(), "home-page", "ap"))
    rect, day = days[0]
    assert rect.attrs["fill"] == NO_DATA != LEVELS[0][1]
    assert "No data" in day.text() and "available" not in day.text()
    assert days[60][0].attrs["fill"] == LEVELS[0][1]  # runs from day 61 on


def test_latency_and_availability_per_region() -> None:
    root = index()
    assert "Latency 180 ms (24 h average)" in region(root, "checkout", "eu").text()
    assert "Latency 1.25 s" in region(root, "home-page", "eu").text()
    assert "Latency — " in region(root, "home-page", "ap").text()  # no run in 24 h: no figure, not 0
    # 120 failures in 90 x 1,440 runs: 99.9074%, truncated, never rounded up to 99.91% or 100%
    assert "99.907% availability" in region(root, "checkout", "eu").text()
    assert "100% availability" in region(root, "checkout", "ap").text()
    assert "99.965% availability" in region(root, "search", "ap").text()  # 45 of 129,600: 99.9652%


def test_region_and_service_statuses_in_words() -> None:
    root = index()
    assert one(region(root, "checkout", "eu"), by_class("status")).text() == "Major outage"
    assert one(region(root, "checkout", "us"), by_class("status")).text() == "Partial outage"
    assert one(region(root, "home-page", "ap"), by_class("status")).text() == "No current data"
    head = one(one(root, by_class("service", service="home-page")), by_class("service-head"))
    assert "Under maintenance" in head.text()


def test_maintenance_in_the_sites_timezone() -> None:
    section = one(index(), by_class("maintenance-list"))
    upgrade = one(section, by_class("maintenance", maintenance="all-db-upgrade"))
    text = upgrade.text()
    assert "Database upgrade" in text and "Scheduled" in text
    assert "Dec 3, 2026 13:00 – 15:00 CET" in text  # 12:00 UTC, in Berlin
    assert "Checkout, Search, Home page" in text
    deploy = one(section, by_class("maintenance", maintenance="home-page-maintenance-1"))
    assert "In progress" in deploy.text()


def test_the_ongoing_incident_with_its_updates_newest_first() -> None:
    ongoing = one(index(), by_class("ongoing"))
    card = one(ongoing, by_class("incident"))
    text = card.text()
    assert "Payments fail in Europe and the US" in text
    assert "Started Nov 30, 2026 11:00 CET" in text and "ongoing for 2 h" in text
    assert "Identified" in text and "Major impact" in text
    assert "Affected: Checkout" in text and "Regions: Europe (Frankfurt), US East" in text
    updates = card.find(by_class("update"))
    assert [u.find(lambda n: n.tag == "time")[0].text() for u in updates] == [
        "Nov 30, 2026 12:30 CET", "Nov 30, 2026 11:05 CET"]
    assert "503" in one(updates[0], lambda n: n.tag == "strong").text()  # the update's html, as it is


def test_past_incidents_newest_first_each_with_its_page() -> None:
    snap = sample_snapshot()
    pages = render_pages(snap)
    past = one(parse(pages["index.html"]), by_class("past-incidents"))
    entries = past.find(by_class("past"))
    assert [e.attrs["data-incident"] for e in entries] == ["search-2026-11-03-1000", "note-slow-images"]
    assert "Nov 3, 2026 11:00 – 11:45 CET" in entries[0].text() and "lasted 45 min" in entries[0].text()
    assert sorted(p for p in pages if p.startswith("incidents/")) == sorted(incident_path(i.id) for i in snap.incidents)
    for incident in snap.incidents:
        page = parse(pages[incident_path(incident.id)])
        assert incident.title in one(page, lambda n: n.tag == "h1").text()
        assert one(page, lambda n: n.tag == "a" and "site" in n.classes()).attrs["href"] == "../index.html"
        assert len(page.find(by_class("update"))) == len(incident.updates)
    note = parse(pages["incidents/note-slow-images.html"]).text()
    assert "The image CDN is fast again." in note and "Oct 24, 2026 12:00 – 13:00 CEST" in note  # summer time


def test_every_link_between_pages_resolves() -> None:
    pages = render_pages(sample_snapshot())
    outside = {"history.atom", "api/v2/summary.json"}  # written by the feed and the API
    for path, html in pages.items():
        folder = path.rpartition("/")[0]
        for link in parse(html).find(lambda n: n.tag in ("a", "link") and "href" in n.attrs):
            href = link.attrs["href"]
            target = href[3:] if href.startswith("../") else f"{folder}/{href}" if folder else href
            assert target in pages or target in outside, (path, href)


def test_the_history_month_by_month() -> None:
    root = parse(render_pages(sample_snapshot())["history.html"])
    months = root.find(by_class("month"))
    assert [one(m, lambda n: n.tag == "h2").text() for m in months] == [
        "November 2026", "October 2026", "September 2026"]  # 90 days back from Nov 30: from Sep 2
    assert [e.attrs["data-incident"] for e in months[0].find(by_class("past"))] == [
        "checkout-2026-11-30-1000", "search-2026-11-03-1000"]
    assert [e.attrs["data-incident"] for e in months[1].find(by_class("past"))] == ["note-slow-images"]
    assert "No incidents reported this month." in months[2].text()


def test_no_check_name_and_nothing_external_in_any_page() -> None:
    snap = sample_snapshot()
    checks = {c for s in snap.services for c in s.checks}
    assert checks == {"shop_checkout", "shop_payment", "search_api", "home_page"}
    for lang in ("en", "zh"):
        for stale in (False, True):
            for path, html in render_pages(sample_snapshot(lang, stale)).items():
                for check in checks:
                    assert check not in html, (path, check)
                assert "<script" not in html and "src=" not in html and "url(" not in html, path
                assert not re.search(r'href="(https?:)?//', html), path  # no CDN, no font, nothing fetched


def test_the_error_budgets_of_the_internal_view() -> None:
    root = index()
    budgets = one(one(root, by_class("service", service="checkout")), by_class("budgets"))
    lines = [b.text() for b in budgets.find(by_class("budget"))]
    assert lines[0].startswith("Availability objective 99.5% over 28 days")
    assert lines[0].endswith("80% of the error budget left")  # 0.1% spent of 0.5%
    assert lines[1].endswith("Error budget overspent: -50%")  # 1.5% spent of 1%
    assert not one(root, by_class("service", service="search")).find(by_class("budgets"))


def test_stale_data_is_never_operational() -> None:
    root = index(stale=True)
    banner = one(root, by_class("banner"))
    assert "b-unknown" in banner.classes()
    assert "The data shown is not current: Prometheus did not answer in 20 s." in banner.text()
    assert "Last current at Nov 30, 2026 11:30 CET." in banner.text()
    assert "All systems operational" not in root.text()
    for block in root.find(by_class("region")):
        status = one(block, by_class("status"))
        assert status.text() == "No current data" and "s-unknown" in status.classes()
        assert len(cells(block)) == 90  # the history stays
    for badge in root.find(by_class("status")):
        assert badge.text() != "Operational"
    assert "Operational" not in root.text()


def test_stale_without_any_current_data_ever() -> None:
    snap = dataclasses.replace(sample_snapshot(), freshness=Freshness(None, "Prometheus refused the connection"))
    root = parse(render_pages(snap)["index.html"])
    text = one(root, by_class("banner")).text()
    assert "Prometheus refused the connection" in text and "No current data has been read yet." in text
    assert "no current data yet" in one(root, lambda n: n.tag == "footer").text()


def test_all_operational_and_maintenance_only_banners() -> None:
    snap = sample_snapshot()
    calm = [dataclasses.replace(s, status=Status.OPERATIONAL,
                                regions=tuple(dataclasses.replace(r, status=Status.OPERATIONAL) for r in s.regions))
            for s in snap.services]
    quiet = dataclasses.replace(snap, services=tuple(calm), maintenance=snap.maintenance[1:])
    banner = one(parse(render_pages(quiet)["index.html"]), by_class("banner"))
    assert "b-operational" in banner.classes() and banner.text() == "All systems operational"
    deploying = dataclasses.replace(quiet, maintenance=snap.maintenance)
    root = parse(render_pages(deploying)["index.html"])
    banner = one(root, by_class("banner"))
    assert "b-under_maintenance" in banner.classes() and "Weekly deploy" in banner.text()
    assert not root.find(by_class("notice"))  # said once, in the banner


def test_chinese() -> None:
    pages = render_pages(sample_snapshot("zh"))
    assert all(html.startswith('<!doctype html>\n<html lang="zh-CN">') for html in pages.values())
    root = parse(pages["index.html"])
    assert one(root, by_class("banner")).find(lambda n: n.tag == "li")[0].text() == (
        "Checkout：严重中断，影响区域：Europe (Frankfurt)、US East")
    _rect, day = the_day(region(root, "search", "ap"), PAST_DAY)
    tip = day.text()
    assert "2026年11月3日" in tip and "可用率 96.875%" in tip and "1440 次检测中 1395 次成功" in tip
    assert one(region(root, "checkout", "ap"), by_class("status")).text() == "运行正常"
    text = root.text()
    assert "计划维护" in text and "2026年12月3日 13:00 – 15:00 (CET)" in text
    for english in ("Major outage", "Operational", "Ongoing incidents", "days ago", "Generated"):
        assert english not in text
    history = parse(pages["history.html"])
    assert [one(m, lambda n: n.tag == "h2").text() for m in history.find(by_class("month"))] == [
        "2026年11月", "2026年10月", "2026年9月"]


def test_every_text_from_the_snapshot_is_escaped() -> None:
    snap = sample_snapshot()
    evil = "<img src=x onerror=alert(1)> & \"quoted\""
    incidents: list[Incident] = [dataclasses.replace(snap.incidents[0], title=evil), *snap.incidents[1:]]
    services = [dataclasses.replace(snap.services[0], name=evil, description=evil), *snap.services[1:]]
    hostile = dataclasses.replace(snap, title=evil, description=evil, incidents=tuple(incidents),
                                  services=tuple(services), region_names={**snap.region_names, "eu": evil})
    for path, html in render_pages(hostile).items():
        assert "<img" not in html, path
        root = parse(html)  # still balanced
        assert evil in root.text(), path


def test_an_empty_site_and_an_unsafe_incident_id() -> None:
    snap = sample_snapshot()
    empty = dataclasses.replace(snap, services=(), incidents=(), maintenance=(), region_names={})
    pages = render_pages(empty)
    assert sorted(pages) == ["history.html", "index.html"]
    root = parse(pages["index.html"])
    assert "No incidents in the last 90 days." in root.text()
    odd = dataclasses.replace(snap.incidents[1], id="../../etc/Passwd")
    pages = render_pages(dataclasses.replace(snap, incidents=(odd,)))
    assert incident_path(odd.id) == "incidents/etc-passwd.html" and incident_path(odd.id) in pages
    assert 'href="incidents/etc-passwd.html"' in pages["index.html"]  # the past list links to it
    klingon = render_pages(dataclasses.replace(snap, lang="tlh"))["index.html"]
    assert klingon.startswith('<!doctype html>\n<html lang="en">') and "Some services are affected" in klingon


def test_every_page_is_well_formed() -> None:
    for lang in ("en", "zh"):
        for stale in (False, True):
            for path, html in render_pages(sample_snapshot(lang, stale)).items():
                root = parse(html)
                assert [n.tag for n in root.children if isinstance(n, Node)] == ["html"], path
                head = one(root, lambda n: n.tag == "head")
                assert head.find(lambda n: n.tag == "meta" and n.attrs.get("name") == "viewport"), path
                assert one(root, lambda n: n.tag == "title").text(), path


# --- in real Chromium -------------------------------------------------------------------------------------------


def _write(snap: Snapshot, folder: str) -> str:
    root = SHOTS / folder
    for path, html in render_pages(snap).items():
        (root / path).parent.mkdir(parents=True, exist_ok=True)
        (root / path).write_text(html, encoding="utf-8")
    return (root / "index.html").as_uri()


async def _iphone() -> dict[str, Any]:
    async with async_playwright() as playwright:
        descriptor = dict(playwright.devices["iPhone 13"])
    descriptor.pop("default_browser_type", None)
    return descriptor


async def _check_bars(page: Page) -> None:
    bars = page.locator(".bars svg")
    assert await bars.count() == 9
    for index_ in range(9):
        box = await bars.nth(index_).bounding_box()
        assert box is not None and box["width"] > 300 and box["height"] > 20, box
    rects = page.locator(".bars rect")
    assert await rects.count() == 810
    box = await rects.nth(0).bounding_box()
    assert box is not None and box["width"] > 2 and box["height"] > 20, box


@pytest.mark.slow
@pytest.mark.parametrize(("lang", "stale", "figure"), [("en", False, "96.875% available"),
                                                       ("zh", False, "可用率 96.875%"),
                                                       ("en", True, "96.875% available")])
async def test_the_front_page_on_a_desktop_and_a_phone(lang: str, stale: bool, figure: str) -> None:
    name = f"{lang}{'-stale' if stale else ''}"
    url = _write(sample_snapshot(lang, stale), name)
    phone = await _iphone()
    async with headless_chromium() as browser:
        desktop = await browser.new_page(viewport={"width": 1280, "height": 900})
        await desktop.goto(url)
        await _check_bars(desktop)
        day = desktop.locator('.region[data-service="search"][data-region="ap"] .day').nth(90 - 28)  # Nov 3
        await expect(day.locator(".tip")).to_be_hidden()
        await day.hover()
        await expect(day.locator(".tip")).to_be_visible()
        await expect(day.locator(".tip")).to_contain_text(figure)
        await desktop.screenshot(path=str(SHOTS / f"{name}-desktop.png"), full_page=True)
        await desktop.emulate_media(media="print")
        await expect(day.locator(".tip")).to_be_hidden()  # nothing hover-only on paper
        await desktop.pdf(path=str(SHOTS / f"{name}.pdf"))

        context = await browser.new_context(**phone)
        page = await context.new_page()
        await page.goto(url)
        assert await page.evaluate("document.documentElement.scrollWidth <= document.documentElement.clientWidth")
        await _check_bars(page)
        day = page.locator('.region[data-service="search"][data-region="ap"] .day').nth(90 - 28)
        await day.tap()
        tip = day.locator(".tip")
        await expect(tip).to_be_visible()
        await expect(tip).to_contain_text(figure)
        box, width = await tip.bounding_box(), await page.evaluate("document.documentElement.clientWidth")
        assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= width  # the tip stays on screen
        assert await page.evaluate("document.documentElement.scrollWidth <= document.documentElement.clientWidth")
        await page.screenshot(path=str(SHOTS / f"{name}-phone-tap.png"),
                              clip={"x": 0, "y": box["y"] - 160, "width": width, "height": box["height"] + 200})
        await page.locator("h1").click()  # a tap elsewhere closes it
        await expect(tip).to_be_hidden()
        await page.screenshot(path=str(SHOTS / f"{name}-phone.png"), full_page=True)
        await context.close()
    assert (SHOTS / f"{name}-phone.png").stat().st_size > 50_000
