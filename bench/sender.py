"""Benchmark: the sender alone, in one process, on a database ``bench/scale.py`` filled.

    python bench/scale.py --postgres URL --readers 20000 --workers ""   # the readers, once
    python bench/sender.py --postgres URL [--unrecorded 2,4,8] [--dkim]

PostgreSQL only. Each run plans today's edition afresh (the ledger is truncated), then
drains it with ``Publisher.drain`` in this process, with the product's defaults, and
prints messages per second, CPU per message (this process), and the commits the
recorder made:

- ``null``: a transport that answers "250" at once, no SMTP: the sender's own cost;
- ``smtp``: into Postfix's ``smtp-sink``, with ``mail.unrecorded_per_connection`` at each
  value of ``--unrecorded`` (what the repeat bound costs);
- ``smtp, one thread per connection``: the same, with the lanes on threads instead of the
  event loop (the engine a blocking transport gets), for the comparison;
- with ``--dkim``, the SMTP runs again with RSA-2048 signing.

The baseline, in the same run and into the same sink: ``smtp-source -s 4`` with messages
of the digest's size. A figure is a rate and its ratio to that baseline.
"""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from postfix_tools import free_port, require_tools, smtp_source, start_sink
from sqlalchemy import create_engine, text

from publisher.config import load_settings
from publisher.core import make_publisher
from publisher.delivery import recorder as recorder_module
from publisher.delivery import sender as sender_module
from publisher.types import Frequency, OutgoingMessage


class Answering:
    """A transport that accepts every message at once (no I/O); notes their size."""

    size = 0

    def send(self, message: OutgoingMessage) -> str:
        self.size = len(message.data)
        return "250 2.0.0 accepted"

    def close(self) -> None:
        """Nothing to close."""


@contextmanager
def counted_commits() -> Iterator[dict[str, int]]:
    """Count the recorder's commits and the outcomes they carried."""
    counts = {"commits": 0, "outcomes": 0}
    original = recorder_module.Recorder.__init__

    def init(self: Any, *writes: Any, **options: Any) -> None:
        def counting(write: Callable[..., object]) -> Callable[..., object]:
            def counted(group: Any, settle: bool) -> object:
                counts["commits"] += 1
                counts["outcomes"] += len(group)
                return write(group, settle)

            return counted

        original(self, *map(counting, writes), **options)

    recorder_module.Recorder.__init__ = init  # type: ignore[method-assign]
    try:
        yield counts
    finally:
        recorder_module.Recorder.__init__ = original  # type: ignore[method-assign]


@contextmanager
def threaded_lanes() -> Iterator[None]:
    """The lanes on threads (as for a transport whose ``send`` blocks)."""
    original = sender_module.Sender._event_loop
    sender_module.Sender._event_loop = lambda self: None  # type: ignore[method-assign]
    try:
        yield
    finally:
        sender_module.Sender._event_loop = original  # type: ignore[method-assign]


def drain(folder: Path, url: str, environment: dict[str, str], transport: Any) -> dict[str, float]:
    """Plan today's edition afresh and send it in this process; the figures."""
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(text("TRUNCATE editions, deliveries CASCADE"))
    engine.dispose()
    saved = {k: os.environ.get(k) for k in environment}
    os.environ.update(environment)
    try:
        publisher = make_publisher(load_settings(folder), transport=transport)
        try:
            edition = publisher._services.mailer.prepare(Frequency.DAILY)
            with counted_commits() as counts:
                cpu, started = time.process_time(), time.perf_counter()
                report = publisher.drain(edition_ids=[edition.id])
                seconds = time.perf_counter() - started
                cpu = time.process_time() - cpu
        finally:
            publisher.close()
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
    return {
        "sent": report.sent,
        "rate": report.sent / seconds,
        "cpu_us": cpu / max(report.sent, 1) * 1e6,
        "per_commit": counts["outcomes"] / max(counts["commits"], 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--postgres", required=True, help="the database bench/scale.py filled")
    parser.add_argument("--unrecorded", default="2", help="comma-separated bounds to try")
    parser.add_argument("--dkim", action="store_true", help="the SMTP runs again, signed")
    args = parser.parse_args()
    require_tools()
    port = free_port()
    sink = start_sink(port)
    folder = Path(tempfile.mkdtemp(prefix="publisher-sender-"))
    (folder / "config").mkdir()
    (folder / "config" / "publisher.toml").write_text(
        '[site]\nurl = "https://news.example.org"\ntitle = "Example News"\n', encoding="utf-8"
    )
    base = {
        "PUBLISHER_SECRET_KEY": "bench-secret-key-0123456789abcdef",
        "PUBLISHER_DATABASE__URL": args.postgres,
        "PUBLISHER_MAIL__TRANSPORT": "smtp",
        "PUBLISHER_SMTP__HOST": "127.0.0.1",
        "PUBLISHER_SMTP__PORT": str(port),
        "PUBLISHER_DIGEST__FROM_ADDRESS": "digest@news.example.org",
    }
    try:
        runs: list[tuple[str, dict[str, float]]] = []
        answering = Answering()
        runs.append(("null transport", drain(folder, args.postgres, base, answering)))
        signed = dict(base)
        if args.dkim:
            from cryptography.hazmat.primitives import serialization
            from cryptography.hazmat.primitives.asymmetric import rsa

            key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
            (folder / "dkim.pem").write_bytes(
                key.private_bytes(
                    serialization.Encoding.PEM,
                    serialization.PrivateFormat.PKCS8,
                    serialization.NoEncryption(),
                )
            )
            signed["PUBLISHER_DKIM__PRIVATE_KEY_PATH"] = str(folder / "dkim.pem")
        for bound in [int(b) for b in args.unrecorded.split(",")]:
            env = {**base, "PUBLISHER_MAIL__UNRECORDED_PER_CONNECTION": str(bound)}
            runs.append((f"smtp, unrecorded {bound}", drain(folder, args.postgres, env, None)))
        with threaded_lanes():
            runs.append(
                ("smtp, one thread per connection", drain(folder, args.postgres, base, None))
            )
        if args.dkim:
            runs.append(("smtp, DKIM", drain(folder, args.postgres, signed, None)))
            with threaded_lanes():
                runs.append(
                    (
                        "smtp, DKIM, one thread per connection",
                        drain(folder, args.postgres, signed, None),
                    )
                )
        sent = int(runs[0][1]["sent"])
        baseline = smtp_source(port, min(sent, 200_000), answering.size)
    finally:
        sink.terminate()
        sink.wait()
        shutil.rmtree(folder, ignore_errors=True)
    print(f"readers: {sent}, digest message: {answering.size} bytes")
    print(f"smtp-source -s 4: {baseline:8.0f} msg/s (baseline)")
    for name, run in runs:
        print(
            f"{name:40s} {run['rate']:7.0f} msg/s = {run['rate'] / baseline:.2f} of smtp-source; "
            f"{run['cpu_us']:4.0f} us CPU/msg; {run['per_commit']:.1f} outcomes per commit"
        )


if __name__ == "__main__":
    main()
