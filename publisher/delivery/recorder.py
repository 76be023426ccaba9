"""Group commit of outcomes, and the heartbeat that keeps a sender's leases short.

Why group commit: an outcome that is only in memory when the process dies is a message
the server accepted but the ledger still calls claimed, so the next sender sends it again.
Recording a batch of hundreds at its end made a crash repeat up to a batch; committing
each outcome on its own would cost a transaction per message. The :class:`Recorder` sits
between: the lanes hand in outcomes as the server answers, one thread writes whatever has
accumulated in one transaction, at once, and starts again. Under load a commit carries
many outcomes; when idle it carries one, within milliseconds of the reply.

A lane also waits, before sending its next message, until the outcome before its last one
is committed (:meth:`Recorder.wait_for`). So at any moment a connection has at most two
messages the ledger does not know about: the one in flight and the one answered just
before it. That is the bound on repeats after a ``SIGKILL``: two per open connection
(``mail.unrecorded_per_connection`` trades a higher bound for speed on a starved host).

The same waits bound what a sender repeats when its rows are taken while it lives (its
hold-lock session ended, so another sender judged it dead and reclaimed them; or its lease
ran out): a write that matches fewer rows than it carried counts them in ``lost``, and the
sender stops the batch before its next message, so it has sent at most as many of the
taken rows as it may have unrecorded.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence

from publisher.exceptions import PublisherError
from publisher.types import DeliveryOutcome

Write = Callable[[Sequence[DeliveryOutcome], bool], object]
"""Writes a group of outcomes; may return how many rows took them (see ``Recorder.lost``).

The flag says whether the group may finish an edition (see :meth:`Recorder.add`)."""
Overlap = Callable[[Sequence[DeliveryOutcome], bool], bool]
"""Whether a group may be written while another group's write is still in flight."""
MAX_DELAY_SECONDS = 0.005
"""How long an outcome may wait for its commit when no lane needs it committed yet."""


def _never(outcomes: Sequence[DeliveryOutcome], settle: bool) -> bool:
    return False


class Recorder:
    """Writes handed-in outcomes on its own threads, everything accumulated per commit.

    With one ``write`` there is one writer thread and commits follow each other. With
    more (PostgreSQL with ``mail.ledger_flush``: each its own session), a group may be
    written while the previous one waits for its commit: such a commit's cost is mostly
    waiting for its WAL flush, and while one waited the lanes stood still, since each may
    run only ``unrecorded`` messages ahead of the ledger. Two commits in flight halve that
    wait, and the server flushes them together. ``overlap`` says which groups may go
    alongside another: a group that may finish an edition (``settle``) never does,
    because it asks whether any row of the edition is still open, and a row in a
    concurrent, uncommitted write would look open to it (the edition would stay
    ``sending``).
    """

    def __init__(
        self,
        *writes: Write,
        overlap: Overlap = _never,
        on_commit: Callable[[], object] | None = None,
    ) -> None:
        if not writes:
            raise ValueError("a recorder needs a write")
        self._overlap = overlap
        self.on_commit = on_commit  # told after each commit (a sender's event loop wakes)
        self._lock = threading.Lock()
        # Two conditions on one lock: the writer threads wait for work, lanes wait for
        # commits. With one condition every wake-up woke every lane too, and the lanes'
        # futile wake-ups cost more CPU than the sends.
        self._work = threading.Condition(self._lock)
        self._done = threading.Condition(self._lock)
        self._pending: list[DeliveryOutcome] = []
        self._settle = False  # a pending outcome may be its edition's last
        self._handed = 0  # number of the last outcome handed in
        self._taken = 0  # number of the last outcome taken by a writer
        self._committed = 0  # every outcome up to this number is written
        self._flight: dict[int, int] = {}  # groups being written: first ticket -> last
        self._solo = False  # the group in flight must be alone
        self._error: BaseException | None = None
        self._closed = False
        self._waiters = 0  # lanes blocked in wait_for: commit at once for them
        self._wanted = 0  # outcomes up to this ticket are awaited (see ``expedite``)
        self._oldest = 0.0  # time.monotonic() when the oldest pending outcome came
        self.commits = 0
        self.lost = 0  # outcomes whose row was no longer this sender's when written
        self._threads = [
            threading.Thread(target=self._loop, args=(write,), name="ledger-recorder", daemon=True)
            for write in writes
        ]
        for thread in self._threads:
            thread.start()

    def add(self, outcome: DeliveryOutcome, settle: bool = True) -> int:
        """Queue an outcome for the next commit; returns its ticket for :meth:`wait_for`.

        ``settle=False`` says the outcome is not final, or the sender still holds other
        unfinished rows of its edition, so its commit cannot be the one that finishes the
        edition and need not ask whether any row is still open: that question, asked on
        every commit, cost as much as the commit itself.
        """
        with self._lock:
            self._raise()
            if not self._pending:
                self._oldest = time.monotonic()
                self._work.notify()
            self._settle = self._settle or settle
            self._pending.append(outcome)
            self._handed += 1
            return self._handed

    def wait_for(self, ticket: int) -> None:
        """Block until the outcome with ``ticket`` (and all before it) is committed."""
        with self._lock:
            if self._committed >= ticket:
                self._raise()
                return
            self._waiters += 1
            self._work.notify()
            try:
                while self._committed < ticket and self._error is None:
                    self._done.wait()
            finally:
                self._waiters -= 1
            self._raise()

    @property
    def committed(self) -> int:
        """Every outcome up to this ticket is written (one int read: no lock needed)."""
        return self._committed

    def expedite(self, ticket: int) -> None:
        """Commit up to ``ticket`` at once, without blocking: the caller (an event loop's
        lane) hears of it through ``on_commit`` and reads :attr:`committed`."""
        with self._lock:
            self._raise()
            if ticket > self._wanted and ticket > self._committed:
                self._wanted = ticket
                self._work.notify()

    def check(self) -> None:
        """Raise the writer's error, if a write failed."""
        with self._lock:
            self._raise()

    def flush(self) -> None:
        """Block until everything handed in so far is committed."""
        with self._lock:
            ticket = self._handed
        self.wait_for(ticket)

    def close(self) -> None:
        """Commit what is left and stop the threads; raises a write error if one happened."""
        with self._lock:
            self._closed = True
            self._work.notify_all()
        for thread in self._threads:
            thread.join()
        with self._lock:
            self._raise()

    def _due(self) -> bool:
        """Commit now: a lane waits for it, the oldest outcome waited long enough, or closing.

        Waiting for a reason groups more outcomes per commit (fewer transactions, less CPU)
        without ever holding up a lane: a lane that needs its outcome committed says so.
        """
        if self._closed:
            return True
        if not self._pending:
            return False
        if self._waiters or self._wanted > self._taken:
            return True
        return time.monotonic() - self._oldest >= MAX_DELAY_SECONDS

    def _may_start(self) -> bool:
        """Whether the pending group may be written now, beside what is in flight."""
        if not self._flight:
            return True
        return not self._solo and self._overlap(self._pending, self._settle)

    def _patience(self) -> float | None:
        if not self._pending or self._closed:
            return None
        return max(MAX_DELAY_SECONDS - (time.monotonic() - self._oldest), 0.0001)

    def _raise(self) -> None:
        if self._error is not None:
            raise self._error

    def _loop(self, write: Write) -> None:
        while True:
            with self._lock:
                while self._error is None and not (self._due() and self._may_start()):
                    if self._closed and not self._pending:
                        return
                    self._work.wait(self._patience())
                if self._error is not None or not self._pending:
                    return
                batch, self._pending = self._pending, []
                settle, self._settle = self._settle, False
                first, last = self._taken + 1, self._handed
                self._taken = last
                self._solo = not self._overlap(batch, settle)
                self._flight[first] = last
            try:
                written = write(batch, settle)
            except BaseException as exc:  # the lanes must hear it, not a dead thread's log
                with self._lock:
                    self._error = exc
                    self._done.notify_all()
                    self._work.notify_all()
                self._told()
                return
            with self._lock:
                if isinstance(written, int) and written < len(batch):
                    self.lost += len(batch) - written
                del self._flight[first]
                self._solo = self._solo and bool(self._flight)
                self._committed = min(self._flight) - 1 if self._flight else self._taken
                self.commits += 1
                self._done.notify_all()
                self._work.notify_all()  # a group that waited to go alone may go now
            self._told()

    def _told(self) -> None:
        if self.on_commit is not None:
            self.on_commit()


class Heartbeat:
    """Renews the sender's leases every ``interval`` seconds until stopped.

    Leases can then be short (``mail.lease_seconds``, 30 s by default): a live sender
    keeps its rows however long a batch takes, a dead one stops renewing and its rows come
    back within one lease. A failed renewal is tried again at the next beat; if renewals
    keep failing the lease runs out, and the ledger's claim check keeps the two senders
    from overwriting each other's outcomes.
    """

    def __init__(self, renew: Callable[[], object], interval: float) -> None:
        self._renew = renew
        self._interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="lease-heartbeat", daemon=True)
        self._thread.start()

    def _loop(self) -> None:
        while not self._stop.wait(self._interval):
            try:
                self._renew()
            except PublisherError:
                continue  # tried again at the next beat

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()
