"""Assemble the Starlette application from the route modules of each resource."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.middleware import Middleware
from starlette.routing import BaseRoute
from starlette.types import ASGIApp

from publisher.core import Publisher, template_dirs
from publisher.exceptions import ConfigError
from publisher.web import (
    admin,
    api,
    archive,
    engagement,
    feeds,
    health,
    pagecache,
    pages,
    preferences,
    subscribe,
    unsubscribe,
    webhooks,
)
from publisher.web.errors import HANDLERS, unexpected_error
from publisher.web.health import WritableStoreMiddleware
from publisher.web.jobs import Jobs
from publisher.web.security import (
    BodyLimitMiddleware,
    Csrf,
    RateLimiter,
    SecurityHeadersMiddleware,
    SiteRedirects,
    TrustedProxies,
)
from publisher.web.templating import PageTemplates


def create_app(publisher: Publisher) -> Starlette:
    """The whole web app for one Publisher. Route modules add themselves to ``routes``."""
    settings = publisher.settings
    if not settings.secret_key:
        raise ConfigError(["secret_key is not set: run `publisher init` to write one to .env"])
    routes: list[BaseRoute] = []
    routes += health.routes()
    feed_answers = feeds.FeedAnswers(publisher)
    routes += feeds.routes(feed_answers)
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
        Middleware(TrustedProxies, trusted=settings.web.trusted_proxies),
        Middleware(SecurityHeadersMiddleware),
        Middleware(SiteRedirects, site_url=settings.site.url),
        Middleware(BodyLimitMiddleware, api_limit=settings.web.max_body_bytes),
        Middleware(WritableStoreMiddleware),
    ]
    handlers = {**HANDLERS, Exception: unexpected_error}
    jobs = Jobs()

    @asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[None]:
        async with engagement.flushing(_app):
            yield
        await run_in_threadpool(jobs.close)
        _app.state.pages.close()

    app = Starlette(
        routes=routes, middleware=middleware, exception_handlers=handlers, lifespan=lifespan
    )
    app.state.publisher = publisher
    app.state.template_dirs = template_dirs(settings, "web")
    app.state.templates = PageTemplates(app.state.template_dirs)
    app.state.jobs = jobs
    app.state.csrf = Csrf(settings.secret_key)
    app.state.subscribe_limiter = RateLimiter(settings.web.subscribe_per_minute)
    app.state.archive_cache = archive.make_cache()
    app.state.pages = pagecache.make_cache(publisher)
    app.state.feed_answers = feed_answers
    app.state.link_limiter = RateLimiter(1, window=600.0)
    app.state.login_limiter = RateLimiter(settings.admin.login_per_minute)
    return app


def front_door(app: Starlette) -> ASGIApp:
    """What ``publisher serve`` runs: ``GET /feeds/<file>`` and the pages the page cache
    holds answered before the Starlette app (:class:`publisher.web.feeds.FeedFiles`,
    :class:`publisher.web.pagecache.PageDoor`: its routing and middleware cost more than
    the answer), behind the same :class:`TrustedProxies` so the access log names the reader
    behind a proxy. Everything else goes on to ``app``, which is also what tests drive."""
    trusted = app.state.publisher.settings.web.trusted_proxies
    pages = pagecache.PageDoor(app)
    return TrustedProxies(feeds.FeedFiles(pages, app.state.feed_answers), trusted=trusted)
