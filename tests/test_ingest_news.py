"""News copy pasted from many kinds of site: headline, date, authors, summary, subheadings,
and the page furniture that must not reach the article.

Each sample in tests/data/ingest/news/ was written for this project, imitating the layout
of a kind of site (wire services, broadsheets, regional portals, South Asian, Middle
Eastern and African outlets, blogs); the JSON beside it says what a reader should get.
``published``/``updated`` are UTC; a stamp without a clock means noon in the site's zone.
"""

from __future__ import annotations

import json
import re
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

from publisher.cli import main
from publisher.exceptions import IngestError
from publisher.ingest import IngestOptions, parse_bytes, read_file
from publisher.ingest.sanitize import html_to_text
from publisher.types import ArticleInput

NEWS = Path(__file__).parent / "data" / "ingest" / "news"
SAMPLES = sorted(NEWS.glob("*.txt"))


def expected(sample: Path) -> dict[str, object]:
    data: dict[str, object] = json.loads(sample.with_suffix(".json").read_text("utf-8"))
    return data


def parse(sample: Path, zone: str) -> ArticleInput:
    options = IngestOptions(site_url="https://news.example.org", timezone=ZoneInfo(zone))
    [article] = read_file(sample, options)
    assert isinstance(article, ArticleInput), article
    return article


def test_the_corpus_covers_enough_kinds_of_site() -> None:
    kinds = {str(expected(sample)["kind"]) for sample in SAMPLES}
    assert len(SAMPLES) >= 30
    assert len(kinds) >= 12, sorted(kinds)


@pytest.mark.parametrize("sample", SAMPLES, ids=[s.stem for s in SAMPLES])
def test_news_copy(sample: Path) -> None:
    want = expected(sample)
    article = parse(sample, str(want["timezone"]))
    assert article.title == want["title"]
    assert article.published_at == datetime.fromisoformat(str(want["published"]))
    updated = want.get("updated")
    assert article.updated_at == (datetime.fromisoformat(str(updated)) if updated else None)
    assert list(article.authors) == want["authors"]
    assert article.summary.startswith(str(want["summary_start"])), article.summary
    headings = [html_to_text(h) for h in re.findall(r"<h2>(.*?)</h2>", article.content_html)]
    assert headings == want["headings"]
    shown = html_to_text(article.content_html) + " " + article.summary
    for line in want["dropped"]:  # type: ignore[union-attr]
        assert str(line) not in shown, f"{line!r} is furniture"


EXAMPLES = sorted((Path(__file__).parent.parent / "examples" / "articles").glob("1[4-9]-*.txt"))


@pytest.mark.parametrize("example", EXAMPLES, ids=[e.stem for e in EXAMPLES])
def test_adding_an_example_news_copy_prints_only_the_summary(project: Path, example: Path) -> None:
    """The examples carry furniture like the corpus; none of it needs a word from the CLI."""
    root = ["--root", str(project)]
    assert CliRunner().invoke(main, [*root, "init"]).exit_code == 0
    result = CliRunner().invoke(main, [*root, "articles", "add", str(example)])
    assert result.exit_code == 0
    assert result.output == "1 article(s): 1 created, 0 updated, 0 unchanged, 0 failed\n"


def test_there_are_three_example_news_copies() -> None:
    assert len(EXAMPLES) == 3


PAGES = Path(__file__).parent / "data" / "ingest" / "news-html"
ROOT = Path(__file__).parent.parent
HTML_CASES = [(page, page.with_suffix(".json")) for page in sorted(PAGES.glob("*.html"))] + [
    (ROOT / name, PAGES / "older-samples.json")
    for name in json.loads((PAGES / "older-samples.json").read_text("utf-8"))
]


@pytest.mark.parametrize(("page", "expectations"), HTML_CASES, ids=[p.stem for p, _ in HTML_CASES])
def test_news_pages(page: Path, expectations: Path) -> None:
    """The corpus rendered as HTML by three kinds of CMS (bench/ingest_extractors.py), and
    the older HTML samples: meta tags or JSON-LD or visible markup, and page furniture."""
    want = json.loads(expectations.read_text("utf-8"))
    want = want.get(str(page.relative_to(ROOT)), want)
    options = IngestOptions(site_url="https://news.example.org", timezone=ZoneInfo("UTC"))
    [article] = read_file(page, options)
    assert isinstance(article, ArticleInput), article
    assert article.title == want["title"]
    assert article.published_at == datetime.fromisoformat(want["published"])
    assert list(article.authors) == want["authors"]
    text = html_to_text(article.content_html)
    assert want["summary_start"] in text
    for line in want["dropped"]:
        assert line not in text, f"{line!r} is furniture"


CORPUS_LINES = sorted(
    {line for sample in SAMPLES for line in sample.read_text("utf-8").splitlines() if line}
)


@settings(max_examples=100, deadline=None)
@given(st.lists(st.sampled_from(CORPUS_LINES), min_size=1, max_size=25))
def test_corpus_lines_in_any_order_give_an_article_or_one_error(lines: list[str]) -> None:
    """Furniture, stamps and bylines shuffled: the reader never fails any other way, and
    what it keeps as the title is one of the lines, never furniture it recognised."""
    options = IngestOptions(site_url="https://news.example.org", timezone=ZoneInfo("UTC"))
    try:
        [article] = parse_bytes("\n".join(lines).encode(), "copy.txt", options)
    except IngestError:
        return
    assert isinstance(article, ArticleInput)
    assert article.title in lines
