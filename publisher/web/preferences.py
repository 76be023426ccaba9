"""The preferences page from a signed link: frequency, categories, and a way out."""

from __future__ import annotations

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from publisher.core import Publisher
from publisher.exceptions import SubscriberError
from publisher.subscribers import parse_categories, parse_frequency
from publisher.tokens import Purpose
from publisher.types import Frequency, SubscriberStatus
from publisher.web.forms import form_fields, text_field
from publisher.web.security import CSRF_FIELD, Csrf
from publisher.web.templating import local_link, render

NO_STORE = {"Cache-Control": "no-store"}


def _page(request: Request, status: int = 200, error: str = "") -> Response:
    publisher: Publisher = request.app.state.publisher
    csrf: Csrf = request.app.state.csrf
    token = request.path_params["token"]
    subscriber = publisher.subscriber_from_token(Purpose.PREFERENCES, token)
    nonce = csrf.nonce(request)
    context = {
        "title": "Your newsletter preferences",
        "subscriber": subscriber,
        "active": subscriber.status in (SubscriberStatus.PENDING, SubscriberStatus.ACTIVE),
        "pending": subscriber.status is SubscriberStatus.PENDING,
        "categories": publisher.store.articles.categories(),
        "frequencies": [f.value for f in Frequency],
        "unsubscribe_url": local_link(publisher, Purpose.UNSUBSCRIBE, subscriber),
        "saved": request.query_params.get("saved") == "1" and not error,
        "error": error,
        "csrf_token": csrf.token(nonce),
    }
    response = render(request, "preferences.html", context, status, headers=NO_STORE)
    csrf.set_cookie(request, response, nonce)
    return response


async def preferences_page(request: Request) -> Response:
    return await run_in_threadpool(_page, request)


async def save_preferences(request: Request) -> Response:
    publisher: Publisher = request.app.state.publisher
    csrf: Csrf = request.app.state.csrf
    data = await form_fields(request)
    csrf.check(request, data.get(CSRF_FIELD))
    token = request.path_params["token"]
    try:
        frequency = parse_frequency(text_field(data, "frequency", 20))
        categories = parse_categories(data.get("categories") or [])
        await run_in_threadpool(publisher.update_preferences, token, frequency, categories)
    except SubscriberError as exc:
        if exc.field not in ("frequency", "categories"):
            raise
        return await run_in_threadpool(_page, request, 400, str(exc))
    return RedirectResponse(f"/preferences/{token}?saved=1", status_code=303)


GENERIC = (
    "To choose how often you get the newsletter and which topics, use the Preferences "
    "link at the bottom of any newsletter e-mail: it opens your own settings page."
)


async def generic_page(request: Request) -> Response:
    """Where the archive copy's footer points (it carries no reader's link)."""
    context = {"title": "Your newsletter preferences", "message": GENERIC}
    return render(request, "message.html", context)


def routes() -> list[BaseRoute]:
    return [
        Route("/preferences", generic_page, methods=["GET", "HEAD"]),
        Route("/preferences/{token}", preferences_page, methods=["GET", "HEAD"]),
        Route("/preferences/{token}", save_preferences, methods=["POST"]),
    ]
