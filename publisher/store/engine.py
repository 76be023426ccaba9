"""Opening the database: engine options per dialect, migrations, and driver-error translation."""

from __future__ import annotations

import errno
import functools
import re
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, CursorResult, Engine, create_engine, event, inspect, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, NoSuchModuleError, SQLAlchemyError

from publisher.exceptions import StoreError
from publisher.store import content_version

if TYPE_CHECKING:
    from alembic.config import Config

MIGRATIONS = Path(__file__).parent / "migrations"


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    """WAL for concurrent readers, a busy timeout for writers, and enforced foreign keys."""
    # The driver's own transaction handling would defer BEGIN; we issue BEGIN ourselves
    # (see _sqlite_begin) so that claims can take the write lock up front.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def _sqlite_begin(connection: Connection) -> None:
    mode = connection.get_execution_options().get("sqlite_begin", "DEFERRED")
    connection.exec_driver_sql(f"BEGIN {mode}")


def sqlite_file(url: str) -> Path | None:
    """The file of a SQLite URL (None for PostgreSQL and in-memory databases)."""
    try:
        parsed = make_url(url)
    except ArgumentError as exc:
        raise StoreError(f"database URL {url!r} is not valid: {exc}") from exc
    database = parsed.database or ""
    if parsed.get_backend_name() != "sqlite" or database in ("", ":memory:"):
        return None
    return Path(database)


def create_store_engine(url: str, create: bool = False) -> Engine:
    """An engine for ``url``. Only ``create`` (``publisher init``) makes a SQLite file and
    its folder: any other command on a missing file would otherwise start an empty
    database and lose sight of the real one, so it is refused with one clear line."""
    path = sqlite_file(url)
    if path is not None and not path.exists():
        if not create:
            raise StoreError(f"no database at {path}: run `publisher init`")
        path.parent.mkdir(parents=True, exist_ok=True)
    if make_url(url).get_backend_name() == "sqlite":
        # 32 prepared statements kept per connection, not the driver's 128: a claim's
        # statements carry their ids written in (see DeliveryRepository._among), so each
        # is new, and 128 of them held ~19 MB per connection. A sender of 100,000 readers
        # peaked at 105-106 MB with 32 against 128-129 MB, at the same rate.
        engine = create_engine(
            url, connect_args={"check_same_thread": False, "timeout": 30, "cached_statements": 32}
        )
        event.listen(engine, "connect", _sqlite_pragmas)
        event.listen(engine, "begin", _sqlite_begin)
        return engine
    try:
        return create_engine(url, pool_pre_ping=True, pool_size=5, max_overflow=10)
    except (NoSuchModuleError, ArgumentError) as exc:
        raise StoreError(f"database URL {url!r} is not supported: {exc}") from exc


SQLITE_FULL = 13
POSTGRES_DISK_FULL = "53100"


def _disk_full(exc: BaseException) -> bool:
    """Whether a full disk is behind ``exc`` or an error it interrupted.

    SQLite reports SQLITE_FULL, and the rollback of the savepoint that follows then fails
    with "no such savepoint", which would hide the cause: the whole chain is read.
    """
    seen: BaseException | None = exc
    for _ in range(8):
        if seen is None:
            return False
        orig = getattr(seen, "orig", None) or seen
        if (
            getattr(orig, "sqlite_errorcode", None) == SQLITE_FULL
            or getattr(orig, "sqlstate", None) == POSTGRES_DISK_FULL
            or (isinstance(orig, OSError) and orig.errno == errno.ENOSPC)
        ):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


def describe_error(exc: BaseException) -> str:
    """One line from a driver error: the first line of the database's own message."""
    has_origin = isinstance(exc, DBAPIError) and exc.orig is not None
    text = str(getattr(exc, "orig", exc)) if has_origin else str(exc)
    first = text.strip().splitlines()[0] if text.strip() else type(exc).__name__
    if _disk_full(exc):
        return f"disk full: {first}" if "full" in first else "disk full"
    return first


@contextmanager
def translate_errors(action: str) -> Iterator[None]:
    """Turn driver errors into StoreError naming ``action``, with the cause chained."""
    try:
        yield
    except StoreError:
        raise
    except (SQLAlchemyError, OSError) as exc:
        raise StoreError(f"{action}: {describe_error(exc)}") from exc


@contextmanager
def write_transaction(engine: Engine, action: str | None = None) -> Iterator[Connection]:
    """A transaction that will write, committed on success, rolled back on error.

    With ``action``, driver errors become StoreError naming it (see translate_errors).

    On SQLite it takes the write lock at BEGIN (``BEGIN IMMEDIATE``): a deferred
    transaction that reads and then writes fails at once with "database is locked" when
    another process wrote in between, whatever the busy timeout; an immediate one waits
    its turn. PostgreSQL ignores the option.
    """
    with (
        translate_errors(action) if action else nullcontext(),
        engine.connect().execution_options(sqlite_begin="IMMEDIATE") as conn,
        conn.begin(),
    ):
        yield conn


def _alembic_config(connection: Connection) -> Config:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = connection
    return config


_REVISION_LINE = re.compile(r'^(revision|down_revision)\s*=\s*"([^"]*)"', re.MULTILINE)


@functools.cache
def head_revision() -> str | None:
    """The newest migration's id, read from the migration files' own lines.

    Every command opens the store, and asking alembic (importing it, with mako and its
    dialect modules, then parsing each script) cost about a third of a command's start-up:
    seconds of CPU on a loaded host, paid again by every helper of a send. A database
    already at this revision needs nothing from alembic. None when the files do not name
    one head (alembic then decides).
    """
    revisions: set[str] = set()
    parents: set[str] = set()
    for script in (MIGRATIONS / "versions").glob("*.py"):
        for name, value in _REVISION_LINE.findall(script.read_text(encoding="utf-8")):
            (revisions if name == "revision" else parents).add(value)
    heads = revisions - parents
    return next(iter(heads)) if len(heads) == 1 else None


def current_revision(connection: Connection) -> str | None:
    """The database's migration id (None for a database never migrated)."""
    if not inspect(connection).has_table("alembic_version"):
        return None
    rows = connection.execute(text("SELECT version_num FROM alembic_version")).scalars().all()
    return rows[0] if len(rows) == 1 else None


def migrate(engine: Engine) -> None:
    """Bring the schema to the newest migration (idempotent)."""
    with translate_errors("cannot migrate the database"), engine.begin() as connection:
        head = head_revision()
        if head is not None and current_revision(connection) == head:
            return
        from alembic import command

        command.upgrade(_alembic_config(connection), "head")
        # A migration may change what pages show, and SQLite's table rebuilds drop the
        # rebuilt table's triggers: put them back and move the version.
        content_version.install(connection)
        content_version.bump(connection)


def needs_migration(engine: Engine) -> bool:
    """Whether the database is behind the newest migration."""
    from alembic.script import ScriptDirectory

    with translate_errors("cannot read the schema version"), engine.connect() as connection:
        current = current_revision(connection)
        head = ScriptDirectory.from_config(_alembic_config(connection)).get_current_head()
    return current != head


def inserted_id(result: CursorResult[Any]) -> int:
    """The primary key of the row an INSERT just made."""
    key = result.inserted_primary_key
    if key is None:  # pragma: no cover - every table here has an integer key
        raise StoreError("the database did not return the new row's id")
    return int(key[0])
