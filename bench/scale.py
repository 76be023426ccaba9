"""Benchmark: the product at scale, as a user runs it, against Postfix's own tools.

    python bench/scale.py --postgres URL [--readers 100000] [--workers 1,2] [--categories]
                          [--set SECTION.KEY=VALUE ...]
    python bench/scale.py --sqlite FILE [...]

On PostgreSQL (its public schema is reset!) or on a SQLite file (the default store; the
file is replaced). Needs ``smtp-sink`` and ``smtp-source`` (Debian package ``postfix``;
the daemon need not run). One run:

1. starts ``smtp-sink`` on loopback;
2. ``publisher init``-style project with the sample articles, then
   ``publisher subscribers import --confirmed`` of a CSV of READERS rows (time, peak RSS);
3. for each N in --workers: a fresh edition sent with ``publisher digest send --workers N
   --json`` into the sink, sampling every 0.2 s the RSS of every process of the send and
   the ledger's sent count, from which: planning time (until the ledger exists), the rate
   in each tenth of the edition, the whole rate; then the same command again (a rerun:
   the ledger exists, nothing to send) and its time;
4. the baseline: ``smtp-source -s 4`` sending READERS messages of the digest's size over 4
   connections into the same sink;
5. the database size and the ledger's size.

Every rate is printed with its ratio to the baseline measured in the same run. The CI
never runs this; docs/scaling.md records runs at 20k-100k and the method for 1M.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

from postfix_tools import free_port, require_tools, smtp_source, start_sink
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.exc import SQLAlchemyError

ROOT = Path(__file__).resolve().parent.parent
ARTICLES = ROOT / "examples" / "articles"
CATEGORIES = ("local", "sport", "business", "culture")


class Tree:
    """Peak RSS per process of a process tree, sampled from /proc."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.peak: dict[int, float] = {}

    def pids(self) -> list[int]:
        found, todo = [], [self.pid]
        while todo:
            pid = todo.pop()
            found.append(pid)
            try:
                for task in Path(f"/proc/{pid}/task").iterdir():
                    todo += [int(c) for c in (task / "children").read_text().split()]
            except OSError:
                continue
        return found

    def sample(self) -> None:
        for pid in self.pids():
            try:
                for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                    if line.startswith("VmRSS:"):
                        mb = int(line.split()[1]) / 1024
                        self.peak[pid] = max(self.peak.get(pid, 0.0), mb)
            except OSError:
                continue


class Project:
    def __init__(self, folder: Path, url: str, port: int) -> None:
        self.folder = folder
        (folder / "config").mkdir(parents=True, exist_ok=True)
        (folder / "config" / "publisher.toml").write_text(
            '[site]\nurl = "https://news.example.org"\ntitle = "Example News"\n',
            encoding="utf-8",
        )
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("PUBLISHER_")}
        self.env.update(
            {
                "PUBLISHER_SECRET_KEY": "bench-secret-key-0123456789abcdef",
                "PUBLISHER_DATABASE__URL": url,
                "PUBLISHER_MAIL__TRANSPORT": "smtp",
                "PUBLISHER_SMTP__HOST": "127.0.0.1",
                "PUBLISHER_SMTP__PORT": str(port),
                "PUBLISHER_DIGEST__FROM_ADDRESS": "digest@news.example.org",
            }
        )

    def command(self, *args: str) -> list[str]:
        return [sys.executable, "-m", "publisher", "--root", str(self.folder), *args]

    def run(self, *args: str) -> tuple[float, dict[int, float], str]:
        """Run a command to its end; seconds, peak RSS per process, stdout."""
        started = time.perf_counter()
        proc = subprocess.Popen(
            self.command(*args), env=self.env, stdout=subprocess.PIPE, text=True
        )
        tree = Tree(proc.pid)
        while proc.poll() is None:
            tree.sample()
            time.sleep(0.2)
        out = proc.communicate()[0]
        if proc.returncode != 0:
            raise SystemExit(f"{' '.join(args)} exited {proc.returncode}")
        return time.perf_counter() - started, tree.peak, out


def write_csv(path: Path, readers: int, categories: bool) -> None:
    with path.open("w", newline="", encoding="utf-8") as out:
        writer = csv.writer(out)
        writer.writerow(["email", "name", "frequency", "categories"])
        for n in range(readers):
            chosen = CATEGORIES[n % len(CATEGORIES)] if categories and n % 3 else ""
            writer.writerow([f"reader{n}@example.org", f"Reader {n}", "daily", chosen])


# Every table that refers to an edition, the ledger last but one (SQLite has no TRUNCATE).
EDITION_TABLES = (
    "edition_links",
    "paused_editions",
    "reader_clicks",
    "mail_events",
    "deliveries",
    "editions",
)


def send(project: Project, url: str, workers: int, readers: int) -> dict[str, object]:
    """One fresh edition sent with ``digest send --workers``; the ledger sampled."""
    engine = create_engine(url)
    postgres = engine.dialect.name == "postgresql"
    with engine.begin() as conn:
        if postgres:
            # Every table that refers to an edition (links, pauses, events) goes too; the
            # ledger is named, since it has no foreign key to follow (migration 0022).
            conn.execute(text("TRUNCATE editions, deliveries CASCADE"))
        else:
            for table in EDITION_TABLES:
                conn.execute(text(f"DELETE FROM {table}"))
    samples: list[tuple[float, int]] = []
    done = threading.Event()

    def watch() -> None:
        # Progress is read from the partial indexes of unfinished rows (small, and cheap
        # to count), not by counting sent rows: a scan of a million-row ledger five times a
        # second would load the database the send is measured on.
        total = -1
        with engine.connect() as conn:
            while True:
                finished = done.is_set()  # one more sample once the command has ended
                if total <= 0:
                    total = conn.execute(text("SELECT count(*) FROM deliveries")).scalar_one()
                open_rows = conn.execute(
                    text(
                        "SELECT (SELECT count(*) FROM deliveries WHERE state = 'pending')"
                        " + (SELECT count(*) FROM deliveries WHERE state = 'claimed')"
                        " + (SELECT count(*) FROM deliveries WHERE state = 'deferred')"
                    )
                ).scalar_one()
                samples.append((time.perf_counter(), total - int(open_rows) if total else -1))
                conn.commit()
                if finished:
                    return
                # Counting a million-entry index takes tens of milliseconds of the
                # database's CPU: a large edition is sampled once a second. So is every
                # edition on SQLite: sampled five times a second, a send of 20,000 readers
                # took 5.8-6.4 s against 5.2-5.8 s unsampled.
                done.wait(0.2 if readers < 100_000 and postgres else 1.0)

    watcher = threading.Thread(target=watch)
    started = time.perf_counter()
    watcher.start()
    seconds, peak, out = project.run("digest", "send", "--workers", str(workers), "--json")
    done.set()
    watcher.join()
    report = json.loads(out)
    planned = next((t for t, n in samples if n >= 0), started) - started
    rerun, _, _ = project.run("digest", "send", "--json")
    engine.dispose()
    tenths = []
    last_t, last_n = next(((t, n) for t, n in samples if n >= 0), (started, 0))
    for k in range(1, 11):
        goal = readers * k // 10
        hit = next(((t, n) for t, n in samples if n >= goal), None)
        if hit is None:
            break
        if hit == (last_t, last_n) and tenths:
            tenths.append(tenths[-1])  # inside one sampling interval: that interval's rate
            continue
        tenths.append((hit[1] - last_n) / max(hit[0] - last_t, 1e-6))
        last_t, last_n = hit
    return {
        "workers": workers,
        "seconds": seconds,
        "sent": report["sent"],
        "rate": report["sent"] / seconds,
        "planning": planned,
        "tenths": tenths,
        "rss": sorted(peak.values(), reverse=True),
        "rerun": rerun,
    }


def _sizes(engine: Engine, sqlite_file: Path | None) -> tuple[int, int | None]:
    """The database's bytes and the ledger's (PostgreSQL only: SQLite's ``dbstat`` table
    is not in every build)."""
    if sqlite_file is not None:
        return sum(
            Path(f"{sqlite_file}{suffix}").stat().st_size
            for suffix in ("", "-wal")
            if Path(f"{sqlite_file}{suffix}").exists()
        ), None
    with engine.connect() as conn:
        db = conn.execute(text("SELECT pg_database_size(current_database())")).scalar_one()
        ledger = conn.execute(text("SELECT pg_total_relation_size('deliveries')")).scalar_one()
    return int(db), int(ledger)


def _readers_in(engine: Engine) -> int:
    try:
        with engine.connect() as conn:
            return int(conn.execute(text("SELECT count(*) FROM subscribers")).scalar_one())
    except SQLAlchemyError:
        return -1


@contextmanager
def signing(project: Project, folder: Path) -> Iterator[None]:
    """DKIM signing on (a fresh RSA-2048 key) for the sends inside."""
    key = folder / "dkim.pem"
    if not key.exists():
        subprocess.run(["openssl", "genrsa", "-out", str(key), "2048"], check=True)
    project.env["PUBLISHER_DKIM__PRIVATE_KEY_PATH"] = str(key)
    try:
        yield
    finally:
        del project.env["PUBLISHER_DKIM__PRIVATE_KEY_PATH"]


def redate_articles(engine: Engine) -> None:
    """Every sample article published in the last hours: all of them in today's edition."""
    with engine.begin() as conn:
        ids = conn.execute(text("SELECT id FROM articles ORDER BY id")).scalars().all()
        now = datetime.now(UTC)
        for n, article_id in enumerate(ids):
            moment = now - timedelta(minutes=10 * (n + 1))
            conn.execute(
                text("UPDATE articles SET published_at = :m, created_at = :m WHERE id = :i"),
                {"m": moment, "i": article_id},
            )


def import_readers(
    project: Project, engine: Engine, folder: Path, args: argparse.Namespace
) -> tuple[float, dict[int, float]]:
    """The sample articles (all in today's edition) and a CSV of readers, through the CLI."""
    project.run("articles", "import", str(ARTICLES))
    csv_path = folder / "readers.csv"
    write_csv(csv_path, args.readers, args.categories)
    imported, import_peak, _ = project.run("subscribers", "import", "--confirmed", str(csv_path))
    return imported, import_peak


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    store = parser.add_mutually_exclusive_group(required=True)
    store.add_argument("--postgres", help="PostgreSQL URL (schema reset!)")
    store.add_argument("--sqlite", type=Path, help="a SQLite file (replaced!)")
    parser.add_argument("--readers", type=int, default=100_000)
    parser.add_argument(
        "--workers", default="1,2", help='comma-separated process counts ("" imports only)'
    )
    parser.add_argument(
        "--categories", action="store_true", help="two thirds of readers choose a category"
    )
    parser.add_argument(
        "--dkim",
        action="store_true",
        help="after each send, the same send again with DKIM (RSA-2048) signing on",
    )
    parser.add_argument(
        "--keep-readers",
        action="store_true",
        help="reuse the database of an earlier run with the same --readers (no reset, no import)",
    )
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="SECTION.KEY=VALUE",
        help="a setting for every command (e.g. mail.ledger_flush=true, smtp.connections=8)",
    )
    args = parser.parse_args()
    require_tools()
    url = args.postgres or f"sqlite:///{args.sqlite.resolve()}"
    engine = create_engine(url)
    reuse = args.keep_readers and _readers_in(engine) == args.readers
    if not reuse and args.postgres:
        with engine.begin() as conn:
            conn.execute(text("DROP SCHEMA public CASCADE"))
            conn.execute(text("CREATE SCHEMA public"))
    elif not reuse:
        engine.dispose()
        for suffix in ("", "-wal", "-shm"):
            Path(f"{args.sqlite}{suffix}").unlink(missing_ok=True)
    port = free_port()
    sink = start_sink(port)
    folder = Path(tempfile.mkdtemp(prefix="publisher-scale-"))
    try:
        project = Project(folder, url, port)
        for assignment in args.set:  # the product's own environment names for settings
            key, _, value = assignment.partition("=")
            project.env["PUBLISHER_" + key.upper().replace(".", "__")] = value
        imported, import_peak = 0.0, {0: 0.0}
        if not reuse:
            if args.sqlite:
                project.run("init")  # only init makes a SQLite database
            imported, import_peak = import_readers(project, engine, folder, args)
        redate_articles(engine)
        project.run("digest", "preview", "--out", str(folder / "preview"))
        size = (folder / "preview" / "digest.eml").stat().st_size
        counts = [int(w) for w in args.workers.split(",") if w]
        runs = []
        for workers in counts:
            runs.append(send(project, url, workers, args.readers))
            if args.dkim:
                with signing(project, folder):
                    runs.append(send(project, url, workers, args.readers))
                    runs[-1]["signed"] = True
        # The baseline's rate does not depend on how many it sends once past a few seconds:
        # at most 200,000 messages (a million would add minutes to the run for nothing).
        baseline = smtp_source(port, min(args.readers, 200_000), size)
        db, ledger = _sizes(engine, args.sqlite)
    finally:
        sink.send_signal(signal.SIGTERM)
        sink.wait()
        shutil.rmtree(folder, ignore_errors=True)
        engine.dispose()
    print(f"readers: {args.readers}, digest message: {size} bytes")
    if imported:
        print(
            f"subscribers import: {imported:.1f} s ({args.readers / imported:.0f} rows/s), "
            f"peak RSS {max(import_peak.values()):.0f} MB"
        )
    else:
        print("subscribers import: skipped (--keep-readers: the readers of an earlier run)")
    print(f"smtp-source -s 4:     {baseline:8.0f} msg/s (baseline)")
    for run in runs:
        tenths = run["tenths"]
        assert isinstance(tenths, list)
        flat = tenths[-1] / tenths[0] if len(tenths) == 10 and tenths[0] else float("nan")
        rss = ", ".join(f"{mb:.0f}" for mb in run["rss"])  # type: ignore[attr-defined]
        signed = " (DKIM)" if run.get("signed") else ""
        print(
            f"digest send --workers {run['workers']}{signed}: {run['rate']:8.0f} msg/s "
            f"= {run['rate'] / baseline:.2f} of smtp-source ({run['sent']} sent in "
            f"{run['seconds']:.1f} s; planning {run['planning']:.1f} s; rerun "
            f"{run['rerun']:.1f} s)"
        )
        print(f"  rate per tenth: {' '.join(f'{r:.0f}' for r in tenths)} (last/first {flat:.2f})")
        print(f"  peak RSS per process (MB): {rss}")
    ledger_size = (
        "" if ledger is None else f", ledger (deliveries + indexes): {ledger / 2**20:.0f} MB"
    )
    print(f"database: {db / 2**20:.0f} MB{ledger_size}")


if __name__ == "__main__":
    main()
