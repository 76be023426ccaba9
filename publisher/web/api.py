"""``POST /api/articles``: the newsroom's CMS publishes or updates articles.

Authorised by a bearer token (``web.api_token``), compared in constant time; with no token
configured the API is off (503). The body is JSON, one article object or a list, parsed
and sanitised by the same ingest code as ``publisher articles add``. A list is checked
whole before anything is stored, so a bad item stores nothing.
"""

from __future__ import annotations

import hmac
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from publisher.core import Publisher
from publisher.types import Article, UpsertOutcome, UpsertResult
from publisher.web.forms import is_json


def authorise(request: Request, token: str) -> None:
    if not token:
        raise HTTPException(503, "the publishing API is disabled: set web.api_token")
    scheme, _, given = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not hmac.compare_digest(
        given.strip().encode("utf-8"), token.encode("utf-8")
    ):
        raise HTTPException(401, "missing or wrong bearer token", {"WWW-Authenticate": "Bearer"})


def article_json(article: Article) -> dict[str, Any]:
    return {
        "id": article.id,
        "guid": article.guid,
        "slug": article.slug,
        "url": article.url,
        "title": article.title,
        "summary": article.summary,
        "content_html": article.content_html,
        "published_at": article.published_at.isoformat(),
        "updated_at": article.updated_at.isoformat(),
        "authors": list(article.authors),
        "categories": [{"slug": c.slug, "name": c.name} for c in article.categories],
        "image_url": article.image_url,
        "image_alt": article.image_alt,
        "retracted": article.retracted,
    }


def _store(publisher: Publisher, body: bytes) -> tuple[list[UpsertResult], bool]:
    single = body.lstrip()[:1] == b"{"
    return publisher.add_payload("<api>", body, "json"), single


async def publish(request: Request) -> Response:
    publisher: Publisher = request.app.state.publisher
    authorise(request, str(publisher.settings.web.api_token))
    if not is_json(request):
        raise HTTPException(415, "send the article as application/json")
    body = await request.body()
    results, single = await run_in_threadpool(_store, publisher, body)
    status = 201 if any(r.outcome is UpsertOutcome.CREATED for r in results) else 200
    data = [{"outcome": r.outcome.value, "article": article_json(r.article)} for r in results]
    return JSONResponse(data[0] if single else data, status_code=status)


def routes() -> list[BaseRoute]:
    return [Route("/api/articles", publish, methods=["POST"])]
