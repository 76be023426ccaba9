"""Storing articles from every source (CLI, import, API) through one path."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path

from publisher.core.base import PublisherBase
from publisher.exceptions import IngestError
from publisher.ingest import IngestOptions, iter_source_files, parse_bytes, read_files
from publisher.types import ArticleInput, Category, UpsertOutcome, UpsertResult


@dataclass
class IngestReport:
    """What an import did, file by file: stored results and one error line per failure."""

    results: list[UpsertResult] = field(default_factory=list)
    errors: list[IngestError] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

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


class ArticlesMixin(PublisherBase):
    """Articles in: parse, store, retract, and tell listeners what changed."""

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
        root: Path | None = None,
    ) -> IngestReport:
        """Parse and store each source; every article in its own transaction.

        A bad file is reported and the batch goes on (``strict`` stops at the first).
        ``sources`` are paths, or ``(name, bytes)`` pairs for standard input.
        ``categories`` go to every article whose source names none (plain-text copy).
        A file's identity is its path relative to ``root`` (default: the current folder).
        """
        report = IngestReport()
        with self.store.articles.batch() as batch:
            for item in self._parse_all(sources, fmt, root or Path.cwd()):
                if isinstance(item, IngestError):
                    report.errors.append(item)
                else:
                    report.warnings += [f"{item.source}: warning: {w}" for w in item.warnings]
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
        self, sources: Iterable[Path | tuple[str, bytes]], fmt: str | None, root: Path
    ) -> Iterator[ArticleInput | IngestError]:
        """Parsed articles in source order: files (in a process pool when many), then stdin."""
        given = list(sources)
        paths = [s for s in given if isinstance(s, Path)]
        blobs = [s for s in given if not isinstance(s, Path)]
        for _path, results in read_files(paths, self.ingest_options, fmt, root=root):
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
            raise IngestError("not a folder", path=directory)
        return self.add_sources(iter_source_files(directory), fmt, strict, categories, directory)

    def retract_article(self, key: str) -> UpsertResult:
        result = self.store.articles.retract(key, now=self.clock())
        self._changed([result])
        return result

    # --- feeds -------------------------------------------------------------------------------
