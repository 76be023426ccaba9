"""Feeds out: rebuild what a change touches, publish scheduled articles, name the feeds."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from publisher.core.clock import Clock
from publisher.feeds import MIME_TYPES, BuildReport, FeedRef, FeedService, Site
from publisher.feeds import touched_by as feeds_touched_by
from publisher.types import Category, UpsertResult

FEED_LABELS = {"rss": "RSS", "atom": "Atom", "json": "JSON Feed"}


@dataclass(eq=False)
class Syndication:
    """The feed files of one site, kept current as articles change."""

    site: Site
    service: FeedService
    categories: Callable[[], list[Category]]
    clock: Clock

    @property
    def out_dir(self) -> Path:
        """The folder the feed files are written to (the web serves them from there)."""
        return self.service.out_dir

    def rebuild_touched(self, results: list[UpsertResult]) -> None:
        """Rewrite exactly the feeds these changes touch: the site's and their categories'."""
        self.service.build(feeds_touched_by(results), self.clock())

    def build(self, all: bool = False) -> BuildReport:
        """Build every feed (``all``: re-render each archive page too); write changed bytes only."""
        now = self.clock()
        report = self.service.build_all(now, full=all)
        self.service.mark(now)
        return report

    def publish_due(self, now: datetime | None = None) -> BuildReport:
        """Put scheduled articles whose time came into their feeds (the scheduler's job)."""
        return self.service.publish_due(now or self.clock())

    def built_once(self) -> bool:
        """Whether the feeds were ever built into this folder (a fresh folder was not)."""
        return self.service.published_through() is not None

    def refs(self) -> list[FeedRef]:
        """Every feed set: the site's, then one per category."""
        return self.service.feed_refs()

    def links(self, category: str | None = None) -> list[tuple[str, str, str]]:
        """(mime type, title, absolute URL) of the feeds for a page, for autodiscovery.

        With a category: its own feeds first, then the site-wide ones.
        """
        refs = [FeedRef(None)]
        if category is not None:
            names = {c.slug: c.name for c in self.categories()}
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
