"""Benchmark: the delivery engine vs Postfix's smtp-source, both into Postfix's smtp-sink.

    python bench/send.py [--count 100000] [--connections 2] [--workers 1] [--size 40960]
                         [--postgres URL]

Needs ``smtp-sink`` and ``smtp-source`` (Debian package ``postfix``; the postfix daemon
itself is not needed and need not run). In one run it:

1. starts ``smtp-sink`` on loopback;
2. measures ``smtp-source`` sending COUNT messages of SIZE bytes over CONNECTIONS reused
   connections (the baseline);
3. fills a fresh store (SQLite in a temporary folder, or the PostgreSQL at --postgres) with
   COUNT subscribers and one edition, creates the ledger rows, and runs WORKERS sender
   processes (each with CONNECTIONS / WORKERS lanes) until every row is sent;
4. prints both rates, the ratio, and the peak RSS of the sender processes.

The message is a SIZE-byte MIME message serialised once, personalised per recipient with
``bytes.replace`` (To, Message-ID): the shape the digest renderer hands the sender.
"""

from __future__ import annotations

import argparse
import json
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from postfix_tools import free_port, require_tools, smtp_source, start_sink
from sqlalchemy import Engine, create_engine, insert, select, text, update

from publisher.config import load_settings
from publisher.core import Publisher, make_publisher
from publisher.delivery import Sender, SenderOptions, SmtpOptions, SmtpTransport
from publisher.store import open_store
from publisher.store.schema import articles, editions, subscribers
from publisher.types import ClaimedDelivery, Frequency, OutgoingMessage

NOW = datetime(2026, 11, 27, 7, 0, tzinfo=UTC)


def message_template(size: int) -> bytes:
    head = (
        b"From: Example News <digest@news.example.org>\r\nTo: @@TO@@\r\n"
        b"Subject: Daily digest\r\nDate: Fri, 27 Nov 2026 07:00:00 +0000\r\n"
        b"Message-ID: @@MID@@\r\nMIME-Version: 1.0\r\n"
        b"Content-Type: text/plain; charset=utf-8\r\n\r\n"
    )
    line = b"News of the day, one line of the digest after another, to fill it up.\r\n"
    return head + line * ((size - len(head)) // len(line) + 1)


def make_factory(size: int):  # type: ignore[no-untyped-def]
    """Per recipient: one join of the pre-split template (one copy of the bytes)."""
    head, rest = message_template(size).split(b"@@TO@@")
    middle, tail = rest.split(b"@@MID@@")

    def factory(claim: ClaimedDelivery) -> OutgoingMessage:
        mid = f"<{claim.edition_id}.{claim.subscriber_id}@news.example.org>"
        data = b"".join((head, claim.email.encode(), middle, mid.encode(), tail))
        return OutgoingMessage("digest@news.example.org", claim.email, mid, data, claim.edition_key)

    return factory


DIGEST_ARTICLES = Path(__file__).resolve().parent.parent / "examples" / "articles"


def digest_env(url: str, port: int, lanes: int, batch: int) -> dict[str, str]:
    return {
        "PUBLISHER_SECRET_KEY": "bench-secret-key-0123456789abcdef",
        "PUBLISHER_DATABASE__URL": url,
        "PUBLISHER_MAIL__TRANSPORT": "smtp",
        "PUBLISHER_MAIL__BATCH_SIZE": str(batch),
        "PUBLISHER_MAIL__LEASE_SECONDS": "600",
        "PUBLISHER_SMTP__HOST": "127.0.0.1",
        "PUBLISHER_SMTP__PORT": str(port),
        "PUBLISHER_SMTP__CONNECTIONS": str(lanes),
        "PUBLISHER_DIGEST__FROM_ADDRESS": "digest@news.example.org",
    }


def digest_publisher(root: Path, env: dict[str, str]) -> Publisher:
    settings = load_settings(root, environ=env)
    return make_publisher(settings, create=True, clock=lambda: NOW)


def prepare_digest(root: Path, url: str, count: int) -> tuple[float, int]:
    """The real thing: sample articles, the edition planned and rendered by the digest.

    Returns the seconds ``prepare_digest`` took (plan + ledger rows) and the message size.
    """
    (root / "config").mkdir(parents=True, exist_ok=True)
    (root / "config" / "publisher.toml").write_text(
        '[site]\nurl = "https://news.example.org"\ntitle = "Example News"\n', encoding="utf-8"
    )
    publisher = digest_publisher(root, digest_env(url, 25, 1, 500))
    report = publisher.import_directory(DIGEST_ARTICLES)
    if not report.ok:
        raise SystemExit(report.summary())
    with publisher._services.store.engine.begin() as conn:  # all of them in today's edition
        for n, article_id in enumerate(conn.execute(select(articles.c.id)).scalars()):
            moment = NOW - timedelta(minutes=10 * (n + 1))
            conn.execute(
                update(articles)
                .where(articles.c.id == article_id)
                .values(published_at=moment, updated_at=moment)
            )
    insert_subscribers(publisher._services.store.engine, count)
    started = time.perf_counter()
    edition = publisher._services.mailer.prepare(Frequency.DAILY)
    seconds = time.perf_counter() - started
    size = len(publisher.preview_edition(Frequency.DAILY, "reader0@example.org").message.data)
    publisher.close()
    print(f"edition {edition.key}: {len(edition.article_ids)} articles", flush=True)
    return seconds, size


def baseline(port: int, count: int, connections: int, size: int) -> float:
    return smtp_source(port, count, size, connections)


def insert_subscribers(engine: Engine, count: int) -> None:
    rows = [
        {
            "email": f"reader{n}@example.org",
            "name": f"Reader {n}",
            "status": "active",
            "frequency": "daily",
            "consent_method": "bench",
            "consent_ip": "",
            "created_at": NOW,
            "updated_at": NOW,
        }
        for n in range(count)
    ]
    with engine.begin() as conn:
        for start in range(0, count, 5000):
            conn.execute(insert(subscribers), rows[start : start + 5000])


def prepare(url: str, count: int) -> float:
    """Subscribers, an edition and its ledger rows; returns the seconds the ledger took."""
    store = open_store(url, "https://news.example.org", create=True)
    insert_subscribers(store.engine, count)
    with store.engine.begin() as conn:
        conn.execute(
            insert(editions).values(
                key="daily/2026-11-27",
                frequency="daily",
                window_end=NOW,
                article_ids="[]",
                status="open",
                created_at=NOW,
            )
        )
        ids = list(conn.execute(text("SELECT id FROM subscribers ORDER BY id")).scalars())
        edition_id = conn.execute(text("SELECT id FROM editions")).scalar_one()
    started = time.perf_counter()
    store.deliveries.create(edition_id, [(i, None) for i in ids], NOW)
    seconds = time.perf_counter() - started
    store.close()
    return seconds


def peak_rss_mb() -> float:
    """This process's own peak RSS (VmHWM).

    Not ``getrusage().ru_maxrss``: on Linux that survives fork and exec, so a child would
    report its parent's peak (here the parent held 100,000 subscriber rows).
    """
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def child_digest(root: Path, url: str, port: int, connections: int, batch: int) -> None:
    """One sender process through the Publisher: the digest's messages, settings applied."""
    publisher = digest_publisher(root, digest_env(url, port, connections, batch))
    report = publisher.drain()
    print(json.dumps({"sent": report.sent, "rss_mb": peak_rss_mb()}), flush=True)
    publisher.close()


def child(url: str, port: int, connections: int, size: int, batch: int) -> None:
    """One sender process: drain the ledger, print its count and peak RSS as JSON."""
    store = open_store(url, migrate=False)
    options = SenderOptions(batch_size=batch, connections=connections, lease_seconds=600)
    smtp = SmtpOptions("127.0.0.1", port, timeout=30)
    sender = Sender(store.deliveries, lambda: SmtpTransport(smtp), make_factory(size), options)
    tally = sender.run()
    print(json.dumps({"sent": tally.sent, "rss_mb": peak_rss_mb()}), flush=True)
    store.close()


def ours(url: str, port: int, args: argparse.Namespace) -> tuple[float, float, int]:
    lanes = max(1, args.connections // args.workers)
    command = [sys.executable, __file__, "--child", url, "--port", str(port)]
    command += ["--connections", str(lanes), "--size", str(args.size), "--batch", str(args.batch)]
    if args.digest:
        command += ["--digest-root", str(args.digest_root)]
    started = time.perf_counter()
    procs = [
        subprocess.Popen(command, stdout=subprocess.PIPE, text=True) for _ in range(args.workers)
    ]
    results = [json.loads(p.communicate()[0]) for p in procs]
    seconds = time.perf_counter() - started
    sent = sum(r["sent"] for r in results)
    return sent / seconds, max(r["rss_mb"] for r in results), sent


def reset_postgres(url: str) -> None:
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(text("DROP SCHEMA public CASCADE"))
        conn.execute(text("CREATE SCHEMA public"))
    engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--count", type=int, default=100_000)
    parser.add_argument("--connections", type=int, default=2)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--size", type=int, default=40_960)
    parser.add_argument("--batch", type=int, default=500)
    parser.add_argument("--postgres", help="PostgreSQL URL (its public schema is reset!)")
    parser.add_argument(
        "--digest",
        action="store_true",
        help="Send the real digest (sample articles) instead of a SIZE-byte template.",
    )
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--digest-root", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child and args.digest_root:
        child_digest(args.digest_root, args.child, args.port, args.connections, args.batch)
        return
    if args.child:
        child(args.child, args.port, args.connections, args.size, args.batch)
        return
    require_tools()
    port = free_port()
    sink = start_sink(port)
    folder = Path(tempfile.mkdtemp(prefix="publisher-bench-"))
    try:
        if args.postgres:
            reset_postgres(args.postgres)
            url = args.postgres
        else:
            url = f"sqlite:///{folder / 'var' / 'store.db'}"
        if args.digest:
            args.digest_root = folder
            ledger_seconds, args.size = prepare_digest(folder, url, args.count)
        else:
            ledger_seconds = prepare(url, args.count)
        theirs = baseline(port, args.count, args.connections, args.size)
        rate, rss, sent = ours(url, port, args)
    finally:
        sink.send_signal(signal.SIGTERM)
        sink.wait()
        shutil.rmtree(folder, ignore_errors=True)
    store_kind = "postgresql" if args.postgres else "sqlite"
    kind = "digest messages" if args.digest else "messages"
    print(f"{kind}: {args.count} x {args.size} bytes, {args.connections} connection(s)")
    print(f"ledger rows created: {args.count} in {ledger_seconds:.2f} s")
    print(f"smtp-source:           {theirs:8.0f} msg/s")
    print(f"publisher ({store_kind}, {args.workers} worker(s)): {rate:8.0f} msg/s  ({sent} sent)")
    print(f"ratio:                 {rate / theirs:8.2f}")
    print(f"peak RSS per worker:   {rss:8.1f} MB")


if __name__ == "__main__":
    main()
