"""Benchmark: feeds for a store of 100,000 articles in 50 categories.

Measures, in one run on one SQLite store:

1. a full rebuild of every feed (site + 50 categories, three formats each, and every
   RFC 5005 monthly archive page): the baseline;
2. publishing one new article through the Publisher (store + rebuild of exactly the
   feeds it touches, archive pages included): time until every touched file is rewritten,
   target <= 0.3 s, and its ratio to the full rebuild;
3. the strongest simple alternative to that incremental publish, the same number of
   times: store the article, then re-render only the feed sets it touches (site and its
   category, RSS + Atom + JSON) from the store with feedgen, with no cache of any kind
   (entries built anew, every one of the 50 items per feed read back from the store), and
   write them with the same durable write; ratio of our publish to it;
4. generating one 50-item feed set (RSS + Atom + JSON) from articles in memory.

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
from publisher.feeds import Touched, rss_atom
from publisher.feeds.jsonfeed import render_json
from publisher.feeds.model import FORMATS, FeedRef, FeedSpec, item_from_article, newest_change
from publisher.feeds.rss_atom import render_atom, render_rss
from publisher.feeds.writer import write_if_changed
from publisher.store.schema import article_categories, articles, categories
from publisher.types import Article, ArticleInput, Category

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


def spec_for(pub: Publisher, slug: str | None, now: datetime) -> FeedSpec:
    """The 50-item feed of the site (``slug`` None) or a category, read from the store."""
    stored = pub._services.store.articles.newest(limit=50, category=slug, published_before=now)
    return spec_of(pub, stored, slug)


def spec_of(pub: Publisher, stored: list[Article], slug: str | None) -> FeedSpec:
    site = pub.feeds.site
    ref = FeedRef(slug)
    items = tuple(item_from_article(a, site) for a in stored)
    return FeedSpec(
        id=ref.url(site, "atom"), title=site.title, description=site.description,
        home_url=ref.home_url(site), self_urls={f: ref.url(site, f) for f in FORMATS},
        language=site.language, updated=newest_change(items), items=items, author=site.title,
    )  # fmt: skip


def rerender_touched(pub: Publisher, item: ArticleInput, now: datetime, out: Path) -> None:
    """The baseline publish: store, then render the touched feed sets anew, no caches."""
    pub._services.store.articles.upsert(item, now=now)
    for slug in (None, *(c.slug for c in item.categories)):
        rss_atom._ENTRIES.clear()  # feedgen entries and their XML are built anew
        rss_atom._ENTRY_XML.clear()
        spec = spec_for(pub, slug, now)
        name = slug or "site"
        for fmt, render in (("rss", render_rss), ("atom", render_atom), ("json", render_json)):
            write_if_changed(out / f"{name}.{fmt}", render(spec), spec.updated)


def changed_since(folder: Path, since_ns: int) -> int:
    """Files under ``folder`` written (renamed into place) since ``since_ns``."""
    return sum(1 for p in folder.rglob("*") if p.is_file() and p.stat().st_ctime_ns >= since_ns)


def one_set(pub: Publisher) -> float:
    """Seconds to turn 50 stored articles into RSS + Atom + JSON (no I/O)."""
    stored = pub._services.store.articles.newest(limit=50, published_before=NOW)
    started = time.perf_counter()
    spec = spec_of(pub, stored, None)
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

        timings, cpu, files, rewritten = [], [], [], []
        for n in range(args.repeat):
            clock["now"] += timedelta(minutes=10)
            item = ArticleInput(
                title=f"Breaking story {n}", content_html=PARAGRAPH * 12,
                published_at=clock["now"] - timedelta(minutes=1), summary="New.",
                authors=("Desk",), categories=(Category("section-07", "Section 07"),),
                image_url="https://images.example.org/new.jpg",
            )  # fmt: skip
            started, started_cpu = time.perf_counter(), time.process_time()
            since = time.time_ns()
            pub.store_article(item)
            timings.append(time.perf_counter() - started)
            cpu.append(time.process_time() - started_cpu)
            rewritten.append(changed_since(pub.feeds.service.out_dir, since))
            touched = Touched(slugs=[None, *(c.slug for c in item.categories)])
            files.append(len(pub.feeds.service.build(touched, clock["now"]).written))
        median = statistics.median(timings)
        verdict = "meets" if median <= 0.3 else "misses"
        print(
            f"publish one article, touched feeds rewritten: median {median * 1000:.0f} ms "
            f"(min {min(timings) * 1000:.0f}, max {max(timings) * 1000:.0f}) over "
            f"{args.repeat} runs; {verdict} the 0.3 s target; ratio to full rebuild "
            f"{median / full_s:.4f} ({full_s / median:.0f}x faster); "
            f"CPU time median {statistics.median(cpu) * 1000:.0f} ms; files rewritten per "
            f"publish {statistics.median(rewritten):.0f} (feed sets and newest archive pages)"
        )
        assert files == [0] * args.repeat, "a second build right after must write nothing"

        out = root / "baseline-feeds"
        base_times, base_cpu = [], []
        for n in range(args.repeat):
            clock["now"] += timedelta(minutes=10)
            item = ArticleInput(
                title=f"Other story {n}", content_html=PARAGRAPH * 12,
                published_at=clock["now"] - timedelta(minutes=1), summary="New.",
                authors=("Desk",), categories=(Category("section-07", "Section 07"),),
                image_url="https://images.example.org/new.jpg",
            )  # fmt: skip
            started, started_cpu = time.perf_counter(), time.process_time()
            rerender_touched(pub, item, clock["now"], out)
            base_times.append(time.perf_counter() - started)
            base_cpu.append(time.process_time() - started_cpu)
        base_files = len(list(out.iterdir()))
        base = statistics.median(base_times)
        print(
            f"baseline publish: store + re-render only the touched feed sets with feedgen, "
            f"no caches: median {base * 1000:.0f} ms (min {min(base_times) * 1000:.0f}, max "
            f"{max(base_times) * 1000:.0f}); CPU time median "
            f"{statistics.median(base_cpu) * 1000:.0f} ms, {base_files} files per publish; "
            f"ratio ours / this baseline "
            f"{median / base:.2f} (wall), "
            f"{statistics.median(cpu) / statistics.median(base_cpu):.2f} (CPU)"
        )

        sets = [one_set(pub) for _ in range(20)]
        per_set = statistics.median(sets)
        print(f"one 50-item feed set (RSS + Atom + JSON): median {per_set * 1000:.1f} ms; "
              f"ratio to full rebuild {per_set / full_s:.5f}")  # fmt: skip
        pub.close()


if __name__ == "__main__":
    main()
