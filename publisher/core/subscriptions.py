"""Readers: the subscription life cycle and the mails it sends (confirmation, settings links)."""

from __future__ import annotations

import csv
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import IO

from publisher.addresses import normalise_address
from publisher.config import Settings
from publisher.core.clock import Clock
from publisher.core.inbound import envelope_sender
from publisher.core.links import Links
from publisher.core.service_mails import ServiceMails
from publisher.delivery import TransportFactory
from publisher.exceptions import DeliveryError, NotFound, SubscriberError, TokenError
from publisher.store.subscriber_copy import Created
from publisher.store.subscribers import ImportItem, SubscriberRepository
from publisher.subscribers import (
    EXPORT_COLUMNS,
    ConfirmationMail,
    RejectedRow,
    SettingsLinkMail,
    SkippedRow,
    export_row,
    read_rows,
    service_message,
)
from publisher.text import N_
from publisher.tokens import MAX_AGE, Purpose, consent_generation
from publisher.types import Frequency, OutgoingMessage, Subscriber, SubscriberStatus

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
    language: str = ""  # "" = the site's (checked by parse_language)
    timezone: str = ""  # "" = the site's (checked by parse_timezone)


@dataclass
class SubscriberImportReport:
    """What a CSV import did: counts, and every skipped or rejected row with its line."""

    imported: int = 0
    updated: int = 0
    unchanged: int = 0
    skipped: list[RejectedRow] = field(default_factory=list)
    rejected: list[RejectedRow] = field(default_factory=list)
    mail_failed: list[RejectedRow] = field(default_factory=list)

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


@dataclass(eq=False)
class Subscriptions:
    """Readers: subscribe, confirm, preferences, unsubscribe, import and export."""

    subscribers: SubscriberRepository
    category_slugs: Callable[[], set[str]]
    settings: Settings
    links: Links
    transports: TransportFactory
    clock: Clock
    mails: ServiceMails

    def language_of(self, subscriber: Subscriber) -> str:
        """The language of a reader's mail: theirs, else the site's (resolved now)."""
        return subscriber.language or self.settings.site.language

    def known_categories(self) -> set[str]:
        return self.category_slugs()

    def _check_categories(self, categories: Iterable[str]) -> tuple[str, ...]:
        chosen = tuple(dict.fromkeys(categories))
        unknown = sorted(set(chosen) - self.known_categories())
        if unknown:
            raise SubscriberError(
                N_("unknown category: %(slugs)s"), "categories", slugs=", ".join(unknown)
            )
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
        subs = self.subscribers
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
                    language=request.language,
                    timezone=request.timezone,
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
                language=request.language or current.language,
                timezone=request.timezone or current.timezone,
            )
        for _, error in self.send_confirmations([current]):
            raise error

    def send_confirmations(
        self, subscribers: Iterable[Subscriber]
    ) -> list[tuple[Subscriber, DeliveryError]]:
        """Mail each pending subscriber its confirmation link; returns the failures.

        One failed message does not stop the others (an import mails thousands).
        """
        transport = self.transports()
        failures: list[tuple[Subscriber, DeliveryError]] = []
        try:
            for subscriber in subscribers:
                mail = ConfirmationMail(
                    *self._service_mail(subscriber),
                    confirm_url=self.links.url(
                        Purpose.CONFIRM, subscriber, self._generation(subscriber.email)
                    ),
                    valid_days=(MAX_AGE[Purpose.CONFIRM] or 0) // 86400,
                )
                body = self.mails.confirmation(mail, self.language_of(subscriber))
                message_id, data = service_message(mail, body, self.clock())
                try:
                    transport.send(self._service_message(subscriber, message_id, data))
                except DeliveryError as exc:
                    failures.append((subscriber, exc))
        finally:
            transport.close()
        return failures

    def _service_mail(self, subscriber: Subscriber) -> tuple[str, str, str, str, str, str]:
        """The ServiceMail fields (from, to, site) of a subscription mail to ``subscriber``."""
        settings = self.settings
        return (
            settings.digest.from_address,
            settings.digest.from_name or settings.site.title,
            subscriber.email,
            subscriber.name,
            settings.site.title,
            settings.site.url,
        )

    def _service_message(
        self, subscriber: Subscriber, message_id: str, data: bytes
    ) -> OutgoingMessage:
        """A subscription mail ready for the transport (kept apart from editions' mail)."""
        kind = "confirm" if subscriber.status is SubscriberStatus.PENDING else "settings"
        return OutgoingMessage(
            sender=envelope_sender(self.settings, kind, 0, subscriber.id),
            recipient=subscriber.email,
            message_id=message_id,
            data=data,
            edition_key=CONFIRMATION_MAILBOX,
        )

    def send_settings_link(self, email: str) -> None:
        """Mail an active reader their own preferences and unsubscribe links.

        Anyone else (unknown, pending, unsubscribed, suppressed) gets nothing, and the caller
        answers the same either way.
        """
        address = normalise_address(email)
        try:
            subscriber = self.subscribers.get_by_email(address)
        except NotFound:
            return
        if subscriber.status is not SubscriberStatus.ACTIVE:
            return
        if self.subscribers.is_suppressed(address):
            return
        mail = SettingsLinkMail(
            *self._service_mail(subscriber),
            preferences_url=self.links.url(Purpose.PREFERENCES, subscriber),
            unsubscribe_url=self.links.url(Purpose.UNSUBSCRIBE, subscriber),
        )
        body = self.mails.settings_link(mail, self.language_of(subscriber))
        message_id, data = service_message(mail, body, self.clock())
        transport = self.transports()
        try:
            transport.send(self._service_message(subscriber, message_id, data))
        finally:
            transport.close()

    def subscriber_from_token(self, purpose: Purpose, token: str) -> Subscriber:
        """The subscriber a signed link names; TokenError when forged, expired, or stale."""
        subscriber_id, tag = self.links.read(purpose, token)
        try:
            subscriber = self.subscribers.get(subscriber_id)
        except NotFound as exc:
            raise TokenError(N_("this link is no longer valid"), "token") from exc
        self.links.check_address(tag, subscriber.email)
        return subscriber

    def confirm_subscription(self, token: str) -> Subscriber:
        """Turn a pending subscriber active and record when consent was given.

        Confirming twice is harmless; a link from before an unsubscribe does not bring the
        reader back (they must subscribe, and confirm, again).
        """
        subscriber = self.subscriber_from_token(Purpose.CONFIRM, token)
        if subscriber.status is SubscriberStatus.ACTIVE:
            return subscriber
        if self.links.generation(token) != self._generation(subscriber.email):
            raise TokenError(
                N_("this confirmation link is from before an unsubscribe: use the newest one"),
                "token",
            )
        if subscriber.status is not SubscriberStatus.PENDING:
            raise TokenError(
                N_("this confirmation link is no longer valid: please subscribe again"), "token"
            )
        now = self.clock()
        if self.subscribers.suppression_reason(subscriber.email) == UNSUBSCRIBED_REASON:
            self.subscribers.unsuppress(subscriber.email)
        return self.subscribers.update(
            subscriber.id, now=now, status=SubscriberStatus.ACTIVE, consent_at=now
        )

    def unsubscribe(self, token: str) -> Subscriber:
        """RFC 8058: honoured at once, idempotent. The address is also suppressed, so a
        digest already being sent skips it, and an import cannot bring it back."""
        subscriber = self.subscriber_from_token(Purpose.UNSUBSCRIBE, token)
        return self.unsubscribe_subscriber(subscriber)

    def _generation(self, email: str) -> str:
        """The consent round of a confirmation link (see ``tokens.consent_generation``)."""
        return consent_generation(self.subscribers.suppressed_at(email, UNSUBSCRIBED_REASON))

    def unsubscribe_subscriber(self, subscriber: Subscriber) -> Subscriber:
        subs = self.subscribers
        subs.suppress(subscriber.email, UNSUBSCRIBED_REASON, now=self.clock(), restamp=True)
        if subscriber.status in (SubscriberStatus.PENDING, SubscriberStatus.ACTIVE):
            return subs.set_status(subscriber.id, SubscriberStatus.UNSUBSCRIBED, now=self.clock())
        return subscriber

    def update_preferences(
        self,
        token: str,
        frequency: Frequency,
        categories: Iterable[str],
        language: str | None = None,
        timezone: str | None = None,
    ) -> Subscriber:
        """Change frequency and categories (and, when given, language and time zone: ""
        means the site's) from a signed preferences link."""
        subscriber = self.subscriber_from_token(Purpose.PREFERENCES, token)
        if subscriber.status not in (SubscriberStatus.PENDING, SubscriberStatus.ACTIVE):
            raise SubscriberError(N_("you are unsubscribed: subscribe again first"), "status")
        return self.subscribers.update(
            subscriber.id,
            now=self.clock(),
            frequency=frequency,
            categories=self._check_categories(categories),
            **{
                key: value
                for key, value in (("language", language), ("timezone", timezone))
                if value is not None
            },
        )

    def add_subscriber(self, request: SubscribeRequest, confirmed: bool) -> Subscriber:
        """The CLI's add: refuses an existing or suppressed address (editors may know)."""
        email = normalise_address(request.email)
        reason = self.subscribers.suppression_reason(email)
        if reason is not None:
            raise SubscriberError(f"{email} is on the suppression list ({reason})", "email")
        status = SubscriberStatus.ACTIVE if confirmed else SubscriberStatus.PENDING
        subscriber = self.subscribers.add(
            email,
            name=request.name,
            status=status,
            frequency=request.frequency,
            categories=self._check_categories(request.categories),
            consent_method=request.method,
            consent_ip=request.ip,
            now=self.clock(),
            language=request.language,
            timezone=request.timezone,
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
        subscriber = self.subscribers.get_by_email(normalise_address(email))
        return subscriber, self.subscribers.remove(subscriber.id, now=self.clock())

    def import_subscribers(
        self,
        stream: IO[bytes],
        source: str,
        confirmed: bool,
        batch_size: int = 1000,
        mapping: Mapping[str, str] | None = None,
    ) -> SubscriberImportReport:
        """Stream a CSV file into the store and report on every row.

        Memory stays flat: rows stream into the store (``COPY`` on PostgreSQL, batches of
        ``batch_size`` on SQLite), duplicates are found through the store.
        Without ``confirmed`` each new address is pending and gets a confirmation mail; with
        it, the import records that consent was obtained elsewhere (method ``import``).
        """
        report = SubscriberImportReport()
        known = self.known_categories()
        status = SubscriberStatus.ACTIVE if confirmed else SubscriberStatus.PENDING

        def mail(page: Sequence[Created]) -> None:
            lines = {sid: line for line, sid, _, _ in page}
            failures = self.send_confirmations(
                Subscriber(id=i, email=e, name=n, status=status) for _, i, e, n in page
            )
            for subscriber, error in failures:
                report.mail_failed.append(
                    RejectedRow(
                        lines[subscriber.id],
                        f"imported, but the confirmation mail failed: {error}",
                    )
                )

        def items() -> Iterator[ImportItem]:
            for row in read_rows(stream, source, mapping):
                if isinstance(row, SkippedRow):  # before RejectedRow, its base
                    report.skipped.append(row)
                    continue
                if isinstance(row, RejectedRow):
                    report.rejected.append(row)
                    continue
                cats = row.categories
                if cats is None and row.tags:  # another tool's tags: those we publish
                    cats = tuple(t for t in row.tags if t in known) or None
                if cats and not known.issuperset(cats):
                    unknown = ", ".join(sorted(set(cats) - known))
                    report.rejected.append(RejectedRow(row.line, f"unknown category: {unknown}"))
                    continue
                yield ImportItem(
                    row.line,
                    row.email,
                    row.name,
                    row.frequency,
                    cats,
                    consent_at=row.consent_at,
                    language=row.language,
                    timezone=row.timezone,
                )

        outcome = self.subscribers.import_rows(
            items(), status, "import", self.clock(), None if confirmed else mail, batch_size
        )
        report.imported = outcome.created
        report.updated = outcome.updated
        report.unchanged = outcome.unchanged
        report.skipped.extend(RejectedRow(line, why) for line, why in outcome.skipped)
        report.mail_failed.sort(key=lambda r: r.line)
        report.skipped.sort(key=lambda r: r.line)
        return report

    def export_subscribers(self, out: IO[str], status: SubscriberStatus | None = None) -> int:
        """Write every subscriber as CSV (page by page); returns the number of rows."""
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(EXPORT_COLUMNS)
        count = 0
        for subscriber in self.subscribers.iter_all(status):
            writer.writerow(export_row(subscriber))
            count += 1
        return count

    def listing(self, status: SubscriberStatus | None = None) -> Iterator[Subscriber]:
        """Every subscriber (of one status), by id, read page by page."""
        return self.subscribers.iter_all(status)
