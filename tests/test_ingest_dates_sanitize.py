"""The shared helpers: strict date parsing and the HTML sanitiser."""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import pytest

from publisher.ingest.dates import parse_date
from publisher.ingest.sanitize import absolute_url, clean_html, first_paragraph_text
from publisher.ingest.stamps import read_header_line

NEW_YORK = ZoneInfo("America/New_York")
BASE = "https://news.example.org"


def test_naive_dates_are_read_in_the_given_zone() -> None:
    parsed = parse_date("2024-05-22 10:30", "date", NEW_YORK)
    assert parsed == datetime(2024, 5, 22, 10, 30, tzinfo=NEW_YORK)
    assert parsed.utcoffset() is not None


def test_date_objects_are_accepted() -> None:
    assert parse_date(date(2024, 5, 22), "date", NEW_YORK) == datetime(2024, 5, 22, tzinfo=NEW_YORK)
    aware = datetime(2024, 5, 22, 8, tzinfo=UTC)
    assert parse_date(aware, "date", NEW_YORK) is aware


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("2024-02-30", "is not a valid date"),
        ("Feb 30 2024", "is not a valid date"),
        ("yesterday-ish", "is not a valid date"),
        ("the meeting was on May 22, 2024", "is not a valid date"),  # no fuzzy parsing
        ("May 2024", "is not a full date"),
        ("10:30", "is not a full date"),
        ("22 May 2024 10:00 XYZT", "unknown time zone"),
        ("Friday 22 May 2024", "that day is a Wednesday"),
        ("", "is empty"),
    ],
)
def test_nonsense_dates_are_rejected(text: str, reason: str) -> None:
    with pytest.raises(ValueError, match=reason) as caught:
        parse_date(text, "date", NEW_YORK)
    assert str(caught.value).startswith("date ")


def test_zone_abbreviations_are_applied() -> None:
    parsed = parse_date("22 May 2024 10:00 EDT", "date", ZoneInfo("UTC"))
    assert parsed.astimezone(UTC) == datetime(2024, 5, 22, 14, 0, tzinfo=UTC)


def test_a_date_line_is_about_shape_only() -> None:
    assert read_header_line("Wednesday, 22 May 2024") is not None
    assert read_header_line("February 30, 2024") is not None  # the parser refuses it later
    assert read_header_line("Council meets on May 22, 2024 to vote on the budget") is None
    assert read_header_line("2024") is None


def test_absolute_url_rules() -> None:
    assert absolute_url("/img/a.jpg", BASE) == "https://news.example.org/img/a.jpg"
    assert absolute_url("img/a.jpg", BASE + "/news") == "https://news.example.org/news/img/a.jpg"
    assert (
        absolute_url("//cdn.example.net/x.png", "http://a.org") == "https://cdn.example.net/x.png"
    )
    assert absolute_url("mailto:ed@example.org", BASE) == "mailto:ed@example.org"
    assert absolute_url("javascript:alert(1)", BASE) is None
    assert absolute_url("data:text/html,x", BASE) is None
    assert absolute_url("http://[broken", BASE) is None
    assert absolute_url("  ", BASE) is None


def test_clean_html_allow_list() -> None:
    dirty = (
        '<h1 class="x">Top</h1><p style="color:red" onclick="x()">Hi <u>u</u>'
        '<a href="/a" target="_blank" title="t">a</a></p>'
        "<iframe src='https://evil.example'>fallback</iframe><style>p{}</style>"
        "<object data='x'>obj</object><form><input>form text</form>"
        '<img src="/i.png" alt="i" width="10" onerror="x()" srcset="a 1x">'
        "<blockquote><pre><code>x &lt; y</code></pre></blockquote>"
    )
    cleaned = clean_html(dirty, BASE)
    assert cleaned == (
        "<h2>Top</h2><p>Hi u"
        '<a href="https://news.example.org/a" title="t" rel="noopener">a</a></p>'
        '<img src="https://news.example.org/i.png" alt="i" width="10">'
        "<blockquote><pre><code>x &lt; y</code></pre></blockquote>"
    )


def test_first_paragraph_text_skips_empty_paragraphs() -> None:
    cleaned = clean_html('<p><img src="/a.png"></p><p>Real &amp; <b>text</b></p>', BASE)
    assert first_paragraph_text(cleaned) == "Real & text"
    assert first_paragraph_text("<ul><li>one</li><li>two</li></ul>") == "one two"
