"""The one place that turns errors into HTTP answers.

Each PublisherError subclass has a status; the body is JSON for the API and for JSON
requests, a plain HTML page otherwise. Messages are the errors' own one-line texts (they
never hold secrets or stack traces); unexpected errors get a generic 500.
"""

from __future__ import annotations

import logging

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from publisher.exceptions import (
    AdminError,
    ConfigError,
    InboundError,
    IngestError,
    NotFound,
    PublisherError,
    StoreError,
    SubscriberError,
    TokenError,
    WebhookAuthError,
)
from publisher.text import N_, ReaderText
from publisher.web.templating import render

log = logging.getLogger(__name__)

# Most specific first.
STATUS: tuple[tuple[type[PublisherError], int], ...] = (
    (TokenError, 400),
    (WebhookAuthError, 401),
    (InboundError, 400),
    (SubscriberError, 400),
    (AdminError, 400),
    (IngestError, 422),
    (NotFound, 404),
    (StoreError, 503),
    (ConfigError, 500),
    (PublisherError, 500),
)
TITLES = {
    400: N_("That did not work"),
    401: N_("Not authorised"),
    403: N_("Not allowed"),
    404: N_("Not found"),
    405: N_("Method not allowed"),
    413: N_("Too large"),
    415: N_("Unsupported content type"),
    422: N_("Not a valid article"),
    429: N_("Too many requests"),
    500: N_("Something went wrong"),
    503: N_("Unavailable"),
}


def status_for(exc: PublisherError) -> int:
    return next(code for kind, code in STATUS if isinstance(exc, kind))


def wants_json(request: Request) -> bool:
    if request.url.path.startswith("/api/"):
        return True
    content_type = request.headers.get("content-type", "")
    accept = request.headers.get("accept", "")
    return content_type.startswith("application/json") or (
        "application/json" in accept and "text/html" not in accept
    )


def error_response(
    request: Request, status: int, message: str, field: str | None = None
) -> Response:
    headers = {"Cache-Control": "no-store"}
    if wants_json(request):
        body: dict[str, object] = {"error": message}
        if field:
            body["field"] = field
        return JSONResponse(body, status_code=status, headers=headers)
    # render() translates both (messages are marked N_ where they are raised).
    context = {"title": TITLES.get(status, N_("Error")), "message": message}
    return render(request, "error.html", context, status, headers=headers)


async def publisher_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, PublisherError)
    status = status_for(exc)
    if status >= 500:
        log.error("request to %s failed: %s", request.url.path, exc)
    message = exc.text if isinstance(exc, SubscriberError) else str(exc)
    return error_response(request, status, message, getattr(exc, "field", None))


async def http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    detail = exc.detail if isinstance(exc.detail, ReaderText) else str(exc.detail)
    response = error_response(request, exc.status_code, detail)
    for name, value in (exc.headers or {}).items():
        response.headers[name] = value
    return response


async def unexpected_error(request: Request, exc: Exception) -> Response:
    log.exception("unexpected error on %s", request.url.path)
    return error_response(request, 500, N_("something went wrong on our side"))


HANDLERS = {PublisherError: publisher_error, HTTPException: http_error}
