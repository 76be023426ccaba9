"""Benchmark: import 100,000 subscriber CSV rows into a SQLite store (or PostgreSQL).

Each measurement runs in a fresh process so its peak RSS is its own. Printed:

* our streaming import (``Publisher.import_subscribers``, ``--confirmed``: batches of 1,000,
  one transaction each), rows/s and peak RSS, for 100,000 rows and for 10,000 rows (the
  two peaks should be about equal: memory does not grow with the file);
* the baseline measured in the same run: one ``SubscriberRepository.add`` per row (one
  transaction per row, the obvious way) on the first rows of the same file, and the ratio;
* the import without ``--confirmed`` (every new address gets a confirmation mail written
  to the outbox) on 2,000 rows.

    .venv/bin/python bench/subscribers.py [--rows 100000] [--database-url URL]
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

KEY = "bench-secret-key-0123456789abcdef0123456789"


def generate(path: Path, rows: int) -> None:
    with path.open("w", encoding="utf-8") as out:
        out.write("email,name,frequency,categories\n")
        for i in range(rows):
            freq = "weekly" if i % 5 == 0 else "daily"
            cats = ("local;sport", "", "politics", "")[i % 4]
            out.write(f"reader.{i}@mail{i % 97}.example.org,Reader Number {i},{freq},{cats}\n")


def child(mode: str, csv_path: Path, rows: int, url: str, root: Path) -> dict[str, float]:
    """Run one measurement in this process and return its figures."""
    from publisher.config import load_settings
    from publisher.core import make_publisher
    from publisher.store.schema import metadata
    from publisher.types import ArticleInput, Category

    env = {"PUBLISHER_SECRET_KEY": KEY, "PUBLISHER_DATABASE__URL": url}
    publisher = make_publisher(load_settings(root, environ=env), create=True)
    if url.startswith("postgresql"):
        with publisher._services.store.engine.begin() as conn:
            for table in reversed(metadata.sorted_tables):
                if table.name not in ("articles", "categories", "article_categories"):
                    conn.execute(table.delete())
    from datetime import UTC, datetime

    for slug in ("local", "sport", "politics"):
        publisher.store_article(
            ArticleInput(
                title=f"About {slug}",
                content_html="<p>x</p>",
                published_at=datetime(2026, 1, 1, tzinfo=UTC),
                categories=(Category(slug, slug.title()),),
            )
        )
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    started = time.perf_counter()
    if mode == "per-row":
        from publisher.addresses import normalise_address

        with csv_path.open(encoding="utf-8") as handle:
            next(handle)
            for _, line in zip(range(rows), handle, strict=False):
                email, name, _freq, _cats = line.rstrip("\n").split(",")
                publisher._services.store.subscribers.add(normalise_address(email), name=name)
        done = rows
    else:
        confirmed = mode == "import-confirmed"
        with csv_path.open("rb") as handle:
            report = publisher.import_subscribers(handle, str(csv_path), confirmed)
        done = report.imported
    seconds = time.perf_counter() - started
    publisher.close()
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return {
        "rows": done,
        "seconds": seconds,
        "rate": done / seconds,
        "peak_mib": peak / 1024,
        "before_mib": rss_before / 1024,
    }


def measure(mode: str, csv_path: Path, rows: int, url: str | None, work: Path) -> dict[str, float]:
    root = work / f"{mode}-{rows}"
    root.mkdir()
    db = url or f"sqlite:///{root / 'bench.db'}"
    out = subprocess.run(
        [sys.executable, __file__, "--child", mode, str(csv_path), str(rows), db, str(root)],
        check=True,
        capture_output=True,
        text=True,
    )
    return dict(json.loads(out.stdout))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--baseline-rows", type=int, default=5_000)
    parser.add_argument("--database-url", help="PostgreSQL URL (emptied!) instead of SQLite")
    parser.add_argument("--child", nargs=5, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        mode, csv_path, rows, url, root = args.child
        print(json.dumps(child(mode, Path(csv_path), int(rows), url, Path(root))))
        return
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        big, small = work / "big.csv", work / "small.csv"
        generate(big, args.rows)
        generate(small, args.rows // 10)
        url = args.database_url
        kind = "PostgreSQL" if url else "SQLite"
        ours = measure("import-confirmed", big, args.rows, url, work)
        tenth = measure("import-confirmed", small, args.rows // 10, url, work)
        base = measure("per-row", big, args.baseline_rows, url, work)
        mail_csv = work / "mail.csv"
        generate(mail_csv, 2_000)
        mails = measure("import-mail", mail_csv, 2_000, url, work)
    print(f"subscriber CSV import on {kind} ({args.rows:,} rows, {big.name})")
    print(
        f"  import --confirmed    {ours['rows']:>9,.0f} rows  {ours['seconds']:7.2f} s  "
        f"{ours['rate']:>9,.0f} rows/s  peak RSS {ours['peak_mib']:6.1f} MiB "
        f"(before import {ours['before_mib']:.1f} MiB)"
    )
    print(
        f"  import --confirmed    {tenth['rows']:>9,.0f} rows  {tenth['seconds']:7.2f} s  "
        f"{tenth['rate']:>9,.0f} rows/s  peak RSS {tenth['peak_mib']:6.1f} MiB"
    )
    print(
        f"  baseline add() x row  {base['rows']:>9,.0f} rows  {base['seconds']:7.2f} s  "
        f"{base['rate']:>9,.0f} rows/s  peak RSS {base['peak_mib']:6.1f} MiB"
    )
    print(
        f"  import with mails     {mails['rows']:>9,.0f} rows  {mails['seconds']:7.2f} s  "
        f"{mails['rate']:>9,.0f} rows/s  peak RSS {mails['peak_mib']:6.1f} MiB"
    )
    print(f"  ratio import / baseline: {ours['rate'] / base['rate']:.1f}x")
    print(
        f"  peak RSS {args.rows:,} rows / {args.rows // 10:,} rows: "
        f"{ours['peak_mib'] / tenth['peak_mib']:.2f}"
    )
    target = 10_000
    print(f"  target >= {target:,} rows/s: {'met' if ours['rate'] >= target else 'NOT met'}")


if __name__ == "__main__":
    main()
