"""Editions: one row per period key, created at most once, with its cutoff and article list.

``open`` is create-or-return: the unique key means two processes (a scheduler and a manual
run, two hosts) racing for the same period end up with the same row. The loser's INSERT
fails with an IntegrityError and it reads the winner's row instead. The stored cutoff
(``window_end``) is where the next edition of the same kind starts, and the stored article
ids make a rerun render the same digest.

The lifecycle (open -> sending -> sent | partial) is moved by the ledger, in the same
transaction as the change that causes it: :func:`start_editions` when a claim takes an
edition's first rows, :func:`settle_editions` when an outcome leaves none of its rows
unfinished. So whichever process records the last outcome (``digest send``, a worker,
``serve``) finishes the edition, on SQLite and PostgreSQL alike, and a crash can never
leave a settled edition marked as still sending.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, Engine, Row, bindparam, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from publisher.exceptions import NotFound
from publisher.store.engine import translate_errors, write_transaction
from publisher.store.schema import deliveries, editions
from publisher.types import (
    ARCHIVED_EDITION_STATES,
    FINAL_DELIVERY_STATES,
    SENT_EDITION_STATES,
    DeliveryState,
    Edition,
    EditionState,
    Frequency,
)

_UNFINISHED = [s.value for s in DeliveryState if s not in FINAL_DELIVERY_STATES]
_BUSY = (  # one unfinished row of edition :e, if any (built once: asked after every commit)
    select(deliveries.c.id)
    .where(deliveries.c.edition_id == bindparam("e"), deliveries.c.state.in_(_UNFINISHED))
    .limit(1)
)


def _edition(row: Row[Any]) -> Edition:
    counts = None
    if row.sent_at is not None:
        counts = {
            DeliveryState.SENT.value: row.sent_count or 0,
            DeliveryState.FAILED.value: row.failed_count or 0,
            DeliveryState.SUPPRESSED.value: row.suppressed_count or 0,
        }
    return Edition(
        id=row.id,
        key=row.key,
        frequency=Frequency(row.frequency),
        window_start=row.window_start,
        window_end=row.window_end,
        article_ids=tuple(int(i) for i in json.loads(row.article_ids)),
        created_at=row.created_at,
        status=row.status,
        started_at=row.started_at,
        sent_at=row.sent_at,
        final_counts=counts,
    )


def start_editions(conn: Connection, edition_ids: Sequence[int], now: datetime) -> None:
    """Open editions among ``edition_ids`` become ``sending`` (the first claim's moment).

    A no-op for editions already past ``open``, so every claim may call it cheaply.
    """
    if not edition_ids:
        return
    conn.execute(
        update(editions)
        .where(
            editions.c.id.in_(list(edition_ids)),
            editions.c.status == EditionState.OPEN.value,
        )
        .values(status=EditionState.SENDING.value, started_at=now)
    )


def reopen_edition(conn: Connection, edition_id: int) -> None:
    """A settled edition that got new ledger rows is ``sending`` again until they settle."""
    conn.execute(
        update(editions)
        .where(editions.c.id == edition_id, editions.c.status.in_(sorted(SENT_EDITION_STATES)))
        .values(status=EditionState.SENDING.value)
    )


def settle_editions(conn: Connection, edition_ids: Sequence[int], now: datetime) -> list[int]:
    """Editions among ``edition_ids`` with no unfinished row become ``sent`` or ``partial``.

    ``sent`` when no row failed, ``partial`` when some did; ``sent_at`` and the final counts
    are stored with the state. Editions already settled or skipped are left alone; an open
    edition with no rows at all (nobody to send to) is settled as sent to nobody. Returns
    the ids settled now.
    """
    settled: list[int] = []
    if not edition_ids:
        return settled
    # Settlers of an edition take turns (the editions' rows locked, in id order, until
    # commit): two senders writing its last rows at once each saw the other's rows as
    # still open, uncommitted, and neither settled it. The later one now waits for the
    # earlier's commit and then sees its rows final. (SQLite has one writer at a time.)
    conn.execute(
        select(editions.c.id)
        .where(editions.c.id.in_(sorted(set(edition_ids))))
        .order_by(editions.c.id)
        .with_for_update()
    ).all()
    # The common answer ("rows are still open") costs one lookup per edition on
    # ix_deliveries_edition_state, and nothing more.
    idle = [e for e in edition_ids if conn.execute(_BUSY, {"e": e}).first() is None]
    if not idle:
        return settled
    candidates = select(editions.c.id, editions.c.started_at).where(
        editions.c.id.in_(idle),
        editions.c.status.in_([EditionState.OPEN.value, EditionState.SENDING.value]),
    )
    for edition_id, started_at in conn.execute(candidates).all():
        counts = dict.fromkeys((s.value for s in FINAL_DELIVERY_STATES), 0)
        tally = (
            select(deliveries.c.state, func.count())
            .where(deliveries.c.edition_id == edition_id)
            .group_by(deliveries.c.state)
        )
        counts.update({state: int(n) for state, n in conn.execute(tally).all()})
        failed = counts[DeliveryState.FAILED.value]
        state = EditionState.PARTIAL if failed else EditionState.SENT
        conn.execute(
            update(editions)
            .where(editions.c.id == edition_id)
            .values(
                status=state.value,
                started_at=started_at or now,
                sent_at=now,
                sent_count=counts[DeliveryState.SENT.value],
                failed_count=failed,
                suppressed_count=counts[DeliveryState.SUPPRESSED.value],
            )
        )
        settled.append(edition_id)
    return settled


class EditionRepository:
    """Reads and writes editions; each call is its own transaction."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def open(
        self,
        key: str,
        frequency: Frequency,
        window_end: datetime,
        article_ids: Sequence[int],
        window_start: datetime | None = None,
        status: str = "open",
        now: datetime | None = None,
    ) -> Edition:
        """The edition for ``key``: created with these values, or the existing one as stored."""
        now = now or datetime.now(UTC)
        values = {
            "key": key,
            "frequency": frequency.value,
            "window_start": window_start,
            "window_end": window_end,
            "article_ids": json.dumps([int(i) for i in article_ids]),
            "status": status,
            "created_at": now,
        }
        with translate_errors("cannot open the edition"):
            existing = self.find(key)
            if existing is not None:
                return existing
            try:
                with write_transaction(self._engine) as conn:
                    conn.execute(insert(editions).values(**values))
                    return self._load(conn, key)
            except IntegrityError:
                # Another process created this period's edition between our read and write.
                return self.get(key)

    def find(self, key: str) -> Edition | None:
        with translate_errors("cannot read the edition"), self._engine.connect() as conn:
            row = conn.execute(select(editions).where(editions.c.key == key)).first()
        return _edition(row) if row is not None else None

    def get(self, key: str) -> Edition:
        """The edition with this key; NotFound otherwise."""
        found = self.find(key)
        if found is None:
            raise NotFound("edition", key)
        return found

    def _load(self, conn: Connection, key: str) -> Edition:
        row = conn.execute(select(editions).where(editions.c.key == key)).first()
        if row is None:  # pragma: no cover - we just wrote it in this transaction
            raise NotFound("edition", key)
        return _edition(row)

    def latest(self, frequency: Frequency) -> Edition | None:
        """The edition of this kind with the latest cutoff (where the next one starts)."""
        query = (
            select(editions)
            .where(editions.c.frequency == frequency.value)
            .order_by(editions.c.window_end.desc(), editions.c.id.desc())
            .limit(1)
        )
        with translate_errors("cannot read editions"), self._engine.connect() as conn:
            row = conn.execute(query).first()
        return _edition(row) if row is not None else None

    def previous(self, frequency: Frequency, before: datetime) -> Edition | None:
        """The latest edition of this kind cut strictly before ``before``."""
        query = (
            select(editions)
            .where(editions.c.frequency == frequency.value, editions.c.window_end < before)
            .order_by(editions.c.window_end.desc(), editions.c.id.desc())
            .limit(1)
        )
        with translate_errors("cannot read editions"), self._engine.connect() as conn:
            row = conn.execute(query).first()
        return _edition(row) if row is not None else None

    def list_sent(
        self, frequency: Frequency | None = None, limit: int = 50, offset: int = 0
    ) -> list[Edition]:
        """Editions going or gone out (sending, sent, partial), newest first: the web archive.

        A ``sending`` edition is listed from its close: with local delivery its waves go
        out for up to a day after, and its articles are public already."""
        query = select(editions).where(editions.c.status.in_(sorted(ARCHIVED_EDITION_STATES)))
        if frequency is not None:
            query = query.where(editions.c.frequency == frequency.value)
        query = (
            query.order_by(editions.c.window_end.desc(), editions.c.id.desc())
            .limit(limit)
            .offset(offset)
        )
        with translate_errors("cannot list editions"), self._engine.connect() as conn:
            return [_edition(r) for r in conn.execute(query).all()]

    def settle(self, edition_id: int, now: datetime) -> Edition | None:
        """Finish the edition if none of its rows is unfinished (see settle_editions).

        For an edition whose rows were all settled before this call, or that has none (no
        reader gets it): the ledger settles the others as it records outcomes.
        """
        with write_transaction(self._engine, "cannot settle the edition") as conn:
            settle_editions(conn, [edition_id], now)
            row = conn.execute(select(editions).where(editions.c.id == edition_id)).first()
        return _edition(row) if row is not None else None

    def recent(self, limit: int = 50) -> list[Edition]:
        """The newest editions of every kind, newest first (``digest status``)."""
        query = select(editions).order_by(editions.c.created_at.desc(), editions.c.id.desc())
        with translate_errors("cannot list editions"), self._engine.connect() as conn:
            return [_edition(r) for r in conn.execute(query.limit(limit)).all()]
