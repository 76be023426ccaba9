"""Wiring of the feed service: which feeds a change touches, scheduled articles, feed links."""

from __future__ import annotations

from datetime import datetime

from publisher.core.base import PublisherBase
from publisher.feeds import MIME_TYPES, BuildReport, FeedRef, Site
from publisher.feeds import touched_by as feeds_touched_by
from publisher.types import UpsertResult


class FeedsMixin(PublisherBase):
    """Feeds out: rebuild what a change touches, publish scheduled articles, name the feeds."""

    @property
    def feed_site(self) -> Site:
        site = self.settings.site
        return Site(site.url, site.title, site.description, site.language, self.settings.feeds.hubs)

    def _rebuild_touched_feeds(self, results: list[UpsertResult]) -> None:
        """Rewrite exactly the feeds these changes touch: the site's and their categories'."""
        self.feeds.build(feeds_touched_by(results), self.clock())

    def build_feeds(self, all: bool = False) -> BuildReport:
        """Build every feed (``all``: re-render each archive page too); write changed bytes only."""
        now = self.clock()
        report = self.feeds.build_all(now, full=all)
        self.feeds.mark(now)
        return report

    def publish_due_articles(self, now: datetime | None = None) -> BuildReport:
        """Put scheduled articles whose time came into their feeds (the scheduler's job)."""
        return self.feeds.publish_due(now or self.clock())

    def feed_links(self, category: str | None = None) -> list[tuple[str, str, str]]:
        """(mime type, title, absolute URL) of the feeds for a page, for autodiscovery (H3).

        With a category: its own feeds first, then the site-wide ones.
        """
        refs = [FeedRef(None)]
        if category is not None:
            names = {c.slug: c.name for c in self.store.articles.categories()}
            if category in names:
                refs.insert(0, FeedRef(category, names[category]))
        site = self.feed_site
        labels = {"rss": "RSS", "atom": "Atom", "json": "JSON Feed"}
        return [
            (MIME_TYPES[fmt], f"{ref.title(site)} ({labels[fmt]})", ref.url(site, fmt))
            for ref in refs
            for fmt in ("rss", "atom", "json")
        ]

    # --- digest ----------------------------------------------------------------------------
