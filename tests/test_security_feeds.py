"""RSS ``<description>`` is HTML: plain text is escaped before it goes there.

Readers render an RSS description as HTML (the RSS norm). A plain-text summary holding
``<script>`` (a code span in Markdown gives one) was written escaped once, for XML only, so
it reached readers as live markup; the channel description of a category feed (a category
name) too. Checked with feedparser's sanitised output, and byte for byte against a golden
feed whose descriptions carry markup as text.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import feedparser
from click.testing import CliRunner
from feeds_support import site_spec
from lxml import etree

from publisher.cli import main
from publisher.feeds.model import FeedItem, Site
from publisher.feeds.rss_atom import render_atom, render_rss

GOLDEN = Path(__file__).parent / "data" / "feeds" / "markup-as-text.rss"
SCRIPT = "<script>alert(1)</script>"


def test_a_code_span_summary_and_a_category_name_reach_readers_as_text(tmp_path: Path) -> None:
    root = tmp_path / "project"
    (root / "config").mkdir(parents=True)
    (root / "config" / "publisher.toml").write_text(
        '[site]\nurl = "https://news.example.org"\ntitle = "Example News"\n', encoding="utf-8"
    )
    story = root / "story.md"
    story.write_text(
        "---\ntitle: Writing safe pages\ndate: 2026-11-20T08:00:00Z\n---\n"
        f"Never paste `{SCRIPT}` into a page you did not write.\n",
        encoding="utf-8",
    )
    runner = CliRunner()
    args = ["--root", str(root)]
    for command in (["init"], ["articles", "add", str(story), "--category", "<b>Web</b> & Code"]):
        result = runner.invoke(main, [*args, *command])
        assert result.exit_code == 0, result.output
    feeds = root / "feeds"
    rss = feedparser.parse((feeds / "rss.xml").read_bytes())
    (entry,) = rss.entries
    assert entry.summary_detail.type == "text/html"
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in entry.summary
    (category_rss,) = feeds.glob("category/*/rss.xml")
    channel = feedparser.parse(category_rss.read_bytes()).feed
    assert "&lt;b&gt;Web&lt;/b&gt; &amp; Code: latest articles" in channel.subtitle
    atom = feedparser.parse(next(feeds.glob("category/*/atom.xml")).read_bytes())
    assert atom.feed.subtitle.startswith("<b>Web</b> & Code")  # Atom says type="text"
    assert SCRIPT in atom.entries[0].summary


def _golden_spec() -> bytes:
    site = Site("https://news.example.org", "Example <News>", "Tags like <b> & <i>", "en")
    when = datetime(2026, 11, 20, 8, 0, tzinfo=UTC)
    item = FeedItem(
        id="https://news.example.org/articles/safe-pages",
        url="https://news.example.org/articles/safe-pages",
        title="Writing safe pages",
        summary=f"Never paste {SCRIPT} & friends.",
        content_html="<p>Never paste <code>&lt;script&gt;</code>.</p>",
        published=when,
        updated=when,
    )
    return render_rss(site_spec(site, (item,)))


def test_golden_rss_carries_markup_as_escaped_html() -> None:
    data = _golden_spec()
    assert data == GOLDEN.read_bytes()
    tree = etree.fromstring(data)
    # After XML parsing, the description is HTML whose text is the plain summary.
    assert tree.findtext("channel/item/description") == (
        "Never paste &lt;script&gt;alert(1)&lt;/script&gt; &amp; friends."
    )
    assert tree.findtext("channel/description") == "Tags like &lt;b&gt; &amp; &lt;i&gt;"


def test_atom_keeps_text_as_text() -> None:
    site = Site("https://news.example.org", "Example", "<b> in a subtitle", "en")
    data = render_atom(site_spec(site, ()))
    assert etree.fromstring(data).findtext("{http://www.w3.org/2005/Atom}subtitle") == (
        "<b> in a subtitle"
    )
