"""Subscribers and the suppression list.

Addresses arrive here already normalised (``publisher.addresses``); the unique column makes
one subscriber per address whatever its case. The suppression list is consulted by every
send: a suppressed address never gets a digest, whatever its status says.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, Engine, Row, delete, exists, insert, select, update
from sqlalchemy.exc import IntegrityError

from publisher.exceptions import NotFound, SubscriberError
from publisher.store.engine import inserted_id, translate_errors
from publisher.store.schema import subscriber_categories, subscribers, suppressions
from publisher.types import Frequency, Subscriber, SubscriberStatus


class SubscriberRepository:
    """Reads and writes subscribers and suppressions."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    # --- writing ------------------------------------------------------------------------------

    def add(
        self,
        email: str,
        name: str = "",
        status: SubscriberStatus = SubscriberStatus.PENDING,
        frequency: Frequency = Frequency.DAILY,
        categories: Sequence[str] = (),
        consent_method: str = "",
        consent_ip: str = "",
        now: datetime | None = None,
    ) -> Subscriber:
        """Create a subscriber; SubscriberError when the address is already there."""
        now = now or datetime.now(UTC)
        consent_at = now if status is SubscriberStatus.ACTIVE else None
        with translate_errors("cannot add the subscriber"):
            try:
                with self._engine.begin() as conn:
                    result = conn.execute(
                        insert(subscribers).values(
                            email=email,
                            name=name,
                            status=status.value,
                            frequency=frequency.value,
                            consent_at=consent_at,
                            consent_method=consent_method,
                            consent_ip=consent_ip,
                            created_at=now,
                            updated_at=now,
                        )
                    )
                    subscriber_id = inserted_id(result)
                    self._set_categories(conn, subscriber_id, categories)
                    return self._load(conn, subscriber_id)
            except IntegrityError as exc:
                raise SubscriberError(f"{email} is already subscribed", "email") from exc

    def update(self, subscriber_id: int, now: datetime | None = None, **values: Any) -> Subscriber:
        """Change columns of one subscriber (``categories`` replaces the chosen set)."""
        now = now or datetime.now(UTC)
        cats = values.pop("categories", None)
        for key in ("status", "frequency"):
            if key in values and hasattr(values[key], "value"):
                values[key] = values[key].value
        with translate_errors("cannot update the subscriber"), self._engine.begin() as conn:
            result = conn.execute(
                update(subscribers)
                .where(subscribers.c.id == subscriber_id)
                .values(updated_at=now, **values)
            )
            if result.rowcount == 0:
                raise NotFound("subscriber", subscriber_id)
            if cats is not None:
                self._set_categories(conn, subscriber_id, cats)
            return self._load(conn, subscriber_id)

    def set_status(
        self, subscriber_id: int, status: SubscriberStatus, now: datetime | None = None
    ) -> Subscriber:
        return self.update(subscriber_id, now=now, status=status)

    def remove(self, subscriber_id: int) -> None:
        """Delete a subscriber (and their chosen categories); the ledger keeps its rows."""
        with translate_errors("cannot remove the subscriber"), self._engine.begin() as conn:
            conn.execute(
                delete(subscriber_categories).where(
                    subscriber_categories.c.subscriber_id == subscriber_id
                )
            )
            conn.execute(delete(subscribers).where(subscribers.c.id == subscriber_id))

    def _set_categories(self, conn: Connection, subscriber_id: int, cats: Iterable[str]) -> None:
        conn.execute(
            delete(subscriber_categories).where(
                subscriber_categories.c.subscriber_id == subscriber_id
            )
        )
        unique = list(dict.fromkeys(c for c in cats if c))
        if unique:
            conn.execute(
                insert(subscriber_categories),
                [{"subscriber_id": subscriber_id, "category_slug": c} for c in unique],
            )

    def suppress(self, email: str, reason: str, now: datetime | None = None) -> None:
        """Put an address on the suppression list (idempotent)."""
        now = now or datetime.now(UTC)
        with translate_errors("cannot suppress the address"), self._engine.begin() as conn:
            found = conn.execute(
                select(suppressions.c.email).where(suppressions.c.email == email)
            ).first()
            if found is None:
                conn.execute(
                    insert(suppressions).values(email=email, reason=reason, created_at=now)
                )

    def is_suppressed(self, email: str) -> bool:
        with translate_errors("cannot read suppressions"), self._engine.connect() as conn:
            query = select(suppressions.c.email).where(suppressions.c.email == email)
            return conn.execute(query).first() is not None

    # --- reading ------------------------------------------------------------------------------

    def get(self, subscriber_id: int) -> Subscriber:
        with translate_errors("cannot read the subscriber"), self._engine.connect() as conn:
            return self._load(conn, subscriber_id)

    def get_by_email(self, email: str) -> Subscriber:
        with translate_errors("cannot read the subscriber"), self._engine.connect() as conn:
            row = conn.execute(select(subscribers).where(subscribers.c.email == email)).first()
            if row is None:
                raise NotFound("subscriber", email)
            return self._hydrate(conn, [row])[0]

    def _load(self, conn: Connection, subscriber_id: int) -> Subscriber:
        row = conn.execute(select(subscribers).where(subscribers.c.id == subscriber_id)).first()
        if row is None:
            raise NotFound("subscriber", subscriber_id)
        return self._hydrate(conn, [row])[0]

    def _hydrate(self, conn: Connection, rows: Sequence[Row[Any]]) -> list[Subscriber]:
        chosen: dict[int, list[str]] = {r.id: [] for r in rows}
        ids = list(chosen)
        for start in range(0, len(ids), 500):
            query = (
                select(subscriber_categories)
                .where(subscriber_categories.c.subscriber_id.in_(ids[start : start + 500]))
                .order_by(subscriber_categories.c.category_slug)
            )
            for r in conn.execute(query):
                chosen[r.subscriber_id].append(r.category_slug)
        return [
            Subscriber(
                id=r.id,
                email=r.email,
                name=r.name,
                status=SubscriberStatus(r.status),
                frequency=Frequency(r.frequency),
                categories=tuple(chosen[r.id]),
                consent_at=r.consent_at,
                consent_method=r.consent_method,
                consent_ip=r.consent_ip,
                created_at=r.created_at,
                updated_at=r.updated_at,
            )
            for r in rows
        ]

    def listing(
        self, status: SubscriberStatus | None = None, limit: int | None = None, offset: int = 0
    ) -> list[Subscriber]:
        query = select(subscribers).order_by(subscribers.c.id)
        if status is not None:
            query = query.where(subscribers.c.status == status.value)
        if limit is not None:
            query = query.limit(limit).offset(offset)
        with translate_errors("cannot list subscribers"), self._engine.connect() as conn:
            return self._hydrate(conn, conn.execute(query).all())

    def eligible(self, frequency: Frequency) -> list[Subscriber]:
        """Active subscribers of this frequency whose address is not suppressed."""
        query = (
            select(subscribers)
            .where(
                subscribers.c.status == SubscriberStatus.ACTIVE.value,
                subscribers.c.frequency == frequency.value,
                ~exists().where(suppressions.c.email == subscribers.c.email),
            )
            .order_by(subscribers.c.id)
        )
        with translate_errors("cannot list subscribers"), self._engine.connect() as conn:
            return self._hydrate(conn, conn.execute(query).all())
