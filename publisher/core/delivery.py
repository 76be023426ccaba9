"""Delivery of editions through the ledger: plan, send, drain, report."""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import datetime

from publisher.core.digest import RENDER_CACHE_EDITIONS, DigestMixin, _ChoiceRender
from publisher.delivery import (
    MessageFactory,
    Sender,
    SenderOptions,
    Tally,
    TransportFactory,
    WaitListener,
)
from publisher.digest import RenderedEdition
from publisher.exceptions import PermanentDeliveryError
from publisher.types import (
    ClaimedDelivery,
    Edition,
    EditionDeliveryStatus,
    Frequency,
    OutgoingMessage,
    SendReport,
    Subscriber,
    SubscriberStatus,
)


class DeliveryMixin(DigestMixin):
    """Sending: ledger rows for an edition, senders, workers, status."""

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
            unrecorded=mail.unrecorded_per_connection,
        )

    def make_sender(
        self,
        message_factory: MessageFactory,
        on_progress: Callable[[Tally], None] | None = None,
        transport_factory: TransportFactory | None = None,
        on_wait: WaitListener | None = None,
    ) -> Sender:
        """A sender over the ledger: one transport (connection) per lane, settings applied."""
        return Sender(
            self.store.deliveries,
            transport_factory or self.make_transport,
            message_factory,
            self.sender_options(),
            clock=self.clock,
            on_progress=on_progress,
            on_wait=on_wait,
        )

    def drain(
        self,
        stop: threading.Event | None = None,
        edition_ids: Sequence[int] | None = None,
        forever: bool = False,
        on_progress: Callable[[Tally], None] | None = None,
        message_factory: MessageFactory | None = None,
        on_wait: WaitListener | None = None,
    ) -> SendReport:
        """Deliver claimable rows of ``edition_ids`` (every unfinished edition when None).

        Returns when every row is final (waiting for due retries), or with ``forever`` when
        ``stop`` is set: that is ``publisher worker`` and the scheduler's worker thread.
        """
        factory = message_factory or self.message_factory()
        sender = self.make_sender(factory, on_progress, on_wait=on_wait)
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
        if edition_key is None:
            return self.store.deliveries.status(with_empty=True)
        edition = self.store.editions.get(edition_key)  # NotFound when there is none
        return self.store.deliveries.status([edition.id], with_empty=True)

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
        return self.store.editions.settle(edition.id, now) or edition  # nobody to send to

    def send_digest(
        self,
        frequency: Frequency,
        now: datetime | None = None,
        dry_run: bool = False,
        stop: threading.Event | None = None,
        on_progress: Callable[[Tally], None] | None = None,
        on_start: Callable[[int], None] | None = None,
        on_wait: WaitListener | None = None,
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
        report = self.drain(stop, unfinished, on_progress=on_progress, on_wait=on_wait)
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
