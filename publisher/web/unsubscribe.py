"""One-click unsubscribe (RFC 8058, e-mail rules B1, B2, B6).

``POST /unsubscribe/{token}`` with ``List-Unsubscribe=One-Click`` (urlencoded or multipart)
unsubscribes at once and answers 200: no cookie, no CSRF token, no redirect, and the same
answer when repeated. ``GET`` on the same URI never unsubscribes (link scanners prefetch):
it shows a page whose button sends exactly that POST.
"""

from __future__ import annotations

from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from publisher.core import Publisher, Purpose
from publisher.exceptions import TokenError
from publisher.text import N_
from publisher.types import SubscriberStatus
from publisher.web.forms import form_fields
from publisher.web.preferences import ask_page
from publisher.web.templating import reader_language, render

NO_STORE = {"Cache-Control": "no-store"}


STALE = N_(
    "This unsubscribe link can no longer be checked: it may be old, or our signing key has "
    "changed since it was sent. Enter your address below and we will mail you a fresh "
    "link (only if the address receives the newsletter)."
)


async def unsubscribe_page(request: Request) -> Response:
    """The confirm-and-unsubscribe page; a link that no longer verifies gets a way out."""
    publisher: Publisher = request.app.state.publisher
    token = request.path_params["token"]
    try:
        subscriber = await run_in_threadpool(
            publisher.subscriber_from_token, Purpose.UNSUBSCRIBE, token
        )
    except TokenError:
        return await run_in_threadpool(ask_page, request, 400, "", "", STALE)
    context = {
        "title": N_("Unsubscribe"),
        "email": subscriber.email,
        "done": subscriber.status is SubscriberStatus.UNSUBSCRIBED,
        **reader_language(subscriber),
    }
    return render(request, "unsubscribe.html", context, headers=NO_STORE)


async def one_click(request: Request) -> Response:
    publisher: Publisher = request.app.state.publisher
    data = await form_fields(request)
    if data.get("List-Unsubscribe") != "One-Click":
        raise HTTPException(400, N_("the body must be List-Unsubscribe=One-Click (RFC 8058)"))
    subscriber = await run_in_threadpool(publisher.unsubscribe, request.path_params["token"])
    context = {
        "title": N_("You are unsubscribed"),
        "email": subscriber.email,
        **reader_language(subscriber),
    }
    return render(request, "unsubscribed.html", context, headers=NO_STORE)


GENERIC = N_(
    "To stop the newsletter, use the Unsubscribe link at the bottom of any newsletter "
    "e-mail: one click, no password. The link is personal, which is why this page has "
    "no form."
)


async def generic_page(request: Request) -> Response:
    """Where the archive copy's footer points (it carries no reader's link)."""
    return render(request, "message.html", {"title": N_("Unsubscribe"), "message": GENERIC})


def routes() -> list[BaseRoute]:
    return [
        Route("/unsubscribe", generic_page, methods=["GET", "HEAD"]),
        Route("/unsubscribe/{token}", unsubscribe_page, methods=["GET", "HEAD"]),
        Route("/unsubscribe/{token}", one_click, methods=["POST"]),
    ]
