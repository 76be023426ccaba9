"""The Publisher: the one place that wires the store, ingestion, feeds, digest and delivery.

The CLI, the web app and the scheduler each hold one Publisher and call its methods; none of
them talks to the store or the feeds directly. Time comes from an injectable clock so tests
(and the scheduler's catch-up logic) can say what "now" is.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path

from publisher.config import Settings
from publisher.delivery import MemoryTransport, OutboxTransport, Transport
from publisher.exceptions import IngestError, PublisherError
from publisher.feeds import MIME_TYPES, BuildReport, FeedRef, FeedService, Site, WebSubNotifier
from publisher.feeds import touched_by as feeds_touched_by
from publisher.ingest import IngestOptions, iter_source_files, parse_bytes, read_files
from publisher.store import Store, open_store
from publisher.types import ArticleInput, Category, UpsertOutcome, UpsertResult

Clock = Callable[[], datetime]


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass
class IngestReport:
    """What an import did, file by file: stored results and one error line per failure."""

    results: list[UpsertResult] = field(default_factory=list)
    errors: list[IngestError] = field(default_factory=list)

    def count(self, outcome: UpsertOutcome) -> int:
        return sum(1 for r in self.results if r.outcome is outcome)

    @property
    def ok(self) -> bool:
        return not self.errors

    def summary(self) -> str:
        return (
            f"{len(self.results) + len(self.errors)} article(s): "
            f"{self.count(UpsertOutcome.CREATED)} created, "
            f"{self.count(UpsertOutcome.UPDATED)} updated, "
            f"{self.count(UpsertOutcome.UNCHANGED)} unchanged, "
            f"{len(self.errors)} failed"
        )


class Publisher:
    """Everything the product does, as methods over settings, a store and a clock."""

    def __init__(
        self,
        settings: Settings,
        store: Store | None = None,
        clock: Clock = utc_now,
        create: bool = False,
    ) -> None:
        self.settings = settings
        self.clock = clock
        self.store = store or open_store(settings.database_url, settings.site.url, create=create)
        self._change_listeners: list[Callable[[list[UpsertResult]], None]] = []
        self.websub = WebSubNotifier(
            settings.feeds.hubs,
            attempts=settings.feeds.hub_attempts,
            base_delay=settings.feeds.hub_retry_seconds,
        )
        self.feeds = FeedService(
            self.feed_site,
            self.store.feed_items,
            settings.path(settings.feeds.dir),
            items=settings.feeds.items,
            notify=self.websub.notify,
            archives=settings.feeds.archives,
        )
        self.on_articles_changed(self._rebuild_touched_feeds)

    def close(self) -> None:
        self.websub.close()
        self.store.close()

    def make_transport(self) -> Transport:
        """The configured transport (the delivery engine adds SMTP)."""
        kind = self.settings.mail.transport
        if kind == "memory":
            return MemoryTransport()
        return OutboxTransport(self.settings.path(self.settings.mail.outbox_dir))

    # --- articles --------------------------------------------------------------------------

    @property
    def ingest_options(self) -> IngestOptions:
        return IngestOptions(
            site_url=self.settings.site.url,
            timezone=self.settings.zone,
            max_file_bytes=self.settings.ingest.max_file_bytes,
            summary_length=self.settings.ingest.summary_length,
        )

    def on_articles_changed(self, listener: Callable[[list[UpsertResult]], None]) -> None:
        """Call ``listener`` with the results of every write that changed articles."""
        self._change_listeners.append(listener)

    def _changed(self, results: list[UpsertResult]) -> None:
        changed = [r for r in results if r.outcome is not UpsertOutcome.UNCHANGED]
        if changed:
            for listener in self._change_listeners:
                listener(changed)

    def store_article(self, item: ArticleInput) -> UpsertResult:
        """Store one parsed article (CLI, import, API all come through here)."""
        result = self.store.articles.upsert(item, now=self.clock())
        self._changed([result])
        return result

    def add_sources(
        self,
        sources: Iterable[Path | tuple[str, bytes]],
        fmt: str | None = None,
        strict: bool = False,
        categories: tuple[Category, ...] = (),
    ) -> IngestReport:
        """Parse and store each source; every article in its own transaction.

        A bad file is reported and the batch goes on (``strict`` stops at the first).
        ``sources`` are paths, or ``(name, bytes)`` pairs for standard input.
        ``categories`` go to every article whose source names none (plain-text copy).
        """
        report = IngestReport()
        with self.store.articles.batch() as batch:
            for item in self._parse_all(sources, fmt):
                if isinstance(item, IngestError):
                    report.errors.append(item)
                else:
                    if categories and not item.categories:
                        item = replace(item, categories=categories)
                    try:
                        report.results.append(batch.upsert(item, now=self.clock()))
                    except IngestError as exc:
                        report.errors.append(exc)
                if strict and report.errors:
                    break
        self._changed(report.results)
        return report

    def _parse_all(
        self, sources: Iterable[Path | tuple[str, bytes]], fmt: str | None
    ) -> Iterator[ArticleInput | IngestError]:
        """Parsed articles in source order: files (in a process pool when many), then stdin."""
        given = list(sources)
        paths = [s for s in given if isinstance(s, Path)]
        blobs = [s for s in given if not isinstance(s, Path)]
        for _path, results in read_files(paths, self.ingest_options, fmt):
            yield from results
        for name, data in blobs:
            try:
                yield from parse_bytes(data, name, self.ingest_options, fmt, now=self.clock())
            except IngestError as exc:
                yield exc

    def import_directory(
        self,
        directory: Path,
        fmt: str | None = None,
        strict: bool = False,
        categories: tuple[Category, ...] = (),
    ) -> IngestReport:
        """Import every article source below ``directory`` (recursive, sorted)."""
        if not directory.is_dir():
            raise PublisherError(f"{directory}: not a folder")
        return self.add_sources(iter_source_files(directory), fmt, strict, categories)

    def retract_article(self, key: str) -> UpsertResult:
        result = self.store.articles.retract(key, now=self.clock())
        self._changed([result])
        return result

    # --- feeds -------------------------------------------------------------------------------

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
