"""Leader election: one scheduler per database, standbys taking over when the leader dies.

A thread polls the store's leader lock (a PostgreSQL advisory lock, or a file lock beside
a SQLite database). Whoever holds it runs the scheduler; the others wait and try again
every ``schedule.leader_poll_seconds``. The lock dies with its holder's database session
or process, so a crashed leader is replaced within one poll. A leader that loses its lock
connection stops its scheduler at once: a second leader may already be running.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from publisher.core import LeaderLock
from publisher.exceptions import PublisherError

log = logging.getLogger("publisher.schedule")


class LeaderElection:
    """Calls ``on_elected`` when this process becomes the leader, ``on_deposed`` when not."""

    def __init__(
        self,
        lock: LeaderLock,
        on_elected: Callable[[], None],
        on_deposed: Callable[[], None],
        poll_seconds: float,
        stop: threading.Event,
    ) -> None:
        self.lock = lock
        self.on_elected = on_elected
        self.on_deposed = on_deposed
        self.poll_seconds = poll_seconds
        self.stop = stop
        self.leading = False
        self.announced_standby = False

    def run(self) -> None:
        """The thread body: poll until ``stop`` is set, then step down and let go."""
        try:
            while not self.stop.is_set():
                self._step()
                self.stop.wait(self.poll_seconds)
        finally:
            if self.leading:
                self._depose("shutting down")
            self.lock.release()

    def _step(self) -> None:
        if self.leading:
            if not self.lock.still_held():
                log.warning("lost the scheduler lock (database connection gone); standing by")
                self._depose("lock lost")
            return
        try:
            got = self.lock.try_acquire()
        except PublisherError as exc:
            log.warning("cannot reach the scheduler lock, will retry: %s", exc)
            return
        if not got:
            if not self.announced_standby:
                log.info("another process leads the scheduler; standing by")
                self.announced_standby = True
            return
        self.leading = True
        self.announced_standby = False
        log.info("this process leads the scheduler")
        try:
            self.on_elected()
        except Exception as exc:
            log.error("scheduler failed to start, will retry: %s", exc)
            self._depose("failed to start")
            self.lock.release()

    def _depose(self, why: str) -> None:
        self.leading = False
        try:
            self.on_deposed()
        except Exception:
            log.exception("scheduler did not stop cleanly (%s)", why)
