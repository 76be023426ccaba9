"""Feeds over HTTP through the real Starlette app: R11, J3, W1, H1, H2, H3."""

from __future__ import annotations

import gzip
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from email.utils import format_datetime, parsedate_to_datetime
from pathlib import Path

import feedparser
import httpx
import pytest
import uvicorn
from feeds_support import NOW, SITE, Clock, article, clock, make_settings

from publisher.core import Publisher, make_publisher
from publisher.web import create_app

__all__ = ["clock"]
HUB = "https://hub.example.net/"


@contextmanager
def serving(pub: Publisher) -> Iterator[httpx.Client]:
    """The real app under uvicorn on a free loopback port, and an HTTP client for it."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    config = uvicorn.Config(create_app(pub), host="127.0.0.1", port=port, log_level="warning")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert time.monotonic() < deadline, "server did not start"
        time.sleep(0.02)
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}") as client:
            yield client
    finally:
        server.should_exit = True
        thread.join(timeout=5)


@pytest.fixture
def web(tmp_path: Path, clock: Clock) -> Iterator[tuple[httpx.Client, Publisher]]:
    pub = make_publisher(
        make_settings(tmp_path / "p", items=5, hubs=[HUB]), clock=clock, create=True
    )
    # Documents name the hub; no ping leaves the machine in these tests.
    pub._services.websub.hubs = ()
    pub.store_article(article(1))
    pub.store_article(article(2))
    with serving(pub) as client:
        yield client, pub
    pub.close()


def test_r11_j3_content_types(web: tuple[httpx.Client, Publisher]) -> None:
    client, _ = web
    expected = {
        "/feeds/rss.xml": "application/rss+xml; charset=utf-8",
        "/feeds/atom.xml": "application/atom+xml; charset=utf-8",
        "/feeds/feed.json": "application/feed+json",
        "/feeds/category/local/rss.xml": "application/rss+xml; charset=utf-8",
    }
    for path, kind in expected.items():
        response = client.get(path)
        assert response.status_code == 200, path
        assert response.headers["content-type"] == kind
    assert not feedparser.parse(client.get("/feeds/rss.xml").content).bozo


def test_w1_link_headers_self_and_hub(web: tuple[httpx.Client, Publisher]) -> None:
    client, _ = web
    for path in ("/feeds/atom.xml", "/feeds/category/local/feed.json"):
        links = client.get(path).headers["link"]
        assert f'<{SITE}{path}>; rel="self"' in links
        assert f'<{HUB}>; rel="hub"' in links


def test_h1_etag_and_last_modified_with_conditional_requests(
    web: tuple[httpx.Client, Publisher], clock: Clock
) -> None:
    client, pub = web
    first = client.get("/feeds/rss.xml", headers={"accept-encoding": "identity"})
    etag, modified = first.headers["etag"], first.headers["last-modified"]
    assert parsedate_to_datetime(modified) == NOW - timedelta(hours=1)  # newest item change
    assert client.get("/feeds/rss.xml").headers["etag"].startswith(etag[:-1])  # stable
    plain = {"accept-encoding": "identity"}
    hit = client.get("/feeds/rss.xml", headers={**plain, "if-none-match": etag})
    assert hit.status_code == 304 and hit.content == b""
    assert hit.headers["etag"] == etag
    gz_tag = client.get("/feeds/rss.xml").headers["etag"]  # the gzip body has its own tag
    assert gz_tag != etag
    assert client.get("/feeds/rss.xml", headers={"if-none-match": gz_tag}).status_code == 304
    assert client.get("/feeds/rss.xml", headers={"if-modified-since": modified}).status_code == 304
    # If-None-Match wins: a stale tag gets the body even with a fresh date.
    stale = client.get(
        "/feeds/rss.xml", headers={"if-none-match": '"old"', "if-modified-since": modified}
    )
    assert stale.status_code == 200
    older = format_datetime(NOW - timedelta(days=1), usegmt=True)
    assert client.get("/feeds/rss.xml", headers={"if-modified-since": older}).status_code == 200
    # A new article changes the bytes, the tag and the date.
    clock.advance(minutes=5)
    pub.store_article(article(9, published_at=clock.now - timedelta(minutes=1)))
    changed = client.get("/feeds/rss.xml", headers={"if-none-match": etag})
    assert changed.status_code == 200 and changed.headers["etag"] != etag
    assert parsedate_to_datetime(changed.headers["last-modified"]) > parsedate_to_datetime(modified)


def test_h2_cache_control_and_gzip(web: tuple[httpx.Client, Publisher]) -> None:
    client, pub = web
    plain = client.get("/feeds/atom.xml", headers={"accept-encoding": "identity"})
    assert plain.headers["cache-control"] == "public, max-age=300"
    assert "content-encoding" not in plain.headers
    # Accept too: a browser (Accept: text/html) gets the same bytes as application/xml.
    assert plain.headers["vary"] == "Accept-Encoding, Accept"
    packed = client.get("/feeds/atom.xml", headers={"accept-encoding": "gzip, deflate"})
    assert packed.headers["content-encoding"] == "gzip"
    assert int(packed.headers["content-length"]) < len(plain.content)
    raw = (pub.feeds.out_dir / "atom.xml").read_bytes()
    assert packed.content == raw  # httpx decoded it: same bytes as the file
    assert gzip.decompress(gzip.compress(raw, mtime=0)) == raw
    refused = client.get("/feeds/atom.xml", headers={"accept-encoding": "gzip;q=0"})
    assert "content-encoding" not in refused.headers


def test_h3_feeds_page_has_autodiscovery_links(web: tuple[httpx.Client, Publisher]) -> None:
    client, _ = web
    page = client.get("/feeds/")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    for kind, href in (
        ("application/rss+xml", f"{SITE}/feeds/rss.xml"),
        ("application/atom+xml", f"{SITE}/feeds/atom.xml"),
        ("application/feed+json", f"{SITE}/feeds/feed.json"),
    ):
        assert f'<link rel="alternate" type="{kind}"' in page.text
        assert f'href="{href}"' in page.text
    assert f"{SITE}/feeds/category/local/atom.xml" in page.text


def test_unknown_or_unsafe_paths_are_404(web: tuple[httpx.Client, Publisher]) -> None:
    client, _ = web
    for path in (
        "/feeds/nope.xml",
        "/feeds/category/none/rss.xml",
        "/feeds/.lock",
        "/feeds/.published-through",
        "/feeds/../config/publisher.toml",
        "/feeds/category/%2e%2e/%2e%2e/rss.xml",
    ):
        assert client.get(path).status_code == 404, path


def test_first_request_on_an_empty_folder_builds_the_feeds(tmp_path: Path, clock: Clock) -> None:
    pub = make_publisher(make_settings(tmp_path / "p"), clock=clock, create=True)
    pub._services.store.articles.upsert(
        article(1)
    )  # stored behind the Publisher's back: no feeds yet
    assert not (pub.feeds.out_dir / "rss.xml").exists()
    with serving(pub) as client:
        response = client.get("/feeds/rss.xml")
    pub.close()
    assert response.status_code == 200
    assert feedparser.parse(response.content).entries[0].title == "Story number 1"
