"""Subscribers and the suppression list.

Addresses arrive here already normalised (``publisher.addresses``); the unique column makes
one subscriber per address whatever its case. The suppression list is consulted by every
send: a suppressed address never gets a digest, whatever its status says.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    Boolean,
    ColumnElement,
    Connection,
    DateTime,
    Engine,
    Integer,
    Row,
    String,
    and_,
    any_,
    bindparam,
    delete,
    exists,
    func,
    insert,
    select,
    text,
    update,
)
from sqlalchemy.dialects import postgresql
from sqlalchemy.exc import IntegrityError

from publisher.exceptions import NotFound, SubscriberError
from publisher.store.engine import inserted_id, translate_errors, write_transaction
from publisher.store.schema import (
    UTCDateTime,
    deliveries,
    mail_events,
    stored_utc,
    subscriber_categories,
    subscribers,
    suppressions,
)
from publisher.store.subscriber_copy import Created, import_copy, staged_line
from publisher.text import one_line
from publisher.types import Frequency, Subscriber, SubscriberStatus

MAX_NAME = 200


def clean_name(name: str) -> str:
    """A stored name is one line: CR, LF, NEL, U+2028/2029 and controls never reach a row,
    whichever path (form, API, CLI, import) it came by."""
    return one_line(name or "", MAX_NAME)


def eligible_clause(frequency: Frequency) -> ColumnElement[bool]:
    """Who gets an edition of ``frequency``: active, that frequency, address not suppressed."""
    return and_(
        subscribers.c.status == SubscriberStatus.ACTIVE.value,
        subscribers.c.frequency == frequency.value,
        ~exists().where(suppressions.c.email == subscribers.c.email),
    )


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
        language: str = "",
        timezone: str = "",
    ) -> Subscriber:
        """Create a subscriber; SubscriberError when the address is already there."""
        now = now or datetime.now(UTC)
        consent_at = now if status is SubscriberStatus.ACTIVE else None
        with translate_errors("cannot add the subscriber"):
            try:
                with write_transaction(self._engine) as conn:
                    result = conn.execute(
                        insert(subscribers).values(
                            email=email,
                            name=clean_name(name),
                            status=status.value,
                            frequency=frequency.value,
                            consent_at=consent_at,
                            consent_method=consent_method,
                            consent_ip=consent_ip,
                            created_at=now,
                            updated_at=now,
                            language=language,
                            timezone=timezone,
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
        if "name" in values:
            values["name"] = clean_name(values["name"])
        for key in ("status", "frequency"):
            if key in values and hasattr(values[key], "value"):
                values[key] = values[key].value
        with (
            translate_errors("cannot update the subscriber"),
            write_transaction(self._engine) as conn,
        ):
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

    def remove(self, subscriber_id: int, now: datetime | None = None) -> bool:
        """Delete a subscriber and their chosen categories; True when the row is gone.

        The delivery ledger references subscribers and keeps its rows (it is the proof of
        what was sent), so a subscriber with ledger rows is erased in place instead: the
        address becomes ``erased-<id>@erased.invalid``, name and consent IP are cleared,
        the status is ``unsubscribed``. Returns False in that case. Either way their mail
        events (bounces, complaints ...) keep their kind and time but lose the address and
        the diagnostic text, which may quote it.
        """
        now = now or datetime.now(UTC)
        with (
            translate_errors("cannot remove the subscriber"),
            write_transaction(self._engine) as conn,
        ):
            conn.execute(
                delete(subscriber_categories).where(
                    subscriber_categories.c.subscriber_id == subscriber_id
                )
            )
            address = conn.execute(
                select(subscribers.c.email).where(subscribers.c.id == subscriber_id)
            ).scalar_one_or_none()
            conn.execute(
                update(mail_events)
                .where(
                    (mail_events.c.subscriber_id == subscriber_id)
                    | (mail_events.c.email == (address or ""))
                )
                .values(email=f"erased-{subscriber_id}@erased.invalid", diagnostic="")
            )
            in_ledger = conn.execute(
                select(deliveries.c.id).where(deliveries.c.subscriber_id == subscriber_id).limit(1)
            ).first()
            if in_ledger is None:
                conn.execute(delete(subscribers).where(subscribers.c.id == subscriber_id))
                return True
            conn.execute(
                update(subscribers)
                .where(subscribers.c.id == subscriber_id)
                .values(
                    email=f"erased-{subscriber_id}@erased.invalid",
                    name="",
                    consent_ip="",
                    status=SubscriberStatus.UNSUBSCRIBED.value,
                    updated_at=now,
                )
            )
            return False

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

    def suppress(
        self, email: str, reason: str, now: datetime | None = None, restamp: bool = False
    ) -> None:
        """Put an address on the suppression list (idempotent).

        ``restamp``: when it is already there for the same reason, its time becomes ``now``
        (an unsubscribe repeated after a re-subscribe is a new unsubscribe).
        """
        now = now or datetime.now(UTC)
        with (
            translate_errors("cannot suppress the address"),
            write_transaction(self._engine) as conn,
        ):
            found = conn.execute(
                select(suppressions.c.reason).where(suppressions.c.email == email)
            ).first()
            if found is None:
                conn.execute(
                    insert(suppressions).values(email=email, reason=reason, created_at=now)
                )
            elif restamp and found.reason == reason:
                conn.execute(
                    update(suppressions).where(suppressions.c.email == email).values(created_at=now)
                )

    def suppressed_at(self, email: str, reason: str) -> datetime | None:
        """When the address was (last) suppressed for ``reason``; None when it is not."""
        with translate_errors("cannot read suppressions"), self._engine.connect() as conn:
            query = select(suppressions.c.created_at).where(
                suppressions.c.email == email, suppressions.c.reason == reason
            )
            found = conn.execute(query).scalar_one_or_none()
            return None if found is None else found

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
                language=r.language,
                timezone=r.timezone,
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

    def zones(self) -> list[str]:
        """Every time zone name readers chose ("" for those who chose none)."""
        query = select(subscribers.c.timezone).distinct()
        with translate_errors("cannot read subscribers"), self._engine.connect() as conn:
            return [str(zone) for zone in conn.execute(query).scalars()]

    def zone_counts(self, frequency: Frequency) -> dict[str, int]:
        """Readers who would get an edition of ``frequency``, by time zone name ("": none)."""
        query = (
            select(subscribers.c.timezone, func.count())
            .where(eligible_clause(frequency))
            .group_by(subscribers.c.timezone)
        )
        with translate_errors("cannot read subscribers"), self._engine.connect() as conn:
            return {str(zone): int(n) for zone, n in conn.execute(query)}

    def eligible(self, frequency: Frequency) -> list[Subscriber]:
        """Active subscribers of this frequency whose address is not suppressed."""
        query = select(subscribers).where(eligible_clause(frequency)).order_by(subscribers.c.id)
        with translate_errors("cannot list subscribers"), self._engine.connect() as conn:
            return self._hydrate(conn, conn.execute(query).all())

    # --- bulk import, streaming export, suppression details ----------------------------------

    def import_rows(
        self,
        items: Iterable[ImportItem],
        status: SubscriberStatus,
        consent_method: str,
        now: datetime,
        created: Callable[[Sequence[Created]], None] | None = None,
        batch_size: int = 1000,
    ) -> ImportOutcome:
        """Import a stream of valid rows with the rules of :meth:`import_batch`.

        A later line of an address already in the stream is skipped ("duplicate of line N").
        ``created`` gets each committed page of new subscribers (line, id, email, name),
        for their confirmation mails. On PostgreSQL the whole stream goes through ``COPY``
        in one transaction (:mod:`publisher.store.subscriber_copy`); on SQLite it is
        imported in batches of ``batch_size``, one transaction each.
        """
        if self._engine.dialect.name == "postgresql":
            joined: dict[tuple[str, ...], str] = {}
            with translate_errors("cannot import subscribers"):
                made, updated, unchanged, skipped = import_copy(
                    self._engine,
                    (_staged(item, joined) for item in items),
                    status.value,
                    status is SubscriberStatus.ACTIVE,
                    consent_method,
                    now,
                    created,
                )
            return ImportOutcome(made, updated, unchanged, skipped)
        outcome = ImportOutcome()
        batch: dict[str, ImportItem] = {}

        def flush() -> None:
            done = self.import_batch(list(batch.values()), status, consent_method, now)
            outcome.created += len(done.created)
            outcome.updated += done.updated
            outcome.unchanged += done.unchanged
            outcome.skipped.extend(done.skipped)
            if created is not None and done.created:
                created([(batch[e].line, i, e, n) for i, e, n in done.created])
            batch.clear()

        for item in items:
            first = batch.get(item.email)
            if first is not None:
                outcome.skipped.append((item.line, f"duplicate of line {first.line}"))
                continue
            batch[item.email] = item
            if len(batch) >= batch_size:
                flush()
        if batch:
            flush()
        return outcome

    def import_batch(
        self,
        rows: Sequence[ImportItem],
        status: SubscriberStatus,
        consent_method: str,
        now: datetime,
    ) -> BatchOutcome:
        """Insert new addresses and update changed ones, in one transaction per batch.

        ``rows`` hold normalised addresses, unique within the batch. Suppressed addresses
        are skipped; an address this same import already wrote (its ``updated_at`` is
        ``now``) is a duplicate; existing subscribers keep their status (an import never
        brings back someone who unsubscribed). New subscribers get ``status`` and the
        consent record (``consent_at`` only when ``status`` is active).
        """
        outcome = BatchOutcome()
        emails = [r.email for r in rows]
        with write_transaction(self._engine, "cannot import subscribers") as conn:
            suppressed = set(
                conn.execute(
                    select(suppressions.c.email).where(_among(conn, suppressions.c.email, emails))
                ).scalars()
            )
            found = {
                r.email: r
                for r in conn.execute(
                    select(subscribers).where(_among(conn, subscribers.c.email, emails))
                )
            }
            current = self._categories_by_id(conn, [r.id for r in found.values()])
            fresh: list[ImportItem] = []
            for item in rows:
                row = found.get(item.email)
                if item.email in suppressed:
                    outcome.skipped.append((item.line, "address is on the suppression list"))
                elif row is None:
                    fresh.append(item)
                elif row.updated_at == now:
                    outcome.skipped.append((item.line, "duplicate: address already in this file"))
                elif self._import_update(conn, row, item, current.get(row.id, ()), now):
                    outcome.updated += 1
                else:
                    outcome.unchanged += 1
            if fresh:
                outcome.created = self._import_insert(conn, fresh, status, consent_method, now)
        return outcome

    def _import_insert(
        self,
        conn: Connection,
        items: Sequence[ImportItem],
        status: SubscriberStatus,
        consent_method: str,
        now: datetime,
    ) -> list[tuple[int, str, str]]:
        consent_at = now if status is SubscriberStatus.ACTIVE else None
        if conn.dialect.name == "postgresql":
            created = self._insert_unnest(conn, items, status, consent_method, consent_at, now)
        else:
            values = [
                {
                    "email": i.email,
                    "name": i.name,
                    "status": status.value,
                    "frequency": (i.frequency or Frequency.DAILY).value,
                    "consent_at": (i.consent_at or consent_at) if consent_at else None,
                    "consent_method": consent_method,
                    "consent_ip": "",
                    "created_at": now,
                    "updated_at": now,
                    "language": i.language or "",
                    "timezone": i.timezone or "",
                }
                for i in items
            ]
            query = insert(subscribers).returning(
                subscribers.c.id, subscribers.c.email, subscribers.c.name
            )
            created = [(r.id, r.email, r.name) for r in conn.execute(query, values)]
        ids = {email: sid for sid, email, _ in created}
        links = [
            (ids[item.email], slug)
            for item in items
            for slug in dict.fromkeys(item.categories or ())
        ]
        if links and conn.dialect.name == "postgresql":
            conn.execute(
                text(
                    "INSERT INTO subscriber_categories (subscriber_id, category_slug) "
                    "SELECT * FROM unnest(:ids, :slugs)"
                ).bindparams(
                    bindparam("ids", [i for i, _ in links], type_=postgresql.ARRAY(Integer)),
                    bindparam("slugs", [c for _, c in links], type_=postgresql.ARRAY(String)),
                )
            )
        elif links:
            conn.execute(
                insert(subscriber_categories),
                [{"subscriber_id": i, "category_slug": c} for i, c in links],
            )
        return created

    def _insert_unnest(
        self,
        conn: Connection,
        items: Sequence[ImportItem],
        status: SubscriberStatus,
        consent_method: str,
        consent_at: datetime | None,
        now: datetime,
    ) -> list[tuple[int, str, str]]:
        """PostgreSQL: one INSERT ... SELECT FROM unnest(arrays) per batch, a handful of
        parameters instead of nine per row (psycopg parses every placeholder each time)."""
        query = text(
            "INSERT INTO subscribers (email, name, status, frequency, consent_at, "
            "consent_method, consent_ip, created_at, updated_at, language, timezone) "
            "SELECT e, n, :status, f, CASE WHEN :active THEN coalesce(c, :consent_at) END, "
            ":method, '', :now, :now, l, z "
            "FROM unnest(:emails, :names, :freqs, :consents, :langs, :zones) "
            "AS t(e, n, f, c, l, z) "
            "RETURNING id, email, name"
        ).bindparams(
            bindparam("emails", [i.email for i in items], type_=postgresql.ARRAY(String)),
            bindparam("names", [i.name for i in items], type_=postgresql.ARRAY(String)),
            bindparam(
                "freqs",
                [(i.frequency or Frequency.DAILY).value for i in items],
                type_=postgresql.ARRAY(String),
            ),
            bindparam(
                "consents",
                [stored_utc(i.consent_at) for i in items],
                type_=postgresql.ARRAY(DateTime),
            ),
            bindparam("active", consent_at is not None, type_=Boolean),
            bindparam("langs", [i.language or "" for i in items], type_=postgresql.ARRAY(String)),
            bindparam("zones", [i.timezone or "" for i in items], type_=postgresql.ARRAY(String)),
            bindparam("status", status.value, type_=String),
            bindparam("method", consent_method, type_=String),
            bindparam("consent_at", consent_at, type_=UTCDateTime),
            bindparam("now", now, type_=UTCDateTime),
        )
        return [(r.id, r.email, r.name) for r in conn.execute(query)]

    def _import_update(
        self,
        conn: Connection,
        row: Row[Any],
        item: ImportItem,
        current: Sequence[str],
        now: datetime,
    ) -> bool:
        changes: dict[str, Any] = {}
        if item.name and item.name != row.name:
            changes["name"] = item.name
        if item.frequency is not None and item.frequency.value != row.frequency:
            changes["frequency"] = item.frequency.value
        for key in ("language", "timezone"):
            value = getattr(item, key)
            if value is not None and value != getattr(row, key):
                changes[key] = value
        cats = item.categories
        new_cats = cats is not None and sorted(set(cats)) != sorted(current)
        if not changes and not new_cats:
            return False
        conn.execute(
            update(subscribers).where(subscribers.c.id == row.id).values(updated_at=now, **changes)
        )
        if new_cats and cats is not None:
            self._set_categories(conn, row.id, cats)
        return True

    def _categories_by_id(self, conn: Connection, ids: Sequence[int]) -> dict[int, list[str]]:
        chosen: dict[int, list[str]] = {}
        for start in range(0, len(ids), 500):
            query = select(subscriber_categories).where(
                subscriber_categories.c.subscriber_id.in_(ids[start : start + 500])
            )
            for r in conn.execute(query):
                chosen.setdefault(r.subscriber_id, []).append(r.category_slug)
        return chosen

    def iter_all(
        self, status: SubscriberStatus | None = None, batch: int = 1000
    ) -> Iterator[Subscriber]:
        """Every subscriber by id, read in pages (keyset), so memory stays flat."""
        last = 0
        while True:
            query = select(subscribers).where(subscribers.c.id > last)
            if status is not None:
                query = query.where(subscribers.c.status == status.value)
            query = query.order_by(subscribers.c.id).limit(batch)
            with translate_errors("cannot list subscribers"), self._engine.connect() as conn:
                page = self._hydrate(conn, conn.execute(query).all())
            yield from page
            if len(page) < batch:
                return
            last = page[-1].id

    def count(self, status: SubscriberStatus | None = None) -> int:
        query = select(func.count()).select_from(subscribers)
        if status is not None:
            query = query.where(subscribers.c.status == status.value)
        with translate_errors("cannot count subscribers"), self._engine.connect() as conn:
            return int(conn.execute(query).scalar_one())

    def suppression_reason(self, email: str) -> str | None:
        """Why an address is suppressed, or None when it is not."""
        with translate_errors("cannot read suppressions"), self._engine.connect() as conn:
            query = select(suppressions.c.reason).where(suppressions.c.email == email)
            reason = conn.execute(query).scalar_one_or_none()
            return None if reason is None else str(reason)

    def unsuppress(self, email: str) -> None:
        """Take an address off the suppression list (after it confirmed again)."""
        with (
            translate_errors("cannot change suppressions"),
            write_transaction(self._engine) as conn,
        ):
            conn.execute(delete(suppressions).where(suppressions.c.email == email))

    def search(self, term: str, limit: int = 50) -> list[Subscriber]:
        """Subscribers whose address contains ``term`` (case-insensitive), by address."""
        pattern = "%" + term.strip().lower().replace("%", "").replace("_", "") + "%"
        query = (
            select(subscribers)
            .where(func.lower(subscribers.c.email).like(pattern))
            .order_by(subscribers.c.email)
            .limit(limit)
        )
        with translate_errors("cannot search subscribers"), self._engine.connect() as conn:
            return self._hydrate(conn, conn.execute(query).all())

    def joined_per_day(self, since: datetime) -> tuple[int, list[tuple[str, int]]]:
        """Subscribers made before ``since``, and (YYYY-MM-DD, made that day) after it."""
        day = func.date(subscribers.c.created_at)
        before = select(func.count()).where(subscribers.c.created_at < since)
        per_day = (
            select(day, func.count())
            .where(subscribers.c.created_at >= since)
            .group_by(day)
            .order_by(day)
        )
        with translate_errors("cannot count subscribers"), self._engine.connect() as conn:
            start = int(conn.execute(before.select_from(subscribers)).scalar_one())
            return start, [(str(d), int(n)) for d, n in conn.execute(per_day).all()]


def _among(conn: Connection, column: Any, values: list[str]) -> Any:
    """``column IN values``; on PostgreSQL as ``= ANY(array)``, one parameter instead of a
    thousand (psycopg re-parses a statement with many placeholders on every batch)."""
    if conn.dialect.name == "postgresql":
        return column == any_(bindparam("among", values, type_=postgresql.ARRAY(String)))
    return column.in_(values)


@dataclass(slots=True)
class ImportItem:
    """One valid CSV row for :meth:`SubscriberRepository.import_batch`.

    Not frozen: an import builds one per row, and a frozen dataclass costs five times as
    much to build (each field set through ``object.__setattr__``).
    """

    line: int
    email: str
    name: str = ""
    frequency: Frequency | None = None
    categories: tuple[str, ...] | None = None
    language: str | None = None  # None: keep the current (a new row gets "")
    timezone: str | None = None
    consent_at: datetime | None = None  # when the source says the person opted in

    def __post_init__(self) -> None:
        self.name = clean_name(self.name)


_FREQUENCY_TEXT: dict[Frequency | None, str] = {f: f.value for f in Frequency}


def _staged(item: ImportItem, joined: dict[tuple[str, ...], str]) -> str:
    """An ImportItem as a line of the COPY staging table; ``joined`` remembers each set of
    categories already written as the staging table's sorted "a,b" (a few in a file)."""
    cats = item.categories
    if cats is not None:
        text = joined.get(cats)
        if text is None:
            text = ",".join(sorted(set(cats)))
            if len(joined) < 1024:
                joined[cats] = text
    moment = item.consent_at
    return staged_line(
        item.line,
        item.email,
        item.name,
        _FREQUENCY_TEXT.get(item.frequency),  # not the enum: formatting one is slow
        None if cats is None else text,
        None if moment is None else stored_utc(moment),
        item.language,
        item.timezone,
    )


@dataclass
class ImportOutcome:
    """What an import did: counts of new, changed and unchanged rows, and skipped lines."""

    created: int = 0
    updated: int = 0
    unchanged: int = 0
    skipped: list[tuple[int, str]] = field(default_factory=list)


@dataclass
class BatchOutcome:
    """What one import batch did: new rows (id, email, name), counts, skipped lines."""

    created: list[tuple[int, str, str]] = field(default_factory=list)
    updated: int = 0
    unchanged: int = 0
    skipped: list[tuple[int, str]] = field(default_factory=list)
