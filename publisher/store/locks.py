"""Process-wide leader locks: one holder at a time, released by the holder's death.

The scheduler uses one to make sure a single process fires the jobs (APScheduler 3 is not
made for several schedulers on one job store). The lock must vanish when its holder dies,
whatever the way it dies, so that a standby can take over:

- PostgreSQL: a session-level ``pg_try_advisory_lock`` on a dedicated connection (outside
  the pool). The server drops it when that session ends: a crash, a kill -9, a network cut.
- SQLite: ``flock`` on a file beside the database. SQLite is one host by nature; the kernel
  drops the lock when the process exits.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import threading
from pathlib import Path
from typing import Protocol

from sqlalchemy import Connection, Engine, create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.pool import NullPool

from publisher.exceptions import StoreError
from publisher.store.engine import describe_error


class LeaderLock(Protocol):
    """What a leader election needs: try to take the lock, check it is still held, let go."""

    name: str

    def try_acquire(self) -> bool:
        """Take the lock when free; True when this process holds it (now or already)."""
        ...

    def still_held(self) -> bool:
        """Whether the lock is still ours (False when its connection died)."""
        ...

    def release(self) -> None: ...


def lock_key(name: str) -> int:
    """A stable signed 64-bit key for ``pg_try_advisory_lock`` from a lock name."""
    digest = hashlib.sha256(f"publisher:{name}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


class AdvisoryLock:
    """A PostgreSQL session advisory lock held on its own connection.

    A sender checks its lock from two threads (its heartbeat, and its loop before each
    claim); a connection is not made for that, and two checks at once broke its transaction
    state, which dropped and re-took the lock: for that moment the sender looked dead to
    others. One mutex serialises every use of the connection.
    """

    def __init__(self, url: str, name: str) -> None:
        self.name = name
        self.key = lock_key(name)
        self._engine = create_engine(url, poolclass=NullPool)
        self._conn: Connection | None = None
        self._mutex = threading.RLock()

    def try_acquire(self) -> bool:
        with self._mutex:
            return self._try_acquire()

    def _try_acquire(self) -> bool:
        if self._conn is not None:
            return self._still_held()
        try:
            conn = self._engine.connect()
        except SQLAlchemyError as exc:
            raise StoreError(f"cannot take the {self.name} lock: {describe_error(exc)}") from exc
        try:
            query = text("SELECT pg_try_advisory_lock(:k)")
            got = bool(conn.execute(query, {"k": self.key}).scalar())
            conn.commit()
        except SQLAlchemyError as exc:
            conn.invalidate()
            conn.close()
            raise StoreError(f"cannot take the {self.name} lock: {describe_error(exc)}") from exc
        if got:
            self._conn = conn
        else:
            conn.close()
        return got

    def still_held(self) -> bool:
        with self._mutex:
            return self._still_held()

    def _still_held(self) -> bool:
        if self._conn is None:
            return False
        try:
            self._conn.execute(text("SELECT 1"))
            self._conn.commit()
        except SQLAlchemyError:
            self._drop()
            return False
        return True

    def release(self) -> None:
        with self._mutex:
            self._release()

    def _release(self) -> None:
        if self._conn is None:
            return
        try:
            self._conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": self.key})
            self._conn.commit()
        except SQLAlchemyError:
            pass  # the session is gone, and the lock with it
        self._drop()

    def _drop(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            conn.invalidate()  # closes the driver's connection, dead or alive
            conn.close()


class FileLock:
    """An exclusive ``flock`` on ``path``, held as long as the file stays open."""

    def __init__(self, path: Path, name: str) -> None:
        self.name = name
        self.path = path
        self._fd: int | None = None

    def try_acquire(self) -> bool:
        if self._fd is not None:
            return True
        try:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        except OSError as exc:
            raise StoreError(f"cannot open the lock file {self.path}: {exc.strerror}") from exc
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return False
        self._fd = fd
        return True

    def still_held(self) -> bool:
        return self._fd is not None

    def release(self) -> None:
        fd, self._fd = self._fd, None
        if fd is not None:
            fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)


def leader_lock(engine: Engine, name: str) -> LeaderLock:
    """The right lock for the database behind ``engine`` (advisory or file lock)."""
    url = engine.url
    if url.get_backend_name() == "postgresql":
        return AdvisoryLock(url.render_as_string(hide_password=False), name)
    database = make_url(url).database or ""
    if not database or database == ":memory:":
        raise StoreError("an in-memory SQLite database cannot be shared, so it has no leader lock")
    return FileLock(Path(f"{database}.{name}.lock"), name)
