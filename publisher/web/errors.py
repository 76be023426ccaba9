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
    400: "That did not work",
    401: "Not authorised",
    403: "Not allowed",
    404: "Not found",
    405: "Method not allowed",
    413: "Too large",
    415: "Unsupported content type",
    422: "Not a valid article",
    429: "Too many requests",
    500: "Something went wrong",
    503: "Unavailable",
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
    title = TITLES.get(status, "Error")
    return render(
        request, "error.html", {"title": title, "message": message}, status, headers=headers
    )


async def publisher_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, PublisherError)
    status = status_for(exc)
    if status >= 500:
        log.error("request to %s failed: %s", request.url.path, exc)
    return error_response(request, status, str(exc), getattr(exc, "field", None))


async def http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    response = error_response(request, exc.status_code, str(exc.detail))
    for name, value in (exc.headers or {}).items():
        response.headers[name] = value
    return response


async def unexpected_error(request: Request, exc: Exception) -> Response:
    log.exception("unexpected error on %s", request.url.path)
    return error_response(request, 500, "something went wrong on our side")


HANDLERS = {PublisherError: publisher_error, HTTPException: http_error}
