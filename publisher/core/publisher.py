"""The Publisher: the edges' API (CLI, web, scheduler), each method a short delegation.

The work is done by the services in :mod:`publisher.core.services`; this class only names
what the edges may ask for, so that the CLI, the web app and the scheduler never reach the
store or a domain package themselves. Areas that grow many operations of their own are
reached through one attribute each (``publisher.feeds``), keeping this namespace small.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import IO

from sqlalchemy import Engine

from publisher.config import Settings
from publisher.core.admin import Admin
from publisher.core.articles import Articles, ImportChoices, IngestReport, Source
from publisher.core.clock import Clock
from publisher.core.editions import DigestPreview, Editions
from publisher.core.engagement import Engagement
from publisher.core.health import Health, HealthCheck
from publisher.core.inbound import Inbound
from publisher.core.links import Links
from publisher.core.mailer import Mailer, ProgressListener
from publisher.core.ops import Operations
from publisher.core.subscriptions import SubscribeRequest, SubscriberImportReport, Subscriptions
from publisher.core.syndication import Syndication
from publisher.delivery import MessageFactory, WaitListener
from publisher.feeds import WebSubNotifier
from publisher.store import LeaderLock, Store
from publisher.tokens import Purpose
from publisher.types import (
    Article,
    ArticleInput,
    Category,
    DeliveryWave,
    Edition,
    EditionDeliveryStatus,
    Frequency,
    SendReport,
    Subscriber,
    SubscriberStatus,
    UpsertResult,
)


@dataclass(frozen=True)
class Services:
    """Every service of one publisher, for the facade and for tests of a single service."""

    settings: Settings
    store: Store
    clock: Clock
    links: Links
    articles: Articles
    feeds: Syndication
    editions: Editions
    mailer: Mailer
    subscriptions: Subscriptions
    health: Health
    ops: Operations
    websub: WebSubNotifier
    inbound: Inbound
    engagement: Engagement
    admin: Admin

    def close(self) -> None:
        self.websub.close()
        self.store.close()


class Publisher:
    """Everything the product does, for the CLI, the web app and the scheduler."""

    def __init__(self, services: Services) -> None:
        self._services = services

    @property
    def settings(self) -> Settings:
        return self._services.settings

    @property
    def feeds(self) -> Syndication:
        """The feed files: build, publish scheduled articles, name and find them."""
        return self._services.feeds

    @property
    def inbound(self) -> Inbound:
        """Bounces, complaints and unsubscribes that come back: mail, IMAP, webhooks."""
        return self._services.inbound

    @property
    def admin(self) -> Admin:
        """The editor dashboard (editors, sessions, sends, subscriber care) and, as
        ``admin.engagement``, clicks and opens per edition x link and the edition report."""
        return self._services.admin

    @property
    def ops(self) -> Operations:
        """Running it: backups, the figures behind /metrics, ``config check``."""
        return self._services.ops

    def now(self) -> datetime:
        """The publisher's clock (a test's fixed time, else UTC now)."""
        return self._services.clock()

    def close(self) -> None:
        self._services.close()

    # --- articles ------------------------------------------------------------------------

    def add_sources(
        self, sources: Iterable[Source], choices: ImportChoices = ImportChoices()
    ) -> IngestReport:
        return self._services.articles.add_sources(sources, choices)

    def import_directory(
        self, directory: Path, choices: ImportChoices = ImportChoices()
    ) -> IngestReport:
        return self._services.articles.import_directory(directory, choices)

    def add_payload(self, name: str, data: bytes, fmt: str = "json") -> list[UpsertResult]:
        return self._services.articles.add_payload(name, data, fmt)

    def store_article(self, item: ArticleInput) -> UpsertResult:
        """Store one article built in Python (an embedding application's own source)."""
        return self._services.articles.add_items([item])[0]

    def retract_article(self, key: str) -> UpsertResult:
        return self._services.articles.retract(key)

    def articles(
        self, limit: int | None = 50, category: str | None = None, include_unpublished: bool = False
    ) -> list[Article]:
        return self._services.articles.listing(limit, category, include_unpublished)

    def article(self, key: str | int) -> Article:
        return self._services.articles.get(key)

    def categories(self) -> list[Category]:
        return self._services.articles.categories()

    # --- editions and sending ------------------------------------------------------------

    def preview_edition(
        self, frequency: Frequency | str, subscriber_email: str | None = None, language: str = ""
    ) -> DigestPreview:
        """What one reader (or, without an address, everyone) would get now; uncreated.

        In the reader's language (the site's for one who never chose), or ``language``."""
        return self._services.editions.preview(frequency, subscriber_email, language=language)

    def archive_html(self, key: str) -> str:
        return self._services.editions.archive_html(key)

    def sent_editions(self, limit: int, offset: int = 0) -> list[Edition]:
        return self._services.editions.sent(limit, offset)

    def send_test_copy(self, email: str, frequency: Frequency | str = Frequency.DAILY) -> str:
        return self._services.mailer.send_test_copy(email, frequency)

    def send_digest(
        self,
        frequency: Frequency,
        now: datetime | None = None,
        dry_run: bool = False,
        stop: threading.Event | None = None,
        on_progress: ProgressListener | None = None,
        on_start: Callable[[int], None] | None = None,
        on_wait: WaitListener | None = None,
        wake: threading.Event | None = None,
    ) -> SendReport:
        return self._services.mailer.send_digest(
            frequency, now, dry_run, stop, on_progress, on_start, on_wait, wake
        )

    def drain(
        self,
        stop: threading.Event | None = None,
        edition_ids: list[int] | None = None,
        forever: bool = False,
        on_progress: ProgressListener | None = None,
        message_factory: MessageFactory | None = None,
        on_wait: WaitListener | None = None,
        until_idle: bool = False,
    ) -> SendReport:
        return self._services.mailer.drain(
            stop, edition_ids, forever, on_progress, message_factory, on_wait, until_idle
        )

    def run_worker(
        self, stop: threading.Event, on_progress: ProgressListener | None = None
    ) -> SendReport:
        return self._services.mailer.run_worker(stop, on_progress)

    def delivery_status(self, edition_key: str | None = None) -> list[EditionDeliveryStatus]:
        return self._services.mailer.status(edition_key)

    def delivery_waves(self, edition_key: str) -> list[DeliveryWave]:
        """Local delivery: the edition's waves, each with its ledger rows by state."""
        return self._services.mailer.waves(edition_key)

    # --- readers -------------------------------------------------------------------------

    def subscribe(self, request: SubscribeRequest) -> None:
        self._services.subscriptions.subscribe(request)

    def confirm_subscription(self, token: str) -> Subscriber:
        return self._services.subscriptions.confirm_subscription(token)

    def unsubscribe(self, token: str) -> Subscriber:
        return self._services.subscriptions.unsubscribe(token)

    def update_preferences(
        self,
        token: str,
        frequency: Frequency,
        categories: Iterable[str],
        language: str | None = None,
        timezone: str | None = None,
    ) -> Subscriber:
        return self._services.subscriptions.update_preferences(
            token, frequency, categories, language, timezone
        )

    def subscriber_from_token(self, purpose: Purpose, token: str) -> Subscriber:
        return self._services.subscriptions.subscriber_from_token(purpose, token)

    def send_settings_link(self, email: str) -> None:
        self._services.subscriptions.send_settings_link(email)

    def signed_path(self, purpose: Purpose, subscriber: Subscriber) -> str:
        """A signed link as a path on this site (``/unsubscribe/TOKEN``) for a page's form."""
        return self._services.links.path(purpose, subscriber)

    def add_subscriber(self, request: SubscribeRequest, confirmed: bool) -> Subscriber:
        return self._services.subscriptions.add_subscriber(request, confirmed)

    def remove_subscriber(self, email: str) -> tuple[Subscriber, bool]:
        return self._services.subscriptions.remove_subscriber(email)

    def import_subscribers(
        self,
        stream: IO[bytes],
        source: str,
        confirmed: bool,
        batch_size: int = 1000,
        mapping: Mapping[str, str] | None = None,
    ) -> SubscriberImportReport:
        return self._services.subscriptions.import_subscribers(
            stream, source, confirmed, batch_size, mapping
        )

    def export_subscribers(self, out: IO[str], status: SubscriberStatus | None = None) -> int:
        return self._services.subscriptions.export_subscribers(out, status)

    def subscribers(self, status: SubscriberStatus | None = None) -> Iterator[Subscriber]:
        return self._services.subscriptions.listing(status)

    # --- the running service -------------------------------------------------------------

    def health(self) -> dict[str, object]:
        return self._services.health.report()

    def add_health_check(self, name: str, check: HealthCheck) -> None:
        self._services.health.add_check(name, check)

    def check_writable(self) -> None:
        """StoreError unless writes reach the database this process opened (web: 503)."""
        self._services.health.check_writable()

    def scheduler_store(self, lock_name: str) -> tuple[Engine, LeaderLock]:
        """The database the scheduler keeps its jobs in, and its leader lock."""
        store = self._services.store
        return store.engine, store.leader_lock(lock_name)
