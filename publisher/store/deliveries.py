"""The delivery ledger: one row per (edition, subscriber), claimed under lease, settled in batches.

Why a ledger and not a high-water mark: every recipient's fate is its own row, so a crash,
a restart or a second sender can neither skip nor repeat anyone. The rules:

- rows are created with ``INSERT ... ON CONFLICT DO NOTHING``: creating them twice is a no-op;
- a worker claims a batch by setting ``claimed_by`` and ``lease_until``. Claimable rows are
  pending ones, deferred ones whose ``retry_at`` has come, and claimed ones whose lease ran
  out (their worker died). On PostgreSQL the claim selects with ``FOR UPDATE SKIP LOCKED`` so
  concurrent workers take disjoint batches without waiting; on SQLite it runs in a
  ``BEGIN IMMEDIATE`` transaction, which serialises claimers on the write lock;
- outcomes are written as they come (the sender commits whatever has been answered, a few
  at a time: group commit), and only while the writer still holds the claim, so a worker
  whose lease was taken over cannot overwrite the new owner's result;
- leases are short and renewed by the holder's heartbeat (``renew``). A holder also holds
  a lock that dies with it (``hold``: a PostgreSQL session advisory lock, or a ``flock``
  beside the SQLite file), so ``holders`` can tell a dead holder from a slow one and
  ``reclaim`` its rows at once instead of waiting out its lease;
- the same transactions move the edition's state (``store.editions``): a claim makes it
  ``sending``, the outcome that leaves no row unfinished makes it ``sent`` or ``partial``.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
from collections.abc import Iterable, Mapping, Sequence
from contextlib import suppress
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import (
    BindParameter,
    ColumnElement,
    Connection,
    DateTime,
    Engine,
    Integer,
    Select,
    any_,
    bindparam,
    case,
    func,
    literal_column,
    or_,
    select,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import DBAPIError

from publisher.exceptions import StoreError
from publisher.store.editions import reopen_edition, settle_editions, start_editions
from publisher.store.engine import describe_error, translate_errors, write_transaction
from publisher.store.locks import FileLock, LeaderLock, leader_lock
from publisher.store.schema import (
    deliveries,
    editions,
    paused_editions,
    stored_utc,
    subscriber_categories,
    subscribers,
    suppressions,
)
from publisher.text import one_line
from publisher.types import (
    FINAL_DELIVERY_STATES,
    ClaimedDelivery,
    DeliveryOutcome,
    DeliveryState,
    DeliveryWave,
    EditionDeliveryStatus,
    LeaseHolder,
    SubscriberStatus,
)

_CHUNK = 1000

# Built once: the sender records a few outcomes every few milliseconds (group commit), and
# building the statement each time cost more than running it.
_RECORD = (
    update(deliveries)
    .where(
        deliveries.c.id == bindparam("b_id"),
        deliveries.c.claimed_by == bindparam("b_worker"),
    )
    .values(
        state=bindparam("b_state"),
        attempts=bindparam("b_attempts"),
        message_id=bindparam("b_message_id"),
        reply=bindparam("b_reply"),
        retry_at=bindparam("b_retry_at"),
        claimed_by=None,
        lease_until=None,
        updated_at=bindparam("b_now"),
    )
)


# PostgreSQL: the same write as one statement over one JSON document of the outcomes.
# psycopg runs ``executemany`` as a pipeline of one statement per outcome, and the
# per-statement work (here and in SQLAlchemy) was most of the sender's CPU; six array
# parameters still cost more to adapt than one string made by the json module in C.
# ``d.id = ANY(ids)`` names the rows by primary key for the planner: it cannot see into
# the JSON (it guesses 100 rows) and, with ``claimed_by`` guessed to match one row, it
# scanned the whole ledger per commit (5 ms at 20k rows against 0.06 ms by key).
_RECORD_JSON_TEXT = """
UPDATE deliveries AS d
SET state = v.state, attempts = v.attempts, message_id = v.message_id, reply = v.reply,
    retry_at = v.retry_at, claimed_by = NULL, lease_until = NULL, updated_at = {now}::timestamp
FROM json_to_recordset({outcomes}::json)
     AS v(id integer, state varchar, attempts integer, message_id varchar, reply text,
          retry_at timestamp)
WHERE d.id = ANY({ids}::integer[]) AND d.id = v.id AND d.claimed_by = {worker}::varchar
"""
# Through SQLAlchemy, inside a transaction (a group that suppresses or settles).
_RECORD_JSON = _RECORD_JSON_TEXT.format(
    outcomes="%(outcomes)s", ids="%(ids)s", worker="%(worker)s", now="%(now)s"
)
# Through libpq, prepared once per writer session (the common group): see OutcomeWriter.
_RECORD_JSON_NATIVE = _RECORD_JSON_TEXT.format(outcomes="$1", ids="$2", worker="$3", now="$4")
_RECORD_JSON_NAME = b"publisher_record_outcomes"


# ``mail.ledger_flush = false`` (the default): the outcome writer's commits return before
# the WAL flush. A killed sender loses nothing (the commit is in the server's memory,
# visible to every session, and on disk within ``wal_writer_delay`` x 3); only a crash of
# the database host in that moment loses the last outcomes, which is the promise SQLite's
# ``synchronous = NORMAL`` makes.
_NO_FLUSH_WAIT = "SET synchronous_commit = off"
_NO_FLUSH_WAIT_LOCAL = "SET LOCAL synchronous_commit = off"
_FLUSH_WAIT = "RESET synchronous_commit"

# libpq's codes, as plain numbers: psycopg is imported only where PostgreSQL is used.
_COMMAND_OK = 1  # ExecStatus.COMMAND_OK
_CONNECTION_OK = 0  # ConnStatus.OK
_SQLSTATE = ord("C")  # DiagnosticField.SQLSTATE


def _stored_reply(outcome: DeliveryOutcome) -> str | None:
    """The reply as the ledger keeps it: one line of at most 1,000 characters, without
    control characters. The text is the relay's: a NUL cannot be stored in PostgreSQL (nor
    read from a JSON document), an escape would reach the editor's terminal."""
    return one_line((outcome.reply or "")[:1000]) or None


def _outcome_json(outcomes: Sequence[DeliveryOutcome]) -> str:
    """The outcomes as the JSON document ``_RECORD_JSON`` reads."""
    return json.dumps(
        [
            {
                "id": o.delivery_id,
                "state": o.state.value,
                "attempts": o.attempts,
                "message_id": o.message_id,
                "reply": _stored_reply(o),
                "retry_at": _iso(stored_utc(o.retry_at)),
            }
            for o in outcomes
        ]
    )


def _outcome_document(
    worker: str, outcomes: Sequence[DeliveryOutcome], now: datetime
) -> dict[str, Any]:
    """The parameters of ``_RECORD_JSON``, for SQLAlchemy."""
    return {
        "outcomes": _outcome_json(outcomes),
        "ids": [o.delivery_id for o in outcomes],
        "worker": worker,
        "now": stored_utc(now),
    }


def _outcome_parameters(
    worker: bytes, outcomes: Sequence[DeliveryOutcome], now: datetime
) -> list[bytes | None]:
    """The parameters of ``_RECORD_JSON_NATIVE`` in libpq's text format."""
    ids = ",".join([str(o.delivery_id) for o in outcomes])
    return [
        _outcome_json(outcomes).encode(),
        f"{{{ids}}}".encode(),
        worker,
        now.astimezone(UTC).replace(tzinfo=None).isoformat().encode(),
    ]


def _iso(moment: datetime | None) -> str | None:
    return None if moment is None else moment.isoformat()


def _state_is(state: DeliveryState) -> Any:
    """``state = '<value>'`` with the value inline, so partial indexes on it can be used."""
    return deliveries.c.state == literal_column(f"'{state.value}'")


def _wave_due(now: datetime) -> Any:
    """A pending row with no wave, or whose wave (``retry_at``, local delivery) has come."""
    return or_(deliveries.c.retry_at.is_(None), deliveries.c.retry_at <= now)


class HolderLock:
    """A worker's hold lock (see ``DeliveryRepository.hold``); on SQLite, a file to remove."""

    def __init__(self, lock: LeaderLock) -> None:
        self._lock = lock

    def keep(self) -> None:
        """Take the lock again if its session ended while this worker lives.

        A PostgreSQL session can end under a live worker (a network cut, a terminated
        backend); until the lock is back, other workers take this one for dead and reclaim
        its rows. A file lock cannot be lost this way: checking it costs nothing.
        """
        if not self._lock.still_held():
            self._lock.try_acquire()

    def release(self) -> None:
        self._lock.release()
        if isinstance(self._lock, FileLock):
            Path(self._lock.path).unlink(missing_ok=True)


class OutcomeWriter:
    """Records one sender's outcomes, a group per transaction, on a connection it keeps.

    The sender commits every few milliseconds; taking a pooled connection for each commit
    (checkout, then a reset on return) cost more than the commit. A connection that breaks
    (a database restart) is replaced once per call before the error is raised.

    On PostgreSQL the common group (outcomes only: no bounce to suppress, no edition to
    finish) is one ``UPDATE`` on a connection in autocommit mode, i.e. one round trip that
    is its own transaction. ``BEGIN``, the statement and ``COMMIT`` were three, and the
    lanes waited on them: the commit cycle, not the mail server, bounded a sender. That
    statement is prepared once per session and run through libpq itself
    (``PQexecPrepared``, with the parameters already in its text format): one call that
    lets go of the interpreter lock while the server works. psycopg's cursor around the
    same statement (placeholder conversion, parameter adaptation, a wait loop that takes
    the lock back at every step) was a third of the writer thread's CPU, paid thousands
    of times a second while the lanes need that lock to send.

    On SQLite the common group is the same ``UPDATE`` run with ``executemany`` on the
    driver's connection, between ``BEGIN IMMEDIATE`` and ``COMMIT``: at 20,000 readers the
    whole ``digest send`` took 5.8-6.4 s this way against 6.6-8.3 s through SQLAlchemy.
    """

    def __init__(
        self, repository: DeliveryRepository, engine: Engine, worker: str, flush: bool = True
    ) -> None:
        self._repository = repository
        self._engine = engine
        self._worker = worker
        self._worker_bytes = worker.encode()
        self._flush = flush
        self._conn: Connection | None = None
        self._autocommit: Connection | None = None
        self._pgconn: Any = None  # libpq's connection under the autocommit connection

    def record(
        self, outcomes: Sequence[DeliveryOutcome], now: datetime, settle: bool = True
    ) -> int:
        """Write the group in one transaction; ``settle=False`` when the sender knows rows
        of each outcome's edition are still open (it holds them), so no edition can be
        finished by this group."""
        if not outcomes:
            return 0
        with translate_errors("cannot record deliveries"):
            try:
                return self._record(outcomes, now, settle)
            except DBAPIError as exc:
                if not exc.connection_invalidated:
                    raise
                self.close()
                return self._record(outcomes, now, settle)

    @property
    def concurrent(self) -> bool:
        """PostgreSQL takes writes from several sessions at once; SQLite has one writer."""
        return self._repository.postgres

    def may_overlap(self, outcomes: Sequence[DeliveryOutcome], settle: bool) -> bool:
        """Only a plain ``UPDATE`` of this sender's own rows that cannot finish an edition.

        A group that may finish one asks whether any row is still open, and would see the
        rows of a concurrent, uncommitted write as open; a group that suppresses readers
        or finishes editions touches rows other groups may touch too.
        """
        return self.concurrent and not settle and self._repository.one_statement(outcomes, settle)

    def _record(self, outcomes: Sequence[DeliveryOutcome], now: datetime, settle: bool) -> int:
        if self._repository.one_statement(outcomes, settle):
            if not self._repository.postgres:
                return self._record_sqlite(outcomes, now)
            return self._record_direct(outcomes, now)
        conn = self._session()
        try:
            with conn.begin():
                if self._repository.postgres and not self._flush:
                    conn.exec_driver_sql(_NO_FLUSH_WAIT_LOCAL)
                return self._repository._record_on(conn, self._worker, outcomes, now, settle)
        except BaseException:
            if not self._repository.postgres:
                self._end_sqlite_transaction()
            raise

    def _session(self) -> Connection:
        """The connection this writer keeps for its transactions (taken at first use)."""
        if self._conn is None:
            self._conn = self._engine.connect().execution_options(sqlite_begin="IMMEDIATE")
        return self._conn

    def _record_direct(self, outcomes: Sequence[DeliveryOutcome], now: datetime) -> int:
        """The common PostgreSQL group through libpq (a lost connection: one retry)."""
        import psycopg  # only PostgreSQL comes here

        params = _outcome_parameters(self._worker_bytes, outcomes, now)
        for attempt in (1, 2):
            try:
                if self._pgconn is None:
                    self._pgconn = self._direct_session()
                result = self._pgconn.exec_prepared(_RECORD_JSON_NAME, params)
            except psycopg.Error as exc:  # no session, or libpq returned no result at all
                error = one_line(str(exc))
            else:
                if result.status == _COMMAND_OK:
                    return int(result.command_tuples or 0)
                error = _libpq_error(result, self._pgconn)
            if self._pgconn is not None and self._pgconn.status == _CONNECTION_OK:
                raise StoreError(f"cannot record deliveries: {error}")
            if self._autocommit is not None:
                self._autocommit.invalidate()  # the session is gone: not back to the pool
            self.close()
            if attempt == 2:
                raise StoreError(f"cannot record deliveries: {error}")
        raise AssertionError("unreachable")

    def _record_sqlite(self, outcomes: Sequence[DeliveryOutcome], now: datetime) -> int:
        """The common SQLite group: one ``executemany`` on the driver's own connection."""
        driver = self._session().connection.driver_connection
        stamp = _sqlite_time(now)
        rows = [
            (
                o.state.value,
                o.attempts,
                o.message_id,
                _stored_reply(o),
                _sqlite_time(o.retry_at),
                stamp,
                o.delivery_id,
                self._worker,
            )
            for o in outcomes
        ]
        try:
            cursor = driver.cursor()  # type: ignore[union-attr]
            try:
                cursor.execute("BEGIN IMMEDIATE")  # waits its turn (busy_timeout), as elsewhere
                cursor.executemany(_RECORD_SQLITE, rows)
                count = int(cursor.rowcount)
                cursor.execute("COMMIT")
            finally:
                cursor.close()
        except BaseException as exc:
            self._end_sqlite_transaction()
            if isinstance(exc, sqlite3.Error):
                raise StoreError(f"cannot record deliveries: {describe_error(exc)}") from exc
            raise
        return count

    def _end_sqlite_transaction(self) -> None:
        """Roll back what a failed group left open on the driver's connection.

        A ``COMMIT`` that fails leaves SQLite inside the transaction, holding the write
        lock that every other writer (the claims, other senders) then waits for.
        """
        with suppress(Exception):  # the connection itself may be gone: nothing is held then
            driver = self._conn.connection.driver_connection  # type: ignore[union-attr]
            if driver.in_transaction:  # type: ignore[union-attr]
                driver.rollback()  # type: ignore[union-attr]

    def _direct_session(self) -> Any:
        """libpq's connection under an autocommit connection of this writer, the outcome
        statement prepared on it (and, by default, commits that do not wait for the flush)."""
        conn = self._engine.connect().execution_options(isolation_level="AUTOCOMMIT")
        driver = conn.connection.driver_connection
        try:
            if not self._flush:
                driver.execute(_NO_FLUSH_WAIT)  # type: ignore[union-attr]
            pgconn = driver.pgconn  # type: ignore[union-attr]
            prepared = pgconn.prepare(_RECORD_JSON_NAME, _RECORD_JSON_NATIVE.encode())
            if prepared.status != _COMMAND_OK and prepared.error_field(_SQLSTATE) != b"42P05":
                # 42P05: prepared by an earlier writer on this pooled session: fine.
                raise StoreError(f"cannot record deliveries: {_libpq_error(prepared, pgconn)}")
        except BaseException:
            # Half set up (its durability changed, say): never back to the pool.
            conn.invalidate()
            conn.close()
            raise
        self._autocommit = conn
        return pgconn

    def close(self) -> None:
        if self._pgconn is not None and self._pgconn.status == _CONNECTION_OK:
            # The pooled session goes back as it came: its default durability, and no
            # prepared statement under a name the next writer prepares again.
            with suppress(Exception):  # a failure here only leaves a session to reset
                if not self._flush:
                    self._pgconn.exec_(_FLUSH_WAIT.encode())
                self._pgconn.exec_(b"DEALLOCATE " + _RECORD_JSON_NAME)
        for conn in (self._conn, self._autocommit):
            if conn is not None:
                conn.close()
        self._conn = self._autocommit = self._pgconn = None


# SQLite: ``_RECORD`` as the driver's own statement. Through SQLAlchemy (parameter
# processing per row, its BEGIN hook, the transaction objects) a group of ~10 outcomes
# cost the writer thread 0.7 ms of CPU; this way 0.3 ms, SQLite's own work included. The
# sender's lanes need the interpreter lock the writer holds meanwhile.
_RECORD_SQLITE = (
    "UPDATE deliveries SET state = ?, attempts = ?, message_id = ?, reply = ?, retry_at = ?,"
    " claimed_by = NULL, lease_until = NULL, updated_at = ? WHERE id = ? AND claimed_by = ?"
)


_SQLITE = sqlite.dialect()
# SQLAlchemy's own text form of a time on SQLite (what ``UTCDateTime`` stores there), so
# rows written past it compare with every other time in the ledger.
_SQLITE_TIME_TEXT = DateTime().dialect_impl(_SQLITE).bind_processor(_SQLITE)


def _sqlite_time(moment: datetime | None) -> str | None:
    """A time as ``UTCDateTime`` stores it on SQLite; a naive one is refused, as there."""
    if moment is None:
        return None
    if moment.tzinfo is None:
        raise StoreError("cannot record deliveries: a time without a zone given to the store")
    assert _SQLITE_TIME_TEXT is not None  # SQLAlchemy's SQLite DATETIME formats in Python
    return str(_SQLITE_TIME_TEXT(stored_utc(moment)))


def _libpq_error(result: Any, pgconn: Any) -> str:
    """One line of what libpq said about a failed statement."""
    raw = result.error_message or pgconn.error_message or b"the connection was lost"
    return one_line(raw.decode("utf-8", "replace"))


class DeliveryRepository:
    """Creates, claims, settles and counts ledger rows."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._postgres = engine.dialect.name == "postgresql"

    @property
    def postgres(self) -> bool:
        return self._postgres

    # --- creating -----------------------------------------------------------------------------

    def create(
        self,
        edition_id: int,
        recipients: Iterable[tuple[int, str | None]],
        now: datetime,
        not_before: Mapping[int, datetime] | None = None,
    ) -> int:
        """Add a pending row per (subscriber id, variant) not yet in the ledger; return how many.

        ``not_before`` (subscriber id -> moment) holds a row back until its reader's wave
        (local delivery); a worker claims it from then on.

        One transaction, inserts in chunks; pairs already present are left untouched, so a
        rerun, a second scheduler or two concurrent sends never make a second row.
        """
        rows = [
            {
                "edition_id": edition_id,
                "subscriber_id": subscriber_id,
                "variant": variant,
                "state": DeliveryState.PENDING.value,
                "attempts": 0,
                "retry_at": (not_before or {}).get(subscriber_id),
                "wave_at": (not_before or {}).get(subscriber_id),
                "created_at": now,
                "updated_at": now,
            }
            for subscriber_id, variant in recipients
        ]
        dialect_insert = postgresql.insert if self._postgres else sqlite.insert
        statement = dialect_insert(deliveries).on_conflict_do_nothing(
            index_elements=["edition_id", "subscriber_id"]
        )
        with write_transaction(self._engine, "cannot create deliveries") as conn:
            before = self._count(conn, edition_id)
            for start in range(0, len(rows), _CHUNK):
                conn.execute(statement, rows[start : start + _CHUNK])
            added = self._count(conn, edition_id) - before
            if added:  # a reader added after the edition settled: it is sending again
                reopen_edition(conn, edition_id)
            return added

    def has_rows(self, edition_id: int) -> bool:
        """Whether the edition's ledger was written (one index lookup)."""
        query = select(deliveries.c.id).where(deliveries.c.edition_id == edition_id).limit(1)
        with translate_errors("cannot read deliveries"), self._engine.connect() as conn:
            return conn.execute(query).first() is not None

    def _count(self, conn: Connection, edition_id: int) -> int:
        query = select(func.count()).where(deliveries.c.edition_id == edition_id)
        return int(conn.execute(query).scalar_one())

    # --- claiming -----------------------------------------------------------------------------

    def claim(
        self,
        worker: str,
        limit: int,
        lease_seconds: float,
        now: datetime,
        edition_ids: Sequence[int] | None = None,
    ) -> list[ClaimedDelivery]:
        """Take up to ``limit`` claimable rows for ``worker`` until ``now + lease_seconds``.

        The cost is O(limit), however much of the edition is already sent: see
        :meth:`_claimable_ids`.
        """
        lease_until = now + timedelta(seconds=lease_seconds)
        with write_transaction(self._engine, "cannot claim deliveries") as conn:
            ids = self._claimable_ids(conn, limit, now, edition_ids)
            if not ids:
                return []
            conn.execute(
                update(deliveries)
                .where(self._among(deliveries.c.id, ids))
                .values(
                    state=DeliveryState.CLAIMED.value,
                    claimed_by=worker,
                    lease_until=lease_until,
                    updated_at=now,
                )
            )
            claimed = self._load_claimed(conn, ids)
            start_editions(conn, sorted({c.edition_id for c in claimed}), now)
            return claimed

    def _claimable_ids(
        self, conn: Connection, limit: int, now: datetime, edition_ids: Sequence[int] | None
    ) -> list[int]:
        """Ids of up to ``limit`` claimable rows, each kind read from its own partial index.

        Rows whose holder's lease ran out come first, then deferred rows now due (both read
        in time order from an index holding only rows in that state), then pending rows in
        (edition, id) order from an index holding only pending rows. No query walks the
        rows already sent, so a claim at 90 % sent costs what the first one did. The state
        is written as a literal, not a bound parameter: a planner can only use a partial
        index when the query's condition visibly implies the index's.
        """
        ids: list[int] = []
        scoped = None if edition_ids is None else deliveries.c.edition_id.in_(list(edition_ids))
        overdue = (
            (DeliveryState.CLAIMED, deliveries.c.lease_until < now, deliveries.c.lease_until),
            (DeliveryState.DEFERRED, deliveries.c.retry_at <= now, deliveries.c.retry_at),
        )
        for state, due, order in overdue:
            query = select(deliveries.c.id).where(_state_is(state), due)
            if scoped is not None:
                query = query.where(scoped)
            ids += self._take(conn, query.order_by(order), limit - len(ids))
        # A pending row's retry_at, when set, is its wave: not sent before (local delivery).
        pending = select(deliveries.c.id).where(_state_is(DeliveryState.PENDING), _wave_due(now))
        if edition_ids is None:
            by_edition = pending.order_by(deliveries.c.edition_id, deliveries.c.id)
            ids += self._take(conn, by_edition, limit - len(ids))
        else:  # one edition at a time, oldest first: each an ordered range of the index
            for edition_id in sorted(set(edition_ids)):
                if len(ids) >= limit:
                    break
                one = pending.where(deliveries.c.edition_id == edition_id)
                ids += self._take(conn, one.order_by(deliveries.c.id), limit - len(ids))
        return ids

    def _take(self, conn: Connection, query: Select[Any], limit: int) -> list[int]:
        if limit <= 0:
            return []
        # An editor's pause: the edition's rows wait (claims already made finish normally).
        query = query.where(deliveries.c.edition_id.not_in(select(paused_editions.c.edition_id)))
        query = query.limit(limit)
        if self._postgres:  # concurrent claimers take disjoint rows without waiting
            query = query.with_for_update(skip_locked=True)
        return [int(i) for i in conn.execute(query).scalars()]

    def _among(self, column: Any, ids: Iterable[int]) -> ColumnElement[bool]:
        """``column IN ids``; on PostgreSQL ``= ANY(array)``, one parameter whatever the count.

        An ``IN`` list is compiled anew for each count: for a claimed batch of 200 rows
        that was 200 bound parameters rendered, cast and adapted three times per claim,
        on the thread the lanes wait for.
        """
        if self._postgres:
            values = bindparam(None, sorted(ids), type_=postgresql.ARRAY(Integer))
            among: ColumnElement[bool] = column == any_(values)
            return among
        # SQLite: the integers written into the statement, not one parameter each (a batch
        # of 1,000, or the two batches a halted sender releases, passes the 999 bound
        # parameters SQLite allowed before 3.32).
        inline: BindParameter[list[int]] = bindparam(
            None, sorted(ids), expanding=True, literal_execute=True
        )
        return column.in_(inline)  # type: ignore[no-any-return]

    def _load_claimed(self, conn: Connection, ids: list[int]) -> list[ClaimedDelivery]:
        suppressed = (
            select(suppressions.c.email).where(suppressions.c.email == subscribers.c.email).exists()
        )
        query = (
            select(
                deliveries.c.id,
                deliveries.c.edition_id,
                editions.c.key,
                deliveries.c.subscriber_id,
                subscribers.c.email,
                subscribers.c.name,
                subscribers.c.status,
                deliveries.c.attempts,
                deliveries.c.variant,
                suppressed.label("suppressed"),
            )
            .join(editions, editions.c.id == deliveries.c.edition_id)
            .join(subscribers, subscribers.c.id == deliveries.c.subscriber_id)
            .where(self._among(deliveries.c.id, ids))
            .order_by(deliveries.c.id)
        )
        active = SubscriberStatus.ACTIVE.value
        # Rows unpacked by position: reading a result row's fields by name made this
        # method cost 15 µs of CPU per claimed row, against 9.7 µs now (claims of 1,000).
        rows = conn.execute(query).all()
        chosen: dict[int, list[str]] = {}
        picks = select(subscriber_categories.c.subscriber_id, subscriber_categories.c.category_slug)
        picks = picks.where(
            self._among(subscriber_categories.c.subscriber_id, {r[3] for r in rows})
        )
        for subscriber_id, slug in conn.execute(
            picks.order_by(subscriber_categories.c.category_slug)
        ):
            chosen.setdefault(subscriber_id, []).append(slug)
        return [
            ClaimedDelivery(
                row_id,
                edition_id,
                key,
                subscriber_id,
                email,
                name,
                attempts,
                variant,
                status == active and not suppressed,
                tuple(chosen.get(subscriber_id, ())),
            )
            for (
                row_id,
                edition_id,
                key,
                subscriber_id,
                email,
                name,
                status,
                attempts,
                variant,
                suppressed,
            ) in rows
        ]

    # --- settling -----------------------------------------------------------------------------

    def record(self, worker: str, outcomes: Sequence[DeliveryOutcome], now: datetime) -> int:
        """Write a batch of outcomes in one transaction; return how many rows took them.

        A row is only written while ``worker`` still holds it. Hard bounces also put the
        address on the suppression list and mark the subscriber bounced.
        """
        if not outcomes:
            return 0
        with write_transaction(self._engine, "cannot record deliveries") as conn:
            return self._record_on(conn, worker, outcomes, now)

    def _record_on(
        self,
        conn: Connection,
        worker: str,
        outcomes: Sequence[DeliveryOutcome],
        now: datetime,
        settle: bool = True,
    ) -> int:
        written = self._write_outcomes(conn, worker, outcomes, now)
        bounced = [o.delivery_id for o in outcomes if o.bounce]
        if bounced:
            self._suppress_bounced(conn, bounced, outcomes, now)
        if settle and any(o.state in FINAL_DELIVERY_STATES for o in outcomes):
            settle_editions(conn, self._editions_of(conn, outcomes), now)
        return written

    def one_statement(self, outcomes: Sequence[DeliveryOutcome], settle: bool) -> bool:
        """Whether the group is only its ``UPDATE`` (see :class:`OutcomeWriter`)."""
        if any(o.bounce for o in outcomes):
            return False
        return not settle or all(o.state not in FINAL_DELIVERY_STATES for o in outcomes)

    def _write_outcomes(
        self, conn: Connection, worker: str, outcomes: Sequence[DeliveryOutcome], now: datetime
    ) -> int:
        """The outcomes' own rows, where ``worker`` still holds them; how many took them."""
        if self._postgres:
            document = _outcome_document(worker, outcomes, now)
            result = conn.exec_driver_sql(_RECORD_JSON, document)
        else:
            result = conn.execute(_RECORD, self._record_params(worker, outcomes, now))
        return int(result.rowcount)

    @staticmethod
    def _record_params(
        worker: str, outcomes: Sequence[DeliveryOutcome], now: datetime
    ) -> list[dict[str, Any]]:
        return [
            {
                "b_id": o.delivery_id,
                "b_state": o.state.value,
                "b_attempts": o.attempts,
                "b_message_id": o.message_id,
                "b_reply": _stored_reply(o),
                "b_retry_at": o.retry_at,
                "b_worker": worker,
                "b_now": now,
            }
            for o in outcomes
        ]

    def writer(self, worker: str, flush: bool = True) -> OutcomeWriter:
        """A writer of ``worker``'s outcomes on a connection of its own (group commit).

        ``flush=False`` (PostgreSQL): its commits do not wait for the WAL flush (see
        ``_NO_FLUSH_WAIT``).
        """
        return OutcomeWriter(self, self._engine, worker, flush)

    def _editions_of(self, conn: Connection, outcomes: Sequence[DeliveryOutcome]) -> list[int]:
        """The editions of final outcomes (carried by the sender's, else looked up)."""
        final = [o for o in outcomes if o.state in FINAL_DELIVERY_STATES]
        known = {o.edition_id for o in final if o.edition_id is not None}
        unknown = [o.delivery_id for o in final if o.edition_id is None]
        if unknown:
            query = select(deliveries.c.edition_id).where(deliveries.c.id.in_(unknown))
            known.update(conn.execute(query.distinct()).scalars())
        return sorted(known)

    def _suppress_bounced(
        self,
        conn: Connection,
        delivery_ids: list[int],
        outcomes: Sequence[DeliveryOutcome],
        now: datetime,
    ) -> None:
        replies = {o.delivery_id: o.reply or "hard bounce" for o in outcomes}
        query = (
            select(deliveries.c.id, subscribers.c.id.label("subscriber_id"), subscribers.c.email)
            .join(subscribers, subscribers.c.id == deliveries.c.subscriber_id)
            .where(deliveries.c.id.in_(delivery_ids))
        )
        found = conn.execute(query).all()
        if not found:
            return
        dialect_insert = postgresql.insert if self._postgres else sqlite.insert
        conn.execute(
            dialect_insert(suppressions).on_conflict_do_nothing(index_elements=["email"]),
            [{"email": r.email, "reason": replies[r.id][:500], "created_at": now} for r in found],
        )
        conn.execute(
            update(subscribers)
            .where(subscribers.c.id.in_([r.subscriber_id for r in found]))
            .values(status=SubscriberStatus.BOUNCED.value, updated_at=now)
        )

    def release(self, worker: str, ids: Sequence[int], now: datetime) -> int:
        """Give claimed rows back (a stopping worker): pending, or deferred if tried before."""
        if not ids:
            return 0
        back = case(
            (deliveries.c.attempts > 0, DeliveryState.DEFERRED.value),
            else_=DeliveryState.PENDING.value,
        )
        statement = (
            update(deliveries)
            .where(
                self._among(deliveries.c.id, ids),
                deliveries.c.claimed_by == worker,
                _state_is(DeliveryState.CLAIMED),
            )
            .values(state=back, claimed_by=None, lease_until=None, retry_at=now, updated_at=now)
        )
        with write_transaction(self._engine, "cannot release deliveries") as conn:
            return int(conn.execute(statement).rowcount)

    def expire_leases(self, now: datetime, holder: str | None = None) -> int:
        """Return rows whose lease ran out (their worker died) to the pool; return how many.

        Claiming takes such rows anyway; this makes ``status`` show them as they are. With
        ``holder``, that worker's rows go back whatever their lease (see ``reclaim``).
        """
        back = case(
            (deliveries.c.attempts > 0, DeliveryState.DEFERRED.value),
            else_=DeliveryState.PENDING.value,
        )
        whose = (
            deliveries.c.lease_until < now if holder is None else deliveries.c.claimed_by == holder
        )
        statement = (
            update(deliveries)
            .where(_state_is(DeliveryState.CLAIMED), whose)
            .values(state=back, claimed_by=None, lease_until=None, retry_at=now, updated_at=now)
        )
        with write_transaction(self._engine, "cannot expire leases") as conn:
            return int(conn.execute(statement).rowcount)

    # --- leases: heartbeat, holders, reclaiming -----------------------------------------------

    def renew(self, worker: str, lease_seconds: float, now: datetime) -> int:
        """Extend the leases ``worker`` holds to ``now + lease_seconds`` (its heartbeat).

        On PostgreSQL a row another session has locked is skipped, not waited for: that
        is the sender's own outcome writer finishing it (or another sender taking a row
        whose lease ran out). Waiting made a deadlock: the heartbeat's ``UPDATE`` locked
        the held rows in one order and the writer's group in another, and PostgreSQL
        ended one of them; when that was the writer, the send stopped with "cannot record
        deliveries: deadlock detected" (seen in a million-reader send). A row skipped is
        renewed at the next beat if it is still held, well within its lease.
        """
        held = select(deliveries.c.id).where(
            deliveries.c.claimed_by == worker, _state_is(DeliveryState.CLAIMED)
        )
        if self._postgres:
            held = held.with_for_update(skip_locked=True)
        statement = (
            update(deliveries)
            .where(deliveries.c.id.in_(held))
            .values(lease_until=now + timedelta(seconds=lease_seconds))
        )
        with write_transaction(self._engine, "cannot renew leases") as conn:
            return int(conn.execute(statement).rowcount)

    def hold(self, worker: str) -> HolderLock | None:
        """Take the lock that says ``worker`` is alive; held until released or its death.

        None where no such lock exists (an in-memory SQLite database): then only the lease
        tells a dead holder apart. Take it before the first claim, release it after the last.
        """
        lock = self._holder_lock(worker)
        if lock is None:
            return None
        if not lock.try_acquire():
            raise StoreError(f"worker id {worker} is in use by another live process")
        return HolderLock(lock)

    def _holder_lock(self, worker: str) -> LeaderLock | None:
        name = "holder-" + hashlib.sha256(worker.encode()).hexdigest()[:20]
        try:
            return leader_lock(self._engine, name)
        except StoreError:
            return None  # in-memory SQLite: one process, nobody else to tell

    def _alive(self, worker: str) -> bool | None:
        """Whether ``worker``'s hold lock is still held by someone: None when unknowable."""
        lock = self._holder_lock(worker)
        if lock is None:
            return None
        if not lock.try_acquire():
            return True
        HolderLock(lock).release()
        return False

    def holders(self, now: datetime, edition_ids: Sequence[int] | None = None) -> list[LeaseHolder]:
        """Who holds live claims (rows, lease end), and whether each holder is provably alive.

        ``alive`` is False when the holder's hold lock is free: its process (SQLite, one
        host) or its database session (PostgreSQL, any host) is gone, so its rows may be
        reclaimed at once. True when the lock is held, None when it cannot be known.
        """
        query = (
            select(
                deliveries.c.claimed_by,
                func.count().label("n"),
                func.max(deliveries.c.lease_until).label("until"),
            )
            .where(
                _state_is(DeliveryState.CLAIMED),
                deliveries.c.lease_until >= now,
                deliveries.c.claimed_by.is_not(None),
            )
            .group_by(deliveries.c.claimed_by)
            .order_by(deliveries.c.claimed_by)
        )
        if edition_ids is not None:
            query = query.where(deliveries.c.edition_id.in_(list(edition_ids)))
        with translate_errors("cannot read deliveries"), self._engine.connect() as conn:
            found = conn.execute(query).all()
        return [
            LeaseHolder(r.claimed_by, int(r.n), r.until, self._alive(r.claimed_by)) for r in found
        ]

    def reclaim(self, worker: str, now: datetime) -> int:
        """Return a dead holder's rows to the pool at once; return how many."""
        return self.expire_leases(now, holder=worker)

    # --- reading ------------------------------------------------------------------------------

    def status(
        self, edition_ids: Sequence[int] | None = None, with_empty: bool = False
    ) -> list[EditionDeliveryStatus]:
        """Counts by state for each edition that has ledger rows (oldest edition first).

        With ``with_empty``, editions without rows (skipped, or nobody to send to) too.
        """
        counted = (
            select(
                deliveries.c.edition_id,
                deliveries.c.state,
                func.count().label("n"),
                func.min(deliveries.c.retry_at).label("next_retry"),
            )
            .group_by(deliveries.c.edition_id, deliveries.c.state)
            .subquery()
        )
        join = editions.join(counted, counted.c.edition_id == editions.c.id, isouter=with_empty)
        query = (
            select(editions, counted.c.state, counted.c.n, counted.c.next_retry)
            .select_from(join)
            .order_by(editions.c.id)
        )
        if edition_ids is not None:
            query = query.where(editions.c.id.in_(list(edition_ids)))
        found: dict[int, EditionDeliveryStatus] = {}
        with translate_errors("cannot read deliveries"), self._engine.connect() as conn:
            for r in conn.execute(query):
                status = found.setdefault(
                    r.id,
                    EditionDeliveryStatus(
                        r.id,
                        r.key,
                        {s.value: 0 for s in DeliveryState},
                        state=r.status,
                        started_at=r.started_at,
                        sent_at=r.sent_at,
                    ),
                )
                if r.state is None:
                    continue
                status.counts[r.state] = int(r.n)
                if r.state == DeliveryState.DEFERRED.value and r.next_retry is not None:
                    retry = status.next_retry_at
                    retry = r.next_retry if retry is None else min(retry, r.next_retry)
                    found[r.id] = replace(status, next_retry_at=retry)
        return list(found.values())

    def unfinished_editions(self) -> list[int]:
        """Editions with rows not yet in a final state (what any send resumes first)."""
        final = [state.value for state in FINAL_DELIVERY_STATES]
        query = (
            select(deliveries.c.edition_id)
            .where(deliveries.c.state.not_in(final))
            .group_by(deliveries.c.edition_id)
            .order_by(deliveries.c.edition_id)
        )
        with translate_errors("cannot read deliveries"), self._engine.connect() as conn:
            return list(conn.execute(query).scalars())

    def waves(self, edition_id: int) -> list[DeliveryWave]:
        """The edition's local-delivery waves, earliest first, each with its rows by state.

        Rows without a wave (local delivery off) are not counted: such an edition has none.
        """
        query = (
            select(deliveries.c.wave_at, deliveries.c.state, func.count())
            .where(deliveries.c.edition_id == edition_id, deliveries.c.wave_at.is_not(None))
            .group_by(deliveries.c.wave_at, deliveries.c.state)
            .order_by(deliveries.c.wave_at)
        )
        found: dict[datetime, DeliveryWave] = {}
        with translate_errors("cannot read deliveries"), self._engine.connect() as conn:
            for moment, state, count in conn.execute(query):
                wave = found.setdefault(
                    moment, DeliveryWave(moment, {s.value: 0 for s in DeliveryState})
                )
                wave.counts[state] = int(count)
        return list(found.values())

    def coming_waves(self, now: datetime) -> list[DeliveryWave]:
        """Waves of every edition whose pending rows still wait for them (after ``now``),
        with their readers' time zones; earliest first."""
        query = (
            select(editions.c.key, deliveries.c.wave_at, subscribers.c.timezone, func.count())
            .select_from(
                deliveries.join(editions, editions.c.id == deliveries.c.edition_id).join(
                    subscribers, subscribers.c.id == deliveries.c.subscriber_id
                )
            )
            .where(_state_is(DeliveryState.PENDING), deliveries.c.wave_at > now)
            .group_by(editions.c.key, deliveries.c.wave_at, subscribers.c.timezone)
            .order_by(deliveries.c.wave_at, editions.c.key)
        )
        found: dict[tuple[str, datetime], DeliveryWave] = {}
        with translate_errors("cannot read deliveries"), self._engine.connect() as conn:
            for key, moment, zone, count in conn.execute(query):
                wave = found.setdefault(
                    (key, moment), DeliveryWave(moment, {"pending": 0}, edition_key=key)
                )
                wave.counts["pending"] += int(count)
                wave.zones[str(zone)] = int(count)
        return list(found.values())

    def next_due(self, now: datetime, edition_ids: Sequence[int] | None = None) -> datetime | None:
        """When the next unfinished row becomes claimable (``now`` if one already is).

        None when every row is final: the work is done.
        """
        scoped = None if edition_ids is None else deliveries.c.edition_id.in_(list(edition_ids))
        queries = (  # each one a lookup in a partial index (see _claimable_ids)
            select(deliveries.c.id)
            .where(_state_is(DeliveryState.PENDING), _wave_due(now))
            .limit(1),
            select(func.min(deliveries.c.retry_at)).where(_state_is(DeliveryState.DEFERRED)),
            select(func.min(deliveries.c.lease_until)).where(_state_is(DeliveryState.CLAIMED)),
        )
        with translate_errors("cannot read deliveries"), self._engine.connect() as conn:
            pending, retry, lease = (
                conn.execute(q if scoped is None else q.where(scoped)).scalar() for q in queries
            )
        if pending is not None:
            return now
        moments = [m for m in (retry, lease) if m is not None]
        return max(now, min(moments)) if moments else None

    def rows(self, edition_id: int) -> list[dict[str, Any]]:
        """Every row of an edition as plain data (tests and ``status --json`` details)."""
        query = (
            select(deliveries, subscribers.c.email)
            .join(subscribers, subscribers.c.id == deliveries.c.subscriber_id)
            .where(deliveries.c.edition_id == edition_id)
            .order_by(deliveries.c.id)
        )
        with translate_errors("cannot read deliveries"), self._engine.connect() as conn:
            return [dict(r._mapping) for r in conn.execute(query)]
