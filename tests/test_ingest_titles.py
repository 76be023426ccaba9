"""A title is text in every format: never parsed as HTML, escaped wherever it is shown.

``vector<int> explained`` used to be stored as ``vector``: the tag-looking part was
sanitised away like body markup.
"""

from __future__ import annotations

import json
from pathlib import Path
from zoneinfo import ZoneInfo

import feedparser
import pytest
from click.testing import CliRunner

from publisher.cli import main
from publisher.ingest import IngestOptions, parse_bytes
from publisher.types import ArticleInput

OPTIONS = IngestOptions(site_url="https://news.example.org", timezone=ZoneInfo("Europe/London"))
TITLES = ["vector<int> explained", "Never write <script> in a title", "Line one<br>line two"]


def sources(title: str) -> dict[str, bytes]:
    """The same title as each format writes it."""
    escaped = title.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    page = "<html><head><title>{t} | Site</title></head><body><article>{h}<p>Body.</p>"
    return {
        "front-matter.md": f"---\ntitle: '{title}'\n---\nBody.\n".encode(),
        "heading.md": f"# {title}\n\nBody.\n".encode(),
        "title-element.html": page.format(t=escaped, h="").encode(),
        "h1.html": page.format(t="Site", h=f"<h1>{escaped}</h1>").encode(),
        "og-title.html": (
            f'<html><head><meta property="og:title" content="{escaped}"></head>'
            "<body><article><p>Body.</p></article></body></html>"
        ).encode(),
        "item.json": json.dumps({"title": title, "content": "<p>Body.</p>"}).encode(),
        "copy.txt": f"{title}\n\nBody of the story, long enough to be a paragraph.\n".encode(),
    }


@pytest.mark.parametrize("title", TITLES)
@pytest.mark.parametrize("name", sorted(sources("x")))
def test_a_title_is_kept_as_written_in_every_format(name: str, title: str) -> None:
    [article] = parse_bytes(sources(title)[name], name, OPTIONS)
    assert isinstance(article, ArticleInput)
    assert article.title == title


def test_markdown_code_marks_go_but_the_code_stays() -> None:
    [article] = parse_bytes(b"# Why `<script>` tags break\n\nBody.\n", "a.md", OPTIONS)
    assert isinstance(article, ArticleInput)
    assert article.title == "Why <script> tags break"


def test_titles_reach_feeds_and_the_digest_as_text(project: Path, tmp_path: Path) -> None:
    runner = CliRunner()
    root = ["--root", str(project)]
    assert runner.invoke(main, [*root, "init"]).exit_code == 0
    for index, title in enumerate(TITLES):
        source = tmp_path / f"{index}.md"
        source.write_text(f"---\ntitle: '{title}'\n---\nBody {index}.\n")  # published now
        added = runner.invoke(main, [*root, "articles", "add", str(source)])
        assert added.exit_code == 0, added.output
    built = runner.invoke(main, [*root, "feeds", "build", "--json"])
    assert built.exit_code == 0, built.output
    feeds = json.loads(built.output)["feeds"]
    paths = {row["url"].rsplit("/feeds/", 1)[1]: Path(row["path"]) for row in feeds}
    for name in ("rss.xml", "atom.xml"):
        parsed = feedparser.parse(paths[name].read_bytes())
        assert sorted(entry.title for entry in parsed.entries) == sorted(TITLES), name
    feed = json.loads(paths["feed.json"].read_text())
    assert sorted(item["title"] for item in feed["items"]) == sorted(TITLES)
    out = tmp_path / "preview"
    preview = runner.invoke(main, [*root, "digest", "preview", "--out", str(out)])
    assert preview.exit_code == 0, preview.output
    page = (out / "digest.html").read_text()
    assert "vector&lt;int&gt; explained" in page
    assert "<script>" not in page and "<br>line two" not in page
    assert "vector<int> explained" in (out / "digest.txt").read_text()
