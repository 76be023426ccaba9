"""Articles in and out: every source (CLI files, standard input, the HTTP API) enters here."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path

import publisher.ingest as ingest
from publisher.config import Settings
from publisher.core.clock import Clock
from publisher.exceptions import IngestError
from publisher.ingest import IngestOptions, alt_text_warning, iter_source_files
from publisher.store.articles import ArticleRepository
from publisher.types import Article, ArticleInput, Category, UpsertOutcome, UpsertResult

ChangeListener = Callable[[list[UpsertResult]], None]
Source = Path | tuple[str, bytes]


@dataclass
class IngestReport:
    """What an import did, file by file: stored results and one error line per failure."""

    results: list[UpsertResult] = field(default_factory=list)
    errors: list[IngestError] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)  # e.g. images without alt text

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


@dataclass(frozen=True)
class ImportChoices:
    """How sources are read: ``fmt`` forces a format (else by extension and content),
    ``strict`` stops at the first bad file, ``categories`` go to every article whose source
    names none (plain-text copy), ``root`` is the folder a file's identity (its path) counts
    from (default: the current folder; an import counts from the folder imported)."""

    fmt: str | None = None
    strict: bool = False
    categories: tuple[Category, ...] = ()
    root: Path | None = None


def ingest_options(settings: Settings) -> IngestOptions:
    return IngestOptions(
        site_url=settings.site.url,
        timezone=settings.zone,
        max_file_bytes=settings.ingest.max_file_bytes,
        summary_length=settings.ingest.summary_length,
    )


@dataclass(eq=False)
class Articles:
    """Parse, store, retract and list articles; tell listeners (the feeds) what changed."""

    store: ArticleRepository
    options: IngestOptions
    clock: Clock
    listeners: list[ChangeListener] = field(default_factory=list)

    def on_change(self, listener: ChangeListener) -> None:
        """Call ``listener`` with the results of every write that changed articles."""
        self.listeners.append(listener)

    def _changed(self, results: list[UpsertResult]) -> None:
        changed = [r for r in results if r.outcome is not UpsertOutcome.UNCHANGED]
        if changed:
            for listener in self.listeners:
                listener(changed)

    def add_sources(
        self, sources: Iterable[Source], choices: ImportChoices = ImportChoices()
    ) -> IngestReport:
        """Parse and store each source; every article in its own transaction.

        A bad file is reported and the batch goes on (unless ``choices.strict``).
        ``sources`` are paths, or ``(name, bytes)`` pairs for standard input.
        """
        categories, strict = choices.categories, choices.strict
        report = IngestReport()
        with self.store.batch() as batch:
            for item in self._parse_all(sources, choices.fmt, choices.root or Path.cwd()):
                if isinstance(item, IngestError):
                    report.errors.append(item)
                else:
                    report.warnings += [f"{item.source}: warning: {w}" for w in item.warnings]
                    if categories and not item.categories:
                        item = replace(item, categories=categories)
                    if (warning := alt_text_warning(item)) is not None:
                        report.warnings.append(warning)
                    try:
                        report.results.append(batch.upsert(item, now=self.clock()))
                    except IngestError as exc:
                        report.errors.append(exc)
                if strict and report.errors:
                    break
        self._changed(report.results)
        return report

    def add_payload(self, name: str, data: bytes, fmt: str) -> list[UpsertResult]:
        """All or nothing: the articles of one request, stored only when every one parses.

        The HTTP API enters here: a request with one bad article stores none of them, and
        the IngestError names what was wrong.
        """
        parsed = list(ingest.parse_bytes(data, name, self.options, fmt, now=self.clock()))
        errors = [item for item in parsed if isinstance(item, IngestError)]
        if errors:
            raise IngestError("; ".join(str(e) for e in errors), name)
        items = [item for item in parsed if isinstance(item, ArticleInput)]
        if not items:
            raise IngestError("no article in the request", name)
        return self.add_items(items)

    def add_items(self, items: Iterable[ArticleInput]) -> list[UpsertResult]:
        """Store articles already parsed (the API, an embedding application's own code)."""
        results = [self.store.upsert(item, now=self.clock()) for item in items]
        self._changed(results)
        return results

    def _parse_all(
        self, sources: Iterable[Source], fmt: str | None, root: Path
    ) -> Iterator[ArticleInput | IngestError]:
        """Parsed articles in source order: files (in a process pool when many), then stdin."""
        given = list(sources)
        paths = [s for s in given if isinstance(s, Path)]
        blobs = [s for s in given if not isinstance(s, Path)]
        for _path, results in ingest.read_files(paths, self.options, fmt, root=root):
            yield from results
        for name, data in blobs:
            try:
                yield from ingest.parse_bytes(data, name, self.options, fmt, now=self.clock())
            except IngestError as exc:
                yield exc

    def import_directory(
        self, directory: Path, choices: ImportChoices = ImportChoices()
    ) -> IngestReport:
        """Import every article source below ``directory`` (recursive, sorted)."""
        if not directory.is_dir():
            raise IngestError("not a folder", str(directory))
        return self.add_sources(iter_source_files(directory), replace(choices, root=directory))

    def retract(self, key: str) -> UpsertResult:
        result = self.store.retract(key, now=self.clock())
        self._changed([result])
        return result

    def listing(
        self, limit: int | None = 50, category: str | None = None, include_unpublished: bool = False
    ) -> list[Article]:
        """Newest first: published and live ones, or with ``include_unpublished`` every one
        (scheduled and retracted too)."""
        return self.store.newest(
            limit=limit,
            category=category,
            published_before=None if include_unpublished else self.clock(),
            include_retracted=include_unpublished,
        )

    def get(self, key: str | int) -> Article:
        return self.store.get(key)

    def categories(self) -> list[Category]:
        return self.store.categories()

    def count(self, include_retracted: bool = False) -> int:
        return self.store.count(include_retracted)
