"""The one normalisation path every format goes through: raw source values to ArticleInput.

Format parsers only *find* values (front matter keys, meta tags, text heuristics) and put
them, unchecked, into a :class:`RawArticle`; :func:`build_article` then cleans, validates
and sanitises them the same way for all formats, so a rule (control characters, URL
rewriting, date strictness) cannot be forgotten in one format.
"""

from __future__ import annotations

import html
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

from publisher.exceptions import IngestError
from publisher.ingest.dates import parse_date
from publisher.ingest.nesting import MAX_DEPTH, flatten
from publisher.ingest.options import IngestOptions
from publisher.ingest.sanitize import (
    absolute_url,
    clean_html,
    content_has_text,
    first_paragraph_text,
    html_to_text,
)
from publisher.text import LANGUAGE_TAG, category_slug, one_line, slugify, truncate_words
from publisher.types import ArticleInput, Category

FAR_AHEAD = timedelta(days=366)


class FieldError(ValueError):
    """A value of one field is wrong; ``field`` lets the caller point at its line."""

    def __init__(self, message: str, field: str) -> None:
        self.field = field
        super().__init__(message)


@dataclass
class RawArticle:
    """Values as a source gave them: any type, not yet cleaned or checked.

    ``lines`` maps field names to the source line they came from, for error messages.
    ``strict_urls`` makes an unusable ``url``/``image`` an error (it was written by a
    person on purpose) rather than dropped (it was scraped from a page's meta tags).
    ``title_entities`` says the title is source text that may hold character references
    (front matter, a CMS export: ``Q&amp;A``), not text a parser already decoded.
    """

    title: object = None
    body_html: str = ""
    published: object = None
    updated: object = None
    author: object = None
    authors: object = None
    categories: object = None
    category: object = None
    summary: object = None
    image: object = None
    image_alt: object = None
    slug: object = None
    guid: object = None
    url: object = None
    language: object = None
    lines: dict[str, int] = field(default_factory=dict)
    strict_urls: bool = True
    title_entities: bool = False
    draft_key: str | None = None
    warnings: list[str] = field(default_factory=list)


# Keys of front matter and JSON objects, mapped to RawArticle attributes.
MAPPING_KEYS = {
    "title": "title",
    "date": "published",
    "updated": "updated",
    "author": "author",
    "authors": "authors",
    "categories": "categories",
    "category": "category",
    "summary": "summary",
    "image": "image",
    "image_alt": "image_alt",
    "slug": "slug",
    "guid": "guid",
    "url": "url",
    "language": "language",
    "lang": "language",
}


def raw_from_mapping(values: Mapping[str, object], lines: Mapping[str, int]) -> RawArticle:
    """A RawArticle from front-matter-style keys (case-insensitive; unknown keys ignored)."""
    raw = RawArticle()
    for key, value in values.items():
        attribute = MAPPING_KEYS.get(str(key).lower())
        if attribute is not None:
            setattr(raw, attribute, value)
    raw.lines = {str(key).lower(): line for key, line in lines.items()}
    raw.title_entities = True
    raw.draft_key = _draft_key(values)
    return raw


_UNPUBLISHED_STATUSES = frozenset({"draft", "pending", "private", "future", "trash", "auto-draft"})


def _draft_key(values: Mapping[str, object]) -> str | None:
    """The key marking a draft in a static-site or CMS export (``draft: true``,
    ``published: false``, WordPress ``status: draft``), else ``None``."""
    lowered = {str(key).lower(): value for key, value in values.items()}
    if lowered.get("draft") is True:
        return "draft"
    if lowered.get("published") is False:
        return "published"
    status = lowered.get("status")
    if isinstance(status, str) and status.strip().lower() in _UNPUBLISHED_STATUSES:
        return "status"
    return None


def build_article(
    raw: RawArticle, options: IngestOptions, source: str, now: datetime | None = None
) -> ArticleInput:
    """Clean and check ``raw``; a bad field raises IngestError at that field's line."""
    try:
        return _build(raw, options, source, now)
    except FieldError as problem:
        raise IngestError(str(problem), path=source, line=raw.lines.get(problem.field)) from None


def _build(
    raw: RawArticle, options: IngestOptions, source: str, now: datetime | None
) -> ArticleInput:
    if raw.draft_key is not None:
        # A draft must not go out in feeds and e-mails because its marker is a key the
        # publisher otherwise ignores.
        raise FieldError(
            f"{raw.draft_key}: this is a draft, not imported (publish it in the source first)",
            raw.draft_key,
        )
    title = one_line(_text(raw.title, "title") or "")
    if raw.title_entities and "&" in title:
        # A title is text in every format and never parsed as HTML: ``vector<int>`` and
        # ``<br>`` stay as written (every output escapes them). Only character references
        # are decoded, because CMS exports write ``Q&amp;A`` for "Q&A".
        title = one_line(html.unescape(title))
    if not title:
        raise FieldError("no title", "title")
    published = _date(raw.published, "date", options) or _now(now, options)
    updated = _date(raw.updated, "updated", options)
    if published - _now(now, options) > FAR_AHEAD:
        raw.warnings.append(
            f"date {published.date().isoformat()} is more than a year ahead: the article is"
            " scheduled for then (check the year)"
        )
    content = _content(raw, options)
    given_summary = _text(raw.summary, "summary")
    summary = html_to_text(given_summary) if given_summary else ""
    if not summary:
        summary = truncate_words(first_paragraph_text(content), options.summary_length)
    image_url, image_alt = _image(raw, options, title)
    slug_text = one_line(_text(raw.slug, "slug") or "")
    return ArticleInput(
        title=title,
        content_html=content,
        published_at=published,
        summary=summary,
        updated_at=updated,
        authors=_authors(raw),
        categories=_categories(raw),
        image_url=image_url,
        image_alt=image_alt,
        slug=slugify(slug_text) if slug_text else None,
        guid=one_line(_text(raw.guid, "guid") or "") or None,
        url=_url(raw.url, "url", options, raw.strict_urls),
        source=source,
        warnings=tuple(raw.warnings),
        language=_language(raw),
    )


def _language(raw: RawArticle) -> str:
    """A language tag as ``<html lang>`` writes it (``ur``, ``en-GB``; ``en_GB`` from
    ``og:locale`` becomes ``en-GB``), or "" (the site's). A tag a person wrote that is not
    one is an error; one scraped from a page is dropped."""
    value = _text(raw.language, "language")
    tag = one_line(value or "").replace("_", "-")
    if not tag:
        return ""
    if LANGUAGE_TAG.fullmatch(tag) and len(tag) <= 35:
        return tag
    if raw.strict_urls:
        raise FieldError(
            f"language must be a language code such as ur or en-GB, not {one_line(tag, 40)!r}",
            "language",
        )
    return ""


def _content(raw: RawArticle, options: IngestOptions) -> str:
    """The sanitised body; nesting beyond the limit is flattened (with a warning), and a
    body that cleaning empties is refused rather than stored as an article of nothing."""
    body, removed = flatten(raw.body_html)
    if removed:
        raw.warnings.append(nesting_warning(removed))
    content = clean_html(body, options.site_url)
    if raw.body_html.strip() and not content_has_text(content):
        raise FieldError(
            "the body is empty once cleaned: it holds only markup articles may not carry"
            " (scripts, frames, forms, styles)",
            "body",
        )
    return content


def nesting_warning(removed: int) -> str:
    """The warning for :func:`publisher.ingest.nesting.flatten` having removed tags."""
    return (
        f"HTML nested more than {MAX_DEPTH} levels deep: {removed} tag(s) below that level"
        " removed, their text kept"
    )


def _text(value: object, name: str) -> str | None:
    """A text field: strings as they are, numbers as written (``title: 1984``)."""
    if value is None:
        return None
    if isinstance(value, str):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    raise FieldError(f"{name} must be text, not {_kind(value)}", name)


def _kind(value: object) -> str:
    """A reader's word for a value's type, for messages."""
    if isinstance(value, Mapping):
        return "a mapping"
    if isinstance(value, list | tuple):
        return "a list"
    if isinstance(value, bool):
        return "true/false"
    return type(value).__name__


def _now(now: datetime | None, options: IngestOptions) -> datetime:
    """The publication time for sources that give none: ``now`` (aware), default the clock."""
    if now is None:
        return datetime.now(UTC)
    return now if now.tzinfo is not None else now.replace(tzinfo=options.timezone)


def _date(value: object, name: str, options: IngestOptions) -> datetime | None:
    """An aware date, ``None`` when absent; a given but invalid date is an error, and so is
    one outside 1900-2200 (see ``parse_date``)."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    try:
        parsed = parse_date(value, name, options.timezone)
    except ValueError as problem:
        raise FieldError(str(problem), name) from None
    return parsed


def _names(value: object, name: str) -> Iterable[str]:
    """Names from one string or a list (items may be ``{name: ...}`` mappings, JSON Feed style)."""
    if value is None:
        return []
    items = list(value) if isinstance(value, list | tuple) else [value]
    names = []
    for item in items:
        if isinstance(item, Mapping) and "name" in item:
            item = item["name"]
        names.append(_text(item, name) or "")
    return names


def _authors(raw: RawArticle) -> tuple[str, ...]:
    """Authors from ``author`` and ``authors``; one string is one name (commas kept)."""
    seen: set[str] = set()
    authors: list[str] = []
    for name_field, value in (("author", raw.author), ("authors", raw.authors)):
        for name in _names(value, name_field):
            cleaned = one_line(name)
            if cleaned and cleaned.casefold() not in seen:
                seen.add(cleaned.casefold())
                authors.append(cleaned)
    return tuple(authors)


def _categories(raw: RawArticle) -> tuple[Category, ...]:
    """Categories from ``categories`` and ``category``: lists, or comma-separated strings."""
    names: list[str] = []
    for name_field, value in (("categories", raw.categories), ("category", raw.category)):
        if isinstance(value, str):
            names.extend(value.split(","))
        else:
            names.extend(_names(value, name_field))
    seen: set[str] = set()
    categories: list[Category] = []
    for name in names:
        cleaned = one_line(name)
        if not cleaned:
            continue
        slug = category_slug(cleaned)
        if slug not in seen:
            seen.add(slug)
            categories.append(Category(slug=slug, name=cleaned))
    return tuple(categories)


def _url(value: object, name: str, options: IngestOptions, strict: bool) -> str | None:
    """An absolute http(s) URL; unusable values are errors when ``strict``, else dropped."""
    text = _text(value, name)
    if text is None or not text.strip():
        return None
    url = absolute_url(text, options.site_url)
    if url is not None and urlsplit(url).scheme.lower() in ("http", "https"):
        return url
    if strict:
        raise FieldError(f"{name} {one_line(text, limit=80)!r} is not an http(s) URL", name)
    return None


def _image(raw: RawArticle, options: IngestOptions, title: str) -> tuple[str | None, str | None]:
    """Image URL and alt text; ``image`` may be a URL or ``{url, alt}``; alt defaults to title."""
    value = raw.image
    alt = _text(raw.image_alt, "image_alt")
    if isinstance(value, Mapping):
        location = value.get("url", value.get("src"))
        if alt is None:
            alt = _text(value.get("alt"), "image")
        value = location
    elif value is not None and not isinstance(value, str):
        raise FieldError(
            f"image must be a URL or a mapping with url and alt, not {_kind(value)}", "image"
        )
    url = _url(value, "image", options, raw.strict_urls)
    if url is None:
        return None, None
    return url, one_line(alt or "") or title
