"""The preferences page from a signed link: frequency, categories, and a way out."""

from __future__ import annotations

import logging

from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from publisher.core import (
    Publisher,
    Purpose,
    language_names,
    normalise_address,
    parse_categories,
    parse_frequency,
    parse_language,
    parse_timezone,
)
from publisher.exceptions import SubscriberError
from publisher.text import N_
from publisher.types import Frequency, SubscriberStatus
from publisher.web.forms import form_fields, text_field
from publisher.web.jobs import Jobs
from publisher.web.security import CSRF_FIELD, Csrf, RateLimiter, client_ip
from publisher.web.templating import local_link, reader_language, render

NO_STORE = {"Cache-Control": "no-store"}
log = logging.getLogger(__name__)


def _page(request: Request, status: int = 200, error: str = "") -> Response:
    publisher: Publisher = request.app.state.publisher
    csrf: Csrf = request.app.state.csrf
    token = request.path_params["token"]
    subscriber = publisher.subscriber_from_token(Purpose.PREFERENCES, token)
    nonce = csrf.nonce(request)
    context = {
        "title": N_("Your newsletter preferences"),
        "subscriber": subscriber,
        "active": subscriber.status in (SubscriberStatus.PENDING, SubscriberStatus.ACTIVE),
        "pending": subscriber.status is SubscriberStatus.PENDING,
        "categories": publisher.categories(),
        "frequencies": [f.value for f in Frequency],
        "unsubscribe_url": local_link(publisher, Purpose.UNSUBSCRIBE, subscriber),
        "saved": request.query_params.get("saved") == "1" and not error,
        "error": error,
        "csrf_token": csrf.token(nonce),
        "languages": language_names(),
        **reader_language(subscriber),
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
        language = parse_language(text_field(data, "language", 35))
        timezone = parse_timezone(text_field(data, "timezone", 64))
        await run_in_threadpool(
            publisher.update_preferences, token, frequency, categories, language, timezone
        )
    except SubscriberError as exc:
        if exc.field not in ("frequency", "categories", "language", "timezone"):
            raise
        return await run_in_threadpool(_page, request, 400, exc.text)
    return RedirectResponse(f"/preferences/{token}?saved=1", status_code=303)


LINK_SENT = N_(
    "If this address receives our newsletter, an e-mail with the links to its settings is "
    "on its way."
)


def ask_page(
    request: Request, status: int = 200, error: str = "", email: str = "", lead: str = ""
) -> Response:
    """The form that mails a reader fresh settings and unsubscribe links (``lead``: why)."""
    csrf: Csrf = request.app.state.csrf
    nonce = csrf.nonce(request)
    context = {
        "title": N_("Your newsletter preferences"),
        "csrf_token": csrf.token(nonce),
        "error": error,
        "email": email,
        "lead": lead,
    }
    response = render(request, "ask_link.html", context, status, headers=NO_STORE)
    csrf.set_cookie(request, response, nonce)
    return response


async def generic_page(request: Request) -> Response:
    """Where the archive copy's footer points: how to reach your own settings page, and a
    form that mails the links to a subscribed address."""
    return ask_page(request)


async def ask_for_link(request: Request) -> Response:
    """Same answer whether or not the address subscribes; rate limited like subscribing,
    and at most one mail per address per ten minutes."""
    publisher: Publisher = request.app.state.publisher
    limiter: RateLimiter = request.app.state.subscribe_limiter
    if limiter.hit(client_ip(request)) is not None:
        raise HTTPException(
            429, N_("too many requests: try again in a minute"), {"Retry-After": "60"}
        )
    data = await form_fields(request)
    csrf: Csrf = request.app.state.csrf
    csrf.check(request, data.get(CSRF_FIELD))
    raw = text_field(data, "email", 400)
    try:
        email = normalise_address(raw)
    except SubscriberError as exc:
        return ask_page(request, 400, exc.text, raw)
    page = render(request, "message.html", {"title": N_("Check your inbox"), "message": LINK_SENT})
    per_address: RateLimiter = request.app.state.link_limiter
    if per_address.hit(email) is None:
        jobs: Jobs = request.app.state.jobs
        jobs.submit(lambda: publisher.send_settings_link(email), "mailing a settings link")
    return page


def routes() -> list[BaseRoute]:
    return [
        Route("/preferences", generic_page, methods=["GET", "HEAD"]),
        Route("/preferences", ask_for_link, methods=["POST"]),
        Route("/preferences/{token}", preferences_page, methods=["GET", "HEAD"]),
        Route("/preferences/{token}", save_preferences, methods=["POST"]),
    ]
