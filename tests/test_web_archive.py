"""The archive: sent editions listed, each one's web copy ("view in browser").

Every state the pages show is reached the way a newsroom reaches it: articles through the
publishing API, readers and sends through the ``publisher`` command line. No test writes an
edition's state into the store: the product marks an edition sent when its last delivery
is final, and the archive shows only what the product marked.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner
from webkit import API_TOKEN, KEY, TestClient, make_settings

from publisher.cli import main
from publisher.core import Publisher, make_publisher
from publisher.delivery import MemoryTransport
from publisher.web import create_app


class Newsroom:
    """A project on one store: the web app (HTTP) and the command line, as an editor uses them."""

    def __init__(self, project: Path, database_url: str) -> None:
        self.project = project
        self.env = {
            "PUBLISHER_SECRET_KEY": KEY,
            "PUBLISHER_DATABASE__URL": database_url,
            "PUBLISHER_WEB__API_TOKEN": API_TOKEN,
            "PUBLISHER_DIGEST__FROM_ADDRESS": "news@news.example.org",
        }
        settings = make_settings(project, database_url, **self.env)
        self.publisher: Publisher = make_publisher(
            settings, transport=MemoryTransport(), create=True
        )

    def cli(self, *args: str) -> str:
        result = CliRunner().invoke(main, ["--root", str(self.project), *args], env=self.env)
        assert result.exit_code == 0, result.output
        return result.output

    def post_article(self, client: TestClient, title: str, html: str, hours_ago: float) -> None:
        published = datetime.now(UTC) - timedelta(hours=hours_ago)
        response = client.post(
            "/api/articles",
            json={"title": title, "content_html": html, "published_at": published.isoformat()},
            headers={"Authorization": f"Bearer {API_TOKEN}"},
        )
        assert response.status_code == 201, response.text

    def send(self) -> str:
        """``publisher digest send``; returns the edition's key."""
        key = json.loads(self.cli("digest", "send", "--json"))["edition_key"]
        assert isinstance(key, str)
        return key


@pytest.fixture
def newsroom(project: Path) -> Iterator[Newsroom]:
    made = Newsroom(project, f"sqlite:///{project / 'archive.db'}")
    yield made
    made.publisher.close()


@pytest.fixture
def client(newsroom: Newsroom) -> Iterator[TestClient]:
    with TestClient(create_app(newsroom.publisher)) as test_client:
        yield test_client


def test_sent_edition_is_listed_and_its_web_copy_shown(
    client: TestClient, newsroom: Newsroom
) -> None:
    assert "No digest has been sent yet" in client.get("/archive").text
    for i, title in enumerate(("Bridge reopens", "Cup final tonight")):
        newsroom.post_article(client, title, f"<p>{title}: the story.</p>", hours_ago=2 + i)
    newsroom.cli("subscribers", "add", "reader@example.org", "--confirmed")
    key = newsroom.send()
    listing = client.get("/archive")
    assert listing.status_code == 200
    assert f'href="/archive/{key}"' in listing.text and "2 articles" in listing.text
    page = client.get(f"/archive/{key}")
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


def test_an_edition_goes_to_the_archive_when_sent_even_to_nobody(
    client: TestClient, newsroom: Newsroom
) -> None:
    """No reader yet: the edition has no delivery to wait for, so it is sent at once."""
    newsroom.post_article(client, "Lantern walk returns", "<p>Lanterns.</p>", hours_ago=1)
    key = newsroom.send()
    assert f'href="/archive/{key}"' in client.get("/archive").text
    assert '"state": "sent"' in newsroom.cli("digest", "status", key, "--json")


def test_archive_shows_only_sanitised_article_html(client: TestClient, newsroom: Newsroom) -> None:
    newsroom.post_article(
        client,
        "Evil <script>alert(1)</script> title",
        '<p onclick="x()">Hi</p><script>alert(2)</script>'
        '<iframe src="https://evil.example"></iframe>',
        hours_ago=1,
    )
    key = newsroom.send()
    page = client.get(f"/archive/{key}").text
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


def test_skipped_edition_has_no_page_and_is_not_listed(
    client: TestClient, newsroom: Newsroom
) -> None:
    newsroom.cli("subscribers", "add", "reader@example.org", "--confirmed")
    key = newsroom.send()  # no article in the window: the edition is skipped
    assert '"state": "skipped"' in newsroom.cli("digest", "status", key, "--json")
    assert client.get(f"/archive/{key}").status_code == 404
    assert "No digest has been sent yet" in client.get("/archive").text


def test_archive_paging_input(client: TestClient) -> None:
    assert client.get("/archive?page=abc").status_code == 400
    assert client.get("/archive?page=0").status_code == 400
    assert client.get("/archive?page=2").status_code == 200
