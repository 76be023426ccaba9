"""Plain-text news copy: banner, date lines, byline, title, standfirst, subheadings, promo."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
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


def copy(text: str) -> ArticleInput:
    [article] = parse_bytes(text.encode("utf-8"), "copy.txt", OPTIONS, now=NOW)
    assert isinstance(article, ArticleInput), article
    return article


def test_banner_date_byline_title_standfirst_and_body() -> None:
    [article] = read_file(DATA / "copy-banner.txt", OPTIONS)
    assert isinstance(article, ArticleInput)
    assert article.title == "Council approves new budget after marathon session"
    assert article.published_at == datetime(2024, 5, 22, 10, 30, tzinfo=LONDON)
    assert article.authors == ("Jane Doe", "John Roe")
    assert article.summary.startswith("The city council approved a new budget on Tuesday night")
    html = article.content_html
    assert "DAILY EXAMPLE" not in html
    assert "<h2>What happens next</h2>" in html
    assert "too deep &amp; too fast, and &lt;promised&gt; to fight on." in html
    assert html.count("<p>") == 3


def test_promotional_lines_are_dropped() -> None:
    [article] = read_file(DATA / "copy-banner.txt", OPTIONS)
    assert isinstance(article, ArticleInput)
    for promo in ("Read more", "ADVERTISEMENT", "Sign up", "Share this", "Also read"):
        assert promo.lower() not in article.content_html.lower(), promo


def test_copy_without_blank_lines() -> None:
    [article] = read_file(DATA / "copy-no-blank-lines.txt", OPTIONS)
    assert isinstance(article, ArticleInput)
    assert article.title == "Storm brings flooding to coastal towns"
    assert article.published_at == datetime(2024, 5, 22, 6, 0, tzinfo=timezone(timedelta(hours=2)))
    assert article.content_html == (
        "<p>Heavy rain overnight flooded streets in several coastal towns, officials said.</p>\n"
        "<p>Residents were told to stay indoors until the water receded.</p>\n"
        "<h2>Emergency response</h2>\n"
        "<p>Crews worked through the night to clear drains and rescue stranded drivers.</p>"
    )


def test_standfirst_then_byline_and_date_and_wrapped_paragraph() -> None:
    [article] = read_file(DATA / "copy-standfirst-after-title.txt", OPTIONS)
    assert isinstance(article, ArticleInput)
    assert article.title == "Scientists map the ocean floor in record detail"
    assert article.summary == "A new survey reveals thousands of previously unknown seamounts"
    assert article.authors == ("Ada Lovelace",)
    assert article.published_at == datetime(2024, 5, 22, 12, tzinfo=LONDON)  # noon: no clock
    assert "cargo ships to measure the depth" in article.content_html  # wrap joined
    assert "<ul><li>Thousands of seamounts found</li><li>Data is free to download</li></ul>" in (
        article.content_html
    )
    assert "Watch:" not in article.content_html


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("Wednesday, May 22, 2024", datetime(2024, 5, 22, 12, tzinfo=LONDON)),
        ("22 May 2024", datetime(2024, 5, 22, 12, tzinfo=LONDON)),
        ("May 22, 2024 10:30 AM", datetime(2024, 5, 22, 10, 30, tzinfo=LONDON)),
        ("2024-05-22", datetime(2024, 5, 22, 12, tzinfo=LONDON)),
        (
            "2024-05-22T10:30:00+02:00",
            datetime(2024, 5, 22, 10, 30, tzinfo=timezone(timedelta(hours=2))),
        ),
        ("Published: 22nd May 2024, 14:05", datetime(2024, 5, 22, 14, 5, tzinfo=LONDON)),
        ("Published 22 May 2024 | 09:00 GMT", datetime(2024, 5, 22, 9, 0, tzinfo=UTC)),
        ("Wed 22 May 2024 at 6pm", datetime(2024, 5, 22, 18, 0, tzinfo=LONDON)),
    ],
)
def test_date_line_variants(line: str, expected: datetime) -> None:
    article = copy(f"{line}\n\nHeadline here\n\nFirst paragraph of the story.\n")
    assert article.published_at == expected
    assert article.title == "Headline here"
    assert line not in article.content_html


def test_updated_line_sets_updated_at_anywhere() -> None:
    article = copy(
        "Headline\n22 May 2024\n\nParagraph one.\n\nParagraph two.\n\nUpdated: 23 May 2024\n"
    )
    assert article.published_at == datetime(2024, 5, 22, 12, tzinfo=LONDON)
    assert article.updated_at == datetime(2024, 5, 23, 12, tzinfo=LONDON)
    assert "Updated" not in article.content_html


def test_missing_date_uses_now() -> None:
    article = copy("Headline\n\nParagraph.\n")
    assert article.published_at == NOW


def test_impossible_date_line_is_an_error_with_line() -> None:
    with pytest.raises(IngestError) as caught:
        copy("THE PAPER\n\nFebruary 30, 2024\n\nHeadline\n\nText.\n")
    assert caught.value.reason == "date 'February 30, 2024' is not a valid date"
    assert caught.value.line == 3


def test_wrong_weekday_is_an_error() -> None:
    with pytest.raises(IngestError, match="that day is a Wednesday"):
        copy("Monday, May 22, 2024\nHeadline\nText.\n")


def test_subheading_needs_a_following_paragraph() -> None:
    article = copy("Headline\n\nIntro paragraph.\n\nA subheading\n\nBody paragraph.\n\nThe end\n")
    assert "<h2>A subheading</h2>" in article.content_html
    assert "<p>The end</p>" in article.content_html


def test_sentence_starting_with_by_is_not_a_byline() -> None:
    article = copy("Headline\n\nBy the end of the day, the river had risen two metres.\n")
    assert article.authors == ()
    assert "By the end of the day" in article.content_html


def test_only_a_long_paragraph_means_no_title() -> None:
    with pytest.raises(IngestError, match="no title"):
        copy("word " * 60 + "\n")


def test_all_caps_title_after_banner() -> None:
    article = copy("EXAMPLE NEWS\nCITY WINS AWARD\nThe city won an award on Monday.\n")
    assert article.title == "CITY WINS AWARD"
    assert "EXAMPLE NEWS" not in article.content_html


def test_a_site_name_over_the_sites_date_line_is_not_the_headline() -> None:
    """The masthead is followed by the site's "today" line, the headline by its byline."""
    article = copy(
        "The Daily Star\nTuesday, January 14, 2025\nBudget approved\nBy Ann Lee\n"
        "The council approved the budget on Tuesday night after a long debate.\n"
    )
    assert article.title == "Budget approved"
    assert article.authors == ("Ann Lee",)
    assert "Daily Star" not in article.content_html


def test_a_subheading_starting_with_by_is_not_a_byline() -> None:
    article = copy(
        "Headline about the budget\nBy Ann Lee\n\nThe council met on Tuesday night to vote.\n\n"
        "By the numbers\n\nThe budget is 40 million, up by a tenth on last year.\n"
    )
    assert article.authors == ("Ann Lee",)
    assert "<h2>By the numbers</h2>" in article.content_html
    assert "40 million" in article.content_html


def test_a_bare_name_under_the_headline_is_the_byline_without_a_date_line() -> None:
    """A public broadcaster's copy: only "2 hours ago", then the reporter and the desk."""
    article = copy(
        "Skip to content\nHome\nNews\nSport\n"
        "Ferry services cancelled as storm batters west coast\n2 hours ago\nShare\nSave\n"
        "Morag Campbell\nBroadcasting Scotland News\n"
        "Image caption, Waves crash over the harbour wall at Oban\n"
        "Ferry services to the islands have been cancelled for a second day as a storm "
        "brings winds of up to 80mph.\n"
        "CalMac said all sailings had been suspended until at least Thursday morning.\n"
        "Related topics\nOban\nFerries\n"
    )
    assert article.title == "Ferry services cancelled as storm batters west coast"
    assert article.authors == ("Morag Campbell",)
    assert article.published_at == NOW  # a relative time is no date
    assert article.summary.startswith("Ferry services to the islands")
    for furniture in ("Scotland News", "Waves crash", "2 hours ago", "<p>Oban", "<p>Ferries"):
        assert furniture not in article.content_html, furniture


def test_one_paragraph_per_line_without_blank_lines_stays_apart() -> None:
    article = copy(
        "Mumbai rains: local trains delayed as water logs tracks\n"
        "Suburban train services were delayed by up to 40 minutes on Tuesday morning after\n"
        "heavy overnight rain flooded tracks at several stations, the railway said.\n"
        "Commuters said platforms were crowded until mid-morning.\n"
    )
    assert article.content_html == (
        "<p>Suburban train services were delayed by up to 40 minutes on Tuesday morning after "
        "heavy overnight rain flooded tracks at several stations, the railway said.</p>\n"
        "<p>Commuters said platforms were crowded until mid-morning.</p>"
    )
