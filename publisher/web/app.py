"""Assemble the Starlette application from the route modules of each resource."""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from publisher.core import Publisher


def _health_routes() -> list[BaseRoute]:
    async def healthz(request: Request) -> Response:
        publisher: Publisher = request.app.state.publisher
        report = await run_in_threadpool(publisher.health)
        return JSONResponse(report, status_code=200 if report["status"] == "ok" else 503)

    return [Route("/healthz", healthz)]


def create_app(publisher: Publisher) -> Starlette:
    """The whole web app for one Publisher. Route modules add themselves to ``routes``."""
    routes: list[BaseRoute] = []
    routes += _health_routes()
    app = Starlette(routes=routes)
    app.state.publisher = publisher
    return app
