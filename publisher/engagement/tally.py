"""Click counts held in memory between flushes, with the one-per-client-per-hour rule.

The redirect must cost about what serving a small static file costs, so a click touches no
database: it adds one to a counter here, and a flush (once a second in the web service,
and before every report) writes the sums in one transaction. The set of (token, client)
pairs seen this hour is dropped when the hour turns: nothing about a client outlives it.
"""

from __future__ import annotations

import threading
from collections import Counter
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class TallyKey:
    """One counter: an edition's link (or its open image, link 0), human or not, by whom."""

    edition_id: int
    link_id: int
    automated: bool
    reader: int = 0


class ClickTally:
    """Thread-safe counters; :meth:`take` hands them over and starts again."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts: Counter[TallyKey] = Counter()
        self._seen: set[tuple[str, bytes]] = set()
        self._hour = -1

    def add(self, key: TallyKey, token: str, client: bytes, hour: int) -> bool:
        """Count a click unless this client already clicked this token this hour."""
        with self._lock:
            if hour != self._hour:
                self._seen.clear()
                self._hour = hour
            if not key.automated:
                seen = (token, client)
                if seen in self._seen:
                    return False
                self._seen.add(seen)
            self._counts[key] += 1
            return True

    def take(self) -> dict[TallyKey, int]:
        with self._lock:
            counts, self._counts = dict(self._counts), Counter()
        return counts

    def put_back(self, counts: dict[TallyKey, int]) -> None:
        """Return counts a failed flush could not write (the next flush tries again)."""
        with self._lock:
            self._counts.update(counts)
