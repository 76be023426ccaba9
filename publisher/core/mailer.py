"""Sending through the ledger: create an edition's rows, drain them, report on them.

The ledger row (edition, subscriber) is unique, so a rerun, a second process or the
scheduler never makes a second one; the :class:`~publisher.delivery.Sender` claims rows in
batches and records every outcome.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime

from publisher.config import Settings
from publisher.core.clock import Clock
from publisher.core.editions import Editions
from publisher.core.local_delivery import LocalDelivery
from publisher.delivery import (
    MessageFactory,
    Sender,
    SenderOptions,
    Tally,
    TransportFactory,
    WaitListener,
)
from publisher.digest import period_key
from publisher.store.deliveries import DeliveryRepository
from publisher.types import DeliveryWave, Edition, EditionDeliveryStatus, Frequency, SendReport

ProgressListener = Callable[[Tally], None]


def sender_options(settings: Settings) -> SenderOptions:
    mail, smtp = settings.mail, settings.smtp
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
        ledger_flush=mail.ledger_flush,
    )


@dataclass(eq=False)
class Mailer:
    """Delivers editions (send now, drain, worker), counts the ledger, sends test copies."""

    deliveries: DeliveryRepository
    editions: Editions
    transports: TransportFactory
    options: SenderOptions
    clock: Clock
    local: LocalDelivery | None = None  # digest.local_delivery: readers' own mornings
    listeners: list[Callable[[Edition], None]] = field(default_factory=list)

    def on_edition(self, listener: Callable[[Edition], None]) -> None:
        """Call ``listener`` with each edition this process opens or starts sending (the
        web's page cache: the archive lists an edition from its close)."""
        self.listeners.append(listener)

    def drain(
        self,
        stop: threading.Event | None = None,
        edition_ids: Sequence[int] | None = None,
        forever: bool = False,
        on_progress: ProgressListener | None = None,
        message_factory: MessageFactory | None = None,
        on_wait: WaitListener | None = None,
        until_idle: bool = False,
        wake: threading.Event | None = None,
    ) -> SendReport:
        """Deliver claimable rows of ``edition_ids`` (every unfinished edition when None).

        Returns when every row is final (waiting for due retries), or with ``forever`` when
        ``stop`` is set: that is ``publisher worker`` and the scheduler's worker thread.
        ``until_idle`` and ``wake``: see :meth:`Sender.run` (the helpers of a send).
        """
        factory = message_factory or self.editions.message_factory()
        sender = Sender(
            self.deliveries,
            self.transports,
            factory,
            self.options,
            clock=self.clock,
            on_progress=on_progress,
            on_wait=on_wait,
            # The editions' messages are signed by this signer (None: not signed); given
            # a factory of its own, the caller's messages are not known to be.
            signer=self.editions.signer() if message_factory is None else None,
        )
        tally = sender.run(stop, edition_ids, forever, until_idle, wake)
        status = self.deliveries.status(edition_ids)
        keys = ", ".join(s.edition_key for s in status) if edition_ids is not None else ""
        return tally.report(keys, unfinished=sum(s.unfinished for s in status))

    def run_worker(
        self, stop: threading.Event, on_progress: ProgressListener | None = None
    ) -> SendReport:
        """Drain every edition until ``stop`` is set (callable from any thread)."""
        return self.drain(stop, forever=True, on_progress=on_progress)

    def status(self, edition_key: str | None = None) -> list[EditionDeliveryStatus]:
        """Each edition's state and ledger counts by state (or one edition's; NotFound)."""
        self.deliveries.expire_leases(self.clock())
        if edition_key is None:
            return self.deliveries.status(with_empty=True)
        edition = self.editions.get(edition_key)  # NotFound when there is none
        return self.deliveries.status([edition.id], with_empty=True)

    def waves(self, edition_key: str) -> list[DeliveryWave]:
        """The edition's local-delivery waves, each with its rows by state (none if off)."""
        edition = self.editions.get(edition_key)  # NotFound when there is none
        return self.deliveries.waves(edition.id)

    def coming_waves(self, now: datetime | None = None) -> list[DeliveryWave]:
        """Local delivery's waves still to come, earliest first, with readers by zone: those
        of editions already closed (their held rows), then the next daily edition's, planned
        from today's readers (``edition_key`` is that period's key). Empty when it is off."""
        if self.local is None:
            return []
        now = now or self.clock()
        waiting = self.deliveries.coming_waves(now)
        close = self.local.next_close(now)
        key = period_key(Frequency.DAILY, close, self.local.site_zone)
        if any(w.edition_key == key for w in waiting) or self.editions.store.editions.find(key):
            return waiting  # that period's edition is made already (a manual send)
        zones = self.editions.store.subscribers.zone_counts(Frequency.DAILY)
        planned = [replace(w, edition_key=key) for w in self.local.planned_waves(close, zones)]
        return sorted(waiting + planned, key=lambda w: (w.at, w.edition_key))

    def counts(self, edition_id: int) -> dict[str, int]:
        """Ledger rows of one edition by state (empty before its rows are made)."""
        status = self.deliveries.status([edition_id])
        return dict(status[0].counts) if status else {}

    def unfinished_count(self, edition_ids: Sequence[int] | None = None) -> int:
        return sum(s.unfinished for s in self.deliveries.status(edition_ids))

    def prepare(self, frequency: Frequency, now: datetime | None = None) -> Edition:
        """Open the period's edition and, the first time, write its ledger in the database.

        The audience of an edition is fixed when it is planned: an edition that already
        has rows (or is past ``open``) is not planned again, so a rerun starts sending at
        once; a reader who subscribes later gets the next edition. Planning is one
        ``INSERT ... SELECT``; planners of one edition take turns on it, so two processes
        planning at once still make one row per reader.
        """
        now = now or self.clock()
        edition = self.editions.open(frequency, now)
        if edition.status == "open" and not self.deliveries.has_rows(edition.id):
            not_before = None
            if self.local is not None:  # digest.local_delivery: each reader's own morning
                zones = self.editions.store.subscribers.zones()
                not_before = self.local.by_zone(edition, zones)
            self.editions.fill_ledger(edition, now, not_before)
        edition = self.editions.settle(edition.id, now) or edition  # nobody to send to
        for listener in self.listeners:
            listener(edition)
        return edition

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
        """Create or resume the period's edition and deliver it, resuming older ones first.

        ``on_start`` hears how many deliveries are outstanding before the first is sent
        (the moment helpers may start claiming).
        """
        if dry_run:
            return self.plan(frequency, now)
        edition = self.prepare(frequency, now)
        unfinished = self.deliveries.unfinished_editions()
        if on_start is not None:
            on_start(self.unfinished_count(unfinished))
        report = self.drain(stop, unfinished, on_progress=on_progress, on_wait=on_wait, wake=wake)
        if edition.status == "skipped":  # no articles this period (digest.send_empty off)
            report.extra["skipped"] = 1
        return replace(report, edition_key=edition.key)

    def plan(self, frequency: Frequency, now: datetime | None = None) -> SendReport:
        """What ``send_digest`` would do, counted; nothing sent, nothing written."""
        edition = self.editions.plan(frequency, now)
        _, _, recipients = self.editions.audience(edition)
        status = self.deliveries.status([edition.id]) if edition.id else []
        in_ledger = status[0].total if status else 0
        unfinished = self.unfinished_count(self.deliveries.unfinished_editions())
        return SendReport(
            edition.key,
            extra={
                "recipients": recipients,
                "new": max(recipients - in_ledger, 0),
                "unfinished": unfinished,
            },
        )

    def send_test_copy(self, email: str, frequency: Frequency | str = Frequency.DAILY) -> str:
        """Send one copy of the edition that would go out now to ``email``; returns the reply.

        The edition is not created and no ledger row is written.
        """
        message = self.editions.test_message(email, frequency)
        transport = self.transports()
        try:
            return transport.send(message)
        finally:
            transport.close()
