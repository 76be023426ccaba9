"""Mail events (bounces, complaints, unsubscribes ...): each stored exactly once, by key.

The key is made by the classifier from the mail's Message-ID (or a hash of its content) or
the provider's event id, so the same mail arriving twice (LMTP and IMAP, a replayed
webhook) inserts nothing the second time: ``INSERT ... ON CONFLICT (key) DO NOTHING``.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, Row, func, select
from sqlalchemy.dialects import postgresql, sqlite

from publisher.store.engine import translate_errors, write_transaction
from publisher.store.schema import deliveries, mail_events
from publisher.types import EventKind, MailEvent

MAX_DIAGNOSTIC = 2000


def _row(event: MailEvent) -> dict[str, Any]:
    return {
        "key": event.key[:200],
        "kind": event.kind.value,
        "source": event.source[:20],
        "email": event.email[:320],
        "subscriber_id": event.subscriber_id,
        "edition_id": event.edition_id,
        "status": event.status[:20],
        "diagnostic": event.diagnostic[:MAX_DIAGNOSTIC],
        "message_id": event.message_id[:300],
        "received_at": event.received_at,
    }


def _event(row: Row[Any]) -> MailEvent:
    return MailEvent(
        key=row.key,
        kind=EventKind(row.kind),
        source=row.source,
        received_at=row.received_at,
        email=row.email,
        subscriber_id=row.subscriber_id,
        edition_id=row.edition_id,
        status=row.status,
        diagnostic=row.diagnostic,
        message_id=row.message_id,
        id=row.id,
    )


class EventRepository:
    """Records mail events and answers the questions the suppression policy asks."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._insert = postgresql.insert if engine.dialect.name == "postgresql" else sqlite.insert

    def record(self, events: Sequence[MailEvent]) -> list[MailEvent]:
        """Store the events whose key is new; return those (with ids), in order."""
        stored: list[MailEvent] = []
        statement = (
            self._insert(mail_events)
            .on_conflict_do_nothing(index_elements=["key"])
            .returning(mail_events)
        )
        with write_transaction(self._engine, "cannot record mail events") as conn:
            for event in events:
                row = conn.execute(statement, _row(event)).first()
                if row is not None:
                    stored.append(_event(row))
        return stored

    def for_subscriber(self, subscriber_id: int) -> list[MailEvent]:
        query = (
            select(mail_events)
            .where(mail_events.c.subscriber_id == subscriber_id)
            .order_by(mail_events.c.received_at, mail_events.c.id)
        )
        with translate_errors("cannot read mail events"), self._engine.connect() as conn:
            return [_event(r) for r in conn.execute(query)]

    def listing(self, limit: int = 50) -> list[MailEvent]:
        query = select(mail_events).order_by(mail_events.c.id.desc()).limit(limit)
        with translate_errors("cannot read mail events"), self._engine.connect() as conn:
            return [_event(r) for r in conn.execute(query)]

    def soft_bounces_since(self, subscriber_id: int, since: datetime) -> int:
        """Soft bounces of a subscriber after ``since`` and after their latest delivered event.

        Several reports about one edition (a retry's second DSN) count once.
        """
        with translate_errors("cannot read mail events"), self._engine.connect() as conn:
            delivered = conn.execute(
                select(func.max(mail_events.c.received_at)).where(
                    mail_events.c.subscriber_id == subscriber_id,
                    mail_events.c.kind == EventKind.DELIVERED.value,
                )
            ).scalar_one_or_none()
            start = max(since, delivered) if delivered is not None else since
            rows = conn.execute(
                select(mail_events.c.id, mail_events.c.edition_id).where(
                    mail_events.c.subscriber_id == subscriber_id,
                    mail_events.c.kind == EventKind.SOFT_BOUNCE.value,
                    mail_events.c.received_at > start,
                )
            ).all()
        return len({r.edition_id if r.edition_id is not None else -r.id for r in rows})

    def counts_by_kind(self) -> dict[str, int]:
        """Every stored event by kind (bounces, complaints, unsubscribes ...), for metrics."""
        query = select(mail_events.c.kind, func.count()).group_by(mail_events.c.kind)
        with translate_errors("cannot count mail events"), self._engine.connect() as conn:
            return {kind: int(n) for kind, n in conn.execute(query).all()}

    def counts_by_edition(self, edition_ids: Sequence[int]) -> dict[int, dict[str, int]]:
        """Per edition: events by kind (distinct subscribers) and the messages sent."""
        found: dict[int, dict[str, int]] = {i: {} for i in edition_ids}
        if not edition_ids:
            return found
        ids = list(edition_ids)
        kinds = (
            select(
                mail_events.c.edition_id,
                mail_events.c.kind,
                func.count(func.distinct(mail_events.c.subscriber_id)),
            )
            .where(mail_events.c.edition_id.in_(ids))
            .group_by(mail_events.c.edition_id, mail_events.c.kind)
        )
        sent = (
            select(deliveries.c.edition_id, func.count())
            .where(deliveries.c.edition_id.in_(ids), deliveries.c.state == "sent")
            .group_by(deliveries.c.edition_id)
        )
        with translate_errors("cannot count mail events"), self._engine.connect() as conn:
            for edition_id, kind, count in conn.execute(kinds):
                found[edition_id][kind] = int(count)
            for edition_id, count in conn.execute(sent):
                found[edition_id]["sent"] = int(count)
        return found
