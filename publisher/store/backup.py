"""Backups of a live store, and restoring one into a missing or empty store.

- SQLite: the online backup API (``sqlite3.Connection.backup``) copies a consistent
  snapshot page by page while senders keep writing (WAL readers never block writers); the
  copy is switched out of WAL so the backup is one self-contained file.
- PostgreSQL: ``pg_dump --format=custom`` (a consistent snapshot in one transaction) and
  ``pg_restore``; the client tools must be installed (Debian: ``postgresql-client``).

A backup is written to ``FILE.partial`` (mode 0600: it holds every subscriber's address)
and renamed when complete, so a failed run never leaves a file that looks like a backup.
The kind of a backup file is read from its first bytes, so restoring a SQLite backup into
PostgreSQL (or the reverse) is refused by name.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
from collections.abc import Iterator
from contextlib import closing, contextmanager
from pathlib import Path

from sqlalchemy import Engine, create_engine, func, inspect, select, text
from sqlalchemy.engine import URL, make_url

from publisher.exceptions import StoreError
from publisher.store import schema
from publisher.store.engine import translate_errors

SQLITE_MAGIC = b"SQLite format 3\x00"
PG_CUSTOM_MAGIC = b"PGDMP"
# What a restored store is checked for (and what "empty" means): the newsroom's own rows.
COUNTED = ("articles", "subscribers", "editions", "deliveries")


def backup_kind(path: Path) -> str:
    """``sqlite`` or ``postgresql`` from a backup file's first bytes; StoreError otherwise."""
    try:
        with path.open("rb") as handle:
            head = handle.read(len(SQLITE_MAGIC))
    except OSError as exc:
        raise StoreError(f"{path}: cannot read: {exc.strerror}") from exc
    if head.startswith(SQLITE_MAGIC):
        return "sqlite"
    if head.startswith(PG_CUSTOM_MAGIC):
        return "postgresql"
    raise StoreError(f"{path}: not a backup made by `publisher backup` (SQLite or pg_dump -Fc)")


def row_counts(engine: Engine) -> dict[str, int]:
    """Rows per newsroom table (articles, subscribers, editions, deliveries); 0 when absent."""
    with translate_errors("cannot count rows"), engine.connect() as conn:
        present = set(inspect(conn).get_table_names())
        return {
            name: int(conn.execute(select(func.count()).select_from(table)).scalar_one())
            if name in present
            else 0
            for name, table in ((n, schema.metadata.tables[n]) for n in COUNTED)
        }


def backup_database(engine: Engine, out: Path) -> None:
    """Write a consistent snapshot of the store at ``engine`` to ``out``."""
    partial = out.with_name(out.name + ".partial")
    try:
        # Readable by the owner only from the first byte: a backup holds every address.
        partial.unlink(missing_ok=True)
        os.close(os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
        if engine.dialect.name == "sqlite":
            _sqlite_backup(_sqlite_path(engine.url), partial)
        else:
            _pg_tool("pg_dump", engine.url, "--format=custom", "--no-owner", f"--file={partial}")
        partial.replace(out)
    finally:
        partial.unlink(missing_ok=True)


def restore_database(url: str, source: Path, force: bool) -> None:
    """Put the backup ``source`` into the store at ``url`` (created when missing).

    A store holding any article, subscriber, edition or delivery is only overwritten with
    ``force``. The caller migrates afterwards (a backup from an older version catches up).
    """
    parsed = make_url(url)
    kind = backup_kind(source)
    dialect = "sqlite" if parsed.get_backend_name() == "sqlite" else "postgresql"
    if kind != dialect:
        raise StoreError(f"{source} is a {kind} backup; the store at {_safe(parsed)} is {dialect}")
    if dialect == "sqlite":
        target = _sqlite_path(parsed)
        target.parent.mkdir(parents=True, exist_ok=True)
    else:
        _create_pg_database(parsed)
    with _engine(url) as engine:
        counts = row_counts(engine)
    if any(counts.values()) and not force:
        held = ", ".join(f"{n} {name}" for name, n in counts.items() if n)
        raise StoreError(
            f"the store at {_safe(parsed)} is not empty ({held}); "
            "restore --force replaces it with the backup"
        )
    if dialect == "sqlite":
        _sqlite_restore(source, target)
    else:
        _pg_tool(
            "pg_restore",
            parsed,
            "--clean",
            "--if-exists",
            "--no-owner",
            "--exit-on-error",
            "--single-transaction",
            str(source),
        )


# --- SQLite -------------------------------------------------------------------------------------


def _sqlite_path(url: URL) -> Path:
    database = url.database or ""
    if not database or database == ":memory:":
        raise StoreError("an in-memory SQLite store cannot be backed up or restored")
    return Path(database)


def _sqlite_backup(source: Path, out: Path) -> None:
    if not source.exists():
        raise StoreError(f"database file {source} does not exist (run `publisher init`)")
    try:
        with (
            closing(sqlite3.connect(f"file:{source}?mode=ro", uri=True, timeout=30)) as src,
            closing(sqlite3.connect(out)) as dst,
        ):
            src.backup(dst)
            dst.execute("PRAGMA journal_mode=DELETE")
            if dst.execute("PRAGMA quick_check").fetchone() != ("ok",):
                raise StoreError(f"the backup of {source} failed its integrity check")
    except sqlite3.Error as exc:
        raise StoreError(f"cannot back up {source}: {exc}") from exc


def _sqlite_restore(source: Path, target: Path) -> None:
    try:
        with (
            closing(sqlite3.connect(f"file:{source}?mode=ro", uri=True)) as src,
            closing(sqlite3.connect(target, timeout=30)) as dst,
        ):
            src.backup(dst)
    except sqlite3.Error as exc:
        raise StoreError(f"cannot restore {source} into {target}: {exc}") from exc


# --- PostgreSQL ---------------------------------------------------------------------------------


def _pg_env(url: URL) -> dict[str, str]:
    """libpq's environment for ``url``: the password never appears on a command line."""
    env = dict(os.environ)
    for name, value in (
        ("PGHOST", url.host),
        ("PGPORT", url.port),
        ("PGUSER", url.username),
        ("PGPASSWORD", url.password),
        ("PGDATABASE", url.database),
    ):
        if value is not None:
            env[name] = str(value)
    return env


def _pg_tool(tool: str, url: URL, *args: str) -> None:
    found = shutil.which(tool)
    if found is None:
        raise StoreError(f"{tool} is not installed (Debian: apt install postgresql-client)")
    database = ["--dbname", url.database or ""] if tool == "pg_restore" else []
    result = subprocess.run(
        [found, *database, *args], env=_pg_env(url), capture_output=True, text=True, check=False
    )
    if result.returncode != 0:
        lines = result.stderr.strip().splitlines() or [f"exit code {result.returncode}"]
        raise StoreError(f"{tool} failed: {lines[0]}")


def _create_pg_database(url: URL) -> None:
    """Create the database named in ``url`` when it does not exist yet."""
    maintenance = url.set(database="postgres")
    with (
        _engine(maintenance, isolation_level="AUTOCOMMIT") as engine,
        translate_errors("cannot reach PostgreSQL"),
        engine.connect() as conn,
    ):
        query = text("SELECT 1 FROM pg_database WHERE datname = :name")
        if conn.execute(query, {"name": url.database}).first() is None:
            quoted = engine.dialect.identifier_preparer.quote(url.database or "")
            conn.execute(text(f"CREATE DATABASE {quoted}"))


@contextmanager
def _engine(url: str | URL, **options: object) -> Iterator[Engine]:
    engine = create_engine(url, **options)
    try:
        yield engine
    finally:
        engine.dispose()


def _safe(url: URL) -> str:
    return url.render_as_string(hide_password=True)
