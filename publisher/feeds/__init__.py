"""Syndication feeds: RSS 2.0 and Atom (feedgen), JSON Feed 1.1, archives, WebSub pings.

Imports only the leaf modules of the package. The core hands a :class:`FeedService` a
:class:`Site`, a source of articles (the store) and a folder; the service writes
``rss.xml``, ``atom.xml`` and ``feed.json`` for the site and each category, RFC 5005
monthly archive pages, and only the files whose bytes changed.
"""

from __future__ import annotations

from publisher.feeds.model import FILE_NAMES, FORMATS, MIME_TYPES, FeedRef, Site
from publisher.feeds.plan import Touched, touched_by
from publisher.feeds.service import BuildReport, FeedService, FeedSource
from publisher.feeds.websub import WebSubNotifier

__all__ = [
    "FILE_NAMES",
    "FORMATS",
    "MIME_TYPES",
    "BuildReport",
    "FeedRef",
    "FeedService",
    "FeedSource",
    "Site",
    "Touched",
    "WebSubNotifier",
    "touched_by",
]
