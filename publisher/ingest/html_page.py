"""Saved HTML pages: metadata from the usual meta tags, body from the article element.

Pages saved from a CMS carry their metadata in Open Graph / ``article:*`` meta tags, which
are more reliable than anything visible on the page, so those win; visible markup
(``<h1>``, ``<time>``) is the fallback. The body is the ``<article>`` (or ``<main>``) with
site chrome cut out: navigation, share buttons, newsletter boxes and the like would
otherwise end up in every feed entry.
"""

from __future__ import annotations

import copy
import json
import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import urljoin

import lxml.html
from lxml import etree

from publisher.exceptions import IngestError
from publisher.ingest import main_text
from publisher.ingest.dates import parse_date
from publisher.ingest.fields import RawArticle, build_article, nesting_warning
from publisher.ingest.nesting import flatten
from publisher.ingest.options import IngestOptions
from publisher.text import one_line
from publisher.types import ArticleInput

_CHROME_TAGS = (
    "nav", "header", "footer", "aside", "form", "script", "style", "noscript", "iframe",
    "button", "template",
)  # fmt: skip
_CHROME_WORDS = re.compile(
    r"(?:^|[-_])(?:share|sharing|social|related|recommended|newsletter|signup|subscribe"
    r"|advert|advertisement|ads?|promo|sponsor|sponsored|comments?|disqus|outbrain|taboola"
    r"|byline|breadcrumbs?|cookies?|consent|gdpr)(?:$|[-_])",
    re.IGNORECASE,
)
_TITLE_SUFFIX = re.compile(r"^(?P<title>.*\S)\s+[|\-–—·]\s+[^|–—·]+$")


@dataclass(frozen=True)
class _Meta:
    """One meta tag value and the line it is on."""

    value: str
    line: int | None


EXTRACTORS = ("ours", "trafilatura", "combined")


def parse_html_page(
    text: str, source: str, options: IngestOptions, now: datetime | None = None
) -> ArticleInput:
    """One article from a saved HTML page."""
    return build_article(read_page(text, source, options), options, source, now)


def read_page(
    text: str, source: str, options: IngestOptions, extractor: str = "combined"
) -> RawArticle:
    """The raw fields of a page by ``extractor``: our meta-tag and markup reader, trafilatura,
    or the combination of the two that docs/ingest.md measured as best per field."""
    # libxml2 stops building the tree 256 levels down (the body came out empty): flatten
    # first, keeping the text.
    text, removed = flatten(text)
    # Parse bytes, not str: lxml refuses str input that carries an XML encoding declaration.
    parser = lxml.html.HTMLParser(encoding="utf-8", remove_comments=True)
    try:
        document = lxml.html.document_fromstring(text.encode("utf-8"), parser=parser)
    except (etree.ParserError, ValueError):
        raise IngestError("not an HTML document", source) from None
    base = next((b.get("href") for b in document.iter("base") if b.get("href")), None)
    _unlazy(document)
    document.resolve_base_href(handle_failures="discard")
    # trafilatura gets the page without the chrome that class names and tags give away
    # (share bars, newsletter boxes, comments): it keeps them on pages with little text.
    stripped = _without_chrome(copy.deepcopy(document)) if extractor != "ours" else None
    raw = _ours(document, base, options)
    if removed:
        raw.warnings.append(nesting_warning(removed))
    if stripped is None:
        return raw
    found = main_text.extract(stripped, base)
    if extractor == "trafilatura":
        raw.title, raw.lines["title"] = found.title or None, 0
        raw.published = f"{found.date}T12:00" if found.date else None
        raw.authors = found.authors
        raw.body_html = found.body_html
        return raw
    return _combine(raw, found)


def _combine(raw: RawArticle, found: main_text.MainText) -> RawArticle:
    """Per field, the reader that measured better (docs/ingest.md, "HTML pages")."""
    if found.body_html.strip():
        raw.body_html = found.body_html
    if raw.title is None and found.title:
        raw.title = found.title
    if raw.published is None and found.date:
        raw.published = f"{found.date}T12:00"  # a day alone: local noon
    if not raw.authors and found.authors:
        raw.authors = found.authors
    if not raw.categories and found.categories:
        raw.categories = found.categories
    return raw


def _ours(document: lxml.html.HtmlElement, base: str | None, options: IngestOptions) -> RawArticle:
    """Fields from meta tags, JSON-LD and visible markup; the body from the story element.

    A saved page's relative links are relative to its <base href> (resolved by the caller),
    not to our site; a relative base still ends up under the site URL when the sanitiser
    resolves it.
    """
    metas = _metas(document)
    _json_ld(document, metas)
    container = _container(document)
    raw = RawArticle(strict_urls=False)
    _title(raw, metas, document, container)
    _dates(raw, metas, container, options)
    authors = [m.value for m in metas.get("author", [])]
    authors += [m.value for m in metas.get("article:author", []) if "://" not in m.value]
    if not authors:
        authors = [el.text_content() for el in container.xpath(".//*[@rel='author']")]
    if not authors:  # the byline may sit just outside a story-body container
        authors = [el.text_content() for el in document.xpath("//*[@rel='author']")]
    raw.authors = authors
    raw.summary = _first(metas, "og:description", "description", "twitter:description")
    raw.image = _first(metas, "og:image", "og:image:url", "og:image:secure_url", "twitter:image")
    if base and isinstance(raw.image, str):
        raw.image = urljoin(base, raw.image.strip())
    raw.image_alt = _first(metas, "og:image:alt", "twitter:image:alt")
    # The section is the category; tags are keywords, and turning each into a category
    # would give every tag its own feed. Tags stand in only when a page names no section.
    sections = [m.value for m in metas.get("article:section", [])]
    raw.categories = sections or [m.value for m in metas.get("article:tag", [])]
    raw.url = _canonical(document) or _first(metas, "og:url")
    # The page's language: <html lang>, else og:locale (en_GB), else JSON-LD inLanguage.
    raw.language = (document.get("lang") or "").strip() or _first(metas, "og:locale", "inlanguage")
    raw.body_html = _body(container)
    return raw


def _metas(document: lxml.html.HtmlElement) -> dict[str, list[_Meta]]:
    """Meta tag contents by lower-cased ``property``/``name``/``itemprop``, in page order."""
    found: dict[str, list[_Meta]] = {}
    for element in document.iter("meta"):
        key = element.get("property") or element.get("name") or element.get("itemprop")
        value = element.get("content")
        if key and value is not None and value.strip():
            found.setdefault(key.strip().lower(), []).append(_Meta(value, element.sourceline))
    return found


_ARTICLE_TYPES = {"article", "newsarticle", "reportagenewsarticle", "blogposting", "report"}


def _json_ld(document: lxml.html.HtmlElement, metas: dict[str, list[_Meta]]) -> None:
    """Add a schema.org Article's dates and authors from JSON-LD, after the meta tags.

    Many news sites state dates only there. They are added under the meta names the date
    and author lookups already read (``datepublished``, ``datemodified``, ``author``), so
    real meta tags still win; broken JSON-LD is ignored like any other page noise.
    """
    for script in document.iter("script"):
        if (script.get("type") or "").strip().lower() != "application/ld+json":
            continue
        try:
            data = json.loads(script.text or "")
        except ValueError:
            continue
        for item in _ld_items(data):
            line = script.sourceline
            pairs = (
                ("datePublished", "datepublished"),
                ("dateModified", "datemodified"),
                ("inLanguage", "inlanguage"),
            )
            for key, meta in pairs:
                if isinstance(item.get(key), str):
                    metas.setdefault(meta, []).append(_Meta(item[key], line))
            if "author" not in metas:
                authors = item.get("author")
                for author in authors if isinstance(authors, list) else [authors]:
                    name = author.get("name") if isinstance(author, dict) else author
                    if isinstance(name, str) and name.strip():
                        metas.setdefault("author", []).append(_Meta(name, line))
            return


def _ld_items(data: object) -> list[dict[str, Any]]:
    """Article objects in a JSON-LD value (top level, a list, or an ``@graph``)."""
    found: list[dict[str, Any]] = []
    for item in data if isinstance(data, list) else [data]:
        if not isinstance(item, dict):
            continue
        if isinstance(item.get("@graph"), list):
            found.extend(_ld_items(item["@graph"]))
        kinds = item.get("@type")
        kinds = kinds if isinstance(kinds, list) else [kinds]
        if any(isinstance(k, str) and k.lower() in _ARTICLE_TYPES for k in kinds):
            found.append(item)
    return found


def _first(metas: dict[str, list[_Meta]], *keys: str) -> str | None:
    """The first value among ``keys``, in the order the keys are given."""
    for key in keys:
        if key in metas:
            return metas[key][0].value
    return None


# Where CMS templates put the story when they use no <article> element (class names as
# whole tokens: "story-body" but not "story-body-wrapper").
_BODY_CLASSES = ("story-body", "article-body", "entry-content", "post-content", "article-content")
_CONTAINERS = (
    "//article",
    "//*[@itemprop='articleBody']",
    *(
        f"//*[contains(concat(' ', normalize-space(@class), ' '), ' {name} ')]"
        for name in _BODY_CLASSES
    ),
    "//main",
    "//*[@role='main']",
    "//body",
)
_LAZY_SOURCES = ("data-src", "data-lazy-src", "data-original")


def _container(document: lxml.html.HtmlElement) -> lxml.html.HtmlElement:
    """The element holding the article: article, a CMS story-body element, main, body."""
    for path in _CONTAINERS:
        matches = document.xpath(path)
        if matches:
            element: lxml.html.HtmlElement = matches[0]
            return element
    return document


def _title(
    raw: RawArticle,
    metas: dict[str, list[_Meta]],
    document: lxml.html.HtmlElement,
    container: lxml.html.HtmlElement,
) -> None:
    """og:title, else the article's (or page's) first h1, else ``<title>`` minus " | Site"."""
    for key in ("og:title", "twitter:title"):
        if key in metas:
            raw.title, raw.lines["title"] = metas[key][0].value, metas[key][0].line or 0
            return
    for heading in [*container.iter("h1"), *document.iter("h1")]:
        text = one_line(heading.text_content())
        if text:
            raw.title = text
            return
    for element in document.iter("title"):
        text = one_line(element.text_content())
        match = _TITLE_SUFFIX.match(text)
        raw.title = match.group("title") if match else text
        return


def _dates(
    raw: RawArticle,
    metas: dict[str, list[_Meta]],
    container: lxml.html.HtmlElement,
    options: IngestOptions,
) -> None:
    """Published and updated times: the first candidate that parses wins.

    If every candidate is broken the first one is kept, so building the article reports
    it (with its line) instead of silently publishing "now".
    """
    published = [m for key in ("article:published_time",) for m in metas.get(key, [])]
    published += [
        _Meta(el.get("datetime"), el.sourceline) for el in container.iterfind(".//time[@datetime]")
    ]
    published += [
        m
        for key in ("date", "datepublished", "dc.date", "dcterms.created", "pubdate")
        for m in metas.get(key, [])
    ]
    # A CMS story-body element often leaves the dateline <time> just above it.
    published += [
        _Meta(el.get("datetime"), el.sourceline)
        for el in container.getroottree().iterfind(".//time[@datetime]")
    ]
    updated = [
        m
        for key in ("article:modified_time", "og:updated_time", "datemodified")
        for m in metas.get(key, [])
    ]
    for field, candidates in (("date", published), ("updated", updated)):
        if not candidates:
            continue
        chosen = candidates[0]
        for candidate in candidates:
            try:
                parse_date(candidate.value, field, options.timezone)
            except ValueError:
                continue
            chosen = candidate
            break
        setattr(raw, "published" if field == "date" else "updated", chosen.value)
        if chosen.line is not None:
            raw.lines[field] = chosen.line


def _canonical(document: lxml.html.HtmlElement) -> str | None:
    """The href of ``<link rel="canonical">`` (rel is a space-separated token list)."""
    for link in document.iter("link"):
        if "canonical" in (link.get("rel") or "").lower().split() and link.get("href"):
            href: str = link.get("href")
            return href
    return None


def _body(container: lxml.html.HtmlElement) -> str:
    """The container's HTML with chrome and the title's own h1 removed (unsanitised)."""
    for heading in container.iter("h1"):
        heading.drop_tree()
        break
    doomed = [
        element
        for element in container.iter()
        if element is not container
        and isinstance(element.tag, str)
        and (element.tag in _CHROME_TAGS or _looks_like_chrome(element))
    ]
    for element in doomed:
        if element.getparent() is not None:
            element.drop_tree()
    body: str = lxml.html.tostring(container, encoding="unicode")
    return body


def _without_chrome(document: lxml.html.HtmlElement) -> lxml.html.HtmlElement:
    """``document`` without chrome elements; a story's own ``<header>`` (headline, byline,
    standfirst) and bylines stay, for the extractor to read."""
    doomed = [
        element
        for element in document.iter()
        if isinstance(element.tag, str)
        and element.tag != "html"
        and not (element.tag == "header" and element.xpath("ancestor::article"))
        and (element.get("type") or "").lower() != "application/ld+json"
        and (element.tag in _CHROME_TAGS or _looks_like_chrome(element, keep_byline=True))
    ]
    for element in doomed:
        if element.getparent() is not None:
            element.drop_tree()
    return document


def _unlazy(document: lxml.html.HtmlElement) -> None:
    """Give lazy-loaded images (``data-src`` and a placeholder or no ``src``) their real src."""
    for image in document.iter("img"):
        lazy = next((image.get(name) for name in _LAZY_SOURCES if image.get(name)), None)
        if lazy and (not image.get("src") or image.get("src", "").startswith("data:")):
            image.set("src", lazy)


def _looks_like_chrome(element: lxml.html.HtmlElement, keep_byline: bool = False) -> bool:
    """Whether the class or id names a share bar, related links, an ad, comments, etc."""
    names = [*(element.get("class") or "").split(), element.get("id") or ""]
    found = [match.group(0) for name in names if name and (match := _CHROME_WORDS.search(name))]
    return any(not (keep_byline and "byline" in word.lower()) for word in found)
