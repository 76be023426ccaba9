"""Plain-text news copy, as someone copies it off a news site, turned into an article.

Copy from a site carries the page around the story: banners, menus, breadcrumbs, share
buttons, promos, captions and credits (:mod:`publisher.ingest.furniture` drops those), and
header lines with dates and bylines in many forms (:mod:`publisher.ingest.stamps` reads
those). What is left is text, and the structure of the page says which line is what:

1. **The headline** is found by structure, not position: it is the line that a byline or
   date line follows, or a standfirst that a byline or date line follows, or failing
   those the story's first paragraph. Each text line near the top is scored on that (see
   :func:`_score`); a byline counts for more than a date alone (a site's "today" line
   follows its masthead); a line of three words or fewer (a section label, a site name) or
   one that reads as a sentence loses points, so "| Welcome to X", "World", "X — Truth
   without fear" lose to the headline under them. Text above the headline is dropped.
2. **Header lines** (dates and bylines) before the headline, and after it up to the second
   paragraph, set the date and authors; a bare name ("Jon Hartley Transport correspondent")
   beside a date line, or a desk line ("Our Staff Reporter") there, is a byline too, and
   short lines sandwiched between header lines (a place, an organisation) are dropped.
3. **The date** is the most specific stamp: one with a clock beats one without, one that
   says "published" beats one that does not, the first wins a tie; an "updated" stamp is
   the update time, or the date when there is no other. A date without a clock is local
   noon in the site's zone.
4. **The body**: the standfirst (the first paragraph) stays and becomes the summary when
   none is given; wire datelines are cut from the first paragraphs; lines starting "- ",
   "* " or "• " become ``<ul>`` items ("1. " ``<ol>``); a short line without terminal
   punctuation followed by a paragraph becomes an ``<h2>``; an author box at the end (the
   author's name again, a "Written by" line, a bio) is dropped. All text is HTML-escaped.

Before the title every line stands alone; after it, a block whose lines are all long (>= 50
characters, except the last) is hard-wrapped text, joined into paragraphs that end where a
line ends a sentence and the next starts with a capital, so copy with or without blank
lines both work. Copy without any date line gets no date: the caller's ``now`` is used.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from publisher.exceptions import IngestError
from publisher.ingest import furniture, stamps
from publisher.ingest.dates import parse_date
from publisher.ingest.fields import RawArticle, build_article
from publisher.ingest.options import IngestOptions
from publisher.ingest.stamps import HeaderLine, Stamp
from publisher.text import one_line, strip_control
from publisher.types import ArticleInput

_BULLET = re.compile(r"^(?:[-*•·–]|(?P<number>\d{1,3})[.)])\s+(?P<text>\S.*)$")
_TERMINAL = re.compile(r"[.!?…:;,]$")
_SENTENCE_END = re.compile(r"[.!?…][\"'”’)\]»]*$")
_CLOSERS = "\"'”’)]»"
_BANNER = re.compile(r"\s(?:—|–|\||-|·|::)\s")
_BIO = re.compile(
    r"^(?P<name>[A-Z][\w'’-]+)(?:\s+[A-Z][\w'’-]+){0,3}\s+(?:is|covers|reports|writes)\b"
)
SCAN_LINES = 60
_UTC = ZoneInfo("UTC")


@dataclass
class _Line:
    """One non-empty line of the copy: its text, 1-based line number and block number."""

    text: str
    number: int
    block: int
    raw: str = ""  # as written (menus are split by runs of spaces)
    kind: str = "text"  # text, furniture, box, header, byline
    header: HeaderLine | None = None


def parse_plain_text(
    text: str, source: str, options: IngestOptions, now: datetime | None = None
) -> ArticleInput:
    """One article from plain-text news copy (see the module docstring for the rules)."""
    lines = _classify(_lines(text))
    title_index = _headline(lines)
    if title_index is None:
        raise IngestError("no title", source, lines[0].number if lines else None)
    raw = RawArticle(title=lines[title_index].text)
    raw.lines["title"] = lines[title_index].number
    dated: list[tuple[Stamp, int]] = []
    authors: list[str] = []
    for line in lines[:title_index]:
        _take_header(line, dated, authors)
    raw.body_html = _body(lines[title_index + 1 :], dated, authors)
    _set_dates(raw, dated)
    raw.authors = authors
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
        lines.append(_Line(cleaned, number, block, line.strip()))
    return lines


def _classify(lines: list[_Line]) -> list[_Line]:
    """Mark each line furniture, a box heading, a header line or text; then the bare
    bylines (a name or desk next to a header line) among the text."""
    for line in lines:
        text = line.text
        if furniture.is_box_heading(text):
            line.kind = "box"
            continue
        header = stamps.read_header_line(text)
        if header is not None and not header.noise:
            line.kind, line.header = "header", header
        elif header is not None or furniture.is_furniture(line.raw or text):
            line.kind = "furniture"
    for index, line in enumerate(lines):
        if line.kind == "text" and (
            stamps.looks_like_name(line.text) and _beside_stamp(lines, index)
        ):
            line.kind = "byline"
    return lines


def _beside_stamp(lines: list[_Line], index: int) -> bool:
    """Whether the next or previous line, furniture aside, is a header line with a date."""
    for step in (1, -1):
        other = _neighbour(lines, index, step)
        if other is not None and other.header is not None and other.header.stamps:
            return True
    return False


def _neighbour(lines: list[_Line], index: int, step: int) -> _Line | None:
    """The nearest line in direction ``step`` that is not furniture."""
    position = index + step
    while 0 <= position < len(lines):
        if lines[position].kind != "furniture":
            return lines[position]
        position += step
    return None


def _headline(lines: list[_Line]) -> int | None:
    """The index of the headline: the best-scoring text line near the top."""
    best: tuple[int, int] | None = None
    sentences = 0
    for index, line in enumerate(lines[:SCAN_LINES]):
        if line.kind != "text":
            continue
        if _is_sentence(line.text):
            sentences += 1
            if sentences > 1:
                break  # two paragraphs in: the story has begun
        if len(line.text) > 200:
            continue
        if _is_desk(line):
            continue
        score = _score(lines, index)
        if best is None or score > best[0]:
            best = (score, index)
    return None if best is None else best[1]


def _score(lines: list[_Line], index: int) -> int:
    """How much a text line looks like the headline (see the module docstring)."""
    line = lines[index]
    following = _neighbour(lines, index, 1)
    adjacent = lines[index + 1] if index + 1 < len(lines) else None
    score = 0
    if following is not None and _is_header(following):
        # A byline follows a headline; a date alone also follows a masthead (the site's
        # "today" line), so it counts for less.
        score += 5 if _names_someone(following) else 4
    elif (
        adjacent is not None
        and adjacent.kind == "text"
        and (after := _neighbour(lines, index + 1, 1)) is not None
        and _is_header(after)
    ):
        score += 5  # headline, standfirst, byline or date
    elif (
        following is not None
        and following.kind == "text"
        and _is_sentence(_joined(lines, following))
    ):
        score += 2
    if _continues(lines, index):
        score -= 5  # the first line of a hard-wrapped sentence
    words = len([w for w in line.text.split() if any(c.isalnum() for c in w)])
    if words >= 5:
        score += 1
    if words <= 3:
        score -= 3  # a section label or a site name
    if line.text.endswith(".") and words >= 2:
        score -= 5  # a sentence
    letters = [c for c in line.text if c.isalpha()]
    if letters and all(c.isupper() for c in letters):
        score -= 2  # a masthead
    if words <= 7 and _BANNER.search(line.text):
        score -= 2  # "X — Truth without fear", "Example Times | World"
    return score


def _continues(lines: list[_Line], index: int) -> bool:
    """Whether the next line of the same block carries on this line's sentence."""
    if index + 1 >= len(lines):
        return False
    line, after = lines[index], lines[index + 1]
    return (
        after.block == line.block
        and after.kind == "text"
        and after.text[:1].islower()
        and not _SENTENCE_END.search(line.text)
    )


def _joined(lines: list[_Line], line: _Line) -> str:
    """``line`` with the lines that carry on its sentence (a hard-wrapped paragraph)."""
    index = lines.index(line)
    parts = [line.text]
    while _continues(lines, index):
        index += 1
        parts.append(lines[index].text)
    return " ".join(parts)


def _names_someone(line: _Line) -> bool:
    return line.kind == "byline" or (line.header is not None and line.header.authors is not None)


def _is_header(line: _Line) -> bool:
    return line.kind in ("header", "byline") or _is_desk(line)


def _is_desk(line: _Line) -> bool:
    return line.kind == "text" and stamps.is_desk_byline(line.text)


def _is_sentence(text: str) -> bool:
    return len(text) > 200 or (bool(_SENTENCE_END.search(text)) and len(text.split()) >= 4)


def _take_header(line: _Line, dated: list[tuple[Stamp, int]], authors: list[str]) -> bool:
    """Record the dates and names of a header line or bare byline; ``False`` if it is not."""
    if line.kind == "header" and line.header is not None:
        dated.extend((stamp, line.number) for stamp in line.header.stamps)
        _add_names(authors, line.header.authors or [])
        return True
    if line.kind == "byline":
        _add_names(authors, [n for n in [stamps.strip_role(line.text)] if n])
        return True
    return _is_desk(line)  # a desk names nobody


def _add_names(authors: list[str], names: list[str]) -> None:
    for name in names:
        if name.casefold() not in {a.casefold() for a in authors}:
            authors.append(name)


def _set_dates(raw: RawArticle, dated: list[tuple[Stamp, int]]) -> None:
    """The most specific published stamp, and the most specific updated one."""
    published = [d for d in dated if not d[0].updated]
    updated = [d for d in dated if d[0].updated]
    if not published and updated:
        published, updated = updated, []
    for field, found in (("date", published), ("updated", updated)):
        if found:
            stamp, number = max(found, key=lambda d: d[0].rank)  # max keeps the first of ties
            try:
                parse_date(stamp.text, field, _UTC)
                value = stamp.text
            except ValueError:
                value = stamp.written  # so the error quotes the copy, not our normal form
            setattr(raw, "published" if field == "date" else "updated", value)
            raw.lines[field] = number


def _body(lines: list[_Line], dated: list[tuple[Stamp, int]], authors: list[str]) -> str:
    """The story after the headline as HTML (see the module docstring, rule 4)."""
    units = _units(lines)
    body: list[str] = []
    paragraphs = 0
    position = 0
    in_box = False
    author_box = False
    while position < len(units):
        unit = units[position]
        position += 1
        header_zone = paragraphs < 2
        if unit.kind == "box":
            in_box = True
            continue
        if in_box and unit.kind in ("text", "byline") and not _is_sentence(unit.text):
            continue
        in_box = False
        if not paragraphs and unit.kind == "text" and stamps.looks_like_name(unit.text):
            unit.kind = "byline"  # a bare name between the headline and the standfirst
        if header_zone and _take_header(unit, dated, authors):
            continue
        if unit.kind == "header" and unit.header is not None:
            if unit.header.stamps and not unit.header.authors:
                dated.extend((stamp, unit.number) for stamp in unit.header.stamps)
            author_box = unit.header.authors is not None
            continue
        if unit.kind == "furniture":
            continue
        if _is_author_line(unit.text, authors) or (author_box and len(unit.text.split()) <= 20):
            author_box = _is_author_line(unit.text, authors)
            continue
        if header_zone and _sandwiched(units, position - 1):
            continue
        bullet = _BULLET.match(unit.text)
        if bullet:
            position = _list(units, position - 1, body)
            paragraphs += 1
            continue
        text = furniture.strip_dateline(unit.text) if paragraphs < 3 else unit.text
        following = _next_text(units, position)
        if (
            paragraphs  # the line under the headline is its standfirst, never a subheading
            and _is_subheading(text)
            and following is not None
            and _is_paragraph(following)
        ):
            body.append(f"<h2>{html.escape(text, quote=False)}</h2>")
        else:
            body.append(f"<p>{html.escape(text, quote=False)}</p>")
            paragraphs += 1
    return "\n".join(body)


def _next_text(units: list[_Line], position: int) -> _Line | None:
    """The next unit that will be shown (furniture and header lines skipped)."""
    while position < len(units):
        if units[position].kind in ("text", "byline"):
            return units[position]
        if units[position].kind == "box":
            return None
        position += 1
    return None


def _is_author_line(text: str, authors: list[str]) -> bool:
    """The author's name on its own, or a bio that starts with it ("Reem is a reporter")."""
    bare = text.strip(" .")
    if any(bare.casefold() == name.casefold() for name in authors):
        return True
    bio = _BIO.match(text)
    return bio is not None and any(
        name.split()[0].casefold() == bio.group("name").casefold() for name in authors
    )


def _sandwiched(units: list[_Line], index: int) -> bool:
    """A short label beside a header line: a place or an outlet."""
    text = units[index].text
    if len(text.split()) > 4 or _TERMINAL.search(text):
        return False
    return any(
        (other := _neighbour(units, index, step)) is not None and _is_header(other)
        for step in (-1, 1)
    )


def _units(lines: list[_Line]) -> list[_Line]:
    """Body units: hard-wrapped blocks of text joined into one line, other lines kept apart."""
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
            and all(line.kind == "text" and not _BULLET.match(line.text) for line in block)
        )
        if wrapped:
            units.extend(_unwrap(block))
        else:
            units.extend(block)
        start = end
    return units


def _unwrap(block: list[_Line]) -> list[_Line]:
    """A hard-wrapped block as paragraphs: a line that ends a sentence before a capital
    ends a paragraph (copy pasted without blank lines has one paragraph per line)."""
    paragraphs = [block[0]]
    for line in block[1:]:
        last = paragraphs[-1]
        if _SENTENCE_END.search(last.text) and line.text[:1].isupper():
            paragraphs.append(line)
        else:
            paragraphs[-1] = _Line(f"{last.text} {line.text}", last.number, last.block)
    return paragraphs


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
    return not (_BULLET.match(unit.text) or _is_subheading(unit.text))
