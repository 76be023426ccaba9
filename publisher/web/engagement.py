"""``/r/TOKEN`` (tracked links), ``/o/TOKEN.gif`` (opens, when on), ``GET /api/editions/KEY``.

The redirect answers from memory: the token is verified (HMAC), the target comes from a
cache, the click goes to an in-memory tally that a background task flushes once a second.
A token that fails verification redirects to the site's home page, never to a URL taken
from the request.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from typing import Any

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from publisher.core import Publisher
from publisher.exceptions import PublisherError
from publisher.web.api import authorise
from publisher.web.security import client_ip

log = logging.getLogger("publisher.web.engagement")

FLUSH_SECONDS = 1.0
GIF = (
    b"GIF89a\x01\x00\x01\x00\x80\x00\x00\x00\x00\x00\xff\xff\xff!\xf9\x04\x01\x00\x00\x00\x00"
    b",\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x02D\x01\x00;"
)
NO_STORE = {"cache-control": "no-store", "referrer-policy": "no-referrer"}


def _who(request: Request) -> tuple[str, str, str]:
    return request.method, request.headers.get("user-agent", ""), client_ip(request)


async def redirect(request: Request) -> Response:
    publisher: Publisher = request.app.state.publisher
    token = request.path_params["token"]
    target = publisher.admin.engagement.click(token, *_who(request))
    return RedirectResponse(target, status_code=302, headers=NO_STORE)


async def open_image(request: Request) -> Response:
    publisher: Publisher = request.app.state.publisher
    publisher.admin.engagement.opened(request.path_params["token"], *_who(request))
    return Response(GIF, media_type="image/gif", headers=NO_STORE)


async def edition_report(request: Request) -> Response:
    publisher: Publisher = request.app.state.publisher
    authorise(request, str(publisher.settings.web.api_token))
    report: dict[str, Any] = await run_in_threadpool(
        publisher.admin.engagement.report, request.path_params["key"]
    )
    return JSONResponse(report, headers={"cache-control": "no-store"})


async def _flush_forever(publisher: Publisher) -> None:
    while True:
        await asyncio.sleep(FLUSH_SECONDS)
        try:
            await run_in_threadpool(publisher.admin.engagement.flush)
        except PublisherError as exc:  # the counts stay in memory for the next try
            log.warning("cannot write click counts: %s", exc)


@contextlib.asynccontextmanager
async def flushing(app: Starlette) -> AsyncIterator[None]:
    """The app's lifespan: flush the click tally every second, and once more at exit."""
    publisher: Publisher = app.state.publisher
    task = asyncio.create_task(_flush_forever(publisher))
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        with contextlib.suppress(PublisherError):
            await run_in_threadpool(publisher.admin.engagement.flush)


def routes() -> list[BaseRoute]:
    return [
        Route("/r/{token}", redirect, methods=["GET", "HEAD"]),
        Route("/o/{token}.gif", open_image, methods=["GET", "HEAD"]),
        Route("/api/editions/{key:path}", edition_report, methods=["GET"]),
    ]
