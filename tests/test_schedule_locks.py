"""The leader lock: one holder at a time, gone with its holder (process or connection)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest
from conftest import POSTGRES_URL, _require_postgres, reset_postgres
from sqlalchemy import create_engine, text

from publisher.exceptions import StoreError
from publisher.store import Store, open_store
from publisher.store.locks import lock_key


def test_only_one_holder_at_a_time_and_release_hands_it_over(store: Store) -> None:
    first, second = store.leader_lock("scheduler"), store.leader_lock("scheduler")
    assert first.try_acquire()
    assert first.try_acquire()  # taking it again is a no-op
    assert not second.try_acquire()
    assert first.still_held() and not second.still_held()
    first.release()
    assert not first.still_held()
    assert second.try_acquire()
    second.release()


def test_locks_of_other_names_do_not_conflict(store: Store) -> None:
    one, other = store.leader_lock("scheduler"), store.leader_lock("something-else")
    assert one.try_acquire() and other.try_acquire()
    one.release()
    other.release()


HOLDER = """
import sys, time
from publisher.store import open_store
store = open_store(sys.argv[1], migrate=False)
lock = store.leader_lock("scheduler")
assert lock.try_acquire()
print("held", flush=True)
time.sleep(60)
"""


def test_the_lock_dies_with_its_holder_process(database_url: str, store: Store) -> None:
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLDER, database_url], stdout=subprocess.PIPE, text=True
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        lock = store.leader_lock("scheduler")
        assert not lock.try_acquire()
        os.kill(holder.pid, signal.SIGKILL)  # no clean-up runs: the database/kernel drops it
        holder.wait(10)
        deadline = time.monotonic() + 10
        while not lock.try_acquire():
            assert time.monotonic() < deadline, "the dead holder's lock was never freed"
            time.sleep(0.1)
        lock.release()
    finally:
        if holder.poll() is None:
            holder.kill()
        holder.wait(10)
        if holder.stdout is not None:
            holder.stdout.close()


@pytest.mark.postgres
def test_a_leader_whose_connection_dies_knows_it_lost_the_lock() -> None:
    _require_postgres()
    reset_postgres(POSTGRES_URL)
    database_url = POSTGRES_URL
    store = open_store(database_url, create=True)
    leader, standby = store.leader_lock("scheduler"), store.leader_lock("scheduler")
    try:
        assert leader.try_acquire() and not standby.try_acquire()
        admin = create_engine(database_url)
        # Only the session holding this lock, in this database: pg_locks lists the whole
        # server, and ending every advisory-lock holder also ends the hold locks of senders
        # running elsewhere on the server, which then look dead and have their rows
        # reclaimed and sent a second time while they still send them.
        key = lock_key("scheduler") & 0xFFFF_FFFF_FFFF_FFFF  # a bigint key: classid, objid
        with admin.begin() as conn:  # what a network cut or a server restart does to a session
            conn.execute(
                text(
                    "SELECT pg_terminate_backend(pid) FROM pg_locks "
                    "WHERE locktype = 'advisory' AND pid <> pg_backend_pid() "
                    "AND database = (SELECT oid FROM pg_database "
                    "WHERE datname = current_database()) "
                    "AND classid = :high AND objid = :low AND objsubid = 1"
                ),
                {"high": key >> 32, "low": key & 0xFFFF_FFFF},
            )
        admin.dispose()
        assert not leader.still_held()
        assert standby.try_acquire()
    finally:
        standby.release()
        leader.release()
        store.close()


def test_in_memory_sqlite_has_no_leader_lock() -> None:
    memory = open_store("sqlite:///:memory:")
    with pytest.raises(StoreError, match="in-memory"):
        memory.leader_lock("scheduler")
    memory.close()


def test_a_lock_checked_from_two_threads_at_once_stays_held(store: Store) -> None:
    """A sender checks its hold lock from its heartbeat and from its claim loop. On
    PostgreSQL both use one session; checks at the same moment must neither break it nor
    drop the lock (for that moment the sender would look dead and its rows be taken)."""
    import threading
    import warnings

    lock = store.leader_lock("worker:two-threads")
    assert lock.try_acquire()
    failures: list[BaseException] = []
    answers: list[bool] = []

    def check() -> None:
        try:
            for _ in range(150):
                answers.append(lock.still_held())
        except BaseException as exc:  # a warning turned error, or a broken session
            failures.append(exc)

    with warnings.catch_warnings():
        warnings.simplefilter("error")  # SQLAlchemy's "transaction already deassociated"
        threads = [threading.Thread(target=check) for _ in range(3)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    assert failures == [] and answers.count(True) == 450
    lock.release()
