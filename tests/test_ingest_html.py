"""Saved HTML pages: metadata from meta tags, body from the article with chrome removed."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from publisher.exceptions import IngestError
from publisher.ingest import IngestOptions, parse_bytes, read_file
from publisher.types import ArticleInput

DATA = Path(__file__).parent / "data" / "ingest"
OPTIONS = IngestOptions(site_url="https://news.example.org", timezone=ZoneInfo("Europe/London"))
NOW = datetime(2024, 6, 1, 12, 0, tzinfo=UTC)
PLUS_ONE = timezone(timedelta(hours=1))


def page(html: str) -> ArticleInput:
    [article] = parse_bytes(html.encode("utf-8"), "page.html", OPTIONS, now=NOW)
    assert isinstance(article, ArticleInput), article
    return article


def test_metadata_comes_from_meta_tags() -> None:
    [article] = read_file(DATA / "page.html", OPTIONS)
    assert isinstance(article, ArticleInput)
    assert article.title == "Bridge reopens after repairs"
    assert article.published_at == datetime(2024, 5, 22, 7, 15, tzinfo=PLUS_ONE)
    assert article.updated_at == datetime(2024, 5, 22, 12, 0, tzinfo=PLUS_ONE)
    assert article.authors == ("Sam Reporter",)
    assert article.summary == "The old bridge is open to traffic again."
    assert article.image_url == "https://news.example.org/images/bridge.jpg"
    assert article.image_alt == "The bridge at dawn"
    assert [c.slug for c in article.categories] == ["transport"]  # the section, not the tags
    assert article.url == "https://news.example.org/2024/05/bridge-reopens"


def test_tags_stand_in_for_categories_only_without_a_section() -> None:
    html = (DATA / "page.html").read_text(encoding="utf-8")
    no_section = "\n".join(line for line in html.splitlines() if "article:section" not in line)
    assert [c.slug for c in page(no_section).categories] == ["roads", "transport"]


def test_body_is_the_article_without_chrome() -> None:
    [article] = read_file(DATA / "page.html", OPTIONS)
    assert isinstance(article, ArticleInput)
    html = article.content_html
    assert html.startswith("<p>The <i>old bridge</i> reopened")  # trafilatura's emphasis
    assert '<a href="https://news.example.org/2024/01/bridge-closed" rel="noopener">' in html
    assert '<img src="https://news.example.org/images/bridge-2.jpg" alt="Traffic">' in html
    assert "Traffic returns." not in html  # trafilatura drops captions (often credits)
    assert "<p>Engineers replaced the deck.</p>" in html
    for chrome in ("Home", "Share on Facebook", "Other story", "newsletter", "First!", "track()",
                   "By Sam Reporter", "Example Times", "steal", "<h1", "<h2"):  # fmt: skip
        assert chrome not in html, chrome


def test_title_from_title_tag_loses_site_suffix() -> None:
    article = page(
        "<html><head><title>Rates held steady - The Example</title></head>"
        "<body><p>Text.</p></body></html>"
    )
    assert article.title == "Rates held steady"
    assert article.published_at == NOW


def test_og_title_wins_and_time_element_gives_date() -> None:
    article = page(
        '<html><head><meta property="og:title" content="OG title">'
        '<meta property="og:url" content="/canon"></head>'
        '<body><article><h1>Visible</h1><time datetime="2024-05-20T08:00:00Z">20 May</time>'
        "<p>Body text.</p></article></body></html>"
    )
    assert article.title == "OG title"
    assert article.published_at == datetime(2024, 5, 20, 8, 0, tzinfo=UTC)
    assert article.url == "https://news.example.org/canon"
    assert "Visible" not in article.content_html


def test_main_is_used_without_article_and_meta_date_is_a_fallback() -> None:
    article = page(
        '<html><head><meta name="date" content="2024-05-19"></head><body>'
        "<div>Outside</div><main><h1>Main title</h1><p>Inside.</p></main></body></html>"
    )
    assert article.title == "Main title"
    assert article.content_html == "<p>Inside.</p>"
    assert article.published_at == datetime(2024, 5, 19, tzinfo=ZoneInfo("Europe/London"))


def test_broken_published_meta_falls_back_to_a_valid_candidate() -> None:
    article = page(
        '<html><head><meta property="article:published_time" content="soon">'
        '<meta name="date" content="2024-05-18"></head>'
        "<body><h1>T</h1><p>x</p></body></html>"
    )
    assert article.published_at.date().isoformat() == "2024-05-18"


def test_only_broken_dates_are_an_error_at_their_line() -> None:
    html = (
        "<html><head>\n"
        '<meta property="article:published_time" content="2024-02-30T10:00:00Z">\n'
        "</head><body><h1>T</h1></body></html>"
    )
    with pytest.raises(IngestError) as caught:
        parse_bytes(html.encode(), "p.html", OPTIONS)
    assert caught.value.reason == "date '2024-02-30T10:00:00Z' is not a valid date"
    assert caught.value.line == 2


def test_page_without_any_title_is_an_error() -> None:
    with pytest.raises(IngestError, match="no title"):
        parse_bytes(b"<html><body><p>just text</p></body></html>", "p.html", OPTIONS)


def test_declared_charset_is_honoured() -> None:
    html = (
        '<html><head><meta charset="iso-8859-1"><title>Caf\xe9</title></head><body>x</body></html>'
    )
    [article] = parse_bytes(html.encode("latin-1"), "p.html", OPTIONS, now=NOW)
    assert isinstance(article, ArticleInput)
    assert article.title == "Café"


def test_xml_declaration_is_accepted() -> None:
    article = page(
        '<?xml version="1.0" encoding="utf-8"?><html><body><h1>X</h1><p>y</p></body></html>'
    )
    assert article.title == "X"
    assert article.content_html == "<p>y</p>"


def test_unsafe_image_metadata_is_dropped_not_fatal() -> None:
    article = page(
        '<html><head><meta property="og:image" content="javascript:alert(1)"></head>'
        "<body><h1>T</h1><p>x</p></body></html>"
    )
    assert article.image_url is None
    assert article.image_alt is None
