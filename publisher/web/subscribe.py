"""Subscribing (form and JSON) and confirming (the double opt-in link).

The answer to a valid request is the same whatever the store holds: the work (making the
pending subscriber, mailing the link) runs on the app's job threads, off the request path,
so not even the timing (nor that of the next request on the connection) tells whether an
address was already subscribed. Only the request itself is checked
before answering: a malformed address or an unknown category is the sender's own input.
"""

from __future__ import annotations

import logging
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from publisher.core import (
    Publisher,
    Purpose,
    SubscribeRequest,
    normalise_address,
    parse_categories,
    parse_frequency,
    parse_language,
    parse_timezone,
)
from publisher.exceptions import SubscriberError
from publisher.text import N_, one_line
from publisher.web.forms import form_fields, is_json, json_object, text_field
from publisher.web.jobs import Jobs
from publisher.web.pages import subscribe_form
from publisher.web.security import CSRF_FIELD, Csrf, RateLimiter, client_ip
from publisher.web.templating import local_link, reader_language, render

log = logging.getLogger(__name__)

ACCEPTED = N_(
    "Thank you. If this address can be subscribed, a confirmation e-mail is on its way: "
    "open the link in it to start receiving the newsletter."
)


def _request(publisher: Publisher, data: dict[str, Any], ip: str, method: str) -> SubscribeRequest:
    """Validate the reader's own input (never the store's state) into a request."""
    email = normalise_address(text_field(data, "email", 400))
    frequency = parse_frequency(text_field(data, "frequency", 20) or "daily")
    raw = data.get("categories") or []
    if isinstance(raw, str):
        raw = [raw]
    if not isinstance(raw, list):
        raise SubscriberError(N_("categories must be a list of category slugs"), "categories")
    categories = parse_categories(raw)
    unknown = sorted(set(categories) - {c.slug for c in publisher.categories()})
    if unknown:
        raise SubscriberError(
            N_("unknown category: %(slugs)s"), "categories", slugs=", ".join(unknown)
        )
    name = one_line(text_field(data, "name", 200), 200)
    language = parse_language(text_field(data, "language", 35))
    timezone = parse_timezone(text_field(data, "timezone", 64))
    return SubscribeRequest(email, name, frequency, categories, method, ip, language, timezone)


async def subscribe(request: Request) -> Response:
    publisher: Publisher = request.app.state.publisher
    limiter: RateLimiter = request.app.state.subscribe_limiter
    ip = client_ip(request)
    wait = limiter.hit(ip)
    if wait is not None:
        raise HTTPException(
            429, N_("too many subscribe requests: try again in a minute"), {"Retry-After": "60"}
        )
    if is_json(request):
        data = await json_object(request)
        method = "api"
    else:
        data = await form_fields(request)
        csrf: Csrf = request.app.state.csrf
        csrf.check(request, data.get(CSRF_FIELD))
        method = "form"
    try:
        sub = await run_in_threadpool(_request, publisher, data, ip, method)
    except SubscriberError as exc:
        if method == "api":
            raise
        values = {k: data.get(k, "") for k in ("email", "name", "frequency", "language")}
        values["categories"] = data.get("categories") or []
        return await run_in_threadpool(subscribe_form, request, 400, exc.text, values)
    jobs: Jobs = request.app.state.jobs  # off the request path: see publisher.web.jobs
    jobs.submit(lambda: publisher.subscribe(sub), "subscribing")
    if method == "api":
        return JSONResponse({"status": "accepted", "message": ACCEPTED}, 202)
    return render(request, "message.html", {"title": N_("Check your inbox"), "message": ACCEPTED})


async def confirm_page(request: Request) -> Response:
    """GET never confirms (mail scanners open links): it shows a button that does."""
    publisher: Publisher = request.app.state.publisher
    token = request.path_params["token"]
    subscriber = await run_in_threadpool(publisher.subscriber_from_token, Purpose.CONFIRM, token)
    csrf: Csrf = request.app.state.csrf
    nonce = csrf.nonce(request)
    context = {
        "title": N_("Confirm your subscription"),
        "email": subscriber.email,
        "status": subscriber.status.value,
        "csrf_token": csrf.token(nonce),
        **reader_language(subscriber),
    }
    response = render(request, "confirm.html", context, headers={"Cache-Control": "no-store"})
    csrf.set_cookie(request, response, nonce)
    return response


async def confirm(request: Request) -> Response:
    publisher: Publisher = request.app.state.publisher
    csrf: Csrf = request.app.state.csrf
    data = await form_fields(request)
    csrf.check(request, data.get(CSRF_FIELD))
    subscriber = await run_in_threadpool(
        publisher.confirm_subscription, request.path_params["token"]
    )
    context = {
        "title": N_("You are subscribed"),
        "email": subscriber.email,
        "preferences_url": local_link(publisher, Purpose.PREFERENCES, subscriber),
        **reader_language(subscriber),
    }
    return render(request, "confirmed.html", context, headers={"Cache-Control": "no-store"})


def routes() -> list[BaseRoute]:
    return [
        Route("/subscribe", subscribe, methods=["POST"]),
        Route("/confirm/{token}", confirm_page, methods=["GET", "HEAD"]),
        Route("/confirm/{token}", confirm, methods=["POST"]),
    ]
