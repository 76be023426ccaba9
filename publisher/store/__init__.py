"""The content store: one object that owns the engine and hands out repositories by resource.

``open_store(url)`` is the one wiring point; tests pass a SQLite file or a PostgreSQL URL.
Driver errors never leave this package untranslated: they become :class:`StoreError`.
"""

from __future__ import annotations

from sqlalchemy import Engine, text

from publisher.store.articles import ArticleRepository
from publisher.store.deliveries import DeliveryRepository
from publisher.store.editions import EditionRepository
from publisher.store.engagement import (
    AdminRepository,
    EngagementRepository,
    PauseRepository,
    sent_per_minute,
)
from publisher.store.engine import create_store_engine, migrate, needs_migration, translate_errors
from publisher.store.events import EventRepository
from publisher.store.feed_items import FeedItemRepository
from publisher.store.locks import LeaderLock, leader_lock
from publisher.store.subscribers import SubscriberRepository


class Store:
    """The database and its repositories (articles now; subscribers, editions, deliveries)."""

    def __init__(self, engine: Engine, site_url: str) -> None:
        self.engine = engine
        self.articles = ArticleRepository(engine, site_url)
        self.subscribers = SubscriberRepository(engine)
        self.deliveries = DeliveryRepository(engine)
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

    def ping(self) -> None:
        """Raise StoreError when the database cannot be reached."""
        with translate_errors("cannot reach the database"), self.engine.connect() as conn:
            conn.execute(text("SELECT 1"))

    def leader_lock(self, name: str) -> LeaderLock:
        """A lock only one process holds at a time, dropped when that process dies."""
        return leader_lock(self.engine, name)

    def close(self) -> None:
        self.engine.dispose()


def open_store(
    url: str, site_url: str = "http://localhost", create: bool = False, migrate: bool = True
) -> Store:
    """Open (and by default migrate) the store at ``url``.

    ``create`` makes a SQLite file's folder when missing; otherwise a missing folder is a
    StoreError that tells the user to run ``publisher init``.
    """
    store = Store(create_store_engine(url, create_folder=create), site_url)
    if migrate:
        store.migrate()
    return store


__all__ = [
    "AdminRepository",
    "ArticleRepository",
    "DeliveryRepository",
    "EditionRepository",
    "EngagementRepository",
    "EventRepository",
    "FeedItemRepository",
    "LeaderLock",
    "Store",
    "SubscriberRepository",
    "open_store",
    "sent_per_minute",
]
