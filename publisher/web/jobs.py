"""Work a request starts but must not wait for: the subscription mails.

A Starlette background task runs after the response is sent but before the connection
takes its next request, so on a keep-alive connection the next request waited for the
mail, and its delay told whether the address was new. Here the work goes to a small
thread pool owned by the app, so every answer leaves at the same speed and the next
request on the connection is not held. Failures are logged (the reader was already told
the same thing whatever happens). The pool is drained when the app shuts down.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor, wait

from publisher.exceptions import PublisherError

log = logging.getLogger(__name__)


class Jobs:
    """A few worker threads for fire-and-forget work; :meth:`join` waits for all of it."""

    def __init__(self, workers: int = 2) -> None:
        self._executor = ThreadPoolExecutor(workers, thread_name_prefix="publisher-web-job")
        self._lock = threading.Lock()
        self._pending: set[Future[None]] = set()

    def submit(self, work: Callable[[], None], what: str) -> None:
        future = self._executor.submit(self._run, work, what)
        with self._lock:
            self._pending.add(future)
        future.add_done_callback(self._forget)

    def _forget(self, future: Future[None]) -> None:
        with self._lock:
            self._pending.discard(future)

    @staticmethod
    def _run(work: Callable[[], None], what: str) -> None:
        try:
            work()
        except PublisherError as exc:
            log.error("%s failed after the answer was sent: %s", what, exc)
        except Exception:
            log.exception("%s failed after the answer was sent", what)

    def join(self, timeout: float = 30.0) -> None:
        """Wait until the work submitted so far is done (tests; shutdown)."""
        with self._lock:
            pending = set(self._pending)
        wait(pending, timeout=timeout)

    def close(self) -> None:
        self._executor.shutdown(wait=True)
