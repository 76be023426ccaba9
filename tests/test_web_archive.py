"""The archive: sent editions listed, each one's web copy ("view in browser"), on a real
store with editions made by the digest code."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from webkit import TestClient, make_settings

from publisher.core import Publisher, make_publisher
from publisher.types import ArticleInput, Category, Frequency
from publisher.web import create_app

NOW = datetime(2026, 11, 27, 8, 0, tzinfo=UTC)
KEY = "daily/2026-11-27"


@pytest.fixture
def publisher(project: Path) -> Iterator[Publisher]:
    settings = make_settings(project, f"sqlite:///{project / 'archive.db'}")
    opened = make_publisher(settings, clock=lambda: NOW, create=True)
    for i, title in enumerate(("Bridge reopens", "Cup final tonight")):
        opened.store_article(
            ArticleInput(
                title=title,
                content_html=f"<p>{title}: the story.</p>",
                published_at=NOW - timedelta(hours=2 + i),
                categories=(Category("local", "Local"),),
            )
        )
    yield opened
    opened.close()


@pytest.fixture
def client(publisher: Publisher) -> Iterator[TestClient]:
    with TestClient(create_app(publisher)) as test_client:
        yield test_client


def test_sent_edition_is_listed_and_its_web_copy_shown(
    client: TestClient, publisher: Publisher
) -> None:
    assert "No digest has been sent yet" in client.get("/archive").text
    edition = publisher._services.editions.open(Frequency.DAILY, NOW)
    assert edition.key == KEY
    # Being sent: the "view in browser" link already works; the list shows sent ones only.
    assert client.get(f"/archive/{KEY}").status_code == 200
    publisher._services.store.editions.mark(KEY, "sent")
    listing = client.get("/archive")
    assert listing.status_code == 200
    assert f'href="/archive/{KEY}"' in listing.text and "2 articles" in listing.text
    page = client.get(f"/archive/{KEY}")
    assert page.status_code == 200
    assert "Bridge reopens" in page.text and "Cup final tonight" in page.text
    csp = page.headers["content-security-policy"]
    assert "script-src" not in csp and "default-src 'none'" in csp
    assert page.headers["x-content-type-options"] == "nosniff"
    # Its footer links to the generic pages, which exist and hold no form.
    for path in ("/unsubscribe", "/preferences"):
        assert re.search(rf'href="[^"]*{path}"', page.text)
        assert client.get(path).status_code == 200
    assert "<form" not in client.get("/unsubscribe").text


def test_archive_shows_only_sanitised_article_html(
    client: TestClient, publisher: Publisher
) -> None:
    response = client.post(
        "/api/articles",
        json={
            "title": "Evil <script>alert(1)</script> title",
            "content_html": '<p onclick="x()">Hi</p><script>alert(2)</script>'
            '<iframe src="https://evil.example"></iframe>',
            "published_at": (NOW - timedelta(hours=1)).isoformat(),
        },
        headers={"Authorization": "Bearer cms-token-5f0c2a"},
    )
    assert response.status_code == 201, response.text
    publisher._services.editions.open(Frequency.DAILY, NOW)
    publisher._services.store.editions.mark(KEY, "sent")
    page = client.get(f"/archive/{KEY}").text
    assert "<script" not in page and "onclick" not in page and "<iframe" not in page
    assert "Hi" in page


@pytest.mark.parametrize(
    "path",
    [
        "/archive/daily/2026-11-26",  # no such edition
        "/archive/weekly/2026-W48",
        "/archive/daily/2026-13-45",
        "/archive/../../etc/passwd",
        "/archive/" + "x" * 500,
        "/archive/daily/2026-11-27/extra",
    ],
)
def test_unknown_or_malformed_editions_are_404(client: TestClient, path: str) -> None:
    assert client.get(path).status_code == 404


def test_skipped_edition_has_no_page(project: Path) -> None:
    settings = make_settings(project, f"sqlite:///{project / 'empty.db'}")
    publisher = make_publisher(settings, clock=lambda: NOW, create=True)
    edition = publisher._services.editions.open(Frequency.DAILY, NOW)
    assert edition.status == "skipped"
    with TestClient(create_app(publisher)) as client:
        assert client.get(f"/archive/{KEY}").status_code == 404
    publisher.close()


def test_archive_paging_input(client: TestClient) -> None:
    assert client.get("/archive?page=abc").status_code == 400
    assert client.get("/archive?page=0").status_code == 400
    assert client.get("/archive?page=2").status_code == 200
