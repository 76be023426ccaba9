"""The reader's own morning: when a reader in another time zone gets the site-day edition.

One edition per site day closes at the site's ``digest.daily_at``. With local delivery,
each reader gets it at the first ``daily_at`` on *their* clock at or after that close:
a reader west of the site (London for a Karachi newsroom) gets it the same day, a few hours
later; a reader east of it (Kiritimati, UTC+14) gets it the next morning, never before the
window closed. Each edition goes to each reader once (the ledger's unique row), so every
reader gets one digest a day, whatever the zone and across daylight-saving changes.

A wall time that does not exist on a day (the spring-forward gap) is taken as the first
moment after the gap; a time that happens twice (fall back) as its first occurrence.
"""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo


def _at(day: datetime, at: time, zone: ZoneInfo) -> datetime:
    """``at`` on ``day``'s date in ``zone``, as aware UTC (gaps moved forward, folds first)."""
    naive = datetime.combine(day.date(), at)
    local = naive.replace(tzinfo=zone, fold=0)
    moment = local.astimezone(UTC)
    if moment.astimezone(zone).replace(tzinfo=None) != naive:  # in a gap: skip it forward
        moment = naive.replace(tzinfo=zone, fold=1).astimezone(UTC)
    return moment


def local_delivery_time(close: datetime, zone: ZoneInfo, at: time) -> datetime:
    """The first ``at`` in ``zone`` at or after ``close`` (aware), as aware UTC."""
    local_close = close.astimezone(zone)
    candidate = _at(local_close, at, zone)
    if candidate < close:
        candidate = _at(local_close + timedelta(days=1), at, zone)
    return candidate
