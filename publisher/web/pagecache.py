"""Rendered public pages kept until the content changes, answered conditionally.

The home, article, category and archive pages are the same for every reader of a language
until an article or an edition changes, so each is rendered once per content version and
language and then served as bytes. The content version is one cheap query
(:meth:`publisher.core.ops.Operations.content_version`) asked at most every
:data:`CHECK_SECONDS` by each process, so an article added by another process (the CLI, a
second server) shows within that bound (plus the time the query takes: requests are not
held while it runs), and a scheduled article shows when its time comes.
A write by this process (the HTTP API, the admin) is seen at once: it counts
``ops.changes`` and the next request asks again.

Every cached page carries an ``ETag`` (a hash of its bytes) and ``Cache-Control:
no-cache``: a browser revalidates each time and gets a bodiless 304 while the page is
unchanged. A page that holds a per-request value (the subscribe form's CSRF token) is
cached with :data:`PLACEHOLDER` in its place and filled per request; its ETag also names
the reader's CSRF cookie, so a 304 only ever reuses a copy whose token still matches.
Pages are keyed by language, so one language's copy is never served for another.
"""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections.abc import Callable
from dataclasses import dataclass

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from publisher.core import Publisher
from publisher.web.templating import page_language

CHECK_SECONDS = 0.5
MAX_PAGES = 512
PLACEHOLDER = "csrf-placeholder-9f1c0b7e"
Version = tuple[object, ...]


@dataclass(frozen=True)
class Page:
    """One rendered page: its bytes, the headers it was rendered with and its tag."""

    body: bytes
    headers: dict[str, str]
    media_type: str | None
    tag: str

    @classmethod
    def of(cls, response: Response) -> Page:
        body = bytes(response.body)
        headers = {
            k: v for k, v in response.headers.items() if k not in ("content-length", "set-cookie")
        }
        headers.setdefault("cache-control", "no-cache")
        return cls(body, headers, response.media_type, hashlib.sha256(body).hexdigest()[:24])

    def respond(
        self, request: Request, etag: str, fill: Callable[[bytes], bytes] | None = None
    ) -> Response:
        """200 with the page (``fill`` puts in the per-request values), or 304 when the
        request's ``If-None-Match`` names ``etag``."""
        headers = {**self.headers, "etag": etag}
        wanted = request.headers.get("if-none-match")
        if wanted is not None and etag in {t.strip() for t in wanted.split(",")}:
            return Response(status_code=304, headers=headers)
        return Response(self.body if fill is None else fill(self.body), headers=headers)


class PageCache:
    """Pages per (key, language), valid while the store's content version is unchanged."""

    def __init__(
        self,
        version: Callable[[], Version],
        local: Callable[[], int] = lambda: 0,
        seconds: float = CHECK_SECONDS,
    ) -> None:
        self._ask = version
        self._local = local
        self._seen_local = local()
        self.seconds = seconds
        self._version: Version | None = None
        self._checked = float("-inf")
        self._asking: asyncio.Future[Version] | None = None
        self._pages: dict[tuple[str, str], tuple[Version, Page]] = {}

    async def version(self) -> Version:
        """The content version, asked of the store at most every ``seconds``, one question
        in flight at a time. While it is asked, requests get the version known so far
        (a store that is slow to answer never holds the pages), unless this process
        changed articles since: then they wait for the answer."""
        local = self._local()
        known = self._version
        if known is not None and local == self._seen_local:
            if time.monotonic() - self._checked < self.seconds:
                return known
            if self._asking is None:
                self._ask_now(local)
            return known
        if self._asking is None:
            self._ask_now(local)
        assert self._asking is not None
        return await asyncio.shield(self._asking)

    def _ask_now(self, local: int) -> None:
        started = time.monotonic()
        self._seen_local = local
        asking = asyncio.ensure_future(run_in_threadpool(self._ask))
        self._asking = asking

        def done(future: asyncio.Future[Version]) -> None:
            self._asking = None
            if not future.cancelled() and future.exception() is None:
                self._version = future.result()
                self._checked = started  # the bound counts from before the question

        asking.add_done_callback(done)

    async def page(
        self, request: Request, key: str, render: Callable[[], Response]
    ) -> Page | Response:
        """The cached page, or a fresh rendering (cached when it is a 200)."""
        version = await self.version()
        full_key = (key, page_language(request))
        found = self._pages.get(full_key)
        if found is not None and found[0] == version:
            return found[1]
        response = await run_in_threadpool(render)
        if response.status_code != 200:
            return response
        page = Page.of(response)
        if len(self._pages) >= MAX_PAGES:
            self._pages.pop(next(iter(self._pages)))
        self._pages[full_key] = (version, page)
        return page


def make_cache(publisher: Publisher) -> PageCache:
    ops = publisher.ops
    return PageCache(ops.content_version, lambda: ops.changes)


async def cached(request: Request, key: str, render: Callable[[], Response]) -> Response:
    """A page without per-request values, from the cache (see the module docstring)."""
    cache: PageCache = request.app.state.pages
    found = await cache.page(request, key, render)
    if isinstance(found, Response):
        return found
    return found.respond(request, f'"{found.tag}"')
