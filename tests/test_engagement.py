"""Click and open counting, reached as a reader and an editor reach it.

Articles come in through the publishing API, the reader through ``subscribers add``, the
edition through ``digest send`` (the outbox transport writes the mail), clicks through the
links in that mail, the counts through ``GET /api/editions/KEY`` and ``digest report``.
"""

from __future__ import annotations

import json
import quopri
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from click.testing import CliRunner
from webkit import API_TOKEN, KEY, TestClient, make_settings

from publisher.cli import main
from publisher.core import MemoryTransport, Publisher, make_publisher
from publisher.engagement import Classifier, LinkTokens
from publisher.web import create_app

SITE = "https://news.example.org"
AUTH = {"Authorization": f"Bearer {API_TOKEN}"}
BROWSER = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 Chrome/130 Safari/537.36"
_TRACKED = re.compile(r"https://news\.example\.org/r/[a-z0-9.~]+")


class Newsroom:
    """One project: the web app, the command line and the outbox, as an editor has them."""

    def __init__(self, project: Path, database_url: str = "", **env: str) -> None:
        self.project = project
        self.env = {
            "PUBLISHER_SECRET_KEY": KEY,
            "PUBLISHER_DATABASE__URL": database_url or f"sqlite:///{project / 'news.db'}",
            "PUBLISHER_WEB__API_TOKEN": API_TOKEN,
            "PUBLISHER_DIGEST__FROM_ADDRESS": "news@news.example.org",
            "PUBLISHER_SITE__URL": SITE,
            **env,
        }
        settings = make_settings(project, self.env["PUBLISHER_DATABASE__URL"], **self.env)
        self.publisher: Publisher = make_publisher(
            settings, transport=MemoryTransport(), create=True
        )

    def cli(self, *args: str, code: int = 0, input_text: str | None = None) -> str:
        result = CliRunner().invoke(
            main, ["--root", str(self.project), *args], env=self.env, input=input_text
        )
        assert result.exit_code == code, result.output
        return result.output

    def post_article(self, client: TestClient, title: str, category: str) -> None:
        published = datetime.now(UTC) - timedelta(hours=1)
        body = {
            "title": title,
            "url": f"https://news.example.org/stories/{title.lower().replace(' ', '-')}",
            "content_html": f"<p>{title}.</p>",
            "published_at": published.isoformat(),
            "categories": [category],
        }
        response = client.post("/api/articles", json=body, headers=AUTH)
        assert response.status_code == 201, response.text

    def send(self, client: TestClient) -> tuple[str, str]:
        """Two articles, one reader, ``digest send``; (edition key, the reader's HTML)."""
        self.post_article(client, "Bridge reopens", "Local")
        self.post_article(client, "Cup final tonight", "Sport")
        self.cli("subscribers", "add", "reader@example.org", "--confirmed")
        key = json.loads(self.cli("digest", "send", "--json"))["edition_key"]
        return key, mail_html(self.project, key)


def mail_html(project: Path, key: str) -> str:
    files = sorted((project / "var" / "outbox").rglob("*.eml"))
    files = [f for f in files if "confirm" not in str(f)]
    assert files, "no digest in the outbox"
    message = BytesParser(policy=policy.default).parsebytes(files[-1].read_bytes())
    assert isinstance(message, EmailMessage)
    part = message.get_body(("html",))
    assert part is not None
    raw = part.get_payload(decode=False)
    assert isinstance(raw, str)
    return quopri.decodestring(raw.encode("ascii")).decode("utf-8")


@pytest.fixture
def newsroom(project: Path) -> Iterator[Newsroom]:
    made = Newsroom(project)
    yield made
    made.publisher.close()


@pytest.fixture
def client(newsroom: Newsroom) -> Iterator[TestClient]:
    with TestClient(create_app(newsroom.publisher), headers={"user-agent": BROWSER}) as c:
        yield c


def report(client: TestClient, key: str) -> dict[str, object]:
    response = client.get(f"/api/editions/{key}", headers=AUTH)
    assert response.status_code == 200, response.text
    found = response.json()
    assert isinstance(found, dict)
    return found


def test_digest_links_go_through_r_and_count_per_link(
    client: TestClient, newsroom: Newsroom
) -> None:
    key, html = newsroom.send(client)
    tracked = sorted(set(_TRACKED.findall(html)))
    # Articles, view in browser, the two category headings and the home page; not the
    # unsubscribe or preferences links, which stay direct.
    assert len(tracked) >= 5, tracked
    assert re.search(r'href="https://news\.example\.org/unsubscribe/', html)
    assert re.search(r'href="https://news\.example\.org/preferences/', html)
    assert "/o/" not in html  # opens are off by default
    # No reader in the token by default: the mail's links are the edition's, for everyone.
    assert all("~" not in t for t in tracked)

    targets = {}
    for url in tracked:
        answer = client.get(urlsplit(url).path, follow_redirects=False)
        assert answer.status_code == 302
        assert answer.headers["cache-control"] == "no-store"
        targets[url] = answer.headers["location"]
    assert "https://news.example.org/stories/bridge-reopens" in targets.values()
    assert f"https://news.example.org/archive/{key}" in targets.values()
    assert "https://news.example.org/categories/local" in targets.values()

    found = report(client, key)
    assert found["clicks"] == {"human": len(tracked), "automated": 0}
    links = found["links"]
    assert isinstance(links, list)
    by_title = {link["title"]: link for link in links}
    assert by_title["Bridge reopens"]["human"] == 1
    assert by_title["Bridge reopens"]["kind"] == "article"
    assert found["recipients"] == 1 and found["sent"] == 1
    assert {c["slug"] for c in found["top_categories"]} == {"local", "sport"}  # type: ignore[attr-defined]


def test_unique_ish_counting_and_automated_requests(client: TestClient, newsroom: Newsroom) -> None:
    key, html = newsroom.send(client)
    story = next(
        u
        for u in _TRACKED.findall(html)
        if client.get(urlsplit(u).path, follow_redirects=False, headers={"user-agent": "curl/8"})
        .headers["location"]
        .endswith("/stories/bridge-reopens")
    )
    path = urlsplit(story).path
    for _ in range(3):  # the same client within the hour: one click
        client.get(path, follow_redirects=False)
    client.get(path, follow_redirects=False, headers={"user-agent": BROWSER + " Other/1"})
    client.head(path)  # a prefetcher checking the link
    client.get(path, follow_redirects=False, headers={"user-agent": "Mimecast-URL-Scanner"})
    links = {link["title"]: link for link in report(client, key)["links"]}  # type: ignore[union-attr]
    assert links["Bridge reopens"]["human"] == 2
    assert links["Bridge reopens"]["automated"] >= 3  # HEAD, the scanner and curl


@pytest.mark.parametrize(
    "token",
    ["nonsense", "1.1.aaaaaaaaaaaa", "1.1", "x" * 200, "1.1.aaaaaaaaaaaa~1.bbbbbbbbbbbb"],
)
def test_a_bad_token_redirects_home(client: TestClient, token: str) -> None:
    answer = client.get(f"/r/{token}", follow_redirects=False)
    assert answer.status_code == 302
    assert answer.headers["location"] == SITE + "/"


def test_a_token_signed_with_another_key_redirects_home(client: TestClient) -> None:
    forged = LinkTokens("another-key").make(1, 1)
    answer = client.get(f"/r/{forged}", follow_redirects=False)
    assert answer.headers["location"] == SITE + "/"


def test_scanner_classification() -> None:
    classifier = Classifier(["40.92.0.0/15", "2a01:111::/32"])
    assert classifier.automated("GET", BROWSER, "40.93.1.2")
    assert classifier.automated("GET", BROWSER, "2a01:111::5")
    assert not classifier.automated("GET", BROWSER, "192.0.2.7")
    assert classifier.automated("HEAD", BROWSER, "192.0.2.7")
    assert classifier.automated("GET", "", "192.0.2.7")
    assert classifier.automated("GET", "Mozilla/5.0 (compatible; Barracuda)", "192.0.2.7")


def test_report_needs_the_bearer_token(client: TestClient) -> None:
    assert client.get("/api/editions/daily/2026-11-27").status_code == 401
    missing = client.get("/api/editions/daily/2026-11-27", headers=AUTH)
    assert missing.status_code == 404


def test_utm_opens_and_per_reader_when_turned_on(project: Path, database_url: str) -> None:
    """On SQLite and PostgreSQL: the per-reader rows are an upsert in each dialect."""
    made = Newsroom(
        project,
        database_url,
        PUBLISHER_ENGAGEMENT__UTM="true",
        PUBLISHER_ENGAGEMENT__OPENS="true",
        PUBLISHER_ENGAGEMENT__PER_READER="true",
    )
    with TestClient(create_app(made.publisher), headers={"user-agent": BROWSER}) as client:
        key, html = made.send(client)
        tracked = _TRACKED.findall(html)
        assert tracked and all("~" in t for t in tracked)  # the reader's signed tag
        answer = client.get(urlsplit(tracked[0]).path, follow_redirects=False)
        query = parse_qs(urlsplit(answer.headers["location"]).query)
        assert query["utm_medium"] == ["email"]
        assert query["utm_campaign"] == [key.replace("/", "-")]
        image = re.search(r'src="https://news\.example\.org(/o/[a-z0-9.~]+\.gif)"', html)
        assert image, "no open image"
        assert client.get(image.group(1)).headers["content-type"] == "image/gif"
        found = report(client, key)
        assert found["opens"] == {"counted": True, "human": 1, "automated": 0}
        client.get(urlsplit(tracked[1]).path, follow_redirects=False)  # a reader's second link
        assert report(client, key)["clicks"] == {"human": 2, "automated": 0}
        # The archive's web copy is nobody's reading of the mail: its links are direct.
        assert "/r/" not in client.get(f"/archive/{key}").text
    made.publisher.close()


def test_digest_report_command(client: TestClient, newsroom: Newsroom) -> None:
    key, html = newsroom.send(client)
    client.get(urlsplit(_TRACKED.findall(html)[0]).path, follow_redirects=False)
    report(client, key)  # the web service's tally is written
    data = json.loads(newsroom.cli("digest", "report", "--json"))
    assert data["key"] == key and data["clicks"]["human"] == 1
    text = newsroom.cli("digest", "report", key)
    assert key in text and "clicks" in text
    assert "no edition" in newsroom.cli("digest", "report", "daily/2001-01-01", code=1).lower()
