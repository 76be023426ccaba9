r"""Benchmark: import 100,000 subscriber CSV rows into a SQLite store (or PostgreSQL).

On PostgreSQL (``--database-url``; its subscribers are emptied) the command a user runs,
``publisher subscribers import --confirmed FILE``, in its own process (wall time, and
its peak RSS from ``wait4``), against psql loading the same file in the same run, each
baseline into a fresh schema holding copies of our subscriber tables (``LIKE ... INCLUDING
ALL``: the same columns, defaults, unique address, status index; the categories' foreign
key), JIT off as in the import:

* the baseline of the target (>= 0.5 of its rows/s): ``\copy`` into a staging table, then
  one ``INSERT ... SELECT`` into the subscribers and one into their categories, in one
  transaction: the same rows and categories the import stores, by the strongest simple
  way a DBA would use (no validation, no duplicates or existing addresses looked for);
* ``\copy`` of the file's email, name and frequency straight into the subscribers table
  (categories dropped: less than the import stores), for reference;
* ``\copy`` into a bare table of the file's four columns (no key, no index): what the
  server's COPY costs alone;

then the same import again (every row unchanged). ``--repeat N`` runs N rounds of all of
them and keeps each one's best time (a shared machine). ``--rows 1000000`` shows the peak
RSS target (<= 150 MB) at a million rows.

On SQLite (no ``--database-url``) each measurement runs in a fresh process. Printed:

* our streaming import (``Publisher.import_subscribers``, ``--confirmed``: batches of 1,000,
  one transaction each), rows/s and peak RSS, for 100,000 rows and for 10,000 rows (the
  two peaks should be about equal: memory does not grow with the file);
* the baseline measured in the same run: one ``SubscriberRepository.add`` per row (one
  transaction per row, the obvious way) on the first rows of the same file, and the ratio;
* the import without ``--confirmed`` (every new address gets a confirmation mail written
  to the outbox) on 2,000 rows.

    .venv/bin/python bench/subscribers.py [--rows 100000]
    .venv/bin/python bench/subscribers.py --database-url postgresql+psycopg://... [--rows N]
        [--repeat N]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, create_engine, make_url, text

KEY = "bench-secret-key-0123456789abcdef0123456789"


def generate(path: Path, rows: int) -> None:
    with path.open("w", encoding="utf-8") as out:
        out.write("email,name,frequency,categories\n")
        for i in range(rows):
            freq = "weekly" if i % 5 == 0 else "daily"
            cats = ("local;sport", "", "politics", "")[i % 4]
            out.write(f"reader.{i}@mail{i % 97}.example.org,Reader Number {i},{freq},{cats}\n")


def _seed_categories(publisher: Any) -> None:
    """The three categories the generated file's readers choose, each with an article."""
    from datetime import UTC, datetime

    from publisher.types import ArticleInput, Category

    for slug in ("local", "sport", "politics"):
        publisher.store_article(
            ArticleInput(
                title=f"About {slug}",
                content_html="<p>x</p>",
                published_at=datetime(2026, 1, 1, tzinfo=UTC),
                categories=(Category(slug, slug.title()),),
            )
        )


def child(mode: str, csv_path: Path, rows: int, url: str, root: Path) -> dict[str, float]:
    """Run one measurement in this process and return its figures."""
    from publisher.config import load_settings
    from publisher.core import make_publisher
    from publisher.store.schema import metadata

    env = {"PUBLISHER_SECRET_KEY": KEY, "PUBLISHER_DATABASE__URL": url}
    publisher = make_publisher(load_settings(root, environ=env), create=True)
    if url.startswith("postgresql"):
        with publisher._services.store.engine.begin() as conn:
            for table in reversed(metadata.sorted_tables):
                if table.name not in ("articles", "categories", "article_categories"):
                    conn.execute(table.delete())
    _seed_categories(publisher)
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


BARE = "email varchar(320), name text, frequency varchar(10), categories text"
BASELINE = "bench_baseline"
"""The schema each baseline loads into: created afresh for each, dropped after."""
TABLES = ("subscribers", "subscriber_categories")


def fresh_schema(conn: Connection) -> None:
    """``BASELINE`` with empty copies of our subscriber tables: the migrated tables' columns,
    defaults, NOT NULLs, checks and indexes (``LIKE ... INCLUDING ALL``), their own id
    sequence, and the foreign key of the categories to the subscribers."""
    conn.execute(text(f"DROP SCHEMA IF EXISTS {BASELINE} CASCADE"))
    conn.execute(text(f"CREATE SCHEMA {BASELINE}"))
    for table in TABLES:
        conn.execute(text(f"CREATE TABLE {BASELINE}.{table} (LIKE public.{table} INCLUDING ALL)"))
    conn.execute(
        text(f"CREATE SEQUENCE {BASELINE}.subscribers_id_seq OWNED BY {BASELINE}.subscribers.id")
    )
    conn.execute(
        text(
            f"ALTER TABLE {BASELINE}.subscribers ALTER id "
            f"SET DEFAULT nextval('{BASELINE}.subscribers_id_seq')"
        )
    )
    keys = conn.execute(
        text(
            "SELECT pg_get_constraintdef(oid) FROM pg_constraint "
            "WHERE conrelid = 'public.subscriber_categories'::regclass AND contype = 'f'"
        )
    ).scalars()
    conn.execute(text(f"SET LOCAL search_path = {BASELINE}"))  # the key names our tables
    for key in list(keys):
        conn.execute(text(f"ALTER TABLE subscriber_categories ADD {key}"))
    conn.execute(text("SET LOCAL search_path = public"))


def baseline_scripts(csv_path: Path) -> dict[str, str]:
    """psql scripts of the baselines, each into a fresh ``BASELINE`` schema, JIT off like ours.

    ``dba``: what a DBA types to load this file into our tables: ``\\copy`` into a staging
    table, then one ``INSERT ... SELECT`` into the subscribers and one into their categories,
    in one transaction (the same rows and categories the import stores; no validation, no
    duplicates or existing addresses to look for). ``direct``: ``\\copy`` of the file's
    email, name and frequency straight into the subscribers table (its NOT NULL columns given
    defaults for the load; the categories are dropped: less than the import stores).
    """
    copy = "WITH (FORMAT csv, HEADER true)"
    head = f"SET search_path = {BASELINE};\nSET jit = off;\nBEGIN;\n"
    dba = (
        head
        + "CREATE TEMP TABLE staged (email text, name text, frequency text, categories text);\n"
        + f"\\copy staged FROM '{csv_path}' {copy}\n"
        + "INSERT INTO subscribers (email, name, status, frequency, consent_at, "
        "consent_method, consent_ip, created_at, updated_at) SELECT email, name, 'active', "
        "frequency, now(), 'import', '', now(), now() FROM staged;\n"
        + "INSERT INTO subscriber_categories (subscriber_id, category_slug) "
        "SELECT s.id, slug FROM staged t JOIN subscribers s ON s.email = t.email, "
        "unnest(string_to_array(t.categories, ';')) AS slug WHERE t.categories <> '';\n"
        "COMMIT;\n"
    )
    direct = (
        head + "ALTER TABLE subscribers ALTER status SET DEFAULT 'active', "
        "ALTER consent_method SET DEFAULT 'import', ALTER consent_ip SET DEFAULT '', "
        "ALTER consent_at SET DEFAULT now(), ALTER created_at SET DEFAULT now(), "
        "ALTER updated_at SET DEFAULT now();\n"
        + f"\\copy subscribers (email, name, frequency) FROM PROGRAM "
        f"'cut -d, -f1-3 {csv_path}' {copy}\n"
        "COMMIT;\n"
    )
    return {"dba": dba, "direct": direct}


CPU: dict[str, float] = {}
"""CPU seconds (user + system) of the last process each program ran (by its path)."""


def timed_process(
    command: list[str], env: dict[str, str] | None = None
) -> tuple[float, float, str]:
    """Run a command to its end: wall seconds, its own peak RSS in MiB (``wait4``), stdout;
    its CPU seconds go to ``CPU``."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        started = time.perf_counter()
        proc = subprocess.Popen(command, env=env, stdout=out, stderr=err)
        _, status, usage = os.wait4(proc.pid, 0)
        seconds = time.perf_counter() - started
        proc.returncode = os.waitstatus_to_exitcode(status)
        CPU[command[0]] = usage.ru_utime + usage.ru_stime
        out.seek(0)
        err.seek(0)
        if proc.returncode != 0:
            raise SystemExit(f"{' '.join(command[:5])} failed: {err.read().decode()[-500:]}")
        return seconds, usage.ru_maxrss / 1024, out.read().decode()


def postgres(url: str, rows: int, work: Path, repeat: int = 1) -> None:
    """Our CLI import against psql's \\copy of the same file, on PostgreSQL."""
    from publisher.config import load_settings
    from publisher.core import make_publisher

    root = work / "project"
    (root / "config").mkdir(parents=True)
    (root / "config" / "publisher.toml").write_text(
        '[site]\nurl = "https://news.example.org"\ntitle = "Example News"\n', encoding="utf-8"
    )
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("PUBLISHER_")},
        "PUBLISHER_SECRET_KEY": KEY,
        "PUBLISHER_DATABASE__URL": url,
    }
    publisher = make_publisher(load_settings(root, environ=env), create=True)
    _seed_categories(publisher)
    publisher.close()
    engine = create_engine(url)
    csv_path = work / "readers.csv"
    generate(csv_path, rows)
    psql_url = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
    cli = [sys.executable, "-m", "publisher", "--root", str(root)]
    load = os.getloadavg()
    ours, ours_rss, ours_cpu, summary = float("inf"), 0.0, 0.0, ""
    copies: dict[str, float] = {}
    stored_by: dict[str, tuple[int, int]] = {}
    for _ in range(repeat):  # rounds of every measurement, so a busy moment hits each alike
        with engine.begin() as conn:
            conn.execute(text("TRUNCATE subscribers, subscriber_categories, suppressions CASCADE"))
            conn.execute(text("DROP TABLE IF EXISTS bench_copy_bare"))
            conn.execute(text(f"CREATE TABLE bench_copy_bare ({BARE})"))
        seconds, rss, out = timed_process(
            [*cli, "subscribers", "import", "--confirmed", str(csv_path)], env
        )
        ours_rss = max(ours_rss, rss)
        if seconds < ours:
            ours, ours_cpu = seconds, CPU[sys.executable]
            summary = out.strip().splitlines()[-1]
        for name, script in baseline_scripts(csv_path).items():
            with engine.begin() as conn:
                fresh_schema(conn)
            script_path = work / f"{name}.sql"
            script_path.write_text(script, encoding="utf-8")
            seconds, _, _ = timed_process(
                ["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-f", str(script_path), psql_url]
            )
            copies[name] = min(seconds, copies.get(name, seconds))
            with engine.begin() as conn:
                stored_by[name] = (
                    conn.execute(text(f"SELECT count(*) FROM {BASELINE}.subscribers")).scalar_one(),
                    conn.execute(
                        text(f"SELECT count(*) FROM {BASELINE}.subscriber_categories")
                    ).scalar_one(),
                )
                conn.execute(text(f"DROP SCHEMA {BASELINE} CASCADE"))
        bare_copy = f"\\copy bench_copy_bare FROM '{csv_path}' WITH (FORMAT csv, HEADER true)"
        seconds, _, _ = timed_process(["psql", "-X", "-q", "-c", bare_copy, psql_url])
        copies["bare"] = min(seconds, copies.get("bare", seconds))
    again, _, again_out = timed_process(
        [*cli, "subscribers", "import", "--confirmed", str(csv_path)], env
    )
    with engine.begin() as conn:
        stored = conn.execute(text("SELECT count(*) FROM subscribers")).scalar_one()
        links = conn.execute(text("SELECT count(*) FROM subscriber_categories")).scalar_one()
        conn.execute(text("DROP TABLE bench_copy_bare"))
    engine.dispose()
    rate = rows / ours
    dba, direct, bare = (rows / copies[k] for k in ("dba", "direct", "bare"))
    lines = [
        (
            "publisher subscribers import --confirmed",
            ours,
            f"peak RSS {ours_rss:.1f} MiB, {ours_cpu:.1f} s CPU in the import process",
        ),
        (
            "psql \\copy + INSERT ... SELECT (baseline)",
            copies["dba"],
            "staged, then our subscribers and categories tables",
        ),
        ("psql \\copy straight into subscribers", copies["direct"], "email, name, frequency"),
        ("psql \\copy, bare table", copies["bare"], "four text columns, no keys"),
        ("the same import again (all unchanged)", again, again_out.strip().splitlines()[-1]),
    ]
    print(
        f"subscriber CSV import on PostgreSQL, {rows:,} rows, load average {load[0]:.1f}, "
        f"best of {repeat} round(s)"
    )
    for what, seconds, note in lines:
        print(f"  {what:<44} {seconds:7.2f} s {rows / seconds:>10,.0f} rows/s  {note}")
    print(f"  import: {summary}; {stored:,} subscribers and {links:,} categories stored")
    print(
        "  baseline stored {:,} subscribers and {:,} categories; \\copy straight in "
        "{:,} subscribers, no categories".format(*stored_by["dba"], stored_by["direct"][0])
    )
    met = "met" if rate / dba >= 0.5 else "NOT met"
    print(
        f"  ratio import / \\copy + INSERT into our tables: {rate / dba:.3f} (target >= 0.5: {met})"
    )
    print(f"  ratio import / \\copy straight into subscribers: {rate / direct:.3f}")
    print(f"  ratio import / \\copy into a bare table: {rate / bare:.3f}")
    met = "met" if ours_rss <= 150 else "NOT met"
    print(f"  peak RSS of the import: {ours_rss:.1f} MiB (target <= 150 MB: {met})")


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
    parser.add_argument(
        "--repeat", type=int, default=1, help="PostgreSQL: rounds of every measurement; best kept"
    )
    parser.add_argument("--database-url", help="PostgreSQL URL (emptied!) instead of SQLite")
    parser.add_argument("--child", nargs=5, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        mode, csv_path, rows, url, root = args.child
        print(json.dumps(child(mode, Path(csv_path), int(rows), url, Path(root))))
        return
    if args.database_url:
        with tempfile.TemporaryDirectory() as tmp:
            postgres(args.database_url, args.rows, Path(tmp), args.repeat)
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
