"""WebSub publisher pings (W3): tell each hub which topics changed, in the background.

Publishing must never wait for, or fail because of, a hub: ``notify`` only puts the topics
on a queue. One daemon thread posts ``hub.mode=publish&hub.url=<topic>`` to every hub,
expects a 2xx, and retries failures with exponential backoff and jitter up to
``attempts`` tries, after which the ping is dropped and logged (the hub will still see the
change the next time it polls, or at the next change).
"""

from __future__ import annotations

import logging
import queue
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import httpx

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class _Ping:
    hub: str
    topic: str
    attempt: int
    due: float


class WebSubNotifier:
    """Posts publish pings to hubs from one background thread; ``notify`` never blocks."""

    def __init__(
        self,
        hubs: tuple[str, ...],
        attempts: int = 6,
        base_delay: float = 5.0,
        max_delay: float = 600.0,
        timeout: float = 10.0,
        transport: httpx.BaseTransport | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.hubs = hubs
        self.attempts = attempts
        self.base_delay = base_delay
        self.max_delay = max_delay
        self._clock = clock
        self._queue: queue.Queue[_Ping | None] = queue.Queue()
        self._waiting: list[_Ping] = []
        self._timeout = timeout
        self._transport = transport
        self._client: httpx.Client | None = None
        self._thread: threading.Thread | None = None
        self._started = threading.Lock()
        self._idle = threading.Condition()
        self._busy = 0
        self.delivered: list[tuple[str, str]] = []
        self.dropped: list[tuple[str, str]] = []

    def notify(self, topics: list[str]) -> None:
        """Queue a ping for every (hub, topic) pair; returns at once."""
        if not self.hubs or not topics:
            return
        self._ensure_thread()
        now = self._clock()
        with self._idle:
            for hub in self.hubs:
                for topic in dict.fromkeys(topics):
                    self._busy += 1
                    self._queue.put(_Ping(hub, topic, 1, now))

    def wait(self, timeout: float) -> bool:
        """Block until every queued ping is delivered or dropped; False on timeout."""
        deadline = time.monotonic() + timeout
        with self._idle:
            while self._busy:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._idle.wait(left)
        return True

    def close(self, timeout: float = 2.0) -> None:
        """Give pending pings up to ``timeout`` seconds, then stop the thread."""
        if self._thread is not None:
            self.wait(timeout)
            self._queue.put(None)
            self._thread.join(timeout=1.0)
        if self._client is not None:
            self._client.close()

    def _ensure_thread(self) -> None:
        with self._started:
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="websub", daemon=True)
                self._thread.start()

    def _run(self) -> None:
        while True:
            timeout = None
            if self._waiting:
                timeout = max(0.0, min(p.due for p in self._waiting) - self._clock())
            try:
                ping = self._queue.get(timeout=timeout)
            except queue.Empty:
                ping = None
                if not self._waiting:
                    continue
            else:
                if ping is None:
                    return
                self._waiting.append(ping)
            now = self._clock()
            ready = [p for p in self._waiting if p.due <= now]
            self._waiting = [p for p in self._waiting if p.due > now]
            for item in ready:
                self._attempt(item)

    def _attempt(self, ping: _Ping) -> None:
        try:
            ok = self._post(ping)
        except Exception:  # never let the thread die: a bug here must not stop later pings
            log.exception("websub: unexpected error pinging %s", ping.hub)
            ok = False
        if ok:
            self._finish(ping, self.delivered)
        elif ping.attempt >= self.attempts:
            log.warning("websub: giving up on %s for %s", ping.hub, ping.topic)
            self._finish(ping, self.dropped)
        else:
            delay = min(self.max_delay, self.base_delay * 2 ** (ping.attempt - 1))
            delay *= random.uniform(0.8, 1.2)
            self._waiting.append(
                _Ping(ping.hub, ping.topic, ping.attempt + 1, self._clock() + delay)
            )

    def _http(self) -> httpx.Client:
        # Imported on first use: httpx pulls in click (its CLI) when click is installed, and
        # the core must not load the frameworks of the edges just to be imported.
        import httpx

        if self._client is None:
            self._client = httpx.Client(timeout=self._timeout, transport=self._transport)
        return self._client

    def _post(self, ping: _Ping) -> bool:
        import httpx

        try:
            response = self._http().post(
                ping.hub, data={"hub.mode": "publish", "hub.url": ping.topic}
            )
        except httpx.HTTPError as exc:
            log.info("websub: %s unreachable (%s), attempt %d", ping.hub, exc, ping.attempt)
            return False
        if 200 <= response.status_code < 300:
            return True
        log.info("websub: %s answered %d, attempt %d", ping.hub, response.status_code, ping.attempt)
        return False

    def _finish(self, ping: _Ping, bucket: list[tuple[str, str]]) -> None:
        with self._idle:
            bucket.append((ping.hub, ping.topic))
            self._busy -= 1
            self._idle.notify_all()
