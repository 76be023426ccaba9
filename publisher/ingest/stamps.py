"""Header lines of news copy: date stamps and bylines, in the many ways sites write them.

A header line is made of segments split by ``|``, ``·`` or ``•`` (and before a second
"Updated"): ``By A | Published: 21 May 2024 | Updated: 22 May 2024``, ``Posted on August
18, 2024 by Helen Carver``, ``Jul 31, 2024 | 4:15 pm | Riyadh``, ``Bengaluru, Updated: Aug
06, 2024 19:25 IST``. Every segment must be a stamp, a byline, or header noise (a relative
time, a bare clock, a place, a reading time) for the line to count; anything else makes
it text.

A stamp keeps its date as text for the strict parser in :mod:`publisher.ingest.dates`,
normalised first: ``11.20`` is ``11:20``, ``GMT+5:30`` is ``+05:30`` (dateutil would read
``GMT+5`` the POSIX way, five hours *behind*), ``a.m.`` is ``AM``. A date without a clock
gets ``12:00``: local noon in the site's zone keeps the day whatever the conversion to UTC.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from publisher.ingest.dates import DAY, MONTH, WEEKDAY

_DATE = re.compile(
    rf"(?:{WEEKDAY},?\s+)?(?:{MONTH}\s+{DAY},?\s+\d{{4}}|{DAY}\s+(?:of\s+)?{MONTH},?\s+\d{{4}})"
    r"|\d{4}-\d{2}-\d{2}(?:[t ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:z|[+-]\d{2}:?\d{2})?)?",
    re.IGNORECASE,
)
_ISO_WITH_TIME = re.compile(r"\d{4}-\d{2}-\d{2}[t ]\d", re.IGNORECASE)
_CLOCK = re.compile(
    r"(?<![\d:.])(?P<h>\d{1,2})(?:[:.](?P<m>\d{2})(?::(?P<s>\d{2}))?)?\s*"
    r"(?P<ampm>[ap]\.?\s?m\b\.?)?(?![\d:])",
    re.IGNORECASE,
)
_OFFSET = re.compile(r"\b(?:gmt|utc)\s*(?P<sign>[+-])\s*(?P<h>\d{1,2})(?::?(?P<m>\d{2}))?", re.I)
ZONES = frozenset({
    "UTC", "GMT", "BST", "CET", "CEST", "EET", "EEST", "WET", "WEST", "EST", "EDT", "CST",
    "CDT", "MST", "MDT", "PST", "PDT", "ET", "CT", "MT", "PT", "PKT", "IST", "NPT", "GST",
    "EAT", "WAT", "CAT", "SAST", "SLST", "SGT", "HKT", "JST", "AEST", "AEDT", "MSK", "PHT",
})  # fmt: skip
_ZONE_WORD = re.compile(r"\b(?P<zone>[A-Z]{2,4})\b")
_RELATIVE = re.compile(
    r"^(?:(?:last\s+)?(?:updated|modified|published|posted)\s*:?\s*)?(?:\d+|an?|one)\s+"
    r"(?:s|secs?|seconds?|m|mins?|minutes?|h|hrs?|hours?|days?|weeks?|months?|years?)\s+ago\W*$",
    re.IGNORECASE,
)
_READ_TIME = re.compile(r"^\d+\s*(?:-\s*)?min(?:ute)?s?(?:\s+read)?$", re.IGNORECASE)
_PUBLISHED_WORD = re.compile(r"\b(?:published|posted|first\s+published|date)\b", re.I)
_UPDATED_WORD = re.compile(r"\b(?:updated?|modified|edited)\b", re.IGNORECASE)
_STAMP_WORDS = frozenset({
    "published", "posted", "first", "updated", "update", "last", "modified", "edited", "on",
    "at", "date", "created", "today", "yesterday", "of", "in",
})  # fmt: skip
_SEGMENTS = re.compile(r"\s+[|·•]\s+|\s+(?=(?:last\s+)?(?:updated|modified)\b)", re.IGNORECASE)
_POSTED_BY = re.compile(r"^(?P<stamp>.*\d.*?)\s+by\s+(?P<names>\S.*)$", re.IGNORECASE)

_BYLINE = re.compile(
    r"^(?:(?:written|words|story|text|reporting)\s+by|(?-i:By(?=[A-Z]))|by\b|author\s*:"
    r"|reporter\s*:)"
    r"\s*(?P<names>\S.*)$",
    re.IGNORECASE,
)
_NAME_SPLIT = re.compile(r"\s*(?:,|&|\band\b)\s*", re.IGNORECASE)
_ROLE_SPLIT = re.compile(r"\s+[|–—·]\s+|\s+-\s+|,\s+(?=[A-Z][a-z]+\s+[A-Z]?[a-z]*\s*$)")
ROLE_WORDS = re.compile(
    r"\b(?:correspondents?|editors?|reporters?|writers?|staff|contributors?|columnists?"
    r"|journalists?|photographers?|agency|agencies|desk|team|newsroom|bureau|report"
    r"|monitor|monitoring|special)\b",
    re.IGNORECASE,
)
_NAME_WORD = re.compile(r"^(?:[A-Z][\w'’.-]*|al|el|bin|bint|de|da|del|van|von|der|la|le|ul)$")
# Words of outlet names ("Nation Media Group", "Accra Online"): never part of a person's.
_OUTLET_WORDS = frozenset({
    "the", "media", "group", "digital", "news", "network", "online", "today", "times", "post",
    "daily", "tribune", "herald", "courier", "press", "agency", "service", "tv", "radio",
    "magazine", "journal", "chronicle", "standard", "mirror", "weekly", "live", "wire",
})  # fmt: skip


@dataclass(frozen=True)
class Stamp:
    """A date as written, normalised for the strict parser, with how much it says."""

    text: str
    updated: bool
    rank: int  # 2 with a clock, 0 without; +1 when it says "published" or "posted"
    written: str = ""  # the date as the copy has it, for error messages


@dataclass
class HeaderLine:
    """What one header line holds: stamps, and the names of a byline (``None``: none)."""

    stamps: list[Stamp] = field(default_factory=list)
    authors: list[str] | None = None
    noise: bool = False  # only relative times, bare clocks: a header line with nothing in it


def read_header_line(text: str) -> HeaderLine | None:
    """The stamps and byline of ``text``, or ``None`` if it is not a header line."""
    if len(text) > 160:
        return None
    found = HeaderLine()
    segments = [s for s in _SEGMENTS.split(text.strip(" ,")) if s.strip(" ,")]
    places = 0
    for segment in _join_clocks(segments):
        segment = segment.strip(" ,")
        if _is_place(segment) and byline_names(segment) is None and not _DATE.search(segment):
            places += 1
        elif not _read_segment(segment, found):
            return None
    if places and not found.stamps:
        return None  # "Bengaluru" alone is a word, not a header
    if not found.stamps and found.authors is None:
        found.noise = True
    return found


def _join_clocks(segments: list[str]) -> list[str]:
    """``Jul 31, 2024 | 4:15 pm``: a segment that is only a clock belongs to the date before."""
    joined: list[str] = []
    for segment in segments:
        if joined and _DATE.search(joined[-1]) and _only_clock(segment):
            joined[-1] = f"{joined[-1]} {segment}"
        else:
            joined.append(segment)
    return joined


def _only_clock(segment: str) -> bool:
    rest = _CLOCK.sub("", segment, count=1)
    return bool(_CLOCK.search(segment)) and not _words(_strip_zone(rest))


def _read_segment(segment: str, found: HeaderLine) -> bool:
    """Add what ``segment`` holds to ``found``; ``False`` if it is not header material."""
    if not segment or _RELATIVE.match(segment) or _READ_TIME.match(segment):
        return True
    posted = _POSTED_BY.match(segment)
    if posted and _DATE.search(posted.group("stamp")) and not _BYLINE.match(segment):
        names = byline_names(f"by {posted.group('names')}")
        if names is not None:
            found.authors = [*(found.authors or []), *names]
            return _read_segment(posted.group("stamp"), found)
    names = byline_names(segment)
    if names is not None:
        found.authors = [*(found.authors or []), *names]
        return True
    stamp = _stamp(segment)
    if stamp is not None:
        found.stamps.append(stamp)
        return True
    return _time_only(segment)


def _stamp(segment: str) -> Stamp | None:
    """A dated segment whose other words are stamp words and at most a place."""
    date = _DATE.search(segment)
    if date is None:
        return None
    before, after = segment[: date.start()], segment[date.end() :]
    clock_text, zone, rest = "", "", before + " " + after
    if not _ISO_WITH_TIME.match(date.group(0)):
        clock = _CLOCK.search(after) or _CLOCK.search(before)
        if clock is not None and (clock.group("m") or clock.group("ampm")):
            clock_text = _clock(clock)
            rest = rest.replace(clock.group(0), " ", 1)
        zone, rest = _zone(rest if clock_text else "", rest)
    extra = [w for w in _words(rest) if w.lower() not in _STAMP_WORDS]
    if len(extra) > 3:
        return None
    text = f"{date.group(0)} {clock_text or '12:00'} {zone}".strip()
    if _ISO_WITH_TIME.match(date.group(0)):
        text = date.group(0)
    rank = (2 if clock_text or _ISO_WITH_TIME.match(date.group(0)) else 0) + (
        1 if _PUBLISHED_WORD.search(before) else 0
    )
    return Stamp(text, bool(_UPDATED_WORD.search(before)), rank, date.group(0))


def _clock(match: re.Match[str]) -> str:
    """A clock as ``HH:MM[:SS] [AM|PM]``."""
    text = f"{match.group('h')}:{match.group('m') or '00'}"
    if match.group("s"):
        text += f":{match.group('s')}"
    if match.group("ampm"):
        text += " PM" if match.group("ampm").lower().startswith("p") else " AM"
    return text


def _zone(where: str, rest: str) -> tuple[str, str]:
    """The zone named after a clock (``GMT+5:30`` as ``+05:30``, or a known abbreviation)."""
    offset = _OFFSET.search(where)
    if offset is not None:
        minutes = offset.group("m") or "00"
        zone = f"{offset.group('sign')}{int(offset.group('h')):02d}:{minutes}"
        return zone, rest.replace(offset.group(0), " ", 1)
    for match in _ZONE_WORD.finditer(where):
        if match.group("zone") in ZONES:
            return match.group("zone"), rest.replace(match.group(0), " ", 1)
    return "", rest


def _strip_zone(text: str) -> str:
    return _zone(text, text)[1]


def _time_only(segment: str) -> bool:
    """``Today, 8:41 pm``, ``Updated at 9:30 pm``: a stamp without a date (noise)."""
    clock = _CLOCK.search(segment)
    if clock is None or not (clock.group("m") or clock.group("ampm")):
        return False
    rest = _strip_zone(segment.replace(clock.group(0), " ", 1))
    return all(w.lower() in _STAMP_WORDS for w in _words(rest))


def _is_place(segment: str) -> bool:
    """A place name beside a stamp: one to three capitalised words."""
    words = _words(segment)
    return 0 < len(words) <= 3 and all(w[0].isupper() for w in words)


def _words(text: str) -> list[str]:
    return [w for w in re.split(r"[\s,:;]+", text) if any(c.isalpha() for c in w)]


def byline_names(text: str) -> list[str] | None:
    """Names in a "By ..." line (``[]`` for a desk byline: "By Staff Reporter"), or ``None``
    if the line is not a byline."""
    match = _BYLINE.match(text.strip())
    if match is None or len(text) > 120:
        return None
    names_text = _ROLE_SPLIT.split(match.group("names").strip())[0]
    if len(names_text.split()) > 12 or re.search(r"\w{3,}\.$", names_text):
        return None  # a sentence that happens to start with "By", not a byline
    if any(c.isdigit() for c in names_text):
        return None
    names = []
    for part in _NAME_SPLIT.split(names_text):
        bare = re.sub(r"\s+in\s+\S.*$", "", part).strip(" .")
        name = strip_role(bare)
        if name and not all(_NAME_WORD.match(w) for w in name.split()):
            return None  # "By the numbers": a subheading, not a byline
        if name:
            names.append(name)
    return names


def strip_role(text: str) -> str:
    """A name without the role after it ("Jon Hartley Transport correspondent" -> "Jon
    Hartley"); ``""`` for a role alone ("Staff Reporter"). ALL CAPS names get title case."""
    words = text.split()
    role = next((i for i, w in enumerate(words) if ROLE_WORDS.fullmatch(w.strip(",."))), None)
    if role is not None:
        # "Staff Reporter", "Local Affairs Reporter": a desk or a role alone. Otherwise the
        # name comes first and the role may have a qualifier ("Jon Hartley Transport
        # correspondent").
        words = [] if role <= 1 or len(words) <= 3 else words[:2]
    name = " ".join(words).strip(" ,.")
    if name.isupper() and len(name) > 3:
        name = name.title()
    return name


def looks_like_name(text: str) -> bool:
    """A line that could be a bare byline: two to four capitalised words (a role may follow)."""
    name = strip_role(text)
    words = name.split()
    return (
        2 <= len(words) <= 4
        and not any(w.lower() in _OUTLET_WORDS for w in words)
        and len(name) <= 40
        and all(_NAME_WORD.match(w) for w in words)
        and not any(c.isdigit() for c in name)
        and len(text.split()) <= 6
    )


def is_desk_byline(text: str) -> bool:
    """A byline without "By" that names a desk: "Our Staff Reporter", "Post Report"."""
    words = text.split()
    return 1 < len(words) <= 3 and bool(ROLE_WORDS.search(words[-1])) and not text.endswith(".")
