"""The site's incident feeds (prober/site/feed.py), read as feed readers read them (feedparser) and checked
element by element against RFC 4287 with xml.etree: one entry per incident of the sample snapshot, the most
recently changed first, stable ids, links to the incident pages, updates as escaped HTML, and titles that any
text survives."""

from __future__ import annotations

import dataclasses
import datetime as dt
import xml.etree.ElementTree as ET

import feedparser

from prober.site.feed import atom_feed, rss_feed
from prober.site.model import Snapshot
from tests.site_snapshot import ONGOING_START, PAST_START, sample_snapshot

A = "{http://www.w3.org/2005/Atom}"
ONGOING, PAST, NOTE = "checkout-2026-11-30-1000", "search-2026-11-03-1000", "note-slow-images"
PAGES = [f"https://status.example.com/incidents/{i}.html" for i in (ONGOING, PAST, NOTE)]


def parsed(text: str) -> feedparser.FeedParserDict:
    feed = feedparser.parse(text)
    assert not feed.bozo, feed.get("bozo_exception")
    return feed


def when(entry: feedparser.FeedParserDict, key: str = "updated_parsed") -> float:
    return dt.datetime(*entry[key][:6], tzinfo=dt.UTC).timestamp()


def test_a_feed_reader_reads_one_entry_per_incident_newest_change_first() -> None:
    feed = parsed(atom_feed(sample_snapshot()))
    assert feed.version == "atom10"
    assert feed.feed.title == "Demo Shop status"
    assert feed.feed.id == "https://status.example.com/"
    assert {link.rel: link.href for link in feed.feed.links} == {
        "self": "https://status.example.com/history.atom", "alternate": "https://status.example.com/"}
    assert feed.feed.author == "Demo Shop status"
    assert [e.title for e in feed.entries] == ["Payments fail in Europe and the US (Identified)",
                                               "Search unavailable in Asia Pacific (Singapore) (Resolved)",
                                               "Product images load slowly (Resolved)"]
    assert [e.link for e in feed.entries] == PAGES
    assert [e.id for e in feed.entries] == PAGES
    updated = [when(e) for e in feed.entries]
    assert updated == sorted(updated, reverse=True)
    assert updated[0] == ONGOING_START + 2 * 3600 - 1800  # the ongoing incident's newest update
    assert updated[1] == PAST_START + 45 * 60  # no update: its end
    assert when(feed.entries[0], "published_parsed") == ONGOING_START
    assert when(feed.feed, "updated_parsed") == updated[0]


def test_the_content_is_the_updates_as_html_newest_first() -> None:
    entry = parsed(atom_feed(sample_snapshot())).entries[0]
    (content,) = entry.content
    assert content.type == "text/html"
    html = content.value
    assert "<strong>503</strong>" in html  # the update's own HTML, carried as is
    assert html.index("answers") < html.index("looking into failed payments")
    assert html.index("Identified") < html.index("Investigating")
    assert "Nov 30, 2026 12:30 CET" in html  # the update's time, in Berlin
    assert "Checkout — Europe (Frankfurt), US East" in html  # where, by public names
    assert "shop_checkout" not in atom_feed(sample_snapshot())
    past = parsed(atom_feed(sample_snapshot())).entries[1].content[0].value
    assert "Nov 3, 2026 11:00 CET \u2013 Nov 3, 2026 11:45 CET (45 min)" in past


def test_the_atom_document_has_what_rfc_4287_requires() -> None:
    root = ET.fromstring(atom_feed(sample_snapshot()))
    assert root.tag == f"{A}feed"
    assert root.get("{http://www.w3.org/XML/1998/namespace}lang") == "en"
    for tag in ("id", "title", "updated"):
        assert len(root.findall(f"{A}{tag}")) == 1, tag
    assert root.find(f"{A}author/{A}name") is not None
    assert root.find(f"{A}link[@rel='self']") is not None
    entries = root.findall(f"{A}entry")
    assert len(entries) == 3
    for entry in entries:
        for tag in ("id", "title", "updated"):
            assert len(entry.findall(f"{A}{tag}")) == 1, tag
        assert entry.find(f"{A}link[@rel='alternate']") is not None
        content = entry.find(f"{A}content")
        assert content is not None and content.get("type") == "html"
        updated = entry.findtext(f"{A}updated") or ""
        assert dt.datetime.fromisoformat(updated).tzinfo is not None


def test_titles_are_escaped_and_survive_any_text() -> None:
    snapshot = sample_snapshot()
    odd = dataclasses.replace(snapshot.incidents[0], title='Cart <script>alert("x")</script> & co\x07 > all')
    text = atom_feed(dataclasses.replace(snapshot, title="Shop <&> status", incidents=(odd,)))
    assert "&lt;script&gt;" in text and "<script>" not in text
    assert "&amp; co" in text
    feed = parsed(text)
    assert feed.feed.title == "Shop <&> status"
    assert feed.entries[0].title == 'Cart <script>alert("x")</script> & co > all (Identified)'  # bell dropped


def test_ids_are_stable_and_links_relative_without_a_url() -> None:
    assert atom_feed(sample_snapshot()) == atom_feed(sample_snapshot())
    bare = dataclasses.replace(sample_snapshot(), url=None)
    feed = parsed(atom_feed(bare))
    assert [e.link for e in feed.entries] == [f"incidents/{i}.html" for i in (ONGOING, PAST, NOTE)]
    ids = [e.id for e in feed.entries]
    assert all(i.startswith("urn:uuid:") for i in ids) and len(set(ids)) == 3
    assert [e.id for e in parsed(atom_feed(bare)).entries] == ids
    assert feed.feed.id.startswith("urn:uuid:")
    other = dataclasses.replace(bare, title="Another site")
    assert not set(ids) & {e.id for e in parsed(atom_feed(other)).entries}


def test_chinese_feed() -> None:
    feed = parsed(atom_feed(sample_snapshot(lang="zh")))
    assert feed.feed.language == "zh-CN"
    assert feed.entries[0].title == "Payments fail in Europe and the US (已确认原因)"
    assert "2026年11月30日 12:30 (CET)" in feed.entries[0].content[0].value


def test_an_empty_site_has_a_valid_feed_dated_when_its_data_was_fresh() -> None:
    empty: Snapshot = dataclasses.replace(sample_snapshot(), incidents=())
    feed = parsed(atom_feed(empty))
    assert feed.entries == []
    assert when(feed.feed, "updated_parsed") == empty.freshness.fresh_at


def test_rss_carries_the_same_entries() -> None:
    feed = parsed(rss_feed(sample_snapshot()))
    assert feed.version == "rss20"
    assert feed.feed.title == "Demo Shop status"
    assert feed.feed.link == "https://status.example.com/"
    assert [e.link for e in feed.entries] == PAGES
    assert [e.id for e in feed.entries] == PAGES
    assert feed.entries[0].title == "Payments fail in Europe and the US (Identified)"
    assert "<strong>503</strong>" in feed.entries[0].description
    assert [when(e, "published_parsed") for e in feed.entries] == [
        when(e) for e in parsed(atom_feed(sample_snapshot())).entries]
    root = ET.fromstring(rss_feed(dataclasses.replace(sample_snapshot(), url=None)))
    assert {g.get("isPermaLink") for g in root.iter("guid")} == {"false"}
