"""Writing feeds: atomic, only changed bytes, exactly the touched feeds, scheduled articles,
byte-identical output from the same store, and the ``publisher feeds`` commands."""

from __future__ import annotations

import json
import os
import time
from datetime import timedelta
from pathlib import Path

import feedparser
import pytest
from click.testing import CliRunner
from feeds_support import (
    LOCAL,
    NOW,
    SPORT,
    Clock,
    article,
    clock,
    make_settings,
    parsed,
    publisher,
)

from publisher.cli import main
from publisher.core import Publisher, make_publisher
from publisher.exceptions import FeedError
from publisher.feeds.writer import write_if_changed

__all__ = ["clock", "publisher"]


def _stamps(pub: Publisher) -> dict[str, tuple[int, int]]:
    """(inode, mtime_ns) of every feed file: a rewrite (rename) changes the inode."""
    out = pub.feeds.out_dir
    return {
        str(p.relative_to(out)): (p.stat().st_ino, p.stat().st_mtime_ns)
        for p in out.rglob("*")
        if p.is_file() and not p.name.startswith(".")
    }


def _changed(before: dict[str, tuple[int, int]], after: dict[str, tuple[int, int]]) -> set[str]:
    return {k for k in after if before.get(k) != after[k]}


def test_writer_is_atomic_and_skips_unchanged_bytes(tmp_path: Path) -> None:
    target = tmp_path / "feeds" / "rss.xml"
    assert write_if_changed(target, b"<rss/>", NOW)
    inode = target.stat().st_ino
    assert target.stat().st_mtime == NOW.timestamp()  # Last-Modified = newest item change
    assert not write_if_changed(target, b"<rss/>", NOW)
    assert target.stat().st_ino == inode
    assert write_if_changed(target, b"<rss></rss>", NOW)
    assert target.stat().st_ino != inode  # replaced by rename, never edited in place
    assert [p.name for p in target.parent.iterdir()] == ["rss.xml"]  # no temporary left


def test_writer_reports_a_folder_it_cannot_write(tmp_path: Path) -> None:
    (tmp_path / "feeds").write_text("a file where a folder should be")
    with pytest.raises(FeedError, match="feeds"):
        write_if_changed(tmp_path / "feeds" / "rss.xml", b"x")


def test_adding_an_article_rewrites_exactly_the_feeds_it_touches(publisher: Publisher) -> None:
    publisher.store_article(article(1, categories=(LOCAL,)))
    publisher.store_article(article(2, categories=(SPORT,)))
    before = _stamps(publisher)
    publisher.store_article(
        article(3, published_at=NOW - timedelta(minutes=1), categories=(SPORT,))
    )
    assert _changed(before, _stamps(publisher)) == {
        "rss.xml", "atom.xml", "feed.json",
        "category/sport/rss.xml", "category/sport/atom.xml", "category/sport/feed.json",
    }  # fmt: skip
    # Storing the same article again changes nothing at all.
    before = _stamps(publisher)
    publisher.store_article(
        article(3, published_at=NOW - timedelta(minutes=1), categories=(SPORT,))
    )
    assert _changed(before, _stamps(publisher)) == set()


def test_moving_and_retracting_touch_old_and_new_categories(publisher: Publisher) -> None:
    publisher.store_article(article(1, categories=(LOCAL,)))
    publisher.store_article(article(2, categories=(SPORT,)))
    publisher.store_article(article(1, categories=(SPORT,), title="Moved story"))
    assert parsed(publisher, "category/local/atom.xml").entries == []
    assert [e.title for e in parsed(publisher, "category/sport/atom.xml").entries] == [
        "Moved story",
        "Story number 2",
    ]
    before = _stamps(publisher)
    publisher.retract_article("story-2")
    changed = _changed(before, _stamps(publisher))
    assert {"rss.xml", "category/sport/rss.xml"} <= changed
    assert not any(k.startswith("category/local") for k in changed)
    assert [e.title for e in parsed(publisher, "rss.xml").entries] == ["Moved story"]


def test_same_store_gives_byte_identical_feeds(publisher: Publisher, clock: Clock) -> None:
    for n in range(1, 9):
        publisher.store_article(article(n, published_at=NOW - timedelta(days=11 * n)))
    first = {k: (publisher.feeds.out_dir / k).read_bytes() for k in _stamps(publisher)}
    for path in publisher.feeds.out_dir.rglob("*.*"):
        if path.is_file():
            path.unlink()
    clock.advance(hours=5)
    publisher.feeds.build(all=True)
    second = {k: (publisher.feeds.out_dir / k).read_bytes() for k in _stamps(publisher)}
    assert first == second and len(first) > 9


def test_scheduled_article_appears_when_its_time_comes(publisher: Publisher, clock: Clock) -> None:
    publisher.store_article(article(1))
    publisher.feeds.build()
    publisher.store_article(article(2, title="Embargoed", published_at=NOW + timedelta(hours=2)))
    assert "Embargoed" not in [e.title for e in parsed(publisher, "rss.xml").entries]
    clock.advance(hours=1)
    report = publisher.feeds.publish_due()
    assert report.due == 0 and report.written == []
    clock.advance(hours=1, seconds=1)
    report = publisher.feeds.publish_due()
    assert report.due == 1
    assert {"rss.xml", "category/local/rss.xml"} <= set(report.written)
    assert parsed(publisher, "rss.xml").entries[0].title == "Embargoed"
    clock.advance(minutes=1)
    again = publisher.feeds.publish_due()  # already handled: nothing to do
    assert again.due == 0 and again.written == [] and again.feeds == []


def test_publish_due_without_marker_builds_everything_once(publisher: Publisher) -> None:
    publisher.store_article(article(1))
    for path in publisher.feeds.out_dir.rglob("*"):
        if path.is_file():
            path.unlink()
    report = publisher.feeds.publish_due()
    assert "rss.xml" in report.written and "category/local/feed.json" in report.written
    assert publisher._services.feeds.service.published_through() == NOW


def test_cli_feeds_build_prints_paths_and_urls(tmp_path: Path) -> None:
    root = tmp_path / "project"
    make_settings(root)
    runner = CliRunner()
    assert runner.invoke(main, ["--root", str(root), "init"]).exit_code == 0
    source = tmp_path / "story.md"
    source.write_text(
        "---\ntitle: Bridge reopens\ndate: 2026-11-20T10:00:00Z\n"
        "categories: [Local]\n---\n\nText.\n"
    )
    assert runner.invoke(main, ["--root", str(root), "articles", "add", str(source)]).exit_code == 0
    result = runner.invoke(main, ["--root", str(root), "feeds", "build", "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    urls = {row["url"] for row in data["feeds"]}
    assert "https://news.example.org/feeds/rss.xml" in urls
    assert "https://news.example.org/feeds/category/local/feed.json" in urls
    assert all(Path(row["path"]).is_file() for row in data["feeds"])
    text = runner.invoke(main, ["--root", str(root), "feeds", "build"])
    assert "feeds/rss.xml" in text.output and "0 file(s) written" in text.output


def test_cli_reports_an_unwritable_feeds_folder_in_one_line(tmp_path: Path) -> None:
    root = tmp_path / "project"
    make_settings(root)
    runner = CliRunner()
    assert runner.invoke(main, ["--root", str(root), "init"]).exit_code == 0
    feeds = root / "feeds"
    feeds.rmdir()
    feeds.write_text("not a folder")
    result = runner.invoke(main, ["--root", str(root), "feeds", "build"])
    assert result.exit_code == 1
    assert result.output.count("\n") == 1 and "feeds" in result.output
    assert os.path.isfile(feeds)


def test_p1_correcting_or_retracting_an_archived_article_fixes_its_month_page(
    publisher: Publisher,
) -> None:
    for n in range(1, 13):
        publisher.store_article(article(n, published_at=NOW - timedelta(days=7 * n)))
    month = (NOW - timedelta(days=7 * 10)).strftime("%Y-%m")
    rel = f"archive/{month}/atom.xml"
    assert "Story number 10" in [e.title for e in parsed(publisher, rel).entries]
    publisher.store_article(
        article(10, published_at=NOW - timedelta(days=70), title="Corrected story")
    )
    titles = [e.title for e in parsed(publisher, rel).entries]
    assert "Corrected story" in titles and "Story number 10" not in titles
    publisher.retract_article("story-10")
    assert "Corrected story" not in [e.title for e in parsed(publisher, rel).entries]


def test_cli_publish_due_brings_in_an_article_whose_time_came(tmp_path: Path) -> None:
    root = tmp_path / "project"
    settings = make_settings(root)
    runner = CliRunner()
    assert runner.invoke(main, ["--root", str(root), "init"]).exit_code == 0
    assert runner.invoke(main, ["--root", str(root), "feeds", "build"]).exit_code == 0
    pub = make_publisher(settings)
    try:
        marker = pub._services.feeds.service.published_through()
        assert marker is not None
        # Stored behind the Publisher's back (as a second process would), due a moment later.
        pub._services.store.articles.upsert(
            article(1, published_at=marker + timedelta(milliseconds=500))
        )
    finally:
        pub.close()
    time.sleep(0.6)
    result = runner.invoke(main, ["--root", str(root), "feeds", "publish-due"])
    assert result.exit_code == 0, result.output
    assert result.output.startswith("1 scheduled article(s) due")
    feed = feedparser.parse((root / "feeds" / "rss.xml").read_bytes())
    assert [e.title for e in feed.entries] == ["Story number 1"]
    again = runner.invoke(main, ["--root", str(root), "feeds", "publish-due"])
    assert again.output.startswith("0 scheduled article(s) due; 0 file(s) written")
