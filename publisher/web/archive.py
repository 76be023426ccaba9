"""The archive: the web copy of every sent edition (the digest's "view in browser" link).

``/archive`` lists sent editions, newest first, 30 a page. ``/archive/{key}`` (a period
key such as ``daily/2026-11-27``) is the edition as it was mailed, from
``Publisher.archive_html``: every article (uncapped), article HTML as the ingest sanitised
it, footer links to the generic unsubscribe and preferences pages instead of a reader's.
An edition that was skipped (no articles) has no page; one still being sent has (its
articles are public already, and readers open "view in browser" while the send runs).
"""

from __future__ import annotations

import time

from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import BaseRoute, Route

from publisher.core import Publisher, is_period_key, long_date
from publisher.text import N_
from publisher.types import Edition, Frequency
from publisher.web.pagecache import cached
from publisher.web.templating import gettext_for, page_language, render

PAGE_SIZE = 30
# The mailed HTML carries inline styles (and a <style> block for small screens); scripts,
# frames, forms and everything else stay forbidden.
EDITION_CSP = (
    "default-src 'none'; style-src 'unsafe-inline'; img-src https: data:; "
    "form-action 'none'; frame-ancestors 'none'; base-uri 'none'"
)


def _label(publisher: Publisher, edition: Edition, request: Request) -> dict[str, str]:
    zone = publisher.settings.zone
    local = edition.window_end.astimezone(zone)
    _ = gettext_for(request)
    kind = _("Daily digest") if edition.frequency is Frequency.DAILY else _("Weekly digest")
    return {
        "key": edition.key,
        "kind": kind,
        "date": long_date(edition.window_end, page_language(request), zone),
        "iso": local.date().isoformat(),
    }


def _page_number(request: Request) -> int:
    raw = request.query_params.get("page", "1")
    if not raw.isdigit() or not 1 <= int(raw) <= 10_000:
        raise HTTPException(400, N_("page must be a number from 1"))
    return int(raw)


def _listing(
    publisher: Publisher, page: int, request: Request
) -> list[tuple[Edition, dict[str, str]]]:
    found = publisher.sent_editions(limit=PAGE_SIZE + 1, offset=(page - 1) * PAGE_SIZE)
    return [(e, _label(publisher, e, request)) for e in found]


async def archive_index(request: Request) -> Response:
    page = _page_number(request)
    return await cached(request, f"archive:{page}", lambda: _archive_index(request, page))


def _archive_index(request: Request, page: int) -> Response:
    publisher: Publisher = request.app.state.publisher
    found = _listing(publisher, page, request)
    context = {
        "title": N_("Archive"),
        "editions": [
            {**label, "count": len(edition.article_ids)} for edition, label in found[:PAGE_SIZE]
        ],
        "page": page,
        "newer": page - 1 if page > 1 else None,
        "older": page + 1 if len(found) > PAGE_SIZE else None,
    }
    return render(request, "archive.html", context)


def _edition_html(publisher: Publisher, key: str) -> str:
    return publisher.archive_html(key)  # NotFound (also for a skipped edition) becomes 404


class _Cache:
    """The last few rendered copies, for a few minutes: a digest's "view in browser" link
    goes to every reader at once, and rendering (premailer) costs tens of milliseconds."""

    def __init__(self, size: int = 16, seconds: float = 300.0) -> None:
        self.size = size
        self.seconds = seconds
        self._items: dict[str, tuple[float, str]] = {}

    def get(self, key: str) -> str | None:
        found = self._items.get(key)
        if found is None or found[0] < time.monotonic():
            return None
        return found[1]

    def put(self, key: str, html: str) -> None:
        if len(self._items) >= self.size:
            self._items.pop(next(iter(self._items)))
        self._items[key] = (time.monotonic() + self.seconds, html)


async def edition_page(request: Request) -> Response:
    """The edition as mailed (the digest's own HTML, every article, no reader's links)."""
    publisher: Publisher = request.app.state.publisher
    key = request.path_params["key"]
    if not is_period_key(key):
        raise HTTPException(404, N_("no such edition"))
    cache: _Cache = request.app.state.archive_cache
    html = cache.get(key)
    if html is None:
        html = await run_in_threadpool(_edition_html, publisher, key)
        cache.put(key, html)
    headers = {"Content-Security-Policy": EDITION_CSP, "Cache-Control": "public, max-age=300"}
    return HTMLResponse(html, headers=headers)


def make_cache() -> _Cache:
    return _Cache()


def routes() -> list[BaseRoute]:
    return [
        Route("/archive", archive_index, methods=["GET", "HEAD"]),
        Route("/archive/{key:path}", edition_page, methods=["GET", "HEAD"]),
    ]
