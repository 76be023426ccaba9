"""Which reader gets each field of an HTML page right: our own, trafilatura, or both.

Pages: the news-copy corpus (tests/data/ingest/news/) rendered as HTML the way three kinds
of CMS serve it (Open Graph meta tags; visible markup only; JSON-LD only; see ``render``),
written to tests/data/ingest/news-html/ with ``--write``, plus the HTML samples that came
before (examples/articles/*.html, tests/data/ingest/page.html). For each page and field
(title, date, author, body: the standfirst in, the furniture out) it prints which reader
is right, and the totals: the baseline is our hand-written reader of before, measured in
the same run.

    .venv/bin/python bench/ingest_extractors.py [--write]
"""

from __future__ import annotations

import argparse
import html
import json
import sys
import time
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parent.parent
NEWS = ROOT / "tests" / "data" / "ingest" / "news"
PAGES = ROOT / "tests" / "data" / "ingest" / "news-html"
sys.path.insert(0, str(ROOT))

LAYOUTS = ("meta", "visible", "json-ld")


def render(sample: Path, layout: str) -> tuple[str, dict[str, object]]:
    """A page for one corpus sample, and what a reader should get from it."""
    from publisher.ingest import IngestOptions, read_file
    from publisher.types import ArticleInput

    want: dict[str, object] = json.loads(sample.with_suffix(".json").read_text("utf-8"))
    zone = ZoneInfo(str(want["timezone"]))
    [article] = read_file(sample, IngestOptions("https://news.example.org", zone))
    assert isinstance(article, ArticleInput)
    lines = [line.strip() for line in sample.read_text("utf-8").splitlines() if line.strip()]
    top = lines[: lines.index(str(want["title"]))]
    title = html.escape(str(want["title"]))
    published = datetime.fromisoformat(str(want["published"])).astimezone(zone)
    authors = [str(a) for a in want["authors"]]  # type: ignore[attr-defined]
    byline = f'<p class="byline">By {html.escape(" and ".join(authors))}</p>' if authors else ""
    stamp = published.isoformat()
    shown = published.strftime("%d %B %Y %H:%M")
    nav = "".join(f'<li><a href="/s/{i}">{html.escape(t)}</a></li>' for i, t in enumerate(top))
    tail = "".join(
        f'<li><a href="/r/{i}">{html.escape(str(t))}</a></li>'
        for i, t in enumerate(want["dropped"])  # type: ignore[arg-type]
    )
    site = html.escape(top[0] if top else "News")
    head = f"<title>{title} | {site}</title>"
    if layout == "meta":
        head += (
            f'<meta property="og:title" content="{title}">'
            f'<meta property="article:published_time" content="{stamp}">'
            + "".join(f'<meta name="author" content="{html.escape(a)}">' for a in authors)
        )
        story = (
            f'<article><h1>{title}</h1>{byline}<time datetime="{stamp}">{shown}</time>'
            f'{article.content_html}</article><aside class="related"><ul>{tail}</ul></aside>'
        )
    elif layout == "visible":
        story = (
            f'<div class="story-body"><h1>{title}</h1>{byline}'
            f'<time datetime="{stamp}">{shown}</time>{article.content_html}</div>'
            f'<div class="more-stories"><h3>More stories</h3><ul>{tail}</ul></div>'
        )
    else:
        data = {
            "@context": "https://schema.org",
            "@type": "NewsArticle",
            "headline": str(want["title"]),
            "datePublished": stamp,
            "author": [{"@type": "Person", "name": a} for a in authors],
        }
        head += f'<script type="application/ld+json">{json.dumps(data)}</script>'
        story = (
            f"<main><div><h1>{title}</h1><div>{shown}</div>{article.content_html}</div>"
            f"<div><p>Read more</p><ul>{tail}</ul></div></main>"
        )
    page = (
        f'<!doctype html><html lang="en"><head><meta charset="utf-8">{head}</head><body>'
        f"<header><nav><ul>{nav}</ul></nav></header>{story}"
        f"<footer><p>{site}</p></footer></body></html>\n"
    )
    expected = {
        "title": want["title"],
        "published": want["published"],
        "authors": authors,
        "summary_start": want["summary_start"],
        "dropped": want["dropped"],
    }
    return page, expected


def write_pages() -> None:
    PAGES.mkdir(exist_ok=True)
    for index, sample in enumerate(sorted(NEWS.glob("*.txt"))):
        layout = LAYOUTS[index % len(LAYOUTS)]
        page, expected = render(sample, layout)
        stem = f"{sample.stem}-{layout}"
        (PAGES / f"{stem}.html").write_text(page, encoding="utf-8")
        text = json.dumps(expected, indent=2, ensure_ascii=False) + "\n"
        (PAGES / f"{stem}.json").write_text(text, encoding="utf-8")


def known_pages() -> list[tuple[Path, dict[str, object]]]:
    """Rendered corpus pages with their expectations, and the older HTML samples."""
    pages = [
        (page, json.loads(page.with_suffix(".json").read_text("utf-8")))
        for page in sorted(PAGES.glob("*.html"))
    ]
    older = json.loads((PAGES / "older-samples.json").read_text("utf-8"))
    pages += [(ROOT / name, value) for name, value in older.items()]
    return pages


def fields(extractor: str, page: Path) -> dict[str, object]:
    """Title, date, authors and shown text of ``page`` by one extractor."""
    from publisher.ingest import IngestOptions
    from publisher.ingest.fields import build_article
    from publisher.ingest.html_page import read_page
    from publisher.ingest.sanitize import html_to_text

    options = IngestOptions("https://news.example.org", ZoneInfo("UTC"))
    raw = read_page(page.read_text("utf-8"), str(page), options, extractor)
    article = build_article(raw, options, str(page))
    return {
        "title": article.title,
        "published": article.published_at,
        "authors": list(article.authors),
        "text": html_to_text(article.content_html),
        "summary": article.summary,
    }


def score(got: dict[str, object], want: dict[str, object]) -> dict[str, bool]:
    published = datetime.fromisoformat(str(want["published"]))
    moment = got["published"]
    assert isinstance(moment, datetime)
    text = str(got["text"])
    return {
        "title": got["title"] == want["title"],
        "date": moment == published,
        "day": moment.date() == published.astimezone(moment.tzinfo).date(),
        "author": got["authors"] == want["authors"],
        "standfirst": str(want["summary_start"]) in text,
        "no furniture": not any(str(d) in text for d in want["dropped"]),  # type: ignore[attr-defined]
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--write", action="store_true", help="render the corpus pages again")
    args = parser.parse_args()
    if args.write:
        write_pages()
    pages = known_pages()
    extractors = ("ours", "trafilatura", "combined")
    totals = {
        e: dict.fromkeys(("title", "date", "day", "author", "standfirst", "no furniture"), 0)
        for e in extractors
    }
    seconds = dict.fromkeys(extractors, 0.0)
    for extractor in extractors:  # warm up: trafilatura loads its date parser on first use
        fields(extractor, pages[0][0])
    for page, want in pages:
        for extractor in extractors:
            began = time.perf_counter()
            got = fields(extractor, page)
            seconds[extractor] += time.perf_counter() - began
            for name, right in score(got, want).items():
                totals[extractor][name] += right
    print(f"pages: {len(pages)}")
    print(f"{'field':<14}" + "".join(f"{e:>13}" for e in extractors))
    for name in totals["ours"]:
        print(f"{name:<14}" + "".join(f"{totals[e][name]:>13}" for e in extractors))
    print(
        f"{'ms/page':<14}" + "".join(f"{seconds[e] * 1000 / len(pages):>13.1f}" for e in extractors)
    )


if __name__ == "__main__":
    main()
