"""``/healthz`` and the guard that keeps writes from being answered as done when they are not.

``/healthz`` reports the store as the process sees it: the SQLite file must still be the
one opened and writable, PostgreSQL must answer; otherwise 503 with the reason. Every
request that writes (any POST) first checks the same, so a deleted or read-only database
answers 503 instead of a 202 or 201 for work that would vanish.
"""

from __future__ import annotations

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route
from starlette.types import ASGIApp, Receive, Scope, Send

from publisher.core import Publisher
from publisher.exceptions import PublisherError
from publisher.web.errors import error_response, log

WRITES = frozenset({"POST", "PUT", "PATCH", "DELETE"})


async def healthz(request: Request) -> Response:
    publisher: Publisher = request.app.state.publisher
    report = await run_in_threadpool(publisher.health)
    status = 200 if report["status"] == "ok" else 503
    return JSONResponse(report, status_code=status, headers={"Cache-Control": "no-store"})


def routes() -> list[BaseRoute]:
    return [Route("/healthz", healthz, methods=["GET", "HEAD"])]


class WritableStoreMiddleware:
    """503 for a writing request while the store cannot take writes (see the docstring)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] in WRITES:
            request = Request(scope, receive)
            publisher: Publisher = request.app.state.publisher
            try:
                await run_in_threadpool(publisher.check_writable)
            except PublisherError as exc:
                log.error("refused %s %s: %s", scope["method"], scope["path"], exc)
                response = error_response(request, 503, f"temporarily unavailable: {exc}")
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)
