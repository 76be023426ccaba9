"""The home page, article pages and the stylesheet."""

from __future__ import annotations

import html
import json

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import FileResponse, Response
from starlette.routing import BaseRoute, Route

from publisher.config import Settings
from publisher.core import Publisher, language_names
from publisher.exceptions import NotFound
from publisher.text import N_, truncate_words
from publisher.types import Article, Frequency
from publisher.web.pagecache import PLACEHOLDER, cached
from publisher.web.security import SUBSCRIBE_FORM_CSP, Csrf
from publisher.web.templating import render, static_file

HOME_ARTICLES = 10


def subscribe_form(
    request: Request,
    status: int = 200,
    error: str = "",
    values: dict[str, object] | None = None,
) -> Response:
    """The home page again, with what the reader sent and why it was refused."""
    csrf: Csrf = request.app.state.csrf
    nonce = csrf.nonce(request)
    response = _form_page(request, csrf.token(nonce), status, error, values, "no-store")
    csrf.set_cookie(request, response, nonce)
    return response


def _form_page(
    request: Request,
    csrf_token: str,
    status: int = 200,
    error: str = "",
    values: dict[str, object] | None = None,
    cache_control: str = "private, no-cache",
) -> Response:
    """The home page: what the site offers, the subscribe form, feeds, latest articles."""
    publisher: Publisher = request.app.state.publisher
    articles = publisher.articles(limit=HOME_ARTICLES)
    context = {
        "title": publisher.settings.site.title,
        "categories": publisher.categories(),
        "frequencies": [f.value for f in Frequency],
        "articles": articles,
        "csrf_token": csrf_token,
        "error": error,
        "values": values
        or {"email": "", "name": "", "frequency": "daily", "categories": [], "language": ""},
        "languages": language_names(),
    }
    headers = {"Cache-Control": cache_control, "Content-Security-Policy": SUBSCRIBE_FORM_CSP}
    return render(request, "home.html", context, status, headers=headers)


async def home(request: Request) -> Response:
    """The home page from the page cache, its CSRF token filled in for this reader. The
    ETag names the reader's CSRF cookie too: a 304 reuses a copy whose token matches it
    (a token is good as long as its cookie, :data:`publisher.web.security.CSRF_MAX_AGE`)."""
    return await cached(request, "home", lambda: _form_page(request, PLACEHOLDER))


def _published(publisher: Publisher, slug: str) -> Article:
    try:
        article = publisher.article(slug)
    except NotFound as exc:
        raise HTTPException(404, N_("no such article")) from exc
    if article.retracted or article.published_at > publisher.now():
        raise HTTPException(404, N_("no such article"))
    return article


async def article_page(request: Request) -> Response:
    slug = request.path_params["slug"]
    return await cached(request, f"article:{slug}", lambda: _article_page(request, slug))


def _article_page(request: Request, slug: str) -> Response:
    publisher: Publisher = request.app.state.publisher
    article = _published(publisher, slug)
    # The lead image, as the feeds show it (R6), unless the body already shows it.
    lead_image = bool(article.image_url) and (
        f'src="{html.escape(article.image_url or "")}"' not in article.content_html
    )
    settings = publisher.settings
    description = truncate_words(article.summary, DESCRIPTION_CHARS) or settings.site.description
    context = {
        "title": article.title,
        "article": article,
        "lead_image": lead_image,
        "description": description,
        "canonical": canonical_url(settings, article),
        "json_ld": json_ld(settings, article, description),
        "social_tags": social_tags(settings, article, description),
    }
    return render(request, "article.html", context)


DESCRIPTION_CHARS = 200  # search engines show about this much of a meta description


def canonical_url(settings: Settings, article: Article) -> str:
    """The article's own page on this site: the one address search engines should index."""
    return f"{settings.site.url.rstrip('/')}/articles/{article.slug}"


def social_tags(
    settings: Settings, article: Article, description: str
) -> list[tuple[str, str, str]]:
    """(attribute, name, content) of the Open Graph and Twitter card ``<meta>`` tags."""
    tags = [
        ("property", "og:type", "article"),
        ("property", "og:site_name", settings.site.title),
        ("property", "og:title", article.title),
        ("property", "og:description", description),
        ("property", "og:url", canonical_url(settings, article)),
        ("property", "og:locale", settings.site.language.replace("-", "_")),
        ("property", "article:published_time", article.published_at.isoformat()),
        ("property", "article:modified_time", article.updated_at.isoformat()),
        ("name", "twitter:card", "summary_large_image" if article.image_url else "summary"),
        ("name", "twitter:title", article.title),
        ("name", "twitter:description", description),
    ]
    if article.image_url:
        alt = article.image_alt or ""
        tags += [
            ("property", "og:image", article.image_url),
            ("property", "og:image:alt", alt),
            ("name", "twitter:image", article.image_url),
            ("name", "twitter:image:alt", alt),
        ]
    return tags


def json_ld(settings: Settings, article: Article, description: str) -> str:
    """A schema.org ``NewsArticle`` for the page's head, safe inside ``<script>``.

    ``<``, ``>`` and ``&`` are written as JSON escapes, so no title can close the script
    element; the template marks the result safe for that reason only.
    """
    data: dict[str, object] = {
        "@context": "https://schema.org",
        "@type": "NewsArticle",
        "headline": article.title[:110],
        "description": description,
        "datePublished": article.published_at.isoformat(),
        "dateModified": article.updated_at.isoformat(),
        "mainEntityOfPage": canonical_url(settings, article),
        "inLanguage": settings.site.language,
        "publisher": {"@type": "Organization", "name": settings.site.title},
    }
    if article.authors:
        data["author"] = [{"@type": "Person", "name": name} for name in article.authors]
    if article.image_url:
        data["image"] = [article.image_url]
    text = json.dumps(data, ensure_ascii=False, separators=(",", ":"))
    for raw, escaped in (("&", "\\u0026"), ("<", "\\u003c"), (">", "\\u003e")):
        text = text.replace(raw, escaped)
    return text


CATEGORY_ARTICLES = 30


def _category_context(publisher: Publisher, slug: str) -> dict[str, object]:
    names = {c.slug: c.name for c in publisher.categories()}
    if slug not in names:
        raise HTTPException(404, N_("no such category"))
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

    def page() -> Response:
        return render(request, "category.html", _category_context(publisher, slug))

    return await cached(request, f"category:{slug}", page)


async def stylesheet(request: Request) -> Response:
    return FileResponse(
        static_file(request, "site.css"),
        media_type="text/css",
        headers={"Cache-Control": "public, max-age=3600"},
    )


async def timezone_script(request: Request) -> Response:
    """Fills the forms' hidden ``timezone`` field with the browser's IANA zone name."""
    return FileResponse(
        static_file(request, "timezone.js"),
        media_type="text/javascript",
        headers={"Cache-Control": "public, max-age=3600"},
    )


def routes() -> list[BaseRoute]:
    return [
        Route("/", home, methods=["GET", "HEAD"]),
        Route("/articles/{slug}", article_page, methods=["GET", "HEAD"]),
        Route("/categories/{slug}", category_page, methods=["GET", "HEAD"]),
        Route("/static/site.css", stylesheet, methods=["GET", "HEAD"]),
        Route("/static/timezone.js", timezone_script, methods=["GET", "HEAD"]),
    ]
