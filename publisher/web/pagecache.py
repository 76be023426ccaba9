"""Rendered public pages kept until the content changes, answered conditionally.

The home, article, category and archive pages are the same for every reader of a language
until an article or an edition changes, so each is rendered once per content version and
language and then served as bytes. The content version is one cheap query (one row that
the database's triggers move with every such write, :mod:`publisher.store.content_version`,
read through :meth:`publisher.core.ops.Operations.content_version`) asked at most every
:data:`CHECK_SECONDS` by each process, on a thread of its own: an article added by another
process (the CLI, a second server) shows within that bound (plus the time the query
takes: requests are not held while it runs), and a scheduled article shows when its time
comes. A write by this process (the HTTP API, the admin) is seen at once: it counts
``ops.changes`` and the next request waits for the store's answer.

Every cached page carries an ``ETag`` (a hash of its bytes) and ``Cache-Control:
no-cache``: a browser revalidates each time and gets a bodiless 304 while the page is
unchanged. A page that holds a per-request value (the subscribe form's CSRF token) is
cached with :data:`PLACEHOLDER` in its place and filled per request; its ETag also names
the reader's CSRF cookie, so a 304 only ever reuses a copy whose token still matches.
Pages are keyed by language, so one language's copy is never served for another.

``publisher serve`` answers a page it holds in front of Starlette (:class:`PageDoor`, as
feed files are): the route that rendered it recorded the request target (path and query)
that reaches it, so a later ``GET`` of the same target at the same content version is
answered from the page's bytes, its token spliced in, with no routing or middleware. Only
targets a cached route answered are recorded: a reader's own pages (preferences, the
admin) never are, so they are never served from this shared cache.
"""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from publisher.core import Publisher
from publisher.web.answers import Answer, AnswerResponse, send_answer
from publisher.web.security import SECURITY_HEADERS, Csrf
from publisher.web.templating import page_language

CHECK_SECONDS = 0.2
MAX_PAGES = 512
MAX_TARGETS = 4096
PLACEHOLDER = "csrf-placeholder-9f1c0b7e"
_MARKER = PLACEHOLDER.encode()
Version = tuple[object, ...]


@dataclass(frozen=True)
class Page:
    """One rendered page: its bytes, the headers every answer carries (the security
    headers too: :class:`PageDoor` answers before the middleware that adds them), its tag,
    and whether it holds a per-reader value to fill in."""

    body: bytes
    headers: tuple[tuple[bytes, bytes], ...]
    tag: str
    parts: tuple[bytes, ...]  # the body split at the placeholder: one part when none

    @property
    def per_reader(self) -> bool:
        return len(self.parts) > 1

    @classmethod
    def of(cls, response: Response) -> Page:
        body = bytes(response.body)
        own = {
            k: v for k, v in response.headers.items() if k not in ("content-length", "set-cookie")
        }
        own.setdefault("cache-control", "no-cache")
        merged = {**SECURITY_HEADERS, **own}  # the page's own (its CSP) win, as in the app
        headers = tuple((k.encode("latin-1"), v.encode("latin-1")) for k, v in merged.items())
        tag = hashlib.sha256(body).hexdigest()[:24]
        return cls(body, headers, tag, tuple(body.split(_MARKER)))

    def answer(self, request: Request, csrf: Csrf) -> Answer:
        """200 with the page (the reader's CSRF token filled in), or 304 when the
        request's ``If-None-Match`` names this reader's copy."""
        headers = list(self.headers)
        if self.per_reader:
            nonce = csrf.nonce(request)
            reader = hashlib.sha256(nonce.encode()).hexdigest()[:16]
            etag = f'"{self.tag}-{reader}"'
            cookie = csrf.cookie(request, nonce)
            if cookie is not None:
                headers.append((b"set-cookie", cookie))
        else:
            etag = f'"{self.tag}"'
        headers.append((b"etag", etag.encode()))
        wanted = request.headers.get("if-none-match")
        if wanted is not None and etag in {t.strip() for t in wanted.split(",")}:
            return Answer(304, headers, b"")
        body = csrf.token(nonce).encode().join(self.parts) if self.per_reader else self.body
        headers.append((b"content-length", str(len(body)).encode()))
        return Answer(200, headers, body)


class PageCache:
    """Pages per (key, language) at the store's current content version, and the request
    targets that reach them."""

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
        self._checked = self._asked_at = float("-inf")
        self._asking: asyncio.Future[Version] | None = None
        # One thread of its own (made on first use): the question never queues behind
        # renderings.
        self._thread: ThreadPoolExecutor | None = None
        self._pages: dict[tuple[str, str], Page] = {}
        self._pages_version: Version | None = None
        self._targets: dict[tuple[str, bytes], tuple[str, object]] = {}

    def close(self) -> None:
        """End the version thread (the app's shutdown; a later question makes a new one)."""
        if self._thread is not None:
            self._thread.shutdown(wait=False, cancel_futures=True)
            self._thread = None

    def current(self) -> Version | None:
        """The version to serve pages at without waiting: the one known, asked again in
        the background when older than ``seconds``. None when there is none yet or this
        process changed articles since it was asked (then :meth:`version` waits)."""
        known = self._version
        if known is None or self._local() != self._seen_local:
            return None
        if self._asking is None and time.monotonic() - self._checked >= self.seconds:
            self._ask_now()
        return known

    async def version(self) -> Version:
        """The content version, asked of the store at most every ``seconds``, one question
        in flight at a time. While it is asked, requests get the version known so far (a
        store that is slow to answer never holds the pages), unless this process changed
        articles since: then they wait for an answer asked after the change."""
        while True:
            known = self.current()
            if known is not None:
                return known
            if self._asking is None:
                self._ask_now()
            asking = self._asking
            assert asking is not None
            try:
                await asyncio.shield(asking)
            finally:
                self._settle(asking)  # its callback may not have run yet

    def _ask_now(self) -> None:
        self._seen_local = self._local()
        self._asked_at = time.monotonic()
        if self._thread is None:
            self._thread = ThreadPoolExecutor(1, thread_name_prefix="page-version")
        asking = asyncio.get_running_loop().run_in_executor(self._thread, self._ask)
        self._asking = asking
        asking.add_done_callback(self._settle)

    def _settle(self, asking: asyncio.Future[Version]) -> None:
        """Take the answer of ``asking`` (once: from its callback or its waiter)."""
        if self._asking is not asking or not asking.done():
            return
        self._asking = None
        if not asking.cancelled() and asking.exception() is None:
            self._version = asking.result()
            self._checked = self._asked_at  # the bound counts from before the question

    async def page(
        self, request: Request, key: str, render: Callable[[], Response]
    ) -> Page | Response:
        """The cached page, or a fresh rendering (cached when it is a 200)."""
        version = await self.version()
        if version != self._pages_version:
            self._pages.clear()  # only the current version's pages are kept
            self._pages_version = version
        full_key = (key, page_language(request))
        found = self._pages.get(full_key)
        if found is None:
            response = await run_in_threadpool(render)
            if response.status_code != 200:
                return response
            found = Page.of(response)
            if self._pages_version == version:  # else the content changed meanwhile
                if len(self._pages) >= MAX_PAGES:
                    self._pages.pop(next(iter(self._pages)))
                self._pages[full_key] = found
        target = (request.scope["path"], request.scope["query_string"])
        if target not in self._targets:
            if len(self._targets) >= MAX_TARGETS:
                self._targets.pop(next(iter(self._targets)))
            self._targets[target] = (key, request.scope.get("route"))
        return found

    def hit(self, request: Request) -> tuple[Page, object] | None:
        """The page (and the route it came from) for a request whose target a cached
        route answered, when it is held at the current version; None otherwise."""
        target = self._targets.get((request.scope["path"], request.scope["query_string"]))
        if target is None:
            return None
        version = self.current()
        if version is None or version != self._pages_version:
            return None
        found = self._pages.get((target[0], page_language(request)))
        return None if found is None else (found, target[1])


def make_cache(publisher: Publisher) -> PageCache:
    ops = publisher.ops
    return PageCache(ops.content_version, lambda: ops.changes)


async def cached(request: Request, key: str, render: Callable[[], Response]) -> Response:
    """A public page from the cache (see the module docstring)."""
    cache: PageCache = request.app.state.pages
    found = await cache.page(request, key, render)
    if isinstance(found, Response):
        return found
    return AnswerResponse(found.answer(request, request.app.state.csrf))


class PageDoor:
    """Answers ``GET``/``HEAD`` of a page :class:`PageCache` holds before Starlette's
    routing and middleware (see the module docstring); anything else goes on to ``app``,
    and so does a request with a body (the app's limits answer it)."""

    def __init__(self, app: Starlette) -> None:
        self.app = app
        self.cache: PageCache = app.state.pages
        self.csrf: Csrf = app.state.csrf

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] in ("GET", "HEAD") and _bodiless(scope):
            scope["app"] = self.app  # as Starlette sets it: the language and the CSRF read it
            request = Request(scope)
            found = self.cache.hit(request)
            if found is not None:
                page, route = found
                if route is not None:
                    scope["route"] = route  # for the metrics' route label
                await send_answer(send, page.answer(request, self.csrf))
                return
        await self.app(scope, receive, send)


def _bodiless(scope: Scope) -> bool:
    for name, value in scope["headers"]:
        if (name == b"content-length" and value != b"0") or name == b"transfer-encoding":
            return False
    return True
