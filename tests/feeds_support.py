"""Helpers shared by the feed tests: a Publisher on a temporary project, article factories,
a movable clock, and parsing helpers (feedparser as the real client, lxml for raw XML)."""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import feedparser
import pytest
from conftest import PublisherFactory
from lxml import etree

from publisher.config import Settings, load_settings
from publisher.core import Publisher
from publisher.feeds.model import FORMATS, FeedItem, FeedRef, FeedSpec, Site, newest_change
from publisher.store import Store
from publisher.types import ArticleInput, Category

NOW = datetime.fromisoformat("2026-11-27T12:00:00+00:00")
SITE = "https://news.example.org"
NS = {
    "atom": "http://www.w3.org/2005/Atom",
    "content": "http://purl.org/rss/1.0/modules/content/",
    "dc": "http://purl.org/dc/elements/1.1/",
    "media": "http://search.yahoo.com/mrss/",
    "fh": "http://purl.org/syndication/history/1.0",
}
LOCAL = Category("local", "Local")
SPORT = Category("sport", "Sport")


@dataclass
class Clock:
    now: datetime = NOW

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **kwargs: float) -> None:
        self.now += timedelta(**kwargs)


def make_settings(root: Path, **feeds: Any) -> Settings:
    root.mkdir(parents=True, exist_ok=True)
    (root / "config").mkdir(exist_ok=True)
    lines = [
        'secret_key = "feeds-tests-secret-key-0123456789abcdef"',
        "[site]",
        f'url = "{SITE}"',
        'title = "Example News"',
        'description = "News from Example Town."',
        "[feeds]",
    ]
    for key, value in feeds.items():
        lines.append(f"{key} = {json.dumps(value)}")
    (root / "config" / "publisher.toml").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return load_settings(root, environ={})


def article(n: int, **fields: Any) -> ArticleInput:
    """Article number ``n``: published n hours before NOW unless told otherwise."""
    values: dict[str, Any] = {
        "title": f"Story number {n}",
        "content_html": f"<p>Body of story {n} with <a href='/related/{n}'>a link</a>.</p>",
        "published_at": NOW - timedelta(hours=n),
        "summary": f"Summary of story {n}.",
        "authors": ("Ann Reporter",),
        "categories": (LOCAL,),
        "guid": f"urn:uuid:00000000-0000-4000-8000-{n:012d}",
        "slug": f"story-{n}",
    }
    values.update(fields)
    return ArticleInput(**values)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def publisher(tmp_path: Path, clock: Clock, make_pub: PublisherFactory) -> Publisher:
    """A Publisher on SQLite in a temporary project (feeds under tmp_path/project/feeds)."""
    return make_pub(make_settings(tmp_path / "project", items=5), clock=clock)


@pytest.fixture
def any_publisher(
    tmp_path: Path, clock: Clock, store: Store, make_pub: PublisherFactory
) -> Publisher:
    """The same on each database kind (the ``store`` fixture: SQLite and PostgreSQL)."""
    return make_pub(make_settings(tmp_path / "project", items=5), store=store, clock=clock)


def feed_bytes(pub: Publisher, rel: str) -> bytes:
    return (pub.feeds.out_dir / rel).read_bytes()


def parsed(pub: Publisher, rel: str) -> Any:
    """feedparser's view of a written feed; fails the test if it is not well-formed."""
    result = feedparser.parse(feed_bytes(pub, rel))
    assert not result.bozo, f"{rel}: {result.get('bozo_exception')}"
    return result


def xml(pub: Publisher, rel: str) -> Any:
    return etree.fromstring(feed_bytes(pub, rel))


def json_feed(pub: Publisher, rel: str = "feed.json") -> Any:
    return json.loads(feed_bytes(pub, rel).decode("utf-8"))


__all__ = ["NOW", "NS", "SITE", "Clock", "article", "make_settings", "replace"]


def site_spec(site: Site, items: tuple[FeedItem, ...], **extra: Any) -> FeedSpec:
    """The site-wide feed of ``items`` as the builder would describe it (for renderer tests)."""
    return FeedSpec(
        id=f"{site.base}/feeds/atom.xml",
        title=site.title,
        description=site.description,
        home_url=f"{site.base}/",
        self_urls={f: FeedRef().url(site, f) for f in FORMATS},
        language=site.language,
        updated=newest_change(items),
        items=items,
        author=site.title,
        **extra,
    )
