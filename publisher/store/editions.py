"""Editions: one row per period key, created at most once, with its cutoff and article list.

``open`` is create-or-return: the unique key means two processes (a scheduler and a manual
run, two hosts) racing for the same period end up with the same row. The loser's INSERT
fails with an IntegrityError and it reads the winner's row instead. The stored cutoff
(``window_end``) is where the next edition of the same kind starts, and the stored article
ids make a rerun render the same digest.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, Engine, Row, insert, select, update
from sqlalchemy.exc import IntegrityError

from publisher.exceptions import NotFound
from publisher.store.engine import translate_errors, write_transaction
from publisher.store.schema import editions
from publisher.types import Edition, Frequency

SENT = "sent"


def _edition(row: Row[Any]) -> Edition:
    return Edition(
        id=row.id,
        key=row.key,
        frequency=Frequency(row.frequency),
        window_start=row.window_start,
        window_end=row.window_end,
        article_ids=tuple(int(i) for i in json.loads(row.article_ids)),
        created_at=row.created_at,
        status=row.status,
    )


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
        """Sent editions, newest first: the web archive ("view in browser")."""
        query = select(editions).where(editions.c.status == SENT)
        if frequency is not None:
            query = query.where(editions.c.frequency == frequency.value)
        query = (
            query.order_by(editions.c.window_end.desc(), editions.c.id.desc())
            .limit(limit)
            .offset(offset)
        )
        with translate_errors("cannot list editions"), self._engine.connect() as conn:
            return [_edition(r) for r in conn.execute(query).all()]

    def mark(self, edition: Edition | str, status: str) -> Edition:
        """Set an edition's status (open, sending, sent, skipped ...); returns it as stored."""
        key = edition if isinstance(edition, str) else edition.key
        with write_transaction(self._engine, "cannot update the edition") as conn:
            result = conn.execute(
                update(editions).where(editions.c.key == key).values(status=status)
            )
            if result.rowcount == 0:
                raise NotFound("edition", key)
            return self._load(conn, key)
