"""Benchmark: import 10,000 generated Markdown articles into a SQLite store.

Prints articles/s and peak RSS for our import (parse, sanitise, upsert with one
transaction per article), and the same figures for a bare SQLAlchemy insert of the same
rows (one transaction per row, no parsing) measured in the same run, with the ratio.

    .venv/bin/python bench/ingest.py [--count 10000]
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


def generate(folder: Path, count: int) -> None:
    """Write ``count`` Markdown articles with front matter, spread over folders of 500."""
    start = datetime(2026, 1, 1, tzinfo=UTC)
    for i in range(count):
        sub = folder / f"batch-{i // 500:03d}"
        sub.mkdir(parents=True, exist_ok=True)
        published = (start + timedelta(minutes=17 * i)).isoformat()
        cats = [CATEGORIES[i % 6], CATEGORIES[(i * 7) % 6]]
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


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run_ours(folder: Path, db: Path) -> dict[str, float]:
    from publisher.config import load_settings
    from publisher.core import Publisher

    root = db.parent
    settings = load_settings(
        root, environ={"PUBLISHER_DATABASE__URL": f"sqlite:///{db}"}, config_file=root / "none"
    )
    publisher = Publisher(settings, create=True)
    began = time.perf_counter()
    report = publisher.import_directory(folder)
    seconds = time.perf_counter() - began
    assert report.ok, report.errors[:3]
    count = len(report.results)
    publisher.close()
    return {"count": count, "seconds": seconds, "rss_mb": peak_rss_mb()}


def run_bare(folder: Path, db: Path) -> dict[str, float]:
    """The same rows as our import stored, inserted with plain SQLAlchemy Core."""
    from sqlalchemy import insert

    from publisher.store import open_store
    from publisher.store.schema import articles

    source = open_store(f"sqlite:///{folder.parent / 'ours.db'}")
    with source.engine.connect() as conn:
        rows = [dict(r._mapping) for r in conn.execute(articles.select())]
    source.close()
    for row in rows:
        row.pop("id")
    store = open_store(f"sqlite:///{db}", create=True)
    began = time.perf_counter()
    for row in rows:
        with store.engine.begin() as conn:
            conn.execute(insert(articles).values(**row))
    seconds = time.perf_counter() - began
    store.close()
    return {"count": len(rows), "seconds": seconds, "rss_mb": peak_rss_mb()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--count", type=int, default=10_000)
    parser.add_argument("--phase", choices=["ours", "bare"])
    parser.add_argument("--work", type=Path)
    args = parser.parse_args()
    if args.phase:
        runner = run_ours if args.phase == "ours" else run_bare
        result = runner(args.work / "articles", args.work / f"{args.phase}.db")
        print(json.dumps(result))
        return
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        generate(work / "articles", args.count)
        results = {}
        for phase in ("ours", "bare"):
            out = subprocess.run(
                [sys.executable, __file__, "--phase", phase, "--work", str(work)],
                check=True,
                capture_output=True,
                text=True,
            )
            results[phase] = json.loads(out.stdout.strip().splitlines()[-1])
    ours, bare = results["ours"], results["bare"]
    ours_rate = ours["count"] / ours["seconds"]
    bare_rate = bare["count"] / bare["seconds"]
    print(f"articles: {int(ours['count'])}")
    print(f"publisher import: {ours_rate:8.0f} articles/s  peak RSS {ours['rss_mb']:.0f} MB")
    print(f"bare insert:      {bare_rate:8.0f} rows/s      peak RSS {bare['rss_mb']:.0f} MB")
    print(f"ratio (import / bare insert): {ours_rate / bare_rate:.2f}")
    print(f"target >= 1000 articles/s: {'met' if ours_rate >= 1000 else 'NOT met'}")


if __name__ == "__main__":
    main()
