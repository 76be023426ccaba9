"""The Publisher: the one place that wires the store, ingestion, feeds, digest and delivery.

The CLI, the web app and the scheduler each hold one Publisher and call its methods; none of
them talks to the store or the feeds directly. Time comes from an injectable clock so tests
(and the scheduler's catch-up logic) can say what "now" is.
"""

from __future__ import annotations

import csv
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import IO

from publisher.addresses import normalise_address
from publisher.config import Settings
from publisher.delivery import (
    MemoryTransport,
    MessageFactory,
    OutboxTransport,
    Sender,
    SenderOptions,
    SmtpOptions,
    SmtpTransport,
    Tally,
    Transport,
    TransportFactory,
)
from publisher.digest import (
    DigestOptions,
    DkimSigner,
    EmailRenderer,
    PlanOptions,
    RenderedEdition,
    first_window_start,
    load_signer,
    message_id_for,
    period_key,
    plan_audience,
    render_edition,
)
from publisher.exceptions import (
    DeliveryError,
    IngestError,
    NotFound,
    PermanentDeliveryError,
    PublisherError,
    SubscriberError,
    TokenError,
)
from publisher.feeds import MIME_TYPES, BuildReport, FeedRef, FeedService, Site, WebSubNotifier
from publisher.feeds import touched_by as feeds_touched_by
from publisher.ingest import IngestOptions, iter_source_files, parse_bytes, read_files
from publisher.resources import EMAIL_TEMPLATES_DIR
from publisher.store import Store, open_store
from publisher.store.subscribers import BatchOutcome, ImportItem
from publisher.subscribers import (
    EXPORT_COLUMNS,
    ConfirmationMail,
    RejectedRow,
    SettingsLinkMail,
    confirmation_message,
    export_row,
    read_rows,
    settings_link_message,
)
from publisher.tokens import MAX_AGE, Purpose, TokenSigner
from publisher.types import (
    Article,
    ArticleInput,
    Category,
    ClaimedDelivery,
    Edition,
    EditionDeliveryStatus,
    Frequency,
    OutgoingMessage,
    Recipient,
    SendReport,
    Subscriber,
    SubscriberStatus,
    UpsertOutcome,
    UpsertResult,
)

Clock = Callable[[], datetime]
_ChoiceRender = tuple[RenderedEdition, str | None]  # an edition rendered for one choice
RENDER_CACHE_EDITIONS = 4  # rendered editions kept by a long-running worker


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
        self._memory: MemoryTransport | None = None
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
        self._rendered: dict[str, RenderedEdition] = {}
        self._renderer: EmailRenderer | None = None
        self._signer: DkimSigner | None = None

    def close(self) -> None:
        self.websub.close()
        self.store.close()

    def make_transport(self) -> Transport:
        """The configured transport: one SMTP connection, the outbox folder, or memory."""
        kind = self.settings.mail.transport
        if kind == "memory":
            if self._memory is None:
                self._memory = MemoryTransport()
            return self._memory
        if kind == "smtp":
            return SmtpTransport(self.smtp_options())
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

    # --- digest ----------------------------------------------------------------------------

    @property
    def digest_options(self) -> DigestOptions:
        s = self.settings
        return DigestOptions(
            site_title=s.site.title,
            site_url=s.site.url,
            from_address=s.digest.from_address,
            from_name=s.digest.from_name,
            reply_to=s.digest.reply_to,
            logo_url=s.site.logo_url,
            logo_width=s.digest.logo_width,
            logo_height=s.digest.logo_height,
            postal_address=s.site.postal_address,
            language=s.site.language,
            timezone=s.zone,
            sender_id=s.digest.sender_id,
            plan=PlanOptions(s.digest.max_articles, s.digest.category_order),
        )

    @property
    def message_domain(self) -> str:
        """The domain of Message-IDs: the sending domain (aligned with DKIM's d=)."""
        return self.settings.digest.from_address.rpartition("@")[2].lower() or "localhost"

    def email_renderer(self) -> EmailRenderer:
        if self._renderer is None:
            self._renderer = EmailRenderer(EMAIL_TEMPLATES_DIR)
        return self._renderer

    def dkim_signer(self) -> DkimSigner | None:
        """The DKIM signer when a key is configured (checked once: readable, aligned)."""
        dkim = self.settings.dkim
        if not dkim.private_key_path:
            return None
        if self._signer is None:
            self._signer = load_signer(
                self.settings.path(dkim.private_key_path),
                dkim.selector,
                dkim.domain,
                self.settings.digest.from_address,
            )
        return self._signer

    def _next_window(self, frequency: Frequency, now: datetime) -> tuple[datetime, list[Article]]:
        previous = self.store.editions.latest(frequency)
        start = previous.window_end if previous else first_window_start(frequency, now)
        return start, self.store.articles.published_between(start, now)

    def _status_for(self, article_ids: list[int]) -> str:
        return "open" if article_ids or self.settings.digest.send_empty else "skipped"

    def plan_edition(self, frequency: Frequency | str, now: datetime | None = None) -> Edition:
        """The edition that would go out now, without creating it (``id`` 0 when new)."""
        frequency = Frequency(frequency)
        now = now or self.clock()
        key = period_key(frequency, now, self.settings.zone)
        existing = self.store.editions.find(key)
        if existing is not None:
            return existing
        start, articles = self._next_window(frequency, now)
        ids = [a.id for a in articles]
        return Edition(0, key, frequency, start, now, tuple(ids), now, self._status_for(ids))

    def open_edition(self, frequency: Frequency | str, now: datetime | None = None) -> Edition:
        """Create (or return) the edition of the current period.

        Its window starts where the previous edition of the same kind was cut, so nothing
        is skipped after downtime and nothing is sent twice; the first edition ever reaches
        back one period (24 hours or 7 days). An edition without articles is stored as
        ``skipped`` unless ``digest.send_empty``, so its cutoff still counts.
        """
        planned = self.plan_edition(frequency, now)
        if planned.id:
            return planned
        return self.store.editions.open(
            planned.key,
            planned.frequency,
            planned.window_end,
            planned.article_ids,
            window_start=planned.window_start,
            status=planned.status,
            now=planned.created_at,
        )

    def edition_articles(self, edition: Edition) -> tuple[Article, ...]:
        """The edition's stored articles, newest first, without any retracted since."""
        found = self.store.articles.by_ids(edition.article_ids)
        live = [a for a in found if not a.retracted]
        live.sort(key=lambda a: (a.published_at, a.id), reverse=True)
        return tuple(live)

    def _eligible(self, edition: Edition) -> list[Subscriber]:
        if edition.status == "skipped":
            return []
        return self.store.subscribers.eligible(edition.frequency)

    def edition_recipients(self, edition: Edition) -> list[tuple[Subscriber, str]]:
        """Eligible subscribers with the variant each gets; those who get nothing are left out."""
        subscribers = self._eligible(edition)
        audience = plan_audience(
            self.edition_articles(edition), subscribers, self.digest_options.plan
        )
        return [
            (s, audience.assignments[s.id]) for s in subscribers if s.id in audience.assignments
        ]

    def render_edition(self, edition: Edition) -> RenderedEdition:
        """Every variant of the edition rendered once (cached per edition key)."""
        cached = self._rendered.get(edition.key)
        if cached is None:
            cached = self._render(edition, self._eligible(edition))
            while len(self._rendered) >= RENDER_CACHE_EDITIONS:
                self._rendered.pop(next(iter(self._rendered)))  # the oldest rendered
            self._rendered[edition.key] = cached
        return cached

    def _render(
        self,
        edition: Edition,
        subscribers: list[Subscriber],
        options: DigestOptions | None = None,
    ) -> RenderedEdition:
        options = options or self.digest_options
        audience = plan_audience(self.edition_articles(edition), subscribers, options.plan)
        return render_edition(
            edition.key,
            edition.frequency,
            edition.window_end,
            audience,
            options,
            self.email_renderer(),
            signer=self.dkim_signer(),
            clock=self.clock,
        )

    def recipient_for(self, edition: Edition, subscriber: Subscriber) -> Recipient:
        """The per-reader values of one message: Message-ID and signed links."""
        tokens = TokenSigner(self.settings.secret_key)
        base = self.settings.site.url.rstrip("/")
        host = self.digest_options.host
        unsubscribe = tokens.make(Purpose.UNSUBSCRIBE, subscriber.id, subscriber.email)
        preferences = tokens.make(Purpose.PREFERENCES, subscriber.id, subscriber.email)
        return Recipient(
            subscriber_id=subscriber.id,
            email=subscriber.email,
            name=subscriber.name,
            message_id=message_id_for(edition.key, subscriber.id, self.message_domain),
            unsubscribe_url=f"{base}/unsubscribe/{unsubscribe}",
            unsubscribe_mailto=f"mailto:unsubscribe@{host}?subject={unsubscribe}",
            preferences_url=f"{base}/preferences/{preferences}",
        )

    def preview_edition(
        self,
        frequency: Frequency | str,
        subscriber_email: str | None = None,
        now: datetime | None = None,
    ) -> DigestPreview:
        """What one reader would get now (a real subscriber, or everything), uncreated."""
        edition = self.plan_edition(frequency, now)
        if subscriber_email:
            subscriber = self.store.subscribers.get_by_email(normalise_address(subscriber_email))
        else:
            subscriber = Subscriber(
                0, self.settings.digest.from_address, "", SubscriberStatus.ACTIVE
            )
        rendered = self._render(edition, [subscriber])
        if rendered.variant_of(subscriber.id) is None:
            raise NotFound(f"article in {edition.key} for the choices of", subscriber.email)
        recipient = self.recipient_for(edition, subscriber)
        variant = rendered.variant_for(subscriber.id)
        return DigestPreview(
            edition=edition,
            subject=variant.subject,
            html=variant.personal_html(recipient),
            text=variant.personal_text(recipient),
            message=rendered.message_for(recipient),
        )

    def archive_html(self, key: str) -> str:
        """The web copy of a stored edition ("view in browser"), with every article.

        The copy is not capped (the archive is where "N more stories" points) and its
        footer links go to the site's generic unsubscribe and preferences pages.
        """
        edition = self.store.editions.get(key)
        reader = Subscriber(0, self.settings.digest.from_address, "", SubscriberStatus.ACTIVE)
        options = self.digest_options
        count = max(1, len(edition.article_ids))
        uncapped = replace(options, plan=replace(options.plan, max_articles=count))
        rendered = self._render(edition, [reader], uncapped)
        base = self.settings.site.url.rstrip("/")
        recipient = Recipient(
            subscriber_id=0,
            email=reader.email,
            name="",
            message_id=message_id_for(edition.key, 0, self.message_domain),
            unsubscribe_url=f"{base}/unsubscribe",
            unsubscribe_mailto=f"mailto:unsubscribe@{options.host}",
            preferences_url=f"{base}/preferences",
        )
        return rendered.variant_for(0).personal_html(recipient)

    def send_test_copy(self, email: str, frequency: Frequency | str = Frequency.DAILY) -> str:
        """Send one copy of the edition that would go out now to ``email``; returns the reply.

        The edition is not created and no ledger row is written; the copy carries links for
        subscriber 0, which the web refuses, so a forwarded test copy unsubscribes nobody.
        """
        address = normalise_address(email)
        edition = self.plan_edition(frequency)
        reader = Subscriber(0, address, "", SubscriberStatus.ACTIVE)
        rendered = self._render(edition, [reader])
        if rendered.variant_of(0) is None:  # pragma: no cover - no choices means everything
            raise NotFound("variant for", address)
        recipient = self.recipient_for(edition, reader)
        message = rendered.message_for(recipient)
        transport = self.make_transport()
        try:
            return transport.send(message)
        finally:
            transport.close()

    # --- subscribers -----------------------------------------------------------------------

    @property
    def signer(self) -> TokenSigner:
        """Signs and reads the links in mail; TokenError when no secret key is configured."""
        return TokenSigner(self.settings.secret_key)

    def link(self, purpose: Purpose, subscriber: Subscriber) -> str:
        """The absolute URL of a signed link (``/confirm/``, ``/unsubscribe/``, ...)."""
        token = self.signer.make(purpose, subscriber.id, subscriber.email)
        return f"{self.settings.site.url.rstrip('/')}/{purpose.value}/{token}"

    def known_categories(self) -> set[str]:
        return {c.slug for c in self.store.articles.categories()}

    def _check_categories(self, categories: Iterable[str]) -> tuple[str, ...]:
        chosen = tuple(dict.fromkeys(categories))
        unknown = sorted(set(chosen) - self.known_categories())
        if unknown:
            raise SubscriberError(f"unknown category: {', '.join(unknown)}", "categories")
        return chosen

    def subscribe(self, request: SubscribeRequest) -> None:
        """Double opt-in: make or renew a pending subscriber and mail a confirmation.

        Returns nothing on purpose: the caller answers the same whether the address was new,
        pending, active or suppressed, so nobody can learn who subscribes. Active readers
        and bounced, complained or suppressed addresses get no mail; an address that
        unsubscribed becomes pending and must confirm again.
        """
        email = normalise_address(request.email)
        categories = self._check_categories(request.categories)
        frequency = request.frequency
        now = self.clock()
        subs = self.store.subscribers
        reason = subs.suppression_reason(email)
        if reason is not None and reason != UNSUBSCRIBED_REASON:
            return
        try:
            current = subs.get_by_email(email)
        except NotFound:
            try:
                current = subs.add(
                    email,
                    name=request.name,
                    frequency=frequency,
                    categories=categories,
                    consent_method=request.method,
                    consent_ip=request.ip,
                    now=now,
                )
            except SubscriberError:  # added a moment ago by a concurrent request
                return
        else:
            if current.status is SubscriberStatus.ACTIVE or current.status in _NEVER_MAIL:
                return
            recent = current.updated_at and now - current.updated_at < CONFIRMATION_COOLDOWN
            if current.status is SubscriberStatus.PENDING and recent:
                return  # a link went out minutes ago: do not let anyone flood an inbox
            current = subs.update(
                current.id,
                now=now,
                status=SubscriberStatus.PENDING,
                name=request.name or current.name,
                frequency=frequency,
                categories=categories,
                consent_method=request.method,
                consent_ip=request.ip,
                consent_at=None,
            )
        for _, error in self.send_confirmations([current]):
            raise error

    def send_confirmations(
        self, subscribers: Iterable[Subscriber]
    ) -> list[tuple[Subscriber, DeliveryError]]:
        """Mail each pending subscriber its confirmation link; returns the failures.

        One failed message does not stop the others (an import mails thousands).
        """
        settings = self.settings
        transport = self.make_transport()
        failures: list[tuple[Subscriber, DeliveryError]] = []
        try:
            for subscriber in subscribers:
                mail = ConfirmationMail(
                    sender=settings.digest.from_address,
                    sender_name=settings.digest.from_name or settings.site.title,
                    recipient=subscriber.email,
                    recipient_name=subscriber.name,
                    site_title=settings.site.title,
                    site_url=settings.site.url,
                    confirm_url=self.link(Purpose.CONFIRM, subscriber),
                    valid_days=(MAX_AGE[Purpose.CONFIRM] or 0) // 86400,
                )
                message_id, data = confirmation_message(mail, self.clock())
                message = OutgoingMessage(
                    sender=settings.digest.from_address,
                    recipient=subscriber.email,
                    message_id=message_id,
                    data=data,
                    edition_key=CONFIRMATION_MAILBOX,
                )
                try:
                    transport.send(message)
                except DeliveryError as exc:
                    failures.append((subscriber, exc))
        finally:
            transport.close()
        return failures

    def send_settings_link(self, email: str) -> None:
        """Mail an active reader their own preferences and unsubscribe links.

        Anyone else (unknown, pending, unsubscribed, suppressed) gets nothing, and the caller
        answers the same either way.
        """
        address = normalise_address(email)
        try:
            subscriber = self.store.subscribers.get_by_email(address)
        except NotFound:
            return
        if subscriber.status is not SubscriberStatus.ACTIVE:
            return
        if self.store.subscribers.is_suppressed(address):
            return
        settings = self.settings
        mail = SettingsLinkMail(
            sender=settings.digest.from_address,
            sender_name=settings.digest.from_name or settings.site.title,
            recipient=subscriber.email,
            recipient_name=subscriber.name,
            site_title=settings.site.title,
            site_url=settings.site.url,
            preferences_url=self.link(Purpose.PREFERENCES, subscriber),
            unsubscribe_url=self.link(Purpose.UNSUBSCRIBE, subscriber),
        )
        message_id, data = settings_link_message(mail, self.clock())
        transport = self.make_transport()
        try:
            transport.send(
                OutgoingMessage(
                    sender=settings.digest.from_address,
                    recipient=subscriber.email,
                    message_id=message_id,
                    data=data,
                    edition_key=CONFIRMATION_MAILBOX,
                )
            )
        finally:
            transport.close()

    def subscriber_from_token(self, purpose: Purpose, token: str) -> Subscriber:
        """The subscriber a signed link names; TokenError when forged, expired, or stale."""
        subscriber_id, tag = self.signer.read(purpose, token)
        try:
            subscriber = self.store.subscribers.get(subscriber_id)
        except NotFound as exc:
            raise TokenError("this link is no longer valid", "token") from exc
        self.signer.check_address(tag, subscriber.email)
        return subscriber

    def confirm_subscription(self, token: str) -> Subscriber:
        """Turn a pending subscriber active and record when consent was given.

        Confirming twice is harmless; a link from before an unsubscribe does not bring the
        reader back (they must subscribe, and confirm, again).
        """
        subscriber = self.subscriber_from_token(Purpose.CONFIRM, token)
        if subscriber.status is SubscriberStatus.ACTIVE:
            return subscriber
        if subscriber.status is not SubscriberStatus.PENDING:
            raise TokenError(
                "this confirmation link is no longer valid: please subscribe again", "token"
            )
        now = self.clock()
        if self.store.subscribers.suppression_reason(subscriber.email) == UNSUBSCRIBED_REASON:
            self.store.subscribers.unsuppress(subscriber.email)
        return self.store.subscribers.update(
            subscriber.id, now=now, status=SubscriberStatus.ACTIVE, consent_at=now
        )

    def unsubscribe(self, token: str) -> Subscriber:
        """RFC 8058: honoured at once, idempotent. The address is also suppressed, so a
        digest already being sent skips it, and an import cannot bring it back."""
        subscriber = self.subscriber_from_token(Purpose.UNSUBSCRIBE, token)
        return self.unsubscribe_subscriber(subscriber)

    def unsubscribe_subscriber(self, subscriber: Subscriber) -> Subscriber:
        subs = self.store.subscribers
        subs.suppress(subscriber.email, UNSUBSCRIBED_REASON, now=self.clock())
        if subscriber.status in (SubscriberStatus.PENDING, SubscriberStatus.ACTIVE):
            return subs.set_status(subscriber.id, SubscriberStatus.UNSUBSCRIBED, now=self.clock())
        return subscriber

    def update_preferences(
        self, token: str, frequency: Frequency, categories: Iterable[str]
    ) -> Subscriber:
        """Change frequency and categories from a signed preferences link."""
        subscriber = self.subscriber_from_token(Purpose.PREFERENCES, token)
        if subscriber.status not in (SubscriberStatus.PENDING, SubscriberStatus.ACTIVE):
            raise SubscriberError("you are unsubscribed: subscribe again first", "status")
        return self.store.subscribers.update(
            subscriber.id,
            now=self.clock(),
            frequency=frequency,
            categories=self._check_categories(categories),
        )

    def add_subscriber(self, request: SubscribeRequest, confirmed: bool) -> Subscriber:
        """The CLI's add: refuses an existing or suppressed address (editors may know)."""
        email = normalise_address(request.email)
        reason = self.store.subscribers.suppression_reason(email)
        if reason is not None:
            raise SubscriberError(f"{email} is on the suppression list ({reason})", "email")
        status = SubscriberStatus.ACTIVE if confirmed else SubscriberStatus.PENDING
        subscriber = self.store.subscribers.add(
            email,
            name=request.name,
            status=status,
            frequency=request.frequency,
            categories=self._check_categories(request.categories),
            consent_method=request.method,
            consent_ip=request.ip,
            now=self.clock(),
        )
        if not confirmed:
            for _, error in self.send_confirmations([subscriber]):
                raise DeliveryError(
                    f"{email} was added (pending) but its confirmation mail failed: {error}"
                ) from error
        return subscriber

    def remove_subscriber(self, email: str) -> tuple[Subscriber, bool]:
        """Delete a subscriber by address (NotFound when there is none).

        Returns the subscriber as it was and whether the row was deleted (False: erased in
        place because the delivery ledger refers to it).
        """
        subscriber = self.store.subscribers.get_by_email(normalise_address(email))
        return subscriber, self.store.subscribers.remove(subscriber.id, now=self.clock())

    def import_subscribers(
        self, stream: IO[bytes], source: str, confirmed: bool, batch_size: int = 1000
    ) -> SubscriberImportReport:
        """Stream a CSV file into the store, batch by batch, and report on every row.

        Memory stays flat: one batch of rows at a time, duplicates found through the store.
        Without ``confirmed`` each new address is pending and gets a confirmation mail; with
        it, the import records that consent was obtained elsewhere (method ``import``).
        """
        report = SubscriberImportReport()
        known = self.known_categories()
        status = SubscriberStatus.ACTIVE if confirmed else SubscriberStatus.PENDING
        now = self.clock()
        batch: dict[str, ImportItem] = {}

        def flush() -> None:
            outcome = self.store.subscribers.import_batch(
                list(batch.values()), status, "import", now
            )
            report.add(outcome)
            if not confirmed and outcome.created:
                failures = self.send_confirmations(
                    Subscriber(id=i, email=e, name=n, status=status) for i, e, n in outcome.created
                )
                for subscriber, error in failures:
                    line = batch[subscriber.email].line
                    report.mail_failed.append(
                        RejectedRow(line, f"imported, but the confirmation mail failed: {error}")
                    )
            batch.clear()

        for row in read_rows(stream, source):
            if isinstance(row, RejectedRow):
                report.rejected.append(row)
                continue
            unknown = sorted(set(row.categories or ()) - known)
            if unknown:
                report.rejected.append(
                    RejectedRow(row.line, f"unknown category: {', '.join(unknown)}")
                )
            elif row.email in batch:
                first = batch[row.email].line
                report.skipped.append(RejectedRow(row.line, f"duplicate of line {first}"))
            else:
                batch[row.email] = ImportItem(
                    row.line, row.email, row.name, row.frequency, row.categories
                )
                if len(batch) >= batch_size:
                    flush()
        if batch:
            flush()
        report.skipped.sort(key=lambda r: r.line)
        return report

    def export_subscribers(self, out: IO[str], status: SubscriberStatus | None = None) -> int:
        """Write every subscriber as CSV (page by page); returns the number of rows."""
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(EXPORT_COLUMNS)
        count = 0
        for subscriber in self.store.subscribers.iter_all(status):
            writer.writerow(export_row(subscriber))
            count += 1
        return count

    # --- delivery ---------------------------------------------------------------------------

    def smtp_options(self) -> SmtpOptions:
        smtp = self.settings.smtp
        return SmtpOptions(
            host=smtp.host,
            port=smtp.port,
            security=smtp.security,
            username=smtp.username,
            password=str(smtp.password),
            timeout=smtp.timeout,
        )

    def sender_options(self) -> SenderOptions:
        mail, smtp = self.settings.mail, self.settings.smtp
        remote = mail.transport == "smtp"
        return SenderOptions(
            batch_size=mail.batch_size,
            lease_seconds=mail.lease_seconds,
            max_attempts=mail.max_attempts,
            retry_base_seconds=mail.retry_base_seconds,
            connections=smtp.connections if remote else 1,
            rate=smtp.rate if remote else 0.0,
            poll_seconds=mail.poll_seconds,
        )

    def make_sender(
        self,
        message_factory: MessageFactory,
        on_progress: Callable[[Tally], None] | None = None,
        transport_factory: TransportFactory | None = None,
    ) -> Sender:
        """A sender over the ledger: one transport (connection) per lane, settings applied."""
        return Sender(
            self.store.deliveries,
            transport_factory or self.make_transport,
            message_factory,
            self.sender_options(),
            clock=self.clock,
            on_progress=on_progress,
        )

    def drain(
        self,
        stop: threading.Event | None = None,
        edition_ids: Sequence[int] | None = None,
        forever: bool = False,
        on_progress: Callable[[Tally], None] | None = None,
        message_factory: MessageFactory | None = None,
    ) -> SendReport:
        """Deliver claimable rows of ``edition_ids`` (every unfinished edition when None).

        Returns when every row is final (waiting for due retries), or with ``forever`` when
        ``stop`` is set: that is ``publisher worker`` and the scheduler's worker thread.
        """
        factory = message_factory or self.message_factory()
        sender = self.make_sender(factory, on_progress)
        tally = sender.run(stop, edition_ids, forever)
        keys = [s.edition_key for s in self.store.deliveries.status(edition_ids)]
        left = sum(s.unfinished for s in self.store.deliveries.status(edition_ids))
        return tally.report(", ".join(keys) if edition_ids is not None else "", unfinished=left)

    def run_worker(
        self, stop: threading.Event, on_progress: Callable[[Tally], None] | None = None
    ) -> SendReport:
        """Drain every edition until ``stop`` is set (callable from any thread)."""
        return self.drain(stop, forever=True, on_progress=on_progress)

    def delivery_status(self, edition_key: str | None = None) -> list[EditionDeliveryStatus]:
        """Ledger counts by state, per edition (or of one edition, NotFound if it has none)."""
        self.store.deliveries.expire_leases(self.clock())
        found = self.store.deliveries.status()
        if edition_key is None:
            return found
        chosen = [s for s in found if s.edition_key == edition_key]
        if not chosen:
            raise NotFound("edition with deliveries", edition_key)
        return chosen

    def unfinished_count(self, edition_ids: Sequence[int] | None = None) -> int:
        return sum(s.unfinished for s in self.store.deliveries.status(edition_ids))

    # (the digest engineer's open_edition, edition_recipients, render_edition, recipient_for)

    def prepare_digest(self, frequency: Frequency, now: datetime | None = None) -> Edition:
        """Open the period's edition and add its missing ledger rows (one batched insert).

        Idempotent: existing (edition, subscriber) pairs are left alone, so a rerun or a
        second process adds nothing.
        """
        now = now or self.clock()
        edition = self.open_edition(frequency, now)
        recipients = self.edition_recipients(edition)
        rows = [(subscriber.id, variant) for subscriber, variant in recipients]
        self.store.deliveries.create(edition.id, rows, now)
        return edition

    def send_digest(
        self,
        frequency: Frequency,
        now: datetime | None = None,
        dry_run: bool = False,
        stop: threading.Event | None = None,
        on_progress: Callable[[Tally], None] | None = None,
        on_start: Callable[[int], None] | None = None,
    ) -> SendReport:
        """Create or resume the period's edition and deliver it, resuming older ones first.

        ``on_start`` hears how many deliveries are outstanding before the first is sent.
        """
        if dry_run:
            return self.plan_digest(frequency, now)
        edition = self.prepare_digest(frequency, now)
        unfinished = self.store.deliveries.unfinished_editions()
        if on_start is not None:
            on_start(self.unfinished_count(unfinished))
        report = self.drain(stop, unfinished, on_progress=on_progress)
        if edition.status == "skipped":  # no articles this period (digest.send_empty off)
            report.extra["skipped"] = 1
        return replace(report, edition_key=edition.key)

    def plan_digest(self, frequency: Frequency, now: datetime | None = None) -> SendReport:
        """What ``send_digest`` would do, counted; nothing sent, nothing written."""
        edition = self.plan_edition(frequency, now)
        recipients = self.edition_recipients(edition)
        status = self.store.deliveries.status([edition.id]) if edition.id else []
        in_ledger = status[0].total if status else 0
        unfinished = self.unfinished_count(self.store.deliveries.unfinished_editions())
        return SendReport(
            edition.key,
            extra={
                "recipients": len(recipients),
                "new": max(len(recipients) - in_ledger, 0),
                "unfinished": unfinished,
            },
        )

    def message_factory(self) -> MessageFactory:
        """Claimed row -> message: each variant rendered once per process, then only bytes.

        Variants are rendered for one reader per distinct category choice, as rows come,
        not for the whole audience at once: a worker's memory does not grow with the list.
        Thread-safe (the sender's lanes call it): rendering is done under a lock, once.
        """
        cache: dict[int, tuple[Edition, dict[frozenset[str], _ChoiceRender]]] = {}
        lock = threading.Lock()

        def build(claim: ClaimedDelivery) -> OutgoingMessage:
            choice = frozenset(claim.categories)
            entry = cache.get(claim.edition_id)
            found = entry[1].get(choice) if entry else None
            if entry is None or found is None:
                with lock:
                    entry, found = self._render_choice(cache, claim, choice)
            edition, (rendered, variant) = entry[0], found
            if variant is None:
                raise PermanentDeliveryError(
                    f"edition {claim.edition_key} has nothing for the categories of "
                    f"subscriber {claim.subscriber_id} any more"
                )
            personal = RenderedEdition(
                rendered.edition_key,
                rendered.variants,
                {claim.subscriber_id: variant},
                rendered.sender,
                rendered.signer,
                rendered.clock,
            )
            reader = Subscriber(id=claim.subscriber_id, email=claim.email, name=claim.name)
            return personal.message_for(self.recipient_for(edition, reader))

        return build

    def _render_choice(
        self,
        cache: dict[int, tuple[Edition, dict[frozenset[str], _ChoiceRender]]],
        claim: ClaimedDelivery,
        choice: frozenset[str],
    ) -> tuple[tuple[Edition, dict[frozenset[str], _ChoiceRender]], _ChoiceRender]:
        entry = cache.get(claim.edition_id)
        if entry is None:
            while len(cache) >= RENDER_CACHE_EDITIONS:
                cache.pop(next(iter(cache)))
            entry = cache[claim.edition_id] = (self.store.editions.get(claim.edition_key), {})
        edition, choices = entry
        found = choices.get(choice)
        if found is None:
            reader = Subscriber(
                claim.subscriber_id,
                claim.email,
                claim.name,
                SubscriberStatus.ACTIVE,
                edition.frequency,
                tuple(sorted(choice)),
            )
            rendered = self._render(edition, [reader])
            found = choices[choice] = (rendered, rendered.variant_of(claim.subscriber_id))
        return entry, found

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
            report["last_edition"] = self.last_edition_summary()
        except PublisherError as exc:
            report.update(status="error", database=str(exc))
        for name, check in self._health_checks.items():
            report[name] = check()
        return report

    def last_edition_summary(self) -> dict[str, object] | None:
        """The newest edition of any kind and its ledger counts (None before the first)."""
        found = [e for f in Frequency if (e := self.store.editions.latest(f)) is not None]
        if not found:
            return None
        edition = max(found, key=lambda e: (e.created_at, e.id))
        return {
            "key": edition.key,
            "status": edition.status,
            "created_at": edition.created_at.isoformat(),
            "articles": len(edition.article_ids),
            "counts": self._edition_counts(edition.id),
        }

    def _edition_counts(self, edition_id: int) -> dict[str, int]:
        """Ledger rows of one edition by state (empty before its rows are made)."""
        status = self.store.deliveries.status([edition_id])
        return dict(status[0].counts) if status else {}


UNSUBSCRIBED_REASON = "unsubscribed"
CONFIRMATION_COOLDOWN = timedelta(minutes=10)
CONFIRMATION_MAILBOX = "confirmations"
_NEVER_MAIL = (SubscriberStatus.BOUNCED, SubscriberStatus.COMPLAINED)


@dataclass(frozen=True)
class SubscribeRequest:
    """A request to subscribe, from the form, the JSON API or the CLI (``method``)."""

    email: str
    name: str = ""
    frequency: Frequency = Frequency.DAILY
    categories: tuple[str, ...] = ()
    method: str = "form"
    ip: str = ""


@dataclass
class SubscriberImportReport:
    """What a CSV import did: counts, and every skipped or rejected row with its line."""

    imported: int = 0
    updated: int = 0
    unchanged: int = 0
    skipped: list[RejectedRow] = field(default_factory=list)
    rejected: list[RejectedRow] = field(default_factory=list)
    mail_failed: list[RejectedRow] = field(default_factory=list)

    def add(self, outcome: BatchOutcome) -> None:
        self.imported += len(outcome.created)
        self.updated += outcome.updated
        self.unchanged += outcome.unchanged
        self.skipped.extend(RejectedRow(line, why) for line, why in outcome.skipped)

    @property
    def ok(self) -> bool:
        return not self.rejected and not self.mail_failed

    def summary(self) -> str:
        text = (
            f"{self.imported} imported, {self.updated} updated, "
            f"{self.unchanged + len(self.skipped)} skipped, {len(self.rejected)} rejected"
        )
        if self.mail_failed:
            text += f", {len(self.mail_failed)} confirmation mail(s) failed"
        return text


@dataclass(frozen=True)
class DigestPreview:
    """A reader's digest as files: decoded HTML and text, and the message as sent."""

    edition: Edition
    subject: str
    html: str
    text: str
    message: OutgoingMessage
