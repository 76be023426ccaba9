"""Malformed requests never get a 5xx: a battery sent to every route of the app.

Every route the app has (found from the app, not listed by hand) gets every method, path
parameters that are hostile (NUL, over-long, invalid UTF-8, traversal, controls) and bodies
that are malformed (deeply nested JSON, broken multipart, wrong types, binary). Each answer
must be below 500, and nothing may be logged with a traceback.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner
from webkit import API_TOKEN, TestClient, make_settings, seed_articles

from publisher.cli import main
from publisher.core import Publisher, make_publisher
from publisher.delivery import MemoryTransport
from publisher.web import create_app

DEEP_JSON = b"[" * 30_000 + b"]" * 30_000  # under the 64 KiB form limit
DEEP_OBJECT = b'{"email": ' + b"[" * 20_000 + b"]" * 20_000 + b"}"
PARAMS = [
    "%00",
    "a%00b",
    "x" * 5000,
    "%ff%fe",
    "..%2f..%2f..%2fetc%2fpasswd",
    "%0d%0aSet-Cookie:%20x=y",
    "%c0%ae%c0%ae",
    "a" * 300 + "/" + "b" * 300,
    "rss.xml%00.html",
    "%e2%80%ae",
    "daily/0001-01-01",
    "category/a%00b/rss.xml",
    "category/" + "x" * 300 + "/atom.xml",
    "category/%01/feed.json",
]
BODIES: list[tuple[str, bytes]] = [
    ("application/json", DEEP_JSON),
    ("application/json", DEEP_OBJECT),
    ("application/json", b'{"email": 1e999999, "name": {"a": [1]}}'),
    ("application/json", b"\xff\xfe\x00{"),
    ("application/json", b'{"email": "a@b.c", "categories": "x" }'),
    ("application/json", b'[{"title": "t", "published_at": "0001-01-01T00:00:00Z"}]'),
    ("application/json", b'{"title": "t", "published_at": "9999-12-31T23:59:59-12:00"}'),
    ("application/x-www-form-urlencoded", b"%%%&&&=\xff&email=%00"),
    ("multipart/form-data; boundary=x", b"--x\r\nContent-Disposition: form-data\r\n\r\n"),
    ("multipart/form-data", b"no boundary"),
    ("text/plain", b"\x00" * 100),
    ("", b""),
]
METHODS = ["GET", "HEAD", "POST", "PUT", "DELETE", "OPTIONS", "PATCH"]


@pytest.fixture
def publisher(project: Path) -> Iterator[Publisher]:
    url = f"sqlite:///{project / 'var' / 'battery.db'}"
    settings = make_settings(project, url, PUBLISHER_WEB__SUBSCRIBE_PER_MINUTE="100000")
    made = make_publisher(settings, transport=MemoryTransport(), create=True)
    seed_articles(made)
    made.feeds.build(all=True)
    yield made
    made.close()


def paths(client: TestClient) -> list[str]:
    """Every route of the app, each path parameter filled with every hostile value."""
    found = []
    for route in client.app.routes:  # type: ignore[attr-defined]
        path = getattr(route, "path", "")
        if "{" not in path:
            found += [path, path + "/", path + "%00"]
            continue
        prefix = path.split("{", 1)[0]
        found += [prefix + value for value in PARAMS]
    return sorted(set(found))


@pytest.mark.slow
def test_no_malformed_request_gets_a_5xx_or_a_traceback(
    publisher: Publisher, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING)
    failures = []
    with TestClient(create_app(publisher), raise_server_exceptions=False) as client:
        auth = {"Authorization": f"Bearer {API_TOKEN}"}
        for path in paths(client):
            for method in METHODS:
                response = client.request(method, path)
                if response.status_code >= 500:
                    failures.append((method, path[:80], response.status_code))
            for content_type, body in BODIES:
                headers = {"Content-Type": content_type, **auth} if content_type else auth
                response = client.request("POST", path, content=body, headers=headers)
                if response.status_code >= 500:
                    failures.append(
                        ("POST", path[:80], content_type, body[:40], response.status_code)
                    )
    assert failures == []
    tracebacks = [r for r in caplog.records if r.exc_info or r.levelno >= logging.ERROR]
    assert [r.getMessage()[:200] for r in tracebacks] == []


def test_an_article_dated_year_one_is_refused_at_ingestion_with_a_line(project: Path) -> None:
    (project / ".env").write_text("PUBLISHER_SECRET_KEY=k-0123456789abcdef\n", encoding="utf-8")
    story = project / "old.md"
    story.write_text("---\ntitle: Very old\ndate: 0001-01-01T00:00:00Z\n---\nText.\n")
    runner = CliRunner()
    root = ["--root", str(project)]
    assert runner.invoke(main, [*root, "init"]).exit_code == 0
    result = runner.invoke(main, [*root, "articles", "add", str(story)])
    assert result.exit_code != 0
    assert "old.md" in result.output and "year" in result.output
    assert "Very old" not in runner.invoke(main, [*root, "articles", "list"]).output
