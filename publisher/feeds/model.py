"""Plain descriptions of a feed and its items, made once and rendered in every format.

Everything that reaches a renderer has been cleaned here: no XML-incompatible characters
(feedgen raises on them, trap 8), aware UTC datetimes cut to whole seconds (feedgen raises
on naive ones; HTTP dates have no fractions), absolute URLs (R7) and sanitised content (R8).
A feed is a function of the store alone: no "now" appears anywhere in it (H1, trap 6).
"""

from __future__ import annotations

import mimetypes
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from urllib.parse import quote, urlsplit

from publisher.feeds.content import absolute_url, clean_content, plain_text, with_image
from publisher.i18n import gettext, month_year
from publisher.text import N_, one_line, strip_control, truncate_words
from publisher.types import Article, Category

SUMMARY_LENGTH = 300
"""Longest summary derived from the content when an article has none (R5)."""
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
"""The ``updated`` of a feed that has never had an item: fixed, so its ETag is stable."""

# The feeds' own words (not the newsroom's): in the site's language, from the catalogs.
CATEGORY_TITLE = N_("%(site)s: %(category)s")
CATEGORY_DESCRIPTION = N_("%(category)s: latest articles from %(site)s")
ARCHIVE_TITLE = N_("%(feed)s (archive %(month)s)")
# TRANSLATORS: the program that made the feed (RSS and Atom <generator>): the product's
# name, "publisher", written in the language's script.
GENERATOR = N_("publisher")

FORMATS = ("rss", "atom", "json")
FILE_NAMES = {"rss": "rss.xml", "atom": "atom.xml", "json": "feed.json"}
MIME_TYPES = {
    "rss": "application/rss+xml",
    "atom": "application/atom+xml",
    "json": "application/feed+json",
}
_EMAIL = re.compile(
    r"^\s*(?:(?P<name>[^<>]*?)\s*<(?P<a>[^<>@\s]+@[^<>@\s]+)>|(?P<b>[^\s@<>()]+@[^\s@<>()]+)(?:\s*\((?P<n2>[^()]*)\))?)\s*$"
)


def utc_seconds(moment: datetime) -> datetime:
    """An aware UTC datetime without fractions of a second."""
    if moment.tzinfo is None:
        raise ValueError("naive datetime: attach a time zone before it reaches a feed")
    return moment.astimezone(UTC).replace(microsecond=0)


@dataclass(frozen=True, slots=True)
class Site:
    """What every feed of the site shares (taken from the settings by the core)."""

    url: str
    title: str
    description: str = ""
    language: str = "en"
    hubs: tuple[str, ...] = ()

    @property
    def base(self) -> str:
        return self.url.rstrip("/")

    @property
    def feeds_url(self) -> str:
        return f"{self.base}/feeds"

    def words(self, message: str, **values: str) -> str:
        """One of the feeds' own strings in the site's language (``site.language``)."""
        return gettext(self.language, message, **values)

    def archive_title(self, title: str, month: datetime) -> str:
        """An archive page's title: the feed's, and the month it holds (P1)."""
        return self.words(ARCHIVE_TITLE, feed=title, month=month_year(month, self.language))


@dataclass(frozen=True, slots=True)
class FeedRef:
    """Which feed: the site-wide one (``slug`` None) or one category's."""

    slug: str | None = None
    name: str = ""

    @property
    def folder(self) -> str:
        """Folder of the feed files under the feeds directory (``""`` for the site)."""
        return "" if self.slug is None else f"category/{self.slug}"

    def rel_path(self, fmt: str) -> str:
        name = FILE_NAMES[fmt]
        return f"{self.folder}/{name}" if self.folder else name

    def url(self, site: Site, fmt: str) -> str:
        return f"{site.feeds_url}/{quote(self.rel_path(fmt))}"

    def home_url(self, site: Site) -> str:
        """The HTML page the feed stands for (R1: never the feed itself)."""
        if self.slug is None:
            return f"{site.base}/"
        return f"{site.base}/categories/{quote(self.slug)}"

    def title(self, site: Site) -> str:
        if self.slug is None:
            return site.title
        return site.words(CATEGORY_TITLE, site=site.title, category=self.name or self.slug)

    def description(self, site: Site) -> str:
        if self.slug is None:
            return site.description or site.title
        return site.words(CATEGORY_DESCRIPTION, category=self.name or self.slug, site=site.title)


@dataclass(frozen=True, slots=True)
class Author:
    name: str
    email: str = ""


@dataclass(frozen=True, slots=True)
class Image:
    url: str
    alt: str
    type: str | None


@dataclass(frozen=True, slots=True)
class FeedItem:
    """One article as every format shows it; ``id`` is the article's permanent guid (R3)."""

    id: str
    url: str
    title: str
    summary: str
    content_html: str
    published: datetime
    updated: datetime
    authors: tuple[Author, ...] = ()
    categories: tuple[Category, ...] = ()
    image: Image | None = None
    language: str = ""
    """The article's own language ("" = the feed's)."""

    @property
    def id_is_permalink(self) -> bool:
        """True only for an http(s) guid equal to the link (R3)."""
        return self.id == self.url and urlsplit(self.id).scheme in ("http", "https")

    @property
    def changed(self) -> datetime:
        """When readers last saw it change: a scheduled article changes when it appears."""
        return max(self.published, self.updated)


@dataclass(frozen=True, slots=True)
class ArchiveLinks:
    """RFC 5005 links by format (``rss``/``atom``): older and newer archive page, live feed."""

    prev: dict[str, str] = field(default_factory=dict)
    next: dict[str, str] = field(default_factory=dict)
    current: dict[str, str] = field(default_factory=dict)
    is_archive: bool = False


@dataclass(frozen=True, slots=True)
class FeedSpec:
    """A whole feed document: what to render, independent of the format."""

    id: str
    title: str
    description: str
    home_url: str
    self_urls: dict[str, str]
    language: str
    updated: datetime
    items: tuple[FeedItem, ...]
    author: str
    hubs: tuple[str, ...] = ()
    archive: ArchiveLinks = field(default_factory=ArchiveLinks)
    full_content: bool = True
    generator: str = GENERATOR


def parse_author(text: str) -> Author:
    """``Name <a@b>`` or ``a@b (Name)`` give an e-mail author (R9); anything else a name."""
    cleaned = one_line(text)
    match = _EMAIL.match(cleaned)
    if not match:
        return Author(cleaned)
    email = match.group("a") or match.group("b") or ""
    name = (match.group("name") or match.group("n2") or "").strip() or email
    return Author(name, email)


def image_type(url: str) -> str | None:
    kind, _ = mimetypes.guess_type(urlsplit(url).path)
    return kind if kind and kind.startswith("image/") else None


def item_from_article(article: Article, site: Site) -> FeedItem:
    """Clean one stored article into a feed item (URLs absolute against its own page)."""
    url = (
        absolute_url(article.url, site.base + "/") or f"{site.base}/articles/{quote(article.slug)}"
    )
    title = one_line(article.title) or url
    image = None
    if article.image_url:
        image_url = absolute_url(article.image_url, url)
        if image_url:
            alt = one_line(article.image_alt or "")
            image = Image(image_url, alt, image_type(image_url))
    content = clean_content(article.content_html, url)
    if image:
        content = with_image(content, image.url, image.alt)
    authors = tuple(a for a in (parse_author(x) for x in article.authors) if a.name)
    categories = tuple(
        Category(one_line(c.slug), one_line(c.name) or one_line(c.slug)) for c in article.categories
    )
    summary = one_line(article.summary) or truncate_words(plain_text(content), SUMMARY_LENGTH)
    return FeedItem(
        id=one_line(article.guid),
        url=url,
        title=title,
        summary=summary or title,
        content_html=strip_control(content),
        published=utc_seconds(article.published_at),
        updated=utc_seconds(article.updated_at),
        authors=authors,
        categories=categories,
        image=image,
        language=one_line(article.language),
    )


def newest_change(
    items: tuple[FeedItem, ...] | list[FeedItem], *extra: datetime | None
) -> datetime:
    """The feed's ``updated``: the newest item change (or retraction), never the render time."""
    moments = [i.changed for i in items] + [utc_seconds(m) for m in extra if m is not None]
    return max(moments, default=EPOCH)
