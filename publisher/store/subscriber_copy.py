"""Subscriber import on PostgreSQL: ``COPY FROM STDIN`` into a staging table, then set-based SQL.

The batched path (one ``INSERT ... SELECT FROM unnest`` per 1,000 rows, with a lookup of
existing and suppressed addresses per batch) spends most of its time in round trips and
per-batch planning. Here every valid row of the file is streamed with ``COPY`` (lines of
its text format written by :func:`staged_line`, sent 2,048 at a time; the server parses
while Python reads the next rows) into a temporary table, and a handful of statements do
the rest for the whole file at once, in one transaction:

1. ``import_plan``: each staged row with the first line of its address in the file, the
   existing subscriber's id and whether the address is suppressed; a new address's id is
   taken from the table's sequence here (in file order), so its categories need no second
   lookup.
2. New addresses: one plain ``INSERT ... SELECT``, then one for their categories (if a
   sign-up added one of the addresses meanwhile, one ``ON CONFLICT DO NOTHING`` statement
   from a savepoint instead).
3. Existing addresses: one ``UPDATE ... FROM`` of the rows whose name, frequency, language,
   time zone or categories differ (an import never changes a status: it cannot bring back
   someone who unsubscribed), then their categories.
4. Later lines of an address already in the file and suppressed addresses come back as
   skipped lines.

The rules are those of :meth:`SubscriberRepository.import_batch`; only the unit differs (the
whole file, so a bad file mid-way leaves nothing half-written, and a duplicate is always
"duplicate of line N"). Memory stays flat: Python holds one chunk of lines at a time; the
file lives in the server's temporary table until the transaction ends.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime
from itertools import islice
from typing import Any

from sqlalchemy import Boolean, Connection, Engine, String, bindparam, text
from sqlalchemy.exc import IntegrityError, SQLAlchemyError

from publisher.exceptions import StoreError
from publisher.store.engine import describe_error
from publisher.store.schema import UTCDateTime

Created = tuple[int, int, str, str]
"""A new subscriber for its confirmation mail: (line, id, email, name)."""

COLUMNS = "line, email, name, frequency, categories, consent_at, language, timezone"

_STAGE = text(
    "CREATE TEMP TABLE import_rows (line integer NOT NULL, email text NOT NULL, "
    "name text NOT NULL, frequency text, categories text, consent_at timestamp, "
    "language text, timezone text)"
)

# NULL in frequency/categories/language/timezone: the file has no such column (keep the
# current value; a new row gets the default). Categories are slugs joined by "," in code
# point order, compared with the stored set aggregated in the same order (COLLATE "C").
# The sequence is looked up once (a sub-select: one evaluation for the statement); written
# as nextval(pg_get_serial_sequence(...)) it was looked up in the catalog for every row,
# 1.4 s of a 200,000-row import. Ids follow the lines of the file (the sort by line).
_PLAN = text(
    "CREATE TEMP TABLE import_plan AS "
    "SELECT q.*, CASE WHEN q.line = q.first_line AND NOT q.suppressed AND q.sid IS NULL "
    "  THEN nextval((SELECT pg_get_serial_sequence('subscribers', 'id'))::regclass) "
    "  END AS new_id "
    "FROM (SELECT r.*, min(r.line) OVER (PARTITION BY r.email) AS first_line, s.id AS sid, "
    "  x.email IS NOT NULL AS suppressed "
    "  FROM import_rows r "
    "  LEFT JOIN subscribers s ON s.email = r.email "
    "  LEFT JOIN suppressions x ON x.email = r.email) AS q "
    "ORDER BY q.line"
)

_INSERT_COLUMNS = (
    "INSERT INTO subscribers (id, email, name, status, frequency, consent_at, "
    "  consent_method, consent_ip, created_at, updated_at, language, timezone) "
    "SELECT new_id, email, name, :status, coalesce(frequency, 'daily'), "
    "  CASE WHEN :active THEN coalesce(consent_at, :now) END, :method, '', :now, :now, "
    "  coalesce(language, ''), coalesce(timezone, '') "
    "FROM import_plan WHERE new_id IS NOT NULL "
)
_INSERT_PARAMS = (
    bindparam("status", type_=String),
    bindparam("active", type_=Boolean),
    bindparam("method", type_=String),
    bindparam("now", type_=UTCDateTime),
)

# The new subscribers, in file order, and their categories: plain inserts. An
# ``ON CONFLICT`` clause would make every row a speculative insertion (an extra index probe
# and WAL record per row: 1.8x the time of the plain insert, measured at 200,000 rows), for
# a race that almost never happens; when it does (a sign-up added one of these addresses
# since the plan), the plain insert fails on the unique address and :data:`_INSERT_RACED`
# runs instead, from a savepoint.
_INSERT = text(_INSERT_COLUMNS).bindparams(*_INSERT_PARAMS)

_LINK = text(
    "INSERT INTO subscriber_categories (subscriber_id, category_slug) "
    "SELECT p.new_id, slug FROM import_plan p, unnest(string_to_array(p.categories, ',')) AS slug "
    "WHERE p.new_id IS NOT NULL AND p.categories <> ''"
)

_INSERT_RACED = text(
    f"WITH ins AS ({_INSERT_COLUMNS} "
    # An address a concurrent sign-up added since the plan is left to that sign-up.
    "  ON CONFLICT (email) DO NOTHING RETURNING id), "
    "links AS ("
    "  INSERT INTO subscriber_categories (subscriber_id, category_slug) "
    "  SELECT p.new_id, slug FROM import_plan p JOIN ins ON ins.id = p.new_id, "
    "    unnest(string_to_array(p.categories, ',')) AS slug WHERE p.categories <> '') "
    "SELECT count(*) FROM ins"
).bindparams(*_INSERT_PARAMS)

_FIRSTS = "p.line = p.first_line AND NOT p.suppressed AND p.sid IS NOT NULL"

_UPDATED = text("CREATE TEMP TABLE import_updated (id integer, new_cats boolean)")

_UPDATE = text(
    "WITH cur AS ("
    "  SELECT c.subscriber_id, "
    "    string_agg(c.category_slug, ',' ORDER BY c.category_slug COLLATE \"C\") AS cats "
    f"  FROM subscriber_categories c JOIN import_plan p ON p.sid = c.subscriber_id AND {_FIRSTS} "
    "  GROUP BY c.subscriber_id), "
    "todo AS ("
    "  SELECT p.sid, p.name, p.frequency, p.language, p.timezone, "
    "    p.categories IS NOT NULL AND p.categories <> coalesce(cur.cats, '') AS new_cats "
    "  FROM import_plan p JOIN subscribers s ON s.id = p.sid "
    "  LEFT JOIN cur ON cur.subscriber_id = p.sid "
    f"  WHERE {_FIRSTS} AND ((p.name <> '' AND p.name <> s.name) "
    "    OR p.frequency <> s.frequency OR p.language <> s.language "
    "    OR p.timezone <> s.timezone "
    "    OR (p.categories IS NOT NULL AND p.categories <> coalesce(cur.cats, '')))), "
    "changed AS ("
    "  UPDATE subscribers s SET "
    "    name = CASE WHEN t.name <> '' THEN t.name ELSE s.name END, "
    "    frequency = coalesce(t.frequency, s.frequency), "
    "    language = coalesce(t.language, s.language), "
    "    timezone = coalesce(t.timezone, s.timezone), updated_at = :now "
    "  FROM todo t WHERE s.id = t.sid RETURNING s.id, t.new_cats) "
    "INSERT INTO import_updated SELECT * FROM changed"
).bindparams(bindparam("now", type_=UTCDateTime))

_RECATEGORISE = (
    "DELETE FROM subscriber_categories WHERE subscriber_id IN "
    "(SELECT id FROM import_updated WHERE new_cats)",
    "INSERT INTO subscriber_categories (subscriber_id, category_slug) "
    "SELECT p.sid, slug FROM import_plan p JOIN import_updated u ON u.id = p.sid AND u.new_cats, "
    f"unnest(string_to_array(p.categories, ',')) AS slug WHERE {_FIRSTS} AND p.categories <> ''",
)

_ANY_EXISTING = text(f"SELECT EXISTS (SELECT FROM import_plan p WHERE {_FIRSTS})")

_COUNTS = text(
    "SELECT (SELECT count(*) FROM import_plan p WHERE p.line = p.first_line "
    "AND NOT p.suppressed) AS firsts, (SELECT count(*) FROM import_updated) AS updated"
)

_SKIPPED = text(
    "SELECT line, first_line, suppressed FROM import_plan "
    "WHERE line <> first_line OR suppressed ORDER BY line"
)

_CREATED = text(
    "SELECT p.line, p.new_id, p.email, p.name FROM import_plan p "
    "JOIN subscribers s ON s.id = p.new_id ORDER BY p.line"
)

_DROP = text("DROP TABLE IF EXISTS import_rows, import_plan, import_updated")

_NULL = "\\N"
_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})
CHUNK_ROWS = 2048
"""Lines per write to the server (about 150 kB of the bench's rows; psycopg's ``write_row``
sent 32 kB at a time)."""


def _escaped(value: str | None) -> str | None:
    return None if value is None else value.translate(_ESCAPES)


def staged_line(
    line: int,
    email: str,
    name: str,
    frequency: str | None,
    categories: str | None,
    consent_at: datetime | None,
    language: str | None,
    timezone: str | None,
) -> str:
    """One row of ``import_rows`` as a line of ``COPY``'s text format.

    Written here rather than by psycopg's ``write_row`` (which looks up a dumper for each of
    the eight values: a fifth of the import's time in Python). Categories are slugs joined
    by ",", ``consent_at`` is naive UTC, None is NULL. A backslash (a name may hold one) is
    escaped, and so are a tab, CR or LF (the CSV reader makes names one line and refuses
    them in addresses, but this function does not rely on it).
    """
    seen = f"{email}{name}{frequency or ''}{categories or ''}{language or ''}{timezone or ''}"
    if "\\" in seen or not seen.isprintable():
        email, name = email.translate(_ESCAPES), name.translate(_ESCAPES)
        frequency, categories = _escaped(frequency), _escaped(categories)
        language, timezone = _escaped(language), _escaped(timezone)
    return (
        f"{line}\t{email}\t{name}\t{_NULL if frequency is None else frequency}\t"
        f"{_NULL if categories is None else categories}\t"
        f"{_NULL if consent_at is None else consent_at.isoformat(sep=' ')}\t"
        f"{_NULL if language is None else language}\t{_NULL if timezone is None else timezone}\n"
    )


def copy_rows(conn: Connection, lines: Iterable[str]) -> None:
    """Stream ``lines`` (:func:`staged_line`) into ``import_rows`` with ``COPY FROM STDIN``,
    ``CHUNK_ROWS`` at a time (the memory of one chunk)."""
    import psycopg  # only here: the store runs on SQLite without touching the driver

    driver: Any = conn.connection.driver_connection
    lines = iter(lines)
    try:
        with (
            driver.cursor() as cursor,
            cursor.copy(f"COPY import_rows ({COLUMNS}) FROM STDIN") as copy,
        ):
            chunk = list(islice(lines, CHUNK_ROWS))
            while chunk:
                copy.write("".join(chunk))
                chunk = list(islice(lines, CHUNK_ROWS))
    except psycopg.Error as exc:  # the driver's own error: SQLAlchemy never saw it
        raise StoreError(f"cannot import subscribers: {describe_error(exc)}") from exc


def _insert_new(conn: Connection, params: dict[str, Any]) -> int:
    """Insert the new subscribers and their categories; how many were inserted."""
    try:
        with conn.begin_nested():
            made = conn.execute(_INSERT, params).rowcount
            conn.execute(_LINK)
            return int(made)
    except IntegrityError:  # an address was added since the plan: back to the savepoint
        return int(conn.execute(_INSERT_RACED, params).scalar_one())


def import_copy(
    engine: Engine,
    lines: Iterable[str],
    status: str,
    active: bool,
    consent_method: str,
    now: datetime,
    created: Callable[[Sequence[Created]], None] | None = None,
    page: int = 1000,
) -> tuple[int, int, int, list[tuple[int, str]]]:
    """Import every line (:func:`staged_line`) in one transaction; (created, updated,
    unchanged, skipped lines).

    ``created`` is called after the commit with pages of new subscribers, in file order.
    """
    with engine.connect() as conn:
        try:
            with conn.begin():
                # Sorting a million addresses (first line of each, then file order for the
                # ids) in memory rather than in temporary files; this transaction only.
                conn.execute(text("SET LOCAL work_mem = '64MB'"))
                # Compiling these statements (JIT) cost half a second and saved none;
                # statistics of the staged rows from 3,000 of them, not 30,000 (each
                # ANALYZE below was 0.2 s at 200,000 rows: the planner needs the row
                # count and how many are new, not fine distributions).
                conn.execute(text("SET LOCAL jit = off"))
                conn.execute(text("SET LOCAL default_statistics_target = 10"))
                conn.execute(_DROP)
                conn.execute(_STAGE)
                copy_rows(conn, lines)
                conn.execute(text("ANALYZE import_rows"))
                conn.execute(_PLAN)
                # Statistics of the plan for the statements below: without them the
                # planner guessed how many rows name an existing subscriber, and once
                # chose a nested loop over the file for every stored category (minutes).
                conn.execute(text("ANALYZE import_plan"))
                params = {"status": status, "active": active, "method": consent_method, "now": now}
                made = _insert_new(conn, params)
                conn.execute(_UPDATED)
                if conn.execute(_ANY_EXISTING).scalar_one():
                    conn.execute(_UPDATE, {"now": now})
                    for statement in _RECATEGORISE:
                        conn.execute(text(statement))
                firsts, updated = conn.execute(_COUNTS).one()
                skipped = [
                    (line, "address is on the suppression list")
                    if line == first
                    else (line, f"duplicate of line {first}")
                    for line, first, suppressed in conn.execute(_SKIPPED)
                    if suppressed or line != first
                ]
            if created is not None and made:
                with conn.begin():
                    result = conn.execute(_CREATED.execution_options(stream_results=True))
                    for part in result.partitions(page):
                        created([(r[0], r[1], r[2], r[3]) for r in part])
        finally:
            # The staging tables outlive the commit (for the confirmation mails); drop them
            # so the pooled connection goes back clean. A failure here (a broken connection)
            # must not hide the error that brought us here; the next import drops them too.
            with contextlib.suppress(SQLAlchemyError):
                if conn.in_transaction():
                    conn.rollback()
                conn.execute(_DROP)
                conn.commit()
    return made, int(updated), int(firsts) - made - int(updated), skipped
