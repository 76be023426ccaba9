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
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence

from publisher.exceptions import PublisherError
from publisher.types import DeliveryOutcome

Write = Callable[[Sequence[DeliveryOutcome]], object]
MAX_DELAY_SECONDS = 0.005
"""How long an outcome may wait for its commit when no lane needs it committed yet."""


class Recorder:
    """Writes handed-in outcomes on its own thread, everything accumulated per commit."""

    def __init__(self, write: Write) -> None:
        self._write = write
        self._cond = threading.Condition()
        self._pending: list[DeliveryOutcome] = []
        self._handed = 0  # number of the last outcome handed in
        self._committed = 0  # number of the last outcome written
        self._error: BaseException | None = None
        self._closed = False
        self._waiters = 0  # lanes blocked in wait_for: commit at once for them
        self._oldest = 0.0  # time.monotonic() when the oldest pending outcome came
        self.commits = 0
        self._thread = threading.Thread(target=self._loop, name="ledger-recorder", daemon=True)
        self._thread.start()

    def add(self, outcome: DeliveryOutcome) -> int:
        """Queue an outcome for the next commit; returns its ticket for :meth:`wait_for`."""
        with self._cond:
            self._raise()
            if not self._pending:
                self._oldest = time.monotonic()
                self._cond.notify_all()
            self._pending.append(outcome)
            self._handed += 1
            return self._handed

    def wait_for(self, ticket: int) -> None:
        """Block until the outcome with ``ticket`` (and all before it) is committed."""
        with self._cond:
            self._waiters += 1
            self._cond.notify_all()
            try:
                while self._committed < ticket and self._error is None:
                    self._cond.wait()
            finally:
                self._waiters -= 1
            self._raise()

    def flush(self) -> None:
        """Block until everything handed in so far is committed."""
        with self._cond:
            ticket = self._handed
        self.wait_for(ticket)

    def close(self) -> None:
        """Commit what is left and stop the thread; raises a write error if one happened."""
        with self._cond:
            self._closed = True
            self._cond.notify_all()
        self._thread.join()
        with self._cond:
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
        return bool(self._waiters) or time.monotonic() - self._oldest >= MAX_DELAY_SECONDS

    def _patience(self) -> float | None:
        if not self._pending:
            return None
        return max(MAX_DELAY_SECONDS - (time.monotonic() - self._oldest), 0.0001)

    def _raise(self) -> None:
        if self._error is not None:
            raise self._error

    def _loop(self) -> None:
        while True:
            with self._cond:
                while not self._due():
                    self._cond.wait(self._patience())
                if not self._pending:
                    return
                batch, self._pending = self._pending, []
                upto = self._handed
            try:
                self._write(batch)
            except BaseException as exc:  # the lanes must hear it, not a dead thread's log
                with self._cond:
                    self._error = exc
                    self._cond.notify_all()
                return
            with self._cond:
                self._committed = upto
                self.commits += 1
                self._cond.notify_all()


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
