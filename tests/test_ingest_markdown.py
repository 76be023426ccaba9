"""Markdown sources: front matter fields, title fallback, body rendering and bad input."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from publisher.exceptions import IngestError
from publisher.ingest import IngestOptions, parse_bytes, read_file
from publisher.types import ArticleInput, Category

DATA = Path(__file__).parent / "data" / "ingest"
LONDON = ZoneInfo("Europe/London")
OPTIONS = IngestOptions(site_url="https://news.example.org", timezone=LONDON)
NOW = datetime(2024, 6, 1, 12, 0, tzinfo=UTC)


def one(data: bytes, source: str = "post.md") -> ArticleInput:
    results = parse_bytes(data, source, OPTIONS, now=NOW)
    assert len(results) == 1
    article = results[0]
    assert isinstance(article, ArticleInput), article
    return article


def test_front_matter_fields_are_extracted() -> None:
    [article] = read_file(DATA / "article.md", OPTIONS)
    assert isinstance(article, ArticleInput)
    assert article.title == "Council approves new budget"
    assert article.published_at == datetime(2024, 5, 22, 10, 30, tzinfo=LONDON)
    assert article.updated_at == datetime(2024, 5, 23, 9, 0, tzinfo=UTC)
    assert article.authors == ("Jane Doe", "John Roe")
    assert article.categories == (
        Category(slug="politics", name="Politics"),
        Category(slug="local-news", name="Local News"),
    )
    assert article.summary == "The council passed the budget after an eleven-hour session."
    assert article.image_url == "https://news.example.org/img/budget.jpg"
    assert article.image_alt == "The council chamber"
    assert article.slug == "council-approves-budget"
    assert article.guid == "urn:example:budget-2024"
    assert article.url == "https://news.example.org/2024/05/council-approves-budget"
    assert article.source == str(DATA / "article.md")


def test_body_is_rendered_with_tables_and_absolute_urls() -> None:
    [article] = read_file(DATA / "article.md", OPTIONS)
    assert isinstance(article, ArticleInput)
    html = article.content_html
    # The leading "# title" repeats the front matter title, so it is not in the body.
    assert "Council approves new budget" not in html
    assert "<strong>budget</strong>" in html
    assert '<a href="https://news.example.org/reports/budget.pdf" rel="noopener">' in html
    assert "<h2>What changes</h2>" in html
    assert "<table>" in html and "<td>+5%</td>" in html
    assert '<img src="https://news.example.org/charts/budget.png" alt="A graph">' in html


def test_title_falls_back_to_first_heading_which_leaves_the_body() -> None:
    [article] = read_file(DATA / "heading-title.md", OPTIONS)
    assert isinstance(article, ArticleInput)
    assert article.title == "Comet visible tonight"
    assert "Comet visible tonight" not in article.content_html
    assert article.summary == "Intro paragraph before the heading, which becomes the summary."
    assert article.published_at == datetime(2024, 5, 22, tzinfo=LONDON)
    assert [c.slug for c in article.categories] == ["science", "space"]
    assert article.authors == ("Ada Lovelace",)


def test_file_without_front_matter_uses_heading_and_now() -> None:
    article = one(b"# Plain heading\n\nSome text.\n")
    assert article.title == "Plain heading"
    assert article.published_at == NOW
    assert article.content_html == "<p>Some text.</p>"


def test_heading_markup_is_reduced_to_text_in_title() -> None:
    """Markdown's own marks go; raw HTML in a title is text, kept as written."""
    article = one(b"# Hello *big* `code` &amp; <b>tags</b>\n\nBody\n")
    assert article.title == "Hello big code & <b>tags</b>"


def test_body_h1_becomes_h2() -> None:
    article = one(b"---\ntitle: T\n---\nIntro.\n\n# Section\n\nText\n")
    assert "<h2>Section</h2>" in article.content_html
    assert "<h1" not in article.content_html


def test_yaml_date_and_datetime_objects_are_handled() -> None:
    article = one(b"---\ntitle: T\ndate: 2024-05-22T10:30:00+02:00\nupdated: 2024-05-23\n---\nx\n")
    assert article.published_at == datetime.fromisoformat("2024-05-22T10:30:00+02:00")
    assert article.updated_at == datetime(2024, 5, 23, tzinfo=LONDON)


def test_numeric_title_is_kept_as_written() -> None:
    assert one(b"---\ntitle: 1984\n---\nBody\n").title == "1984"


def test_image_string_gets_title_as_alt_and_protocol_relative_becomes_https() -> None:
    article = one(b"---\ntitle: Pic\nimage: //cdn.example.net/p.jpg\n---\nBody\n")
    assert article.image_url == "https://cdn.example.net/p.jpg"
    assert article.image_alt == "Pic"


def test_summary_is_derived_and_truncated_at_a_word_boundary() -> None:
    options = IngestOptions(site_url="https://news.example.org", timezone=LONDON, summary_length=30)
    [article] = parse_bytes(
        b"# T\n\nThe first paragraph is quite long and keeps going.\n", "x.md", options, now=NOW
    )
    assert isinstance(article, ArticleInput)
    assert len(article.summary) <= 30
    assert article.summary == "The first paragraph is quite…"


def test_given_summary_is_plain_text() -> None:
    article = one(b"---\ntitle: T\nsummary: 'A <b>bold</b> &amp; short one'\n---\nBody\n")
    assert article.summary == "A bold & short one"


@pytest.mark.parametrize(
    ("name", "message", "line"),
    [
        ("no-title.md", "no title", None),
        ("impossible-date.md", "date '2024-02-30' is not a valid date", 3),
        ("unparseable-date.md", "date 'yesterday-ish' is not a valid date", 3),
        ("list-front-matter.md", "front matter must be a mapping", 2),
        ("control-only-title.md", "no title", 2),
    ],
)
def test_bad_markdown_raises_with_reason_and_line(
    name: str, message: str, line: int | None
) -> None:
    with pytest.raises(IngestError) as caught:
        read_file(DATA / "bad" / name, OPTIONS)
    assert caught.value.reason == message
    assert caught.value.line == line
    assert caught.value.path == str(DATA / "bad" / name)


def test_broken_front_matter_names_yaml_problem_and_line() -> None:
    with pytest.raises(IngestError) as caught:
        read_file(DATA / "bad" / "broken-front-matter.md", OPTIONS)
    assert caught.value.reason.startswith("front matter is not valid YAML: ")
    assert caught.value.line == 4
    assert str(caught.value).startswith(f"{DATA / 'bad' / 'broken-front-matter.md'}:4: ")


def test_unclosed_front_matter_is_an_error() -> None:
    with pytest.raises(IngestError, match="no closing '---' line"):
        parse_bytes(b"---\ntitle: x\n\nbody\n", "open.md", OPTIONS)


def test_field_error_points_at_the_key_line() -> None:
    data = b"---\ntitle: T\n\nauthor: A\nupdated: 31/31/2024\n---\nBody\n"
    with pytest.raises(IngestError) as caught:
        parse_bytes(data, "u.md", OPTIONS)
    assert caught.value.reason == "updated '31/31/2024' is not a valid date"
    assert caught.value.line == 5


def test_wrong_field_types_are_errors() -> None:
    with pytest.raises(IngestError, match="title must be text, not a list"):
        parse_bytes(b"---\ntitle: [a, b]\n---\nx\n", "t.md", OPTIONS)
    with pytest.raises(IngestError, match="image 'javascript:alert' is not an http"):
        parse_bytes(b"---\ntitle: T\nimage: 'javascript:alert'\n---\nx\n", "t.md", OPTIONS)


def test_script_and_event_handlers_are_removed_and_controls_stripped() -> None:
    [article] = read_file(DATA / "bad" / "xss-and-controls.md", OPTIONS)
    assert isinstance(article, ArticleInput)
    assert article.title == "Evil title[31m"
    html = article.content_html
    assert "<script" not in html and "alert(2)" not in html
    assert "onerror" not in html and "onclick" not in html
    assert "javascript:" not in html
    assert '<img src="https://news.example.org/x">' in html


def test_raw_control_characters_in_title_are_removed() -> None:
    article = one(b"---\ntitle: Bell\x07 and \x1bescape\ndate: 2024-05-22\n---\nBody\n")
    assert article.title == "Bell and escape"
