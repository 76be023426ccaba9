"""RFC 5005 archived feeds (P1): which monthly archive pages a feed has, and their links.

The subscription feed is a window of the newest N items. Everything older is in monthly
archive pages: page ``YYYY-MM`` (UTC) holds that month's items that are older than the
window. The pages form one unbroken chain of calendar months from the oldest item's month
to the month of the newest archived item (a month without items gives an empty page, so
every ``prev-archive``/``next-archive`` link points at a page that exists). The newest page
changes while the window slides through its month; once the window has left a month, its
page changes only when one of its articles is corrected or retracted, and once to gain the
``next-archive`` link when the following month's page first appears.

Pure functions only: the service asks the store and writes the files.
"""

from __future__ import annotations

from datetime import UTC, datetime

from publisher.feeds.model import FeedRef, Site

ARCHIVE_FORMATS = ("rss", "atom")
_ARCHIVE_FILES = {"rss": "rss.xml", "atom": "atom.xml"}


def month_key(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m")


def month_bounds(key: str) -> tuple[datetime, datetime]:
    """Start (inclusive) and end (exclusive) of month ``YYYY-MM`` in UTC."""
    year, month = int(key[:4]), int(key[5:7])
    start = datetime(year, month, 1, tzinfo=UTC)
    end = datetime(year + month // 12, month % 12 + 1, 1, tzinfo=UTC)
    return start, end


def months_between(first: str, last: str) -> list[str]:
    """Every month key from ``first`` to ``last`` inclusive (empty if first > last)."""
    keys: list[str] = []
    key = first
    while key <= last:
        keys.append(key)
        key = month_key(month_bounds(key)[1])
    return keys


def is_month_key(name: str) -> bool:
    return len(name) == 7 and name[4] == "-" and name[:4].isdigit() and name[5:].isdigit()


def archive_folder(ref: FeedRef) -> str:
    """Folder of a feed's archive pages under the feeds directory."""
    return "archive" if ref.slug is None else f"archive/category/{ref.slug}"


def archive_rel_path(ref: FeedRef, key: str, fmt: str) -> str:
    return f"{archive_folder(ref)}/{key}/{_ARCHIVE_FILES[fmt]}"


def archive_urls(site: Site, ref: FeedRef, key: str) -> dict[str, str]:
    from urllib.parse import quote

    return {f: f"{site.feeds_url}/{quote(archive_rel_path(ref, key, f))}" for f in ARCHIVE_FORMATS}


def pages_to_write(
    wanted: list[str], existing: list[str], changed: set[str], full: bool
) -> tuple[list[str], list[str]]:
    """Which pages to (re)write and which to delete, given the chain wanted now.

    Besides pages that are new or hold a changed article: the newest page always (the
    window slides through it), and the pages whose links change when an end of the chain
    moves (the old and new first page, the old and new last page).
    """
    wanted_set = set(wanted)
    remove = sorted(set(existing) - wanted_set)
    if full:
        return list(wanted), remove
    write = (wanted_set - set(existing)) | (changed & wanted_set)
    if wanted:
        write.add(wanted[-1])
        if existing and min(existing) != wanted[0]:
            write |= {min(existing), wanted[0]}
        if existing and max(existing) != wanted[-1]:
            write.add(max(existing))
    return sorted(write & wanted_set), remove
