"""JSON sources: one object or a list, with bad items returned in place."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from publisher.exceptions import IngestError
from publisher.ingest import IngestOptions, parse_bytes, read_file
from publisher.types import ArticleInput

DATA = Path(__file__).parent / "data" / "ingest"
LONDON = ZoneInfo("Europe/London")
OPTIONS = IngestOptions(site_url="https://news.example.org", timezone=LONDON)
NOW = datetime(2024, 6, 1, 12, 0, tzinfo=UTC)


def test_list_returns_articles_and_bad_items_in_place() -> None:
    results = read_file(DATA / "articles.json", OPTIONS)
    assert len(results) == 3
    first, second, third = results
    assert isinstance(first, ArticleInput)
    assert first.title == "Library extends opening hours"
    assert first.published_at == datetime(2024, 5, 20, 9, 0, tzinfo=LONDON)
    assert first.authors == ("Pat Writer",)
    assert [c.name for c in first.categories] == ["Culture", "Libraries"]
    assert first.image_url == "https://cdn.example.net/library.jpg"
    assert (
        '<a href="https://news.example.org/libraries" rel="noopener">here</a>' in first.content_html
    )
    assert first.summary == "The central library will open until 9pm."
    assert isinstance(second, IngestError)
    assert second.reason == "item 2: no title"
    assert second.line == 10
    assert isinstance(third, ArticleInput)
    assert third.content_html == "<p>Market day is now <strong>Saturday</strong>.</p>"


def test_single_object_is_one_article() -> None:
    data = b'{"title": "Solo", "date": "2024-05-01", "body": "<p>x</p>", "guid": " g-1 "}'
    [article] = parse_bytes(data, "solo.json", OPTIONS, now=NOW)
    assert isinstance(article, ArticleInput)
    assert article.title == "Solo"
    assert article.guid == "g-1"
    assert article.content_html == "<p>x</p>"


def test_single_bad_object_raises() -> None:
    with pytest.raises(IngestError, match="date '2024-02-30' is not a valid date"):
        parse_bytes(b'{"title": "X", "date": "2024-02-30"}', "bad.json", OPTIONS)


def test_malformed_json_raises_with_line() -> None:
    with pytest.raises(IngestError) as caught:
        parse_bytes(b'[\n {"title": "x",\n  "date": }\n]', "broken.json", OPTIONS)
    assert caught.value.reason.startswith("not valid JSON: ")
    assert caught.value.line == 3


def test_non_object_items_and_wrong_top_level() -> None:
    results = parse_bytes(b'[1, {"title": "ok"}]', "mixed.json", OPTIONS, now=NOW)
    assert isinstance(results[0], IngestError) and results[0].reason == "item 1 is not an object"
    assert isinstance(results[1], ArticleInput) and results[1].published_at == NOW
    with pytest.raises(IngestError, match="object or a list of objects"):
        parse_bytes(b'"just a string"', "s.json", OPTIONS)


def test_numeric_dates_are_refused() -> None:
    with pytest.raises(IngestError, match="date 1716370000 is not a valid date"):
        parse_bytes(b'{"title": "X", "date": 1716370000}', "n.json", OPTIONS)
