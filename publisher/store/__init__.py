"""The content store: one object that owns the engine and hands out repositories by resource.

``open_store(url)`` is the one wiring point; tests pass a SQLite file or a PostgreSQL URL.
Driver errors never leave this package untranslated: they become :class:`StoreError`.
"""

from __future__ import annotations

import os
from datetime import datetime
from pathlib import Path

from sqlalchemy import Engine, text

from publisher.exceptions import StoreError
from publisher.store import content_version
from publisher.store.articles import ArticleRepository
from publisher.store.audience import AudienceRepository, ChoiceGroup, ChoiceKey
from publisher.store.backup import backup_database, backup_kind, restore_database, row_counts
from publisher.store.deliveries import DeliveryRepository
from publisher.store.editions import EditionRepository
from publisher.store.engagement import (
    AdminRepository,
    EngagementRepository,
    PauseRepository,
    sent_per_minute,
)
from publisher.store.engine import (
    create_store_engine,
    migrate,
    needs_migration,
    sqlite_file,
    translate_errors,
)
from publisher.store.events import EventRepository
from publisher.store.feed_items import FeedItemRepository
from publisher.store.locks import LeaderLock, leader_lock
from publisher.store.stats import ledger_totals
from publisher.store.subscribers import SubscriberRepository


class Store:
    """The database and its repositories (articles now; subscribers, editions, deliveries)."""

    def __init__(self, engine: Engine, site_url: str) -> None:
        self.engine = engine
        self._file: tuple[Path, tuple[int, int]] | None = None
        self.articles = ArticleRepository(engine, site_url)
        self.subscribers = SubscriberRepository(engine)
        self.deliveries = DeliveryRepository(engine)
        self.audience = AudienceRepository(engine)
        self.editions = EditionRepository(engine)
        self.feed_items = FeedItemRepository(engine, self.articles)
        self.events = EventRepository(engine)
        self.engagement = EngagementRepository(engine)
        self.admins = AdminRepository(engine)
        self.pauses = PauseRepository(engine)

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    def migrate(self) -> None:
        migrate(self.engine)

    def needs_migration(self) -> bool:
        return needs_migration(self.engine)

    def content_version(self, now: datetime) -> tuple[object, ...]:
        """A value that changes whenever what the public pages show may change: the
        version row the database's triggers move with every write of articles, categories
        and the editions' archived state, and the next scheduled article's time (it moves
        once ``now`` passes it). Two index reads, whatever the archive's size, so a web
        process can ask often and serve cached pages in between
        (:mod:`publisher.store.content_version`)."""
        with translate_errors("cannot read the content version"), self.engine.connect() as conn:
            return content_version.read(conn, now)

    def ping(self) -> None:
        """Raise StoreError when the database cannot be reached."""
        with translate_errors("cannot reach the database"), self.engine.connect() as conn:
            conn.execute(text("SELECT 1"))

    def remember_file(self, path: Path | None) -> None:
        """Note which SQLite file this store opened, to notice it deleted or replaced."""
        if path is not None:
            info = path.stat()
            self._file = (path, (info.st_dev, info.st_ino))

    def check_writable(self) -> None:
        """StoreError unless a write would land in the database this store opened.

        A SQLite file deleted while open still takes writes (into a file nobody can open
        again: all is lost at restart), so the file must still be the one opened, and the
        process must be allowed to write it and its folder (WAL makes files beside it).
        Permissions are asked of the system rather than tried with a write: a probe write
        would take SQLite's write lock at every health check and every POST, and other
        connections upgrading a read transaction then fail with "database is locked".
        PostgreSQL must answer.
        """
        if self._file is None:
            self.ping()
            return
        path, identity = self._file
        try:
            info = path.stat()
        except FileNotFoundError:
            raise StoreError(
                f"database file {path} was deleted while running: restore it and restart"
            ) from None
        if (info.st_dev, info.st_ino) != identity:
            raise StoreError(f"database file {path} was replaced while running: restart")
        for target in (path, path.parent):
            if not os.access(target, os.W_OK):
                raise StoreError(f"the database cannot be written: {target} is read-only")
        self.ping()

    def leader_lock(self, name: str) -> LeaderLock:
        """A lock only one process holds at a time, dropped when that process dies."""
        return leader_lock(self.engine, name)

    def close(self) -> None:
        self.engine.dispose()


def open_store(
    url: str, site_url: str = "http://localhost", create: bool = False, migrate: bool = True
) -> Store:
    """Open (and by default migrate) the store at ``url``.

    ``create`` makes a missing SQLite file (and its folder); without it a missing file is
    the StoreError "no database at PATH: run `publisher init`".
    """
    store = Store(create_store_engine(url, create=create), site_url)
    if migrate:
        store.migrate()
    if create and not migrate:
        store.ping()  # SQLite makes the file at the first connection
    path = sqlite_file(url)
    store.remember_file(path if path is not None and path.exists() else None)
    return store


__all__ = [
    "AdminRepository",
    "ArticleRepository",
    "AudienceRepository",
    "ChoiceGroup",
    "ChoiceKey",
    "DeliveryRepository",
    "EditionRepository",
    "EngagementRepository",
    "EventRepository",
    "FeedItemRepository",
    "LeaderLock",
    "Store",
    "SubscriberRepository",
    "backup_database",
    "backup_kind",
    "ledger_totals",
    "open_store",
    "restore_database",
    "row_counts",
    "sent_per_minute",
]
