"""Assemble the Starlette application from the route modules of each resource."""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from publisher.core import Publisher, template_dirs
from publisher.exceptions import ConfigError
from publisher.web import (
    admin,
    api,
    archive,
    engagement,
    feeds,
    pages,
    preferences,
    subscribe,
    unsubscribe,
    webhooks,
)
from publisher.web.errors import HANDLERS, unexpected_error
from publisher.web.security import (
    BodyLimitMiddleware,
    Csrf,
    RateLimiter,
    SecurityHeadersMiddleware,
)
from publisher.web.templating import make_environment


def _health_routes() -> list[BaseRoute]:
    async def healthz(request: Request) -> Response:
        publisher: Publisher = request.app.state.publisher
        report = await run_in_threadpool(publisher.health)
        return JSONResponse(report, status_code=200 if report["status"] == "ok" else 503)

    return [Route("/healthz", healthz)]


def create_app(publisher: Publisher) -> Starlette:
    """The whole web app for one Publisher. Route modules add themselves to ``routes``."""
    settings = publisher.settings
    if not settings.secret_key:
        raise ConfigError(["secret_key is not set: run `publisher init` to write one to .env"])
    routes: list[BaseRoute] = []
    routes += _health_routes()
    routes += feeds.routes()
    routes += pages.routes()
    routes += subscribe.routes()
    routes += unsubscribe.routes()
    routes += preferences.routes()
    routes += api.routes()
    routes += archive.routes()
    routes += webhooks.routes()
    routes += engagement.routes()
    routes += admin.routes()
    middleware = [
        Middleware(SecurityHeadersMiddleware),
        Middleware(BodyLimitMiddleware, api_limit=settings.web.max_body_bytes),
    ]
    handlers = {**HANDLERS, Exception: unexpected_error}
    app = Starlette(
        routes=routes,
        middleware=middleware,
        exception_handlers=handlers,
        lifespan=engagement.flushing,
    )
    app.state.publisher = publisher
    app.state.template_dirs = template_dirs(settings, "web")
    app.state.templates = make_environment(app.state.template_dirs)
    app.state.csrf = Csrf(settings.secret_key)
    app.state.subscribe_limiter = RateLimiter(settings.web.subscribe_per_minute)
    app.state.archive_cache = archive.make_cache()
    app.state.link_limiter = RateLimiter(1, window=600.0)
    app.state.login_limiter = RateLimiter(settings.admin.login_per_minute)
    return app
