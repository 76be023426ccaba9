"""Benchmark: feeds for a store of 100,000 articles in 50 categories.

Measures, in one run on one SQLite store:

1. a full rebuild of every feed (site + 50 categories, three formats each, and every
   RFC 5005 monthly archive page): the baseline;
2. publishing one new article through the Publisher (store + rebuild of exactly the
   feeds it touches, archive pages included): time until every touched file is rewritten,
   target <= 0.3 s, and its ratio to the full rebuild;
3. generating one 50-item feed set (RSS + Atom + JSON) from articles in memory.

The store is filled with a bulk insert (the import path is measured by bench/ingest.py):
100,000 articles over five years (about 55 a day), each in one or two of 50 categories,
with a 3 KB body and a lead image.

    .venv/bin/python bench/feeds.py [--count 100000] [--repeat 9]

Wall-clock and CPU time are both printed: wall time includes the fsync of every written
file, CPU time is what the machine's load cannot inflate.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import insert

from publisher.config import load_settings
from publisher.core import Publisher, make_publisher
from publisher.feeds import Touched
from publisher.feeds.jsonfeed import render_json
from publisher.feeds.model import FORMATS, FeedRef, FeedSpec, item_from_article, newest_change
from publisher.feeds.rss_atom import render_atom, render_rss
from publisher.store.schema import article_categories, articles, categories
from publisher.types import ArticleInput, Category

NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
SPAN = timedelta(days=5 * 365)
PARAGRAPH = (
    "<p>The council met on Tuesday evening to discuss the plans for the riverside path, "
    "which residents have asked for since the floods of last winter. A spokesperson said "
    "the work would start in spring; <a href='/about'>read more</a> about the project.</p>"
)


def fill(pub: Publisher, count: int) -> None:
    body = PARAGRAPH * 12
    cats = [
        {"id": i + 1, "slug": f"section-{i:02d}", "name": f"Section {i:02d}"} for i in range(50)
    ]
    step = SPAN / count
    with pub._services.store.engine.begin() as conn:
        conn.execute(insert(categories), cats)
        for start in range(0, count, 5000):
            rows, links = [], []
            for i in range(start, min(count, start + 5000)):
                published = NOW - SPAN + step * i
                rows.append(
                    {
                        "id": i + 1, "guid": f"urn:uuid:bench-{i:08d}", "slug": f"story-{i}",
                        "url": f"https://news.example.org/articles/story-{i}",
                        "title": f"Story number {i} about the riverside path",
                        "summary": f"Summary of story {i}.", "content": body,
                        "authors": json.dumps([f"Reporter {i % 40}"]),
                        "image_url": f"https://images.example.org/{i}.jpg", "image_alt": "",
                        "published_at": published, "updated_at": published,
                        "created_at": published, "source": "", "retracted": False,
                        "content_hash": f"{i:064d}",
                    }
                )  # fmt: skip
                links.append({"article_id": i + 1, "category_id": i % 50 + 1, "position": 0})
                if i % 3 == 0:
                    second = (i * 7 + 3) % 50 + 1
                    if second != i % 50 + 1:
                        links.append({"article_id": i + 1, "category_id": second, "position": 1})
            conn.execute(insert(articles), rows)
            conn.execute(insert(article_categories), links)


def one_set(pub: Publisher) -> float:
    """Seconds to turn 50 stored articles into RSS + Atom + JSON (no I/O)."""
    site = pub.feeds.site
    stored = pub._services.store.articles.newest(limit=50, published_before=NOW)
    ref = FeedRef()
    started = time.perf_counter()
    items = tuple(item_from_article(a, site) for a in stored)
    spec = FeedSpec(
        id=ref.url(site, "atom"), title=site.title, description=site.description,
        home_url=ref.home_url(site), self_urls={f: ref.url(site, f) for f in FORMATS},
        language=site.language, updated=newest_change(items), items=items, author=site.title,
    )  # fmt: skip
    for render in (render_rss, render_atom, render_json):
        render(spec)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--count", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=9)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        (root / "config").mkdir()
        (root / "config" / "publisher.toml").write_text(
            '[site]\nurl = "https://news.example.org"\ntitle = "Example News"\n'
        )
        clock = {"now": NOW}
        pub = make_publisher(
            load_settings(root, environ={}), clock=lambda: clock["now"], create=True
        )
        started = time.perf_counter()
        fill(pub, args.count)
        print(f"store: {args.count:,} articles in 50 categories, filled in "
              f"{time.perf_counter() - started:.1f} s")  # fmt: skip

        started, started_cpu = time.perf_counter(), time.process_time()
        full = pub.feeds.build(all=True)
        full_s = time.perf_counter() - started
        print(
            f"full rebuild (baseline): {full_s:.2f} s, {len(full.written):,} files; "
            f"CPU time {time.process_time() - started_cpu:.2f} s"
        )

        timings, cpu, files = [], [], []
        for n in range(args.repeat):
            clock["now"] += timedelta(minutes=10)
            item = ArticleInput(
                title=f"Breaking story {n}", content_html=PARAGRAPH * 12,
                published_at=clock["now"] - timedelta(minutes=1), summary="New.",
                authors=("Desk",), categories=(Category("section-07", "Section 07"),),
                image_url="https://images.example.org/new.jpg",
            )  # fmt: skip
            started, started_cpu = time.perf_counter(), time.process_time()
            pub.store_article(item)
            timings.append(time.perf_counter() - started)
            cpu.append(time.process_time() - started_cpu)
            touched = Touched(slugs=[None, *(c.slug for c in item.categories)])
            files.append(len(pub.feeds.build(touched, clock["now"]).written))
        median = statistics.median(timings)
        verdict = "meets" if median <= 0.3 else "misses"
        print(
            f"publish one article, touched feeds rewritten: median {median * 1000:.0f} ms "
            f"(min {min(timings) * 1000:.0f}, max {max(timings) * 1000:.0f}) over "
            f"{args.repeat} runs; {verdict} the 0.3 s target; ratio to full rebuild "
            f"{median / full_s:.4f} ({full_s / median:.0f}x faster); "
            f"CPU time median {statistics.median(cpu) * 1000:.0f} ms"
        )
        assert files == [0] * args.repeat, "a second build right after must write nothing"

        sets = [one_set(pub) for _ in range(20)]
        per_set = statistics.median(sets)
        print(f"one 50-item feed set (RSS + Atom + JSON): median {per_set * 1000:.1f} ms; "
              f"ratio to full rebuild {per_set / full_s:.5f}")  # fmt: skip
        pub.close()


if __name__ == "__main__":
    main()
