"""The public pages from the page cache, tried on a real ``publisher serve`` process.

* Pages answer conditional requests: the ETag of a page comes back as a bodiless 304
  while nothing changed (home, article, category, archive). Feed files too, and a feed
  file rebuilt by another process is served in its new version at once.
* The cache is right across processes: an article imported by the CLI (another process
  than the server) is on the home page and its category page within 1 s (the server asks
  the store's content version, one row, every CHECK_SECONDS), and a retracted one is gone
  as fast; on both databases, an article the CLI adds is there as soon as the server
  next asks.
* The home page's CSRF token is filled in per request: two readers get different tokens,
  the copy a reader revalidated (304) still subscribes, and no placeholder leaks out.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner
from test_serve import Serve
from webkit import TestClient, make_settings

from publisher.cli import main
from publisher.core import make_publisher
from publisher.delivery import MemoryTransport
from publisher.types import ArticleInput
from publisher.web import create_app
from publisher.web.pagecache import CHECK_SECONDS, PLACEHOLDER

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parent.parent
PAGES = ("/", "/articles/mill-lane-footbridge-reopens", "/categories/local", "/archive")
NEW_ARTICLE = """---
title: "Night ferry returns to the estuary"
date: 2026-11-28T08:00:00+00:00
categories:
  - Local
slug: night-ferry-returns
---

The night ferry runs again from Friday.
"""


def _cli(project: Path, *args: str, env: dict[str, str] | None = None) -> None:
    result = CliRunner().invoke(main, ["--root", str(project), *args], env=env or {})
    assert result.exit_code == 0, result.output


@pytest.fixture
def site(project: Path) -> Iterator[Serve]:
    _cli(project, "init")
    _cli(project, "articles", "import", str(ROOT / "examples" / "articles"))
    server = Serve(project, {}, "--no-scheduler", "--no-worker")
    server.wait_ready()
    yield server
    server.kill()


def _token(page: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert found, page
    return found.group(1)


def _within(seconds: float, check: Callable[[], bool]) -> float:
    """Seconds until ``check()`` holds, failing after ``seconds``."""
    started = time.monotonic()
    while not check():
        assert time.monotonic() - started < seconds, "not seen in time"
        time.sleep(0.02)
    return time.monotonic() - started


def test_pages_answer_304_until_another_process_changes_an_article(
    site: Serve, project: Path, tmp_path: Path
) -> None:
    with httpx.Client(base_url=site.url, timeout=5) as reader:
        tags = {}
        for path in PAGES:
            first = reader.get(path)
            assert first.status_code == 200, path
            assert first.headers["cache-control"].endswith("no-cache"), path
            tags[path] = first.headers["etag"]
            again = reader.get(path, headers={"If-None-Match": tags[path]})
            assert (again.status_code, again.content) == (304, b""), path
            assert again.headers["etag"] == tags[path]
        feed = reader.get("/feeds/rss.xml").headers["etag"]  # the first read fills the cache
        assert reader.get("/feeds/rss.xml", headers={"If-None-Match": feed}).status_code == 304

        source = tmp_path / "new" / "ferry.md"
        source.parent.mkdir()
        source.write_text(NEW_ARTICLE, encoding="utf-8")
        _cli(project, "articles", "import", str(source.parent))
        _within(1.0, lambda: "Night ferry returns" in reader.get("/").text)
        for path in ("/", "/categories/local"):
            changed = reader.get(path, headers={"If-None-Match": tags[path]})
            assert changed.status_code == 200, path
            assert "Night ferry returns" in changed.text
        # The CLI rebuilt the feed file: the server serves the new version, not its copy.
        renewed = reader.get("/feeds/rss.xml", headers={"If-None-Match": feed})
        assert renewed.status_code == 200 and "Night ferry returns" in renewed.text

        _cli(project, "articles", "remove", "night-ferry-returns")
        _within(1.0, lambda: "Night ferry returns" not in reader.get("/").text)
        assert reader.get("/articles/night-ferry-returns").status_code == 404

        # An edit dated before the newest change (its ``updated`` is old) shows as fast.
        older = ROOT / "examples" / "articles" / "01-mill-lane-footbridge-reopens.md"
        edited = (
            older.read_text(encoding="utf-8")
            .replace('title: "Mill Lane', 'title: "Mill Lane footbridge finally reopens; Mill Lane')
            .replace(
                "date: 2026-11-10T07:45:00+00:00",
                "date: 2026-11-10T07:45:00+00:00\nupdated: 2026-11-11T00:00:00+00:00",
            )  # older than the newest change
        )
        article = "/articles/mill-lane-footbridge-reopens"
        assert "finally" not in reader.get(article).text  # cached as it is now
        source.unlink()
        (source.parent / older.name).write_text(edited, encoding="utf-8")
        _cli(project, "articles", "add", str(source.parent / older.name))
        _within(1.0, lambda: "footbridge finally reopens" in reader.get(article).text)


def test_the_home_page_token_is_filled_per_reader_and_a_revalidated_copy_subscribes(
    site: Serve,
) -> None:
    with (
        httpx.Client(base_url=site.url, timeout=5) as one,
        httpx.Client(base_url=site.url, timeout=5) as two,
    ):
        first, other = one.get("/"), two.get("/")
        assert PLACEHOLDER not in first.text and PLACEHOLDER not in other.text
        assert _token(first.text) != _token(other.text)
        assert first.headers["etag"] != other.headers["etag"]  # each names its reader
        # The reader's browser revalidates its copy: 304, and that copy's form still works.
        again = one.get("/", headers={"If-None-Match": first.headers["etag"]})
        assert again.status_code == 304
        sent = one.post(
            "/subscribe",
            data={"email": "reader@example.org", "csrf_token": _token(first.text)},
        )
        assert sent.status_code == 200 and "Check your inbox" in sent.text
        # Another reader's ETag is no use to this one: a full page with this reader's token.
        crossed = one.get("/", headers={"If-None-Match": other.headers["etag"]})
        assert crossed.status_code == 200 and _token(crossed.text) != _token(other.text)


def test_an_article_the_cli_adds_is_on_a_running_servers_home_page_at_once(
    project: Path, database_url: str, tmp_path: Path
) -> None:
    """No stale copy on either database: the server's cached home page (answered in front
    of the app) gives way to the new one as soon as the server next asks the content
    version, at most CHECK_SECONDS after the CLI's commit (a second of slack for a loaded
    host)."""
    env = {"PUBLISHER_DATABASE__URL": database_url}
    _cli(project, "init", env=env)
    _cli(project, "articles", "import", str(ROOT / "examples" / "articles"), env=env)
    server = Serve(project, env, "--no-scheduler", "--no-worker")
    try:
        server.wait_ready()
        with httpx.Client(base_url=server.url, timeout=5) as reader:
            first = reader.get("/")
            again = reader.get("/")  # the cached copy
            assert again.headers["etag"] == first.headers["etag"]
            assert "Night ferry returns" not in again.text
            source = tmp_path / "ferry.md"
            source.write_text(NEW_ARTICLE, encoding="utf-8")
            _cli(project, "articles", "add", str(source), env=env)
            waited = _within(
                CHECK_SECONDS + 1.0, lambda: "Night ferry returns" in reader.get("/").text
            )
            assert (
                reader.get("/", headers={"If-None-Match": first.headers["etag"]}).status_code == 200
            )
    finally:
        server.kill()
    assert waited < CHECK_SECONDS + 1.0


# --- the same on both databases: a second Publisher on the store is "another process" ----


def _poll(check: Callable[[], bool]) -> None:
    _within(1.0, check)


def test_a_change_by_another_publisher_shows_within_the_bound(
    project: Path, database_url: str
) -> None:
    """The web side's cache never hears of the other side's writes (its change counter does
    not move): only the store's content version tells it, on SQLite and PostgreSQL."""
    settings = make_settings(project, database_url)
    web_side = make_publisher(settings, transport=MemoryTransport(), create=True)
    other = make_publisher(settings, transport=MemoryTransport())
    when = datetime(2026, 11, 21, 8, 0, tzinfo=UTC)
    day_before = when.replace(day=20)
    other.store_article(
        ArticleInput("Bridge opens", "<p>Bridge opens.</p>", day_before, updated_at=day_before)
    )
    try:
        with TestClient(create_app(web_side)) as client:
            assert "Bridge opens" in client.get("/").text
            page = client.get("/articles/bridge-opens")
            assert (
                client.get(
                    "/articles/bridge-opens", headers={"If-None-Match": page.headers["etag"]}
                ).status_code
                == 304
            )
            other.store_article(ArticleInput("Late news", "<p>Late.</p>", when, updated_at=when))
            _poll(lambda: "Late news" in client.get("/").text)
            # An edit dated before the newest change, of an article not the newest.
            assert "at last" not in client.get("/articles/bridge-opens").text  # cached now
            edit = ArticleInput(
                "Bridge opens",
                "<p>Bridge opens at last.</p>",
                when.replace(day=20),
                updated_at=when.replace(day=20, hour=9),
                slug="bridge-opens",
            )
            other.store_article(edit)
            _poll(lambda: "Bridge opens at last." in client.get("/articles/bridge-opens").text)
            other.retract_article("late-news")
            _poll(lambda: "Late news" not in client.get("/").text)
    finally:
        web_side.close()
        other.close()
