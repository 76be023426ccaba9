"""What an article page tells search engines and social cards, the /feeds/ page, the feeds'
stylesheet instruction, and the ingestion warning for images without alt text.

Articles arrive through the product's entry points (the HTTP API, ``publisher import``);
pages are read through the web app; feeds with feedparser, as a reader's client reads them.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import feedparser
import pytest
from click.testing import CliRunner
from conftest import PublisherFactory
from lxml import etree
from webkit import API_TOKEN, TestClient, make_settings

from publisher.cli import main
from publisher.core import Publisher
from publisher.web import create_app

ARTICLE = {
    "title": 'Harbour "lights" & boats < 3 return </script> tonight',
    "summary": "The quay's lamps are lit again after a winter of repairs.",
    "content_html": "<p>Lit again.</p>"
    '<p><img src="https://news.example.org/q.jpg" alt="The quay"></p>',
    "published_at": "2026-11-20T08:00:00+00:00",
    "authors": ["Ann Writer"],
    "image": "https://news.example.org/lead.jpg",
    "image_alt": "Lamps on the quay at dusk",
}


@pytest.fixture
def publisher(project: Path, make_pub: PublisherFactory) -> Publisher:
    return make_pub(make_settings(project, f"sqlite:///{project / 'var' / 'meta.db'}"))


@pytest.fixture
def client(publisher: Publisher) -> Iterator[TestClient]:
    with TestClient(create_app(publisher)) as test_client:
        yield test_client


def _post(client: TestClient, article: dict[str, object]) -> tuple[str, str]:
    """(slug, title as stored: the ingest keeps text only, markup in a title is dropped)."""
    response = client.post(
        "/api/articles", json=article, headers={"Authorization": f"Bearer {API_TOKEN}"}
    )
    assert response.status_code == 201, response.text
    stored = response.json()["article"]
    return str(stored["slug"]), str(stored["title"])


def _meta(html: str, attribute: str, name: str) -> str:
    tree = etree.HTML(html)
    found = tree.xpath(f"//meta[@{attribute}=$name]/@content", name=name)
    assert len(found) == 1, (name, found)
    return str(found[0])


def test_article_page_has_canonical_social_tags_json_ld_and_its_own_description(
    client: TestClient,
) -> None:
    slug, title = _post(client, ARTICLE)
    assert "&" in title and "<" in title
    page = client.get(f"/articles/{slug}").text
    canonical = f"https://news.example.org/articles/{slug}"
    assert f'<link rel="canonical" href="{canonical}">' in page
    assert _meta(page, "name", "description") == ARTICLE["summary"]
    assert _meta(page, "property", "og:description") == ARTICLE["summary"]
    assert _meta(page, "property", "og:title") == title
    assert _meta(page, "property", "og:url") == canonical
    assert _meta(page, "property", "og:type") == "article"
    assert _meta(page, "property", "og:image") == ARTICLE["image"]
    assert _meta(page, "name", "twitter:card") == "summary_large_image"
    assert _meta(page, "name", "twitter:image:alt") == ARTICLE["image_alt"]
    # JSON-LD: one NewsArticle; the title's "</script>" cannot end the element early.
    blocks = re.findall(r'<script type="application/ld\+json">(.*?)</script>', page, re.S)
    assert len(blocks) == 1 and "</" not in blocks[0]
    data = json.loads(blocks[0])
    assert data["@type"] == "NewsArticle" and data["headline"] == title
    assert data["mainEntityOfPage"] == canonical
    assert data["author"] == [{"@type": "Person", "name": "Ann Writer"}]
    assert datetime.fromisoformat(data["datePublished"]).tzinfo is not None
    # Every image on the page has alt text.
    tree = etree.HTML(page)
    assert all(img.get("alt") for img in tree.iter("img"))


def test_feeds_page_explains_feed_readers_and_lists_every_feed(client: TestClient) -> None:
    page = client.get("/feeds/")
    assert page.status_code == 200
    assert "feed reader" in page.text
    for fmt in ("rss.xml", "atom.xml", "feed.json"):
        assert f'href="https://news.example.org/feeds/{fmt}"' in page.text


def test_rss_and_atom_name_a_stylesheet_the_web_serves_and_readers_ignore(
    client: TestClient, publisher: Publisher
) -> None:
    _, title = _post(client, ARTICLE)
    for name in ("rss.xml", "atom.xml"):
        data = client.get(f"/feeds/{name}").content
        assert b'<?xml-stylesheet type="text/xsl" href="/feeds/feed.xsl"?>' in data[:200]
        parsed = feedparser.parse(data)
        assert not parsed.bozo and parsed.entries[0].title == title
        # A feed reader gets the feed's own type; a browser (Accept: text/html) gets XML.
        reader = client.get(f"/feeds/{name}", headers={"accept": "*/*"})
        assert "+xml" in reader.headers["content-type"]
        browser = client.get(f"/feeds/{name}", headers={"accept": "text/html,*/*;q=0.8"})
        assert browser.headers["content-type"].startswith("application/xml")
        assert browser.content == reader.content
    xsl = client.get("/feeds/feed.xsl")
    assert xsl.status_code == 200 and xsl.headers["content-type"].startswith("text/xsl")
    etree.XSLT(etree.fromstring(xsl.content))  # a valid stylesheet


def test_an_image_without_alt_text_is_warned_about_and_still_imported(project: Path) -> None:
    assert CliRunner().invoke(main, ["--root", str(project), "init"]).exit_code == 0
    (project / "copy").mkdir()
    source = project / "copy" / "no-alt.md"
    source.write_text(
        "---\ntitle: Quay photo\ndate: 2026-11-20T08:30:00+00:00\n---\n\n"
        "![](https://news.example.org/q.jpg)\n\n![The quay](https://news.example.org/r.jpg)\n"
    )
    result = CliRunner().invoke(
        main, ["--root", str(project), "articles", "import", str(source.parent)]
    )
    assert result.exit_code == 0, result.output
    warnings = [line for line in result.output.splitlines() if "without alt text" in line]
    assert warnings == [f"{source}: warning: 1 image(s) without alt text in 'Quay photo'"]
    assert "1 created" in result.output
