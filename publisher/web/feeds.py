"""Serving the feed files: content types, conditional GET, caching, gzip, WebSub links.

The builder writes the files; this only serves them, so the bytes readers get are the bytes
on disk and the ETag is a hash of them (H1). ``Last-Modified`` is the file's modification
time, which the writer sets to the feed's newest item change. ``If-None-Match`` wins over
``If-Modified-Since`` (RFC 9110 13.2.2). Gzip bodies are cached per file version and made
with a zero mtime, so they are byte-stable too. Endpoints are plain functions: Starlette
runs them in its thread pool, so file reads and a first build never stall the event loop.
"""

from __future__ import annotations

import gzip
import hashlib
import threading
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import format_datetime, parsedate_to_datetime
from pathlib import Path
from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from publisher.core import Publisher
from publisher.text import N_
from publisher.web.templating import render

CONTENT_TYPES = {
    "rss.xml": "application/rss+xml; charset=utf-8",
    "atom.xml": "application/atom+xml; charset=utf-8",
    "feed.json": "application/feed+json",
}
GZIP_MIN_BYTES = 256
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
    """File bytes, ETag and gzip body per (path, inode, mtime, size): a rename is a new key."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._entries: dict[Path, tuple[tuple[int, int, int], _Version]] = {}

    def get(self, path: Path) -> _Version | None:
        try:
            stat = path.stat()
        except (OSError, ValueError):  # missing, not a folder, a name the system refuses
            return None
        key = (stat.st_ino, stat.st_mtime_ns, stat.st_size)
        with self._lock:
            cached = self._entries.get(path)
        if cached and cached[0] == key:
            return cached[1]
        data = path.read_bytes()
        digest = hashlib.sha256(data).hexdigest()[:32]
        modified = datetime.fromtimestamp(stat.st_mtime, UTC).replace(microsecond=0)
        packed = gzip.compress(data, mtime=0) if len(data) >= GZIP_MIN_BYTES else None
        version = _Version(data, f'"{digest}"', modified, packed)
        with self._lock:
            self._entries[path] = (key, version)
        return version


def _browser_wants_page(request: Request, name: str) -> bool:
    """A browser navigating to an RSS or Atom file (its Accept names text/html) gets the
    same bytes as ``application/xml``: browsers render only that as a document, applying
    the feed's XSLT; with the feed's own type they show the source or offer a download.
    Feed readers ask for feed types (or anything) and get the feed's type."""
    return name in XSLT_FEEDS and "text/html" in request.headers.get("accept", "")


def _accepts_gzip(request: Request) -> bool:
    for part in request.headers.get("accept-encoding", "").split(","):
        name, _, params = part.strip().partition(";")
        if name.strip().lower() in ("gzip", "*"):
            q = params.strip().removeprefix("q=")
            try:
                return float(q) > 0 if params.strip().startswith("q=") else True
            except ValueError:
                return True
    return False


def _not_modified(request: Request, version: _Version, tags: tuple[str, ...]) -> bool:
    if_none_match = request.headers.get("if-none-match")
    if if_none_match is not None:
        wanted = {t.strip().removeprefix("W/") for t in if_none_match.split(",")}
        return "*" in wanted or bool(wanted & set(tags))
    since = request.headers.get("if-modified-since")
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


def routes() -> list[BaseRoute]:
    """``/feeds/`` (an HTML index with autodiscovery links) and ``/feeds/<file>``."""
    cache = _FileCache()
    built = threading.Event()

    def feed(request: Request) -> Response:
        publisher: Publisher = request.app.state.publisher
        rel = _safe_rel(request.path_params["path"])
        if rel is None:
            return Response("no such feed\n", 404, media_type="text/plain")
        path = publisher.feeds.out_dir / rel
        version = cache.get(path)
        if version is None and not built.is_set() and not publisher.feeds.built_once():
            publisher.feeds.build()  # first request on a fresh folder: build once
            built.set()
            version = cache.get(path)
        if version is None:
            return Response("no such feed\n", 404, media_type="text/plain")
        return _respond(request, publisher, rel, version)

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


def _respond(request: Request, publisher: Publisher, rel: str, version: _Version) -> Response:
    site = publisher.feeds.site
    self_url = f"{site.feeds_url}/{quote(rel)}"
    links = [f'<{self_url}>; rel="self"']
    if _is_subscription(rel):
        links += [f'<{hub}>; rel="hub"' for hub in site.hubs]
    use_gzip = version.gzipped is not None and _accepts_gzip(request)
    etag = version.etag[:-1] + '-gzip"' if use_gzip else version.etag
    headers = {
        "ETag": etag,
        "Last-Modified": format_datetime(version.modified, usegmt=True),
        "Cache-Control": f"public, max-age={publisher.settings.feeds.max_age}",
        "Vary": "Accept-Encoding, Accept",
        "Link": ", ".join(links),
    }
    if _not_modified(request, version, (version.etag, version.etag[:-1] + '-gzip"')):
        return Response(status_code=304, headers=headers)
    body = version.gzipped if use_gzip and version.gzipped is not None else version.data
    if use_gzip:
        headers["Content-Encoding"] = "gzip"
    name = rel.rsplit("/", 1)[-1]
    if _browser_wants_page(request, name):
        # The XSLT counts as a script for CSP: allow our own stylesheet, nothing else.
        headers["Content-Security-Policy"] = FEED_PAGE_CSP
        return Response(body, 200, headers=headers, media_type="application/xml; charset=utf-8")
    return Response(body, 200, headers=headers, media_type=CONTENT_TYPES[name])


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
