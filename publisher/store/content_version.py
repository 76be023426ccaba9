"""The content version: one number that every write of what the public pages show moves.

The web's page cache keeps rendered pages until this changes, and asks for it often (see
:mod:`publisher.web.pagecache`), so reading it must cost the same at ten articles and at a
million: it is one row of its own table (``content_version``), read by primary key.

Triggers in the database move it, in the same transaction as the write, so no writer can
forget it and no reader can see the new version without the write (or the reverse): the
CLI, the ingest, the HTTP API and the admin, the scheduler's editions, a second server, a
migration, or an operator's own SQL. What moves it:

* any row inserted, updated or deleted in ``articles``, ``article_categories`` or
  ``categories`` (what the home, article and category pages show);
* an edition created or deleted, or its ``status``, ``sent_at``, ``article_ids``, ``key``
  or ``window_end`` set (what the archive lists). The ledger's many writes during a send
  touch none of these; a claim's "open to sending" update moves it once per edition.

On PostgreSQL the triggers are constraint triggers deferred to commit, and the function
they run moves the row only once per transaction (it records the transaction's id): an
import of 200 articles in one transaction moves it once, and the row's lock is taken at
commit, after every other statement of the transaction. Two writers therefore never wait
for each other's counter while holding a row the other wants (a deadlock with an
immediate trigger: A holds the counter and inserts the slug B inserted; B waits for the
counter). SQLite has one writer at a time, so its plain row triggers move it per row.

:func:`install` (re)creates the triggers. Migration 0021 calls it, and so does every
migration run (``publisher.store.engine.migrate``), because SQLite's way of altering a
table (copy it into a new one, drop the old) drops the old table's triggers with it.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Connection, func, select, text, update

from publisher.store.schema import articles, content_version

# Every row written in these tables is a change of the public pages.
WATCHED = ("articles", "article_categories", "categories")
EDITION_COLUMNS = ("status", "sent_at", "article_ids", "key", "window_end")
FUNCTION = "content_version_bump"

_PG_FUNCTION = f"""
CREATE OR REPLACE FUNCTION {FUNCTION}() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE content_version SET version = version + 1, txid = txid_current()
    WHERE id = 1 AND txid <> txid_current();
    RETURN NULL;
END
$$
"""


def _triggers() -> list[tuple[str, str, str]]:
    """(name, table, event) of every trigger, the same on both databases."""
    found = [
        (f"content_version_{table}_{event.lower()}", table, event)
        for table in WATCHED
        for event in ("INSERT", "UPDATE", "DELETE")
    ]
    columns = ", ".join(EDITION_COLUMNS)
    found += [
        ("content_version_editions_insert", "editions", "INSERT"),
        ("content_version_editions_delete", "editions", "DELETE"),
        ("content_version_editions_update", "editions", f"UPDATE OF {columns}"),
    ]
    return found


def install(conn: Connection) -> None:
    """Create the row if missing and (re)create every trigger; safe to run again."""
    postgres = conn.dialect.name == "postgresql"
    has_row = conn.execute(select(content_version.c.id).where(content_version.c.id == 1))
    if has_row.first() is None:
        conn.execute(content_version.insert().values(id=1, version=1, txid=0))
    if postgres:
        conn.execute(text(_PG_FUNCTION))
    for name, table, event in _triggers():
        if postgres:
            conn.execute(text(f"DROP TRIGGER IF EXISTS {name} ON {table}"))
            conn.execute(
                text(
                    f"CREATE CONSTRAINT TRIGGER {name} AFTER {event} ON {table} "
                    f"DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION {FUNCTION}()"
                )
            )
        else:
            conn.execute(text(f"DROP TRIGGER IF EXISTS {name}"))
            conn.execute(
                text(
                    f"CREATE TRIGGER {name} AFTER {event} ON {table} FOR EACH ROW BEGIN "
                    "UPDATE content_version SET version = version + 1 WHERE id = 1; END"
                )
            )


def uninstall(conn: Connection) -> None:
    """Drop the triggers (and PostgreSQL's function); the table is the migration's."""
    postgres = conn.dialect.name == "postgresql"
    for name, table, _event in _triggers():
        conn.execute(text(f"DROP TRIGGER IF EXISTS {name}" + (f" ON {table}" if postgres else "")))
    if postgres:
        conn.execute(text(f"DROP FUNCTION IF EXISTS {FUNCTION}()"))


def bump(conn: Connection) -> None:
    """Move the version by hand: after a migration, which may change what pages show in
    ways no watched row records (a new column's default, a rewritten template's data)."""
    conn.execute(
        update(content_version)
        .where(content_version.c.id == 1)
        .values(version=content_version.c.version + 1)
    )


def read(conn: Connection, now: datetime) -> tuple[object, ...]:
    """(version, the next scheduled article's time): the second moves when ``now`` passes
    it, since a scheduled article appears then without any write. Both are index reads.
    Without the row (deleted by hand) every answer differs, so nothing is kept stale."""
    due = select(func.min(articles.c.published_at)).where(articles.c.published_at > now)
    query = select(content_version.c.version, due.scalar_subquery()).where(
        content_version.c.id == 1
    )
    row = conn.execute(query).first()
    return ("no version row", now) if row is None else tuple(row)
