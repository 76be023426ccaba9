"""Strict date parsing for article sources.

A publication date decides where an article sits in feeds and which digest carries it, so
a wrong guess is worse than an error: ``dateutil``'s fuzzy mode (which finds *a* date in
any sentence) is never used, impossible dates (``2024-02-30``) fail, and a date missing
its day, month or year fails instead of silently borrowing today's.
"""

from __future__ import annotations

import re
import warnings
from datetime import UTC, date, datetime, time
from zoneinfo import ZoneInfo

from dateutil import parser as date_parser
from dateutil.parser import UnknownTimezoneWarning

from publisher.text import one_line

# Offsets (seconds east of UTC) for the zone abbreviations news sites print. dateutil only
# knows UTC/GMT by itself and warns about (then ignores) the rest; ambiguous ones like
# "CST" are read the way English-language news sites usually mean them.
_ZONE_OFFSETS: dict[str, int] = {
    "UTC": 0, "GMT": 0, "Z": 0, "WET": 0, "BST": 3600, "CET": 3600, "WEST": 3600,
    "CEST": 7200, "EET": 7200, "EEST": 10800, "EST": -18000, "EDT": -14400,
    "CST": -21600, "CDT": -18000, "MST": -25200, "MDT": -21600, "PST": -28800,
    "PDT": -25200,
    # Zones of South Asian, Middle Eastern, African and Asian sites; "IST" is India's.
    "PKT": 18000, "IST": 19800, "SLST": 19800, "NPT": 20700, "GST": 14400, "MSK": 10800,
    "EAT": 10800, "WAT": 3600, "CAT": 7200, "SAST": 7200, "SGT": 28800, "HKT": 28800,
    "PHT": 28800, "JST": 32400, "AEST": 36000, "AEDT": 39600,
}  # fmt: skip
# US sites write "3:45 p.m. ET": the zone without saying whether summer time applies, so
# these are zones, not offsets (ET in May is EDT, in January EST).
_ZONES: dict[str, ZoneInfo] = {
    "ET": ZoneInfo("America/New_York"), "CT": ZoneInfo("America/Chicago"),
    "MT": ZoneInfo("America/Denver"), "PT": ZoneInfo("America/Los_Angeles"),
}  # fmt: skip
_TZINFOS: dict[str, int | ZoneInfo] = {**_ZONE_OFFSETS, **_ZONES}
_WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
_WEEKDAY_WORD = re.compile(
    r"\b(mon|tue|wed|thu|fri|sat|sun)(?:day|s|sday|nesday|r|rs|rsday|urday)?\b", re.I
)

# A story's real date lies well inside these years; one outside is a typo (0224, 20024).
# The bound also keeps every date showable in every time zone (year 1 or 9999 is not,
# and the pages and the digest convert to the site's zone).
FIRST_YEAR, LAST_YEAR = 1900, 2200

# Two defaults that differ in every date component: a component dateutil had to fill in
# from the default differs between the two parses, which means the text lacked it.
_DEFAULT_A = datetime(2000, 1, 1)
_DEFAULT_B = datetime(2001, 2, 2)

# Pieces of written dates, shared with the header-line reader (publisher.ingest.stamps).
MONTH = (
    r"(?:jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?"
    r"|sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)\.?"
)
WEEKDAY = r"(?:mon|tue|tues|wed|thu|thur|thurs|fri|sat|sun)(?:day|sday|nesday|rsday|urday)?\.?"
DAY = r"\d{1,2}(?:st|nd|rd|th)?"
_SEPARATORS = re.compile(r"\s*[|·•–—]\s*")
_NUMERIC_DATE = re.compile(r"\s*(\d{1,2})[/.-](\d{1,2})[/.-]\d{2,4}\b")


def parse_date(value: object, field: str, timezone: ZoneInfo) -> datetime:
    """An aware datetime from a source value, or ``ValueError`` naming ``field``.

    Accepts ``datetime``/``date`` objects (what YAML loaders produce) and text in ISO 8601
    or a written form ("Wednesday, 22 May 2024 10:30 BST"). Naive values are taken to be in
    ``timezone``. Numbers are refused: ``20240522`` and epoch seconds look alike.
    """
    if isinstance(value, datetime):
        parsed = value
    elif isinstance(value, date):
        parsed = datetime.combine(value, time())
    elif isinstance(value, str):
        parsed = _parse_text(value, field)
    else:
        shown = one_line(repr(value), limit=60)
        raise ValueError(f"{field} {shown} is not a valid date (write it as text, e.g. 2024-05-22)")
    naive = parsed.tzinfo is None or parsed.utcoffset() is None
    if naive:
        parsed = parsed.replace(tzinfo=timezone)
    try:
        in_utc = parsed.astimezone(UTC)
    except OverflowError:
        in_utc = None
    if in_utc is None or not FIRST_YEAR <= in_utc.year <= LAST_YEAR:
        shown = one_line(str(value), limit=60)
        raise ValueError(f"{field} {shown!r} is outside {FIRST_YEAR}-{LAST_YEAR}; check the year")
    if naive and in_utc.astimezone(timezone).replace(tzinfo=None) != parsed.replace(tzinfo=None):
        # A wall-clock time skipped when the clocks went forward (02:30 on a spring-forward
        # night): zoneinfo would quietly shift it by an hour, so it is refused instead. A
        # repeated time (autumn) is read as the first of the two, as zoneinfo does.
        shown = parsed.replace(tzinfo=None).isoformat(sep=" ", timespec="minutes")
        raise ValueError(
            f"{field} {shown!r} does not exist in {timezone.key} (the clocks went forward);"
            " give the offset, e.g. +01:00"
        )
    return parsed


def _parse_text(value: str, field: str) -> datetime:
    """Parse date text strictly; see :func:`parse_date`."""
    text = one_line(value)
    if not text:
        raise ValueError(f"{field} is empty")
    shown = one_line(text, limit=80)
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        pass
    numeric = _NUMERIC_DATE.match(text)
    if numeric is not None:
        one, two = int(numeric.group(1)), int(numeric.group(2))
        if one != two and 1 <= one <= 12 and 1 <= two <= 12:
            # 05/06/2024 is 5 June in London and May 6 in New York; dateutil would pick
            # May 6 silently, so the order must be made explicit.
            raise ValueError(
                f"{field} {shown!r} is ambiguous (day/month or month/day?); write it as YYYY-MM-DD"
            )
    normal = _SEPARATORS.sub(" ", text)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            first = date_parser.parse(normal, default=_DEFAULT_A, tzinfos=_TZINFOS)
            second = date_parser.parse(normal, default=_DEFAULT_B, tzinfos=_TZINFOS)
        except (ValueError, OverflowError):
            raise ValueError(f"{field} {shown!r} is not a valid date") from None
    if any(issubclass(w.category, UnknownTimezoneWarning) for w in caught):
        raise ValueError(f"{field} {shown!r} has an unknown time zone name")
    if first.date() != second.date():
        raise ValueError(f"{field} {shown!r} is not a full date (day, month and year needed)")
    match = _WEEKDAY_WORD.search(text)
    if match is not None:
        stated = next(
            i for i, name in enumerate(_WEEKDAYS) if name.startswith(match.group(1).lower())
        )
        if stated != first.weekday():
            actual = _WEEKDAYS[first.weekday()].capitalize()
            raise ValueError(f"{field} {shown!r} is not a valid date (that day is a {actual})")
    return first
