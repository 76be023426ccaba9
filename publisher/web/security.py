"""Protection shared by every route: headers, body limits, CSRF tokens, a rate limiter.

* Security headers on every response: a strict CSP (no scripts, except our own
  ``timezone.js`` on the subscribe form; styles from our own origin), ``nosniff``,
  ``Referrer-Policy: no-referrer`` (our URLs carry signed tokens that must not leak to
  other sites), no framing.
* Request bodies over a limit are refused with 413 before they are read: the API gets
  ``web.max_body_bytes``, every other route (small forms) :data:`FORM_MAX_BYTES`.
* CSRF: double-submit. A page with a form sets a random nonce in an HttpOnly, SameSite
  cookie and puts a token in a hidden field: the time and an HMAC, keyed by the secret
  key (purpose ``csrf``), over the nonce and the time (valid :data:`CSRF_MAX_AGE`). A POST
  is accepted when the token's MAC matches the cookie's nonce. Another site can neither
  read our cookie nor set it, so it cannot build a matching pair. The RFC 8058 endpoint
  takes no CSRF token.
* A fixed-window per-IP rate limiter for the subscribe endpoint; the IP is the peer's, or
  what a proxy listed in ``web.trusted_proxies`` forwarded (:class:`TrustedProxies`).
* Redirects are built from ``site.url``, never from the Host header (:class:`SiteRedirects`).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import ipaddress
import secrets
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

from starlette.datastructures import Headers, MutableHeaders
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from publisher.text import N_

CSP = (
    "default-src 'none'; style-src 'self'; img-src 'self' https: data:; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)
# The subscribe form only: our own /static/timezone.js fills the hidden time zone field
# (no inline script, no other origin).
SUBSCRIBE_FORM_CSP = CSP.replace("default-src 'none';", "default-src 'none'; script-src 'self';")
SECURITY_HEADERS = {
    "content-security-policy": CSP,
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
    "x-frame-options": "DENY",
}
FORM_MAX_BYTES = 64 * 1024
CSRF_COOKIE = "publisher_csrf"
CSRF_FIELD = "csrf_token"
CSRF_MAX_AGE = 24 * 3600


class SecurityHeadersMiddleware:
    """Adds :data:`SECURITY_HEADERS` to every HTTP response (a route may set its own)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in SECURITY_HEADERS.items():
                    headers.setdefault(name, value)
            await send(message)

        await self.app(scope, receive, send_with_headers)


class BodyLimitMiddleware:
    """Refuses bodies over the limit: by Content-Length at once, else while streaming."""

    def __init__(self, app: ASGIApp, api_limit: int, form_limit: int = FORM_MAX_BYTES) -> None:
        self.app = app
        self.api_limit = api_limit
        self.form_limit = form_limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        machine = scope["path"].startswith(("/api/", "/webhooks/"))  # batches, not forms
        limit = self.api_limit if machine else self.form_limit
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > limit):
            response = too_large(limit)
            await response(scope, receive, send)
            return
        seen = 0

        async def limited_receive() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    raise HTTPException(413, f"request body is over the {limit}-byte limit")
            return message

        await self.app(scope, limited_receive, send)


def too_large(limit: int) -> Response:
    return Response(
        f"request body is over the {limit}-byte limit\n",
        status_code=413,
        media_type="text/plain",
        headers=SECURITY_HEADERS,
    )


class Csrf:
    """Makes and checks double-submit CSRF tokens (see the module docstring).

    A token is ``<unix time>.<MAC>``: HMAC-SHA256 (key derived from the secret key for
    this purpose only) over the cookie's nonce and the time, 144 bits kept. It names no
    nonce: the cookie carries it, and a token is good only with the cookie it was made for.
    Making one costs a few microseconds, so the cached home page gets a fresh one per
    request.
    """

    def __init__(self, secret_key: str, clock: Callable[[], float] = time.time) -> None:
        self._key = hashlib.sha256(b"publisher.csrf\0" + secret_key.encode()).digest()
        self.clock = clock

    def nonce(self, request: Request) -> str:
        """The request's cookie nonce, or a fresh one (set it with :meth:`set_cookie`)."""
        current = request.cookies.get(CSRF_COOKIE, "")
        return current if 16 <= len(current) <= 64 else secrets.token_urlsafe(24)

    def _mac(self, nonce: str, stamp: str) -> str:
        digest = hmac.digest(self._key, f"{nonce}.{stamp}".encode(), "sha256")
        return base64.urlsafe_b64encode(digest[:18]).decode()

    def token(self, nonce: str) -> str:
        stamp = str(int(self.clock()))
        return f"{stamp}.{self._mac(nonce, stamp)}"

    def set_cookie(self, request: Request, response: Response, nonce: str) -> None:
        """The nonce cookie (see :meth:`cookie`) on ``response``, when the request lacks it."""
        cookie = self.cookie(request, nonce)
        if cookie is not None:
            response.raw_headers.append((b"set-cookie", cookie))

    def cookie(self, request: Request, nonce: str) -> bytes | None:
        """The ``Set-Cookie`` value for the nonce (HttpOnly, SameSite=Strict, Secure over
        HTTPS), or None when the request already carries it. Written directly: the nonce
        is URL-safe Base64 or the client's own valid cookie, and ``http.cookies`` cost
        more than the rest of a cached page."""
        if request.cookies.get(CSRF_COOKIE) == nonce:
            return None
        secure = "; Secure" if request.scope.get("scheme") == "https" else ""
        return (
            f"{CSRF_COOKIE}={nonce}; HttpOnly; Max-Age={CSRF_MAX_AGE}; Path=/; "
            f"SameSite=strict{secure}"
        ).encode("latin-1")

    def check(self, request: Request, submitted: Any) -> None:
        """403 unless ``submitted`` is a token made for the cookie's nonce, and not older
        than :data:`CSRF_MAX_AGE`."""
        cookie = request.cookies.get(CSRF_COOKIE, "")
        if not isinstance(submitted, str) or not submitted or not cookie:
            raise HTTPException(403, N_("the form has expired or cookies are blocked: reload it"))
        stamp, _, mac = submitted.partition(".")
        age = self.clock() - int(stamp) if stamp.isdigit() and len(stamp) < 12 else -1
        if not mac or not -60 <= age <= CSRF_MAX_AGE:
            raise HTTPException(403, N_("the form has expired: reload the page"))
        if not hmac.compare_digest(mac, self._mac(cookie, stamp)):
            raise HTTPException(403, N_("the form has expired or cookies are blocked: reload it"))


class RateLimiter:
    """At most ``limit`` hits per key in each window of ``window`` seconds."""

    def __init__(
        self, limit: int, window: float = 60.0, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.limit = limit
        self.window = window
        self.clock = clock
        self._hits: dict[str, tuple[float, int]] = {}

    def hit(self, key: str) -> float | None:
        """Count a hit; None when allowed, else the seconds until the window resets."""
        now = self.clock()
        if len(self._hits) > 10_000:
            self._hits = {k: v for k, v in self._hits.items() if now - v[0] < self.window}
        start, count = self._hits.get(key, (now, 0))
        if now - start >= self.window:
            start, count = now, 0
        if count >= self.limit:
            return self.window - (now - start)
        self._hits[key] = (start, count + 1)
        return None


def client_ip(request: Request) -> str:
    """The client's address: the peer, or what a trusted proxy said (:class:`TrustedProxies`)."""
    return request.client.host if request.client else "unknown"


Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def _address(text: str) -> str | None:
    """An IP address from a Forwarded ``for=`` or X-Forwarded-For item (port, brackets off)."""
    value = text.strip().strip('"')
    if value.startswith("["):
        value = value[1:].partition("]")[0]
    elif value.count(":") == 1:
        value = value.partition(":")[0]
    try:
        return str(ipaddress.ip_address(value))
    except ValueError:
        return None


def _forwarded_chain(headers: Headers) -> tuple[list[str | None], str | None]:
    """(client addresses, nearest first-hop scheme) from ``Forwarded`` (RFC 7239) when
    present, else ``X-Forwarded-For``/``X-Forwarded-Proto``; left to right as sent."""
    forwarded = headers.getlist("forwarded")
    if forwarded:
        chain: list[str | None] = []
        proto = None
        for element in ",".join(forwarded).split(","):
            pairs = dict(
                (k.strip().lower(), v.strip().strip('"'))
                for k, _, v in (p.partition("=") for p in element.split(";"))
            )
            chain.append(_address(pairs.get("for", "")))
            proto = pairs.get("proto", proto)
        return chain, proto
    chain = [_address(item) for item in ",".join(headers.getlist("x-forwarded-for")).split(",")]
    protos = ",".join(headers.getlist("x-forwarded-proto")).split(",")
    return ([] if chain == [None] else chain), (protos[-1].strip() or None)


class TrustedProxies:
    """Believe ``X-Forwarded-For``/``Forwarded`` only from ``web.trusted_proxies``.

    The client is the rightmost address in the chain that is not itself a trusted proxy
    (each proxy appends the peer it saw, so everything left of an untrusted hop may be
    forged). With no trusted proxy, or from any other peer, the headers are ignored: a
    client cannot pick the address the rate limits count.
    """

    def __init__(self, app: ASGIApp, trusted: tuple[str, ...] = ()) -> None:
        self.app = app
        self.networks: list[Network] = [ipaddress.ip_network(t, strict=False) for t in trusted]

    def trusts(self, address: str | None) -> bool:
        if address is None:
            return False
        try:
            ip = ipaddress.ip_address(address)
        except ValueError:
            return False
        return any(ip in network for network in self.networks)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        # The scope is changed in place (as uvicorn's own proxy middleware does), so the
        # server's access log names the real client too, not the proxy.
        client = scope.get("client")
        if scope["type"] == "http" and self.networks and client and self.trusts(client[0]):
            chain, proto = _forwarded_chain(Headers(scope=scope))
            for address in reversed(chain):
                if not self.trusts(address):
                    if address is not None:
                        scope["client"] = (address, 0)
                    break
            if proto in ("http", "https"):
                scope["scheme"] = proto
        await self.app(scope, receive, send)


def _server(scope: Scope) -> str:
    """``host:port`` of the server the request reached (Starlette's URL without a Host)."""
    server = scope.get("server")
    return f"{server[0]}:{server[1]}" if server else ""


class SiteRedirects:
    """Absolute redirects point at ``site.url``, never at the Host a client sent.

    Starlette's trailing-slash redirect builds its Location from the request's Host
    header, so ``Host: evil.example`` got a redirect to evil.example (cache poisoning,
    phishing through our own links). An absolute Location on the host the request named
    is rebased on ``site.url``; one to another site (none today) is left alone.
    """

    def __init__(self, app: ASGIApp, site_url: str) -> None:
        self.app = app
        self.site = site_url.rstrip("/")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        host = Headers(scope=scope).get("host", "")

        async def send_rebased(message: Message) -> None:
            if message["type"] == "http.response.start" and 300 <= message["status"] < 400:
                headers = MutableHeaders(scope=message)
                location = urlsplit(headers.get("location", ""))
                if location.netloc and location.netloc in (host, _server(scope)):
                    path = location.path + (f"?{location.query}" if location.query else "")
                    headers["location"] = self.site + path
            await send(message)

        await self.app(scope, receive, send_rebased)
