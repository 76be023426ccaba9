"""Bad input: hostile titles and bodies still give well-formed, valid feeds in all formats.

A property test (hypothesis) renders generated hostile articles straight through the feed
model and the three renderers and reads them back with feedparser and json; a second test
takes a fixed list of the nastiest cases through the real store and build.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import feedparser
import pytest
from feeds_support import NOW, article, clock, parsed, publisher, site_spec
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from lxml import etree

from publisher.core import Publisher
from publisher.feeds.jsonfeed import render_json
from publisher.feeds.model import Site, item_from_article
from publisher.feeds.rss_atom import render_atom, render_rss
from publisher.text import slugify
from publisher.types import Article, Category

__all__ = ["clock", "publisher"]
SITE = Site("https://news.example.org", "Example News", "Desk", "en")
SPECIALS = [
    "]]>", "&", "<", ">", "&amp;", "\x00", "\x0b", "\ud800", "\udfff", "\ufffe", "😀",
    "👩‍👩‍👧", "שלום", "مرحبا", "\u202e", "\x85", "\t", "\r\n", "<![CDATA[", "'\"", "é",
]  # fmt: skip
_LATIN1 = "".join(map(chr, range(0x80, 0x100)))
hostile_text = st.lists(
    st.one_of(
        st.sampled_from(SPECIALS),
        # U+0080-U+00FF left out of random runs: feedparser "repairs" pairs that look like
        # UTF-8 read as Latin-1 (Â¡ becomes ¡). The exact XML check below still covers them.
        st.text(alphabet=st.characters(exclude_categories=(), exclude_characters=_LATIN1)),
    ),
    max_size=6,
).map("".join)


@st.composite
def hostile_articles(draw: st.DrawFn) -> Article:
    n = draw(st.integers(min_value=1, max_value=10_000))
    names = draw(st.lists(hostile_text, max_size=3))
    return Article(
        id=n,
        guid=f"urn:uuid:hostile-{n}",
        slug=f"s-{n}",
        url=f"https://news.example.org/articles/s-{n}",
        title=draw(hostile_text),
        summary=draw(st.one_of(st.just(""), hostile_text)),
        content_html=draw(st.one_of(hostile_text, hostile_text.map(lambda t: f"<p>{t}</p>"))),
        published_at=draw(
            st.datetimes(
                min_value=datetime(1990, 1, 1),
                max_value=datetime(2100, 1, 1),
                timezones=st.just(UTC),
            )
        ),
        updated_at=datetime(2100, 1, 2, tzinfo=UTC),
        authors=tuple(draw(st.lists(hostile_text, max_size=2))),
        categories=tuple(Category(slugify(name), name) for name in names),
        image_url=draw(st.one_of(st.none(), st.just("/img/a b.jpg"), hostile_text)),
    )


@pytest.mark.slow
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(hostile_articles(), min_size=1, max_size=4, unique_by=lambda a: a.id))
def test_hostile_articles_round_trip_in_every_format(articles: list[Article]) -> None:
    items = tuple(item_from_article(a, SITE) for a in articles)
    spec = site_spec(SITE, items)
    rss = render_rss(spec)
    # RSS does not say whether a title is text or HTML. We write plain text, escaped once
    # for XML (as the RSS Profile asks); the XML must give it back exactly.
    titles = [t.text or "" for t in etree.fromstring(rss).iterfind("channel/item/title")]
    assert titles == [item.title for item in items]
    for data in (rss, render_atom(spec)):
        feed = feedparser.parse(data)
        assert not feed.bozo, feed.get("bozo_exception")
        assert len(feed.entries) == len(items)
        for entry, item in zip(feed.entries, items, strict=True):
            assert entry.id == item.id
            assert entry.link == item.url
            if entry.title_detail.type == "text/plain":  # feedparser may guess HTML for RSS
                assert " ".join(entry.title.split()) == " ".join(item.title.split())
            assert entry.published_parsed[:6] == item.published.timetuple()[:6]
            got = {t.label or t.term for t in entry.get("tags", [])}
            assert got == {c.name for c in item.categories}
    document = json.loads(render_json(spec).decode("utf-8"))
    for entry, item in zip(document["items"], items, strict=True):
        assert (entry["id"], entry["url"], entry["title"]) == (item.id, item.url, item.title)
        assert datetime.fromisoformat(entry["date_published"]) == item.published
        assert entry.get("tags", []) == [c.name for c in item.categories]


def test_nasty_articles_through_the_store_give_valid_feeds(publisher: Publisher) -> None:
    cases = [
        {"title": "Bell\x07 & <b>bold</b> ]]> end", "content_html": "<p>]]> &amp; \x0c</p>"},
        {"title": "Emoji 😀 and עברית (RTL) \u202e", "content_html": "<p dir='rtl'>مرحبا</p>"},
        {"title": "A 1 MB body", "content_html": "<p>" + "word " * 210_000 + "</p>"},
        {"title": "No summary, no image", "summary": "", "image_url": None},
        {"title": "No category", "categories": ()},
        {"title": "Odd category", "categories": (Category(slugify("!!!"), "!!!"),)},
    ]
    for n, fields in enumerate(cases, start=1):
        publisher.store_article(
            article(n, slug=None, published_at=NOW - timedelta(minutes=n), **fields)
        )
    rss = parsed(publisher, "rss.xml")
    atom = parsed(publisher, "atom.xml")
    feed = json.loads((publisher.feeds.out_dir / "feed.json").read_text(encoding="utf-8"))
    assert len(rss.entries) == len(atom.entries) == len(feed["items"]) == 5
    assert atom.entries[0].title == "Bell & <b>bold</b> ]]> end"
    assert feed["items"][1]["title"] == "Emoji 😀 and עברית (RTL) \u202e"
    assert len(feed["items"][2]["content_html"]) > 1_000_000
    odd = slugify("!!!")
    odd_feed = parsed(publisher, f"category/{odd}/atom.xml")
    assert [e.title for e in odd_feed.entries] == ["Odd category"]
    assert (
        feedparser.parse(
            (publisher.feeds.out_dir / "category" / odd / "rss.xml").read_bytes()
        ).feed.title
        == "Example News: !!!"
    )
