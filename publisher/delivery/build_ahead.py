"""Messages built on other threads a few rows ahead of the SMTP event loop.

Why: the event loop (``smtp_loop.py``) builds each message on its own thread, just before
sending it. With DKIM on, building means an RSA-2048 signature, about 0.3 ms of CPU: more
than the loop spends on all the rest of a message, so a signed send ran at less than half
the unsigned rate on one core while the other stood half idle. OpenSSL signs with the
interpreter lock released (``cryptography`` 47 and later), so a thread that builds the next
rows signs on another core while the loop sends.

Without signing, building is Python under the interpreter lock: a thread only adds
hand-offs, so the sender uses this only when messages are signed
(``SenderOptions.build_threads``).

What it does not change: a row is still sent, recorded or given back by the loop alone.
A message built for a row that is then given back (a stop, a pause, a failed batch) is
dropped; building has no effect outside this process, so nothing is lost or repeated.
"""

from __future__ import annotations

import itertools
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor

from publisher.types import ClaimedDelivery, OutgoingMessage

ROWS_PER_THREAD = 4  # rows built ahead per thread: a few ms of work, a few messages of memory


class BuildAhead:
    """Builds the next rows of a batch's queue on ``threads`` threads."""

    def __init__(self, build: Callable[[ClaimedDelivery], OutgoingMessage], threads: int) -> None:
        self._build = build
        self._depth = max(1, threads) * ROWS_PER_THREAD
        self._executor = ThreadPoolExecutor(max(1, threads), "send-build")
        self._started: dict[int, Future[OutgoingMessage]] = {}  # by ledger row id

    def take(self, claim: ClaimedDelivery, work: deque[ClaimedDelivery]) -> OutgoingMessage:
        """``claim``'s message (built ahead, or now); then the next rows of ``work`` start.

        Raises what building raised, as a build on the caller's thread would.
        """
        started = self._started.pop(claim.id, None)
        self._start(work)
        if started is None:
            return self._build(claim)
        return started.result()

    def _start(self, work: deque[ClaimedDelivery]) -> None:
        for claim in itertools.islice(work, self._depth):
            if claim.id not in self._started:
                self._started[claim.id] = self._executor.submit(self._build, claim)

    def clear(self) -> None:
        """Drop what was built ahead (the batch is over); builds not begun are cancelled."""
        started, self._started = self._started, {}
        for future in started.values():
            future.cancel()

    def close(self) -> None:
        self.clear()
        self._executor.shutdown(wait=True)
