"""Assemble the Starlette application from the route modules of each resource."""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from publisher.core import Publisher
from publisher.web import feeds


def _health_routes() -> list[BaseRoute]:
    async def healthz(request: Request) -> Response:
        publisher: Publisher = request.app.state.publisher
        publisher.store.ping()
        return JSONResponse({"status": "ok"})

    return [Route("/healthz", healthz)]


def create_app(publisher: Publisher) -> Starlette:
    """The whole web app for one Publisher. Route modules add themselves to ``routes``."""
    routes: list[BaseRoute] = []
    routes += _health_routes()
    routes += feeds.routes()
    app = Starlette(routes=routes)
    app.state.publisher = publisher
    return app
