"""Period keys: which edition a moment belongs to (pure).

A daily edition is keyed by the local date in the site's time zone (``daily/2026-11-27``), a
weekly one by the ISO week of that local date (``weekly/2026-W48``). The key is what makes an
edition unique: the scheduler, a manual run and a retry in the same period all name the same
edition, so the store's unique key turns a second attempt into a read.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from publisher.types import Frequency

_KEY = re.compile(r"(daily)/(\d{4})-(\d{2})-(\d{2})|(weekly)/(\d{4})-W(\d{2})")

# How far back the very first edition of a kind reaches (there is no previous cutoff).
FIRST_WINDOW = {Frequency.DAILY: timedelta(days=1), Frequency.WEEKLY: timedelta(days=7)}


def period_key(frequency: Frequency, moment: datetime, zone: ZoneInfo) -> str:
    """The key of the period holding ``moment`` (an aware datetime) in ``zone``."""
    if moment.tzinfo is None:
        raise ValueError("period_key needs an aware datetime")
    local = moment.astimezone(zone).date()
    if frequency is Frequency.DAILY:
        return f"daily/{local.isoformat()}"
    year, week, _ = local.isocalendar()
    return f"weekly/{year:04d}-W{week:02d}"


def is_period_key(key: str) -> bool:
    """Whether ``key`` has the shape of a period key (used to validate archive URLs)."""
    return _KEY.fullmatch(key) is not None


def frequency_of(key: str) -> Frequency:
    """The frequency a key belongs to; ValueError for anything that is not a period key."""
    if not is_period_key(key):
        raise ValueError(f"not an edition key: {key!r}")
    return Frequency(key.split("/", 1)[0])


def first_window_start(frequency: Frequency, window_end: datetime) -> datetime:
    """Where the first edition of a kind starts: one period before its cutoff."""
    return (window_end - FIRST_WINDOW[frequency]).astimezone(UTC)


def slug_of(key: str) -> str:
    """A key without the slash (``daily-2026-11-27``), for Message-IDs and file names."""
    return key.replace("/", "-")
