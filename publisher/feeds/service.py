"""The feed builder: reads the store through a small protocol, renders, writes, notifies.

This is what the core calls. It knows nothing of the store's tables (``FeedSource`` is a
protocol the store's ``feed_items`` repository satisfies), nothing of settings (the core
passes a :class:`Site` and plain values), and nothing of HTTP. Builds are serialised by a
lock (threads) and an advisory file lock (processes on one host), so a slow build from an
older snapshot can never overwrite the files of a newer one half-way.
"""

from __future__ import annotations

import contextlib
import dataclasses
import fcntl
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Protocol

from publisher.exceptions import FeedError
from publisher.feeds.archive import (
    ARCHIVE_FORMATS,
    archive_folder,
    archive_rel_path,
    archive_urls,
    is_month_key,
    month_bounds,
    month_key,
    months_between,
    pages_to_write,
)
from publisher.feeds.jsonfeed import render_json
from publisher.feeds.model import (
    FORMATS,
    GENERATOR,
    ArchiveLinks,
    FeedItem,
    FeedRef,
    FeedSpec,
    Site,
    item_from_article,
    newest_change,
)
from publisher.feeds.plan import Touched, touched_by_articles
from publisher.feeds.rss_atom import render_atom, render_rss
from publisher.feeds.writer import remove_if_present, sync_dir, write_if_changed
from publisher.types import Article, Category

ITEM_CACHE_SIZE = 10_000
"""Feed items kept between builds (a window of 50 for the site and every category, plus
the archive page being filled, fit many times over)."""
MARKER = ".published-through"
"""File in the feeds folder: the moment up to which scheduled articles are in the feeds."""
RENDERERS: dict[str, Callable[[FeedSpec], bytes]] = {
    "rss": render_rss,
    "atom": render_atom,
    "json": render_json,
}


class FeedSource(Protocol):
    """What the builder reads (implemented by ``Store.feed_items``)."""

    def window(self, category: str | None, now: datetime, limit: int) -> list[Article]: ...
    def first_archived(self, category: str | None, now: datetime, skip: int) -> Article | None: ...
    def oldest_published(self, category: str | None, now: datetime) -> datetime | None: ...
    def archived_in(
        self,
        category: str | None,
        now: datetime,
        start: datetime,
        end: datetime,
        boundary: Article,
    ) -> list[Article]: ...
    def retracted_change(
        self,
        category: str | None,
        now: datetime,
        start: datetime | None = None,
        end: datetime | None = None,
    ) -> datetime | None: ...
    def categories(self) -> list[Category]: ...
    def due_between(self, after: datetime, until: datetime) -> list[Article]: ...


@dataclass
class BuildReport:
    """What a build did: files written (relative paths), unchanged, removed; feeds built."""

    written: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    unchanged: int = 0
    feeds: list[FeedRef] = field(default_factory=list)
    changed_topics: list[str] = field(default_factory=list)
    due: int = 0

    def merge(self, other: BuildReport) -> None:
        self.written += other.written
        self.removed += other.removed
        self.unchanged += other.unchanged
        self.feeds += other.feeds
        self.changed_topics += other.changed_topics

    def summary(self) -> str:
        return (
            f"{len(self.feeds)} feed(s): {len(self.written)} file(s) written, "
            f"{self.unchanged} unchanged, {len(self.removed)} removed"
        )


class FeedService:
    """Builds the feeds of one site into ``out_dir``."""

    def __init__(
        self,
        site: Site,
        source: FeedSource,
        out_dir: Path,
        items: int = 50,
        notify: Callable[[list[str]], None] | None = None,
        archives: bool = True,
    ) -> None:
        self.site = site
        self.source = source
        self.out_dir = out_dir
        self.items = items
        self.notify = notify
        self.archives = archives
        self._lock = threading.Lock()
        self._cache: OrderedDict[Article, FeedItem] = OrderedDict()
        # In-process figures for monitoring: builds done and the time they took.
        self.builds = 0
        self.build_seconds = 0.0

    # --- entry points ------------------------------------------------------------------------

    def build_all(self, now: datetime, full: bool = False) -> BuildReport:
        """Every feed: the site's and each category's (``full`` rewrites every archive page)."""
        slugs: list[str | None] = [None, *(c.slug for c in self.source.categories())]
        return self.build(Touched(slugs=slugs), now, full=full)

    def build(self, touched: Touched, now: datetime, full: bool = False) -> BuildReport:
        """Rebuild the feeds in ``touched``; only files whose bytes change are written."""
        names = {c.slug: c.name for c in self.source.categories()}
        report = BuildReport()
        with self._locked():
            started = time.perf_counter()
            for slug in touched.slugs:
                ref = FeedRef(slug, names.get(slug, slug) if slug else "")
                report.merge(self._build_feed(ref, now, touched.months, full))
            for folder in sorted({(self.out_dir / rel).parent for rel in report.written}):
                sync_dir(folder)  # once per folder: the renames above become durable
            self.builds += 1
            self.build_seconds += time.perf_counter() - started
        if self.notify and report.changed_topics:
            self.notify(report.changed_topics)
        return report

    def publish_due(self, now: datetime) -> BuildReport:
        """Bring scheduled articles whose time came into their feeds; cheap when none is due.

        The marker file says up to when the feeds are complete. Without one (a fresh or
        wiped feeds folder) everything is built once.
        """
        since = self.published_through()
        if since is None:
            report = self.build_all(now)
        elif now <= since:
            return BuildReport()
        else:
            due = self.source.due_between(since, now)
            report = self.build(touched_by_articles(due), now) if due else BuildReport()
            report.due = len(due)
        self.mark(now)
        return report

    def published_through(self) -> datetime | None:
        try:
            text = (self.out_dir / MARKER).read_text(encoding="utf-8").strip()
            return datetime.fromisoformat(text).astimezone(UTC)
        except (FileNotFoundError, ValueError):
            return None

    def mark(self, now: datetime) -> None:
        """Record that the feeds hold everything published up to ``now``."""
        write_if_changed(self.out_dir / MARKER, now.astimezone(UTC).isoformat().encode())

    def feed_refs(self) -> list[FeedRef]:
        return [FeedRef(None), *(FeedRef(c.slug, c.name) for c in self.source.categories())]

    # --- one feed ----------------------------------------------------------------------------

    def _build_feed(self, ref: FeedRef, now: datetime, months: set[str], full: bool) -> BuildReport:
        report = BuildReport(feeds=[ref])
        articles = self.source.window(ref.slug, now, self.items)
        items = self._items(articles)
        boundary = self.source.first_archived(ref.slug, now, self.items)
        newest_archive = month_key(boundary.published_at) if boundary and self.archives else None
        updated = newest_change(items, self.source.retracted_change(ref.slug, now))
        archive = ArchiveLinks()
        if newest_archive:
            archive = ArchiveLinks(prev=archive_urls(self.site, ref, newest_archive))
        spec = self._spec(ref, items, updated, archive)
        for fmt in FORMATS:
            path = ref.rel_path(fmt)
            if self._write(path, RENDERERS[fmt](spec), updated, report):
                report.changed_topics.append(ref.url(self.site, fmt))
        if self.archives:
            report.merge(self._build_archive(ref, now, boundary, months, full))
        return report

    def _items(self, articles: list[Article]) -> tuple[FeedItem, ...]:
        """Feed items, reusing those made from an identical article in an earlier build.

        Cleaning a body (sanitising, absolute URLs) is most of the cost of an item, and a
        new article changes one item of a window of 50: the cache makes a rebuild cost
        about one item. The key is the whole frozen article, so any change misses.
        """
        made = []
        for article in articles:
            item = self._cache.get(article)
            if item is None:
                item = item_from_article(article, self.site)
                self._cache[article] = item
                if len(self._cache) > ITEM_CACHE_SIZE:
                    self._cache.popitem(last=False)
            else:
                self._cache.move_to_end(article)
            made.append(item)
        return tuple(made)

    def _spec(
        self,
        ref: FeedRef,
        items: tuple[FeedItem, ...],
        updated: datetime,
        archive: ArchiveLinks,
        self_urls: dict[str, str] | None = None,
    ) -> FeedSpec:
        urls = self_urls or {fmt: ref.url(self.site, fmt) for fmt in FORMATS}
        return FeedSpec(
            id=urls["atom"],
            title=ref.title(self.site),
            description=ref.description(self.site),
            home_url=ref.home_url(self.site),
            self_urls=urls,
            language=self.site.language,
            updated=updated,
            items=items,
            author=self.site.title,
            hubs=self.site.hubs if not archive.is_archive else (),
            archive=archive,
            full_content=not archive.is_archive,
            generator=self.site.words(GENERATOR),
        )

    def _write(self, rel: str, data: bytes, updated: datetime, report: BuildReport) -> bool:
        if write_if_changed(self.out_dir / rel, data, updated, sync_folder=False):
            report.written.append(rel)
            return True
        report.unchanged += 1
        return False

    # --- archives ----------------------------------------------------------------------------

    def _existing_pages(self, ref: FeedRef) -> list[str]:
        folder = self.out_dir / archive_folder(ref)
        try:
            return sorted(p.name for p in folder.iterdir() if p.is_dir() and is_month_key(p.name))
        except FileNotFoundError:
            return []

    def _build_archive(
        self, ref: FeedRef, now: datetime, boundary: Article | None, months: set[str], full: bool
    ) -> BuildReport:
        report = BuildReport()
        wanted: list[str] = []
        if boundary is not None:
            oldest = self.source.oldest_published(ref.slug, now) or boundary.published_at
            wanted = months_between(month_key(oldest), month_key(boundary.published_at))
        write, remove = pages_to_write(wanted, self._existing_pages(ref), months, full)
        for key in remove:
            for fmt in ARCHIVE_FORMATS:
                rel = archive_rel_path(ref, key, fmt)
                if remove_if_present(self.out_dir / rel):
                    report.removed.append(rel)
            with contextlib.suppress(OSError):
                (self.out_dir / archive_rel_path(ref, key, "rss")).parent.rmdir()
        for key in write:
            assert boundary is not None
            self._write_page(ref, now, key, wanted, boundary, report)
        return report

    def _write_page(
        self,
        ref: FeedRef,
        now: datetime,
        key: str,
        wanted: list[str],
        boundary: Article,
        report: BuildReport,
    ) -> None:
        start, end = month_bounds(key)
        articles = self.source.archived_in(ref.slug, now, start, end, boundary)
        items = self._items(articles)
        retracted = self.source.retracted_change(ref.slug, now, start, end)
        updated = newest_change(items, retracted) if items or retracted else start
        index = wanted.index(key)
        links = ArchiveLinks(
            prev=archive_urls(self.site, ref, wanted[index - 1]) if index > 0 else {},
            next=archive_urls(self.site, ref, wanted[index + 1]) if index + 1 < len(wanted) else {},
            current={f: ref.url(self.site, f) for f in ARCHIVE_FORMATS},
            is_archive=True,
        )
        urls = archive_urls(self.site, ref, key)
        spec = self._spec(ref, items, updated, links, {**urls, "json": ""})
        spec = dataclasses.replace(spec, title=self.site.archive_title(spec.title, start))
        for fmt in ARCHIVE_FORMATS:
            self._write(archive_rel_path(ref, key, fmt), RENDERERS[fmt](spec), updated, report)

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        with self._lock:
            try:
                self.out_dir.mkdir(parents=True, exist_ok=True)
                handle = open(self.out_dir / ".lock", "a")  # noqa: SIM115 - held for the build
            except OSError as exc:
                raise FeedError(f"{self.out_dir}: cannot use the feeds folder: {exc}") from exc
            with handle:
                fcntl.flock(handle, fcntl.LOCK_EX)
                try:
                    yield
                finally:
                    fcntl.flock(handle, fcntl.LOCK_UN)


def feed_paths(refs: Iterable[FeedRef]) -> list[str]:
    return [ref.rel_path(fmt) for ref in refs for fmt in FORMATS]
