"""Cached pages answered in front of the app (``publisher serve``'s front door).

* A public page the app rendered once is answered again without reaching the app, with
  the same status, headers (security headers, the page's own CSP, cache control) and
  bytes, its ETag and 304 as the app gives them; ``HEAD`` gets the headers only.
* The home page's CSRF token is still filled in per reader there, with the cookie for a
  new reader, and a reader's own pages (preferences) always go to the app: they are never
  served from the shared cache. So does a request with a body, and a query string the app
  has not answered yet.
* A change by another process is served from the front door within the bound.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from conftest import PublisherFactory
from starlette.types import ASGIApp, Receive, Scope, Send
from webkit import TestClient, csrf_token, make_settings, seed_articles

from publisher.core import Publisher, SubscribeRequest
from publisher.tokens import Purpose
from publisher.types import ArticleInput
from publisher.web import create_app, front_door
from publisher.web.pagecache import CHECK_SECONDS, PLACEHOLDER
from publisher.web.security import CSRF_COOKIE

ARTICLE = "/articles/bridge-opens"


class Reached:
    """Counts the requests that reach the Starlette app (behind the front door)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.paths: list[str] = []

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            self.paths.append(scope["path"])
        await self.app(scope, receive, send)


@pytest.fixture
def publisher(database_url: str, make_pub: PublisherFactory) -> Publisher:
    made = make_pub(make_settings(make_pub.project, database_url))
    seed_articles(made)
    return made


@pytest.fixture
def site(publisher: Publisher) -> Iterator[tuple[TestClient, Reached]]:
    app = create_app(publisher)
    app.add_middleware(Reached)
    with TestClient(front_door(app)) as client:
        client.get("/healthz")  # builds the middleware stack
        reached: object = app.middleware_stack
        while not isinstance(reached, Reached):
            reached = getattr(reached, "app")  # noqa: B009 - each layer keeps the next
        reached.paths.clear()
        yield client, reached


def _same_answer(first: dict[str, str], again: dict[str, str]) -> None:
    for name in ("content-type", "content-security-policy", "cache-control", "referrer-policy"):
        assert again.get(name) == first.get(name), name
    assert again["x-content-type-options"] == "nosniff" and again["x-frame-options"] == "DENY"


def test_a_page_the_app_rendered_is_answered_in_front_of_it(
    site: tuple[TestClient, Reached],
) -> None:
    client, reached = site
    for path in (ARTICLE, "/categories/local", "/archive"):
        first = client.get(path)
        again = client.get(path)
        assert first.status_code == again.status_code == 200, path
        assert again.content == first.content and again.headers["etag"] == first.headers["etag"]
        _same_answer(dict(first.headers), dict(again.headers))
        assert client.get(path, headers={"If-None-Match": first.headers["etag"]}).status_code == 304
        head = client.head(path)
        assert head.status_code == 200 and head.content == b""
        assert head.headers["content-length"] == str(len(first.content))
        assert reached.paths == [path], reached.paths  # only the first reached the app
        reached.paths.clear()


def test_the_home_page_in_front_of_the_app_fills_each_readers_token(
    site: tuple[TestClient, Reached],
) -> None:
    client, reached = site
    first = client.get("/")  # rendered by the app
    client.cookies.clear()
    new_reader = client.get("/")  # answered in front, for a reader without a cookie
    assert reached.paths == ["/"]
    _same_answer(dict(first.headers), dict(new_reader.headers))
    assert PLACEHOLDER not in new_reader.text
    assert csrf_token(new_reader.text) != csrf_token(first.text)
    cookie = new_reader.headers["set-cookie"]
    assert cookie.startswith(f"{CSRF_COOKIE}=") and "HttpOnly" in cookie
    assert "SameSite=strict" in cookie
    # The same reader again: no new cookie, its copy revalidates, and its form works.
    again = client.get("/", headers={"If-None-Match": new_reader.headers["etag"]})
    assert again.status_code == 304 and "set-cookie" not in again.headers
    sent = client.post(
        "/subscribe", data={"email": "door@example.org", "csrf_token": csrf_token(new_reader.text)}
    )
    assert sent.status_code == 200 and "Check your inbox" in sent.text


def test_a_readers_own_pages_and_requests_with_a_body_always_reach_the_app(
    site: tuple[TestClient, Reached], publisher: Publisher
) -> None:
    client, reached = site
    reader = publisher.add_subscriber(SubscribeRequest("own@example.org"), confirmed=True)
    own = publisher.signed_path(Purpose.PREFERENCES, reader)
    for _ in range(2):
        page = client.get(own)
        assert page.status_code == 200 and "own@example.org" in page.text
        assert "etag" not in page.headers
    client.get(ARTICLE)
    client.request("GET", ARTICLE, content=b"x" * 10)  # a body: the app's limits decide
    client.get(ARTICLE + "?from=mail")  # a target the app has not answered yet
    client.get(ARTICLE + "?from=mail")
    assert reached.paths == [own.split("?")[0]] * 2 + [ARTICLE] * 3


def test_a_change_by_another_process_is_served_in_front_within_the_bound(
    site: tuple[TestClient, Reached], publisher: Publisher, project: Path, database_url: str
) -> None:
    client, reached = site
    client.get("/")
    other = PublisherFactory(project)
    try:
        writer = other(make_settings(project, database_url))
        when = datetime(2026, 11, 21, 8, 0, tzinfo=UTC)
        writer.store_article(ArticleInput("Ferry returns", "<p>Ferry.</p>", when))
        started = time.monotonic()
        while "Ferry returns" not in client.get("/").text:
            assert time.monotonic() - started < CHECK_SECONDS + 2.0, "not seen in time"
            time.sleep(0.02)
    finally:
        other.close()
    assert reached.paths.count("/") == 2  # rendered once before and once after the change
