"""Feeds out: rebuild what a change touches, publish scheduled articles, name the feeds."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from pathlib import Path

from publisher.core.clock import Clock
from publisher.feeds import MIME_TYPES, BuildReport, FeedRef, FeedService, Site
from publisher.feeds import touched_by as feeds_touched_by
from publisher.types import Category, UpsertResult

FEED_LABELS = {"rss": "RSS", "atom": "Atom", "json": "JSON Feed"}


class Syndication:
    """The feed files of one site, kept current as articles change."""

    def __init__(
        self,
        site: Site,
        feeds: FeedService,
        categories: Callable[[], list[Category]],
        clock: Clock,
    ) -> None:
        self.site = site
        self._feeds = feeds
        self._categories = categories
        self._clock = clock

    @property
    def out_dir(self) -> Path:
        """The folder the feed files are written to (the web serves them from there)."""
        return self._feeds.out_dir

    def rebuild_touched(self, results: list[UpsertResult]) -> None:
        """Rewrite exactly the feeds these changes touch: the site's and their categories'."""
        self._feeds.build(feeds_touched_by(results), self._clock())

    def build(self, all: bool = False) -> BuildReport:
        """Build every feed (``all``: re-render each archive page too); write changed bytes only."""
        now = self._clock()
        report = self._feeds.build_all(now, full=all)
        self._feeds.mark(now)
        return report

    def publish_due(self, now: datetime | None = None) -> BuildReport:
        """Put scheduled articles whose time came into their feeds (the scheduler's job)."""
        return self._feeds.publish_due(now or self._clock())

    def built_once(self) -> bool:
        """Whether the feeds were ever built into this folder (a fresh folder was not)."""
        return self._feeds.published_through() is not None

    def refs(self) -> list[FeedRef]:
        """Every feed set: the site's, then one per category."""
        return self._feeds.feed_refs()

    def links(self, category: str | None = None) -> list[tuple[str, str, str]]:
        """(mime type, title, absolute URL) of the feeds for a page, for autodiscovery.

        With a category: its own feeds first, then the site-wide ones.
        """
        refs = [FeedRef(None)]
        if category is not None:
            names = {c.slug: c.name for c in self._categories()}
            if category in names:
                refs.insert(0, FeedRef(category, names[category]))
        return [
            (
                MIME_TYPES[fmt],
                f"{ref.title(self.site)} ({FEED_LABELS[fmt]})",
                ref.url(self.site, fmt),
            )
            for ref in refs
            for fmt in ("rss", "atom", "json")
        ]
