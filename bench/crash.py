"""Benchmark: how fast ``digest send`` recovers from a SIGKILL, and what group commit costs.

    python bench/crash.py [--readers 5000] [--count 20000] [--connections 2] [--postgres URL]

Needs Postfix's ``smtp-sink`` (Debian package ``postfix``; the daemon need not run).

Recovery (target: every delivery final within 45 s of the kill, default settings):

1. a project with one article and READERS active daily readers, mail to ``smtp-sink``;
2. ``publisher digest send`` with default settings (30 s leases) is killed with SIGKILL
   at a random moment once a quarter to three quarters of the readers are sent;
3. at once ``publisher digest send`` runs again; the figure is the time from the kill until
   it exits with every row final. The baseline, in the same run on a fresh store, is the
   same send uninterrupted.

Group commit (the sender alone, a template message, COUNT readers, CONNECTIONS lanes):
outcomes committed as the server answers (what the sender does, with the default bound of
2 unrecorded messages per connection, and with 8) against outcomes held in memory and
recorded once per claimed batch (what it did before; emulated here by a ledger whose
writer buffers until the batch ends). The ratios are the throughput cost.
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from send import free_port, insert_subscribers, make_factory, prepare, reset_postgres, start_sink
from sqlalchemy import create_engine, text

from publisher.config import load_settings
from publisher.core import make_publisher
from publisher.delivery import Sender, SenderOptions, SmtpOptions, SmtpTransport
from publisher.store import open_store
from publisher.types import DeliveryOutcome


def project(root: Path, url: str, port: int, readers: int) -> dict[str, str]:
    """A project with one article dated now and ``readers`` readers; returns its env."""
    (root / "config").mkdir(parents=True, exist_ok=True)
    (root / "config" / "publisher.toml").write_text(
        '[site]\nurl = "https://news.example.org"\ntitle = "Example News"\n', encoding="utf-8"
    )
    env = {
        "PUBLISHER_SECRET_KEY": "bench-secret-key-0123456789abcdef",
        "PUBLISHER_DATABASE__URL": url,
        "PUBLISHER_MAIL__TRANSPORT": "smtp",
        "PUBLISHER_SMTP__HOST": "127.0.0.1",
        "PUBLISHER_SMTP__PORT": str(port),
        "PUBLISHER_DIGEST__FROM_ADDRESS": "digest@news.example.org",
    }
    publisher = make_publisher(load_settings(root, environ=env), create=True)
    dated = datetime.now(UTC).isoformat(timespec="seconds")
    story = f"---\ntitle: Bridge reopens\ndate: {dated}\n---\nThe bridge is open.\n"
    report = publisher.add_sources([("bridge.md", story.encode())])
    if not report.ok:
        raise SystemExit(report.summary())
    insert_subscribers(publisher.store.engine, readers)
    publisher.close()
    return env


def digest_send(root: Path, env: dict[str, str]) -> subprocess.Popen[str]:
    command = [sys.executable, "-m", "publisher", "--root", str(root), "digest", "send"]
    return subprocess.Popen(
        command,
        env={**os.environ, **env},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def sent_rows(url: str) -> int:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            query = text("SELECT count(*) FROM deliveries WHERE state = 'sent'")
            return int(conn.execute(query).scalar_one())
    except Exception:  # the ledger may not exist yet while the first send starts
        return 0
    finally:
        engine.dispose()


def finish(proc: subprocess.Popen[str]) -> str:
    _out, err = proc.communicate(timeout=600)
    if proc.returncode != 0:
        raise SystemExit(f"digest send failed ({proc.returncode}): {err}")
    return err


def recovery(folder: Path, url: str, port: int, readers: int, rng: random.Random) -> None:
    env = project(folder / "killed", url, port, readers)
    victim = digest_send(folder / "killed", env)
    target = int(readers * rng.uniform(0.25, 0.75))
    while sent_rows(url) < target:
        if victim.poll() is not None:
            raise SystemExit("the send finished before the kill: use more --readers")
        time.sleep(0.02)
    victim.send_signal(signal.SIGKILL)
    killed_at = time.perf_counter()
    victim.communicate()
    at_kill = sent_rows(url)
    notes = finish(digest_send(folder / "killed", env))
    recovered = time.perf_counter() - killed_at
    after = sent_rows(url)
    print(f"killed with {at_kill} of {readers} sent; the rerun finished {recovered:.1f} s later")
    print(f"  rows sent after recovery: {after} (every reader: {after == readers})")
    for line in notes.splitlines():
        if line.startswith("waiting for"):
            print(f"  rerun said: {line}")
    print(f"recovery after SIGKILL: {recovered:6.1f} s  (target <= 45 s)")


def baseline_send(folder: Path, url: str, port: int, readers: int) -> float:
    env = project(folder / "whole", url, port, readers)
    started = time.perf_counter()
    finish(digest_send(folder / "whole", env))
    seconds = time.perf_counter() - started
    print(f"uninterrupted send of {readers}: {seconds:6.1f} s")
    return seconds


class BatchRecording:
    """A ledger that records outcomes once per claimed batch: the sender before group commit."""

    def __init__(self, ledger: Any) -> None:
        self._ledger = ledger
        self._held: list[DeliveryOutcome] = []
        self._writer: Any = None
        self._now = datetime.now(UTC)

    def writer(self, worker: str, flush: bool = True) -> BatchRecording:
        self._writer = self._ledger.writer(worker, flush)
        return self

    concurrent = False  # one writer: the batch is written once, at its end

    def may_overlap(self, outcomes: Sequence[DeliveryOutcome], settle: bool) -> bool:
        return False

    def record(
        self, outcomes: Sequence[DeliveryOutcome], now: datetime, settle: bool = True
    ) -> int:
        self._held.extend(outcomes)
        self._now = now
        return len(outcomes)

    def _flush(self) -> None:
        held, self._held = self._held, []
        if held:
            self._writer.record(held, self._now)

    def claim(self, *args: Any, **kwargs: Any) -> Any:
        self._flush()  # the previous batch ended: its outcomes go in one transaction
        return self._ledger.claim(*args, **kwargs)

    def next_due(self, *args: Any, **kwargs: Any) -> Any:
        self._flush()
        return self._ledger.next_due(*args, **kwargs)

    def close(self) -> None:
        self._flush()
        self._writer.close()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._ledger, name)


def sender_rate(
    url: str, port: int, count: int, connections: int, batched: bool, unrecorded: int = 2
) -> float:
    prepare(url, count)
    store = open_store(url, migrate=False)
    ledger: Any = BatchRecording(store.deliveries) if batched else store.deliveries
    options = SenderOptions(batch_size=500, connections=connections, unrecorded=unrecorded)
    smtp = SmtpOptions("127.0.0.1", port, timeout=30)
    sender = Sender(ledger, lambda: SmtpTransport(smtp), make_factory(40_960), options)
    started = time.perf_counter()
    tally = sender.run()
    seconds = time.perf_counter() - started
    store.close()
    if tally.sent != count:
        raise SystemExit(f"sent {tally.sent} of {count}")
    return count / seconds


def fresh(folder: Path, name: str, postgres: str | None) -> str:
    if postgres:
        reset_postgres(postgres)
        return postgres
    (folder / name / "var").mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{folder / name / 'var' / 'store.db'}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--readers", type=int, default=5000)
    parser.add_argument("--count", type=int, default=20_000)
    parser.add_argument("--connections", type=int, default=2)
    parser.add_argument("--postgres", help="PostgreSQL URL (its public schema is reset!)")
    parser.add_argument("--seed", type=int, default=None)
    args = parser.parse_args()
    if shutil.which("smtp-sink") is None:
        raise SystemExit("smtp-sink not found: apt-get install postfix")
    seed = args.seed if args.seed is not None else random.randrange(1 << 30)
    print(f"store: {'postgresql' if args.postgres else 'sqlite'}; seed {seed}")
    port = free_port()
    sink = start_sink(port)
    folder = Path(tempfile.mkdtemp(prefix="publisher-crash-"))
    try:
        whole = baseline_send(folder, fresh(folder, "whole", args.postgres), port, args.readers)
        killed_url = fresh(folder, "killed", args.postgres)
        started = time.perf_counter()
        recovery(folder, killed_url, port, args.readers, random.Random(seed))
        print(
            f"killed send, start to finish: {time.perf_counter() - started:6.1f} s "
            f"({(time.perf_counter() - started) / whole:.2f} x the uninterrupted send)"
        )
        kinds = [(True, 2), (False, 2), (False, 8)]  # (recorded per batch, unrecorded)
        rates = [
            sender_rate(
                fresh(folder, f"r{n}", args.postgres),
                port,
                args.count,
                args.connections,
                batched,
                unrecorded,
            )
            for n, (batched, unrecorded) in enumerate(kinds)
        ]
    finally:
        sink.send_signal(signal.SIGTERM)
        sink.wait()
        shutil.rmtree(folder, ignore_errors=True)
    batched, grouped, looser = rates
    print(f"sender, {args.count} x 40 kB, {args.connections} connection(s):")
    print(f"  recorded per batch (before):            {batched:8.0f} msg/s")
    print(
        f"  group commit, 2 unrecorded/connection:  {grouped:8.0f} msg/s  ({grouped / batched:.2f})"
    )
    print(
        f"  group commit, 8 unrecorded/connection:  {looser:8.0f} msg/s  ({looser / batched:.2f})"
    )


if __name__ == "__main__":
    main()
