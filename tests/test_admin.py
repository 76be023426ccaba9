"""The editor dashboard over HTTP: sign-in, the guard on every route, the pages and actions.

Editors are made with ``publisher admin add-user`` (standard input, as a script runs it);
everything else goes through the web app as a browser would, CSRF tokens included.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from test_engagement import BROWSER, Newsroom
from webkit import TestClient, csrf_token

from publisher.core import MemoryTransport
from publisher.types import Frequency
from publisher.web import create_app

EDITOR = "editor@news.example.org"
PASSWORD = "correct horse battery"
ROUTES = [
    ("GET", "/admin"),
    ("GET", "/admin/editions/daily/2026-11-27"),
    ("GET", "/admin/copy/daily/2026-11-27"),
    ("GET", "/admin/send"),
    ("POST", "/admin/send"),
    ("POST", "/admin/test-copy"),
    ("GET", "/admin/preview"),
    ("GET", "/admin/preview/copy"),
    ("POST", "/admin/pause/daily/2026-11-27"),
    ("POST", "/admin/resume/daily/2026-11-27"),
    ("GET", "/admin/subscribers"),
    ("GET", "/admin/subscribers/reader@example.org"),
    ("POST", "/admin/subscribers/reader@example.org/suppress"),
    ("POST", "/admin/subscribers/reader@example.org/reactivate"),
    ("GET", "/admin/articles"),
    ("POST", "/admin/articles/1/retract"),
    ("POST", "/admin/logout"),
    ("GET", "/admin/anything/else"),
]


@pytest.fixture
def newsroom(project: Path) -> Iterator[Newsroom]:
    made = Newsroom(project)
    made.cli("admin", "add-user", EDITOR, input_text=PASSWORD + "\n")
    yield made
    made.publisher.close()


@pytest.fixture
def client(newsroom: Newsroom) -> Iterator[TestClient]:
    app = create_app(newsroom.publisher)
    with TestClient(app, base_url="https://testserver", headers={"user-agent": BROWSER}) as c:
        yield c


def sign_in(client: TestClient, password: str = PASSWORD) -> int:
    form = client.get("/admin/login")
    answer = client.post(
        "/admin/login",
        data={"email": EDITOR, "password": password, "csrf_token": csrf_token(form.text)},
        follow_redirects=False,
    )
    return answer.status_code


def post(client: TestClient, page: str, action: str, **fields: str) -> str:
    """Submit a form on ``page`` to ``action``; the page it lands on."""
    token = csrf_token(client.get(page).text)
    answer = client.post(action, data={"csrf_token": token, **fields})
    assert answer.status_code == 200, answer.text
    return answer.text


def test_add_user_refuses_short_passwords(newsroom: Newsroom) -> None:
    out = newsroom.cli("admin", "add-user", "b@example.org", input_text="short\n", code=1)
    assert "at least 12 characters" in out


@pytest.mark.parametrize(("method", "path"), ROUTES)
def test_anonymous_and_forged_sessions_go_to_the_login(
    client: TestClient, method: str, path: str
) -> None:
    for cookies in ({}, {"publisher_admin": "WzFd.forged.signature"}):
        client.cookies.clear()
        for name, value in cookies.items():
            client.cookies.set(name, value, path="/admin")
        answer = client.request(method, path, follow_redirects=False)
        assert answer.status_code == 303, (path, answer.status_code)
        assert answer.headers["location"] == "/admin/login"


def test_sign_in_session_cookie_and_sign_out(client: TestClient) -> None:
    login = client.get("/admin/login")
    assert login.headers["cache-control"] == "no-store"
    assert 'name="email"' in login.text and 'name="password"' in login.text
    assert sign_in(client, "wrong password, long enough") == 401
    answer = client.post(
        "/admin/login",
        data={"email": EDITOR, "password": PASSWORD, "csrf_token": csrf_token(login.text)},
        follow_redirects=False,
    )
    assert answer.status_code == 303
    cookie = answer.headers["set-cookie"].lower()
    for attribute in ("httponly", "samesite=strict", "secure", "path=/admin", "max-age=43200"):
        assert attribute in cookie
    home = client.get("/admin")
    assert home.status_code == 200 and home.headers["cache-control"] == "no-store"
    assert "<svg" in home.text and "Sign out" in home.text
    # A form without its CSRF token is refused.
    assert client.post("/admin/test-copy", data={"frequency": "daily"}).status_code == 403
    post(client, "/admin", "/admin/logout")
    assert client.get("/admin", follow_redirects=False).status_code == 303


def test_sign_in_is_rate_limited(client: TestClient) -> None:
    codes = [sign_in(client, f"wrong password number {n}") for n in range(6)]
    assert codes[:5] == [401] * 5 and codes[5] == 429


def test_pages_and_actions(client: TestClient, newsroom: Newsroom) -> None:
    newsroom.post_article(client, "Bridge reopens", "Local")
    newsroom.cli("subscribers", "add", "reader@example.org", "--confirmed")
    assert sign_in(client) == 303
    transport = newsroom.publisher._services.mailer.transports()
    assert isinstance(transport, MemoryTransport)

    # A test copy to the editor.
    page = post(client, "/admin", "/admin/test-copy", frequency="daily")
    assert f"test copy sent to {EDITOR}" in page
    assert [m.recipient for m in transport.sent] == [EDITOR]

    # A preview as a reader.
    preview = client.get("/admin/preview?email=reader@example.org&frequency=daily")
    assert "/admin/preview/copy?" in preview.text
    copy = client.get("/admin/preview/copy?email=reader%40example.org&frequency=daily")
    assert "Bridge reopens" in copy.text and copy.headers["x-frame-options"] == "SAMEORIGIN"

    # Send now: a confirmation first, then progress to 100 %.
    confirm = client.get("/admin/send?frequency=daily")
    assert "1 reader(s)" in confirm.text
    refused = post(client, "/admin/send?frequency=daily", "/admin/send", frequency="daily")
    assert "tick the confirmation" in refused
    page = post(
        client, "/admin/send?frequency=daily", "/admin/send", frequency="daily", confirm="yes"
    )
    key = re.search(r"Edition (daily/[0-9-]+)", page)
    assert key, page
    for _ in range(100):
        page = client.get(f"/admin/editions/{key.group(1)}").text
        if "100 %" in page:
            break
        time.sleep(0.1)
    assert "100 %" in page and 'http-equiv="refresh"' not in page
    assert "reader@example.org" in [m.recipient for m in transport.sent]
    assert "Bridge reopens" in client.get(f"/admin/copy/{key.group(1)}").text

    # Subscribers: search, suppress (a reason is required) and reactivate.
    assert "reader@example.org" in client.get("/admin/subscribers?q=READER").text
    subscriber = "/admin/subscribers/reader@example.org"
    refused = client.post(
        f"{subscriber}/suppress",
        data={"csrf_token": csrf_token(client.get(subscriber).text), "reason": " "},
    )
    assert refused.status_code == 400
    page = post(client, subscriber, f"{subscriber}/suppress", reason="asked by phone")
    assert "asked by phone" in page and "Reactivate" in page
    page = post(client, subscriber, f"{subscriber}/reactivate", reason="asked again")
    assert "active" in page and "asked again" in page

    # Articles: list and retract.
    listing = client.get("/admin/articles").text
    action = re.search(r'action="(/admin/articles/\d+/retract)"', listing)
    assert action
    assert "retracted" in post(client, "/admin/articles", action.group(1))


def test_pause_and_resume_a_send(client: TestClient, newsroom: Newsroom) -> None:
    newsroom.post_article(client, "Bridge reopens", "Local")
    newsroom.cli("subscribers", "add", "reader@example.org", "--confirmed")
    # The edition's rows made, nothing sent yet (as the scheduler leaves it before draining).
    key = newsroom.publisher._services.mailer.prepare(Frequency.DAILY).key
    assert sign_in(client) == 303
    page = post(client, f"/admin/editions/{key}", f"/admin/pause/{key}")
    assert "(paused)" in page and "Resume sending" in page
    page = post(client, f"/admin/editions/{key}", f"/admin/resume/{key}")
    for _ in range(100):
        if "100 %" in page:
            break
        time.sleep(0.1)
        page = client.get(f"/admin/editions/{key}").text
    assert "100 %" in page
