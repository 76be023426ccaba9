"""Reading subscriber CSV files row by row, and writing them back out.

The reader streams: it holds one row at a time, so a file of any length costs the same
memory. It checks the file as a whole first (text, not binary; a header naming an
``email`` column; commas as separators) and raises :class:`SubscriberError` naming the
file and line when the file cannot be read at all. After that, each record becomes either
a :class:`CsvRow` or a :class:`RejectedRow` with its line number and the reason, so one bad
row never costs the others.

Columns: ``email`` (required), ``name``, ``frequency`` (daily or weekly), ``categories``
(slugs separated by ``;``, ``,``, ``|`` or spaces; empty means every category),
``language`` (``ur``, ``ar``, ...) and ``timezone`` (an IANA name such as ``Asia/Karachi``;
empty means the site's), and the names other tools give these and their status, tags and
consent time (:mod:`publisher.subscribers.columns`), so an export from Mailchimp, Substack, Ghost,
Buttondown or listmonk imports as it is; ``mapping`` (``--map COLUMN=FIELD``) names any
other column. Rows whose status says the person left (unsubscribed, cleaned, blocklisted)
come back as :class:`SkippedRow`: they are never imported. Other columns are ignored, so
our own export can be imported again.
"""

from __future__ import annotations

import codecs
import csv
import io
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import IO, NamedTuple, TypeVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from publisher.addresses import normalise_address
from publisher.exceptions import SubscriberError
from publisher.i18n import LANGUAGES, base_language
from publisher.subscribers import columns
from publisher.text import N_, category_slug, one_line
from publisher.types import Frequency, Subscriber

MAX_NAME = 200
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
SNIFF_BYTES = 8192
EXPORT_COLUMNS = (
    "email",
    "name",
    "status",
    "frequency",
    "categories",
    "consent_at",
    "consent_method",
    "consent_ip",
    "created_at",
    "language",
    "timezone",
)
_CATEGORY_SPLIT = re.compile(r"[;,|\s]+")
_TAG_SPLIT = re.compile(r"[;,|]")
_UNDECODABLE = re.compile("[\udc80-\udcff]")
_SLUG = re.compile(r"^[\w-]{1,200}$", re.UNICODE)


class CsvRow(NamedTuple):
    """One valid record: ``frequency``/``categories`` are None when the file leaves them out.

    ``tags`` are another tool's tags, labels or lists as category slugs: the caller keeps
    those that name a category. ``consent_at`` is when the person opted in, if the file says.
    A named tuple, not a frozen dataclass: as immutable, and a fifth of the cost to build
    (an import builds a million of these).
    """

    line: int
    email: str
    name: str
    frequency: Frequency | None
    categories: tuple[str, ...] | None
    tags: tuple[str, ...] = ()
    consent_at: datetime | None = None
    language: str | None = None  # None: the file has no such column (keep the current)
    timezone: str | None = None


@dataclass(frozen=True, slots=True)
class RejectedRow:
    """A record that cannot be imported, with the line it starts on and why."""

    line: int
    reason: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.reason}"


class SkippedRow(RejectedRow):
    """A record of someone the source tool says left: not imported, and not an error."""

    __slots__ = ()


_FREQUENCIES = {f.value: f for f in Frequency}


def parse_frequency(raw: str) -> Frequency:
    """``daily`` or ``weekly`` (any case); SubscriberError (field ``frequency``) otherwise."""
    known = _FREQUENCIES.get(raw)
    if known is not None:
        return known
    try:
        return Frequency(raw.strip().lower())
    except ValueError as exc:
        raise SubscriberError(
            N_("frequency must be daily or weekly, not %(value)s"),
            "frequency",
            value=repr(one_line(raw, 40)),
        ) from exc


def parse_language(raw: str) -> str:
    """A language with a catalog (``ur``, ``ar``, ...) or "" (the site's); SubscriberError
    (field ``language``) otherwise."""
    code = raw.strip().replace("_", "-")
    if not code:
        return ""
    if base_language(code) not in LANGUAGES:
        raise SubscriberError(
            N_("language must be one of %(languages)s, not %(value)s"),
            "language",
            languages=", ".join(LANGUAGES),
            value=repr(one_line(raw, 40)),
        )
    return base_language(code)


def parse_timezone(raw: str) -> str:
    """An IANA time zone name (``Asia/Karachi``) or "" (the site's); SubscriberError (field
    ``timezone``) otherwise. Browsers report such names (``Intl.DateTimeFormat``)."""
    name = raw.strip()
    if not name:
        return ""
    try:
        if len(name) > 64 or name.startswith(("/", ".")) or ".." in name:
            raise ValueError(name)
        ZoneInfo(name)
    except (ValueError, ZoneInfoNotFoundError) as exc:
        raise SubscriberError(
            N_("time zone %(value)s is not a known IANA name"),
            "timezone",
            value=repr(one_line(raw, 40)),
        ) from exc
    return name


def parse_categories(raw: str | list[str] | tuple[str, ...]) -> tuple[str, ...]:
    """Category slugs from a list or a separated string, lower-cased, deduplicated."""
    parts = raw if isinstance(raw, (list, tuple)) else _CATEGORY_SPLIT.split(raw)
    slugs: list[str] = []
    for part in parts:
        if not isinstance(part, str):
            raise SubscriberError(N_("categories must be strings"), "categories")
        slug = part.strip().lower()
        if not slug:
            continue
        if not _SLUG.match(slug):
            raise SubscriberError(
                N_("category %(value)s is not a category slug"),
                "categories",
                value=repr(one_line(slug, 40)),
            )
        if slug not in slugs:
            slugs.append(slug)
    return tuple(slugs)


def _check_text(stream: IO[bytes], source: str) -> None:
    """Refuse a binary file before reading a row of it."""
    peek = getattr(stream, "peek", None)
    head = peek(SNIFF_BYTES)[:SNIFF_BYTES] if peek else b""
    if b"\x00" in head:
        raise SubscriberError(f"{source}: not a CSV text file (binary data)", "file")
    decoder = codecs.getincrementaldecoder("utf-8")()
    try:
        decoder.decode(head, final=False)
    except UnicodeDecodeError as exc:
        raise SubscriberError(
            f"{source}: not a UTF-8 CSV file (undecodable byte at offset {exc.start})", "file"
        ) from exc


def _header(record: list[str], source: str, mapping: Mapping[str, str]) -> dict[str, int]:
    """The column index of each field the header names (see :mod:`.columns`)."""
    names = [cell.strip().lower() for cell in record]
    duplicates = {n for n in names if n and names.count(n) > 1}
    if duplicates:
        raise SubscriberError(
            f"{source}:1: column named twice: {', '.join(sorted(duplicates))}", "file"
        )
    found: dict[str, tuple[int, int]] = {}  # field -> (rank of the name, column)
    for index, name in enumerate(names):
        field = columns.field_of(name, dict(mapping))
        if field is None or field == "ignore":
            continue
        aliases = columns.ALIASES.get(field, ())
        key = columns.normal(name)
        rank = -1 if key in mapping else aliases.index(key) if key in aliases else len(aliases)
        if field not in found or rank < found[field][0]:
            found[field] = (rank, index)
    if "email" not in found:
        first = record[0] if record else ""
        if len(record) == 1 and any(sep in first for sep in ";\t|"):
            raise SubscriberError(
                f"{source}:1: wrong delimiter: columns must be separated by commas "
                f"(header is {one_line(first, 60)!r})",
                "file",
            )
        if any("@" in cell for cell in record):
            raise SubscriberError(
                f"{source}:1: missing header: the first line must name the columns, "
                "e.g. email,name,frequency,categories",
                "file",
            )
        raise SubscriberError(
            f"{source}:1: the header has no 'email' column (name it with --map COLUMN=email)",
            "file",
        )
    return {field: index for field, (_, index) in found.items()}


_GONE_FIELDS = ("status", "subscribed", "disabled", "unsubscribed_at", "cleaned_at")


class _RowReader:
    """Turns one record into a row; which column holds what is resolved once per file.

    An import reads a million records through this: no per-record lookups of the header.
    """

    def __init__(self, columns_at: dict[str, int], width: int) -> None:
        self.columns_at = columns_at
        self.width = width
        self.email = columns_at["email"]
        (
            self.name, self.first_name, self.last_name, self.frequency, self.categories,
            self.tags, self.consent_at, self.language, self.timezone,
        ) = (columns_at.get(field) for field in (
            "name", "first_name", "last_name", "frequency", "categories", "tags", "consent_at",
            "language", "timezone",
        ))  # fmt: skip
        self.gone = any(field in columns_at for field in _GONE_FIELDS)
        self.memo = _Memo()

    def __call__(self, line: int, record: list[str]) -> CsvRow | RejectedRow | SkippedRow:
        size = len(record)
        width = self.width
        if size > width and any(c.strip() for c in record[width:]):
            return RejectedRow(line, f"{size} fields but the header names {width}")
        if size < width:  # a short record: the cells it leaves out are empty
            record = record + [""] * (width - size)
        memo = self.memo
        try:
            email = normalise_address(_unguard(record[self.email]))
            if self.gone:
                gone = _gone(lambda field: _cell(record, self.columns_at.get(field)))
                if gone:
                    return SkippedRow(line, f"{email}: {gone} in the file's source, not imported")
            at = self.frequency
            raw = "" if at is None else record[at]
            frequency = memo(parse_frequency, raw) if raw else None
            at = self.categories
            categories = None if at is None else memo(parse_categories, record[at])
            at = self.consent_at
            consent_at = _time(record[at]) if at is not None and record[at] else None
            at = self.language
            language = None if at is None else memo(parse_language, record[at])
            at = self.timezone
            timezone = None if at is None else memo(parse_timezone, record[at])
        except SubscriberError as exc:
            return RejectedRow(line, str(exc))
        at = self.name
        if at is not None:
            name = record[at]
        else:
            parts = (_cell(record, self.first_name), _cell(record, self.last_name))
            name = " ".join(p for p in parts if p and p.strip())
        at = self.tags
        tags_raw = "" if at is None else record[at]
        return CsvRow(
            line,
            email,
            _unguard(one_line(name, MAX_NAME)),
            frequency,
            categories,
            _tags(tags_raw) if tags_raw else (),
            consent_at,
            language,
            timezone,
        )


def _cell(record: list[str], index: int | None) -> str | None:
    return None if index is None else record[index]


_Parsed = TypeVar("_Parsed")


class _Memo:
    """The parse of a cell value seen before in this file, instead of parsing it again.

    Frequencies, category lists, languages and time zones repeat down a file (a handful of
    distinct values in a million rows). Only values that parse are kept (a bad one raises
    again, with its own line), and at most ``LIMIT`` per parser, so a file of all-distinct
    values (a consent time per reader is not memoised) keeps memory flat. The values are
    immutable (tuples, enums, strings): one shared between rows cannot change under another.
    """

    LIMIT = 512

    def __init__(self) -> None:
        self.seen: dict[Callable[[str], object], dict[str, object]] = {}

    def __call__(self, parse: Callable[[str], _Parsed], raw: str) -> _Parsed:
        known = self.seen.get(parse)
        if known is None:
            known = self.seen[parse] = {}
        if raw in known:
            return known[raw]  # type: ignore[return-value]  # stored by this same parser
        value = parse(raw)
        if len(known) < self.LIMIT:
            known[raw] = value
        return value


def _gone(cell: Callable[[str], str | None]) -> str:
    """Why the source tool says not to mail this person ("" if it does not)."""
    status = columns.normal(cell("status") or "")
    if status in columns.GONE:
        return status
    if columns.yes_no(cell("subscribed") or "") is False:
        return "not subscribed to emails"
    if columns.yes_no(cell("disabled") or "") is True:
        return "emails disabled"
    for field, what in (("unsubscribed_at", "unsubscribed"), ("cleaned_at", "cleaned")):
        if (cell(field) or "").strip():
            return what
    return ""


def _tags(raw: str) -> tuple[str, ...]:
    """Tag names as category slugs: ``"Local","Sport"``, ``Local, Sport``, ``["local"]``."""
    names = (part.strip(" \t\"'[]") for part in _TAG_SPLIT.split(raw))
    return tuple(dict.fromkeys(category_slug(name) for name in names if name))


def _time(raw: str | None) -> datetime | None:
    """A consent time as exports write it (ISO 8601, ``2024-03-05 14:22:10``; no zone: UTC)."""
    text = (raw or "").strip()
    if not text:
        return None
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00").replace(" UTC", "+00:00"))
    except ValueError:
        raise SubscriberError(
            f"consent time {one_line(text, 40)!r} is not a date and time", "consent_at"
        ) from None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def read_rows(
    stream: IO[bytes], source: str, mapping: Mapping[str, str] | None = None
) -> Iterator[CsvRow | RejectedRow | SkippedRow]:
    """Each record of a subscriber CSV file, in order, valid, skipped or rejected.

    ``mapping`` names columns the reader does not know (:func:`parse_mapping`).

    ``stream`` is a binary file; a UTF-8 BOM is accepted. Raises SubscriberError for a
    file that cannot be read as a whole (binary, wrong delimiter, no header, bad encoding
    further in: rows before that line have been yielded already).
    """
    _check_text(stream, source)
    # Undecodable bytes become lone surrogates (found per record below), so the error names
    # the line they are on, not the start of the chunk the decoder happened to be reading.
    text = io.TextIOWrapper(stream, encoding="utf-8-sig", errors="surrogateescape", newline="")
    reader = csv.reader(text, strict=False)
    line = 1

    def undecodable(cells: str) -> SubscriberError | None:
        if cells.isascii() or not _UNDECODABLE.search(cells):
            return None
        return SubscriberError(f"{source}:{line}: not UTF-8 text; stopped here", "file")

    try:
        try:
            first = next(reader)
        except StopIteration:
            raise SubscriberError(f"{source}: the file is empty", "file") from None
        error = undecodable("".join(first))
        if error:
            raise error
        row = _RowReader(_header(first, source, mapping or {}), len(first))
        while True:
            line = reader.line_num + 1
            try:
                record = next(reader)
            except StopIteration:
                return
            except csv.Error as exc:
                yield RejectedRow(line, f"not a valid CSV record: {exc}")
                continue
            cells = "".join(record)
            if not cells.strip():
                continue
            error = undecodable(cells)
            if error:
                raise error
            yield row(line, record)
    except UnicodeDecodeError as exc:
        raise SubscriberError(
            f"{source}:{reader.line_num + 1}: not UTF-8 text; stopped here", "file"
        ) from exc
    finally:
        text.detach()


def parse_mapping(pairs: tuple[str, ...] | list[str]) -> dict[str, str]:
    """``COLUMN=FIELD`` pairs (``--map``) as a mapping; SubscriberError for a bad one."""
    mapping: dict[str, str] = {}
    for pair in pairs:
        column, sep, field = pair.rpartition("=")
        field = field.strip().lower()
        if not sep or not column.strip():
            raise SubscriberError(f"--map {pair!r}: write it as COLUMN=FIELD", "map")
        if field not in columns.FIELDS:
            raise SubscriberError(
                f"--map {pair!r}: {field!r} is not a field; use one of "
                + ", ".join(columns.FIELDS),
                "map",
            )
        mapping[columns.normal(column)] = field
    return mapping


def export_row(subscriber: Subscriber) -> list[str]:
    """A subscriber as the cells of :data:`EXPORT_COLUMNS`, every one guarded.

    Every column, not only the name: an address may legally start with ``=`` or ``+``
    (``=cmd@example.org`` is valid), and so may a consent method or IP set by hand.
    """
    cells = [
        subscriber.email,
        subscriber.name,
        subscriber.status.value,
        subscriber.frequency.value,
        ";".join(subscriber.categories),
        subscriber.consent_at.isoformat() if subscriber.consent_at else "",
        subscriber.consent_method,
        subscriber.consent_ip,
        subscriber.created_at.isoformat() if subscriber.created_at else "",
        subscriber.language,
        subscriber.timezone,
    ]
    return [_guard(cell) for cell in cells]


def _guard(value: str) -> str:
    """Keep spreadsheets from running a name as a formula (CSV injection): prefix a quote."""
    return "'" + value if value.startswith(_FORMULA_START) else value


def _unguard(value: str) -> str:
    """Undo :func:`_guard` on the way back in, so export and import round-trip."""
    return value[1:] if value.startswith("'") and value[1:].startswith(_FORMULA_START) else value
