"""Plain-text news copy, as someone copies it off a news site, turned into an article.

The heuristics, in the order they apply:

1. **Lines and blocks.** Text is split into lines; blank lines separate blocks. Before the
   title every line stands alone (a banner, date, byline and title are often on adjacent
   lines). After it, a block whose lines are all long (>= 50 characters, except the last)
   is one hard-wrapped paragraph; otherwise each line is its own paragraph, which also
   covers copy with no blank lines at all.
2. **Promotional lines are dropped anywhere**: "Read more: ...", "Also read", "Related:",
   "Recommended:", "Watch:", "Sign up ...", "Subscribe ...", "Share this", "Follow us",
   "Click here", a lone "Advertisement", a relative time stamp ("Updated 3 hours ago":
   it carries no date, and is not a title), and similar (case-insensitive, see ``_PROMO``).
3. **Header.** Before the title: date lines (ISO or written forms such as "Wednesday, May
   22, 2024" or "22 May 2024, 10:30 BST", optionally prefixed "Published:"/"Updated:") set
   the dates; "By Jane Doe and John Roe" sets the authors; a short banner line (ALL CAPS,
   or with a " — " / " | " separator, at most 60 characters) is skipped when a title-like
   line follows it. The first other line with letters is the **title**; over 200
   characters it is a paragraph, not a title, and the copy has "no title".
4. **Standfirst.** Dates and bylines right after the title, and right after the first
   paragraph, still count as header; the first paragraph (the standfirst) stays in the
   body and, being the first paragraph, becomes the summary when none is given.
5. **Body.** Lines starting "- ", "* " or "• " become ``<ul>`` items ("1. " / "1) "
   ``<ol>``); a short line (<= 80 characters, <= 12 words) without terminal punctuation
   that is followed by a paragraph becomes an ``<h2>``; everything else is a ``<p>``. A
   "Published:"/"Updated:" line is a date anywhere. All text is HTML-escaped.

A date line that looks like a date but is impossible ("February 30, 2024") is an error,
not a paragraph. Copy without any date line gets no date: the caller's ``now`` is used.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass
from datetime import datetime

from publisher.exceptions import IngestError
from publisher.ingest.dates import looks_like_date
from publisher.ingest.fields import RawArticle, build_article
from publisher.ingest.options import IngestOptions
from publisher.text import one_line, strip_control
from publisher.types import ArticleInput

_PROMO = re.compile(
    r"""^(?:
      (?:read\s+more|also\s+read|related|recommended|watch|listen|see\s+also|more\s+from
        |more\s+on\s+this(?:\s+story)?|most\s+read|editor'?s\s+picks?|don'?t\s+miss)\s*[:|–—]
    | (?:read\s+more|also\s+read|see\s+also)\b
    | (?:sign\s+up|subscribe|share\s+this|share\s+on|follow\s+us|click\s+here|tap\s+here
        |download\s+(?:our|the)\s+app|get\s+our\s+newsletter|join\s+our\s+newsletter)\b
    | (?:advertisement|advert|sponsored(?:\s+content)?|ad|share|tweet|email|print|comments?
        |related(?:\s+(?:articles?|stories|coverage|content|links))?
        |skip\s+(?:to\s+)?(?:main\s+)?content|story\s+continues\s+below(?:\s+advertisement)?
      )\W*$
    | (?:(?:last\s+)?(?:updated|modified|published|posted)\s*:?\s*)?
        (?:\d+|an?|one)\s+(?:s|secs?|seconds?|m|mins?|minutes?|h|hrs?|hours?|days?|weeks?
        |months?|years?)\s+ago\W*$
    )""",
    re.IGNORECASE | re.VERBOSE,
)
_DATE_PREFIX = re.compile(
    r"^(?:(?P<updated>(?:last\s+)?(?:updated|modified))|(?:first\s+)?published|posted|date)"
    r"(?:\s+on)?\s*:?\s+(?P<rest>.+)$",
    re.IGNORECASE,
)
_BYLINE = re.compile(r"^(?:(?:written|words|reporting|story)\s+)?by\s+(?P<names>\S.*)$", re.I)
_NAME_SPLIT = re.compile(r"\s*(?:,|&|\band\b)\s*", re.IGNORECASE)
_ROLE_SPLIT = re.compile(r"\s+[|–—·]\s+|\s+-\s+")
_ROLE_WORDS = re.compile(
    r"\b(?:correspondent|editor|reporter|writer|staff|contributor|columnist|journalist"
    r"|photographer|agency|desk|team|newsroom|bureau)s?\b",  # plurals: "Political Correspondents"
    re.IGNORECASE,
)
_PLACE = re.compile(r"\s+in\s+\S.*$")
_BANNER_SEPARATOR = re.compile(r"\s(?:—|–|\||-|·|::)\s")
_BULLET = re.compile(r"^(?:[-*•·–]|(?P<number>\d{1,3})[.)])\s+(?P<text>\S.*)$")
_TERMINAL = re.compile(r"[.!?…:;,]$")
_CLOSERS = "\"'”’)]»"


@dataclass
class _Line:
    """One non-empty line of the copy: its text, 1-based line number and block number."""

    text: str
    number: int
    block: int


def parse_plain_text(
    text: str, source: str, options: IngestOptions, now: datetime | None = None
) -> ArticleInput:
    """One article from plain-text news copy (see the module docstring for the rules)."""
    lines = _lines(text)
    raw = RawArticle()
    authors: list[str] = []
    index = _header(lines, raw, authors, source)
    units = _units(lines[index:])
    body: list[str] = []
    in_header = True
    seen_paragraph = False
    position = 0
    while position < len(units):
        unit = units[position]
        position += 1
        if _PROMO.match(unit.text):
            continue
        prefixed = _DATE_PREFIX.match(unit.text)
        if (prefixed or in_header) and _take_date(unit, raw, source):
            continue
        if in_header and _take_byline(unit.text, authors):
            continue
        bullet = _BULLET.match(unit.text)
        if bullet:
            position = _list(units, position - 1, body)
            in_header = False
            continue
        following = units[position] if position < len(units) else None
        if _is_subheading(unit.text) and following is not None and _is_paragraph(following):
            body.append(f"<h2>{html.escape(unit.text, quote=False)}</h2>")
        else:
            body.append(f"<p>{html.escape(unit.text, quote=False)}</p>")
        # The header zone ends after the standfirst and whatever header lines follow it.
        in_header = not seen_paragraph
        seen_paragraph = True
    raw.authors = authors
    raw.body_html = "\n".join(body)
    return build_article(raw, options, source, now)


def _lines(text: str) -> list[_Line]:
    """Non-empty lines (whitespace collapsed), numbered, with blank-line-separated blocks."""
    lines: list[_Line] = []
    block = 0
    for number, line in enumerate(strip_control(text).splitlines(), start=1):
        cleaned = one_line(line)
        if not cleaned:
            block += 1
            continue
        lines.append(_Line(cleaned, number, block))
    return lines


def _header(lines: list[_Line], raw: RawArticle, authors: list[str], source: str) -> int:
    """Read banner, dates, byline and title; return the index of the first body line."""
    for index, line in enumerate(lines):
        if _PROMO.match(line.text) or _take_date(line, raw, source):
            continue
        if _take_byline(line.text, authors) or not any(c.isalnum() for c in line.text):
            continue
        if _is_banner(line.text) and _title_follows(lines, index + 1, source):
            continue
        if len(line.text) <= 200:
            raw.title = line.text
            raw.lines["title"] = line.number
            return index + 1
        break
    raise IngestError("no title", source, lines[0].number if lines else None)


def _title_follows(lines: list[_Line], start: int, source: str) -> bool:
    """Whether the next line that is not header material could be a title."""
    for line in lines[start:]:
        if _PROMO.match(line.text) or _date_text(line.text) is not None:
            continue
        if _BYLINE.match(line.text) and _byline_names(line.text):
            continue
        return len(line.text) <= 200 and not line.text.endswith(".")
    return False


def _is_banner(text: str) -> bool:
    """A masthead/section line: short, and ALL CAPS or split by " — " / " | " and the like."""
    if len(text) > 60 or not any(c.isalpha() for c in text):
        return False
    letters = [c for c in text if c.isalpha()]
    return all(c.isupper() for c in letters) or _BANNER_SEPARATOR.search(text) is not None


def _date_text(text: str) -> tuple[str, str] | None:
    """``(field, date text)`` if the line is a date line, else ``None``."""
    prefixed = _DATE_PREFIX.match(text)
    if prefixed and looks_like_date(prefixed.group("rest")):
        return ("updated" if prefixed.group("updated") else "date", prefixed.group("rest"))
    if looks_like_date(text):
        return ("date", text)
    return None


def _take_date(line: _Line, raw: RawArticle, source: str) -> bool:
    """Record a date line (the first of each kind wins); ``False`` if it is not one."""
    found = _date_text(line.text)
    if found is None:
        return False
    field, value = found
    attribute = "published" if field == "date" else "updated"
    if getattr(raw, attribute) is None:
        setattr(raw, attribute, value)
        raw.lines[field] = line.number
    return True


def _take_byline(text: str, authors: list[str]) -> bool:
    """Add the names of a "By ..." line to ``authors``; ``False`` if it is not a byline."""
    names = _byline_names(text)
    if not names:
        return False
    authors.extend(names)
    return True


def _byline_names(text: str) -> list[str]:
    """Names in a byline, without roles ("Political Editor") or places ("in London")."""
    match = _BYLINE.match(text)
    if match is None or len(text) > 120:
        return []
    names_text = _ROLE_SPLIT.split(match.group("names"))[0]
    if len(names_text.split()) > 12 or re.search(r"\w{3,}\.$", names_text):
        return []  # a sentence that happens to start with "By", not a byline
    names = []
    for part in _NAME_SPLIT.split(names_text):
        name = _PLACE.sub("", part).strip(" .")
        if name and not _ROLE_WORDS.search(name) and not any(c.isdigit() for c in name):
            names.append(name)
    return names


def _units(lines: list[_Line]) -> list[_Line]:
    """Body units: hard-wrapped blocks joined into one line, other lines kept apart."""
    units: list[_Line] = []
    start = 0
    while start < len(lines):
        end = start
        while end < len(lines) and lines[end].block == lines[start].block:
            end += 1
        block = lines[start:end]
        wrapped = (
            len(block) > 1
            and all(len(line.text) >= 50 for line in block[:-1])
            and not any(_is_special(line.text) for line in block)
        )
        if wrapped:
            units.append(
                _Line(" ".join(line.text for line in block), block[0].number, block[0].block)
            )
        else:
            units.extend(block)
        start = end
    return units


def _is_special(text: str) -> bool:
    """Lines that are never part of a wrapped paragraph: promo, dates, bylines, bullets."""
    return bool(
        _PROMO.match(text)
        or _date_text(text) is not None
        or _byline_names(text)
        or _BULLET.match(text)
    )


def _list(units: list[_Line], start: int, body: list[str]) -> int:
    """Emit consecutive bullet (or numbered) lines as one list; return the next index."""
    first = _BULLET.match(units[start].text)
    tag = "ol" if first is not None and first.group("number") else "ul"
    items: list[str] = []
    index = start
    while index < len(units):
        match = _BULLET.match(units[index].text)
        if match is None or bool(match.group("number")) != (tag == "ol"):
            break
        items.append(f"<li>{html.escape(match.group('text'), quote=False)}</li>")
        index += 1
    body.append(f"<{tag}>{''.join(items)}</{tag}>")
    return index


def _is_subheading(text: str) -> bool:
    """Short, few words, has letters, and no terminal punctuation."""
    bare = text.rstrip(_CLOSERS)
    return (
        len(text) <= 80
        and len(text.split()) <= 12
        and any(c.isalpha() for c in text)
        and not _TERMINAL.search(bare)
    )


def _is_paragraph(unit: _Line) -> bool:
    """A body paragraph (what a subheading must be followed by)."""
    return not (_PROMO.match(unit.text) or _BULLET.match(unit.text) or _is_subheading(unit.text))
