"""RSS 2.0 and Atom documents with feedgen 1.0.0, around its nine known traps.

feedgen does most of the work; where it is wrong we add the element ourselves through one
small extension (``_Ours``) instead of post-editing its output:

1. Atom entry links lose their attributes, so an enclosure would turn into a second
   alternate link: entries get only the alternate link from feedgen; ``rel="enclosure"``
   links are written by the extension.
2. ``content(type='CDATA')`` gives invalid Atom: content is always ``type='html'``.
3. The RSS channel ``<link>`` is the last ``link()`` added: ``rel="alternate"`` goes last.
4. RSS drops every feed link but self: hub and archive links are added as ``atom:link``.
5. ``add_entry()`` prepends: entries use ``order='append'``.
6. ``updated``/``lastBuildDate`` default to now: both come from the newest item change.
7. The media extension wraps media:content in media:group: we pass ``group=None``.
8. Naive datetimes and control characters raise: :mod:`publisher.feeds.model` cleans them.
9. ``formatRFC2822`` swaps the process-wide locale: feedgen never formats an RSS date here
   (no ``pubDate()`` call, lastBuildDate cleared); :func:`rfc822` writes them instead.
"""

from __future__ import annotations

import html
import threading
from collections import OrderedDict
from dataclasses import replace
from datetime import datetime
from email.utils import format_datetime
from typing import Any

from feedgen.entry import FeedEntry
from feedgen.ext.base import BaseEntryExtension, BaseExtension
from feedgen.ext.media import MediaEntryExtension
from feedgen.feed import FeedGenerator
from lxml import etree

from publisher.feeds.model import FeedItem, FeedSpec

ATOM_NS = "http://www.w3.org/2005/Atom"
DC_NS = "http://purl.org/dc/elements/1.1/"
FH_NS = "http://purl.org/syndication/history/1.0"
MEDIA_NS = "http://search.yahoo.com/mrss/"


def rfc822(moment: datetime) -> str:
    """RFC 822 date with a four-digit year and a numeric zone, locale-independent (R4)."""
    return format_datetime(moment)


def _sub(parent: Any, tag: str, text: str | None = None, **attrib: str) -> Any:
    element = etree.SubElement(parent, tag, attrib)
    if text is not None:
        element.text = text
    return element


class _Ours(BaseExtension):  # type: ignore[misc]
    """Feed-level elements feedgen cannot write: RSS dates, hub/archive links, fh:archive."""

    spec: FeedSpec | None = None

    def extend_ns(self) -> dict[str, str]:
        return {"dc": DC_NS, "fh": FH_NS, "media": MEDIA_NS}

    fmt: str = "rss"

    def _links(self) -> list[tuple[str, str]]:
        assert self.spec is not None
        archive = self.spec.archive
        links = [("hub", hub) for hub in self.spec.hubs]
        for rel, urls in (
            ("current", archive.current),
            ("prev-archive", archive.prev),
            ("next-archive", archive.next),
        ):
            if self.fmt in urls:
                links.append((rel, urls[self.fmt]))
        return links

    def extend_rss(self, feed: Any) -> Any:
        assert self.spec is not None
        channel = feed.find("channel")
        _sub(channel, "lastBuildDate", rfc822(self.spec.updated))
        for rel, href in self._links():
            _sub(channel, f"{{{ATOM_NS}}}link", rel=rel, href=href)
        if self.spec.archive.is_archive:
            _sub(channel, f"{{{FH_NS}}}archive")
        return feed

    def extend_atom(self, feed: Any) -> Any:
        assert self.spec is not None
        for rel, href in self._links():
            if rel != "hub":  # feedgen writes feed-level Atom links correctly, hubs included
                # feedgen puts Atom in a default namespace given as an attribute, so its
                # own elements are un-namespaced in the tree; ours must be too.
                _sub(feed, "link", rel=rel, href=href)
        if self.spec.archive.is_archive:
            _sub(feed, f"{{{FH_NS}}}archive")
        return feed


class _OursEntry(BaseEntryExtension):  # type: ignore[misc]
    """Entry-level elements: RSS pubDate and dc:creator, Atom enclosure links."""

    item: FeedItem | None = None
    full: bool = True

    def extend_rss(self, entry: Any) -> Any:
        assert self.item is not None
        _sub(entry, "pubDate", rfc822(self.item.published))
        for author in self.item.authors:
            if not author.email:
                _sub(entry, f"{{{DC_NS}}}creator", author.name)
        image = self.item.image if self.full else None
        if image and image.type:
            # Length unknown: the RSS Profile says to give 0 then (R6).
            _sub(entry, "enclosure", url=image.url, length="0", type=image.type)
        return entry

    def extend_atom(self, entry: Any) -> Any:
        assert self.item is not None
        image = self.item.image if self.full else None
        if image and image.type:
            _sub(entry, "link", rel="enclosure", href=image.url,
                 type=image.type, length="0")  # fmt: skip
        return entry


_ENTRIES: OrderedDict[tuple[FeedItem, bool], FeedEntry] = OrderedDict()
_ENTRIES_LOCK = threading.Lock()
ENTRY_CACHE_SIZE = 10_000


def _cached_entry(item: FeedItem, full: bool) -> FeedEntry:
    """A feedgen entry for ``item``, made once and reused by later documents.

    Filling a FeedEntry (feedgen validates every dict it is given) costs more than writing
    its XML; an archive page of a busy month has over a thousand entries and is rewritten
    on every publication. An entry is only read when rendered, so sharing it is safe; the
    key is the frozen item itself.
    """
    key = (item, full)
    with _ENTRIES_LOCK:
        entry = _ENTRIES.get(key)
        if entry is not None:
            _ENTRIES.move_to_end(key)
            return entry
    entry = FeedEntry()
    entry.register_extension("media", MediaEntryExtension, atom=True, rss=True)
    entry.register_extension("publisher", _OursEntry, atom=True, rss=True)
    _entry(entry, item, full)
    with _ENTRIES_LOCK:
        _ENTRIES[key] = entry
        if len(_ENTRIES) > ENTRY_CACHE_SIZE:
            _ENTRIES.popitem(last=False)
    return entry


def _generator(spec: FeedSpec, fmt: str) -> FeedGenerator:
    fg = FeedGenerator()
    fg.load_extension("media", atom=True, rss=True)
    fg.register_extension("publisher", _Ours, _OursEntry, atom=True, rss=True)
    fg.publisher.spec = spec
    fg.publisher.fmt = fmt
    fg.id(spec.id)
    fg.title(spec.title)
    fg.description(spec.description)
    fg.subtitle(spec.description)
    # RSS <description> is HTML (readers render it): escape the text once more than XML
    # does, or "<script>" in a title arrives as live markup. Atom's subtitle is type text.
    fg._FeedGenerator__rss_description = rss_html(spec.description)
    fg.language(spec.language)
    fg.author({"name": spec.author})
    fg.generator(spec.generator)
    fg.updated(spec.updated)
    mime = "application/rss+xml" if fmt == "rss" else "application/atom+xml"
    fg.link(href=spec.self_urls[fmt], rel="self", type=mime)
    for hub in spec.hubs:
        fg.link(href=hub, rel="hub")
    fg.link(href=spec.home_url, rel="alternate", type="text/html")  # last: trap 3
    for item in spec.items:
        fg.add_entry(_cached_entry(item, spec.full_content), order="append")
    # Trap 6/9: no render time, and no call into feedgen's locale-swapping date formatter.
    fg._FeedGenerator__rss_lastBuildDate = None
    return fg


def _entry(fe: FeedEntry, item: FeedItem, full: bool) -> None:
    fe.publisher.item = item
    fe.publisher.full = full
    fe.guid(item.id, permalink=item.id_is_permalink)
    fe.title(item.title)
    fe.link(href=item.url, rel="alternate")
    fe.published(item.published)
    fe.updated(item.changed)  # a scheduled article changes when it appears
    summary = item.summary or ("" if full else item.title)
    if summary:
        fe.summary(summary, type="text")
        fe._FeedEntry__rss_description = rss_html(summary)  # as for the channel's
    if full:
        fe.content(item.content_html, type="html")
    for author in item.authors:
        fe.author({"name": author.name, **({"email": author.email} if author.email else {})})
    for category in item.categories:
        fe.category(term=category.slug, label=category.name)
    if item.image and full:  # archive pages list entries; the image is on the page
        media = {"url": item.image.url, "medium": "image"}
        if item.image.type:
            media["type"] = item.image.type
        fe.media.content(media, group=None)
    # R9: an RSS <author> is "email (Name)"; name-only authors go to dc:creator instead.
    fe._FeedEntry__rss_author = [f"{a.email} ({a.name})" for a in item.authors if a.email]
    # feedgen would format pubDate through the locale (trap 9); _OursEntry writes it.
    fe._FeedEntry__rss_pubDate = None


def rss_html(text: str) -> str:
    """Plain text as the HTML an RSS ``<description>`` holds (the XML layer escapes again)."""
    return html.escape(text, quote=False)


STYLESHEET_HREF = "/feeds/feed.xsl"  # served by the web (publisher.web.feeds)
_STYLESHEET_PI = f'<?xml-stylesheet type="text/xsl" href="{STYLESHEET_HREF}"?>\n'.encode()


def with_stylesheet(data: bytes) -> bytes:
    """The document with an ``xml-stylesheet`` instruction after its XML declaration.

    A browser opening the feed then shows a readable page with a subscribe hint (the XSLT);
    feed readers ignore processing instructions, so they read the same feed.
    """
    declaration_end = data.index(b"?>") + 2 if data.startswith(b"<?xml") else 0
    rest = data[declaration_end:].lstrip(b"\n")
    return data[:declaration_end] + b"\n" + _STYLESHEET_PI + rest


def render_rss(spec: FeedSpec) -> bytes:
    if spec.archive.is_archive:
        return with_stylesheet(_assembled(spec, "rss"))
    data: bytes = _generator(spec, "rss").rss_str(pretty=True, encoding="UTF-8")
    return with_stylesheet(data)


def render_atom(spec: FeedSpec) -> bytes:
    if spec.archive.is_archive:
        return with_stylesheet(_assembled(spec, "atom"))
    data: bytes = _generator(spec, "atom").atom_str(pretty=True, encoding="UTF-8")
    return with_stylesheet(data)


_ENTRY_XML: OrderedDict[tuple[FeedItem, str], bytes] = OrderedDict()
_CLOSE = {"rss": b"</channel>", "atom": b"</feed>"}


def _entry_xml(item: FeedItem, fmt: str) -> bytes:
    """One archive entry's XML as feedgen writes it, serialised once per item and format."""
    key = (item, fmt)
    with _ENTRIES_LOCK:
        data = _ENTRY_XML.get(key)
        if data is not None:
            _ENTRY_XML.move_to_end(key)
            return data
    entry = _cached_entry(item, False)
    element = entry.rss_entry() if fmt == "rss" else entry.atom_entry()
    data = bytes(etree.tostring(element, encoding="UTF-8"))
    with _ENTRIES_LOCK:
        _ENTRY_XML[key] = data
        if len(_ENTRY_XML) > ENTRY_CACHE_SIZE:
            _ENTRY_XML.popitem(last=False)
    return data


def _assembled(spec: FeedSpec, fmt: str) -> bytes:
    """An archive page: feedgen's document head, then each entry's cached XML.

    The newest archive page of a busy month holds over a thousand entries and changes on
    every publication, while all but one of its entries are the same as last time. feedgen
    still writes every element; the page is put together from its pieces (not pretty
    printed, so pieces need no re-indenting). Standalone entries repeat the namespace
    declarations they use, which is valid XML and reads the same.
    """
    head = replace(spec, items=())
    generator = _generator(head, fmt)
    shell: bytes = (generator.rss_str if fmt == "rss" else generator.atom_str)(
        pretty=False, encoding="UTF-8"
    )
    close = _CLOSE[fmt]
    cut = shell.rindex(close)
    body = b"".join(_entry_xml(item, fmt) for item in spec.items)
    return shell[:cut] + body + shell[cut:]
