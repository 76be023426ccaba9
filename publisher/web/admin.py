"""The editor dashboard at ``/admin``: server-rendered pages behind a sign-in.

Every route but the sign-in page goes through :func:`editor_only`: no valid session cookie
(anonymous, forged, expired, or the password changed since) answers 303 to
``/admin/login``; every POST carries the double-submit CSRF token; every answer is
``Cache-Control: no-store``. The session cookie is signed by the core's Admin service,
HttpOnly, SameSite=Strict, limited to ``/admin``, and Secure when ``site.url`` is https.
Progress while sending is a page that reloads itself every two seconds: no script.
"""

from __future__ import annotations

import html
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import quote, urlencode

from markupsafe import Markup
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from publisher.core import Publisher
from publisher.exceptions import PublisherError
from publisher.types import AdminUser, Frequency
from publisher.web.forms import form_fields, text_field
from publisher.web.security import CSRF_FIELD, Csrf, RateLimiter, client_ip
from publisher.web.templating import render

SESSION_COOKIE = "publisher_admin"
LOGIN = "/admin/login"
ADMIN_CSP = (
    "default-src 'none'; style-src 'self'; img-src 'self' https: data:; frame-src 'self'; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)
ADMIN_HEADERS = {"cache-control": "no-store", "content-security-policy": ADMIN_CSP}
# The digest copy shown in the edition page's iframe: its own inline styles, no script.
COPY_HEADERS = {
    "cache-control": "no-store",
    "content-security-policy": (
        "default-src 'none'; style-src 'unsafe-inline'; img-src https: data:; "
        "frame-ancestors 'self'; base-uri 'none'"
    ),
    "x-frame-options": "SAMEORIGIN",
}

Handler = Callable[[Request, AdminUser, dict[str, Any]], Awaitable[Response]]


def _publisher(request: Request) -> Publisher:
    publisher: Publisher = request.app.state.publisher
    return publisher


def _to_login() -> Response:
    return RedirectResponse(LOGIN, status_code=303, headers=ADMIN_HEADERS)


def editor_only(handler: Handler) -> Callable[[Request], Awaitable[Response]]:
    """Sign-in required (303 to the login page otherwise); CSRF on POST; no-store."""

    async def guarded(request: Request) -> Response:
        publisher = _publisher(request)
        cookie = request.cookies.get(SESSION_COOKIE, "")
        user = await run_in_threadpool(publisher.admin.user_of, cookie)
        if user is None:
            return _to_login()
        data: dict[str, Any] = {}
        if request.method == "POST":
            data = await form_fields(request)
            csrf: Csrf = request.app.state.csrf
            csrf.check(request, data.get(CSRF_FIELD))
        response = await handler(request, user, data)
        response.headers.update(
            {k: v for k, v in ADMIN_HEADERS.items() if k not in response.headers}
        )
        return response

    return guarded


def page(request: Request, name: str, user: AdminUser | None, **context: Any) -> HTMLResponse:
    """An admin page with a fresh CSRF token for its forms."""
    csrf: Csrf = request.app.state.csrf
    nonce = csrf.nonce(request)
    values = {
        "title": context.pop("title", "Dashboard"),
        "editor": user,
        "csrf_token": csrf.token(nonce),
        "note": request.query_params.get("note", "")[:200],
        **context,
    }
    response = render(request, f"admin/{name}", values, headers=ADMIN_HEADERS)
    csrf.set_cookie(request, response, nonce)
    return response


def back(path: str, note: str) -> Response:
    return RedirectResponse(
        f"{path}?{urlencode({'note': note})}", status_code=303, headers=ADMIN_HEADERS
    )


# --- sign-in -------------------------------------------------------------------------------


async def login_page(request: Request) -> Response:
    return page(request, "login.html", None, title="Sign in", error=False, email="")


async def login(request: Request) -> Response:
    publisher = _publisher(request)
    data = await form_fields(request)
    csrf: Csrf = request.app.state.csrf
    csrf.check(request, data.get(CSRF_FIELD))
    limiter: RateLimiter = request.app.state.login_limiter
    wait = limiter.hit(client_ip(request))
    if wait is not None:
        raise HTTPException(
            429,
            f"too many sign-in attempts: try again in {int(wait) + 1} s",
            {"Retry-After": str(int(wait) + 1)},
        )
    email, password = text_field(data, "email", 320), text_field(data, "password", 1000)
    user = await run_in_threadpool(publisher.admin.authenticate, email, password)
    if user is None:
        refused = page(request, "login.html", None, title="Sign in", error=True, email=email)
        refused.status_code = 401
        return refused
    response = RedirectResponse("/admin", status_code=303, headers=ADMIN_HEADERS)
    response.set_cookie(
        SESSION_COOKIE,
        publisher.admin.session(user),
        max_age=int(publisher.settings.admin.session_hours * 3600),
        path="/admin",
        httponly=True,
        samesite="strict",
        secure=publisher.settings.site.url.startswith("https:"),
    )
    return response


@editor_only
async def logout(request: Request, user: AdminUser, data: dict[str, Any]) -> Response:
    response = RedirectResponse(LOGIN, status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/admin")
    return response


# --- overview and editions -----------------------------------------------------------------


def growth_svg(growth: list[tuple[str, int]], width: int = 600, height: int = 160) -> Markup:
    """Subscribers over time as an inline SVG line (scales to the page width)."""
    if not growth:
        return Markup("")
    top = max(n for _, n in growth) or 1
    step = width / max(len(growth) - 1, 1)
    points = " ".join(
        f"{i * step:.1f},{height - 4 - (n / top) * (height - 24):.1f}"
        for i, (_, n) in enumerate(growth)
    )
    first, last = growth[0], growth[-1]
    label = f"Subscribers from {first[0]} ({first[1]}) to {last[0]} ({last[1]})"
    return Markup(
        f'<svg class="chart" viewBox="0 0 {width} {height}" role="img" '
        f'aria-label="{html.escape(label)}" preserveAspectRatio="none">'
        f"<title>{html.escape(label)}</title>"
        f'<line x1="0" y1="{height - 4}" x2="{width}" y2="{height - 4}" class="axis"/>'
        f'<polyline points="{points}" class="line"/>'
        f'<text x="4" y="14" class="label">{top}</text></svg>'
    )


@editor_only
async def overview(request: Request, user: AdminUser, data: dict[str, Any]) -> Response:
    publisher = _publisher(request)
    found = await run_in_threadpool(publisher.admin.overview)
    health = await run_in_threadpool(publisher.health)
    return page(
        request,
        "overview.html",
        user,
        title="Dashboard",
        chart=growth_svg(found["growth"]),
        health=health,
        frequencies=[f.value for f in Frequency],
        **found,
    )


@editor_only
async def edition(request: Request, user: AdminUser, data: dict[str, Any]) -> Response:
    publisher = _publisher(request)
    key = request.path_params["key"]
    report = await run_in_threadpool(publisher.admin.engagement.report, key)
    done = report["sent"] + report["failed"] + report["suppressed"]
    progress = round(100 * done / report["recipients"]) if report["recipients"] else 100
    live = report["state"] in ("open", "sending") and not report["paused"]
    return page(
        request,
        "edition.html",
        user,
        title=f"Edition {key}",
        report=report,
        progress=progress,
        live=live,
        copy_url="/admin/copy/" + quote(key),
    )


@editor_only
async def edition_copy(request: Request, user: AdminUser, data: dict[str, Any]) -> Response:
    publisher = _publisher(request)
    body = await run_in_threadpool(publisher.admin.edition_html, request.path_params["key"])
    return HTMLResponse(body, headers=COPY_HEADERS)


@editor_only
async def pause(request: Request, user: AdminUser, data: dict[str, Any]) -> Response:
    key = request.path_params["key"]
    await run_in_threadpool(_publisher(request).admin.pause, key)
    return back(f"/admin/editions/{key}", "paused: messages in flight finish, no new ones go")


@editor_only
async def resume(request: Request, user: AdminUser, data: dict[str, Any]) -> Response:
    key = request.path_params["key"]
    await run_in_threadpool(_publisher(request).admin.resume, key)
    return back(f"/admin/editions/{key}", "resumed")


# --- actions ---------------------------------------------------------------------------------


def _frequency(value: str) -> Frequency:
    try:
        return Frequency(value or "daily")
    except ValueError as exc:
        raise HTTPException(400, "frequency must be daily or weekly") from exc


@editor_only
async def confirm_send(request: Request, user: AdminUser, data: dict[str, Any]) -> Response:
    frequency = _frequency(request.query_params.get("frequency", "daily"))
    publisher = _publisher(request)
    plan = await run_in_threadpool(publisher.send_digest, frequency, None, True)
    return page(request, "send.html", user, title="Send now", frequency=frequency.value, plan=plan)


@editor_only
async def send_now(request: Request, user: AdminUser, data: dict[str, Any]) -> Response:
    frequency = _frequency(text_field(data, "frequency", 20))
    if text_field(data, "confirm", 10) != "yes":
        return back("/admin/send", "not sent: tick the confirmation")
    started = await run_in_threadpool(_publisher(request).admin.start_send, frequency)
    if started.status == "skipped":
        return back("/admin", f"{started.key} has no articles: nothing to send")
    return back(f"/admin/editions/{started.key}", "sending")


@editor_only
async def test_copy(request: Request, user: AdminUser, data: dict[str, Any]) -> Response:
    frequency = _frequency(text_field(data, "frequency", 20))
    reply = await run_in_threadpool(_publisher(request).send_test_copy, user.email, frequency)
    return back("/admin", f"test copy sent to {user.email}: {reply}")


@editor_only
async def preview(request: Request, user: AdminUser, data: dict[str, Any]) -> Response:
    frequency = _frequency(request.query_params.get("frequency", "daily"))
    email = request.query_params.get("email", "")[:320]
    query = urlencode({"frequency": frequency.value, "email": email})
    return page(
        request,
        "preview.html",
        user,
        title="Preview",
        frequency=frequency.value,
        email=email,
        frequencies=[f.value for f in Frequency],
        copy_url=f"/admin/preview/copy?{query}",
    )


@editor_only
async def preview_copy(request: Request, user: AdminUser, data: dict[str, Any]) -> Response:
    frequency = _frequency(request.query_params.get("frequency", "daily"))
    email = request.query_params.get("email", "")[:320]
    try:
        body = await run_in_threadpool(_publisher(request).admin.preview_html, frequency, email)
    except PublisherError as exc:
        body = f"<p>{html.escape(str(exc))}</p>"
    return HTMLResponse(body, headers=COPY_HEADERS)


# --- subscribers and articles ----------------------------------------------------------------


@editor_only
async def subscribers(request: Request, user: AdminUser, data: dict[str, Any]) -> Response:
    term = request.query_params.get("q", "")[:320]
    found = await run_in_threadpool(_publisher(request).admin.find_subscribers, term)
    return page(request, "subscribers.html", user, title="Subscribers", q=term, found=found)


@editor_only
async def subscriber(request: Request, user: AdminUser, data: dict[str, Any]) -> Response:
    email = request.path_params["email"]
    sub, events, reason, clicks = await run_in_threadpool(
        _publisher(request).admin.subscriber, email
    )
    return page(
        request,
        "subscriber.html",
        user,
        title=sub.email,
        subscriber=sub,
        events=events,
        reason=reason,
        clicks=clicks,
    )


@editor_only
async def subscriber_action(request: Request, user: AdminUser, data: dict[str, Any]) -> Response:
    """Suppress or reactivate a subscriber; the reason and the editor are kept."""
    email, action = request.path_params["email"], request.path_params["action"]
    admin = _publisher(request).admin
    act = {"suppress": admin.suppress, "reactivate": admin.reactivate}.get(action)
    if act is None:
        raise HTTPException(404, "no such action")
    await run_in_threadpool(act, email, text_field(data, "reason", 300), user.email)
    done = {"suppress": "suppressed", "reactivate": "reactivated"}[action]
    return back(f"/admin/subscribers/{quote(email)}", done)


@editor_only
async def articles(request: Request, user: AdminUser, data: dict[str, Any]) -> Response:
    publisher = _publisher(request)
    found = await run_in_threadpool(publisher.articles, 100, None, True)
    return page(request, "articles.html", user, title="Articles", articles=found)


@editor_only
async def retract(request: Request, user: AdminUser, data: dict[str, Any]) -> Response:
    key = request.path_params["key"]
    await run_in_threadpool(_publisher(request).retract_article, key)
    return back("/admin/articles", f"retracted {key}")


def routes() -> list[BaseRoute]:
    return [
        Route("/admin/login", login_page, methods=["GET"]),
        Route("/admin/login", login, methods=["POST"]),
        Route("/admin/logout", logout, methods=["POST"]),
        Route("/admin", overview, methods=["GET"]),
        Route("/admin/send", confirm_send, methods=["GET"]),
        Route("/admin/send", send_now, methods=["POST"]),
        Route("/admin/test-copy", test_copy, methods=["POST"]),
        Route("/admin/preview", preview, methods=["GET"]),
        Route("/admin/preview/copy", preview_copy, methods=["GET"]),
        Route("/admin/copy/{key:path}", edition_copy, methods=["GET"]),
        Route("/admin/pause/{key:path}", pause, methods=["POST"]),
        Route("/admin/resume/{key:path}", resume, methods=["POST"]),
        Route("/admin/editions/{key:path}", edition, methods=["GET"]),
        Route("/admin/subscribers", subscribers, methods=["GET"]),
        Route("/admin/subscribers/{email}", subscriber, methods=["GET"]),
        Route("/admin/subscribers/{email}/{action}", subscriber_action, methods=["POST"]),
        Route("/admin/articles", articles, methods=["GET"]),
        Route("/admin/articles/{key}/retract", retract, methods=["POST"]),
        Route("/admin/{rest:path}", editor_only(_not_found), methods=["GET", "POST"]),
    ]


async def _not_found(request: Request, user: AdminUser, data: dict[str, Any]) -> Response:
    raise HTTPException(404, "no such page")
