"""Benchmark: import 10,000 generated Markdown articles (or HTML pages) into a SQLite store.

Prints articles/s and peak RSS for
- ``publisher articles import`` end to end (parse, sanitise, upsert, and rebuild of every
  feed and archive page the new articles touch), through ``Publisher.import_directory``;
- parse + store alone (``ingest.read_files`` into ``store.articles.batch()``), the part
  the 1,000 articles/s target is about;
- a bare SQLAlchemy insert of the same rows, no parsing: one ``executemany`` per
  transaction of 1,000 rows (the strongest simple way to load rows one already has),
  the baseline, measured in the same run; ratios are against it.

    .venv/bin/python bench/ingest.py [--count 10000] [--format markdown|html]
    .venv/bin/python bench/ingest.py --depths     # sanitising time over nesting depth

``--depths`` shows that sanitising is linear in input size however deep the nesting: it
times ``build_article`` (flatten + nh3) on ``<div>`` nested 1,000 to 64,000 deep and
prints microseconds per KB against a flat document of the same size (the baseline).
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

CATEGORIES = ["Local", "Politics", "Science", "Culture", "Sport", "Business"]
PARAGRAPH = (
    "The council met on Tuesday evening to discuss the plans for the riverside path, "
    "which residents have asked for since the floods of last winter. "
)


PAGE = """<!doctype html><html lang="en"><head><meta charset="utf-8">
<title>{title} | The Riverside Courier</title>
<meta property="og:title" content="{title}">
<meta property="article:published_time" content="{published}">
<meta name="author" content="Reporter {author}">
<meta property="article:section" content="{section}">
<link rel="canonical" href="https://news.example.org/{slug}">
</head><body>
<header><nav><a href="/">Home</a> <a href="/politics">Politics</a> <a href="/sport">Sport</a>
</nav></header>
<main><article><h1>{title}</h1><p class="byline">By Reporter {author}</p>
{paragraphs}
<h2>What next</h2><p>A <a href="/about">link</a> and more text.</p>
<div class="share">Share on social media</div>
</article><aside class="related"><h3>Related</h3><ul><li><a href="/x">Other</a></li></ul>
</aside></main><footer>Copyright The Riverside Courier</footer></body></html>
"""


def generate(folder: Path, count: int, fmt: str = "markdown") -> None:
    """Write ``count`` articles (Markdown with front matter, or saved news pages), spread
    over folders of 500."""
    start = datetime(2026, 1, 1, tzinfo=UTC)
    for i in range(count):
        sub = folder / f"batch-{i // 500:03d}"
        sub.mkdir(parents=True, exist_ok=True)
        published = (start + timedelta(minutes=17 * i)).isoformat()
        cats = [CATEGORIES[i % 6], CATEGORIES[(i * 7) % 6]]
        if fmt == "html":
            paragraphs = "\n".join(
                f"<p>{PARAGRAPH} Paragraph {p} of story {i}.</p>" for p in range(6)
            )
            (sub / f"story-{i:05d}.html").write_text(
                PAGE.format(
                    title=f"Story number {i} about the riverside",
                    published=published,
                    author=i % 40,
                    section=cats[0],
                    slug=f"story-{i}",
                    paragraphs=paragraphs,
                ),
                encoding="utf-8",
            )
            continue
        body = "\n\n".join(f"{PARAGRAPH} Paragraph {p} of story {i}." for p in range(6))
        (sub / f"story-{i:05d}.md").write_text(
            "---\n"
            f"title: Story number {i} about the riverside\n"
            f"date: {published}\n"
            f"author: Reporter {i % 40}\n"
            f"categories: [{', '.join(cats)}]\n"
            f"image: https://images.example.org/{i}.jpg\n"
            "---\n\n"
            f"{body}\n\n## What next\n\nA [link](/about) and more text.\n",
            encoding="utf-8",
        )


def cpu_seconds() -> float:
    """CPU time of this process and its finished children (the parsing pool): on a shared
    machine it says what the work costs, where wall time says how busy the machine was."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run_ours(folder: Path, db: Path) -> dict[str, float]:
    from publisher.config import load_settings
    from publisher.core import make_publisher

    root = db.parent
    settings = load_settings(
        root, environ={"PUBLISHER_DATABASE__URL": f"sqlite:///{db}"}, config_file=root / "none"
    )
    publisher = make_publisher(settings, create=True)
    cpu = cpu_seconds()
    began = time.perf_counter()
    report = publisher.import_directory(folder)
    seconds = time.perf_counter() - began
    assert report.ok, report.errors[:3]
    count = len(report.results)
    publisher.close()
    cpu = cpu_seconds() - cpu
    return {"count": count, "seconds": seconds, "rss_mb": peak_rss_mb(), "cpu": cpu}


def run_store(folder: Path, db: Path) -> dict[str, float]:
    """Parse and store only: the same work minus the feed rebuild."""
    from publisher.config import load_settings
    from publisher.ingest import IngestOptions, iter_source_files, read_files
    from publisher.store import open_store

    root = db.parent
    settings = load_settings(root, environ={}, config_file=root / "none")
    options = IngestOptions(site_url=settings.site.url, timezone=settings.zone)
    store = open_store(f"sqlite:///{db}", create=True)
    cpu = cpu_seconds()
    began = time.perf_counter()
    count = 0
    with store.articles.batch() as batch:
        for _path, results in read_files(iter_source_files(folder), options, root=folder):
            for item in results:
                assert not isinstance(item, Exception), item
                batch.upsert(item)
                count += 1
    seconds = time.perf_counter() - began
    store.close()
    cpu = cpu_seconds() - cpu
    return {"count": count, "seconds": seconds, "rss_mb": peak_rss_mb(), "cpu": cpu}


BARE_BATCH = 1000


def run_bare(folder: Path, db: Path) -> dict[str, float]:
    """The same rows as our import stored, inserted with plain SQLAlchemy Core: one
    ``executemany`` per transaction of ``BARE_BATCH`` rows."""
    from sqlalchemy import insert

    from publisher.store import open_store
    from publisher.store.schema import articles

    source = open_store(f"sqlite:///{folder.parent / 'ours.db'}", create=True)
    with source.engine.connect() as conn:
        rows = [dict(r._mapping) for r in conn.execute(articles.select())]
    source.close()
    for row in rows:
        row.pop("id")
    store = open_store(f"sqlite:///{db}", create=True)
    cpu = cpu_seconds()
    began = time.perf_counter()
    statement = insert(articles)
    for start in range(0, len(rows), BARE_BATCH):
        with store.engine.begin() as conn:
            conn.execute(statement, rows[start : start + BARE_BATCH])
    seconds = time.perf_counter() - began
    store.close()
    return {
        "count": len(rows),
        "seconds": seconds,
        "rss_mb": peak_rss_mb(),
        "cpu": cpu_seconds() - cpu,
    }


def depths() -> None:
    """Sanitising cost per KB over nesting depth, against a flat document of the same size."""
    from zoneinfo import ZoneInfo

    from publisher.ingest import IngestOptions
    from publisher.ingest.fields import RawArticle, build_article

    options = IngestOptions("https://news.example.org", ZoneInfo("UTC"))

    def per_kb(body: str) -> float:
        raw = RawArticle(title="Deep", body_html=body, published="2026-01-01")
        began = time.perf_counter()
        build_article(raw, options, "deep.html")
        return (time.perf_counter() - began) * 1e6 / (len(body) / 1024)

    print(f"{'depth':>7} {'size KB':>8} {'us/KB nested':>13} {'us/KB flat':>11} {'ratio':>6}")
    for depth in (1_000, 2_000, 4_000, 8_000, 16_000, 32_000, 64_000):
        nested = "<div>" * depth + "<p>words</p>" + "</div>" * depth
        flat = "<div></div>" * depth + "<p>words</p>"
        deep, shallow = per_kb(nested), per_kb(flat)
        print(
            f"{depth:>7} {len(nested) / 1024:>8.0f} {deep:>13.1f} {shallow:>11.1f}"
            f" {deep / shallow:>6.2f}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--count", type=int, default=10_000)
    parser.add_argument("--format", dest="fmt", choices=["markdown", "html"], default="markdown")
    parser.add_argument("--depths", action="store_true", help="time sanitising over depth")
    parser.add_argument("--phase", choices=["ours", "store", "bare"])
    parser.add_argument("--work", type=Path)
    args = parser.parse_args()
    if args.depths:
        depths()
        return
    if args.phase:
        runner = {"ours": run_ours, "store": run_store, "bare": run_bare}[args.phase]
        result = runner(args.work / "articles", args.work / f"{args.phase}.db")
        print(json.dumps(result))
        return
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        generate(work / "articles", args.count, args.fmt)
        results = {}
        for phase in ("ours", "store", "bare"):
            out = subprocess.run(
                [sys.executable, __file__, "--phase", phase, "--work", str(work)],
                check=True,
                capture_output=True,
                text=True,
            )
            results[phase] = json.loads(out.stdout.strip().splitlines()[-1])
    bare_rate = results["bare"]["count"] / results["bare"]["seconds"]
    print(f"articles: {int(results['ours']['count'])} ({args.fmt})")
    labels = {
        "ours": "import, feeds included",
        "store": "parse + store",
        "bare": "bare insert, batches of 1,000 (baseline)",
    }
    for phase, label in labels.items():
        r = results[phase]
        rate = r["count"] / r["seconds"]
        print(
            f"{label:<42} {rate:8.0f} articles/s  ratio {rate / bare_rate:5.2f}"
            f"  {r['count'] / r['cpu']:6.0f} per CPU-second  peak RSS {r['rss_mb']:.0f} MB"
        )
    store_rate = results["store"]["count"] / results["store"]["seconds"]
    if args.fmt == "markdown":
        met = "met" if store_rate >= 1000 else "NOT met"
        print(f"target >= 1000 articles/s (parse + store): {met}")


if __name__ == "__main__":
    main()
