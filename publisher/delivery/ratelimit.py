"""A rate limiter shared by the sending lanes of one sender (messages per second)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable


class RateLimiter:
    """Spaces calls ``1/rate`` seconds apart across threads; ``rate`` 0 means no limit.

    A schedule, not a bucket: each caller books the next free slot under a lock and sleeps
    outside it, so lanes never burst above the rate and never wait for each other's sleep.
    """

    def __init__(
        self,
        rate: float,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], object] = time.sleep,
    ) -> None:
        self.interval = 1.0 / rate if rate > 0 else 0.0
        self._clock = clock
        self._sleep = sleep
        self._next = 0.0
        self._lock = threading.Lock()

    def wait(self) -> None:
        delay = self.book()
        if delay > 0:
            self._sleep(delay)

    def book(self) -> float:
        """Book the next free slot; the seconds to wait for it (for a caller that cannot
        sleep, such as the sender's event loop)."""
        if not self.interval:
            return 0.0
        with self._lock:
            now = self._clock()
            slot = max(self._next, now)
            self._next = slot + self.interval
        return slot - now
