"""Serving the feed files: content types, conditional GET, caching, gzip, WebSub links.

The builder writes the files; this only serves them, so the bytes readers get are the bytes
on disk and the ETag is a hash of them (H1). ``Last-Modified`` is the file's modification
time, which the writer sets to the feed's newest item change. ``If-None-Match`` wins over
``If-Modified-Since`` (RFC 9110 13.2.2). Gzip bodies are cached per file version and made
with a zero mtime, so they are byte-stable too. Endpoints are plain functions: Starlette
runs them in its thread pool, so file reads and a first build never stall the event loop.

``publisher serve`` answers a feed file whose version is known in front of the app
(:class:`FeedFiles`): every response a version can get is built once (:class:`FeedAnswers`),
so a request costs a ``stat`` and a dict lookup. A new version goes through the route once.
"""

from __future__ import annotations

import gzip
import hashlib
import os
import threading
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import format_datetime, parsedate_to_datetime
from functools import lru_cache
from pathlib import Path
from stat import S_ISREG
from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route
from starlette.types import ASGIApp, Receive, Scope, Send

from publisher.core import Publisher
from publisher.text import N_
from publisher.web.answers import Answer, AnswerResponse, Raw, send_answer
from publisher.web.security import SECURITY_HEADERS
from publisher.web.templating import render

CONTENT_TYPES = {
    "rss.xml": "application/rss+xml; charset=utf-8",
    "atom.xml": "application/atom+xml; charset=utf-8",
    "feed.json": "application/feed+json",
}
GZIP_MIN_BYTES = 256
MAX_CACHED_FILES = 1024
XSLT_FEEDS = ("rss.xml", "atom.xml")
FEED_PAGE_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' https: data:; "
    "frame-ancestors 'none'; base-uri 'none'"
)
FEED_XSL = "feed.xsl"  # the RSS and Atom files name it as /feeds/feed.xsl (publisher.feeds)


@dataclass(frozen=True)
class _Version:
    data: bytes
    etag: str
    modified: datetime
    gzipped: bytes | None


class _FileCache:
    """File bytes, ETag and gzip body per (path, inode, mtime, size): a rename is a new key.
    One ``stat`` per request tells whether the file changed (the builder writes a feed by
    renaming a new file over it)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._entries: dict[str, tuple[tuple[int, int, int], _Version]] = {}

    def get(self, path: str, read: bool = True) -> _Version | None:
        """The file's current version; with ``read`` false only when it is cached already
        (the event loop asks so: reading and compressing a new version is for a thread)."""
        try:
            stat = os.stat(path)
        except (OSError, ValueError):  # missing, not a folder, a name the system refuses
            return None
        key = (stat.st_ino, stat.st_mtime_ns, stat.st_size)
        cached = self._entries.get(path)
        if cached and cached[0] == key:
            return cached[1]
        if not read or not S_ISREG(stat.st_mode):
            return None
        try:
            data = Path(path).read_bytes()
        except OSError:
            return None
        digest = hashlib.sha256(data).hexdigest()[:32]
        modified = datetime.fromtimestamp(stat.st_mtime, UTC).replace(microsecond=0)
        packed = gzip.compress(data, mtime=0) if len(data) >= GZIP_MIN_BYTES else None
        version = _Version(data, f'"{digest}"', modified, packed)
        with self._lock:
            if len(self._entries) > MAX_CACHED_FILES:
                self._entries.clear()
            self._entries[path] = (key, version)
        return version


def _browser_wants_page(accept: str, name: str) -> bool:
    """A browser navigating to an RSS or Atom file (its Accept names text/html) gets the
    same bytes as ``application/xml``: browsers render only that as a document, applying
    the feed's XSLT; with the feed's own type they show the source or offer a download.
    Feed readers ask for feed types (or anything) and get the feed's type."""
    return name in XSLT_FEEDS and "text/html" in accept


def _accepts_gzip(accept_encoding: str) -> bool:
    for part in accept_encoding.split(","):
        name, _, params = part.strip().partition(";")
        if name.strip().lower() in ("gzip", "*"):
            q = params.strip().removeprefix("q=")
            try:
                return float(q) > 0 if params.strip().startswith("q=") else True
            except ValueError:
                return True
    return False


def _not_modified(
    if_none_match: str | None, since: str | None, version: _Version, tags: tuple[str, ...]
) -> bool:
    if if_none_match is not None:
        wanted = {t.strip().removeprefix("W/") for t in if_none_match.split(",")}
        return "*" in wanted or bool(wanted & set(tags))
    if since:
        try:
            moment = parsedate_to_datetime(since)
        except (TypeError, ValueError):
            return False
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
        return version.modified <= moment
    return False


def _is_subscription(rel: str) -> bool:
    return not rel.startswith("archive/")


MAX_NAME_BYTES = 255  # a file name longer than this is ENAMETOOLONG, not "no such feed"


def _safe_rel(rel: str) -> str | None:
    """The path if it names a feed file inside the folder (no dot files, no ``..``, no
    control characters such as NUL, no name longer than a file system allows)."""
    parts = rel.split("/")
    if any(
        not p or p.startswith(".") or not p.isprintable() or len(p.encode()) > MAX_NAME_BYTES
        for p in parts
    ):
        return None
    return rel if parts[-1] in CONTENT_TYPES else None


class FeedAnswers:
    """Every response a feed file can get, built once per file version and reused.

    A request only picks one: gzip or not, 304 or 200, the XSLT page or the feed; so
    serving a feed is a ``stat``, a few header lookups and a dict lookup. Security headers
    are in the built answers because :class:`FeedFiles` answers before the middleware that
    adds them to every other response.
    """

    def __init__(self, publisher: Publisher) -> None:
        self.publisher = publisher
        self.files = _FileCache()
        self.folder = str(publisher.feeds.out_dir)
        self._answers: dict[tuple[str, str, bool, bool, bool], Answer] = {}

    def find(self, rel: str, read: bool = True) -> _Version | None:
        return self.files.get(f"{self.folder}/{rel}", read)

    def answer(self, rel: str, version: _Version, headers: Raw) -> Answer:
        accept = encoding = ""
        if_none_match = since = None
        for name, value in headers:
            if name == b"accept-encoding":
                encoding = value.decode("latin-1")
            elif name == b"accept":
                accept = value.decode("latin-1")
            elif name == b"if-none-match":
                if_none_match = value.decode("latin-1")
            elif name == b"if-modified-since":
                since = value.decode("latin-1")
        zipped = version.gzipped is not None and _gzip_wanted(encoding)
        tags = (version.etag, version.etag[:-1] + '-gzip"')
        fresh = _not_modified(if_none_match, since, version, tags)
        page = not fresh and _browser_wants_page(accept, rel.rsplit("/", 1)[-1])
        key = (rel, version.etag, zipped, fresh, page)
        found = self._answers.get(key)
        if found is None:
            if len(self._answers) > MAX_CACHED_FILES * 8:
                self._answers.clear()
            found = self._answers[key] = self._build(rel, version, zipped, fresh, page)
        return found

    def _build(self, rel: str, version: _Version, zipped: bool, fresh: bool, page: bool) -> Answer:
        site = self.publisher.feeds.site
        links = [f'<{site.feeds_url}/{quote(rel)}>; rel="self"']
        if _is_subscription(rel):
            links += [f'<{hub}>; rel="hub"' for hub in site.hubs]
        # A 304 carries what a cache must update (RFC 9110 15.4.5): validators, freshness,
        # Vary. The rest (security headers, links, type) belongs to the stored 200.
        headers = {
            "etag": version.etag[:-1] + '-gzip"' if zipped else version.etag,
            "last-modified": format_datetime(version.modified, usegmt=True),
            "cache-control": f"public, max-age={self.publisher.settings.feeds.max_age}",
            "vary": "Accept-Encoding, Accept",
        }
        body = b""
        if not fresh:
            headers.update(SECURITY_HEADERS)
            headers["link"] = ", ".join(links)
            body = version.gzipped if zipped and version.gzipped is not None else version.data
            if zipped:
                headers["content-encoding"] = "gzip"
            headers["content-length"] = str(len(body))
            headers["content-type"] = CONTENT_TYPES[rel.rsplit("/", 1)[-1]]
            if page:
                # The XSLT counts as a script for CSP: allow our own stylesheet, nothing else.
                headers["content-security-policy"] = FEED_PAGE_CSP
                headers["content-type"] = "application/xml; charset=utf-8"
        raw = [(k.encode("latin-1"), v.encode("latin-1")) for k, v in headers.items()]
        return Answer(304 if fresh else 200, raw, body)


@lru_cache(maxsize=256)
def _gzip_wanted(accept_encoding: str) -> bool:
    return _accepts_gzip(accept_encoding)


def _feed_rel(path: str) -> str | None:
    """The feed file a ``/feeds/...`` path names, if it may name one."""
    if not path.startswith("/feeds/"):
        return None
    return _safe_rel(path[len("/feeds/") :])


class FeedFiles:
    """Answers ``GET``/``HEAD /feeds/<file>`` before Starlette's routing and middleware,
    from :class:`FeedAnswers`; anything else goes on to the app, and so does a feed file's
    new version (the route reads it in the thread pool, then it is answered here).
    It sits after :class:`publisher.web.security.TrustedProxies`, so the access log still
    names the reader behind a proxy."""

    def __init__(self, app: ASGIApp, answers: FeedAnswers) -> None:
        self.app = app
        self.answers = answers

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] in ("GET", "HEAD"):
            rel = _feed_rel(scope["path"])
            version = self.answers.find(rel, read=False) if rel is not None else None
            if rel is not None and version is not None:
                await send_answer(send, self.answers.answer(rel, version, scope["headers"]))
                return
        await self.app(scope, receive, send)


def routes(answers: FeedAnswers) -> list[BaseRoute]:
    """``/feeds/`` (an HTML index with autodiscovery links) and ``/feeds/<file>`` (reached
    when :class:`FeedFiles` did not answer: a fresh folder's first build, or a 404)."""
    built = threading.Event()

    def feed(request: Request) -> Response:
        publisher: Publisher = request.app.state.publisher
        rel = _safe_rel(request.path_params["path"])
        if rel is None:
            return Response("no such feed\n", 404, media_type="text/plain")
        version = answers.find(rel)
        if version is None and not built.is_set() and not publisher.feeds.built_once():
            publisher.feeds.build()  # first request on a fresh folder: build once
            built.set()
            version = answers.find(rel)
        if version is None:
            return Response("no such feed\n", 404, media_type="text/plain")
        return AnswerResponse(answers.answer(rel, version, request.headers.raw))

    def index(request: Request) -> Response:
        publisher: Publisher = request.app.state.publisher
        return render(request, "feeds.html", _index_context(publisher, N_("Feeds")))

    def stylesheet(request: Request) -> Response:
        """The XSLT that the feeds' ``xml-stylesheet`` instruction names: a browser opening a
        feed shows a readable page with a subscribe hint; feed readers ignore it."""
        response = render(request, FEED_XSL, {"title": ""})
        response.headers["Content-Type"] = "text/xsl; charset=utf-8"
        response.headers["Cache-Control"] = "public, max-age=3600"
        return response

    return [
        Route("/feeds/", index, methods=["GET"]),
        Route(f"/feeds/{FEED_XSL}", stylesheet, methods=["GET"]),
        Route("/feeds/{path:path}", feed, methods=["GET"]),
    ]


def _index_context(publisher: Publisher, title: str) -> dict[str, object]:
    """Every feed with its three formats, for ``feeds.html`` (autodiscovery links come from
    the base template's head, H3)."""
    site = publisher.feeds.site
    rows = [
        {
            "title": ref.title(site),
            "formats": [
                (label, ref.url(site, fmt))
                for fmt, label in (("rss", "RSS"), ("atom", "Atom"), ("json", "JSON Feed"))
            ],
        }
        for ref in publisher.feeds.refs()
    ]
    return {"title": title, "feed_rows": rows}
