"""Operations: backups, restores and the numbers monitoring reads (``publisher.ops``).

A plain class over the settings, the store and the service's health checks, reached by the
edges as one attribute of the Publisher, so the CLI (``backup``, ``restore``) and the
metrics server need no new names on the facade. Restoring needs no open Publisher at all
(the store may not exist yet), so it is a function.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from publisher.config import Settings
from publisher.core.checks import Finding, check_parts
from publisher.core.editions import Editions
from publisher.exceptions import StoreError
from publisher.feeds import FeedService
from publisher.store import (
    Store,
    backup_database,
    backup_kind,
    ledger_totals,
    open_store,
    restore_database,
    row_counts,
)
from publisher.types import DeliveryWave, EditionDeliveryStatus, Frequency, SubscriberStatus

HealthChecks = Mapping[str, Callable[[], dict[str, object]]]


@dataclass(frozen=True)
class BackupReport:
    """What ``publisher backup`` wrote: the file, its kind and size, and the rows it holds."""

    path: Path
    kind: str
    size: int
    counts: dict[str, int]

    def summary(self) -> str:
        rows = ", ".join(f"{n} {name}" for name, n in self.counts.items())
        return f"backup written to {self.path} ({self.kind}, {self.size:,} bytes): {rows}"


@dataclass(eq=False)
class Operations:
    """The running service seen from outside: backups, monitoring figures, checks."""

    settings: Settings
    store: Store
    health_checks: HealthChecks
    feed_service: FeedService
    editions: Editions
    changes: int = 0  # articles written by this process: the page cache asks again at once
    coming_waves: Callable[[], list[DeliveryWave]] = list
    """Local delivery's waves still to come (``schedule show``): see Mailer.coming_waves."""

    def note_change(self, _results: object) -> None:
        self.changes += 1

    def content_version(self) -> tuple[object, ...]:
        """Changes whenever a public page (home, article, category, archive) may change,
        whichever process changed the store: the web's page cache keys on it."""
        return self.store.content_version(self.editions.clock())

    def backup(self, out: Path) -> BackupReport:
        """A consistent copy of the live store in ``out`` (safe while mail is being sent)."""
        if out.is_dir():
            raise StoreError(f"{out} is a folder; give the backup file's name")
        if not out.parent.is_dir():
            raise StoreError(f"folder {out.parent} does not exist")
        backup_database(self.store.engine, out)
        counts = row_counts(self.store.engine)
        return BackupReport(out, backup_kind(out), out.stat().st_size, counts)

    def row_counts(self) -> dict[str, int]:
        """Articles, subscribers, editions and deliveries in the store."""
        return row_counts(self.store.engine)

    def active_readers(self) -> int:
        """Confirmed readers who receive mail: no edition has more ledger rows than this."""
        return self.store.subscribers.count(SubscriberStatus.ACTIVE)

    def ledger_totals(self) -> dict[str, int]:
        """Delivery ledger rows by state, over every edition."""
        return ledger_totals(self.store.engine)

    def inbound_events(self) -> dict[str, int]:
        """Bounces, complaints, unsubscribes and the rest that came back, by kind."""
        return self.store.events.counts_by_kind()

    def edition_progress(self) -> list[EditionDeliveryStatus]:
        """Ledger counts of the editions still sending, and of the newest of each kind."""
        wanted = set(self.store.deliveries.unfinished_editions())
        for frequency in Frequency:
            latest = self.store.editions.latest(frequency)
            if latest is not None:
                wanted.add(latest.id)
        return self.store.deliveries.status(sorted(wanted)) if wanted else []

    def feed_builds(self) -> tuple[int, float]:
        """Feed builds done by this process and the seconds they took in all."""
        return self.feed_service.builds, self.feed_service.build_seconds

    def check(self) -> list[Finding]:
        """Mail transport, DKIM key and templates, as the running service uses them."""
        return check_parts(self.settings, self.editions)

    def scheduler_report(self) -> dict[str, object]:
        """The scheduler's own report (state, jobs, next and last runs), or ``{}`` if none."""
        check = self.health_checks.get("scheduler")
        return check() if check else {}


def restore_store(settings: Settings, source: Path, force: bool = False) -> dict[str, int]:
    """Put a backup into the configured store, creating it when missing, then migrate it.

    A store that holds any article, subscriber, edition or delivery is replaced only with
    ``force``. Returns the rows the restored store holds.
    """
    if not source.is_file():
        raise StoreError(f"{source}: no such backup file")
    restore_database(settings.database_url, source, force)
    store = open_store(settings.database_url, settings.site.url)
    try:
        return row_counts(store.engine)
    finally:
        store.close()
