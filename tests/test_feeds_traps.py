"""The nine verified traps of feedgen 1.0.0, each pinned on our own output: if feedgen is
upgraded or our work-around is removed, the matching test fails."""

from __future__ import annotations

import locale
import threading
from dataclasses import replace
from datetime import UTC, datetime

import feedparser
import pytest
from feeds_support import site_spec
from lxml import etree

from publisher.feeds.model import (
    ArchiveLinks,
    FeedSpec,
    Site,
    item_from_article,
    newest_change,
)
from publisher.feeds.rss_atom import render_atom, render_rss
from publisher.types import Article, Category

ATOM = "{http://www.w3.org/2005/Atom}"
SITE = Site("https://news.example.org", "Example News", "Desk", "en", ("https://hub.example/",))


def _article(n: int, **fields: object) -> Article:
    values: dict[str, object] = {
        "id": n,
        "guid": f"urn:uuid:trap-{n}",
        "slug": f"s{n}",
        "url": f"https://news.example.org/articles/s{n}",
        "title": f"Title {n}",
        "summary": f"Summary {n}",
        "content_html": f"<p>Body {n}</p>",
        "published_at": datetime(2026, 11, n, 9, 30, tzinfo=UTC),
        "updated_at": datetime(2026, 11, n, 10, 0, tzinfo=UTC),
        "categories": (Category("local", "Local"),),
        "image_url": "https://news.example.org/img/x.jpg",
    }
    values.update(fields)
    return Article(**values)  # type: ignore[arg-type]


def _spec(n: int = 3) -> FeedSpec:
    items = tuple(item_from_article(_article(i), SITE) for i in range(n, 0, -1))
    return site_spec(
        SITE,
        items,
        hubs=SITE.hubs,
        archive=ArchiveLinks(
            prev={"rss": "https://news.example.org/feeds/archive/2026-10/rss.xml"}
        ),
    )


def test_trap1_atom_enclosure_is_not_a_second_alternate() -> None:
    entry = etree.fromstring(render_atom(_spec(1))).find(f"{ATOM}entry")
    rels = [link.get("rel", "alternate") for link in entry.findall(f"{ATOM}link")]
    assert rels.count("alternate") == 1
    assert rels.count("enclosure") == 1


def test_trap2_atom_content_type_is_html_never_cdata() -> None:
    root = etree.fromstring(render_atom(_spec()))
    assert {c.get("type") for c in root.iter(f"{ATOM}content")} == {"html"}
    assert b'type="CDATA"' not in render_atom(_spec())


def test_trap3_rss_channel_link_is_the_home_page_not_self_or_hub() -> None:
    channel = etree.fromstring(render_rss(_spec())).find("channel")
    assert channel.findtext("link") == "https://news.example.org/"


def test_trap4_rss_carries_hub_and_archive_links() -> None:
    channel = etree.fromstring(render_rss(_spec())).find("channel")
    rels = {link.get("rel"): link.get("href") for link in channel.findall(f"{ATOM}link")}
    assert rels["hub"] == "https://hub.example/"
    assert rels["prev-archive"].endswith("/archive/2026-10/rss.xml")


def test_trap5_entries_keep_the_given_order() -> None:
    for data in (render_rss(_spec()), render_atom(_spec())):
        titles = [e.title for e in feedparser.parse(data).entries]
        assert titles == ["Title 3", "Title 2", "Title 1"]


def test_trap6_no_render_time_in_the_output() -> None:
    first = render_rss(_spec()), render_atom(_spec())
    second = render_rss(_spec()), render_atom(_spec())
    assert first == second
    assert b"Tue, 03 Nov 2026 10:00:00 +0000" in first[0]  # lastBuildDate: newest change
    assert b"<updated>2026-11-03T10:00:00+00:00</updated>" in first[1]
    empty = replace(_spec(), items=(), updated=newest_change(()))  # a feed with no items
    assert render_atom(empty) == render_atom(empty)
    assert b"<updated>1970-01-01T00:00:00+00:00</updated>" in render_atom(empty)


def test_trap7_media_content_is_not_wrapped_in_media_group() -> None:
    for data in (render_rss(_spec(1)), render_atom(_spec(1))):
        assert b"media:group" not in data
        assert data.count(b"<media:content ") == 1


def test_trap8_control_characters_and_naive_dates_are_handled_before_feedgen() -> None:
    hostile = _article(1, title="Bell\x07 and \x1b escape \ud800", summary="\x00nul")
    data = render_rss(replace(_spec(), items=(item_from_article(hostile, SITE),)))
    assert b"<title>Bell and escape</title>" in data
    with pytest.raises(ValueError, match="naive"):
        item_from_article(_article(1, published_at=datetime(2026, 11, 1, 9)), SITE)


def test_trap9_rendering_never_touches_the_process_locale(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[object] = []
    real = locale.setlocale

    def spy(category: int, value: object = None) -> str:
        calls.append(value)
        return real(category, value)  # type: ignore[arg-type]

    monkeypatch.setattr(locale, "setlocale", spy)
    errors: list[BaseException] = []

    def render() -> None:
        try:
            for _ in range(20):
                render_rss(_spec())
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=render) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert calls == []
    assert b"Tue, 03 Nov 2026" in render_rss(_spec())  # English day and month names
