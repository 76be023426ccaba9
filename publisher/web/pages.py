"""The home page, article pages and the stylesheet."""

from __future__ import annotations

import html

from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import FileResponse, Response
from starlette.routing import BaseRoute, Route

from publisher.core import Publisher
from publisher.exceptions import NotFound
from publisher.types import Article, Frequency
from publisher.web.security import Csrf
from publisher.web.templating import render, static_file

HOME_ARTICLES = 10


def subscribe_form(
    request: Request,
    status: int = 200,
    error: str = "",
    values: dict[str, object] | None = None,
) -> Response:
    """The home page: what the site offers, the subscribe form, feeds, latest articles."""
    publisher: Publisher = request.app.state.publisher
    csrf: Csrf = request.app.state.csrf
    nonce = csrf.nonce(request)
    articles = publisher.articles(limit=HOME_ARTICLES)
    context = {
        "title": publisher.settings.site.title,
        "categories": publisher.categories(),
        "frequencies": [f.value for f in Frequency],
        "articles": articles,
        "csrf_token": csrf.token(nonce),
        "error": error,
        "values": values or {"email": "", "name": "", "frequency": "daily", "categories": []},
    }
    response = render(request, "home.html", context, status, headers={"Cache-Control": "no-store"})
    csrf.set_cookie(request, response, nonce)
    return response


async def home(request: Request) -> Response:
    return await run_in_threadpool(subscribe_form, request)


def _published(publisher: Publisher, slug: str) -> Article:
    try:
        article = publisher.article(slug)
    except NotFound as exc:
        raise HTTPException(404, "no such article") from exc
    if article.retracted or article.published_at > publisher.now():
        raise HTTPException(404, "no such article")
    return article


async def article_page(request: Request) -> Response:
    publisher: Publisher = request.app.state.publisher
    slug = request.path_params["slug"]
    article = await run_in_threadpool(_published, publisher, slug)
    # The lead image, as the feeds show it (R6), unless the body already shows it.
    lead_image = bool(article.image_url) and (
        f'src="{html.escape(article.image_url or "")}"' not in article.content_html
    )
    context = {"title": article.title, "article": article, "lead_image": lead_image}
    return render(request, "article.html", context)


CATEGORY_ARTICLES = 30


def _category_context(publisher: Publisher, slug: str) -> dict[str, object]:
    names = {c.slug: c.name for c in publisher.categories()}
    if slug not in names:
        raise HTTPException(404, "no such category")
    articles = publisher.articles(limit=CATEGORY_ARTICLES, category=slug)
    return {
        "title": names[slug],
        "articles": articles,
        # The category's own feeds first: readers subscribe to the section they are on (H3).
        "feeds": publisher.feeds.links(category=slug),
    }


async def category_page(request: Request) -> Response:
    """A section's newest articles; the channel link of the category's feeds (R1)."""
    publisher: Publisher = request.app.state.publisher
    slug = request.path_params["slug"]
    context = await run_in_threadpool(_category_context, publisher, slug)
    return render(request, "category.html", context)


async def stylesheet(request: Request) -> Response:
    return FileResponse(
        static_file(request, "site.css"),
        media_type="text/css",
        headers={"Cache-Control": "public, max-age=3600"},
    )


def routes() -> list[BaseRoute]:
    return [
        Route("/", home, methods=["GET", "HEAD"]),
        Route("/articles/{slug}", article_page, methods=["GET", "HEAD"]),
        Route("/categories/{slug}", category_page, methods=["GET", "HEAD"]),
        Route("/static/site.css", stylesheet, methods=["GET", "HEAD"]),
    ]
