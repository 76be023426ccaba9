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
        self._health_checks: dict[str, Callable[[], dict[str, object]]] = {}

    def close(self) -> None:
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

    # --- service health --------------------------------------------------------------------

    def add_health_check(self, name: str, check: Callable[[], dict[str, object]]) -> None:
        """Add a part's report to :meth:`health` (the scheduler adds its state and next runs).

        The web shows the health without knowing the scheduler: both only know the Publisher.
        """
        self._health_checks[name] = check

    def health(self) -> dict[str, object]:
        """The service's state for ``/healthz``: ``status`` is ``ok`` or ``error``."""
        report: dict[str, object] = {"status": "ok", "database": "ok"}
        try:
            self.store.ping()
        except PublisherError as exc:
            report.update(status="error", database=str(exc))
        for name, check in self._health_checks.items():
            report[name] = check()
        return report
