"""Tracked links of editions and their counts; dashboard users.

A link row is made when the edition's variant is rendered (once per variant, not per
reader); its id goes in the signed token. Counts arrive as sums from the web service's
in-memory tally and are added with ``UPDATE ... SET human = human + n`` in one transaction,
so two web processes flushing at once never lose a click.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, Row, delete, func, select, update
from sqlalchemy.dialects import postgresql, sqlite

from publisher.exceptions import NotFound
from publisher.store.engine import translate_errors, write_transaction
from publisher.store.schema import (
    admin_users,
    deliveries,
    edition_links,
    paused_editions,
    reader_clicks,
)
from publisher.types import AdminUser, EditionLink

MAX_URL = 2000


def _link(row: Row[Any]) -> EditionLink:
    return EditionLink(
        row.id, row.edition_id, row.url, row.kind, row.title, row.human, row.automated
    )


class EngagementRepository:
    """Links per edition, their human/automated counts, and per-reader clicks (opt-in)."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._insert = postgresql.insert if engine.dialect.name == "postgresql" else sqlite.insert

    def register(self, edition_id: int, url: str, kind: str, title: str = "") -> int:
        """The id of this edition's link to ``url`` (made when new; safe under races)."""
        url = url[:MAX_URL]
        where = (
            (edition_links.c.edition_id == edition_id)
            & (edition_links.c.kind == kind)
            & (edition_links.c.url == url)
        )
        with write_transaction(self._engine, "cannot register a tracked link") as conn:
            conn.execute(
                self._insert(edition_links)
                .values(
                    edition_id=edition_id,
                    url=url,
                    kind=kind,
                    title=title[:500],
                    human=0,
                    automated=0,
                )
                .on_conflict_do_nothing()
            )
            return int(conn.execute(select(edition_links.c.id).where(where)).scalar_one())

    def link(self, edition_id: int, link_id: int) -> EditionLink:
        with translate_errors("cannot read a tracked link"), self._engine.connect() as conn:
            row = conn.execute(
                select(edition_links).where(
                    edition_links.c.id == link_id, edition_links.c.edition_id == edition_id
                )
            ).first()
        if row is None:
            raise NotFound("tracked link", f"{edition_id}/{link_id}")
        return _link(row)

    def links(self, edition_id: int) -> list[EditionLink]:
        """Every tracked link of an edition, most clicked by people first."""
        with translate_errors("cannot read tracked links"), self._engine.connect() as conn:
            rows = conn.execute(
                select(edition_links)
                .where(edition_links.c.edition_id == edition_id)
                .order_by(edition_links.c.human.desc(), edition_links.c.id)
            ).all()
        return [_link(r) for r in rows]

    def add_counts(
        self, counts: Mapping[tuple[int, bool], int], readers: Mapping[tuple[int, int], int]
    ) -> None:
        """Add (link id, automated) -> n and, per-reader, (link id, subscriber id) -> n."""
        if not counts and not readers:
            return
        with write_transaction(self._engine, "cannot record clicks") as conn:
            for (link_id, automated), n in sorted(counts.items()):
                column = edition_links.c.automated if automated else edition_links.c.human
                conn.execute(
                    update(edition_links)
                    .where(edition_links.c.id == link_id)
                    .values({column.name: column + n})
                )
            for (link_id, subscriber_id), n in sorted(readers.items()):
                statement = self._insert(reader_clicks).values(
                    link_id=link_id, subscriber_id=subscriber_id, clicks=n
                )
                conn.execute(
                    statement.on_conflict_do_update(
                        index_elements=["link_id", "subscriber_id"],
                        set_={"clicks": reader_clicks.c.clicks + n},
                    )
                )

    def reader_clicks(self, subscriber_id: int) -> int:
        """Clicks kept for one reader (always 0 unless per-reader counting was on)."""
        with translate_errors("cannot read clicks"), self._engine.connect() as conn:
            rows = conn.execute(
                select(reader_clicks.c.clicks).where(reader_clicks.c.subscriber_id == subscriber_id)
            ).all()
        return sum(int(r.clicks) for r in rows)


class AdminRepository:
    """Editors of the dashboard: address and argon2 hash."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._insert = postgresql.insert if engine.dialect.name == "postgresql" else sqlite.insert

    def save(self, email: str, password_hash: str, now: datetime) -> AdminUser:
        """Add the editor, or set a new password for an existing one."""
        statement = self._insert(admin_users).values(
            email=email, password_hash=password_hash, created_at=now
        )
        with write_transaction(self._engine, "cannot save the editor") as conn:
            conn.execute(
                statement.on_conflict_do_update(
                    index_elements=["email"], set_={"password_hash": password_hash}
                )
            )
        return self.get(email)

    def get(self, email: str) -> AdminUser:
        with translate_errors("cannot read editors"), self._engine.connect() as conn:
            row = conn.execute(select(admin_users).where(admin_users.c.email == email)).first()
        if row is None:
            raise NotFound("editor", email)
        return AdminUser(row.id, row.email, row.password_hash)

    def by_id(self, user_id: int) -> AdminUser | None:
        with translate_errors("cannot read editors"), self._engine.connect() as conn:
            row = conn.execute(select(admin_users).where(admin_users.c.id == user_id)).first()
        return AdminUser(row.id, row.email, row.password_hash) if row else None


class PauseRepository:
    """Sends an editor paused: their rows are not claimed until resumed."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._insert = postgresql.insert if engine.dialect.name == "postgresql" else sqlite.insert

    def pause(self, edition_id: int, now: datetime) -> None:
        statement = self._insert(paused_editions).values(edition_id=edition_id, paused_at=now)
        with write_transaction(self._engine, "cannot pause the send") as conn:
            conn.execute(statement.on_conflict_do_nothing())

    def resume(self, edition_id: int) -> None:
        with write_transaction(self._engine, "cannot resume the send") as conn:
            conn.execute(delete(paused_editions).where(paused_editions.c.edition_id == edition_id))

    def paused(self) -> set[int]:
        with translate_errors("cannot read paused sends"), self._engine.connect() as conn:
            return {int(r[0]) for r in conn.execute(select(paused_editions.c.edition_id))}


def sent_per_minute(engine: Engine, edition_id: int) -> list[tuple[str, int]]:
    """(minute as ``YYYY-MM-DD HH:MM`` UTC, messages sent in it) for one edition."""
    if engine.dialect.name == "postgresql":
        minute: Any = func.to_char(deliveries.c.updated_at, "YYYY-MM-DD HH24:MI")
    else:
        minute = func.strftime("%Y-%m-%d %H:%M", deliveries.c.updated_at)
    query = (
        select(minute.label("minute"), func.count())
        .where(deliveries.c.edition_id == edition_id, deliveries.c.state == "sent")
        .group_by(minute)
        .order_by(minute)
    )
    with translate_errors("cannot read the sending timeline"), engine.connect() as conn:
        return [(str(m), int(n)) for m, n in conn.execute(query).all()]
